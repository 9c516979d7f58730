package sched

import (
	"testing"
)

// TestFO checks picks worked out by hand from net/netfilter/ipvs/ip_vs_fo.c
// ip_vs_fo_schedule: hw starts at 0; a dest that is not overloaded and has
// weight > hw becomes the pick and hw its weight. Connection counts are not
// read. testdata/README.md records the sources.
func TestFO(t *testing.T) {
	runConns(t, "fo", []connCase{
		{name: "highest weight takes every connection", dests: "C:1 B:3 A:2", want: "B B B B"},
		{name: "tie goes to the first in list order", dests: "C:1 B:3 A:3", want: "B B"},
		{name: "connections do not matter", dests: "B:1 A:2", conns: "A=1000/1000", want: "A"},
		{name: "overloaded highest weight fails over", dests: "C:1 B:3 A:2", over: "B", want: "A A"},
		{name: "fails over again", dests: "C:1 B:3 A:2", over: "AB", want: "C"},
		{name: "weight 0 never picked", dests: "B:0 A:0", want: "- -"},
		{name: "all overloaded gives nil", dests: "B:3 A:2", over: "AB", want: "-"},
		{name: "DR dest without a MAC skipped", dests: "B:3r A:2", want: "A"},
	})
}

func TestFONoAllocs(t *testing.T) { connNoAllocs(t, "fo", "") }

func BenchmarkFO(b *testing.B) { benchConn(b, "fo") }
