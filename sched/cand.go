package sched

import "github.com/ulvs/ulvs/vs"

// cand is a dest as the connection-counting schedulers (lc, wlc, sed, nq,
// ovf) scan it: New drops the dests that can never be available in this
// table (weight 0 or less, removed) and keeps the rest in a flat slice
// with the state pointer and weight at hand, so a scan of 100 dests stays
// a short walk over contiguous memory. Order is kept, so ties still go to
// the first dest in the kernel's list order.
type cand struct {
	d     *vs.Dest
	st    *vs.DestState
	w     int64
	route bool // needs a resolved MAC to be usable (direct routing)
}

// candidates keeps the dests of ds that may ever be available.
func candidates(ds []*vs.Dest) []cand {
	out := make([]cand, 0, len(ds))
	for _, d := range ds {
		if d.Weight <= 0 || d.Trashed {
			continue
		}
		out = append(out, cand{d: d, st: d.State, w: int64(d.Weight), route: d.Method == vs.Route})
	}
	return out
}

// ok is the live part of vs.Dest.Available: not overloaded, and for direct
// routing a known MAC.
func (c *cand) ok() bool {
	return !c.st.Overloaded.Load() && (!c.route || c.st.HasMAC())
}

// overhead is overheadOf for a candidate, given extra: 1 for
// vs.OverheadTotal, 0 for the classic formula (see extraFor), so the scan
// has no branch on the formula.
func (c *cand) overhead(extra int64) int64 {
	a := int64(c.st.ActiveConns.Load())
	return a<<8 + a*extra + int64(c.st.InactConns.Load())
}

// extraFor maps the overhead formula to cand.overhead's extra.
func extraFor(kind vs.Overhead) int64 {
	if kind == vs.OverheadTotal {
		return 1
	}
	return 0
}
