package forward

import "github.com/ulvs/ulvs/pkt"

// DNAT rewrites the destination address and port of the TCP or UDP packet
// in frame, decoded into p: the NAT director's inbound rewrite
// (VIP:vport -> RIP:rport, ip_vs_nat_xmit with tcp_dnat_handler or
// udp_dnat_handler). Checksums are updated incrementally (RFC 1624): the
// IPv4 header's always; the L4 one for the address (pseudo-header) and the
// port, or, when o.NeedsCsum says the field still holds the pseudo-header
// sum, for the address alone. A UDP checksum of 0 (none) stays 0. p is
// updated to match. It does not allocate.
func DNAT(frame []byte, p *pkt.Parsed, o *Offload, dst [4]byte, dport uint16) {
	ip := pkt.IPv4(frame[p.L3Off:])
	old := ip.Dst()
	ip.SetDst(dst)
	ip.SetChecksum(pkt.Update32(ip.Checksum(), old, dst))
	l4 := frame[p.L4Off:]
	oldPort := p.DstPort
	switch p.Proto {
	case pkt.ProtoTCP:
		t := pkt.TCP(l4)
		t.SetDstPort(dport)
		t.SetChecksum(l4Update(t.Checksum(), o.NeedsCsum, false, old, dst, oldPort, dport))
	case pkt.ProtoUDP:
		u := pkt.UDP(l4)
		u.SetDstPort(dport)
		u.SetChecksum(l4Update(u.Checksum(), o.NeedsCsum, true, old, dst, oldPort, dport))
	}
	p.Dst, p.DstPort = dst, dport
}

// SNAT is DNAT for the source address and port (the NAT director's
// outbound rewrite RIP:rport -> VIP:vport, tcp_snat_handler and
// udp_snat_handler; FULLNAT's client -> local address inbound).
func SNAT(frame []byte, p *pkt.Parsed, o *Offload, src [4]byte, sport uint16) {
	ip := pkt.IPv4(frame[p.L3Off:])
	old := ip.Src()
	ip.SetSrc(src)
	ip.SetChecksum(pkt.Update32(ip.Checksum(), old, src))
	l4 := frame[p.L4Off:]
	oldPort := p.SrcPort
	switch p.Proto {
	case pkt.ProtoTCP:
		t := pkt.TCP(l4)
		t.SetSrcPort(sport)
		t.SetChecksum(l4Update(t.Checksum(), o.NeedsCsum, false, old, src, oldPort, sport))
	case pkt.ProtoUDP:
		u := pkt.UDP(l4)
		u.SetSrcPort(sport)
		u.SetChecksum(l4Update(u.Checksum(), o.NeedsCsum, true, old, src, oldPort, sport))
	}
	p.Src, p.SrcPort = src, sport
}

// l4Update returns the L4 checksum after an address and a port change. A
// partial checksum covers only the pseudo-header (the port is summed when
// the checksum is completed); a complete one covers both. UDP's 0 means no
// checksum and stays 0.
func l4Update(check uint16, partial, udp bool, oldAddr, newAddr [4]byte, oldPort, newPort uint16) uint16 {
	if partial {
		return pkt.UpdatePartial32(check, oldAddr, newAddr)
	}
	if udp {
		if check == 0 {
			return 0
		}
		return pkt.UpdateUDP16(pkt.UpdateUDP32(check, oldAddr, newAddr), oldPort, newPort)
	}
	return pkt.Update16(pkt.Update32(check, oldAddr, newAddr), oldPort, newPort)
}
