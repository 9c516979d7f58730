package sched

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// Helpers for the hashing schedulers (dh, sh, mh) and the caches (lblc,
// lblcr): flows named by the last byte of an address.

// clientFlow is a TCP connection from 203.0.113.i, port 1024+i, to
// 198.51.100.i:80 (a transparent-cache service sees many destinations).
func clientFlow(i int) vs.Flow {
	return vs.Flow{
		Proto:   vs.TCP,
		Src:     netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}),
		Dst:     netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}),
		SrcPort: uint16(1024 + i),
		DstPort: 80,
	}
}

// flowPicks schedules clientFlow(i) for each i and names the results ("-"
// for nil).
func flowPicks(s vs.Scheduler, svc *vs.Service, is ...int) string {
	out := make([]string, len(is))
	for k, i := range is {
		out[k] = letter(s.Schedule(svc, clientFlow(i)))
	}
	return strings.Join(out, " ")
}

// letter names a test dest ("-" for nil).
func letter(d *vs.Dest) string {
	if d == nil {
		return "-"
	}
	return string(rune('A' + d.ID - 1))
}

// seq returns 1..n.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// hashCase is one table case for dh, sh and mh.
type hashCase struct {
	name  string
	dests string
	flags vs.ServiceFlags
	over  string
	flows []int // clientFlow numbers; 1..8 when nil
	want  string
}

func runHash(t *testing.T, name string, cases []hashCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			svc := f.service(tc.dests)
			svc.Flags = tc.flags
			f.overload(tc.over)
			s, err := New(name, svc, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			flows := tc.flows
			if flows == nil {
				flows = seq(8)
			}
			if got := flowPicks(s, svc, flows...); got != tc.want {
				t.Errorf("dests %q flags %#x overloaded %q: got %q, want %q",
					tc.dests, tc.flags, tc.over, got, tc.want)
			}
		})
	}
}

// benchFlows are 1024 distinct client flows for the hashing benchmarks.
func benchFlows() []vs.Flow {
	fl := make([]vs.Flow, 1024)
	for i := range fl {
		fl[i] = vs.Flow{
			Proto:   vs.TCP,
			Src:     netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}),
			Dst:     netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}),
			SrcPort: uint16(1024 + i),
			DstPort: 80,
		}
	}
	return fl
}
