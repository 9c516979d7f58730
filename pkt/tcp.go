package pkt

// TCP header (RFC 9293, section 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|       |       |R|E|G|K|H|T|N|N|                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           [Options]                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               :
//	:                             Data                              :
//	:                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Data Offset counts 32-bit words (5..15). The checksum covers the
// pseudo-header (RFC 9293, section 3.1: source, destination, zero,
// protocol, TCP length), the header and the data.

// TCP sizes.
const (
	TCPMinHeaderLen = 20
	TCPMaxHeaderLen = 60
)

// TCP flag bits as returned by TCP.Flags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// Byte offsets inside a TCP header.
const (
	tcpSrcPort    = 0
	tcpDstPort    = 2
	tcpSeq        = 4
	tcpAck        = 8
	tcpDataOffset = 12 // high nibble
	tcpFlags      = 13
	tcpWindow     = 14
	tcpChecksum   = 16
	tcpUrgent     = 18
	tcpOptions    = 20
)

// TCP is a view of a TCP segment, header first. It aliases the frame; see
// the package doc. The slice must hold at least TCPMinHeaderLen bytes.
type TCP []byte

// SrcPort returns the source port.
func (t TCP) SrcPort() uint16 { return be16(t[tcpSrcPort:]) }

// DstPort returns the destination port.
func (t TCP) DstPort() uint16 { return be16(t[tcpDstPort:]) }

// Seq returns the sequence number.
func (t TCP) Seq() uint32 { return be32(t[tcpSeq:]) }

// Ack returns the acknowledgment number.
func (t TCP) Ack() uint32 { return be32(t[tcpAck:]) }

// DataOffset returns the header length in bytes (Data Offset * 4).
func (t TCP) DataOffset() int { return int(t[tcpDataOffset]>>4) * 4 }

// Flags returns the flag byte (TCPFin ... TCPCwr).
func (t TCP) Flags() uint8 { return t[tcpFlags] }

// Window returns the window field.
func (t TCP) Window() uint16 { return be16(t[tcpWindow:]) }

// Checksum returns the checksum field.
func (t TCP) Checksum() uint16 { return be16(t[tcpChecksum:]) }

// UrgentPtr returns the urgent pointer.
func (t TCP) UrgentPtr() uint16 { return be16(t[tcpUrgent:]) }

// Options returns the options after the fixed header, or nil. The result
// aliases t.
func (t TCP) Options() []byte {
	off := t.DataOffset()
	if off <= tcpOptions || off > len(t) {
		return nil
	}
	return t[tcpOptions:off]
}

// Payload returns the data after the header (nil if the header does not
// fit). Slice the view to the IP payload first (Parsed.L4 does) or it
// includes Ethernet padding. The result aliases t.
func (t TCP) Payload() []byte {
	off := t.DataOffset()
	if off < TCPMinHeaderLen || off > len(t) {
		return nil
	}
	return t[off:]
}

// SetSrcPort sets the source port. It does not update the checksum.
func (t TCP) SetSrcPort(p uint16) { putBE16(t[tcpSrcPort:], p) }

// SetDstPort sets the destination port. It does not update the checksum.
func (t TCP) SetDstPort(p uint16) { putBE16(t[tcpDstPort:], p) }

// SetSeq sets the sequence number. It does not update the checksum.
func (t TCP) SetSeq(v uint32) { putBE32(t[tcpSeq:], v) }

// SetAck sets the acknowledgment number. It does not update the checksum.
func (t TCP) SetAck(v uint32) { putBE32(t[tcpAck:], v) }

// SetDataOffset sets the header length in bytes (a multiple of 4, 20..60)
// and clears the reserved bits. It does not update the checksum.
func (t TCP) SetDataOffset(n int) { t[tcpDataOffset] = byte(n/4) << 4 }

// SetFlags sets the flag byte. It does not update the checksum.
func (t TCP) SetFlags(f uint8) { t[tcpFlags] = f }

// SetWindow sets the window. It does not update the checksum.
func (t TCP) SetWindow(w uint16) { putBE16(t[tcpWindow:], w) }

// SetUrgentPtr sets the urgent pointer. It does not update the checksum.
func (t TCP) SetUrgentPtr(p uint16) { putBE16(t[tcpUrgent:], p) }

// SetChecksum sets the checksum field.
func (t TCP) SetChecksum(c uint16) { putBE16(t[tcpChecksum:], c) }

// TCPChecksumOffset is the offset of the checksum field in a TCP header
// (virtio_net_hdr csum_offset for TCP).
const TCPChecksumOffset = 16
