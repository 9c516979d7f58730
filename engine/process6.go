package engine

import (
	"net/netip"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/ndp"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

// The IPv6 data path (issue #17): DR, NAT66 and FULLNAT (fullnat6.go) for
// TCP and UDP, the SYN proxy (synproxy6.go), neighbour
// solicitations for the VIPs answered in place. It is a line of its own
// beside the IPv4 one (process), with its own decoded view (pkt.Parsed6)
// and connection table (conntrack.Table6), so nothing of IPv4 grows or
// branches per field. The fanout program hashes IPv6 TCP and UDP on the
// client's side as it does IPv4 (both directions of a NAT66 connection
// reach its worker, no locks), and sends the rest of IPv6 (neighbour
// discovery, extension headers) to worker 0.
//
// Fragments are reassembled (frag6.go) and the datagram forwarded whole,
// fragmented again. Dropped and counted: packets larger than the egress MTU
// (ReasonIPv6TooBig; a client's packet is answered with Packet Too Big, and
// so is a NAT66 real server's reply too big for the client's link), UDP with the
// checksum 0 that IPv6 forbids, ICMPv6 to a VIP other than neighbour
// discovery and echo (errors are not translated yet). TUN real servers
// (ip6ip6, IPv6 in IPv4) are tun6.go's, FULLNAT's local addresses
// fullnat6.go's.

// process6 handles an IPv6 frame Decode reported as DecodeIPv6.
func (w *worker) process6(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick) bool {
	ps := &w.parsed6
	var r pkt.DecodeResult
	if p.vnet().gsoType() != vnetGSONone {
		r = ps.Decode6(frame, w.parsed.L3Off, true)
	} else {
		r = ps.Decode6(frame, w.parsed.L3Off, false)
	}
	if r != pkt.DecodeOK {
		return w.drop(ReasonMalformed)
	}
	if ps.Proto == pkt.ProtoICMPv6 && ps.ICMPType == pkt.ICMPv6NeighborSolicit {
		return w.solicited(p, frame, tbl)
	}
	if dst := pkt.Ether(frame).Dst(); dst != w.macs[p.in] && !tbl.IsVMAC(dst) {
		return w.drop(ReasonNotOurs)
	}
	if ps.Frag {
		return w.fragment6(p, frame, tbl, now) // frag6.go
	}
	if !tbl.IsVIP6(ps.Dst) {
		if tbl.Standby6(ps.Dst) {
			return w.drop(ReasonStandby) // a failover backup for it
		}
		if t, ok := forward.ParseTunnelTooBig6(frame, ps); ok && w.tunnelTooBig(&t, tbl) {
			return false // about one of our tunnel packets (tun6.go)
		}
		if w.ct6 != nil && w.ct6.HasNAT() {
			switch ps.Proto {
			case pkt.ProtoTCP, pkt.ProtoUDP:
				return w.outbound6(p, frame, tbl, now)
			case pkt.ProtoICMPv6:
				if q, ok := forward.ParseICMPv6Error(frame, ps); ok {
					return w.icmp6FromReal(p, frame, tbl, now, &q)
				}
			}
		}
		return w.drop(ReasonNotOurs)
	}
	switch ps.Proto {
	case pkt.ProtoTCP, pkt.ProtoUDP:
	case pkt.ProtoICMPv6:
		if forward.EchoReply6(frame, ps, w.macs[p.in]) {
			p.vnet().clear()
			w.c.echoReply.Add(1)
			return w.transmit(p)
		}
		if q, ok := forward.ParseICMPv6Error(frame, ps); ok {
			return w.icmp6ToVIP(p, frame, tbl, now, &q)
		}
		return w.drop(ReasonUnsupported)
	default:
		return w.drop(ReasonUnsupported)
	}
	if ps.Proto == pkt.ProtoUDP && pkt.UDP(frame[ps.L4Off:]).Checksum() == 0 {
		return w.drop(ReasonMalformed) // RFC 8200 8.1: invalid in IPv6
	}
	return w.inbound6(p, frame, tbl, now)
}

// solicited answers a neighbour solicitation for an IPv6 VIP (a FULLNAT
// local address, a floating failover address on its link) with an
// advertisement, in place: from the interface's MAC, or from the virtual
// MAC of the use_vmac instance the address belongs to (its target
// link-layer address too, as keepalived's macvlan would answer).
func (w *worker) solicited(p *packet, frame []byte, tbl *vs.Table) bool {
	ps := &w.parsed6
	target, ok := ndp.IsSolicit(frame, ps)
	if !ok || !tbl.AnswersND6(target, int(p.in)) {
		return w.drop(ReasonNotOurs)
	}
	mac := w.macs[p.in]
	if vmac, ok := tbl.NDMAC(target); ok {
		mac = vmac
	}
	n := ndp.MakeAdvert(frame, ps, mac)
	if n == 0 {
		return w.drop(ReasonUnsupported)
	}
	p.n = n
	p.vnet().clear()
	w.c.ndReply.Add(1)
	return w.transmit(p)
}

// key6 is the connection key of the packet decoded in w.parsed6.
func (w *worker) key6() conntrack.Key6 {
	ps := &w.parsed6
	return conntrack.Key6{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
}

// inbound6 is inbound for IPv6: a client's TCP or UDP packet to a VIP.
func (w *worker) inbound6(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick) bool {
	ps := &w.parsed6
	w.all6On0 = all6On0(tbl)
	proto := vs.Protocol(ps.Proto)
	if w.ct6 == nil {
		// Made at the first IPv6 connection: a director without IPv6
		// services spends no memory on it.
		w.ct6 = conntrack.NewTable6(w.ct, w.ct.Usable())
	}
	key := w.key6()
	c := w.ct6.Lookup(key, now, tbl)
	if c != nil && proto == vs.TCP && isNewConn(ps.TCPFlags) && w.reschedule(&c.Conn, tbl) {
		w.ct6.Delete(c, tbl)
		c = nil
	}
	var d *vs.Dest
	if c != nil {
		var del bool
		var r Reason
		if d, del, r = connDest(tbl, c.DestID); d == nil {
			if del {
				w.ct6.Delete(c, tbl)
			}
			if r != 0 {
				return w.drop(r)
			}
			w.c.nodestExpired.Add(1)
			c = nil // on as a packet without a connection
		}
		if c != nil && c.ClientMAC == ([6]byte{}) {
			// Synced from a master or a state file without the
			// client's neighbour (ipvssync.OptULVSNeigh): learnt here.
			c.ClientMAC, c.ClientLink = pkt.Ether(frame).Src(), p.in
		}
		if c != nil {
			if sp := w.proxyConn6(c); sp != nil { // synproxy6.go
				if v, done := w.proxyIn6(p, frame, c, sp, d, now); done {
					return v
				}
			}
		}
	}
	if c == nil {
		svc := tbl.Lookup6From(proto, ps.Src, ps.Dst, ps.DstPort)
		if svc == nil {
			return w.drop(ReasonNoService)
		}
		if proto == vs.TCP && svc.Flags&vs.SvcSynProxy != 0 {
			return w.proxyMiss6(p, frame, tbl, svc, key, now)
		}
		if r := w.admit(proto, ps.TCPFlags, tbl); r != 0 {
			if r == ReasonNotSYN && tbl.Knobs.ExpireNodestConn {
				w.resetNoConn6(p, frame) // nodest6.go
			}
			return w.drop(r)
		}
		var tmpl uint32
		var r Reason
		d, tmpl, r = w.schedule6(svc, tbl, now)
		if d == nil {
			return w.drop(r)
		}
		svc.Stats.Conns.Add(1)
		w.c.newConns.Add(1)
		if proto == vs.UDP && svc.Flags&vs.SvcOnePacket != 0 {
			w.tmpls.Release(tmpl)
			d.State.Conns.Add(1)
			return w.forward6(p, frame, tbl, svc, d, nil)
		}
		if d.Method == vs.Masq || d.Method == vs.FullNAT {
			c, r = w.insertOut6(key, svc, d, now) // fullnat6.go
		} else {
			c, r = w.ct6.Insert(key, svc.ID, d, now), ReasonTableFull
		}
		if c == nil {
			w.tmpls.Release(tmpl)
			return w.drop(r)
		}
		c.ClientMAC, c.ClientLink = pkt.Ether(frame).Src(), p.in
		w.ct6.SetTemplate(c, tmpl)
	}
	w.ct6.Step(c, conntrack.Input, ps.TCPFlags, now, d)
	c.InPkts++
	if w.master != nil {
		w.syncConn6(c, tbl, d, now) // engine/sync.go
	}
	return w.forward6(p, frame, tbl, tbl.Service(c.SvcID), d, c)
}

// schedule6 is schedule for IPv6: the persistence template (its key holds
// the client address masked to the service's prefix length) or the
// scheduler, which hashes IPv6 addresses as the kernel's do.
func (w *worker) schedule6(svc *vs.Service, tbl *vs.Table, now conntrack.Tick) (*vs.Dest, uint32, Reason) {
	ps := &w.parsed6
	flow := vs.Flow{
		Proto:   vs.Protocol(ps.Proto),
		Src:     netip.AddrFrom16(ps.Src),
		Dst:     netip.AddrFrom16(ps.Dst),
		SrcPort: ps.SrcPort,
		DstPort: ps.DstPort,
	}
	if svc.Flags&vs.SvcPersistent == 0 {
		if svc.FwMark == 0 && ps.DstPort != svc.Port {
			return nil, 0, ReasonNoService
		}
		if d := svc.Scheduler.Schedule(svc, flow); d != nil {
			return d, 0, 0
		}
		return nil, 0, ReasonNoDest
	}
	return w.persist(svc, flow, templateKey6(svc, ps), tbl, now)
}

// templateKey6 is templateKey for IPv6, as ip_vs_sched_persist builds it
// for AF_INET6: the client masked to the service's prefix length;
// <proto, vaddr, vport> for the service's own port (vport 0 for FTP,
// port 21, so its data connections share it); <IPPROTO_IP, the mark, 0>
// for a mark service, the mark in the address's first 32 bits (the
// kernel's union nf_inet_addr with .ip = htonl(mark)); <proto, vaddr, 0>
// for a port-zero service.
func templateKey6(svc *vs.Service, ps *pkt.Parsed6) conntrack.TemplateKey {
	k := conntrack.TemplateKey{Proto: ps.Proto, Src6: maskAddr6(ps.Src, svc.Netmask), Dst6: ps.Dst}
	switch {
	case ps.DstPort == svc.Port:
		if svc.Port != ftpPort {
			k.DstPort = ps.DstPort
		}
	case svc.FwMark != 0:
		k.Proto = 0
		k.Dst6 = mark6(svc.FwMark)
	}
	return k
}

// mark6 is a mark as the kernel's IPv6 fwmark template holds it in its
// virtual address.
func mark6(m uint32) [16]byte {
	return [16]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// maskAddr6 keeps the first bits bits of a.
func maskAddr6(a [16]byte, bits int) [16]byte {
	if bits >= 128 || bits < 0 {
		return a
	}
	for i := range a {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			a[i] &= ^byte(0xff >> bits)
			bits = 0
		default:
			a[i] = 0
		}
	}
	return a
}

func destPort6(d *vs.Dest, ps *pkt.Parsed6) uint16 {
	if d.Port != 0 {
		return d.Port
	}
	return ps.DstPort
}

// forward6 counts the packet, spends a hop and rewrites it for DR, NAT66
// or FULLNAT (c's local address and port, fullnat6.go), or tunnels it
// (tun6.go), then queues it towards the real server. c is nil for a
// one-packet datagram.
func (w *worker) forward6(p *packet, frame []byte, tbl *vs.Table, svc *vs.Service, d *vs.Dest, c *conntrack.Conn6) bool {
	ps := &w.parsed6
	if svc != nil {
		w.stats.inService(svc.Stats, ps.IPLen)
	}
	w.stats.inDest(d.State, ps.IPLen)
	if d.Method == vs.Tunnel {
		return w.tunnel6(p, frame, d, tbl) // tun6.go
	}
	if d.Method != vs.Route && d.Method != vs.Masq && (d.Method != vs.FullNAT || c == nil) {
		return w.drop(ReasonUnsupported) // refused by the configuration already; one-packet FULLNAT has no local port
	}
	mac, ok := d.State.MAC()
	if !ok {
		return w.drop(ReasonNoNeighbour)
	}
	out := d.Iface
	if out < 0 || out >= len(w.links) {
		out = int(p.in)
	}
	if mtu := w.mtus[out]; w.wireSize6(p, frame) > mtu {
		// IPv6 routers do not fragment: tell the client the path MTU
		// (ensure_mtu_is_adequate), quoting its packet as it came.
		if w.icmpAllowed() {
			w.icmpError(p, frame, func(buf []byte) []byte {
				return forward.PacketTooBig6(buf, frame, ps, mtu, w.macs[p.in])
			})
		}
		return w.drop(ReasonIPv6TooBig)
	}
	ip := pkt.IPv6(frame[ps.L3Off:])
	if ip.HopLimit() <= 1 {
		return w.drop(ReasonTTL)
	}
	ip.SetHopLimit(ip.HopLimit() - 1)
	if d.Method != vs.Route {
		o := w.offload(p)
		if d.Method == vs.FullNAT {
			forward.SNAT6(frame, ps, &o, c.Out6.Dst, c.Out6.DstPort)
		}
		forward.DNAT6(frame, ps, &o, d.Addr.As16(), destPort6(d, ps))
		w.setOffload(p, &o)
	}
	forward.DR(frame, mac, w.macs[out])
	p.out = uint8(out)
	p.vnet().forTX()
	return w.send6(p)
}

// send6 queues an IPv6 packet that fits the egress MTU; IPv6 routers do
// not fragment, so a larger one (an ICMPv6 error relayed: requests were
// checked in forward6, NAT66 replies in outbound6) is dropped and
// counted. A reassembled datagram leaves in fragments (frag6.go).
func (w *worker) send6(p *packet) bool {
	if w.reasm != nil {
		return w.sendFragments6(p) // a reassembled datagram: fragments again
	}
	if w.parsed6.IPLen > w.mtus[p.out] && p.vnet().gsoType() == vnetGSONone {
		return w.drop(ReasonIPv6TooBig)
	}
	w.c.forwarded.Add(1)
	return w.transmit(p)
}

// outbound6 handles a NAT66 real server's reply: SNAT back to the VIP and
// out to the neighbour the client's packets came from.
func (w *worker) outbound6(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick) bool {
	ps := &w.parsed6
	out := w.key6()
	c := w.ct6.LookupOut(out, now, tbl)
	if c == nil {
		return w.drop(ReasonNotOurs)
	}
	d := tbl.Dest(c.DestID)
	if d == nil {
		w.ct6.Delete(c, tbl)
		return w.drop(ReasonDestGone)
	}
	if ps.Proto == pkt.ProtoUDP && pkt.UDP(frame[ps.L4Off:]).Checksum() == 0 {
		return w.drop(ReasonMalformed)
	}
	if w.replyTooBig6(p, frame, int(c.ClientLink)) { // ptb6.go
		return false
	}
	if sp := w.proxyConn6(c); sp != nil { // synproxy6.go
		if v, done := w.proxyOut6(p, frame, tbl, c, sp, d, now); done {
			return v
		}
	}
	w.ct6.Step(c, conntrack.Output, ps.TCPFlags, now, d)
	if svc := tbl.Service(c.SvcID); svc != nil {
		w.stats.outService(svc.Stats, ps.IPLen)
	}
	ip := pkt.IPv6(frame[ps.L3Off:])
	if ip.HopLimit() <= 1 {
		return w.drop(ReasonTTL)
	}
	ip.SetHopLimit(ip.HopLimit() - 1)
	w.stats.outDest(d.State, ps.IPLen)
	link := int(c.ClientLink)
	if link >= len(w.links) {
		return w.drop(ReasonNoRoute)
	}
	if c.ClientMAC == ([6]byte{}) {
		return w.drop(ReasonNoNeighbour) // synced, no client packet seen yet
	}
	o := w.offload(p)
	forward.SNAT6(frame, ps, &o, c.Key6.Dst, c.Key6.DstPort)
	if d.Method == vs.FullNAT {
		forward.DNAT6(frame, ps, &o, c.Key6.Src, c.Key6.SrcPort)
	}
	w.setOffload(p, &o)
	forward.DR(frame, c.ClientMAC, w.macs[link])
	p.out = uint8(link)
	p.vnet().forTX()
	return w.send6(p)
}

// icmp6ToVIP relays an ICMPv6 error sent to a VIP about a packet the
// director's connection sent from it (a reply: DR real servers and NAT66
// replies carry the VIP as their source), to that connection's real
// server, as ip_vs_in_icmp_v6 does: a router's Packet Too Big reaches the
// real server that must lower its path MTU. For NAT66 the quoted packet
// and the destination are translated back to the real server
// (forward.NATICMPv6); for DR the error goes on unchanged. An error about
// no connection is dropped (not ours).
func (w *worker) icmp6ToVIP(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick, q *forward.Quoted6) bool {
	ps := &w.parsed6
	if w.ct6 == nil || q.Src != ps.Dst {
		return w.drop(ReasonNotOurs)
	}
	key := conntrack.Key6{Src: q.Dst, Dst: q.Src, SrcPort: q.DstPort, DstPort: q.SrcPort, Proto: q.Proto}
	c := w.ct6.Lookup(key, now, tbl)
	if c == nil {
		return w.drop(ReasonNotOurs)
	}
	d, _, _ := connDest(tbl, c.DestID)
	if d == nil {
		return w.drop(ReasonDestGone)
	}
	if d.Method == vs.Tunnel {
		w.c.icmpRelayed.Add(1)
		return w.tunnel6(p, frame, d, tbl) // as ip_vs_icmp_xmit_v6: in the tunnel
	}
	if d.Method != vs.Route && d.Method != vs.Masq && d.Method != vs.FullNAT {
		return w.drop(ReasonUnsupported)
	}
	mac, ok := d.State.MAC()
	if !ok {
		return w.drop(ReasonNoNeighbour)
	}
	ip := pkt.IPv6(frame[ps.L3Off:])
	if ip.HopLimit() <= 1 {
		return w.drop(ReasonTTL)
	}
	ip.SetHopLimit(ip.HopLimit() - 1)
	if d.Method != vs.Route {
		port := d.Port
		if port == 0 {
			port = q.SrcPort
		}
		if d.Method == vs.FullNAT {
			forward.NATICMPv6Full(frame, ps, q, false, c.Out6.Src, c.Out6.SrcPort, c.Out6.Dst, c.Out6.DstPort)
		} else {
			forward.NATICMPv6(frame, ps, q, d.Addr.As16(), port)
		}
	}
	out := d.Iface
	if out < 0 || out >= len(w.links) {
		out = int(p.in)
	}
	forward.DR(frame, mac, w.macs[out])
	p.out = uint8(out)
	p.vnet().clear()
	w.c.icmpRelayed.Add(1)
	return w.send6(p)
}

// icmp6FromReal passes an ICMPv6 error from the real servers' side about a
// NAT66 or FULLNAT request (the quoted packet from the client, or the
// local address, to the real server) on to the client, from the VIP,
// quoting the packet as the client sent it (forward.NATICMPv6Out,
// NATICMPv6Full), as ip_vs_out_icmp_v6 does.
func (w *worker) icmp6FromReal(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick, q *forward.Quoted6) bool {
	ps := &w.parsed6
	out := conntrack.Key6{Src: q.Dst, SrcPort: q.DstPort, Dst: q.Src, DstPort: q.SrcPort, Proto: q.Proto}
	c := w.ct6.LookupOut(out, now, tbl)
	if c == nil {
		return w.drop(ReasonNotOurs)
	}
	d := tbl.Dest(c.DestID)
	if d == nil {
		return w.drop(ReasonDestGone) // as icmpFromReal
	}
	link := int(c.ClientLink)
	if link >= len(w.links) {
		return w.drop(ReasonNoRoute)
	}
	ip := pkt.IPv6(frame[ps.L3Off:])
	if ip.HopLimit() <= 1 {
		return w.drop(ReasonTTL)
	}
	ip.SetHopLimit(ip.HopLimit() - 1)
	if d.Method == vs.FullNAT {
		forward.NATICMPv6Full(frame, ps, q, true, c.Key6.Dst, c.Key6.DstPort, c.Key6.Src, c.Key6.SrcPort)
	} else {
		forward.NATICMPv6Out(frame, ps, q, c.Key6.Dst, c.Key6.DstPort)
	}
	forward.DR(frame, c.ClientMAC, w.macs[link])
	p.out = uint8(link)
	p.vnet().clear()
	w.c.icmpRelayed.Add(1)
	return w.send6(p)
}
