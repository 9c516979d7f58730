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
	vip6    = netip.MustParseAddr("2001:db8::100")
	client6 = netip.MustParseAddr("2001:db8:ffff::10")
	rs1v6   = netip.MustParseAddr("2001:db8::11")
	rs2v6   = netip.MustParseAddr("2001:db8::12")
	natRS6  = netip.MustParseAddr("2001:db8:1::21")
	natMAC  = [6]byte{0x02, 0, 0, 0, 0, 0x21}
)

// testTable6 builds an IPv6 table: TCP [vip6]:80 rr over two DR real
// servers, TCP [vip6]:8080 NAT66 to [natRS6]:80, UDP [vip6]:53 DR.
func testTable6(t testing.TB) *vs.Table {
	t.Helper()
	st := func(mac [6]byte) *vs.DestState {
		s := &vs.DestState{}
		s.SetMAC(mac)
		return s
	}
	mk := func(id uint32, proto vs.Protocol, port uint16, dests ...*vs.Dest) *vs.Service {
		svc := &vs.Service{ID: id, Proto: proto, Addr: vip6, Port: port, Netmask: 128, Stats: &vs.ServiceStats{}, Dests: dests}
		sc, err := sched.New("rr", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		return svc
	}
	svcs := []*vs.Service{
		mk(1, vs.TCP, 80,
			&vs.Dest{ID: 2, Addr: rs2v6, Port: 80, Method: vs.Route, Weight: 1, State: st(rs2MAC)},
			&vs.Dest{ID: 1, Addr: rs1v6, Port: 80, Method: vs.Route, Weight: 1, State: st(rs1MAC)}),
		mk(2, vs.TCP, 8080, &vs.Dest{ID: 3, Addr: natRS6, Port: 80, Method: vs.Masq, Weight: 1, State: st(natMAC)}),
		mk(3, vs.UDP, 53, &vs.Dest{ID: 4, Addr: rs1v6, Port: 53, Method: vs.Route, Weight: 1, State: st(rs1MAC)}),
	}
	return vs.NewTable(1, svcs, nil)
}

func tcp6(sport, dport uint16, flags uint8) []byte {
	return pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoTCP,
		SrcPort: sport, DstPort: dport, TCPFlags: flags, Payload: []byte("GET / HTTP/1.0\r\n\r\n")}.Build()
}

func decoded6(t *testing.T, f []byte) *pkt.Parsed6 {
	t.Helper()
	var p pkt.Parsed6
	if r := p.Decode6(f, 14, false); r != pkt.DecodeOK {
		t.Fatalf("output does not decode: %v", r)
	}
	if p.L4Off != 0 && p.Proto != pkt.ProtoICMPv6 && !pkt.L4ChecksumValid6(f, &p) {
		t.Errorf("output checksum wrong")
	}
	return &p
}

func TestIPv6NeighborSolicitation(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	out := run(w, l, tbl, 0, pkttest.Solicit6(clientMAC, client6, vip6))
	if len(out) != 1 {
		t.Fatalf("%d frames out for a solicitation of the VIP, want 1", len(out))
	}
	f := out[0]
	p := decoded6(t, f)
	if pkt.Ether(f).Dst() != clientMAC || pkt.Ether(f).Src() != dirMAC {
		t.Errorf("advert MACs %x -> %x", pkt.Ether(f).Src(), pkt.Ether(f).Dst())
	}
	if p.Src != vip6.As16() || p.Dst != client6.As16() || pkt.IPv6(f[14:]).HopLimit() != 255 {
		t.Errorf("advert %v -> %v hop limit %d", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst), pkt.IPv6(f[14:]).HopLimit())
	}
	msg := f[p.L4Off : p.L4Off+p.L4Len]
	target, mac, ok := ndp.ParseAdvert(msg)
	if !ok || target != vip6.As16() || mac != dirMAC || msg[4] != pkt.NDAdvertSolicited|pkt.NDAdvertOverride {
		t.Errorf("advert: ok %v target %v mac %x flags %#x", ok, netip.AddrFrom16(target), mac, msg[4])
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		t.Error("advert ICMPv6 checksum wrong")
	}
	// A DAD probe for the VIP is answered to all-nodes, not solicited.
	out = run(w, l, tbl, 0, pkttest.Solicit6(clientMAC, netip.IPv6Unspecified(), vip6))
	if len(out) != 1 {
		t.Fatalf("DAD probe: %d frames out", len(out))
	}
	f = out[0]
	p = decoded6(t, f)
	if p.Dst != ndp.AllNodes || f[p.L4Off+4] != pkt.NDAdvertOverride {
		t.Errorf("DAD answer to %v flags %#x", netip.AddrFrom16(p.Dst), f[p.L4Off+4])
	}
	// Solicitations for other addresses are the kernel's business.
	if out := run(w, l, tbl, 0, pkttest.Solicit6(clientMAC, client6, rs1v6)); len(out) != 0 {
		t.Errorf("answered a solicitation for a real server")
	}
	if got := w.c.ndReply.Load(); got != 2 {
		t.Errorf("ndReply %d, want 2", got)
	}
}

// TestVMAC6: an IPv6 address of a use_vmac instance is answered with the
// IPv6 virtual MAC (Ethernet source and target link-layer address), and
// frames sent to that MAC are forwarded like those to the interface's
// own; frames to another router's virtual MAC are not ours.
func TestVMAC6(t *testing.T) {
	vmac := [6]byte{0, 0, 0x5e, 0, 2, 61}
	tbl := testTable6(t)
	tbl.SetVMACs6(map[[16]byte][6]byte{vip6.As16(): vmac})
	if tbl.VMACs()[0] != vmac || !tbl.IsVMAC(vmac) {
		t.Fatalf("table's virtual MACs %x", tbl.VMACs())
	}
	w, l := newTestWorker()
	out := run(w, l, tbl, 0, pkttest.Solicit6(clientMAC, client6, vip6))
	if len(out) != 1 {
		t.Fatalf("solicitation of the VIP: %d frames out, want 1", len(out))
	}
	p := decoded6(t, out[0])
	msg := out[0][p.L4Off : p.L4Off+p.L4Len]
	target, mac, ok := ndp.ParseAdvert(msg)
	if !ok || target != vip6.As16() || mac != vmac || pkt.Ether(out[0]).Src() != vmac || pkt.Ether(out[0]).Dst() != clientMAC {
		t.Errorf("advert from %x, target %v at %x; want the virtual MAC %x", pkt.Ether(out[0]).Src(), netip.AddrFrom16(target), mac, vmac)
	}
	to := func(dst [6]byte, sport uint16) []byte {
		f := tcp6(sport, 80, pkt.TCPSyn)
		copy(f[0:6], dst[:])
		return f
	}
	if out := run(w, l, tbl, 0, to(vmac, 41000)); len(out) != 1 || pkt.Ether(out[0]).Dst() != rs1MAC && pkt.Ether(out[0]).Dst() != rs2MAC {
		t.Errorf("SYN to the virtual MAC: %d frames out, want 1 to a real server", len(out))
	}
	if out := run(w, l, tbl, 0, to([6]byte{0, 0, 0x5e, 0, 2, 62}, 41001)); len(out) != 0 {
		t.Errorf("SYN to another virtual MAC forwarded")
	}
	// The IPv4 and IPv6 virtual MACs are kept apart: setting one family
	// leaves the other's.
	tbl.SetVMACs(map[[4]byte][6]byte{{10, 0, 0, 1}: {0, 0, 0x5e, 0, 1, 51}})
	if _, ok := tbl.NDMAC(vip6.As16()); !ok || len(tbl.VMACs()) != 2 {
		t.Errorf("after SetVMACs: NDMAC %v, virtual MACs %x", ok, tbl.VMACs())
	}
	tbl.SetVMACs6(nil)
	if _, ok := tbl.NDMAC(vip6.As16()); ok || len(tbl.VMACs()) != 1 || tbl.IsVMAC(vmac) {
		t.Errorf("after SetVMACs6(nil): NDMAC %v, virtual MACs %x", ok, tbl.VMACs())
	}
}

func TestIPv6DR(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	var macs [][6]byte
	for i := range 4 {
		out := run(w, l, tbl, 0, tcp6(uint16(40000+i), 80, pkt.TCPSyn))
		if len(out) != 1 {
			t.Fatalf("SYN %d: %d frames out", i, len(out))
		}
		f := out[0]
		p := decoded6(t, f)
		if p.Dst != vip6.As16() || p.Src != client6.As16() || pkt.IPv6(f[14:]).HopLimit() != 63 {
			t.Errorf("DR changed the packet: %v -> %v hop %d", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst), pkt.IPv6(f[14:]).HopLimit())
		}
		macs = append(macs, pkt.Ether(f).Dst())
	}
	// rr over the kernel's list, newest first: rs2, rs1, rs2, rs1.
	want := [][6]byte{rs1MAC, rs2MAC, rs1MAC, rs2MAC}
	for i := range want {
		if macs[i] != want[i] && macs[i] != want[(i+1)%2] {
			t.Errorf("SYN %d went to %x", i, macs[i])
		}
	}
	if macs[0] == macs[1] || macs[0] != macs[2] {
		t.Errorf("not round robin: %x", macs)
	}
	// Established: the same real server, and the dest counts it active.
	out := run(w, l, tbl, 0, tcp6(40000, 80, pkt.TCPAck))
	if len(out) != 1 || pkt.Ether(out[0]).Dst() != macs[0] {
		t.Fatalf("ACK did not follow its SYN")
	}
	if w.ct.Len() != 0 || w.ct6.Len() != 4 {
		t.Errorf("IPv4 table %d, IPv6 table %d connections", w.ct.Len(), w.ct6.Len())
	}
	d := tbl.Dest(1)
	if d.State.ActiveConns.Load()+d.State.InactConns.Load() != 2 {
		t.Errorf("rs1 counts %d active %d inactive", d.State.ActiveConns.Load(), d.State.InactConns.Load())
	}
	// Extension headers are skipped; the hop-by-hop header survives.
	f := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53,
		ExtHeaders: []uint8{pkt.ProtoHopByHop, pkt.ProtoDstOpts}, Payload: []byte("q")}.Build()
	if out := run(w, l, tbl, 0, f); len(out) != 1 || decoded6(t, out[0]).ExtLen != 16 {
		t.Errorf("UDP with extension headers: %d frames out", len(out))
	}
}

func TestIPv6NAT(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	out := run(w, l, tbl, 0, tcp6(40000, 8080, pkt.TCPSyn))
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	f := out[0]
	p := decoded6(t, f)
	if p.Dst != natRS6.As16() || p.DstPort != 80 || pkt.Ether(f).Dst() != natMAC {
		t.Errorf("NAT66 in: to %v port %d mac %x", netip.AddrFrom16(p.Dst), p.DstPort, pkt.Ether(f).Dst())
	}
	reply := func(flags uint8) []byte {
		return pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoTCP,
			SrcPort: 80, DstPort: 40000, TCPFlags: flags, Payload: []byte("HTTP/1.0 200 OK\r\n")}.Build()
	}
	out = run(w, l, tbl, 0, reply(pkt.TCPSyn|pkt.TCPAck))
	if len(out) != 1 {
		t.Fatalf("reply: %d frames out", len(out))
	}
	f = out[0]
	p = decoded6(t, f)
	if p.Src != vip6.As16() || p.SrcPort != 8080 || p.Dst != client6.As16() || pkt.Ether(f).Dst() != clientMAC {
		t.Errorf("NAT66 out: from %v port %d to %v mac %x", netip.AddrFrom16(p.Src), p.SrcPort, netip.AddrFrom16(p.Dst), pkt.Ether(f).Dst())
	}
	run(w, l, tbl, 0, tcp6(40000, 8080, pkt.TCPAck))
	c := w.ct6.Lookup(conntrack.Key6{Src: client6.As16(), Dst: vip6.As16(), SrcPort: 40000, DstPort: 8080, Proto: pkt.ProtoTCP}, 0, tbl)
	if c == nil || c.State != conntrack.StateEstablished {
		t.Fatalf("connection %+v, want ESTABLISHED", c)
	}
	if st := tbl.Service(2).Stats; st.OutPkts.Load() != 1 || st.InPkts.Load() != 2 {
		t.Errorf("service counters in %d out %d", st.InPkts.Load(), st.OutPkts.Load())
	}
}

func TestIPv6Drops(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	// A first fragment whose data is not a multiple of 8 bytes (M set).
	frag := pkttest.Fragment6(pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53,
		Payload: []byte("query")}.Build(), 1, 0, 13, true)
	zero := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53,
		ZeroUDPChecksum: true, Payload: []byte("q")}.Build()
	big := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP, SrcPort: 5001, DstPort: 53,
		Payload: make([]byte, 1500)}.Build()
	noSvc := tcp6(40000, 81, pkt.TCPSyn)
	icmpErr := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoICMPv6,
		ICMPType: 1, Payload: make([]byte, 48)}.Build()
	w.mtus[0] = 1400
	out := run(w, l, tbl, 0, frag, zero, big, noSvc, icmpErr)
	// The one frame out: Packet Too Big for the big datagram.
	if len(out) != 1 {
		t.Fatalf("%d frames out, want the Packet Too Big alone", len(out))
	}
	f := out[0]
	p := decoded6(t, f)
	msg := f[p.L4Off : p.L4Off+p.L4Len]
	if p.Src != vip6.As16() || p.Dst != client6.As16() || msg[0] != pkt.ICMPv6PacketTooBig || binary.BigEndian.Uint32(msg[4:]) != 1400 ||
		pkt.Ether(f).Dst() != clientMAC || len(f) != 14+1280 {
		t.Errorf("Packet Too Big %v -> %v type %d mtu %d, %d bytes", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst), msg[0], binary.BigEndian.Uint32(msg[4:]), len(f))
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		t.Error("Packet Too Big checksum wrong")
	}
	for r, want := range map[Reason]uint64{ReasonIPv6Fragment: 1, ReasonMalformed: 1, ReasonIPv6TooBig: 1, ReasonNoService: 1, ReasonUnsupported: 1} {
		if got := w.c.drops[r].Load(); got != want {
			t.Errorf("drops[%v] = %d, want %d", r, got, want)
		}
	}
}

func TestIPv6Echo(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	echo := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoICMPv6,
		ICMPType: pkt.ICMPv6EchoRequest, Payload: []byte{0, 7, 0, 1, 'p', 'i', 'n', 'g'}}.Build()
	out := run(w, l, tbl, 0, echo)
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	p := decoded6(t, out[0])
	msg := out[0][p.L4Off : p.L4Off+p.L4Len]
	if p.Src != vip6.As16() || p.Dst != client6.As16() || msg[0] != pkt.ICMPv6EchoReply || string(msg[8:]) != "ping" {
		t.Errorf("echo reply %v -> %v type %d", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst), msg[0])
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		t.Error("echo reply checksum wrong")
	}
}

func TestIPv6ProcessAllocs(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcp6(40000, 80, pkt.TCPSyn), tcp6(40001, 8080, pkt.TCPSyn))
	for name, frame := range map[string][]byte{
		"DR established":    tcp6(40000, 80, pkt.TCPAck),
		"NAT66 established": tcp6(40001, 8080, pkt.TCPAck),
		"solicitation":      pkttest.Solicit6(clientMAC, client6, vip6),
	} {
		if allocs := packetAllocs(t, w, tbl, frame, 0); allocs != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", name, allocs)
		}
	}
	// New IPv6 connections (scheduling and insert) do not allocate once
	// the table exists.
	if allocs := newConn6Allocs(t, w, tbl, tcp6(1, 80, pkt.TCPSyn)); allocs != 0 {
		t.Errorf("new IPv6 connection allocates %v times, want 0", allocs)
	}
}

// ptbAbout builds a router's Packet Too Big to the VIP quoting reply, a
// packet the director's connection sent from the VIP.
func ptbAbout(reply []byte) []byte {
	body := make([]byte, 4+len(reply)-pkt.EtherHeaderLen)
	binary.BigEndian.PutUint32(body, 1400)
	copy(body[4:], reply[pkt.EtherHeaderLen:])
	return pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: netip.MustParseAddr("2001:db8:ffff::1"), Dst: vip6,
		Proto: pkt.ProtoICMPv6, ICMPType: pkt.ICMPv6PacketTooBig, Payload: body}.Build()
}

// TestIPv6ICMPErrorToVIP: a Packet Too Big about a reply reaches the real
// server of the connection, translated back for NAT66, as is for DR.
func TestIPv6ICMPErrorToVIP(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcp6(40000, 8080, pkt.TCPSyn), tcp6(40001, 80, pkt.TCPSyn))
	// NAT66: the reply as the client saw it, VIP:8080 -> client:40000.
	natReply := pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: 40000, TCPFlags: pkt.TCPAck,
		Payload: make([]byte, 1300)}.Build()
	out := run(w, l, tbl, 0, ptbAbout(natReply))
	if len(out) != 1 {
		t.Fatalf("NAT66 Packet Too Big: %d frames out", len(out))
	}
	f := out[0]
	p := decoded6(t, f)
	msg := f[p.L4Off : p.L4Off+p.L4Len]
	if p.Dst != natRS6.As16() || pkt.Ether(f).Dst() != natMAC {
		t.Errorf("relayed to %v mac %x", netip.AddrFrom16(p.Dst), pkt.Ether(f).Dst())
	}
	if got := [16]byte(msg[8+8 : 8+24]); got != natRS6.As16() || binary.BigEndian.Uint16(msg[8+40:]) != 80 {
		t.Errorf("quoted source %v port %d, want the real server's", netip.AddrFrom16(got), binary.BigEndian.Uint16(msg[8+40:]))
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		t.Error("relayed ICMPv6 checksum wrong")
	}
	// DR: unchanged but for the MACs and the hop limit, to the real server.
	drReply := pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 40001, TCPFlags: pkt.TCPAck}.Build()
	out = run(w, l, tbl, 0, ptbAbout(drReply))
	if len(out) != 1 {
		t.Fatalf("DR Packet Too Big: %d frames out", len(out))
	}
	if d := pkt.Ether(out[0]).Dst(); d != rs1MAC && d != rs2MAC {
		t.Errorf("DR error went to %x", d)
	}
	if p := decoded6(t, out[0]); p.Dst != vip6.As16() {
		t.Errorf("DR error's destination changed to %v", netip.AddrFrom16(p.Dst))
	}
	// About no connection: dropped.
	stray := pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 9, TCPFlags: pkt.TCPAck}.Build()
	if out := run(w, l, tbl, 0, ptbAbout(stray)); len(out) != 0 {
		t.Errorf("an error about no connection was relayed")
	}
	// The fanout program sends the error to the connection's worker.
	prog := fanoutProgram(nil, vip6.As16())
	if runFanout(t, prog, ptbAbout(natReply)) != runFanout(t, prog, tcp6(40000, 8080, pkt.TCPSyn)) {
		t.Error("the error and its connection hash to different workers")
	}
}

// BenchmarkProcess6Established is BenchmarkProcessEstablished for an
// IPv6 DR connection (and /NAT66 for a NAT66 one): decode with the
// extension-header walk, the IPv6 table's lookup and step, the rewrite.
func BenchmarkProcess6Established(b *testing.B) {
	for _, bc := range []struct {
		name string
		port uint16
	}{{"DR", 80}, {"NAT66", 8080}} {
		b.Run(bc.name, func(b *testing.B) {
			tbl := testTable6(b)
			w, l := newTestWorker()
			run(w, l, tbl, 0, tcp6(7000, bc.port, pkt.TCPSyn))
			frame := tcp6(7000, bc.port, pkt.TCPAck)
			buf := make([]byte, 256+len(frame))
			p := packet{buf: buf, off: 256, n: len(frame)}
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				copy(buf[256:], frame)
				w.tx = w.tx[:0]
				sinkForwarded = w.process(&p, tbl, 1)
			}
		})
	}
}

// TestIPv6ICMPErrorFromReal: an error from the real servers' side about a
// NAT66 request reaches the client from the VIP, quoting the packet as the
// client sent it; the fanout program sends it to the connection's worker.
func TestIPv6ICMPErrorFromReal(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcp6(40000, 8080, pkt.TCPSyn))
	// The request as the real server got it: client:40000 -> RIP:80.
	req := pkttest.Frame6{Src: client6, Dst: natRS6, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build()
	body := make([]byte, 4+len(req)-pkt.EtherHeaderLen)
	copy(body[4:], req[pkt.EtherHeaderLen:])
	unreach := pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoICMPv6,
		ICMPType: 1, ICMPCode: 4, Payload: body}.Build()
	out := run(w, l, tbl, 0, unreach)
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	f := out[0]
	p := decoded6(t, f)
	msg := f[p.L4Off : p.L4Off+p.L4Len]
	if p.Src != vip6.As16() || p.Dst != client6.As16() || pkt.Ether(f).Dst() != clientMAC {
		t.Errorf("relayed %v -> %v mac %x", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst), pkt.Ether(f).Dst())
	}
	if got := [16]byte(msg[8+24 : 8+40]); got != vip6.As16() || binary.BigEndian.Uint16(msg[8+42:]) != 8080 {
		t.Errorf("quoted destination %v port %d, want the VIP's", netip.AddrFrom16(got), binary.BigEndian.Uint16(msg[8+42:]))
	}
	if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
		t.Error("relayed ICMPv6 checksum wrong")
	}
	prog := fanoutProgram(nil, vip6.As16())
	if runFanout(t, prog, unreach) != runFanout(t, prog, tcp6(40000, 8080, pkt.TCPSyn)) {
		t.Error("the error and its connection hash to different workers")
	}
	eight := make([][16]byte, 8)
	for i := range eight {
		eight[i] = [16]byte{0x20, 0x01, 15: byte(i)}
	}
	if len(fanoutProgram(nil, eight...)) == 0 {
		t.Error("no program for 8 IPv6 VIPs")
	}
}
