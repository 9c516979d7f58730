package forward

import "github.com/ulvs/ulvs/pkt"

// ICMP errors that quote a packet of a tracked connection are related to
// it, as ip_vs_in_icmp and ip_vs_out_icmp do (net/netfilter/ipvs/
// ip_vs_core.c): only destination unreachable, source quench and time
// exceeded count (redirect and parameter problem, though errors, are
// not relayed by IPVS), and only when the quoted packet is TCP or UDP
// with its ports present (or IPIP: an error about the director's own
// tunnel packet, which quotes the outer header first).

// Quoted is the flow an ICMP error quotes, read by ParseICMPError. Its
// fields describe the quoted packet as it was sent, so the connection it
// belongs to is found with the tuple reversed: an error coming back from
// the client side about VIP:vport -> CIP:cport belongs to the connection
// CIP:cport -> VIP:vport. Offsets index the frame. A Quoted holds no
// reference to the frame.
type Quoted struct {
	Type, Code uint8 // of the ICMP error
	// Info is the second word of the ICMP header: the next-hop MTU in its
	// low 16 bits for fragmentation needed (RFC 1191), the pointer of a
	// parameter problem, 0 otherwise.
	Info             uint32
	Proto            uint8 // pkt.ProtoTCP or pkt.ProtoUDP
	Src, Dst         [4]byte
	SrcPort, DstPort uint16
	// IPOff is the offset of the quoted IPv4 header (of the inner header
	// for IPIP) and PortsOff that of its ports.
	IPOff, PortsOff int
	// IPIP is set when the quoted packet is an IPIP packet (a TUN packet
	// of the director's): TunSrc and TunDst are its outer addresses,
	// TunOff the offset of its outer header, and Src..DstPort describe
	// the client's packet inside. TunDF is the inner packet's DF flag.
	IPIP           bool
	TunDF          bool
	TunSrc, TunDst [4]byte
	TunOff         int
}

// icmpRelated reports whether IPVS relates ICMP type t to connections.
func icmpRelated(t uint8) bool {
	return t == pkt.ICMPDestUnreachable || t == pkt.ICMPSourceQuench || t == pkt.ICMPTimeExceeded
}

// ParseICMPError reads the flow quoted by the ICMP error in frame, decoded
// into p. It reports false when the frame is not an ICMP error IPVS
// relates to a connection: not ICMP, a fragment (the kernel reassembles;
// ulvs drops), another type, a bad ICMP checksum (the kernel drops those
// too), a quoted header that is malformed or truncated before the 4 port
// bytes, a quoted packet that is a non-first fragment (no ports), or one
// of another protocol. A quoted packet may be cut anywhere after its
// ports; its header must be whole. It does not allocate.
func ParseICMPError(frame []byte, p *pkt.Parsed) (q Quoted, ok bool) {
	if p.Proto != pkt.ProtoICMP || p.L4Off == 0 || p.Frag != 0 || !icmpRelated(p.ICMPType) ||
		p.L4Off+p.L4Len > len(frame) {
		return Quoted{}, false
	}
	icmp := frame[p.L4Off : p.L4Off+p.L4Len]
	if len(icmp) < pkt.ICMPv4HeaderLen || pkt.Fold(pkt.Sum(icmp, 0)) != 0xffff {
		return Quoted{}, false
	}
	q.Type, q.Code = icmp[0], icmp[1]
	q.Info = uint32(icmp[4])<<24 | uint32(icmp[5])<<16 | uint32(icmp[6])<<8 | uint32(icmp[7])
	off := p.L4Off + pkt.ICMPv4HeaderLen
	end := p.L4Off + p.L4Len
	proto, src, dst, l4, df, ok := quotedHeader(frame[:end], off)
	if !ok {
		return Quoted{}, false
	}
	q.IPOff = off
	if proto == pkt.ProtoIPIP {
		q.IPIP, q.TunSrc, q.TunDst, q.TunOff = true, src, dst, off
		off = l4
		proto, src, dst, l4, df, ok = quotedHeader(frame[:end], off)
		if !ok {
			return Quoted{}, false
		}
		q.IPOff, q.TunDF = off, df
	}
	if proto != pkt.ProtoTCP && proto != pkt.ProtoUDP || l4+4 > end {
		return Quoted{}, false
	}
	q.Proto, q.Src, q.Dst, q.PortsOff = proto, src, dst, l4
	q.SrcPort = uint16(frame[l4])<<8 | uint16(frame[l4+1])
	q.DstPort = uint16(frame[l4+2])<<8 | uint16(frame[l4+3])
	return q, true
}

// quotedHeader checks the quoted IPv4 header at frame[off:] and returns
// its protocol, addresses, the offset after it and its DF flag. A quoted
// non-first fragment is refused: it has no ports.
func quotedHeader(frame []byte, off int) (proto uint8, src, dst [4]byte, l4 int, df, ok bool) {
	if off+pkt.IPv4MinHeaderLen > len(frame) {
		return
	}
	ip := pkt.IPv4(frame[off:])
	hl := ip.HeaderLen()
	if ip.Version() != pkt.IPv4Version || hl < pkt.IPv4MinHeaderLen || off+hl > len(frame) || ip.FragOffset() != 0 {
		return
	}
	return ip.Protocol(), ip.Src(), ip.Dst(), off + hl, ip.DF(), true
}

// NATICMP rewrites the ICMP error in frame (decoded into p; ParseICMPError
// accepted it) for a NAT connection, as ip_vs_nat_icmp does
// (net/netfilter/ipvs/ip_vs_core.c):
//
//   - out (handle_response_icmp: an error from the real-server side,
//     quoting CIP:cport -> RIP:rport, on its way to the client): the outer
//     source, the quoted destination and the quoted destination port
//     become addr:port (VIP:vport);
//   - in (ip_vs_in_icmp: an error from the client side, quoting
//     VIP:vport -> CIP:cport, on its way to the real server): the outer
//     destination, the quoted source and the quoted source port become
//     addr:port (RIP:rport).
//
// The outer and quoted IPv4 header checksums are recomputed (ip_send_check
// on both) and so is the whole ICMP checksum (ip_vs_checksum_complete);
// the quoted packet's own L4 checksum is left alone, as in the kernel. p is
// updated. It reports false, changing nothing, for a frame ParseICMPError
// refuses or an IPIP quote (relay those with RelayTunnelError). The
// result carries complete checksums: ICMP has no pending checksum (the
// kernel computes ICMP checksums in software). It does not allocate.
func NATICMP(frame []byte, p *pkt.Parsed, out bool, addr [4]byte, port uint16) bool {
	q, ok := ParseICMPError(frame, p)
	if !ok || q.IPIP {
		return false
	}
	outer := pkt.IPv4(frame[p.L3Off:])
	inner := pkt.IPv4(frame[q.IPOff:])
	if out {
		outer.SetSrc(addr)
		inner.SetDst(addr)
		putPort(frame[q.PortsOff+2:], port)
		p.Src = addr
	} else {
		outer.SetDst(addr)
		inner.SetSrc(addr)
		putPort(frame[q.PortsOff:], port)
		p.Dst = addr
	}
	finishICMP(frame, p, outer, inner)
	return true
}

// NATICMPFull is NATICMP for a FULLNAT connection, where both ends are
// translated (the FULLNAT ip_vs_nat_icmp of the Alibaba LVS tree, without
// its TCP sequence adjustment, which ulvs does not do):
//
//   - out (from the real-server side, quoting LIP:lport -> RIP:rport): the
//     outer source becomes vaddr (the VIP) and the outer destination caddr
//     (the client); the quoted packet becomes caddr:cport -> vaddr:vport;
//   - in (from the client side, quoting VIP:vport -> CIP:cport): the outer
//     source becomes caddr (here the director's local address LIP) and
//     the outer destination vaddr (here the real server); the quoted
//     packet becomes vaddr:vport -> caddr:cport (RIP:rport -> LIP:lport).
//
// In both directions, then, the outer header goes from vaddr to caddr
// when out and from caddr to vaddr when in, and the quote is the
// reverse. Checksums and the result are as for NATICMP.
func NATICMPFull(frame []byte, p *pkt.Parsed, out bool, vaddr [4]byte, vport uint16, caddr [4]byte, cport uint16) bool {
	q, ok := ParseICMPError(frame, p)
	if !ok || q.IPIP {
		return false
	}
	outer := pkt.IPv4(frame[p.L3Off:])
	inner := pkt.IPv4(frame[q.IPOff:])
	if out {
		outer.SetSrc(vaddr)
		outer.SetDst(caddr)
		inner.SetSrc(caddr)
		inner.SetDst(vaddr)
		putPort(frame[q.PortsOff:], cport)
		putPort(frame[q.PortsOff+2:], vport)
		p.Src, p.Dst = vaddr, caddr
	} else {
		outer.SetSrc(caddr)
		outer.SetDst(vaddr)
		inner.SetSrc(vaddr)
		inner.SetDst(caddr)
		putPort(frame[q.PortsOff:], vport)
		putPort(frame[q.PortsOff+2:], cport)
		p.Src, p.Dst = caddr, vaddr
	}
	finishICMP(frame, p, outer, inner)
	return true
}

func putPort(b []byte, port uint16) {
	b[0] = byte(port >> 8)
	b[1] = byte(port)
}

// finishICMP recomputes the outer and quoted header checksums and the ICMP
// checksum after a NAT rewrite.
func finishICMP(frame []byte, p *pkt.Parsed, outer, inner pkt.IPv4) {
	outer.ComputeChecksum()
	inner.ComputeChecksum()
	pkt.ICMPv4(frame[p.L4Off : p.L4Off+p.L4Len]).ComputeChecksum()
}

// ICMP error construction follows icmp_send (net/ipv4/icmp.c), which
// ip_vs_leave (port unreachable when no real server is available) and
// ensure_mtu_is_adequate (fragmentation needed) call.
const (
	// ICMPQuoteMax is the most of the offending packet an ICMP error
	// quotes: icmp_send fills the reply up to 576 bytes (RFC 1812 section
	// 4.3.2.3), so 576 - 20 (IPv4 header) - 8 (ICMP header) = 548 bytes,
	// or the whole packet when shorter (RFC 792 asks only for the header
	// and 8 bytes).
	ICMPQuoteMax = 576 - pkt.IPv4MinHeaderLen - pkt.ICMPv4HeaderLen
	// icmpTTL is the kernel's default TTL (sysctl ip_default_ttl).
	icmpTTL = 64
	// An error's TOS keeps the offending packet's TOS bits and sets
	// precedence "internetwork control" (icmp_send: RT_TOS(iph->tos) |
	// IPTOS_PREC_INTERNETCONTROL).
	iptosTOSMask       = 0x1e
	iptosPrecInternetC = 0xc0
)

// PortUnreachable builds the ICMP destination unreachable, port
// unreachable (3/3) message the kernel's ip_vs_leave sends to a client
// whose packet found no available real server. frame is the client's
// packet as received, decoded into p; it is only read. The reply frame
// goes to the client's MAC (frame's source MAC) from srcMAC, keeping any
// VLAN tags of frame; its IPv4 header goes from srcIP (the VIP the client
// used) to the client with TTL 64, TOS as icmp_send sets it, no DF and
// identification id; the ICMP message quotes frame's IP packet up to
// ICMPQuoteMax bytes. All checksums are complete.
//
// The frame is written into buf[:n] and returned; buf is grown only when
// its capacity is short (give it cap >= MaxICMPErrorFrame and this does
// not allocate). The caller owns the result. It returns nil, as icmp_send
// stays silent, when the offending packet is a fragment other than the
// first, an ICMP error (or an ICMP message of an unknown type), or comes
// from an address that no reply can go to (0.0.0.0, multicast, limited
// broadcast, loopback) or was sent to a multicast or broadcast address.
// Rate limiting (icmp_ratelimit) is the caller's.
func PortUnreachable(buf, frame []byte, p *pkt.Parsed, srcMAC [6]byte, srcIP [4]byte, id uint16) []byte {
	return icmpError(buf, frame, p, pkt.ICMPDestUnreachable, pkt.ICMPPortUnreachable, 0, srcMAC, srcIP, id)
}

// FragNeeded builds the ICMP destination unreachable, fragmentation
// needed (3/4) message for a DF packet that does not fit a path of MTU
// mtu, with mtu as the next-hop MTU (RFC 1191; for TUN the egress MTU
// minus IPIPOverhead, as __ip_vs_get_out_rt computes it). Everything else
// is as for PortUnreachable; srcIP is the address the client sent to (the
// VIP). See NeedsFragNeeded.
func FragNeeded(buf, frame []byte, p *pkt.Parsed, mtu int, srcMAC [6]byte, srcIP [4]byte, id uint16) []byte {
	if mtu < 0 || mtu > 0xffff {
		return nil
	}
	return icmpError(buf, frame, p, pkt.ICMPDestUnreachable, pkt.ICMPFragNeeded, uint32(mtu), srcMAC, srcIP, id)
}

// MaxICMPErrorFrame is the longest frame PortUnreachable, FragNeeded and
// RelayTunnelError build: Ethernet with two VLAN tags, 576 bytes of IP.
const MaxICMPErrorFrame = pkt.EtherHeaderLen + 2*pkt.VLANTagLen + 576

// RelayTunnelError builds, from an ICMP error about one of the director's
// IPIP packets (ParseICMPError set q.IPIP), the error the client gets, as
// ip_vs_in_icmp does for IPIP: the same type and code, quoting the
// client's packet found inside the tunnel packet, sent from srcIP (the
// VIP) to the client (q.Src) through next hop dstMAC from srcMAC, with no
// VLAN tag. For fragmentation needed the kernel first learns the new path
// MTU; mtu is what the caller now knows of the path to the real server
// (at most the reported one), and the client is told mtu-IPIPOverhead
// when that is above 88 bytes (else mtu), and only when its packet had DF
// set. It returns nil when q is not an IPIP quote, for fragmentation
// needed without DF (the kernel ignores those), or for the cases
// PortUnreachable stays silent on. Buffer rules are PortUnreachable's.
func RelayTunnelError(buf, frame []byte, q *Quoted, mtu int, dstMAC, srcMAC [6]byte, srcIP [4]byte, id uint16) []byte {
	if !q.IPIP || q.IPOff+pkt.IPv4MinHeaderLen > len(frame) {
		return nil
	}
	info := q.Info
	if q.Type == pkt.ICMPDestUnreachable && q.Code == pkt.ICMPFragNeeded {
		if !q.TunDF {
			return nil
		}
		if mtu > minTunnelMTU+IPIPOverhead {
			mtu -= IPIPOverhead
		}
		if mtu < 0 || mtu > 0xffff {
			return nil
		}
		info = uint32(mtu)
	}
	inner := frame[q.IPOff:]
	l2 := [pkt.EtherHeaderLen]byte{}
	copy(l2[0:6], dstMAC[:])
	copy(l2[6:12], srcMAC[:])
	l2[12], l2[13] = pkt.EtherTypeIPv4>>8, pkt.EtherTypeIPv4&0xff
	// The quote may be cut short: take what the router quoted, bounded
	// by the quoted total length.
	ip := pkt.IPv4(inner)
	if tl := int(ip.TotalLen()); tl < len(inner) && tl >= ip.HeaderLen() {
		inner = inner[:tl]
	}
	if !mayAnswer(ip, inner) {
		return nil
	}
	return writeICMPError(buf, l2[:], inner, ip.Src(), ip.TOS(), q.Type, q.Code, info, srcIP, id)
}

// icmpError builds an ICMP error about the packet in frame, as icmp_send
// would, or returns nil where icmp_send stays silent.
func icmpError(buf, frame []byte, p *pkt.Parsed, typ, code uint8, info uint32, srcMAC [6]byte, srcIP [4]byte, id uint16) []byte {
	if p.EtherType != pkt.EtherTypeIPv4 || p.L3Off < pkt.EtherHeaderLen || p.L3Off+p.IPLen > len(frame) ||
		p.IPLen < pkt.IPv4MinHeaderLen {
		return nil
	}
	ip := pkt.IPv4(frame[p.L3Off : p.L3Off+p.IPLen])
	if !mayAnswer(ip, ip) {
		return nil
	}
	var l2 [pkt.EtherHeaderLen + 2*pkt.VLANTagLen]byte
	n := copy(l2[:], frame[:p.L3Off])
	copy(l2[0:6], frame[6:12]) // to the sender
	copy(l2[6:12], srcMAC[:])
	return writeICMPError(buf, l2[:n], ip, ip.Src(), ip.TOS(), typ, code, info, srcIP, id)
}

// mayAnswer applies icmp_send's refusals to the offending packet ip, of
// which the bytes quote are present.
func mayAnswer(ip pkt.IPv4, quote []byte) bool {
	if ip.FragOffset() != 0 {
		return false // only the first fragment is answered
	}
	src, dst := ip.Src(), ip.Dst()
	if badReplyAddr(src) || dst[0] >= 224 || dst == [4]byte{} {
		return false // includes 255.255.255.255 and multicast
	}
	if ip.Protocol() == pkt.ProtoICMP {
		hl := ip.HeaderLen()
		if len(quote) < hl+1 {
			return false
		}
		// Never an error about an error, nor about an unknown type
		// (icmp_send: icmp_pointers[type].error, NR_ICMP_TYPES = 18).
		if t := quote[hl]; t > 18 || pkt.ICMPIsError(t) {
			return false
		}
	}
	return true
}

// badReplyAddr reports whether no ICMP reply can be addressed to a.
func badReplyAddr(a [4]byte) bool {
	return a == [4]byte{} || a[0] == 127 || a[0] >= 224
}

// writeICMPError writes Ethernet (l2, EtherType included), IPv4 and an
// ICMP error quoting up to ICMPQuoteMax bytes of quote into buf.
func writeICMPError(buf, l2, quote []byte, to [4]byte, tos, typ, code uint8, info uint32, srcIP [4]byte, id uint16) []byte {
	if len(quote) > ICMPQuoteMax {
		quote = quote[:ICMPQuoteMax]
	}
	ipLen := pkt.IPv4MinHeaderLen + pkt.ICMPv4HeaderLen + len(quote)
	n := len(l2) + ipLen
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	b := buf[:n]
	copy(b, l2)
	ip := pkt.IPv4(b[len(l2):])
	ip.SetHeaderLen(pkt.IPv4MinHeaderLen)
	ip.SetTOS(tos&iptosTOSMask | iptosPrecInternetC)
	ip.SetTotalLen(uint16(ipLen))
	ip.SetID(id)
	ip.SetFlagsFragOff(0, 0)
	ip.SetTTL(icmpTTL)
	ip.SetProtocol(pkt.ProtoICMP)
	ip.SetSrc(srcIP)
	ip.SetDst(to)
	ip.ComputeChecksum()
	icmp := pkt.ICMPv4(ip[pkt.IPv4MinHeaderLen:])
	icmp.SetType(typ)
	icmp.SetCode(code)
	icmp[4], icmp[5], icmp[6], icmp[7] = byte(info>>24), byte(info>>16), byte(info>>8), byte(info)
	copy(icmp[pkt.ICMPv4HeaderLen:], quote)
	icmp.ComputeChecksum()
	return b
}
