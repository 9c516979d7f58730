package director_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// vmac61v6 is the IPv6 VRRP virtual MAC of VRID 61 (00-00-5E-00-02-VRID,
// RFC 5798 section 7.3) as ip(8) prints it.
const vmac61v6 = "00:00:5e:00:02:3d"

// withVMAC6 adds use_vmac to the vrrp_instance of an IPv6 keepalived.conf
// (haConf6, peerConf6).
func withVMAC6(conf string) string {
	return strings.Replace(conf, "    native_ipv6\n", "    native_ipv6\n    use_vmac\n", 1)
}

// TestIntegrationVRRPVMACWithKeepalivedIPv6: ulvsd and Debian's keepalived
// as VRRPv3 peers over IPv6, both with use_vmac (keepalived makes its
// macvlan vrrp.61 with 00:00:5e:00:02:3d; ulvsd answers for that MAC on
// its own interface). keepalived (150) master: ulvsd (100) backup accepts
// its adverts from the virtual MAC, the client's neighbour entry for VIP6
// is the virtual MAC, learnt on keepalived's switch port. keepalived stops:
// ulvsd takes over, its unsolicited advertisements and adverts move the
// MAC to its port, and the client, with the same neighbour entry, is
// served. keepalived returns (99) and stays backup beside ulvsd's adverts
// from the virtual MAC; ulvsd killed: keepalived takes over and the MAC
// moves back (the client's connections now reach keepalived's kernel,
// which refuses them).
func TestIntegrationVRRPVMACWithKeepalivedIPv6(t *testing.T) {
	skipUnprivileged(t)
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, IPv6: true}, withVMAC6(haConf6), envOpts{file: "keepalived.conf"})
	start := func(prio int, want string) *lab.Keepalived {
		t.Helper()
		peer := runBackupKeepalived(t, e, withVMAC6(fmt.Sprintf(peerConf6, prio)))
		if _, ok := peer.Wait("(VI_6) Entering "+want+" STATE", 0, 10*time.Second); !ok {
			t.Fatalf("keepalived did not enter %s; log:\n%s", want, peer.Log())
		}
		return peer
	}
	vip6 := e.lab.VIP6.String()
	neigh := func(what string) {
		t.Helper()
		if got := clientNeighOf(t, e.lab, vip6); got != vmac61v6 {
			t.Errorf("%s: the client's neighbour entry for VIP6 is %q, want the virtual MAC %s", what, got, vmac61v6)
		}
	}

	// 1. keepalived (150) master, ulvsd (100) backup.
	e.waitHA(t, "MASTER", 10*time.Second)
	peer := start(150, "MASTER")
	e.waitHA(t, "BACKUP", 8*time.Second)
	waitMACPort(t, e.lab, vmac61v6, "sw-d2")
	if st := e.snapshot().HA; len(st) != 1 || st[0].MasterPriority != 150 || !st[0].MasterAddr.IsLinkLocalUnicast() || st[0].Counters.Errors != [len(st[0].Counters.Errors)]uint64{} {
		t.Errorf("ulvsd's instance beside keepalived (150): %+v", st)
	}
	if got := advertSourceOf(t, e.lab, true); got != vmac61v6 {
		t.Errorf("keepalived's adverts come from %s, want %s", got, vmac61v6)
	}
	dialVIP6(t, e, "ECONNREFUSED") // keepalived's kernel has VIP6 on vrrp.61, nothing listens
	neigh("beside keepalived (150)")

	// 2. keepalived stops: ulvsd master, the MAC on its port, served.
	peer.Stop(syscall.SIGTERM)
	e.waitHA(t, "MASTER", 4*time.Second)
	waitMACPort(t, e.lab, vmac61v6, "sw-d")
	e.waitReady6(2)
	neigh("after ulvsd took over")
	if got := advertSourceOf(t, e.lab, true); got != vmac61v6 {
		t.Errorf("ulvsd's adverts come from %s, want %s", got, vmac61v6)
	}

	// 3. keepalived (99) stays backup beside ulvsd's adverts.
	peer = start(99, "BACKUP")
	if _, ok := peer.Wait("Entering MASTER STATE", 0, 4*time.Second); ok {
		t.Fatalf("keepalived became MASTER beside a ulvsd master advertising from the virtual MAC; log:\n%s", peer.Log())
	}

	// 4. ulvsd killed: keepalived takes over, the MAC moves back.
	m := peer.Mark()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	if _, ok := peer.Wait("(VI_6) Entering MASTER STATE", m, 6*time.Second); !ok {
		t.Fatalf("keepalived did not take over after ulvsd was killed; log:\n%s", peer.Log())
	}
	waitMACPort(t, e.lab, vmac61v6, "sw-d2")
	dialVIP6(t, e, "ECONNREFUSED")
	neigh("after keepalived took over")
}

// dialVIP6 connects from the client to VIP6 port 80: want "" = it
// connects, "ECONNREFUSED" = refused (the keepalived director's kernel).
func dialVIP6(t *testing.T, e *env, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := e.lab.Client.DialContext(ctx, "tcp", "["+e.lab.VIP6.String()+"]:80")
	switch {
	case err == nil:
		c.Close()
		if want != "" {
			t.Errorf("connect to VIP6 succeeded; want %s", want)
		}
	case want == "ECONNREFUSED" && errors.Is(err, syscall.ECONNREFUSED):
	default:
		t.Errorf("connect to VIP6: %v; want %q", err, want)
	}
}
