package sched

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestSED checks picks worked out by hand from
// net/netfilter/ipvs/ip_vs_sed.c ip_vs_sed_schedule: wlc's two-stage walk
// (first dest not overloaded with weight > 0, then replace only when
// (__s64)loh * dest->weight > (__s64)doh * least->weight, skipping
// overloaded dests) with ip_vs_sed_dest_overhead = activeconns + 1.
// Ratios below are (active+1)/weight. testdata/README.md records the
// sources.
func TestSED(t *testing.T) {
	runConns(t, "sed", []connCase{
		{
			// C 2/1, B 2/2, A 4/3.
			name:  "least expected delay wins",
			dests: "C:1 B:2 A:3", conns: "C=1 B=1 A=3",
			want: "B",
		},
		{
			// B 1/1 against A 2/3: the incoming connection counts, so
			// the fast dest wins where wlc would take idle B.
			name:  "a busy fast dest beats an idle slow one",
			dests: "B:1 A:3", conns: "A=1",
			want: "A",
		},
		{
			// B 1 against A 2.
			name:  "inactive connections ignored",
			dests: "B:1 A:1", conns: "B=0/1000 A=1",
			want: "B",
		},
		{
			// B 2/2 against A 1/1.
			name:  "tie goes to the first in list order",
			dests: "B:2 A:1", conns: "B=1",
			want: "B",
		},
		{
			name:  "weight 0 skipped even when idle",
			dests: "B:0 A:1", conns: "A=5",
			want: "A",
		},
		{
			name:  "overloaded skipped even when idle",
			dests: "B:1 A:1", conns: "A=3", over: "B",
			want: "A",
		},
		{
			name:  "all unavailable gives nil",
			dests: "C:0 B:1 A:1", over: "AB",
			want: "- -",
		},
		{
			name:  "empty service gives nil",
			dests: "",
			want:  "-",
		},
		{
			name:  "DR dest without a MAC skipped",
			dests: "B:1r A:1", conns: "A=5",
			want: "A",
		},
		{
			// (active+1)/weight before each pick (C/1 B/2 A/3):
			// 1 .5 .33 -> A | 1 .5 .67 -> B | 1 1 .67 -> A |
			// 1 1 1 -> C (tie) | 2 1 1 -> B (tie B, A) | 2 1.5 1 -> A |
			// 2 1.5 1.33 -> A | 2 1.5 1.67 -> B | 2 2 1.67 -> A |
			// 2 2 2 -> C | 3 2 2 -> B | 3 2.5 2 -> A | 3 2.5 2.33 -> A |
			// 3 2.5 2.67 -> B | 3 3 2.67 -> A | 3 3 3 -> C.
			name:  "sequence from idle starts on the fastest dest",
			dests: "C:1 B:2 A:3",
			want:  "A B A C B A A B A C B A A B A C",
		},
	})
}

func TestSEDNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	f := newFixture(t)
	svc := f.service("D:0 C:2 B:3 A:4")
	f.conns("C=2/5 B=1/9 A=3")
	s, err := New("sed", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { sinkDest = s.Schedule(svc, vs.Flow{}) }); n != 0 {
		t.Errorf("Schedule allocates %v times per call, want 0", n)
	}
}

func BenchmarkSED(b *testing.B) {
	svc := benchConnService(b, 100)
	s, err := New("sed", svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkDest = s.Schedule(svc, vs.Flow{})
	}
}
