package forward

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// quote returns the IPv4 packet of f's frame cut to its header plus n
// bytes (all of it for n < 0), as an ICMP error quotes it.
func quote(f pkttest.Frame, n int) []byte {
	b := f.Build()
	var p pkt.Parsed
	p.Decode(b)
	ip := b[p.L3Off : p.L3Off+p.IPLen]
	if n >= 0 && pkt.IPv4(ip).HeaderLen()+n < len(ip) {
		ip = ip[:pkt.IPv4(ip).HeaderLen()+n]
	}
	return ip
}

// icmpErr builds an ICMP error frame from src to dst quoting q.
func icmpErr(src, dst netip.Addr, typ, code uint8, info uint32, q []byte) pkttest.Frame {
	return pkttest.Frame{SrcMAC: rsMAC, DstMAC: dirMAC, Src: src, Dst: dst, Proto: pkt.ProtoICMP, ICMPType: typ, ICMPCode: code,
		ICMPID: uint16(info >> 16), ICMPSeq: uint16(info), TTL: 60, Payload: q}
}

// The flows of the tests: client 10.77.0.10:40000 -> VIP:80, real server
// RIP:8080; FULLNAT uses LIP:5000 towards the real server.
var (
	reqToRS   = pkttest.Frame{Src: client, Dst: rip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 8080, TCPFlags: pkt.TCPSyn, Seq: 99}
	reqToVIP  = pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn, Seq: 99}
	replyUDP  = pkttest.Frame{Src: vip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 53, DstPort: 40000, Payload: []byte("answer")}
	replyRSUD = pkttest.Frame{Src: rip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 40000, Payload: []byte("answer")}
)

func TestParseICMPError(t *testing.T) {
	ipip := func(inner pkttest.Frame, df bool) []byte {
		inner.DF = df
		in := quote(inner, -1)
		return quote(pkttest.Frame{Src: dip, Dst: rip, Proto: pkt.ProtoIPIP, DF: df, Payload: in}, len(in))
	}
	badSum := icmpErr(route, vip, 3, 3, 0, quote(replyUDP, 8)).Build()
	badSum[len(badSum)-1] ^= 1
	tests := []struct {
		name  string
		frame []byte
		ok    bool
		want  Quoted // offsets not compared
	}{
		{"port unreachable quoting TCP", icmpErr(rip, client, 3, 3, 0, quote(reqToRS, 8)).Build(), true,
			Quoted{Type: 3, Code: 3, Proto: pkt.ProtoTCP, Src: client.As4(), Dst: rip.As4(), SrcPort: 40000, DstPort: 8080}},
		{"time exceeded quoting UDP, whole", icmpErr(route, vip, 11, 0, 0, quote(replyUDP, -1)).Build(), true,
			Quoted{Type: 11, Proto: pkt.ProtoUDP, Src: vip.As4(), Dst: client.As4(), SrcPort: 53, DstPort: 40000}},
		{"frag needed, MTU", icmpErr(route, vip, 3, 4, 1400, quote(replyUDP, 8)).Build(), true,
			Quoted{Type: 3, Code: 4, Info: 1400, Proto: pkt.ProtoUDP, Src: vip.As4(), Dst: client.As4(), SrcPort: 53, DstPort: 40000}},
		{"source quench, only the ports quoted", icmpErr(route, vip, 4, 0, 0, quote(replyUDP, 4)).Build(), true,
			Quoted{Type: 4, Proto: pkt.ProtoUDP, Src: vip.As4(), Dst: client.As4(), SrcPort: 53, DstPort: 40000}},
		{"quote with IP options", icmpErr(route, vip, 3, 1, 0, quote(pkttest.Frame{Src: vip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, IPOptions: []byte{1, 1, 1, 1}}, 8)).Build(), true,
			Quoted{Type: 3, Code: 1, Proto: pkt.ProtoUDP, Src: vip.As4(), Dst: client.As4(), SrcPort: 1, DstPort: 2}},
		{"IPIP quote", icmpErr(route, dip, 3, 4, 1400, ipip(reqToVIP, true)).Build(), true,
			Quoted{Type: 3, Code: 4, Info: 1400, Proto: pkt.ProtoTCP, Src: client.As4(), Dst: vip.As4(), SrcPort: 40000, DstPort: 80,
				IPIP: true, TunSrc: dip.As4(), TunDst: rip.As4()}},
		{"ports cut", icmpErr(route, vip, 3, 3, 0, quote(replyUDP, 3)).Build(), false, Quoted{}},
		{"quoted header cut", icmpErr(route, vip, 3, 3, 0, quote(replyUDP, 0)[:19]).Build(), false, Quoted{}},
		{"bad checksum", badSum, false, Quoted{}},
		{"redirect", icmpErr(route, vip, 5, 1, 0, quote(replyUDP, 8)).Build(), false, Quoted{}},
		{"parameter problem", icmpErr(route, vip, 12, 0, 0, quote(replyUDP, 8)).Build(), false, Quoted{}},
		{"echo request", icmpErr(client, vip, 8, 0, 0, []byte("ping")).Build(), false, Quoted{}},
		{"quoted non-first fragment", icmpErr(route, vip, 11, 1, 0, quote(pkttest.Frame{Src: vip, Dst: client, Proto: pkt.ProtoUDP, FragOffset: 8, Payload: make([]byte, 16)}, 8)).Build(), false, Quoted{}},
		{"quoted ICMP", icmpErr(route, vip, 3, 3, 0, quote(pkttest.Frame{Src: vip, Dst: client, Proto: pkt.ProtoICMP, ICMPType: 0}, 8)).Build(), false, Quoted{}},
		{"quoted version 6", icmpErr(route, vip, 3, 3, 0, append([]byte{0x65}, quote(replyUDP, 8)[1:]...)).Build(), false, Quoted{}},
		{"fragmented ICMP", func() []byte { f := icmpErr(route, vip, 3, 3, 0, quote(replyUDP, 8)); f.MF = true; return f.Build() }(), false, Quoted{}},
		{"TCP", replyUDP.Build(), false, Quoted{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := decode(t, tt.frame)
			q, ok := ParseICMPError(tt.frame, &p)
			if ok != tt.ok {
				t.Fatalf("ok: got %v, want %v", ok, tt.ok)
			}
			if !ok {
				if q != (Quoted{}) {
					t.Errorf("refused error returned %+v", q)
				}
				return
			}
			got := q
			got.IPOff, got.PortsOff, got.TunOff, got.TunDF = 0, 0, 0, false
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if uint16(tt.frame[q.PortsOff])<<8|uint16(tt.frame[q.PortsOff+1]) != q.SrcPort || pkt.IPv4(tt.frame[q.IPOff:]).Src() != q.Src {
				t.Errorf("offsets do not point at the quoted header and ports")
			}
			if q.IPIP && (!q.TunDF || pkt.IPv4(tt.frame[q.TunOff:]).Protocol() != pkt.ProtoIPIP) {
				t.Errorf("IPIP quote: DF %v, TunOff %d", q.TunDF, q.TunOff)
			}
		})
	}
}

func TestNATICMP(t *testing.T) {
	tests := []struct {
		name    string
		in      pkttest.Frame
		rewrite func([]byte, *pkt.Parsed) bool
		want    pkttest.Frame
	}{
		// ip_vs_out_icmp: the real server refuses a forwarded packet; the
		// client must see the VIP, never the RIP.
		{"out: RS port unreachable", icmpErr(rip, client, 3, 3, 0, quote(reqToRS, 8)),
			func(b []byte, p *pkt.Parsed) bool { return NATICMP(b, p, true, vip.As4(), 80) },
			icmpErr(vip, client, 3, 3, 0, quote(reqToVIP, 8))},
		{"out: whole quote", icmpErr(rip, client, 3, 3, 0, quote(reqToRS, -1)),
			func(b []byte, p *pkt.Parsed) bool { return NATICMP(b, p, true, vip.As4(), 80) },
			icmpErr(vip, client, 3, 3, 0, quote(reqToVIP, -1))},
		// ip_vs_in_icmp: a router towards the client reports a reply;
		// the real server gets it about its own packet.
		{"in: time exceeded for a reply", icmpErr(route, vip, 11, 0, 0, quote(replyUDP, 8)),
			func(b []byte, p *pkt.Parsed) bool { return NATICMP(b, p, false, rip.As4(), 5353) },
			icmpErr(route, rip, 11, 0, 0, quote(replyRSUD, 8))},
		{"in: frag needed keeps the MTU", icmpErr(route, vip, 3, 4, 1280, quote(replyUDP, 8)),
			func(b []byte, p *pkt.Parsed) bool { return NATICMP(b, p, false, rip.As4(), 5353) },
			icmpErr(route, rip, 3, 4, 1280, quote(replyRSUD, 8))},
		// FULLNAT: the real server talks to LIP:5000.
		{"fullnat out", icmpErr(rip, lip, 3, 3, 0, quote(pkttest.Frame{Src: lip, Dst: rip, Proto: pkt.ProtoTCP, SrcPort: 5000, DstPort: 8080, TCPFlags: pkt.TCPSyn, Seq: 99}, 8)),
			func(b []byte, p *pkt.Parsed) bool {
				return NATICMPFull(b, p, true, vip.As4(), 80, client.As4(), 40000)
			},
			icmpErr(vip, client, 3, 3, 0, quote(reqToVIP, 8))},
		{"fullnat in", icmpErr(route, vip, 11, 0, 0, quote(replyUDP, 8)),
			func(b []byte, p *pkt.Parsed) bool {
				return NATICMPFull(b, p, false, rip.As4(), 5353, lip.As4(), 5000)
			},
			icmpErr(lip, rip, 11, 0, 0, quote(pkttest.Frame{Src: rip, Dst: lip, Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 5000, Payload: []byte("answer")}, 8))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := tt.in.Build()
			p := decode(t, frame)
			if !tt.rewrite(frame, &p) {
				t.Fatal("rewrite refused")
			}
			if got := decode(t, frame); got != p {
				t.Errorf("Parsed: got %+v, want %+v", p, got)
			}
			pkttest.CheckIPv4(t, frame, pkttest.ValidChecksums())
			q, ok := ParseICMPError(frame, &p)
			if !ok || !pkt.IPv4(frame[q.IPOff:]).ChecksumValid() {
				t.Errorf("rewritten error: parse %v, quoted header checksum wrong", ok)
			}
			want := tt.want.Build()
			// The kernel leaves the quoted packet's own L4 checksum alone:
			// where the quote holds it, take it from the input.
			c := q.PortsOff + pkt.UDPChecksumOffset
			if q.Proto == pkt.ProtoTCP {
				c = q.PortsOff + pkt.TCPChecksumOffset
			}
			if c+2 <= len(frame) {
				wp := decode(t, want)
				copy(want[c:c+2], frame[c:c+2])
				pkt.ICMPv4(wp.L4(want)).ComputeChecksum()
			}
			if !bytes.Equal(frame, want) {
				t.Errorf("rewritten error differs from a rebuilt one:\n got %x\nwant %x", frame, want)
			}
		})
	}
	// Refusals leave the frame alone.
	for _, f := range []pkttest.Frame{icmpErr(route, vip, 5, 0, 0, quote(replyUDP, 8)), reqToVIP,
		icmpErr(route, dip, 3, 4, 1400, quote(pkttest.Frame{Src: dip, Dst: rip, Proto: pkt.ProtoIPIP, Payload: quote(reqToVIP, -1)}, 40))} {
		frame := f.Build()
		orig := append([]byte(nil), frame...)
		p := decode(t, frame)
		if NATICMP(frame, &p, true, vip.As4(), 80) || NATICMPFull(frame, &p, true, vip.As4(), 80, client.As4(), 1) || !bytes.Equal(frame, orig) {
			t.Errorf("%v: not refused, or changed", f.ICMPType)
		}
	}
}

func TestPortUnreachable(t *testing.T) {
	big := pattern(1000)
	tests := []struct {
		name  string
		f     pkttest.Frame
		quote int // bytes of the IP packet quoted; 0: no answer
	}{
		{"TCP SYN", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 81, TCPFlags: pkt.TCPSyn, TOS: 0x1f}, 40},
		{"UDP, VLAN", pkttest.Frame{VLAN: 4, Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: 53, Payload: []byte("q")}, 29},
		{"big UDP: 548 bytes quoted", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: 53, Payload: big}, ICMPQuoteMax},
		{"first fragment", pkttest.Frame{Proto: pkt.ProtoUDP, MF: true, SrcPort: 1, DstPort: 53, Payload: make([]byte, 16)}, 44},
		{"echo request", pkttest.Frame{Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, Payload: []byte("x")}, 29},
		{"later fragment", pkttest.Frame{Proto: pkt.ProtoUDP, FragOffset: 8, Payload: make([]byte, 16)}, 0},
		{"ICMP error", icmpErr(route, vip, 3, 3, 0, quote(replyUDP, 8)), 0},
		{"ICMP of unknown type", pkttest.Frame{Proto: pkt.ProtoICMP, ICMPType: 40}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.SrcMAC, f.DstMAC, f.Src, f.Dst = clientMAC, dirMAC, client, vip
			frame := f.Build()
			orig := append([]byte(nil), frame...)
			p := decode(t, frame)
			buf := make([]byte, 0, MaxICMPErrorFrame)
			out := PortUnreachable(buf, frame, &p, dirMAC, vip.As4(), 77)
			if !bytes.Equal(frame, orig) {
				t.Errorf("offending frame changed")
			}
			if tt.quote == 0 {
				if out != nil {
					t.Errorf("got an answer, want none")
				}
				return
			}
			if &out[0] != &buf[:1][0] {
				t.Errorf("result not built in buf")
			}
			pkttest.CheckIPv4(t, out, pkttest.DstMAC(clientMAC), pkttest.SrcMAC(dirMAC), pkttest.VLAN(f.VLAN),
				pkttest.SrcIP(vip), pkttest.DstIP(client), pkttest.TTL(64), pkttest.TOS(0xc0|f.TOS&0x1e), pkttest.DF(false),
				pkttest.IPID(77), pkttest.ICMPType(3), pkttest.ICMPCode(3), pkttest.ICMPMTU(0), pkttest.ValidChecksums(),
				pkttest.Payload(p.IP(frame)[:tt.quote]), pkttest.IPLen(28+tt.quote))
			// The client can relate it: the quote parses back to its flow.
			op := decode(t, out)
			if q, ok := ParseICMPError(out, &op); f.Proto != pkt.ProtoICMP && (!ok || q.Src != client.As4() || q.Dst != vip.As4() || q.DstPort != f.DstPort) {
				t.Errorf("quote does not parse back: %+v %v", q, ok)
			}
		})
	}
	for _, bad := range []struct{ src, dst netip.Addr }{
		{netip.MustParseAddr("0.0.0.0"), vip}, {netip.MustParseAddr("224.0.0.1"), vip},
		{netip.MustParseAddr("127.0.0.1"), vip}, {client, netip.MustParseAddr("255.255.255.255")}, {client, netip.MustParseAddr("239.1.1.1")},
	} {
		frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: bad.src, Dst: bad.dst, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2}.Build()
		p := decode(t, frame)
		if out := PortUnreachable(nil, frame, &p, dirMAC, vip.As4(), 1); out != nil {
			t.Errorf("%v -> %v: answered", bad.src, bad.dst)
		}
	}
	// A short buffer is replaced.
	frame := reqToVIP.Build()
	p := decode(t, frame)
	if out := PortUnreachable(make([]byte, 10), frame, &p, dirMAC, vip.As4(), 1); len(out) != 14+28+40 {
		t.Errorf("short buffer: got %d bytes", len(out))
	}
}

func TestFragNeeded(t *testing.T) {
	f := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck, DF: true, Payload: pattern(1460)}
	frame := f.Build()
	p := decode(t, frame)
	mtu, _ := TunnelMTU(1500)
	if !NeedsFragNeeded(frame, &p, &Offload{}, mtu) {
		t.Fatal("1500-byte DF packet fits a tunnel of 1480")
	}
	out := FragNeeded(nil, frame, &p, mtu, dirMAC, vip.As4(), 3)
	pkttest.CheckIPv4(t, out, pkttest.DstMAC(clientMAC), pkttest.SrcIP(vip), pkttest.DstIP(client), pkttest.ICMPType(3),
		pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1480), pkttest.ValidChecksums(), pkttest.IPLen(576))
	if FragNeeded(nil, frame, &p, 70000, dirMAC, vip.As4(), 3) != nil {
		t.Errorf("MTU 70000 accepted")
	}
}

func TestRelayTunnelError(t *testing.T) {
	inner := func(df bool) []byte {
		in := reqToVIP
		in.DF = df
		return quote(in, -1)
	}
	tunnelled := func(df bool) []byte {
		inner := inner(df)
		return quote(pkttest.Frame{Src: dip, Dst: rip, Proto: pkt.ProtoIPIP, DF: df, TTL: 63, Payload: inner}, len(inner))
	}
	clientHop := [6]byte{2, 0, 0, 0, 0, 1}
	tests := []struct {
		name     string
		f        pkttest.Frame
		mtu      int
		want     bool
		wantInfo uint16
	}{
		{"frag needed, DF", icmpErr(route, dip, 3, 4, 1400, tunnelled(true)), 1400, true, 1380},
		{"frag needed, small MTU kept", icmpErr(route, dip, 3, 4, 80, tunnelled(true)), 80, true, 80},
		{"frag needed without DF: ignored", icmpErr(route, dip, 3, 4, 1400, tunnelled(false)), 1400, false, 0},
		{"host unreachable", icmpErr(route, dip, 3, 1, 0, tunnelled(false)), 1500, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := tt.f.Build()
			p := decode(t, frame)
			q, ok := ParseICMPError(frame, &p)
			if !ok || !q.IPIP {
				t.Fatalf("ParseICMPError: %+v %v", q, ok)
			}
			out := RelayTunnelError(nil, frame, &q, tt.mtu, clientHop, dirMAC, vip.As4(), 5)
			if (out != nil) != tt.want {
				t.Fatalf("answered %v, want %v", out != nil, tt.want)
			}
			if out == nil {
				return
			}
			pkttest.CheckIPv4(t, out, pkttest.DstMAC(clientHop), pkttest.SrcMAC(dirMAC), pkttest.SrcIP(vip), pkttest.DstIP(client),
				pkttest.ICMPType(q.Type), pkttest.ICMPCode(q.Code), pkttest.ICMPMTU(tt.wantInfo), pkttest.ValidChecksums(),
				pkttest.Payload(inner(q.TunDF)))
		})
	}
	nq := Quoted{}
	if RelayTunnelError(nil, nil, &nq, 1500, clientHop, dirMAC, vip.As4(), 5) != nil {
		t.Errorf("non-IPIP quote relayed")
	}
}

// FuzzParseICMPError feeds arbitrary ICMP error bodies: no panic, offsets
// inside the frame, and a NAT rewrite of anything accepted gives a frame
// that parses again, with valid checksums and the new tuple.
func FuzzParseICMPError(f *testing.F) {
	f.Add(uint8(3), uint8(3), quote(reqToRS, 8))
	f.Add(uint8(11), uint8(0), quote(replyUDP, -1))
	f.Add(uint8(3), uint8(4), quote(pkttest.Frame{Src: dip, Dst: rip, Proto: pkt.ProtoIPIP, Payload: quote(reqToVIP, -1)}, 48))
	f.Add(uint8(4), uint8(0), []byte{0x4f, 0, 0, 0})
	f.Fuzz(func(t *testing.T, typ, code uint8, body []byte) {
		if len(body) > 1400 {
			return
		}
		frame := icmpErr(route, vip, typ, code, 0, body).Build()
		var p pkt.Parsed
		if p.Decode(frame) != pkt.DecodeOK {
			return
		}
		q, ok := ParseICMPError(frame, &p)
		if !ok {
			if NATICMP(frame, &p, true, rip.As4(), 1) {
				t.Fatal("NATICMP accepted what ParseICMPError refused")
			}
			return
		}
		if q.PortsOff+4 > len(frame) || q.IPOff+20 > q.PortsOff {
			t.Fatalf("offsets out of range: %+v, frame %d", q, len(frame))
		}
		if q.IPIP {
			if NATICMP(frame, &p, false, rip.As4(), 1) {
				t.Fatal("NATICMP rewrote an IPIP quote")
			}
			return
		}
		if !NATICMP(frame, &p, false, rip.As4(), 4242) {
			t.Fatal("NATICMP refused")
		}
		pkttest.CheckIPv4(t, frame, pkttest.ValidChecksums(), pkttest.DstIP(rip))
		q2, ok := ParseICMPError(frame, &p)
		if !ok || q2.Src != rip.As4() || q2.SrcPort != 4242 || q2.Dst != q.Dst || q2.DstPort != q.DstPort || !pkt.IPv4(frame[q2.IPOff:]).ChecksumValid() {
			t.Fatalf("after NATICMP: %+v %v", q2, ok)
		}
	})
}

func BenchmarkParseICMPError(b *testing.B) {
	frame := icmpErr(rip, client, 3, 3, 0, quote(reqToRS, 8)).Build()
	var p pkt.Parsed
	p.Decode(frame)
	b.ReportAllocs()
	for b.Loop() {
		sinkQuoted, sinkBool = ParseICMPError(frame, &p)
	}
}

func BenchmarkNATICMP(b *testing.B) {
	frame := icmpErr(rip, client, 3, 3, 0, quote(reqToRS, 8)).Build()
	var p pkt.Parsed
	p.Decode(frame)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = NATICMP(frame, &p, true, vip.As4(), 80)
	}
}

func BenchmarkPortUnreachable(b *testing.B) {
	frame := reqToVIP.Build()
	var p pkt.Parsed
	p.Decode(frame)
	buf := make([]byte, 0, MaxICMPErrorFrame)
	b.ReportAllocs()
	for b.Loop() {
		sinkBytes = PortUnreachable(buf, frame, &p, dirMAC, vip.As4(), 1)
	}
}
