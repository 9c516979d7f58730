package engine

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ipvssync"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

func TestSyncRingBounded(t *testing.T) {
	q := newSyncRing(5) // rounded up to 8
	var r syncRec
	for i := range 10 {
		r.cport = uint16(i)
		ok := q.push(&r)
		if want := i < 8; ok != want {
			t.Fatalf("push %d = %v, want %v", i, ok, want)
		}
	}
	if d := q.drops.Load(); d != 2 {
		t.Errorf("drops = %d, want 2", d)
	}
	for i := range 8 {
		if !q.pop(&r) || r.cport != uint16(i) {
			t.Fatalf("pop %d: got port %d", i, r.cport)
		}
	}
	if q.pop(&r) {
		t.Fatal("pop from an empty ring succeeded")
	}
	// After wrapping it takes 8 again.
	for i := range 8 {
		if !q.push(&r) {
			t.Fatalf("push %d after wrap refused", i)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		q.pop(&r)
		q.push(&r)
	})
	if allocs != 0 {
		t.Errorf("push/pop allocate %v times", allocs)
	}
}

// syncTestEngine is an Engine over the given test workers.
func syncTestEngine(tbl *vs.Table, ws ...*worker) *Engine {
	e := &Engine{workers: ws, templates: conntrack.NewTemplates()}
	for i, w := range ws {
		w.index, w.nworkers = i, len(ws)
		w.tmpls = e.templates
		w.ct = conntrack.New(conntrack.Config{Capacity: 1024, Templates: e.templates})
		e.counts = append(e.counts, w.c)
	}
	e.table.Store(tbl)
	e.timeouts.Store(conntrack.DefaultTimeouts())
	return e
}

// masterWorker is a test worker with a running sync master of queueLen.
func masterWorker(t *testing.T, tbl *vs.Table, queueLen int) (*worker, *memLink, *SyncSource) {
	t.Helper()
	w, l := newTestWorker()
	e := syncTestEngine(tbl, w)
	src := e.StartSyncMaster(ipvssync.DefaultSysctls(), queueLen)
	w.master = e.syncMaster.Load()
	return w, l, src
}

// drainAll returns the queued entries of src.
func drainAll(src *SyncSource) []ipvssync.Entry {
	var out []ipvssync.Entry
	src.Drain(func(e *ipvssync.Entry) { out = append(out, *e) })
	return out
}

// The master syncs a DR connection at its 3rd packet once ESTABLISHED and
// at once when it changes into FIN_WAIT, as ip_vs_sync_conn does.
func TestSyncMasterEmits(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	e := syncTestEngine(tbl, w)
	src := e.StartSyncMaster(ipvssync.DefaultSysctls(), 0)
	w.master = e.syncMaster.Load()
	run(w, l, tbl, 0, tcpFrame(7000, pkt.TCPSyn))
	run(w, l, tbl, 1, tcpFrame(7000, pkt.TCPAck))
	if got := drainAll(src); len(got) != 0 {
		t.Fatalf("synced before the 3rd packet: %v", got)
	}
	run(w, l, tbl, 2, tcpFrame(7000, pkt.TCPAck))
	run(w, l, tbl, 3, tcpFrame(7000, pkt.TCPAck)) // 4th: not synced
	run(w, l, tbl, 4, tcpFrame(7000, pkt.TCPFin|pkt.TCPAck))
	got := drainAll(src)
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2: %v", len(got), got)
	}
	want := []struct {
		state   uint16
		flags   ipvssync.Flags
		timeout uint32
	}{
		{ipvssync.TCPEstablished, ipvssync.FlagDRoute | ipvssync.FlagNoOutput, 900},
		{ipvssync.TCPFinWait, ipvssync.FlagDRoute | ipvssync.FlagNoOutput | ipvssync.FlagInactive, 120},
	}
	for i, wt := range want {
		g := got[i]
		if g.State != wt.state || g.Flags != wt.flags || g.Timeout != wt.timeout {
			t.Errorf("entry %d = %v, want state %d flags %v timeout %d", i, &g, wt.state, wt.flags, wt.timeout)
		}
		if g.Client() != netip.AddrPortFrom(client, 7000) || g.Virtual() != netip.AddrPortFrom(vip, 80) || g.Proto != ipvssync.ProtoTCP {
			t.Errorf("entry %d addresses = %v", i, &g)
		}
	}
	e.StopSyncMaster()
	if e.syncMaster.Load() != nil {
		t.Error("StopSyncMaster left the master")
	}
}

// A persistent connection's template goes with it on every packet, with
// TEMPLATE|INACTIVE and the persistence timeout.
func TestSyncMasterTemplates(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80, persist: 60})
	w, l, src := masterWorker(t, tbl, 0)
	for i, f := range []uint8{pkt.TCPSyn, pkt.TCPAck, pkt.TCPAck} {
		run(w, l, tbl, conntrack.Tick(i), tcpTo(clientA, 9000, 80, f))
	}
	got := drainAll(src)
	var tmpls, conns int
	for _, g := range got {
		if g.IsTemplate() {
			tmpls++
			if g.CPort != 0 || g.Timeout != 60 || g.Flags&ipvssync.FlagInactive == 0 {
				t.Errorf("template entry %v", &g)
			}
		} else {
			conns++
		}
	}
	if tmpls != 3 || conns != 1 {
		t.Errorf("got %d templates and %d connections, want 3 and 1: %v", tmpls, conns, got)
	}
}

// With a master running, an established packet still does not allocate.
func TestSyncMasterAllocs(t *testing.T) {
	tbl := testTable(t)
	w, l, src := masterWorker(t, tbl, 64)
	run(w, l, tbl, 0, tcpFrame(7000, pkt.TCPSyn))
	frame := tcpFrame(7000, pkt.TCPAck)
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	allocs := testing.AllocsPerRun(500, func() {
		copy(buf[256:], frame)
		w.tx = w.tx[:0]
		w.process(&p, tbl, 1)
	})
	if allocs != 0 {
		t.Errorf("established packet with a sync master allocates %v times", allocs)
	}
	if n := len(drainAll(src)); n == 0 {
		t.Error("nothing was synced")
	}
	fn := func(*ipvssync.Entry) {}
	if a := testing.AllocsPerRun(100, func() { src.Drain(fn) }); a != 0 {
		t.Errorf("Drain allocates %v times", a)
	}
}

// syncEntry is a DR entry from client:cport to vip:80 on dest daddr.
func syncEntry(cport uint16, daddr string, state uint16, flags ipvssync.Flags) ipvssync.Entry {
	return ipvssync.Entry{
		Proto: ipvssync.ProtoTCP, Flags: flags, State: state,
		CAddr: client.As4(), VAddr: vip.As4(), DAddr: netip.MustParseAddr(daddr).As4(),
		CPort: cport, VPort: 80, DPort: 80, Timeout: 900,
	}
}

// findConn returns the connection for client:cport in w's table.
func findConn(w *worker, cport uint16) *conntrack.Conn {
	var found *conntrack.Conn
	w.ct.Range(func(c *conntrack.Conn) bool {
		if c.Key.SrcPort == cport {
			found = c
			return false
		}
		return true
	})
	return found
}

func TestSyncBackupInsert(t *testing.T) {
	tbl := testTable(t)
	w0, _ := newTestWorker()
	w1, _ := newTestWorker()
	e := syncTestEngine(tbl, w0, w1)
	sink := e.StartSyncBackup(3, 0)
	b := e.syncBackup.Load()
	rs1 := tbl.Lookup(vs.TCP, vip.As4(), 80).Dests[1] // 10.77.0.11
	rs2 := tbl.Lookup(vs.TCP, vip.As4(), 80).Dests[0]
	apply := func(es ...ipvssync.Entry) {
		sink.Deliver(ipvssync.Message{Version: 1, Entries: es})
		for _, w := range e.workers {
			w.drainInbox(b, tbl, 10)
		}
	}
	owner := func(cport uint16) *worker {
		r := syncRec{caddr: client.As4(), cport: cport}
		return e.workers[ownerWorker(&r, 2, false, 0)]
	}
	dr := ipvssync.FlagDRoute | ipvssync.FlagNoOutput

	// A new established connection lands in its owner's table, active.
	apply(syncEntry(41001, "10.77.0.11", ipvssync.TCPEstablished, dr))
	c := findConn(owner(41001), 41001)
	if c == nil {
		t.Fatal("synced connection not in its owner worker's table")
	}
	for _, w := range e.workers {
		if w != owner(41001) && findConn(w, 41001) != nil {
			t.Error("synced connection in another worker's table")
		}
	}
	if c.State != conntrack.StateEstablished || c.Flags&conntrack.FlagSync == 0 || c.Flags&conntrack.FlagInactive != 0 ||
		c.Flags&conntrack.FlagNoOutput == 0 || c.InPkts != 3 || c.DestID != rs1.ID {
		t.Errorf("synced connection = %+v", *c)
	}
	if got := c.Remaining(10); got.Seconds() != 900 {
		t.Errorf("expires in %v, want 900 s", got)
	}
	if a, i := rs1.State.ActiveConns.Load(), rs1.State.InactConns.Load(); a != 1 || i != 0 {
		t.Errorf("rs1 active/inactive = %d/%d, want 1/0", a, i)
	}

	// The same connection going to TIME_WAIT is updated, not duplicated,
	// and moves to InActConn.
	tw := syncEntry(41001, "10.77.0.11", ipvssync.TCPTimeWait, dr|ipvssync.FlagInactive)
	tw.Timeout = 120
	apply(tw)
	if n := owner(41001).ct.Len(); n != 1 {
		t.Errorf("table holds %d connections after an update, want 1", n)
	}
	c = findConn(owner(41001), 41001)
	if c.State != conntrack.StateTimeWait || c.Flags&conntrack.FlagInactive == 0 || c.Remaining(10).Seconds() != 120 {
		t.Errorf("updated connection = %+v", *c)
	}
	if a, i := rs1.State.ActiveConns.Load(), rs1.State.InactConns.Load(); a != 0 || i != 1 {
		t.Errorf("rs1 active/inactive after update = %d/%d, want 0/1", a, i)
	}

	// An INACTIVE entry naming another dest is the stale end of a
	// replaced connection: ignored. An active one replaces it.
	apply(syncEntry(41001, "10.77.0.12", ipvssync.TCPFinWait, dr|ipvssync.FlagInactive))
	if c = findConn(owner(41001), 41001); c.DestID != rs1.ID {
		t.Error("INACTIVE entry for another dest replaced the connection")
	}
	apply(syncEntry(41001, "10.77.0.12", ipvssync.TCPEstablished, dr))
	if c = findConn(owner(41001), 41001); c.DestID != rs2.ID {
		t.Error("active entry for another dest did not replace the connection")
	}
	if i, a := rs1.State.InactConns.Load(), rs2.State.ActiveConns.Load(); i != 0 || a != 1 {
		t.Errorf("after replace: rs1 inactive %d, rs2 active %d; want 0, 1", i, a)
	}

	// Unknown dest and unknown service are dropped and counted; a v0
	// entry (no timeout) gets the state's timeout.
	apply(syncEntry(41002, "10.77.0.99", ipvssync.TCPEstablished, dr))
	other := syncEntry(41003, "10.77.0.11", ipvssync.TCPEstablished, dr)
	other.VPort = 81
	apply(other)
	v0 := syncEntry(41004, "10.77.0.11", ipvssync.TCPFinWait, dr|ipvssync.FlagInactive)
	v0.Timeout = 0
	apply(v0)
	if c = findConn(owner(41004), 41004); c == nil || c.Remaining(10).Seconds() != 120 {
		t.Errorf("v0 entry: connection %+v, want FIN_WAIT's 120 s", c)
	}

	// A template goes into the shared template table, once.
	tp := syncEntry(0, "10.77.0.11", ipvssync.TemplateAssured, ipvssync.FlagDRoute|ipvssync.FlagInactive|ipvssync.FlagTemplate)
	tp.Timeout = 60
	apply(tp, tp)
	if n := e.templates.Len(); n != 1 {
		t.Errorf("%d templates, want 1", n)
	}
	if p := rs1.State.PersistConns.Load(); p != 1 {
		t.Errorf("rs1 PersistConns = %d, want 1", p)
	}

	st := sink.Stats()
	want := SyncBackupStats{Created: 2, Updated: 1, Replaced: 1, Ignored: 1, Templates: 2, NoService: 1, NoDest: 1}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
}

// After a takeover, a packet of a synced established connection goes to
// the same real server without a SYN.
func TestSyncedConnForwards(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	e := syncTestEngine(tbl, w)
	sink := e.StartSyncBackup(3, 0)
	// 10.77.0.12 is the one rr would not pick first.
	sink.Deliver(ipvssync.Message{Entries: []ipvssync.Entry{syncEntry(7000, "10.77.0.12", ipvssync.TCPEstablished, ipvssync.FlagDRoute|ipvssync.FlagNoOutput)}})
	w.drainInbox(e.syncBackup.Load(), tbl, 0)
	out := run(w, l, tbl, 1, tcpFrame(7000, pkt.TCPAck))
	if len(out) != 1 || pkt.Ether(out[0]).Dst() != rs2MAC {
		t.Fatalf("established packet after takeover: %d frames out, want 1 to rs2", len(out))
	}
}

// BenchmarkProcessEstablishedSyncMaster is BenchmarkProcessEstablished
// with a master sync daemon running (the queue drained every 1024
// packets, as the sync goroutine would).
func BenchmarkProcessEstablishedSyncMaster(b *testing.B) {
	tbl := testTable(b)
	w, l := newTestWorker()
	e := syncTestEngine(tbl, w)
	src := e.StartSyncMaster(ipvssync.DefaultSysctls(), 0)
	w.master = e.syncMaster.Load()
	run(w, l, tbl, 0, tcpFrame(7000, pkt.TCPSyn))
	frame := tcpFrame(7000, pkt.TCPAck)
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	drain := func(*ipvssync.Entry) {}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	i := 0
	for b.Loop() {
		copy(buf[256:], frame)
		w.tx = w.tx[:0]
		sinkForwarded = w.process(&p, tbl, 1)
		if i++; i%1024 == 0 {
			src.Drain(drain)
		}
	}
}

// NAT and FULLNAT entries get their reply keys, so the backup finds the
// real server's replies after a takeover; a FULLNAT entry without its
// local address cannot be taken over and is dropped.
func TestSyncBackupNATReplyKeys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  vs.Method
		local   bool
		wantOut conntrack.Key
	}{
		{"nat", vs.Masq, false, conntrack.Key{Src: [4]byte{10, 77, 0, 11}, SrcPort: 80, Dst: client.As4(), DstPort: 41001, Proto: 6}},
		{"fullnat", vs.FullNAT, true, conntrack.Key{Src: [4]byte{10, 77, 0, 11}, SrcPort: 80, Dst: [4]byte{10, 77, 1, 200}, DstPort: 5000, Proto: 6}},
		{"fullnat without local address", vs.FullNAT, false, conntrack.Key{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := testTable(t)
			for _, d := range tbl.Lookup(vs.TCP, vip.As4(), 80).Dests {
				d.Method = tc.method
			}
			w, _ := newTestWorker()
			e := syncTestEngine(tbl, w)
			sink := e.StartSyncBackup(3, 0)
			en := syncEntry(41001, "10.77.0.11", ipvssync.TCPEstablished, methodFlags(tc.method))
			if tc.local {
				en.HasLocal, en.LAddr, en.LPort = true, [4]byte{10, 77, 1, 200}, 5000
			}
			sink.Deliver(ipvssync.Message{Entries: []ipvssync.Entry{en}})
			w.drainInbox(e.syncBackup.Load(), tbl, 0)
			c := w.ct.LookupOut(tc.wantOut, 0, tbl)
			if tc.wantOut == (conntrack.Key{}) {
				if w.ct.Len() != 0 || sink.Stats().NoLocal != 1 {
					t.Errorf("entry without local address: %d connections, stats %+v", w.ct.Len(), sink.Stats())
				}
				return
			}
			if c == nil || c.Key.SrcPort != 41001 || c.Flags&conntrack.FlagNoOutput != 0 {
				t.Fatalf("reply key %+v finds %+v", tc.wantOut, c)
			}
		})
	}
}

// One producer and one consumer on different goroutines see every record
// in order, or count it dropped (run with -race).
func TestSyncRingConcurrent(t *testing.T) {
	q := newSyncRing(64)
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		var r syncRec
		for i := range n {
			r.timeout = uint32(i)
			q.push(&r)
		}
	}()
	var r syncRec
	got, last := 0, -1
	for {
		if q.pop(&r) {
			if int(r.timeout) <= last {
				t.Fatalf("record %d after %d", r.timeout, last)
			}
			last = int(r.timeout)
			got++
			continue
		}
		select {
		case <-done:
			for q.pop(&r) {
				got++
			}
			if uint64(got)+q.drops.Load() != n {
				t.Errorf("got %d, dropped %d, want %d in all", got, q.drops.Load(), n)
			}
			return
		default:
		}
	}
}
