package realserver

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

var (
	tDirector = netip.MustParseAddr("192.0.2.2")
	tRS       = netip.MustParseAddr("192.0.2.11")
	tClient   = netip.MustParseAddr("198.51.100.7")
	tVIP      = netip.MustParseAddr("203.0.113.100")
	tOther    = netip.MustParseAddr("203.0.113.99")
	tRS6      = netip.MustParseAddr("2001:db8::11")
	tVIP6     = netip.MustParseAddr("2001:db8::100")
	tDir6     = netip.MustParseAddr("2001:db8::2")
	tClient6  = netip.MustParseAddr("2001:db8:ffff::7")
)

func testFilter() *filter {
	return &filter{vips: [][4]byte{tVIP.As4()}, local: [][4]byte{{127, 0, 0, 1}, tRS.As4()},
		vips6: [][16]byte{tVIP6.As16()}, local6: [][16]byte{tRS6.As16()}}
}

// vnet is a virtio_net_hdr for tests.
type vnet struct {
	flags, gso                      uint8
	hdrLen, gsoSize, start, csumOff uint16
}

func (v vnet) bytes() []byte {
	b := make([]byte, vnetHdrLen)
	b[0], b[1] = v.flags, v.gso
	binary.NativeEndian.PutUint16(b[2:], v.hdrLen)
	binary.NativeEndian.PutUint16(b[4:], v.gsoSize)
	binary.NativeEndian.PutUint16(b[6:], v.start)
	binary.NativeEndian.PutUint16(b[8:], v.csumOff)
	return b
}

func parseVnet(b []byte) vnet {
	return vnet{b[0], b[1], binary.NativeEndian.Uint16(b[2:]), binary.NativeEndian.Uint16(b[4:]),
		binary.NativeEndian.Uint16(b[6:]), binary.NativeEndian.Uint16(b[8:])}
}

// innerUDP returns an IPv4/UDP packet (no link header) client -> dst.
func innerUDP(dst netip.Addr, payload string) []byte {
	return pkttest.Frame{Src: tClient, Dst: dst, Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: 53,
		Payload: []byte(payload)}.Build()[pkt.EtherHeaderLen:]
}

// encap returns vnet header + Ethernet + outer IPv4 (director -> dst) +
// inner, with outer options opts.
func encap(v vnet, dst netip.Addr, opts []byte, inner []byte) []byte {
	proto := uint8(pkt.ProtoIPIP)
	if len(inner) > 0 && inner[0]>>4 == 6 {
		proto = protoIPv6 // IPv6 in IPv4
	}
	f := pkttest.Frame{Src: tDirector, Dst: dst, Proto: proto, IPOptions: opts, Payload: inner}.Build()
	return append(v.bytes(), f...)
}

// outerIP returns the outer IPv4 header view of a test frame.
func outerIP(b []byte) pkt.IPv4 { return pkt.IPv4(b[vnetHdrLen+pkt.EtherHeaderLen:]) }

func TestDecap(t *testing.T) {
	inner := innerUDP(tVIP, "hello")
	opts8 := []byte{0x94, 0x04, 0, 0, 1, 1, 1, 0} // router alert, NOPs, end
	const l2 = pkt.EtherHeaderLen
	tests := []struct {
		name    string
		frame   []byte
		linkLen int
		pktType uint8
		want    Verdict
		wantV   vnet // expected output vnet header
	}{
		{name: "plain", frame: encap(vnet{}, tRS, nil, inner), linkLen: l2, want: Decapsulated},
		{name: "outer options", frame: encap(vnet{}, tRS, opts8, inner), linkLen: l2, want: Decapsulated},
		{name: "link padding after the outer packet", frame: append(encap(vnet{}, tRS, nil, inner), 0, 0, 0, 0, 0, 0),
			linkLen: l2, want: Decapsulated},
		{name: "no link header", frame: func() []byte {
			f := encap(vnet{}, tRS, nil, inner)
			return append(f[:vnetHdrLen:vnetHdrLen], f[vnetHdrLen+l2:]...)
		}(), linkLen: 0, want: Decapsulated},
		{name: "partial checksum: csum_start moves back",
			frame:   encap(vnet{flags: vnetFlagNeedsCsum, hdrLen: l2 + 20 + 28, start: l2 + 20 + 20, csumOff: 6}, tRS, nil, inner),
			linkLen: l2, want: Decapsulated,
			wantV: vnet{flags: vnetFlagNeedsCsum, hdrLen: 28, start: 20, csumOff: 6}},
		{name: "partial checksum with outer options",
			frame:   encap(vnet{flags: vnetFlagNeedsCsum, start: l2 + 28 + 20, csumOff: 6}, tRS, opts8, inner),
			linkLen: l2, want: Decapsulated,
			wantV: vnet{flags: vnetFlagNeedsCsum, start: 20, csumOff: 6}},
		{name: "GSO TCPv4 with ECN",
			frame: encap(vnet{flags: vnetFlagNeedsCsum, gso: vnetGSOTCPv4 | vnetGSOECN, hdrLen: l2 + 40 + 8, gsoSize: 1000,
				start: l2 + 40, csumOff: 6}, tRS, nil, inner),
			linkLen: l2, want: Decapsulated,
			wantV: vnet{flags: vnetFlagNeedsCsum, gso: vnetGSOTCPv4 | vnetGSOECN, hdrLen: 28, gsoSize: 1000, start: 20, csumOff: 6}},
		{name: "GSO without NEEDS_CSUM", frame: encap(vnet{gso: vnetGSOTCPv4, gsoSize: 1000}, tRS, nil, inner),
			linkLen: l2, want: DropVnetHeader},
		{name: "GSO TCPv6", frame: encap(vnet{flags: vnetFlagNeedsCsum, gso: 4, start: l2 + 40, csumOff: 6}, tRS, nil, inner),
			linkLen: l2, want: DropVnetHeader},
		{name: "csum_start inside the outer header",
			frame:   encap(vnet{flags: vnetFlagNeedsCsum, start: l2 + 10, csumOff: 6}, tRS, nil, inner),
			linkLen: l2, want: DropVnetHeader},
		{name: "csum_start inside the inner header",
			frame:   encap(vnet{flags: vnetFlagNeedsCsum, start: l2 + 20 + 10, csumOff: 6}, tRS, nil, inner),
			linkLen: l2, want: DropVnetHeader},
		{name: "checksum field past the end",
			frame:   encap(vnet{flags: vnetFlagNeedsCsum, start: l2 + 40, csumOff: 12}, tRS, nil, inner),
			linkLen: l2, want: DropVnetHeader},
		{name: "promiscuous capture", frame: encap(vnet{}, tRS, nil, inner), linkLen: l2, pktType: 3, want: DropNotForHost},
		{name: "not IPv4 ethertype", frame: func() []byte {
			f := encap(vnet{}, tRS, nil, inner)
			f[vnetHdrLen+12], f[vnetHdrLen+13] = 0x08, 0x06
			return f
		}(), linkLen: l2, want: DropLinkHeader},
		{name: "shorter than the link header", frame: make([]byte, vnetHdrLen+6), linkLen: l2, want: DropLinkHeader},
		{name: "empty", frame: nil, linkLen: 0, want: DropLinkHeader},
		{name: "outer header cut", frame: encap(vnet{}, tRS, nil, inner)[:vnetHdrLen+l2+12], linkLen: l2, want: DropOuterHeader},
		{name: "outer version 6", frame: mutOuter(encap(vnet{}, tRS, nil, inner), func(h pkt.IPv4) { h[0] = 0x65 }),
			linkLen: l2, want: DropOuterHeader},
		{name: "outer IHL 4", frame: mutOuter(encap(vnet{}, tRS, nil, inner), func(h pkt.IPv4) { h[0] = 0x44 }),
			linkLen: l2, want: DropOuterHeader},
		{name: "outer IHL past the packet", frame: mutOuter(encap(vnet{}, tRS, nil, inner[:0]), func(h pkt.IPv4) { h[0] = 0x4f }),
			linkLen: l2, want: DropOuterHeader},
		{name: "outer total length past the frame", frame: mutOuter(encap(vnet{}, tRS, nil, inner), func(h pkt.IPv4) {
			h.SetTotalLen(h.TotalLen() + 1)
		}), linkLen: l2, want: DropOuterHeader},
		{name: "no room for an inner header", frame: encap(vnet{}, tRS, nil, inner[:19]), linkLen: l2, want: DropOuterHeader},
		{name: "outer checksum", frame: func() []byte {
			f := encap(vnet{}, tRS, nil, inner)
			outerIP(f)[pkt.IPv4MinHeaderLen-1] ^= 1 // flips the dst; checksum not updated
			return f
		}(), linkLen: l2, want: DropOuterChecksum},
		{name: "outer fragment", frame: mutOuter(encap(vnet{}, tRS, nil, inner), func(h pkt.IPv4) { h.SetFlagsFragOff(pkt.IPv4FlagMF, 0) }),
			linkLen: l2, want: DropOuterFragment},
		{name: "outer protocol UDP", frame: mutOuter(encap(vnet{}, tRS, nil, inner), func(h pkt.IPv4) { h.SetProtocol(pkt.ProtoUDP) }),
			linkLen: l2, want: DropNotIPIP},
		{name: "outer dst not local", frame: encap(vnet{}, tOther, nil, inner), linkLen: l2, want: DropNotLocal},
		{name: "inner version 6", frame: encap(vnet{}, tRS, nil, mutInner(inner, func(h pkt.IPv4) { h[0] = 0x65 })),
			linkLen: l2, want: DropInnerHeader},
		{name: "inner IHL 15 past the packet", frame: encap(vnet{}, tRS, nil, mutInner(inner[:24], func(h pkt.IPv4) { h[0] = 0x4f })),
			linkLen: l2, want: DropInnerHeader},
		{name: "inner total length past the outer", frame: encap(vnet{}, tRS, nil, mutInner(inner, func(h pkt.IPv4) {
			h.SetTotalLen(h.TotalLen() + 1)
		})), linkLen: l2, want: DropInnerHeader},
		{name: "inner total length 0 (TSO)", frame: encap(vnet{}, tRS, nil, mutInner(inner, func(h pkt.IPv4) { h.SetTotalLen(0) })),
			linkLen: l2, want: DropInnerHeader},
		{name: "inner checksum", frame: encap(vnet{}, tRS, nil, func() []byte {
			b := bytes.Clone(inner)
			b[8]-- // TTL, checksum not updated
			return b
		}()), linkLen: l2, want: DropInnerChecksum},
		{name: "inner dst not a VIP", frame: encap(vnet{}, tRS, nil, innerUDP(tOther, "x")), linkLen: l2, want: DropNotVIP},
		{name: "inner dst is the RS, not a VIP", frame: encap(vnet{}, tRS, nil, innerUDP(tRS, "x")), linkLen: l2, want: DropNotVIP},
	}
	f := testFilter()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := bytes.Clone(tt.frame)
			out, v := f.decap(frame, tt.linkLen, tt.pktType)
			if v != tt.want {
				t.Fatalf("verdict: got %v, want %v", v, tt.want)
			}
			if v != Decapsulated {
				if out != nil {
					t.Errorf("out: got %d bytes on a drop, want nil", len(out))
				}
				if !bytes.Equal(frame, tt.frame) {
					t.Errorf("a dropped frame was modified")
				}
				return
			}
			if len(out) < vnetHdrLen {
				t.Fatalf("out: %d bytes", len(out))
			}
			if got := parseVnet(out); got != tt.wantV {
				t.Errorf("vnet header: got %+v, want %+v", got, tt.wantV)
			}
			// The inner packet comes out byte for byte (the test inner
			// packets are all the same but for the mutated cases).
			if !bytes.Equal(out[vnetHdrLen:], inner) {
				t.Errorf("inner packet:\n got %x\nwant %x", out[vnetHdrLen:], inner)
			}
			if tt.wantV.flags == 0 && !pkt.L4ChecksumValid(pkt.IPv4(out[vnetHdrLen:])) {
				t.Errorf("inner L4 checksum not valid")
			}
		})
	}
}

func mutOuter(f []byte, fn func(pkt.IPv4)) []byte {
	fn(outerIP(f))
	if outerIP(f).HeaderLen() >= pkt.IPv4MinHeaderLen && outerIP(f).HeaderLen() <= len(outerIP(f)) {
		outerIP(f).ComputeChecksum()
	}
	return f
}

func mutInner(p []byte, fn func(pkt.IPv4)) []byte {
	b := bytes.Clone(p)
	fn(pkt.IPv4(b))
	if h := pkt.IPv4(b); h.HeaderLen() >= pkt.IPv4MinHeaderLen && h.HeaderLen() <= len(b) {
		h.ComputeChecksum()
	}
	return b
}

// TestDecapPartialChecksumCompletes checks the adjusted header against the
// kernel's view: completing the checksum at the new csum_start over the
// inner packet gives a valid UDP checksum.
func TestDecapPartialChecksumCompletes(t *testing.T) {
	inner := innerUDP(tVIP, "partial checksum payload")
	u := pkt.UDP(inner[20:])
	// A CHECKSUM_PARTIAL field holds the folded pseudo-header sum.
	ip := pkt.IPv4(inner)
	u.SetChecksum(pkt.Fold(pkt.PseudoHeaderSum(ip.Src(), ip.Dst(), pkt.ProtoUDP, uint16(len(inner)-20))))
	if pkt.L4ChecksumValid(ip) {
		t.Fatal("test setup: a partial checksum should not verify")
	}
	frame := encap(vnet{flags: vnetFlagNeedsCsum, start: 14 + 24 + 20, csumOff: pkt.UDPChecksumOffset}, tRS, []byte{1, 1, 1, 0}, inner)
	out, v := testFilter().decap(frame, 14, packetHost)
	if v != Decapsulated {
		t.Fatalf("verdict %v", v)
	}
	h := parseVnet(out)
	pk := bytes.Clone(out[vnetHdrLen:])
	if !pkt.CompletePartial(pk, int(h.start), int(h.csumOff)) {
		t.Fatalf("CompletePartial refused start %d offset %d", h.start, h.csumOff)
	}
	if !pkt.L4ChecksumValid(pkt.IPv4(pk)) {
		t.Errorf("checksum completed at the adjusted csum_start is not valid")
	}
}

func TestDecapAllocs(t *testing.T) {
	f := testFilter()
	src := encap(vnet{flags: vnetFlagNeedsCsum, start: 54, csumOff: 6}, tRS, nil, innerUDP(tVIP, "x"))
	work := make([]byte, len(src))
	n := testing.AllocsPerRun(100, func() {
		copy(work, src)
		if _, v := f.decap(work, 14, packetHost); v != Decapsulated {
			t.Fatalf("verdict %v", v)
		}
	})
	if n != 0 {
		t.Errorf("decap allocates %v times per packet, want 0", n)
	}
}

func TestVerdictString(t *testing.T) {
	seen := map[string]bool{}
	for v := Verdict(0); v < NumVerdicts; v++ {
		s := v.String()
		if s == "" || seen[s] {
			t.Errorf("verdict %d: name %q empty or repeated", v, s)
		}
		seen[s] = true
	}
	if got := NumVerdicts.String(); got != "Verdict(15)" {
		t.Errorf("out of range: got %q", got)
	}
}

func BenchmarkDecap(b *testing.B) {
	f := testFilter()
	src := encap(vnet{}, tRS, nil, innerUDP(tVIP, string(make([]byte, 1000))))
	work := make([]byte, len(src))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(work, src)
		sinkOut, sinkVerdict = f.decap(work, 14, packetHost)
	}
}

var (
	sinkOut     []byte
	sinkVerdict Verdict
)

func FuzzDecap(f *testing.F) {
	inner := innerUDP(tVIP, "fuzz")
	f.Add(encap(vnet{}, tRS, nil, inner), uint8(14), uint8(0))
	f.Add(encap(vnet{flags: vnetFlagNeedsCsum, start: 54, csumOff: 6}, tRS, []byte{1, 1, 1, 0}, inner), uint8(14), uint8(0))
	f.Add(encap(vnet{flags: vnetFlagNeedsCsum, gso: vnetGSOTCPv4, gsoSize: 100, start: 54, csumOff: 6}, tRS, nil, inner), uint8(14), uint8(0))
	f.Add(encap(vnet{}, tOther, nil, inner), uint8(14), uint8(0))
	f.Add([]byte{}, uint8(0), uint8(0))
	f.Add(encap6(vnet{}, tRS6, innerUDP6("fuzz")), uint8(14), uint8(0))
	f.Add(encap6(vnet{}, tRS6, inner), uint8(14), uint8(0))
	f.Add(encap(vnet{}, tRS, nil, innerUDP6("fuzz")), uint8(14), uint8(0))
	f.Fuzz(func(t *testing.T, frame []byte, linkLen, pktType uint8) {
		flt := testFilter()
		ll := int(linkLen % 16) // 0..15: includes 14 and odd lengths
		orig := bytes.Clone(frame)
		out, v := flt.decap(frame, ll, pktType)
		if v == verdictInvalid || v >= NumVerdicts || v == DropWrite || v == DropTruncated {
			t.Fatalf("verdict %v cannot come from decap", v)
		}
		if v != Decapsulated {
			if out != nil || !bytes.Equal(frame, orig) {
				t.Fatalf("drop %v: out %d bytes, frame changed %v", v, len(out), !bytes.Equal(frame, orig))
			}
			return
		}
		if len(out) < vnetHdrLen+pkt.IPv4MinHeaderLen {
			t.Fatalf("out too short: %d", len(out))
		}
		if out[vnetHdrLen]>>4 == 6 {
			ip := pkt.IPv6(out[vnetHdrLen:])
			if len(ip) < pkt.IPv6HeaderLen || int(ip.PayloadLen())+pkt.IPv6HeaderLen != len(ip) || ip.Dst() != tVIP6.As16() {
				t.Fatalf("inner IPv6 packet invalid: %x", []byte(ip))
			}
			if h := parseVnet(out); h.flags&vnetFlagNeedsCsum != 0 && (int(h.start) < pkt.IPv6HeaderLen || int(h.start)+int(h.csumOff)+2 > len(ip)) {
				t.Fatalf("vnet checksum range outside the inner packet: %+v, len %d", h, len(ip))
			}
			return
		}
		ip := pkt.IPv4(out[vnetHdrLen:])
		if ip.Version() != 4 || int(ip.TotalLen()) != len(ip) || !ip.ChecksumValid() || ip.Dst() != tVIP.As4() {
			t.Fatalf("inner packet invalid: %x", []byte(ip))
		}
		h := parseVnet(out)
		if h.flags&vnetFlagNeedsCsum != 0 && (int(h.start) < ip.HeaderLen() || int(h.start)+int(h.csumOff)+2 > len(ip)) {
			t.Fatalf("vnet checksum range outside the inner packet: %+v, len %d", h, len(ip))
		}
	})
}

// innerUDP6 returns an IPv6/UDP packet (no link header) client -> VIP.
func innerUDP6(payload string) []byte {
	return pkttest.Frame6{Src: tClient6, Dst: tVIP6, Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: 53,
		Payload: []byte(payload)}.Build()[pkt.EtherHeaderLen:]
}

// encap6 returns vnet header + Ethernet + outer IPv6 (director -> dst,
// next header by the inner packet's version) + inner.
func encap6(v vnet, dst netip.Addr, inner []byte) []byte {
	next := byte(4)
	if inner[0]>>4 == 6 {
		next = 41
	}
	outer := make([]byte, pkt.IPv6HeaderLen)
	binary.BigEndian.PutUint32(outer, 6<<28)
	binary.BigEndian.PutUint16(outer[4:], uint16(len(inner)))
	outer[6], outer[7] = next, 63
	copy(outer[8:], tDir6.AsSlice())
	copy(outer[24:], dst.AsSlice())
	eth := make([]byte, pkt.EtherHeaderLen)
	binary.BigEndian.PutUint16(eth[12:], 0x86dd)
	return append(append(append(v.bytes(), eth...), outer...), inner...)
}

// TestDecapIPv6Tunnels: ip6ip6, IPv4 in IPv6 and IPv6 in IPv4 come out
// as the inner packet, the pending checksum start moved by the outer
// header; the families are checked against each other and the VIPs.
func TestDecapIPv6Tunnels(t *testing.T) {
	in6, in4 := innerUDP6("hello"), innerUDP(tVIP, "hello")
	const l2 = pkt.EtherHeaderLen
	tests := []struct {
		name  string
		frame []byte
		want  Verdict
		inner []byte
		start uint16 // expected csum_start after the strip (0: none)
	}{
		{name: "ip6ip6", frame: encap6(vnet{}, tRS6, in6), want: Decapsulated, inner: in6},
		{name: "ip6ip6 with a pending checksum", frame: encap6(vnet{flags: vnetFlagNeedsCsum, start: l2 + 80, csumOff: 6}, tRS6, in6),
			want: Decapsulated, inner: in6, start: 40},
		{name: "IPv4 in IPv6", frame: encap6(vnet{}, tRS6, in4), want: Decapsulated, inner: in4},
		{name: "IPv6 in IPv4", frame: encap(vnet{}, tRS, nil, in6), want: Decapsulated, inner: in6},
		{name: "IPv6 in IPv4 with link padding", frame: append(encap(vnet{}, tRS, nil, in6), 0, 0, 0, 0), want: Decapsulated, inner: in6},
		{name: "ip6ip6 to another host", frame: encap6(vnet{}, tDir6, in6), want: DropNotLocal},
		{name: "ip6ip6 not to a VIP", frame: encap6(vnet{}, tRS6, pkttest.Frame6{Src: tClient6, Dst: tRS6, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2}.Build()[l2:]), want: DropNotVIP},
		{name: "next header 41 with IPv4 inside", frame: func() []byte {
			f := encap6(vnet{}, tRS6, in4)
			f[vnetHdrLen+l2+6] = 41
			return f
		}(), want: DropInnerHeader},
		{name: "IPv6 EtherType, IPv4 header", frame: func() []byte {
			f := encap(vnet{}, tRS, nil, in6)
			binary.BigEndian.PutUint16(f[vnetHdrLen+12:], 0x86dd)
			return f
		}(), want: DropOuterHeader},
		{name: "outer payload length past the frame", frame: func() []byte {
			f := encap6(vnet{}, tRS6, in6)
			binary.BigEndian.PutUint16(f[vnetHdrLen+l2+4:], 2000)
			return f
		}(), want: DropOuterHeader},
		{name: "TCPv6 GSO in IPIP", frame: encap(vnet{flags: vnetFlagNeedsCsum, gso: vnetGSOTCPv6, gsoSize: 100, start: l2 + 60, csumOff: 6}, tRS, nil, in4), want: DropVnetHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, v := testFilter().decap(tc.frame, l2, packetHost)
			if v != tc.want {
				t.Fatalf("verdict %v, want %v", v, tc.want)
			}
			if v != Decapsulated {
				return
			}
			if !bytes.Equal(out[vnetHdrLen:], tc.inner) {
				t.Errorf("inner packet %x, want %x", out[vnetHdrLen:], tc.inner)
			}
			if h := parseVnet(out); h.start != tc.start {
				t.Errorf("csum_start %d, want %d", h.start, tc.start)
			}
		})
	}
}
