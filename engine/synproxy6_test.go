package engine

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

// build6 is build for an IPv6 segment.
func (s seg) build6() []byte {
	opts := s.options()
	buf := make([]byte, 14+60+len(opts)+len(s.payload))
	eth := pkt.Ether(buf)
	eth.SetDst(s.dstMAC)
	eth.SetSrc(s.srcMAC)
	eth.SetEtherType(pkt.EtherTypeIPv6)
	win := s.win
	if win == 0 {
		win = 1000
	}
	l := synproxy.Build6(buf[14:], s.src.As16(), s.dst.As16(), s.sport, s.dport, s.seq, s.ack, s.flags, win, opts)
	copy(buf[14+l:], s.payload)
	total := l + len(s.payload)
	ip := pkt.IPv6(buf[14 : 14+total])
	ip.SetPayloadLen(uint16(total - pkt.IPv6HeaderLen))
	tcp := pkt.TCP(buf[14+pkt.IPv6HeaderLen : 14+total])
	tcp.SetChecksum(0)
	tcp.SetChecksum(pkt.Checksum(tcp, pkt.PseudoHeaderSum6(s.src.As16(), s.dst.As16(), pkt.ProtoTCP, uint32(len(tcp)))))
	return buf[:14+total]
}

// tcp6Of decodes an IPv6 TCP frame (checksum checked) and its options.
func tcp6Of(t *testing.T, f []byte) (*pkt.Parsed6, pkt.TCP, synproxy.Options) {
	t.Helper()
	p := decoded6(t, f)
	if p.Proto != pkt.ProtoTCP {
		t.Fatalf("not TCP")
	}
	tcp := pkt.TCP(f[p.L4Off : p.L4Off+p.L4Len])
	return p, tcp, synproxy.ParseOptions(tcp.Options())
}

// proxy6Worker is fullnat6Worker with the SYN proxy on the TCP service,
// its real server a NAT66 one unless fullnat.
func proxy6Worker(t testing.TB, fullnat bool) (*worker, *memLink, *memLink, *vs.Table) {
	w, outside, inside, tbl := fullnat6Worker(t)
	svc := tbl.Service(1)
	svc.Flags |= vs.SvcSynProxy
	if !fullnat {
		svc.Dests[0].Method = vs.Masq
	}
	return w, outside, inside, tbl
}

// TestIPv6SynProxy runs a proxied IPv6 connection, NAT66 and FULLNAT: the
// cookie SYN-ACK from the VIP (MSS the link's less 60), a bad cookie
// refused, the ACK opening the real server's side with the client's ISN
// and options (MSS as the IPv6 cookie table keeps it, window scale,
// SACK, timestamps), the request queued and sent once the real server
// answers, and the answer in the client's numbers.
func TestIPv6SynProxy(t *testing.T) {
	for _, fullnat := range []bool{false, true} {
		t.Run(map[bool]string{false: "NAT66", true: "FULLNAT"}[fullnat], func(t *testing.T) {
			w, outside, inside, tbl := proxy6Worker(t, fullnat)
			cl := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client6, dst: vip6, sport: 40000, dport: 80}

			syn := cl
			syn.seq, syn.flags, syn.mss, syn.ws, syn.sack, syn.ts, syn.tsval = 999, pkt.TCPSyn, 1430, 7, true, true, 5000
			outside.queue(syn.build6())
			step(w, tbl, 100)
			if n := len(inside.takeOut()); n != 0 || w.ct6 != nil && w.ct6.Len() != 0 {
				t.Fatalf("SYN: %d frames to the real server or a connection", n)
			}
			out := outside.takeOut()
			if len(out) != 1 {
				t.Fatalf("SYN: %d frames back, want a SYN-ACK", len(out))
			}
			p, sa, o := tcp6Of(t, out[0])
			if p.Src != vip6.As16() || p.Dst != client6.As16() || p.SrcPort != 80 || p.DstPort != 40000 || pkt.Ether(out[0]).Dst() != clientMAC ||
				sa.Flags() != pkt.TCPSyn|pkt.TCPAck || sa.Ack() != 1000 {
				t.Fatalf("SYN-ACK %+v flags %#x ack %d", p, sa.Flags(), sa.Ack())
			}
			if o.MSS != 1440 || !o.HasWScale || o.WScale != synproxy.OurWScale || !o.SACKPerm || !o.HasTS || o.TSEcr != 5000 {
				t.Errorf("SYN-ACK options %+v", o)
			}
			cookie, ourTS := sa.Seq(), o.TSVal

			bad := cl
			bad.seq, bad.ack, bad.flags, bad.mss, bad.ws = 1000, cookie+2, pkt.TCPAck, -1, -1
			outside.queue(bad.build6())
			step(w, tbl, 101)
			if len(inside.takeOut()) != 0 || w.c.synAckInvalid.Load() != 1 || w.c.drops[ReasonBadCookie].Load() != 1 {
				t.Fatalf("bad cookie: invalid %d", w.c.synAckInvalid.Load())
			}

			ack := cl
			ack.seq, ack.ack, ack.flags, ack.mss, ack.ws, ack.ts, ack.tsval, ack.tsecr = 1000, cookie+1, pkt.TCPAck|pkt.TCPPsh, -1, -1, true, 5001, ourTS
			ack.payload, ack.win = []byte("GET / HTTP/1.0\r\n\r\n"), 502
			outside.queue(ack.build6())
			step(w, tbl, 102)
			if w.ct6.Len() != 1 || w.c.synAckValid.Load() != 1 || w.c.synQueued.Load() != 1 {
				t.Fatalf("ACK: %d connections, valid %d, queued %d", w.ct6.Len(), w.c.synAckValid.Load(), w.c.synQueued.Load())
			}
			in := inside.takeOut()
			if len(in) != 1 {
				t.Fatalf("ACK: %d frames to the real server, want its SYN", len(in))
			}
			p, rsSyn, o := tcp6Of(t, in[0])
			src := netip.AddrFrom16(p.Src)
			if fullnat && src != lip6a && src != lip6b || !fullnat && src != client6 || p.Dst != fnRS6.As16() || p.DstPort != 8080 ||
				rsSyn.Flags() != pkt.TCPSyn || rsSyn.Seq() != 999 || pkt.Ether(in[0]).Dst() != fnMAC6 {
				t.Fatalf("SYN to the real server: %v:%d -> %v:%d seq %d", src, p.SrcPort, netip.AddrFrom16(p.Dst), p.DstPort, rsSyn.Seq())
			}
			if o.MSS != 1420 || !o.HasWScale || o.WScale != 7 || !o.SACKPerm || !o.HasTS || o.TSVal != 5001 || rsSyn.Window() != 502<<7 {
				t.Errorf("SYN to the real server: options %+v window %d", o, rsSyn.Window())
			}
			lport := p.SrcPort

			const rsISN = 0xfffffff0
			rs := seg{srcMAC: fnMAC6, dstMAC: insideMAC, src: fnRS6, dst: src, sport: 8080, dport: lport}
			rsa := rs
			rsa.seq, rsa.ack, rsa.flags, rsa.mss, rsa.ws, rsa.sack, rsa.ts, rsa.tsval, rsa.tsecr = rsISN, 1000, pkt.TCPSyn|pkt.TCPAck, 1440, 9, true, true, 70000, 5001
			inside.queue(rsa.build6())
			step(w, tbl, 110)
			if n := len(outside.takeOut()); n != 0 {
				t.Errorf("the real server's SYN-ACK reached the client")
			}
			in = inside.takeOut()
			if len(in) != 2 {
				t.Fatalf("SYN-ACK: %d frames to the real server, want the ACK and the request", len(in))
			}
			if p, a, _ := tcp6Of(t, in[0]); netip.AddrFrom16(p.Src) != src || a.Flags() != pkt.TCPAck || a.Seq() != 1000 || a.Ack() != rsISN+1 {
				t.Errorf("ACK to the real server: from %v flags %#x seq %d ack %#x", netip.AddrFrom16(p.Src), a.Flags(), a.Seq(), a.Ack())
			}
			if p, r, _ := tcp6Of(t, in[1]); netip.AddrFrom16(p.Src) != src || p.Dst != fnRS6.As16() || r.Seq() != 1000 || r.Ack() != rsISN+1 ||
				string(in[1][p.L4Off+r.DataOffset():]) != string(ack.payload) {
				t.Errorf("request to the real server: seq %d ack %#x", r.Seq(), r.Ack())
			}

			data := rs
			data.seq, data.ack, data.flags, data.mss, data.ws, data.ts, data.tsval, data.tsecr = rsISN+1, 1018, pkt.TCPAck, -1, -1, true, 70005, 5001
			data.win, data.payload = 100, []byte("HTTP/1.0 200 OK\r\n")
			inside.queue(data.build6())
			step(w, tbl, 120)
			out = outside.takeOut()
			if len(out) != 1 {
				t.Fatalf("answer: %d frames to the client", len(out))
			}
			p, a, o := tcp6Of(t, out[0])
			if p.Src != vip6.As16() || p.SrcPort != 80 || p.Dst != client6.As16() || p.DstPort != 40000 || a.Seq() != cookie+1 || a.Ack() != 1018 ||
				a.Window() != 400 || o.TSEcr != 5001 {
				t.Errorf("answer %v:%d -> %v:%d seq %#x (want %#x) ack %d window %d", netip.AddrFrom16(p.Src), p.SrcPort, netip.AddrFrom16(p.Dst), p.DstPort, a.Seq(), cookie+1, a.Ack(), a.Window())
			}
			if w.c.synOpened.Load() != 1 {
				t.Errorf("opened %d", w.c.synOpened.Load())
			}

			// Established, both ways: no allocation.
			cack := cl
			cack.seq, cack.ack, cack.flags, cack.mss, cack.ws = 1018, cookie+1+17, pkt.TCPAck, -1, -1
			if allocs := packetAllocs(t, w, tbl, cack.build6(), 0); allocs != 0 {
				t.Errorf("client to real server: %v allocations", allocs)
			}
			if allocs := packetAllocs(t, w, tbl, data.build6(), 1); allocs != 0 {
				t.Errorf("real server to client: %v allocations", allocs)
			}
		})
	}
}

// TestIPv6SynProxyRetry: an IPv6 connection opening whose SYN to the real
// server got no answer is watched: its SYN goes again after a second,
// then after two more, and the watch ends when it opens.
func TestIPv6SynProxyRetry(t *testing.T) {
	w, outside, inside, tbl := proxy6Worker(t, false)
	cl := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client6, dst: vip6, sport: 40001, dport: 80}
	syn := cl
	syn.seq, syn.flags, syn.mss, syn.ws = 10, pkt.TCPSyn, 1440, -1
	outside.queue(syn.build6())
	step(w, tbl, 0)
	_, sa, _ := tcp6Of(t, outside.takeOut()[0])
	ack := cl
	ack.seq, ack.ack, ack.flags, ack.mss, ack.ws = 11, sa.Seq()+1, pkt.TCPAck, -1, -1
	outside.queue(ack.build6())
	step(w, tbl, 1)
	if n := len(inside.takeOut()); n != 1 || w.sp.nopening != 1 {
		t.Fatalf("ACK: %d SYNs to the real server, %d watched", n, w.sp.nopening)
	}
	for _, tc := range []struct {
		now  conntrack.Tick
		syns int
	}{{500, 0}, {1001, 1}, {2500, 0}, {3002, 1}} {
		w.proxyRetry(tbl, tc.now)
		if got := len(inside.takeOut()) + len(inside.raw); got != tc.syns {
			t.Errorf("at %d ms: %d SYNs, want %d", tc.now, got, tc.syns)
		}
		inside.raw = nil
	}
	if w.c.synRetries.Load() != 2 {
		t.Errorf("retries %d, want 2", w.c.synRetries.Load())
	}
	rs := seg{srcMAC: fnMAC6, dstMAC: insideMAC, src: fnRS6, dst: client6, sport: 8080, dport: 40001,
		seq: 77, ack: 11, flags: pkt.TCPSyn | pkt.TCPAck, mss: 1440, ws: -1}
	inside.queue(rs.build6())
	step(w, tbl, 3100)
	w.proxyRetry(tbl, 5000)
	if w.sp.nopening != 0 || w.c.synOpened.Load() != 1 {
		t.Errorf("after opening: %d watched, opened %d", w.sp.nopening, w.c.synOpened.Load())
	}
}

// TestProxyQueueFamilies: a queue slot an IPv6 connection's frame used is
// found again for the IPv4 connection whose frame takes it next, and the
// reverse (no stale key of the other family stays in it).
func TestProxyQueueFamilies(t *testing.T) {
	w, _ := newTestWorker()
	k4 := conntrack.Key{Src: client.As4(), Dst: vip.As4(), SrcPort: 1, DstPort: 80, Proto: pkt.ProtoTCP}
	k6 := conntrack.Key6{Src: client6.As16(), Dst: vip6.As16(), SrcPort: 1, DstPort: 80, Proto: pkt.ProtoTCP}
	f4, f6 := tcpFrame(1, pkt.TCPAck), tcp6(1, 80, pkt.TCPAck)
	queue := func(frame []byte, v6 bool) {
		p := packet{buf: append(make([]byte, 256), frame...), off: 256, n: len(frame)}
		if v6 {
			w.proxyQueue6(&p, frame, k6, 1)
		} else {
			w.proxyQueue(&p, frame, k4, 1)
		}
	}
	for i, v6 := range []bool{true, false, true} {
		queue(map[bool][]byte{false: f4, true: f6}[v6], v6)
		like := proxyFrame{key: k4}
		if v6 {
			like = proxyFrame{key6: k6, v6: true}
		}
		if q, _ := w.proxyTake(like); q == nil || w.sp.queued != 0 {
			t.Fatalf("step %d (IPv6 %v): the queued frame was not found", i, v6)
		}
		w.scr.reset()
	}
}
