package pkt

// DecodeResult is the outcome of Parsed.Decode: DecodeOK, a frame ulvs does
// not handle (DecodeNotIP, DecodeIPv6), or the reason a frame is malformed.
// The zero value is DecodeInvalid, which Decode never returns. Results are
// small consecutive integers: count them in a [NumDecodeResults] array.
type DecodeResult uint8

// Decode results.
const (
	DecodeInvalid     DecodeResult = iota // zero value; never returned
	DecodeOK                              // ARP or IPv4 frame, all of Parsed valid
	DecodeTooShort                        // frame ends inside the Ethernet header, a VLAN tag or the fixed IPv4 header
	DecodeBadVLAN                         // more than two VLAN tags
	DecodeNotIP                           // another EtherType; not an error, just not ours
	DecodeBadVersion                      // IPv4 EtherType, version field not 4
	DecodeBadIHL                          // IHL < 5, or the header runs past the frame
	DecodeBadTotalLen                     // total length < header length, or past the frame
	DecodeBadL4                           // TCP/UDP/ICMP header truncated or inconsistent
	DecodeBadARP                          // ARP not for Ethernet/IPv4, or truncated
	DecodeIPv6                            // IPv6: recognised, not supported yet
	DecodeBadOptions                      // an IPv4 option runs past the header (ip_options_compile drops these)
	NumDecodeResults                      // number of DecodeResult values, for counter arrays
)

var decodeResultNames = [NumDecodeResults]string{
	DecodeInvalid:     "Invalid",
	DecodeOK:          "OK",
	DecodeTooShort:    "TooShort",
	DecodeBadVLAN:     "BadVLAN",
	DecodeNotIP:       "NotIP",
	DecodeBadVersion:  "BadVersion",
	DecodeBadIHL:      "BadIHL",
	DecodeBadTotalLen: "BadTotalLen",
	DecodeBadL4:       "BadL4",
	DecodeBadARP:      "BadARP",
	DecodeIPv6:        "IPv6",
	DecodeBadOptions:  "BadOptions",
}

// String returns the result's name without the Decode prefix ("OK",
// "TooShort", ...), suitable as a counter label. It does not allocate.
func (r DecodeResult) String() string {
	if r < NumDecodeResults {
		return decodeResultNames[r]
	}
	return "DecodeResult(out of range)"
}

// Frag bits of Parsed.Frag.
const (
	FragMore  = 1 // MF set: more fragments follow
	FragLater = 2 // fragment offset != 0: not the first fragment, no L4 header
)

// Parsed is the flat result of decoding one Ethernet frame. Offsets index
// the frame passed to Decode, so frame[p.L3Off:] is the ARP or IPv4 header;
// the value holds no reference to the frame. The zero value is ready to
// use; Decode overwrites every field. A Parsed is not safe for concurrent
// use; give each worker its own.
type Parsed struct {
	EtherType uint16 // after any 802.1Q / QinQ tags
	VLANs     uint8  // number of VLAN tags skipped (0..2)
	VLANID    uint16 // innermost VLAN ID, if any
	L3Off     int    // offset of the ARP or IPv4 header (or of the unhandled L3 payload)
	// L4Off is the offset of the TCP, UDP or ICMP header, or of the inner
	// IPv4 header of an IPIP packet; 0 when absent (non-first fragment,
	// other protocol).
	L4Off int
	// L4Len is the number of bytes from L4Off to the end of the IP packet
	// (by IPv4 total length); 0 when L4Off is 0.
	L4Len            int
	IPLen            int   // IPv4 total length (for DecodeGSO with total length 0: to the end of the frame)
	Proto            uint8 // IPv4 protocol
	Src, Dst         [4]byte
	SrcPort, DstPort uint16 // TCP/UDP; for ICMP echo and echo reply: SrcPort = echo ID, DstPort = 0
	TCPFlags         uint8
	Frag             uint8 // FragMore | FragLater bits; 0 = not a fragment
	ICMPType         uint8
	ICMPCode         uint8
}

// Decode parses an Ethernet frame (no FCS) into p. It skips up to two VLAN
// tags (802.1ad then 802.1Q, or 802.1Q twice). For ARP it fills EtherType,
// VLAN fields and L3Off, after checking that the packet is an Ethernet/IPv4
// ARP of ARPLen bytes. For IPv4 it fills every field: IPv4 options are
// allowed, Ethernet padding after the total length is ignored, the header
// checksum is not checked (IPv4.ChecksumValid does), and fragments decode
// with Frag set; only a first fragment (or a whole packet) has ports.
// Ports and flags come from the TCP header, the UDP header, or the ICMP
// header (type, code, echo ID). For other EtherTypes it returns DecodeNotIP
// or DecodeIPv6 with EtherType, VLAN fields and L3Off set.
//
// Decode never panics and does not allocate. Only with DecodeOK are the
// L3/L4 fields meaningful; the frame is not modified or retained.
func (p *Parsed) Decode(frame []byte) DecodeResult {
	return p.decode(frame, false)
}

// DecodeGSO is Decode for frames received with PACKET_VNET_HDR, which may
// be GSO super-frames (virtio_net_hdr gso_type != NONE) of up to 64 KiB or,
// with BIG TCP, more. A super-frame of more than 64 KiB carries an IPv4
// total length of 0 (the kernel's TSO convention); DecodeGSO accepts 0 and
// takes the IP packet to extend to the end of the frame, setting IPLen to
// that length. Any other total length is checked as in Decode. Such frames
// must be segmented (or forwarded with their virtio_net_hdr) before the
// IPv4 header is trusted by anything else.
func (p *Parsed) DecodeGSO(frame []byte) DecodeResult {
	return p.decode(frame, true)
}

// DecodeIPv4 decodes a bare IPv4 packet (no Ethernet header), such as the
// inner packet of an IPIP tunnel: L3Off is 0, EtherType is EtherTypeIPv4
// and offsets index packet. Otherwise it behaves like Decode.
func (p *Parsed) DecodeIPv4(packet []byte) DecodeResult {
	*p = Parsed{EtherType: EtherTypeIPv4}
	return p.decodeIPv4(packet, 0, false)
}

func (p *Parsed) decode(frame []byte, gso bool) DecodeResult {
	*p = Parsed{}
	if len(frame) < EtherHeaderLen {
		return DecodeTooShort
	}
	et := be16(frame[etherType:])
	off := EtherHeaderLen
	for et == EtherTypeVLAN || et == EtherTypeQinQ {
		if p.VLANs == maxVLANTags {
			return DecodeBadVLAN
		}
		// off points just past the TPID; the TCI and next type follow.
		if len(frame) < off+VLANTagLen {
			return DecodeTooShort
		}
		p.VLANs++
		p.VLANID = be16(frame[off:]) & vlanIDMask
		et = be16(frame[off+vlanTCI:])
		off += VLANTagLen
	}
	p.EtherType = et
	p.L3Off = off
	switch et {
	case EtherTypeIPv4:
		return p.decodeIPv4(frame, off, gso)
	case EtherTypeARP:
		a := frame[off:]
		if len(a) < ARPLen || be16(a[arpHType:]) != ARPHTypeEthernet || be16(a[arpPType:]) != EtherTypeIPv4 ||
			a[arpHLen] != EtherAddrLen || a[arpPLen] != 4 {
			return DecodeBadARP
		}
		return DecodeOK
	case EtherTypeIPv6:
		return DecodeIPv6
	}
	return DecodeNotIP
}

// decodeIPv4 decodes the IPv4 packet at frame[off:].
func (p *Parsed) decodeIPv4(frame []byte, off int, gso bool) DecodeResult {
	ip := frame[off:]
	if len(ip) < IPv4MinHeaderLen {
		return DecodeTooShort
	}
	if ip[ipv4VerIHL]>>4 != IPv4Version {
		return DecodeBadVersion
	}
	hl := int(ip[ipv4VerIHL]&0x0f) * 4
	if hl < IPv4MinHeaderLen || hl > len(ip) {
		return DecodeBadIHL
	}
	if hl > IPv4MinHeaderLen && !optionsValid(ip[IPv4MinHeaderLen:hl]) {
		return DecodeBadOptions
	}
	tl := int(be16(ip[ipv4TotalLen:]))
	if tl == 0 && gso {
		tl = len(ip)
	}
	if tl < hl || tl > len(ip) {
		return DecodeBadTotalLen
	}
	p.IPLen = tl
	p.Proto = ip[ipv4Protocol]
	p.Src = [4]byte(ip[ipv4Src : ipv4Src+4])
	p.Dst = [4]byte(ip[ipv4Dst : ipv4Dst+4])
	ff := be16(ip[ipv4FlagsFrag:])
	if ff&(IPv4FlagMF<<ipv4FlagShift) != 0 {
		p.Frag |= FragMore
	}
	if ff&ipv4FragMask != 0 {
		p.Frag |= FragLater
		return DecodeOK // no L4 header in this fragment
	}
	l4 := ip[hl:tl]
	l4Off := off + hl
	switch p.Proto {
	case ProtoTCP:
		if len(l4) < TCPMinHeaderLen {
			return DecodeBadL4
		}
		if do := int(l4[tcpDataOffset]>>4) * 4; do < TCPMinHeaderLen || do > len(l4) {
			return DecodeBadL4
		}
		p.SrcPort = be16(l4[tcpSrcPort:])
		p.DstPort = be16(l4[tcpDstPort:])
		p.TCPFlags = l4[tcpFlags]
	case ProtoUDP:
		if len(l4) < UDPHeaderLen {
			return DecodeBadL4
		}
		// The length field covers the whole datagram; only a whole
		// packet can be checked against it.
		n := int(be16(l4[udpLength:]))
		if n < UDPHeaderLen || (p.Frag == 0 && n > len(l4)) {
			return DecodeBadL4
		}
		p.SrcPort = be16(l4[udpSrcPort:])
		p.DstPort = be16(l4[udpDstPort:])
	case ProtoICMP:
		if len(l4) < ICMPv4HeaderLen {
			return DecodeBadL4
		}
		p.ICMPType = l4[icmpType]
		p.ICMPCode = l4[icmpCode]
		if p.ICMPType == ICMPEchoRequest || p.ICMPType == ICMPEchoReply {
			p.SrcPort = be16(l4[icmpID:])
		}
	case ProtoIPIP:
		// The inner header's offset; DecodeIPv4 checks it.
	default:
		return DecodeOK
	}
	p.L4Off = l4Off
	p.L4Len = len(l4)
	return DecodeOK
}

// IP returns the IPv4 packet of a frame p decoded with DecodeOK, from its
// header to its total length (Ethernet padding excluded). The result
// aliases frame.
func (p *Parsed) IP(frame []byte) IPv4 {
	return IPv4(frame[p.L3Off : p.L3Off+p.IPLen])
}

// L4 returns the L4 part of a frame p decoded with DecodeOK: from L4Off to
// the end of the IP packet, or nil when L4Off is 0. The result aliases
// frame.
func (p *Parsed) L4(frame []byte) []byte {
	if p.L4Off == 0 {
		return nil
	}
	return frame[p.L4Off : p.L4Off+p.L4Len]
}

// optionsValid walks IPv4 options (RFC 791 section 3.1) as the kernel's
// ip_options_compile does before anything else sees the packet: end of
// list (0) stops, no-operation (1) is one byte, every other option has a
// length byte of at least 2 that must not run past the header.
func optionsValid(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			return true
		case 1:
			i++
		default:
			if i+1 >= len(opts) {
				return false
			}
			l := int(opts[i+1])
			if l < 2 || i+l > len(opts) {
				return false
			}
			i += l
		}
	}
	return true
}
