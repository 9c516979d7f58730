package engine

import (
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ipvssync"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

// The SYN proxy (a service with vs.SvcSynProxy, NAT and FULLNAT only), as
// DPVS's ip_vs_synproxy.c runs it:
//
//	client SYN            -> SYN-ACK from the VIP, ISN a cookie; no entry, no scheduling
//	client ACK, no entry  -> cookie checked: schedule, insert, SYN to the real
//	                         server with the client's options (PhaseOpening);
//	                         data queued
//	real server SYN-ACK   -> ACK to it, queued data sent translated (PhaseOpen)
//	every later segment   -> synproxy.Conn.ToServer / ToClient, then the usual path
//
// A proxied connection's state lives in the worker's proxy array at the
// connection's auxiliary slot (conntrack.Table.AttachAux), so conntrack
// entries stay 48 bytes.

const (
	// proxyQueueSlots frames of clients' data wait, per worker, for
	// their real server's side to open; a frame longer than pendingMax
	// (a GSO super-frame) is not queued: the client sends it again.
	proxyQueueSlots = 32
	// proxyQueueWait is how long a queued frame may wait (ms).
	proxyQueueWait = 3000
	// proxySynRetry is how long after its SYN to the real server a
	// connection still opening sends it again, when the client sends
	// something (ms); the client's retransmissions drive the retries.
	proxySynRetry = 1000
	// proxyWindow is the window of the proxy's SYN-ACK: what a client
	// may send before the real server's side is open, most of which
	// the queue holds.
	proxyWindow = 8192
	// proxyOpeningSlots connections opening per worker are watched for
	// a lost SYN (or SYN-ACK) when the client has nothing more to send
	// (a protocol where the server speaks first): their SYN is sent
	// again after proxySynRetry, 2x, 4x (proxySynTries in all). Beyond
	// them, only the client's retransmissions drive the retries.
	proxyOpeningSlots = 64
	proxySynTries     = 4
)

// proxyState is a worker's SYN proxy: its cookie key, the state of its
// proxied connections, and the queue of client frames waiting.
type proxyState struct {
	cookies *synproxy.Cookies
	// conns is indexed by conntrack auxiliary slot; made at first use.
	// conns6 is the same for the IPv6 table (synproxy6.go).
	conns  []synproxy.Conn
	conns6 []synproxy.Conn
	queue  [proxyQueueSlots]proxyFrame
	queued int
	opts   [synproxy.MaxOptions]byte
	// opening watches connections whose real server has not answered.
	opening  [proxyOpeningSlots]proxyOpening
	nopening int
}

type proxyOpening struct {
	key   conntrack.Key
	key6  conntrack.Key6 // with v6: an IPv6 connection's key
	v6    bool
	in    uint8
	tries uint8 // SYNs sent so far; 0: a free slot
}

type proxyFrame struct {
	buf  [pendingMax]byte
	n    int
	key  conntrack.Key
	key6 conntrack.Key6 // with v6: the frame is an IPv6 connection's
	v6   bool
	in   uint8
	at   conntrack.Tick
	used bool
}

// proxyConn returns the proxy state of connection c, or nil when c is not
// proxied.
func (w *worker) proxyConn(c *conntrack.Conn) *synproxy.Conn {
	a := c.Aux()
	if a == 0 || int(a) >= len(w.sp.conns) {
		return nil
	}
	sp := &w.sp.conns[a]
	if sp.Phase == synproxy.PhaseNone {
		return nil
	}
	return sp
}

// partial reports whether p's TCP checksum is left to the device.
func partial(p *packet) bool {
	h := p.vnet()
	return h.flags()&vnetFlagNeedsCsum != 0 || h.gsoType() != vnetGSONone
}

// proxyMiss handles a TCP segment to a SYN proxy service that has no
// connection: a SYN is answered with a cookie, an ACK is checked and opens
// the connection, anything else is dropped as without the proxy.
func (w *worker) proxyMiss(p *packet, frame []byte, tbl *vs.Table, svc *vs.Service, key conntrack.Key, now conntrack.Tick) bool {
	ps := &w.parsed
	if svc.FwMark == 0 && svc.Flags&vs.SvcPersistent == 0 && ps.DstPort != svc.Port {
		return w.drop(ReasonNoService) // schedule would refuse it
	}
	switch ps.TCPFlags & (pkt.TCPSyn | pkt.TCPAck | pkt.TCPRst | pkt.TCPFin) {
	case pkt.TCPSyn:
		return w.proxySYN(p, frame, now)
	case pkt.TCPAck, pkt.TCPAck | pkt.TCPFin:
		return w.proxyACK(p, frame, tbl, svc, key, now)
	}
	return w.drop(ReasonNotSYN)
}

// proxySYN answers a client's SYN with a SYN-ACK whose ISN is a cookie.
func (w *worker) proxySYN(p *packet, frame []byte, now conntrack.Tick) bool {
	ps := &w.parsed
	t := pkt.TCP(frame[ps.L4Off:])
	o := synproxy.ParseOptions(t.Options())
	flow := synproxy.Flow{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort}
	cookie, kept := w.sp.cookies.Make(flow, t.Seq(), synproxy.Slice(uint32(now)), o)
	mss := uint16(min(w.mtus[p.in]-40, 0xffff))
	n := synproxy.SynAckOptions(w.sp.opts[:], mss, &kept, uint32(now), synproxy.OurWScale)
	eth := pkt.Ether(frame)
	q, buf := w.proxyBuffer(p.in)
	l := synproxy.Build(buf[pkt.EtherHeaderLen:], ps.Dst, ps.Src, ps.DstPort, ps.SrcPort, cookie, t.Seq()+1,
		pkt.TCPSyn|pkt.TCPAck, proxyWindow, w.sp.opts[:n], w.nextIPID())
	// Back on the SYN's VLAN, if offload took its tag off.
	q.status, q.vlanTCI, q.vlanTP = p.status&(tpStatusVLANValid|tpStatusVLANTPIDValid), p.vlanTCI, p.vlanTP
	w.proxySend(q, buf, l, eth.Src(), p.in)
	w.c.synCookies.Add(1)
	return false
}

// proxyBuffer returns a scratch packet and its frame buffer for a segment
// the proxy builds; when the batch has used them all it sends what is
// queued first, which frees them.
func (w *worker) proxyBuffer(in uint8) (*packet, []byte) {
	if w.scr.used >= len(w.scr.bufs) {
		w.flushTX()
	}
	buf := w.scr.bufs[w.scr.used]
	sizes := [1]int{0}
	q := &w.scr.take(1, sizes[:], in)[0]
	return q, buf[scratchHeadroom+vnetHdrLen:]
}

// proxySend puts the Ethernet header before the l bytes of IP packet in
// buf and queues it on link out to mac.
func (w *worker) proxySend(q *packet, buf []byte, l int, mac [6]byte, out uint8) {
	eth := pkt.Ether(buf)
	eth.SetDst(mac)
	eth.SetSrc(w.macs[out])
	if buf[pkt.EtherHeaderLen]>>4 == pkt.IPv6Version {
		eth.SetEtherType(pkt.EtherTypeIPv6)
	} else {
		eth.SetEtherType(pkt.EtherTypeIPv4)
	}
	q.n = pkt.EtherHeaderLen + l
	q.out = out
	w.transmit(q) // a frame of the proxy's own: counted in tx_frames only
}

// proxyACK checks the cookie of a client's ACK without a connection and,
// when it is good, schedules, opens the connection and sends the SYN to
// the real server.
func (w *worker) proxyACK(p *packet, frame []byte, tbl *vs.Table, svc *vs.Service, key conntrack.Key, now conntrack.Tick) bool {
	ps := &w.parsed
	t := pkt.TCP(frame[ps.L4Off:])
	flow := synproxy.Flow{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort}
	o, ok := w.sp.cookies.Check(flow, t.Ack()-1, t.Seq()-1, synproxy.Slice(uint32(now)))
	if !ok {
		w.c.synAckInvalid.Add(1)
		return w.drop(ReasonBadCookie)
	}
	w.c.synAckValid.Add(1)
	d, tmpl, r := w.schedule(svc, tbl, now)
	if d == nil {
		if r == ReasonNoDest {
			w.icmpPortUnreachable(p, frame)
		}
		return w.drop(r)
	}
	var out conntrack.Key
	switch d.Method {
	case vs.Masq:
		out = conntrack.Key{Src: d.Addr.As4(), SrcPort: destPort(d, ps), Dst: ps.Src, DstPort: ps.SrcPort, Proto: ps.Proto}
	case vs.FullNAT:
		if out, ok = w.localPort(svc, d.Addr.As4(), destPort(d, ps), ps.Proto); !ok {
			w.tmpls.Release(tmpl)
			return w.drop(ReasonNoLocalPort)
		}
	default:
		// The configuration refuses the proxy for DR and TUN.
		w.tmpls.Release(tmpl)
		return w.drop(ReasonUnsupported)
	}
	c := w.ct.InsertNAT(key, out, svc.ID, d, now)
	if c == nil {
		w.tmpls.Release(tmpl)
		return w.drop(ReasonTableFull)
	}
	w.ct.SetTemplate(c, tmpl)
	a := w.ct.AttachAux(c)
	if a == 0 {
		w.ct.Delete(c, tbl)
		return w.drop(ReasonTableFull)
	}
	sp := proxyStart(&w.sp.conns, w.ct.AuxSlots(), a, &o, t)
	svc.Stats.Conns.Add(1)
	w.c.newConns.Add(1)
	w.wantNeighbour(tbl, ps.Src, now)
	// The connection starts as if the client's SYN had just passed.
	w.ct.Step(c, conntrack.Input, pkt.TCPSyn, now, d)
	sent := w.proxySendSYN(c, sp, d, p.in, now)
	if !sent {
		sp.SentAt = uint32(now) - proxySynRetry // due at once
	}
	w.proxyWatch(proxyOpening{key: key, in: p.in})
	if hasData(ps, t) {
		return w.proxyQueue(p, frame, key, now)
	}
	if !sent {
		// The connection stays: the SYN goes when the real server's
		// MAC is known (proxyRetry, or the client's next segment).
		return w.drop(ReasonNoNeighbour)
	}
	w.c.synAbsorbed.Add(1)
	return false
}

// proxyStart sets up the proxy state of the connection at auxiliary slot
// a in *conns (made at first use with n+1 elements, once per worker) from
// the client's ACK t and the options its cookie kept.
func proxyStart(conns *[]synproxy.Conn, n int, a uint32, o *synproxy.Options, t pkt.TCP) *synproxy.Conn {
	if *conns == nil {
		*conns = make([]synproxy.Conn, n+1)
	}
	sp := &(*conns)[a]
	var tsval uint32
	if o.HasTS {
		tsval = synproxy.ParseOptions(t.Options()).TSVal
	}
	sp.Opening(o, t.Seq(), t.Ack(), t.Window(), tsval)
	return sp
}

// hasData reports whether the client's segment carries something the real
// server must get: data (the IP payload past the TCP header: Ethernet
// padding is not data) or a FIN.
func hasData(ps *pkt.Parsed, t pkt.TCP) bool {
	return ps.L4Len > t.DataOffset() || ps.TCPFlags&pkt.TCPFin != 0
}

// proxySendSYN sends the SYN that opens connection c on its real server's
// side, with the client's ISN and options. It reports false when the real
// server's MAC is not known yet.
func (w *worker) proxySendSYN(c *conntrack.Conn, sp *synproxy.Conn, d *vs.Dest, in uint8, now conntrack.Tick) bool {
	s, ok := w.proxySYNFrame(sp, d, in)
	if !ok {
		return false
	}
	// Replies come to the reply key's Dst (the client for NAT, a local
	// address for FULLNAT) from its Src, the real server.
	rk := w.ct.Out(c)
	l := synproxy.Build(s.buf[pkt.EtherHeaderLen:], rk.Dst, rk.Src, rk.DstPort, rk.SrcPort, sp.ISN, 0,
		pkt.TCPSyn, s.win, s.opts, w.nextIPID())
	w.proxySendSYNFrame(&s, l, sp, now)
	return true
}

// proxySYN is the SYN that opens a proxied connection's real server side,
// being built: the next hop's MAC and the egress link, the buffer, and the
// client's options and window (proxySynOptions).
type proxySYN struct {
	mac  [6]byte
	out  uint8
	q    *packet
	buf  []byte
	opts []byte
	win  uint16
}

// proxySYNFrame prepares that SYN towards real server d (its interface,
// else the link the client came in on); ok is false while d's MAC is not
// known. Both families use it (proxySendSYN, proxySendSYN6).
func (w *worker) proxySYNFrame(sp *synproxy.Conn, d *vs.Dest, in uint8) (s proxySYN, ok bool) {
	if s.mac, ok = d.State.MAC(); !ok {
		return s, false
	}
	out := d.Iface
	if out < 0 || out >= len(w.links) {
		out = int(in)
	}
	s.out = uint8(out)
	n, win := w.proxySynOptions(sp)
	s.opts, s.win = w.sp.opts[:n], win
	s.q, s.buf = w.proxyBuffer(s.out)
	return s, true
}

// proxySendSYNFrame sends the SYN s, l bytes of IP packet, and notes when
// (the retry clock).
func (w *worker) proxySendSYNFrame(s *proxySYN, l int, sp *synproxy.Conn, now conntrack.Tick) {
	w.proxySend(s.q, s.buf, l, s.mac, s.out)
	sp.SentAt = uint32(now)
}

// proxySynOptions writes the options of the SYN that opens sp's real
// server side (the client's) into w.sp.opts and returns their length and
// the SYN's window (the client's, scaled as the client scales it).
func (w *worker) proxySynOptions(sp *synproxy.Conn) (int, uint16) {
	o := sp.Options()
	n := synproxy.SynOptions(w.sp.opts[:], &o, sp.ClientTSVal())
	win := uint64(sp.Win)
	if o.HasWScale {
		win <<= o.WScale
	}
	return n, uint16(min(win, 0xffff))
}

// proxyIn handles a client's segment on a proxied connection: translated
// once open (done false: the caller forwards it), queued while opening.
func (w *worker) proxyIn(p *packet, frame []byte, c *conntrack.Conn, sp *synproxy.Conn, d *vs.Dest, now conntrack.Tick) (verdict, done bool) {
	ps := &w.parsed
	t := pkt.TCP(frame[ps.L4Off:])
	if sp.Phase == synproxy.PhaseOpen {
		sp.ToServer(t, partial(p))
		return false, false
	}
	if ps.TCPFlags&pkt.TCPRst != 0 {
		return false, false // the real server checks its sequence number, ours
	}
	if uint32(now)-sp.SentAt >= proxySynRetry && w.proxySendSYN(c, sp, d, p.in, now) {
		w.c.synRetries.Add(1)
	}
	if hasData(ps, t) {
		return w.proxyQueue(p, frame, c.Key, now), true
	}
	return w.drop(ReasonProxyWait), true
}

// proxyQueue keeps a copy of a client's frame, checksum complete, until its
// connection's real server side is open. Like a reply waiting for its next
// hop, the frame ends in a counter later: forwarded when it is sent, or
// drop_synproxy_wait.
func (w *worker) proxyQueue(p *packet, frame []byte, key conntrack.Key, now conntrack.Tick) bool {
	if f := w.proxySlot(p, frame, now); f != nil {
		f.key = key
	}
	return false
}

// proxySlot is proxyQueue less the key: the queue entry now holding the
// frame, or nil when it was dropped (counted).
func (w *worker) proxySlot(p *packet, frame []byte, now conntrack.Tick) *proxyFrame {
	if len(frame) > pendingMax || p.vnet().gsoType() != vnetGSONone {
		w.drop(ReasonProxyWait)
		return nil
	}
	var free *proxyFrame
	for i := range w.sp.queue {
		f := &w.sp.queue[i]
		if f.used && now.Sub(f.at) > proxyQueueWait {
			f.used = false
			w.sp.queued--
			w.c.drops[ReasonProxyWait].Add(1)
		}
		if !f.used && free == nil {
			free = f
		}
	}
	if free == nil {
		w.drop(ReasonProxyWait)
		return nil
	}
	copy(free.buf[:], frame)
	h := p.vnet()
	if h.flags()&vnetFlagNeedsCsum != 0 && !pkt.CompletePartial(free.buf[:len(frame)], int(h.csumStart()), int(h.csumOffset())) {
		w.drop(ReasonMalformed)
		return nil
	}
	free.n, free.in, free.at, free.used = len(frame), p.in, now, true
	free.key, free.key6, free.v6 = conntrack.Key{}, conntrack.Key6{}, false // the caller's to set
	w.sp.queued++
	w.c.synQueued.Add(1)
	return free
}

// proxyOut handles a real server's segment on a proxied connection: its
// SYN-ACK opens the connection (done, nothing forwarded); once open every
// segment is translated (done false: the caller forwards it).
func (w *worker) proxyOut(p *packet, frame []byte, tbl *vs.Table, c *conntrack.Conn, sp *synproxy.Conn, d *vs.Dest, now conntrack.Tick) (verdict, done bool) {
	ps := &w.parsed
	t := pkt.TCP(frame[ps.L4Off:])
	if v, done, opens := w.proxyReply(p, t, ps.TCPFlags, sp); !opens {
		return v, done
	}
	n, win := w.proxyOpen(sp, t, now)
	w.ct.Step(c, conntrack.Output, ps.TCPFlags, now, d)
	if w.master != nil {
		// Open now: the backup learns the connection with its
		// translation (it was held back while opening).
		w.syncOpened(c, tbl, d, now)
	}
	q, buf := w.proxyBuffer(p.in)
	l := synproxy.Build(buf[pkt.EtherHeaderLen:], ps.Dst, ps.Src, ps.DstPort, ps.SrcPort, sp.ISN+1, t.Seq()+1,
		pkt.TCPAck, win, w.sp.opts[:n], w.nextIPID())
	w.proxySend(q, buf, l, pkt.Ether(frame).Src(), p.in)
	w.c.synOpened.Add(1)
	w.c.synAbsorbed.Add(1)
	w.proxyReplay(tbl, c, sp, d, now)
	return false, true
}

// proxyReply is proxyOut's verdict on a real server's segment t (flags
// its TCP flags) other than the SYN-ACK that opens sp's connection (opens
// true): translated once open, a reset passed on at the sequence number
// the client expects from us (done false: the caller forwards it), the
// rest dropped while the connection opens.
func (w *worker) proxyReply(p *packet, t pkt.TCP, flags uint8, sp *synproxy.Conn) (verdict, done, opens bool) {
	if sp.Phase == synproxy.PhaseOpen {
		sp.ToClient(t, partial(p))
		return false, false, false
	}
	switch {
	case flags&pkt.TCPRst != 0:
		sp.RSTToClient(t, partial(p))
		return false, false, false
	case flags&(pkt.TCPSyn|pkt.TCPAck) != pkt.TCPSyn|pkt.TCPAck || t.Ack() != sp.ISN+1:
		return w.drop(ReasonProxyWait), true, false
	}
	return false, false, true
}

// proxyOpen opens sp on the real server's SYN-ACK t and writes the
// options of the ACK that completes the real server's handshake (the ACK
// the client sent us, as the real server expects it) into w.sp.opts; it
// returns their length and the ACK's window.
func (w *worker) proxyOpen(sp *synproxy.Conn, t pkt.TCP, now conntrack.Tick) (int, uint16) {
	o := synproxy.ParseOptions(t.Options())
	clientTS := sp.ClientTSVal()
	sp.Open(t.Seq(), &o, uint32(now))
	n := 0
	if sp.Opts&synproxy.OptServerTS != 0 {
		n = synproxy.TimestampOption(w.sp.opts[:], clientTS, o.TSVal)
	}
	win := sp.Win
	if sp.Opts&synproxy.OptWScale != 0 && sp.Opts&synproxy.OptServerWS == 0 {
		win = uint16(min(uint64(win)<<sp.ClientWS, 0xffff))
	}
	return n, win
}

// proxyReplay sends the frames queued for connection c, now open,
// translated, in the order they came.
func (w *worker) proxyReplay(tbl *vs.Table, c *conntrack.Conn, sp *synproxy.Conn, d *vs.Dest, now conntrack.Tick) {
	if w.sp.queued == 0 {
		return
	}
	for range w.sp.queued {
		q, frame := w.proxyTake(proxyFrame{key: c.Key})
		if q == nil {
			return
		}
		if w.parsed.Decode(frame) != pkt.DecodeOK || w.parsed.Proto != pkt.ProtoTCP {
			w.c.drops[ReasonMalformed].Add(1)
			continue
		}
		ps := &w.parsed
		sp.ToServer(pkt.TCP(frame[ps.L4Off:]), false)
		w.ct.Step(c, conntrack.Input, ps.TCPFlags, now, d)
		w.forward(q, frame, tbl, tbl.Service(c.SvcID), d, c)
	}
}

// proxyTake takes the oldest frame queued for the connection of like's
// key (key6 with v6) off the queue and copies it into a scratch packet,
// returned with its frame; nil when none is queued.
func (w *worker) proxyTake(like proxyFrame) (*packet, []byte) {
	var first *proxyFrame
	for i := range w.sp.queue {
		f := &w.sp.queue[i]
		if f.used && f.v6 == like.v6 && f.key == like.key && f.key6 == like.key6 && (first == nil || f.at.Before(first.at)) {
			first = f
		}
	}
	if first == nil {
		return nil, nil
	}
	first.used = false
	w.sp.queued--
	q, buf := w.proxyBuffer(first.in)
	frame := buf[:copy(buf, first.buf[:first.n])]
	q.n = len(frame)
	return q, frame
}

// proxyWatch records a connection that just sent its SYN to its real
// server (o: its key and link), for proxyRetry; when every slot is taken
// it is not watched.
func (w *worker) proxyWatch(o proxyOpening) {
	for i := range w.sp.opening {
		if w.sp.opening[i].tries == 0 {
			o.tries = 1
			w.sp.opening[i] = o
			w.sp.nopening++
			return
		}
	}
}

// proxyRetry sends the SYN again for watched connections whose real server
// has not answered in time, and forgets those that opened, died or ran out
// of tries. The worker calls it between batches; it flushes what it sends.
func (w *worker) proxyRetry(tbl *vs.Table, now conntrack.Tick) {
	if w.sp.nopening == 0 {
		return
	}
	sent := false
	for i := range w.sp.opening {
		o := &w.sp.opening[i]
		if o.tries == 0 {
			continue
		}
		if o.v6 {
			sent = w.proxyRetry6(o, tbl, now) || sent // synproxy6.go
			continue
		}
		c := w.ct.Lookup(o.key, now, tbl)
		var sp *synproxy.Conn
		if c != nil {
			sp = w.proxyConn(c)
		}
		if sp == nil || sp.Phase != synproxy.PhaseOpening || o.tries >= proxySynTries {
			o.tries = 0
			w.sp.nopening--
			continue
		}
		if uint32(now)-sp.SentAt < proxySynRetry<<(o.tries-1) {
			continue
		}
		d := tbl.Dest(c.DestID)
		if d == nil || d.Trashed {
			continue // the connection goes when it expires
		}
		if w.proxySendSYN(c, sp, d, o.in, now) { // else: no MAC yet, try again later
			w.c.synRetries.Add(1)
			sent = true
			o.tries++
		}
	}
	if sent {
		w.flushTX()
	}
}

// proxySync is what a sync entry (and the handover to the next process)
// carries of an open proxied connection: the sequence number delta as the
// kernel's own sequence adjustment would carry it (IPVS_OPT_SEQ_DATA,
// IP_VS_CONN_F_OUT_SEQ: the real server's sequence numbers, going out,
// are moved by out_seq.delta, and the client's acknowledgements coming in
// by its opposite; the client's own numbers are unchanged, in_seq's delta
// 0, its init_seq the client's ISN), and the rest in the ulvs option.
func proxySync(sp *synproxy.Conn) (ipvssync.Flags, ipvssync.Seq, ipvssync.Seq, ipvssync.Proxy) {
	d := -sp.Delta // the real server's ISN less the cookie, negated
	return ipvssync.FlagOutSeq, ipvssync.Seq{InitSeq: sp.ISN}, ipvssync.Seq{Delta: d, PreviousDelta: d},
		ipvssync.Proxy{TSOff: sp.TSOff, MSS: sp.MSS, Opts: sp.Opts, ClientWS: sp.ClientWS, ServerWS: sp.ServerWS}
}

// proxyRestore makes connection c, taken from a sync entry or a previous
// process's handover, a proxied connection in the open phase with the
// state r carries. It reports false when no auxiliary slot is left (the
// connection is then deleted: without its translation it would break
// anyway).
func (w *worker) proxyRestore(c *conntrack.Conn, r *syncRec, tbl *vs.Table) bool {
	a := c.Aux()
	if a == 0 {
		if a = w.ct.AttachAux(c); a == 0 {
			w.ct.Delete(c, tbl)
			return false
		}
	}
	proxyPut(&w.sp.conns, w.ct.AuxSlots(), a, r)
	return true
}

// proxyPut makes slot a of conns (made with slots+1 entries the first
// time: once per worker) the open proxied connection r carries
// (proxySync's inverse).
func proxyPut(conns *[]synproxy.Conn, slots int, a uint32, r *syncRec) {
	if *conns == nil {
		*conns = make([]synproxy.Conn, slots+1)
	}
	(*conns)[a] = synproxy.Conn{
		Delta: -r.outSeq.Delta, TSOff: r.proxy.TSOff, ISN: r.inSeq.InitSeq, MSS: r.proxy.MSS,
		Phase: synproxy.PhaseOpen, Opts: r.proxy.Opts, ClientWS: r.proxy.ClientWS, ServerWS: r.proxy.ServerWS,
	}
}
