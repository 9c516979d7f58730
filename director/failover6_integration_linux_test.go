package director_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// pairConf6 is pairConf for IPv6: a VRRPv3 instance over IPv6 (version 3,
// native_ipv6) carrying the dual-stack lab's VIP6, an IPv6 DR service on
// it, and the connection sync daemon following the instance (its
// messages travel over IPv4 multicast on d-eth0 and carry IPv6 entries,
// as the kernel's do).
const pairConf6 = `global_defs {
   router_id %[1]s
   lvs_sync_daemon d-eth0 VI_6 id 7
}
vrrp_instance VI_6 {
    state %[2]s
    interface d-eth0
    virtual_router_id 61
    priority %[3]d
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

// TestIntegrationFailoverSyncIPv6 is TestIntegrationFailoverSync for an
// IPv6 service: two ulvs directors with a VRRPv3 instance over IPv6 and
// connection sync. The master is killed (SIGKILL) under a slow IPv6
// download and an IPv6 keep-alive client: the backup takes VIP6 over
// (announcing it with unsolicited neighbour advertisements), the download
// finishes intact and the keep-alive connection is never reset, because
// their connections were synced as IPv6 entries; the old master returns,
// takes VIP6 back, and the same connection carries on through it.
func TestIntegrationFailoverSyncIPv6(t *testing.T) {
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, Mode: lab.ModeDR, IPv6: true},
		fmt.Sprintf(pairConf6, "LVS_A", "MASTER", 100), envOpts{file: "keepalived.conf"})
	b := e.startBackup(t, "keepalived.conf", fmt.Sprintf(pairConf6, "LVS_B", "BACKUP", 99), nil)
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady6(2)
	url := "http://[" + e.lab.VIP6.String() + "]"

	dl := e.slowDownload(url, 2<<20)
	ctx, stop := context.WithCancel(context.Background())
	kc, done := e.keepAliveLoop(ctx, url+"/")
	ok, failed, newConns, firstFail := &kc.ok, &kc.failed, &kc.newConns, &kc.firstFail

	// Let the connections reach the backup, then kill the master.
	time.Sleep(3500 * time.Millisecond)
	bs := b.snapshot()
	killed := time.Now()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	b.waitHA(t, "MASTER", 8*time.Second)
	tookOver := time.Now()
	// The new master announced VIP6 (unsolicited neighbour
	// advertisements with the override flag, as keepalived's vrrp_ndisc
	// sends): the client's neighbour entry is its MAC at once.
	bmac := strings.TrimSpace(nsOutput(t, e.lab.Backup, "cat", "/sys/class/net/d-eth0/address"))
	var neigh string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		neigh = nsOutput(t, e.lab.Client, "ip", "-6", "neigh", "show", e.lab.VIP6.String())
		if strings.Contains(neigh, "lladdr "+bmac) || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(neigh, "lladdr "+bmac) {
		t.Errorf("client's neighbour entry for VIP6 after the takeover: %q, want the new master's %s", neigh, bmac)
	}
	if out := b.mustAdm("-L", "-n", "-c"); !strings.Contains(out, "["+e.lab.VIP6.String()+"]:80") {
		t.Errorf("the backup holds no synced IPv6 connection:\n%s\nsync daemons before the kill: %+v", out, bs.Daemons)
	}

	if err := <-dl; err != nil {
		t.Errorf("IPv6 download across the takeover: %v", err)
	}
	okAtTakeover, failedAtTakeover := ok.Load(), failed.Load()

	e.start()
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 5*time.Second)
	time.Sleep(3 * time.Second)
	stop()
	<-done
	t.Logf("IPv6 dr: takeover: backup MASTER %.2f s after the master was killed; keep-alive client: %d answered, %d failed by then; after the fail back: %d answered, %d failed; %d connections opened in all",
		tookOver.Sub(killed).Seconds(), okAtTakeover, failedAtTakeover, ok.Load()-okAtTakeover, failed.Load()-failedAtTakeover, newConns.Load())
	if ok.Load() == okAtTakeover {
		t.Errorf("no keep-alive request answered after the fail back")
	}
	if n := newConns.Load(); n != 1 {
		t.Errorf("the keep-alive client opened %d connections, want 1 (never reset)", n)
	}
	if f := firstFail.Load(); f != 0 && time.Unix(0, f).Before(killed) {
		t.Errorf("keep-alive requests failed before the kill (from %v)", time.Unix(0, f))
	}
}
