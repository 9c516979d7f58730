package engine

import (
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

// The SYN proxy on an IPv6 service (issue #17): synproxy.go's steps for
// the IPv6 path (process6.go). Cookies are computed over the IPv6
// addresses (synproxy.Cookies.Make6, the MSS kept as an index into
// Linux's IPv6 table), the proxy's segments are IPv6 (synproxy.Build6,
// its SYN-ACK's MSS the link MTU less 60), the state lives at the IPv6
// connection's own slot (conntrack.Table6.AttachAux) in w.sp.conns6; the
// queue of waiting client frames and the watch over connections opening
// are shared with IPv4. NAT66 and FULLNAT real servers, as with IPv4 (the
// configuration refuses the proxy for DR and TUN, whose replies do not
// pass the director). An open proxied connection goes to the sync
// backups and to the next process's handover with its translation state,
// as with IPv4 (pushSync6, proxyRestore6).

// proxyConn6 returns the proxy state of IPv6 connection c, or nil when c
// is not proxied.
func (w *worker) proxyConn6(c *conntrack.Conn6) *synproxy.Conn {
	a := c.Aux()
	if a == 0 || int(a) >= len(w.sp.conns6) {
		return nil
	}
	sp := &w.sp.conns6[a]
	if sp.Phase == synproxy.PhaseNone {
		return nil
	}
	return sp
}

// proxyMiss6 is proxyMiss for IPv6: a SYN is answered with a cookie, an
// ACK checked and, when good, opens the connection.
func (w *worker) proxyMiss6(p *packet, frame []byte, tbl *vs.Table, svc *vs.Service, key conntrack.Key6, now conntrack.Tick) bool {
	ps := &w.parsed6
	if svc.FwMark == 0 && svc.Flags&vs.SvcPersistent == 0 && ps.DstPort != svc.Port {
		return w.drop(ReasonNoService) // schedule6 would refuse it
	}
	switch ps.TCPFlags & (pkt.TCPSyn | pkt.TCPAck | pkt.TCPRst | pkt.TCPFin) {
	case pkt.TCPSyn:
		return w.proxySYN6(p, frame, now)
	case pkt.TCPAck, pkt.TCPAck | pkt.TCPFin:
		return w.proxyACK6(p, frame, tbl, svc, key, now)
	}
	return w.drop(ReasonNotSYN)
}

// flow6 is the client's side of the packet in w.parsed6.
func (w *worker) flow6() synproxy.Flow6 {
	ps := &w.parsed6
	return synproxy.Flow6{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort}
}

// proxySYN6 answers a client's SYN with a SYN-ACK from the VIP whose ISN
// is a cookie, back to the neighbour the SYN came from.
func (w *worker) proxySYN6(p *packet, frame []byte, now conntrack.Tick) bool {
	ps := &w.parsed6
	t := pkt.TCP(frame[ps.L4Off:])
	o := synproxy.ParseOptions(t.Options())
	cookie, kept := w.sp.cookies.Make6(w.flow6(), t.Seq(), synproxy.Slice(uint32(now)), o)
	mss := uint16(min(w.mtus[p.in]-pkt.IPv6HeaderLen-pkt.TCPMinHeaderLen, 0xffff))
	n := synproxy.SynAckOptions(w.sp.opts[:], mss, &kept, uint32(now), synproxy.OurWScale)
	q, buf := w.proxyBuffer(p.in)
	l := synproxy.Build6(buf[pkt.EtherHeaderLen:], ps.Dst, ps.Src, ps.DstPort, ps.SrcPort, cookie, t.Seq()+1,
		pkt.TCPSyn|pkt.TCPAck, proxyWindow, w.sp.opts[:n])
	q.status, q.vlanTCI, q.vlanTP = p.status&(tpStatusVLANValid|tpStatusVLANTPIDValid), p.vlanTCI, p.vlanTP
	w.proxySend(q, buf, l, pkt.Ether(frame).Src(), p.in)
	w.c.synCookies.Add(1)
	return false
}

// proxyACK6 is proxyACK for IPv6: the cookie checked over the IPv6 flow,
// then scheduling, the connection (NAT66 or FULLNAT) and the SYN to the
// real server with the client's ISN and options.
func (w *worker) proxyACK6(p *packet, frame []byte, tbl *vs.Table, svc *vs.Service, key conntrack.Key6, now conntrack.Tick) bool {
	ps := &w.parsed6
	t := pkt.TCP(frame[ps.L4Off:])
	o, ok := w.sp.cookies.Check6(w.flow6(), t.Ack()-1, t.Seq()-1, synproxy.Slice(uint32(now)))
	if !ok {
		w.c.synAckInvalid.Add(1)
		return w.drop(ReasonBadCookie)
	}
	w.c.synAckValid.Add(1)
	if w.ct6 == nil {
		w.ct6 = conntrack.NewTable6(w.ct, w.ct.Usable())
	}
	d, tmpl, r := w.schedule6(svc, tbl, now)
	if d == nil {
		return w.drop(r)
	}
	c, r := w.insertOut6(key, svc, d, now) // the configuration refuses the proxy for DR and TUN
	if c == nil {
		w.tmpls.Release(tmpl)
		return w.drop(r)
	}
	c.ClientMAC, c.ClientLink = pkt.Ether(frame).Src(), p.in
	w.ct6.SetTemplate(c, tmpl)
	a := w.ct6.AttachAux(c)
	if a == 0 {
		w.ct6.Delete(c, tbl)
		return w.drop(ReasonTableFull)
	}
	sp := proxyStart(&w.sp.conns6, w.ct6.Cap(), a, &o, t)
	svc.Stats.Conns.Add(1)
	w.c.newConns.Add(1)
	w.ct6.Step(c, conntrack.Input, pkt.TCPSyn, now, d)
	sent := w.proxySendSYN6(c, sp, d, p.in, now)
	if !sent {
		sp.SentAt = uint32(now) - proxySynRetry // due at once
	}
	w.proxyWatch(proxyOpening{key6: key, v6: true, in: p.in})
	if ps.L4Len > t.DataOffset() || ps.TCPFlags&pkt.TCPFin != 0 {
		return w.proxyQueue6(p, frame, key, now)
	}
	if !sent {
		return w.drop(ReasonNoNeighbour)
	}
	w.c.synAbsorbed.Add(1)
	return false
}

// proxyQueue6 is proxyQueue for an IPv6 connection's frame.
func (w *worker) proxyQueue6(p *packet, frame []byte, key conntrack.Key6, now conntrack.Tick) bool {
	if f := w.proxySlot(p, frame, now); f != nil {
		f.key6, f.v6 = key, true
	}
	return false
}

// proxySendSYN6 sends the SYN that opens IPv6 connection c on its real
// server's side (from the client for NAT66, from the local address for
// FULLNAT: the reply key's destination). It reports false when the real
// server's MAC is not known yet.
func (w *worker) proxySendSYN6(c *conntrack.Conn6, sp *synproxy.Conn, d *vs.Dest, in uint8, now conntrack.Tick) bool {
	s, ok := w.proxySYNFrame(sp, d, in)
	if !ok {
		return false
	}
	rk := &c.Out6
	l := synproxy.Build6(s.buf[pkt.EtherHeaderLen:], rk.Dst, rk.Src, rk.DstPort, rk.SrcPort, sp.ISN, 0,
		pkt.TCPSyn, s.win, s.opts)
	w.proxySendSYNFrame(&s, l, sp, now)
	return true
}

// proxyIn6 is proxyIn for IPv6: a client's segment translated once its
// connection is open (done false: inbound6 forwards it), queued while it
// opens.
func (w *worker) proxyIn6(p *packet, frame []byte, c *conntrack.Conn6, sp *synproxy.Conn, d *vs.Dest, now conntrack.Tick) (verdict, done bool) {
	ps := &w.parsed6
	t := pkt.TCP(frame[ps.L4Off:])
	if sp.Phase == synproxy.PhaseOpen {
		sp.ToServer(t, partial(p))
		return false, false
	}
	if ps.TCPFlags&pkt.TCPRst != 0 {
		return false, false
	}
	if uint32(now)-sp.SentAt >= proxySynRetry && w.proxySendSYN6(c, sp, d, p.in, now) {
		w.c.synRetries.Add(1)
	}
	if ps.L4Len > t.DataOffset() || ps.TCPFlags&pkt.TCPFin != 0 {
		return w.proxyQueue6(p, frame, c.Key6, now), true
	}
	return w.drop(ReasonProxyWait), true
}

// proxyOut6 is proxyOut for IPv6: the real server's SYN-ACK opens the
// connection (its handshake completed with an ACK as the client's, the
// queued frames sent), every later segment is translated (done false:
// outbound6 forwards it).
func (w *worker) proxyOut6(p *packet, frame []byte, tbl *vs.Table, c *conntrack.Conn6, sp *synproxy.Conn, d *vs.Dest, now conntrack.Tick) (verdict, done bool) {
	ps := &w.parsed6
	t := pkt.TCP(frame[ps.L4Off:])
	if v, done, opens := w.proxyReply(p, t, ps.TCPFlags, sp); !opens {
		return v, done
	}
	n, win := w.proxyOpen(sp, t, now)
	w.ct6.Step(c, conntrack.Output, ps.TCPFlags, now, d)
	if w.master != nil {
		// Open now: the backup learns the connection with its
		// translation (it was held back while opening).
		w.syncOpened6(c, tbl, d, now)
	}
	q, buf := w.proxyBuffer(p.in)
	l := synproxy.Build6(buf[pkt.EtherHeaderLen:], ps.Dst, ps.Src, ps.DstPort, ps.SrcPort, sp.ISN+1, t.Seq()+1,
		pkt.TCPAck, win, w.sp.opts[:n])
	w.proxySend(q, buf, l, pkt.Ether(frame).Src(), p.in)
	w.c.synOpened.Add(1)
	w.c.synAbsorbed.Add(1)
	w.proxyReplay6(tbl, c, sp, d, now)
	return false, true
}

// proxyReplay6 sends the frames queued for IPv6 connection c, now open,
// translated, in the order they came.
func (w *worker) proxyReplay6(tbl *vs.Table, c *conntrack.Conn6, sp *synproxy.Conn, d *vs.Dest, now conntrack.Tick) {
	if w.sp.queued == 0 {
		return
	}
	for range w.sp.queued {
		q, frame := w.proxyTake(proxyFrame{key6: c.Key6, v6: true})
		if q == nil {
			return
		}
		ps := &w.parsed6
		if ps.Decode6(frame, pkt.EtherHeaderLen, false) != pkt.DecodeOK || ps.Proto != pkt.ProtoTCP {
			w.c.drops[ReasonMalformed].Add(1)
			continue
		}
		sp.ToServer(pkt.TCP(frame[ps.L4Off:]), false)
		w.ct6.Step(c, conntrack.Input, ps.TCPFlags, now, d)
		w.forward6(q, frame, tbl, tbl.Service(c.SvcID), d, c)
	}
}

// proxyRetry6 is proxyRetry's step for one watched IPv6 connection: its
// SYN again when due; the watch ends when it opened, died or ran out of
// tries. It reports whether it sent.
func (w *worker) proxyRetry6(o *proxyOpening, tbl *vs.Table, now conntrack.Tick) bool {
	var c *conntrack.Conn6
	var sp *synproxy.Conn
	if w.ct6 != nil {
		if c = w.ct6.Lookup(o.key6, now, tbl); c != nil {
			sp = w.proxyConn6(c)
		}
	}
	if sp == nil || sp.Phase != synproxy.PhaseOpening || o.tries >= proxySynTries {
		o.tries = 0
		w.sp.nopening--
		return false
	}
	if uint32(now)-sp.SentAt < proxySynRetry<<(o.tries-1) {
		return false
	}
	d := tbl.Dest(c.DestID)
	if d == nil || d.Trashed || !w.proxySendSYN6(c, sp, d, o.in, now) {
		return false
	}
	w.c.synRetries.Add(1)
	o.tries++
	return true
}

// proxyRestore6 is proxyRestore for IPv6 connection c: it becomes a
// proxied connection in the open phase with the state r carries, at its
// own auxiliary slot.
func (w *worker) proxyRestore6(c *conntrack.Conn6, r *syncRec, tbl *vs.Table) bool {
	a := c.Aux()
	if a == 0 {
		if a = w.ct6.AttachAux(c); a == 0 {
			w.ct6.Delete(c, tbl)
			return false
		}
	}
	proxyPut(&w.sp.conns6, w.ct6.Cap(), a, r) // as many slots as proxyStart makes
	return true
}
