package engine

import (
	"strings"
	"testing"

	"github.com/ulvs/ulvs/arp"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/vs"
)

// traceWorker is a test worker with tracing on (frames kept: snap).
func traceWorker(snap int) (*worker, *memLink, *tracer) {
	w, l := newTestWorker()
	t := newTracer(1, TraceConfig{Rate: 1 << 20, Snap: snap})
	t.names = []string{"eth0"}
	w.tr = t.rings[0]
	return w, l, t
}

func TestTraceSequence(t *testing.T) {
	tbl := testTable(t)
	w, l, tr := traceWorker(trace.MaxSnap)
	syn := tcpFrame(4000, pkt.TCPSyn)
	run(w, l, tbl, 1000, syn)
	run(w, l, tbl, 1001, tcpFrame(4000, pkt.TCPAck))
	run(w, l, tbl, 1001, tcpFrame(4000, pkt.TCPFin|pkt.TCPAck))
	run(w, l, tbl, 1002, pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 5, DstPort: 81, TCPFlags: pkt.TCPSyn}.Build())
	evs := tr.read(nil)
	if len(evs) != 4 {
		t.Fatalf("got %d events, want 4", len(evs))
	}
	for _, e := range evs {
		t.Log(e.Line())
	}
	e := evs[0]
	if e.Conn != "new" || e.Service != "TCP 10.77.0.100:80" || e.Sched != "rr" || e.Dest.String() != "10.77.0.12:80" ||
		e.Method != "dr" || e.State != "NONE>SYN_RECV" || e.Verdict != trace.VerdictForward || e.Flags != "S" {
		t.Errorf("SYN event = %+v", e)
	}
	if len(e.Rewrite) != 1 || !strings.HasPrefix(e.Rewrite[0], "mac 02:00:00:00:00:02->02:00:00:00:00:12") {
		t.Errorf("SYN rewrite = %q, want the DR MAC change", e.Rewrite)
	}
	if string(e.InFrame) != string(syn) || e.InLen != len(syn) || len(e.OutFrame) != len(syn) || pkt.Ether(e.OutFrame).Dst() != rs2MAC {
		t.Errorf("frames: in %d bytes (want %d), out %d bytes to %x", len(e.InFrame), len(syn), len(e.OutFrame), pkt.Ether(e.OutFrame).Dst())
	}
	e = evs[2]
	if e.Conn != "hit" || e.State != "ESTABLISHED>FIN_WAIT" || e.Timeout <= 0 || e.Verdict != trace.VerdictForward {
		t.Errorf("FIN event = %+v", e)
	}
	e = evs[3]
	if e.Service != "none" || e.Verdict != trace.VerdictDrop || e.Drop != "no_service" {
		t.Errorf("no-service event = %+v", e)
	}
	if s := (&Trace{t: tr}).Stats(); s.Traced != 4 || s.RingFull != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestTraceRingFullAndRate(t *testing.T) {
	tbl := testTable(t)
	w, l, tr := traceWorker(0)
	r := tr.rings[0]
	run(w, l, tbl, 1000, tcpFrame(10000, pkt.TCPSyn))
	for i := 0; i < TraceRingSize+9; i++ {
		run(w, l, tbl, 1000, tcpFrame(10000, pkt.TCPAck))
	}
	if got := r.full.Load(); got != 10 {
		t.Errorf("ring full drops = %d, want 10", got)
	}
	if n := len(tr.read(nil)); n != TraceRingSize {
		t.Errorf("read %d events, want %d", n, TraceRingSize)
	}
	// The rate limit: 5 a second, no time passes.
	r.rate, r.tokens = 5, 5
	for i := 0; i < 8; i++ {
		run(w, l, tbl, 1000, tcpFrame(10000, pkt.TCPAck))
	}
	if got := r.limited.Load(); got != 3 {
		t.Errorf("rate limited = %d, want 3", got)
	}
	if got := w.c.forwarded.Load(); got != TraceRingSize+10+8 {
		t.Errorf("forwarded %d, want every frame forwarded whatever the trace", got)
	}
}

// TestBatchAllocsTraceOff: the batch loop with the trace hook, nobody
// tracing, allocates nothing.
func TestBatchAllocsTraceOff(t *testing.T) {
	tbl := testTable(t)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcpFrame(7000, pkt.TCPSyn))
	w.links[0] = sinkLink{}
	frame := tcpFrame(7000, pkt.TCPAck)
	buf := make([]byte, 256+len(frame))
	allocs := testing.AllocsPerRun(1000, func() {
		copy(buf[256:], frame)
		w.rx[0] = packet{buf: buf, off: 256, n: len(frame)}
		w.batch(1, tbl, 1)
	})
	if allocs != 0 {
		t.Errorf("batch allocates %v times per packet with tracing off, want 0", allocs)
	}
}

func benchBatch(b *testing.B, traced bool) {
	tbl := testTable(b)
	w, l := newTestWorker()
	var tr *tracer
	if traced {
		tr = newTracer(1, TraceConfig{Rate: 1 << 30})
		w.tr = tr.rings[0]
	}
	run(w, l, tbl, 0, tcpFrame(7000, pkt.TCPSyn))
	w.links[0] = sinkLink{}
	frame := tcpFrame(7000, pkt.TCPAck)
	buf := make([]byte, 256+len(frame))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		copy(buf[256:], frame)
		w.rx[0] = packet{buf: buf, off: 256, n: len(frame)}
		w.batch(1, tbl, 1)
		if i++; traced && i%512 == 0 {
			// The reader keeps up (its cost is not the worker's).
			r := tr.rings[0]
			r.head.Store(r.tail.Load())
		}
	}
}

// BenchmarkBatchTraceOff and BenchmarkBatchTraceOn: one established-flow
// frame through the batch loop, nobody tracing and tracing every frame.
func BenchmarkBatchTraceOff(b *testing.B) { benchBatch(b, false) }
func BenchmarkBatchTraceOn(b *testing.B)  { benchBatch(b, true) }

// sinkLink transmits into nothing, without allocating.
type sinkLink struct{}

func (sinkLink) collect([]packet) int          { return 0 }
func (sinkLink) fd() int                       { return -1 }
func (sinkLink) send(b []*packet) (int, error) { return len(b), nil }
func (sinkLink) release()                      {}
func (sinkLink) sendRaw([]byte) error          { return nil }
func (sinkLink) close() error                  { return nil }

// TestTraceWhy: persistence templates made then used, the wrr weight and
// the sh bucket, and the ICMP error sent when no real server is left.
func TestTraceWhy(t *testing.T) {
	tbl := buildTable(t, nil, svcSpec{proto: vs.TCP, port: 80, persist: 300})
	w, l, tr := traceWorker(0)
	w.tmpls = conntrack.NewTemplates()
	w.ct = conntrack.New(conntrack.Config{Capacity: 1024, Templates: w.tmpls})
	run(w, l, tbl, 1000, syn(client, 5000, 80))
	run(w, l, tbl, 1001, syn(client, 5001, 80))
	evs := tr.read(nil)
	if len(evs) != 2 || evs[0].Template != "#1 made" || evs[0].Sched != "rr" || evs[1].Template != "#1 used" || evs[1].Sched != "" ||
		evs[0].Dest != evs[1].Dest {
		t.Fatalf("persistence: %q", lines(evs))
	}

	for _, tc := range []struct{ sched, want string }{{"wrr", "wrr cw=1 mw=3 candidates=2"}, {"sh", "sh bucket "}, {"mh", "mh bucket "}} {
		tbl := testTable(t, 2, 3)
		svc := tbl.Services[0]
		sc, err := sched.New(tc.sched, svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		run(w, l, tbl, 1002, tcpFrame(6000, pkt.TCPSyn))
		evs := tr.read(nil)
		t.Log(lines(evs))
		if len(evs) != 1 || !strings.HasPrefix(evs[0].Sched, tc.want) {
			t.Errorf("%s: %q, want sched %q...", tc.sched, lines(evs), tc.want)
		}
		w.ct.Flush(tbl)
	}

	dead := testTable(t, 0, 0)
	out := run(w, l, dead, 1003, tcpFrame(7000, pkt.TCPSyn))
	evs = tr.read(nil)
	if len(out) != 1 || len(evs) != 1 || evs[0].Drop != "no_dest" || evs[0].ICMP != "port unreachable" || len(evs[0].Rewrite) != 0 {
		t.Errorf("no dest: %d frames out, %q", len(out), lines(evs))
	}
}

func lines(evs []trace.Event) []string {
	var out []string
	for i := range evs {
		out = append(out, evs[i].Line())
	}
	return out
}

func TestTraceARP(t *testing.T) {
	tbl := testTable(t)
	w, l, tr := traceWorker(0)
	req := arp.Gratuitous(nil, clientMAC, client.As4()) // a who-has for the client itself: not ours
	run(w, l, tbl, 1000, req)
	evs := tr.read(nil)
	if len(evs) != 1 || evs[0].Proto != "arp" || evs[0].Dst.Addr() != client || evs[0].Drop != "not_ours" {
		t.Errorf("ARP: %q", lines(evs))
	}
}

// FuzzProcessTraced is FuzzProcess with tracing on, frames kept: the
// trace's looks before and after never panic, the record becomes an event
// with a verdict that agrees with process's, and tracing changes nothing
// of what process decides.
func FuzzProcessTraced(f *testing.F) {
	f.Add(tcpFrame(1000, pkt.TCPSyn), uint8(0))
	f.Add(tcpFrame(1000, pkt.TCPAck), uint8(vnetGSOTCPv4))
	f.Add(pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, vip.As4()), uint8(0))
	f.Add(pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, Payload: []byte("p")}.Build(), uint8(0))
	tbl := testTable(f)
	w, _, tr := traceWorker(trace.MaxSnap)
	plain, _ := newTestWorker()
	// The clock moves on a millisecond per input, as the data path's
	// does: with a clock standing still the rate limit's tokens (2^20)
	// ran out after a million inputs and the trace rightly stopped.
	var now conntrack.Tick
	f.Fuzz(func(t *testing.T, frame []byte, gso uint8) {
		if len(frame) > 65535 {
			return
		}
		now++
		var verdicts [2]bool
		var queued [2]int
		for i, wk := range []*worker{w, plain} {
			buf := make([]byte, 256+len(frame))
			copy(buf[256:], frame)
			p := packet{buf: buf, off: 256, n: len(frame)}
			p.vnet()[vnetOffGSOType] = gso
			wk.tx = wk.tx[:0]
			if wk.tr != nil {
				verdicts[i] = wk.processTraced(&p, tbl, now)
			} else {
				verdicts[i] = wk.process(&p, tbl, now)
			}
			queued[i] = len(wk.tx)
		}
		if verdicts[0] != verdicts[1] || queued[0] != queued[1] {
			t.Fatalf("traced: %v, %d queued; untraced: %v, %d queued", verdicts[0], queued[0], verdicts[1], queued[1])
		}
		evs := tr.read(nil)
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1", len(evs))
		}
		e := &evs[0]
		if fwd := e.Verdict == trace.VerdictForward || e.Verdict == trace.VerdictAnswer; fwd != verdicts[0] {
			t.Fatalf("event verdict %q (%s), process said %v", e.Verdict, e.Line(), verdicts[0])
		}
		if e.Verdict == trace.VerdictDrop && e.Drop == "" {
			t.Fatalf("drop without reason: %s", e.Line())
		}
		if len(e.InFrame) != min(len(frame), trace.MaxSnap) || e.InLen != len(frame) {
			t.Fatalf("kept %d of %d bytes", len(e.InFrame), len(frame))
		}
		_ = e.Line()
	})
}

// TestTraceTunnel: the outer header, fragmentation needed for a DF packet
// too big for the tunnel, and fragments for one without DF.
func TestTraceTunnel(t *testing.T) {
	w, l, tbl := tunWorker(t, 1500)
	tr := newTracer(1, TraceConfig{Rate: 1 << 20})
	w.tr = tr.rings[0]
	run(w, l, tbl, 0, pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build())
	big := func(df bool) []byte {
		return pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80,
			TCPFlags: pkt.TCPAck, DF: df, Payload: make([]byte, 1460)}.Build()
	}
	run(w, l, tbl, 1, big(true))
	run(w, l, tbl, 2, big(false))
	evs := tr.read(nil)
	if len(evs) != 3 {
		t.Fatalf("%d events: %q", len(evs), lines(evs))
	}
	if e := evs[0]; e.Method != "tun" || !hasRewrite(e.Rewrite, "ipip ") || e.OutDst != e.Dst {
		t.Errorf("SYN: %s", e.Line())
	}
	if e := evs[1]; e.ICMP != "fragmentation needed" || e.Verdict != trace.VerdictICMP || len(e.Rewrite) != 0 {
		t.Errorf("DF too big: %s", e.Line())
	}
	if e := evs[2]; e.Frames != 2 || e.Verdict != trace.VerdictForward {
		t.Errorf("not DF: %s", e.Line())
	}
	t.Log(strings.Join(lines(evs), "\n"))
}

func hasRewrite(rs []string, prefix string) bool {
	for _, r := range rs {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}
