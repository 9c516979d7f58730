package director_test

import (
	"fmt"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationMTUChange lowers the MTU of the whole TUN lab's LAN
// (client, switch ports, the director's d-eth0, the real servers) from
// 1500 to 1400 under a running ulvsd: ulvsd must see the new MTU by
// itself (netlink link events), answer full-size DF segments that no
// longer fit once encapsulated with ICMP fragmentation-needed carrying the
// new tunnel MTU (1400 - 20 = 1380; the client's route cache shows what it
// learned), and keep forwarding: an upload through the tunnel after the
// change arrives intact. Then the MTU goes back to 1500 and ulvsd follows.
func TestIntegrationMTUChange(t *testing.T) {
	skipUnprivileged(t)
	desc, err := lab.NewMode("x", 2, lab.ModeTUN)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, lab.Config{RealServers: 2, Mode: lab.ModeTUN}, methodConfig(t, lab.ModeTUN, desc))
	e.waitReady(2)
	ifname := e.lab.DirectorIface
	links := [][2]string{{e.lab.Client.Name, "c-eth0"}, {e.lab.Switch.Name, "sw-c"}, {e.lab.Switch.Name, "sw-d"},
		{e.lab.Director.Name, ifname}}
	for i, rs := range e.lab.RS {
		links = append(links, [2]string{e.lab.Switch.Name, fmt.Sprintf("sw-r%d", i+1)}, [2]string{rs.Name, lab.RSIface(i)})
	}
	setMTU := func(mtu int) {
		for _, l := range links {
			e.ip("-n", l[0], "link", "set", l[1], "mtu", fmt.Sprint(mtu))
		}
	}
	waitMTU := func(mtu int) {
		t.Helper()
		start := time.Now()
		for {
			snap := e.snapshot()
			if len(snap.Interfaces) == 1 && snap.Interfaces[0].MTU == mtu {
				t.Logf("ulvsd reports MTU %d on %s %v after the change", mtu, ifname, time.Since(start).Round(time.Millisecond))
				return
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("interfaces = %+v 10 s after the MTU became %d", snap.Interfaces, mtu)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// routeMTU is the path MTU the client has learned for the VIP (0: none).
	routeMTU := func() string {
		out, err := exec.Command("ip", "-n", e.lab.Client.Name, "route", "get", "10.77.0.100").CombinedOutput()
		if err != nil {
			t.Fatalf("ip route get: %v\n%s", err, out)
		}
		if m := regexp.MustCompile(`\bmtu (\d+)`).FindStringSubmatch(string(out)); m != nil {
			return m[1]
		}
		return "0"
	}
	e.ip("-n", e.lab.Client.Name, "route", "flush", "cache")

	setMTU(1400)
	waitMTU(1400)
	before := e.snapshot().Engine["frag_needed"]
	e.upload(t, 4<<20)
	if got := e.snapshot().Engine["frag_needed"]; got == before {
		t.Errorf("no ICMP fragmentation needed sent for 1400-byte segments into a 1400-byte tunnel path")
	}
	if got := routeMTU(); got != "1380" {
		t.Errorf("the client learned path MTU %s for the VIP, want 1380 (1400 less the tunnel's 20 bytes)", got)
	}

	setMTU(1500)
	waitMTU(1500)
	e.upload(t, 1<<20)
}
