package engine

// packet is one frame in a worker's batch. buf aliases the link's memory
// (a ring slot for AF_PACKET) and is valid until the link's release call
// for the batch it came in. The virtio_net_hdr sits at buf[off-vnetHdrLen:off],
// the Ethernet frame at buf[off:off+n]; the bytes before the header are
// headroom the forwarder may grow into (VLAN re-insertion, later IPIP).
type packet struct {
	buf     []byte
	off     int
	n       int
	status  uint32 // TP_STATUS_* bits from the ring
	vlanTCI uint16 // valid when status has tpStatusVLANValid
	vlanTP  uint16
	in      uint8 // index of the link the frame came from
	out     uint8 // index of the link to transmit it on
}

// frame returns the Ethernet frame of p.
func (p *packet) frame() []byte { return p.buf[p.off : p.off+p.n] }

// vnet returns the virtio_net_hdr of p.
func (p *packet) vnet() vnetHdr { return vnetHdr(p.buf[p.off-vnetHdrLen : p.off]) }

// wire returns the bytes to transmit: header and frame.
func (p *packet) wire() []byte { return p.buf[p.off-vnetHdrLen : p.off+p.n] }

// TP_STATUS bits the engine reads (include/uapi/linux/if_packet.h).
const (
	tpStatusCsumNotReady  = 0x8
	tpStatusVLANValid     = 0x10
	tpStatusVLANTPIDValid = 0x40
	tpStatusCsumValid     = 0x80
)

// link is a batch-shaped packet interface: an AF_PACKET ring in production,
// an in-memory channel in tests.
type link interface {
	// collect fills batch with frames ready now, without waiting, and
	// returns how many it filled.
	collect(batch []packet) int
	// fd is the descriptor to poll for readiness; -1 for a link that
	// never blocks (tests).
	fd() int
	// send transmits the frames; it returns how many the kernel took.
	send(batch []*packet) (int, error)
	// release hands the frames of the last recv back to the link.
	release()
	// sendRaw transmits one frame built outside the data path (gratuitous
	// ARP); frame excludes the virtio header. Safe for concurrent use.
	sendRaw(frame []byte) error
	close() error
}
