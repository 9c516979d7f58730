package sched

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// fixedDraws is a random source for twos that makes randBelow(ceil)
// return the given values in order: each value v is drawn as the 32-bit
// number in the middle of v's interval of width 2^32/ceil, which maps to v
// without rejection.
func fixedDraws(ceil uint32, vals ...uint32) func() uint32 {
	var mu sync.Mutex
	i := 0
	width := uint32((1 << 32) / uint64(ceil))
	return func() uint32 {
		mu.Lock()
		defer mu.Unlock()
		v := vals[i%len(vals)]
		i++
		return v*width + width/2
	}
}

// TestTWOS checks picks worked out by hand from
// net/netfilter/ipvs/ip_vs_twos.c ip_vs_twos_schedule: sum the weights of
// the dests neither overloaded nor of weight 0, draw r1 and r2 from
// [0, sum] (get_random_u32_below(sum + 1)), walk the list subtracting each
// weight; the dest where r first drops to 0 or below is the choice; choice
// 2 wins only when weight2 * overhead1 > weight1 * overhead2.
//
// With "C:1 B:2 A:3" (sum 6, draws in 0..6) the walk maps r 0-1 to C (r-1
// <= 0), 2-3 to B (r-3 <= 0) and 4-6 to A: the +1 gives the first dest of
// the list one share more than its weight. testdata/README.md records the
// sources.
func TestTWOS(t *testing.T) {
	tests := []struct {
		name  string
		dests string
		conns string
		over  string
		ceil  uint32   // sum of available weights + 1
		draws []uint32 // r1, r2 per pick
		want  string
	}{
		{
			// Idle: overheads 0, 0 > 0 fails, choice 1 stays.
			name:  "idle: choice 1",
			dests: "C:1 B:2 A:3", ceil: 7,
			draws: []uint32{0, 6, 2, 0, 4, 1, 6, 3},
			want:  "C B A A",
		},
		{
			// r1 0 (C, 256), r2 5 (A, 0): 3*256 > 1*0, A.
			name:  "choice 2 less loaded wins",
			dests: "C:1 B:2 A:3", conns: "C=1", ceil: 7,
			draws: []uint32{0, 5},
			want:  "A",
		},
		{
			// r1 4 (A: 512, w 3), r2 2 (B: 256, w 2): 2*512 = 1024 >
			// 3*256 = 768, B.
			name:  "weighted comparison",
			dests: "C:1 B:2 A:3", conns: "A=2 B=1", ceil: 7,
			draws: []uint32{4, 2},
			want:  "B",
		},
		{
			// r1 0 (C: 256, w 1), r2 2 (B: 512, w 2): 2*256 = 1*512,
			// not greater: C stays.
			name:  "tie keeps choice 1",
			dests: "C:1 B:2 A:3", conns: "C=1 B=2", ceil: 7,
			draws: []uint32{0, 2},
			want:  "C",
		},
		{
			// B skipped: sum 4, draws in 0..4; r 0-1 C, 2-4 A.
			name:  "overloaded dest skipped",
			dests: "C:1 B:2 A:3", over: "B", ceil: 5,
			draws: []uint32{2, 0, 1, 4},
			want:  "A C",
		},
		{
			name:  "weight 0 skipped",
			dests: "C:1 B:0 A:3", ceil: 5,
			draws: []uint32{1, 1, 2, 2},
			want:  "C A",
		},
		{
			// Inactive connections count through the overhead:
			// r1 0 (C: 10 inactive), r2 4 (A: 0): 3*10 > 1*0, A.
			name:  "inactive connections count",
			dests: "C:1 B:2 A:3", conns: "C=0/10", ceil: 7,
			draws: []uint32{0, 4},
			want:  "A",
		},
		{
			name:  "nothing available",
			dests: "B:0 A:1", over: "A", ceil: 1,
			draws: []uint32{0},
			want:  "-",
		},
		{
			// C skipped: sum 5, r 0-2 B, 3-5 A.
			name:  "DR dest without a MAC skipped",
			dests: "C:1r B:2 A:3", ceil: 6,
			draws: []uint32{0, 0, 3, 3},
			want:  "B A",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			svc := f.service(tc.dests)
			f.conns(tc.conns)
			f.overload(tc.over)
			s, err := New("twos", svc, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.(*twos).rand = fixedDraws(tc.ceil, tc.draws...)
			var got []string
			for range strings.Fields(tc.want) {
				got = append(got, letter(s.Schedule(svc, vs.Flow{})))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}
}

// TestRandBelow checks get_random_u32_below (drivers/char/random.c):
// (ceil * x) >> 32, drawing again while the low half is below 2^32 mod
// ceil (4 for ceil 7: 2^32 = 7 * 613566756 + 4).
func TestRandBelow(t *testing.T) {
	seqOf := func(xs ...uint32) (func() uint32, *int) {
		n := 0
		return func() uint32 { x := xs[n]; n++; return x }, &n
	}
	tests := []struct {
		name      string
		ceil      uint32
		xs        []uint32
		want      uint32
		wantDraws int
	}{
		// 7 * 613566757 = 2^32 + 3: low half 3 < 4, drawn again;
		// 7 * 613566758 = 2^32 + 10: 1.
		{"low half below the bound", 7, []uint32{613566757, 613566758}, 1, 2},
		// 7 * 3681400540 = 6 * 2^32 + 4: low half 4, not below 4.
		{"low half at the bound", 7, []uint32{3681400540}, 6, 1},
		{"top", 7, []uint32{0xffffffff}, 6, 1}, // 7 * (2^32-1) >> 32
		{"zero rejected then accepted", 7, []uint32{0, 0x80000000}, 3, 2},
		{"ceil 1 is always 0", 1, []uint32{0xdeadbeef}, 0, 1},
		{"ceil 0 is a raw draw", 0, []uint32{42}, 42, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, n := seqOf(tc.xs...)
			if got := randBelow(r, tc.ceil); got != tc.want || *n != tc.wantDraws {
				t.Errorf("randBelow(%d) = %d after %d draws, want %d after %d", tc.ceil, got, *n, tc.want, tc.wantDraws)
			}
		})
	}
}

// TestTWOSDistribution checks, with the default source, that idle picks
// follow the walk's shares (C 2/7, B 2/7, A 3/7 for "C:1 B:2 A:3").
func TestTWOSDistribution(t *testing.T) {
	svc := newFixture(t).service("C:1 B:2 A:3")
	s, _ := New("twos", svc, nil)
	const n = 70000
	counts := make(map[string]int)
	for range n {
		counts[letter(s.Schedule(svc, vs.Flow{}))]++
	}
	for l, share := range map[string]float64{"C": 2.0 / 7, "B": 2.0 / 7, "A": 3.0 / 7} {
		got := float64(counts[l]) / n
		if got < share-0.02 || got > share+0.02 {
			t.Errorf("dest %s: share %.3f, want %.3f", l, got, share)
		}
	}
}

func TestTWOSNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	f := newFixture(t)
	svc := f.service("D:0 C:2 B:3 A:4")
	f.conns("C=2/5 B=1/9 A=3")
	s, err := New("twos", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { sinkDest = s.Schedule(svc, vs.Flow{}) }); n != 0 {
		t.Errorf("Schedule allocates %v times per call, want 0", n)
	}
}

// BenchmarkTWOS measures twos as the director sets it up: the dests share
// an availability epoch, so the first walk is reused while nothing changes.
func BenchmarkTWOS(b *testing.B) {
	svc := benchConnService(b, 100)
	var epoch atomic.Uint64
	for _, d := range svc.Dests {
		d.State.SetAvailabilityEpoch(&epoch)
	}
	s, err := New("twos", svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkDest = s.Schedule(svc, vs.Flow{})
	}
}

// BenchmarkTWOSNoEpoch is twos with both walks on every call.
func BenchmarkTWOSNoEpoch(b *testing.B) {
	svc := benchConnService(b, 100)
	s, err := New("twos", svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkDest = s.Schedule(svc, vs.Flow{})
	}
}

// The cached first walk follows every availability change.
func TestTWOSEpochCache(t *testing.T) {
	svc := benchConnService(t, 10)
	var epoch atomic.Uint64
	for _, d := range svc.Dests {
		d.State.SetAvailabilityEpoch(&epoch)
	}
	s, err := New("twos", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	heavy := svc.Dests[9] // weight 10, the likeliest pick
	for range 50 {
		s.Schedule(svc, vs.Flow{})
	}
	before := epoch.Load()
	heavy.State.SetOverloaded(true)
	if epoch.Load() == before {
		t.Fatal("SetOverloaded did not move the epoch")
	}
	for i := range 500 {
		if s.Schedule(svc, vs.Flow{}) == heavy {
			t.Fatalf("pick %d went to the overloaded dest", i)
		}
	}
	// Everything overloaded: nothing, though the cache said otherwise.
	for _, d := range svc.Dests {
		d.State.SetOverloaded(true)
	}
	if d := s.Schedule(svc, vs.Flow{}); d != nil {
		t.Fatalf("all overloaded, picked %v", d.Addr)
	}
	heavy.State.SetOverloaded(false)
	if d := s.Schedule(svc, vs.Flow{}); d != heavy {
		t.Fatalf("only the heavy dest is available, picked %v", d)
	}
}
