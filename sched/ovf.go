package sched

import "github.com/ulvs/ulvs/vs"

// ovf is overflow-connection scheduling as net/netfilter/ipvs/ip_vs_ovf.c
// does it (ip_vs_ovf_schedule, unchanged since it
// was added in 2015): like fo, the dest with the
// highest weight takes every new connection, but a dest whose ActiveConns
// exceeds its weight is skipped, so connections overflow to the next
// highest weight. The test is ActiveConns > weight, not >=: a dest of weight
// w still takes a connection at w active ones, so it fills up to w+1.
// Inactive connections do not count.
//
// The kernel skips a dest that is overloaded, over its weight or of weight
// 0, and keeps the first remaining one, replacing it only by a strictly
// higher weight: on a tie the dest first in list order, the newest, wins.
// ulvs also skips a direct-routed dest whose MAC is not resolved
// (vs.Dest.Available).
type ovf struct {
	dests []cand
}

var _ vs.Scheduler = (*ovf)(nil)

// newOVF builds ovf for svc. ip_vs_ovf_scheduler has no init_service or
// dest hooks: it keeps no state, so prev does not matter.
func newOVF(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	return &ovf{dests: candidates(svc.Dests)}
}

// Name returns "ovf".
func (s *ovf) Name() string { return "ovf" }

// Schedule returns the available dest with the highest weight among those
// with no more active connections than their weight, the first in list
// order on a tie, or nil when there is none.
func (s *ovf) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	var h *cand
	var hw int64
	for i := range s.dests {
		// The weight test first: it is cheap and rarely passes once a
		// heavy dest is found; the same pick as the kernel's order.
		c := &s.dests[i]
		if (h == nil || c.w > hw) && int64(c.st.ActiveConns.Load()) <= c.w && c.ok() {
			h, hw = c, c.w
		}
	}
	if h == nil {
		return nil
	}
	return h.d
}
