package engine

import (
	"context"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ipvssync"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/vs"
)

// TestSyncIPv6 follows IPv6 connections from a master's worker through
// the wire format (ip_vs_sync_v6 entries, encoded and decoded) into a
// backup's tables: a DR connection synced at its 3rd packet carries on to
// the same real server after the takeover, and a NAT66 connection's
// replies reach the client once its first packet to the backup told the
// backup the client's neighbour (before it, they are dropped, counted).
func TestSyncIPv6(t *testing.T) {
	tbl := testTable6(t)
	w, l, src := masterWorker(t, tbl, 0)
	run(w, l, tbl, 0, tcp6(41000, 80, pkt.TCPSyn))
	first := run(w, l, tbl, 0, tcp6(41001, 80, pkt.TCPSyn)) // the second rr pick
	if len(first) != 1 {
		t.Fatal("SYN not forwarded")
	}
	dst := pkt.Ether(first[0]).Dst()
	run(w, l, tbl, 1, tcp6(41001, 80, pkt.TCPAck))
	run(w, l, tbl, 2, tcp6(41001, 80, pkt.TCPAck))
	run(w, l, tbl, 0, tcp6(42000, 8080, pkt.TCPSyn))
	run(w, l, tbl, 1, tcp6(42000, 8080, pkt.TCPAck))
	run(w, l, tbl, 2, tcp6(42000, 8080, pkt.TCPAck))
	got := drainAll(src)
	if len(got) != 2 {
		t.Fatalf("%d entries synced, want 2: %v", len(got), got)
	}
	dr, nat := got[0], got[1]
	if !dr.IPv6 || dr.Client() != netip.AddrPortFrom(client6, 41001) || dr.Virtual() != netip.AddrPortFrom(vip6, 80) ||
		dr.Flags != ipvssync.FlagDRoute|ipvssync.FlagNoOutput || dr.State != ipvssync.TCPEstablished || dr.Timeout != 900 {
		t.Errorf("DR entry %v", &dr)
	}
	if !nat.IPv6 || nat.Dest() != netip.AddrPortFrom(natRS6, 80) || nat.Flags != ipvssync.FlagMasq {
		t.Errorf("NAT66 entry %v", &nat)
	}
	msg := ipvssync.AppendMessageV1(nil, 1, got)
	m, err := ipvssync.Decode(msg)
	if err != nil || len(m.Entries) != 2 {
		t.Fatalf("decode: %v, %d entries", err, len(m.Entries))
	}

	// The backup: a fresh table (rr would pick rs2 first) and two
	// workers; both entries land with worker 0 when the engine has no
	// IPv6 VIP to compare (the fanout sends all IPv6 there).
	btbl := testTable6(t)
	b0, bl := newTestWorker()
	b1, _ := newTestWorker()
	e := syncTestEngine(btbl, b0, b1)
	sink := e.StartSyncBackup(3, 0)
	sink.Deliver(m)
	b0.drainInbox(e.syncBackup.Load(), btbl, 10)
	b1.drainInbox(e.syncBackup.Load(), btbl, 10)
	if b0.ct6 == nil || b0.ct6.Len() != 2 || b1.ct6 != nil {
		t.Fatalf("backup tables: worker 0 %v, worker 1 %v", b0.ct6, b1.ct6)
	}
	if st := sink.Stats(); st.Created != 2 {
		t.Errorf("backup stats %+v", st)
	}
	c := b0.ct6.Lookup(conntrack.Key6{Src: client6.As16(), Dst: vip6.As16(), SrcPort: 41001, DstPort: 80, Proto: pkt.ProtoTCP}, 10, btbl)
	if c == nil || c.State != conntrack.StateEstablished || c.Flags&conntrack.FlagSync == 0 || c.InPkts != 3 {
		t.Fatalf("synced connection %+v", c)
	}
	d := btbl.Dest(c.DestID)
	if d.State.ActiveConns.Load() != 1 || d.State.InactConns.Load() != 0 {
		t.Errorf("dest counts %d active %d inactive", d.State.ActiveConns.Load(), d.State.InactConns.Load())
	}
	out := run(b0, bl, btbl, 11, tcp6(41001, 80, pkt.TCPAck))
	if len(out) != 1 || pkt.Ether(out[0]).Dst() != dst {
		t.Fatalf("after the takeover the ACK went to %v, want %x", out, dst)
	}

	// The NAT66 entry carried the client's neighbour: the real server's
	// reply goes back to the client at once.
	reply := pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoTCP,
		SrcPort: 80, DstPort: 42000, TCPFlags: pkt.TCPAck, Payload: []byte("data")}.Build()
	if !m.Entries[1].HasNeigh || m.Entries[1].NeighMAC != clientMAC || m.Entries[1].NeighLink != 0 {
		t.Errorf("NAT66 entry without the client's neighbour: %v", &m.Entries[1])
	}
	out = run(b0, bl, btbl, 11, reply)
	if len(out) != 1 || pkt.Ether(out[0]).Dst() != clientMAC {
		t.Fatalf("NAT66 reply after the takeover: %d frames", len(out))
	}
	if p := decoded6(t, out[0]); p.Src != vip6.As16() || p.SrcPort != 8080 {
		t.Errorf("reply from %v port %d", netip.AddrFrom16(p.Src), p.SrcPort)
	}

	// An entry without it (a master that had not seen the client's
	// neighbour, or a kernel's): the replies wait for the client's
	// first packet here, dropped meanwhile.
	bare := m.Entries[1]
	bare.HasNeigh = false
	n, nl := newTestWorker()
	ne := syncTestEngine(testTable6(t), n)
	ne.StartSyncBackup(3, 0).Deliver(ipvssync.Message{Entries: []ipvssync.Entry{bare}})
	ntbl := ne.table.Load()
	n.drainInbox(ne.syncBackup.Load(), ntbl, 10)
	if out := run(n, nl, ntbl, 11, reply); len(out) != 0 {
		t.Fatalf("NAT66 reply before any client packet: %d frames out", len(out))
	}
	if k := n.c.drops[ReasonNoNeighbour].Load(); k != 1 {
		t.Errorf("no_neighbour drops %d, want 1", k)
	}
	if out := run(n, nl, ntbl, 12, tcp6(42000, 8080, pkt.TCPAck)); len(out) != 1 {
		t.Fatal("client packet of the synced NAT66 connection not forwarded")
	}
	if out := run(n, nl, ntbl, 12, reply); len(out) != 1 || pkt.Ether(out[0]).Dst() != clientMAC {
		t.Fatalf("NAT66 reply after the client's packet: %d frames", len(out))
	}
}

// TestSyncIPv6Template: an IPv6 persistence template goes with its
// connection, keyed by the client masked to the service's prefix length,
// and the backup files it under the same key on the same real server.
func TestSyncIPv6Template(t *testing.T) {
	mk := func() *vs.Table {
		tbl := testTable6(t)
		svc := tbl.Service(1)
		svc.Flags |= vs.SvcPersistent
		svc.Timeout, svc.Netmask = 60, 64
		return tbl
	}
	tbl := mk()
	w, l, src := masterWorker(t, tbl, 0)
	for i, f := range []uint8{pkt.TCPSyn, pkt.TCPAck, pkt.TCPAck} {
		run(w, l, tbl, conntrack.Tick(i), tcp6(43000, 80, f))
	}
	var tmpl *ipvssync.Entry
	got := drainAll(src)
	for i := range got {
		if got[i].IsTemplate() {
			tmpl = &got[i]
		}
	}
	if tmpl == nil {
		t.Fatalf("no template synced: %v", got)
	}
	masked := netip.MustParseAddr("2001:db8:ffff::")
	if !tmpl.IPv6 || tmpl.Client() != netip.AddrPortFrom(masked, 0) || tmpl.Virtual() != netip.AddrPortFrom(vip6, 80) || tmpl.Timeout != 60 {
		t.Errorf("template entry %v", tmpl)
	}
	m, err := ipvssync.Decode(ipvssync.AppendMessageV1(nil, 0, got))
	if err != nil {
		t.Fatal(err)
	}
	btbl := mk()
	b, _ := newTestWorker()
	e := syncTestEngine(btbl, b)
	e.StartSyncBackup(3, 0).Deliver(m)
	if e.templates.Len() != 1 {
		t.Fatalf("%d templates on the backup", e.templates.Len())
	}
	for _, tp := range e.templates.List() {
		if tp.Key.Src6 != masked.As16() || tp.Key.Dst6 != vip6.As16() || btbl.Dest(tp.DestID).Addr != tmpl.Dest().Addr() {
			t.Errorf("backup template %+v", tp)
		}
	}
}

// TestHandoverIPv6: the handover to a restarted ulvsd lists IPv6
// connections as IPv6 entries, which TakeOver puts back.
func TestHandoverIPv6(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	e := syncTestEngine(tbl, w)
	run(w, l, tbl, 0, tcp6(41000, 80, pkt.TCPSyn))
	run(w, l, tbl, 0, tcp6(41000, 80, pkt.TCPAck))
	run(w, l, tbl, 0, tcp6(42000, 8080, pkt.TCPSyn))
	stop := runWorker(w, e)
	entries := e.Handover(context.Background())
	stop()
	if len(entries) != 2 {
		t.Fatalf("%d entries handed over, want 2: %v", len(entries), entries)
	}
	byPort := map[uint16]ipvssync.Entry{}
	for _, en := range entries {
		if !en.IPv6 || en.Client().Addr() != client6 || en.Virtual().Addr() != vip6 {
			t.Errorf("entry %v", &en)
		}
		byPort[en.CPort] = en
	}
	if en := byPort[41000]; en.State != ipvssync.TCPEstablished || en.Flags&ipvssync.FlagFwdMask != ipvssync.FlagDRoute {
		t.Errorf("DR entry %v", &en)
	}
	if en := byPort[42000]; en.Dest() != netip.AddrPortFrom(natRS6, 80) || en.Flags&ipvssync.FlagFwdMask != ipvssync.FlagMasq {
		t.Errorf("NAT66 entry %v", &en)
	}

	if en := byPort[42000]; !en.HasNeigh || en.NeighMAC != clientMAC {
		t.Errorf("NAT66 entry without its client neighbour: %v", &en)
	}

	// The next process takes them over.
	n, nl := newTestWorker()
	ne := syncTestEngine(testTable6(t), n)
	stop = runWorker(n, ne)
	st, err := ne.TakeOver(context.Background(), entries)
	stop()
	if err != nil || st.Created != 2 {
		t.Fatalf("TakeOver: %+v, %v", st, err)
	}
	if out := run(n, nl, ne.table.Load(), 1, tcp6(41000, 80, pkt.TCPAck)); len(out) != 1 {
		t.Error("handed-over IPv6 connection not forwarded")
	}
}

// runWorker runs w for e until the returned function is called.
func runWorker(w *worker, e *Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.run(ctx, e) }()
	return func() {
		cancel()
		<-done
	}
}

// TestIPv6Standby: an IPv6 VIP whose VRRP instance is backup here is on
// standby: its traffic is dropped (standby) and its solicitations are
// not answered, as for IPv4.
func TestIPv6Standby(t *testing.T) {
	tbl := testTable6(t)
	tbl.SetHA6([][16]byte{vip6.As16()}, nil)
	w, l := newTestWorker()
	if out := run(w, l, tbl, 0, tcp6(40000, 80, pkt.TCPSyn)); len(out) != 0 {
		t.Errorf("SYN to a standby VIP forwarded")
	}
	if out := run(w, l, tbl, 0, pkttest.Solicit6(clientMAC, client6, vip6)); len(out) != 0 {
		t.Errorf("solicitation for a standby VIP answered")
	}
	if n := w.c.drops[ReasonStandby].Load(); n != 1 {
		t.Errorf("standby drops %d, want 1", n)
	}
	tbl.SetHA6(nil, nil)
	if out := run(w, l, tbl, 0, tcp6(40000, 80, pkt.TCPSyn)); len(out) != 1 {
		t.Errorf("SYN once master: %d frames", len(out))
	}
}

// TestSyncMasterAllocs6: an established IPv6 packet with a sync master
// running does not allocate (syncConn6 queues into the preallocated ring).
func TestSyncMasterAllocs6(t *testing.T) {
	tbl := testTable6(t)
	w, l, src := masterWorker(t, tbl, 64)
	run(w, l, tbl, 0, tcp6(7000, 8080, pkt.TCPSyn))
	frame := tcp6(7000, 8080, pkt.TCPAck)
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	allocs := testing.AllocsPerRun(500, func() {
		copy(buf[256:], frame)
		w.tx = w.tx[:0]
		w.process(&p, tbl, 1)
		src.Drain(func(*ipvssync.Entry) {})
	})
	if allocs != 0 {
		t.Errorf("established IPv6 packet with a sync master allocates %v times", allocs)
	}
	w.stats.flush() // process alone leaves the counters to the batch's end
	if st := tbl.Service(2).Stats; st.InPkts.Load() < 500 {
		t.Errorf("%d packets went through", st.InPkts.Load())
	}
}

// TestOwnerWorker6: a synced IPv6 connection goes to the worker the
// fanout program sends its client's packets to (the program run in x/net's
// BPF VM), and to worker 0 when the program compares no IPv6 VIP.
func TestOwnerWorker6(t *testing.T) {
	vips6 := [][16]byte{vip6.As16()}
	prog := fanoutProgram([][4]byte{vip.As4()}, vips6...)
	for _, workers := range []int{2, 3, 4} {
		for port := uint16(40000); port < 40032; port++ {
			f := pkttest.Frame6{Src: client6, Dst: vip6, Proto: pkt.ProtoTCP, SrcPort: port, DstPort: 80, TCPFlags: pkt.TCPAck}.Build()
			r := syncRec{v6: true, caddr6: client6.As16(), vaddr6: vip6.As16(), cport: port, vport: 80}
			if got, want := ownerWorker(&r, workers, false, len(vips6)), int(runFanout(t, prog, f)%uint32(workers)); got != want {
				t.Fatalf("%d workers, port %d: ownerWorker %d, the fanout program %d", workers, port, got, want)
			}
			if got := ownerWorker(&r, workers, false, 0); got != 0 {
				t.Fatalf("without IPv6 VIPs: worker %d", got)
			}
		}
	}
}

// TestSyncIPv6FwMark: a connection of an IPv6 fwmark service is synced in
// an IPv6 v1 entry carrying the mark, and a backup places it in its own
// IPv6 mark service by that mark (ip_vs_find_dest, which looks the mark's
// service up first), even without mark rules of its own; the fwmark
// template itself (protocol IPPROTO_IP) is not synced, as for IPv4. A
// handover carries the mark the same way.
func TestSyncIPv6FwMark(t *testing.T) {
	tbl := fwmark6Table(t)
	w, l, src := masterWorker(t, tbl, 0)
	first := run(w, l, tbl, 0, tcp6From(client6, 41000, 443, pkt.TCPSyn))
	if len(first) != 1 {
		t.Fatal("SYN not forwarded")
	}
	dst := pkt.Ether(first[0]).Dst()
	run(w, l, tbl, 1, tcp6From(client6, 41000, 443, pkt.TCPAck))
	run(w, l, tbl, 2, tcp6From(client6, 41000, 443, pkt.TCPAck))
	got := drainAll(src)
	if len(got) != 1 {
		t.Fatalf("%d entries synced, want the connection alone: %v", len(got), got)
	}
	if en := got[0]; !en.IPv6 || en.FwMark != 5 || en.Virtual() != netip.AddrPortFrom(vip6, 443) || en.IsTemplate() {
		t.Errorf("entry %v, want an IPv6 connection with fwmark 5", &en)
	}
	m, err := ipvssync.Decode(ipvssync.AppendMessageV1(nil, 1, got))
	if err != nil || len(m.Entries) != 1 || m.Entries[0].FwMark != 5 {
		t.Fatalf("decode: %v, %+v", err, m)
	}
	// The backup has the services but no mark rules: only the entry's
	// fwmark names the service.
	btbl := vs.NewTableMarks(1, fwmark6Table(t).Services, nil, nil)
	b0, _ := newTestWorker()
	e := syncTestEngine(btbl, b0)
	sink := e.StartSyncBackup(3, 0)
	sink.Deliver(m)
	b0.drainInbox(e.syncBackup.Load(), btbl, 10)
	if st := sink.Stats(); st.Created != 1 {
		t.Fatalf("backup stats %+v", st)
	}
	c := b0.ct6.Lookup(conntrack.Key6{Src: client6.As16(), Dst: vip6.As16(), SrcPort: 41000, DstPort: 443, Proto: pkt.ProtoTCP}, 10, btbl)
	if c == nil || btbl.Service(c.SvcID).FwMark != 5 || !btbl.Service(c.SvcID).Addr.Is6() {
		t.Fatalf("synced connection %+v", c)
	}
	want := rs1v6
	if dst == rs2MAC {
		want = rs2v6
	}
	if d := btbl.Dest(c.DestID); d == nil || d.Addr != want {
		t.Errorf("synced connection's real server %+v, want %v (the master's)", d, want)
	}
	// Handover: the IPv6 connection's entry carries the mark.
	hw, hl := newTestWorker()
	ho := syncTestEngine(tbl, hw)
	run(hw, hl, tbl, 0, tcp6From(client6, 41000, 443, pkt.TCPSyn))
	stop := runWorker(hw, ho)
	entries := ho.Handover(context.Background())
	stop()
	found := false
	for _, en := range entries {
		if en.IPv6 && !en.IsTemplate() && en.CPort == 41000 {
			found = en.FwMark == 5
		}
	}
	if !found {
		t.Errorf("handover entry of the IPv6 mark connection lacks fwmark 5")
	}
}
