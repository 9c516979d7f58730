package engine

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

var dip = [4]byte{10, 77, 0, 2}

// tunWorker has one link (MTU mtu) and a TUN service VIP:80 -> rs1.
func tunWorker(t testing.TB, mtu int) (*worker, *memLink, *vs.Table) {
	t.Helper()
	st := &vs.DestState{}
	st.SetMAC(rs1MAC)
	svc := &vs.Service{ID: 1, Proto: vs.TCP, Addr: vip, Port: 80, Netmask: 32, Stats: &vs.ServiceStats{},
		Dests: []*vs.Dest{{ID: 1, Addr: netip.MustParseAddr("10.77.0.11"), Port: 80, Method: vs.Tunnel, Weight: 1, State: st}}}
	sc, err := sched.New("rr", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Scheduler = sc
	tbl := vs.NewTable(1, []*vs.Service{svc}, nil)
	w, l := newTestWorker()
	w.addrs[0], w.mtus[0] = dip, mtu
	return w, l, tbl
}

func TestTunnel(t *testing.T) {
	w, l, tbl := tunWorker(t, 1500)
	in := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPSyn, TOS: 0x2e, DF: true, TTL: 50}.Build()
	out := run(w, l, tbl, 0, in)
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	rs := netip.MustParseAddr("10.77.0.11")
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(rs1MAC), pkttest.SrcMAC(dirMAC), pkttest.SrcIP(netip.AddrFrom4(dip)), pkttest.DstIP(rs),
		pkttest.Proto(pkt.ProtoIPIP), pkttest.TOS(0x2e), pkttest.DF(true), pkttest.TTL(49), pkttest.ValidChecksums())
	// The inner packet is the client's with one hop spent; the outer
	// header copies the spent TTL, as after decrement_ttl in the kernel.
	want := append([]byte(nil), in...)
	pkt.IPv4(want[pkt.EtherHeaderLen:]).DecTTL()
	if !bytes.Equal(out[0][pkt.EtherHeaderLen+pkt.IPv4MinHeaderLen:], want[pkt.EtherHeaderLen:]) {
		t.Errorf("inner packet changed beyond the TTL")
	}
}

func TestTunnelMTU(t *testing.T) {
	// Path MTU 1500: a full-size DF packet no longer fits with the outer
	// header; the client gets fragmentation needed with 1480.
	w, l, tbl := tunWorker(t, 1500)
	big := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 2, DstPort: 80, TCPFlags: pkt.TCPSyn, DF: true, Payload: make([]byte, 1460)}.Build()
	out := run(w, l, tbl, 0, big)
	if len(out) != 1 {
		t.Fatalf("%d frames out, want the ICMP error", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstIP(client), pkttest.SrcIP(vip), pkttest.ICMPType(pkt.ICMPDestUnreachable),
		pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1480), pkttest.ValidChecksums())
	if w.c.fragNeeded.Load() != 1 {
		t.Errorf("frag_needed not counted")
	}
	// Without DF the packet is fragmented, then each piece encapsulated.
	w, l, tbl = tunWorker(t, 1500)
	nodf := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 3, DstPort: 80, Payload: make([]byte, 1472)}.Build()
	tblUDP := udpTunTable(t)
	out = run(w, l, tblUDP, 0, nodf)
	if len(out) != 2 {
		t.Fatalf("non-DF packet: %d frames out, want 2 fragments", len(out))
	}
	for i, f := range out {
		if len(f)-pkt.EtherHeaderLen > 1500 {
			t.Errorf("fragment %d: %d bytes of IP, over the MTU", i, len(f)-pkt.EtherHeaderLen)
		}
		pkttest.CheckIPv4(t, f, pkttest.Proto(pkt.ProtoIPIP), pkttest.ValidChecksums())
	}
	_ = tbl
}

// udpTunTable is tunWorker's table with a UDP service instead.
func udpTunTable(t *testing.T) *vs.Table {
	st := &vs.DestState{}
	st.SetMAC(rs1MAC)
	svc := &vs.Service{ID: 1, Proto: vs.UDP, Addr: vip, Port: 80, Netmask: 32, Stats: &vs.ServiceStats{},
		Dests: []*vs.Dest{{ID: 1, Addr: netip.MustParseAddr("10.77.0.11"), Port: 80, Method: vs.Tunnel, Weight: 1, State: st}}}
	sc, err := sched.New("rr", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Scheduler = sc
	return vs.NewTable(1, []*vs.Service{svc}, nil)
}

func TestTunnelGSO(t *testing.T) {
	// A TSO super-frame is segmented in software, each segment
	// encapsulated with complete checksums.
	w, l, tbl := tunWorker(t, 1500)
	run(w, l, tbl, 0, pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 4, DstPort: 80, TCPFlags: pkt.TCPSyn, DF: true}.Build())
	payload := make([]byte, 4000)
	for i := range payload {
		payload[i] = byte(i)
	}
	super := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 4, DstPort: 80, TCPFlags: pkt.TCPAck | pkt.TCPPsh, DF: true, Payload: payload}.Build()
	vnet := make([]byte, vnetHdrLen)
	makePartial(t, super, vnet)
	h := vnetHdr(vnet)
	h.setGSO(vnetGSOTCPv4, 1400)
	h.setHdrLen(uint16(pkt.EtherHeaderLen + pkt.IPv4MinHeaderLen + pkt.TCPMinHeaderLen))
	l.queueVnet(vnet, super)
	n := l.collect(w.rx)
	w.batch(n, tbl, 1)
	out := l.takeOut()
	if len(out) != 3 {
		t.Fatalf("%d frames out, want 3 segments of at most 1400 bytes", len(out))
	}
	var got []byte
	for _, f := range out {
		pkttest.CheckIPv4(t, f, pkttest.Proto(pkt.ProtoIPIP), pkttest.DF(true), pkttest.ValidChecksums())
		inner := f[pkt.EtherHeaderLen+pkt.IPv4MinHeaderLen:]
		if !pkt.L4ChecksumValid(pkt.IPv4(inner)) {
			t.Errorf("segment's inner TCP checksum is not complete")
		}
		got = append(got, pkt.TCP(pkt.IPv4(inner).Payload()).Payload()...)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("segments carry %d bytes, not the original payload", len(got))
	}
}

// Reassembled datagrams (the fanout groups defragment) leave as fragments
// again when they exceed the egress MTU.
func TestRefragmentReassembled(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	dg := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 5, DstPort: 80, Payload: make([]byte, 3000)}.Build()
	out := run(w, l, tbl, 0, dg)
	if len(out) != 3 {
		t.Fatalf("%d frames out, want 3 fragments", len(out))
	}
	total := 0
	for _, f := range out {
		var p pkt.Parsed
		if r := p.Decode(f); r != pkt.DecodeOK {
			t.Fatalf("fragment does not decode: %v", r)
		}
		if p.IPLen > 1500 || pkt.Ether(f).Dst() != rs2MAC {
			t.Errorf("fragment of %d bytes to %x", p.IPLen, pkt.Ether(f).Dst())
		}
		total += p.IPLen - pkt.IPv4MinHeaderLen
	}
	if total != 3000+pkt.UDPHeaderLen {
		t.Errorf("fragments carry %d bytes, want %d", total, 3000+pkt.UDPHeaderLen)
	}
}

// A router's fragmentation needed about one of our IPIP packets reaches
// the client as one about its own packet, and lowers the path MTU we use.
func TestTunnelICMPRelay(t *testing.T) {
	w, l, tbl := tunWorker(t, 1500)
	m := neighMap{client.As4(): clientMAC}
	w.neigh.m.Store(&m)
	syn := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 7, DstPort: 80, TCPFlags: pkt.TCPSyn, DF: true}.Build()
	out := run(w, l, tbl, 0, syn)
	if len(out) != 1 {
		t.Fatal("SYN not tunnelled")
	}
	var tp pkt.Parsed
	tp.Decode(out[0])
	router := netip.MustParseAddr("10.77.0.254")
	icmp := forward.FragNeeded(nil, out[0], &tp, 1400, [6]byte{2, 0, 0, 0, 0, 0xfe}, router.As4(), 3)
	pkt.Ether(icmp).SetDst(dirMAC)
	got := run(w, l, tbl, 1, icmp)
	if len(got) != 1 {
		t.Fatalf("%d frames for the client, want the relayed error", len(got))
	}
	pkttest.CheckIPv4(t, got[0], pkttest.DstMAC(clientMAC), pkttest.SrcIP(vip), pkttest.DstIP(client),
		pkttest.ICMPType(pkt.ICMPDestUnreachable), pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1380), pkttest.ValidChecksums())
	var q pkt.Parsed
	q.Decode(got[0])
	quote, ok := forward.ParseICMPError(got[0], &q)
	if !ok || quote.Src != client.As4() || quote.Dst != vip.As4() || quote.SrcPort != 7 {
		t.Errorf("relayed error quotes %+v, want the client's SYN", quote)
	}
	if pm := tbl.Dest(1).State.PathMTU.Load(); pm != 1400 {
		t.Errorf("path MTU %d, want 1400", pm)
	}
	// Now a DF packet that fits the link but not the path is refused at once.
	big := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 7, DstPort: 80, TCPFlags: pkt.TCPAck, DF: true, Payload: make([]byte, 1400)}.Build()
	got = run(w, l, tbl, 2, big)
	if len(got) != 1 {
		t.Fatal("no answer to the too-big packet")
	}
	pkttest.CheckIPv4(t, got[0], pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1380))
}

// TestGSOOverMTU: a TSO super-frame whose segments (gso_size 1448, 1500
// bytes of IP each) do not fit an egress MTU lowered to 1400 under the
// connection is answered with fragmentation needed carrying 1400, as the
// kernel's ip_forward does for a GSO packet; with segments that fit it is
// forwarded whole.
func TestGSOOverMTU(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcpFrame(4000, pkt.TCPSyn))
	payload := make([]byte, 3*1448)
	super := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 4000, DstPort: 80, TCPFlags: pkt.TCPAck, DF: true, Payload: payload}.Build()
	send := func(mtu int) [][]byte {
		w.mtus[0] = mtu
		vnet := make([]byte, vnetHdrLen)
		makePartial(t, super, vnet)
		h := vnetHdr(vnet)
		h.setGSO(vnetGSOTCPv4, 1448)
		h.setHdrLen(uint16(pkt.EtherHeaderLen + pkt.IPv4MinHeaderLen + pkt.TCPMinHeaderLen))
		l.queueVnet(vnet, append([]byte(nil), super...))
		n := l.collect(w.rx)
		w.batch(n, tbl, 1)
		return l.takeOut()
	}
	if out := send(1500); len(out) != 1 || pkt.Ether(out[0]).Dst() == clientMAC {
		t.Fatalf("segments that fit: %d frames out, want the super-frame forwarded", len(out))
	}
	before := w.c.fragNeeded.Load()
	out := send(1400)
	if len(out) != 1 {
		t.Fatalf("segments over the MTU: %d frames out, want one ICMP error", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(clientMAC), pkttest.DstIP(client), pkttest.ICMPType(pkt.ICMPDestUnreachable),
		pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1400), pkttest.ValidChecksums())
	if w.c.fragNeeded.Load() != before+1 {
		t.Errorf("frag_needed not counted")
	}
}

// TestNATOverMTU: with the real servers' link (inside) at MTU 1400, a
// client's 1500-byte DF segment is answered with fragmentation needed
// quoting the packet as the client sent it (to the VIP, not rewritten to
// the real server), and with the client's link at 1400 a real server's
// 1500-byte DF reply is answered likewise, quoting its own packet.
func TestNATOverMTU(t *testing.T) {
	w, outside, inside, tbl := natOpen(t, 40000)
	big := make([]byte, 1460)
	quoted := func(f []byte) pkt.IPv4 {
		var p pkt.Parsed
		p.Decode(f)
		return pkt.IPv4(f[p.L4Off+8:])
	}

	w.mtus[1] = 1400
	outside.queue(pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck, DF: true, Payload: big}.Build())
	step(w, tbl, 2)
	out := outside.takeOut()
	if len(out) != 1 || len(inside.takeOut()) != 0 {
		t.Fatalf("%d frames back to the client, want one ICMP error and nothing to the real server", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(clientMAC), pkttest.SrcIP(vip), pkttest.DstIP(client), pkttest.ICMPType(pkt.ICMPDestUnreachable),
		pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1400), pkttest.ValidChecksums())
	if q := quoted(out[0]); q.Dst() != vip.As4() || q.Src() != client.As4() {
		t.Errorf("the ICMP error quotes %v -> %v, want the client's packet to the VIP", q.Src(), q.Dst())
	}

	w.mtus[1], w.mtus[0] = 1500, 1400
	inside.queue(pkttest.Frame{SrcMAC: rsNATMAC, DstMAC: insideMAC, Src: ripNAT, Dst: client, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: 40000, TCPFlags: pkt.TCPAck, DF: true, Payload: big}.Build())
	step(w, tbl, 3)
	back := inside.takeOut()
	if len(back) != 1 || len(outside.takeOut()) != 0 {
		t.Fatalf("%d frames back to the real server, want one ICMP error and nothing to the client", len(back))
	}
	pkttest.CheckIPv4(t, back[0], pkttest.DstMAC(rsNATMAC), pkttest.DstIP(ripNAT), pkttest.ICMPType(pkt.ICMPDestUnreachable),
		pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1400), pkttest.ValidChecksums())
	if q := quoted(back[0]); q.Src() != ripNAT.As4() {
		t.Errorf("the ICMP error quotes a packet from %v, want the real server's own", q.Src())
	}
}
