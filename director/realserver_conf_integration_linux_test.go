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

// rsNATConf is the same for VS_NAT: the real servers hold no VIP and get
// the director's inside address as their default gateway.
const rsNATConf = `#--------------lvs_nat.conf----------------------
LVS_TYPE=VS_NAT
INITIAL_STATE=on
VIP=d-eth0:110 10.77.0.100 255.255.255.255 10.77.0.100
DIRECTOR_INSIDEIP=d-eth1 10.77.1.1 10.77.1.0 255.255.255.0 10.77.1.255
SERVICE=t 80 rr 10.77.1.11 10.77.1.12
#real-server setup
SERVER_NET_DEVICE=r1-eth0
#----------end lvs_nat.conf------------------------------------
`

// TestIntegrationRealServerFromLVSConf prepares bare real servers with
// `ulvs realserver up --conf` from the same configure-script file the
// director runs (lvs_dr.conf, and lvs_nat.conf in the NAT lab), sends
// traffic through the director, then takes the real servers down and
// checks that what up changed is back.
func TestIntegrationRealServerFromLVSConf(t *testing.T) {
	skipUnprivileged(t)
	t.Run("dr", func(t *testing.T) {
		testRealServerConf(t, lab.ModeDR, rsLVSConf, "10.77.0.1", func(run func(lab.NS, ...string) string, rs lab.NS, i int) {
			lo := run(rs, "ip", "-4", "addr", "show", "dev", "lo")
			if !strings.Contains(lo, "inet 10.77.0.100/32 scope global lo:0") {
				t.Errorf("%s lo: %q, want 10.77.0.100/32 labelled lo:0", rs, lo)
			}
			for _, dev := range []string{"all", "lo", lab.RSIface(i)} {
				if got := run(rs, "cat", "/proc/sys/net/ipv4/conf/"+dev+"/arp_ignore") + run(rs, "cat", "/proc/sys/net/ipv4/conf/"+dev+"/arp_announce"); got != "12" {
					t.Errorf("%s %s arp_ignore, arp_announce: %q, want 1 and 2", rs, dev, got)
				}
			}
		})
	})
	t.Run("nat", func(t *testing.T) {
		testRealServerConf(t, lab.ModeNAT, rsNATConf, "10.77.1.1", func(run func(lab.NS, ...string) string, rs lab.NS, i int) {
			if lo := run(rs, "ip", "-4", "addr", "show", "dev", "lo"); strings.Contains(lo, "10.77.0.100") {
				t.Errorf("%s holds the VIP: %q", rs, lo)
			}
		})
	})
}

// testRealServerConf runs conf on the director of a bare lab of mode,
// prepares each real server from it (rs2 with --net-device r2-eth0), checks
// the default route via gw and check's own, the traffic, and down.
func testRealServerConf(t *testing.T, mode, conf, gw string, check func(run func(lab.NS, ...string) string, rs lab.NS, i int)) {
	o := envOpts{file: "lvs.conf"}
	if mode == lab.ModeNAT {
		o.args = []string{"-i", "d-eth0,d-eth1"}
	}
	e := newEnvOpts(t, lab.Config{RealServers: 2, BareRealServers: true, Mode: mode}, conf, o)
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
	rs1 := e.lab.RS[0]
	beforeAddrs := run(rs1, "ip", "-4", "addr", "show", "dev", "lo")
	beforeRoute := run(rs1, "ip", "-4", "route", "show", "default")
	beforeARP := run(rs1, "cat", "/proc/sys/net/ipv4/conf/all/arp_ignore")
	if strings.Contains(beforeAddrs, "10.77.0.100") || beforeRoute != "" {
		t.Fatalf("rs1 is not bare: lo %q, default route %q", beforeAddrs, beforeRoute)
	}
	for i, rs := range e.lab.RS {
		args := []string{ulvs, "realserver", "up", "--conf", e.cfg, "--state-dir", stateDir, "--name", rs.Name}
		if i > 0 {
			args = append(args, "--net-device", lab.RSIface(i))
		}
		t.Logf("%s: %s", rs, run(rs, args...))
		name := rs.Name
		t.Cleanup(func() {
			rs.Run(context.Background(), ulvs, "realserver", "down", "--state-dir", stateDir, "--name", name)
		})
	}
	for i, rs := range e.lab.RS {
		check(run, rs, i)
		if got, want := run(rs, "ip", "-4", "route", "show", "default"), "default via "+gw+" dev "+lab.RSIface(i); !strings.Contains(got, want) {
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
	if !strings.Contains(status, "default route via "+gw+" dev r1-eth0 (was none)") {
		t.Errorf("status lacks the default route:\n%s", status)
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
	if got := run(rs1, "cat", "/proc/sys/net/ipv4/conf/all/arp_ignore"); got != beforeARP {
		t.Errorf("rs1 arp_ignore after down: %s, want %s", got, beforeARP)
	}
	if _, err := os.Stat(filepath.Join(stateDir, rs1.Name+".json")); !os.IsNotExist(err) {
		t.Errorf("state file left after down: %v", err)
	}
}
