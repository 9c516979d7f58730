package sched

import "github.com/ulvs/ulvs/vs"

// lc is least-connection scheduling as net/netfilter/ipvs/ip_vs_lc.c does it
// (ip_vs_lc_schedule, the same from 2.6 to 6.x): the available dest with the
// lowest overhead, (ActiveConns << 8) + InactConns by default (the service
// picks the formula: overheadOf), wins; the weight only
// matters in that a dest of weight 0 is quiesced. The comparison is strict,
// so on a tie the dest first in list order, the newest, wins.
//
// The kernel skips a dest that is overloaded or of weight 0; ulvs also skips
// a direct-routed dest whose MAC is not resolved (vs.Dest.Available).
type lc struct {
	dests []cand
	extra int64 // the service's overhead formula (extraFor)
}

var _ vs.Scheduler = (*lc)(nil)

// newLC builds lc for svc. ip_vs_lc_scheduler has no init_service or dest
// hooks: it keeps no state, so prev does not matter. The overhead formula
// is svc.Params.Overhead.
func newLC(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	return &lc{dests: candidates(svc.Dests), extra: extraFor(svc.Params.Overhead)}
}

// Name returns "lc".
func (s *lc) Name() string { return "lc" }

// Schedule returns the available dest with the least overhead, the first in
// list order on a tie, or nil when no dest is available.
func (s *lc) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	ds := s.dests
	i := 0
	for i < len(ds) && !ds[i].ok() {
		i++
	}
	if i == len(ds) {
		return nil
	}
	least := &ds[i]
	loh := least.overhead(s.extra)
	for i++; i < len(ds); i++ {
		// Compare first, check availability only for a winner (the same
		// pick as check-then-compare).
		c := &ds[i]
		if doh := c.overhead(s.extra); doh < loh && c.ok() {
			least, loh = c, doh
		}
	}
	return least.d
}
