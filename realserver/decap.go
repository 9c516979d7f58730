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
	// DropLinkHeader: shorter than the link header, or not IPv4.
	DropLinkHeader
	// DropOuterHeader: outer IPv4 header malformed (version, IHL, total
	// length, room for an inner header).
	DropOuterHeader
	// DropOuterChecksum: outer header checksum wrong.
	DropOuterChecksum
	// DropOuterFragment: the outer packet is a fragment (the director
	// sends IPIP unfragmented, with fragmentation-needed for big packets).
	DropOuterFragment
	// DropNotIPIP: outer protocol is not 4.
	DropNotIPIP
	// DropNotLocal: outer destination is not an address of this host.
	DropNotLocal
	// DropInnerHeader: inner IPv4 header malformed.
	DropInnerHeader
	// DropInnerChecksum: inner header checksum wrong.
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
	packetHost     = 0 // PACKET_HOST in sockaddr_ll.sll_pkttype
)

// filter holds what decap checks addresses against. It belongs to the
// decapsulator goroutine.
type filter struct {
	vips  [][4]byte
	local [][4]byte // IPv4 addresses of this host, refreshed periodically
}

func contains(set [][4]byte, a [4]byte) bool {
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
// outer IPv4 packet and possibly link padding. pktType is sll_pkttype.
//
// On Decapsulated, out is a sub-slice of frame holding the virtio_net_hdr,
// adjusted for the stripped headers, followed by the inner IPv4 packet:
// ready for one write to an IFF_VNET_HDR TUN device. It aliases frame and
// is valid as long as frame is. Any other verdict leaves out nil and frame
// unchanged. decap never panics on frame contents and does not allocate.
func (f *filter) decap(frame []byte, linkLen int, pktType uint8) (out []byte, v Verdict) {
	if pktType != packetHost {
		return nil, DropNotForHost
	}
	if linkLen < 0 || len(frame) < vnetHdrLen+linkLen {
		return nil, DropLinkHeader
	}
	if linkLen == etherHeaderLen && binary.BigEndian.Uint16(frame[vnetHdrLen+12:]) != etherTypeIPv4 {
		return nil, DropLinkHeader
	}

	// Outer header (RFC 2003 section 3.1).
	outer := pkt.IPv4(frame[vnetHdrLen+linkLen:])
	if len(outer) < pkt.IPv4MinHeaderLen || outer.Version() != pkt.IPv4Version {
		return nil, DropOuterHeader
	}
	ohl, otl := outer.HeaderLen(), int(outer.TotalLen())
	if ohl < pkt.IPv4MinHeaderLen || otl < ohl+pkt.IPv4MinHeaderLen || otl > len(outer) {
		return nil, DropOuterHeader
	}
	outer = outer[:otl] // drop link padding
	if !outer.ChecksumValid() {
		return nil, DropOuterChecksum
	}
	if outer.IsFragment() {
		return nil, DropOuterFragment
	}
	if outer.Protocol() != pkt.ProtoIPIP {
		return nil, DropNotIPIP
	}
	if !contains(f.local, outer.Dst()) {
		return nil, DropNotLocal
	}

	// Inner header.
	inner := pkt.IPv4(outer[ohl:])
	if inner.Version() != pkt.IPv4Version {
		return nil, DropInnerHeader
	}
	ihl, itl := inner.HeaderLen(), int(inner.TotalLen())
	if ihl < pkt.IPv4MinHeaderLen || ihl > len(inner) || itl < ihl || itl > len(inner) {
		return nil, DropInnerHeader
	}
	inner = inner[:itl]
	if !inner.ChecksumValid() {
		return nil, DropInnerChecksum
	}
	if !contains(f.vips, inner.Dst()) {
		return nil, DropNotVIP
	}

	// The virtio_net_hdr: offsets count from the start of the frame (the
	// link header); after the strip they count from the inner header.
	vh := frame[:vnetHdrLen]
	strip := linkLen + ohl
	switch gso := vh[vnetOffGSOType] &^ vnetGSOECN; gso {
	case vnetGSONone:
	case vnetGSOTCPv4, vnetGSOUDP, vnetGSOUDPL4:
		if vh[vnetOffFlags]&vnetFlagNeedsCsum == 0 {
			return nil, DropVnetHeader
		}
	default: // TCPv6 or unknown: not what an IPv4 inner packet can be
		return nil, DropVnetHeader
	}
	if vh[vnetOffFlags]&vnetFlagNeedsCsum != 0 {
		start := int(binary.NativeEndian.Uint16(vh[vnetOffCsumStart:]))
		off := int(binary.NativeEndian.Uint16(vh[vnetOffCsumOffset:]))
		start -= strip
		if start < ihl || start+off+2 > itl {
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
