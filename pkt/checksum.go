package pkt

import "math/bits"

// The Internet checksum (RFC 1071) is the 16-bit one's complement of the
// one's complement sum of the data taken as big-endian 16-bit words (an odd
// last byte is padded with a zero byte on the right). In this package:
//
//   - a "sum" is a uint32 one's complement accumulator that may still hold
//     carries above bit 15 (Sum, PseudoHeaderSum);
//   - Fold reduces a sum to 16 bits without complementing it;
//   - a checksum field holds ^Fold(sum) (Checksum), except in a
//     CHECKSUM_PARTIAL frame, see UpdatePartial16.
//
// Verifying: Fold(Sum(data including the checksum field, pseudo)) == 0xffff.

// Sum adds b to the one's complement sum initial and returns the new sum
// (not folded, not complemented). Sums chain: Sum(b2, Sum(b1, s)) equals
// Sum(b1 followed by b2, s) when len(b1) is even.
//
// Sum reads 64 bytes per iteration as little-endian 64-bit words with
// end-around carry; by RFC 1071 section 2(B) byte order only swaps the two
// bytes of the folded result, which Sum swaps back.
func Sum(b []byte, initial uint32) uint32 {
	// Work in the byte-swapped domain; bring initial into it first.
	s := uint64(bits.ReverseBytes16(Fold(initial)))
	var c uint64
	for len(b) >= 64 {
		s, c = bits.Add64(s, le64(b[0:8]), c)
		s, c = bits.Add64(s, le64(b[8:16]), c)
		s, c = bits.Add64(s, le64(b[16:24]), c)
		s, c = bits.Add64(s, le64(b[24:32]), c)
		s, c = bits.Add64(s, le64(b[32:40]), c)
		s, c = bits.Add64(s, le64(b[40:48]), c)
		s, c = bits.Add64(s, le64(b[48:56]), c)
		s, c = bits.Add64(s, le64(b[56:64]), c)
		b = b[64:]
	}
	for len(b) >= 8 {
		s, c = bits.Add64(s, le64(b), c)
		b = b[8:]
	}
	if len(b) >= 4 {
		s, c = bits.Add64(s, uint64(le32(b)), c)
		b = b[4:]
	}
	if len(b) >= 2 {
		s, c = bits.Add64(s, uint64(b[0])|uint64(b[1])<<8, c)
		b = b[2:]
	}
	if len(b) == 1 {
		// The pad byte is on the right in network order: the low byte here.
		s, c = bits.Add64(s, uint64(b[0]), c)
	}
	s, c = bits.Add64(s, 0, c)
	s += c // cannot overflow: a carry out leaves s == 0
	// Fold 64 -> 16 bits with end-around carry.
	s = s&0xffffffff + s>>32 // <= 2^33 - 2
	s = s&0xffffffff + s>>32 // <= 2^32
	s = s&0xffff + s>>16     // <= 0x1fffe
	s = s&0xffff + s>>16     // <= 0xffff
	return uint32(bits.ReverseBytes16(uint16(s)))
}

// Fold folds the carries of a one's complement sum into 16 bits. It does
// not complement: Checksum does.
func Fold(sum uint32) uint16 {
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	return uint16(sum)
}

// Checksum returns the Internet checksum of b with the sum initial
// (e.g. a PseudoHeaderSum) added: ^Fold(Sum(b, initial)). The checksum
// field inside b must be zero when computing it.
func Checksum(b []byte, initial uint32) uint16 {
	return ^Fold(Sum(b, initial))
}

// PseudoHeaderSum returns the one's complement sum of the IPv4
// pseudo-header of TCP and UDP (RFC 9293 section 3.1, RFC 768): source,
// destination, zero, protocol and the L4 length in bytes.
func PseudoHeaderSum(src, dst [4]byte, proto uint8, length uint16) uint32 {
	return uint32(src[0])<<8 | uint32(src[1]) +
		(uint32(src[2])<<8 | uint32(src[3])) +
		(uint32(dst[0])<<8 | uint32(dst[1])) +
		(uint32(dst[2])<<8 | uint32(dst[3])) +
		uint32(proto) + uint32(length)
}

func addrSum(a [4]byte) uint32 {
	return uint32(a[0])<<8 | uint32(a[1]) + (uint32(a[2])<<8 | uint32(a[3]))
}

// notAddrSum is the sum of the complemented words of a: ^w == 0xffff-w.
func notAddrSum(a [4]byte) uint32 {
	return 2*0xffff - addrSum(a)
}

// Update16 returns the checksum field check adjusted for one 16-bit word
// of the covered data changing from old to new (RFC 1624, equation 3:
// HC' = ~(~HC + ~m + m')). The result equals a full recomputation except
// when the new data sums to zero, where it gives the equivalent 0x0000 for
// 0xffff. Use it for the IPv4 header, TCP and ICMP checksums; for UDP use
// UpdateUDP16, and for a CHECKSUM_PARTIAL field UpdatePartial16.
func Update16(check, old, new uint16) uint16 {
	return ^Fold(uint32(^check) + uint32(^old) + uint32(new))
}

// Update32 is Update16 for a 32-bit change, such as an IPv4 address (the
// IPv4 header checksum, and the TCP/UDP checksum through the pseudo-header).
func Update32(check uint16, old, new [4]byte) uint16 {
	return ^Fold(uint32(^check) + notAddrSum(old) + addrSum(new))
}

// UpdateUDP16 is Update16 for a UDP checksum field: a field of 0 (no
// checksum) stays 0, and a result of 0 is written as 0xffff (RFC 768; the
// kernel's CSUM_MANGLED_0).
func UpdateUDP16(check, old, new uint16) uint16 {
	if check == 0 {
		return 0
	}
	if c := Update16(check, old, new); c != 0 {
		return c
	}
	return 0xffff
}

// UpdateUDP32 is Update32 for a UDP checksum field, with UpdateUDP16's
// rules for 0.
func UpdateUDP32(check uint16, old, new [4]byte) uint16 {
	if check == 0 {
		return 0
	}
	if c := Update32(check, old, new); c != 0 {
		return c
	}
	return 0xffff
}

// UpdatePartial16 adjusts the checksum field of a CHECKSUM_PARTIAL frame
// (virtio_net_hdr flag NEEDS_CSUM, packet status TP_STATUS_CSUMNOTREADY)
// for a 16-bit pseudo-header word changing from old to new. Such a field
// holds the folded, NOT complemented pseudo-header sum; the device (or
// CompletePartial) later adds the L4 header and data and complements. So
// the adjustment is P' = P + ~m + m', without the complements Update16
// applies around it (the kernel's inet_proto_csum_replace4 with pseudohdr
// set). Only pseudo-header fields (addresses, length) need it: a port lies
// in the data the device sums later, so a port rewrite leaves a partial
// field alone.
func UpdatePartial16(partial, old, new uint16) uint16 {
	return Fold(uint32(partial) + uint32(^old) + uint32(new))
}

// UpdatePartial32 is UpdatePartial16 for an IPv4 address change.
func UpdatePartial32(partial uint16, old, new [4]byte) uint16 {
	return Fold(uint32(partial) + notAddrSum(old) + addrSum(new))
}

// CompletePartial finishes a CHECKSUM_PARTIAL checksum in software, as the
// kernel's skb_checksum_help does: it sums b[start:] (the field at
// b[start+offset:] holds the pseudo-header sum and is included), and writes
// the complement there, 0 written as 0xffff. start is virtio_net_hdr
// csum_start (the L4 header's offset in b) and offset is csum_offset
// (TCPChecksumOffset or UDPChecksumOffset). b must end where the IP packet
// ends. It reports false, writing nothing, if the field lies outside b.
func CompletePartial(b []byte, start, offset int) bool {
	if start < 0 || offset < 0 || start > len(b) || offset > len(b)-start-2 {
		return false
	}
	c := Checksum(b[start:], 0)
	if c == 0 {
		c = 0xffff
	}
	putBE16(b[start+offset:], c)
	return true
}

// L4ChecksumValid reports whether the TCP, UDP or ICMP checksum of a whole
// IPv4 packet (header first, Ethernet padding allowed after the total
// length) is correct. A UDP checksum of 0 (none) is valid. It returns false
// for fragments (the checksum covers the reassembled datagram), other
// protocols, and malformed or truncated packets. A CHECKSUM_PARTIAL frame
// fails until completed (CompletePartial).
func L4ChecksumValid(ip IPv4) bool {
	if len(ip) < IPv4MinHeaderLen {
		return false
	}
	hl, tl := ip.HeaderLen(), int(ip.TotalLen())
	if hl < IPv4MinHeaderLen || tl < hl || tl > len(ip) || ip.IsFragment() {
		return false
	}
	l4 := ip[hl:tl]
	switch ip.Protocol() {
	case ProtoTCP:
		if len(l4) < TCPMinHeaderLen {
			return false
		}
		return Fold(Sum(l4, PseudoHeaderSum(ip.Src(), ip.Dst(), ProtoTCP, uint16(len(l4))))) == 0xffff
	case ProtoUDP:
		if len(l4) < UDPHeaderLen {
			return false
		}
		u := UDP(l4)
		n := int(u.Length())
		if n < UDPHeaderLen || n > len(l4) {
			return false
		}
		if u.Checksum() == 0 {
			return true
		}
		return Fold(Sum(l4[:n], PseudoHeaderSum(ip.Src(), ip.Dst(), ProtoUDP, uint16(n)))) == 0xffff
	case ProtoICMP:
		if len(l4) < ICMPv4HeaderLen {
			return false
		}
		return Fold(Sum(l4, 0)) == 0xffff
	}
	return false
}
