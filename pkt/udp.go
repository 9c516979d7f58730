package pkt

// UDP header (RFC 768):
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|     Source      |   Destination   |
//	|      Port       |      Port       |
//	+--------+--------+--------+--------+
//	|                 |                 |
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
//	|
//	|          data octets ...
//	+---------------- ...
//
// Length counts header and data. The checksum covers the pseudo-header
// (source, destination, zero, protocol, UDP length), the header and the
// data. A checksum field of 0 means "no checksum"; a computed checksum of
// 0 is sent as 0xffff (UpdateUDP16 and UpdateUDP32 keep both rules).

// UDPHeaderLen is the size of a UDP header.
const UDPHeaderLen = 8

// Byte offsets inside a UDP header.
const (
	udpSrcPort  = 0
	udpDstPort  = 2
	udpLength   = 4
	udpChecksum = 6
)

// UDPChecksumOffset is the offset of the checksum field in a UDP header
// (virtio_net_hdr csum_offset for UDP).
const UDPChecksumOffset = 6

// UDP is a view of a UDP datagram, header first. It aliases the frame; see
// the package doc. The slice must hold at least UDPHeaderLen bytes.
type UDP []byte

// SrcPort returns the source port.
func (u UDP) SrcPort() uint16 { return be16(u[udpSrcPort:]) }

// DstPort returns the destination port.
func (u UDP) DstPort() uint16 { return be16(u[udpDstPort:]) }

// Length returns the length field (header and data, in bytes).
func (u UDP) Length() uint16 { return be16(u[udpLength:]) }

// Checksum returns the checksum field (0: none).
func (u UDP) Checksum() uint16 { return be16(u[udpChecksum:]) }

// Payload returns the data after the header, up to Length clamped to the
// slice. The result aliases u.
func (u UDP) Payload() []byte {
	end := int(u.Length())
	if end > len(u) {
		end = len(u)
	}
	if end < UDPHeaderLen {
		return nil
	}
	return u[UDPHeaderLen:end]
}

// SetSrcPort sets the source port. It does not update the checksum.
func (u UDP) SetSrcPort(p uint16) { putBE16(u[udpSrcPort:], p) }

// SetDstPort sets the destination port. It does not update the checksum.
func (u UDP) SetDstPort(p uint16) { putBE16(u[udpDstPort:], p) }

// SetLength sets the length field. It does not update the checksum.
func (u UDP) SetLength(n uint16) { putBE16(u[udpLength:], n) }

// SetChecksum sets the checksum field.
func (u UDP) SetChecksum(c uint16) { putBE16(u[udpChecksum:], c) }
