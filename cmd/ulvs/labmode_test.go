package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
	"github.com/ulvs/ulvs/realserver"
)

func TestParseMode(t *testing.T) {
	for _, mode := range lab.Modes() {
		o, err := parseUp([]string{"--mode", mode}, io.Discard)
		if err != nil || o != (upOptions{name: "ulvs", mode: mode, realServers: 2}) {
			t.Errorf("parseUp --mode %s: got %+v, %v", mode, o, err)
		}
		d, err := parseDemo([]string{"-mode=" + mode, "--offloads-off"}, io.Discard)
		if err != nil || d != (demoOptions{mode: mode, offloadsOff: true}) {
			t.Errorf("parseDemo --mode %s: got %+v, %v", mode, d, err)
		}
	}
	// Without --mode, up leaves the mode to lab.Config (dr).
	if o, err := parseUp([]string{"--name", "x"}, io.Discard); err != nil || o.mode != "" {
		t.Errorf("parseUp without --mode: got %+v, %v", o, err)
	}
	for _, bad := range []string{"", "NAT", "masq", "ipip", "fullnat,tun"} {
		var errb bytes.Buffer
		if _, err := parseUp([]string{"--mode", bad}, &errb); !errors.Is(err, errUsage) {
			t.Errorf("parseUp --mode %q: got %v, want a usage error", bad, err)
		}
		if !strings.Contains(errb.String(), "want one of dr, nat, fullnat, tun") {
			t.Errorf("parseUp --mode %q: message %q lacks the modes", bad, errb.String())
		}
		if _, err := parseDemo([]string{"--mode", bad}, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("parseDemo --mode %q: got %v, want a usage error", bad, err)
		}
	}
	if _, err := parseUp([]string{"--mode"}, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("parseUp --mode without a value: got %v, want a usage error", err)
	}
}

func TestPrintLabModes(t *testing.T) {
	for _, c := range []struct {
		mode string
		want []string
	}{
		{lab.ModeDR, []string{"mode dr", "VIP 10.77.0.100/32 on lo", "-i d-eth0 ", "-r 10.77.0.11:80 -g"}},
		{lab.ModeTUN, []string{"mode tun", "decapsulator", "-r 10.77.0.11:80 -i"}},
		{lab.ModeNAT, []string{"mode nat", "br1 (inside)", "d-eth1 10.77.1.1/24", "r1-eth0 10.77.1.11/24, default via 10.77.1.1",
			"-i d-eth0,d-eth1", "-r 10.77.1.11:80 -m"}},
		{lab.ModeFullNAT, []string{"mode fullnat", "10.77.1.200,10.77.1.201", "no route beyond its subnet", "-c examples/fullnat.toml"}},
	} {
		l, err := lab.NewMode("pm", 2, c.mode)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		printLab(&b, &lab.State{Lab: l})
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("mode %s: output lacks %q:\n%s", c.mode, w, b.String())
			}
		}
	}
}

// TestIntegrationLabCLIModes runs `ulvs lab up --mode M` and `down` for the
// modes with an inside network and for tun, whose decapsulators run as
// `ulvs realserver up` processes (this test binary standing in for ulvs).
func TestIntegrationLabCLIModes(t *testing.T) {
	skipUnprivileged(t)
	for _, mode := range []string{lab.ModeNAT, lab.ModeTUN} {
		t.Run(mode, func(t *testing.T) {
			name := "t" + lab.UniquePrefix()
			t.Cleanup(func() { lab.Remove(lab.StateDir, name) })
			var out, errb bytes.Buffer
			if code := run([]string{"lab", "up", "--name", name, "--mode", mode}, &out, &errb); code != 0 {
				t.Fatalf("lab up: exit %d: %s", code, errb.String())
			}
			st, err := lab.ReadState(lab.StatePath(lab.StateDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Lab.Mode != mode {
				t.Errorf("state mode: got %q, want %q", st.Lab.Mode, mode)
			}
			want := 2
			if mode == lab.ModeTUN {
				want = 4 // two servers, two decapsulators
			}
			if len(st.Processes) != want {
				t.Fatalf("state: %d processes, want %d: %+v", len(st.Processes), want, st.Processes)
			}
			for _, p := range st.Processes {
				if !p.Running() {
					t.Errorf("%s (pid %d, %v) is not running", p.Node, p.PID, p.Args)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := st.Lab.DirectNS().HTTPClient()
			for i, rip := range st.Lab.RIPs {
				got, err := httpGet(ctx, c, "http://"+rip.String()+"/")
				if want := fmt.Sprintf("rs%d\n", i+1); err != nil || got != want {
					t.Errorf("GET %s: got %q, %v; want %q", rip, got, err, want)
				}
			}
			if mode == lab.ModeTUN {
				for _, rs := range st.Lab.RS {
					rst, err := realserver.ReadState(realserver.DefaultStateDir, rs.Name)
					if err != nil {
						t.Fatalf("realserver state of %s: %v", rs, err)
					}
					if rst.Mode != realserver.ModeTUN || rst.Device == "" {
						t.Errorf("realserver state of %s: %+v", rs, rst)
					}
					// Without ipip: the tcx program where the kernel
					// takes it, the userspace decapsulator alone
					// otherwise; status says which.
					var sout bytes.Buffer
					if code := run([]string{"realserver", "status", "--name", rs.Name}, &sout, io.Discard); code != 0 {
						t.Fatalf("realserver status %s: exit %d", rs.Name, code)
					}
					want := map[realserver.Decap]string{
						realserver.DecapKernel: "kernel ipip device",
						realserver.DecapUser:   ", userspace decapsulator " + rst.Iface,
						realserver.DecapTCX:    "tcx program on " + rst.Iface + " and userspace decapsulator",
					}[rst.Decap]
					if want == "" || !strings.Contains(sout.String(), want) {
						t.Errorf("realserver status %s (decap %v): %q, want %q", rs.Name, rst.Decap, sout.String(), want)
					}
				}
			}
			if code := run([]string{"lab", "down", "--name", name}, io.Discard, &errb); code != 0 {
				t.Fatalf("lab down: exit %d: %s", code, errb.String())
			}
			for _, p := range st.Processes {
				if p.Running() {
					t.Errorf("%s (pid %d) survived lab down", p.Node, p.PID)
				}
			}
			for _, n := range st.Lab.Namespaces() {
				if n.Exists() {
					t.Errorf("namespace %s survived lab down", n)
				}
			}
			for _, rs := range st.Lab.RS {
				if _, err := os.Stat(realserver.StatePath(realserver.DefaultStateDir, rs.Name)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("realserver state of %s survived lab down (%v)", rs, err)
				}
			}
		})
	}
}

// TestParseUpBackup: `ulvs lab up --backup` asks for a failover pair, and
// director2 is a node of `ulvs lab exec`.
func TestParseUpBackup(t *testing.T) {
	o, err := parseUp([]string{"--mode", "nat", "--ipv6", "--backup"}, io.Discard)
	if err != nil || o != (upOptions{name: "ulvs", mode: lab.ModeNAT, realServers: 2, ipv6: true, backup: true}) {
		t.Errorf("parseUp --backup: got %+v, %v", o, err)
	}
	if x, err := parseExec([]string{"director2", "ip", "addr"}, io.Discard); err != nil || x.node != "director2" {
		t.Errorf("parseExec director2: got %+v, %v", x, err)
	}
	if _, err := parseExec([]string{"director3", "ip"}, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("parseExec director3: got %v, want a usage error", err)
	}
}

// TestIntegrationLabCLIBackup runs `ulvs lab up --mode nat --ipv6
// --backup` and `down`: director2 has its inside IPv6 address, the real
// servers route through the floating gateways, and the state file (which
// lab down reads) holds director2, whose namespace goes with the lab.
func TestIntegrationLabCLIBackup(t *testing.T) {
	skipUnprivileged(t)
	name := "t" + lab.UniquePrefix()
	t.Cleanup(func() { lab.Remove(lab.StateDir, name) })
	var out, errb bytes.Buffer
	if code := run([]string{"lab", "up", "--name", name, "--mode", "nat", "--ipv6", "--backup"}, &out, &errb); code != 0 {
		t.Fatalf("lab up: exit %d: %s", code, errb.String())
	}
	st, err := lab.ReadState(lab.StatePath(lab.StateDir, name))
	if err != nil {
		t.Fatal(err)
	}
	l := st.Lab
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		ns   lab.NS
		args []string
		want string
	}{
		{l.Backup, []string{"ip", "-6", "addr", "show", "dev", "d-eth1"}, lab.BackupInsideDIP6.String() + "/64"},
		{l.RS[0], []string{"ip", "route"}, "default via " + lab.FloatingGateway.String()},
		{l.RS[0], []string{"ip", "-6", "route"}, "default via " + lab.FloatingGateway6.String() + " dev r1-eth0"},
	} {
		got, err := c.ns.Run(ctx, c.args[0], c.args[1:]...)
		if err != nil || !strings.Contains(string(got), c.want) {
			t.Errorf("%s: %v: %q (%v), want %q in it", c.ns.Name, c.args, got, err, c.want)
		}
	}
	if !strings.Contains(out.String(), "director2") {
		t.Errorf("lab up does not show director2:\n%s", out.String())
	}
	if code := run([]string{"lab", "down", "--name", name}, io.Discard, &errb); code != 0 {
		t.Fatalf("lab down: exit %d: %s", code, errb.String())
	}
	for _, n := range l.Namespaces() {
		if n.Exists() {
			t.Errorf("namespace %s survived lab down", n)
		}
	}
}
