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

// TestOverheadOf checks the service's choice: classic is overhead; total
// counts 257 per active and 1 per inactive connection.
func TestOverheadOf(t *testing.T) {
	tests := []struct {
		kind          vs.Overhead
		active, inact int32
		want          int64
	}{
		{vs.OverheadClassic, 3, 7, 3*256 + 7},
		{vs.OverheadTotal, 3, 7, 3*257 + 7},
		{vs.OverheadTotal, 0, 9, 9},
		{vs.OverheadTotal, 1, 0, 257},
		{vs.OverheadTotal, math.MaxInt32, math.MaxInt32, math.MaxInt32 * 258},
	}
	for _, tc := range tests {
		d := &vs.Dest{State: &vs.DestState{}}
		d.State.ActiveConns.Store(tc.active)
		d.State.InactConns.Store(tc.inact)
		if got := overheadOf(tc.kind, d); got != tc.want {
			t.Errorf("overheadOf(%d, active %d, inactive %d) = %d, want %d", tc.kind, tc.active, tc.inact, got, tc.want)
		}
	}
}

// TestOverheadChoiceReachesSchedulers checks that lc and wlc compare with
// the service's formula. B has 1 active connection, A 256 inactive ones:
// classic ties at 256 (B, the first, wins); total gives B 257 against A
// 256, so A wins.
func TestOverheadChoiceReachesSchedulers(t *testing.T) {
	for _, name := range []string{"lc", "wlc"} {
		for _, tc := range []struct {
			kind vs.Overhead
			want string
		}{{vs.OverheadClassic, "B"}, {vs.OverheadTotal, "A"}} {
			f := newFixture(t)
			svc := f.service("B:1 A:1")
			svc.Params.Overhead = tc.kind
			f.conns("B=1 A=0/256")
			s, err := New(name, svc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := letter(s.Schedule(svc, vs.Flow{})); got != tc.want {
				t.Errorf("%s with overhead %d: got %s, want %s", name, tc.kind, got, tc.want)
			}
		}
	}
}
