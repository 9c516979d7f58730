package sched

import (
	"math"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestOverhead checks ip_vs_dest_conn_overhead (include/net/ip_vs.h):
// (activeconns << 8) + inactconns.
func TestOverhead(t *testing.T) {
	tests := []struct {
		name          string
		active, inact int32
		want          int64
	}{
		{name: "idle", want: 0},
		{name: "one active is 256", active: 1, want: 256},
		{name: "one inactive is 1", inact: 1, want: 1},
		{name: "255 inactive weigh less than 1 active", inact: 255, want: 255},
		{name: "mixed", active: 3, inact: 7, want: 3*256 + 7},
		// The kernel's int wraps to a negative number here; ulvs does not.
		{name: "2^23 active does not wrap", active: 1 << 23, want: 1 << 31},
		{name: "largest counters", active: math.MaxInt32, inact: math.MaxInt32, want: math.MaxInt32 * 257},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &vs.Dest{State: &vs.DestState{}}
			d.State.ActiveConns.Store(tc.active)
			d.State.InactConns.Store(tc.inact)
			if got := overhead(d); got != tc.want {
				t.Errorf("overhead(active %d, inactive %d) = %d, want %d", tc.active, tc.inact, got, tc.want)
			}
		})
	}
}
