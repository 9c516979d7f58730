package engine

import (
	"context"

	"golang.org/x/net/bpf"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/arp"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

var (
	dirMAC    = [6]byte{0x02, 0, 0, 0, 0, 0x02}
	clientMAC = [6]byte{0x02, 0, 0, 0, 0, 0x10}
	rs1MAC    = [6]byte{0x02, 0, 0, 0, 0, 0x11}
	rs2MAC    = [6]byte{0x02, 0, 0, 0, 0, 0x12}
	vip       = netip.MustParseAddr("10.77.0.100")
	client    = netip.MustParseAddr("10.77.0.10")
)

// testTable builds TCP and UDP vip:80 services, rr, DR to rs1 and rs2
// (added in that order, so rs2 is first in the kernel's list).
func testTable(t testing.TB, weights ...int32) *vs.Table {
	t.Helper()
	if len(weights) == 0 {
		weights = []int32{1, 1}
	}
	var svcs []*vs.Service
	for i, proto := range []vs.Protocol{vs.TCP, vs.UDP} {
		s1 := &vs.DestState{}
		s1.SetMAC(rs1MAC)
		s2 := &vs.DestState{}
		s2.SetMAC(rs2MAC)
		id := uint32(2 * i)
		svc := &vs.Service{
			ID: uint32(i + 1), Proto: proto, Addr: vip, Port: 80, Netmask: 32,
			Stats: &vs.ServiceStats{},
			Dests: []*vs.Dest{
				{ID: id + 2, Addr: netip.MustParseAddr("10.77.0.12"), Port: 80, Method: vs.Route, Weight: weights[1], State: s2},
				{ID: id + 1, Addr: netip.MustParseAddr("10.77.0.11"), Port: 80, Method: vs.Route, Weight: weights[0], State: s1},
			},
		}
		sc, err := sched.New("rr", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		svcs = append(svcs, svc)
	}
	return vs.NewTable(1, svcs, nil)
}

func newTestWorker() (*worker, *memLink) {
	l := &memLink{}
	return newWorker(l, dirMAC, &counters{}, Config{ConnTableSize: 1024}, nil), l
}

func tcpFrame(sport uint16, flags uint8) []byte {
	return pkttest.Frame{
		SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip,
		Proto: pkt.ProtoTCP, SrcPort: sport, DstPort: 80, TCPFlags: flags,
		Payload: []byte("GET / HTTP/1.0\r\n\r\n"),
	}.Build()
}

// run feeds frames through one batch and returns what was transmitted.
func run(w *worker, l *memLink, tbl *vs.Table, now conntrack.Tick, frames ...[]byte) [][]byte {
	for _, f := range frames {
		l.queue(f)
	}
	n := l.collect(w.rx)
	w.batch(n, tbl, now)
	return l.takeOut()
}

func TestDRForwarding(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	tests := []struct {
		name    string
		in      []byte
		wantMAC [6]byte // zero: expect a drop
		drop    Reason
	}{
		{name: "first SYN goes to the newest dest", in: tcpFrame(1000, pkt.TCPSyn), wantMAC: rs2MAC},
		{name: "second SYN rotates", in: tcpFrame(1001, pkt.TCPSyn), wantMAC: rs1MAC},
		{name: "ACK of first flow stays", in: tcpFrame(1000, pkt.TCPAck), wantMAC: rs2MAC},
		{name: "ACK of second flow stays", in: tcpFrame(1001, pkt.TCPAck|pkt.TCPPsh), wantMAC: rs1MAC},
		{name: "third SYN rotates back", in: tcpFrame(1002, pkt.TCPSyn), wantMAC: rs2MAC},
		{name: "ACK without connection", in: tcpFrame(2000, pkt.TCPAck), drop: ReasonNotSYN},
		{name: "SYN+RST does not open", in: tcpFrame(2001, pkt.TCPSyn|pkt.TCPRst), drop: ReasonNotSYN},
		{name: "no service on port", in: pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 5, DstPort: 81, TCPFlags: pkt.TCPSyn}.Build(), drop: ReasonNoService},
		{name: "not a VIP", in: pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: netip.MustParseAddr("10.77.0.2"), Proto: pkt.ProtoTCP, SrcPort: 5, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build(), drop: ReasonNotOurs},
		{name: "UDP to the UDP service", in: pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 53000, DstPort: 80, Payload: []byte("hi")}.Build(), wantMAC: rs2MAC},
		{name: "truncated IPv4", in: tcpFrame(3000, pkt.TCPSyn)[:30], drop: ReasonMalformed},
		{name: "TTL 1 has no hop left", in: pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 3100, DstPort: 80, TCPFlags: pkt.TCPSyn, TTL: 1}.Build(), drop: ReasonTTL},
		{name: "IPv4 fragment", in: pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 53001, DstPort: 80, Payload: []byte("x"), MF: true}.Build(), drop: ReasonFragment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.c.drops[tt.drop].Load()
			in := append([]byte(nil), tt.in...)
			out := run(w, l, tbl, 1000, tt.in)
			if tt.wantMAC == ([6]byte{}) {
				if len(out) != 0 {
					t.Fatalf("got %d frames out, want a drop", len(out))
				}
				if got := w.c.drops[tt.drop].Load() - before; got != 1 {
					t.Fatalf("drop counter %v moved by %d, want 1", tt.drop, got)
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("got %d frames out, want 1", len(out))
			}
			got := out[0]
			if dst := pkt.Ether(got).Dst(); dst != tt.wantMAC {
				t.Errorf("dst MAC = %x, want %x", dst, tt.wantMAC)
			}
			if src := pkt.Ether(got).Src(); src != dirMAC {
				t.Errorf("src MAC = %x, want %x", src, dirMAC)
			}
			// DR changes nothing above the link layer but the TTL, spent
			// like every forwarded hop, and the header checksum with it.
			want := append([]byte(nil), in...)
			pkt.IPv4(want[pkt.EtherHeaderLen:]).DecTTL()
			if string(got[12:]) != string(want[12:]) {
				t.Errorf("IP packet changed by DR beyond the TTL")
			}
		})
	}
	d1, d2 := tbl.Dest(1).State, tbl.Dest(2).State
	// Three forwarded SYNs, plus the TTL-1 SYN: as in the kernel, its
	// connection exists before transmission finds the TTL spent.
	if a, i := d1.ActiveConns.Load()+d2.ActiveConns.Load(), d1.InactConns.Load()+d2.InactConns.Load(); a+i != 4 {
		t.Errorf("TCP conns counted: active %d + inactive %d, want 4 in all", a, i)
	}
}

func TestARPAndEcho(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	req := pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, vip.As4())
	out := run(w, l, tbl, 0, req)
	if len(out) != 1 {
		t.Fatalf("ARP who-has VIP: %d frames out, want 1", len(out))
	}
	a := pkt.ARP(out[0][pkt.EtherHeaderLen:])
	if a.Op() != pkt.ARPReply || a.SHA() != dirMAC || a.SPA() != vip.As4() || a.TPA() != client.As4() || a.THA() != clientMAC {
		t.Errorf("bad ARP reply: op %d sha %x spa %v tha %x tpa %v", a.Op(), a.SHA(), a.SPA(), a.THA(), a.TPA())
	}
	other := pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, [4]byte{10, 77, 0, 2})
	if out := run(w, l, tbl, 0, other); len(out) != 0 {
		t.Errorf("ARP for a non-VIP answered")
	}
	_, _ = arp.IsRequestFor, arp.MakeReply

	echo := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, ICMPID: 7, ICMPSeq: 1, Payload: []byte("ping")}.Build()
	out = run(w, l, tbl, 0, echo)
	if len(out) != 1 {
		t.Fatalf("echo to VIP: %d frames out, want 1", len(out))
	}
	var p pkt.Parsed
	if r := p.Decode(out[0]); r != pkt.DecodeOK {
		t.Fatalf("reply does not decode: %v", r)
	}
	ip := pkt.IPv4(out[0][p.L3Off:])
	if p.Src != vip.As4() || p.Dst != client.As4() || p.ICMPType != pkt.ICMPEchoReply || !ip.ChecksumValid() || !pkt.L4ChecksumValid(ip) {
		t.Errorf("bad echo reply: %+v", p)
	}
}

func TestQuiescedAndUnresolved(t *testing.T) {
	// rs1 weight 0: new connections only to rs2; rs2's MAC unknown after:
	// nothing available.
	tbl := testTable(t, 0, 1)
	w, l := newTestWorker()
	for i := range 4 {
		out := run(w, l, tbl, 0, tcpFrame(uint16(4000+i), pkt.TCPSyn))
		if len(out) != 1 || pkt.Ether(out[0]).Dst() != rs2MAC {
			t.Fatalf("SYN %d not sent to rs2", i)
		}
	}
	tbl.Dest(2).State.ClearMAC()
	before := w.c.drops[ReasonNoDest].Load()
	out := run(w, l, tbl, 0, tcpFrame(5000, pkt.TCPSyn))
	if len(out) != 1 {
		t.Fatalf("SYN with no available dest: %d frames out, want the ICMP error only", len(out))
	}
	// ip_vs_leave: port unreachable from the VIP back to the client.
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(clientMAC), pkttest.SrcMAC(dirMAC), pkttest.SrcIP(vip), pkttest.DstIP(client),
		pkttest.ICMPType(pkt.ICMPDestUnreachable), pkttest.ICMPCode(pkt.ICMPPortUnreachable), pkttest.ValidChecksums())
	if w.c.drops[ReasonNoDest].Load() != before+1 {
		t.Errorf("no_dest not counted")
	}
	// An established flow to an unresolved dest is counted, not sent blind.
	if out := run(w, l, tbl, 0, tcpFrame(4000, pkt.TCPAck)); len(out) != 0 {
		t.Fatalf("frame sent to an unresolved MAC")
	}
}

func TestVLANReinsert(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	l.queue(tcpFrame(6000, pkt.TCPSyn))
	n := l.collect(w.rx)
	w.rx[0].status |= tpStatusVLANValid
	w.rx[0].vlanTCI = 42
	w.batch(n, tbl, 0)
	out := l.takeOut()
	if len(out) != 1 {
		t.Fatalf("got %d frames", len(out))
	}
	var p pkt.Parsed
	if r := p.Decode(out[0]); r != pkt.DecodeOK || p.VLANs != 1 || p.VLANID != 42 {
		t.Fatalf("decode %v, vlans %d id %d; want one tag 42", r, p.VLANs, p.VLANID)
	}
}

// runFilter runs the socket filter on an Ethernet frame sent to us
// (PACKET_HOST).
func runFilter(t *testing.T, prog []bpf.RawInstruction, frame []byte) bool {
	t.Helper()
	return runFilterType(t, prog, frame, 0)
}

func TestFilterProgram(t *testing.T) {
	rip := netip.MustParseAddr("10.77.1.11")
	other := netip.MustParseAddr("10.77.0.2")
	toVIP := tcpFrame(1, pkt.TCPSyn)
	fromRIP := pkttest.Frame{Src: rip, Dst: client, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 1}.Build()
	toOther := pkttest.Frame{Src: client, Dst: other, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 22}.Build()
	arpReq := pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, vip.As4())
	tests := []struct {
		name    string
		vips    [][4]byte
		rips    [][4]byte
		passAll bool
		frame   []byte
		want    bool
	}{
		{"ARP", nil, nil, false, arpReq, true},
		{"to a VIP", [][4]byte{vip.As4()}, nil, false, toVIP, true},
		{"to another address", [][4]byte{vip.As4()}, nil, false, toOther, false},
		{"no VIPs yet", nil, nil, false, toVIP, false},
		{"from a NAT real server", [][4]byte{vip.As4()}, [][4]byte{rip.As4()}, false, fromRIP, true},
		{"from a DR real server", [][4]byte{vip.As4()}, nil, false, fromRIP, false},
		{"pass all", nil, nil, true, toOther, true},
		{"too many VIPs pass all", make([][4]byte, 300), nil, false, toOther, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := filterProgram(tt.vips, tt.passAll, tt.rips...)
			if got := runFilter(t, prog, tt.frame); got != tt.want {
				t.Errorf("accepted = %v, want %v", got, tt.want)
			}
		})
	}
}

// processEstablished is the per-packet path for an established flow:
// decode, conntrack hit, DR rewrite.
func TestProcessAllocs(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcpFrame(7000, pkt.TCPSyn))
	frame := tcpFrame(7000, pkt.TCPAck)
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	allocs := testing.AllocsPerRun(1000, func() {
		copy(buf[256:], frame)
		w.tx = w.tx[:0]
		if !w.process(&p, tbl, 1) {
			t.Fatal("not forwarded")
		}
	})
	if allocs != 0 {
		t.Errorf("per-packet path allocates %v times, want 0", allocs)
	}
	// A new connection (scheduling and insert) must not allocate either.
	w.ct = conntrack.New(conntrack.Config{Capacity: 1 << 14})
	syn := tcpFrame(1, pkt.TCPSyn)
	i := 0
	allocs = testing.AllocsPerRun(1000, func() {
		copy(buf[256:], syn)
		i++
		pkt.IPv4(buf[256+pkt.EtherHeaderLen:]).SetSrc([4]byte{10, 1, byte(i >> 8), byte(i)})
		w.tx = w.tx[:0]
		if !w.process(&p, tbl, 1) {
			t.Fatal("SYN not forwarded")
		}
	})
	if allocs != 0 {
		t.Errorf("new-connection path allocates %v times, want 0", allocs)
	}
}

var sinkForwarded bool

func BenchmarkProcessEstablished(b *testing.B) {
	tbl := testTable(b)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcpFrame(7000, pkt.TCPSyn))
	frame := tcpFrame(7000, pkt.TCPAck)
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		copy(buf[256:], frame)
		w.tx = w.tx[:0]
		sinkForwarded = w.process(&p, tbl, 1)
	}
}

func BenchmarkProcessNewConn(b *testing.B) {
	tbl := testTable(b)
	w, _ := newTestWorker()
	w.ct = conntrack.New(conntrack.Config{Capacity: 1 << 22})
	frame := tcpFrame(1, pkt.TCPSyn)
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		copy(buf[256:], frame)
		// A distinct source address and port per iteration.
		i++
		pkt.IPv4(buf[256+pkt.EtherHeaderLen:]).SetSrc([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		w.tx = w.tx[:0]
		sinkForwarded = w.process(&p, tbl, 1)
		if i%(1<<20) == 0 {
			w.ct = conntrack.New(conntrack.Config{Capacity: 1 << 22})
		}
	}
}

func TestConnsAndCounters(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcpFrame(8000, pkt.TCPSyn), tcpFrame(8001, pkt.TCPSyn))
	e := &Engine{workers: []*worker{w}, counts: []*counters{w.c}}
	e.table.Store(tbl)
	e.timeouts.Store(conntrack.DefaultTimeouts())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.run(ctx, e) }()
	conns, _ := e.Conns(context.Background())
	cancel()
	<-done
	if len(conns) != 2 {
		t.Fatalf("got %d connections, want 2", len(conns))
	}
	m := e.Counters()
	if m["forwarded"] != 2 || m["new_conns"] != 2 || m["rx_frames"] != 2 {
		t.Errorf("counters = %v", m)
	}
}

// A failover backup for the VIP answers no ARP for it and forwards nothing
// to it (counted as standby); a floating address is answered while master.
func TestStandby(t *testing.T) {
	tbl := testTable(t)
	gw := [4]byte{10, 77, 0, 1}
	tbl.SetHA([][4]byte{vip.As4()}, [][4]byte{gw})
	w, l := newTestWorker()
	req := pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, vip.As4())
	if out := run(w, l, tbl, 0, req, tcpFrame(40000, pkt.TCPSyn)); len(out) != 0 {
		t.Errorf("backup: %d frames out for ARP and a SYN to the VIP, want 0", len(out))
	}
	if got := w.c.drops[ReasonStandby].Load(); got != 2 {
		t.Errorf("standby drops = %d, want 2", got)
	}
	if out := run(w, l, tbl, 0, pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, gw)); len(out) != 1 {
		t.Errorf("ARP for the floating address: %d frames out, want 1", len(out))
	}
	// Master again: the same table built without standby.
	tbl = testTable(t)
	if out := run(w, l, tbl, 0, req); len(out) != 1 {
		t.Errorf("master: ARP for the VIP: %d frames out, want 1", len(out))
	}
	if tbl.AnswersARP(gw) {
		t.Errorf("a table without failover addresses answers for %v", gw)
	}
}

// runFilterType runs the socket filter as the kernel would for a frame of
// packet type pkttype: the x/net VM lacks the packet-type extension, so
// the load of it becomes a load of the constant.
func runFilterType(t *testing.T, prog []bpf.RawInstruction, frame []byte, pkttype uint32) bool {
	t.Helper()
	var insns []bpf.Instruction
	for _, ri := range prog {
		in := ri.Disassemble()
		if le, ok := in.(bpf.LoadExtension); ok && le.Num == bpf.ExtType {
			in = bpf.LoadConstant{Dst: bpf.RegA, Val: pkttype}
		}
		insns = append(insns, in)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestFilterProgramVMAC: frames sent to a use_vmac instance's virtual MAC
// arrive as PACKET_OTHERHOST and must pass; other OTHERHOST frames not.
func TestFilterProgramVMAC(t *testing.T) {
	vmac51 := [6]byte{0, 0, 0x5e, 0, 1, 51}
	vmac52 := [6]byte{0, 0, 0x5e, 0, 1, 52}
	to := func(dst [6]byte) []byte {
		f := tcpFrame(1, pkt.TCPSyn)
		copy(f[0:6], dst[:])
		return f
	}
	vips := [][4]byte{vip.As4()}
	const host, otherHost, outgoing = 0, 3, 4
	tests := []struct {
		name    string
		vmacs   [][6]byte
		frame   []byte
		pkttype uint32
		want    bool
	}{
		{"to the VMAC", [][6]byte{vmac51}, to(vmac51), otherHost, true},
		{"to the second VMAC", [][6]byte{vmac51, vmac52}, to(vmac52), otherHost, true},
		{"to another router's VMAC", [][6]byte{vmac51}, to(vmac52), otherHost, false},
		{"to another host", [][6]byte{vmac51}, to([6]byte{2, 0, 0, 0, 0, 9}), otherHost, false},
		{"same low bytes, other high bytes", [][6]byte{vmac51}, to([6]byte{2, 0, 0x5e, 0, 1, 51}), otherHost, false},
		{"to us, with VMACs", [][6]byte{vmac51}, to([6]byte{2, 0, 0, 0, 0, 2}), host, true},
		{"our own output", [][6]byte{vmac51}, to(vmac51), outgoing, false},
		{"no VMACs: OTHERHOST dropped", nil, to(vmac51), otherHost, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := filterProgramVMAC(vips, false, nil, tt.vmacs)
			if got := runFilterType(t, prog, tt.frame, tt.pkttype); got != tt.want {
				t.Errorf("accepted = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestVMAC: a use_vmac instance's address is answered with the virtual
// MAC, and frames sent to that MAC are forwarded like those to the
// interface's own; frames to another router's virtual MAC are not ours.
func TestVMAC(t *testing.T) {
	vmac := [6]byte{0, 0, 0x5e, 0, 1, 51}
	tbl := testTable(t)
	tbl.SetHA(nil, nil)
	tbl.SetVMACs(map[[4]byte][6]byte{vip.As4(): vmac})
	w, l := newTestWorker()
	req := pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, vip.As4())
	out := run(w, l, tbl, 0, req)
	if len(out) != 1 {
		t.Fatalf("ARP who-has VIP: %d frames out, want 1", len(out))
	}
	if a := pkt.ARP(out[0][pkt.EtherHeaderLen:]); a.SHA() != vmac || pkt.Ether(out[0]).Src() != vmac {
		t.Errorf("ARP reply from %x, sha %x; want the virtual MAC %x", pkt.Ether(out[0]).Src(), a.SHA(), vmac)
	}
	to := func(dst [6]byte, sport uint16) []byte {
		f := tcpFrame(sport, pkt.TCPSyn)
		copy(f[0:6], dst[:])
		return f
	}
	if out := run(w, l, tbl, 0, to(vmac, 41000)); len(out) != 1 || pkt.Ether(out[0]).Dst() != rs1MAC && pkt.Ether(out[0]).Dst() != rs2MAC {
		t.Errorf("SYN to the virtual MAC: %d frames out, want 1 to a real server", len(out))
	}
	if out := run(w, l, tbl, 0, to([6]byte{0, 0, 0x5e, 0, 1, 52}, 41001)); len(out) != 0 {
		t.Errorf("SYN to another virtual MAC forwarded")
	}
}

// checkReset checks that out is one RST to the sender of segment in, as
// the kernel's tcp_v4_send_reset builds it: SEQ=SEG.ACK for a segment with
// ACK, else ACK=SEG.SEQ+SEG.LEN with RST|ACK.
func checkReset(t *testing.T, out [][]byte, in []byte) {
	t.Helper()
	if len(out) != 1 {
		t.Fatalf("got %d frames out, want one RST", len(out))
	}
	var i pkt.Parsed
	if r := i.Decode(in); r != pkt.DecodeOK {
		t.Fatal(r)
	}
	it := pkt.TCP(in[i.L4Off:])
	checks := []pkttest.Checker{
		pkttest.DstMAC(pkt.Ether(in).Src()), pkttest.DstIP(netip.AddrFrom4(i.Src)), pkttest.SrcIP(netip.AddrFrom4(i.Dst)),
		pkttest.DstPort(i.SrcPort), pkttest.SrcPort(i.DstPort), pkttest.ValidChecksums(),
	}
	if i.TCPFlags&pkt.TCPAck != 0 {
		checks = append(checks, pkttest.TCPFlags(pkt.TCPRst), pkttest.Seq(it.Ack()))
	} else {
		n := uint32(i.L4Len - it.DataOffset()) // SYN and FIN count one each
		if i.TCPFlags&pkt.TCPSyn != 0 {
			n++
		}
		if i.TCPFlags&pkt.TCPFin != 0 {
			n++
		}
		checks = append(checks, pkttest.TCPFlags(pkt.TCPRst|pkt.TCPAck), pkttest.Ack(it.Seq()+n))
	}
	pkttest.CheckIPv4(t, out[0], checks...)
}
