package sched

import (
	"strings"
	"testing"
)

// TestMaxWeight: the kernel accepts any weight from 0 to INT_MAX (only
// weight < 0 is refused, ip_vs_add_dest/ip_vs_edit_dest), and so does
// ulvsadm -w. Every scheduler builds and picks with such weights, without
// overflow or a miss. wrr, after the pass it starts in (cw 1, from adding
// the servers one by one as ip_vs_wrr_dest_changed sees them), keeps to the
// INT_MAX server: cw restarts at the largest weight and steps down by the
// gcd, 1 here.
func TestMaxWeight(t *testing.T) {
	const max = "2147483647"
	for _, name := range Names() {
		for _, list := range []string{"B:" + max + " A:1", "C:" + max + " B:2147483646 A:0"} {
			t.Run(name+"/"+list, func(t *testing.T) {
				f := newFixture(t)
				svc := f.service(list)
				s, err := New(name, svc, nil)
				if err != nil {
					t.Fatalf("New(%s): %v", name, err)
				}
				got := picks(s, svc, 20)
				if strings.Contains(got, "-") {
					t.Fatalf("picks %q: a miss with servers of weight up to INT_MAX", got)
				}
				if name == "wrr" && strings.HasPrefix(list, "B:") && strings.Trim(got[len("B A "):], "B ") != "" {
					t.Errorf("wrr picks %q, want B A and then only B (INT_MAX)", got)
				}
			})
		}
	}
}
