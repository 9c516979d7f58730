package forward

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

var (
	tunSrc6 = netip.MustParseAddr("2001:db8::2").As16()
	tunDst6 = netip.MustParseAddr("2001:db8::11").As16()
)

func tunFrame6(n int) []byte {
	return pkttest.Frame6{Src: netip.MustParseAddr("2001:db8:ffff::10"), Dst: netip.MustParseAddr("2001:db8::100"),
		Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPAck, HopLimit: 9, Payload: make([]byte, n)}.Build()
}

func TestEncapIn6(t *testing.T) {
	in := tunFrame6(10)
	in[14], in[15] = 0x6b, 0x90|in[15]&0x0f // traffic class 0xb9
	buf := make([]byte, 64+len(in)+4)
	copy(buf[64:], in)
	copy(buf[64+len(in):], "pad!") // Ethernet padding stays outside
	o := Offload{NeedsCsum: true, CsumStart: 54, CsumOffset: 16}
	off := EncapIn6(buf, 64, len(in)+4, 14, len(in)-14, &o, tunSrc6, tunDst6)
	if off != 64-IP6TunnelOverhead {
		t.Fatalf("new offset %d", off)
	}
	f := buf[off : 64+len(in)]
	if binary.BigEndian.Uint16(f[12:]) != pkt.EtherTypeIPv6 || !bytes.Equal(f[:12], in[:12]) {
		t.Errorf("link header %x", f[:14])
	}
	h := pkt.IPv6(f[14:])
	if binary.BigEndian.Uint32(h) != 6<<28|0xb9<<20 || int(h.PayloadLen()) != len(in)-14 || h.NextHeader() != ProtoIPv6 ||
		h.HopLimit() != 9 || h.Src() != tunSrc6 || h.Dst() != tunDst6 {
		t.Errorf("outer header %x", f[14:54])
	}
	if !bytes.Equal(f[54:], in[14:]) {
		t.Error("inner packet changed")
	}
	if o.CsumStart != 54+40 {
		t.Errorf("csum start %d", o.CsumStart)
	}
	// Refused: GSO, short headroom, a length that is not the header's.
	for name, fn := range map[string]func() int{
		"gso": func() int {
			g := Offload{GSOType: GSOTCPv6, GSOSize: 1000}
			return EncapIn6(buf, 64, len(in), 14, len(in)-14, &g, tunSrc6, tunDst6)
		},
		"headroom": func() int {
			return EncapIn6(buf[20:], 44-20+20-20, len(in), 14, len(in)-14, &Offload{}, tunSrc6, tunDst6)
		},
		"length": func() int {
			return EncapIn6(buf, 64, len(in), 14, len(in)-15, &Offload{}, tunSrc6, tunDst6)
		},
		"6in4 of IPv4": func() int {
			v4 := pkttest.Frame{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: pkt.ProtoUDP}.Build()
			b := make([]byte, 64+len(v4))
			copy(b[64:], v4)
			return Encap6In4(b, 64, len(v4), 14, len(v4)-14, &Offload{}, [4]byte{1}, [4]byte{2}, 1)
		},
	} {
		if got := fn(); got != -1 {
			t.Errorf("%s: offset %d, want -1", name, got)
		}
	}
}

func TestEncap6In4(t *testing.T) {
	in := tunFrame6(10)
	in[14], in[15] = 0x60|0x2e>>4, 0xe0|in[15]&0x0f
	buf := make([]byte, 64+len(in))
	copy(buf[64:], in)
	o := Offload{}
	off := Encap6In4(buf, 64, len(in), 14, len(in)-14, &o, [4]byte{10, 77, 0, 2}, [4]byte{10, 77, 0, 11}, 7)
	if off != 64-IPIPOverhead {
		t.Fatalf("new offset %d", off)
	}
	f := buf[off:]
	pkttest.CheckIPv4(t, f, pkttest.SrcIP(netip.MustParseAddr("10.77.0.2")), pkttest.DstIP(netip.MustParseAddr("10.77.0.11")),
		pkttest.Proto(ProtoIPv6), pkttest.TOS(0x2e), pkttest.DF(false), pkttest.TTL(9), pkttest.IPID(7), pkttest.IPLen(len(in)-14+20), pkttest.ValidChecksums())
	if !bytes.Equal(f[34:], in[14:]) {
		t.Error("inner packet changed")
	}
}

// FuzzParseTunnelTooBig feeds arbitrary frames to ParseTunnelTooBig6 and
// ParseTunnelTooBig4: no panic, and what they accept carries the quoted
// outer addresses.
func FuzzParseTunnelTooBig(f *testing.F) {
	quoted := make([]byte, 48)
	binary.BigEndian.PutUint32(quoted, 6<<28)
	quoted[6] = ProtoIPv6
	copy(quoted[8:], tunSrc6[:])
	copy(quoted[24:], tunDst6[:])
	f.Add(pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::fe"), Dst: netip.AddrFrom16(tunSrc6), Proto: pkt.ProtoICMPv6,
		ICMPType: pkt.ICMPv6PacketTooBig, Payload: append([]byte{0, 0, 5, 0}, quoted...)}.Build())
	q4 := pkttest.Frame{Src: netip.MustParseAddr("10.77.0.2"), Dst: netip.MustParseAddr("10.77.0.11"), Proto: ProtoIPv6, Payload: make([]byte, 8)}.Build()
	f.Add(pkttest.Frame{Src: netip.MustParseAddr("10.0.0.254"), Dst: netip.MustParseAddr("10.77.0.2"), Proto: pkt.ProtoICMP,
		ICMPType: pkt.ICMPDestUnreachable, ICMPCode: pkt.ICMPFragNeeded, ICMPSeq: 1400, Payload: q4[14:]}.Build())
	f.Fuzz(func(t *testing.T, frame []byte) {
		var p pkt.Parsed
		switch p.Decode(frame) {
		case pkt.DecodeOK:
			if tt, ok := ParseTunnelTooBig4(frame, &p); ok {
				if !tt.V4 || p.L4Off+8+20 > len(frame) || !bytes.Equal(tt.Dst[12:], frame[p.L4Off+8+16:p.L4Off+8+20]) {
					t.Fatalf("accepted %+v", tt)
				}
			}
		case pkt.DecodeIPv6:
			var p6 pkt.Parsed6
			if p6.Decode6(frame, p.L3Off, false) != pkt.DecodeOK {
				return
			}
			if tt, ok := ParseTunnelTooBig6(frame, &p6); ok {
				if tt.V4 || !bytes.Equal(tt.Dst[:], frame[p6.L4Off+8+24:p6.L4Off+8+40]) {
					t.Fatalf("accepted %+v", tt)
				}
			}
		}
	})
}
