package sched

import "github.com/ulvs/ulvs/vs"

// nq is never-queue scheduling as net/netfilter/ipvs/ip_vs_nq.c does it
// (ip_vs_nq_schedule, RCU version, Linux 3.10 era to 6.x).
//
// It walks the list skipping dests that are overloaded or of weight 0. The
// first dest met with no active connection is returned at once (an idle
// dest, whatever its weight, even when a dest earlier in the list had a
// better ratio). When none is idle it is sed: the dest with the least
// (ActiveConns+1)/weight, replaced only when
//
//	least_overhead * dest_weight > dest_overhead * least_weight
//
// in signed 64-bit products, so on a tie the dest first in list order wins.
// ulvs also skips a direct-routed dest whose MAC is not resolved
// (vs.Dest.Available).
type nq struct {
	dests []cand
}

var _ vs.Scheduler = (*nq)(nil)

// newNQ builds nq for svc. ip_vs_nq_scheduler has no init_service or dest
// hooks: it keeps no state, so prev does not matter.
func newNQ(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	return &nq{dests: candidates(svc.Dests)}
}

// Name returns "nq".
func (s *nq) Name() string { return "nq" }

// Schedule returns the first available idle dest in list order, else the
// available dest with the least (ActiveConns+1)/weight, the first in list
// order on a tie; nil when no dest is available.
func (s *nq) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	var least *cand
	var loh, lw int64
	for i := range s.dests {
		c := &s.dests[i]
		active := int64(c.st.ActiveConns.Load())
		if active == 0 {
			if c.ok() {
				return c.d // never queued: the first idle dest wins at once
			}
			continue
		}
		// Compare first, check availability only for a winner.
		if doh := active + 1; (least == nil || loh*c.w > doh*lw) && c.ok() {
			least, loh, lw = c, doh, c.w
		}
	}
	if least == nil {
		return nil
	}
	return least.d
}
