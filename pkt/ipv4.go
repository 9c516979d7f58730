package pkt

// IPv4 header (RFC 791, section 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// IHL counts 32-bit words (5..15); Total Length counts bytes of header and
// data; Fragment Offset counts 8-byte units. Flags (bit 0 first): reserved,
// DF (don't fragment), MF (more fragments).

// IPv4 sizes.
const (
	IPv4MinHeaderLen = 20
	IPv4MaxHeaderLen = 60
	IPv4Version      = 4
)

// IP protocol numbers (IANA).
const (
	ProtoICMP = 1
	ProtoIPIP = 4 // IPv4-in-IPv4, the LVS tunnel (RFC 2003)
	ProtoTCP  = 6
	ProtoUDP  = 17
)

// IPv4 flag bits as returned by IPv4.Flags (the 3-bit field).
const (
	IPv4FlagMF = 0x1 // more fragments
	IPv4FlagDF = 0x2 // don't fragment
)

// Byte offsets inside an IPv4 header.
const (
	ipv4VerIHL    = 0
	ipv4TOS       = 1
	ipv4TotalLen  = 2
	ipv4ID        = 4
	ipv4FlagsFrag = 6
	ipv4TTL       = 8
	ipv4Protocol  = 9
	ipv4Checksum  = 10
	ipv4Src       = 12
	ipv4Dst       = 16
	ipv4Options   = 20

	ipv4FragMask  = 0x1fff // Fragment Offset bits of the flags/offset word
	ipv4FlagShift = 13
)

// IPv4 is a view of an IPv4 packet, header first. It aliases the frame; see
// the package doc. The slice must hold at least IPv4MinHeaderLen bytes;
// length fields read from the packet are clamped to the slice.
type IPv4 []byte

// Version returns the version field (4 for IPv4).
func (h IPv4) Version() uint8 { return h[ipv4VerIHL] >> 4 }

// HeaderLen returns the header length in bytes (IHL * 4).
func (h IPv4) HeaderLen() int { return int(h[ipv4VerIHL]&0x0f) * 4 }

// TOS returns the type of service (DSCP and ECN) byte.
func (h IPv4) TOS() uint8 { return h[ipv4TOS] }

// TotalLen returns the total length field: header and data, in bytes.
func (h IPv4) TotalLen() uint16 { return be16(h[ipv4TotalLen:]) }

// ID returns the identification field.
func (h IPv4) ID() uint16 { return be16(h[ipv4ID:]) }

// Flags returns the 3-bit flags field (IPv4FlagDF, IPv4FlagMF).
func (h IPv4) Flags() uint8 { return h[ipv4FlagsFrag] >> 5 }

// DF reports whether the don't-fragment flag is set.
func (h IPv4) DF() bool { return h.Flags()&IPv4FlagDF != 0 }

// MF reports whether the more-fragments flag is set.
func (h IPv4) MF() bool { return h.Flags()&IPv4FlagMF != 0 }

// FragOffset returns the fragment offset in bytes.
func (h IPv4) FragOffset() int { return int(be16(h[ipv4FlagsFrag:])&ipv4FragMask) * 8 }

// IsFragment reports whether the packet is a fragment: MF set or a
// non-zero fragment offset.
func (h IPv4) IsFragment() bool {
	return be16(h[ipv4FlagsFrag:])&(IPv4FlagMF<<ipv4FlagShift|ipv4FragMask) != 0
}

// TTL returns the time to live.
func (h IPv4) TTL() uint8 { return h[ipv4TTL] }

// Protocol returns the protocol of the payload (ProtoTCP, ...).
func (h IPv4) Protocol() uint8 { return h[ipv4Protocol] }

// Checksum returns the header checksum field.
func (h IPv4) Checksum() uint16 { return be16(h[ipv4Checksum:]) }

// Src returns the source address.
func (h IPv4) Src() [4]byte { return [4]byte(h[ipv4Src : ipv4Src+4]) }

// Dst returns the destination address.
func (h IPv4) Dst() [4]byte { return [4]byte(h[ipv4Dst : ipv4Dst+4]) }

// Options returns the options and padding after the fixed header, or nil.
// The result aliases h.
func (h IPv4) Options() []byte {
	hl := h.HeaderLen()
	if hl <= ipv4Options || hl > len(h) {
		return nil
	}
	return h[ipv4Options:hl]
}

// Payload returns the bytes after the header up to the total length,
// clamped to the slice (nil if the header does not fit). Ethernet padding
// after the total length is not included. For a TSO frame whose total
// length is 0 it returns nil; use Parsed.L4 there. The result aliases h.
func (h IPv4) Payload() []byte {
	hl := h.HeaderLen()
	end := int(h.TotalLen())
	if end > len(h) {
		end = len(h)
	}
	if hl < IPv4MinHeaderLen || end < hl {
		return nil
	}
	return h[hl:end]
}

// SetHeaderLen writes version 4 and the IHL for a header of n bytes
// (a multiple of 4 between 20 and 60).
func (h IPv4) SetHeaderLen(n int) { h[ipv4VerIHL] = IPv4Version<<4 | byte(n/4)&0x0f }

// SetTOS sets the type of service byte. It does not update the checksum.
func (h IPv4) SetTOS(v uint8) { h[ipv4TOS] = v }

// SetTotalLen sets the total length. It does not update the checksum.
func (h IPv4) SetTotalLen(n uint16) { putBE16(h[ipv4TotalLen:], n) }

// SetID sets the identification field. It does not update the checksum.
func (h IPv4) SetID(id uint16) { putBE16(h[ipv4ID:], id) }

// SetFlagsFragOff sets the 3-bit flags (IPv4FlagDF, IPv4FlagMF) and the
// fragment offset in bytes (a multiple of 8; lower bits are dropped). It
// does not update the checksum.
func (h IPv4) SetFlagsFragOff(flags uint8, off int) {
	putBE16(h[ipv4FlagsFrag:], uint16(flags&0x7)<<ipv4FlagShift|uint16(off/8)&ipv4FragMask)
}

// SetTTL sets the time to live. It does not update the checksum.
func (h IPv4) SetTTL(ttl uint8) { h[ipv4TTL] = ttl }

// SetProtocol sets the protocol. It does not update the checksum.
func (h IPv4) SetProtocol(p uint8) { h[ipv4Protocol] = p }

// SetChecksum sets the header checksum field.
func (h IPv4) SetChecksum(c uint16) { putBE16(h[ipv4Checksum:], c) }

// SetSrc sets the source address. It does not update any checksum.
func (h IPv4) SetSrc(a [4]byte) { copy(h[ipv4Src:ipv4Src+4], a[:]) }

// SetDst sets the destination address. It does not update any checksum.
func (h IPv4) SetDst(a [4]byte) { copy(h[ipv4Dst:ipv4Dst+4], a[:]) }

// DecTTL decrements the TTL and adjusts the header checksum incrementally
// (RFC 1624), like the kernel's ip_decrease_ttl. The caller checks for a
// TTL of 0 or 1 first.
func (h IPv4) DecTTL() {
	old := be16(h[ipv4TTL:])
	h[ipv4TTL]--
	h.SetChecksum(Update16(h.Checksum(), old, be16(h[ipv4TTL:])))
}

// headerBytes returns the header by IHL, clamped to the slice.
func (h IPv4) headerBytes() []byte {
	hl := h.HeaderLen()
	if hl < IPv4MinHeaderLen {
		hl = IPv4MinHeaderLen
	}
	if hl > len(h) {
		hl = len(h)
	}
	return h[:hl]
}

// ComputeChecksum recomputes the header checksum in place over HeaderLen
// bytes (clamped to the slice).
func (h IPv4) ComputeChecksum() {
	h.SetChecksum(0)
	h.SetChecksum(Checksum(h.headerBytes(), 0))
}

// ChecksumValid reports whether the header checksum is correct. Decode
// does not check it (the engine may, per packet, at the cost of one Sum
// over 20 to 60 bytes).
func (h IPv4) ChecksumValid() bool {
	return Fold(Sum(h.headerBytes(), 0)) == 0xffff
}
