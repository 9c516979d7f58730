package sched

import (
	"testing"
)

// TestLC checks picks worked out by hand from
// net/netfilter/ipvs/ip_vs_lc.c ip_vs_lc_schedule: skip a dest that is
// overloaded or of weight 0, keep the first with the least
// ip_vs_dest_conn_overhead (include/net/ip_vs.h: active*256 + inactive),
// replace it only on a strictly lower overhead. Weights beyond 0 do not
// matter. testdata/README.md records the sources.
func TestLC(t *testing.T) {
	runConns(t, "lc", []connCase{
		// Overheads C 512, B 300, A 256.
		{name: "least overhead wins", dests: "C:1 B:1 A:1", conns: "C=2 B=0/300 A=1", want: "A"},
		{name: "inactive connections only", dests: "C:1 B:1 A:1", conns: "C=0/10 B=0/5 A=0/7", want: "B"},
		// B 256 against A 255.
		{name: "one active outweighs 255 inactive", dests: "B:1 A:1", conns: "B=1 A=0/255", want: "A"},
		// B 256 against A 256: doh < loh fails, B stays.
		{name: "tie goes to the first in list order", dests: "B:1 A:1", conns: "B=1 A=0/256", want: "B"},
		{name: "no connections: the newest dest", dests: "C:1 B:1 A:1", want: "C"},
		{name: "weights beyond 0 do not matter", dests: "B:100 A:1", conns: "B=1", want: "A"},
		{name: "weight 0 skipped even when idle", dests: "C:0 B:1 A:1", conns: "B=2 A=1", want: "A"},
		{name: "overloaded skipped even when idle", dests: "C:1 B:1 A:1", conns: "B=1 A=2", over: "C", want: "B"},
		{name: "all unavailable gives nil", dests: "B:0 A:1", over: "A", want: "- -"},
		{name: "DR dest without a MAC skipped", dests: "B:1r A:1", conns: "A=5", want: "A"},
		// Each pick adds 256: C B A, then the tie again from C.
		{name: "sequence from idle goes round in list order", dests: "C:1 B:1 A:1", want: "C B A C B A C"},
		// C 1, B 0, A 0: B (256), A (256), C (257), then B and A
		// tie at 256 below C's 257: B, A, C again.
		{name: "sequence: one inactive connection breaks the tie", dests: "C:1 B:1 A:1", conns: "C=0/1", want: "B A C B A C"},
	})
}

func TestLCNoAllocs(t *testing.T) { connNoAllocs(t, "lc", "C=2/5 B=1/9 A=3") }

func BenchmarkLC(b *testing.B) { benchConn(b, "lc") }
