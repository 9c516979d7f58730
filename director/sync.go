package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/engine"
	"github.com/ulvs/ulvs/ipvssync"
)

// syncEngine is what the connection sync daemons need of the data path;
// engineSync adapts the engine (engine/sync.go, engine/inbox.go), tests
// use fakes.
type syncEngine interface {
	startMaster(s ipvssync.Sysctls) syncSource
	stopMaster()
	startBackup(threshold int) syncSink
	stopBackup()
}

// syncSource yields the entries the workers queued (engine.SyncSource).
type syncSource interface {
	Drain(fn func(*ipvssync.Entry)) int
	Dropped() uint64
}

// syncSink takes received messages (engine.SyncSink).
type syncSink interface {
	Deliver(m ipvssync.Message)
	Stats() engine.SyncBackupStats
}

// engineSync is the engine as a syncEngine.
type engineSync struct{ e *engine.Engine }

func (s engineSync) startMaster(sc ipvssync.Sysctls) syncSource { return s.e.StartSyncMaster(sc, 0) }
func (s engineSync) stopMaster()                                { s.e.StopSyncMaster() }
func (s engineSync) startBackup(threshold int) syncSink         { return s.e.StartSyncBackup(threshold, 0) }
func (s engineSync) stopBackup()                                { s.e.StopSyncBackup() }

// Sync daemon states, as ipvsadm names them.
const (
	syncMaster = "master"
	syncBackup = "backup"
)

// syncDaemon is one running sync daemon.
type syncDaemon struct {
	status ctl.DaemonStatus
	cancel context.CancelFunc
	done   chan struct{}
	// stats reports the daemon's counters.
	stats func() map[string]uint64
}

// syncManager runs the master and backup sync daemons, at most one of
// each, as the kernel does (ip_vs_sync.c, start_sync_thread).
type syncManager struct {
	log *slog.Logger
	eng syncEngine // nil: the engine cannot sync

	mu      sync.Mutex
	sysctls ipvssync.Sysctls
	master  *syncDaemon
	backup  *syncDaemon
	// keepalived is lvs_sync_daemon from the configuration file, whose
	// role SetSyncRole switches; nil when not configured.
	keepalived *config.SyncDaemon
}

func newSyncManager(eng Engine, log *slog.Logger) *syncManager {
	m := &syncManager{log: log, sysctls: ipvssync.DefaultSysctls()}
	switch e := eng.(type) {
	case *engine.Engine:
		m.eng = engineSync{e}
	case syncEngine:
		m.eng = e
	}
	return m
}

// apply carries out --start-daemon and --stop-daemon.
func (m *syncManager) apply(c config.Command) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Op == config.OpStopDaemon {
		return m.stop(c.Daemon.State)
	}
	return m.start(c.Daemon)
}

// slot returns the daemon variable of state.
func (m *syncManager) slot(state string) (**syncDaemon, error) {
	switch state {
	case syncMaster:
		return &m.master, nil
	case syncBackup:
		return &m.backup, nil
	}
	return nil, fmt.Errorf("sync daemon state %q: want master or backup: %w", state, config.ErrInvalid)
}

// start starts a daemon with o. m.mu must be held.
func (m *syncManager) start(o config.DaemonOptions) error {
	what := "start-daemon " + o.State
	slot, err := m.slot(o.State)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if *slot != nil {
		return fmt.Errorf("%s: %w", what, config.ErrDaemonRunning)
	}
	if m.eng == nil {
		return fmt.Errorf("%s: the data path cannot sync connections: %w", what, config.ErrNotSupported)
	}
	if o.McastIfn == "" {
		return fmt.Errorf("%s: no --mcast-interface: %w", what, config.ErrInvalid)
	}
	if o.McastGroup.IsValid() && (!o.McastGroup.Is4() || !o.McastGroup.IsMulticast()) {
		return fmt.Errorf("%s: group %v is not an IPv4 multicast address: %w", what, o.McastGroup, config.ErrInvalid)
	}
	if int(o.SyncMaxLen) > ipvssync.MaxMaxLen {
		return fmt.Errorf("%s: sync-maxlen %d above %d: %w", what, o.SyncMaxLen, ipvssync.MaxMaxLen, config.ErrInvalid)
	}
	st := ctl.DaemonStatus{State: o.State, Interface: o.McastIfn, SyncID: o.SyncID, MaxLen: int(o.SyncMaxLen),
		Group: o.McastGroup, Port: o.McastPort, TTL: o.McastTTL}
	if !st.Group.IsValid() {
		st.Group = ipvssync.DefaultGroup()
	}
	if st.Port == 0 {
		st.Port = ipvssync.DefaultPort
	}
	if st.TTL == 0 {
		st.TTL = ipvssync.DefaultTTL
	}
	var d *syncDaemon
	if o.State == syncMaster {
		d, err = m.startMaster(st)
	} else {
		d, err = m.startBackup(st)
	}
	if err != nil {
		return fmt.Errorf("%s on %s: %w", what, o.McastIfn, err)
	}
	*slot = d
	m.log.Info("sync daemon started", "state", st.State, "interface", st.Interface, "syncid", st.SyncID,
		"maxlen", d.status.MaxLen, "group", st.Group, "port", st.Port, "ttl", st.TTL)
	return nil
}

// startMaster opens the sender and starts draining the workers' queues.
func (m *syncManager) startMaster(st ctl.DaemonStatus) (*syncDaemon, error) {
	if st.MaxLen == 0 {
		st.MaxLen = ipvssync.DefaultMaxLen
	}
	s := m.sysctls
	b, err := ipvssync.NewBatcher(ipvssync.BatcherConfig{SyncID: st.SyncID, V0: s.SyncVersion == 0, MaxLen: st.MaxLen, QlenMax: s.SyncQlenMax})
	if err != nil {
		return nil, err
	}
	snd, err := ipvssync.NewSender(ipvssync.SenderConfig{Interface: st.Interface, Group: st.Group, Port: st.Port,
		TTL: st.TTL, SockSize: s.SyncSockSize, Logger: m.log})
	if err != nil {
		return nil, err
	}
	src := m.eng.startMaster(s)
	ctx, cancel := context.WithCancel(context.Background())
	d := &syncDaemon{status: st, cancel: cancel, done: make(chan struct{})}
	// statMu guards the Batcher and refused, which the goroutine below
	// and stats share.
	var statMu sync.Mutex
	var refused uint64 // entries the Batcher refused (v0 cannot carry them)
	d.stats = func() map[string]uint64 {
		statMu.Lock()
		defer statMu.Unlock()
		bs, ss := b.Stats(), snd.Stats()
		return map[string]uint64{"entries": bs.Entries, "messages": bs.Messages, "sent": ss.Sent,
			"send_failed": ss.Failed, "queue_dropped": src.Dropped(), "message_dropped": bs.Dropped, "refused": refused}
	}
	go func() {
		defer close(d.done)
		defer snd.Close()
		// The kernel's master thread wakes SendDelay after a full
		// message and every CheckPeriod; draining every SendDelay
		// covers both.
		t := time.NewTicker(ipvssync.SendDelay)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				statMu.Lock()
				src.Drain(func(e *ipvssync.Entry) {
					if err := b.Add(now, e); err != nil {
						refused++
					}
				})
				for {
					msg, ok := b.Next(now)
					if !ok {
						break
					}
					if err := snd.Send(msg); err != nil {
						m.log.Debug("sync send", "err", err)
					}
				}
				statMu.Unlock()
			}
		}
	}()
	return d, nil
}

// startBackup joins the group and hands what arrives to the workers.
func (m *syncManager) startBackup(st ctl.DaemonStatus) (*syncDaemon, error) {
	s := m.sysctls
	rcv, err := ipvssync.NewReceiver(ipvssync.ReceiverConfig{Interface: st.Interface, Group: st.Group, Port: st.Port,
		SyncID: st.SyncID, MaxLen: st.MaxLen, SockSize: s.SyncSockSize, Logger: m.log})
	if err != nil {
		return nil, err
	}
	st.MaxLen = rcv.MaxLen()
	sink := m.eng.startBackup(s.SyncThreshold)
	ctx, cancel := context.WithCancel(context.Background())
	d := &syncDaemon{status: st, cancel: cancel, done: make(chan struct{})}
	d.stats = func() map[string]uint64 {
		rs, bs := rcv.Stats(), sink.Stats()
		return map[string]uint64{"messages": rs.Messages, "entries": rs.Entries, "skipped": rs.Skipped,
			"bad_messages": rs.BadMessages, "wrong_syncid": rs.WrongSyncID, "truncated": rs.Truncated,
			"created": bs.Created, "updated": bs.Updated, "replaced": bs.Replaced, "ignored": bs.Ignored,
			"templates": bs.Templates, "no_service": bs.NoService, "no_dest": bs.NoDest, "failed": bs.Failed,
			"bad_state": bs.BadState, "no_local": bs.NoLocal, "inbox_dropped": bs.Dropped}
	}
	go func() {
		defer close(d.done)
		err := rcv.Run(ctx, func(_ netip.AddrPort, msg ipvssync.Message) { sink.Deliver(msg) })
		if err != nil && !errors.Is(err, context.Canceled) {
			m.log.Error("sync backup stopped", "interface", st.Interface, "err", err)
		}
	}()
	return d, nil
}

// stop stops the daemon of state. m.mu must be held.
func (m *syncManager) stop(state string) error {
	what := "stop-daemon " + state
	slot, err := m.slot(state)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	d := *slot
	if d == nil {
		return fmt.Errorf("%s: %w", what, config.ErrNoDaemon)
	}
	// Unsent messages are discarded, as the kernel's stop does.
	d.cancel()
	<-d.done
	if state == syncMaster {
		m.eng.stopMaster()
	} else {
		m.eng.stopBackup()
	}
	*slot = nil
	m.log.Info("sync daemon stopped", "state", state)
	return nil
}

// stopAll stops every daemon (the director is shutting down).
func (m *syncManager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range []string{syncMaster, syncBackup} {
		if sl, _ := m.slot(s); *sl != nil {
			m.stop(s)
		}
	}
}

// status lists the running daemons, master first.
func (m *syncManager) status() []ctl.DaemonStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ctl.DaemonStatus
	for _, d := range []*syncDaemon{m.master, m.backup} {
		if d != nil {
			st := d.status
			st.Stats = d.stats()
			out = append(out, st)
		}
	}
	return out
}

// keepalivedOptions turns lvs_sync_daemon into --start-daemon options for state.
func keepalivedOptions(sd *config.SyncDaemon, state string) config.DaemonOptions {
	return config.DaemonOptions{State: state, McastIfn: sd.Interface, SyncID: sd.SyncID, McastGroup: sd.Group,
		McastPort: sd.Port, McastTTL: sd.TTL, SyncMaxLen: sd.MaxLen}
}

// configure sets lvs_sync_daemon: the daemons it started are stopped, and
// a new one starts as backup, as keepalived does at start before any VRRP
// transition. nil just stops them.
func (m *syncManager) configure(sd *config.SyncDaemon) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keepalived != nil {
		m.stopRoles()
	}
	m.keepalived = sd
	if sd == nil {
		return nil
	}
	return m.start(keepalivedOptions(sd, syncBackup))
}

// stopRoles stops whichever daemon is running. m.mu must be held.
func (m *syncManager) stopRoles() {
	if m.master != nil {
		m.stop(syncMaster)
	}
	if m.backup != nil {
		m.stop(syncBackup)
	}
}

// setRole switches lvs_sync_daemon to master or backup, as keepalived does
// on a VRRP transition (ipvs_syncd_master / ipvs_syncd_backup): the other
// daemon stops, this one starts; nothing happens when it already runs.
func (m *syncManager) setRole(master bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sd := m.keepalived
	if sd == nil {
		return fmt.Errorf("sync role: no lvs_sync_daemon configured: %w", config.ErrNoDaemon)
	}
	want, other := syncBackup, syncMaster
	if master {
		want, other = syncMaster, syncBackup
	}
	if sl, _ := m.slot(other); *sl != nil {
		m.stop(other)
	}
	if sl, _ := m.slot(want); *sl != nil {
		return nil
	}
	return m.start(keepalivedOptions(sd, want))
}

// syncSysctls applies the sync sysctls of a configuration over the
// kernel's defaults, refusing what the kernel refuses.
func syncSysctls(set []config.SyncSysctl) (ipvssync.Sysctls, error) {
	s := ipvssync.DefaultSysctls()
	for _, kv := range set {
		if err := s.Set(kv.Name, kv.Value); err != nil {
			return s, fmt.Errorf("sysctl: %w", err)
		}
	}
	return s, nil
}

// syncFollows reports whether the configured lvs_sync_daemon follows the
// vrrp_instance named instance.
func (d *Director) syncFollows(instance string) bool {
	d.sync.mu.Lock()
	defer d.sync.mu.Unlock()
	return d.sync.keepalived != nil && d.sync.keepalived.Instance == instance
}

// reloadSync applies a reloaded file's lvs_sync_daemon: nothing when it is
// unchanged, else ConfigureSync (the daemon restarts as backup; the VRRP
// code calls SetSyncRole again for a master). It reports whether it
// changed anything.
func (d *Director) reloadSync(sd *config.SyncDaemon) (bool, error) {
	d.sync.mu.Lock()
	old := d.sync.keepalived
	d.sync.mu.Unlock()
	if (old == nil && sd == nil) || (old != nil && sd != nil && *old == *sd) {
		return false, nil
	}
	return true, d.ConfigureSync(sd)
}

// setSysctls replaces the sync sysctls; daemons started afterwards use them.
func (m *syncManager) setSysctls(s ipvssync.Sysctls) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("sync sysctls: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sysctls = s
	return nil
}

// SetSyncRole switches the lvs_sync_daemon of the configuration (see
// ConfigureSync) to master (true: send this director's connections) or
// backup (false: receive the peer's), as keepalived does on a VRRP
// transition to MASTER, or to BACKUP or FAULT. It returns an error
// wrapping config.ErrNoDaemon when no lvs_sync_daemon is configured, and
// the socket's error when the new daemon cannot start.
func (d *Director) SetSyncRole(master bool) error { return d.sync.setRole(master) }

// ConfigureSync installs keepalived's lvs_sync_daemon (config.File.Sync)
// and starts it as backup, as keepalived does before any VRRP transition,
// until SetSyncRole(true). When a lvs_sync_daemon was configured before,
// the running daemons (whoever started them) stop first; nil only stops
// them. Starting fails with config.ErrDaemonRunning when ulvsadm
// --start-daemon already started a backup.
func (d *Director) ConfigureSync(sd *config.SyncDaemon) error { return d.sync.configure(sd) }

// SetSyncSysctls sets the sync sysctls (sync_threshold, sync_period,
// sync_refresh_period, sync_retries, sync_qlen_max, sync_sock_size,
// sync_version, sync_persist_mode) for the daemons started afterwards,
// refusing what the kernel refuses. sync_ports above 1 is accepted but
// the master sends on one port only.
func (d *Director) SetSyncSysctls(s ipvssync.Sysctls) error { return d.sync.setSysctls(s) }
