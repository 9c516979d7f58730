package director

import (
	"errors"
	"net/netip"
	"reflect"
	"sync"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/engine"
	"github.com/ulvs/ulvs/ipvssync"
)

// fakeSyncEngine is a fakeEngine whose data path syncs: its source yields
// the entries queued in it, its sink records what it is given.
type fakeSyncEngine struct {
	fakeEngine
	mu        sync.Mutex
	queued    []ipvssync.Entry
	delivered []ipvssync.Entry
	running   map[string]bool
	threshold int
}

func newFakeSyncEngine() *fakeSyncEngine { return &fakeSyncEngine{running: map[string]bool{}} }

func (f *fakeSyncEngine) startMaster(ipvssync.Sysctls) syncSource {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[syncMaster] = true
	return f
}

func (f *fakeSyncEngine) startBackup(threshold int) syncSink {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[syncBackup], f.threshold = true, threshold
	return f
}

func (f *fakeSyncEngine) stopMaster() { f.set(syncMaster, false) }
func (f *fakeSyncEngine) stopBackup() { f.set(syncBackup, false) }

func (f *fakeSyncEngine) set(state string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[state] = on
}

func (f *fakeSyncEngine) isRunning(state string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[state]
}

func (f *fakeSyncEngine) Drain(fn func(*ipvssync.Entry)) int {
	f.mu.Lock()
	q := f.queued
	f.queued = nil
	f.mu.Unlock()
	for i := range q {
		fn(&q[i])
	}
	return len(q)
}

func (f *fakeSyncEngine) Dropped() uint64 { return 0 }

func (f *fakeSyncEngine) Deliver(m ipvssync.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delivered = append(f.delivered, m.Entries...)
}

func (f *fakeSyncEngine) Stats() engine.SyncBackupStats { return engine.SyncBackupStats{} }

func daemonCmd(op config.Op, state, iface string) config.Command {
	return config.Command{Op: op, Daemon: config.DaemonOptions{State: state, McastIfn: iface, SyncID: 7}}
}

func TestSyncDaemonErrors(t *testing.T) {
	plain, err := New(Config{Engine: &fakeEngine{}})
	if err != nil {
		t.Fatal(err)
	}
	fe := newFakeSyncEngine()
	syncing, err := New(Config{Engine: fe})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    *Director
		cmd  config.Command
		want error
	}{
		{"engine cannot sync", plain, daemonCmd(config.OpStartDaemon, "master", "lo"), config.ErrNotSupported},
		{"stop without daemon", syncing, daemonCmd(config.OpStopDaemon, "master", ""), config.ErrNoDaemon},
		{"stop backup without daemon", syncing, daemonCmd(config.OpStopDaemon, "backup", ""), config.ErrNoDaemon},
		{"bad state", syncing, daemonCmd(config.OpStartDaemon, "both", "lo"), config.ErrInvalid},
		{"no interface", syncing, daemonCmd(config.OpStartDaemon, "master", ""), config.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.d.Apply(tc.cmd); !errors.Is(err, tc.want) {
				t.Errorf("Apply = %v, want %v", err, tc.want)
			}
		})
	}
	if err := syncing.Apply(daemonCmd(config.OpStartDaemon, "master", "nosuch-if0")); err == nil {
		t.Error("master on a missing interface started")
	}
	if fe.isRunning(syncMaster) || len(syncing.Snapshot().Daemons) != 0 {
		t.Error("a failed start left a daemon running")
	}
	if err := syncing.SetSyncRole(true); !errors.Is(err, config.ErrNoDaemon) {
		t.Errorf("SetSyncRole without lvs_sync_daemon = %v, want ErrNoDaemon", err)
	}
	bad := ipvssync.DefaultSysctls()
	bad.SyncRetries = 9
	if err := syncing.SetSyncSysctls(bad); err == nil {
		t.Error("sync_retries 9 accepted")
	}
	// From the configuration file's [sysctl]: the kernel's rules apply.
	knobs := config.Knobs{Sync: []config.SyncSysctl{{Name: "sync_threshold", Value: "60 50"}}}
	if err := syncing.SetConfig(config.Rules{}, nil, knobs); err == nil {
		t.Error("sync_threshold 60 50 (threshold above period) accepted")
	}
	knobs.Sync = []config.SyncSysctl{{Name: "sync_threshold", Value: "5 60"}, {Name: "sync_version", Value: "0"}}
	if err := syncing.SetConfig(config.Rules{}, nil, knobs); err != nil {
		t.Fatal(err)
	}
	if s := syncing.sync.sysctls; s.SyncThreshold != 5 || s.SyncPeriod != 60 || s.SyncVersion != 0 {
		t.Errorf("sysctls after SetConfig = %+v", s)
	}
}

// A master daemon on the loopback interface (a socket only: nothing is
// queued, so nothing is sent) lists like ipvsadm's, refuses a second
// start and stops.
func TestSyncDaemonMasterLifecycle(t *testing.T) {
	fe := newFakeSyncEngine()
	d, err := New(Config{Engine: fe})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(daemonCmd(config.OpStartDaemon, "master", "lo")); err != nil {
		t.Skipf("no master socket on lo here: %v", err)
	}
	if !fe.isRunning(syncMaster) {
		t.Error("the engine's master was not started")
	}
	if err := d.Apply(daemonCmd(config.OpStartDaemon, "master", "lo")); !errors.Is(err, config.ErrDaemonRunning) {
		t.Errorf("second start = %v, want ErrDaemonRunning", err)
	}
	ds := d.Snapshot().Daemons
	want := ctl.DaemonStatus{State: "master", Interface: "lo", SyncID: 7, MaxLen: 1472,
		Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}
	if len(ds) != 1 {
		t.Fatalf("daemons = %+v", ds)
	}
	got := ds[0]
	got.Stats = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("daemon = %+v, want %+v", got, want)
	}
	if err := d.Apply(daemonCmd(config.OpStopDaemon, "master", "")); err != nil {
		t.Fatal(err)
	}
	if fe.isRunning(syncMaster) || len(d.Snapshot().Daemons) != 0 {
		t.Error("stop left the master running")
	}
}
