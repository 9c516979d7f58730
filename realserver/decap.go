package realserver

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/ulvs/ulvs/pkt"
)

// Verdict is what the userspace decapsulator did with one captured frame.
// The zero value is invalid.
type Verdict uint8

const (
	verdictInvalid Verdict = iota
	// Decapsulated: the inner packet went to the TUN device.
	Decapsulated
	// DropTruncated: the frame did not fit the receive buffer.
	DropTruncated
	// DropNotForHost: not addressed to this host's link address (a
	// promiscuous capture).
	DropNotForHost
	// DropLinkHeader: shorter than the link header, or neither IPv4 nor
	// IPv6.
	DropLinkHeader
	// DropOuterHeader: outer header malformed (IPv4: version, IHL, total
	// length, room for an inner header; IPv6: version, payload length),
	// or of the other family than the link header says.
	DropOuterHeader
	// DropOuterChecksum: outer header checksum wrong.
	DropOuterChecksum
	// DropOuterFragment: the outer packet is a fragment (the director
	// sends IPIP unfragmented, with fragmentation-needed for big packets).
	DropOuterFragment
	// DropNotIPIP: the outer protocol (IPv6: the next header right after
	// the fixed header) is neither 4 (an IPv4 packet inside) nor 41 (an
	// IPv6 packet inside).
	DropNotIPIP
	// DropNotLocal: outer destination is not an address of this host.
	DropNotLocal
	// DropInnerHeader: inner header malformed, or not of the family the
	// outer protocol names.
	DropInnerHeader
	// DropInnerChecksum: inner IPv4 header checksum wrong.
	DropInnerChecksum
	// DropNotVIP: inner destination is not a configured VIP.
	DropNotVIP
	// DropVnetHeader: the virtio_net_hdr describes something the inner
	// packet cannot carry (a checksum start inside the stripped headers, an
	// IPv6 or unknown GSO type).
	DropVnetHeader
	// DropWrite: the TUN device refused the packet.
	DropWrite
	// NumVerdicts is the number of verdicts, for arrays indexed by Verdict.
	NumVerdicts
)

var verdictNames = [NumVerdicts]string{
	verdictInvalid:    "invalid",
	Decapsulated:      "decapsulated",
	DropTruncated:     "truncated",
	DropNotForHost:    "not-for-host",
	DropLinkHeader:    "link-header",
	DropOuterHeader:   "outer-header",
	DropOuterChecksum: "outer-checksum",
	DropOuterFragment: "outer-fragment",
	DropNotIPIP:       "not-ipip",
	DropNotLocal:      "outer-dst-not-local",
	DropInnerHeader:   "inner-header",
	DropInnerChecksum: "inner-checksum",
	DropNotVIP:        "inner-dst-not-vip",
	DropVnetHeader:    "vnet-header",
	DropWrite:         "tun-write",
}

// String returns the verdict's counter name.
func (v Verdict) String() string {
	if v < NumVerdicts {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", v)
}

// Stats counts the decapsulator's verdicts. The zero value is ready; it is
// safe for concurrent use.
type Stats struct {
	counts [NumVerdicts]atomic.Uint64
}

func (s *Stats) add(v Verdict) { s.counts[v].Add(1) }

// Snapshot returns the counters, indexed by Verdict.
func (s *Stats) Snapshot() [NumVerdicts]uint64 {
	var out [NumVerdicts]uint64
	for i := range out {
		out[i] = s.counts[i].Load()
	}
	return out
}

// virtio_net_hdr (include/uapi/linux/virtio_net.h) as PACKET_VNET_HDR puts
// it in front of every captured frame and IFF_VNET_HDR expects it in front
// of every packet written to a TUN device. Both use the legacy layout in
// the host's byte order.
//
//	0      1          2        4         6           8            10
//	+------+----------+--------+---------+-----------+------------+
//	|flags | gso_type | hdr_len| gso_size| csum_start| csum_offset|
//	+------+----------+--------+---------+-----------+------------+
const (
	vnetHdrLen = 10

	vnetFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start/offset valid

	vnetGSONone  = 0
	vnetGSOTCPv4 = 1
	vnetGSOUDP   = 3 // UFO
	vnetGSOTCPv6 = 4
	vnetGSOUDPL4 = 5
	vnetGSOECN   = 0x80

	vnetOffFlags      = 0
	vnetOffGSOType    = 1
	vnetOffHdrLen     = 2
	vnetOffCsumStart  = 6
	vnetOffCsumOffset = 8
)

// Link header lengths the capture sees in front of the network header.
const (
	etherHeaderLen = 14
	etherTypeIPv4  = 0x0800
	etherTypeIPv6  = 0x86dd
	protoIPv6      = 41 // an IPv6 packet inside (ip6ip6, 6in4)
	packetHost     = 0  // PACKET_HOST in sockaddr_ll.sll_pkttype
)

// filter holds what decap checks addresses against. It belongs to the
// decapsulator goroutine.
type filter struct {
	vips   [][4]byte
	vips6  [][16]byte
	local  [][4]byte  // IPv4 addresses of this host, refreshed periodically
	local6 [][16]byte // and its IPv6 addresses
}

func contains[A [4]byte | [16]byte](set []A, a A) bool {
	for _, x := range set {
		if x == a {
			return true
		}
	}
	return false
}

// decap checks one captured frame and rewrites it in place for the TUN
// device. frame is what a PACKET_VNET_HDR socket delivers: a
// virtio_net_hdr, linkLen bytes of link header (0 or etherHeaderLen), the
// outer packet and possibly link padding. The outer packet is IPv4 (IPIP,
// RFC 2003, or an IPv6 packet inside: protocol 41, RFC 4213) or IPv6 (an
// IPv6 or IPv4 packet inside: next header 41 or 4 right after the fixed
// header, RFC 2473), as the kernel's ip_vs_tunnel_xmit(_v6) sends them.
// pktType is sll_pkttype.
//
// On Decapsulated, out is a sub-slice of frame holding the virtio_net_hdr,
// adjusted for the stripped headers, followed by the inner packet: ready
// for one write to an IFF_VNET_HDR TUN device (which tells the families
// apart by the version nibble). It aliases frame and is valid as long as
// frame is. Any other verdict leaves out nil and frame unchanged. decap
// never panics on frame contents and does not allocate.
func (f *filter) decap(frame []byte, linkLen int, pktType uint8) (out []byte, v Verdict) {
	if pktType != packetHost {
		return nil, DropNotForHost
	}
	if linkLen < 0 || len(frame) < vnetHdrLen+linkLen {
		return nil, DropLinkHeader
	}
	ip := frame[vnetHdrLen+linkLen:]
	if linkLen == etherHeaderLen {
		switch binary.BigEndian.Uint16(frame[vnetHdrLen+12:]) {
		case etherTypeIPv4:
			if len(ip) > 0 && ip[0]>>4 != pkt.IPv4Version {
				return nil, DropOuterHeader
			}
		case etherTypeIPv6:
			if len(ip) > 0 && ip[0]>>4 != pkt.IPv6Version {
				return nil, DropOuterHeader
			}
		default:
			return nil, DropLinkHeader
		}
	}
	var ohl int      // outer header length
	var inner []byte // the inner packet and what follows it in the outer one
	var next uint8
	if len(ip) > 0 && ip[0]>>4 == pkt.IPv6Version {
		// Outer IPv6 header (RFC 2473 section 3): no extension headers
		// from the director.
		if len(ip) < pkt.IPv6HeaderLen {
			return nil, DropOuterHeader
		}
		h := pkt.IPv6(ip)
		pl := int(h.PayloadLen())
		if pl == 0 || pkt.IPv6HeaderLen+pl > len(ip) {
			return nil, DropOuterHeader // 0: a jumbogram or a super-frame, neither sent
		}
		switch h.NextHeader() {
		case pkt.ProtoIPIP, protoIPv6:
		case pkt.ProtoFragment:
			return nil, DropOuterFragment
		default:
			return nil, DropNotIPIP
		}
		if !contains(f.local6, h.Dst()) {
			return nil, DropNotLocal
		}
		ohl, next, inner = pkt.IPv6HeaderLen, h.NextHeader(), ip[pkt.IPv6HeaderLen:pkt.IPv6HeaderLen+pl]
	} else {
		// Outer IPv4 header (RFC 2003 section 3.1).
		outer := pkt.IPv4(ip)
		if len(outer) < pkt.IPv4MinHeaderLen || outer.Version() != pkt.IPv4Version {
			return nil, DropOuterHeader
		}
		hl, otl := outer.HeaderLen(), int(outer.TotalLen())
		if hl < pkt.IPv4MinHeaderLen || otl < hl+pkt.IPv4MinHeaderLen || otl > len(outer) {
			return nil, DropOuterHeader
		}
		outer = outer[:otl] // drop link padding
		if !outer.ChecksumValid() {
			return nil, DropOuterChecksum
		}
		if outer.IsFragment() {
			return nil, DropOuterFragment
		}
		if p := outer.Protocol(); p != pkt.ProtoIPIP && p != protoIPv6 {
			return nil, DropNotIPIP
		}
		if !contains(f.local, outer.Dst()) {
			return nil, DropNotLocal
		}
		ohl, next, inner = hl, outer.Protocol(), outer[hl:]
	}

	// Inner header: of the family the outer protocol names.
	var itl int
	var ok bool
	if next == pkt.ProtoIPIP {
		itl, v = f.innerIPv4(inner)
	} else {
		itl, v = f.innerIPv6(inner)
	}
	if v != Decapsulated {
		return nil, v
	}

	// The virtio_net_hdr: offsets count from the start of the frame (the
	// link header); after the strip they count from the inner header.
	vh := frame[:vnetHdrLen]
	strip := linkLen + ohl
	switch gso := vh[vnetOffGSOType] &^ vnetGSOECN; {
	case gso == vnetGSONone:
		ok = true
	case gso == vnetGSOTCPv4 || gso == vnetGSOUDP:
		ok = next == pkt.ProtoIPIP
	case gso == vnetGSOTCPv6:
		ok = next == protoIPv6
	case gso == vnetGSOUDPL4:
		ok = true
	}
	if !ok || vh[vnetOffGSOType]&^vnetGSOECN != vnetGSONone && vh[vnetOffFlags]&vnetFlagNeedsCsum == 0 {
		return nil, DropVnetHeader
	}
	if vh[vnetOffFlags]&vnetFlagNeedsCsum != 0 {
		start := int(binary.NativeEndian.Uint16(vh[vnetOffCsumStart:]))
		off := int(binary.NativeEndian.Uint16(vh[vnetOffCsumOffset:]))
		start -= strip
		if start < minInnerHeader(next) || start+off+2 > itl {
			return nil, DropVnetHeader
		}
		binary.NativeEndian.PutUint16(vh[vnetOffCsumStart:], uint16(start))
	}
	// hdr_len is a hint (the length of the headers); keep it consistent.
	if hl := int(binary.NativeEndian.Uint16(vh[vnetOffHdrLen:])); hl > strip {
		binary.NativeEndian.PutUint16(vh[vnetOffHdrLen:], uint16(hl-strip))
	} else {
		binary.NativeEndian.PutUint16(vh[vnetOffHdrLen:], 0)
	}

	// Move the header to just in front of the inner packet. strip >= 20,
	// so the two 10-byte ranges never overlap.
	at := vnetHdrLen + strip - vnetHdrLen
	copy(frame[at:at+vnetHdrLen], vh)
	return frame[at : vnetHdrLen+strip+itl], Decapsulated
}

// minInnerHeader is the shortest inner header of the family next names: a
// pending checksum cannot start before its end.
func minInnerHeader(next uint8) int {
	if next == pkt.ProtoIPIP {
		return pkt.IPv4MinHeaderLen
	}
	return pkt.IPv6HeaderLen
}

// innerIPv4 checks the inner IPv4 packet at the start of b and returns
// its total length.
func (f *filter) innerIPv4(b []byte) (int, Verdict) {
	inner := pkt.IPv4(b)
	if len(inner) < pkt.IPv4MinHeaderLen || inner.Version() != pkt.IPv4Version {
		return 0, DropInnerHeader
	}
	ihl, itl := inner.HeaderLen(), int(inner.TotalLen())
	if ihl < pkt.IPv4MinHeaderLen || ihl > len(inner) || itl < ihl || itl > len(inner) {
		return 0, DropInnerHeader
	}
	inner = inner[:itl]
	if !inner.ChecksumValid() {
		return 0, DropInnerChecksum
	}
	if !contains(f.vips, inner.Dst()) {
		return 0, DropNotVIP
	}
	return itl, Decapsulated
}

// innerIPv6 checks the inner IPv6 packet at the start of b and returns
// its length.
func (f *filter) innerIPv6(b []byte) (int, Verdict) {
	if len(b) < pkt.IPv6HeaderLen || b[0]>>4 != pkt.IPv6Version {
		return 0, DropInnerHeader
	}
	h := pkt.IPv6(b)
	itl := pkt.IPv6HeaderLen + int(h.PayloadLen())
	if h.PayloadLen() == 0 || itl > len(b) {
		return 0, DropInnerHeader
	}
	if !contains(f.vips6, h.Dst()) {
		return 0, DropNotVIP
	}
	return itl, Decapsulated
}
