package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
	self, ctx := scaleTestSetup(t)
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

// scaleTestDirector is one ulvsd started by hand in a scale lab director.
type scaleTestDirector struct {
	cmd        *exec.Cmd
	conf, sock string
	log        string
}

func startScaleTestDirector(t *testing.T, s *lab.Scale, self string, k int, conf string) *scaleTestDirector {
	t.Helper()
	dir := t.TempDir()
	d := &scaleTestDirector{conf: filepath.Join(dir, "ulvs.toml"), sock: filepath.Join(dir, "ulvs.sock"), log: filepath.Join(dir, "ulvsd.log")}
	conf = strings.Replace(conf, `"SOCKET"`, strconv.Quote(d.sock), 1)
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	d.cmd = exec.Command("ip", "netns", "exec", s.Directors[k].Name, self, "ulvsd", "-c", d.conf)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGCONT)
		d.cmd.Process.Kill()
		d.cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("ulvsd d%d log:\n%s", k+1, b)
		}
	})
	for deadline := time.Now().Add(15 * time.Second); (scaleControl{}).Ping(d.sock) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(d.log)
			t.Fatalf("ulvsd d%d: no control socket: %s", k+1, b)
		}
	}
	return d
}

// waitRouter polls cond (over BIRD's state or the router's kernel
// routes) until it returns "", failing after a deadline that bounds a
// broken run (nothing is timed).
func waitRouter(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for msg := cond(); msg != ""; msg = cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntegrationLabScaleV6BFD runs a dual-stack scale lab of two
// directors with BFD against BIRD 2: the VIP's /32 and the IPv6 VIP's
// /128 (announced over the IPv4 sessions, MP-BGP) each get one next hop
// per director in the router's kernel, and a client reaches the IPv6 VIP
// through them (DR); BIRD's BFD sessions are up; SIGHUP with a changed
// [bgp] adds a peer (the router's IPv6 address: an IPv6 session, which
// carries the /128 with d1's IPv6 address as next hop) without resetting
// the session BIRD has, and a new
// router id restarts the speaker (BIRD sees the new id, the routes come
// back); a frozen director (SIGSTOP) is taken out by BFD (BIRD says so)
// before its hold time.
func TestIntegrationLabScaleV6BFD(t *testing.T) {
	self, ctx := scaleTestSetup(t)
	// A hold time BFD must beat: 9 s, against BFD's 0.9 s.
	s, err := lab.ScaleUp(ctx, lab.ScaleConfig{Directors: 2, RealServers: 2, IPv6: true, BFD: true, HoldTime: 9 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Down()
	if err := s.StartServers(ctx); err != nil {
		t.Fatal(err)
	}
	var ds []*scaleTestDirector
	for k := range s.Directors {
		conf := s.ScaleDirectorConfig(k, lab.ScaleDirectorOptions{Socket: "SOCKET"})
		d := startScaleTestDirector(t, s, self, k, conf)
		ds = append(ds, d)
	}
	hops := func(want int, v6 bool) func() string {
		return func() string {
			get := s.Nexthops
			if v6 {
				get = s.Nexthops6
			}
			h, err := get(ctx)
			if err != nil || len(h) != want {
				return fmt.Sprintf("next hops %v (%v), want %d", h, err, want)
			}
			return ""
		}
	}
	waitRouter(t, "IPv4 route over both directors", hops(2, false))
	waitRouter(t, "IPv6 route over both directors", hops(2, true))
	h6, _ := s.Nexthops6(ctx)
	if !slices.Contains(h6, s.DIPs6[0]) || !slices.Contains(h6, s.DIPs6[1]) {
		t.Fatalf("IPv6 next hops %v, want the directors' %v", h6, s.DIPs6)
	}
	route6, _ := s.Router.Run(ctx, "ip", "-6", "route", "show", lab.ScaleVIP6.String()+"/128")
	t.Logf("router's IPv6 route:\n%s", route6)

	// The IPv6 VIP through the router's ECMP route and a director (DR).
	cl := s.Client.HTTPClient()
	servers := map[string]bool{}
	for i := 0; i < 12; i++ {
		resp, err := cl.Get("http://" + netip.AddrPortFrom(lab.ScaleVIP6, lab.ServerPort).String() + "/")
		if err != nil {
			t.Fatalf("GET over IPv6: %v", err)
		}
		resp.Body.Close()
		servers[resp.Header.Get("X-Real-Server")] = true
	}
	t.Logf("IPv6 requests answered by %v", servers)

	// BFD up with both, as BIRD and ulvsd see it.
	waitRouter(t, "BFD sessions up", func() string {
		out, _ := s.Birdc(ctx, "show", "bfd", "sessions")
		if strings.Count(string(out), " Up ") < 2 {
			return "birdc show bfd sessions:\n" + string(out)
		}
		return ""
	})
	var out, errb bytes.Buffer
	if code := run([]string{"bgp", "status", "--socket", ds[0].sock}, &out, &errb); code != 0 || !strings.Contains(out.String(), "  up\n") ||
		!strings.Contains(out.String(), lab.ScaleVIP6.String()+"/128  yes") {
		t.Fatalf("ulvs bgp status (exit %d): %s%s", code, out.String(), errb.String())
	}
	t.Logf("ulvs bgp status of d1:\n%s", out.String())

	// SIGHUP with a second peer in [bgp]: BIRD's session with d1 stays.
	since := func(name string) string {
		out, _ := s.Birdc(ctx, "show", "protocols", name)
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) >= 5 && f[0] == name {
				return f[3] + " " + f[4]
			}
		}
		return ""
	}
	before := since("d1")
	conf := s.ScaleDirectorConfig(0, lab.ScaleDirectorOptions{Socket: ds[0].sock})
	more := strings.Replace(conf, "[[virtual_server]]", fmt.Sprintf("[[bgp.peer]]\naddress = %q\nas = %d\nbfd = true\n\n[[virtual_server]]",
		lab.ScaleRouterIn6, lab.ScaleRouterAS), 1)
	reloadScaleTestDirector(t, ds[0], more)
	// The IPv6 session comes up and carries the /128 with d1's IPv6
	// address as next hop.
	waitRouter(t, "BIRD's IPv6 session with d1 carries the /128", func() string {
		out, _ := s.Birdc(ctx, "show", "route", "for", lab.ScaleVIP6.String()+"/128", "protocol", "d1v6", "all")
		if !strings.Contains(string(out), "BGP.next_hop: "+s.DIPs6[0].String()) {
			return "birdc show route ... protocol d1v6:\n" + string(out)
		}
		return ""
	})
	if after := since("d1"); after != before || before == "" {
		t.Fatalf("adding a peer reset BIRD's session with d1: since %q, then %q", before, after)
	}
	if h, _ := s.Nexthops(ctx); len(h) != 2 {
		t.Fatalf("next hops after the reload %v", h)
	}

	// A new router id: the speaker restarts; BIRD sees the new id.
	newID := strings.Replace(more, fmt.Sprintf("router_id = %q", s.DIPs[0]), `router_id = "10.77.0.99"`, 1)
	reloadScaleTestDirector(t, ds[0], newID)
	waitRouter(t, "BIRD sees d1's new router id", func() string {
		out, _ := s.Birdc(ctx, "show", "protocols", "all", "d1")
		if !strings.Contains(string(out), "Neighbor ID:      10.77.0.99") || !strings.Contains(string(out), "Established") {
			return string(out)
		}
		return ""
	})
	waitRouter(t, "IPv4 route over both directors after the restart", hops(2, false))
	waitRouter(t, "IPv6 route over both directors after the restart", hops(2, true))

	// d2 frozen: BFD takes it out before the hold time; BIRD says so.
	if err := ds[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	waitRouter(t, "d2 out of the route", hops(1, false))
	took := time.Since(stopped)
	info, _ := s.Birdc(ctx, "show", "protocols", "all", "d2")
	t.Logf("d2 withdrawn %v after SIGSTOP (hold time %v); BIRD:\n%s", took, s.HoldTime, info)
	if !strings.Contains(string(info), "BFD session down") {
		t.Errorf("BIRD did not take d2 down by BFD:\n%s", info)
	}
	ds[1].cmd.Process.Signal(syscall.SIGCONT)
}

// reloadScaleTestDirector writes conf and sends SIGHUP.
func reloadScaleTestDirector(t *testing.T, d *scaleTestDirector, conf string) {
	t.Helper()
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// scaleTestSetup skips without root or BIRD, and returns the test binary
// (ulvsd's) and a context bounding the test.
func scaleTestSetup(t *testing.T) (string, context.Context) {
	t.Helper()
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
	t.Cleanup(cancel)
	return self, ctx
}
