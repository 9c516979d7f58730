package sched

import "github.com/ulvs/ulvs/vs"

// Why says what a scheduler's pick depended on, for `ulvs trace`.
type Why struct {
	// Kind is WhyNone (nothing to tell: rr, lc, ...), WhyWeight (wrr:
	// A is the current weight cw after the pick, B the largest weight mw,
	// C the candidates: available real servers whose weight reaches cw)
	// or WhyBucket (sh, mh: A is the client's bucket, B the table size).
	Kind    int
	A, B, C int
}

// Kinds of Why.
const (
	WhyNone = iota
	WhyWeight
	WhyBucket
)

// Explain tells why s picked what it picked for flow, reading its state
// after the pick. It is for tracing only: it takes the scheduler's lock
// (wrr) or hashes the flow again (sh, mh), never on the untraced path.
func Explain(s vs.Scheduler, flow vs.Flow) Why {
	switch s := s.(type) {
	case *wrr:
		s.mu.Lock()
		defer s.mu.Unlock()
		c := 0
		for _, d := range s.dests {
			if int(d.Weight) >= s.cw && d.Available() {
				c++
			}
		}
		return Why{Kind: WhyWeight, A: s.cw, B: s.mw, C: c}
	case *sh:
		var port uint16
		if s.port {
			port = flowPort(&flow)
		}
		return Why{Kind: WhyBucket, A: int(shHash(addrFold(flow.Src), port, 0)), B: shTabSize}
	case *mh:
		var port uint16
		if s.port {
			port = flowPort(&flow)
		}
		size := uint32(len(s.lookup))
		if size == 0 {
			return Why{}
		}
		return Why{Kind: WhyBucket, A: int(mhHash(mhKey1, addrFold(flow.Src), port, 0, size)), B: int(size)}
	}
	return Why{}
}
