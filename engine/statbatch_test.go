package engine

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestStatBatch: sums per counter, in and out apart, nothing shared until
// the flush, and a batch touching more counters than it has slots flushes
// the others to make room without losing any.
func TestStatBatch(t *testing.T) {
	var b statBatch
	cs := make([]vs.Counters, statSlots+3)
	for round := 0; round < 2; round++ {
		for i := range cs {
			for k := 0; k <= i; k++ {
				b.in(&cs[i], 100)
			}
			b.out(&cs[i], 10)
		}
		if round == 0 {
			// The first statSlots counters went out to make room; the
			// last three are still summed.
			for i := range cs {
				v := cs[i].Load()
				if held := i >= statSlots; (v.InPkts == 0) != held {
					t.Fatalf("counter %d before the flush: %+v", i, v)
				}
			}
		}
		b.flush()
		for i := range cs {
			want := vs.CounterValues{
				InPkts: uint64(i+1) * uint64(round+1), InBytes: 100 * uint64(i+1) * uint64(round+1),
				OutPkts: uint64(round + 1), OutBytes: 10 * uint64(round+1),
			}
			if got := cs[i].Load(); got != want {
				t.Errorf("round %d counter %d: %+v, want %+v", round, i, got, want)
			}
		}
	}
	if b.n != 0 {
		t.Errorf("%d sums left after a flush", b.n)
	}
	b.flush() // an empty flush changes nothing
	if got := cs[0].Load().InPkts; got != 2 {
		t.Errorf("after an empty flush: %d", got)
	}
}
