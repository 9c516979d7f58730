package sched

import (
	"testing"
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
		// C 2/1, B 2/2, A 4/3.
		{name: "least expected delay wins", dests: "C:1 B:2 A:3", conns: "C=1 B=1 A=3", want: "B"},
		// B 1/1 against A 2/3: the incoming connection counts, so
		// the fast dest wins where wlc would take idle B.
		{name: "a busy fast dest beats an idle slow one", dests: "B:1 A:3", conns: "A=1", want: "A"},
		// B 1 against A 2.
		{name: "inactive connections ignored", dests: "B:1 A:1", conns: "B=0/1000 A=1", want: "B"},
		// B 2/2 against A 1/1.
		{name: "tie goes to the first in list order", dests: "B:2 A:1", conns: "B=1", want: "B"},
		{name: "weight 0 skipped even when idle", dests: "B:0 A:1", conns: "A=5", want: "A"},
		{name: "overloaded skipped even when idle", dests: "B:1 A:1", conns: "A=3", over: "B", want: "A"},
		{name: "DR dest without a MAC skipped", dests: "B:1r A:1", conns: "A=5", want: "A"},
		// (active+1)/weight before each pick (C/1 B/2 A/3):
		// 1 .5 .33 -> A | 1 .5 .67 -> B | 1 1 .67 -> A |
		// 1 1 1 -> C (tie) | 2 1 1 -> B (tie B, A) | 2 1.5 1 -> A |
		// 2 1.5 1.33 -> A | 2 1.5 1.67 -> B | 2 2 1.67 -> A |
		// 2 2 2 -> C | 3 2 2 -> B | 3 2.5 2 -> A | 3 2.5 2.33 -> A |
		// 3 2.5 2.67 -> B | 3 3 2.67 -> A | 3 3 3 -> C.
		{name: "sequence from idle starts on the fastest dest", dests: "C:1 B:2 A:3", want: "A B A C B A A B A C B A A B A C"},
	})
}

func TestSEDNoAllocs(t *testing.T) { connNoAllocs(t, "sed", "C=2/5 B=1/9 A=3") }

func BenchmarkSED(b *testing.B) { benchConn(b, "sed") }
