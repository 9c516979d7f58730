package forward

import (
	"encoding/binary"

	"github.com/ulvs/ulvs/pkt"
)

// ICMPv6 answers the IPv6 data path makes for a VIP (RFC 4443).

// IPv6MinMTU is the smallest link MTU IPv6 allows (RFC 8200 section 5):
// an ICMPv6 error, quote included, fits in it.
const IPv6MinMTU = 1280

// EchoReply6 turns an ICMPv6 echo request to a VIP into its reply in
// place, as the kernel answers a ping of an address it owns: addresses and
// MACs swapped, hop limit 64, type 128 -> 129 with the checksum updated
// (swapping the addresses leaves the pseudo-header sum as it was). It
// reports false, changing nothing, for anything that is not an echo
// request.
func EchoReply6(frame []byte, p *pkt.Parsed6, mac [6]byte) bool {
	if p.Proto != pkt.ProtoICMPv6 || p.L4Off == 0 || p.L4Len < 8 || p.ICMPType != pkt.ICMPv6EchoRequest || p.ICMPCode != 0 || p.Frag {
		return false
	}
	eth := pkt.Ether(frame)
	eth.SetDst(eth.Src())
	eth.SetSrc(mac)
	ip := pkt.IPv6(frame[p.L3Off:])
	ip.SetSrc(p.Dst)
	ip.SetDst(p.Src)
	ip.SetHopLimit(64)
	p.Src, p.Dst = p.Dst, p.Src
	m := frame[p.L4Off:]
	old := uint16(m[0])<<8 | uint16(m[1])
	m[0] = pkt.ICMPv6EchoReply
	binary.BigEndian.PutUint16(m[2:], pkt.Update16(binary.BigEndian.Uint16(m[2:]), old, uint16(m[0])<<8|uint16(m[1])))
	p.ICMPType = pkt.ICMPv6EchoReply
	return true
}

// PacketTooBig6 builds into buf (its capacity at least
// MaxICMPv6ErrorFrame) the Packet Too Big the director owes the sender of
// packet p (decoded from frame, not yet rewritten) that does not fit the
// link MTU mtu on its way: a client's towards its real server
// (ip_vs_xmit's ensure_mtu_is_adequate: icmpv6_send ICMPV6_PKT_TOOBIG), or
// a NAT66 real server's reply towards the client (ip6_forward). It goes
// from the packet's destination (the VIP, or the client) back to its
// source through the neighbour it came from (srcMAC ours),
// quoting as much of the packet as keeps the error within 1280 bytes. It
// returns nil when RFC 4443 2.4(e) forbids an error: a source that is
// multicast or unspecified, or the packet an ICMPv6 error itself.
func PacketTooBig6(buf, frame []byte, p *pkt.Parsed6, mtu int, srcMAC [6]byte) []byte {
	if p.Src[0] == 0xff || p.Src == ([16]byte{}) || mtu < IPv6MinMTU || mtu > 0xffff ||
		p.Proto == pkt.ProtoICMPv6 && p.L4Off != 0 && p.ICMPType < 128 {
		return nil
	}
	quote := frame[p.L3Off : p.L3Off+p.IPLen]
	if max := IPv6MinMTU - pkt.IPv6HeaderLen - 8; len(quote) > max {
		quote = quote[:max]
	}
	n := pkt.EtherHeaderLen + pkt.IPv6HeaderLen + 8 + len(quote)
	if cap(buf) < n {
		return nil
	}
	b := buf[:n]
	eth := pkt.Ether(b)
	eth.SetDst(pkt.Ether(frame).Src())
	eth.SetSrc(srcMAC)
	eth.SetEtherType(pkt.EtherTypeIPv6)
	ip := b[pkt.EtherHeaderLen:]
	binary.BigEndian.PutUint32(ip[0:], 6<<28)
	h := pkt.IPv6(ip)
	h.SetPayloadLen(uint16(8 + len(quote)))
	ip[6] = pkt.ProtoICMPv6
	h.SetHopLimit(64)
	h.SetSrc(p.Dst)
	h.SetDst(p.Src)
	m := ip[pkt.IPv6HeaderLen:]
	m[0], m[1], m[2], m[3] = pkt.ICMPv6PacketTooBig, 0, 0, 0
	binary.BigEndian.PutUint32(m[4:], uint32(mtu))
	copy(m[8:], quote)
	binary.BigEndian.PutUint16(m[2:], pkt.Checksum(m, pkt.PseudoHeaderSum6(p.Dst, p.Src, pkt.ProtoICMPv6, uint32(len(m)))))
	return b
}

// MaxICMPv6ErrorFrame is the longest frame PacketTooBig6 builds.
const MaxICMPv6ErrorFrame = pkt.EtherHeaderLen + IPv6MinMTU

// Quoted6 is the packet an ICMPv6 error quotes (RFC 4443 2.4(c)), as far
// as the director needs it: addresses, protocol and ports of a TCP or UDP
// packet, after any extension headers it carries (as the kernel finds
// them in a quote, ipv6_find_hdr).
type Quoted6 struct {
	Src, Dst         [16]byte
	Proto            uint8
	SrcPort, DstPort uint16
	// Off is the quoted IPv6 header's offset in the frame, L4 that of
	// its TCP or UDP header (Off+40 without extension headers).
	Off, L4 int
}

// maxQuotedExt bounds the extension headers walked in a quote.
const maxQuotedExt = 8

// quotedL4 walks the extension headers of a quoted IPv6 packet in (its
// fixed header first) and returns the protocol after them and its
// offset in in, or ok false when the chain is malformed, longer than
// maxQuotedExt, cut off by the quote, or the quote is of a fragment other
// than the first (it has no ports).
func quotedL4(in []byte) (proto uint8, at int, ok bool) {
	next, at := in[6], pkt.IPv6HeaderLen
	for n := 0; n <= maxQuotedExt; n++ {
		switch next {
		case pkt.ProtoHopByHop, pkt.ProtoRouting, pkt.ProtoDstOpts:
			if at+8 > len(in) {
				return 0, 0, false
			}
			next, at = in[at], at+(int(in[at+1])+1)*8
		case pkt.ProtoFragment:
			if at+pkt.Frag6HeaderLen > len(in) || binary.BigEndian.Uint16(in[at+2:])&^7 != 0 {
				return 0, 0, false
			}
			next, at = in[at], at+pkt.Frag6HeaderLen
		case pkt.ProtoAH:
			if at+8 > len(in) {
				return 0, 0, false
			}
			next, at = in[at], at+(int(in[at+1])+2)*4
		default:
			return next, at, true
		}
	}
	return 0, 0, false
}

// ParseICMPv6Error reports whether p (decoded from frame) is an ICMPv6
// error (types 1-4) quoting a TCP or UDP packet with its ports, and
// returns what it quotes.
func ParseICMPv6Error(frame []byte, p *pkt.Parsed6) (q Quoted6, ok bool) {
	if p.Proto != pkt.ProtoICMPv6 || p.L4Off == 0 || p.ICMPType < 1 || p.ICMPType > 4 || p.Frag {
		return q, false
	}
	m := frame[p.L4Off : p.L4Off+p.L4Len]
	if len(m) < 8+pkt.IPv6HeaderLen+8 {
		return q, false
	}
	in := m[8:]
	if in[0]>>4 != pkt.IPv6Version {
		return q, false
	}
	proto, at, ok := quotedL4(in)
	if !ok || (proto != pkt.ProtoTCP && proto != pkt.ProtoUDP) || at+8 > len(in) {
		return q, false
	}
	q.Src, q.Dst, q.Proto = [16]byte(in[8:24]), [16]byte(in[24:40]), proto
	q.SrcPort = binary.BigEndian.Uint16(in[at:])
	q.DstPort = binary.BigEndian.Uint16(in[at+2:])
	q.Off = p.L4Off + 8
	q.L4 = q.Off + at
	return q, true
}

// NATICMPv6 rewrites an ICMPv6 error about a NAT66 reply (the quoted
// packet from the VIP to the client) for the real server, as
// ip_vs_nat_icmp_v6 does on the way in: the quoted source becomes the
// real server's address and port, the outer destination the real
// server's address, and the ICMPv6 checksum is computed again over the
// message (the quoted packet's own checksum is left as quoted).
func NATICMPv6(frame []byte, p *pkt.Parsed6, q *Quoted6, rip [16]byte, rport uint16) {
	in := frame[q.Off:]
	copy(in[8:24], rip[:])
	binary.BigEndian.PutUint16(frame[q.L4:], rport)
	pkt.IPv6(frame[p.L3Off:]).SetDst(rip)
	p.Dst = rip
	icmpv6Checksum(frame, p)
}

// NATICMPv6Out is NATICMPv6 the other way (ip_vs_nat_icmp_v6 on the way
// out): an error from the real servers' side about a NAT66 request (the
// quoted packet from the client to the real server) goes to the client
// from the VIP, quoting the packet as the client sent it (destination the
// VIP and its port).
func NATICMPv6Out(frame []byte, p *pkt.Parsed6, q *Quoted6, vip [16]byte, vport uint16) {
	in := frame[q.Off:]
	copy(in[24:40], vip[:])
	binary.BigEndian.PutUint16(frame[q.L4+2:], vport)
	pkt.IPv6(frame[p.L3Off:]).SetSrc(vip)
	p.Src = vip
	icmpv6Checksum(frame, p)
}

// icmpv6Checksum computes the ICMPv6 checksum of p's message again.
func icmpv6Checksum(frame []byte, p *pkt.Parsed6) {
	m := frame[p.L4Off : p.L4Off+p.L4Len]
	m[2], m[3] = 0, 0
	binary.BigEndian.PutUint16(m[2:], pkt.Checksum(m, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(m)))))
}
