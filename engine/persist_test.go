package engine

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

// svcSpec describes one service of a test table.
type svcSpec struct {
	proto   vs.Protocol
	port    uint16
	mark    uint32
	persist uint32 // timeout; 0 = not persistent
	netmask int
	flags   vs.ServiceFlags
}

// buildTable makes services with rs1 and rs2 (DR, added in that order).
func buildTable(t testing.TB, marks []vs.MarkRule, specs ...svcSpec) *vs.Table {
	t.Helper()
	var svcs []*vs.Service
	id := uint32(0)
	for i, sp := range specs {
		s1, s2 := &vs.DestState{}, &vs.DestState{}
		s1.SetMAC(rs1MAC)
		s2.SetMAC(rs2MAC)
		svc := &vs.Service{
			ID: uint32(i + 1), Proto: sp.proto, Port: sp.port, FwMark: sp.mark, Timeout: sp.persist,
			Netmask: 32, Flags: sp.flags, Stats: &vs.ServiceStats{},
			Dests: []*vs.Dest{
				{ID: id + 2, Addr: netip.MustParseAddr("10.77.0.12"), Method: vs.Route, Weight: 1, State: s2},
				{ID: id + 1, Addr: netip.MustParseAddr("10.77.0.11"), Method: vs.Route, Weight: 1, State: s1},
			},
		}
		id += 2
		if sp.mark == 0 {
			svc.Addr = vip
		}
		if sp.netmask != 0 {
			svc.Netmask = sp.netmask
		}
		if sp.persist != 0 {
			svc.Flags |= vs.SvcPersistent
		}
		sc, err := sched.New("rr", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		svcs = append(svcs, svc)
	}
	return vs.NewTableMarks(1, svcs, nil, marks)
}

func syn(src netip.Addr, sport, dport uint16) []byte {
	return pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: src, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: sport, DstPort: dport, TCPFlags: pkt.TCPSyn}.Build()
}

func tcpTo(src netip.Addr, sport, dport uint16, flags uint8) []byte {
	return pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: src, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: sport, DstPort: dport, TCPFlags: flags}.Build()
}

// dstOf returns "rs1", "rs2" or "" (dropped) for one frame through w.
func dstOf(w *worker, l *memLink, tbl *vs.Table, now conntrack.Tick, frame []byte) string {
	out := run(w, l, tbl, now, frame)
	if len(out) == 0 {
		return ""
	}
	switch pkt.Ether(out[0]).Dst() {
	case rs1MAC:
		return "rs1"
	case rs2MAC:
		return "rs2"
	}
	return "?"
}

var (
	clientA = netip.MustParseAddr("10.77.0.10")
	clientB = netip.MustParseAddr("10.77.0.20")
)

func TestPersistence(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80, persist: 60})
	w, l := newTestWorker()
	first := dstOf(w, l, tbl, 0, syn(clientA, 1000, 80))
	for i := range 19 {
		if got := dstOf(w, l, tbl, 0, syn(clientA, uint16(1001+i), 80)); got != first {
			t.Fatalf("connection %d of client A went to %s, want %s like its first", i+2, got, first)
		}
	}
	// A second client is scheduled by rr: the next dest.
	if got := dstOf(w, l, tbl, 0, syn(clientB, 1000, 80)); got == first || got == "" {
		t.Errorf("client B went to %q, want the other real server than %s", got, first)
	}
	d := tbl.Dest(2) // rs2, first in the list, so rr's first pick
	if first != "rs2" || d.State.PersistConns.Load() != 1 {
		t.Errorf("first = %s, rs2 PersistConns = %d; want rs2 with one template", first, d.State.PersistConns.Load())
	}
	// The template outlives its connections by the persistence timeout,
	// then goes.
	if n := w.tmpls.Sweep(30_000, tbl); n != 0 {
		t.Errorf("template expired while its connections live")
	}
	w.ct.Flush(tbl)
	if n := w.tmpls.Sweep(59_000, tbl); n != 0 {
		t.Errorf("template expired before its timeout")
	}
	if n := w.tmpls.Sweep(61_000, tbl); n != 2 {
		t.Errorf("Sweep expired %d templates, want both", n)
	}
	if d.State.PersistConns.Load() != 0 {
		t.Errorf("PersistConns = %d after the template expired", d.State.PersistConns.Load())
	}
}

func TestPersistenceNetmask(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80, persist: 300, netmask: 24})
	w, l := newTestWorker()
	a := dstOf(w, l, tbl, 0, syn(netip.MustParseAddr("10.1.2.3"), 1, 80))
	b := dstOf(w, l, tbl, 0, syn(netip.MustParseAddr("10.1.2.200"), 1, 80))
	c := dstOf(w, l, tbl, 0, syn(netip.MustParseAddr("10.1.3.1"), 1, 80))
	if a != b || a == c {
		t.Errorf("-M 255.255.255.0: 10.1.2.3 -> %s, 10.1.2.200 -> %s, 10.1.3.1 -> %s; want the /24 together, the other apart", a, b, c)
	}
}

func TestPortGroupFTP(t *testing.T) {
	// The seed's FTP cluster: mark 21 groups ports 21, 20 and
	// 10000-20000; one persistent service on the mark.
	marks := []vs.MarkRule{{Mark: 21, Proto: vs.TCP, Addr: netip.PrefixFrom(vip, 32), Ports: [][2]uint16{{21, 21}, {20, 20}, {10000, 20000}}}}
	tbl := buildTable(t, marks, svcSpec{mark: 21, persist: 300})
	w, l := newTestWorker()
	ctrl := dstOf(w, l, tbl, 0, syn(clientA, 40000, 21))
	data := dstOf(w, l, tbl, 0, syn(clientA, 40001, 15000))
	other := dstOf(w, l, tbl, 0, syn(clientB, 40000, 21))
	if ctrl == "" || data != ctrl {
		t.Errorf("control to %q, passive data to %q: want the same real server", ctrl, data)
	}
	if other == ctrl {
		t.Errorf("a second client shares the first one's real server under rr")
	}
	if got := dstOf(w, l, tbl, 0, syn(clientA, 40002, 80)); got != "" {
		t.Errorf("port 80 is outside the group but went to %s", got)
	}
	if !tbl.AnswersARP(vip.As4()) {
		t.Errorf("the mark rule's address is not answered for")
	}
	// The template is <IPPROTO_IP, client, 0, mark 21, 0>.
	list := w.tmpls.List()
	if len(list) != 2 || list[0].Key.Proto != 0 || list[0].Key.Dst != [4]byte{0, 0, 0, 21} || list[0].Key.DstPort != 0 {
		t.Errorf("templates = %+v", list)
	}
}

func TestFTPFallbackAndPortZero(t *testing.T) {
	// A persistent port-21 service takes the client's data connections to
	// unprivileged ports and port 20 (ip_vs_service_find's FTP rule).
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 21, persist: 300})
	w, l := newTestWorker()
	ctrl := dstOf(w, l, tbl, 0, syn(clientA, 40000, 21))
	if got := dstOf(w, l, tbl, 0, syn(clientA, 40001, 30000)); got != ctrl {
		t.Errorf("passive data connection went to %q, want %q", got, ctrl)
	}
	if got := dstOf(w, l, tbl, 0, syn(clientA, 40002, 80)); got != "" {
		t.Errorf("privileged port 80 matched the FTP service: %s", got)
	}
	// Non-persistent, the same fallback finds the service but schedules
	// nothing (ip_vs_schedule refuses a port other than the service's).
	tbl = buildTable(t, nil, svcSpec{proto: vs.TCP, port: 21})
	w, l = newTestWorker()
	if got := dstOf(w, l, tbl, 0, syn(clientA, 40001, 30000)); got != "" {
		t.Errorf("non-persistent FTP service scheduled a data port: %s", got)
	}
	// A persistent port-zero service catches every port of its address,
	// one template per client for all of them.
	tbl = buildTable(t, nil, svcSpec{proto: vs.TCP, port: 0, persist: 300})
	w, l = newTestWorker()
	a := dstOf(w, l, tbl, 0, syn(clientA, 1, 80))
	b := dstOf(w, l, tbl, 0, syn(clientA, 2, 443))
	if a == "" || a != b {
		t.Errorf("port-zero service: port 80 -> %q, port 443 -> %q", a, b)
	}
}

func TestOnePacketUDP(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.UDP, port: 53, flags: vs.SvcOnePacket})
	w, l := newTestWorker()
	dg := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: clientA, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53, Payload: []byte("q")}.Build()
	var got []string
	for range 4 {
		got = append(got, dstOf(w, l, tbl, 0, dg))
	}
	if got[0] != "rs2" || got[1] != "rs1" || got[2] != "rs2" || got[3] != "rs1" {
		t.Errorf("-o: datagrams of one flow went to %v, want each scheduled anew", got)
	}
	if w.ct.Len() != 0 {
		t.Errorf("-o left %d connections in the table", w.ct.Len())
	}
}

func TestConnReuseAndNodest(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80})
	w, l := newTestWorker()
	first := dstOf(w, l, tbl, 0, syn(clientA, 7000, 80))
	dstOf(w, l, tbl, 0, tcpTo(clientA, 7000, 80, pkt.TCPFin|pkt.TCPAck)) // SYN_RECV -> TIME_WAIT (INPUT-ONLY)
	// conn_reuse_mode 1: a new SYN on a TIME_WAIT connection reschedules.
	if got := dstOf(w, l, tbl, 0, syn(clientA, 7000, 80)); got == first {
		t.Errorf("SYN on a TIME_WAIT connection stayed on %s, want rescheduled", got)
	}
	// conn_reuse_mode 0: it stays.
	tbl.Knobs.ConnReuseMode = 0
	second := dstOf(w, l, tbl, 0, syn(clientA, 7001, 80))
	dstOf(w, l, tbl, 0, tcpTo(clientA, 7001, 80, pkt.TCPFin|pkt.TCPAck))
	if got := dstOf(w, l, tbl, 0, syn(clientA, 7001, 80)); got != second {
		t.Errorf("conn_reuse_mode 0: SYN moved from %s to %s", second, got)
	}

	// A dest removed from its service: its connection's packets are
	// dropped; with expire_nodest_conn the connection goes at once.
	w, l = newTestWorker()
	tbl = buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80})
	if got := dstOf(w, l, tbl, 0, syn(clientA, 8000, 80)); got != "rs2" {
		t.Fatalf("first SYN to %s", got)
	}
	svc := tbl.Services[0]
	gone := *svc.Dests[0]
	gone.Trashed = true
	svc2 := *svc
	svc2.Dests = svc.Dests[1:]
	tbl2 := vs.NewTable(2, []*vs.Service{&svc2}, []*vs.Dest{&gone})
	before := w.c.drops[ReasonDestGone].Load()
	if got := dstOf(w, l, tbl2, 0, tcpTo(clientA, 8000, 80, pkt.TCPAck)); got != "" {
		t.Errorf("packet of a removed dest's connection forwarded to %s", got)
	}
	if w.c.drops[ReasonDestGone].Load() != before+1 || w.ct.Len() != 1 {
		t.Errorf("drop not counted or connection gone without expire_nodest_conn")
	}
	tbl2.Knobs.ExpireNodestConn = true
	ack := tcpTo(clientA, 8000, 80, pkt.TCPAck)
	checkReset(t, run(w, l, tbl2, 0, ack), ack)
	if e := (&Engine{counts: []*counters{w.c}}).Counters(); e["rst_sent"] != 1 || e["expire_nodest_conns"] != 1 {
		t.Errorf("counters rst_sent %d, expire_nodest_conns %d, want 1 and 1", e["rst_sent"], e["expire_nodest_conns"])
	}
	if w.ct.Len() != 0 || w.c.nodestExpired.Load() != 1 {
		t.Errorf("expire_nodest_conn kept the connection (%d left, %d expired)", w.ct.Len(), w.c.nodestExpired.Load())
	}
}

// TestResetNoConn: a segment that belongs to no connection and opens none
// is dropped silently by default, and with expire_nodest_conn answered
// with a reset as the kernel director's stack answers it (RST for an ACK,
// RST|ACK for a segment without ACK, never for a RST).
func TestResetNoConn(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80})
	w, l := newTestWorker()
	ack := tcpTo(clientA, 9100, 80, pkt.TCPAck)
	if out := run(w, l, tbl, 0, ack); len(out) != 0 {
		t.Errorf("expire_nodest_conn 0: %d frames answer an ACK without a connection, want none", len(out))
	}
	tbl.Knobs.ExpireNodestConn = true
	checkReset(t, run(w, l, tbl, 0, ack), ack)
	fin := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: clientA, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 9101, DstPort: 80, TCPFlags: pkt.TCPFin, Payload: []byte("abc")}.Build()
	checkReset(t, run(w, l, tbl, 0, fin), fin)
	if out := run(w, l, tbl, 0, tcpTo(clientA, 9102, 80, pkt.TCPRst|pkt.TCPAck)); len(out) != 0 {
		t.Errorf("a RST answered")
	}
	if w.c.rstSent.Load() != 2 || w.c.drops[ReasonNotSYN].Load() != 4 {
		t.Errorf("rst_sent %d, no_conn_not_syn %d, want 2 and 4", w.c.rstSent.Load(), w.c.drops[ReasonNotSYN].Load())
	}
}

// TestExpireNodestConn: with expire_nodest_conn, removing a dest expires
// its connections when the workers adopt the new table
// (ip_vs_expire_nodest_conn_flush), the others stay; a SYN on an expired
// connection's ports is scheduled again (ip_vs_in reschedules after
// expiring). Without it the connections stay and their packets are
// dropped, counted as dest_gone.
func TestExpireNodestConn(t *testing.T) {
	for _, expire := range []bool{false, true} {
		tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80})
		w, l := newTestWorker()
		w.expireNodest(tbl)
		on := map[string][]uint16{}
		for port := uint16(8000); port < 8010; port++ {
			d := dstOf(w, l, tbl, 0, syn(clientA, port, 80))
			on[d] = append(on[d], port)
		}
		if len(on["rs1"]) != 5 || len(on["rs2"]) != 5 {
			t.Fatalf("rr spread %v", on)
		}
		svc := tbl.Services[0]
		var gone *vs.Dest
		for _, d := range svc.Dests {
			if d.Addr.String() == "10.77.0.12" { // rs2
				g := *d
				g.Trashed = true
				gone = &g
			}
		}
		svc2 := *svc
		svc2.Dests = nil
		for _, d := range svc.Dests {
			if d.ID != gone.ID {
				svc2.Dests = append(svc2.Dests, d)
			}
		}
		sc, err := sched.New("rr", &svc2, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc2.Scheduler = sc
		tbl2 := vs.NewTable(2, []*vs.Service{&svc2}, []*vs.Dest{gone})
		tbl2.Knobs.ExpireNodestConn = expire
		w.expireNodest(tbl2)
		if want := map[bool]int{false: 10, true: 5}[expire]; w.ct.Len() != want {
			t.Errorf("expire_nodest_conn %v: %d connections left after the dest went, want %d", expire, w.ct.Len(), want)
		}
		for _, port := range on["rs1"] {
			if got := dstOf(w, l, tbl2, 0, tcpTo(clientA, port, 80, pkt.TCPAck)); got != "rs1" {
				t.Errorf("expire_nodest_conn %v: a connection to rs1 went to %q", expire, got)
			}
		}
		port := on["rs2"][0]
		before := w.c.drops[ReasonDestGone].Load()
		got := dstOf(w, l, tbl2, 0, syn(clientA, port, 80))
		switch {
		case !expire && (got != "" || w.c.drops[ReasonDestGone].Load() != before+1):
			t.Errorf("without expire_nodest_conn: a SYN on a removed dest's connection went to %q, want a dest_gone drop", got)
		case expire && got != "rs1":
			t.Errorf("with expire_nodest_conn: a SYN on an expired connection's ports went to %q, want rescheduled to rs1", got)
		}
	}
}

func TestSloppyTCP(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80})
	w, l := newTestWorker()
	if got := dstOf(w, l, tbl, 0, tcpTo(clientA, 9000, 80, pkt.TCPAck)); got != "" {
		t.Errorf("ACK without a connection forwarded")
	}
	tbl.Knobs.SloppyTCP = true
	if got := dstOf(w, l, tbl, 0, tcpTo(clientA, 9000, 80, pkt.TCPAck)); got == "" {
		t.Errorf("sloppy_tcp: ACK did not create a connection")
	}
}

func TestPersistentPathAllocs(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80, persist: 300})
	w, l := newTestWorker()
	w.ct = conntrack.New(conntrack.Config{Capacity: 1 << 14, Templates: w.tmpls})
	dstOf(w, l, tbl, 0, syn(clientA, 1, 80)) // creates the template
	if allocs := newPortAllocs(t, w, tbl, syn(clientA, 2, 80), pkt.IPv4MinHeaderLen); allocs != 0 {
		t.Errorf("new connection under an existing template allocates %v times", allocs)
	}
}

// newPortAllocs is the allocations per new connection of frame's client
// from a new source port each run (l3len: the IP header's length), under
// the template an earlier connection made.
func newPortAllocs(t *testing.T, w *worker, tbl *vs.Table, frame []byte, l3len int) float64 {
	t.Helper()
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	port := pkt.TCP(frame[pkt.EtherHeaderLen+l3len:]).SrcPort()
	return testing.AllocsPerRun(500, func() {
		copy(buf[256:], frame)
		port++
		pkt.TCP(buf[256+pkt.EtherHeaderLen+l3len:]).SetSrcPort(port)
		w.tx = w.tx[:0]
		if !w.process(&p, tbl, 1) {
			t.Fatal("not forwarded")
		}
	})
}

// A template's dest that leaves the service (or, with
// expire_quiescent_template, drops to weight 0) no longer takes the
// client's new connections (ip_vs_check_template).
func TestTemplateInvalidation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		change    func(d *vs.Dest, k *vs.Knobs)
		wantMoved bool
	}{
		{"dest removed", func(d *vs.Dest, k *vs.Knobs) { d.Trashed = true }, true},
		{"weight 0, default knobs", func(d *vs.Dest, k *vs.Knobs) { d.Weight = 0 }, false},
		{"weight 0, expire_quiescent_template", func(d *vs.Dest, k *vs.Knobs) { d.Weight = 0; k.ExpireQuiescentTemplate = true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80, persist: 300})
			w, l := newTestWorker()
			first := dstOf(w, l, tbl, 0, syn(clientA, 1000, 80))
			if first != "rs2" {
				t.Fatalf("first connection to %s", first)
			}
			// The next table: rs2 changed as the case says.
			svc := *tbl.Services[0]
			rs2 := *svc.Dests[0]
			knobs := vs.DefaultKnobs()
			tc.change(&rs2, &knobs)
			var extra []*vs.Dest
			if rs2.Trashed {
				svc.Dests = svc.Dests[1:]
				extra = []*vs.Dest{&rs2}
			} else {
				svc.Dests = []*vs.Dest{&rs2, svc.Dests[1]}
			}
			sc, err := sched.New("rr", &svc, nil)
			if err != nil {
				t.Fatal(err)
			}
			svc.Scheduler = sc
			tbl2 := vs.NewTable(2, []*vs.Service{&svc}, extra)
			tbl2.Knobs = knobs
			got := dstOf(w, l, tbl2, 1000, syn(clientA, 1001, 80))
			if moved := got != "rs2"; moved != tc.wantMoved || got == "" {
				t.Errorf("the client's next connection went to %q; moved = %v, want %v", got, moved, tc.wantMoved)
			}
		})
	}
}

// Persistence holds for UDP too: datagrams from other source ports of the
// same client reach the same real server.
func TestUDPPersistence(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.UDP, port: 53, persist: 60})
	w, l := newTestWorker()
	dg := func(sport uint16) []byte {
		return pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: clientA, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: sport, DstPort: 53, Payload: []byte("q")}.Build()
	}
	first := dstOf(w, l, tbl, 0, dg(5000))
	for sport := uint16(5001); sport < 5010; sport++ {
		if got := dstOf(w, l, tbl, 0, dg(sport)); got != first {
			t.Fatalf("datagram from port %d went to %s, not %s", sport, got, first)
		}
	}
}

// expire_nodest_conn's new-SYN rule applies only with conn_reuse_mode,
// as in ip_vs_in.
func TestExpireNodestNeedsConnReuse(t *testing.T) {
	for _, reuse := range []int{0, 1} {
		tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80})
		w, l := newTestWorker()
		if got := dstOf(w, l, tbl, 0, syn(clientA, 9100, 80)); got != "rs2" {
			t.Fatalf("first SYN to %s", got)
		}
		svc := *tbl.Services[0]
		rs2 := *svc.Dests[0]
		rs2.Weight = 0
		svc.Dests = []*vs.Dest{&rs2, svc.Dests[1]}
		sc, _ := sched.New("rr", &svc, nil)
		svc.Scheduler = sc
		tbl2 := vs.NewTable(2, []*vs.Service{&svc}, nil)
		tbl2.Knobs.ExpireNodestConn = true
		tbl2.Knobs.ConnReuseMode = reuse
		got := dstOf(w, l, tbl2, 10, syn(clientA, 9100, 80))
		if want := map[int]string{0: "rs2", 1: "rs1"}[reuse]; got != want {
			t.Errorf("conn_reuse_mode %d: SYN on the weight-0 dest's connection went to %s, want %s", reuse, got, want)
		}
	}
}

// TestExpireQuiescentTemplate: a persistent client keeps going to a real
// server quiesced with weight 0 while its template lives; with
// expire_quiescent_template the template is not used (ip_vs_check_template)
// and the client is scheduled afresh.
func TestExpireQuiescentTemplate(t *testing.T) {
	for _, expire := range []bool{false, true} {
		tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80, persist: 60})
		tbl.Knobs.ExpireQuiescentTemplate = expire
		w, l := newTestWorker()
		first := dstOf(w, l, tbl, 0, syn(clientA, 1000, 80))
		for _, d := range tbl.Services[0].Dests {
			if (first == "rs1") == (d.Addr.String() == "10.77.0.11") {
				d.Weight = 0
			}
		}
		got := dstOf(w, l, tbl, 0, syn(clientA, 1001, 80))
		if want := map[bool]bool{false: true, true: false}[expire]; (got == first) != want {
			t.Errorf("expire_quiescent_template %v: the next connection went to %s, first to %s (same wanted: %v)", expire, got, first, want)
		}
		if got == "" {
			t.Errorf("expire_quiescent_template %v: the next connection was dropped", expire)
		}
	}
}
