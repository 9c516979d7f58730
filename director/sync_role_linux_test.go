package director

import (
	"os"
	"os/exec"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/lab"
)

// syncNS makes a network namespace with a veth pair sync0 (10.9.0.1/24)
// and sync1, deleted at cleanup.
func syncNS(t *testing.T) lab.NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip tool")
	}
	ns := lab.NS{Name: lab.UniquePrefix() + "-sync"}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", ns.Name)
	t.Cleanup(func() { run("netns", "del", ns.Name) })
	run("-n", ns.Name, "link", "add", "sync0", "type", "veth", "peer", "name", "sync1")
	run("-n", ns.Name, "link", "set", "sync1", "up")
	run("-n", ns.Name, "link", "set", "sync0", "up")
	run("-n", ns.Name, "addr", "add", "10.9.0.1/24", "dev", "sync0")
	return ns
}

// lvs_sync_daemon starts as backup and follows SetSyncRole, as keepalived
// switches it on VRRP transitions; a reload changes it only when it
// changed.
func TestSyncRoleSwitch(t *testing.T) {
	ns := syncNS(t)
	fe := newFakeSyncEngine()
	d, err := New(Config{Engine: fe})
	if err != nil {
		t.Fatal(err)
	}
	states := func() (out []string) {
		for _, s := range d.Snapshot().Daemons {
			out = append(out, s.State+"@"+s.Interface)
		}
		return out
	}
	sd := &config.SyncDaemon{Interface: "sync0", Instance: "VI_1", SyncID: 7}
	do := func(what string, f func() error) {
		t.Helper()
		if err := ns.Do(f); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	do("ConfigureSync", func() error { return d.ConfigureSync(sd) })
	if got := states(); len(got) != 1 || got[0] != "backup@sync0" || !fe.isRunning(syncBackup) {
		t.Fatalf("after ConfigureSync: %v", got)
	}
	do("SetSyncRole(true)", func() error { return d.SetSyncRole(true) })
	if got := states(); len(got) != 1 || got[0] != "master@sync0" || fe.isRunning(syncBackup) || !fe.isRunning(syncMaster) {
		t.Fatalf("after SetSyncRole(true): %v", got)
	}
	do("SetSyncRole(true) again", func() error { return d.SetSyncRole(true) })
	do("SetSyncRole(false)", func() error { return d.SetSyncRole(false) })
	if got := states(); len(got) != 1 || got[0] != "backup@sync0" || fe.isRunning(syncMaster) {
		t.Fatalf("after SetSyncRole(false): %v", got)
	}
	same := *sd
	var changed bool
	do("reload unchanged", func() (err error) { changed, err = d.reloadSync(&same); return err })
	if changed {
		t.Error("an unchanged lvs_sync_daemon was restarted")
	}
	other := *sd
	other.SyncID = 9
	do("reload changed", func() (err error) { changed, err = d.reloadSync(&other); return err })
	if ds := d.Snapshot().Daemons; !changed || len(ds) != 1 || ds[0].SyncID != 9 {
		t.Errorf("after a changed reload: changed %v, daemons %+v", changed, ds)
	}
	do("ConfigureSync(nil)", func() error { return d.ConfigureSync(nil) })
	if got := states(); len(got) != 0 || fe.isRunning(syncBackup) {
		t.Errorf("after ConfigureSync(nil): %v", got)
	}
}
