package pkttest

import (
	"encoding/binary"

	"github.com/ulvs/ulvs/pkt"
)

// Fragment6 returns the fragment of the IPv6 packet in frame (Ethernet,
// IPv6 header without extension headers, payload) that carries
// payload[off:end], with a fragment header after the IPv6 header:
// identification id, the M flag more.
func Fragment6(frame []byte, id uint32, off, end int, more bool) []byte {
	const l3 = pkt.EtherHeaderLen
	payload := frame[l3+pkt.IPv6HeaderLen:]
	data := payload[off:end]
	b := make([]byte, l3+pkt.IPv6HeaderLen+pkt.Frag6HeaderLen+len(data))
	copy(b, frame[:l3+pkt.IPv6HeaderLen])
	ip := b[l3:]
	pkt.PutFrag6(ip[pkt.IPv6HeaderLen:], ip[6], off, more, id)
	ip[6] = pkt.ProtoFragment
	binary.BigEndian.PutUint16(ip[4:], uint16(pkt.Frag6HeaderLen+len(data)))
	copy(ip[pkt.IPv6HeaderLen+pkt.Frag6HeaderLen:], data)
	return b
}

// Fragments6 splits the IPv6 packet in frame (no extension headers) at
// the payload offsets cuts (increasing multiples of 8) into fragments
// with identification id, in order.
func Fragments6(frame []byte, id uint32, cuts ...int) [][]byte {
	n := len(frame) - pkt.EtherHeaderLen - pkt.IPv6HeaderLen
	var out [][]byte
	off := 0
	for _, c := range append(cuts, n) {
		out = append(out, Fragment6(frame, id, off, c, c < n))
		off = c
	}
	return out
}
