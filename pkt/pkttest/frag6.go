package pkttest

import (
	"encoding/binary"

	"github.com/ulvs/ulvs/pkt"
)

// unfragmentable returns the length of the IPv6 header and the
// hop-by-hop and routing headers after it in ip (the part every fragment
// repeats), and the offset of the next-header byte that names what
// follows them.
func unfragmentable(ip []byte) (n, nh int) {
	n, nh = pkt.IPv6HeaderLen, 6
	for ip[nh] == pkt.ProtoHopByHop || ip[nh] == pkt.ProtoRouting {
		nh = n
		n += (int(ip[n+1]) + 1) * 8
	}
	return n, nh
}

// Fragment6 returns the fragment of the IPv6 packet in frame (Ethernet,
// IPv6 header, payload) that carries bytes [off,end) of its fragmentable
// part, with a fragment header after the unfragmentable part (the IPv6
// header and any hop-by-hop and routing headers that follow it):
// identification id, the M flag more.
func Fragment6(frame []byte, id uint32, off, end int, more bool) []byte {
	const l3 = pkt.EtherHeaderLen
	unfrag, nh := unfragmentable(frame[l3:])
	data := frame[l3+unfrag:][off:end]
	b := make([]byte, l3+unfrag+pkt.Frag6HeaderLen+len(data))
	copy(b, frame[:l3+unfrag])
	ip := b[l3:]
	pkt.PutFrag6(ip[unfrag:], ip[nh], off, more, id)
	ip[nh] = pkt.ProtoFragment
	binary.BigEndian.PutUint16(ip[4:], uint16(unfrag-pkt.IPv6HeaderLen+pkt.Frag6HeaderLen+len(data)))
	copy(ip[unfrag+pkt.Frag6HeaderLen:], data)
	return b
}

// Fragments6 splits the IPv6 packet in frame at the offsets cuts
// (increasing multiples of 8) of its fragmentable part into fragments
// with identification id, in order.
func Fragments6(frame []byte, id uint32, cuts ...int) [][]byte {
	unfrag, _ := unfragmentable(frame[pkt.EtherHeaderLen:])
	n := len(frame) - pkt.EtherHeaderLen - unfrag
	var out [][]byte
	off := 0
	for _, c := range append(cuts, n) {
		out = append(out, Fragment6(frame, id, off, c, c < n))
		off = c
	}
	return out
}
