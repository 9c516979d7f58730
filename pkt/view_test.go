package pkt_test

import (
	"bytes"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

func TestEther(t *testing.T) {
	b := make([]byte, pkt.EtherHeaderLen)
	e := pkt.Ether(b)
	e.SetDst(macA)
	e.SetSrc(macB)
	e.SetEtherType(pkt.EtherTypeARP)
	if e.Dst() != macA || e.Src() != macB || e.EtherType() != pkt.EtherTypeARP {
		t.Errorf("got dst %x src %x type %#04x", e.Dst(), e.Src(), e.EtherType())
	}
	want := []byte{2, 0, 0, 0, 0, 0x0a, 2, 0, 0, 0, 0, 0x0b, 0x08, 0x06}
	if !bytes.Equal(b, want) {
		t.Errorf("bytes: got %x, want %x", b, want)
	}
}

func TestARP(t *testing.T) {
	spa, tpa := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	b := make([]byte, pkt.ARPLen)
	a := pkt.ARP(b)
	a.SetHeader(pkt.ARPRequest)
	a.SetSHA(macA)
	a.SetSPA(spa)
	a.SetTHA(macB)
	a.SetTPA(tpa)
	// RFC 826 layout, written out by hand.
	want := mustHex(t, "0001"+"0800"+"06"+"04"+"0001"+"02000000000a"+"0a000001"+"02000000000b"+"0a000002")
	if !bytes.Equal(b, want) {
		t.Fatalf("bytes:\n got %x\nwant %x", b, want)
	}
	if a.HType() != 1 || a.PType() != pkt.EtherTypeIPv4 || a.HLen() != 6 || a.PLen() != 4 || a.Op() != pkt.ARPRequest {
		t.Errorf("header: got %d %#04x %d %d %d", a.HType(), a.PType(), a.HLen(), a.PLen(), a.Op())
	}
	if a.SHA() != macA || a.SPA() != spa || a.THA() != macB || a.TPA() != tpa {
		t.Errorf("addresses: got %x %v %x %v", a.SHA(), a.SPA(), a.THA(), a.TPA())
	}
	a.SetOp(pkt.ARPReply)
	if a.Op() != pkt.ARPReply {
		t.Errorf("Op after SetOp: got %d, want %d", a.Op(), pkt.ARPReply)
	}
}

func TestIPv4View(t *testing.T) {
	b := make([]byte, 28+4)
	h := pkt.IPv4(b)
	h.SetHeaderLen(24)
	h.SetTOS(0xb8)
	h.SetTotalLen(28)
	h.SetID(0xbeef)
	h.SetFlagsFragOff(pkt.IPv4FlagDF|pkt.IPv4FlagMF, 1480)
	h.SetTTL(64)
	h.SetProtocol(pkt.ProtoUDP)
	h.SetSrc([4]byte{192, 0, 2, 1})
	h.SetDst([4]byte{198, 51, 100, 7})
	copy(b[20:], []byte{1, 1, 1, 0, 9, 9, 9, 9})
	h.ComputeChecksum()

	if h.Version() != 4 || h.HeaderLen() != 24 || h.TOS() != 0xb8 || h.TotalLen() != 28 || h.ID() != 0xbeef {
		t.Errorf("fields: version %d hl %d tos %#x total %d id %#x", h.Version(), h.HeaderLen(), h.TOS(), h.TotalLen(), h.ID())
	}
	if h.Flags() != pkt.IPv4FlagDF|pkt.IPv4FlagMF || !h.DF() || !h.MF() || h.FragOffset() != 1480 || !h.IsFragment() {
		t.Errorf("flags %#x df %v mf %v off %d frag %v", h.Flags(), h.DF(), h.MF(), h.FragOffset(), h.IsFragment())
	}
	if h.TTL() != 64 || h.Protocol() != pkt.ProtoUDP || h.Src() != [4]byte{192, 0, 2, 1} || h.Dst() != [4]byte{198, 51, 100, 7} {
		t.Errorf("ttl %d proto %d src %v dst %v", h.TTL(), h.Protocol(), h.Src(), h.Dst())
	}
	if !bytes.Equal(h.Options(), []byte{1, 1, 1, 0}) {
		t.Errorf("Options: got %x", h.Options())
	}
	if !bytes.Equal(h.Payload(), []byte{9, 9, 9, 9}) {
		t.Errorf("Payload: got %x, want 09090909 (no trailing bytes)", h.Payload())
	}
	if !h.ChecksumValid() {
		t.Errorf("ChecksumValid after ComputeChecksum: got false")
	}
	// Flags and offset bytes on the wire: 011 then 1480/8 = 185.
	if got := b[6:8]; !bytes.Equal(got, []byte{0x60, 0xb9}) {
		t.Errorf("flags/offset bytes: got %x, want 60b9", got)
	}

	h.DecTTL()
	if h.TTL() != 63 || !h.ChecksumValid() {
		t.Errorf("DecTTL: TTL %d, checksum valid %v", h.TTL(), h.ChecksumValid())
	}

	h.SetFlagsFragOff(pkt.IPv4FlagDF, 0)
	if h.IsFragment() || h.MF() || !h.DF() {
		t.Errorf("DF only: fragment %v mf %v df %v", h.IsFragment(), h.MF(), h.DF())
	}
}

func TestIPv4ViewClamps(t *testing.T) {
	tests := []struct {
		name        string
		verIHL      byte
		total       uint16
		wantPayload int // -1: nil
		wantOptions int // -1: nil
	}{
		{name: "IHL below 5", verIHL: 0x44, total: 24, wantPayload: -1, wantOptions: -1},
		{name: "IHL past the slice", verIHL: 0x4f, total: 24, wantPayload: -1, wantOptions: -1},
		{name: "total below IHL", verIHL: 0x45, total: 10, wantPayload: -1, wantOptions: -1},
		{name: "total past the slice", verIHL: 0x45, total: 100, wantPayload: 4, wantOptions: -1},
		{name: "total 0 (TSO)", verIHL: 0x45, total: 0, wantPayload: -1, wantOptions: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, 24)
			b[0] = tt.verIHL
			pkt.IPv4(b).SetTotalLen(tt.total)
			h := pkt.IPv4(b)
			check := func(what string, got []byte, want int) {
				if want < 0 && got != nil || want >= 0 && len(got) != want {
					t.Errorf("%s: got %d bytes (nil %v), want %d", what, len(got), got == nil, want)
				}
			}
			check("Payload", h.Payload(), tt.wantPayload)
			check("Options", h.Options(), tt.wantOptions)
			h.ComputeChecksum() // must not panic
		})
	}
}

func TestTCPView(t *testing.T) {
	b := make([]byte, 28)
	h := pkt.TCP(b)
	h.SetSrcPort(1234)
	h.SetDstPort(80)
	h.SetSeq(0xdeadbeef)
	h.SetAck(0x01020304)
	h.SetDataOffset(24)
	h.SetFlags(pkt.TCPSyn | pkt.TCPAck | pkt.TCPEce)
	h.SetWindow(29200)
	h.SetChecksum(0xabcd)
	h.SetUrgentPtr(7)
	copy(b[20:], []byte{2, 4, 5, 0xb4, 'd', 'a', 't', 'a'})
	want := mustHex(t, "04d2"+"0050"+"deadbeef"+"01020304"+"60"+"52"+"7210"+"abcd"+"0007"+"020405b4"+"64617461")
	if !bytes.Equal(b, want) {
		t.Fatalf("bytes:\n got %x\nwant %x", b, want)
	}
	if h.SrcPort() != 1234 || h.DstPort() != 80 || h.Seq() != 0xdeadbeef || h.Ack() != 0x01020304 || h.DataOffset() != 24 ||
		h.Flags() != pkt.TCPSyn|pkt.TCPAck|pkt.TCPEce || h.Window() != 29200 || h.Checksum() != 0xabcd || h.UrgentPtr() != 7 {
		t.Errorf("fields do not read back")
	}
	if !bytes.Equal(h.Options(), []byte{2, 4, 5, 0xb4}) || string(h.Payload()) != "data" {
		t.Errorf("Options %x Payload %q", h.Options(), h.Payload())
	}
	h.SetDataOffset(60)
	if h.Options() != nil || h.Payload() != nil {
		t.Errorf("data offset past the slice: Options %x Payload %x, want nil", h.Options(), h.Payload())
	}
}

func TestUDPView(t *testing.T) {
	b := make([]byte, 14)
	u := pkt.UDP(b)
	u.SetSrcPort(5353)
	u.SetDstPort(53)
	u.SetLength(12)
	u.SetChecksum(0x1234)
	copy(b[8:], "abcdef")
	want := mustHex(t, "14e9"+"0035"+"000c"+"1234"+"616263646566")
	if !bytes.Equal(b, want) {
		t.Fatalf("bytes:\n got %x\nwant %x", b, want)
	}
	if u.SrcPort() != 5353 || u.DstPort() != 53 || u.Length() != 12 || u.Checksum() != 0x1234 {
		t.Errorf("fields do not read back")
	}
	if string(u.Payload()) != "abcd" {
		t.Errorf("Payload: got %q, want %q (by Length)", u.Payload(), "abcd")
	}
	u.SetLength(100)
	if string(u.Payload()) != "abcdef" {
		t.Errorf("Payload, Length past the slice: got %q", u.Payload())
	}
	u.SetLength(3)
	if u.Payload() != nil {
		t.Errorf("Payload, Length below 8: got %q, want nil", u.Payload())
	}
}

func TestICMPv4View(t *testing.T) {
	b := make([]byte, 12)
	i := pkt.ICMPv4(b)
	i.SetType(pkt.ICMPEchoRequest)
	i.SetCode(0)
	i.SetID(0x1234)
	i.SetSeq(9)
	copy(b[8:], "ping")
	i.ComputeChecksum()
	if i.Type() != 8 || i.Code() != 0 || i.ID() != 0x1234 || i.Seq() != 9 || string(i.Payload()) != "ping" {
		t.Errorf("fields do not read back")
	}
	if pkt.Fold(pkt.Sum(b, 0)) != 0xffff {
		t.Errorf("ComputeChecksum: message does not verify")
	}
	i.SetType(pkt.ICMPDestUnreachable)
	i.SetCode(pkt.ICMPFragNeeded)
	i.SetMTU(1480)
	if i.MTU() != 1480 || i.ID() != 0 || !bytes.Equal(b[4:8], []byte{0, 0, 0x05, 0xc8}) {
		t.Errorf("SetMTU: bytes %x", b[4:8])
	}
	i.SetChecksum(0x1111)
	if i.Checksum() != 0x1111 {
		t.Errorf("Checksum: got %#04x", i.Checksum())
	}
	if pkt.ICMPv4(b[:4]).Payload() != nil {
		t.Errorf("Payload of a 4-byte slice: want nil")
	}
}

func TestICMPIsError(t *testing.T) {
	for typ := range 256 {
		want := typ == 3 || typ == 4 || typ == 5 || typ == 11 || typ == 12
		if got := pkt.ICMPIsError(uint8(typ)); got != want {
			t.Errorf("ICMPIsError(%d): got %v, want %v", typ, got, want)
		}
	}
}

func TestL4ChecksumValid(t *testing.T) {
	ip := func(f pkttest.Frame) pkt.IPv4 { return pkt.IPv4(f.Build()[pkt.EtherHeaderLen:]) }
	corrupt := func(b pkt.IPv4, at int) pkt.IPv4 { b[at] ^= 0x40; return b }
	noUDPSum := ip(udpFrame())
	pkt.UDP(noUDPSum[20:]).SetChecksum(0)
	echo := pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, ICMPID: 5, Payload: []byte("x")}
	tcpData := tcpFrame()
	tcpData.Payload = bytes.Repeat([]byte("0123456789"), 150)
	tests := []struct {
		name string
		ip   pkt.IPv4
		want bool
	}{
		{name: "TCP", ip: ip(tcpFrame()), want: true},
		{name: "TCP 1500 bytes", ip: ip(tcpData), want: true},
		{name: "TCP with Ethernet padding", ip: append(ip(tcpFrame()), 1, 2, 3), want: true},
		{name: "TCP payload corrupted", ip: corrupt(ip(tcpData), 700), want: false},
		{name: "TCP source address corrupted", ip: corrupt(ip(tcpFrame()), 13), want: false},
		{name: "UDP", ip: ip(udpFrame()), want: true},
		{name: "UDP corrupted", ip: corrupt(ip(udpFrame()), 30), want: false},
		{name: "UDP no checksum", ip: noUDPSum, want: true},
		{name: "UDP length past the packet", ip: func() pkt.IPv4 { b := ip(udpFrame()); pkt.UDP(b[20:]).SetLength(100); return b }(), want: false},
		{name: "ICMP", ip: ip(echo), want: true},
		{name: "ICMP corrupted", ip: corrupt(ip(echo), 28), want: false},
		{name: "fragment", ip: ip(func() pkttest.Frame { f := tcpFrame(); f.MF = true; return f }()), want: false},
		{name: "other protocol", ip: ip(pkttest.Frame{Src: client, Dst: vip, Proto: 47, Payload: make([]byte, 8)}), want: false},
		{name: "truncated", ip: ip(tcpFrame())[:39], want: false},
		{name: "TCP header short", ip: func() pkt.IPv4 { b := ip(tcpFrame()); b.SetTotalLen(30); return b }(), want: false},
		{name: "below 20 bytes", ip: pkt.IPv4(make([]byte, 10)), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pkt.L4ChecksumValid(tt.ip); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNATRewrite walks the rewrite a NAT forwarder does, with incremental
// updates only, and checks the result against a freshly built packet.
func TestNATRewrite(t *testing.T) {
	for _, proto := range []uint8{pkt.ProtoTCP, pkt.ProtoUDP} {
		in := tcpFrame()
		if proto == pkt.ProtoUDP {
			in = udpFrame()
		}
		in.Payload = []byte("hello, real server")
		frame := in.Build()
		var p pkt.Parsed
		if r := p.Decode(frame); r != pkt.DecodeOK {
			t.Fatalf("decode: %v", r)
		}
		ip := p.IP(frame)
		newDst, newPort := rip.As4(), uint16(8080)
		ip.SetChecksum(pkt.Update32(ip.Checksum(), ip.Dst(), newDst))
		l4 := p.L4(frame)
		if proto == pkt.ProtoTCP {
			h := pkt.TCP(l4)
			c := pkt.Update32(h.Checksum(), ip.Dst(), newDst)
			h.SetChecksum(pkt.Update16(c, h.DstPort(), newPort))
			h.SetDstPort(newPort)
		} else {
			h := pkt.UDP(l4)
			c := pkt.UpdateUDP32(h.Checksum(), ip.Dst(), newDst)
			h.SetChecksum(pkt.UpdateUDP16(c, h.DstPort(), newPort))
			h.SetDstPort(newPort)
		}
		ip.SetDst(newDst)
		ip.DecTTL()

		want := in
		want.Dst, want.DstPort, want.TTL = rip, newPort, 63
		if exp := want.Build(); !bytes.Equal(frame, exp) {
			t.Errorf("protocol %d: rewritten frame\n got %x\nwant %x", proto, frame, exp)
		}
		pkttest.CheckIPv4(t, frame, pkttest.DstIP(rip), pkttest.DstPort(8080), pkttest.TTL(63), pkttest.ValidChecksums())
	}
}
