package sched

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestWRR checks sequences stepped by hand through
// net/netfilter/ipvs/ip_vs_wrr.c (3.10-era RCU version to 6.x): ip_vs_wrr_init_svc
// (di = gcd of positive weights or 1, mw = max - (di-1), cw = mw, cl = head),
// ip_vs_wrr_dest_changed (the add_dest, upd_dest and del_dest hook: cl back
// to the head, di and mw recomputed, cw = mw if cw > mw or cw == 0, else
// cw = (cw/di)*di + 1 when di > 1) and ip_vs_wrr_schedule (walk on from cl
// for weight >= cw, cw -= di at the head, restart at mw, the last_pass /
// restarted / stop exits). The hook calls follow ip_vs_ctl.c:
// ip_vs_add_service binds the scheduler to an empty list, each
// ip_vs_add_dest / ip_vs_edit_dest / ip_vs_del_dest then calls the hook once.
// testdata/README.md records the sources.
func TestWRR(t *testing.T) {
	runSeq(t, "wrr", []seqCase{
		{
			// Empty: di 1, mw 0, cw 0. Add A:4: di 4, mw 1, cw 0 -> 1.
			// Add B:3: di 1, mw 4, cw 1 stays. Add C:2: cw 1 stays.
			// So the first pass is the cw = 1 pass from the head: C B A,
			// then cw restarts at 4: A | B A | C B A | C B A | A ...
			name: "first connections after create A B C, 18 picks",
			steps: []step{{
				dests: "C:2 B:3 A:4",
				want:  "C B A A B A C B A C B A A B A C B A",
			}},
		},
		{
			// ipvsadm -E -s wrr: ip_vs_wrr_init_svc on the full list,
			// cw = mw = 4: one full cycle from the top.
			name:  "switched from rr: init on the full list",
			from:  "rr",
			steps: []step{{dests: "C:2 B:3 A:4", want: "A B A C B A C B A A"}},
		},
		{
			// After C B A A: cl A, cw 4. B 3 -> 6: di 2, mw 6-1 = 5,
			// cw (4/2)*2+1 = 5, cl head. cw 5: B | cw 3: B A |
			// cw 1: C B A | cw -1 -> 5: B.
			name: "weight raised mid-stream, gcd 2",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B A A"},
				{dests: "C:2 B:6 A:4", want: "B B A C B A B"},
			},
		},
		{
			// After C B A A: cl A, cw 4. A 4 -> 1: di 1, mw 3,
			// cw 4 > mw -> 3. cw 3: B | cw 2: C B | cw 1: C B A |
			// cw 0 -> 3: B.
			name: "weight lowered mid-stream, cw above mw restarts at mw",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B A A"},
				{dests: "C:2 B:3 A:1", want: "B C B C B A B"},
			},
		},
		{
			// After C B A A: cl A, cw 4. B -> 0: di 2, mw 3, cw 4 -> 3.
			// cw 3: A | cw 1: C A | cw -1 -> 3: A | cw 1: C A.
			name: "quiesced mid-stream, others continue",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B A A"},
				{dests: "C:2 B:0 A:4", want: "A C A A C A"},
			},
		},
		{
			// Adds: A:4 cw 0 -> 1 (di 4, mw 1); B:0 cw (1/4)*4+1 = 1;
			// C:2 di 2, mw 3, cw (1/2)*2+1 = 1.
			name:  "quiesced from creation",
			steps: []step{{dests: "C:2 B:0 A:4", want: "C A A C A A C A A"}},
		},
		{
			name:  "all weights 0 gives nil",
			steps: []step{{dests: "C:0 B:0 A:0", want: "- - -"}},
		},
		{
			// After C B: cl B, cw 1. Edits in list order: C 0 (di 1,
			// mw 4, cw 1), B 0 (di 4, mw 1, cw 1), A 0 (mw 0, cw 1 > 0
			// -> 0): mw 0 exits. A -> 5: di 5, mw 1, !cw -> cw 1.
			name: "all weights 0 mid-stream, then one restored",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B"},
				{dests: "C:0 B:0 A:0", want: "- -"},
				{dests: "C:0 B:0 A:5", want: "A A A"},
			},
		},
		{
			// cw 1: C, (B) A | cw 4: A | cw 3: A | cw 2: C A |
			// cw 1: C A | cw 4: A. Then B is back: cw 3: B A | cw 2: C.
			name: "overloaded dest skipped, then back",
			steps: []step{
				{dests: "C:2 B:3 A:4", over: "B", want: "C A A A C A C A A"},
				{over: "", want: "B A C"},
			},
		},
		{
			// From the head with cw 1 nothing fits: at the head cw
			// drops to 0 -> mw 4 and last is the head: err_over.
			// The second call runs cw 4, 3, 2, 1 and ends the same way,
			// leaving cw 4: the recovery starts a cycle from the top.
			name: "all overloaded gives nil, then recovery",
			steps: []step{
				{dests: "C:2 B:3 A:4", over: "ABC", want: "- -"},
				{over: "", want: "A B A C B A"},
			},
		},
		{
			// After C B A A: cl A, cw 4. Add D:1: di 1, mw 4, cw 4.
			// One full cycle from the head: A | B A | C B A | D C B A.
			name: "dest added mid-stream",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B A A"},
				{dests: "D:1 C:2 B:3 A:4", want: "A B A C B A D C B A"},
			},
		},
		{
			// After C B A A B: cl B, cw 3. Delete B: di 2, mw 3,
			// cw (3/2)*2+1 = 3. cw 3: A | cw 1: C A | cw 3: A | ...
			name: "dest removed mid-stream",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B A A B"},
				{dests: "C:2 A:4", want: "A C A A C A"},
			},
		},
		{
			// ipvsadm -e -x 100 on B calls upd_dest: cl goes back to the
			// head with cw 3, so B comes next, not A.
			name: "threshold edit resets cl to the head",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B A A B"},
				{dests: "C:2 B:3^100 A:4", want: "B A C B A C B A A"},
			},
		},
		{
			// B moved to the head: del B (di 2, mw 3, cw 3 -> 3), then
			// add B (di 1, mw 4, cw 3). List B C A from the head, cw 3.
			name: "dest removed and re-added in one reload",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B A A B"},
				{dests: "B:3 C:2 A:4", want: "B A B C A B C A A"},
			},
		},
		{
			// After A:2 is added: di 2, mw 1, cw 0 -> 1. The second pick
			// restarts (cw -1 -> 1) with stop = A and finds A again.
			name: "empty service, then one dest added",
			steps: []step{
				{dests: "", want: "- -"},
				{dests: "A:2", want: "A A A"},
			},
		},
		{
			// Adds: A:4 (di 4, mw 1, cw 1), B:2 (di 2, mw 3,
			// cw (1/2)*2+1 = 1). cw 1: B A | cw -1 -> 3: A | cw 1: B A.
			name:  "create with gcd 2",
			steps: []step{{dests: "B:2 A:4", want: "B A A B A A"}},
		},
		{
			name:  "DR dest without a MAC skipped",
			steps: []step{{dests: "C:2 B:3r A:4", want: "C A A A C A C A A"}},
		},
		{
			// New with an unchanged list keeps cl and cw: no hook ran.
			name: "unchanged list keeps the position",
			steps: []step{
				{dests: "C:2 B:3 A:4", want: "C B A A B"},
				{dests: "C:2 B:3 A:4", want: "A C B A C B A A"},
			},
		},
	})
}

// TestWRRCycleProportional checks, for random weights and random weight
// changes, that every window of one cycle (sum(weight)/gcd picks) gives each
// dest exactly weight/gcd picks. After any hook call the kernel's state is
// the start of a pass, so there is no partial cycle to skip.
func TestWRRCycleProportional(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iters := 300
	if testing.Short() {
		iters = 50
	}
	for it := range iters {
		n := 1 + rng.IntN(8)
		states := make([]*vs.DestState, n)
		for i := range states {
			states[i] = &vs.DestState{}
		}
		build := func() *vs.Service {
			svc := &vs.Service{}
			for i := range n {
				w := rng.IntN(13)
				if rng.IntN(4) == 0 {
					w *= 3 // more common divisors
				}
				svc.Dests = append(svc.Dests, &vs.Dest{
					ID: uint32(i + 1), Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}),
					Method: vs.Masq, Weight: int32(w), State: states[i],
				})
			}
			return svc
		}
		var s vs.Scheduler
		for change := range 4 {
			svc := build()
			g, sum := 0, 0
			for _, d := range svc.Dests {
				g = gcd(g, int(d.Weight))
				sum += int(d.Weight)
			}
			var err error
			s, err = New("wrr", svc, s)
			if err != nil {
				t.Fatal(err)
			}
			if sum == 0 {
				if d := s.Schedule(svc, vs.Flow{}); d != nil {
					t.Fatalf("iter %d: all weights 0, got dest %d", it, d.ID)
				}
				continue
			}
			cycle := sum / g
			skip := rng.IntN(cycle + 1)
			for range skip {
				s.Schedule(svc, vs.Flow{})
			}
			for window := range 2 {
				counts := make(map[uint32]int)
				for range cycle {
					d := s.Schedule(svc, vs.Flow{})
					if d == nil {
						t.Fatalf("iter %d change %d: nil with positive weights", it, change)
					}
					counts[d.ID]++
				}
				for _, d := range svc.Dests {
					if got, want := counts[d.ID], int(d.Weight)/g; got != want {
						t.Errorf("iter %d change %d window %d (skip %d): dest %d weight %d: got %d picks, want %d",
							it, change, window, skip, d.ID, d.Weight, got, want)
					}
				}
			}
		}
	}
}

func TestWRRNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	svc := newFixture(t).service("D:0 C:2 B:3 A:4")
	s, err := New("wrr", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { sinkDest = s.Schedule(svc, vs.Flow{}) }); n != 0 {
		t.Errorf("Schedule allocates %v times per call, want 0", n)
	}
}

func BenchmarkWRR(b *testing.B) {
	svc := benchService(b, 100)
	s, err := New("wrr", svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkDest = s.Schedule(svc, vs.Flow{})
	}
}

// sinkDest keeps benchmark results alive.
var sinkDest *vs.Dest

// benchService returns a service with n Masq dests of weights 1..10.
func benchService(tb testing.TB, n int) *vs.Service {
	tb.Helper()
	svc := &vs.Service{}
	for i := range n {
		svc.Dests = append(svc.Dests, &vs.Dest{
			ID:     uint32(i + 1),
			Addr:   netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}),
			Port:   80,
			Method: vs.Masq,
			Weight: int32(1 + i%10),
			State:  &vs.DestState{},
		})
	}
	return svc
}

// TestWRRConcurrent schedules from several goroutines at once: the mutex
// serialises the walk, so whole cycles still split exactly by weight. Run
// with -race to check the locking.
func TestWRRConcurrent(t *testing.T) {
	svc := newFixture(t).service("C:2 B:3 A:4")
	s, err := New("wrr", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	const workers, cycles = 4, 50
	results := make(chan map[uint32]int)
	for range workers {
		go func() {
			counts := make(map[uint32]int)
			for range cycles * 9 {
				if d := s.Schedule(svc, vs.Flow{}); d != nil {
					counts[d.ID]++
				}
			}
			results <- counts
		}()
	}
	total := make(map[uint32]int)
	for range workers {
		for id, n := range <-results {
			total[id] += n
		}
	}
	for _, d := range svc.Dests {
		if got, want := total[d.ID], workers*cycles*int(d.Weight); got != want {
			t.Errorf("dest %d weight %d: got %d picks, want %d", d.ID, d.Weight, got, want)
		}
	}
}
