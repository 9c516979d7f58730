package sched

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestDH checks picks worked out by hand from net/netfilter/ipvs/ip_vs_dh.c
// (ip_vs_dh_reassign: bucket i holds dest i mod n of the list, newest
// first, weight ignored; ip_vs_dh_hashkey: hash_32(ntohl(daddr), 8);
// ip_vs_dh_schedule: no dest when the bucket's dest has weight 0 or is
// overloaded). The buckets of 198.51.100.1..8, hash_32 (x * 0x61C88647)
// >> 24, are 96 194 35 133 231 73 171 12. testdata/README.md records the
// sources.
func TestDH(t *testing.T) {
	runHash(t, "dh", []hashCase{
		{
			// Buckets mod 3: 0 2 2 1 0 1 0 0 -> C A A B C B C C.
			name:  "three dests, by destination address",
			dests: "C:1 B:1 A:1",
			want:  "C A A B C B C C",
		},
		{
			// Weights do not matter to dh's table.
			name:  "weights ignored",
			dests: "C:5 B:1 A:9",
			want:  "C A A B C B C C",
		},
		{
			// Buckets mod 2: 0 0 1 1 1 1 1 0 -> B B A A A A A B.
			name:  "two dests",
			dests: "B:1 A:1",
			want:  "B B A A A A A B",
		},
		{
			name:  "overloaded bucket dest gives nil, no fallback",
			dests: "C:1 B:1 A:1", over: "A",
			want: "C - - B C B C C",
		},
		{
			name:  "weight 0 gives nil",
			dests: "C:1 B:0 A:1",
			want:  "C A A - C - C C",
		},
		{
			name:  "DR dest without a MAC gives nil",
			dests: "C:1r B:1 A:1",
			want:  "- A A B - B - -",
		},
		{
			name:  "empty service",
			dests: "",
			want:  "- - - - - - - -",
		},
		{
			// The source port and address play no part: flow 9's
			// bucket is (198.51.100.9) -> 110, 110 mod 3 = 2: A.
			name:  "one more flow",
			dests: "C:1 B:1 A:1", flows: []int{9},
			want: "A",
		},
	})
}

// TestDHDeterministic checks that the table depends only on the list: two
// Schedulers built separately (a restart) agree on every bucket, and a
// reload with prev gives the same table as a fresh New.
func TestDHDeterministic(t *testing.T) {
	f := newFixture(t)
	svc := f.service("E:1 D:2 C:3 B:4 A:5")
	a, _ := New("dh", svc, nil)
	b, _ := New("dh", f.service("E:1 D:2 C:3 B:4 A:5"), nil)
	c, _ := New("dh", svc, a)
	if !sameLetters(a.(*dh).buckets[:], b.(*dh).buckets[:]) {
		t.Errorf("two builds of the same list differ")
	}
	if !sameLetters(a.(*dh).buckets[:], c.(*dh).buckets[:]) {
		t.Errorf("reload with prev differs from a fresh build")
	}
}

// sameLetters compares two bucket tables by dest ID.
func sameLetters(a, b []*vs.Dest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || (a[i] != nil && a[i].ID != b[i].ID) {
			return false
		}
	}
	return true
}

func TestDHNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	svc := newFixture(t).service("C:1 B:1 A:1")
	s, err := New("dh", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	fl := clientFlow(3)
	if n := testing.AllocsPerRun(1000, func() { sinkDest = s.Schedule(svc, fl) }); n != 0 {
		t.Errorf("Schedule allocates %v times per call, want 0", n)
	}
}

func BenchmarkDH(b *testing.B) {
	svc := benchService(b, 100)
	s, err := New("dh", svc, nil)
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
