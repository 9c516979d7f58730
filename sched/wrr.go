package sched

import (
	"sync"

	"github.com/ulvs/ulvs/vs"
)

// wrr is weighted round-robin scheduling as net/netfilter/ipvs/ip_vs_wrr.c
// does it after its RCU conversion (the Linux 3.10 era: the "mw reduced by
// di-1" version with the last_pass/restarted/stop exits); the logic is the
// same in 6.x, only the lock type and the schedule signature changed.
//
// The kernel's state, struct ip_vs_wrr_mark, is:
//
//   - di: the gcd of the positive weights (1 when there are none);
//   - mw: the largest weight minus (di-1), so that the last pass of a cycle
//     runs with cw = 1 and still finds dests whose weight fell below di;
//   - cw: the weight a dest needs to be picked in the current pass;
//   - cl: the dest picked last, or the list head.
//
// A pick walks on from cl and takes the first dest that is not overloaded
// and has weight >= cw. Each time the walk passes the list head, cw drops by
// di; when it drops to 0 or below it starts again at mw. One cycle of
// sum(weight)/di picks gives each dest weight/di of them.
type wrr struct {
	dests []*vs.Dest
	di    int // fixed per table: computed in newWRR
	mw    int

	mu sync.Mutex
	cw int
	cl int // index in dests; -1 is the list head
}

var _ vs.Scheduler = (*wrr)(nil)

// wrrWeights tracks the gcd (di) and maximum of a changing set of weights,
// as ip_vs_wrr_gcd_weight and ip_vs_wrr_max_weight compute them over
// svc->destinations. Control plane only.
type wrrWeights struct {
	w     []int
	g     int // gcd of positive weights, 0 when none
	max   int // largest weight, 0 when none is positive
	stale bool
}

func (s *wrrWeights) add(w int) {
	s.w = append(s.w, w)
	if s.stale {
		return
	}
	if w > 0 {
		if s.g > 0 {
			s.g = gcd(w, s.g)
		} else {
			s.g = w
		}
	}
	if w > s.max {
		s.max = w
	}
}

func (s *wrrWeights) remove(w int) {
	for i, v := range s.w {
		if v == w {
			s.w[i] = s.w[len(s.w)-1]
			s.w = s.w[:len(s.w)-1]
			break
		}
	}
	s.stale = true
}

func (s *wrrWeights) replace(old, cur int) {
	s.remove(old)
	s.add(cur)
}

// mark returns di and mw as ip_vs_wrr_init_svc and ip_vs_wrr_dest_changed
// set them.
func (s *wrrWeights) mark() (di, mw int) {
	if s.stale {
		s.g, s.max, s.stale = 0, 0, false
		w := s.w
		s.w = s.w[:0]
		for _, v := range w {
			s.add(v)
		}
	}
	di = s.g
	if di == 0 {
		di = 1
	}
	return di, s.max - (di - 1)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// changedCW is the new cw after ip_vs_wrr_dest_changed, which the kernel
// calls for every add_dest, upd_dest and del_dest: a cw above the new mw, or
// 0 (no weights before), restarts at mw; otherwise with di > 1 it moves to
// the start of the pass its multiple of di belongs to.
func changedCW(cw, di, mw int) int {
	if cw > mw || cw == 0 {
		return mw
	}
	if di > 1 {
		return (cw/di)*di + 1
	}
	return cw
}

// newWRR builds wrr state for svc; see New for what prev means. Every
// dest_changed call also moves cl back to the list head.
func newWRR(svc *vs.Service, prev vs.Scheduler) vs.Scheduler {
	s := &wrr{dests: svc.Dests, cl: -1}
	var ws wrrWeights
	p, same := prev.(*wrr)
	switch {
	case prev == nil || (same && p == nil):
		// ip_vs_add_service: init_service on an empty list (di 1,
		// mw 0, cw 0), then ip_vs_add_dest per dest, oldest first.
		for i := len(svc.Dests) - 1; i >= 0; i-- {
			ws.add(int(svc.Dests[i].Weight))
			di, mw := ws.mark()
			s.cw = changedCW(s.cw, di, mw)
		}
	case !same:
		// ip_vs_edit_service switched schedulers: ip_vs_wrr_init_svc on
		// the current list.
		for _, d := range svc.Dests {
			ws.add(int(d.Weight))
		}
		_, mw := ws.mark()
		s.cw = mw
	default:
		p.mu.Lock()
		cw, cl := p.cw, p.cl
		p.mu.Unlock()
		dd := diffDests(p.dests, svc.Dests)
		if dd.unchanged() {
			s.cw, s.cl = cw, cl
			break
		}
		for _, d := range p.dests {
			ws.add(int(d.Weight))
		}
		step := func() {
			di, mw := ws.mark()
			cw = changedCW(cw, di, mw)
		}
		for j, d := range p.dests {
			if dd.curOf[j] < 0 {
				ws.remove(int(d.Weight))
				step()
			}
		}
		for i := dd.stayFrom; i < len(svc.Dests); i++ {
			o, c := p.dests[dd.oldOf[i]], svc.Dests[i]
			if edited(o, c) {
				ws.replace(int(o.Weight), int(c.Weight))
				step()
			}
		}
		for i := dd.stayFrom - 1; i >= 0; i-- {
			ws.add(int(svc.Dests[i].Weight))
			step()
		}
		s.cw = cw
	}
	var final wrrWeights
	for _, d := range svc.Dests {
		final.add(int(d.Weight))
	}
	s.di, s.mw = final.mark()
	return s
}

// Name returns "wrr".
func (s *wrr) Name() string { return "wrr" }

// Schedule follows ip_vs_wrr_schedule: walk on from cl for a dest that is
// available with weight >= cw, lowering cw by di at every pass over the list
// head and restarting it at mw below 1. It returns nil, leaving cl where the
// walk stopped, when mw is 0 (no positive weight) or when every dest failed
// the last pass (cw <= di, so weight >= 1) in full: all are overloaded.
func (s *wrr) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	s.mu.Lock()
	if s.mw == 0 { // err_noavail
		s.mu.Unlock()
		return nil
	}
	n := len(s.dests)
	last := s.cl
	stop := -2 // no dest
	lastPass, restarted := false, false
	j := s.cl
	for {
		for j++; j < n; j++ {
			d := s.dests[j]
			if int(d.Weight) >= s.cw && d.Available() {
				s.cl = j
				s.mu.Unlock()
				return d
			}
			if j == stop { // err_over
				s.cl = j
				s.mu.Unlock()
				return nil
			}
		}
		// The walk reached the list head.
		s.cw -= s.di
		if s.cw <= 0 {
			s.cw = s.mw
			if lastPass || last < 0 { // err_over, cl at the head
				s.cl = -1
				s.mu.Unlock()
				return nil
			}
			restarted = true
		}
		lastPass = s.cw <= s.di
		if lastPass && restarted && last >= 0 {
			// The first walk checked weight >= 1 only after last;
			// check the dests up to last too.
			stop = last
		}
		j = -1
	}
}
