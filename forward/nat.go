package forward

import "github.com/ulvs/ulvs/pkt"

// NAT rewrites follow ip_vs_nat_xmit and handle_response
// (net/netfilter/ipvs/ip_vs_xmit.c, ip_vs_core.c) with the protocol
// handlers tcp_dnat_handler/tcp_snat_handler (ip_vs_proto_tcp.c) and
// udp_dnat_handler/udp_snat_handler (ip_vs_proto_udp.c):
//
//   - the IPv4 header checksum is updated for the address (the kernel
//     recomputes it with ip_send_check; the result is the same);
//   - a complete L4 checksum is updated for the address, through the
//     pseudo-header, and for the port (tcp_fast_csum_update);
//   - a CHECKSUM_PARTIAL field (Offload.NeedsCsum) holds the pseudo-header
//     sum only, so it is updated for the address alone: the port lies in
//     the bytes the device sums later (tcp_partial_csum_update);
//   - a UDP checksum of 0 (none) stays 0, and a computed 0 is sent as
//     0xffff (udp_fast_csum_update, CSUM_MANGLED_0).
//
// A packet without an L4 header (a fragment other than the first, or a
// protocol without ports) gets its address rewritten only: the checksum
// of a fragmented datagram lives in the first fragment, whose incremental
// update already covers the new pseudo-header and port.
//
// The kernel also decrements the TTL of every packet it forwards
// (ip_forward for replies, decrement_ttl in __ip_vs_get_out_rt for
// requests); that is the caller's step (pkt.IPv4.DecTTL), not part of
// these rewrites.

// DNAT rewrites the destination address and port of the packet in frame,
// decoded into p: the NAT director's inbound rewrite (VIP:vport ->
// RIP:rport) and FULLNAT's outbound one (LIP:lport -> CIP:cport). frame is
// changed in place and p is updated to match; o is read, not changed (no
// checksummed byte moves). It does not allocate.
func DNAT(frame []byte, p *pkt.Parsed, o *Offload, dst [4]byte, dport uint16) {
	ip := pkt.IPv4(frame[p.L3Off:])
	old := ip.Dst()
	ip.SetDst(dst)
	ip.SetChecksum(pkt.Update32(ip.Checksum(), old, dst))
	p.Dst = dst
	if p.L4Off == 0 {
		return
	}
	l4 := frame[p.L4Off:]
	oldPort := p.DstPort
	switch p.Proto {
	case pkt.ProtoTCP:
		t := pkt.TCP(l4)
		t.SetDstPort(dport)
		t.SetChecksum(l4Update(t.Checksum(), o.NeedsCsum, false, old, dst, oldPort, dport))
		p.DstPort = dport
	case pkt.ProtoUDP:
		u := pkt.UDP(l4)
		u.SetDstPort(dport)
		u.SetChecksum(l4Update(u.Checksum(), o.NeedsCsum, true, old, dst, oldPort, dport))
		p.DstPort = dport
	}
}

// SNAT is DNAT for the source address and port: the NAT director's
// outbound rewrite (RIP:rport -> VIP:vport) and FULLNAT's inbound one
// (CIP:cport -> LIP:lport).
func SNAT(frame []byte, p *pkt.Parsed, o *Offload, src [4]byte, sport uint16) {
	ip := pkt.IPv4(frame[p.L3Off:])
	old := ip.Src()
	ip.SetSrc(src)
	ip.SetChecksum(pkt.Update32(ip.Checksum(), old, src))
	p.Src = src
	if p.L4Off == 0 {
		return
	}
	l4 := frame[p.L4Off:]
	oldPort := p.SrcPort
	switch p.Proto {
	case pkt.ProtoTCP:
		t := pkt.TCP(l4)
		t.SetSrcPort(sport)
		t.SetChecksum(l4Update(t.Checksum(), o.NeedsCsum, false, old, src, oldPort, sport))
		p.SrcPort = sport
	case pkt.ProtoUDP:
		u := pkt.UDP(l4)
		u.SetSrcPort(sport)
		u.SetChecksum(l4Update(u.Checksum(), o.NeedsCsum, true, old, src, oldPort, sport))
		p.SrcPort = sport
	}
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
		return pkt.UpdateUDP16(pkt.UpdateUDP32(check, oldAddr, newAddr), oldPort, newPort)
	}
	return pkt.Update16(pkt.Update32(check, oldAddr, newAddr), oldPort, newPort)
}
