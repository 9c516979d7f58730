package forward

import "github.com/ulvs/ulvs/pkt"

// NAT66 rewrites: ip_vs_nat_xmit_v6 and handle_response with the TCP and
// UDP handlers, as the IPv4 ones (nat.go) but without a header checksum
// (IPv6 has none): the TCP or UDP checksum is updated through the
// pseudo-header for the 16-byte address and for the port, or, for a
// CHECKSUM_PARTIAL frame, for the address alone. IPv6 UDP must carry a
// checksum (RFC 8200 8.1): the engine drops a datagram whose checksum is
// 0 before it gets here, and an updated checksum that comes out 0 is
// written as 0xffff.

// DNAT6 rewrites the destination address and port of the IPv6 packet in
// frame, decoded into p (VIP:vport -> RIP:rport for NAT66). It does not
// allocate.
func DNAT6(frame []byte, p *pkt.Parsed6, o *Offload, dst [16]byte, dport uint16) {
	ip := pkt.IPv6(frame[p.L3Off:])
	old := p.Dst
	ip.SetDst(dst)
	p.Dst = dst
	oldPort := p.DstPort
	if l4 := l4Of6(frame, p); l4 != nil {
		switch p.Proto {
		case pkt.ProtoTCP:
			t := pkt.TCP(l4)
			t.SetDstPort(dport)
			t.SetChecksum(l4Update6(t.Checksum(), o.NeedsCsum, false, old, dst, oldPort, dport))
		case pkt.ProtoUDP:
			u := pkt.UDP(l4)
			u.SetDstPort(dport)
			u.SetChecksum(l4Update6(u.Checksum(), o.NeedsCsum, true, old, dst, oldPort, dport))
		}
		p.DstPort = dport
	}
}

// SNAT6 is DNAT6 for the source: a NAT66 reply, RIP:rport -> VIP:vport.
func SNAT6(frame []byte, p *pkt.Parsed6, o *Offload, src [16]byte, sport uint16) {
	ip := pkt.IPv6(frame[p.L3Off:])
	old := p.Src
	ip.SetSrc(src)
	p.Src = src
	oldPort := p.SrcPort
	if l4 := l4Of6(frame, p); l4 != nil {
		switch p.Proto {
		case pkt.ProtoTCP:
			t := pkt.TCP(l4)
			t.SetSrcPort(sport)
			t.SetChecksum(l4Update6(t.Checksum(), o.NeedsCsum, false, old, src, oldPort, sport))
		case pkt.ProtoUDP:
			u := pkt.UDP(l4)
			u.SetSrcPort(sport)
			u.SetChecksum(l4Update6(u.Checksum(), o.NeedsCsum, true, old, src, oldPort, sport))
		}
		p.SrcPort = sport
	}
}

// l4Of6 returns the TCP or UDP header of p, or nil.
func l4Of6(frame []byte, p *pkt.Parsed6) []byte {
	if p.L4Off == 0 || (p.Proto != pkt.ProtoTCP && p.Proto != pkt.ProtoUDP) {
		return nil
	}
	return frame[p.L4Off : p.L4Off+p.L4Len]
}

// l4Update6 is l4Update for a 16-byte address.
func l4Update6(check uint16, partial, udp bool, oldAddr, newAddr [16]byte, oldPort, newPort uint16) uint16 {
	if partial {
		return pkt.UpdatePartial128(check, oldAddr, newAddr)
	}
	c := pkt.Update16(pkt.Update128(check, oldAddr, newAddr), oldPort, newPort)
	if udp && c == 0 {
		return 0xffff
	}
	return c
}
