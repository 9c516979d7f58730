package forward

import (
	"errors"

	"github.com/ulvs/ulvs/pkt"
)

// Offload is what the engine knows of a frame's virtio_net_hdr
// (PACKET_VNET_HDR; include/uapi/linux/virtio_net.h): a pending checksum
// and GSO. Rewrites that move or change checksummed bytes keep it
// consistent with the frame. The zero value means "complete checksums, not
// a GSO frame". It is a plain value: copy it, don't share it between
// goroutines.
type Offload struct {
	// NeedsCsum is VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum field
	// holds the folded, non-complemented pseudo-header sum, to be
	// completed downstream (by the NIC, the kernel, or CompleteChecksum).
	NeedsCsum bool
	// CsumStart and CsumOffset locate the checksum: CsumStart from the
	// start of the Ethernet frame, CsumOffset from CsumStart.
	CsumStart  uint16
	CsumOffset uint16
	// GSOType is GSONone, GSOTCPv4, GSOUDP (UFO), GSOTCPv6 or GSOUDPL4,
	// possibly with GSOECN; GSOSize the segment payload size (the MSS for
	// TCP). HdrLen is the header length hint (Ethernet to L4 header end);
	// the kernel does not rely on it and neither does this package.
	GSOType uint8
	GSOSize uint16
	HdrLen  uint16
}

// virtio_net_hdr gso_type values (include/uapi/linux/virtio_net.h).
const (
	GSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	GSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4: TSO/GRO super-frame
	GSOUDP   = 3    // VIRTIO_NET_HDR_GSO_UDP: UFO, one datagram to IP-fragment
	GSOTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6: TSO over IPv6 (Segment6)
	GSOUDPL4 = 5    // VIRTIO_NET_HDR_GSO_UDP_L4: USO, one datagram per segment
	GSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: the sender set CWR (first segment only)
)

// IsGSO reports whether o describes a GSO super-frame.
func (o *Offload) IsGSO() bool { return o.GSOType&^GSOECN != GSONone }

// Errors of the segmentation, fragmentation and encapsulation functions.
// They are fixed values: returning one does not allocate. A frame that
// earns ErrMalformed or ErrDF is dropped (and, for ErrDF, answered with
// FragNeeded); ErrNoRoom and ErrTooMany are sizing errors of the caller.
var (
	ErrMalformed = errors.New("forward: frame does not fit its headers or offload description")
	ErrNotGSO    = errors.New("forward: frame is not a GSO frame of a supported type")
	ErrDF        = errors.New("forward: packet too big and DF set")
	ErrNoRoom    = errors.New("forward: output buffer too small")
	ErrTooMany   = errors.New("forward: more pieces than output buffers")
	ErrGSO       = errors.New("forward: GSO frame: segment it first")
	ErrMTU       = errors.New("forward: MTU below the IPv4 minimum of 68")
)

// CompleteChecksum finishes a pending (NeedsCsum) L4 checksum of frame in
// software, as the kernel's skb_checksum_help does, and clears
// o.NeedsCsum. frame and p are as Parsed.Decode left them; the sum runs
// from o.CsumStart to the end of the IP packet (Ethernet padding
// excluded). It reports false, changing nothing, when the checksum
// location lies outside the packet. With NeedsCsum unset it does nothing
// and reports true. It does not allocate.
func CompleteChecksum(frame []byte, p *pkt.Parsed, o *Offload) bool {
	if !o.NeedsCsum {
		return true
	}
	end := p.L3Off + p.IPLen
	if end > len(frame) || int(o.CsumStart) < p.L3Off {
		return false
	}
	if !pkt.CompletePartial(frame[:end], int(o.CsumStart), int(o.CsumOffset)) {
		return false
	}
	o.NeedsCsum = false
	return true
}
