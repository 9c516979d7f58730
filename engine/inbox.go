package engine

import (
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ipvssync"
	"github.com/ulvs/ulvs/vs"
)

// templateV0Timeout is what a kernel backup gives a template whose message
// carried no timeout (v0): 3 minutes (ip_vs_proc_conn).
const templateV0Timeout = 180 * time.Second

// syncBackup is a running backup: one inbox per worker, fed by the
// receiver's goroutine (the single producer) and drained by the worker
// between batches.
type syncBackup struct {
	threshold uint32
	inboxes   []*syncRing
	stats     syncBackupCounters
}

// syncBackupCounters count what the backup did with the entries.
type syncBackupCounters struct {
	created, updated, replaced, ignored, templates atomic.Uint64
	noService, noDest, failed, badState, noLocal   atomic.Uint64
}

// SyncBackupStats count what a backup did with the entries it received.
type SyncBackupStats struct {
	Created   uint64 // new connections
	Updated   uint64 // existing connections updated
	Replaced  uint64 // existing connections to another real server replaced
	Ignored   uint64 // INACTIVE entries for replaced connections
	Templates uint64 // persistence templates created or refreshed
	NoService uint64 // no service of ours matches the entry: dropped
	NoDest    uint64 // the entry's real server is not in our service: dropped
	Failed    uint64 // connection table full or reply key taken
	BadState  uint64 // a TCP state beyond the protocol's table
	NoLocal   uint64 // a FULLNAT entry without its local address
	Dropped   uint64 // a worker's inbox was full
}

// SyncSink is the backup side of connection sync as the engine offers it:
// Deliver routes each received entry to the worker that owns its flow.
type SyncSink struct {
	e   *Engine
	b   *syncBackup
	rec syncRec
}

// StartSyncBackup makes the engine accept synced connections: Deliver
// queues each to the worker the fanout hash gives the flow's client side
// (inboxes of queueLen entries, 0: DefaultSyncQueue), which inserts it
// into its own table between batches with the kernel backup's rules; a
// synced connection's packet count starts at threshold (sync_threshold).
// It replaces a backup started before.
func (e *Engine) StartSyncBackup(threshold, queueLen int) *SyncSink {
	if queueLen <= 0 {
		queueLen = DefaultSyncQueue
	}
	b := &syncBackup{threshold: uint32(max(threshold, 0))}
	for range e.workers {
		b.inboxes = append(b.inboxes, newSyncRing(queueLen))
	}
	e.syncBackup.Store(b)
	return &SyncSink{e: e, b: b}
}

// StopSyncBackup stops accepting synced connections; those in the tables
// stay until they expire.
func (e *Engine) StopSyncBackup() { e.syncBackup.Store(nil) }

// Deliver applies one received message: templates go into the shared
// template table at once, connections to their owner worker's inbox.
// Call it from one goroutine (the receiver's).
func (s *SyncSink) Deliver(m ipvssync.Message) {
	if len(m.Entries) == 0 {
		return
	}
	s.e.mu.Lock()
	wide := len(s.e.vips) > maxFanoutVIPs
	n6 := len(s.e.vips6)
	if s.e.wide6 {
		n6 = 0 // the fanout program sends all IPv6 to worker 0
	}
	s.e.mu.Unlock()
	tbl := s.e.table.Load()
	for i := range m.Entries {
		en := &m.Entries[i]
		if en.IsTemplate() {
			s.e.syncTemplateIn(s.b, en, tbl)
			continue
		}
		s.rec.fromEntry(en)
		w := ownerWorker(&s.rec, len(s.b.inboxes), wide, n6)
		s.b.inboxes[w].push(&s.rec)
	}
}

// Stats returns the backup's counters.
func (s *SyncSink) Stats() SyncBackupStats {
	c := &s.b.stats
	st := SyncBackupStats{
		Created: c.created.Load(), Updated: c.updated.Load(), Replaced: c.replaced.Load(),
		Ignored: c.ignored.Load(), Templates: c.templates.Load(), NoService: c.noService.Load(),
		NoDest: c.noDest.Load(), Failed: c.failed.Load(), BadState: c.badState.Load(), NoLocal: c.noLocal.Load(),
	}
	for _, q := range s.b.inboxes {
		st.Dropped += q.drops.Load()
	}
	return st
}

// maxFanoutVIPs is how many VIPs fanoutProgram lists; with more, traffic to
// VIPs hashes on its destination.
const maxFanoutVIPs = 100

// ownerWorker returns the worker the fanout program sends r's client
// packets to: the hash of the client address and port (of the VIP and
// port when the program lists no VIPs), modulo the number of workers. An
// IPv6 client hashes on the last 32 bits of its address, and all IPv6
// goes to worker 0 when the director has no IPv6 VIP or more than the
// program compares (vips6 is how many it has).
func ownerWorker(r *syncRec, workers int, wide bool, vips6 int) int {
	if workers <= 1 {
		return 0
	}
	if r.v6 {
		if vips6 == 0 || vips6 > maxFanoutVIPs6 {
			return 0
		}
		return int(fanoutHash([4]byte(r.caddr6[12:]), r.cport) % uint32(workers))
	}
	if wide {
		return int(fanoutHash(r.vaddr, r.vport) % uint32(workers))
	}
	return int(fanoutHash(r.caddr, r.cport) % uint32(workers))
}

// syncDest finds the service and real server of ours that a synced entry
// names (ip_vs_find_dest): the service a packet to the entry's virtual
// address and port finds, and in it the dest with the entry's address and
// port.
func syncDest(tbl *vs.Table, proto uint8, caddr, vaddr, daddr [4]byte, vport, dport uint16) (*vs.Service, *vs.Dest) {
	svc := tbl.LookupFrom(vs.Protocol(proto), caddr, vaddr, vport)
	if svc == nil {
		return nil, nil
	}
	for _, d := range svc.Dests {
		if !d.Trashed && d.Addr.Is4() && d.Addr.As4() == daddr && destPortOf(d, vport) == dport {
			return svc, d
		}
	}
	return svc, nil
}

// resolve is syncDest counting the entries it cannot place; d is nil for
// those.
func (b *syncBackup) resolve(tbl *vs.Table, proto uint8, caddr, vaddr, daddr [4]byte, vport, dport uint16) (svc *vs.Service, d *vs.Dest) {
	return b.counted(syncDest(tbl, proto, caddr, vaddr, daddr, vport, dport))
}

// counted counts an entry whose service or dest was not found.
func (b *syncBackup) counted(svc *vs.Service, d *vs.Dest) (*vs.Service, *vs.Dest) {
	switch {
	case svc == nil:
		b.stats.noService.Add(1)
	case d == nil:
		b.stats.noDest.Add(1)
	}
	return svc, d
}

// syncDest6 is syncDest for an IPv6 entry: as the kernel's
// ip_vs_find_dest, the IPv6 service of the entry's fwmark first (a v1
// entry carries it), then by address, protocol and port.
func syncDest6(tbl *vs.Table, fwmark uint32, proto uint8, vaddr, daddr [16]byte, vport, dport uint16) (*vs.Service, *vs.Dest) {
	svc := tbl.Lookup6Mark(fwmark, vs.Protocol(proto), vaddr, vport)
	if svc == nil {
		return nil, nil
	}
	for _, d := range svc.Dests {
		if !d.Trashed && d.Addr.Is6() && d.Addr.As16() == daddr && destPortOf(d, vport) == dport {
			return svc, d
		}
	}
	return svc, nil
}

// resolveRec is resolve for a queued record of either family.
func (b *syncBackup) resolveRec(tbl *vs.Table, r *syncRec) (*vs.Service, *vs.Dest) {
	if !r.v6 {
		return b.resolve(tbl, r.proto, r.caddr, r.vaddr, r.daddr, r.vport, r.dport)
	}
	return b.counted(syncDest6(tbl, r.fwmark, r.proto, r.vaddr6, r.daddr6, r.vport, r.dport))
}

// syncTemplateIn applies a synced template to the shared template table.
func (e *Engine) syncTemplateIn(b *syncBackup, en *ipvssync.Entry, tbl *vs.Table) {
	var r syncRec
	r.fromEntry(en)
	svc, d := b.resolveRec(tbl, &r)
	if d == nil {
		return
	}
	timeout := time.Duration(en.Timeout) * time.Second
	if en.Timeout == 0 {
		timeout = templateV0Timeout
	}
	k := conntrack.TemplateKey{Proto: en.Proto, Src: en.CAddr, Dst: en.VAddr, DstPort: en.VPort}
	if en.IPv6 {
		k = conntrack.TemplateKey{Proto: en.Proto, Src6: en.CAddr6, Dst6: en.VAddr6, DstPort: en.VPort}
	}
	e.templates.SyncTemplate(k, svc.ID, svc.Timeout, d, timeout, tick())
	b.stats.templates.Add(1)
}

// drainInbox inserts the synced connections waiting in the worker's inbox.
func (w *worker) drainInbox(b *syncBackup, tbl *vs.Table, now conntrack.Tick) {
	q := b.inboxes[w.index]
	n := uint64(0)
	for q.pop(&w.syncRec) {
		w.applySynced(b, &w.syncRec, tbl, now)
		n++
	}
	if n > 0 {
		q.done.Add(n) // one write of the shared line per drain
	}
}

// applySynced is ip_vs_proc_conn for one connection entry.
func (w *worker) applySynced(b *syncBackup, r *syncRec, tbl *vs.Table, now conntrack.Tick) {
	svc, d := b.resolveRec(tbl, r)
	if d == nil {
		return
	}
	if r.v6 {
		w.applySynced6(b, r, svc, d, tbl, now)
		return
	}
	s := conntrack.Synced{
		Key:      conntrack.Key{Src: r.caddr, Dst: r.vaddr, SrcPort: r.cport, DstPort: r.vport, Proto: r.proto},
		SvcID:    svc.ID,
		Inactive: ipvssync.Flags(r.flags)&ipvssync.FlagInactive != 0,
		InPkts:   b.threshold,
	}
	var ok bool
	if s.State, ok = b.syncedState(r); !ok {
		return
	}
	switch d.Method {
	case vs.Masq:
		s.Out = conntrack.Key{Src: r.daddr, SrcPort: r.dport, Dst: r.caddr, DstPort: r.cport, Proto: r.proto}
		s.HasOut = true
	case vs.FullNAT:
		if !r.hasLocal {
			b.stats.noLocal.Add(1)
			return
		}
		s.Out = conntrack.Key{Src: r.daddr, SrcPort: r.dport, Dst: r.laddr, DstPort: r.lport, Proto: r.proto}
		s.HasOut = true
	}
	if r.timeout != 0 {
		s.Timeout = time.Duration(r.timeout) * time.Second
	} else {
		s.Timeout = w.ct.Timeouts().StateTimeout(r.proto, s.State)
	}
	c, res := w.ct.InsertSynced(&s, d, now, tbl)
	if r.hasProxy && r.hasSeq && c != nil && res != conntrack.SyncIgnored && !w.proxyRestore(c, r, tbl) {
		res = conntrack.SyncFailed
	}
	b.count(res)
}

// count counts what InsertSynced did.
func (b *syncBackup) count(res conntrack.SyncResult) {
	switch res {
	case conntrack.SyncCreated:
		b.stats.created.Add(1)
	case conntrack.SyncUpdated:
		b.stats.updated.Add(1)
	case conntrack.SyncReplaced:
		b.stats.replaced.Add(1)
	case conntrack.SyncIgnored:
		b.stats.ignored.Add(1)
	default:
		b.stats.failed.Add(1)
	}
}

// syncedState is the connection state of a synced entry; ok is false
// (counted) for a TCP state beyond the table.
func (b *syncBackup) syncedState(r *syncRec) (conntrack.State, bool) {
	if r.proto != ipvssync.ProtoTCP {
		return conntrack.StateUDP, true
	}
	if int(r.state) >= conntrack.NumTCPStates {
		b.stats.badState.Add(1)
		return 0, false
	}
	return conntrack.State(r.state), true
}

// applySynced6 is applySynced for an IPv6 entry (DR, TUN, NAT66 or
// FULLNAT, the last with its local address and port from
// ipvssync.OptULVSLocal6 as its reply key, counted in NoLocal without
// it). A NAT66 or FULLNAT connection's client neighbour comes with the
// entry (ipvssync.OptULVSNeigh, when the master knew it and the interface
// index exists here); otherwise it is learnt from the client's first
// packet here (inbound6), and its replies before that are dropped
// (no_neighbour). A proxied connection gets its translation state
// (proxyRestore6).
func (w *worker) applySynced6(b *syncBackup, r *syncRec, svc *vs.Service, d *vs.Dest, tbl *vs.Table, now conntrack.Tick) {
	if d.Method == vs.FullNAT && !r.hasLocal {
		// Without its local address the backup could not rewrite
		// the connection's packets.
		b.stats.noLocal.Add(1)
		return
	}
	st, ok := b.syncedState(r)
	if !ok {
		return
	}
	if w.ct6 == nil {
		w.ct6 = conntrack.NewTable6(w.ct, w.ct.Usable())
	}
	s := conntrack.Synced6{
		Key:      conntrack.Key6{Src: r.caddr6, Dst: r.vaddr6, SrcPort: r.cport, DstPort: r.vport, Proto: r.proto},
		SvcID:    svc.ID,
		State:    st,
		Inactive: ipvssync.Flags(r.flags)&ipvssync.FlagInactive != 0,
		InPkts:   b.threshold,
	}
	switch d.Method {
	case vs.Masq:
		s.Out = conntrack.Key6{Src: r.daddr6, SrcPort: r.dport, Dst: r.caddr6, DstPort: r.cport, Proto: r.proto}
		s.HasOut = true
	case vs.FullNAT:
		// The reply key names the master's local address and port:
		// taken here, no local port picked for another connection
		// can reuse it (localPort6 skips keys in use).
		s.Out = conntrack.Key6{Src: r.daddr6, SrcPort: r.dport, Dst: r.laddr6, DstPort: r.lport, Proto: r.proto}
		s.HasOut = true
	}
	if r.timeout != 0 {
		s.Timeout = time.Duration(r.timeout) * time.Second
	} else {
		s.Timeout = w.ct.Timeouts().StateTimeout(r.proto, st)
	}
	c, res := w.ct6.InsertSynced(&s, d, now, tbl)
	if c != nil && res != conntrack.SyncIgnored && r.hasNeigh && int(r.neighLink) < len(w.links) {
		c.ClientMAC, c.ClientLink = r.neighMAC, r.neighLink
	}
	if r.hasProxy && r.hasSeq && c != nil && res != conntrack.SyncIgnored && !w.proxyRestore6(c, r, tbl) {
		res = conntrack.SyncFailed
	}
	b.count(res)
}
