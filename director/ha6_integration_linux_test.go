package director_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// haConf6 is haConf over IPv6: a VRRPv3 instance over IPv6 (version 3,
// native_ipv6) carrying VIP6, and the dual-stack lab's IPv6 DR service.
const haConf6 = `global_defs {
   router_id LVS_MASTER
}
vrrp_instance VI_6 {
    state MASTER
    interface d-eth0
    virtual_router_id 61
    priority 100
    advert_int 1
    version 3
    native_ipv6
    virtual_ipaddress {
        2001:db8:77::100/64
    }
}
virtual_server 2001:db8:77::100 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 2001:db8:77::11 80 {
        weight 1
    }
    real_server 2001:db8:77::12 80 {
        weight 1
    }
}
`

// peerConf6 is keepalived's side: the same instance, VRRP only (this
// kernel has no ip_vs), with priority %d.
const peerConf6 = `global_defs {
   router_id LVS_BACKUP
}
vrrp_instance VI_6 {
    state BACKUP
    interface d-eth0
    virtual_router_id 61
    priority %d
    advert_int 1
    version 3
    native_ipv6
    virtual_ipaddress {
        2001:db8:77::100/64 dev d-eth0
    }
}
`

// TestIntegrationVRRPWithKeepalivedIPv6 is TestIntegrationVRRPWithKeepalived
// over IPv6: ulvsd and Debian's keepalived as VRRPv3 peers over IPv6 in the
// dual-stack lab. keepalived (99) stays BACKUP beside ulvsd (100), so it
// accepts ulvsd's adverts; ulvsd killed, keepalived takes VIP6 (the
// client then reaches the backup's kernel, which refuses the connection);
// ulvsd returns, preempts, announces VIP6 and serves again. Then
// keepalived with priority 150 makes ulvsd BACKUP (ulvsd accepts its
// adverts and stops serving VIP6), and when keepalived stops ulvsd is
// master again and serves.
func TestIntegrationVRRPWithKeepalivedIPv6(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed (scripts/setup-host.sh installs it)")
	}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, IPv6: true}, haConf6, envOpts{file: "keepalived.conf"})
	start := func(prio int, want string) *lab.Keepalived {
		t.Helper()
		peer := runBackupKeepalived(t, e, fmt.Sprintf(peerConf6, prio))
		if _, ok := peer.Wait("(VI_6) Entering "+want+" STATE", 0, 10*time.Second); !ok {
			t.Fatalf("keepalived did not enter %s", want)
		}
		return peer
	}
	refused := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := e.lab.Client.DialContext(ctx, "tcp", "["+e.lab.VIP6.String()+"]:80")
		if err == nil {
			c.Close()
			t.Errorf("%s: connect to VIP6 succeeded; want the keepalived director's kernel to refuse it", what)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: connect to VIP6: %v; want connection refused by the keepalived director", what, err)
		}
	}

	// 1. ulvsd (100) master, keepalived (99) backup.
	peer := start(99, "BACKUP")
	e.waitHA(t, "MASTER", 10*time.Second)
	e.waitReady6(2)
	if _, ok := peer.Wait("Entering MASTER STATE", 0, 4*time.Second); ok {
		t.Fatalf("keepalived became MASTER while ulvsd was master")
	}

	// 2. ulvsd killed: keepalived takes over within 3 x advert_int +
	// skew ((256-99)/256 s).
	m := peer.Mark()
	killed := time.Now()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	at, ok := peer.Wait("(VI_6) Entering MASTER STATE", m, 6*time.Second)
	if !ok {
		t.Fatalf("keepalived did not take over after ulvsd was killed")
	}
	t.Logf("keepalived took over %.2f s after ulvsd was killed (bound 3 x 1 s + 0.61 s)", at.Sub(killed).Seconds())
	if d := at.Sub(killed); d > 4600*time.Millisecond {
		t.Errorf("takeover took %v", d)
	}
	time.Sleep(500 * time.Millisecond) // keepalived's neighbour advertisements
	refused("after keepalived took over")

	// 3. ulvsd returns with priority 100 and preempts; its neighbour
	// advertisements bring the client back to it.
	m = peer.Mark()
	e.start()
	if _, ok := peer.Wait("(VI_6) Entering BACKUP STATE", m, 8*time.Second); !ok {
		t.Fatalf("keepalived did not step back when ulvsd returned")
	}
	e.waitHA(t, "MASTER", 8*time.Second)
	e.waitReady6(2)

	// 4. keepalived with priority 150: ulvsd becomes BACKUP.
	peer.Stop(syscall.SIGTERM)
	peer = start(150, "MASTER")
	e.waitHA(t, "BACKUP", 8*time.Second)
	time.Sleep(500 * time.Millisecond)
	refused("beside keepalived (150)")
	st := e.snapshot().HA
	if len(st) != 1 || st[0].MasterPriority != 150 || !st[0].MasterAddr.IsLinkLocalUnicast() || st[0].Counters.AdvertsReceived == 0 {
		t.Errorf("ulvsd's instance beside keepalived (150): %+v", st)
	}
	for r, n := range st[0].Counters.Errors {
		if n != 0 {
			t.Errorf("ulvsd refused %d of keepalived's adverts: reason %d", n, r)
		}
	}

	// 5. keepalived stops (priority 0): ulvsd master again, serving.
	peer.Stop(syscall.SIGTERM)
	e.waitHA(t, "MASTER", 4*time.Second)
	e.waitReady6(2)
}

// withUnicast6 adds unicast_src_ip src, unicast_peer peer and
// check_unicast_src to the vrrp_instance of an IPv6 keepalived.conf
// (haConf6, peerConf6).
func withUnicast6(conf string, src, peer netip.Addr) string {
	return strings.Replace(conf, "    native_ipv6\n", fmt.Sprintf("    native_ipv6\n    unicast_src_ip %s\n    unicast_peer {\n        %s\n    }\n    check_unicast_src\n", src, peer), 1)
}

// TestIntegrationVRRPWithKeepalivedIPv6Unicast: ulvsd and Debian's
// keepalived as VRRPv3 peers over IPv6 with unicast adverts between the
// directors' global addresses (unicast_src_ip, unicast_peer,
// check_unicast_src on both). keepalived (99) stays BACKUP beside ulvsd
// (100); ulvsd killed, keepalived takes over; ulvsd returns as backup,
// takes keepalived's unicast adverts, preempts it (keepalived steps back)
// and serves VIP6 again.
func TestIntegrationVRRPWithKeepalivedIPv6Unicast(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed (scripts/setup-host.sh installs it)")
	}
	conf := withUnicast6(strings.Replace(haConf6, "state MASTER", "state BACKUP", 1), lab.DIP6, lab.BackupDIP6)
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, IPv6: true}, conf, envOpts{file: "keepalived.conf"})
	peer := runBackupKeepalived(t, e, withUnicast6(fmt.Sprintf(peerConf6, 99), lab.BackupDIP6, lab.DIP6))
	if _, ok := peer.Wait("(VI_6) Entering BACKUP STATE", 0, 10*time.Second); !ok {
		t.Fatalf("keepalived did not enter BACKUP")
	}

	// 1. ulvsd (100) master, keepalived (99) backup on its unicast adverts.
	e.waitHA(t, "MASTER", 10*time.Second)
	e.waitReady6(2)
	if _, ok := peer.Wait("Entering MASTER STATE", 0, 4*time.Second); ok {
		t.Fatalf("keepalived became MASTER while ulvsd was master")
	}

	// 2. ulvsd killed: keepalived takes over.
	m := peer.Mark()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	if _, ok := peer.Wait("(VI_6) Entering MASTER STATE", m, 6*time.Second); !ok {
		t.Fatalf("keepalived did not take over after ulvsd was killed")
	}

	// 3. ulvsd returns (state BACKUP): it takes keepalived's unicast
	// adverts, then preempts it.
	m = peer.Mark()
	e.start()
	e.waitHA(t, "BACKUP", 4*time.Second)
	if _, ok := peer.Wait("(VI_6) Entering BACKUP STATE", m, 8*time.Second); !ok {
		t.Fatalf("keepalived did not step back when ulvsd returned")
	}
	e.waitHA(t, "MASTER", 4*time.Second)
	e.waitReady6(2)
	st := e.snapshot().HA
	if len(st) != 1 || st[0].Counters.AdvertsReceived == 0 { // keepalived's, while ulvsd was backup
		t.Errorf("ulvsd's instance: %+v", st)
	}
	for r, n := range st[0].Counters.Errors {
		if n != 0 {
			t.Errorf("ulvsd refused %d of keepalived's unicast adverts: reason %d", n, r)
		}
	}
	if !strings.Contains(peer.Log(), "unicast, address("+lab.BackupDIP6.String()+")") {
		t.Errorf("keepalived's socket is not a unicast one from %v; log:\n%s", lab.BackupDIP6, peer.Log())
	}
	for _, bad := range []string{"checksum", "not a unicast peer", "Expected"} {
		if strings.Contains(peer.Log(), bad) {
			t.Errorf("keepalived logged %q about ulvsd's unicast adverts", bad)
		}
	}
}
