package engine

import (
	"net/netip"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

// `ulvs trace` for IPv6 frames: traceBefore6, traceAfter6 and traceOut6
// are traceBefore, traceAfter and traceOut's IPv6 halves, with the IPv6
// table and services. Records keep 16-byte addresses for both families
// (a16 maps IPv4 ones; Event unmaps them).

// a16 is an IPv4 address in a record's 16-byte form (IPv4-mapped).
func a16(a [4]byte) [16]byte { return netip.AddrFrom4(a).As16() }

// traceBefore6 records an IPv6 frame as it arrived and the connection it
// belongs to.
func (w *worker) traceBefore6(p *packet, rec *traceRec, frame []byte, tbl *vs.Table, now conntrack.Tick) {
	r := w.tr
	ps := &r.ps6
	if ps.Decode6(frame, r.ps.L3Off, p.vnet().gsoType() != vnetGSONone) != pkt.DecodeOK {
		rec.kind = recBad
		return
	}
	rec.ip6 = true
	rec.proto, rec.flags = ps.Proto, ps.TCPFlags
	rec.src, rec.dst, rec.sport, rec.dport = ps.Src, ps.Dst, ps.SrcPort, ps.DstPort
	rec.ipLen = uint16(min(ps.IPLen, 0xffff))
	rec.icmpType, rec.icmpCode = ps.ICMPType, ps.ICMPCode
	rec.vip = tbl.IsVIP6(ps.Dst)
	tcpUDP := ps.Proto == pkt.ProtoTCP || ps.Proto == pkt.ProtoUDP
	switch {
	case ps.Proto == pkt.ProtoICMPv6:
		rec.kind = recICMP
	case tcpUDP && rec.vip && !ps.Frag:
		rec.kind = recIn
		rec.lookup = lkMiss
		if w.ct6 != nil {
			if c := w.ct6.Lookup(w.traceKey6(), now, tbl); c != nil {
				rec.lookup, rec.hasFrom, rec.from = lkHit, true, c.State
				return
			}
		}
		if svc := tbl.Lookup6From(vs.Protocol(ps.Proto), ps.Src, ps.Dst, ps.DstPort); svc != nil && svc.Flags&vs.SvcPersistent != 0 {
			rec.tmplPre, _, _ = w.tmpls.PeekTemplate(templateKey6(svc, ps))
		}
	case tcpUDP && !rec.vip && !ps.Frag && w.ct6 != nil && w.ct6.HasNAT():
		rec.kind = recOut
		rec.lookup = lkMiss
		if c := w.ct6.LookupOut(w.traceKey6(), now, tbl); c != nil {
			rec.lookup, rec.hasFrom, rec.from = lkHit, true, c.State
		}
	}
}

// traceKey6 is the connection key of the frame traceBefore6 decoded.
func (w *worker) traceKey6() conntrack.Key6 {
	ps := &w.tr.ps6
	return conntrack.Key6{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
}

// traceAfter6 records the IPv6 connection as it is after the packet.
func (w *worker) traceAfter6(rec *traceRec, tbl *vs.Table, now conntrack.Tick) {
	ps := &w.tr.ps6
	if w.ct6 == nil {
		return
	}
	var c *conntrack.Conn6
	var svc *vs.Service
	switch rec.kind {
	case recIn:
		svc = tbl.Lookup6From(vs.Protocol(ps.Proto), ps.Src, ps.Dst, ps.DstPort)
		c = w.ct6.Lookup(w.traceKey6(), now, tbl)
	case recOut:
		c = w.ct6.LookupOut(w.traceKey6(), now, tbl)
	default:
		return
	}
	if c != nil {
		w.traceConn(rec, tbl, &c.Conn, now)
		if s := tbl.Service(c.SvcID); s != nil {
			svc = s
		}
		if rec.kind == recIn && rec.newConn && svc != nil && svc.Scheduler != nil && (rec.tmplPre == 0 || rec.tmplPre != rec.tmplPost) {
			copy(rec.schedName[:], svc.Scheduler.Name())
			rec.why = sched.Explain(svc.Scheduler, vs.Flow{Proto: vs.Protocol(ps.Proto), Src: netip.AddrFrom16(ps.Src),
				Dst: netip.AddrFrom16(ps.Dst), SrcPort: ps.SrcPort, DstPort: ps.DstPort})
		}
	}
	if svc != nil {
		rec.hasSvc, rec.svcProto, rec.svcAddr, rec.svcPort, rec.svcMark = true, svc.Proto, svc.Addr.As16(), svc.Port, svc.FwMark
	}
}

// traceOut6 records the addresses and ports of an IPv6 frame that left.
func (w *worker) traceOut6(rec *traceRec, frame []byte, l3 int) {
	ops := &w.tr.ops6
	if ops.Decode6(frame, l3, true) != pkt.DecodeOK {
		return
	}
	rec.outOK = true
	rec.outProto, rec.outSrc, rec.outDst, rec.outSport, rec.outDport = ops.Proto, ops.Src, ops.Dst, ops.SrcPort, ops.DstPort
}
