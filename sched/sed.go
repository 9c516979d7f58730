package sched

import "github.com/ulvs/ulvs/vs"

// sed is shortest-expected-delay scheduling as net/netfilter/ipvs/ip_vs_sed.c
// does it (ip_vs_sed_schedule, RCU version, Linux 3.10 era to 6.x).
//
// It is wlc with another overhead: ip_vs_sed_dest_overhead is
// ActiveConns + 1, the delay the new connection would see; inactive
// connections do not count. The kernel takes the first dest that is not
// overloaded and has a positive weight, then replaces it only when
//
//	least_overhead * dest_weight > dest_overhead * least_weight
//
// in signed 64-bit products, so on a tie the dest first in list order wins.
// As in wlc, the walk skips only overloaded dests, but a dest of weight 0
// can never pass the strict test, so skipping every unavailable dest
// (vs.Dest.Available, which also skips a direct-routed dest whose MAC is not
// resolved) picks the same dest.
type sed struct {
	dests []cand
}

var _ vs.Scheduler = (*sed)(nil)

// newSED builds sed for svc. ip_vs_sed_scheduler has no init_service or
// dest hooks: it keeps no state, so prev does not matter.
func newSED(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	return &sed{dests: candidates(svc.Dests)}
}

// Name returns "sed".
func (s *sed) Name() string { return "sed" }

// Schedule returns the available dest with the least (ActiveConns+1)/weight,
// the first in list order on a tie, or nil when no dest is available.
func (s *sed) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	ds := s.dests
	i := 0
	for i < len(ds) && !ds[i].ok() {
		i++
	}
	if i == len(ds) {
		return nil
	}
	least := &ds[i]
	loh, lw := int64(least.st.ActiveConns.Load())+1, least.w
	for i++; i < len(ds); i++ {
		// Compare first, check availability only for a winner (the same
		// pick as the kernel's check-then-compare).
		c := &ds[i]
		if doh := int64(c.st.ActiveConns.Load()) + 1; loh*c.w > doh*lw && c.ok() {
			least, loh, lw = c, doh, c.w
		}
	}
	return least.d
}
