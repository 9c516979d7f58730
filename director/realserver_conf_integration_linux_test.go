package director_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// rsLVSConf is a seed-004-like lvs_dr.conf with the lab's addresses and
// the real servers' part filled in: the VIP on lo:0, r1-eth0 as the
// network device (rs2 overrides it with --net-device: its device is
// r2-eth0) and a default gateway (nobody answers at 10.77.0.1; the client
// is on the real servers' subnet, so replies do not need it).
const rsLVSConf = `#lvs_dr.conf (C) Joseph Mack mack@ncifcrf.gov
LVS_TYPE=VS_DR
INITIAL_STATE=on
VIP=d-eth0:110 10.77.0.100 255.255.255.255 10.77.0.100
DIRECTOR_INSIDEIP=d-eth0 10.77.0.2 10.77.0.0 255.255.255.0 10.77.0.255
SERVICE=t 80 rr 10.77.0.11 10.77.0.12
SERVER_VIP_DEVICE=lo:0
SERVER_NET_DEVICE=r1-eth0
SERVER_GW=10.77.0.1
#----------end lvs_dr.conf------------------------------------
`

// TestIntegrationRealServerFromLVSConf prepares bare real servers with
// `ulvs realserver up --conf` from the same lvs_dr.conf the director runs,
// sends traffic through the director, then takes the real servers down
// and checks that what up changed is back.
func TestIntegrationRealServerFromLVSConf(t *testing.T) {
	skipUnprivileged(t)
	e := newEnvOpts(t, lab.Config{RealServers: 2, BareRealServers: true}, rsLVSConf, envOpts{file: "lvs_dr.conf"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ulvs := filepath.Join(binDir, "ulvs")
	stateDir := t.TempDir()
	run := func(n lab.NS, args ...string) string {
		t.Helper()
		out, err := n.Run(ctx, args[0], args[1:]...)
		if err != nil {
			t.Fatalf("%v", err)
		}
		return strings.Join(strings.Fields(string(out)), " ")
	}
	sysctl := func(n lab.NS, key string) string {
		return run(n, "cat", "/proc/sys/net/ipv4/conf/"+key)
	}
	rs1 := e.lab.RS[0]
	beforeAddrs := run(rs1, "ip", "-4", "addr", "show", "dev", "lo")
	beforeRoute := run(rs1, "ip", "-4", "route", "show", "default")
	if strings.Contains(beforeAddrs, "10.77.0.100") || sysctl(rs1, "all/arp_ignore") != "0" {
		t.Fatalf("rs1 is not bare: lo %q, arp_ignore %s", beforeAddrs, sysctl(rs1, "all/arp_ignore"))
	}
	for i, rs := range e.lab.RS {
		args := []string{ulvs, "realserver", "up", "--conf", e.cfg, "--state-dir", stateDir, "--name", rs.Name}
		if i > 0 {
			args = append(args, "--net-device", lab.RSIface(i))
		}
		out := run(rs, args...)
		t.Logf("%s: %s", rs, out)
		name := rs.Name
		t.Cleanup(func() {
			rs.Run(context.Background(), ulvs, "realserver", "down", "--state-dir", stateDir, "--name", name)
		})
	}
	for i, rs := range e.lab.RS {
		lo := run(rs, "ip", "-4", "addr", "show", "dev", "lo")
		if !strings.Contains(lo, "inet 10.77.0.100/32 scope global lo:0") {
			t.Errorf("%s lo: %q, want 10.77.0.100/32 labelled lo:0", rs, lo)
		}
		for _, dev := range []string{"all", "lo", lab.RSIface(i)} {
			if got := sysctl(rs, dev+"/arp_ignore") + sysctl(rs, dev+"/arp_announce"); got != "12" {
				t.Errorf("%s %s arp_ignore, arp_announce: %q, want 1 and 2", rs, dev, got)
			}
		}
		if got, want := run(rs, "ip", "-4", "route", "show", "default"), "default via 10.77.0.1 dev "+lab.RSIface(i); !strings.Contains(got, want) {
			t.Errorf("%s default route: %q, want %q", rs, got, want)
		}
	}

	c := e.client()
	var got []string
	for i := 0; i < 6; i++ {
		b, err := e.get(c, "/")
		if err != nil {
			t.Fatalf("request %d through the director: %v\n%s", i, err, e.logText())
		}
		got = append(got, strings.TrimSpace(b))
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("answers %v: want rs1 and rs2 alternating (rr)", got)
		}
	}

	status := run(rs1, ulvs, "realserver", "status", "--state-dir", stateDir, "--name", rs1.Name)
	for _, want := range []string{"mode dr", "added 10.77.0.100/32 on lo (label lo:0)", "default route via 10.77.0.1 dev r1-eth0 (was none)"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	for _, rs := range e.lab.RS {
		run(rs, ulvs, "realserver", "down", "--state-dir", stateDir, "--name", rs.Name)
	}
	if got := run(rs1, "ip", "-4", "addr", "show", "dev", "lo"); got != beforeAddrs {
		t.Errorf("rs1 lo after down: %q, want %q", got, beforeAddrs)
	}
	if got := run(rs1, "ip", "-4", "route", "show", "default"); got != beforeRoute {
		t.Errorf("rs1 default route after down: %q, want %q", got, beforeRoute)
	}
	if got := sysctl(rs1, "all/arp_ignore"); got != "0" {
		t.Errorf("rs1 arp_ignore after down: %s, want 0", got)
	}
	if _, err := os.Stat(filepath.Join(stateDir, rs1.Name+".json")); !os.IsNotExist(err) {
		t.Errorf("state file left after down: %v", err)
	}
}
