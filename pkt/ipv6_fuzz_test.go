package pkt

import (
	"encoding/binary"
	"testing"
)

// FuzzDecode6 feeds arbitrary bytes to Decode6 (after a 14-byte Ethernet
// header): it must not panic, and what it reports must lie inside the
// frame.
func FuzzDecode6(f *testing.F) {
	seed := func(next uint8, ext []byte, l4 []byte) []byte {
		b := make([]byte, 14+40+len(ext)+len(l4))
		binary.BigEndian.PutUint16(b[12:], EtherTypeIPv6)
		b[14] = 0x60
		binary.BigEndian.PutUint16(b[18:], uint16(len(ext)+len(l4)))
		b[20], b[21] = next, 64
		copy(b[54:], ext)
		copy(b[54+len(ext):], l4)
		return b
	}
	tcp := make([]byte, 20)
	tcp[12] = 5 << 4
	f.Add(seed(ProtoTCP, nil, tcp), false)
	f.Add(seed(ProtoUDP, nil, []byte{0, 1, 0, 2, 0, 8, 0, 0}), false)
	f.Add(seed(ProtoHopByHop, []byte{ProtoDstOpts, 0, 1, 4, 0, 0, 0, 0, ProtoUDP, 0, 1, 4, 0, 0, 0, 0}, []byte{0, 1, 0, 2, 0, 8, 0, 0}), false)
	f.Add(seed(ProtoFragment, []byte{ProtoUDP, 0, 0, 1, 0, 0, 0, 1}, []byte{1, 2, 3}), false)
	f.Add(seed(ProtoICMPv6, nil, make([]byte, 32)), false)
	f.Add(seed(ProtoRouting, []byte{ProtoTCP, 200}, tcp), true)
	f.Fuzz(func(t *testing.T, frame []byte, gso bool) {
		var p Parsed6
		r := p.Decode6(frame, EtherHeaderLen, gso)
		if r != DecodeOK {
			return
		}
		if p.IPLen < IPv6HeaderLen || EtherHeaderLen+p.IPLen > len(frame) {
			t.Fatalf("IPLen %d outside a %d-byte frame", p.IPLen, len(frame))
		}
		if p.L4Off != 0 && (p.L4Off < EtherHeaderLen+IPv6HeaderLen || p.L4Off+p.L4Len > EtherHeaderLen+p.IPLen) {
			t.Fatalf("L4 %d+%d outside the packet of %d", p.L4Off, p.L4Len, p.IPLen)
		}
		if p.L4Off != 0 {
			L4ChecksumValid6(frame, &p) // must not panic
		}
	})
}
