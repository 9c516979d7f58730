package engine

import (
	"net/netip"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

// IPv6 tunnelling (issue #17), as the kernel's ip_vs_tunnel_xmit_v6 and
// ip_vs_tunnel_xmit with a connection of the other family: the outer
// header's family is the real server's, the inner packet's the
// service's.
//
//   - IPv6 service, IPv6 real server: ip6ip6 (next header 41);
//   - IPv6 service, IPv4 real server: IPv6 in IPv4 (protocol 41);
//   - IPv4 service, IPv6 real server: IPv4 in IPv6 (next header 4), sent
//     by tunnel (tun.go) with tunnelTo6's end.
//
// The outer source is the egress interface's first global IPv6 address
// (IPv4: its first IPv4 address), the hop limit or TTL the inner one after
// the director's decrement. An IPv6 packet that does not fit the tunnel
// (the egress MTU less the outer header, or less a path MTU a router
// reported) is answered with Packet Too Big carrying that MTU, as
// ensure_mtu_is_adequate does (a GSO super-frame judged by its segments, a
// reassembled datagram by its largest fragment). A GSO super-frame is
// segmented in software first (forward.Segment6: a virtio_net_hdr cannot
// describe GSO inside a tunnel), and a reassembled datagram is fragmented
// again as it came (frag6.go); each piece is then tunnelled on its own.
// The kernel tunnels a reassembled datagram whole and fragments the outer
// packet instead; inner fragments need no reassembly before the real
// server's decapsulation, and reach the same socket whole.

// tunnelTo6 is tunnelTo for an IPv6 real server: the link of its
// interface (or the packet's), its resolved MAC, the MTU less 40.
func (w *worker) tunnelTo6(p *packet, d *vs.Dest) (e tunnelEnd, r Reason) {
	e.outer6, e.dst6 = true, d.Addr.As16()
	e.out = d.Iface
	if e.out < 0 || e.out >= len(w.links) {
		e.out = int(p.in)
	}
	var ok bool
	if e.mac, ok = d.State.MAC(); !ok {
		return e, ReasonNoNeighbour
	}
	if e.src6 = w.addrs6[e.out]; e.src6 == ([16]byte{}) {
		return e, ReasonNoRoute // no IPv6 address to send from
	}
	if e.mtu, ok = forward.Tunnel6MTU(w.mtus[e.out]); !ok {
		return e, ReasonUnsupported
	}
	if pm := int(d.State.PathMTU.Load()); pm > 0 && pm-forward.IP6TunnelOverhead < e.mtu {
		if e.mtu = pm - forward.IP6TunnelOverhead; e.mtu < forward.IPv6MinMTU {
			return e, ReasonUnsupported
		}
	}
	return e, 0
}

// tunnel6 sends the IPv6 packet decoded in w.parsed6 to real server d in
// a tunnel: ip6ip6, or IPv6 in IPv4 to an IPv4 real server. It spends a
// hop first (decrement_ttl).
func (w *worker) tunnel6(p *packet, frame []byte, d *vs.Dest, tbl *vs.Table) bool {
	ps := &w.parsed6
	ip := pkt.IPv6(frame[ps.L3Off:])
	if ip.HopLimit() <= 1 {
		return w.drop(ReasonTTL)
	}
	e, r := w.tunnelTo(p, d, tbl)
	if r != 0 {
		return w.drop(r)
	}
	ip.SetHopLimit(ip.HopLimit() - 1)
	if w.wireSize6(p, frame) > e.mtu {
		// IPv6 routers do not fragment: the client learns the
		// tunnel's MTU, its packet quoted as it came (bar the hop).
		if w.icmpAllowed() {
			w.icmpError(p, frame, func(buf []byte) []byte {
				return forward.PacketTooBig6(buf, frame, ps, e.mtu, w.macs[p.in])
			})
		}
		return w.drop(ReasonIPv6TooBig)
	}
	o := w.offload(p)
	if o.IsGSO() || w.reasm != nil {
		return w.tunnel6Split(p, frame, &o, &e)
	}
	var vnet [vnetHdrLen]byte
	copy(vnet[:], p.vnet())
	var newOff int
	if e.outer6 {
		newOff = forward.EncapIn6(p.buf, p.off, p.n, ps.L3Off, ps.IPLen, &o, e.src6, e.dst6)
	} else {
		newOff = forward.Encap6In4(p.buf, p.off, p.n, ps.L3Off, ps.IPLen, &o, e.src4, e.dst4, w.nextIPID())
	}
	return w.sendEncapped(p, newOff, &vnet, &o, &e)
}

// tunnel6Split sends the GSO super-frame or reassembled datagram p (the
// hop spent, its pieces within e.mtu, checked by the caller) to the
// tunnel's end as segments or fragments, each encapsulated on its own,
// as tunnel does for IPv4. It reports false: p itself is not sent.
func (w *worker) tunnel6Split(p *packet, frame []byte, o *forward.Offload, e *tunnelEnd) bool {
	ps := &w.parsed6
	if len(w.scr.free()) < scratchFrames/2 {
		w.flushTX()
	}
	dst := w.scr.free()
	var n int
	var err error
	if o.IsGSO() {
		n, err = forward.Segment6(dst, w.scr.sizes, scratchHeadroom+vnetHdrLen, frame, ps, o)
	} else {
		s := w.reasm
		n, err = forward.FragmentIPv6(dst, w.scr.sizes, scratchHeadroom+vnetHdrLen, frame, ps, s.hdr-s.l3, s.id, min(e.mtu, s.maxFrag))
	}
	if err != nil || n == 0 {
		return w.drop(ReasonSplit)
	}
	l3 := ps.L3Off
	pieces := w.scr.take(n, w.scr.sizes, p.in)
	for i := range pieces {
		q := &pieces[i]
		var none forward.Offload
		var newOff int
		if e.outer6 {
			newOff = forward.EncapIn6(q.buf, q.off, q.n, l3, q.n-l3, &none, e.src6, e.dst6)
		} else {
			newOff = forward.Encap6In4(q.buf, q.off, q.n, l3, q.n-l3, &none, e.src4, e.dst4, w.nextIPID())
		}
		if newOff < vnetHdrLen {
			w.c.drops[ReasonSplit].Add(1)
			continue
		}
		q.n += q.off - newOff
		q.off = newOff
		clear(q.vnet())
		w.finishTunnel(q, e.mac, e.out)
	}
	w.c.split.Add(1)
	return false
}

// tunnelTooBig takes in an ICMP error about one of the director's own
// tunnel packets that the kernel's ip_vs_in_icmp(_v6) leaves to its
// stack (ip6ip6 and IPv4 in IPv6: Packet Too Big to our IPv6 address;
// IPv6 in IPv4: fragmentation needed to our IPv4 address): the stack's
// tunnel handler lowers the path MTU towards the real server, and the
// next client packet too big for it gets Packet Too Big or fragmentation
// needed. Here the reported MTU goes to every tunnel real server at that
// address (vs.DestState.PathMTU, which tunnelTo reads), counted in
// icmp_relayed. It reports false, changing nothing, when the quoted
// packet is not from one of our addresses to a tunnel real server.
func (w *worker) tunnelTooBig(t *forward.TunnelTooBig, tbl *vs.Table) bool {
	var dst netip.Addr
	ours, min := false, forward.IPv6MinMTU
	if t.V4 {
		src := [4]byte(t.Src[12:])
		for _, a := range w.addrs {
			ours = ours || a == src && a != [4]byte{}
		}
		dst, min = netip.AddrFrom4([4]byte(t.Dst[12:])), 68+forward.IPIPOverhead
	} else {
		for _, a := range w.addrs6 {
			ours = ours || a == t.Src && a != [16]byte{}
		}
		dst = netip.AddrFrom16(t.Dst)
	}
	if !ours || t.MTU < min || t.MTU > 0xffff {
		return false
	}
	found := false
	for _, d := range tbl.DestByID {
		if d != nil && d.Method == vs.Tunnel && d.Addr == dst {
			d.State.PathMTU.Store(int32(t.MTU))
			found = true
		}
	}
	if found {
		w.c.icmpRelayed.Add(1)
	}
	return found
}

// hasTunnel6 reports whether t has an IPv6 tunnel real server, whose
// Packet Too Big the socket filter must let through.
func hasTunnel6(t *vs.Table) bool {
	for _, d := range t.DestByID {
		if d != nil && d.Method == vs.Tunnel && d.Addr.Is6() && !d.Addr.Is4In6() {
			return true
		}
	}
	return false
}
