package engine

import "encoding/binary"

// virtio_net_hdr (include/uapi/linux/virtio_net.h), as PACKET_VNET_HDR
// prepends it to every frame on RX and expects it on TX. Fields are in the
// host's byte order (little endian on the machines ulvs targets).
//
//	0      1          2        4         6           8            10
//	+------+----------+--------+---------+-----------+------------+
//	|flags | gso_type | hdr_len| gso_size| csum_start| csum_offset|
//	+------+----------+--------+---------+-----------+------------+
const (
	vnetHdrLen = 10

	vnetFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	vnetFlagDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID

	vnetGSONone  = 0
	vnetGSOTCPv4 = 1
	vnetGSOUDP   = 3
	vnetGSOTCPv6 = 4
	vnetGSOUDPL4 = 5
	vnetGSOECN   = 0x80

	vnetOffFlags      = 0
	vnetOffGSOType    = 1
	vnetOffHdrLen     = 2
	vnetOffGSOSize    = 4
	vnetOffCsumStart  = 6
	vnetOffCsumOffset = 8
)

// vnetHdr is a view of a virtio_net_hdr.
type vnetHdr []byte

func (h vnetHdr) flags() uint8          { return h[vnetOffFlags] }
func (h vnetHdr) gsoType() uint8        { return h[vnetOffGSOType] }
func (h vnetHdr) csumStart() uint16     { return binary.LittleEndian.Uint16(h[vnetOffCsumStart:]) }
func (h vnetHdr) csumOffset() uint16    { return binary.LittleEndian.Uint16(h[vnetOffCsumOffset:]) }
func (h vnetHdr) setCsumStart(v uint16) { binary.LittleEndian.PutUint16(h[vnetOffCsumStart:], v) }
func (h vnetHdr) setHdrLen(v uint16)    { binary.LittleEndian.PutUint16(h[vnetOffHdrLen:], v) }
func (h vnetHdr) hdrLen() uint16        { return binary.LittleEndian.Uint16(h[vnetOffHdrLen:]) }

// clear makes h describe a plain frame: no pending checksum, no GSO.
func (h vnetHdr) clear() { clear(h[:vnetHdrLen]) }

// forTX drops the RX-only DATA_VALID flag; the rest (pending checksum, GSO)
// travels on with the frame.
func (h vnetHdr) forTX() { h[vnetOffFlags] &^= vnetFlagDataValid }

func (h vnetHdr) gsoSize() uint16 { return binary.LittleEndian.Uint16(h[vnetOffGSOSize:]) }

func (h vnetHdr) setCsumOffset(v uint16) {
	binary.LittleEndian.PutUint16(h[vnetOffCsumOffset:], v)
}

func (h vnetHdr) setGSO(typ uint8, size uint16) {
	h[vnetOffGSOType] = typ
	binary.LittleEndian.PutUint16(h[vnetOffGSOSize:], size)
}
