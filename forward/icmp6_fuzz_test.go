package forward

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// FuzzICMPv6Error feeds arbitrary frames to ParseICMPv6Error; what it
// accepts, NATICMPv6 rewrites without a panic into a message whose
// checksum is right, and PacketTooBig6 and EchoReply6 take any decoded
// frame without a panic.
func FuzzICMPv6Error(f *testing.F) {
	quoted := pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::100"), Dst: netip.MustParseAddr("2001:db8::10"),
		Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 40000}.Build()
	body := make([]byte, 4+len(quoted)-14)
	binary.BigEndian.PutUint32(body, 1280)
	copy(body[4:], quoted[14:])
	f.Add(pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::100"),
		Proto: pkt.ProtoICMPv6, ICMPType: pkt.ICMPv6PacketTooBig, Payload: body}.Build())
	f.Add(pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::100"),
		Proto: pkt.ProtoICMPv6, ICMPType: pkt.ICMPv6EchoRequest, Payload: make([]byte, 12)}.Build())
	f.Add(ptbAbout(pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::100"), Dst: netip.MustParseAddr("2001:db8::10"),
		Proto: pkt.ProtoUDP, SrcPort: 80, DstPort: 40000,
		ExtHeaders: []uint8{pkt.ProtoHopByHop, pkt.ProtoDstOpts, pkt.ProtoRouting, pkt.ProtoFragment}}.Build()))
	rip := netip.MustParseAddr("2001:db8:1::5").As16()
	f.Fuzz(func(t *testing.T, frame []byte) {
		var p pkt.Parsed6
		if p.Decode6(frame, pkt.EtherHeaderLen, false) != pkt.DecodeOK {
			return
		}
		buf := make([]byte, 0, MaxICMPv6ErrorFrame)
		PacketTooBig6(buf, frame, &p, 1280, [6]byte{})
		g := append([]byte(nil), frame...)
		gp := p
		EchoReply6(g, &gp, [6]byte{})
		q, ok := ParseICMPv6Error(frame, &p)
		if !ok {
			return
		}
		o := append([]byte(nil), frame...)
		op := p
		NATICMPv6Out(o, &op, &q, rip, 80)
		NATICMPv6(frame, &p, &q, rip, 8080)
		for _, c := range []struct {
			f []byte
			p *pkt.Parsed6
		}{{frame, &p}, {o, &op}} {
			m := c.f[c.p.L4Off : c.p.L4Off+c.p.L4Len]
			if pkt.Fold(pkt.Sum(m, pkt.PseudoHeaderSum6(c.p.Src, c.p.Dst, pkt.ProtoICMPv6, uint32(len(m))))) != 0xffff {
				t.Fatal("checksum wrong after the translation")
			}
		}
	})
}
