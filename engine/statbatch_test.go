package engine

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestStatBatch: sums per counter (services' and dests' apart, in and out
// apart), nothing shared until the flush, and a batch touching more
// counters than it has slots flushes the others to make room without
// losing any.
func TestStatBatch(t *testing.T) {
	var b statBatch
	const nSvc, nDst = 5, statSlots - 5 + 3
	svcs := make([]vs.ServiceStats, nSvc)
	dsts := make([]vs.DestState, nDst)
	// counter i: services first, then dests; in and out count on it.
	counter := func(i int) *vs.Counters {
		if i < nSvc {
			return &svcs[i].Counters
		}
		return &dsts[i-nSvc].Counters
	}
	in := func(i, n int) {
		if i < nSvc {
			b.inService(&svcs[i], n)
		} else {
			b.inDest(&dsts[i-nSvc], n)
		}
	}
	out := func(i, n int) {
		if i < nSvc {
			b.outService(&svcs[i], n)
		} else {
			b.outDest(&dsts[i-nSvc], n)
		}
	}
	for round := 0; round < 2; round++ {
		for i := 0; i < nSvc+nDst; i++ {
			for k := 0; k <= i; k++ {
				in(i, 100)
			}
			out(i, 10)
		}
		if round == 0 {
			// The first statSlots counters went out to make room; the
			// last three are still summed.
			for i := 0; i < nSvc+nDst; i++ {
				v := counter(i).Load()
				if held := i >= statSlots; (v.InPkts == 0) != held {
					t.Fatalf("counter %d before the flush: %+v", i, v)
				}
			}
		}
		b.flush()
		for i := 0; i < nSvc+nDst; i++ {
			want := vs.CounterValues{
				InPkts: uint64(i+1) * uint64(round+1), InBytes: 100 * uint64(i+1) * uint64(round+1),
				OutPkts: uint64(round + 1), OutBytes: 10 * uint64(round+1),
			}
			if got := counter(i).Load(); got != want {
				t.Errorf("round %d counter %d: %+v, want %+v", round, i, got, want)
			}
		}
	}
	if b.n != 0 {
		t.Errorf("%d sums left after a flush", b.n)
	}
	b.flush() // an empty flush changes nothing
	if got := counter(0).Load().InPkts; got != 2 {
		t.Errorf("after an empty flush: %d", got)
	}
}
