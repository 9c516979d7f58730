package director_test

import (
	"context"
	"encoding/json"
	"errors"

	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
	"github.com/ulvs/ulvs/vrrp"
)

// haConf is seed 001's keepalived.conf for the lab's DR service: a
// vrrp_instance (MASTER, priority 100, PASS 1111) and its virtual_server.
const haConf = `! Configuration File for keepalived
global_defs {
   router_id LVS_MASTER
}
vrrp_instance VI_1 {
    state MASTER
    interface d-eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        10.77.0.100
    }
}
virtual_server 10.77.0.100 80 {
    delay_loop 6
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.77.0.11 80 {
        weight 1
    }
    real_server 10.77.0.12 80 {
        weight 1
    }
}
`

// peerConf is the backup director's keepalived.conf as seed 001 says to
// change it: BACKUP, priority 99 (VRRP only: this kernel has no ip_vs).
const peerConf = `global_defs {
   router_id LVS_BACKUP
}
vrrp_instance VI_1 {
    state BACKUP
    interface d-eth0
    virtual_router_id 51
    priority 99
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        10.77.0.100/32 dev d-eth0
    }
}
`

// startBackupKeepalived runs Debian's keepalived with peerConf in the
// lab's second director and waits until it is BACKUP.
func startBackupKeepalived(t *testing.T, e *env) *lab.Keepalived {
	t.Helper()
	return startBackupKeepalivedConf(t, e, peerConf)
}

// startBackupKeepalivedConf is startBackupKeepalived with conf.
func startBackupKeepalivedConf(t *testing.T, e *env, conf string) *lab.Keepalived {
	t.Helper()
	peer := runBackupKeepalived(t, e, conf)
	if _, ok := peer.Wait("(VI_1) Entering BACKUP STATE", 0, 10*time.Second); !ok {
		t.Fatalf("keepalived did not enter BACKUP")
	}
	return peer
}

// TestIntegrationVRRPWithKeepalived pairs a ulvs director (master) with
// Debian's keepalived (backup) as seed 001 pairs two keepalived directors:
// the backup takes the VIP when ulvsd dies, and ulvsd takes it back
// (preempts) when it returns, serving HTTP through the VIP again.
func TestIntegrationVRRPWithKeepalived(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed (scripts/setup-host.sh installs it)")
	}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true}, haConf, envOpts{file: "keepalived.conf"})
	peer := startBackupKeepalived(t, e)
	e.waitHA(t, "MASTER", 10*time.Second)
	e.waitReady(2)
	if _, ok := peer.Wait("Entering MASTER STATE", 0, 0); ok {
		t.Fatalf("keepalived became MASTER while ulvsd was master")
	}

	// ulvsd dies: keepalived must take over within 3 x advert_int + skew
	// ((256-99)/256 s).
	m := peer.Mark()
	killed := time.Now()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	at, ok := peer.Wait("(VI_1) Entering MASTER STATE", m, 6*time.Second)
	if !ok {
		t.Fatalf("keepalived did not take over after ulvsd was killed")
	}
	t.Logf("keepalived took over %.2f s after ulvsd was killed (bound 3 x 1 s + 0.61 s)", at.Sub(killed).Seconds())
	if d := at.Sub(killed); d > 4600*time.Millisecond {
		t.Errorf("takeover took %v", d)
	}
	// The client reaches the VIP at the backup now: its kernel owns the
	// address (keepalived added it) and, with no ip_vs here, refuses the
	// connection, where a dead director's VIP would time out.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := e.lab.Client.DialContext(ctx, "tcp", "10.77.0.100:80"); err == nil {
		c.Close()
		t.Errorf("connect to the VIP after takeover succeeded; want the backup's kernel to refuse it")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to the VIP after takeover: %v; want connection refused by the backup", err)
	}

	// ulvsd returns with priority 100 and preempts.
	m = peer.Mark()
	e.start()
	if _, ok := peer.Wait("(VI_1) Entering BACKUP STATE", m, 8*time.Second); !ok {
		t.Fatalf("keepalived did not step back when ulvsd returned")
	}
	e.waitHA(t, "MASTER", 8*time.Second)
	e.waitReady(2)
}

// TestIntegrationVRRPWithKeepalivedAH is seed 001's pair with
// authentication { auth_type AH }: keepalived (backup) accepts ulvsd's AH
// adverts and stays BACKUP, and takes over when ulvsd stops.
func TestIntegrationVRRPWithKeepalivedAH(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed (scripts/setup-host.sh installs it)")
	}
	ah := func(conf string) string { return strings.ReplaceAll(conf, "auth_type PASS", "auth_type AH") }
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true}, ah(haConf), envOpts{file: "keepalived.conf"})
	peer := startBackupKeepalivedConf(t, e, ah(peerConf))
	// Under AH, state MASTER waits a full master down interval first (as
	// keepalived: it learns the sequence number before advertising).
	e.waitHA(t, "MASTER", 10*time.Second)
	e.waitReady(2)
	if _, ok := peer.Wait("Entering MASTER STATE", 0, 4*time.Second); ok {
		t.Fatalf("keepalived became MASTER while ulvsd was master")
	}
	if l := peer.Log(); strings.Contains(l, "IPSEC") || strings.Contains(l, "AH header") {
		t.Errorf("keepalived refused ulvsd's AH adverts:\n%s", l)
	}
	m := peer.Mark()
	e.daemon.Process.Signal(syscall.SIGTERM)
	e.daemon.Wait()
	e.daemon = nil
	if _, ok := peer.Wait("(VI_1) Entering MASTER STATE", m, 6*time.Second); !ok {
		t.Fatalf("keepalived did not take over after ulvsd stopped")
	}
}

// waitHA waits until ulvs ha --json shows every instance in state.
func (e *env) waitHA(t *testing.T, state string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, err := e.ulvs("ha", "--json")
		var st []vrrp.Status
		if err == nil {
			err = json.Unmarshal([]byte(out), &st)
		}
		all := err == nil && len(st) > 0
		for _, s := range st {
			all = all && s.State.String() == state
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ulvs ha did not show %s within %v: %v\n%s\nulvsd log:\n%s", state, limit, err, out, e.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runBackupKeepalived starts keepalived with conf in the backup director's
// namespace until the test ends (SIGTERM; its log shown if the test
// failed).
func runBackupKeepalived(t *testing.T, e *env, conf string) *lab.Keepalived {
	t.Helper()
	peer, err := lab.StartKeepalived(e.lab.Backup, t.TempDir(), conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		peer.Stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("keepalived log:\n%s", peer.Log())
		}
	})
	return peer
}
