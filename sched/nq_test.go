package sched

import (
	"testing"
)

// TestNQ checks picks worked out by hand from net/netfilter/ipvs/ip_vs_nq.c
// ip_vs_nq_schedule: skip a dest that is overloaded or of weight 0; return
// the first dest with activeconns == 0 at once; otherwise keep the first
// and replace it only when
// (__s64)loh * dest->weight > (__s64)doh * least->weight, with
// ip_vs_nq_dest_overhead = activeconns + 1. Ratios below are
// (active+1)/weight. testdata/README.md records the sources.
func TestNQ(t *testing.T) {
	runConns(t, "nq", []connCase{
		{name: "first idle dest wins whatever its weight", dests: "C:1 B:5 A:10", want: "C"},
		// B 2/10 is the better ratio (sed would take it), but A is
		// idle and the walk returns it at once.
		{name: "idle dest beats a better ratio earlier in the list", dests: "B:10 A:1", conns: "B=1", want: "A"},
		// B 2/1 against A 4/3.
		{name: "no idle dest: least expected delay", dests: "B:1 A:3", conns: "B=1 A=3", want: "A"},
		{name: "inactive connections do not make a dest busy", dests: "B:1 A:1", conns: "B=0/50 A=1", want: "B"},
		// B 2/1 against A 4/2.
		{name: "tie goes to the first in list order", dests: "B:1 A:2", conns: "B=1 A=3", want: "B"},
		{name: "idle dest of weight 0 skipped", dests: "B:0 A:1", conns: "A=3", want: "A"},
		{name: "idle overloaded dest skipped", dests: "B:1 A:1", conns: "A=3", over: "B", want: "A"},
		{name: "idle DR dest without a MAC skipped", dests: "B:1r A:1", conns: "A=5", want: "A"},
		// Idle dests in list order first: C, B, A. Then
		// (active+1)/weight (C/1 B/2 A/3): 2 1 .67 -> A |
		// 2 1 1 -> B (tie B, A) | 2 1.5 1 -> A | 2 1.5 1.33 -> A |
		// 2 1.5 1.67 -> B | 2 2 1.67 -> A | 2 2 2 -> C |
		// 3 2 2 -> B | 3 2.5 2 -> A.
		{name: "sequence from idle fills every dest first", dests: "C:1 B:2 A:3", want: "C B A A B A A B A C B A"},
	})
}

func TestNQNoAllocs(t *testing.T) { connNoAllocs(t, "nq", "C=2/5 B=1/9 A=3") }

func BenchmarkNQ(b *testing.B) { benchConn(b, "nq") }
