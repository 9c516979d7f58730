package ndp

import (
	"encoding/binary"

	"github.com/ulvs/ulvs/pkt"
)

// Sizes of the messages built here.
const (
	// AdvertLen is a Neighbor Advertisement with a target link-layer
	// address option: ICMPv6 header and flags (8), target (16), option (8).
	AdvertLen = 32
	// SolicitLen is a Neighbor Solicitation with a source link-layer
	// address option.
	SolicitLen = 32
	// FrameLen is an Ethernet frame of an IPv6 advertisement or
	// solicitation built here.
	FrameLen = pkt.EtherHeaderLen + pkt.IPv6HeaderLen + AdvertLen
)

// AllNodes is ff02::1 and AllNodesMAC its Ethernet multicast address.
var (
	AllNodes    = [16]byte{0: 0xff, 1: 0x02, 15: 1}
	AllNodesMAC = [6]byte{0x33, 0x33, 0, 0, 0, 1}
)

// SolicitedNode returns the solicited-node multicast address of a
// (ff02::1:ffXX:XXXX, RFC 4291 2.7.1).
func SolicitedNode(a [16]byte) [16]byte {
	return [16]byte{0: 0xff, 1: 0x02, 11: 1, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]}
}

// MulticastMAC returns the Ethernet address of an IPv6 multicast address
// (33:33 and its last 32 bits, RFC 2464 7).
func MulticastMAC(a [16]byte) [6]byte {
	return [6]byte{0x33, 0x33, a[12], a[13], a[14], a[15]}
}

// options checks an ND option area (RFC 4861 4.6: each option is a
// multiple of 8 bytes, length 0 is invalid) and returns the link-layer
// address of option kind, if present.
func options(b []byte, kind byte) (mac [6]byte, found, ok bool) {
	for len(b) > 0 {
		if len(b) < 2 || b[1] == 0 || int(b[1])*8 > len(b) {
			return mac, false, false
		}
		l := int(b[1]) * 8
		if b[0] == kind && l >= 8 && !found {
			mac, found = [6]byte(b[2:8]), true
		}
		b = b[l:]
	}
	return mac, found, true
}

// IsSolicit reports whether the packet p decoded from frame is a valid
// Neighbor Solicitation (RFC 4861 7.1.1: hop limit 255, code 0, ICMPv6
// checksum right, at least 24 bytes, well-formed options, no source
// link-layer option from the unspecified address, target not multicast),
// and returns its target. It does not allocate.
func IsSolicit(frame []byte, p *pkt.Parsed6) (target [16]byte, ok bool) {
	if p.Proto != pkt.ProtoICMPv6 || p.L4Off == 0 || p.ICMPType != pkt.ICMPv6NeighborSolicit || p.ICMPCode != 0 ||
		p.L4Len < pkt.NDMinLen || p.ExtLen != 0 {
		return target, false
	}
	if pkt.IPv6(frame[p.L3Off:]).HopLimit() != 255 {
		return target, false
	}
	msg := frame[p.L4Off : p.L4Off+p.L4Len]
	target = [16]byte(msg[8:24])
	if target[0] == 0xff {
		return target, false
	}
	_, sll, ok := options(msg[24:], 1)
	if !ok || sll && p.Src == ([16]byte{}) {
		return target, false
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		return target, false
	}
	return target, true
}

// MakeAdvert turns the solicitation in frame (IsSolicit true, its target
// one of ours) into our Neighbor Advertisement in place: from the target
// to the solicitor (to all-nodes for a DAD probe from ::), solicited and
// override flags (override only for DAD, where solicited must be clear),
// the target link-layer option carrying mac. frame's capacity must hold
// p.L3Off + 40 + AdvertLen bytes; it returns the new frame length, or 0
// when it does not fit. It does not allocate.
func MakeAdvert(frame []byte, p *pkt.Parsed6, mac [6]byte) int {
	n := p.L3Off + pkt.IPv6HeaderLen + AdvertLen
	if cap(frame) < n {
		return 0
	}
	frame = frame[:n]
	target := [16]byte(frame[p.L4Off+8 : p.L4Off+24])
	dst, dstMAC := p.Src, pkt.Ether(frame).Src()
	flags := byte(pkt.NDAdvertSolicited | pkt.NDAdvertOverride)
	if dst == ([16]byte{}) {
		dst, dstMAC, flags = AllNodes, AllNodesMAC, pkt.NDAdvertOverride
	}
	eth := pkt.Ether(frame)
	eth.SetDst(dstMAC)
	eth.SetSrc(mac)
	writeIPv6(frame[p.L3Off:], target, dst, AdvertLen)
	advert(frame[p.L3Off+pkt.IPv6HeaderLen:], target, dst, flags, mac)
	return n
}

// Unsolicited writes into b (at least FrameLen bytes) the unsolicited
// Neighbor Advertisement announcing addr at mac (RFC 4861 7.2.6): to
// all-nodes, override set, solicited clear. It returns the frame length.
func Unsolicited(b []byte, mac [6]byte, addr [16]byte) int {
	b = b[:FrameLen]
	eth := pkt.Ether(b)
	eth.SetDst(AllNodesMAC)
	eth.SetSrc(mac)
	eth.SetEtherType(pkt.EtherTypeIPv6)
	writeIPv6(b[pkt.EtherHeaderLen:], addr, AllNodes, AdvertLen)
	advert(b[pkt.EtherHeaderLen+pkt.IPv6HeaderLen:], addr, AllNodes, pkt.NDAdvertOverride, mac)
	return FrameLen
}

func writeIPv6(ip []byte, src, dst [16]byte, payload int) {
	binary.BigEndian.PutUint32(ip[0:], 6<<28)
	h := pkt.IPv6(ip)
	h.SetPayloadLen(uint16(payload))
	ip[6] = pkt.ProtoICMPv6
	h.SetHopLimit(255)
	h.SetSrc(src)
	h.SetDst(dst)
}

// advert writes an advertisement message of target with flags and the
// target link-layer option, and its checksum for src -> dst.
func advert(m []byte, src, dst [16]byte, flags byte, mac [6]byte) {
	m = m[:AdvertLen]
	m[0], m[1], m[2], m[3] = pkt.ICMPv6NeighborAdvert, 0, 0, 0
	m[4], m[5], m[6], m[7] = flags, 0, 0, 0
	copy(m[8:24], src[:])
	m[24], m[25] = 2, 1 // target link-layer address, 8 bytes
	copy(m[26:32], mac[:])
	binary.BigEndian.PutUint16(m[2:], pkt.Checksum(m, pkt.PseudoHeaderSum6(src, dst, pkt.ProtoICMPv6, AdvertLen)))
}

// SolicitMessage writes into m (at least SolicitLen bytes) the ICMPv6
// Neighbor Solicitation for target with our source link-layer option; the
// checksum is left 0 for the kernel to fill (raw ICMPv6 sockets compute
// it). It returns the message length.
func SolicitMessage(m []byte, target [16]byte, mac [6]byte) int {
	m = m[:SolicitLen]
	clear(m)
	m[0] = pkt.ICMPv6NeighborSolicit
	copy(m[8:24], target[:])
	m[24], m[25] = 1, 1
	copy(m[26:32], mac[:])
	return SolicitLen
}

// ParseAdvert reads an ICMPv6 Neighbor Advertisement message (from the
// ICMPv6 header on, as a raw socket delivers it) and returns its target
// and the target link-layer address. ok is false for anything else, a
// malformed message or one without that option.
func ParseAdvert(m []byte) (target [16]byte, mac [6]byte, ok bool) {
	if len(m) < pkt.NDMinLen || m[0] != pkt.ICMPv6NeighborAdvert || m[1] != 0 {
		return target, mac, false
	}
	target = [16]byte(m[8:24])
	mac, found, valid := options(m[24:], 2)
	return target, mac, found && valid
}
