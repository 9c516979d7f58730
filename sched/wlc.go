package sched

import "github.com/ulvs/ulvs/vs"

// wlc is weighted least-connection scheduling as
// net/netfilter/ipvs/ip_vs_wlc.c does it (ip_vs_wlc_schedule, RCU version,
// Linux 3.10 era to 6.x). It is the kernel's default: ipvsadm passes "wlc"
// when -s is absent.
//
// The dest with the lowest overhead/weight wins, overhead being
// (ActiveConns << 8) + InactConns by default (the service picks the
// formula: overheadOf). The kernel takes the first dest that is
// not overloaded and has a positive weight, then walks the rest of the list
// and replaces it only when
//
//	least_overhead * dest_weight > dest_overhead * least_weight
//
// in signed 64-bit products, so on a tie the dest first in list order, the
// newest, wins. The walk skips only overloaded dests, but a dest of weight 0
// can never pass the strict test (0 > non-negative is false), so skipping
// every unavailable dest (vs.Dest.Available, which also skips a
// direct-routed dest whose MAC is not resolved) picks the same dest.
type wlc struct {
	dests []cand
	extra int64 // the service's overhead formula (extraFor)
}

var _ vs.Scheduler = (*wlc)(nil)

// newWLC builds wlc for svc. ip_vs_wlc_scheduler has no init_service or
// dest hooks: it keeps no state, so prev does not matter. The overhead
// formula is svc.Params.Overhead.
func newWLC(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	return &wlc{dests: candidates(svc.Dests), extra: extraFor(svc.Params.Overhead)}
}

// Name returns "wlc".
func (s *wlc) Name() string { return "wlc" }

// Schedule returns the available dest with the least overhead per unit of
// weight, the first in list order on a tie, or nil when no dest is
// available.
func (s *wlc) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	ds := s.dests
	i := 0
	for i < len(ds) && !ds[i].ok() {
		i++
	}
	if i == len(ds) {
		return nil
	}
	least := &ds[i]
	loh, lw := least.overhead(s.extra), least.w
	for i++; i < len(ds); i++ {
		// Compare first and check availability only for a dest that
		// would win: the same pick as the kernel's check-then-compare,
		// with fewer loads on the common path.
		c := &ds[i]
		if doh := c.overhead(s.extra); loh*c.w > doh*lw && c.ok() {
			least, loh, lw = c, doh, c.w
		}
	}
	return least.d
}
