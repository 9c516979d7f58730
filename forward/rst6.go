package forward

import (
	"encoding/binary"

	"github.com/ulvs/ulvs/pkt"
)

// Reset6 turns the IPv6 TCP segment in frame (decoded into p) into the
// reset that answers it, in place: from its destination back to its
// source through the neighbour it came from (mac ours), ports swapped, no
// extension headers, options or data, sequence and acknowledgement numbers
// seq and ack, flags, window 0, hop limit 64, a full checksum. It returns
// the new frame length, or 0 when p is not a TCP segment. It does not
// allocate.
func Reset6(frame []byte, p *pkt.Parsed6, mac [6]byte, seq, ack uint32, flags uint8) int {
	if p.Proto != pkt.ProtoTCP || p.L4Off == 0 || p.Frag {
		return 0
	}
	eth := pkt.Ether(frame)
	eth.SetDst(eth.Src())
	eth.SetSrc(mac)
	ip := frame[p.L3Off:]
	binary.BigEndian.PutUint32(ip[0:], 6<<28)
	h := pkt.IPv6(ip)
	h.SetPayloadLen(pkt.TCPMinHeaderLen)
	ip[6] = pkt.ProtoTCP
	h.SetHopLimit(64)
	h.SetSrc(p.Dst)
	h.SetDst(p.Src)
	t := ip[pkt.IPv6HeaderLen : pkt.IPv6HeaderLen+pkt.TCPMinHeaderLen] // within the segment: its headers were longer
	binary.BigEndian.PutUint16(t[0:], p.DstPort)
	binary.BigEndian.PutUint16(t[2:], p.SrcPort)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12], t[13] = 5<<4, flags
	clear(t[14:])
	binary.BigEndian.PutUint16(t[16:], pkt.Checksum(t, pkt.PseudoHeaderSum6(p.Dst, p.Src, pkt.ProtoTCP, pkt.TCPMinHeaderLen)))
	return p.L3Off + pkt.IPv6HeaderLen + pkt.TCPMinHeaderLen
}
