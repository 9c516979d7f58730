package engine

import (
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ipvssync"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

// syncRec is one connection or template travelling between a worker and
// the sync goroutines: a fixed-size, pointer-free copy of what a sync
// entry carries (ipvssync.Entry without the persistence engine data,
// which ulvs does not use).
type syncRec struct {
	caddr, vaddr, daddr, laddr [4]byte
	// v6: an IPv6 connection or template, its addresses in caddr6,
	// vaddr6 and daddr6 (an ip_vs_sync_v6 entry).
	v6                     bool
	caddr6, vaddr6, daddr6 [16]byte
	laddr6                 [16]byte // an IPv6 FULLNAT connection's local address (with hasLocal)
	// hasNeigh: a NAT66 connection's client neighbour (MAC, link index).
	hasNeigh                   bool
	neighMAC                   [6]byte
	neighLink                  uint8
	cport, vport, dport, lport uint16
	flags                      uint32
	fwmark                     uint32
	timeout                    uint32 // seconds; 0: none given (v0)
	state                      uint16
	proto                      uint8
	hasLocal                   bool
	// A SYN proxy connection's state (engine/synproxy.go, proxySync):
	// the sequence adjustment and the rest of synproxy.Conn.
	hasSeq, hasProxy bool
	inSeq, outSeq    ipvssync.Seq
	proxy            ipvssync.Proxy
}

// toEntry fills e from r.
func (r *syncRec) toEntry(e *ipvssync.Entry) {
	*e = ipvssync.Entry{
		Proto: r.proto, Flags: ipvssync.Flags(r.flags), State: r.state,
		CAddr: r.caddr, VAddr: r.vaddr, DAddr: r.daddr,
		IPv6: r.v6, CAddr6: r.caddr6, VAddr6: r.vaddr6, DAddr6: r.daddr6,
		HasNeigh: r.hasNeigh, NeighMAC: r.neighMAC, NeighLink: r.neighLink,
		CPort: r.cport, VPort: r.vport, DPort: r.dport,
		FwMark: r.fwmark, Timeout: r.timeout,
		HasLocal: r.hasLocal, LAddr: r.laddr, LAddr6: r.laddr6, LPort: r.lport,
		HasSeq: r.hasSeq, InSeq: r.inSeq, OutSeq: r.outSeq,
		HasProxy: r.hasProxy, Proxy: r.proxy,
	}
}

// fromEntry fills r from e.
func (r *syncRec) fromEntry(e *ipvssync.Entry) {
	*r = syncRec{
		proto: e.Proto, flags: uint32(e.Flags), state: e.State,
		caddr: e.CAddr, vaddr: e.VAddr, daddr: e.DAddr,
		v6: e.IPv6, caddr6: e.CAddr6, vaddr6: e.VAddr6, daddr6: e.DAddr6,
		hasNeigh: e.HasNeigh, neighMAC: e.NeighMAC, neighLink: e.NeighLink,
		cport: e.CPort, vport: e.VPort, dport: e.DPort,
		fwmark: e.FwMark, timeout: e.Timeout,
		hasLocal: e.HasLocal, laddr: e.LAddr, laddr6: e.LAddr6, lport: e.LPort,
		hasSeq: e.HasSeq, inSeq: e.InSeq, outSeq: e.OutSeq,
		hasProxy: e.HasProxy, proxy: e.Proxy,
	}
}

// syncRing is a bounded single-producer single-consumer queue of syncRecs,
// preallocated: push and pop take no lock and never allocate. A push onto
// a full ring fails and is counted in drops.
type syncRing struct {
	head atomic.Uint64 // next slot to pop; written by the consumer
	// done counts the records the consumer has finished with, after
	// pop: a backup's inbox is through when done reaches tail (head
	// moves before the record is applied). The consumer's, as head.
	done  atomic.Uint64
	_     [48]byte
	tail  atomic.Uint64 // next slot to push; written by the producer
	_     [56]byte
	drops atomic.Uint64
	buf   []syncRec
	mask  uint64
}

// newSyncRing returns a ring of at least n slots (a power of two, 2 at
// least).
func newSyncRing(n int) *syncRing {
	size := 2
	for size < n {
		size <<= 1
	}
	return &syncRing{buf: make([]syncRec, size), mask: uint64(size - 1)}
}

// push appends r; it reports false, counting a drop, when the ring is full.
// Only the producer calls it.
func (q *syncRing) push(r *syncRec) bool {
	t := q.tail.Load()
	if t-q.head.Load() > q.mask {
		q.drops.Add(1)
		return false
	}
	q.buf[t&q.mask] = *r
	q.tail.Store(t + 1)
	return true
}

// pop takes the oldest record into r; it reports false when the ring is
// empty. Only the consumer calls it.
func (q *syncRing) pop(r *syncRec) bool {
	h := q.head.Load()
	if h == q.tail.Load() {
		return false
	}
	*r = q.buf[h&q.mask]
	q.head.Store(h + 1)
	return true
}

// DefaultSyncQueue is the per-worker sync queue length, in entries, when
// StartSyncMaster or StartSyncBackup is given 0.
const DefaultSyncQueue = 4096

// syncMaster is a running master: the sysctls its decisions use and one
// queue per worker.
type syncMaster struct {
	sysctls ipvssync.Sysctls
	rings   []*syncRing
}

// SyncSource is the master side of connection sync as the engine offers it:
// the workers put the connections ShouldSync selects (and their templates)
// into per-worker queues, and the sync sender drains them with Drain.
type SyncSource struct {
	m   *syncMaster
	rec syncRec
	ent ipvssync.Entry // Drain's scratch, kept here so Drain does not allocate
}

// StartSyncMaster makes the workers emit connection sync entries, deciding
// with s as the kernel's ip_vs_sync_conn does, into per-worker queues of
// queueLen entries (0: DefaultSyncQueue). It replaces a master started
// before. The workers pick it up at their next batch.
func (e *Engine) StartSyncMaster(s ipvssync.Sysctls, queueLen int) *SyncSource {
	if queueLen <= 0 {
		queueLen = DefaultSyncQueue
	}
	m := &syncMaster{sysctls: s}
	for range e.workers {
		m.rings = append(m.rings, newSyncRing(queueLen))
	}
	e.syncMaster.Store(m)
	return &SyncSource{m: m}
}

// StopSyncMaster stops the emission of sync entries.
func (e *Engine) StopSyncMaster() { e.syncMaster.Store(nil) }

// Drain hands every queued entry to fn, worker by worker, and returns how
// many it handed. fn must not keep the pointer. Drain is called by one
// goroutine at a time.
func (s *SyncSource) Drain(fn func(*ipvssync.Entry)) int {
	n := 0
	for _, q := range s.m.rings {
		for q.pop(&s.rec) {
			s.rec.toEntry(&s.ent)
			fn(&s.ent)
			n++
		}
	}
	return n
}

// Dropped returns the entries lost because a worker's queue was full.
func (s *SyncSource) Dropped() uint64 {
	var n uint64
	for _, q := range s.m.rings {
		n += q.drops.Load()
	}
	return n
}

// syncClock is the engine's clock for sync decisions: monotonic, in the
// units ipvssync.ShouldSync takes.
func syncClock() time.Duration { return time.Since(epoch) }

// syncEndFull widens a 32-bit stored sync end time (conntrack.Conn.SyncEnd)
// back to milliseconds on syncClock; 0 means never synced.
func syncEndFull(stored uint32, nowMs int64) int64 {
	if stored == 0 {
		return 0
	}
	return nowMs + int64(int32(stored-uint32(nowMs)))
}

// syncEndStored narrows an end time for conntrack.Conn.SyncEnd, keeping 0
// for "never".
func syncEndStored(end int64) uint32 {
	if v := uint32(end); v != 0 {
		return v
	}
	return 4 // a multiple of 4 with no retries: 4 ms later than 0
}

// methodFlags returns the IP_VS_CONN_F forwarding method of m.
func methodFlags(m vs.Method) ipvssync.Flags {
	switch m {
	case vs.Route:
		return ipvssync.FlagDRoute
	case vs.Tunnel:
		return ipvssync.FlagTunnel
	case vs.FullNAT:
		return ipvssync.FlagFullNAT
	}
	return ipvssync.FlagMasq
}

// wireState returns the sync entry state of a connection state: the TCP
// states as they are, 0 for UDP.
func wireState(s conntrack.State) uint16 {
	if s == conntrack.StateUDP {
		return 0
	}
	return uint16(s)
}

// syncConn is ip_vs_sync_conn for connection c after a client packet: it
// counts the packet, asks ShouldSync and queues c, then does the same for
// c's persistence template. Called only while a master runs; it does not
// allocate.
func (w *worker) syncConn(c *conntrack.Conn, tbl *vs.Table, d *vs.Dest, now conntrack.Tick) {
	sd := w.syncDecide(c, tbl, d, now)
	if sd.send {
		w.pushSync(c, d, &sd)
	}
	if c.Tmpl != 0 {
		w.syncTemplate(c, tbl, sd.fwmark, sd.nowMs)
	}
}

// syncConn6 is syncConn for an IPv6 connection: the same decisions, an
// IPv6 entry (ip_vs_sync_v6).
func (w *worker) syncConn6(c *conntrack.Conn6, tbl *vs.Table, d *vs.Dest, now conntrack.Tick) {
	sd := w.syncDecide(&c.Conn, tbl, d, now)
	if sd.send {
		w.pushSync6(c, d, &sd)
	}
	if c.Tmpl != 0 {
		w.syncTemplate(&c.Conn, tbl, sd.fwmark, sd.nowMs)
	}
}

// syncOpened6 is syncOpened for an IPv6 proxied connection.
func (w *worker) syncOpened6(c *conntrack.Conn6, tbl *vs.Table, d *vs.Dest, now conntrack.Tick) {
	sd := openedDecision(&c.Conn, tbl, d, now)
	w.pushSync6(c, d, &sd)
}

// pushSync6 is pushSync for IPv6 connection c: an IPv6 entry with the
// client neighbour (OptULVSNeigh) of a NAT66 or FULLNAT connection, the
// local address and port of a FULLNAT one (its reply key's destination,
// OptULVSLocal6) and the translation state of an open proxied one
// (SEQ_DATA and OptULVSSynProxy, as IPv4); a proxied connection still
// opening is not sent.
func (w *worker) pushSync6(c *conntrack.Conn6, d *vs.Dest, sd *syncDecision) {
	r := &w.syncRec
	*r = syncRec{
		proto: c.Key.Proto, flags: uint32(sd.flags), state: sd.state,
		v6: true, caddr6: c.Key6.Src, vaddr6: c.Key6.Dst, daddr6: d.Addr.As16(),
		cport: c.Key6.SrcPort, vport: c.Key6.DstPort, dport: destPortOf(d, c.Key6.DstPort),
		fwmark: sd.fwmark, timeout: uint32((sd.timeout + time.Second - 1) / time.Second),
	}
	r.hasNeigh, r.neighMAC, r.neighLink = neigh6(c, d)
	if d.Method == vs.FullNAT && c.Flags&conntrack.FlagNoOutput == 0 {
		r.hasLocal, r.laddr6, r.lport = true, c.Out6.Dst, c.Out6.DstPort
	}
	if proxyRec(r, w.proxyConn6(c)) {
		w.master.rings[w.index].push(r)
	}
}

// proxyRec puts the translation state of proxied connection sp (nil: not
// proxied) into r; it reports false for one still opening, which is not
// sent: it would reach the backup without it.
func proxyRec(r *syncRec, sp *synproxy.Conn) bool {
	if sp == nil {
		return true
	}
	if sp.Phase != synproxy.PhaseOpen {
		return false
	}
	var fl ipvssync.Flags
	fl, r.inSeq, r.outSeq, r.proxy = proxySync(sp)
	r.flags |= uint32(fl)
	r.hasSeq, r.hasProxy = true, true
	return true
}

// neigh6 is the client neighbour a NAT66 or IPv6 FULLNAT connection's
// entry carries (ipvssync.OptULVSNeigh): where its replies go back to.
func neigh6(c *conntrack.Conn6, d *vs.Dest) (bool, [6]byte, uint8) {
	if d.Method != vs.Masq && d.Method != vs.FullNAT || c.ClientMAC == ([6]byte{}) {
		return false, [6]byte{}, 0
	}
	return true, c.ClientMAC, c.ClientLink
}

// syncDecision is what syncDecide found for a connection.
type syncDecision struct {
	send    bool
	flags   ipvssync.Flags
	state   uint16
	fwmark  uint32
	timeout time.Duration
	nowMs   int64
}

// syncDecide counts the packet into c's sync memory and asks ShouldSync
// whether c goes to the backups now.
func (w *worker) syncDecide(c *conntrack.Conn, tbl *vs.Table, d *vs.Dest, now conntrack.Tick) syncDecision {
	m := w.master
	sd := syncDecision{nowMs: w.syncNow.Milliseconds(), timeout: time.Duration(c.Expires.Sub(now)) * time.Millisecond}
	sd.flags = methodFlags(d.Method) | ipvssync.Flags(c.Flags&(conntrack.FlagNoOutput|conntrack.FlagInactive))
	sd.state = wireState(c.State)
	sc := ipvssync.Conn{Proto: c.Key.Proto, Flags: sd.flags, State: sd.state, Timeout: sd.timeout, InPersistence: c.Tmpl != 0}
	st := ipvssync.SyncState{OldState: uint16(c.SyncOld), EndTime: syncEndFull(c.SyncEnd, sd.nowMs)}
	sd.send, st = ipvssync.ShouldSync(&m.sysctls, sc, st, int(c.InPkts), w.syncNow)
	c.SyncOld, c.SyncEnd = uint8(st.OldState), syncEndStored(st.EndTime)
	if svc := tbl.Service(c.SvcID); svc != nil {
		sd.fwmark = svc.FwMark
	}
	return sd
}

// syncOpened queues a proxied connection for the sync master when it
// opens, whatever ShouldSync would say.
func (w *worker) syncOpened(c *conntrack.Conn, tbl *vs.Table, d *vs.Dest, now conntrack.Tick) {
	sd := openedDecision(c, tbl, d, now)
	w.pushSync(c, d, &sd)
}

// openedDecision is what a proxied connection that just opened is sent
// with: its flags, state, fwmark and remaining timeout.
func openedDecision(c *conntrack.Conn, tbl *vs.Table, d *vs.Dest, now conntrack.Tick) syncDecision {
	sd := syncDecision{send: true, state: wireState(c.State), timeout: time.Duration(c.Expires.Sub(now)) * time.Millisecond}
	sd.flags = methodFlags(d.Method) | ipvssync.Flags(c.Flags&(conntrack.FlagNoOutput|conntrack.FlagInactive))
	if svc := tbl.Service(c.SvcID); svc != nil {
		sd.fwmark = svc.FwMark
	}
	return sd
}

// pushSync queues connection c for the sync master. A SYN proxy
// connection goes only once open, with its translation state
// (proxySync); one still opening would reach the backup without it.
func (w *worker) pushSync(c *conntrack.Conn, d *vs.Dest, sd *syncDecision) {
	if !d.Addr.Is4() {
		return // an IPv6 tunnel real server: an IPv4 sync entry cannot name it (not synced yet, issue #17)
	}
	r := &w.syncRec
	*r = syncRec{
		proto: c.Key.Proto, flags: uint32(sd.flags), state: sd.state,
		caddr: c.Key.Src, vaddr: c.Key.Dst, daddr: d.Addr.As4(),
		cport: c.Key.SrcPort, vport: c.Key.DstPort, dport: destPortOf(d, c.Key.DstPort),
		fwmark: sd.fwmark, timeout: uint32((sd.timeout + time.Second - 1) / time.Second),
	}
	if d.Method == vs.FullNAT && c.Flags&conntrack.FlagNoOutput == 0 {
		rk := w.ct.Out(c)
		r.hasLocal, r.laddr, r.lport = true, rk.Dst, rk.DstPort
	}
	if proxyRec(r, w.proxyConn(c)) {
		w.master.rings[w.index].push(r)
	}
}

// syncTemplate is the controller half of ip_vs_sync_conn: the template of
// a connection is considered (its own packet count incremented) on every
// packet of the connection, synced or not.
func (w *worker) syncTemplate(c *conntrack.Conn, tbl *vs.Table, fwmark uint32, nowMs int64) {
	m := w.master
	ts, ok := w.tmpls.ForSync(c.Tmpl)
	if !ok || ts.Key.Proto == 0 {
		// A fwmark template has protocol IPPROTO_IP, which the sync
		// backups ulvs talks to skip.
		return
	}
	d := tbl.Dest(ts.DestID)
	if d == nil || (ts.Key.Dst6 != [16]byte{}) != (d.Addr.Is6() && !d.Addr.Is4In6()) {
		// A tunnel real server of the other family: no sync entry holds
		// both (the kernel refuses them while a sync daemon runs).
		return
	}
	flags := methodFlags(d.Method) | ipvssync.FlagInactive | ipvssync.FlagTemplate
	state := uint16(ipvssync.TemplateNone)
	switch c.State {
	case conntrack.StateNone, conntrack.StateSynSent, conntrack.StateSynRecv, conntrack.StateSynAck, conntrack.StateListen, conntrack.StateUDP:
	default:
		// The kernel marks a template ASSURED once a connection under
		// it got past the handshake.
		state = ipvssync.TemplateAssured
	}
	timeout := time.Duration(ts.Timeout) * time.Millisecond
	sc := ipvssync.Conn{Proto: ts.Key.Proto, Flags: flags, State: state, Timeout: timeout}
	st := ipvssync.SyncState{OldState: uint16(ts.SyncOld), EndTime: syncEndFull(ts.SyncEnd, nowMs)}
	send, st := ipvssync.ShouldSync(&m.sysctls, sc, st, int(ts.InPkts), w.syncNow)
	w.tmpls.SetSyncState(c.Tmpl, uint8(st.OldState), syncEndStored(st.EndTime))
	if !send {
		return
	}
	r := &w.syncRec
	*r = syncRec{
		proto: ts.Key.Proto, flags: uint32(flags), state: state,
		vport: ts.Key.DstPort, dport: d.Port,
		fwmark: fwmark, timeout: uint32(timeout / time.Second),
	}
	setAddrs(r, ts.Key, d)
	m.rings[w.index].push(r)
}

// setAddrs puts the addresses of template k on dest d into r: IPv4, or
// IPv6 for an IPv6 service's template.
func setAddrs(r *syncRec, k conntrack.TemplateKey, d *vs.Dest) {
	if d.Addr.Is6() {
		r.v6, r.caddr6, r.vaddr6, r.daddr6 = true, k.Src6, k.Dst6, d.Addr.As16()
		return
	}
	r.caddr, r.vaddr, r.daddr = k.Src, k.Dst, d.Addr.As4()
}

// destPortOf is the real server port of a connection to vport on d.
func destPortOf(d *vs.Dest, vport uint16) uint16 {
	if d.Port != 0 {
		return d.Port
	}
	return vport
}
