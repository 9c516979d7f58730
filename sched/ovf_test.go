package sched

import (
	"testing"
)

// TestOVF checks picks worked out by hand from
// net/netfilter/ipvs/ip_vs_ovf.c ip_vs_ovf_schedule: skip a dest that is
// overloaded, has activeconns > weight or weight 0; keep the first
// remaining one and replace it only by a strictly higher weight. Inactive
// connections are not read. testdata/README.md records the sources.
func TestOVF(t *testing.T) {
	runConns(t, "ovf", []connCase{
		// B (weight 3) takes picks at 0, 1, 2 and 3 active, then is
		// over its weight at 4; A (2) takes 3, C (1) takes 2; then
		// every dest is over its weight.
		{name: "sequence: highest weight fills to weight+1, then overflows", dests: "C:1 B:3 A:2", want: "B B B B A A A C C - -"},
		{name: "tie goes to the first in list order", dests: "C:1 B:3 A:3", want: "B"},
		{name: "at its weight a dest still takes one more", dests: "B:1 A:2", conns: "A=2", want: "A"},
		{name: "over its weight a dest is skipped", dests: "B:1 A:2", conns: "A=3", want: "B"},
		{name: "inactive connections do not count", dests: "B:1 A:2", conns: "A=0/100", want: "A"},
		{name: "weight 0 skipped even when idle", dests: "B:0 A:1", conns: "A=1", want: "A"},
		{name: "weight 0 and the rest over weight gives nil", dests: "B:0 A:1", conns: "A=2", want: "-"},
		{name: "overloaded highest weight skipped", dests: "B:2 A:1", over: "B", want: "A"},
		{name: "all overloaded gives nil", dests: "B:2 A:1", over: "AB", want: "-"},
		{name: "DR dest without a MAC skipped", dests: "B:2r A:1", want: "A"},
	})
}

func TestOVFNoAllocs(t *testing.T) { connNoAllocs(t, "ovf", "C=2/5 B=1/9 A=5") }

func BenchmarkOVF(b *testing.B) { benchConn(b, "ovf") }
