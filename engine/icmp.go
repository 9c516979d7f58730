package engine

import (
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

// icmpToVIP relays an ICMP error sent to a VIP about a packet the director
// sent from it (a reply to a client, such as "fragmentation needed" from a
// router on the client's path) to the real server of the connection, as
// ip_vs_in_icmp does: translated for NAT and FULLNAT, as it is for DR and
// TUN.
func (w *worker) icmpToVIP(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick, q *forward.Quoted) bool {
	ps := &w.parsed
	// The quote is VIP:vport -> client:cport; the connection is keyed
	// client:cport -> VIP:vport.
	key := conntrack.Key{Src: q.Dst, SrcPort: q.DstPort, Dst: q.Src, DstPort: q.SrcPort, Proto: q.Proto}
	c := w.ct.Lookup(key, now, tbl)
	if c == nil {
		return w.drop(ReasonNotOurs)
	}
	d := tbl.Dest(c.DestID)
	if d == nil || d.Trashed {
		return w.drop(ReasonDestGone)
	}
	ip := pkt.IPv4(frame[ps.L3Off:])
	if ip.TTL() <= 1 {
		return w.drop(ReasonTTL)
	}
	ip.DecTTL()
	rport := d.Port
	if rport == 0 {
		rport = c.Key.DstPort
	}
	switch d.Method {
	case vs.Masq:
		if !forward.NATICMP(frame, ps, false, d.Addr.As4(), rport) {
			return w.drop(ReasonMalformed)
		}
	case vs.FullNAT:
		rk := w.ct.Out(c)
		if !forward.NATICMPFull(frame, ps, false, d.Addr.As4(), rport, rk.Dst, rk.DstPort) {
			return w.drop(ReasonMalformed)
		}
	case vs.Tunnel:
		w.c.icmpRelayed.Add(1)
		return w.tunnel(p, frame, d, tbl)
	}
	mac, ok := d.State.MAC()
	if !ok {
		return w.drop(ReasonNoNeighbour)
	}
	out := d.Iface
	if out < 0 || out >= len(w.links) {
		out = int(p.in)
	}
	p.vnet().clear() // every checksum is complete after the rewrite
	forward.DR(frame, mac, w.macs[out])
	p.out = uint8(out)
	w.c.icmpRelayed.Add(1)
	return w.sendFitting(p, frame)
}

// icmpFromReal relays an ICMP error from a real server's side about a
// packet the director sent it (NAT, FULLNAT) to the client, translated as
// ip_vs_out_icmp does: from the VIP, quoting the client's own packet.
func (w *worker) icmpFromReal(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick, q *forward.Quoted) bool {
	ps := &w.parsed
	// The quote is (client or local address):port -> RIP:rport; the
	// connection's reply key is RIP:rport -> that address and port.
	out := conntrack.Key{Src: q.Dst, SrcPort: q.DstPort, Dst: q.Src, DstPort: q.SrcPort, Proto: q.Proto}
	c := w.ct.LookupOut(out, now, tbl)
	if c == nil {
		return w.drop(ReasonNotOurs)
	}
	d := tbl.Dest(c.DestID)
	if d == nil {
		return w.drop(ReasonDestGone)
	}
	ip := pkt.IPv4(frame[ps.L3Off:])
	if ip.TTL() <= 1 {
		return w.drop(ReasonTTL)
	}
	ip.DecTTL()
	var ok bool
	if d.Method == vs.FullNAT {
		ok = forward.NATICMPFull(frame, ps, true, c.Key.Dst, c.Key.DstPort, c.Key.Src, c.Key.SrcPort)
	} else {
		ok = forward.NATICMP(frame, ps, true, c.Key.Dst, c.Key.DstPort)
	}
	if !ok {
		return w.drop(ReasonMalformed)
	}
	p.vnet().clear()
	iface, hop, routed := tbl.NextHop(c.Key.Src)
	if !routed || iface >= len(w.links) {
		return w.drop(ReasonNoRoute)
	}
	mac, known := w.neighbour(hop)
	if !known {
		w.wantNeighbour(tbl, c.Key.Src, now)
		return w.queueUnresolved(p, iface, hop, now)
	}
	eth := pkt.Ether(frame)
	eth.SetDst(mac)
	eth.SetSrc(w.macs[iface])
	p.out = uint8(iface)
	w.c.icmpRelayed.Add(1)
	return w.sendFitting(p, frame)
}

// icmpTunnel handles an ICMP error a router sent the director about one of
// its IPIP packets (ip_vs_in_icmp's IPIP case): for fragmentation needed it
// remembers the path MTU towards the real server, so later packets are
// checked against it, and the client whose packet was inside gets the
// error from the VIP, with the MTU less the tunnel's 20 bytes.
func (w *worker) icmpTunnel(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick, q *forward.Quoted) bool {
	key := conntrack.Key{Src: q.Src, SrcPort: q.SrcPort, Dst: q.Dst, DstPort: q.DstPort, Proto: q.Proto}
	c := w.ct.Lookup(key, now, tbl)
	if c == nil {
		return w.drop(ReasonNotOurs)
	}
	d := tbl.Dest(c.DestID)
	if d == nil || d.Method != vs.Tunnel {
		return w.drop(ReasonNotOurs)
	}
	mtu := 0
	if q.Type == pkt.ICMPDestUnreachable && q.Code == pkt.ICMPFragNeeded {
		mtu = int(q.Info & 0xffff)
		if mtu >= 68+forward.IPIPOverhead {
			d.State.PathMTU.Store(int32(mtu))
		}
	}
	iface, hop, ok := tbl.NextHop(q.Src)
	if !ok || iface >= len(w.links) {
		iface, hop = int(p.in), q.Src
	}
	mac, known := w.neighbour(hop)
	if w.scr.used >= len(w.scr.bufs) {
		return w.drop(ReasonSplit)
	}
	buf := w.scr.bufs[w.scr.used]
	msg := forward.RelayTunnelError(buf[scratchHeadroom+vnetHdrLen:scratchHeadroom+vnetHdrLen:len(buf)], frame, q, mtu, mac, w.macs[iface], q.Dst, w.nextIPID())
	if msg == nil {
		return w.drop(ReasonUnsupported)
	}
	sizes := [1]int{len(msg)}
	r := &w.scr.take(1, sizes[:], p.in)[0]
	r.out = uint8(iface)
	w.c.icmpRelayed.Add(1)
	if !known {
		w.askNeighbour(hop)
		w.queueUnresolved(r, iface, hop, now)
		return false
	}
	w.c.forwarded.Add(1)
	return w.transmit(r)
}
