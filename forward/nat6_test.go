package forward

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

// frame6 builds an Ethernet/IPv6 frame carrying a TCP or UDP segment with
// a complete checksum, or with the pseudo-header sum only when partial.
func frame6(t testing.TB, proto uint8, src, dst string, sport, dport uint16, payload []byte, partial bool) []byte {
	t.Helper()
	l4len := 20
	if proto == pkt.ProtoUDP {
		l4len = 8
	}
	f := make([]byte, 14+40+l4len+len(payload))
	binary.BigEndian.PutUint16(f[12:], pkt.EtherTypeIPv6)
	ip := f[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(l4len+len(payload)))
	ip[6], ip[7] = proto, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	l4 := ip[40:]
	binary.BigEndian.PutUint16(l4[0:], sport)
	binary.BigEndian.PutUint16(l4[2:], dport)
	off := 16
	if proto == pkt.ProtoTCP {
		l4[12] = 5 << 4
		l4[13] = pkt.TCPSyn
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
		off = 6
	}
	copy(l4[l4len:], payload)
	ps := pkt.PseudoHeaderSum6(s, d, proto, uint32(len(l4)))
	if partial {
		binary.BigEndian.PutUint16(l4[off:], pkt.Fold(ps))
	} else {
		c := pkt.Checksum(l4, ps)
		if c == 0 && proto == pkt.ProtoUDP {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[off:], c)
	}
	return f
}

func decode6(t testing.TB, f []byte) *pkt.Parsed6 {
	t.Helper()
	var p pkt.Parsed6
	if r := p.Decode6(f, 14, false); r != pkt.DecodeOK {
		t.Fatalf("Decode6: %v", r)
	}
	return &p
}

// TestNAT66Checksums rewrites both directions of TCP and UDP packets and
// checks the checksum against a full recomputation, for complete and
// CHECKSUM_PARTIAL fields, over payloads of several lengths (odd ones
// too).
func TestNAT66Checksums(t *testing.T) {
	vip := netip.MustParseAddr("2001:db8::100").As16()
	rip := netip.MustParseAddr("2001:db8:1::ffff:22").As16()
	for _, proto := range []uint8{pkt.ProtoTCP, pkt.ProtoUDP} {
		for _, n := range []int{0, 1, 7, 100, 1001} {
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = byte(i*7 + n)
			}
			for _, partial := range []bool{false, true} {
				f := frame6(t, proto, "2001:db8:ffff::10", "2001:db8::100", 40000, 80, payload, partial)
				p := decode6(t, f)
				o := Offload{NeedsCsum: partial, CsumStart: uint16(p.L4Off), CsumOffset: 16}
				if proto == pkt.ProtoUDP {
					o.CsumOffset = 6
				}
				DNAT6(f, p, &o, rip, 8080)
				check := func(what string) {
					t.Helper()
					g := append([]byte(nil), f...)
					if partial && !pkt.CompletePartial(g[:14+p.IPLen], int(o.CsumStart), int(o.CsumOffset)) {
						t.Fatalf("%s: CompletePartial failed", what)
					}
					q := decode6(t, g)
					if !pkt.L4ChecksumValid6(g, q) {
						t.Errorf("proto %d len %d partial %v: %s: checksum wrong", proto, n, partial, what)
					}
				}
				check("DNAT6")
				if p.Dst != rip || p.DstPort != 8080 || decode6(t, f).Dst != rip {
					t.Errorf("DNAT6 did not rewrite the destination")
				}
				// The reply, from the real server, back to the VIP.
				r := frame6(t, proto, "2001:db8:1::ffff:22", "2001:db8:ffff::10", 8080, 40000, payload, partial)
				f = r
				p = decode6(t, f)
				SNAT6(f, p, &o, vip, 80)
				check("SNAT6")
			}
		}
	}
}

func TestNAT66NoAllocs(t *testing.T) {
	f := frame6(t, pkt.ProtoTCP, "2001:db8:ffff::10", "2001:db8::100", 40000, 80, nil, false)
	p := decode6(t, f)
	var o Offload
	a := netip.MustParseAddr("2001:db8::1").As16()
	b := netip.MustParseAddr("2001:db8::2").As16()
	allocs := testing.AllocsPerRun(100, func() {
		DNAT6(f, p, &o, a, 81)
		DNAT6(f, p, &o, b, 80)
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}
