package sched

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestSH checks picks worked out by hand from net/netfilter/ipvs/ip_vs_sh.c
// (ip_vs_sh_reassign: walk the list, newest first, giving each dest
// max(weight, 1) consecutive buckets, round and round; ip_vs_sh_hashkey:
// (offset + hash_32(port + ntohl(saddr), 8)) & 255; ip_vs_sh_get and
// ip_vs_sh_get_fallback; is_unavailable: weight <= 0 or overloaded).
//
// "C:2 B:3 A:4" repeats C C B B B A A A A every 9 buckets from bucket 0,
// so bucket b holds position b mod 9 (0-1 C, 2-4 B, 5-8 A). The buckets of
// 203.0.113.1..8 are 50 147 245 87 185 26 124 222 (mod 9: 5 3 2 6 5 8 7
// 6); with their ports 1025..1032 added (sh-port) they are 181 121 61 0
// 196 135 75 14 (mod 9: 1 4 7 0 7 0 3 5). testdata/README.md records the
// sources.
func TestSH(t *testing.T) {
	runHash(t, "sh", []hashCase{
		{
			name:  "weights 2 3 4, by source address",
			dests: "C:2 B:3 A:4",
			want:  "A B B A A A A A",
		},
		{
			// The source port counts only with sh-port.
			name:  "sh-port adds the source port",
			dests: "C:2 B:3 A:4", flags: vs.SvcSchedFlag2,
			want: "C B A C A C B A",
		},
		{
			// Equal weights: bucket mod 3 (2 0 2 0 2 2 1 0).
			name:  "equal weights round-robin",
			dests: "C:1 B:1 A:1",
			want:  "A C A C A A B C",
		},
		{
			name:  "overloaded gives nil without sh-fallback",
			dests: "C:2 B:3 A:4", over: "B",
			want: "A - - A A A A A",
		},
		{
			// Flow 2: ihash 147 (B). Fallback offsets 0, 1, 2 hash to
			// (147 + 147 + offset) & 255 = 38, 39, 40 (mod 9: 2 3 4,
			// B), offset 3 to 41 (5: A). Flow 3: ihash 245 (B); offset 0
			// hashes to (245 + 245) & 255 = 234 (mod 9: 0, C).
			name:  "sh-fallback walks on to an available dest",
			dests: "C:2 B:3 A:4", flags: vs.SvcSchedFlag1, over: "B",
			want: "A A C A A A A A",
		},
		{
			name:  "sh-fallback with nothing available gives nil",
			dests: "C:2 B:3 A:4", flags: vs.SvcSchedFlag1, over: "ABC",
			want: "- - - - - - - -",
		},
		{
			// Weight 0 still takes one bucket (++d_count >= 0), so the
			// list is C B A round-robin and C's buckets give nil.
			name:  "weight 0 keeps one bucket per turn",
			dests: "C:0 B:1 A:1",
			want:  "A - A - A A B -",
		},
		{
			name:  "empty service",
			dests: "",
			want:  "- - - - - - - -",
		},
	})
}

// TestSHBucketsProportional checks ip_vs_sh_reassign's weighting: with
// weights w_i summing to W, the 256 buckets hold 256 div W full rounds and
// then the first 256 mod W buckets of one more.
func TestSHBucketsProportional(t *testing.T) {
	tests := []struct {
		dests string
		want  map[byte]int
	}{
		// 28 rounds of 9, then C C B B.
		{"C:2 B:3 A:4", map[byte]int{'C': 58, 'B': 86, 'A': 112}},
		// 256 = 85*3 + 1: C gets the extra bucket.
		{"C:1 B:1 A:1", map[byte]int{'C': 86, 'B': 85, 'A': 85}},
		// W = 300 > 256: B's 100 buckets, then A's first 156.
		{"B:100 A:200", map[byte]int{'B': 100, 'A': 156}},
		// One dest fills everything.
		{"A:7", map[byte]int{'A': 256}},
	}
	for _, tc := range tests {
		t.Run(tc.dests, func(t *testing.T) {
			svc := newFixture(t).service(tc.dests)
			s, err := New("sh", svc, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make(map[byte]int)
			for _, d := range s.(*sh).buckets {
				got[letter(d)[0]]++
			}
			for l, n := range tc.want {
				if got[l] != n {
					t.Errorf("dest %c: %d buckets, want %d (all: %v)", l, got[l], n, got)
				}
			}
		})
	}
}

// TestSHDeterministic checks that the table depends only on the list and
// weights: a restart (a fresh New) and a reload (New with prev) agree.
func TestSHDeterministic(t *testing.T) {
	f := newFixture(t)
	a, _ := New("sh", f.service("D:1 C:2 B:3 A:4"), nil)
	b, _ := New("sh", f.service("D:1 C:2 B:3 A:4"), nil)
	c, _ := New("sh", f.service("D:1 C:2 B:3 A:4"), a)
	if !sameLetters(a.(*sh).buckets[:], b.(*sh).buckets[:]) || !sameLetters(a.(*sh).buckets[:], c.(*sh).buckets[:]) {
		t.Errorf("the same list built twice gives different tables")
	}
}

func TestSHNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	f := newFixture(t)
	svc := f.service("C:2 B:3 A:4")
	svc.Flags = vs.SvcSchedFlag1 | vs.SvcSchedFlag2
	f.overload("B")
	s, err := New("sh", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	fl := clientFlow(2)
	if n := testing.AllocsPerRun(1000, func() { sinkDest = s.Schedule(svc, fl) }); n != 0 {
		t.Errorf("Schedule allocates %v times per call, want 0", n)
	}
}

func BenchmarkSH(b *testing.B) {
	svc := benchService(b, 100)
	s, err := New("sh", svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	fl := benchFlows()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkDest = s.Schedule(svc, fl[i&1023])
		i++
	}
}
