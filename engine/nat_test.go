package engine

import (
	"context"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

var (
	insideMAC = [6]byte{0x02, 0, 0, 0, 1, 0x01}
	rsNATMAC  = [6]byte{0x02, 0, 0, 0, 1, 0x11}
	ripNAT    = netip.MustParseAddr("10.77.1.11")
)

// natWorker is a worker on two links: 0 outside (clients), 1 inside (real
// servers), with a NAT service VIP:80 -> 10.77.1.11:8080.
func natWorker(t testing.TB) (*worker, *memLink, *memLink, *vs.Table) {
	t.Helper()
	st := &vs.DestState{}
	st.SetMAC(rsNATMAC)
	svc := &vs.Service{ID: 1, Proto: vs.TCP, Addr: vip, Port: 80, Netmask: 32, Stats: &vs.ServiceStats{},
		Dests: []*vs.Dest{{ID: 1, Addr: ripNAT, Port: 8080, Method: vs.Masq, Weight: 1, Iface: 1, State: st}}}
	sc, err := sched.New("rr", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Scheduler = sc
	tbl := vs.NewTable(1, []*vs.Service{svc}, nil)
	tbl.Routes = []vs.IPRoute{
		{Prefix: netip.MustParsePrefix("10.77.1.0/24"), Iface: 1},
		{Prefix: netip.MustParsePrefix("10.77.0.0/24"), Iface: 0},
	}
	outside, inside := &memLink{}, &memLink{}
	w := newWorkerLinks([]link{outside, inside}, [][6]byte{dirMAC, insideMAC}, &counters{}, Config{ConnTableSize: 1024}, nil)
	return w, outside, inside, tbl
}

func step(w *worker, tbl *vs.Table, now uint32) {
	n := w.collect()
	w.batch(n, tbl, tick0(now))
	w.flushPending(tick0(now))
}

func TestNATBothWays(t *testing.T) {
	for _, partial := range []bool{false, true} {
		name := "complete checksums"
		if partial {
			name = "CHECKSUM_PARTIAL"
		}
		t.Run(name, func(t *testing.T) {
			w, outside, inside, tbl := natWorker(t)
			syn := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn, Payload: []byte("hello")}.Build()
			vnet := make([]byte, vnetHdrLen)
			if partial {
				makePartial(t, syn, vnet)
			}
			outside.queueVnet(vnet, syn)
			step(w, tbl, 0)
			got := inside.takeOut()
			if len(got) != 1 || len(outside.takeOut()) != 0 {
				t.Fatalf("SYN: %d frames inside, want 1", len(got))
			}
			in := got[0]
			if partial {
				completePartial(t, inside, in)
			}
			pkttest.CheckIPv4(t, in, pkttest.DstMAC(rsNATMAC), pkttest.SrcMAC(insideMAC), pkttest.DstIP(ripNAT), pkttest.SrcIP(client),
				pkttest.DstPort(8080), pkttest.SrcPort(40000), pkttest.ValidChecksums())

			// The real server answers the client; the director has no MAC
			// for the client yet: the reply waits, the engine asks.
			synack := pkttest.Frame{SrcMAC: rsNATMAC, DstMAC: insideMAC, Src: ripNAT, Dst: client, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: 40000, TCPFlags: pkt.TCPSyn | pkt.TCPAck}.Build()
			vnet = make([]byte, vnetHdrLen)
			if partial {
				makePartial(t, synack, vnet)
			}
			inside.queueVnet(vnet, synack)
			step(w, tbl, 1)
			if len(outside.takeOut())+len(outside.raw) != 0 {
				t.Fatalf("reply sent without a next-hop MAC")
			}
			select {
			case hop := <-w.neigh.req:
				if hop != client.As4() {
					t.Errorf("asked to resolve %v, want the client", hop)
				}
			default:
				t.Fatalf("no resolution request for the client")
			}
			// Resolved: the queued reply goes out SNATed to the VIP.
			m := neighMap{client.As4(): clientMAC}
			w.neigh.m.Store(&m)
			step(w, tbl, 2)
			if len(outside.raw) != 1 {
				t.Fatalf("queued reply not sent after resolution: %d", len(outside.raw))
			}
			pkttest.CheckIPv4(t, outside.raw[0], pkttest.DstMAC(clientMAC), pkttest.SrcMAC(dirMAC), pkttest.SrcIP(vip), pkttest.DstIP(client),
				pkttest.SrcPort(80), pkttest.DstPort(40000), pkttest.ValidChecksums())
			// Later replies go straight through the batch.
			ack := pkttest.Frame{SrcMAC: rsNATMAC, DstMAC: insideMAC, Src: ripNAT, Dst: client, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: 40000, TCPFlags: pkt.TCPAck, Payload: []byte("data")}.Build()
			inside.queue(ack)
			step(w, tbl, 3)
			out := outside.takeOut()
			if len(out) != 1 {
				t.Fatalf("reply not forwarded")
			}
			pkttest.CheckIPv4(t, out[0], pkttest.SrcIP(vip), pkttest.SrcPort(80), pkttest.ValidChecksums())
			// A reply for no connection is not ours.
			stray := pkttest.Frame{SrcMAC: rsNATMAC, DstMAC: insideMAC, Src: ripNAT, Dst: client, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: 1, TCPFlags: pkt.TCPAck}.Build()
			inside.queue(stray)
			step(w, tbl, 4)
			if len(outside.takeOut()) != 0 {
				t.Errorf("stray reply forwarded")
			}
			d := tbl.Dest(1)
			if d.State.OutPkts.Load() != 2 || d.State.ActiveConns.Load() != 1 {
				t.Errorf("out packets %d, active %d", d.State.OutPkts.Load(), d.State.ActiveConns.Load())
			}
		})
	}
}

// makePartial turns frame's TCP checksum into a CHECKSUM_PARTIAL one, as
// veth delivers it, and fills the virtio header.
func makePartial(t *testing.T, frame, vnet []byte) {
	t.Helper()
	var p pkt.Parsed
	if p.Decode(frame) != pkt.DecodeOK {
		t.Fatal("bad frame")
	}
	ip := pkt.IPv4(frame[p.L3Off:])
	sum := pkt.PseudoHeaderSum(ip.Src(), ip.Dst(), p.Proto, uint16(p.L4Len))
	pkt.TCP(frame[p.L4Off:]).SetChecksum(pkt.Fold(sum))
	h := vnetHdr(vnet)
	h[vnetOffFlags] = vnetFlagNeedsCsum
	h.setCsumStart(uint16(p.L4Off))
	h.setCsumOffset(pkt.TCPChecksumOffset)
}

// completePartial finishes the checksum of a transmitted frame whose
// virtio header says it is partial, as the receiving kernel would.
func completePartial(t *testing.T, l *memLink, frame []byte) {
	t.Helper()
	var p pkt.Parsed
	p.Decode(frame)
	if !pkt.CompletePartial(frame, p.L4Off, pkt.TCPChecksumOffset) {
		t.Fatal("cannot complete the partial checksum")
	}
}

func tick0(ms uint32) conntrack.Tick { return conntrack.Tick(ms) }

func TestFullNAT(t *testing.T) {
	w, outside, inside, tbl := natWorker(t)
	svc := tbl.Services[0]
	lip := netip.MustParseAddr("10.77.1.200")
	svc.LocalAddrs = [][4]byte{lip.As4()}
	d := svc.Dests[0]
	d.Method = vs.FullNAT
	tbl = vs.NewTable(2, []*vs.Service{svc}, nil)
	tbl.Routes = []vs.IPRoute{{Prefix: netip.MustParsePrefix("10.77.1.0/24"), Iface: 1}, {Prefix: netip.MustParsePrefix("10.77.0.0/24"), Iface: 0}}
	w.index, w.nworkers = 1, 2
	m := neighMap{client.As4(): clientMAC}
	w.neigh.m.Store(&m)
	if !tbl.AnswersARP(lip.As4()) || tbl.IsVIP(lip.As4()) {
		t.Fatalf("local address: ARP %v, VIP %v; want answered, not a VIP", tbl.AnswersARP(lip.As4()), tbl.IsVIP(lip.As4()))
	}

	syn := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build()
	outside.queue(syn)
	step(w, tbl, 0)
	got := inside.takeOut()
	if len(got) != 1 {
		t.Fatalf("SYN: %d frames inside", len(got))
	}
	var p pkt.Parsed
	p.Decode(got[0])
	pkttest.CheckIPv4(t, got[0], pkttest.SrcIP(lip), pkttest.DstIP(ripNAT), pkttest.DstPort(8080), pkttest.ValidChecksums())
	lport := p.SrcPort
	if lport < 1024 || fanoutHash(lip.As4(), lport)%2 != 1 {
		t.Errorf("local port %d does not hash back to worker 1", lport)
	}
	// The reply to the local address goes back to the client from the VIP.
	synack := pkttest.Frame{SrcMAC: rsNATMAC, DstMAC: insideMAC, Src: ripNAT, Dst: lip, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: lport, TCPFlags: pkt.TCPSyn | pkt.TCPAck}.Build()
	inside.queue(synack)
	step(w, tbl, 1)
	out := outside.takeOut()
	if len(out) != 1 {
		t.Fatalf("reply: %d frames outside", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(clientMAC), pkttest.SrcIP(vip), pkttest.SrcPort(80), pkttest.DstIP(client), pkttest.DstPort(40000), pkttest.ValidChecksums())
	// A second connection gets another local port.
	outside.queue(pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40001, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build())
	step(w, tbl, 2)
	got = inside.takeOut()
	var q pkt.Parsed
	if len(got) != 1 || q.Decode(got[0]) != pkt.DecodeOK || q.SrcPort == lport {
		t.Errorf("second connection: local port %d reused", q.SrcPort)
	}

	// The handover to the next process carries each connection's local
	// address and port (kept beside the connection, Table.Out).
	e := &Engine{workers: []*worker{w}, counts: []*counters{w.c}, templates: conntrack.NewTemplates()}
	e.table.Store(tbl)
	e.timeouts.Store(conntrack.DefaultTimeouts())
	stop := runWorker(w, e)
	entries := e.Handover(context.Background())
	stop()
	ports := map[uint16]uint16{} // client port -> local port
	for _, en := range entries {
		if !en.HasLocal || en.LAddr != lip.As4() {
			t.Errorf("handover entry %+v: no local address %v", en, lip)
		}
		ports[en.CPort] = en.LPort
	}
	if len(ports) != 2 || ports[40000] != lport || ports[40001] != q.SrcPort {
		t.Errorf("handover local ports %v, want 40000:%d 40001:%d", ports, lport, q.SrcPort)
	}
}

// ICMP errors about a NAT connection are translated both ways
// (ip_vs_out_icmp, ip_vs_in_icmp).
func TestNATICMP(t *testing.T) {
	w, outside, inside, _ := natWorker(t)
	st := &vs.DestState{}
	st.SetMAC(rsNATMAC)
	svc := &vs.Service{ID: 1, Proto: vs.UDP, Addr: vip, Port: 80, Netmask: 32, Stats: &vs.ServiceStats{},
		Dests: []*vs.Dest{{ID: 1, Addr: ripNAT, Port: 8080, Method: vs.Masq, Weight: 1, Iface: 1, State: st}}}
	sc, _ := sched.New("rr", svc, nil)
	svc.Scheduler = sc
	tbl := vs.NewTable(1, []*vs.Service{svc}, nil)
	tbl.Routes = []vs.IPRoute{{Prefix: netip.MustParsePrefix("10.77.1.0/24"), Iface: 1}, {Prefix: netip.MustParsePrefix("10.77.0.0/24"), Iface: 0}}
	m := neighMap{client.As4(): clientMAC}
	w.neigh.m.Store(&m)

	outside.queue(pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 80, Payload: []byte("q")}.Build())
	step(w, tbl, 0)
	got := inside.takeOut()
	if len(got) != 1 {
		t.Fatalf("datagram not forwarded")
	}
	// The real server's port is closed: its ICMP error quotes the
	// datagram as it received it (client -> RIP:8080).
	var rp pkt.Parsed
	rp.Decode(got[0])
	icmpOut := forward.PortUnreachable(nil, got[0], &rp, rsNATMAC, ripNAT.As4(), 9)
	pkt.Ether(icmpOut).SetDst(insideMAC)
	inside.queue(icmpOut)
	step(w, tbl, 1)
	out := outside.takeOut()
	if len(out) != 1 {
		t.Fatalf("ICMP from the real server not relayed (%d frames)", len(out))
	}
	var q pkt.Parsed
	q.Decode(out[0])
	quote, ok := forward.ParseICMPError(out[0], &q)
	if !ok || q.Src != vip.As4() || q.Dst != client.As4() || quote.Dst != vip.As4() || quote.DstPort != 80 || quote.Src != client.As4() {
		t.Errorf("client got ICMP %v -> %v quoting %v:%d -> %v:%d; want from the VIP quoting its datagram to VIP:80",
			q.Src, q.Dst, quote.Src, quote.SrcPort, quote.Dst, quote.DstPort)
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(clientMAC), pkttest.ICMPType(pkt.ICMPDestUnreachable), pkttest.ValidChecksums())

	// The other way: the client reports an error about the VIP's reply.
	reply := pkttest.Frame{SrcMAC: dirMAC, DstMAC: clientMAC, Src: vip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 80, DstPort: 5000, Payload: []byte("answer")}.Build()
	var pr pkt.Parsed
	pr.Decode(reply)
	icmpIn := forward.PortUnreachable(nil, reply, &pr, clientMAC, client.As4(), 7)
	pkt.Ether(icmpIn).SetDst(dirMAC)
	outside.queue(icmpIn)
	step(w, tbl, 2)
	in := inside.takeOut()
	if len(in) != 1 {
		t.Fatalf("ICMP from the client not relayed (%d frames)", len(in))
	}
	var qi pkt.Parsed
	qi.Decode(in[0])
	quote, ok = forward.ParseICMPError(in[0], &qi)
	if !ok || qi.Dst != ripNAT.As4() || quote.Src != ripNAT.As4() || quote.SrcPort != 8080 {
		t.Errorf("real server got ICMP to %v quoting %v:%d; want to the RIP quoting RIP:8080", qi.Dst, quote.Src, quote.SrcPort)
	}
	pkttest.CheckIPv4(t, in[0], pkttest.DstMAC(rsNATMAC), pkttest.ValidChecksums())
	if w.c.icmpRelayed.Load() != 2 {
		t.Errorf("icmp_relayed = %d, want 2", w.c.icmpRelayed.Load())
	}
}

// natOpen is natWorker with the client's next hop known and a connection
// from the client's port sport open (its SYN forwarded).
func natOpen(t testing.TB, sport uint16) (*worker, *memLink, *memLink, *vs.Table) {
	t.Helper()
	w, outside, inside, tbl := natWorker(t)
	m := neighMap{client.As4(): clientMAC}
	w.neigh.m.Store(&m)
	outside.queue(pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: sport, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build())
	step(w, tbl, 0)
	if len(inside.takeOut()) != 1 {
		t.Fatal("SYN not forwarded")
	}
	return w, outside, inside, tbl
}

// The NAT path, both directions of an established connection, allocates
// nothing per packet.
func TestNATAllocs(t *testing.T) {
	w, _, _, tbl := natOpen(t, 41000)
	in := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 41000, DstPort: 80, TCPFlags: pkt.TCPAck, Payload: []byte("data")}.Build()
	out := pkttest.Frame{SrcMAC: rsNATMAC, DstMAC: insideMAC, Src: ripNAT, Dst: client, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: 41000, TCPFlags: pkt.TCPAck, Payload: []byte("data")}.Build()
	buf := make([]byte, 256+len(in))
	for _, tc := range []struct {
		name  string
		frame []byte
		link  uint8
	}{{"inbound", in, 0}, {"outbound", out, 1}} {
		p := packet{buf: buf, off: 256, n: len(tc.frame), in: tc.link}
		allocs := testing.AllocsPerRun(200, func() {
			copy(buf[256:], tc.frame)
			clear(p.vnet())
			w.tx = w.tx[:0]
			if !w.process(&p, tbl, 1) {
				t.Fatalf("%s packet not forwarded", tc.name)
			}
		})
		if allocs != 0 {
			t.Errorf("%s NAT packet allocates %v times, want 0", tc.name, allocs)
		}
	}
}
