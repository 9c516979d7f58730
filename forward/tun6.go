package forward

import (
	"encoding/binary"

	"github.com/ulvs/ulvs/pkt"
)

// IPv6 tunnelling (issue #17), as ip_vs_tunnel_xmit_v6 and, for an IPv6
// packet in IPv4, ip_vs_tunnel_xmit with the connection's family
// (net/netfilter/ipvs/ip_vs_xmit.c, ip_vs_prepare_tunneled_skb): the
// kernel tunnels to a real server of either family, whatever the
// service's, the outer header's family being the real server's. Three
// encapsulations come on top of IPIP (EncapIPIP):
//
//   - ip6ip6: IPv6 in IPv6, next header 41 (RFC 2473);
//   - IPv4 in IPv6: next header 4 (RFC 2473);
//   - IPv6 in IPv4: protocol 41 (RFC 4213, "6in4").

// IP6TunnelOverhead is what an outer IPv6 header adds to a packet: a path
// of MTU m carries inner packets of at most m-IP6TunnelOverhead bytes.
const IP6TunnelOverhead = pkt.IPv6HeaderLen

// ProtoIPv6 is the protocol / next header number of an IPv6 packet
// inside an IP packet (IPPROTO_IPV6).
const ProtoIPv6 = 41

// innerIP reads what the outer header copies from the inner one, as
// ip_vs_prepare_tunneled_skb does: the next header value that names the
// inner family, its DS field (the whole TOS or traffic class byte, ECN
// included: the kernel copies it unchanged), its TTL or hop limit (the
// caller decremented it first, as decrement_ttl does) and whether it has
// DF set (IPv6 has no DF: 0, as the kernel sets for an IPv6 packet). It
// reports false when the header at ip is not whole or its length field
// does not say ipLen.
func innerIP(ip []byte, ipLen int) (next, ds, ttl uint8, df, ok bool) {
	if len(ip) < ipLen || ipLen < pkt.IPv4MinHeaderLen {
		return
	}
	switch ip[0] >> 4 {
	case pkt.IPv4Version:
		h := pkt.IPv4(ip)
		if int(h.TotalLen()) != ipLen || h.HeaderLen() < pkt.IPv4MinHeaderLen {
			return
		}
		return pkt.ProtoIPIP, h.TOS(), h.TTL(), h.DF(), true
	case pkt.IPv6Version:
		if ipLen < pkt.IPv6HeaderLen || int(pkt.IPv6(ip).PayloadLen())+pkt.IPv6HeaderLen != ipLen {
			return
		}
		return ProtoIPv6, ip[0]<<4 | ip[1]>>4, pkt.IPv6(ip).HopLimit(), false, true
	}
	return
}

// pushHeader makes room for an outer header of size bytes in front of the
// IP packet of the frame buf[off:off+n] (network header at l3Off): the
// link-layer header moves size bytes back into the headroom and its
// EtherType becomes etherType. It returns the new frame offset, or -1.
func pushHeader(buf []byte, off, n, l3Off, size int, etherType uint16) int {
	if off < size || off+n > len(buf) || n < 0 || l3Off < pkt.EtherHeaderLen || l3Off > n {
		return -1
	}
	newOff := off - size
	copy(buf[newOff:], buf[off:off+l3Off]) // forward copy is safe moving back
	binary.BigEndian.PutUint16(buf[newOff+l3Off-2:], etherType)
	return newOff
}

// EncapIn6 encapsulates the IP packet (IPv4 or IPv6) of one Ethernet frame
// in IPv6 in place, as ip_vs_tunnel_xmit_v6 does:
//
//   - version 6, the traffic class the inner TOS or traffic class byte
//     (ipv6_change_dsfield(iph, 0, dsfield)), flow label 0;
//   - payload length the inner packet's length, next header 41 for an
//     IPv6 packet (ip6ip6) or 4 for an IPv4 one;
//   - hop limit the inner TTL or hop limit (decremented by the caller, as
//     the kernel's decrement_ttl does before), source src (the director's
//     address towards the real server), destination dst (the real
//     server).
//
// The frame is buf[off:off+n], its network header at l3Off, the inner
// packet ipLen bytes long (anything after it, Ethernet padding, stays
// outside the outer packet); buf[:off] is headroom. The link-layer header
// moves IP6TunnelOverhead bytes back and its EtherType becomes IPv6. The
// new frame is buf[newOff:off+n]. For a frame with a pending checksum
// (o.NeedsCsum), o.CsumStart moves by the overhead: the inner pseudo-header
// sum stays right, the inner packet being untouched. It returns -1,
// changing nothing, for a GSO frame (the caller segments first: a
// virtio_net_hdr cannot describe GSO inside a tunnel), a short headroom,
// an inner header that does not say ipLen, or an outer payload over
// 65535 bytes. It does not allocate.
func EncapIn6(buf []byte, off, n, l3Off, ipLen int, o *Offload, src, dst [16]byte) (newOff int) {
	if o.IsGSO() || off+n > len(buf) || n < 0 || l3Off < 0 || l3Off+ipLen > n || ipLen > 0xffff {
		return -1
	}
	next, ds, hop, _, ok := innerIP(buf[off+l3Off:off+n], ipLen)
	if !ok {
		return -1
	}
	if newOff = pushHeader(buf, off, n, l3Off, IP6TunnelOverhead, pkt.EtherTypeIPv6); newOff < 0 {
		return -1
	}
	h := pkt.IPv6(buf[newOff+l3Off : newOff+l3Off+IP6TunnelOverhead])
	binary.BigEndian.PutUint32(h[0:], uint32(pkt.IPv6Version)<<28|uint32(ds)<<20)
	h.SetPayloadLen(uint16(ipLen))
	h[6] = next
	h.SetHopLimit(hop)
	h.SetSrc(src)
	h.SetDst(dst)
	moveOffload(o, IP6TunnelOverhead)
	return newOff
}

// Encap6In4 encapsulates the IPv6 packet of one Ethernet frame in IPv4
// (protocol 41) in place, as ip_vs_tunnel_xmit does for an IPv6
// connection to an IPv4 real server: IHL 5, TOS the inner traffic class,
// DF clear (ip_vs_prepare_tunneled_skb gives an IPv6 packet df 0), TTL the
// inner hop limit (decremented by the caller), identification ipID, a
// full header checksum. Buffer, offload and failure rules are EncapIn6's
// (the inner packet must be IPv6); the EtherType becomes IPv4.
func Encap6In4(buf []byte, off, n, l3Off, ipLen int, o *Offload, src, dst [4]byte, ipID uint16) (newOff int) {
	if o.IsGSO() || off+n > len(buf) || n < 0 || l3Off < 0 || l3Off+ipLen > n || ipLen+IPIPOverhead > 0xffff {
		return -1
	}
	next, ds, hop, _, ok := innerIP(buf[off+l3Off:off+n], ipLen)
	if !ok || next != ProtoIPv6 {
		return -1
	}
	if newOff = pushHeader(buf, off, n, l3Off, IPIPOverhead, pkt.EtherTypeIPv4); newOff < 0 {
		return -1
	}
	h := pkt.IPv4(buf[newOff+l3Off : newOff+l3Off+IPIPOverhead])
	h.SetHeaderLen(pkt.IPv4MinHeaderLen)
	h.SetTOS(ds)
	h.SetTotalLen(uint16(ipLen + IPIPOverhead))
	h.SetID(ipID)
	h.SetFlagsFragOff(0, 0)
	h.SetTTL(hop)
	h.SetProtocol(ProtoIPv6)
	h.SetSrc(src)
	h.SetDst(dst)
	h.ComputeChecksum()
	moveOffload(o, IPIPOverhead)
	return newOff
}

// moveOffload shifts a pending checksum's start (and the header length
// hint) by the size of a header pushed in front of the packet.
func moveOffload(o *Offload, by int) {
	if o.NeedsCsum {
		o.CsumStart += uint16(by)
	}
	if o.HdrLen != 0 {
		o.HdrLen += uint16(by)
	}
}

// Tunnel6MTU returns the MTU left for inner packets on a link of MTU
// linkMTU under an outer IPv6 header, and false when that is below the
// IPv6 minimum of 1280, where the kernel refuses to tunnel
// (__ip_vs_get_out_rt_v6: mtu < IPV6_MIN_MTU).
func Tunnel6MTU(linkMTU int) (int, bool) {
	m := linkMTU - IP6TunnelOverhead
	return m, m >= IPv6MinMTU
}

// TunnelTooBig is what an ICMP error about one of the director's tunnel
// packets tells: the tunnel's outer destination (the real server; an
// IPv4 address in the last 4 bytes of Dst when V4) and the path MTU the
// router reported.
type TunnelTooBig struct {
	V4       bool
	Src, Dst [16]byte
	MTU      int
}

// ParseTunnelTooBig6 reads a Packet Too Big (decoded into p from frame)
// quoting an IPv6 tunnel packet of the director's: an outer IPv6 header
// whose next header is 41 (ip6ip6) or 4 (IPv4 in IPv6). The kernel's
// ip_vs_in_icmp_v6 relates no such error to a connection (the quoted
// protocol is no IPVS protocol): it goes to the director's own stack,
// whose tunnel protocol handler lowers the path MTU towards the real
// server, and the next client packet too big for it gets Packet Too Big
// (ensure_mtu_is_adequate). It reports false for anything else, a bad
// ICMPv6 checksum included. It does not allocate.
func ParseTunnelTooBig6(frame []byte, p *pkt.Parsed6) (t TunnelTooBig, ok bool) {
	if p.Proto != pkt.ProtoICMPv6 || p.L4Off == 0 || p.Frag || p.ICMPType != pkt.ICMPv6PacketTooBig ||
		p.L4Off+p.L4Len > len(frame) || p.L4Len < 8+pkt.IPv6HeaderLen {
		return t, false
	}
	msg := frame[p.L4Off : p.L4Off+p.L4Len]
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		return t, false
	}
	q := pkt.IPv6(msg[8:])
	if q[0]>>4 != pkt.IPv6Version || q.NextHeader() != ProtoIPv6 && q.NextHeader() != pkt.ProtoIPIP {
		return t, false
	}
	return TunnelTooBig{Src: q.Src(), Dst: q.Dst(), MTU: int(binary.BigEndian.Uint32(msg[4:8]))}, true
}

// ParseTunnelTooBig4 reads an ICMP fragmentation needed (decoded into p
// from frame) quoting an IPv4 packet of protocol 41: one of the
// director's IPv6-in-IPv4 tunnel packets. As for ParseTunnelTooBig6, the
// kernel's ip_vs_in_icmp relates only IPIP (and GUE, GRE) quotes to
// connections; this one goes to its own stack. It does not allocate.
func ParseTunnelTooBig4(frame []byte, p *pkt.Parsed) (t TunnelTooBig, ok bool) {
	if p.Proto != pkt.ProtoICMP || p.L4Off == 0 || p.Frag != 0 || p.ICMPType != pkt.ICMPDestUnreachable ||
		p.L4Off+p.L4Len > len(frame) || p.L4Len < pkt.ICMPv4HeaderLen+pkt.IPv4MinHeaderLen {
		return t, false
	}
	icmp := frame[p.L4Off : p.L4Off+p.L4Len]
	if icmp[1] != pkt.ICMPFragNeeded || pkt.Fold(pkt.Sum(icmp, 0)) != 0xffff {
		return t, false
	}
	proto, src, dst, _, _, ok := quotedHeader(icmp, pkt.ICMPv4HeaderLen)
	if !ok || proto != ProtoIPv6 {
		return t, false
	}
	t = TunnelTooBig{V4: true, MTU: int(binary.BigEndian.Uint16(icmp[6:8]))}
	copy(t.Src[12:], src[:])
	copy(t.Dst[12:], dst[:])
	return t, true
}
