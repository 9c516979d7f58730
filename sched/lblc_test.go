package sched

import (
	"testing"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// TestLBLC checks picks worked out by hand from
// net/netfilter/ipvs/ip_vs_lblc.c: ip_vs_lblc_schedule (a cached dest is
// kept when IP_VS_DEST_F_AVAILABLE, weight > 0 and !is_overloaded; the
// overload flag is not tested), is_overloaded (activeconns > weight and
// some dest of the list with activeconns*2 < weight), __ip_vs_lblc_schedule
// (wlc over the list: ties go to the first, the newest), ip_vs_lblc_new,
// and the timer (ip_vs_lblc_check_expire every 60 s: a full check,
// ip_vs_lblc_full_check, when the counter reaches 30, removing entries
// unused for lblc_expiration). Flows are keyed by their destination
// address 198.51.100.i; each pick adds one active connection.
// testdata/README.md records the sources.
func TestLBLC(t *testing.T) {
	runLB(t, "lblc", []lbCase{
		{
			// C 1 is not > 1: kept. C 2 > 1 while B 0*2 < 1: wlc
			// (C 512, B 0, A 0) gives B; the same for B, then A.
			name: "one address stays until is_overloaded",
			steps: []lbStep{{dests: "C:1 B:1 A:1", flows: []int{1, 1, 1, 1, 1},
				want: "C C B B A"}},
		},
		{
			// Misses go to wlc: C, then B (C 256), then A; hits stay.
			name: "new addresses spread by wlc, hits stay",
			steps: []lbStep{{dests: "C:1 B:1 A:1", flows: []int{1, 2, 3, 1, 2, 3},
				want: "C B A C B A"}},
		},
		{
			// Address 1 is cached on C; the threshold flag on C is
			// not tested for a cached dest. Address 2 misses and
			// wlc skips the overloaded C.
			name: "overload flag not consulted for a cached dest",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{over: "C", flows: []int{1, 2}, want: "C B"},
			},
		},
		{
			// No is_overloaded while no dest is below half its
			// weight: C 5 > 1 but B 1*2 < 2 is false, A 1*2 < 1 false.
			name: "is_overloaded needs a lightly loaded dest",
			steps: []lbStep{
				{dests: "C:1 B:2 A:1", flows: []int{1}, want: "C"},
				{conns: "C=5 B=1 A=1", flows: []int{1}, want: "C"},
				{conns: "B=0", flows: []int{1}, want: "B"},
			},
		},
		{
			name: "cached dest quiesced: rescheduled",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{dests: "C:0 B:1 A:1", flows: []int{1, 1}, want: "B B"},
			},
		},
		{
			// C removed: the entry points to a dest in the trash,
			// which fails IP_VS_DEST_F_AVAILABLE.
			name: "cached dest removed: rescheduled",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{dests: "B:1 A:1", flows: []int{1, 1}, want: "B B"},
			},
		},
		{
			// C removed and, before address 1 came back, re-added
			// (at the head): the entry finds it again.
			name: "cached dest removed and re-added",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{dests: "B:1 A:1"},
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
			},
		},
		{
			name: "reload with a new dest keeps the cache",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1, 2}, want: "C B"},
				{dests: "D:1 C:1 B:1 A:1", flows: []int{1, 2, 3}, want: "C B D"},
			},
		},
		{
			// Full checks run at 30 min, 1 h, ... 24 h; the entry
			// (last used at 0) survives the one at 23 h 30 min: C.
			name: "kept just before 24 h",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{after: 24*time.Hour - time.Nanosecond, flows: []int{1}, want: "C"},
			},
		},
		{
			// The full check at 24 h removes it (24 h >= 0 + 24 h):
			// a miss, and wlc prefers B (C has 1 active).
			name: "expired at 24 h",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{after: 24 * time.Hour, flows: []int{1}, want: "B"},
			},
		},
		{
			// lblc_expiration 1 min, but the full check only runs
			// every 30 ticks: at 10 min the entry is still there (and
			// the hit refreshes it); the check at 30 min removes it.
			name:   "expiration only at the full check",
			params: vs.SchedParams{LBLCExpiration: time.Minute},
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{after: 10 * time.Minute, conns: "C=0", flows: []int{1}, want: "C"},
				{after: 21 * time.Minute, flows: []int{1}, want: "B"},
			},
		},
		{
			// A hit refreshes lastuse: used at 20 h, kept at 40 h.
			name: "a hit refreshes the entry",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{after: 20 * time.Hour, conns: "C=0", flows: []int{1}, want: "C"},
				{after: 20 * time.Hour, conns: "C=0", flows: []int{1}, want: "C"},
			},
		},
		{
			name:  "no dest available",
			steps: []lbStep{{dests: "B:0 A:1", over: "A", flows: []int{1}, want: "-"}},
		},
		{
			// Weighted: C 256/1, B 0/4: B; B keeps address 2 until it
			// has more than 4 active connections.
			name: "weights",
			steps: []lbStep{{dests: "C:1 B:4 A:1", flows: []int{1, 2, 2, 2, 2, 2},
				want: "C B B B B B"}},
		},
	})
}

// TestLBLCOverheadTotal checks that the service's overhead formula reaches
// lblc's wlc pick. C has 1 active connection, B n inactive ones. Classic:
// C 256 against B n; total: C 257 against B n. At n = 256 classic ties (C,
// the first) and total gives B; at n = 255 both give B.
func TestLBLCOverheadTotal(t *testing.T) {
	for _, tc := range []struct {
		oh    vs.Overhead
		inact string
		want  string
	}{
		{vs.OverheadClassic, "B=0/256", "C"},
		{vs.OverheadTotal, "B=0/256", "B"},
		{vs.OverheadClassic, "B=0/255", "B"},
		{vs.OverheadTotal, "B=0/257", "C"},
	} {
		f := newFixture(t)
		svc := f.service("C:1 B:1")
		svc.Params.Overhead = tc.oh
		f.conns("C=1 " + tc.inact)
		s, err := New("lblc", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := letter(s.Schedule(svc, clientFlow(1))); got != tc.want {
			t.Errorf("overhead %d, %s: got %s, want %s", tc.oh, tc.inact, got, tc.want)
		}
	}
}

func TestLBLCNoAllocs(t *testing.T) { lbNoAllocs(t, "lblc") }

// BenchmarkLBLC schedules 1024 cached addresses over 100 dests.
func BenchmarkLBLC(b *testing.B) { benchLB(b, "lblc") }
