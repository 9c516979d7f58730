package pkt

// ARP packet for Ethernet hardware and IPv4 protocol addresses (RFC 826,
// "Packet format"; the field names in parentheses are RFC 826's):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Hardware type (ar$hrd) = 1   | Protocol type (ar$pro)=0x0800 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| HLen (ar$hln) | PLen (ar$pln) |       Opcode (ar$op)          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            Sender hardware address (ar$sha), 6 octets         |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               | Sender protocol address       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ (ar$spa), 4 octets            +
//	|                               | Target hardware address       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ (ar$tha), 6 octets            +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Target protocol address (ar$tpa), 4 octets          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

// ARP sizes and values.
const (
	ARPLen = 28 // an Ethernet/IPv4 ARP packet

	ARPRequest = 1 // ares_op$REQUEST
	ARPReply   = 2 // ares_op$REPLY

	ARPHTypeEthernet = 1 // ares_hrd$Ethernet
)

// Byte offsets inside an ARP packet (Ethernet/IPv4 only).
const (
	arpHType = 0
	arpPType = 2
	arpHLen  = 4
	arpPLen  = 5
	arpOp    = 6
	arpSHA   = 8
	arpSPA   = 14
	arpTHA   = 18
	arpTPA   = 24
)

// ARP is a view of an Ethernet/IPv4 ARP packet. It aliases the frame; see
// the package doc. The slice must hold at least ARPLen bytes; addresses are
// read at the fixed Ethernet/IPv4 offsets whatever HLen and PLen say
// (Parsed.Decode rejects any other sizes with DecodeBadARP).
type ARP []byte

// HType returns the hardware address space (ARPHTypeEthernet).
func (a ARP) HType() uint16 { return be16(a[arpHType:]) }

// PType returns the protocol address space (EtherTypeIPv4).
func (a ARP) PType() uint16 { return be16(a[arpPType:]) }

// HLen returns the hardware address length (6).
func (a ARP) HLen() uint8 { return a[arpHLen] }

// PLen returns the protocol address length (4).
func (a ARP) PLen() uint8 { return a[arpPLen] }

// Op returns the opcode, ARPRequest or ARPReply.
func (a ARP) Op() uint16 { return be16(a[arpOp:]) }

// SHA returns the sender hardware address.
func (a ARP) SHA() [6]byte { return [6]byte(a[arpSHA : arpSHA+6]) }

// SPA returns the sender protocol address.
func (a ARP) SPA() [4]byte { return [4]byte(a[arpSPA : arpSPA+4]) }

// THA returns the target hardware address.
func (a ARP) THA() [6]byte { return [6]byte(a[arpTHA : arpTHA+6]) }

// TPA returns the target protocol address.
func (a ARP) TPA() [4]byte { return [4]byte(a[arpTPA : arpTPA+4]) }

// SetHeader writes the fixed Ethernet/IPv4 fields (hardware type,
// protocol type, address lengths) and the opcode.
func (a ARP) SetHeader(op uint16) {
	putBE16(a[arpHType:], ARPHTypeEthernet)
	putBE16(a[arpPType:], EtherTypeIPv4)
	a[arpHLen] = EtherAddrLen
	a[arpPLen] = 4
	putBE16(a[arpOp:], op)
}

// SetOp sets the opcode.
func (a ARP) SetOp(op uint16) { putBE16(a[arpOp:], op) }

// SetSHA sets the sender hardware address.
func (a ARP) SetSHA(m [6]byte) { copy(a[arpSHA:arpSHA+6], m[:]) }

// SetSPA sets the sender protocol address.
func (a ARP) SetSPA(ip [4]byte) { copy(a[arpSPA:arpSPA+4], ip[:]) }

// SetTHA sets the target hardware address.
func (a ARP) SetTHA(m [6]byte) { copy(a[arpTHA:arpTHA+6], m[:]) }

// SetTPA sets the target protocol address.
func (a ARP) SetTPA(ip [4]byte) { copy(a[arpTPA:arpTPA+4], ip[:]) }
