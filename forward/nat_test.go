package forward

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

var (
	rip   = netip.MustParseAddr("10.77.1.11")
	dip   = netip.MustParseAddr("10.77.1.1")
	lip   = netip.MustParseAddr("10.77.1.2")
	route = netip.MustParseAddr("10.77.0.1")
)

// Package-level sinks keep benchmark work alive.
var (
	sinkInt    int
	sinkBool   bool
	sinkBytes  []byte
	sinkQuoted Quoted
)

// decode decodes frame (with DecodeGSO, which accepts everything Decode
// does) or fails the test.
func decode(t testing.TB, frame []byte) pkt.Parsed {
	t.Helper()
	var p pkt.Parsed
	if r := p.DecodeGSO(frame); r != pkt.DecodeOK {
		t.Fatalf("decode: got %v, want OK", r)
	}
	return p
}

// withTCPOptions returns frame (a TCP frame from pkttest) with opts (a
// multiple of 4 bytes) inserted after the fixed TCP header, lengths and
// checksums fixed.
func withTCPOptions(t testing.TB, frame, opts []byte) []byte {
	t.Helper()
	p := decode(t, frame)
	hdrEnd := p.L4Off + pkt.TCPMinHeaderLen
	out := append(append(append([]byte(nil), frame[:hdrEnd]...), opts...), frame[hdrEnd:p.L3Off+p.IPLen]...)
	ip := pkt.IPv4(out[p.L3Off:])
	ip.SetTotalLen(uint16(p.IPLen + len(opts)))
	ip.ComputeChecksum()
	tcp := pkt.TCP(out[p.L4Off:])
	tcp.SetDataOffset(pkt.TCPMinHeaderLen + len(opts))
	fullL4Checksum(out, p.L3Off)
	return out
}

// fullL4Checksum recomputes the TCP or UDP checksum of the packet at
// frame[l3:] from scratch.
func fullL4Checksum(frame []byte, l3 int) {
	ip := pkt.IPv4(frame[l3:])
	l4 := frame[l3+ip.HeaderLen() : l3+int(ip.TotalLen())]
	sum := pkt.PseudoHeaderSum(ip.Src(), ip.Dst(), ip.Protocol(), uint16(len(l4)))
	switch ip.Protocol() {
	case pkt.ProtoTCP:
		pkt.TCP(l4).SetChecksum(0)
		pkt.TCP(l4).SetChecksum(pkt.Checksum(l4, sum))
	case pkt.ProtoUDP:
		pkt.UDP(l4).SetChecksum(0)
		c := pkt.Checksum(l4, sum)
		if c == 0 {
			c = 0xffff
		}
		pkt.UDP(l4).SetChecksum(c)
	}
}

// makePartial turns frame's complete L4 checksum into a pending one, as
// a CHECKSUM_PARTIAL frame carries it, and returns the matching Offload.
func makePartial(t testing.TB, frame []byte) Offload {
	t.Helper()
	p := decode(t, frame)
	l4 := frame[p.L4Off : p.L3Off+p.IPLen]
	o := Offload{NeedsCsum: true, CsumStart: uint16(p.L4Off)}
	partial := pkt.Fold(pkt.PseudoHeaderSum(p.Src, p.Dst, p.Proto, uint16(len(l4))))
	switch p.Proto {
	case pkt.ProtoTCP:
		o.CsumOffset = pkt.TCPChecksumOffset
		pkt.TCP(l4).SetChecksum(partial)
	case pkt.ProtoUDP:
		o.CsumOffset = pkt.UDPChecksumOffset
		pkt.UDP(l4).SetChecksum(partial)
	default:
		t.Fatalf("makePartial: protocol %d", p.Proto)
	}
	return o
}

func natFrames() []struct {
	name string
	f    pkttest.Frame
	opts []byte
} {
	return []struct {
		name string
		f    pkttest.Frame
		opts []byte
	}{
		{"TCP SYN", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn, Seq: 7}, nil},
		{"TCP with options, odd payload", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 40001, DstPort: 80, TCPFlags: pkt.TCPAck | pkt.TCPPsh, Payload: []byte("GET / HTTP/1.0\r\n\r\n!")},
			[]byte{2, 4, 5, 0xb4, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 4, 2}},
		{"TCP with IP options", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPAck, IPOptions: []byte{1, 1, 1, 0}, Payload: []byte("xy")}, nil},
		{"UDP", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 53, Payload: []byte("query")}, nil},
		{"UDP odd length, VLAN", pkttest.Frame{VLAN: 9, Proto: pkt.ProtoUDP, SrcPort: 65535, DstPort: 1, Payload: []byte{0xff, 0xff, 0xff}}, nil},
		{"UDP empty", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 2, DstPort: 53}, nil},
	}
}

func buildNAT(t testing.TB, f pkttest.Frame, opts []byte) []byte {
	b := f.Build()
	if opts != nil {
		b = withTCPOptions(t, b, opts)
	}
	return b
}

func TestDNATSNAT(t *testing.T) {
	for _, tt := range natFrames() {
		for _, partial := range []bool{false, true} {
			name := tt.name
			if partial {
				name += ", partial"
			}
			t.Run(name, func(t *testing.T) {
				// Inbound: client -> VIP:vport becomes client -> RIP:8080.
				in := tt.f
				in.SrcMAC, in.DstMAC, in.Src, in.Dst = clientMAC, dirMAC, client, vip
				frame := buildNAT(t, in, tt.opts)
				want := in
				want.Dst, want.DstPort = rip, 8080
				wantFrame := buildNAT(t, want, tt.opts)
				checkNAT(t, frame, wantFrame, partial, func(b []byte, p *pkt.Parsed, o *Offload) {
					DNAT(b, p, o, rip.As4(), 8080)
				})

				// Outbound: RIP:8080 -> client becomes VIP:vport -> client.
				out := tt.f
				out.SrcMAC, out.DstMAC, out.Src, out.Dst = rsMAC, dirMAC, rip, client
				out.SrcPort, out.DstPort = 8080, tt.f.SrcPort
				frame = buildNAT(t, out, tt.opts)
				want = out
				want.Src, want.SrcPort = vip, tt.f.DstPort
				wantFrame = buildNAT(t, want, tt.opts)
				checkNAT(t, frame, wantFrame, partial, func(b []byte, p *pkt.Parsed, o *Offload) {
					SNAT(b, p, o, vip.As4(), tt.f.DstPort)
				})
			})
		}
	}
}

// checkNAT applies rewrite to frame and compares the result with want,
// built from scratch, after completing a partial checksum.
func checkNAT(t *testing.T, frame, want []byte, partial bool, rewrite func([]byte, *pkt.Parsed, *Offload)) {
	t.Helper()
	var o Offload
	if partial {
		o = makePartial(t, frame)
	}
	p := decode(t, frame)
	rewrite(frame, &p, &o)
	if got := decode(t, frame); got != p {
		t.Errorf("Parsed after rewrite: got %+v, want %+v (a fresh decode)", p, got)
	}
	if partial {
		if !o.NeedsCsum || int(o.CsumStart) != p.L4Off {
			t.Errorf("offload changed: %+v", o)
		}
		if pkt.L4ChecksumValid(p.IP(frame)) {
			t.Errorf("partial checksum valid before completion")
		}
		if !CompleteChecksum(frame, &p, &o) || o.NeedsCsum {
			t.Fatalf("CompleteChecksum failed")
		}
	}
	pkttest.CheckIPv4(t, frame, pkttest.ValidChecksums())
	if !bytes.Equal(frame, want) {
		t.Errorf("rewritten frame differs from a rebuilt one:\n got %x\nwant %x", frame, want)
	}
}

func TestNATUDPNoChecksum(t *testing.T) {
	f := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 1000, DstPort: 53, Payload: []byte("abc")}
	frame := f.Build()
	p := decode(t, frame)
	pkt.UDP(frame[p.L4Off:]).SetChecksum(0)
	var o Offload
	DNAT(frame, &p, &o, rip.As4(), 5353)
	SNAT(frame, &p, &o, lip.As4(), 7000)
	if c := pkt.UDP(frame[p.L4Off:]).Checksum(); c != 0 {
		t.Errorf("UDP checksum: got %#04x, want 0 (none)", c)
	}
	pkttest.CheckIPv4(t, frame, pkttest.ValidChecksums(), pkttest.SrcIP(lip), pkttest.DstIP(rip), pkttest.SrcPort(7000), pkttest.DstPort(5353))
}

func TestNATFragments(t *testing.T) {
	// A non-first fragment has no ports: only the address changes, and
	// the bytes where a header would be stay untouched.
	f := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, FragOffset: 8, Payload: bytes.Repeat([]byte{0xab}, 30)}
	frame := f.Build()
	orig := append([]byte(nil), frame...)
	p := decode(t, frame)
	var o Offload
	DNAT(frame, &p, &o, rip.As4(), 8080)
	want := f
	want.Dst = rip
	if !bytes.Equal(frame, want.Build()) {
		t.Errorf("fragment rewrite:\n got %x\nwant %x", frame, want.Build())
	}
	if !bytes.Equal(frame[:14], orig[:14]) {
		t.Errorf("Ethernet header changed")
	}
	// The first fragment carries the checksum of the whole datagram: an
	// incremental update keeps it right for the reassembled datagram.
	whole := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 9, DstPort: 53, Payload: bytes.Repeat([]byte("0123456789"), 20)}.Build()
	wp := decode(t, whole)
	var frames [4][]byte
	var bufs [][]byte
	for i := range frames {
		frames[i] = make([]byte, 2048)
		bufs = append(bufs, frames[i])
	}
	sizes := make([]int, 4)
	n, err := FragmentIPv4(bufs, sizes, 0, whole, &wp, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		fp := decode(t, bufs[i][:sizes[i]])
		DNAT(bufs[i][:sizes[i]], &fp, &o, rip.As4(), 5353)
	}
	got := reassemble(t, bufs, sizes, n)
	wantW := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: rip, Proto: pkt.ProtoUDP, SrcPort: 9, DstPort: 5353, Payload: bytes.Repeat([]byte("0123456789"), 20)}.Build()
	wwp := decode(t, wantW)
	if !bytes.Equal(got, wwp.IP(wantW).Payload()) {
		t.Errorf("reassembled NATed datagram differs:\n got %x\nwant %x", got, wwp.IP(wantW).Payload())
	}
}

func TestCompleteChecksum(t *testing.T) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, Payload: []byte("hello")}.Build()
	want := append([]byte(nil), frame...)
	o := makePartial(t, frame)
	p := decode(t, frame)
	if !CompleteChecksum(frame, &p, &o) || o.NeedsCsum || !bytes.Equal(frame, want) {
		t.Errorf("CompleteChecksum: got %x, want %x", frame, want)
	}
	o = Offload{NeedsCsum: true, CsumStart: uint16(len(frame)), CsumOffset: 16}
	if CompleteChecksum(frame, &p, &o) || !o.NeedsCsum {
		t.Errorf("CompleteChecksum accepted a checksum outside the packet")
	}
}

// FuzzNAT checks that a NAT rewrite (complete or partial checksum) gives
// the frame a from-scratch build gives.
func FuzzNAT(f *testing.F) {
	f.Add([]byte("payload"), uint16(40000), uint16(80), uint32(0x0a4d010b), uint16(8080), false, false, true)
	f.Add([]byte{}, uint16(1), uint16(53), uint32(0xffffffff), uint16(0), true, true, false)
	f.Add([]byte{0xff, 0xff, 0xff}, uint16(0xffff), uint16(0xffff), uint32(0), uint16(0xffff), true, false, true)
	f.Fuzz(func(t *testing.T, payload []byte, sport, dport uint16, addr uint32, port uint16, udp, partial, dnat bool) {
		if len(payload) > 1400 {
			payload = payload[:1400]
		}
		a := [4]byte{byte(addr >> 24), byte(addr >> 16), byte(addr >> 8), byte(addr)}
		fr := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: sport, DstPort: dport, TCPFlags: pkt.TCPAck, Payload: payload}
		if udp {
			fr.Proto = pkt.ProtoUDP
		}
		frame := fr.Build()
		want := fr
		if dnat {
			want.Dst, want.DstPort = netip.AddrFrom4(a), port
		} else {
			want.Src, want.SrcPort = netip.AddrFrom4(a), port
		}
		wantFrame := want.Build()
		var o Offload
		if partial {
			o = makePartial(t, frame)
		}
		p := decode(t, frame)
		if dnat {
			DNAT(frame, &p, &o, a, port)
		} else {
			SNAT(frame, &p, &o, a, port)
		}
		if partial && !CompleteChecksum(frame, &p, &o) {
			t.Fatal("CompleteChecksum failed")
		}
		if !bytes.Equal(frame, wantFrame) {
			if !sameUpToZeroChecksum(frame, wantFrame, p) {
				t.Fatalf("rewrite differs from rebuild:\n got %x\nwant %x", frame, wantFrame)
			}
		}
	})
}

// sameUpToZeroChecksum accepts a TCP checksum of 0x0000 where a full
// computation gives 0xffff: both are one's complement zero, and RFC 1624's
// incremental update may give either.
func sameUpToZeroChecksum(got, want []byte, p pkt.Parsed) bool {
	if p.Proto != pkt.ProtoTCP || len(got) != len(want) {
		return false
	}
	c := p.L4Off + pkt.TCPChecksumOffset
	g, w := uint16(got[c])<<8|uint16(got[c+1]), uint16(want[c])<<8|uint16(want[c+1])
	if g^w != 0xffff || (g != 0 && w != 0) {
		return false
	}
	return bytes.Equal(got[:c], want[:c]) && bytes.Equal(got[c+2:], want[c+2:])
}

func BenchmarkDNAT(b *testing.B) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPAck, Payload: make([]byte, 1400)}.Build()
	var p pkt.Parsed
	p.Decode(frame)
	var o Offload
	r, v := rip.As4(), vip.As4()
	b.ReportAllocs()
	for b.Loop() {
		DNAT(frame, &p, &o, r, 8080)
		DNAT(frame, &p, &o, v, 80)
	}
}

func BenchmarkSNATPartial(b *testing.B) {
	frame := pkttest.Frame{SrcMAC: rsMAC, DstMAC: dirMAC, Src: rip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 8080, DstPort: 5000, Payload: make([]byte, 512)}.Build()
	o := makePartial(b, frame)
	var p pkt.Parsed
	p.Decode(frame)
	r, v := rip.As4(), vip.As4()
	b.ReportAllocs()
	for b.Loop() {
		SNAT(frame, &p, &o, v, 80)
		SNAT(frame, &p, &o, r, 8080)
	}
}
