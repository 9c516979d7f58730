package pkttest

import (
	"encoding/binary"
	"net/netip"

	"github.com/ulvs/ulvs/pkt"
)

// Frame6 describes one Ethernet/IPv6 frame, as Frame describes an IPv4
// one.
type Frame6 struct {
	SrcMAC, DstMAC [6]byte
	Src, Dst       netip.Addr // must be IPv6
	// Proto selects the upper layer: pkt.ProtoTCP, pkt.ProtoUDP and
	// pkt.ProtoICMPv6 get a header with a correct checksum (ICMPv6:
	// ICMPType, ICMPCode, then Payload as the message body).
	Proto            uint8
	SrcPort, DstPort uint16
	TCPFlags         uint8
	HopLimit         uint8 // 0 means 64
	// ExtHeaders are extension headers placed before the upper layer:
	// each pkt.ProtoHopByHop, pkt.ProtoRouting, pkt.ProtoDstOpts or
	// pkt.ProtoFragment gets an 8-byte header of that kind.
	ExtHeaders         []uint8
	ICMPType, ICMPCode uint8
	Payload            []byte
	// ZeroUDPChecksum writes a UDP checksum of 0 (invalid in IPv6).
	ZeroUDPChecksum bool
}

// Build returns the frame.
func (f Frame6) Build() []byte {
	if !f.Src.Is6() || !f.Dst.Is6() {
		panic("pkttest: Frame6 addresses must be IPv6")
	}
	var l4 []byte
	switch f.Proto {
	case pkt.ProtoTCP:
		l4 = make([]byte, 20+len(f.Payload))
		binary.BigEndian.PutUint16(l4[0:], f.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], f.DstPort)
		l4[12] = 5 << 4
		l4[13] = f.TCPFlags
		binary.BigEndian.PutUint16(l4[14:], 65535)
		copy(l4[20:], f.Payload)
	case pkt.ProtoUDP:
		l4 = make([]byte, 8+len(f.Payload))
		binary.BigEndian.PutUint16(l4[0:], f.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], f.DstPort)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		copy(l4[8:], f.Payload)
	case pkt.ProtoICMPv6:
		l4 = make([]byte, 4+len(f.Payload))
		l4[0], l4[1] = f.ICMPType, f.ICMPCode
		copy(l4[4:], f.Payload)
	default:
		l4 = append([]byte(nil), f.Payload...)
	}
	src, dst := f.Src.As16(), f.Dst.As16()
	ck := map[uint8]int{pkt.ProtoTCP: 16, pkt.ProtoUDP: 6, pkt.ProtoICMPv6: 2}
	if off, ok := ck[f.Proto]; ok && !(f.Proto == pkt.ProtoUDP && f.ZeroUDPChecksum) {
		c := pkt.Checksum(l4, pkt.PseudoHeaderSum6(src, dst, f.Proto, uint32(len(l4))))
		if c == 0 && f.Proto == pkt.ProtoUDP {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[off:], c)
	}
	var ext []byte
	for i, kind := range f.ExtHeaders {
		next := f.Proto
		if i+1 < len(f.ExtHeaders) {
			next = f.ExtHeaders[i+1]
		}
		h := make([]byte, 8)
		h[0] = next
		if kind == pkt.ProtoHopByHop || kind == pkt.ProtoDstOpts {
			h[2], h[3] = 1, 4 // a PadN option filling the header
		}
		ext = append(ext, h...)
	}
	b := make([]byte, 14+40+len(ext)+len(l4))
	copy(b[0:6], f.DstMAC[:])
	copy(b[6:12], f.SrcMAC[:])
	binary.BigEndian.PutUint16(b[12:], pkt.EtherTypeIPv6)
	ip := b[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(l4)))
	ip[6] = f.Proto
	if len(f.ExtHeaders) > 0 {
		ip[6] = f.ExtHeaders[0]
	}
	ip[7] = f.HopLimit
	if ip[7] == 0 {
		ip[7] = 64
	}
	copy(ip[8:], src[:])
	copy(ip[24:], dst[:])
	copy(ip[40:], ext)
	copy(ip[40+len(ext):], l4)
	return b
}

// Solicit6 returns a neighbour solicitation for target from src (the
// unspecified address for a DAD probe, without the source link-layer
// option) to target's solicited-node group.
func Solicit6(srcMAC [6]byte, src, target netip.Addr) []byte {
	t := target.As16()
	grp := netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 1, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]})
	body := make([]byte, 20)
	copy(body[4:], t[:])
	if !src.IsUnspecified() {
		body = append(body, 1, 1)
		body = append(body, srcMAC[:]...)
	}
	return Frame6{SrcMAC: srcMAC, DstMAC: [6]byte{0x33, 0x33, 0xff, t[13], t[14], t[15]}, Src: src, Dst: grp,
		Proto: pkt.ProtoICMPv6, ICMPType: pkt.ICMPv6NeighborSolicit, HopLimit: 255, Payload: body}.Build()
}
