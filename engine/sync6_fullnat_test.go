package engine

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ipvssync"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

// fullnat6Master is fullnat6Worker in an engine of its own with a running
// sync master.
func fullnat6Master(t *testing.T) (*worker, *memLink, *memLink, *vs.Table, *Engine, *SyncSource) {
	t.Helper()
	w, outside, inside, tbl := fullnat6Worker(t)
	e := proxyEngine(w)
	e.table.Store(tbl)
	src := e.StartSyncMaster(ipvssync.DefaultSysctls(), 0)
	w.master = e.syncMaster.Load()
	return w, outside, inside, tbl, e, src
}

// openFullNAT6 runs an IPv6 FULLNAT connection from client port cport
// through w up to ESTABLISHED (SYN, the real server's SYN-ACK, two ACKs)
// and returns its local address and port.
func openFullNAT6(t *testing.T, w *worker, outside, inside *memLink, tbl *vs.Table, cport uint16) netip.AddrPort {
	t.Helper()
	cl := func(flags uint8) []byte {
		return pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoTCP,
			SrcPort: cport, DstPort: 80, TCPFlags: flags, Payload: []byte("hello")}.Build()
	}
	outside.queue(cl(pkt.TCPSyn))
	step(w, tbl, 1)
	got := inside.takeOut()
	if len(got) != 1 {
		t.Fatalf("SYN: %d frames inside", len(got))
	}
	p := decoded6(t, got[0])
	local := netip.AddrPortFrom(netip.AddrFrom16(p.Src), p.SrcPort)
	inside.queue(pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: local.Addr(), Proto: pkt.ProtoTCP,
		SrcPort: 8080, DstPort: local.Port(), TCPFlags: pkt.TCPSyn | pkt.TCPAck}.Build())
	step(w, tbl, 2)
	for i := range 2 {
		outside.queue(cl(pkt.TCPAck))
		step(w, tbl, uint32(3+i))
	}
	if n := len(inside.takeOut()); n != 2 || len(outside.takeOut()) != 1 {
		t.Fatalf("handshake: %d frames inside, want 2", n)
	}
	return local
}

// TestSyncIPv6FullNAT: an IPv6 FULLNAT connection goes to the backup with
// its local address and port (ipvssync.OptULVSLocal6) and its client's
// neighbour; the backup files it with its reply key, so the real server's
// reply to the local address goes back to the client translated, and the
// local port is in use there (a connection of the backup's own does not
// take it). An entry without the option is counted, not installed.
func TestSyncIPv6FullNAT(t *testing.T) {
	w, outside, inside, tbl, _, src := fullnat6Master(t)
	local := openFullNAT6(t, w, outside, inside, tbl, 40000)
	got := drainAll(src)
	if len(got) == 0 {
		t.Fatal("nothing synced")
	}
	en := got[len(got)-1]
	if l, ok := en.Local(); !ok || l != local || !en.IPv6 || en.Flags&ipvssync.FlagFwdMask != ipvssync.FlagFullNAT ||
		en.State != ipvssync.TCPEstablished || !en.HasNeigh || en.NeighMAC != clientMAC {
		t.Fatalf("entry %v, want local %v, established, client neighbour", &en, local)
	}
	msg := ipvssync.AppendMessageV1(nil, 1, []ipvssync.Entry{en})
	m, err := ipvssync.Decode(msg)
	if err != nil || len(m.Entries) != 1 || !cmp.Equal(m.Entries[0], en) {
		t.Fatalf("decode: %v %v", m.Entries, err)
	}

	wb, bout, bin, btbl := fullnat6Worker(t)
	eb := proxyEngine(wb)
	eb.table.Store(btbl)
	sink := eb.StartSyncBackup(3, 0)
	sink.Deliver(m)
	wb.drainInbox(eb.syncBackup.Load(), btbl, tick0(6))
	if st := sink.Stats(); st.Created != 1 {
		t.Fatalf("backup stats %+v", st)
	}
	out := conntrack.Key6{Src: fnRS6.As16(), SrcPort: 8080, Dst: local.Addr().As16(), DstPort: local.Port(), Proto: pkt.ProtoTCP}
	if !wb.ct6.OutInUse(out) {
		t.Fatal("the local address and port are not the synced connection's reply key")
	}
	// The backup's own next connection does not take the local port,
	// even when it is the next one tried.
	wb.lipNext = slices.Index(tbl.Service(1).LocalAddrs6, local.Addr().As16()) - 1
	wb.lport = local.Port() - 1
	if k, ok := wb.localPort6(btbl.Service(1), fnRS6.As16(), 8080, pkt.ProtoTCP); !ok || k == out {
		t.Errorf("the backup picked the synced connection's local port: %v %v", k, ok)
	}
	// The real server's reply, first thing after the takeover.
	bin.queue(pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: local.Addr(), Proto: pkt.ProtoTCP,
		SrcPort: 8080, DstPort: local.Port(), TCPFlags: pkt.TCPAck, Payload: []byte("data")}.Build())
	step(wb, btbl, 7)
	sent := bout.takeOut()
	if len(sent) != 1 || pkt.Ether(sent[0]).Dst() != clientMAC {
		t.Fatalf("reply after the takeover: %d frames", len(sent))
	}
	if p := decoded6(t, sent[0]); p.Src != vip6.As16() || p.SrcPort != 80 || p.Dst != client6.As16() || p.DstPort != 40000 {
		t.Errorf("reply %v:%d -> %v:%d", netip.AddrFrom16(p.Src), p.SrcPort, netip.AddrFrom16(p.Dst), p.DstPort)
	}
	// And the client's next packet leaves from the same local address.
	bout.queue(pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoTCP,
		SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck}.Build())
	step(wb, btbl, 8)
	if in := bin.takeOut(); len(in) != 1 {
		t.Fatalf("client packet after the takeover: %d frames", len(in))
	} else if p := decoded6(t, in[0]); netip.AddrPortFrom(netip.AddrFrom16(p.Src), p.SrcPort) != local || p.Dst != fnRS6.As16() {
		t.Errorf("client packet from %v:%d", netip.AddrFrom16(p.Src), p.SrcPort)
	}

	// Without its local address (a kernel's entry): counted, not
	// installed.
	bare := en
	bare.HasLocal, bare.CPort = false, 40001
	wn, _, _, ntbl := fullnat6Worker(t)
	en2 := proxyEngine(wn)
	en2.table.Store(ntbl)
	s2 := en2.StartSyncBackup(3, 0)
	s2.Deliver(ipvssync.Message{Entries: []ipvssync.Entry{bare}})
	wn.drainInbox(en2.syncBackup.Load(), ntbl, tick0(6))
	if st := s2.Stats(); st.NoLocal != 1 || st.Created != 0 {
		t.Errorf("entry without the local address: %+v", st)
	}
}

// TestHandoverIPv6FullNAT: the handover lists an IPv6 FULLNAT connection
// with its local address and port, and the next process takes it with
// its reply key.
func TestHandoverIPv6FullNAT(t *testing.T) {
	w, outside, inside, tbl := fullnat6Worker(t)
	e := proxyEngine(w)
	e.table.Store(tbl)
	local := openFullNAT6(t, w, outside, inside, tbl, 40000)
	stop := runWorker(w, e)
	entries := e.Handover(context.Background())
	stop()
	if len(entries) != 1 {
		t.Fatalf("%d entries handed over, want 1: %v", len(entries), entries)
	}
	if l, ok := entries[0].Local(); !ok || l != local || !entries[0].HasNeigh {
		t.Fatalf("entry %v, want local %v and the client neighbour", &entries[0], local)
	}
	n, nout, nin, ntbl := fullnat6Worker(t)
	ne := proxyEngine(n)
	ne.table.Store(ntbl)
	stop = runWorker(n, ne)
	st, err := ne.TakeOver(context.Background(), entries)
	stop()
	if err != nil || st.Created != 1 {
		t.Fatalf("TakeOver: %+v, %v", st, err)
	}
	nin.queue(pkttest.Frame6{SrcMAC: fnMAC6, DstMAC: insideMAC, Src: fnRS6, Dst: local.Addr(), Proto: pkt.ProtoTCP,
		SrcPort: 8080, DstPort: local.Port(), TCPFlags: pkt.TCPAck}.Build())
	step(n, ntbl, 7)
	if sent := nout.takeOut(); len(sent) != 1 || pkt.Ether(sent[0]).Dst() != clientMAC {
		t.Fatalf("reply after the handover: %d frames", len(sent))
	}
}

// TestSyncMasterAllocsFullNAT6: an established IPv6 FULLNAT packet with a
// sync master running does not allocate.
func TestSyncMasterAllocsFullNAT6(t *testing.T) {
	w, outside, inside, tbl, _, src := fullnat6Master(t)
	openFullNAT6(t, w, outside, inside, tbl, 40000)
	frame := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoTCP,
		SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck}.Build()
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	n := 0
	allocs := testing.AllocsPerRun(500, func() {
		copy(buf[256:], frame)
		w.tx = w.tx[:0]
		w.process(&p, tbl, tick0(9))
		n += src.Drain(func(*ipvssync.Entry) {})
	})
	if allocs != 0 {
		t.Errorf("established IPv6 FULLNAT packet with a sync master allocates %v times", allocs)
	}
	if n == 0 {
		t.Error("no entry synced during the run") // every 50th packet (sync_period)
	}
}

// TestSynProxyConnMoves6 is TestSynProxyConnMoves for IPv6 (NAT66 and
// FULLNAT): the open proxied connection reaches a sync backup and the
// next process with its translation state (SEQ_DATA, option 0x45, and
// for FULLNAT option 0x46), and both translate the client's next segment
// and the real server's reply byte for byte as the original does.
func TestSynProxyConnMoves6(t *testing.T) {
	for _, fullnat := range []bool{false, true} {
		t.Run(map[bool]string{false: "nat66", true: "fullnat"}[fullnat], func(t *testing.T) { testSynProxyConnMoves6(t, fullnat) })
	}
}

func testSynProxyConnMoves6(t *testing.T, fullnat bool) {
	wa, outA, inA, tbl := proxy6Worker(t, fullnat)
	ea := proxyEngine(wa)
	ea.table.Store(tbl)
	srcA := ea.StartSyncMaster(ipvssync.DefaultSysctls(), 0)
	wa.master = ea.syncMaster.Load()

	cl := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client6, dst: vip6, sport: 40000, dport: 80}
	syn := cl
	syn.seq, syn.flags, syn.mss, syn.ws, syn.sack = 999, pkt.TCPSyn, 1430, 7, true
	outA.queue(syn.build6())
	step(wa, tbl, 1)
	out := outA.takeOut()
	if len(out) != 1 {
		t.Fatal("no SYN-ACK")
	}
	_, sa, _ := tcp6Of(t, out[0])
	cookie := sa.Seq()
	ack := cl
	ack.seq, ack.ack, ack.flags, ack.mss, ack.ws = 1000, cookie+1, pkt.TCPAck, -1, -1
	outA.queue(ack.build6())
	step(wa, tbl, 2)
	in := inA.takeOut()
	if len(in) != 1 {
		t.Fatal("no SYN to the real server")
	}
	if got := drainAll(srcA); len(got) != 0 {
		t.Fatalf("a connection still opening was synced: %v", got)
	}
	p, _, _ := tcp6Of(t, in[0])
	rsSide := netip.AddrPortFrom(netip.AddrFrom16(p.Src), p.SrcPort) // the client (NAT66) or the local address
	rsa := seg{srcMAC: fnMAC6, dstMAC: insideMAC, src: fnRS6, dst: rsSide.Addr(), sport: 8080, dport: rsSide.Port(),
		seq: 0xfffffff0, ack: 1000, flags: pkt.TCPSyn | pkt.TCPAck, mss: 1440, ws: 9, sack: true}
	inA.queue(rsa.build6())
	step(wa, tbl, 3)
	inA.takeOut()

	var orig *synproxy.Conn
	wa.ct6.Range(func(c *conntrack.Conn6) bool { orig = wa.proxyConn6(c); return false })
	if orig == nil || orig.Phase != synproxy.PhaseOpen {
		t.Fatalf("no open proxied connection on the master: %+v", orig)
	}
	synced := drainAll(srcA)
	if len(synced) != 1 || !synced[0].IPv6 || !synced[0].HasProxy || !synced[0].HasSeq || synced[0].Flags&ipvssync.FlagOutSeq == 0 {
		t.Fatalf("master sent %v, want one IPv6 entry with the SYN proxy state", synced)
	}
	if got, want := synced[0].OutSeq.Delta, -orig.Delta; got != want {
		t.Errorf("out_seq.delta %d, want %d", got, want)
	}
	if l, ok := synced[0].Local(); ok != fullnat || fullnat && l != rsSide {
		t.Errorf("local address %v %v, want %v for FULLNAT", l, ok, rsSide)
	}
	m, err := ipvssync.Decode(ipvssync.AppendMessageV1(nil, 1, synced))
	if err != nil || len(m.Entries) != 1 || !cmp.Equal(m.Entries[0], synced[0]) {
		t.Fatalf("decode: %v %v", m.Entries, err)
	}

	go func() {
		reply := <-wa.connReq
		reply <- wa.copyConns()
		reply6 := <-wa.conn6Req
		reply6 <- wa.copyConns6()
	}()
	handed := ea.Handover(context.Background())
	if diff := cmp.Diff(synced, handed, cmpTimeout()); diff != "" {
		t.Errorf("handover entry differs from the sync entry (-sync +handover):\n%s", diff)
	}

	data := cl
	data.seq, data.ack, data.flags, data.mss, data.ws = 1000, cookie+1, pkt.TCPAck|pkt.TCPPsh, -1, -1
	data.sackEdges = []uint32{cookie + 100, cookie + 200}
	data.payload = []byte("GET / HTTP/1.0\r\n\r\n")
	reply := seg{srcMAC: fnMAC6, dstMAC: insideMAC, src: fnRS6, dst: rsSide.Addr(), sport: 8080, dport: rsSide.Port(),
		seq: 0xfffffff1, ack: 1018, flags: pkt.TCPAck | pkt.TCPPsh, mss: -1, ws: -1, payload: []byte("HTTP/1.0 200 OK\r\n")}
	through := func(w *worker, tbl *vs.Table, outside, inside *memLink) (toServer, toClient []byte) {
		t.Helper()
		outside.queue(data.build6())
		step(w, tbl, 4)
		in := inside.takeOut()
		inside.queue(reply.build6())
		step(w, tbl, 5)
		out := outside.takeOut()
		if len(in) != 1 || len(out) != 1 {
			t.Fatalf("%d frames to the real server, %d to the client, want 1 and 1", len(in), len(out))
		}
		return in[0], out[0]
	}
	wantIn, wantOut := through(wa, tbl, outA, inA)
	if p, tcp, _ := tcp6Of(t, wantOut); p.Dst != client6.As16() || tcp.Seq() != cookie+1 {
		t.Fatalf("the original's reply to %v seq %#x, want the client and %#x", netip.AddrFrom16(p.Dst), tcp.Seq(), cookie+1)
	}

	for name, entries := range map[string][]ipvssync.Entry{"sync backup": m.Entries, "next process": handed} {
		wb, outB, inB, tblB := proxy6Worker(t, fullnat)
		eb := proxyEngine(wb)
		eb.table.Store(tblB)
		sink := eb.StartSyncBackup(3, 0)
		sink.Deliver(ipvssync.Message{Version: 1, Entries: entries})
		wb.drainInbox(eb.syncBackup.Load(), tblB, tick0(4))
		if st := sink.Stats(); st.Created != 1 {
			t.Fatalf("%s: %+v, want the connection created", name, st)
		}
		gotIn, gotOut := through(wb, tblB, outB, inB)
		if string(gotIn) != string(wantIn) {
			t.Errorf("%s: the client's segment went to the real server as\n% x\nwant\n% x", name, gotIn, wantIn)
		}
		if string(gotOut) != string(wantOut) {
			t.Errorf("%s: the real server's reply went to the client as\n% x\nwant\n% x", name, gotOut, wantOut)
		}
	}
}
