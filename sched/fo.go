package sched

import "github.com/ulvs/ulvs/vs"

// fo is weighted fail-over scheduling as net/netfilter/ipvs/ip_vs_fo.c does
// it (ip_vs_fo_schedule, unchanged since it was added in 2015): every new connection goes to the
// available dest with the highest weight; connection counts do not matter.
// The kernel keeps the first dest whose weight is above the highest seen so
// far (starting from 0, so weight 0 never wins), skipping overloaded ones:
// on a tie the dest first in list order, the newest, wins. ulvs also skips
// a direct-routed dest whose MAC is not resolved (vs.Dest.Available).
type fo struct {
	dests []*vs.Dest
}

var _ vs.Scheduler = (*fo)(nil)

// newFO builds fo for svc. ip_vs_fo_scheduler has no init_service or dest
// hooks: it keeps no state, so prev does not matter.
func newFO(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	return &fo{dests: svc.Dests}
}

// Name returns "fo".
func (s *fo) Name() string { return "fo" }

// Schedule returns the available dest with the highest weight, the first in
// list order on a tie, or nil when no dest is available.
func (s *fo) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	var best *vs.Dest
	var hw int32
	for _, d := range s.dests {
		if d.Weight > hw && d.Available() {
			best, hw = d, d.Weight
		}
	}
	return best
}
