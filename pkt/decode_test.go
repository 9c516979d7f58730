package pkt_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

var (
	macA   = [6]byte{0x02, 0, 0, 0, 0, 0x0a}
	macB   = [6]byte{0x02, 0, 0, 0, 0, 0x0b}
	client = netip.MustParseAddr("192.0.2.10")
	vip    = netip.MustParseAddr("198.51.100.1")
	rip    = netip.MustParseAddr("10.77.1.11")
)

func tcpFrame() pkttest.Frame {
	return pkttest.Frame{
		SrcMAC: macA, DstMAC: macB, Src: client, Dst: vip, Proto: pkt.ProtoTCP,
		SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn, Seq: 1000,
	}
}

func udpFrame() pkttest.Frame {
	return pkttest.Frame{
		SrcMAC: macA, DstMAC: macB, Src: client, Dst: vip, Proto: pkt.ProtoUDP,
		SrcPort: 5353, DstPort: 53, Payload: []byte("query"),
	}
}

// edit returns a copy of frame changed by f.
func edit(frame []byte, f func(b []byte)) []byte {
	b := bytes.Clone(frame)
	f(b)
	return b
}

// insertTag inserts a VLAN tag with the given TPID right after the MACs.
func insertTag(frame []byte, tpid, id uint16) []byte {
	return slices.Insert(bytes.Clone(frame), 12, byte(tpid>>8), byte(tpid), byte(id>>8), byte(id))
}

func with(f pkttest.Frame, change func(*pkttest.Frame)) []byte {
	change(&f)
	return f.Build()
}

func TestDecode(t *testing.T) {
	src, dst := client.As4(), vip.As4()
	tcpWant := pkt.Parsed{
		EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 20, IPLen: 40, Proto: pkt.ProtoTCP,
		Src: src, Dst: dst, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn,
	}
	shift := func(p pkt.Parsed, n int) *pkt.Parsed {
		p.L3Off += n
		p.L4Off += n
		return &p
	}
	tcp := tcpFrame().Build()
	udp := udpFrame().Build()
	innerTCP := tcp[pkt.EtherHeaderLen:]
	arpReq := pkttest.ARPFrame(pkt.ARPRequest, macA, client.As4(), [6]byte{}, vip.As4())
	ipOff := pkt.EtherHeaderLen

	tests := []struct {
		name  string
		frame []byte
		gso   bool
		want  pkt.DecodeResult
		// parsed, when set, is compared with the whole Parsed value.
		parsed *pkt.Parsed
	}{
		{name: "TCP SYN", frame: tcp, want: pkt.DecodeOK, parsed: &tcpWant},
		{name: "TCP SYN via DecodeGSO", frame: tcp, gso: true, want: pkt.DecodeOK, parsed: &tcpWant},
		{
			name:  "TCP with payload and Ethernet padding",
			frame: append(with(tcpFrame(), func(f *pkttest.Frame) { f.Payload = []byte("GET /"); f.TCPFlags = pkt.TCPAck | pkt.TCPPsh }), 0, 0, 0, 0),
			want:  pkt.DecodeOK,
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 25, IPLen: 45, Proto: pkt.ProtoTCP,
				Src: src, Dst: dst, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck | pkt.TCPPsh,
			},
		},
		{
			name: "UDP", frame: udp, want: pkt.DecodeOK,
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 13, IPLen: 33, Proto: pkt.ProtoUDP,
				Src: src, Dst: dst, SrcPort: 5353, DstPort: 53,
			},
		},
		{
			name: "UDP padded to the Ethernet minimum", want: pkt.DecodeOK,
			frame: append(bytes.Clone(udp), make([]byte, pkt.EtherMinFrameLen-len(udp))...),
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 13, IPLen: 33, Proto: pkt.ProtoUDP,
				Src: src, Dst: dst, SrcPort: 5353, DstPort: 53,
			},
		},
		{
			name: "ICMP echo request",
			frame: pkttest.Frame{SrcMAC: macA, DstMAC: macB, Src: client, Dst: vip, Proto: pkt.ProtoICMP,
				ICMPType: pkt.ICMPEchoRequest, ICMPID: 77, ICMPSeq: 3, Payload: []byte("ping")}.Build(),
			want: pkt.DecodeOK,
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 12, IPLen: 32, Proto: pkt.ProtoICMP,
				Src: src, Dst: dst, SrcPort: 77, ICMPType: pkt.ICMPEchoRequest,
			},
		},
		{
			name: "ICMP fragmentation needed quoting a packet",
			frame: pkttest.Frame{SrcMAC: macA, DstMAC: macB, Src: client, Dst: vip, Proto: pkt.ProtoICMP,
				ICMPType: pkt.ICMPDestUnreachable, ICMPCode: pkt.ICMPFragNeeded, ICMPSeq: 1480,
				Payload: innerTCP[:28]}.Build(),
			want: pkt.DecodeOK,
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 36, IPLen: 56, Proto: pkt.ProtoICMP,
				Src: src, Dst: dst, ICMPType: pkt.ICMPDestUnreachable, ICMPCode: pkt.ICMPFragNeeded,
			},
		},
		{
			name: "IPIP",
			frame: pkttest.Frame{SrcMAC: macA, DstMAC: macB, Src: vip, Dst: rip, Proto: pkt.ProtoIPIP,
				Payload: innerTCP}.Build(),
			want: pkt.DecodeOK,
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 40, IPLen: 60, Proto: pkt.ProtoIPIP,
				Src: vip.As4(), Dst: rip.As4(),
			},
		},
		{
			name: "other protocol (GRE)",
			frame: pkttest.Frame{SrcMAC: macA, DstMAC: macB, Src: client, Dst: vip, Proto: 47,
				Payload: make([]byte, 24)}.Build(),
			want: pkt.DecodeOK,
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, IPLen: 44, Proto: 47, Src: src, Dst: dst,
			},
		},
		{
			name: "IPv4 options", want: pkt.DecodeOK,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.IPOptions = []byte{0x94, 0x04, 0, 0} }), // router alert
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 38, L4Len: 20, IPLen: 44, Proto: pkt.ProtoTCP,
				Src: src, Dst: dst, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn,
			},
		},
		{
			name: "40 bytes of IPv4 options", want: pkt.DecodeOK,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.IPOptions = bytes.Repeat([]byte{1}, 40) }), // NOPs
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 74, L4Len: 20, IPLen: 80, Proto: pkt.ProtoTCP,
				Src: src, Dst: dst, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn,
			},
		},
		{
			// A timestamp option whose length (7) runs past the 6 bytes
			// left in the header (FuzzFragmentIPv4 used to build these).
			name: "IPv4 option past the header", want: pkt.DecodeBadOptions,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.IPOptions = []byte{1, 1, 0x44, 7, 5, 0, 0, 0} }),
		},
		{
			name: "IPv4 option length below 2", want: pkt.DecodeBadOptions,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.IPOptions = []byte{0x94, 1, 0, 0} }),
		},
		{
			name: "IPv4 option without its length byte", want: pkt.DecodeBadOptions,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.IPOptions = []byte{1, 1, 1, 0x83} }),
		},
		{
			name: "802.1Q", want: pkt.DecodeOK,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.VLAN = 100 }),
			parsed: func() *pkt.Parsed {
				p := shift(tcpWant, 4)
				p.VLANs, p.VLANID = 1, 100
				return p
			}(),
		},
		{
			name: "802.1Q with priority bits", want: pkt.DecodeOK,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.VLAN = 0xe000 | 4095 }),
			parsed: func() *pkt.Parsed {
				p := shift(tcpWant, 4)
				p.VLANs, p.VLANID = 1, 4095
				return p
			}(),
		},
		{
			name: "QinQ", want: pkt.DecodeOK,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.OuterVLAN, f.VLAN = 200, 100 }),
			parsed: func() *pkt.Parsed {
				p := shift(tcpWant, 8)
				p.VLANs, p.VLANID = 2, 100
				return p
			}(),
		},
		{
			name: "double 802.1Q", want: pkt.DecodeOK,
			frame: insertTag(with(tcpFrame(), func(f *pkttest.Frame) { f.VLAN = 7 }), pkt.EtherTypeVLAN, 9),
			parsed: func() *pkt.Parsed {
				p := shift(tcpWant, 8)
				p.VLANs, p.VLANID = 2, 7
				return p
			}(),
		},
		{
			name:  "three VLAN tags",
			frame: insertTag(with(tcpFrame(), func(f *pkttest.Frame) { f.OuterVLAN, f.VLAN = 200, 100 }), pkt.EtherTypeQinQ, 300),
			want:  pkt.DecodeBadVLAN,
		},
		{name: "frame ends inside a VLAN tag", frame: insertTag(tcp, pkt.EtherTypeVLAN, 1)[:17], want: pkt.DecodeTooShort},
		{name: "frame ends after a VLAN tag", frame: insertTag(tcp, pkt.EtherTypeVLAN, 1)[:18], want: pkt.DecodeTooShort},
		{
			name: "first fragment", want: pkt.DecodeOK,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.MF = true; f.Payload = make([]byte, 8) }),
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 28, IPLen: 48, Proto: pkt.ProtoTCP,
				Src: src, Dst: dst, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn, Frag: pkt.FragMore,
			},
		},
		{
			name: "first UDP fragment, length covers the datagram", want: pkt.DecodeOK,
			frame: edit(with(udpFrame(), func(f *pkttest.Frame) { f.MF = true }), func(b []byte) {
				pkt.UDP(b[34:]).SetLength(3000)
			}),
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 13, IPLen: 33, Proto: pkt.ProtoUDP,
				Src: src, Dst: dst, SrcPort: 5353, DstPort: 53, Frag: pkt.FragMore,
			},
		},
		{
			name: "middle fragment", want: pkt.DecodeOK,
			frame: with(tcpFrame(), func(f *pkttest.Frame) { f.MF = true; f.FragOffset = 1480; f.Payload = make([]byte, 16) }),
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, IPLen: 36, Proto: pkt.ProtoTCP,
				Src: src, Dst: dst, Frag: pkt.FragMore | pkt.FragLater,
			},
		},
		{
			name: "last fragment", want: pkt.DecodeOK,
			frame: with(udpFrame(), func(f *pkttest.Frame) { f.FragOffset = 8; f.Payload = []byte{1} }),
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, IPLen: 21, Proto: pkt.ProtoUDP,
				Src: src, Dst: dst, Frag: pkt.FragLater,
			},
		},
		{
			name: "ARP request", frame: arpReq, want: pkt.DecodeOK,
			parsed: &pkt.Parsed{EtherType: pkt.EtherTypeARP, L3Off: 14},
		},
		{
			name: "ARP in a VLAN", frame: insertTag(arpReq, pkt.EtherTypeVLAN, 5), want: pkt.DecodeOK,
			parsed: &pkt.Parsed{EtherType: pkt.EtherTypeARP, L3Off: 18, VLANs: 1, VLANID: 5},
		},
		{name: "ARP not Ethernet", frame: edit(arpReq, func(b []byte) { b[15] = 6 }), want: pkt.DecodeBadARP},
		{name: "ARP not IPv4", frame: edit(arpReq, func(b []byte) { b[16] = 0x86; b[17] = 0xdd }), want: pkt.DecodeBadARP},
		{name: "ARP bad hardware length", frame: edit(arpReq, func(b []byte) { b[18] = 8 }), want: pkt.DecodeBadARP},
		{name: "ARP bad protocol length", frame: edit(arpReq, func(b []byte) { b[19] = 16 }), want: pkt.DecodeBadARP},
		{name: "ARP truncated", frame: arpReq[:pkt.EtherHeaderLen+pkt.ARPLen-1], want: pkt.DecodeBadARP},
		{
			name: "IPv6", want: pkt.DecodeIPv6,
			frame:  edit(tcp, func(b []byte) { pkt.Ether(b).SetEtherType(pkt.EtherTypeIPv6) }),
			parsed: &pkt.Parsed{EtherType: pkt.EtherTypeIPv6, L3Off: 14},
		},
		{
			name: "LLDP is not IP", want: pkt.DecodeNotIP,
			frame:  edit(tcp, func(b []byte) { pkt.Ether(b).SetEtherType(0x88cc) }),
			parsed: &pkt.Parsed{EtherType: 0x88cc, L3Off: 14},
		},
		{name: "empty frame", frame: nil, want: pkt.DecodeTooShort, parsed: &pkt.Parsed{}},
		{name: "13 bytes", frame: tcp[:13], want: pkt.DecodeTooShort},
		{name: "Ethernet header only", frame: tcp[:14], want: pkt.DecodeTooShort},
		{name: "IPv4 header truncated", frame: tcp[:33], want: pkt.DecodeTooShort},
		{name: "IPv4 version 6", frame: edit(tcp, func(b []byte) { b[ipOff] = 0x65 }), want: pkt.DecodeBadVersion},
		{name: "IPv4 version 0", frame: edit(tcp, func(b []byte) { b[ipOff] = 0x05 }), want: pkt.DecodeBadVersion},
		{name: "IHL 4", frame: edit(tcp, func(b []byte) { b[ipOff] = 0x44 }), want: pkt.DecodeBadIHL},
		{name: "IHL 0", frame: edit(tcp, func(b []byte) { b[ipOff] = 0x40 }), want: pkt.DecodeBadIHL},
		{name: "IHL past the frame", frame: edit(tcp, func(b []byte) { b[ipOff] = 0x4f })[:60], want: pkt.DecodeBadIHL},
		{name: "total length below IHL", frame: edit(tcp, func(b []byte) { pkt.IPv4(b[ipOff:]).SetTotalLen(19) }), want: pkt.DecodeBadTotalLen},
		{name: "total length past the frame", frame: edit(tcp, func(b []byte) { pkt.IPv4(b[ipOff:]).SetTotalLen(41) }), want: pkt.DecodeBadTotalLen},
		{name: "total length 0", frame: edit(tcp, func(b []byte) { pkt.IPv4(b[ipOff:]).SetTotalLen(0) }), want: pkt.DecodeBadTotalLen},
		{
			name: "GSO: total length 0 runs to the end of the frame", gso: true, want: pkt.DecodeOK,
			frame: edit(with(tcpFrame(), func(f *pkttest.Frame) { f.Payload = make([]byte, 3000) }), func(b []byte) {
				pkt.IPv4(b[ipOff:]).SetTotalLen(0)
			}),
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 3020, IPLen: 3040, Proto: pkt.ProtoTCP,
				Src: src, Dst: dst, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn,
			},
		},
		{name: "GSO: total length past the frame", gso: true, frame: edit(tcp, func(b []byte) { pkt.IPv4(b[ipOff:]).SetTotalLen(41) }), want: pkt.DecodeBadTotalLen},
		{name: "TCP data offset 4", frame: edit(tcp, func(b []byte) { pkt.TCP(b[34:]).SetDataOffset(16) }), want: pkt.DecodeBadL4},
		{name: "TCP data offset past the packet", frame: edit(tcp, func(b []byte) { pkt.TCP(b[34:]).SetDataOffset(24) }), want: pkt.DecodeBadL4},
		{
			name:  "TCP data offset into Ethernet padding",
			frame: append(edit(tcp, func(b []byte) { pkt.TCP(b[34:]).SetDataOffset(24) }), 0, 0, 0, 0),
			want:  pkt.DecodeBadL4,
		},
		{name: "TCP header truncated", frame: edit(tcp, func(b []byte) { pkt.IPv4(b[ipOff:]).SetTotalLen(39) }), want: pkt.DecodeBadL4},
		{name: "TCP header absent", frame: tcp[:34], want: pkt.DecodeBadTotalLen},
		{
			name:  "TCP header absent, total length 20",
			frame: edit(tcp, func(b []byte) { pkt.IPv4(b[ipOff:]).SetTotalLen(20) })[:34],
			want:  pkt.DecodeBadL4,
		},
		{name: "UDP length 7", frame: edit(udp, func(b []byte) { pkt.UDP(b[34:]).SetLength(7) }), want: pkt.DecodeBadL4},
		{name: "UDP length past the packet", frame: edit(udp, func(b []byte) { pkt.UDP(b[34:]).SetLength(14) }), want: pkt.DecodeBadL4},
		{
			name: "UDP length short of the packet", want: pkt.DecodeOK,
			frame: edit(udp, func(b []byte) { pkt.UDP(b[34:]).SetLength(8) }),
			parsed: &pkt.Parsed{
				EtherType: pkt.EtherTypeIPv4, L3Off: 14, L4Off: 34, L4Len: 13, IPLen: 33, Proto: pkt.ProtoUDP,
				Src: src, Dst: dst, SrcPort: 5353, DstPort: 53,
			},
		},
		{name: "UDP header truncated", frame: edit(udp, func(b []byte) { pkt.IPv4(b[ipOff:]).SetTotalLen(27) }), want: pkt.DecodeBadL4},
		{
			name: "ICMP header truncated", want: pkt.DecodeBadL4,
			frame: edit(pkttest.Frame{SrcMAC: macA, DstMAC: macB, Src: client, Dst: vip, Proto: pkt.ProtoICMP,
				ICMPType: pkt.ICMPEchoRequest}.Build(), func(b []byte) { pkt.IPv4(b[ipOff:]).SetTotalLen(27) }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from garbage: Decode must reset every field.
			p := pkt.Parsed{L3Off: 99, L4Off: 99, L4Len: 99, IPLen: 99, Proto: 99, SrcPort: 9, DstPort: 9, TCPFlags: 9, Frag: 9, ICMPType: 9, ICMPCode: 9, VLANs: 9, VLANID: 9}
			var got pkt.DecodeResult
			if tt.gso {
				got = p.DecodeGSO(tt.frame)
			} else {
				got = p.Decode(tt.frame)
			}
			if got != tt.want {
				t.Fatalf("result: got %v, want %v (parsed %+v)", got, tt.want, p)
			}
			if tt.parsed != nil && p != *tt.parsed {
				t.Errorf("parsed:\n got %+v\nwant %+v", p, *tt.parsed)
			}
			checkInvariants(t, tt.frame, &p, got)
		})
	}
}

func TestDecodeIPv4(t *testing.T) {
	inner := tcpFrame().Build()[pkt.EtherHeaderLen:]
	var p pkt.Parsed
	if got := p.DecodeIPv4(inner); got != pkt.DecodeOK {
		t.Fatalf("result: got %v, want OK", got)
	}
	want := pkt.Parsed{
		EtherType: pkt.EtherTypeIPv4, L3Off: 0, L4Off: 20, L4Len: 20, IPLen: 40, Proto: pkt.ProtoTCP,
		Src: client.As4(), Dst: vip.As4(), SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn,
	}
	if p != want {
		t.Errorf("parsed:\n got %+v\nwant %+v", p, want)
	}
	if got := p.DecodeIPv4(inner[:19]); got != pkt.DecodeTooShort {
		t.Errorf("19 bytes: got %v, want TooShort", got)
	}
	if got := p.DecodeIPv4(nil); got != pkt.DecodeTooShort {
		t.Errorf("nil: got %v, want TooShort", got)
	}
}

func TestDecodeResultString(t *testing.T) {
	seen := map[string]bool{}
	for r := range pkt.NumDecodeResults {
		s := r.String()
		if s == "" || seen[s] {
			t.Errorf("DecodeResult(%d).String() = %q: empty or duplicate", uint8(r), s)
		}
		seen[s] = true
	}
	if got := pkt.DecodeOK.String(); got != "OK" {
		t.Errorf("DecodeOK.String(): got %q, want OK", got)
	}
	if got := pkt.NumDecodeResults.String(); got != "DecodeResult(out of range)" {
		t.Errorf("out of range: got %q", got)
	}
}

// checkInvariants asserts what any Decode result promises about offsets.
func checkInvariants(t testing.TB, frame []byte, p *pkt.Parsed, r pkt.DecodeResult) {
	t.Helper()
	if r == pkt.DecodeInvalid || r >= pkt.NumDecodeResults {
		t.Fatalf("result %d out of range", r)
	}
	if r != pkt.DecodeOK {
		return
	}
	if p.L3Off < pkt.EtherHeaderLen || p.L3Off > len(frame) {
		t.Fatalf("L3Off %d outside frame of %d bytes", p.L3Off, len(frame))
	}
	if p.VLANs > 2 || int(p.L3Off) != pkt.EtherHeaderLen+int(p.VLANs)*pkt.VLANTagLen {
		t.Fatalf("VLANs %d does not match L3Off %d", p.VLANs, p.L3Off)
	}
	switch p.EtherType {
	case pkt.EtherTypeARP:
		if p.L3Off+pkt.ARPLen > len(frame) {
			t.Fatalf("ARP at %d runs past frame of %d bytes", p.L3Off, len(frame))
		}
		a := pkt.ARP(frame[p.L3Off:])
		_, _, _, _ = a.SHA(), a.SPA(), a.THA(), a.TPA()
		return
	case pkt.EtherTypeIPv4:
	default:
		t.Fatalf("DecodeOK with EtherType %#04x", p.EtherType)
	}
	end := p.L3Off + p.IPLen
	if p.IPLen < pkt.IPv4MinHeaderLen || end > len(frame) {
		t.Fatalf("IPLen %d at %d outside frame of %d bytes", p.IPLen, p.L3Off, len(frame))
	}
	ip := p.IP(frame)
	if ip.Src() != p.Src || ip.Dst() != p.Dst || ip.Protocol() != p.Proto {
		t.Fatalf("addresses or protocol differ from the IPv4 view")
	}
	if (p.Frag&pkt.FragMore != 0) != ip.MF() || (p.Frag&pkt.FragLater != 0) != (ip.FragOffset() != 0) || ip.IsFragment() != (p.Frag != 0) {
		t.Fatalf("Frag %d differs from the IPv4 view", p.Frag)
	}
	_, _ = ip.Payload(), ip.Options()
	_ = pkt.L4ChecksumValid(ip)
	if p.L4Off == 0 {
		if p.L4Len != 0 || p.SrcPort != 0 || p.DstPort != 0 || p.TCPFlags != 0 {
			t.Fatalf("no L4 header but L4Len %d, ports %d/%d, flags %#x", p.L4Len, p.SrcPort, p.DstPort, p.TCPFlags)
		}
		if p.Frag&pkt.FragLater == 0 {
			switch p.Proto {
			case pkt.ProtoTCP, pkt.ProtoUDP, pkt.ProtoICMP, pkt.ProtoIPIP:
				t.Fatalf("no L4 offset for protocol %d", p.Proto)
			}
		}
		return
	}
	if p.Frag&pkt.FragLater != 0 {
		t.Fatalf("L4Off %d in a non-first fragment", p.L4Off)
	}
	if p.L4Off != p.L3Off+ip.HeaderLen() || p.L4Off+p.L4Len != end {
		t.Fatalf("L4Off %d + L4Len %d != end of IP packet %d", p.L4Off, p.L4Len, end)
	}
	l4 := p.L4(frame)
	hdr := 0
	switch p.Proto {
	case pkt.ProtoTCP:
		h := pkt.TCP(l4)
		hdr = h.DataOffset()
		if hdr < pkt.TCPMinHeaderLen || h.SrcPort() != p.SrcPort || h.DstPort() != p.DstPort || h.Flags() != p.TCPFlags {
			t.Fatalf("TCP header differs from Parsed")
		}
		_ = h.Payload()
		_ = h.Options()
	case pkt.ProtoUDP:
		h := pkt.UDP(l4)
		hdr = pkt.UDPHeaderLen
		if h.SrcPort() != p.SrcPort || h.DstPort() != p.DstPort {
			t.Fatalf("UDP header differs from Parsed")
		}
		_ = h.Payload()
	case pkt.ProtoICMP:
		h := pkt.ICMPv4(l4)
		hdr = pkt.ICMPv4HeaderLen
		if h.Type() != p.ICMPType || h.Code() != p.ICMPCode {
			t.Fatalf("ICMP header differs from Parsed")
		}
		_ = h.Payload()
	}
	if hdr > p.L4Len {
		t.Fatalf("L4 header of %d bytes exceeds L4Len %d", hdr, p.L4Len)
	}
}

func FuzzDecode(f *testing.F) {
	for _, fr := range []pkttest.Frame{
		tcpFrame(), udpFrame(),
		{Src: client, Dst: vip, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, ICMPID: 1},
		{Src: client, Dst: vip, Proto: pkt.ProtoIPIP, Payload: tcpFrame().Build()[14:]},
		{Src: client, Dst: vip, Proto: pkt.ProtoTCP, VLAN: 3, OuterVLAN: 4, IPOptions: []byte{1, 1, 1, 0}},
		{Src: client, Dst: vip, Proto: pkt.ProtoUDP, MF: true, FragOffset: 64, Payload: []byte{1, 2}},
	} {
		f.Add(fr.Build())
	}
	f.Add(pkttest.ARPFrame(pkt.ARPReply, macA, client.As4(), macB, vip.As4()))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		var p pkt.Parsed
		checkInvariants(t, frame, &p, p.Decode(frame))
		checkInvariants(t, frame, &p, p.DecodeGSO(frame))
		if len(frame) >= pkt.EtherHeaderLen {
			r := p.DecodeIPv4(frame[pkt.EtherHeaderLen:])
			if r == pkt.DecodeOK {
				if p.L3Off != 0 || p.IPLen > len(frame)-pkt.EtherHeaderLen {
					t.Fatalf("DecodeIPv4: L3Off %d, IPLen %d", p.L3Off, p.IPLen)
				}
			}
		}
		if len(frame) >= pkt.IPv4MinHeaderLen {
			ip := pkt.IPv4(frame)
			_, _, _ = ip.Payload(), ip.Options(), ip.ChecksumValid()
			_ = pkt.L4ChecksumValid(ip)
		}
	})
}
