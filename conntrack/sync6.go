package conntrack

import (
	"time"

	"github.com/ulvs/ulvs/vs"
)

// Synced6 is Synced for an IPv6 connection (an ip_vs_sync_v6 entry).
type Synced6 struct {
	Key Key6
	// Out is the reply key of a NAT66 or FULLNAT connection (HasOut); for
	// FULLNAT it names the master's local address and port.
	Out      Key6
	HasOut   bool
	SvcID    uint32
	State    State
	Inactive bool
	Timeout  time.Duration
	InPkts   uint32
}

// InsertSynced applies a synced IPv6 connection with the rules of
// Table.InsertSynced (ip_vs_proc_conn); a reply key in use makes it fail
// (InsertNAT refuses it). A new connection has no client neighbour: the
// worker sets it from the entry (ipvssync.OptULVSNeigh) or records it at
// the client's first packet to this director.
func (t *Table6) InsertSynced(s *Synced6, d *vs.Dest, now Tick, dests Dests) (*Conn6, SyncResult) {
	c := t.Lookup(s.Key, now, dests)
	var res SyncResult
	if c == nil {
		res = SyncCreated
	} else {
		res = syncPlan(&c.Conn, d, s.Inactive)
	}
	switch res {
	case SyncIgnored:
		return c, res
	case SyncReplaced:
		t.Delete(c, dests)
		c = nil
	}
	if c == nil {
		if s.HasOut {
			c = t.InsertNAT(s.Key, s.Out, s.SvcID, d, now)
		} else {
			c = t.Insert(s.Key, s.SvcID, d, now)
		}
		if c == nil {
			return nil, SyncFailed
		}
	}
	syncApply(&c.Conn, d, s.Inactive, res, s.State, s.Timeout, s.InPkts, now)
	return c, res
}
