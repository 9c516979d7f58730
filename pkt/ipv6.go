package pkt

// IPv6 (RFC 8200) header:
//
//	 0                   1                   2                   3
//	|Version| Traffic Class |           Flow Label                  |
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	|                     Source Address (16 bytes)                 |
//	|                  Destination Address (16 bytes)               |
//
// IPv6 has no header checksum; TCP, UDP and ICMPv6 checksums cover a
// pseudo-header of both addresses, the upper-layer length and the next
// header value (RFC 8200 section 8.1), and a UDP checksum of 0 is invalid
// (section 8.1: a receiver discards it).

// IPv6 header constants.
const (
	IPv6HeaderLen = 40
	IPv6Version   = 6

	ipv6PayloadLen = 4
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
	ipv6Src        = 8
	ipv6Dst        = 24
)

// IPv6 next-header values ulvs recognises.
const (
	ProtoHopByHop = 0
	ProtoRouting  = 43
	ProtoFragment = 44
	// ProtoAH is the authentication header (RFC 4302), whose length
	// counts 4-byte units less 2; only quotes in ICMPv6 errors are
	// walked past it (forward.ParseICMPv6Error), as ipv6_find_hdr does.
	ProtoAH      = 51
	ProtoICMPv6  = 58
	ProtoNoNext  = 59
	ProtoDstOpts = 60
)

// maxExtHeaders bounds the extension headers Decode6 walks: a chain longer
// than this is malformed (the kernel has no fixed bound, but no sender
// needs more than a handful).
const maxExtHeaders = 8

// IPv6 is a view of an IPv6 header at the start of the slice.
type IPv6 []byte

// PayloadLen returns the payload length field.
func (h IPv6) PayloadLen() uint16 { return be16(h[ipv6PayloadLen:]) }

// NextHeader returns the next header field of the fixed header.
func (h IPv6) NextHeader() uint8 { return h[ipv6NextHeader] }

// HopLimit returns the hop limit.
func (h IPv6) HopLimit() uint8 { return h[ipv6HopLimit] }

// SetHopLimit sets the hop limit.
func (h IPv6) SetHopLimit(v uint8) { h[ipv6HopLimit] = v }

// Src returns the source address.
func (h IPv6) Src() [16]byte { return [16]byte(h[ipv6Src : ipv6Src+16]) }

// Dst returns the destination address.
func (h IPv6) Dst() [16]byte { return [16]byte(h[ipv6Dst : ipv6Dst+16]) }

// SetSrc sets the source address.
func (h IPv6) SetSrc(a [16]byte) { copy(h[ipv6Src:ipv6Src+16], a[:]) }

// SetDst sets the destination address.
func (h IPv6) SetDst(a [16]byte) { copy(h[ipv6Dst:ipv6Dst+16], a[:]) }

// SetPayloadLen sets the payload length.
func (h IPv6) SetPayloadLen(n uint16) { putBE16(h[ipv6PayloadLen:], n) }

// Parsed6 is the flat result of decoding one IPv6 packet, the IPv6
// counterpart of Parsed (which stays IPv4-only so its layout does not
// grow). Offsets index the frame given to Decode6.
type Parsed6 struct {
	L3Off int // the fixed IPv6 header
	// L4Off is the upper-layer header (TCP, UDP, ICMPv6) after the
	// extension headers; L4Len its length to the end of the payload.
	L4Off, L4Len int
	// IPLen is 40 plus the payload length (to the end of the frame for a
	// GSO super-frame with payload length 0).
	IPLen    int
	Proto    uint8 // the upper-layer protocol (the last next header)
	Src, Dst [16]byte
	// SrcPort, DstPort and TCPFlags as in Parsed; for ICMPv6 echo the
	// identifier is SrcPort.
	SrcPort, DstPort uint16
	TCPFlags         uint8
	ICMPType         uint8
	ICMPCode         uint8
	// Frag is set when a fragment header (not an atomic one) was found;
	// the packet is then not decoded further: the fragment header is at
	// L3Off+IPv6HeaderLen+ExtLen and Proto its next header (the engine
	// reassembles the fragments, engine/frag6.go).
	Frag bool
	// ExtLen is the bytes of extension headers skipped (hop-by-hop,
	// routing, destination options, an atomic fragment's header).
	ExtLen int
}

// Decode6 decodes the IPv6 packet at frame[off:] (off is Parsed.L3Off of
// a frame Decode reported as DecodeIPv6). It skips hop-by-hop, routing
// and destination-options headers and an atomic fragment's header (RFC
// 6946); any other fragment header stops it with Frag set and DecodeOK
// (the caller reassembles the fragment); AH, ESP and
// unknown next headers leave Proto at that value and L4Off 0. gso allows a
// payload length of 0 (a super-frame). It never panics and does not
// allocate.
func (p *Parsed6) Decode6(frame []byte, off int, gso bool) DecodeResult {
	*p = Parsed6{L3Off: off}
	if off < 0 || off > len(frame) {
		return DecodeTooShort
	}
	ip := frame[off:]
	if len(ip) < IPv6HeaderLen {
		return DecodeTooShort
	}
	if ip[0]>>4 != IPv6Version {
		return DecodeBadVersion
	}
	pl := int(be16(ip[ipv6PayloadLen:]))
	if pl == 0 && gso {
		pl = len(ip) - IPv6HeaderLen
	}
	if IPv6HeaderLen+pl > len(ip) {
		return DecodeBadTotalLen
	}
	p.IPLen = IPv6HeaderLen + pl
	p.Src = [16]byte(ip[ipv6Src : ipv6Src+16])
	p.Dst = [16]byte(ip[ipv6Dst : ipv6Dst+16])
	ip = ip[:p.IPLen]
	next := ip[ipv6NextHeader]
	at := IPv6HeaderLen
walk:
	for n := 0; ; n++ {
		switch next {
		case ProtoHopByHop, ProtoRouting, ProtoDstOpts:
			if next == ProtoHopByHop && n != 0 {
				return DecodeBadOptions // hop-by-hop must come first (RFC 8200 4.1)
			}
			if n == maxExtHeaders || at+8 > len(ip) {
				return DecodeBadOptions
			}
			l := (int(ip[at+1]) + 1) * 8
			if at+l > len(ip) {
				return DecodeBadOptions
			}
			next = ip[at]
			at += l
			continue
		case ProtoFragment:
			if n == maxExtHeaders || at+Frag6HeaderLen > len(ip) {
				return DecodeBadOptions
			}
			if Frag6(ip[at:]).Atomic() {
				// RFC 6946: an atomic fragment is processed in
				// isolation, as a whole packet.
				next = ip[at]
				at += Frag6HeaderLen
				continue
			}
			p.Frag = true
			p.Proto = ip[at]
			p.ExtLen = at - IPv6HeaderLen
			return DecodeOK
		}
		break walk
	}
	p.Proto = next
	p.ExtLen = at - IPv6HeaderLen
	l4 := ip[at:]
	l4Off := off + at
	switch next {
	case ProtoTCP:
		if len(l4) < TCPMinHeaderLen {
			return DecodeBadL4
		}
		if do := int(l4[tcpDataOffset]>>4) * 4; do < TCPMinHeaderLen || do > len(l4) {
			return DecodeBadL4
		}
		p.SrcPort, p.DstPort = be16(l4[0:]), be16(l4[2:])
		p.TCPFlags = l4[tcpFlags]
	case ProtoUDP:
		if len(l4) < UDPHeaderLen {
			return DecodeBadL4
		}
		if ul := int(be16(l4[4:])); (ul < UDPHeaderLen || ul > len(l4)) && !(gso && ul == 0) {
			return DecodeBadL4
		}
		p.SrcPort, p.DstPort = be16(l4[0:]), be16(l4[2:])
	case ProtoICMPv6:
		if len(l4) < 4 {
			return DecodeBadL4
		}
		p.ICMPType, p.ICMPCode = l4[0], l4[1]
		if (p.ICMPType == ICMPv6EchoRequest || p.ICMPType == ICMPv6EchoReply) && len(l4) >= 8 {
			p.SrcPort = be16(l4[4:])
		}
	default:
		return DecodeOK // AH, ESP, no next header, others: no L4 view
	}
	p.L4Off, p.L4Len = l4Off, len(l4)
	return DecodeOK
}

// ICMPv6 types ulvs handles (RFC 4443, RFC 4861).
const (
	ICMPv6PacketTooBig     = 2
	ICMPv6EchoRequest      = 128
	ICMPv6EchoReply        = 129
	ICMPv6NeighborSolicit  = 135
	ICMPv6NeighborAdvert   = 136
	ndOptSourceLinkAddr    = 1
	ndOptTargetLinkAddr    = 2
	NDMinLen               = 24 // ICMPv6 header, flags or reserved, target
	NDAdvertRouter         = 0x80
	NDAdvertSolicited      = 0x40
	NDAdvertOverride       = 0x20
	ndLinkAddrOptionLength = 8
)

// PseudoHeaderSum6 returns the one's complement sum of the IPv6
// pseudo-header (RFC 8200 section 8.1).
func PseudoHeaderSum6(src, dst [16]byte, proto uint8, length uint32) uint32 {
	var s uint32
	for i := 0; i < 16; i += 2 {
		s += uint32(src[i])<<8 | uint32(src[i+1])
		s += uint32(dst[i])<<8 | uint32(dst[i+1])
	}
	return s + length>>16 + length&0xffff + uint32(proto)
}

// Update128 returns the checksum field check adjusted for a 16-byte
// address changed from old to new (RFC 1624, eight words).
func Update128(check uint16, old, new [16]byte) uint16 {
	for i := 0; i < 16; i += 4 {
		check = Update32(check, [4]byte(old[i:i+4]), [4]byte(new[i:i+4]))
	}
	return check
}

// UpdatePartial128 adjusts a CHECKSUM_PARTIAL field (the folded, not
// complemented, pseudo-header sum) for a changed 16-byte address.
func UpdatePartial128(partial uint16, old, new [16]byte) uint16 {
	for i := 0; i < 16; i += 4 {
		partial = UpdatePartial32(partial, [4]byte(old[i:i+4]), [4]byte(new[i:i+4]))
	}
	return partial
}

// L4ChecksumValid6 reports whether the TCP, UDP or ICMPv6 checksum of the
// packet p decoded from frame is right. A UDP checksum of 0 is invalid in
// IPv6.
func L4ChecksumValid6(frame []byte, p *Parsed6) bool {
	if p.L4Off == 0 {
		return false
	}
	l4 := frame[p.L4Off : p.L4Off+p.L4Len]
	if p.Proto == ProtoUDP && be16(l4[udpChecksum:]) == 0 {
		return false
	}
	return Fold(Sum(l4, PseudoHeaderSum6(p.Src, p.Dst, p.Proto, uint32(len(l4))))) == 0xffff
}
