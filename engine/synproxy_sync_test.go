package engine

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ipvssync"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/synproxy"
)

// proxyEngine puts proxy worker w in an engine of its own, as the sync
// and handover paths need.
func proxyEngine(w *worker) *Engine {
	e := &Engine{workers: []*worker{w}, templates: w.tmpls, counts: []*counters{w.c}}
	w.index, w.nworkers = 0, 1
	e.timeouts.Store(conntrack.DefaultTimeouts())
	return e
}

// TestSynProxyConnMoves: an open SYN proxy connection reaches a sync
// backup (the entry sent when it opens) and the next process (Handover,
// TakeOver's path) with its translation: the backup and the new process
// translate the client's next segment and the real server's reply exactly
// as the original director does. The sequence number delta travels in
// SEQ_DATA's out_seq, as the kernel's own sequence adjustment would.
func TestSynProxyConnMoves(t *testing.T) {
	for _, fullnat := range []bool{false, true} {
		t.Run(map[bool]string{false: "nat", true: "fullnat"}[fullnat], func(t *testing.T) { testSynProxyConnMoves(t, fullnat) })
	}
}

func testSynProxyConnMoves(t *testing.T, fullnat bool) {
	wa, outA, inA, tbl, src := proxyWorker(t, fullnat)
	ea := proxyEngine(wa)
	ea.table.Store(tbl)
	srcA := ea.StartSyncMaster(ipvssync.DefaultSysctls(), 0)
	wa.master = ea.syncMaster.Load()
	data := openProxied(t, wa, outA, inA, tbl, src)
	var orig *synproxy.Conn
	var replyPort uint16 // the client's port (NAT) or the local port (FULLNAT)
	wa.ct.Range(func(c *conntrack.Conn) bool { orig, replyPort = wa.proxyConn(c), wa.ct.Out(c).DstPort; return false })
	if orig == nil || orig.Phase != synproxy.PhaseOpen {
		t.Fatalf("no open proxied connection on the master: %+v", orig)
	}
	synced := drainAll(srcA)
	if len(synced) != 1 || !synced[0].HasProxy || !synced[0].HasSeq || synced[0].Flags&ipvssync.FlagOutSeq == 0 {
		t.Fatalf("master sent %+v, want one entry with the SYN proxy state", synced)
	}
	if got, want := synced[0].OutSeq.Delta, -orig.Delta; got != want {
		t.Errorf("out_seq.delta %d, want %d (the real server's ISN less the cookie, negated)", got, want)
	}

	// Handover, as SIGTERM writes it: the worker answers the copy.
	go func() {
		reply := <-wa.connReq
		reply <- wa.copyConns()
		reply6 := <-wa.conn6Req // Handover asks for the IPv6 table too
		reply6 <- wa.copyConns6()
	}()
	handed := ea.Handover(context.Background())
	if diff := cmp.Diff(synced, handed, cmpTimeout()); diff != "" {
		t.Errorf("handover entry differs from the sync entry (-sync +handover):\n%s", diff)
	}

	// What the original director sends for the client's segment and a
	// reply of the real server.
	reply := seg{srcMAC: rsNATMAC, dstMAC: insideMAC, src: ripNAT, dst: src, sport: 8080, dport: replyPort, seq: 5001, ack: 2000,
		flags: pkt.TCPAck | pkt.TCPPsh, payload: []byte("hello")}
	through := func(w *worker, outside, inside *memLink) (toServer, toClient []byte) {
		t.Helper()
		outside.queue(append([]byte(nil), data...))
		step(w, tbl, 4)
		in := inside.takeOut()
		inside.queue(reply.build())
		step(w, tbl, 5)
		out := outside.takeOut()
		if len(in) != 1 || len(out) != 1 {
			t.Fatalf("%d frames to the real server, %d to the client, want 1 and 1", len(in), len(out))
		}
		return in[0], out[0]
	}
	wantIn, wantOut := through(wa, outA, inA)

	for name, entries := range map[string][]ipvssync.Entry{"sync backup": synced, "next process": handed} {
		wb, outB, inB, _, _ := proxyWorker(t, fullnat)
		eb := proxyEngine(wb)
		eb.table.Store(tbl)
		sink := eb.StartSyncBackup(3, 0)
		sink.Deliver(ipvssync.Message{Version: 1, Entries: entries})
		wb.drainInbox(eb.syncBackup.Load(), tbl, tick0(4))
		if st := sink.Stats(); st.Created != 1 {
			t.Fatalf("%s: %+v, want the connection created", name, st)
		}
		gotIn, gotOut := through(wb, outB, inB)
		if string(gotIn) != string(wantIn) {
			t.Errorf("%s: the client's segment went to the real server as\n% x\nwant\n% x", name, gotIn, wantIn)
		}
		if string(gotOut) != string(wantOut) {
			t.Errorf("%s: the real server's reply went to the client as\n% x\nwant\n% x", name, gotOut, wantOut)
		}
	}
}

// cmpTimeout ignores entries' timeouts, which a second apart may round
// differently.
func cmpTimeout() cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Timeout" }, cmp.Ignore())
}
