package engine

import (
	"encoding/binary"
	"net/netip"

	"github.com/ulvs/ulvs/arp"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

// worker is one run-to-completion loop over one link. Everything in it is
// owned by its goroutine.
type worker struct {
	link   link
	mac    [6]byte
	ct     *conntrack.Table
	rx     []packet
	tx     []*packet
	parsed pkt.Parsed
	c      *counters
	// timeouts is the pointer w.ct was last given.
	timeouts *conntrack.Timeouts
	// lastSweep is when the conntrack sweep last ran.
	lastSweep conntrack.Tick
	// connReq carries requests for a copy of the connection table; the
	// worker answers between batches, so its table needs no lock.
	connReq chan chan<- []conntrack.Conn
}

// drop counts a frame that goes no further.
func (w *worker) drop(r Reason) bool {
	w.c.drops[r].Add(1)
	return false
}

// process runs one frame through the pipeline. It reports whether the frame
// (rewritten in place) is to be transmitted. It must not allocate.
func (w *worker) process(p *packet, tbl *vs.Table, now conntrack.Tick) bool {
	if p.n < 0 {
		return w.drop(ReasonTruncated)
	}
	frame := p.frame()
	w.c.rxFrames.Add(1)
	w.c.rxBytes.Add(uint64(len(frame)))
	ps := &w.parsed
	var r pkt.DecodeResult
	if p.vnet().gsoType() != vnetGSONone {
		r = ps.DecodeGSO(frame) // a super-frame may carry total length 0
	} else {
		r = ps.Decode(frame)
	}
	switch r {
	case pkt.DecodeOK:
	case pkt.DecodeNotIP:
		return w.drop(ReasonNotOurs)
	default:
		return w.drop(ReasonMalformed)
	}
	if ps.EtherType == pkt.EtherTypeARP {
		tpa, ok := arp.IsRequestFor(frame, ps.L3Off)
		if !ok || !tbl.IsVIP(tpa) {
			return w.drop(ReasonNotOurs)
		}
		arp.MakeReply(frame, ps.L3Off, w.mac)
		p.vnet().clear()
		w.c.arpReply.Add(1)
		return w.transmit(p)
	}
	// Only frames sent to us: with the interface in promiscuous mode our
	// own DR output (VIP inside, a real server's MAC outside) comes by.
	if ps.EtherType != pkt.EtherTypeIPv4 || !tbl.IsVIP(ps.Dst) || pkt.Ether(frame).Dst() != w.mac {
		return w.drop(ReasonNotOurs)
	}
	switch ps.Proto {
	case pkt.ProtoTCP, pkt.ProtoUDP:
	case pkt.ProtoICMP:
		if forward.EchoReply(frame, ps, w.mac) {
			p.vnet().clear()
			w.c.echoReply.Add(1)
			return w.transmit(p)
		}
		return w.drop(ReasonUnsupported)
	default:
		return w.drop(ReasonUnsupported)
	}
	if ps.Frag != 0 {
		return w.drop(ReasonFragment)
	}
	return w.inbound(p, frame, tbl, now)
}

// inbound handles a TCP or UDP packet from a client to a VIP.
func (w *worker) inbound(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick) bool {
	ps := &w.parsed
	proto := vs.Protocol(ps.Proto)
	key := conntrack.Key{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
	c := w.ct.Lookup(key, now, tbl)
	var d *vs.Dest
	if c == nil {
		svc := tbl.Lookup(proto, ps.Dst, ps.DstPort)
		if svc == nil {
			return w.drop(ReasonNoService)
		}
		// Like tcp_conn_schedule: only a SYN (without RST) opens a
		// connection.
		if proto == vs.TCP && ps.TCPFlags&(pkt.TCPSyn|pkt.TCPRst) != pkt.TCPSyn {
			return w.drop(ReasonNotSYN)
		}
		flow := vs.Flow{
			Proto:   proto,
			Src:     netip.AddrFrom4(ps.Src),
			Dst:     netip.AddrFrom4(ps.Dst),
			SrcPort: ps.SrcPort,
			DstPort: ps.DstPort,
		}
		d = svc.Scheduler.Schedule(svc, flow)
		if d == nil {
			return w.drop(ReasonNoDest)
		}
		c = w.ct.Insert(key, svc.ID, d, now)
		if c == nil {
			return w.drop(ReasonTableFull)
		}
		svc.Stats.Conns.Add(1)
		w.c.newConns.Add(1)
	} else {
		d = tbl.Dest(c.DestID)
		if d == nil {
			w.ct.Delete(c, tbl)
			return w.drop(ReasonDestGone)
		}
	}
	w.ct.Step(c, conntrack.InputOnly, ps.TCPFlags, now, d)
	if svc := tbl.Service(c.SvcID); svc != nil {
		svc.Stats.InPkts.Add(1)
		svc.Stats.InBytes.Add(uint64(ps.IPLen))
	}
	d.State.InPkts.Add(1)
	d.State.InBytes.Add(uint64(ps.IPLen))
	switch d.Method {
	case vs.Route:
		mac, ok := d.State.MAC()
		if !ok {
			return w.drop(ReasonNoNeighbour)
		}
		forward.DR(frame, mac, w.mac)
	default:
		return w.drop(ReasonUnsupported)
	}
	p.vnet().forTX()
	w.c.forwarded.Add(1)
	return w.transmit(p)
}

// transmit queues p on the TX batch, putting back a VLAN tag the kernel
// took off on receive.
func (w *worker) transmit(p *packet) bool {
	if p.status&tpStatusVLANValid != 0 && !insertVLAN(p) {
		return w.drop(ReasonUnsupported)
	}
	w.tx = append(w.tx, p)
	return true
}

// insertVLAN re-inserts the 802.1Q tag that RX offload stripped into
// p.vlanTCI, moving the virtio header and MACs 4 bytes into the headroom.
func insertVLAN(p *packet) bool {
	const tagLen = 4
	if p.off < vnetHdrLen+tagLen || p.n < 12 {
		return false
	}
	start := p.off - vnetHdrLen
	copy(p.buf[start-tagLen:], p.buf[start:p.off+12])
	p.off -= tagLen
	p.n += tagLen
	tpid := uint16(pkt.EtherTypeVLAN)
	if p.status&tpStatusVLANTPIDValid != 0 && p.vlanTP != 0 {
		tpid = p.vlanTP
	}
	binary.BigEndian.PutUint16(p.buf[p.off+12:], tpid)
	binary.BigEndian.PutUint16(p.buf[p.off+14:], p.vlanTCI)
	h := p.vnet()
	if h.flags()&vnetFlagNeedsCsum != 0 {
		h.setCsumStart(h.csumStart() + tagLen)
	}
	if h.gsoType() != vnetGSONone {
		h.setHdrLen(h.hdrLen() + tagLen)
	}
	p.status &^= tpStatusVLANValid
	return true
}
