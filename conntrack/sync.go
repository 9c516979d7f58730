package conntrack

import (
	"time"

	"github.com/ulvs/ulvs/vs"
)

// Synced is a connection as a sync backup learns it from its master
// (ip_vs_proc_conn in ip_vs_sync.c), resolved against the backup's own
// table: SvcID and the dest passed to InsertSynced are the backup's.
type Synced struct {
	Key Key
	// Out is the reply key for NAT and FULLNAT (HasOut), as InsertNAT
	// takes it; for FULLNAT it names the master's local address and port.
	Out    Key
	HasOut bool
	SvcID  uint32
	State  State
	// Inactive is the entry's IP_VS_CONN_F_INACTIVE: the connection
	// counts in the dest's InactConns rather than its ActiveConns.
	Inactive bool
	// Timeout is the connection's timeout from now (the entry's, or the
	// state's when the message had none).
	Timeout time.Duration
	// InPkts is the backup's sync threshold: the kernel sets a synced
	// connection's packet count to it.
	InPkts uint32
}

// SyncResult says what InsertSynced did.
type SyncResult uint8

// Results of InsertSynced.
const (
	SyncCreated  SyncResult = iota // a new connection
	SyncUpdated                    // an existing connection took the entry's state
	SyncReplaced                   // an existing connection to another dest was ended and replaced
	SyncIgnored                    // an INACTIVE entry for a connection that now goes to another dest
	SyncFailed                     // the table is full, or the reply key is taken
)

// InsertSynced applies a synced connection to the table with the kernel
// backup's rules (ip_vs_proc_conn): a live connection with the same key
// and dest is updated (state, timeout, INACTIVE moved between the dest's
// counters, the rest of its flags kept); one with another dest is ended
// and replaced, unless the entry is INACTIVE (the stale end of a
// connection the master already replaced: ignored). A new connection gets
// FlagSync, FlagInactive from the entry, FlagNoOutput from d's method as
// Insert gives it, and counts in d like a scheduled one. In every applied
// case the state and timeout come from s and InPkts is set. d must be the
// backup's dest for the entry; dests resolves other connections' dests.
func (t *Table) InsertSynced(s *Synced, d *vs.Dest, now Tick, dests Dests) (*Conn, SyncResult) {
	c := t.Lookup(s.Key, now, dests)
	res := syncPlan(c, d, s.Inactive)
	switch res {
	case SyncIgnored:
		return c, res
	case SyncReplaced:
		t.Delete(c, dests)
		c = nil
	}
	if c == nil {
		if s.HasOut {
			if t.OutInUse(s.Out) {
				return nil, SyncFailed
			}
			c = t.InsertNAT(s.Key, s.Out, s.SvcID, d, now)
		} else {
			c = t.Insert(s.Key, s.SvcID, d, now)
		}
		if c == nil {
			return nil, SyncFailed
		}
	}
	syncApply(c, d, s.Inactive, res, s.State, s.Timeout, s.InPkts, now)
	return c, res
}

// syncPlan is what InsertSynced does about c, the live connection with
// the entry's key (nil when none), given the entry's dest d: update it,
// replace it, ignore the entry, or create the connection.
func syncPlan(c *Conn, d *vs.Dest, inactive bool) SyncResult {
	switch {
	case c == nil:
		return SyncCreated
	case c.DestID == d.ID:
		return SyncUpdated
	case inactive:
		return SyncIgnored
	}
	return SyncReplaced
}

// syncApply gives connection c (created or updated as res says) the
// entry's flags, state and timeout.
func syncApply(c *Conn, d *vs.Dest, inactive bool, res SyncResult, s State, timeout time.Duration, inPkts uint32, now Tick) {
	fresh := res != SyncUpdated
	if fresh {
		c.Flags |= FlagSync
	}
	syncActivate(c, d, inactive, fresh)
	c.State = s
	c.SyncOld = uint8(s)
	c.Expires = now.Add(capTimeout(timeout))
	c.InPkts = inPkts
}

// syncActivate moves a synced connection between d's active and inactive
// counters as the entry's INACTIVE flag says: a connection just inserted
// (fresh) counts as inactive, as Insert counted it; an existing one moves
// only when its flag changes.
func syncActivate(c *Conn, d *vs.Dest, inactive, fresh bool) {
	was := c.Flags&FlagInactive != 0
	if !fresh && was == inactive || fresh && inactive {
		return
	}
	if inactive {
		d.State.ActiveConns.Add(-1)
		d.State.InactConns.Add(1)
		c.Flags |= FlagInactive
	} else {
		d.State.ActiveConns.Add(1)
		d.State.InactConns.Add(-1)
		c.Flags &^= FlagInactive
	}
}

// SyncTemplate applies a synced persistence template (ip_vs_proc_conn for
// IP_VS_CONN_F_TEMPLATE): an existing hashed template for k is only
// refreshed (its timer restarts for timeout, as the kernel looks it up
// with ip_vs_ct_in_get and keeps its dest); otherwise a new one is made
// on d, counting in d's PersistConns. The template's own timeout, used
// when a connection refreshes it after a takeover, is the service's
// persistence timeout svcTimeoutSec. It reports whether a template was
// created.
func (ts *Templates) SyncTemplate(k TemplateKey, svcID, svcTimeoutSec uint32, d *vs.Dest, timeout time.Duration, now Tick) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if id, ok := ts.index[k]; ok {
		tp := &ts.slots[id-1]
		if e := now.Add(capTimeout(timeout)); tp.expires.Before(e) {
			tp.expires = e
		}
		return false
	}
	id := ts.alloc()
	ts.slots[id-1] = template{key: k, destID: d.ID, svcID: svcID, timeout: ticks(svcTimeoutSec),
		expires: now.Add(capTimeout(timeout)), hashed: true, used: true}
	ts.index[k] = id
	d.State.PersistConns.Add(1)
	return true
}

// TemplateSync is what a sync master needs of a template to send it.
type TemplateSync struct {
	Key     TemplateKey
	DestID  uint32
	Timeout Tick // the persistence timeout, in milliseconds
	// InPkts is the template's packet count after this call's increment
	// (the kernel's atomic_inc_return(&ct->in_pkts) in ip_vs_sync_conn).
	InPkts  uint32
	SyncOld uint8
	SyncEnd uint32
}

// ForSync increments template id's packet count and returns what a sync
// master needs to decide on and send it; ok is false when id names no
// live template. Record the decision with SetSyncState.
func (ts *Templates) ForSync(id uint32) (TemplateSync, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if id == 0 || int(id) > len(ts.slots) || !ts.slots[id-1].used {
		return TemplateSync{}, false
	}
	tp := &ts.slots[id-1]
	tp.inPkts++
	return TemplateSync{Key: tp.key, DestID: tp.destID, Timeout: tp.timeout, InPkts: tp.inPkts,
		SyncOld: tp.syncOld, SyncEnd: tp.syncEnd}, true
}

// SetSyncState records template id's sync decision memory.
func (ts *Templates) SetSyncState(id uint32, old uint8, end uint32) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if id != 0 && int(id) <= len(ts.slots) && ts.slots[id-1].used {
		ts.slots[id-1].syncOld, ts.slots[id-1].syncEnd = old, end
	}
}

// StateTimeout returns the timeout of state s for protocol proto (TCP, or
// anything else for UDP), as Step sets it: what a sync backup gives a
// connection whose message carried no timeout (v0).
func (t *Timeouts) StateTimeout(proto uint8, s State) time.Duration {
	return time.Duration(t.forState(proto, s)) * time.Millisecond
}

// capTimeout bounds a timeout from the wire to MaxTimeout, so a deadline
// never lies more than half the Tick range ahead.
func capTimeout(d time.Duration) time.Duration {
	return min(max(d, 0), time.Duration(MaxTimeout)*time.Second)
}
