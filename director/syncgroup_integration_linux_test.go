package director_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// syncGroupConf is a NAT director of a pair with keepalived's
// vrrp_sync_group: the outside VIP (VI_OUT on d-eth0) and the inside
// gateway address the real servers route through (VI_IN on d-eth1, the
// excluded 10.77.1.254) must always be owned by the same director, or the
// replies of the NAT connections go to the director that does not rewrite
// them. %[1]s is the state, %[2]d the priority, %[3]s the group's notify
// script.
const syncGroupConf = `vrrp_sync_group VG_1 {
    group {
        VI_OUT
        VI_IN
    }
    notify %[3]s
}
vrrp_instance VI_OUT {
    state %[1]s
    interface d-eth0
    virtual_router_id 51
    priority %[2]d
    advert_int 1
    virtual_ipaddress {
        10.77.0.100
    }
}
vrrp_instance VI_IN {
    state %[1]s
    interface d-eth1
    virtual_router_id 52
    priority %[2]d
    advert_int 1
    virtual_ipaddress {
        10.77.1.254
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
`

// TestIntegrationVRRPSyncGroup: two ulvs directors run a sync group of two
// instances. The master's inside link goes down: VI_IN enters FAULT and
// takes VI_OUT with it (the group's FAULT), so the backup owns both the
// VIP and the gateway and the service keeps answering; the group notify
// script hears it. When the link returns the old master's group comes
// back and preempts, both instances at once.
func TestIntegrationVRRPSyncGroup(t *testing.T) {
	skipUnprivileged(t)
	dir := t.TempDir()
	script := func(name string) string {
		p := filepath.Join(dir, name+".sh")
		text := "#!/bin/sh\necho \"$@\" >> " + filepath.Join(dir, name+".log") + "\n"
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	o := envOpts{file: "keepalived.conf", args: []string{"-i", "d-eth0,d-eth1"}}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, Mode: lab.ModeNAT},
		fmt.Sprintf(syncGroupConf, "MASTER", 150, script("a")), o)
	routeViaFloatingGateway(t, e.lab)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := e.startBackup(t, "keepalived.conf", fmt.Sprintf(syncGroupConf, "BACKUP", 100, script("b")), o.args)
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)
	if out, _ := e.ulvs("ha"); !strings.Contains(out, "VI_IN [VG_1]") {
		t.Errorf("ulvs ha does not show the group:\n%s", out)
	}

	// The master's inside link fails.
	linkDown := time.Now()
	if out, err := exec.CommandContext(ctx, "ip", "-n", e.lab.Director.Name, "link", "set", "d-eth1", "down").CombinedOutput(); err != nil {
		t.Fatalf("link down: %v\n%s", err, out)
	}
	e.waitHA(t, "FAULT", 10*time.Second)
	b.waitHA(t, "MASTER", 10*time.Second)
	t.Logf("d-eth1 down on the master: the backup owned VIP and gateway %.2f s later", time.Since(linkDown).Seconds())
	b.waitReady(2)
	waitFile(t, filepath.Join(dir, "a.log"), "GROUP VG_1 FAULT 0")
	waitFile(t, filepath.Join(dir, "b.log"), "GROUP VG_1 MASTER 0")

	// A reload that changes VI_IN restarts the group; the new routers
	// learn that d-eth1 is down and stay in FAULT.
	e.hup(t, strings.Replace(fmt.Sprintf(syncGroupConf, "MASTER", 150, script("a")), "    virtual_router_id 52\n", "    virtual_router_id 52\n    garp_master_repeat 2\n", 1), 1)
	time.Sleep(time.Second)
	e.waitHA(t, "FAULT", 5*time.Second)
	b.waitHA(t, "MASTER", 5*time.Second)

	// The link returns: the group leaves FAULT and preempts.
	if out, err := exec.CommandContext(ctx, "ip", "-n", e.lab.Director.Name, "link", "set", "d-eth1", "up").CombinedOutput(); err != nil {
		t.Fatalf("link up: %v\n%s", err, out)
	}
	e.waitHA(t, "MASTER", 20*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)
	waitFile(t, filepath.Join(dir, "b.log"), "GROUP VG_1 BACKUP 0")
	if log := e.logText(); !strings.Contains(log, "VRRP_Group(VG_1) Syncing instances to FAULT state") {
		t.Errorf("ulvsd did not log the group's FAULT:\n%s", log)
	}
}

// keepalivedGroupConf is the backup's half of syncGroupConf for Debian's
// keepalived: the same group and instances at priority 100, the addresses
// on its own interfaces (keepalived puts them in the kernel).
const keepalivedGroupConf = `global_defs {
   router_id LVS_BACKUP
}
vrrp_sync_group VG_1 {
    group {
        VI_OUT
        VI_IN
    }
}
vrrp_instance VI_OUT {
    state BACKUP
    interface d-eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.77.0.100/32 dev d-eth0
    }
}
vrrp_instance VI_IN {
    state BACKUP
    interface d-eth1
    virtual_router_id 52
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.77.1.254/24 dev d-eth1
    }
}
`

// TestIntegrationVRRPSyncGroupWithKeepalived: a ulvs sync group beside
// Debian's keepalived running the same group as backup. The ulvs master's
// inside link fails: its group goes to FAULT and keepalived's group takes
// over both instances; the link returns and ulvs takes both back
// (priority 150 over 100), keepalived's group stepping down together.
func TestIntegrationVRRPSyncGroupWithKeepalived(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed (scripts/setup-host.sh installs it)")
	}
	o := envOpts{file: "keepalived.conf", args: []string{"-i", "d-eth0,d-eth1"}}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, Mode: lab.ModeNAT},
		fmt.Sprintf(syncGroupConf, "MASTER", 150, "/bin/true"), o)
	peer := runBackupKeepalived(t, e, keepalivedGroupConf)
	e.waitHA(t, "MASTER", 10*time.Second)
	for _, in := range []string{"VI_OUT", "VI_IN"} {
		if _, ok := peer.Wait("("+in+") Entering BACKUP STATE", 0, 10*time.Second); !ok {
			t.Fatalf("keepalived's %s did not enter BACKUP", in)
		}
	}
	m := peer.Mark()
	if out, err := exec.Command("ip", "-n", e.lab.Director.Name, "link", "set", "d-eth1", "down").CombinedOutput(); err != nil {
		t.Fatalf("link down: %v\n%s", err, out)
	}
	e.waitHA(t, "FAULT", 10*time.Second)
	for _, in := range []string{"VI_OUT", "VI_IN"} {
		if _, ok := peer.Wait("("+in+") Entering MASTER STATE", m, 10*time.Second); !ok {
			t.Fatalf("keepalived's %s did not take over from the ulvs group in FAULT", in)
		}
	}
	m = peer.Mark()
	if out, err := exec.Command("ip", "-n", e.lab.Director.Name, "link", "set", "d-eth1", "up").CombinedOutput(); err != nil {
		t.Fatalf("link up: %v\n%s", err, out)
	}
	e.waitHA(t, "MASTER", 20*time.Second)
	for _, in := range []string{"VI_OUT", "VI_IN"} {
		if _, ok := peer.Wait("("+in+") Entering BACKUP STATE", m, 10*time.Second); !ok {
			t.Fatalf("keepalived's %s did not step back when the ulvs group returned", in)
		}
	}
	if _, ok := peer.Wait("Syncing instances to BACKUP state", m, 5*time.Second); !ok {
		t.Errorf("keepalived's group did not sync to BACKUP")
	}
}
