package director

import (
	"fmt"
	"time"
)

// warmup holds the announcements back after ulvsd starts ([bgp] warmup),
// so that the routers send a new director no flow before it knows the
// other directors' connections (docs/scale-out.md). It ends at the first
// of: the warm-up time elapsed; or, with a backup sync daemon running,
// the sync created connections and then created none for warmupQuiet
// (what the other directors had to send has arrived: what follows would
// be their new connections, which arrive by sync anyway).
type warmup struct {
	until      time.Time // zero: no warm-up, or over
	quietSince time.Time // the sync's last new connection, or the start
	created    uint64    // the sync's count of created connections
	sampled    bool      // created has been read once
	heard      bool      // the sync created a connection since the start
}

// warmupQuiet is how long the sync must create no connection, after
// having created some, for the warm-up to end early.
const warmupQuiet = time.Second

// start begins a warm-up of d (nothing when d is 0).
func (w *warmup) start(now time.Time, d time.Duration) {
	*w = warmup{}
	if d > 0 {
		w.until, w.quietSince = now.Add(d), now
	}
}

// check returns whether the warm-up is over and why: over with a reason
// once, when it ends; over with "" after; not over with what it waits
// for. created is the backup sync daemon's count of connections created,
// syncing whether one runs.
func (w *warmup) check(now time.Time, created uint64, syncing bool) (why string, over bool) {
	if w.until.IsZero() {
		return "", true
	}
	if syncing {
		if w.sampled && created != w.created {
			w.heard, w.quietSince = true, now
		}
		w.created, w.sampled = created, true
	}
	switch {
	case !now.Before(w.until):
		w.until = time.Time{}
		return "the warm-up time elapsed", true
	case syncing && w.heard && now.Sub(w.quietSince) >= warmupQuiet:
		w.until = time.Time{}
		return fmt.Sprintf("the connection sync created no connection for %v: the other directors' connections have arrived", warmupQuiet), true
	case syncing:
		return fmt.Sprintf("warming up for %v more at most: waiting for the connection sync to bring the other directors' connections (until it creates none for %v)",
			w.until.Sub(now).Round(100*time.Millisecond), warmupQuiet), false
	}
	return fmt.Sprintf("warming up for %v more: no backup sync daemon runs, so the warm-up lasts its full time",
		w.until.Sub(now).Round(100*time.Millisecond)), false
}

// status is what `ulvs bgp status` shows of the warm-up ("" when over).
func (w *warmup) status() string {
	if w.until.IsZero() {
		return ""
	}
	return "warming up until " + w.until.UTC().Format("15:04:05.0") + " UTC at most"
}

// syncBackupCreated returns the connections the backup sync daemon has
// created, and whether one runs.
func (d *Director) syncBackupCreated() (uint64, bool) {
	for _, st := range d.sync.status() {
		if st.State == syncBackup {
			return st.Stats["created"], true
		}
	}
	return 0, false
}
