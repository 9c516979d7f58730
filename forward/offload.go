package forward

// Offload is what the engine knows of a frame's virtio_net_hdr: a pending
// checksum and GSO. Rewrites that move or change checksummed bytes keep it
// consistent with the frame.
type Offload struct {
	// NeedsCsum is VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum field
	// holds the folded, non-complemented pseudo-header sum, to be
	// completed downstream.
	NeedsCsum bool
	// CsumStart and CsumOffset locate the checksum: CsumStart from the
	// start of the Ethernet frame, CsumOffset from CsumStart.
	CsumStart  uint16
	CsumOffset uint16
	// GSOType is 0 (none), 1 (TCPv4), 3 (UDP), 4 (TCPv6) or 5 (UDP_L4),
	// possibly with 0x80 (ECN); GSOSize the segment payload size.
	GSOType uint8
	GSOSize uint16
	HdrLen  uint16
}
