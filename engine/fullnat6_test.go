package engine

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ndp"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

var (
	lip6a  = netip.MustParseAddr("2001:db8:1::200")
	lip6b  = netip.MustParseAddr("2001:db8:1::201")
	fnRS6  = netip.MustParseAddr("2001:db8:1::31")
	fnMAC6 = [6]byte{0x02, 0, 0, 0, 1, 0x31}
)

// fullnat6Worker is a worker on two links, 0 outside (clients) and 1
// inside (real servers), with TCP and UDP [vip6]:80 FULLNAT to
// [fnRS6]:8080 through the local addresses lip6a and lip6b.
func fullnat6Worker(t testing.TB) (*worker, *memLink, *memLink, *vs.Table) {
	t.Helper()
	var svcs []*vs.Service
	for i, proto := range []vs.Protocol{vs.TCP, vs.UDP} {
		st := &vs.DestState{}
		st.SetMAC(fnMAC6)
		svc := &vs.Service{ID: uint32(i + 1), Proto: proto, Addr: vip6, Port: 80, Netmask: 128, Stats: &vs.ServiceStats{},
			LocalAddrs6: [][16]byte{lip6a.As16(), lip6b.As16()},
			Dests:       []*vs.Dest{{ID: uint32(i + 1), Addr: fnRS6, Port: 8080, Method: vs.FullNAT, Weight: 1, Iface: 1, State: st}}}
		sc, err := sched.New("rr", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		svcs = append(svcs, svc)
	}
	tbl := vs.NewTable(1, svcs, nil)
	outside, inside := &memLink{}, &memLink{}
	w := newWorkerLinks([]link{outside, inside}, [][6]byte{dirMAC, insideMAC}, &counters{}, Config{ConnTableSize: 1024}, nil)
	return w, outside, inside, tbl
}

// makePartial6 turns an IPv6 TCP frame's checksum into a CHECKSUM_PARTIAL
// one (the pseudo-header sum alone), as veth delivers it.
func makePartial6(t *testing.T, frame, vnet []byte) {
	t.Helper()
	var p pkt.Parsed6
	if p.Decode6(frame, pkt.EtherHeaderLen, false) != pkt.DecodeOK {
		t.Fatal("bad frame")
	}
	pkt.TCP(frame[p.L4Off:]).SetChecksum(pkt.Fold(pkt.PseudoHeaderSum6(p.Src, p.Dst, p.Proto, uint32(p.L4Len))))
	h := vnetHdr(vnet)
	h[vnetOffFlags] = vnetFlagNeedsCsum
	h.setCsumStart(uint16(p.L4Off))
	h.setCsumOffset(pkt.TCPChecksumOffset)
}

// queue6 queues an IPv6 TCP frame on l, its checksum partial or not.
func queue6(t *testing.T, l *memLink, frame []byte, partial bool) {
	t.Helper()
	vnet := make([]byte, vnetHdrLen)
	if partial {
		makePartial6(t, frame, vnet)
	}
	l.queueVnet(vnet, frame)
}

// sent6 completes a transmitted frame's partial checksum (as the
// receiving kernel would) and decodes it, checking its TCP/UDP checksum.
func sent6(t *testing.T, f []byte, partial bool) *pkt.Parsed6 {
	t.Helper()
	if partial {
		var p pkt.Parsed6
		p.Decode6(f, pkt.EtherHeaderLen, false)
		if !pkt.CompletePartial(f, p.L4Off, pkt.TCPChecksumOffset) {
			t.Fatal("cannot complete the partial checksum")
		}
	}
	return decoded6(t, f)
}

// TestIPv6FullNAT: a client's connection leaves from a local address and
// port, its real server's replies to that address and port go back from
// the VIP, checksums right both ways (complete and CHECKSUM_PARTIAL), and
// the local ports picked hash back to the worker (two workers).
func TestIPv6FullNAT(t *testing.T) {
	for _, partial := range []bool{false, true} {
		t.Run(map[bool]string{false: "complete checksums", true: "CHECKSUM_PARTIAL"}[partial], func(t *testing.T) {
			w, outside, inside, tbl := fullnat6Worker(t)
			w.index, w.nworkers = 1, 2
			prog := fanoutProgram(nil, vip6.As16())
			seen := map[netip.Addr]bool{}
			for i := range 4 {
				cport := uint16(40000 + i)
				syn := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoTCP,
					SrcPort: cport, DstPort: 80, TCPFlags: pkt.TCPSyn, Payload: []byte("hello")}.Build()
				queue6(t, outside, syn, partial)
				step(w, tbl, uint32(i))
				got := inside.takeOut()
				if len(got) != 1 {
					t.Fatalf("SYN %d: %d frames inside, want 1", i, len(got))
				}
				p := sent6(t, got[0], partial)
				lip := netip.AddrFrom16(p.Src)
				if lip != lip6a && lip != lip6b || p.Dst != fnRS6.As16() || p.DstPort != 8080 ||
					pkt.Ether(got[0]).Dst() != fnMAC6 || pkt.Ether(got[0]).Src() != insideMAC || pkt.IPv6(got[0][14:]).HopLimit() != 63 {
					t.Fatalf("SYN %d out: %v:%d -> %v:%d mac %x", i, lip, p.SrcPort, netip.AddrFrom16(p.Dst), p.DstPort, pkt.Ether(got[0]).Dst())
				}
				seen[lip] = true
				lport := p.SrcPort
				// The reply to the local address and port.
				synack := pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: lip, Proto: pkt.ProtoTCP,
					SrcPort: 8080, DstPort: lport, TCPFlags: pkt.TCPSyn | pkt.TCPAck, Payload: []byte("welcome")}.Build()
				if lport < 1024 || runFanout(t, prog, synack)%2 != 1 {
					t.Errorf("local port %d: its replies do not hash to worker 1", lport)
				}
				queue6(t, inside, synack, partial)
				step(w, tbl, uint32(i))
				out := outside.takeOut()
				if len(out) != 1 {
					t.Fatalf("reply %d: %d frames outside", i, len(out))
				}
				r := sent6(t, out[0], partial)
				if r.Src != vip6.As16() || r.SrcPort != 80 || r.Dst != client6.As16() || r.DstPort != cport ||
					pkt.Ether(out[0]).Dst() != clientMAC || pkt.Ether(out[0]).Src() != dirMAC {
					t.Errorf("reply %d out: %v:%d -> %v:%d mac %x", i, netip.AddrFrom16(r.Src), r.SrcPort, netip.AddrFrom16(r.Dst), r.DstPort, pkt.Ether(out[0]).Dst())
				}
				if string(out[0][r.L4Off+20:]) != "welcome" {
					t.Errorf("reply payload %q", out[0][r.L4Off+20:])
				}
			}
			if !seen[lip6a] || !seen[lip6b] {
				t.Errorf("local addresses used: %v, want both in turn", seen)
			}
			c := w.ct6.Lookup(conntrack.Key6{Src: client6.As16(), Dst: vip6.As16(), SrcPort: 40000, DstPort: 80, Proto: pkt.ProtoTCP}, 3, tbl)
			if c == nil || c.State != conntrack.StateSynRecv {
				t.Fatalf("connection %+v", c)
			}
			if st := tbl.Service(1).Stats; st.InPkts.Load() != 4 || st.OutPkts.Load() != 4 {
				t.Errorf("service counters in %d out %d", st.InPkts.Load(), st.OutPkts.Load())
			}
			// A stray reply to a local address: not ours.
			inside.queue(pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: lip6a, Proto: pkt.ProtoTCP,
				SrcPort: 8080, DstPort: 1, TCPFlags: pkt.TCPAck}.Build())
			step(w, tbl, 5)
			if len(outside.takeOut()) != 0 || w.c.drops[ReasonNotOurs].Load() != 1 {
				t.Errorf("stray reply forwarded")
			}
		})
	}
}

// TestIPv6FullNATUDP: a datagram both ways, checksums over the new
// pseudo-header; one-packet scheduling has no local port and is dropped
// as for IPv4.
func TestIPv6FullNATUDP(t *testing.T) {
	w, outside, inside, tbl := fullnat6Worker(t)
	outside.queue(pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP,
		SrcPort: 5353, DstPort: 80, Payload: []byte("question")}.Build())
	step(w, tbl, 0)
	got := inside.takeOut()
	if len(got) != 1 {
		t.Fatalf("%d frames inside", len(got))
	}
	p := decoded6(t, got[0])
	if netip.AddrFrom16(p.Src) != lip6a && netip.AddrFrom16(p.Src) != lip6b || p.Dst != fnRS6.As16() || p.DstPort != 8080 {
		t.Fatalf("datagram out %v:%d -> %v:%d", netip.AddrFrom16(p.Src), p.SrcPort, netip.AddrFrom16(p.Dst), p.DstPort)
	}
	inside.queue(pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: netip.AddrFrom16(p.Src), Proto: pkt.ProtoUDP,
		SrcPort: 8080, DstPort: p.SrcPort, Payload: []byte("answer")}.Build())
	step(w, tbl, 1)
	out := outside.takeOut()
	if len(out) != 1 {
		t.Fatalf("answer: %d frames outside", len(out))
	}
	if r := decoded6(t, out[0]); r.Src != vip6.As16() || r.SrcPort != 80 || r.Dst != client6.As16() || r.DstPort != 5353 {
		t.Errorf("answer %v:%d -> %v:%d", netip.AddrFrom16(r.Src), r.SrcPort, netip.AddrFrom16(r.Dst), r.DstPort)
	}
	tbl.Service(2).Flags |= vs.SvcOnePacket
	outside.queue(pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP,
		SrcPort: 5354, DstPort: 80, Payload: []byte("q")}.Build())
	step(w, tbl, 2)
	if len(inside.takeOut()) != 0 || w.c.drops[ReasonUnsupported].Load() != 1 {
		t.Errorf("one-packet FULLNAT datagram forwarded without a local port")
	}
}

// TestIPv6FullNATNeighbour: solicitations for a local address are
// answered like those for a VIP; the local address is no VIP.
func TestIPv6FullNATNeighbour(t *testing.T) {
	w, _, inside, tbl := fullnat6Worker(t)
	if !tbl.IsLocal6(lip6b.As16()) || tbl.IsVIP6(lip6b.As16()) || tbl.IsLocal6(vip6.As16()) {
		t.Fatal("the table does not tell local addresses from VIPs")
	}
	inside.queue(pkttest.Solicit6(fnMAC6, fnRS6, lip6b))
	step(w, tbl, 0)
	out := inside.takeOut()
	if len(out) != 1 {
		t.Fatalf("%d frames out for a solicitation of a local address", len(out))
	}
	p := decoded6(t, out[0])
	msg := out[0][p.L4Off : p.L4Off+p.L4Len]
	target, mac, ok := ndp.ParseAdvert(msg)
	if !ok || target != lip6b.As16() || mac != insideMAC || p.Src != lip6b.As16() || p.Dst != fnRS6.As16() || pkt.Ether(out[0]).Dst() != fnMAC6 {
		t.Errorf("advert %v -> %v target %v mac %x", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst), netip.AddrFrom16(target), mac)
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		t.Error("advert checksum wrong")
	}
	inside.queue(pkttest.Solicit6(fnMAC6, fnRS6, netip.MustParseAddr("2001:db8:1::202")))
	step(w, tbl, 1)
	if len(inside.takeOut()) != 0 {
		t.Error("answered for an address that is neither a VIP nor a local address")
	}
	if got := sortedLocal6(tbl); len(got) != 2 || got[0] != lip6a.As16() || got[1] != lip6b.As16() {
		t.Errorf("sortedLocal6 = %v", got)
	}
	if got := newLocal6([][16]byte{lip6a.As16()}, sortedLocal6(tbl)); len(got) != 1 || got[0] != lip6b.As16() {
		t.Errorf("newLocal6 = %v, want lip6b only", got)
	}
}

// TestIPv6FullNATICMP: ICMPv6 errors about a FULLNAT connection are
// translated both ways: a Packet Too Big about a reply (VIP -> client)
// reaches the real server as an error from the local address about what
// it sent; a Destination Unreachable about a request (local address ->
// real server) reaches the client from the VIP quoting its own packet.
func TestIPv6FullNATICMP(t *testing.T) {
	w, outside, inside, tbl := fullnat6Worker(t)
	outside.queue(tcp6(40000, 80, pkt.TCPSyn))
	step(w, tbl, 0)
	got := inside.takeOut()
	if len(got) != 1 {
		t.Fatal("SYN not forwarded")
	}
	fwd := decoded6(t, got[0])
	lip, lport := fwd.Src, fwd.SrcPort

	reply := pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 40000, TCPFlags: pkt.TCPAck, Payload: make([]byte, 1300)}.Build()
	outside.queue(ptbAbout(reply))
	step(w, tbl, 1)
	in := inside.takeOut()
	if len(in) != 1 {
		t.Fatalf("Packet Too Big: %d frames inside", len(in))
	}
	p := decoded6(t, in[0])
	msg := in[0][p.L4Off : p.L4Off+p.L4Len]
	q := msg[8:]
	if p.Src != lip || p.Dst != fnRS6.As16() || pkt.Ether(in[0]).Dst() != fnMAC6 ||
		[16]byte(q[8:24]) != fnRS6.As16() || [16]byte(q[24:40]) != lip ||
		binary.BigEndian.Uint16(q[40:]) != 8080 || binary.BigEndian.Uint16(q[42:]) != lport {
		t.Errorf("relayed %v -> %v quoting %v:%d -> %v:%d", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst),
			netip.AddrFrom16([16]byte(q[8:24])), binary.BigEndian.Uint16(q[40:]), netip.AddrFrom16([16]byte(q[24:40])), binary.BigEndian.Uint16(q[42:]))
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		t.Error("relayed ICMPv6 checksum wrong")
	}

	// The request as the real server's side saw it.
	req := got[0]
	body := make([]byte, 4+len(req)-pkt.EtherHeaderLen)
	copy(body[4:], req[pkt.EtherHeaderLen:])
	unreach := pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: netip.AddrFrom16(lip), Proto: pkt.ProtoICMPv6,
		ICMPType: 1, ICMPCode: 4, Payload: body}.Build()
	inside.queue(unreach)
	step(w, tbl, 2)
	out := outside.takeOut()
	if len(out) != 1 {
		t.Fatalf("Destination Unreachable: %d frames outside", len(out))
	}
	p = decoded6(t, out[0])
	msg = out[0][p.L4Off : p.L4Off+p.L4Len]
	q = msg[8:]
	if p.Src != vip6.As16() || p.Dst != client6.As16() || pkt.Ether(out[0]).Dst() != clientMAC ||
		[16]byte(q[8:24]) != client6.As16() || [16]byte(q[24:40]) != vip6.As16() ||
		binary.BigEndian.Uint16(q[40:]) != 40000 || binary.BigEndian.Uint16(q[42:]) != 80 {
		t.Errorf("relayed %v -> %v quoting %v:%d -> %v:%d", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst),
			netip.AddrFrom16([16]byte(q[8:24])), binary.BigEndian.Uint16(q[40:]), netip.AddrFrom16([16]byte(q[24:40])), binary.BigEndian.Uint16(q[42:]))
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		t.Error("relayed ICMPv6 checksum wrong")
	}
	if w.c.icmpRelayed.Load() != 2 {
		t.Errorf("icmp_relayed %d, want 2", w.c.icmpRelayed.Load())
	}
}

// TestIPv6FullNATAllocs: FULLNAT packets both ways and new FULLNAT
// connections (local port search included) do not allocate.
func TestIPv6FullNATAllocs(t *testing.T) {
	w, outside, inside, tbl := fullnat6Worker(t)
	outside.queue(tcp6(40000, 80, pkt.TCPSyn))
	step(w, tbl, 0)
	fwd := decoded6(t, inside.takeOut()[0])
	reply := pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: netip.AddrFrom16(fwd.Src), Proto: pkt.ProtoTCP,
		SrcPort: 8080, DstPort: fwd.SrcPort, TCPFlags: pkt.TCPAck, Payload: []byte("data")}.Build()
	for name, tc := range map[string]struct {
		frame []byte
		in    uint8
	}{
		"client to real server": {tcp6(40000, 80, pkt.TCPAck), 0},
		"real server to client": {reply, 1},
		"solicitation":          {pkttest.Solicit6(fnMAC6, fnRS6, lip6a), 1},
	} {
		if allocs := packetAllocs(t, w, tbl, tc.frame, tc.in); allocs != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", name, allocs)
		}
	}
	if allocs := newConn6Allocs(t, w, tbl, tcp6(1, 80, pkt.TCPSyn)); allocs != 0 {
		t.Errorf("new FULLNAT connection allocates %v times, want 0", allocs)
	}
}

// packetAllocs is the allocations per run of frame, arriving on link in,
// through w.process; the frame must be transmitted.
func packetAllocs(t *testing.T, w *worker, tbl *vs.Table, frame []byte, in uint8) float64 {
	t.Helper()
	buf := make([]byte, 256+len(frame)+64)
	p := packet{buf: buf, off: 256, n: len(frame), in: in}
	return testing.AllocsPerRun(500, func() {
		copy(buf[256:], frame)
		p.n = len(frame)
		w.tx = w.tx[:0]
		if !w.process(&p, tbl, 1) {
			t.Fatal("not transmitted")
		}
	})
}

// newConn6Allocs is the allocations per new IPv6 connection: syn from a
// new client address each run (the checksum is not checked on the way
// in; only the key changes).
func newConn6Allocs(t *testing.T, w *worker, tbl *vs.Table, syn []byte) float64 {
	t.Helper()
	buf := make([]byte, 256+len(syn))
	p := packet{buf: buf, off: 256, n: len(syn)}
	i := 0
	return testing.AllocsPerRun(500, func() {
		copy(buf[256:], syn)
		i++
		src := client6.As16()
		src[14], src[15] = byte(i>>8), byte(i)
		pkt.IPv6(buf[256+pkt.EtherHeaderLen:]).SetSrc(src)
		w.tx = w.tx[:0]
		if !w.process(&p, tbl, 1) {
			t.Fatal("SYN not forwarded")
		}
	})
}

// FuzzProcessFullNAT6 feeds arbitrary frames, from either side, through a
// worker with IPv6 FULLNAT services (or NAT66 behind the SYN proxy) (the connections earlier inputs made
// stay, so replies and ICMPv6 errors can find theirs): nothing may panic
// and every frame must end in exactly one counter.
func FuzzProcessFullNAT6(f *testing.F) {
	syn := tcp6(40000, 80, pkt.TCPSyn)
	f.Add(syn, false, false)
	f.Add(pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: lip6a, Proto: pkt.ProtoTCP,
		SrcPort: 8080, DstPort: 1025, TCPFlags: pkt.TCPSyn | pkt.TCPAck}.Build(), true, false)
	f.Add(pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP,
		SrcPort: 5353, DstPort: 80, Payload: []byte("q")}.Build(), false, true)
	f.Add(pkttest.Solicit6(fnMAC6, fnRS6, lip6b), true, false)
	f.Add(ptbAbout(pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 40000, TCPFlags: pkt.TCPAck}.Build()), false, false)
	body := make([]byte, 4+len(syn)-pkt.EtherHeaderLen)
	copy(body[4:], syn[pkt.EtherHeaderLen:])
	f.Add(pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: lip6a, Proto: pkt.ProtoICMPv6, ICMPType: 1, Payload: body}.Build(), true, false)
	// A byte of Ethernet padding makes them odd: for the SYN proxy.
	f.Add(append(syn, 0), false, false)
	f.Add(append(seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client6, dst: vip6, sport: 40000, dport: 80, seq: 1000, ack: 1,
		flags: pkt.TCPAck, mss: -1, ws: -1, payload: []byte("GET /")}.build6(), 0), false, false)
	f.Add(append(seg{srcMAC: fnMAC6, dstMAC: insideMAC, src: fnRS6, dst: client6, sport: 8080, dport: 40000, seq: 5, ack: 1000,
		flags: pkt.TCPSyn | pkt.TCPAck, mss: 1440, ws: 7}.build6(), 0), true, false)
	// Frames of odd length go to a worker whose TCP service has the SYN
	// proxy (synproxy6.go), NAT66 to the same real server.
	w0, _, _, tbl0 := fullnat6Worker(f)
	w1, _, _, tbl1 := proxy6Worker(f, false)
	f.Fuzz(func(t *testing.T, frame []byte, inside, partial bool) {
		if len(frame) > 65535 {
			return
		}
		w, tbl := w0, tbl0
		if len(frame)&1 != 0 {
			w, tbl = w1, tbl1
		}
		buf := make([]byte, 256+len(frame))
		copy(buf[256:], frame)
		p := packet{buf: buf, off: 256, n: len(frame)}
		if inside {
			p.in = 1
		}
		if partial && len(frame) > 80 {
			h := p.vnet()
			h[vnetOffFlags] = vnetFlagNeedsCsum
			h.setCsumStart(54)
			h.setCsumOffset(pkt.TCPChecksumOffset)
		}
		before, queued := total(w), w.sp.queued
		w.tx = w.tx[:0]
		w.scr.reset()
		sent := w.process(&p, tbl, 1)
		// A frame the SYN proxy queues ends in a counter later.
		if got := int(total(w)-before) + w.sp.queued - queued; got != 1 {
			t.Fatalf("frame ended in %d counters (queue %d -> %d), want exactly 1", got, queued, w.sp.queued)
		}
		// Besides the frame, the director may have queued its own
		// (ICMPv6 errors, the proxy's segments, frames it replays).
		if sent && (len(w.tx) == 0 || w.tx[len(w.tx)-1] != &p) {
			t.Fatalf("verdict sent but the frame is not queued last")
		}
		w.proxyRetry(tbl, 1)
	})
}

// BenchmarkProcess6FullNAT is BenchmarkProcess6Established for an
// established IPv6 FULLNAT connection: /in a client's segment (SNAT to
// the local address and DNAT to the real server), /out the real server's
// (the reply-key lookup and both rewrites back).
func BenchmarkProcess6FullNAT(b *testing.B) {
	w, outside, inside, tbl := fullnat6Worker(b)
	outside.queue(tcp6(7000, 80, pkt.TCPSyn))
	step(w, tbl, 0)
	var p6 pkt.Parsed6
	fwd := inside.takeOut()[0]
	p6.Decode6(fwd, pkt.EtherHeaderLen, false)
	reply := pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: netip.AddrFrom16(p6.Src), Proto: pkt.ProtoTCP,
		SrcPort: 8080, DstPort: p6.SrcPort, TCPFlags: pkt.TCPAck, Payload: []byte("HTTP/1.0 200 OK\r\n")}.Build()
	for _, bc := range []struct {
		name  string
		frame []byte
		in    uint8
	}{{"in", tcp6(7000, 80, pkt.TCPAck), 0}, {"out", reply, 1}} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 256+len(bc.frame))
			p := packet{buf: buf, off: 256, n: len(bc.frame), in: bc.in}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				copy(buf[256:], bc.frame)
				w.tx = w.tx[:0]
				sinkForwarded = w.process(&p, tbl, 1)
			}
		})
	}
}

// TestIPv6FullNATAllOnWorker0: beyond maxFanoutVIPs6 IPv6 VIPs the fanout
// program sends all IPv6 to worker 0, which then takes any local port,
// not only the half whose replies would hash back to it.
func TestIPv6FullNATAllOnWorker0(t *testing.T) {
	w, outside, inside, small := fullnat6Worker(t)
	svcs := []*vs.Service{small.Service(1), small.Service(2)}
	for i := range maxFanoutVIPs6 {
		st := &vs.DestState{}
		st.SetMAC(fnMAC6)
		svcs = append(svcs, &vs.Service{ID: uint32(10 + i), Proto: vs.UDP, Addr: netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 15: byte(i + 1)}),
			Port: 9, Netmask: 128, Stats: &vs.ServiceStats{},
			Dests: []*vs.Dest{{ID: uint32(10 + i), Addr: fnRS6, Port: 9, Method: vs.Route, Weight: 1, Iface: 1, State: st}}})
		sc, err := sched.New("rr", svcs[len(svcs)-1], nil)
		if err != nil {
			t.Fatal(err)
		}
		svcs[len(svcs)-1].Scheduler = sc
	}
	tbl := vs.NewTable(2, svcs, nil)
	if tbl.NumVIPs6() <= maxFanoutVIPs6 {
		t.Fatalf("%d IPv6 VIPs", tbl.NumVIPs6())
	}
	w.index, w.nworkers = 0, 2
	var ports []uint16
	for i := range 4 {
		queue6(t, outside, pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoTCP,
			SrcPort: uint16(40000 + i), DstPort: 80, TCPFlags: pkt.TCPSyn}.Build(), false)
		step(w, tbl, uint32(i))
		got := inside.takeOut()
		if len(got) != 1 {
			t.Fatalf("SYN %d: %d frames inside", i, len(got))
		}
		ports = append(ports, decoded6(t, got[0]).SrcPort)
	}
	for i, p := range ports {
		if p != uint16(1024+i) {
			t.Fatalf("local ports %v, want 1024 to 1027 (any port, in turn)", ports)
		}
	}
}
