package sched

import (
	"sync"

	"github.com/ulvs/ulvs/vs"
)

// rr is round-robin scheduling as net/netfilter/ipvs/ip_vs_rr.c does it
// (the RCU version, Linux 3.10 era to 6.x; the logic has not changed since).
//
// The kernel's state is svc->sched_data, a pointer into the dest list: the
// list head (no dest) or the dest picked last. A pick walks on from there,
// wrapping once, and takes the first dest that is neither overloaded nor of
// weight 0; the cursor stays put when nothing is available.
type rr struct {
	dests []*vs.Dest

	mu sync.Mutex
	// pos is the index in dests of the kernel's cursor; -1 is the list
	// head.
	pos int
}

var _ vs.Scheduler = (*rr)(nil)

// newRR builds rr state for svc.
//
// ip_vs_rr_init_svc points the cursor at the list head, and rr has no
// add_dest or upd_dest hook, so a new service, or one switched to rr, starts
// at the head: its first pick is the first dest of the list, the newest.
// ip_vs_rr_del_dest moves a cursor that points at the removed dest back to
// the dest before it (or the head); a cursor on a dest that stays linked
// stays on it.
func newRR(svc *vs.Service, prev vs.Scheduler) vs.Scheduler {
	s := &rr{dests: svc.Dests, pos: -1}
	p, ok := prev.(*rr)
	if !ok || p == nil {
		return s
	}
	p.mu.Lock()
	cur := p.pos
	p.mu.Unlock()
	if cur >= len(p.dests) { // cannot happen; stay safe
		return s
	}
	dd := diffDests(p.dests, svc.Dests)
	// Every del_dest that hits the cursor moves it one back, so it ends
	// on the nearest earlier dest that stayed linked, or on the head.
	for cur >= 0 && dd.curOf[cur] < 0 {
		cur--
	}
	if cur >= 0 {
		s.pos = dd.curOf[cur]
	}
	return s
}

// Name returns "rr".
func (s *rr) Name() string { return "rr" }

// Schedule returns the next available dest after the cursor, wrapping
// around, and leaves the cursor on it; nil when no dest is available
// (ip_vs_rr_schedule). The dest at the cursor is tried last.
func (s *rr) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	s.mu.Lock()
	n := len(s.dests)
	for k := 1; k <= n; k++ {
		j := s.pos + k
		if j >= n {
			j -= n
		}
		if d := s.dests[j]; d.Available() {
			s.pos = j
			s.mu.Unlock()
			return d
		}
	}
	s.mu.Unlock()
	return nil
}
