package forward

import "github.com/ulvs/ulvs/pkt"

// IPIPOverhead is what IPIP encapsulation adds to a packet: one IPv4
// header without options (RFC 2003). A path of MTU m carries inner
// packets of at most m-IPIPOverhead bytes.
const IPIPOverhead = pkt.IPv4MinHeaderLen

// minTunnelMTU is the smallest inner MTU the kernel accepts on a tunnel
// route (68, RFC 791's minimum; __ip_vs_get_out_rt).
const minTunnelMTU = 68

// EncapIPIP encapsulates the IPv4 packet of one Ethernet frame in IPv4
// (IPIP, RFC 2003) in place, as ip_vs_tunnel_xmit and
// ip_vs_prepare_tunneled_skb do (net/netfilter/ipvs/ip_vs_xmit.c).
//
// The frame is buf[off:off+n], decoded into p; buf[:off] is headroom. The
// link-layer header (the MACs, any VLAN tags and the EtherType, p.L3Off
// bytes) moves IPIPOverhead bytes back into the headroom and the outer
// header is written between it and the untouched inner packet:
//
//   - version 4, IHL 5, no options;
//   - TOS: the inner TOS byte, DSCP and ECN bits both (the kernel copies
//     ipv4_get_dsfield(old_iph) unchanged);
//   - flags: DF copied from the inner header (the kernel does so with
//     sysctl pmtu_disc, the default), MF and offset 0;
//   - TTL: the inner TTL (decrement that first, as the kernel does);
//   - protocol 4, identification ipID (the caller's per-worker counter;
//     the kernel's ip_select_ident writes 0 for a DF packet it forwards,
//     which callers may copy), source src (the director's address towards
//     the real server) and destination dst (the real server);
//   - a full header checksum; the total length covers the inner packet
//     (Ethernet padding after it is left outside the outer packet too).
//
// The new frame is buf[newOff:off+n]: it keeps its end and grows by
// IPIPOverhead at the front. p is updated to describe it as Decode would
// (protocol 4, L4Off at the inner header). For a frame with a pending
// checksum (o.NeedsCsum), o.CsumStart moves by IPIPOverhead and the
// pseudo-header sum in the inner L4 header stays right, since the inner
// header does not change; o.HdrLen, when set, grows by IPIPOverhead.
//
// GSO frames are refused (-1): virtio_net_hdr cannot describe GSO for
// IPIP (the kernel's SKB_GSO_IPXIP4 has no virtio counterpart), so the
// caller segments them first (Segment) and encapsulates each segment.
// EncapIPIP also returns -1, changing nothing, when the headroom is short
// of IPIPOverhead, the frame is not IPv4, or the outer packet would
// exceed 65535 bytes. It does not allocate.
func EncapIPIP(buf []byte, off, n int, p *pkt.Parsed, o *Offload, src, dst [4]byte, ipID uint16) (newOff int) {
	if off < IPIPOverhead || off+n > len(buf) || n < 0 || p.EtherType != pkt.EtherTypeIPv4 ||
		p.L3Off < pkt.EtherHeaderLen || p.L3Off+p.IPLen > n || p.IPLen < pkt.IPv4MinHeaderLen ||
		p.IPLen+IPIPOverhead > 0xffff || o.IsGSO() {
		return -1
	}
	frame := buf[off : off+n]
	inner := pkt.IPv4(frame[p.L3Off:])
	if int(inner.TotalLen()) != p.IPLen {
		return -1 // a TSO total length of 0 cannot be tunnelled
	}
	tos, ttl, df := inner.TOS(), inner.TTL(), inner.DF()

	newOff = off - IPIPOverhead
	copy(buf[newOff:], frame[:p.L3Off]) // MACs, tags, EtherType: forward copy is safe moving back
	outer := pkt.IPv4(buf[newOff+p.L3Off : newOff+p.L3Off+IPIPOverhead])
	outer.SetHeaderLen(pkt.IPv4MinHeaderLen)
	outer.SetTOS(tos)
	outer.SetTotalLen(uint16(p.IPLen + IPIPOverhead))
	outer.SetID(ipID)
	var flags uint8
	if df {
		flags = pkt.IPv4FlagDF
	}
	outer.SetFlagsFragOff(flags, 0)
	outer.SetTTL(ttl)
	outer.SetProtocol(pkt.ProtoIPIP)
	outer.SetSrc(src)
	outer.SetDst(dst)
	outer.ComputeChecksum()

	if o.NeedsCsum {
		o.CsumStart += IPIPOverhead
	}
	if o.HdrLen != 0 {
		o.HdrLen += IPIPOverhead
	}
	innerLen := p.IPLen
	*p = pkt.Parsed{
		EtherType: p.EtherType, VLANs: p.VLANs, VLANID: p.VLANID,
		L3Off: p.L3Off, L4Off: p.L3Off + IPIPOverhead, L4Len: innerLen,
		IPLen: innerLen + IPIPOverhead, Proto: pkt.ProtoIPIP, Src: src, Dst: dst,
	}
	return newOff
}

// NeedsFragNeeded reports whether the packet in frame (decoded into p,
// with offload state o) cannot be sent on a path whose MTU is mtu and
// must be answered with FragNeeded(..., mtu, ...) instead, as
// ensure_mtu_is_adequate and __mtu_check_toobig_v4 decide
// (net/netfilter/ipvs/ip_vs_xmit.c): the DF flag is set and the packet is
// longer than mtu. For TUN pass the egress MTU minus IPIPOverhead (the
// kernel's tunnel route MTU) and send that value in the ICMP message.
//
// A GSO super-frame is judged by its segments, since those are what goes
// on the wire: IP header + L4 header + GSOSize (the kernel lets GSO
// frames through here and checks the segments later). A packet without
// DF is never refused: fragment it instead (FragmentIPv4). The kernel
// also exempts ICMP errors it relays (ip_vs_iph_icmp); so does the caller,
// which knows how it classified the packet. It does not allocate.
func NeedsFragNeeded(frame []byte, p *pkt.Parsed, o *Offload, mtu int) bool {
	if p.EtherType != pkt.EtherTypeIPv4 || p.L3Off+pkt.IPv4MinHeaderLen > len(frame) {
		return false
	}
	ip := pkt.IPv4(frame[p.L3Off:])
	if !ip.DF() {
		return false
	}
	size := p.IPLen
	if o.IsGSO() {
		if l4 := segmentHeaderLen(frame, p); l4 > 0 {
			size = l4 - p.L3Off + int(o.GSOSize)
			if size > p.IPLen {
				size = p.IPLen
			}
		}
	}
	return size > mtu
}

// TunnelMTU returns the MTU left for inner packets on a link of MTU
// linkMTU, and false when that is below 68 bytes, where the kernel
// refuses to tunnel (__ip_vs_get_out_rt).
func TunnelMTU(linkMTU int) (int, bool) {
	m := linkMTU - IPIPOverhead
	return m, m >= minTunnelMTU
}

// segmentHeaderLen returns the frame offset where a GSO segment's payload
// starts (the end of the TCP or UDP header), or 0 if p has no such header.
func segmentHeaderLen(frame []byte, p *pkt.Parsed) int {
	return l4HeaderEnd(frame, p.L4Off, p.Proto)
}

// l4HeaderEnd returns the frame offset where the payload of the TCP or
// UDP header at l4Off ends, or 0 for another protocol or no header.
func l4HeaderEnd(frame []byte, l4Off int, proto uint8) int {
	if l4Off == 0 {
		return 0
	}
	switch proto {
	case pkt.ProtoTCP:
		return l4Off + pkt.TCP(frame[l4Off:]).DataOffset()
	case pkt.ProtoUDP:
		return l4Off + pkt.UDPHeaderLen
	}
	return 0
}
