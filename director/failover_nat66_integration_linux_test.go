package director_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// natPairConf6 is one director of a dual-stack NAT pair as keepalived
// users write it: VI_4 carries the IPv4 VIP and, excluded, the IPv4
// floating gateway on the inside; VI_6 is a VRRPv3 instance over IPv6 on
// the inside whose first address is the link-local gateway fe80::1 the
// NAT66 real servers route through (RFC 5798: an IPv6 virtual router's
// first address is link-local), with VIP6 excluded on the outside. A
// sync group keeps both on one director: the NAT replies of either
// family must reach the director that owns the connections. The sync
// daemon follows VI_4 and carries the IPv6 connections too.
const natPairConf6 = `global_defs {
   router_id %[1]s
   lvs_sync_daemon d-eth0 VI_4 id 7
}
vrrp_sync_group VG_1 {
    group {
        VI_4
        VI_6
    }
}
vrrp_instance VI_4 {
    state %[2]s
    interface d-eth0
    virtual_router_id 51
    priority %[3]d
    advert_int 1
    virtual_ipaddress {
        10.77.0.100
    }
    virtual_ipaddress_excluded {
        10.77.1.254/24 dev d-eth1
    }
}
vrrp_instance VI_6 {
    state %[2]s
    interface d-eth1
    virtual_router_id 61
    priority %[3]d
    advert_int 1
    version 3
    virtual_ipaddress {
        fe80::1/64
    }
    virtual_ipaddress_excluded {
        2001:db8:77::100/64 dev d-eth0
    }
}
virtual_server 10.77.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.77.1.11 80 {
        weight 1
    }
    real_server 10.77.1.12 80 {
        weight 1
    }
}
virtual_server 2001:db8:77::100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 2001:db8:77:1::11 80 {
        weight 1
    }
    real_server 2001:db8:77:1::12 80 {
        weight 1
    }
}
`

// TestIntegrationFailoverNAT66: a dual-stack NAT pair (lab.Config{Mode:
// nat, IPv6, Backup}: the real servers route through the floating
// gateways 10.77.1.254 and fe80::1). The master answers the real
// servers' neighbour solicitations for fe80::1, the backup does not.
// The master is killed (SIGKILL) under IPv6 and IPv4 keep-alive
// connections and a slow IPv6 download: the backup takes both instances
// over, announces fe80::1 with an unsolicited advertisement (the real
// servers' neighbour entry becomes its MAC), translates the NAT66 and NAT
// replies of the synced connections (neither keep-alive connection is
// reset, the download arrives whole), and new IPv4 and IPv6 requests
// reach both real servers through it.
func TestIntegrationFailoverNAT66(t *testing.T) {
	o := envOpts{file: "keepalived.conf", args: []string{"-i", "d-eth0,d-eth1"}}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, Mode: lab.ModeNAT, IPv6: true},
		fmt.Sprintf(natPairConf6, "LVS_A", "MASTER", 100), o)
	b := e.startBackup(t, "keepalived.conf", fmt.Sprintf(natPairConf6, "LVS_B", "BACKUP", 99), o.args)
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)
	e.waitReady6(2)

	mac := func(ns lab.NS) string {
		return strings.TrimSpace(nsOutput(t, ns, "cat", "/sys/class/net/d-eth1/address"))
	}
	amac, bmac := mac(e.lab.Director), mac(e.lab.Backup)
	// gatewayMAC waits up to limit for rs1's neighbour entry for fe80::1
	// to be want, and returns what it is.
	gatewayMAC := func(want string, limit time.Duration) string {
		var neigh string
		for deadline := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
			neigh = nsOutput(t, e.lab.RS[0], "ip", "-6", "neigh", "show", lab.FloatingGateway6.String(), "dev", lab.RSIface(0))
			if strings.Contains(neigh, "lladdr "+want) || time.Now().After(deadline) {
				return neigh
			}
		}
	}
	if neigh := gatewayMAC(amac, 2*time.Second); !strings.Contains(neigh, "lladdr "+amac) {
		t.Errorf("rs1's neighbour entry for %v: %q, want the master's d-eth1 %s", lab.FloatingGateway6, neigh, amac)
	}
	if n := b.snapshot().Engine["nd_replies"]; n != 0 {
		t.Errorf("the backup answered %d neighbour solicitations", n)
	}

	url6 := "http://[" + e.lab.VIP6.String() + "]"
	dl := e.slowDownload(url6, 2<<20)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	kc, done := e.keepAliveLoop(ctx, url6+"/")
	kc4, done4 := e.keepAliveLoop(ctx, "http://"+e.lab.VIP.String()+"/")

	// Let the connections reach the backup (a lone sync entry leaves the
	// master after 2 to 3 s), then kill the master.
	time.Sleep(3500 * time.Millisecond)
	killed := time.Now()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	b.waitHA(t, "MASTER", 8*time.Second)
	tookOver := time.Now()
	if neigh := gatewayMAC(bmac, 2*time.Second); !strings.Contains(neigh, "lladdr "+bmac) {
		t.Errorf("rs1's neighbour entry for %v after the takeover: %q, want the new master's d-eth1 %s", lab.FloatingGateway6, neigh, bmac)
	}
	if err := <-dl; err != nil {
		t.Errorf("IPv6 download across the takeover: %v", err)
	}
	okAtTakeover, ok4AtTakeover := kc.ok.Load(), kc4.ok.Load()
	time.Sleep(time.Second)
	stop()
	<-done
	<-done4

	// New connections of both families through the new master.
	c := e.client()
	for _, fam := range []struct {
		name string
		get  func() (string, error)
	}{{"IPv4", func() (string, error) { return e.get(c, "/") }}, {"IPv6", func() (string, error) { return e.get6("/") }}} {
		got := map[string]int{}
		for range 6 {
			body, err := fam.get()
			if err != nil {
				t.Fatalf("%s request through the new master: %v\nits log:\n%s", fam.name, err, b.logText())
			}
			got[body]++
		}
		if got["rs1"] != 3 || got["rs2"] != 3 {
			t.Errorf("%s requests through the new master: %v, want 3 and 3", fam.name, got)
		}
	}
	t.Logf("dual-stack nat pair: takeover %.2f s after the kill; IPv6 keep-alive client: %d answered by then, %d after, %d failed, %d connections opened; IPv4: %d, %d, %d, %d",
		tookOver.Sub(killed).Seconds(), okAtTakeover, kc.ok.Load()-okAtTakeover, kc.failed.Load(), kc.newConns.Load(),
		ok4AtTakeover, kc4.ok.Load()-ok4AtTakeover, kc4.failed.Load(), kc4.newConns.Load())
	for _, k := range []struct {
		fam        string
		c          *keepAliveCounts
		atTakeover int64
	}{{"IPv6", kc, okAtTakeover}, {"IPv4", kc4, ok4AtTakeover}} {
		if k.c.ok.Load() == k.atTakeover {
			t.Errorf("no %s keep-alive request answered after the takeover", k.fam)
		}
		if n := k.c.newConns.Load(); n != 1 {
			t.Errorf("the %s keep-alive client opened %d connections, want 1 (never reset)", k.fam, n)
		}
		if f := k.c.firstFail.Load(); f != 0 && time.Unix(0, f).Before(killed) {
			t.Errorf("%s keep-alive requests failed before the kill (from %v)", k.fam, time.Unix(0, f))
		}
	}
	if out := b.mustAdm("-L", "-n", "-c"); !strings.Contains(out, "["+e.lab.VIP6.String()+"]:80") {
		t.Errorf("the new master lists no IPv6 connection:\n%s", out)
	}
}
