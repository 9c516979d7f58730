package engine

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

// seg is a TCP segment for the SYN proxy tests, with options.
type seg struct {
	srcMAC, dstMAC   [6]byte
	src, dst         netip.Addr
	sport, dport     uint16
	seq, ack         uint32
	flags            uint8
	win              uint16
	opts             []byte
	payload          []byte
	mss, ws          int // -1: none
	sack, ts         bool
	tsval, tsecr     uint32
	sackEdges        []uint32
	withOptions      bool
	omitChecksumTest bool
}

// options returns s.opts, or the options its fields describe.
func (s seg) options() []byte {
	opts := s.opts
	if opts == nil {
		var b [40]byte
		n := 0
		if s.mss > 0 {
			b[0], b[1], b[2], b[3] = 2, 4, byte(s.mss>>8), byte(s.mss)
			n = 4
		}
		if s.ts {
			b[n], b[n+1] = 1, 1
			if s.sack {
				b[n], b[n+1] = 4, 2
			}
			n += 2 + copy(b[n+2:], []byte{8, 10, byte(s.tsval >> 24), byte(s.tsval >> 16), byte(s.tsval >> 8), byte(s.tsval),
				byte(s.tsecr >> 24), byte(s.tsecr >> 16), byte(s.tsecr >> 8), byte(s.tsecr)})
		} else if s.sack {
			n += copy(b[n:], []byte{1, 1, 4, 2})
		}
		if s.ws >= 0 && s.mss > 0 {
			n += copy(b[n:], []byte{1, 3, 3, byte(s.ws)})
		}
		if len(s.sackEdges) > 0 {
			n += copy(b[n:], []byte{1, 1, 5, byte(2 + 4*len(s.sackEdges))})
			for _, e := range s.sackEdges {
				n += copy(b[n:], []byte{byte(e >> 24), byte(e >> 16), byte(e >> 8), byte(e)})
			}
		}
		opts = b[:n]
	}
	return opts
}

func (s seg) build() []byte {
	opts := s.options()
	buf := make([]byte, 14+60+len(s.payload))
	eth := pkt.Ether(buf)
	eth.SetDst(s.dstMAC)
	eth.SetSrc(s.srcMAC)
	eth.SetEtherType(pkt.EtherTypeIPv4)
	win := s.win
	if win == 0 {
		win = 1000
	}
	l := synproxy.Build(buf[14:], s.src.As4(), s.dst.As4(), s.sport, s.dport, s.seq, s.ack, s.flags, win, opts, 1)
	// Add the payload and fix the lengths and checksums.
	copy(buf[14+l:], s.payload)
	total := l + len(s.payload)
	ip := pkt.IPv4(buf[14 : 14+total])
	ip.SetTotalLen(uint16(total))
	ip.SetChecksum(0)
	ip.ComputeChecksum()
	tcp := pkt.TCP(buf[14+20 : 14+total])
	tcp.SetChecksum(0)
	tcp.SetChecksum(pkt.Checksum(tcp, pkt.PseudoHeaderSum(s.src.As4(), s.dst.As4(), pkt.ProtoTCP, uint16(len(tcp)))))
	return buf[:14+total]
}

func parseTCP(t *testing.T, frame []byte) (pkt.TCP, synproxy.Options) {
	t.Helper()
	var p pkt.Parsed
	if p.Decode(frame) != pkt.DecodeOK || p.Proto != pkt.ProtoTCP {
		t.Fatalf("not a TCP frame")
	}
	tcp := pkt.TCP(frame[p.L4Off : p.L4Off+p.L4Len])
	return tcp, synproxy.ParseOptions(tcp.Options())
}

func proxyWorker(t testing.TB, fullnat bool) (*worker, *memLink, *memLink, *vs.Table, netip.Addr) {
	w, outside, inside, tbl := natWorker(t)
	svc := tbl.Services[0]
	svc.Flags |= vs.SvcSynProxy
	src := client // the source the real server sees
	if fullnat {
		lip := netip.MustParseAddr("10.77.1.200")
		svc.LocalAddrs = [][4]byte{lip.As4()}
		svc.Dests[0].Method = vs.FullNAT
		src = lip
	}
	tbl = vs.NewTable(2, []*vs.Service{svc}, nil)
	tbl.Routes = []vs.IPRoute{{Prefix: netip.MustParsePrefix("10.77.1.0/24"), Iface: 1}, {Prefix: netip.MustParsePrefix("10.77.0.0/24"), Iface: 0}}
	m := neighMap{client.As4(): clientMAC}
	w.neigh.m.Store(&m)
	return w, outside, inside, tbl, src
}

func TestSynProxy(t *testing.T) {
	for _, fullnat := range []bool{false, true} {
		name := "NAT"
		if fullnat {
			name = "FULLNAT"
		}
		t.Run(name, func(t *testing.T) { testSynProxy(t, fullnat) })
	}
}

func testSynProxy(t *testing.T, fullnat bool) {
	rsISN := uint32(0xfffffff0) // the real server's ISN: numbers wrap
	w, outside, inside, tbl, src := proxyWorker(t, fullnat)
	cl := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client, dst: vip, sport: 40000, dport: 80}

	// 1. The client's SYN is answered by the director: a cookie, the
	// client's options; no connection, nothing to the real server.
	syn := cl
	syn.seq, syn.flags, syn.mss, syn.ws, syn.sack, syn.ts, syn.tsval = 999, pkt.TCPSyn, 1460, 7, true, true, 5000
	outside.queue(syn.build())
	step(w, tbl, 100)
	if n := len(inside.takeOut()); n != 0 || w.ct.Len() != 0 {
		t.Fatalf("SYN: %d frames to the real server, %d connections; want none", n, w.ct.Len())
	}
	out := outside.takeOut()
	if len(out) != 1 {
		t.Fatalf("SYN: %d frames back, want a SYN-ACK", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(clientMAC), pkttest.SrcMAC(dirMAC), pkttest.SrcIP(vip), pkttest.DstIP(client),
		pkttest.SrcPort(80), pkttest.DstPort(40000), pkttest.TCPFlags(pkt.TCPSyn|pkt.TCPAck), pkttest.Ack(1000), pkttest.ValidChecksums())
	sa, o := parseTCP(t, out[0])
	cookie := sa.Seq()
	ourTS := o.TSVal
	if o.MSS != 1460 || !o.HasWScale || o.WScale != synproxy.OurWScale || !o.SACKPerm || !o.HasTS || o.TSEcr != 5000 {
		t.Errorf("SYN-ACK options %+v", o)
	}

	// 2. An ACK with a wrong cookie: counted, dropped, nothing opened.
	bad := cl
	bad.seq, bad.ack, bad.flags, bad.mss, bad.ws = 1000, cookie+2, pkt.TCPAck, -1, -1
	outside.queue(bad.build())
	step(w, tbl, 101)
	if w.ct.Len() != 0 || len(inside.takeOut()) != 0 || w.c.synAckInvalid.Load() != 1 || w.c.drops[ReasonBadCookie].Load() != 1 {
		t.Fatalf("bad cookie: %d connections, invalid %d", w.ct.Len(), w.c.synAckInvalid.Load())
	}

	// 3. The client's ACK with its request: the connection opens, the
	// SYN goes to the real server with the client's ISN and options, the
	// request waits.
	ack := cl
	ack.seq, ack.ack, ack.flags, ack.mss, ack.ws, ack.ts, ack.tsval, ack.tsecr = 1000, cookie+1, pkt.TCPAck|pkt.TCPPsh, -1, -1, true, 5001, ourTS
	ack.payload = []byte("GET / HTTP/1.0\r\n\r\n")
	ack.win = 502
	outside.queue(ack.build())
	step(w, tbl, 102)
	if w.ct.Len() != 1 || w.c.synAckValid.Load() != 1 || w.c.synQueued.Load() != 1 {
		t.Fatalf("ACK: %d connections, valid %d, queued %d", w.ct.Len(), w.c.synAckValid.Load(), w.c.synQueued.Load())
	}
	in := inside.takeOut()
	if len(in) != 1 {
		t.Fatalf("ACK: %d frames to the real server, want its SYN", len(in))
	}
	pkttest.CheckIPv4(t, in[0], pkttest.DstMAC(rsNATMAC), pkttest.SrcMAC(insideMAC), pkttest.SrcIP(src), pkttest.DstIP(ripNAT),
		pkttest.DstPort(8080), pkttest.TCPFlags(pkt.TCPSyn), pkttest.Seq(999), pkttest.ValidChecksums())
	rsSyn, o := parseTCP(t, in[0])
	if o.MSS != 1460 || !o.HasWScale || o.WScale != 7 || !o.SACKPerm || !o.HasTS || o.TSVal != 5001 || o.TSEcr != 0 {
		t.Errorf("SYN to the real server: options %+v", o)
	}
	if got := rsSyn.Window(); got != 502<<7 {
		t.Errorf("SYN window %d, want 502<<7", got)
	}
	lport := rsSyn.SrcPort()

	// 4. The real server's SYN-ACK: the director ACKs it and sends the
	// request, translated; the client sees nothing.
	rs := seg{srcMAC: rsNATMAC, dstMAC: insideMAC, src: ripNAT, dst: src, sport: 8080, dport: lport}
	rsa := rs
	rsa.seq, rsa.ack, rsa.flags, rsa.mss, rsa.ws, rsa.sack, rsa.ts, rsa.tsval, rsa.tsecr = 0xfffffff0, 1000, pkt.TCPSyn|pkt.TCPAck, 1460, 9, true, true, 70000, 5001
	inside.queue(rsa.build())
	step(w, tbl, 110)
	if n := len(outside.takeOut()); n != 0 {
		t.Errorf("real server's SYN-ACK reached the client (%d frames)", n)
	}
	in = inside.takeOut()
	if len(in) != 2 {
		t.Fatalf("SYN-ACK: %d frames to the real server, want the ACK and the request", len(in))
	}
	pkttest.CheckIPv4(t, in[0], pkttest.DstMAC(rsNATMAC), pkttest.SrcIP(src), pkttest.DstIP(ripNAT), pkttest.TCPFlags(pkt.TCPAck),
		pkttest.Seq(1000), pkttest.Ack(0xfffffff1), pkttest.ValidChecksums())
	if _, o := parseTCP(t, in[0]); o.TSVal != 5001 || o.TSEcr != 70000 {
		t.Errorf("ACK to the real server: timestamps %d %d, want 5001 70000", o.TSVal, o.TSEcr)
	}
	pkttest.CheckIPv4(t, in[1], pkttest.DstMAC(rsNATMAC), pkttest.SrcIP(src), pkttest.DstIP(ripNAT), pkttest.DstPort(8080),
		pkttest.Seq(1000), pkttest.Ack(0xfffffff1), pkttest.Payload(ack.payload), pkttest.ValidChecksums())
	// The request's echo of our timestamp is now on the real server's clock.
	tsoff := 70000 - uint32(110)
	if _, o := parseTCP(t, in[1]); o.TSEcr != ourTS+tsoff {
		t.Errorf("request's timestamp echo %d, want %d", o.TSEcr, ourTS+tsoff)
	}
	if w.c.synOpened.Load() != 1 {
		t.Errorf("opened %d, want 1", w.c.synOpened.Load())
	}

	// 5. The real server's answer reaches the client in the client's
	// numbers: seq from the cookie, timestamp on our clock, window from
	// scale 9 to 7.
	data := rs
	data.seq, data.ack, data.flags, data.mss, data.ws, data.ts, data.tsval, data.tsecr = 0xfffffff1, 1018, pkt.TCPAck, -1, -1, true, 70005, 5001
	data.win, data.payload = 100, []byte("HTTP/1.0 200 OK\r\n")
	inside.queue(data.build())
	step(w, tbl, 120)
	out = outside.takeOut()
	if len(out) != 1 {
		t.Fatalf("answer: %d frames to the client", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(clientMAC), pkttest.SrcIP(vip), pkttest.SrcPort(80), pkttest.DstIP(client), pkttest.DstPort(40000),
		pkttest.Seq(cookie+1), pkttest.Ack(1018), pkttest.Payload(data.payload), pkttest.ValidChecksums())
	tcp, o := parseTCP(t, out[0])
	if o.TSVal != 70005-tsoff || o.TSEcr != 5001 || tcp.Window() != 400 {
		t.Errorf("answer: TSval %d TSecr %d window %d; want %d 5001 400", o.TSVal, o.TSEcr, tcp.Window(), 70005-tsoff)
	}

	// 6. The client's ACK with a SACK block: ack and SACK edges in the
	// real server's numbers.
	cack := cl
	cack.seq, cack.ack, cack.flags, cack.mss, cack.ws = 1018, cookie+1+17, pkt.TCPAck, -1, -1
	cack.sackEdges = []uint32{cookie + 100, cookie + 200}
	outside.queue(cack.build())
	step(w, tbl, 130)
	in = inside.takeOut()
	if len(in) != 1 {
		t.Fatalf("client's ACK: %d frames", len(in))
	}
	pkttest.CheckIPv4(t, in[0], pkttest.Seq(1018), pkttest.Ack(rsISN+1+17), pkttest.ValidChecksums())
	tcp, _ = parseTCP(t, in[0])
	opts := tcp.Options()
	if e1, e2 := be32(opts[4:]), be32(opts[8:]); e1 != rsISN+100 || e2 != rsISN+200 {
		t.Errorf("SACK edges %#x %#x, want %#x %#x", e1, e2, rsISN+100, rsISN+200)
	}
	d := tbl.Dest(1)
	if d.State.ActiveConns.Load() != 1 {
		t.Errorf("active connections %d, want 1", d.State.ActiveConns.Load())
	}
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// TestSynProxyFlood: SYNs from many sources get cookies and leave no
// connection; the real server sees nothing.
func TestSynProxyFlood(t *testing.T) {
	w, outside, inside, tbl, _ := proxyWorker(t, false)
	for i := range 200 {
		s := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), dst: vip,
			sport: uint16(1024 + i), dport: 80, seq: uint32(i * 7919), flags: pkt.TCPSyn, mss: 1460, ws: -1}
		outside.queue(s.build())
		if i%50 == 49 {
			step(w, tbl, uint32(i))
		}
	}
	if got := len(outside.takeOut()); got != 200 {
		t.Errorf("%d SYN-ACKs, want 200", got)
	}
	if w.ct.Len() != 0 || len(inside.takeOut()) != 0 {
		t.Errorf("flood: %d connections, frames to the real server", w.ct.Len())
	}
	if w.c.synCookies.Load() != 200 {
		t.Errorf("cookies sent %d, want 200", w.c.synCookies.Load())
	}
}

// TestSynProxyRefused: the real server resets the SYN; the client gets the
// reset at the sequence number it expects.
func TestSynProxyRefused(t *testing.T) {
	w, outside, inside, tbl, src := proxyWorker(t, false)
	o, ack := proxySYNACK(t, w, outside, tbl, -1)
	if o.MSS != 1460 || o.HasTS || o.HasWScale || o.SACKPerm {
		t.Errorf("SYN-ACK to a client without options: %+v", o)
	}
	outside.queue(ack.build())
	step(w, tbl, 1)
	if _, o := parseTCP(t, inside.takeOut()[0]); o.MSS != 536 || o.HasTS || o.HasWScale || o.SACKPerm {
		t.Errorf("SYN to the real server for a client without options: %+v", o)
	}
	rst := seg{srcMAC: rsNATMAC, dstMAC: insideMAC, src: ripNAT, dst: src, sport: 8080, dport: 40000, ack: 11,
		flags: pkt.TCPRst | pkt.TCPAck, mss: -1, ws: -1}
	inside.queue(rst.build())
	step(w, tbl, 2)
	out := outside.takeOut()
	if len(out) != 1 {
		t.Fatalf("reset: %d frames to the client", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.TCPFlags(pkt.TCPRst|pkt.TCPAck), pkttest.Seq(ack.ack), pkttest.SrcIP(vip), pkttest.ValidChecksums())
}

func TestSynProxyAllocs(t *testing.T) {
	w, outside, _, tbl, _ := proxyWorker(t, false)
	_ = outside
	syn := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client, dst: vip, sport: 40000, dport: 80, seq: 1, flags: pkt.TCPSyn,
		mss: 1460, ws: 7, sack: true, ts: true}.build()
	buf := make([]byte, 256+len(syn))
	p := packet{buf: buf, off: 256, n: len(syn)}
	w.now = 1
	allocs := testing.AllocsPerRun(1000, func() {
		copy(buf[256:], syn)
		w.tx = w.tx[:0]
		w.scr.reset()
		w.process(&p, tbl, 1)
	})
	if allocs != 0 {
		t.Errorf("SYN proxy path allocates %v times per SYN, want 0", allocs)
	}
}

// openProxied runs a proxied connection's handshake through w (client
// 10.77.0.10:40000, no timestamps) and returns a data segment of the
// client's on it.
func openProxied(tb testing.TB, w *worker, outside, inside *memLink, tbl *vs.Table, src netip.Addr) []byte {
	cl := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client, dst: vip, sport: 40000, dport: 80, mss: 1460, ws: 7, sack: true}
	syn := cl
	syn.seq, syn.flags = 999, pkt.TCPSyn
	outside.queue(syn.build())
	step(w, tbl, 1)
	out := outside.takeOut()
	if len(out) != 1 {
		tb.Fatalf("no SYN-ACK")
	}
	var p pkt.Parsed
	p.Decode(out[0])
	cookie := pkt.TCP(out[0][p.L4Off:]).Seq()
	ack := cl
	ack.seq, ack.ack, ack.flags, ack.mss, ack.ws, ack.sack = 1000, cookie+1, pkt.TCPAck, -1, -1, false
	outside.queue(ack.build())
	step(w, tbl, 2)
	in := inside.takeOut()
	if len(in) != 1 {
		tb.Fatalf("no SYN to the real server")
	}
	p.Decode(in[0])
	lport := pkt.TCP(in[0][p.L4Off:]).SrcPort()
	rsa := seg{srcMAC: rsNATMAC, dstMAC: insideMAC, src: ripNAT, dst: src, sport: 8080, dport: lport, seq: 5000, ack: 1000,
		flags: pkt.TCPSyn | pkt.TCPAck, mss: 1460, ws: 7, sack: true}
	inside.queue(rsa.build())
	step(w, tbl, 3)
	inside.takeOut()
	data := cl
	data.seq, data.ack, data.flags, data.mss, data.ws, data.sack = 1000, cookie+1, pkt.TCPAck|pkt.TCPPsh, -1, -1, false
	data.sackEdges = []uint32{cookie + 100, cookie + 200}
	data.payload = make([]byte, 1000)
	return data.build()
}

// BenchmarkSynProxyEstablished: a client's segment (with a SACK block) on
// a proxied NAT connection; compare BenchmarkNATEstablished.
func BenchmarkSynProxyEstablished(b *testing.B) {
	w, outside, inside, tbl, src := proxyWorker(b, false)
	benchFrame(b, w, tbl, openProxied(b, w, outside, inside, tbl, src))
}

// BenchmarkNATEstablished is the same segment on a NAT connection without
// the proxy: the baseline.
func BenchmarkNATEstablished(b *testing.B) {
	w, outside, _, tbl := natWorker(b)
	m := neighMap{client.As4(): clientMAC}
	w.neigh.m.Store(&m)
	cl := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client, dst: vip, sport: 40000, dport: 80, mss: 1460, ws: 7, sack: true}
	syn := cl
	syn.seq, syn.flags = 999, pkt.TCPSyn
	outside.queue(syn.build())
	step(w, tbl, 1)
	data := cl
	data.seq, data.ack, data.flags, data.mss, data.ws, data.sack = 1000, 77, pkt.TCPAck|pkt.TCPPsh, -1, -1, false
	data.sackEdges = []uint32{100, 200}
	data.payload = make([]byte, 1000)
	benchFrame(b, w, tbl, data.build())
}

func benchFrame(b *testing.B, w *worker, tbl *vs.Table, frame []byte) {
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		copy(buf[256:], frame)
		w.tx = w.tx[:0]
		sinkForwarded = w.process(&p, tbl, 4)
		if !sinkForwarded {
			b.Fatal("not forwarded")
		}
	}
}

// BenchmarkSynProxySYN: SYNs from distinct sources answered with a
// cookie; compare BenchmarkNATNewConn, where each SYN is scheduled,
// inserted and forwarded.
func BenchmarkSynProxySYN(b *testing.B) {
	w, _, _, tbl, _ := proxyWorker(b, false)
	benchSYNs(b, w, tbl, false)
}

// BenchmarkNATNewConn is the baseline of BenchmarkSynProxySYN.
func BenchmarkNATNewConn(b *testing.B) {
	w, _, _, tbl := natWorker(b)
	benchSYNs(b, w, tbl, true)
}

func benchSYNs(b *testing.B, w *worker, tbl *vs.Table, forwarded bool) {
	// A table that fits the caches: a big one measures page faults.
	const capacity = 1 << 16
	w.ct = conntrack.New(conntrack.Config{Capacity: capacity})
	frame := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client, dst: vip, sport: 40000, dport: 80, seq: 1, flags: pkt.TCPSyn,
		mss: 1460, ws: 7, sack: true, ts: true}.build()
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		copy(buf[256:], frame)
		i++
		pkt.IPv4(buf[256+pkt.EtherHeaderLen:]).SetSrc([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		w.tx = w.tx[:0]
		w.scr.reset()
		if w.process(&p, tbl, 1) != forwarded {
			b.Fatal("unexpected verdict")
		}
		if i%(capacity/2) == 0 {
			b.StopTimer()
			w.ct = conntrack.New(conntrack.Config{Capacity: capacity})
			b.StartTimer()
		}
	}
}

// TestSynProxyRetry: the real server does not answer and the client has
// nothing to send (the server speaks first): the director sends the SYN
// again, 1 s then 2 s later, and stops watching once the side is open.
func TestSynProxyRetry(t *testing.T) {
	w, outside, inside, tbl, src := proxyWorker(t, false)
	_, ack := proxySYNACK(t, w, outside, tbl, 1460)
	outside.queue(ack.build())
	step(w, tbl, 100)
	if n := len(inside.takeOut()); n != 1 {
		t.Fatalf("%d SYNs to the real server, want 1", n)
	}
	for _, tc := range []struct {
		now  uint32
		syns int
	}{{600, 0}, {1100, 1}, {2000, 0}, {3100, 1}, {4000, 0}} {
		w.proxyRetry(tbl, tick0(tc.now))
		in := inside.takeOut()
		if len(in) != tc.syns {
			t.Fatalf("at %d ms: %d SYNs, want %d", tc.now, len(in), tc.syns)
		}
		for _, f := range in {
			pkttest.CheckIPv4(t, f, pkttest.TCPFlags(pkt.TCPSyn), pkttest.Seq(10), pkttest.SrcIP(src), pkttest.ValidChecksums())
		}
	}
	if w.c.synRetries.Load() != 2 || w.sp.nopening != 1 {
		t.Errorf("retries %d, watched %d; want 2, 1", w.c.synRetries.Load(), w.sp.nopening)
	}
	rsa := seg{srcMAC: rsNATMAC, dstMAC: insideMAC, src: ripNAT, dst: src, sport: 8080, dport: 40000, seq: 77, ack: 11,
		flags: pkt.TCPSyn | pkt.TCPAck, mss: 1460, ws: -1}
	inside.queue(rsa.build())
	step(w, tbl, 4100)
	if n := len(inside.takeOut()); n != 1 {
		t.Fatalf("%d frames after the SYN-ACK, want the ACK", n)
	}
	w.proxyRetry(tbl, tick0(9000))
	if n := len(inside.takeOut()); n != 0 || w.sp.nopening != 0 {
		t.Errorf("open connection: %d SYNs, still watched %d", n, w.sp.nopening)
	}
}

// TestSynProxyVLAN: the SYN-ACK goes back on the VLAN the SYN came on
// (its tag taken off by RX offload).
func TestSynProxyVLAN(t *testing.T) {
	w, _, _, tbl, _ := proxyWorker(t, false)
	syn := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client, dst: vip, sport: 40000, dport: 80, seq: 1, flags: pkt.TCPSyn,
		mss: 1460, ws: -1}.build()
	buf := make([]byte, 256+len(syn))
	copy(buf[256:], syn)
	p := packet{buf: buf, off: 256, n: len(syn), status: tpStatusVLANValid, vlanTCI: 42}
	w.tx = w.tx[:0]
	w.process(&p, tbl, 1)
	if len(w.tx) != 1 {
		t.Fatalf("%d frames queued, want the SYN-ACK", len(w.tx))
	}
	pkttest.CheckIPv4(t, w.tx[0].frame(), pkttest.VLAN(42), pkttest.TCPFlags(pkt.TCPSyn|pkt.TCPAck), pkttest.ValidChecksums())
}

// TestSynProxyPaddedACK: a bare ACK padded to Ethernet's 60 bytes carries
// no data: it completes the handshake, nothing is queued.
func TestSynProxyPaddedACK(t *testing.T) {
	w, outside, inside, tbl, _ := proxyWorker(t, false)
	_, ack := proxySYNACK(t, w, outside, tbl, -1)
	frame := ack.build()
	if len(frame) >= 60 {
		t.Fatalf("bare ACK of %d bytes", len(frame))
	}
	frame = append(frame, make([]byte, 60-len(frame))...)
	outside.queue(frame)
	step(w, tbl, 1)
	if w.c.synQueued.Load() != 0 || w.c.synAbsorbed.Load() != 1 || len(inside.takeOut()) != 1 {
		t.Errorf("padded ACK: queued %d, absorbed %d", w.c.synQueued.Load(), w.c.synAbsorbed.Load())
	}
}

// TestSynProxyNoMAC: the real server's MAC is not known when the cookie
// ACK comes: the ACK is counted as no_neighbour, the connection stays, and
// its SYN goes once the MAC is known.
func TestSynProxyNoMAC(t *testing.T) {
	w, outside, inside, tbl, _ := proxyWorker(t, false)
	tbl.Dest(1).State.ClearMAC()
	_, ack := proxySYNACK(t, w, outside, tbl, -1)
	outside.queue(ack.build())
	step(w, tbl, 1)
	if len(inside.takeOut()) != 0 || w.c.drops[ReasonNoNeighbour].Load() != 1 || w.ct.Len() != 1 {
		t.Fatalf("no MAC: drops %d, %d connections", w.c.drops[ReasonNoNeighbour].Load(), w.ct.Len())
	}
	w.proxyRetry(tbl, tick0(2))
	if len(inside.takeOut()) != 0 {
		t.Fatal("SYN sent without a MAC")
	}
	tbl.Dest(1).State.SetMAC(rsNATMAC)
	w.proxyRetry(tbl, tick0(3))
	if n := len(inside.takeOut()); n != 1 {
		t.Errorf("%d SYNs once the MAC is known, want 1", n)
	}
}

// proxySYNACK sends the client's SYN (ISN 10, MSS mss or none for -1)
// through w and returns the director's SYN-ACK's options and the client's
// bare ACK to it.
func proxySYNACK(t *testing.T, w *worker, outside *memLink, tbl *vs.Table, mss int) (synproxy.Options, seg) {
	t.Helper()
	cl := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client, dst: vip, sport: 40000, dport: 80, mss: mss, ws: -1}
	syn := cl
	syn.seq, syn.flags = 10, pkt.TCPSyn
	outside.queue(syn.build())
	step(w, tbl, 0)
	out := outside.takeOut()
	if len(out) != 1 {
		t.Fatalf("SYN: %d frames back, want the SYN-ACK", len(out))
	}
	sa, o := parseTCP(t, out[0])
	ack := cl
	ack.seq, ack.ack, ack.flags, ack.mss = 11, sa.Seq()+1, pkt.TCPAck, -1
	return o, ack
}
