package sched

import (
	"testing"
)

// TestWLC checks picks worked out by hand from
// net/netfilter/ipvs/ip_vs_wlc.c ip_vs_wlc_schedule: the first dest that is
// not overloaded and has weight > 0 is the start, then a later dest that is
// not overloaded replaces it only when
// (__s64)loh * dest->weight > (__s64)doh * least->weight, with overhead
// from ip_vs_dest_conn_overhead (include/net/ip_vs.h: active*256 +
// inactive). Ratios below are overhead/weight in units of 256 (active
// connections per weight) unless said otherwise. testdata/README.md records
// the sources.
func TestWLC(t *testing.T) {
	runConns(t, "wlc", []connCase{
		// C 1/1, B 1/2, A 3/3.
		{name: "least overhead per weight wins", dests: "C:1 B:2 A:3", conns: "C=1 B=1 A=3", want: "B"},
		// C 1/1, B 2/2, A 3/3: all 1, C stays.
		{name: "tie goes to the first in list order", dests: "C:1 B:2 A:3", conns: "C=1 B=2 A=3", want: "C"},
		// B 3 against A 2 (raw overheads).
		{name: "inactive connections count 1/256", dests: "B:1 A:1", conns: "B=0/3 A=0/2", want: "A"},
		// sed would take A ((1+1)/3 < (0+1)/1); wlc sees B at 0.
		{name: "an idle slow dest beats a busy fast one", dests: "B:1 A:3", conns: "A=1", want: "B"},
		// C is idle but quiesced; B 1/1 against A 3/2.
		{name: "weight 0 skipped even when idle", dests: "C:0 B:1 A:2", conns: "B=1 A=3", want: "B"},
		// The first stage skips D (overloaded) and C (weight 0) and
		// starts from B 2/1; A 1/1 replaces it.
		{name: "first stage skips overloaded and weight 0", dests: "D:1 C:0 B:1 A:1", conns: "B=2 A=1", over: "D", want: "A"},
		{name: "overloaded skipped even when idle", dests: "B:1 A:5", conns: "B=10", over: "A", want: "B"},
		{name: "DR dest without a MAC skipped", dests: "B:1r A:1", conns: "A=5", want: "A"},
		// loh 65536 (B: 256 active) * 65536 = 2^32, which is 0 in 32
		// bits, against doh 76800 (A: 300 active) * 1. In 64 bits A
		// wins, as ratio 1.17 against B's 65536 says.
		{name: "products need 64 bits", dests: "B:1 A:65536", conns: "B=256 A=300", want: "A"},
		// Active/weight before each pick (C/1 B/2 A/3):
		// 0 0 0 -> C | 1 0 0 -> B | 1 .5 0 -> A | 1 .5 .33 -> A |
		// 1 .5 .67 -> B | 1 1 .67 -> A | 1 1 1 -> C (tie) |
		// 2 1 1 -> B (tie B, A) | 2 1.5 1 -> A | 2 1.5 1.33 -> A |
		// 2 1.5 1.67 -> B | 2 2 1.67 -> A | 2 2 2 -> C.
		{name: "sequence from idle splits 1:2:3", dests: "C:1 B:2 A:3", want: "C B A A B A C B A A B A C"},
		// Raw overheads B/A: 300 0 -> A | 300 256 -> A |
		// 300 512 -> B | 556 512 -> A | 556 768 -> B | 812 768 -> A.
		{name: "sequence: inactive load delays a dest", dests: "B:1 A:1", conns: "B=0/300", want: "A A B A B A"},
	})
}

func TestWLCNoAllocs(t *testing.T) { connNoAllocs(t, "wlc", "C=2/5 B=1/9 A=3") }

func BenchmarkWLC(b *testing.B) { benchConn(b, "wlc") }
