package engine

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/vs"
)

// Tracing (ulvs trace). When nobody traces, a worker pays one atomic load
// per batch (traceRing) and one nil test per frame. When someone does,
// each frame the rate limit lets through is run between two looks at the
// worker's state (traceBefore, traceAfter) that fill a fixed-size record
// in the worker's ring; a full ring drops the record and counts it, never
// waits. The consumer (Trace.Read, the director's pump) turns records into
// trace.Events; filtering happens there, not here.

const (
	// TraceRingSize is the number of records in each worker's ring.
	TraceRingSize = 1024
	// DefaultTraceRate is the records per second a worker writes at most
	// unless told otherwise.
	DefaultTraceRate = 2000
)

// TraceConfig configures a trace.
type TraceConfig struct {
	// Rate is the most records per second per worker (0:
	// DefaultTraceRate); frames beyond it are forwarded untraced and
	// counted.
	Rate int
	// Snap is how many bytes of each frame, as it arrived and as it
	// left, a record keeps (0: none; at most trace.MaxSnap).
	Snap int
}

// kinds of traced frames.
const (
	recOther = iota
	recBad   // not decodable
	recARP
	recIn   // TCP/UDP to a VIP
	recOut  // TCP/UDP not to a VIP: a NAT reply
	recICMP // ICMP
)

// lookups.
const (
	lkNone = iota
	lkHit
	lkMiss
)

// traceRec is one traced frame. Fixed size and pointer-free, so the ring
// is one allocation the GC need not scan.
type traceRec struct {
	ns       int64
	in, out  uint8
	kind     uint8
	answered bool
	queued   bool
	drop     Reason
	vip      bool
	proto    uint8
	flags    uint8
	ip6      bool // an IPv6 packet (trace6.go); addresses are 16 bytes, IPv4 ones mapped
	src, dst [16]byte
	sport    uint16
	dport    uint16
	ipLen    uint16
	icmpType uint8
	icmpCode uint8

	hasSvc   bool
	svcProto vs.Protocol
	svcAddr  [16]byte
	svcPort  uint16
	svcMark  uint32

	lookup   uint8
	newConn  bool
	hasFrom  bool
	hasTo    bool
	from, to conntrack.State
	timeout  int32 // ms

	hasDest  bool
	dest     [16]byte
	destPort uint16
	method   vs.Method

	schedName [8]byte
	why       sched.Why
	tmplPre   uint32 // the template found before scheduling
	tmplPost  uint32 // the connection's template

	nOut       uint8
	icmpSent   bool
	fragNeeded bool
	split      bool
	inDstMAC   [6]byte
	outDstMAC  [6]byte
	outSrcMAC  [6]byte
	outOK      bool
	outProto   uint8
	outSrc     [16]byte
	outDst     [16]byte
	outSport   uint16
	outDport   uint16
	ipip       bool
	outerSrc   [16]byte
	outerDst   [16]byte

	inLen, outLen uint32
	inCap, outCap uint16
	inFrame       [trace.MaxSnap]byte
	outFrame      [trace.MaxSnap]byte
}

// traceRing is one worker's ring: the worker writes (tail), the reader
// reads (head).
type traceRing struct {
	slots []traceRec
	head  atomic.Uint64
	tail  atomic.Uint64
	// traced, full and limited count records written, records the full
	// ring refused and frames the rate limit skipped.
	traced, full, limited atomic.Uint64

	// The worker's own.
	snap   int
	rate   int64
	tokens int64
	at     conntrack.Tick
	ps     pkt.Parsed // the frame before process
	ops    pkt.Parsed // the first frame out
	ps6    pkt.Parsed6
	ops6   pkt.Parsed6
	_      [64]byte
}

// tracer is one trace session: a ring per worker.
type tracer struct {
	rings []*traceRing
	names []string // interface names by link index
}

// traceRing returns worker i's ring, nil when nobody traces: the one
// atomic load per batch tracing costs.
func (e *Engine) traceRing(i int) *traceRing {
	if t := e.trace.Load(); t != nil && i < len(t.rings) {
		return t.rings[i]
	}
	return nil
}

// Trace is a running trace. Read drains it; Stop ends it.
type Trace struct {
	e  *Engine
	t  *tracer
	mu sync.Mutex // serialises Read
}

// StartTrace starts tracing with cfg, replacing a trace already running
// (its Read returns nothing more).
func (e *Engine) StartTrace(cfg TraceConfig) *Trace {
	t := newTracer(len(e.workers), cfg)
	for _, ifc := range e.ifaces {
		t.names = append(t.names, ifc.name)
	}
	e.trace.Store(t)
	return &Trace{e: e, t: t}
}

func newTracer(workers int, cfg TraceConfig) *tracer {
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultTraceRate
	}
	cfg.Snap = min(max(cfg.Snap, 0), trace.MaxSnap)
	t := &tracer{}
	for range workers {
		t.rings = append(t.rings, &traceRing{
			slots:  make([]traceRec, TraceRingSize),
			snap:   cfg.Snap,
			rate:   int64(cfg.Rate),
			tokens: int64(cfg.Rate),
		})
	}
	return t
}

// Stop ends the trace if it is still the engine's.
func (t *Trace) Stop() { t.e.trace.CompareAndSwap(t.t, nil) }

// Stats returns the trace's counters summed over workers.
func (t *Trace) Stats() trace.Stats {
	var s trace.Stats
	for _, r := range t.t.rings {
		s.Traced += r.traced.Load()
		s.RingFull += r.full.Load()
		s.RateLimited += r.limited.Load()
	}
	return s
}

// Read appends to dst the events recorded since the last Read, worker by
// worker, and returns it.
func (t *Trace) Read(dst []trace.Event) []trace.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t.read(dst)
}

func (t *tracer) read(dst []trace.Event) []trace.Event {
	for wi, r := range t.rings {
		h, tail := r.head.Load(), r.tail.Load()
		for ; h < tail; h++ {
			rec := &r.slots[h%uint64(len(r.slots))]
			dst = append(dst, rec.event(wi, t.names))
		}
		r.head.Store(h)
	}
	return dst
}

// allow takes a token of the rate limit.
func (r *traceRing) allow(now conntrack.Tick) bool {
	if d := int64(now.Sub(r.at)); d > 0 {
		r.tokens = min(r.tokens+d*r.rate/1000, r.rate)
		r.at = now
	} else if d < 0 {
		r.at = now
	}
	if r.tokens <= 0 {
		return false
	}
	r.tokens--
	return true
}

// processTraced is process with a record of what it did.
func (w *worker) processTraced(p *packet, tbl *vs.Table, now conntrack.Tick) bool {
	r := w.tr
	if !r.allow(now) {
		r.limited.Add(1)
		return w.process(p, tbl, now)
	}
	tail := r.tail.Load()
	if tail-r.head.Load() >= uint64(len(r.slots)) {
		r.full.Add(1)
		return w.process(p, tbl, now)
	}
	rec := &r.slots[tail%uint64(len(r.slots))]
	*rec = traceRec{}
	w.traceBefore(p, rec, tbl, now)
	before := w.tally()
	txBefore, pending := len(w.tx), w.npending
	ok := w.process(p, tbl, now)
	w.traceAfter(p, rec, tbl, now, &before, txBefore, pending)
	r.traced.Add(1)
	r.tail.Store(tail + 1)
	return ok
}

// tallies are the counters traceAfter compares to tell what happened.
type tallies struct {
	drops                                          [numReasons]uint64
	arp, echo, nd, newConns, frag, split, icmpSent uint64
}

func (w *worker) tally() tallies {
	var t tallies
	for i := range t.drops {
		t.drops[i] = w.c.drops[i].Load()
	}
	t.arp, t.echo, t.nd, t.newConns = w.c.arpReply.Load(), w.c.echoReply.Load(), w.c.ndReply.Load(), w.c.newConns.Load()
	t.frag, t.split, t.icmpSent = w.c.fragNeeded.Load(), w.c.split.Load(), w.c.icmpSent.Load()
	return t
}

// traceBefore records the frame as it arrived and the connection it
// belongs to, before process rewrites it.
func (w *worker) traceBefore(p *packet, rec *traceRec, tbl *vs.Table, now conntrack.Tick) {
	r := w.tr
	rec.ns = time.Now().UnixNano()
	rec.in = p.in
	if p.n < 0 {
		rec.kind = recBad
		return
	}
	frame := p.frame()
	rec.inLen = uint32(len(frame))
	rec.inCap = uint16(copy(rec.inFrame[:r.snap], frame))
	ps := &r.ps
	var res pkt.DecodeResult
	if p.vnet().gsoType() != vnetGSONone {
		res = ps.DecodeGSO(frame)
	} else {
		res = ps.Decode(frame)
	}
	if len(frame) >= pkt.EtherHeaderLen {
		rec.inDstMAC = pkt.Ether(frame).Dst()
	}
	if res == pkt.DecodeIPv6 {
		w.traceBefore6(p, rec, frame, tbl, now) // trace6.go
		return
	}
	if res != pkt.DecodeOK {
		rec.kind = recBad
		return
	}
	if ps.EtherType == pkt.EtherTypeARP {
		rec.kind = recARP
		a := pkt.ARP(frame[ps.L3Off:])
		rec.src, rec.dst, rec.flags = a16(a.SPA()), a16(a.TPA()), uint8(a.Op())
		return
	}
	if ps.EtherType != pkt.EtherTypeIPv4 {
		return
	}
	rec.proto, rec.flags = ps.Proto, ps.TCPFlags
	rec.src, rec.dst, rec.sport, rec.dport = a16(ps.Src), a16(ps.Dst), ps.SrcPort, ps.DstPort
	rec.ipLen = uint16(min(ps.IPLen, 0xffff))
	rec.icmpType, rec.icmpCode = ps.ICMPType, ps.ICMPCode
	rec.vip, _ = tbl.VIP(ps.Dst)
	tcpUDP := ps.Proto == pkt.ProtoTCP || ps.Proto == pkt.ProtoUDP
	switch {
	case ps.Proto == pkt.ProtoICMP:
		rec.kind = recICMP
	case tcpUDP && rec.vip && ps.Frag == 0:
		rec.kind = recIn
		key := conntrack.Key{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
		if c := w.ct.Lookup(key, now, tbl); c != nil {
			rec.lookup, rec.hasFrom, rec.from = lkHit, true, c.State
			return
		}
		rec.lookup = lkMiss
		if svc := tbl.LookupFrom(vs.Protocol(ps.Proto), ps.Src, ps.Dst, ps.DstPort); svc != nil && svc.Flags&vs.SvcPersistent != 0 {
			rec.tmplPre, _, _ = w.tmpls.PeekTemplate(templateKey(svc, ps))
		}
	case tcpUDP && !rec.vip && ps.Frag == 0 && w.ct.HasNAT():
		rec.kind = recOut
		out := conntrack.Key{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
		if c := w.ct.LookupOut(out, now, tbl); c != nil {
			rec.lookup, rec.hasFrom, rec.from = lkHit, true, c.State
		} else {
			rec.lookup = lkMiss
		}
	}
}

// traceAfter records what process did: the verdict from the counters it
// moved, the connection as it is now, the frame as it left.
func (w *worker) traceAfter(p *packet, rec *traceRec, tbl *vs.Table, now conntrack.Tick, before *tallies, txBefore, pending int) {
	r := w.tr
	for i := range before.drops {
		if w.c.drops[i].Load() != before.drops[i] {
			rec.drop = Reason(i)
			break
		}
	}
	rec.answered = w.c.arpReply.Load() != before.arp || w.c.echoReply.Load() != before.echo || w.c.ndReply.Load() != before.nd
	rec.newConn = w.c.newConns.Load() != before.newConns
	rec.fragNeeded = w.c.fragNeeded.Load() != before.frag
	rec.split = w.c.split.Load() != before.split
	rec.icmpSent = w.c.icmpSent.Load() != before.icmpSent
	rec.queued = w.npending > pending
	ps := &r.ps
	switch {
	case rec.ip6:
		w.traceAfter6(rec, tbl, now) // trace6.go
	case rec.kind == recIn:
		key := conntrack.Key{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
		svc := tbl.LookupFrom(vs.Protocol(ps.Proto), ps.Src, ps.Dst, ps.DstPort)
		if c := w.ct.Lookup(key, now, tbl); c != nil {
			w.traceConn(rec, tbl, c, now)
			if s := tbl.Service(c.SvcID); s != nil {
				svc = s
			}
			if rec.newConn && svc != nil && svc.Scheduler != nil && (rec.tmplPre == 0 || rec.tmplPre != rec.tmplPost) {
				copy(rec.schedName[:], svc.Scheduler.Name())
				rec.why = sched.Explain(svc.Scheduler, vs.Flow{Proto: vs.Protocol(ps.Proto), Src: netip.AddrFrom4(ps.Src),
					Dst: netip.AddrFrom4(ps.Dst), SrcPort: ps.SrcPort, DstPort: ps.DstPort})
			}
		}
		if svc != nil {
			rec.hasSvc, rec.svcProto, rec.svcAddr, rec.svcPort, rec.svcMark = true, svc.Proto, svc.Addr.As16(), svc.Port, svc.FwMark
		}
	case rec.kind == recOut:
		out := conntrack.Key{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
		if c := w.ct.LookupOut(out, now, tbl); c != nil {
			w.traceConn(rec, tbl, c, now)
			if svc := tbl.Service(c.SvcID); svc != nil {
				rec.hasSvc, rec.svcProto, rec.svcAddr, rec.svcPort, rec.svcMark = true, svc.Proto, svc.Addr.As16(), svc.Port, svc.FwMark
			}
		}
	}
	switch {
	case len(w.tx) > txBefore:
		rec.nOut = uint8(min(len(w.tx)-txBefore, 255))
		w.traceOut(rec, w.tx[txBefore])
	case rec.queued && p.n >= 0:
		// Rewritten in place and copied to wait for the next hop's
		// MAC: the frame as it will leave, but for the MACs.
		w.traceOut(rec, p)
	}
}

// traceConn records connection c after the packet.
func (w *worker) traceConn(rec *traceRec, tbl *vs.Table, c *conntrack.Conn, now conntrack.Tick) {
	rec.hasTo, rec.to, rec.timeout = true, c.State, c.Expires.Sub(now)
	rec.tmplPost = c.Tmpl
	if d := tbl.Dest(c.DestID); d != nil {
		rec.hasDest, rec.dest, rec.method = true, d.Addr.As16(), d.Method
		rec.destPort = d.Port
		if d.Port == 0 {
			rec.destPort = c.Key.DstPort
		}
	}
}

// traceOut records the first frame p that left for this packet.
func (w *worker) traceOut(rec *traceRec, p *packet) {
	r := w.tr
	frame := p.frame()
	rec.out = p.out
	rec.outLen = uint32(len(frame))
	rec.outCap = uint16(copy(rec.outFrame[:r.snap], frame))
	if len(frame) < pkt.EtherHeaderLen {
		return
	}
	eth := pkt.Ether(frame)
	rec.outDstMAC, rec.outSrcMAC = eth.Dst(), eth.Src()
	ops := &r.ops
	switch ops.Decode(frame) {
	case pkt.DecodeOK:
	case pkt.DecodeIPv6:
		w.traceOut6(rec, frame, ops.L3Off) // trace6.go
		return
	default:
		return
	}
	if ops.EtherType != pkt.EtherTypeIPv4 {
		return
	}
	rec.outOK = true
	rec.outProto, rec.outSrc, rec.outDst, rec.outSport, rec.outDport = ops.Proto, a16(ops.Src), a16(ops.Dst), ops.SrcPort, ops.DstPort
	if ops.Proto != pkt.ProtoIPIP || ops.L4Off == 0 {
		return
	}
	// IPIP: the inner header is what the real server sees.
	rec.ipip, rec.outerSrc, rec.outerDst = true, a16(ops.Src), a16(ops.Dst)
	inner := frame[ops.L4Off:]
	if len(inner) < pkt.IPv4MinHeaderLen {
		return
	}
	h := pkt.IPv4(inner)
	rec.outProto, rec.outSrc, rec.outDst = h.Protocol(), a16(h.Src()), a16(h.Dst())
	rec.outSport, rec.outDport = 0, 0
	if l4 := h.HeaderLen(); (rec.outProto == pkt.ProtoTCP || rec.outProto == pkt.ProtoUDP) && len(inner) >= l4+4 {
		rec.outSport = binary.BigEndian.Uint16(inner[l4:])
		rec.outDport = binary.BigEndian.Uint16(inner[l4+2:])
	}
}

// event turns a record into an Event. Control plane: it may allocate.
func (rec *traceRec) event(worker int, names []string) trace.Event {
	ifname := func(i uint8) string {
		if int(i) < len(names) {
			return names[i]
		}
		return fmt.Sprintf("if%d", i)
	}
	e := trace.Event{Time: time.Unix(0, rec.ns), Kind: trace.KindPacket, Worker: worker, In: ifname(rec.in)}
	if rec.inCap > 0 {
		e.InFrame, e.InLen = append([]byte(nil), rec.inFrame[:rec.inCap]...), int(rec.inLen)
	}
	if rec.outCap > 0 {
		e.OutFrame, e.OutLen = append([]byte(nil), rec.outFrame[:rec.outCap]...), int(rec.outLen)
	}
	ap := func(a [16]byte, port uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom16(a).Unmap(), port)
	}
	switch rec.kind {
	case recBad:
		e.Proto = "?"
	case recARP:
		e.Proto, e.Src, e.Dst = "arp", ap(rec.src, 0), ap(rec.dst, 0)
		switch uint16(rec.flags) {
		case pkt.ARPRequest:
			e.Flags = "who-has"
		case pkt.ARPReply:
			e.Flags = "reply"
		}
	default:
		switch rec.proto {
		case pkt.ProtoTCP:
			e.Proto = "tcp"
			e.Flags = trace.TCPFlags(rec.flags)
		case pkt.ProtoUDP:
			e.Proto = "udp"
		case pkt.ProtoICMP:
			e.Proto = "icmp"
		case pkt.ProtoICMPv6:
			e.Proto = "icmp6"
		default:
			e.Proto = fmt.Sprintf("proto-%d", rec.proto)
		}
		e.Src, e.Dst, e.Len = ap(rec.src, rec.sport), ap(rec.dst, rec.dport), int(rec.ipLen)
		if rec.proto == pkt.ProtoICMP || rec.proto == pkt.ProtoICMPv6 && rec.ip6 {
			e.Src, e.Dst = ap(rec.src, 0), ap(rec.dst, 0)
			e.Flags = fmt.Sprintf("type %d code %d", rec.icmpType, rec.icmpCode)
		}
		switch rec.kind {
		case recIn:
			e.Dir = "in"
		case recOut:
			e.Dir = "out"
		case recICMP:
			e.Dir = "icmp"
		default:
			e.Dir = "other"
		}
	}
	if rec.hasSvc {
		switch {
		case rec.svcMark != 0 && rec.ip6:
			// An IPv6 packet finds IPv6 services only (Lookup6).
			e.Service = fmt.Sprintf("FWM %d IPv6", rec.svcMark)
		case rec.svcMark != 0:
			e.Service = fmt.Sprintf("FWM %d", rec.svcMark)
		default:
			e.Service = fmt.Sprintf("%s %s", rec.svcProto, ap(rec.svcAddr, rec.svcPort))
		}
	} else if rec.kind == recIn {
		e.Service = "none"
	}
	switch {
	case rec.newConn:
		e.Conn = "new"
	case rec.lookup == lkHit:
		e.Conn = "hit"
	case rec.lookup == lkMiss:
		e.Conn = "miss"
	}
	if rec.tmplPost != 0 {
		if rec.tmplPre == rec.tmplPost {
			e.Template = fmt.Sprintf("#%d used", rec.tmplPost)
		} else if rec.newConn {
			e.Template = fmt.Sprintf("#%d made", rec.tmplPost)
		} else {
			e.Template = fmt.Sprintf("#%d", rec.tmplPost)
		}
	}
	if rec.schedName[0] != 0 {
		name := string(rec.schedName[:clen(rec.schedName[:])])
		switch rec.why.Kind {
		case sched.WhyWeight:
			e.Sched = fmt.Sprintf("%s cw=%d mw=%d candidates=%d", name, rec.why.A, rec.why.B, rec.why.C)
		case sched.WhyBucket:
			e.Sched = fmt.Sprintf("%s bucket %d/%d", name, rec.why.A, rec.why.B)
		default:
			e.Sched = name
		}
	}
	if rec.hasDest {
		e.Dest = ap(rec.dest, rec.destPort)
		e.Method = methodName(rec.method)
	}
	if rec.hasTo {
		from := "NONE"
		if rec.hasFrom {
			from = rec.from.String()
		}
		if rec.proto == pkt.ProtoTCP && (!rec.hasFrom || rec.from != rec.to) {
			e.State = from + ">" + rec.to.String()
		} else {
			e.State = rec.to.String()
		}
		e.Timeout = time.Duration(max(rec.timeout, 0)) * time.Millisecond
	}
	if rec.nOut > 0 || rec.queued {
		if rec.nOut > 0 {
			e.Out = ifname(rec.out)
			e.Frames = int(rec.nOut)
		}
		if !rec.icmpSent && !rec.fragNeeded && !rec.answered {
			e.Rewrite = rec.rewrites() // else what left is the director's ICMP error
		}
		if rec.queued {
			e.Rewrite = append(e.Rewrite, "waits for the next hop's MAC")
		}
		if rec.outOK {
			e.OutSrc, e.OutDst = ap(rec.outSrc, rec.outSport), ap(rec.outDst, rec.outDport)
		}
	}
	switch {
	case rec.fragNeeded:
		e.ICMP = "fragmentation needed"
	case rec.icmpSent && rec.drop == ReasonNoDest:
		e.ICMP = "port unreachable"
	case rec.icmpSent:
		e.ICMP = "error"
	}
	switch {
	case rec.drop != ReasonInvalid:
		e.Verdict, e.Drop = trace.VerdictDrop, rec.drop.String()
	case rec.answered:
		e.Verdict = trace.VerdictAnswer
	case rec.fragNeeded:
		e.Verdict = trace.VerdictICMP
	case rec.queued:
		e.Verdict = trace.VerdictQueue
	case rec.nOut > 0:
		e.Verdict = trace.VerdictForward
	}
	return e
}

// rewrites describes how the frame that left differs from the one that
// arrived.
func (rec *traceRec) rewrites() []string {
	var out []string
	if rec.outDstMAC != rec.inDstMAC {
		out = append(out, fmt.Sprintf("mac %s->%s", macText(rec.inDstMAC), macText(rec.outDstMAC)))
	}
	if !rec.outOK || rec.kind == recARP {
		return out
	}
	if rec.ipip {
		out = append(out, fmt.Sprintf("ipip %s>%s", netip.AddrFrom16(rec.outerSrc).Unmap(), netip.AddrFrom16(rec.outerDst).Unmap()))
	}
	ap := func(a [16]byte, port uint16) string {
		return netip.AddrPortFrom(netip.AddrFrom16(a).Unmap(), port).String()
	}
	if rec.outSrc != rec.src || rec.outSport != rec.sport {
		out = append(out, fmt.Sprintf("snat %s->%s", ap(rec.src, rec.sport), ap(rec.outSrc, rec.outSport)))
	}
	if rec.outDst != rec.dst || rec.outDport != rec.dport {
		out = append(out, fmt.Sprintf("dnat %s->%s", ap(rec.dst, rec.dport), ap(rec.outDst, rec.outDport)))
	}
	return out
}

func macText(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

func methodName(m vs.Method) string {
	switch m {
	case vs.Route:
		return "dr"
	case vs.Masq:
		return "nat"
	case vs.Tunnel:
		return "tun"
	case vs.FullNAT:
		return "fullnat"
	}
	return m.String()
}

// clen is the length of a NUL-padded name.
func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}
