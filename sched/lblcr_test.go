package sched

import (
	"slices"
	"testing"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// TestLBLCR checks picks worked out by hand from
// net/netfilter/ipvs/ip_vs_lblcr.c: ip_vs_lblcr_schedule,
// ip_vs_dest_set_min (newest member first; skip overloaded, weight 0 or
// not available; replace on loh*dw > doh*lw), ip_vs_dest_set_max,
// is_overloaded, __ip_vs_lblcr_schedule (wlc over the list),
// ip_vs_dest_set_insert (at the head, once) and the same timer as lblc.
// Flows are keyed by their destination address 198.51.100.i; each pick
// adds one active connection. testdata/README.md records the sources.
func TestLBLCR(t *testing.T) {
	runLB(t, "lblcr", []lbCase{
		{
			// Miss: C, set {C}. C 1: kept. C 2 > 1, B 0*2 < 1: wlc
			// gives B, set {B C}. Set min: B 256 (first), C 512: B,
			// kept at 1. B 2, C 2: min B (tie, first), overloaded:
			// wlc gives A, set {A B C}. Min A (256): kept.
			name: "the set grows when its best is overloaded",
			steps: []lbStep{{dests: "C:1 B:1 A:1", flows: []int{1, 1, 1, 1, 1, 1},
				want: "C C B B A A"}},
		},
		{
			// After {B C}: the set's least loaded member serves,
			// whichever joined first.
			name: "set minimum picks the least loaded member",
			steps: []lbStep{
				{dests: "C:10 B:10 A:10", flows: []int{1}, want: "C"},
				{conns: "C=11", flows: []int{1}, want: "B"},
				{conns: "C=0 B=1", flows: []int{1}, want: "C"},
				{conns: "C=5 B=1", flows: []int{1}, want: "B"},
			},
		},
		{
			// The overload flag skips a member in set_min; with every
			// member skipped, wlc over the list (which skips it too).
			name: "overloaded member skipped",
			steps: []lbStep{
				{dests: "C:10 B:10 A:10", flows: []int{1}, want: "C"},
				{conns: "C=11", flows: []int{1}, want: "B"},
				{conns: "C=0 B=0", over: "B", flows: []int{1}, want: "C"},
				{over: "BC", flows: []int{1}, want: "A"},
			},
		},
		{
			name: "removed member is not a candidate",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{dests: "B:1 A:1", flows: []int{1, 1}, want: "B B"},
			},
		},
		{
			name: "expired entry at 24 h",
			steps: []lbStep{
				{dests: "C:1 B:1 A:1", flows: []int{1}, want: "C"},
				{after: 24 * time.Hour, flows: []int{1}, want: "B"},
			},
		},
		{
			name:  "no dest available",
			steps: []lbStep{{dests: "B:0 A:1", over: "A", flows: []int{1}, want: "-"}},
		},
	})
}

// lblcrSet names the members of address i's set, newest first.
func lblcrSet(s vs.Scheduler, i int) string {
	l := s.(*lblcr)
	l.mu.Lock()
	defer l.mu.Unlock()
	a := clientFlow(i).Dst
	a16 := a.As16()
	e := l.tb.get(&a16, addrFold(a))
	if e < 0 {
		return "none"
	}
	set := slices.Clone(l.tb.entries[e].set)
	slices.Reverse(set)
	out := ""
	for _, slot := range set {
		out += letter(l.v.known[slot])
	}
	return out
}

// TestLBLCRSetShrinks checks the replication limit of ip_vs_lblcr_schedule:
// a set of more than one member unchanged for lblcr_expiration (strictly
// after) loses its most loaded member (ip_vs_dest_set_max: B, 1 active
// against C's 0, both weight 10). The entry itself is kept alive by a hit
// at 12 h (lastuse), while the set's lastmod stays at 0.
func TestLBLCRSetShrinks(t *testing.T) {
	f := newFixture(t)
	clk := newFakeClock()
	svc := f.service("C:10 B:10 A:10")
	s := buildLBLCR(svc, nil, clk.Now)
	pick := func() string { return letter(s.Schedule(svc, clientFlow(1))) }
	if got := pick(); got != "C" {
		t.Fatalf("first pick %s, want C", got)
	}
	f.conns("C=11")
	if got := pick(); got != "B" {
		t.Fatalf("C over its weight: pick %s, want B", got)
	}
	if got := lblcrSet(s, 1); got != "BC" {
		t.Fatalf("set %s, want BC", got)
	}
	f.conns("C=0 B=1")
	clk.Add(12 * time.Hour)
	if got := pick(); got != "C" || lblcrSet(s, 1) != "BC" {
		t.Fatalf("at 12 h: pick %s set %s, want C and BC", got, lblcrSet(s, 1))
	}
	f.conns("C=0 B=1")
	clk.Add(12 * time.Hour) // 24 h: not strictly after lastmod + 24 h
	if got := pick(); got != "C" || lblcrSet(s, 1) != "BC" {
		t.Fatalf("at 24 h: pick %s set %s, want C and BC", got, lblcrSet(s, 1))
	}
	f.conns("C=0 B=1")
	clk.Add(time.Nanosecond)
	if got := pick(); got != "C" || lblcrSet(s, 1) != "C" {
		t.Fatalf("after 24 h: pick %s set %s, want C and C", got, lblcrSet(s, 1))
	}
}

// TestLBLCRSetMaxIgnoresState checks ip_vs_dest_set_max: it looks at every
// member of positive weight, even one removed from the list; the removed
// B (2 active) is the most loaded and goes.
func TestLBLCRSetMaxIgnoresState(t *testing.T) {
	f := newFixture(t)
	clk := newFakeClock()
	svc := f.service("C:10 B:10 A:10")
	s := vs.Scheduler(buildLBLCR(svc, nil, clk.Now))
	s.Schedule(svc, clientFlow(1)) // C
	f.conns("C=11")
	s.Schedule(svc, clientFlow(1)) // B joins
	f.conns("C=0 B=2")
	svc = f.service("C:10 A:10")
	s, _ = New("lblcr", svc, s)
	clk.Add(20 * time.Hour)
	s.Schedule(svc, clientFlow(1)) // keep the entry alive
	clk.Add(5 * time.Hour)
	if got := letter(s.Schedule(svc, clientFlow(1))); got != "C" {
		t.Errorf("pick %s, want C", got)
	}
	if got := lblcrSet(s, 1); got != "C" {
		t.Errorf("set %s, want C (removed B was the most loaded)", got)
	}
}

func TestLBLCRNoAllocs(t *testing.T) { lbNoAllocs(t, "lblcr") }

// BenchmarkLBLCR schedules 1024 cached addresses over 100 dests.
func BenchmarkLBLCR(b *testing.B) { benchLB(b, "lblcr") }
