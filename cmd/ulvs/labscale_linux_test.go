package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationLabScale runs the scale-out demonstration with N = 3
// directors behind BIRD's ECMP route: long-lived downloads and a loop of
// new connections while one director is killed (SIGKILL) and started
// again (d3, the one killed, takes its BGP from ulvsd's --bgp-* flags,
// the others from [bgp]). The properties: no long-lived flow is reset or broken (every
// download completes with the right digest), the route loses the killed
// director and gets it back. The figures (withdraw time, flows moved)
// are logged, not asserted.
func TestIntegrationLabScale(t *testing.T) {
	skipUnprivileged(t)
	for _, tool := range []string{"bird", "birdc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian's bird2; scripts/setup-host.sh)", tool)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	// After the run: ulvs bgp status, drain and undrain against the real
	// router.
	after := func(ctx context.Context, s *lab.Scale, socks []string) error {
		var out, errb bytes.Buffer
		if code := run([]string{"bgp", "status", "--socket", socks[0]}, &out, &errb); code != 0 {
			return fmt.Errorf("ulvs bgp status: exit %d: %s", code, errb.String())
		}
		t.Logf("ulvs bgp status of d1:\n%s", out.String())
		for _, want := range []string{"10.77.0.1  65000  established  3s", "10.79.0.100/32  yes"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("ulvs bgp status lacks %q", want)
			}
		}
		if code := run([]string{"bgp", "drain", "--socket", socks[0]}, &out, &errb); code != 0 {
			return fmt.Errorf("ulvs bgp drain: exit %d: %s", code, errb.String())
		}
		if err := s.WaitNexthops(ctx, 2, 10*time.Second); err != nil {
			return fmt.Errorf("after drain: %w", err)
		}
		if hops, _ := s.Nexthops(ctx); slices.Contains(hops, s.DIPs[0]) {
			return fmt.Errorf("drained d1 still a next hop: %v", hops)
		}
		if code := run([]string{"bgp", "undrain", "--socket", socks[0]}, &out, &errb); code != 0 {
			return fmt.Errorf("ulvs bgp undrain: exit %d: %s", code, errb.String())
		}
		return s.WaitNexthops(ctx, 3, 10*time.Second)
	}
	rep, err := lab.RunScale(ctx, lab.ScaleRunConfig{
		After:       after,
		LastByFlags: true, // d3 by --bgp-* flags: both ways of configuring BGP
		ScaleConfig: lab.ScaleConfig{Directors: 3, RealServers: 3},
		Exe:         self, Control: scaleControl{}, Flows: 24, Phase: 3 * time.Second, Kill: lab.KillSIGKILL, Progress: &progress,
	})
	t.Logf("run:\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("figures: converge %v; killed director carried %d of %d flows; withdraw %v (hold time %v); readd %v; moved %d (%.2f, 1/N %.2f); new connections %d, failed %d %v",
		rep.Converge, rep.OnKilled, rep.Flows, rep.Withdraw, rep.HoldTime, rep.Readd, rep.Moved, rep.MovedFraction(),
		1/float64(rep.Directors), rep.NewConns, rep.NewConnFails, rep.NewConnFailsByPhase)
	if rep.Reset != 0 || rep.Broken != 0 || rep.Completed != rep.Flows {
		t.Errorf("long-lived flows: %d reset, %d broken, %d of %d completed; want all completed:\n%s",
			rep.Reset, rep.Broken, rep.Completed, rep.Flows, strings.Join(rep.FlowErrors, "\n"))
	}
	if rep.NewConns == 0 {
		t.Error("the new-connection loop made no connection")
	}
	sum := 0
	for _, n := range rep.FlowsPerDirector {
		sum += n
	}
	if sum != rep.Flows {
		t.Errorf("flows per director %v add up to %d, want %d (each flow on exactly one director)", rep.FlowsPerDirector, sum, rep.Flows)
	}
}
