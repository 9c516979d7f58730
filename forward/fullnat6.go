package forward

import (
	"encoding/binary"

	"github.com/ulvs/ulvs/pkt"
)

// NATICMPv6Full rewrites an ICMPv6 error about a FULLNAT connection, as
// NATICMPFull does for IPv4. On the way in (out false: an error sent to
// the VIP about a reply VIP:vport -> client) it becomes an error from the
// local address laddr to the real server raddr about the reply the real
// server sent (raddr:rport -> laddr:lport). On the way out (out true: an
// error from the real servers' side about a request laddr:lport ->
// raddr:rport) it becomes an error from the VIP to the client about the
// client's own packet (client -> VIP:vport); the arguments are then
// (vaddr, vport, caddr, cport). The ICMPv6 checksum is computed again.
func NATICMPv6Full(frame []byte, p *pkt.Parsed6, q *Quoted6, out bool, raddr [16]byte, rport uint16, laddr [16]byte, lport uint16) {
	ip := pkt.IPv6(frame[p.L3Off:])
	in := frame[q.Off:]
	if out {
		// raddr/rport are the VIP's, laddr/lport the client's.
		ip.SetSrc(raddr)
		ip.SetDst(laddr)
		copy(in[8:24], laddr[:])
		copy(in[24:40], raddr[:])
		binary.BigEndian.PutUint16(frame[q.L4:], lport)
		binary.BigEndian.PutUint16(frame[q.L4+2:], rport)
		p.Src, p.Dst = raddr, laddr
	} else {
		ip.SetSrc(laddr)
		ip.SetDst(raddr)
		copy(in[8:24], raddr[:])
		copy(in[24:40], laddr[:])
		binary.BigEndian.PutUint16(frame[q.L4:], rport)
		binary.BigEndian.PutUint16(frame[q.L4+2:], lport)
		p.Src, p.Dst = laddr, raddr
	}
	icmpv6Checksum(frame, p)
}
