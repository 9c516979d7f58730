package pkt

// Ethernet II header (IEEE 802.3, clause 3.2; no preamble, no FCS):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination MAC address                    |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                      Source MAC address                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           EtherType           |  payload ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// An IEEE 802.1Q tag (or an 802.1ad QinQ service tag) sits between the
// source address and the EtherType:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   TPID (0x8100 or 0x88a8)     | PCP |D|        VLAN ID        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

// Sizes.
const (
	EtherHeaderLen = 14 // destination, source, EtherType
	EtherAddrLen   = 6
	VLANTagLen     = 4 // TPID and TCI of one 802.1Q/802.1ad tag
	// EtherMinFrameLen is the shortest Ethernet frame without FCS; shorter
	// payloads are padded on the wire, so decoders must allow trailing bytes.
	EtherMinFrameLen = 60
)

// EtherTypes ulvs recognises.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100 // IEEE 802.1Q customer tag
	EtherTypeQinQ = 0x88a8 // IEEE 802.1ad service tag
	EtherTypeIPv6 = 0x86dd
)

// Byte offsets inside an Ethernet header.
const (
	etherDst  = 0
	etherSrc  = 6
	etherType = 12
)

// Byte offsets inside a VLAN tag, relative to the tag's TPID.
const (
	vlanTCI     = 2 // PCP, DEI, VLAN ID
	vlanIDMask  = 0x0fff
	maxVLANTags = 2 // an 802.1ad service tag plus an 802.1Q customer tag
)

// EtherBroadcast is the Ethernet broadcast address.
var EtherBroadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Ether is a view of an Ethernet II header at the start of a frame. It
// aliases the frame; see the package doc. The slice must hold at least
// EtherHeaderLen bytes.
type Ether []byte

// Dst returns the destination MAC address.
func (e Ether) Dst() [6]byte { return [6]byte(e[etherDst : etherDst+EtherAddrLen]) }

// Src returns the source MAC address.
func (e Ether) Src() [6]byte { return [6]byte(e[etherSrc : etherSrc+EtherAddrLen]) }

// SetDst sets the destination MAC address.
func (e Ether) SetDst(a [6]byte) { copy(e[etherDst:etherDst+EtherAddrLen], a[:]) }

// SetSrc sets the source MAC address.
func (e Ether) SetSrc(a [6]byte) { copy(e[etherSrc:etherSrc+EtherAddrLen], a[:]) }

// EtherType returns the outer EtherType field (EtherTypeVLAN or
// EtherTypeQinQ for a tagged frame; Parsed.EtherType holds the inner one).
func (e Ether) EtherType() uint16 { return be16(e[etherType:]) }

// SetEtherType sets the outer EtherType field.
func (e Ether) SetEtherType(t uint16) { putBE16(e[etherType:], t) }
