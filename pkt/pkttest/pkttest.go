// Package pkttest builds Ethernet frames for tests and checks frames that
// code under test produced, in the style of gvisor's pkg/tcpip/checker:
//
//	frame := pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoTCP,
//		SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build()
//	out := forwardUnderTest(frame)
//	pkttest.CheckIPv4(t, out, pkttest.DstIP(rip), pkttest.TTL(64), pkttest.ValidChecksums())
//
// It is test-only code: it allocates freely and panics on misuse (an
// address that is not IPv4, options longer than 40 bytes). It imports pkt
// and the standard library only.
package pkttest

import (
	"net/netip"

	"github.com/ulvs/ulvs/pkt"
)

// Frame describes one Ethernet/IPv4 frame. The zero value of a field picks
// a default where one is noted; everything else is written as given.
type Frame struct {
	SrcMAC, DstMAC [6]byte
	// VLAN is the 802.1Q VLAN ID; 0 means untagged.
	VLAN uint16
	// OuterVLAN, when not 0, adds an 802.1ad (QinQ, EtherType 0x88a8)
	// service tag with this ID outside the VLAN tag.
	OuterVLAN uint16

	Src, Dst netip.Addr // must be IPv4
	// Proto selects the L4 header: pkt.ProtoTCP, pkt.ProtoUDP and
	// pkt.ProtoICMP get a header with a correct checksum; any other value
	// (pkt.ProtoIPIP with an inner packet as Payload, say) is written
	// as is, followed by Payload.
	Proto            uint8
	SrcPort, DstPort uint16 // TCP, UDP
	TCPFlags         uint8
	Seq, Ack         uint32
	Window           uint16 // TCP; 0 means 65535
	TTL              uint8  // 0 means 64
	TOS              uint8
	ID               uint16
	DF               bool
	// MF and FragOffset (bytes, a multiple of 8) make a fragment. With a
	// FragOffset other than 0 the IP payload is Payload alone, no L4
	// header.
	MF         bool
	FragOffset int
	Payload    []byte
	// ICMPType and ICMPCode fill an ICMP header; ICMPID and ICMPSeq its
	// second word (echo identifier and sequence).
	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16
	// IPOptions are copied after the fixed IPv4 header, padded with zero
	// (end of options list) to a multiple of 4 bytes.
	IPOptions []byte
}

func addr4(a netip.Addr, what string) [4]byte {
	if !a.Is4() {
		panic("pkttest: " + what + " address " + a.String() + " is not IPv4")
	}
	return a.As4()
}

// Build returns the frame: Ethernet (with tags), IPv4 header with a correct
// checksum, the L4 header with a correct checksum, and Payload. The result
// is a new slice the caller owns.
func (f Frame) Build() []byte {
	src, dst := addr4(f.Src, "source"), addr4(f.Dst, "destination")
	opts := (len(f.IPOptions) + 3) &^ 3
	if opts > pkt.IPv4MaxHeaderLen-pkt.IPv4MinHeaderLen {
		panic("pkttest: IPv4 options longer than 40 bytes")
	}
	hl := pkt.IPv4MinHeaderLen + opts

	var l4 []byte
	switch {
	case f.FragOffset != 0:
		l4 = append(l4, f.Payload...)
	case f.Proto == pkt.ProtoTCP:
		l4 = make([]byte, pkt.TCPMinHeaderLen, pkt.TCPMinHeaderLen+len(f.Payload))
		t := pkt.TCP(l4)
		t.SetSrcPort(f.SrcPort)
		t.SetDstPort(f.DstPort)
		t.SetSeq(f.Seq)
		t.SetAck(f.Ack)
		t.SetDataOffset(pkt.TCPMinHeaderLen)
		t.SetFlags(f.TCPFlags)
		w := f.Window
		if w == 0 {
			w = 65535
		}
		t.SetWindow(w)
		l4 = append(l4, f.Payload...)
		pkt.TCP(l4).SetChecksum(pkt.Checksum(l4, pkt.PseudoHeaderSum(src, dst, pkt.ProtoTCP, uint16(len(l4)))))
	case f.Proto == pkt.ProtoUDP:
		l4 = make([]byte, pkt.UDPHeaderLen, pkt.UDPHeaderLen+len(f.Payload))
		u := pkt.UDP(l4)
		u.SetSrcPort(f.SrcPort)
		u.SetDstPort(f.DstPort)
		u.SetLength(uint16(pkt.UDPHeaderLen + len(f.Payload)))
		l4 = append(l4, f.Payload...)
		c := pkt.Checksum(l4, pkt.PseudoHeaderSum(src, dst, pkt.ProtoUDP, uint16(len(l4))))
		if c == 0 {
			c = 0xffff
		}
		pkt.UDP(l4).SetChecksum(c)
	case f.Proto == pkt.ProtoICMP:
		l4 = make([]byte, pkt.ICMPv4HeaderLen, pkt.ICMPv4HeaderLen+len(f.Payload))
		i := pkt.ICMPv4(l4)
		i.SetType(f.ICMPType)
		i.SetCode(f.ICMPCode)
		i.SetID(f.ICMPID)
		i.SetSeq(f.ICMPSeq)
		l4 = append(l4, f.Payload...)
		pkt.ICMPv4(l4).ComputeChecksum()
	default:
		l4 = append(l4, f.Payload...)
	}

	var b []byte
	b = append(b, f.DstMAC[:]...)
	b = append(b, f.SrcMAC[:]...)
	if f.OuterVLAN != 0 {
		b = append(b, pkt.EtherTypeQinQ>>8, pkt.EtherTypeQinQ&0xff, byte(f.OuterVLAN>>8), byte(f.OuterVLAN))
	}
	if f.VLAN != 0 {
		b = append(b, pkt.EtherTypeVLAN>>8, pkt.EtherTypeVLAN&0xff, byte(f.VLAN>>8), byte(f.VLAN))
	}
	b = append(b, pkt.EtherTypeIPv4>>8, pkt.EtherTypeIPv4&0xff)
	l3 := len(b)
	b = append(b, make([]byte, hl)...)
	copy(b[l3+pkt.IPv4MinHeaderLen:], f.IPOptions)
	b = append(b, l4...)

	ip := pkt.IPv4(b[l3:])
	ip.SetHeaderLen(hl)
	ip.SetTOS(f.TOS)
	ip.SetTotalLen(uint16(hl + len(l4)))
	ip.SetID(f.ID)
	var flags uint8
	if f.DF {
		flags |= pkt.IPv4FlagDF
	}
	if f.MF {
		flags |= pkt.IPv4FlagMF
	}
	ip.SetFlagsFragOff(flags, f.FragOffset)
	ttl := f.TTL
	if ttl == 0 {
		ttl = 64
	}
	ip.SetTTL(ttl)
	ip.SetProtocol(f.Proto)
	ip.SetSrc(src)
	ip.SetDst(dst)
	ip.ComputeChecksum()
	return b
}

// ARPFrame returns an Ethernet/IPv4 ARP frame from sha, padded to the
// Ethernet minimum of 60 bytes as on the wire. A request (op
// pkt.ARPRequest) goes to the broadcast address, anything else to tha.
// The result is a new slice the caller owns.
func ARPFrame(op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	b := make([]byte, pkt.EtherMinFrameLen)
	e := pkt.Ether(b)
	if op == pkt.ARPRequest {
		e.SetDst(pkt.EtherBroadcast)
	} else {
		e.SetDst(tha)
	}
	e.SetSrc(sha)
	e.SetEtherType(pkt.EtherTypeARP)
	a := pkt.ARP(b[pkt.EtherHeaderLen:])
	a.SetHeader(op)
	a.SetSHA(sha)
	a.SetSPA(spa)
	a.SetTHA(tha)
	a.SetTPA(tpa)
	return b
}
