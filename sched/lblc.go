package sched

import (
	"sync"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// lblc is locality-based least-connection scheduling as
// net/netfilter/ipvs/ip_vs_lblc.c does it (the RCU version, Linux 3.10 era
// to 6.x), for cache clusters where the service (usually a fwmark one)
// sees many destination addresses.
//
// A per-service cache maps a connection's destination address (flow.Dst)
// to the dest that served it. On a hit the cached dest is kept when it is
// still in the list, has a positive weight and is not overloaded in
// lblc's own sense (is_overloaded: more active connections than its
// weight while some dest of the list has fewer than half its weight; the
// threshold flag IP_VS_DEST_F_OVERLOAD is not consulted for a cached
// dest). Otherwise, and on a miss, the pick is wlc over the whole list and
// the cache entry is set to it. ulvs also treats a cached direct-routed
// dest whose MAC is not resolved as unusable.
//
// Entries age as in the kernel (see lbTable): one unused for
// Params.LBLCExpiration (the lblc_expiration sysctl, default 24 h) goes at
// the full check every 30 minutes; when the table holds more than 16384
// entries, the check every minute also collects entries unused for 6
// minutes. ulvs additionally stops caching new addresses at 65536 entries
// (the kernel's kmalloc failure path).
//
// Schedule takes a mutex (the kernel's svc->sched_lock) and reads the clock
// once. It allocates only when it caches an address while no freed entry
// is left to reuse; a cache hit, or a miss once the table has grown, does
// not allocate.
type lblc struct {
	lbState
}

var _ vs.Scheduler = (*lblc)(nil)

// newLBLC builds lblc for svc with the real clock; see buildLBLC.
func newLBLC(svc *vs.Service, prev vs.Scheduler) vs.Scheduler {
	return buildLBLC(svc, prev, time.Now)
}

// buildLBLC builds lblc for svc. lblc has no dest hooks: the kernel's cache
// lives as long as the service keeps the scheduler, across dest changes,
// and an entry pointing to a removed dest just fails the hit test (and
// works again if the dest comes back). So with prev an lblc, New copies its
// cache, its timer phase and its clock; with no prev, or prev of another
// kind (init_service: a fresh table, the timer starting now), the cache
// starts empty and now is the clock.
func buildLBLC(svc *vs.Service, prev vs.Scheduler, now func() time.Time) *lblc {
	s := &lblc{}
	var ps *lbState
	if p, ok := prev.(*lblc); ok && p != nil {
		ps = &p.lbState
	}
	s.init(svc, ps, svc.Params.LBLCExpiration, now)
	return s
}

// lbState is what lblc and lblcr keep: the dest view and the
// destination cache, under the scheduler's mutex.
type lbState struct {
	oh vs.Overhead

	mu sync.Mutex
	v  lbDests
	tb *lbTable
}

// init builds the state for svc: a fresh cache with its timer starting
// now, or, given prev (the same kind of scheduler before a dest change),
// prev's cache, timer phase and clock, copied under prev's lock.
func (s *lbState) init(svc *vs.Service, prev *lbState, expiration time.Duration, now func() time.Time) {
	s.oh = svc.Params.Overhead
	if prev == nil {
		s.v.dests = svc.Dests
		s.v.known = svc.Dests
		s.tb = &lbTable{}
		s.tb.init(now, expiration)
		return
	}
	prev.mu.Lock()
	defer prev.mu.Unlock()
	s.tb = prev.tb.clone(expiration, s.v.carry(&prev.v, svc.Dests))
}

// Name returns "lblc".
func (s *lblc) Name() string { return "lblc" }

// Schedule returns the cached dest for flow.Dst when it is still good, else
// the least loaded dest, which it caches; nil when no dest is available
// (ip_vs_lblc_schedule).
func (s *lblc) Schedule(_ *vs.Service, flow vs.Flow) *vs.Dest {
	addr := flow.Dst.As16()
	fold := addrFold(flow.Dst)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tb.clock()
	s.tb.expireUpTo(t)
	e := s.tb.get(&addr, fold)
	if e >= 0 {
		en := &s.tb.entries[e]
		en.lastuse = t
		if slot := en.dest; slot >= 0 && s.v.inList(slot) {
			d := s.v.known[slot]
			if d.Weight > 0 && macReady(d) && !lbIsOverloaded(d, s.v.dests) {
				return d
			}
		}
	}
	i := lbLeastConn(s.v.dests, s.oh)
	if i < 0 {
		return nil
	}
	// ip_vs_lblc_new: point the entry at the new dest, or add one.
	if e < 0 {
		e = s.tb.add(&addr, fold, t)
	}
	if e >= 0 {
		s.tb.entries[e].dest = i
	}
	return s.v.dests[i]
}
