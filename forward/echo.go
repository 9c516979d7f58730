package forward

import "github.com/ulvs/ulvs/pkt"

// EchoReply turns the ICMP echo request in frame, decoded into p, into the
// director's reply in place: MACs and addresses swapped, type 0, TTL reset
// to 64, checksums updated. mac is the director's interface address. It
// reports false, leaving frame unchanged, when frame is not an echo request
// with a complete ICMP message.
func EchoReply(frame []byte, p *pkt.Parsed, mac [6]byte) bool {
	if p.Proto != pkt.ProtoICMP || p.L4Off == 0 || p.ICMPType != pkt.ICMPEchoRequest || p.ICMPCode != 0 || p.Frag != 0 {
		return false
	}
	eth := pkt.Ether(frame)
	eth.SetDst(eth.Src())
	eth.SetSrc(mac)

	ip := pkt.IPv4(frame[p.L3Off:])
	src, dst := ip.Src(), ip.Dst()
	ip.SetSrc(dst)
	ip.SetDst(src)
	ip.SetTTL(64)
	ip.ComputeChecksum()

	icmp := pkt.ICMPv4(frame[p.L4Off : p.L4Off+p.L4Len])
	// Type 8 -> 0 changes the first 16-bit word (type<<8 | code).
	old := uint16(icmp.Type())<<8 | uint16(icmp.Code())
	icmp.SetType(pkt.ICMPEchoReply)
	icmp.SetChecksum(pkt.Update16(icmp.Checksum(), old, uint16(pkt.ICMPEchoReply)<<8|uint16(icmp.Code())))
	p.Src, p.Dst = dst, src
	return true
}
