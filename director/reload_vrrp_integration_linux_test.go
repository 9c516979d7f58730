package director_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
	"github.com/ulvs/ulvs/vrrp"
)

// vi2Conf is a second vrrp_instance (VRID 52, 10.77.0.101) a reload adds.
const vi2Conf = `
vrrp_instance VI_2 {
    state BACKUP
    interface d-eth0
    virtual_router_id 52
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.77.0.101
    }
}
`

// haStatus returns ulvs ha --json's instances by name.
func (e *env) haStatus(t *testing.T) map[string]vrrp.Status {
	t.Helper()
	out, err := e.ulvs("ha", "--json")
	if err != nil {
		t.Fatalf("ulvs ha: %v\n%s", err, out)
	}
	var st []vrrp.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ulvs ha --json: %v\n%s", err, out)
	}
	m := map[string]vrrp.Status{}
	for _, s := range st {
		m[s.Name] = s
	}
	return m
}

// hup rewrites the configuration, sends SIGHUP and waits for the n-th
// "reload: vrrp instances" log line.
func (e *env) hup(t *testing.T, conf string, n int) {
	t.Helper()
	e.writeConfig(conf)
	if err := e.daemon.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(e.logText(), "reload: vrrp instances") < n {
		if time.Now().After(deadline) {
			t.Fatalf("no reload %d logged:\n%s", n, e.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntegrationVRRPReload changes the failover configuration of a
// running ulvsd with SIGHUP, beside a second ulvs director: a changed
// master instance stays master (the peer never takes over), a new instance
// starts, a removed one stops, and raising the peer's priority moves the
// master through the election.
func TestIntegrationVRRPReload(t *testing.T) {
	o := envOpts{file: "keepalived.conf"}
	confA := fmt.Sprintf(pairConf, "LVS_A", "MASTER", 100)
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true}, confA, o)
	b := e.startBackup(t, "keepalived.conf", fmt.Sprintf(pairConf, "LVS_B", "BACKUP", 99), nil)
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)

	// 1. A changed master instance (garp_master_repeat) stays master.
	changed := strings.Replace(confA, "    advert_int 1\n", "    advert_int 1\n    garp_master_repeat 2\n", 1)
	e.hup(t, changed, 1)
	time.Sleep(4 * time.Second) // more than the peer's master down interval
	if s := e.haStatus(t)["VI_1"]; s.State != vrrp.StateMaster || s.Reason != "reload: was MASTER" {
		t.Errorf("after the change: VI_1 %v (%s), want MASTER (reload: was MASTER)", s.State, s.Reason)
	}
	if s := b.haStatus(t)["VI_1"]; s.State != vrrp.StateBackup || s.Counters.BecameMaster != 0 {
		t.Errorf("the peer: %v, became master %d times: want BACKUP throughout", s.State, s.Counters.BecameMaster)
	}
	e.waitReady(2)

	// 2. A new instance starts (alone on VRID 52: master after its down
	// interval); VI_1 is kept as it is.
	e.hup(t, changed+vi2Conf, 2)
	deadline := time.Now().Add(10 * time.Second)
	for e.haStatus(t)["VI_2"].State != vrrp.StateMaster {
		if time.Now().After(deadline) {
			t.Fatalf("VI_2 did not become master: %+v", e.haStatus(t)["VI_2"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := e.haStatus(t)["VI_1"]; s.Reason != "reload: was MASTER" {
		t.Errorf("VI_1 was restarted by adding VI_2: %v (%s)", s.State, s.Reason)
	}

	// 3. Removing it stops it.
	e.hup(t, changed, 3)
	if _, ok := e.haStatus(t)["VI_2"]; ok {
		t.Errorf("VI_2 still runs after its removal")
	}

	// A reload whose new instance cannot open its socket changes nothing.
	e.writeConfig(changed + strings.Replace(strings.Replace(vi2Conf, "d-eth0", "nosuch0", 1), "VI_2", "VI_3", 1))
	if err := e.daemon.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.waitLog("reload: failover", "nothing changed")
	if s := e.haStatus(t); len(s) != 1 || s["VI_1"].State != vrrp.StateMaster {
		t.Errorf("after a failed reload: %+v, want VI_1 MASTER alone", s)
	}

	// 4. The peer's priority goes up: the election moves the master.
	b.hup(t, strings.Replace(fmt.Sprintf(pairConf, "LVS_B", "BACKUP", 99), "priority 99", "priority 150", 1), 1)
	b.waitHA(t, "MASTER", 10*time.Second)
	e.waitHA(t, "BACKUP", 10*time.Second)
	b.waitReady(2)
}
