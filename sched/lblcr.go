package sched

import (
	"time"

	"github.com/ulvs/ulvs/vs"
)

// lblcr is locality-based least-connection with replication scheduling as
// net/netfilter/ipvs/ip_vs_lblcr.c does it (the RCU version, Linux 3.10
// era to 6.x).
//
// Like lblc, a per-service cache is keyed by the connection's destination
// address (flow.Dst), but each entry holds a set of dests. On a hit:
//
//   - the candidate is the set's weighted least-connection dest
//     (ip_vs_dest_set_min: walk the set newest member first, skip members
//     that are overloaded, not in the list or of weight 0; the first
//     remaining one is replaced only when loh * dw > doh * lw);
//   - if the set has more than one member and has not changed for
//     Params.LBLCRExpiration (the lblcr_expiration sysctl, default 24 h,
//     strictly after), its most loaded member goes (ip_vs_dest_set_max:
//     the first member of positive weight, whatever its state, replaced
//     when moh * dw < doh * mw with dw > 0), even if it is the candidate;
//   - the candidate is returned unless there is none or it is overloaded
//     in lblc's sense (is_overloaded); then wlc over the whole list picks a
//     dest, which joins the set.
//
// On a miss, wlc over the whole list picks the dest and a new entry holds
// it alone. Entries age and the table is bounded as lblc's (lbTable), with
// Params.LBLCRExpiration. ulvs also treats a direct-routed member whose MAC
// is not resolved as not in the list.
//
// Schedule takes a mutex (the kernel's svc->sched_lock) and reads the clock
// once. It allocates only when it caches a new address, or adds a member
// to a set, beyond the capacity already there; a hit that changes nothing
// does not allocate.
type lblcr struct {
	lbState
}

var _ vs.Scheduler = (*lblcr)(nil)

// newLBLCR builds lblcr for svc with the real clock; see buildLBLCR.
func newLBLCR(svc *vs.Service, prev vs.Scheduler) vs.Scheduler {
	return buildLBLCR(svc, prev, time.Now)
}

// buildLBLCR builds lblcr for svc. As for lblc, the cache survives dest
// changes (set members removed from the list stay in their sets, as the
// kernel's sets hold them in the trash), so with prev an lblcr New copies
// its cache, timer phase and clock; otherwise the cache starts empty and
// now is the clock.
func buildLBLCR(svc *vs.Service, prev vs.Scheduler, now func() time.Time) *lblcr {
	s := &lblcr{}
	var ps *lbState
	if p, ok := prev.(*lblcr); ok && p != nil {
		ps = &p.lbState
	}
	s.init(svc, ps, svc.Params.LBLCRExpiration, now)
	return s
}

// Name returns "lblcr".
func (s *lblcr) Name() string { return "lblcr" }

// usable is the set walk's test of a member: in the list, positive
// weight, MAC ready (ulvs). The overload flag is tested separately, as the
// kernel skips overloaded members before testing the rest.
func (s *lblcr) usable(slot int32) bool {
	if !s.v.inList(slot) {
		return false
	}
	d := s.v.known[slot]
	return d.Weight > 0 && macReady(d)
}

// setMin is ip_vs_dest_set_min: the member slot, or -1.
func (s *lblcr) setMin(set []int32) int32 {
	least := int32(-1)
	var loh, lw int64
	for i := len(set) - 1; i >= 0; i-- {
		slot := set[i]
		d := s.v.known[slot]
		if d.State.Overloaded.Load() || !s.usable(slot) {
			continue
		}
		doh, dw := overheadOf(s.oh, d), int64(d.Weight)
		if least < 0 || loh*dw > doh*lw {
			least, loh, lw = slot, doh, dw
		}
	}
	return least
}

// setMax is ip_vs_dest_set_max: the member slot, or -1.
func (s *lblcr) setMax(set []int32) int32 {
	most := int32(-1)
	var moh, mw int64
	for i := len(set) - 1; i >= 0; i-- {
		d := s.v.known[set[i]]
		dw := int64(d.Weight)
		if dw <= 0 {
			continue
		}
		doh := overheadOf(s.oh, d)
		if most < 0 || moh*dw < doh*mw {
			most, moh, mw = set[i], doh, dw
		}
	}
	return most
}

// Schedule follows ip_vs_lblcr_schedule; nil when no dest is available.
func (s *lblcr) Schedule(_ *vs.Service, flow vs.Flow) *vs.Dest {
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
		cand := s.setMin(en.set)
		if len(en.set) > 1 && t > en.lastmod+s.tb.expire {
			if m := s.setMax(en.set); m >= 0 {
				for j, x := range en.set { // ip_vs_dest_set_erase
					if x == m {
						en.set = append(en.set[:j], en.set[j+1:]...)
						en.lastmod = t
						break
					}
				}
			}
		}
		if cand >= 0 {
			if d := s.v.known[cand]; !lbIsOverloaded(d, s.v.dests) {
				return d
			}
		}
		i := lbLeastConn(s.v.dests, s.oh)
		if i < 0 {
			return nil
		}
		s.insert(en, i, t)
		return s.v.dests[i]
	}
	i := lbLeastConn(s.v.dests, s.oh)
	if i < 0 {
		return nil
	}
	if e = s.tb.add(&addr, fold, t); e >= 0 {
		s.insert(&s.tb.entries[e], i, t)
	}
	return s.v.dests[i]
}

// insert is ip_vs_dest_set_insert with check: add slot to the set unless
// it is there, and stamp lastmod when it was added.
func (s *lblcr) insert(en *lbEntry, slot int32, t int64) {
	for _, x := range en.set {
		if x == slot {
			return
		}
	}
	en.set = append(en.set, slot)
	en.lastmod = t
}
