package engine

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"net/netip"

	"github.com/ulvs/ulvs/arp"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

// worker is one run-to-completion loop over one link. Everything in it is
// owned by its goroutine.
type worker struct {
	links []link
	macs  [][6]byte     // the MAC of each link's interface
	pfd   []unix.PollFd // one per link; Fd -1: not polled
	// blocks is set when some link has a descriptor to poll (AF_PACKET);
	// test links never block.
	blocks bool
	// ls is the engine's link set the worker runs with; adopted
	// acknowledges it to the link monitor (links.go), and faults carries
	// socket faults to it.
	ls      *linkSet
	adopted atomic.Pointer[linkSet]
	faults  chan<- linkFault
	next    int // link collect starts after
	idle    idlePoll
	txLink  []*packet
	ct      *conntrack.Table
	tmpls   *conntrack.Templates
	// nodestTbl is the table expireNodest last looked at.
	nodestTbl *vs.Table
	rx        []packet
	tx        []*packet
	parsed    pkt.Parsed
	// parsed6 and ct6 are the IPv6 data path's (process6.go); ct6 is
	// made at the first IPv6 connection.
	parsed6 pkt.Parsed6
	ct6     *conntrack.Table6
	// frag6 is the IPv6 reassembly pool, made at the first fragment;
	// reasm the datagram being forwarded from it (frag6.go).
	frag6 *reasm6
	reasm *frag6Slot
	// boxes are every worker's inbox of reassembled datagrams, by
	// index (frag6box.go); nil with one worker.
	boxes []*frag6Box
	c     *counters
	// stats sums the batch's packets per service and dest counter
	// (statbatch.go).
	stats statBatch
	// timeouts is the pointer w.ct was last given.
	timeouts *conntrack.Timeouts
	// lastSweep is when the conntrack sweep last ran.
	lastSweep conntrack.Tick
	// pickSvc and pickFlow are the arguments of pick while a persistent
	// service is scheduled; checkTemplate and pick are method values made
	// once so the per-connection path does not allocate closures.
	pickSvc         *vs.Service
	pickFlow        vs.Flow
	pickFn          func() *vs.Dest
	checkFn         conntrack.TemplateCheck
	quiescentExpire bool
	// neigh is the engine's next-hop table; asked and pending implement
	// resolution requests and the wait queue for unresolved replies.
	neigh    *neighbours
	asked    [16]asked
	pending  [pendingSlots]pendingFrame
	npending int
	// index is the worker's socket position in every fanout group, of
	// nworkers; FULLNAT picks local ports whose replies hash back here.
	index, nworkers int
	lipNext         int
	lport           uint16
	// all6On0: the fanout program sends all IPv6 to worker 0 (beyond
	// maxFanoutVIPs6 IPv6 VIPs, or with a wide IPv6 mark rule), so an
	// IPv6 FULLNAT local port need not hash back here (set by inbound6).
	all6On0 bool
	// scr holds the frames a packet is split into and ICMP errors.
	scr *scratch
	// addrs and mtus are each link's IPv4 address (the outer source of
	// IPIP) and MTU.
	addrs      [][4]byte
	addrs6     [][16]byte // each link's global IPv6 address (tun6.go)
	mtus       []int
	ipID       uint16
	now        conntrack.Tick // the batch's clock reading
	icmpTokens int64
	icmpAt     conntrack.Tick
	// connReq carries requests for a copy of the connection table; the
	// worker answers between batches, so its table needs no lock.
	connReq  chan chan<- connCopy
	conn6Req chan chan<- conn6Copy // the same for the IPv6 table
	// def is the worker's side of the defence ladder (defense.go).
	def workerDefense
	// master is the running sync master (nil: none), adopted once per
	// batch; syncNow is the batch's sync clock, syncRec a scratch record
	// (engine/sync.go, engine/inbox.go).
	master  *syncMaster
	syncNow time.Duration
	syncRec syncRec
	// tr is this worker's trace ring, nil when nobody traces; loaded
	// once per batch (trace.go).
	tr *traceRing
	// sp is the SYN proxy (engine/synproxy.go).
	sp proxyState
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
	case pkt.DecodeIPv6:
		return w.process6(p, frame, tbl, now) // process6.go
	case pkt.DecodeNotIP:
		return w.drop(ReasonNotOurs)
	default:
		return w.drop(ReasonMalformed)
	}
	if ps.EtherType == pkt.EtherTypeARP {
		tpa, ok := arp.IsRequestFor(frame, ps.L3Off)
		if !ok || !tbl.AnswersARP(tpa) {
			if ok && tbl.Standby(tpa) {
				return w.drop(ReasonStandby)
			}
			return w.drop(ReasonNotOurs)
		}
		mac := w.macs[p.in]
		if vmac, ok := tbl.ARPMAC(tpa); ok {
			mac = vmac // use_vmac: the VRRP virtual MAC answers
		}
		arp.MakeReply(frame, ps.L3Off, mac)
		p.vnet().clear()
		w.c.arpReply.Add(1)
		return w.transmit(p)
	}
	// Only frames sent to us: with the interface in promiscuous mode our
	// own DR output (VIP inside, a real server's MAC outside) comes by.
	if dst := pkt.Ether(frame).Dst(); ps.EtherType != pkt.EtherTypeIPv4 || dst != w.macs[p.in] && !tbl.IsVMAC(dst) {
		return w.drop(ReasonNotOurs)
	}
	vip, standby := tbl.VIP(ps.Dst)
	if !vip {
		// Not to a VIP: a real server's reply through the director, or an
		// ICMP error about a connection?
		if ps.Frag == 0 {
			switch ps.Proto {
			case pkt.ProtoTCP, pkt.ProtoUDP:
				if w.ct.HasNAT() {
					return w.outbound(p, frame, tbl, now)
				}
			case pkt.ProtoICMP:
				if q, ok := forward.ParseICMPError(frame, ps); ok {
					if q.IPIP {
						return w.icmpTunnel(p, frame, tbl, now, &q)
					}
					if w.ct.HasNAT() {
						return w.icmpFromReal(p, frame, tbl, now, &q)
					}
				} else if t, ok := forward.ParseTunnelTooBig4(frame, ps); ok && w.tunnelTooBig(&t, tbl) {
					return false // about one of our IPv6-in-IPv4 packets (tun6.go)
				}
			}
		}
		return w.drop(ReasonNotOurs)
	}
	if standby {
		// A failover backup: the master serves this VIP. Frames still
		// reach us while clients' ARP caches hold our MAC.
		return w.drop(ReasonStandby)
	}
	switch ps.Proto {
	case pkt.ProtoTCP, pkt.ProtoUDP:
	case pkt.ProtoICMP:
		if forward.EchoReply(frame, ps, w.macs[p.in]) {
			p.vnet().clear()
			w.c.echoReply.Add(1)
			return w.transmit(p)
		}
		if q, ok := forward.ParseICMPError(frame, ps); ok {
			return w.icmpToVIP(p, frame, tbl, now, &q)
		}
		return w.drop(ReasonUnsupported)
	default:
		return w.drop(ReasonUnsupported)
	}
	if ps.Frag != 0 {
		// Fragments reach the engine only if the kernel could not
		// reassemble them (the fanout groups ask it to).
		return w.drop(ReasonFragment)
	}
	return w.inbound(p, frame, tbl, now)
}

// inbound handles a TCP or UDP packet from a client to a VIP: the
// ip_vs_in path for the methods that see only this direction.
func (w *worker) inbound(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick) bool {
	ps := &w.parsed
	proto := vs.Protocol(ps.Proto)
	key := conntrack.Key{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
	c := w.ct.Lookup(key, now, tbl)
	if c != nil && proto == vs.TCP && isNewConn(ps.TCPFlags) && w.reschedule(c, tbl) {
		// A new SYN for an old connection: end it and schedule afresh.
		w.ct.Delete(c, tbl)
		c = nil
	}
	var d *vs.Dest
	if c != nil {
		var del bool
		var r Reason
		if d, del, r = connDest(tbl, c.DestID); d == nil {
			if del {
				w.ct.Delete(c, tbl)
			}
			if r != 0 {
				return w.drop(r)
			}
			w.c.nodestExpired.Add(1)
			c = nil // on as a packet without a connection
		}
	}
	if c != nil {
		if sp := w.proxyConn(c); sp != nil {
			if v, done := w.proxyIn(p, frame, c, sp, d, now); done {
				return v
			}
		}
	} else {
		svc := tbl.LookupFrom(proto, ps.Src, ps.Dst, ps.DstPort)
		if svc == nil {
			return w.drop(ReasonNoService)
		}
		if proto == vs.TCP && svc.Flags&vs.SvcSynProxy != 0 {
			return w.proxyMiss(p, frame, tbl, svc, key, now) // engine/synproxy.go
		}
		if r := w.admit(proto, ps.TCPFlags, tbl); r != 0 {
			if r == ReasonNotSYN && tbl.Knobs.ExpireNodestConn {
				// No connection, and not one to open: the kernel
				// director's own stack would reset it.
				w.resetNoConn(p, frame)
			}
			return w.drop(r)
		}
		var tmpl uint32
		var r Reason
		d, tmpl, r = w.schedule(svc, tbl, now)
		if d == nil {
			if r == ReasonNoDest {
				// ip_vs_leave: tell the client nobody can take it.
				w.icmpPortUnreachable(p, frame)
			}
			return w.drop(r)
		}
		svc.Stats.Conns.Add(1)
		w.c.newConns.Add(1)
		if proto == vs.UDP && svc.Flags&vs.SvcOnePacket != 0 {
			// One-packet scheduling: the connection lives for this
			// datagram only (IP_VS_CONN_F_ONE_PACKET), so each
			// datagram is scheduled on its own.
			w.tmpls.Release(tmpl)
			d.State.Conns.Add(1)
			return w.forward(p, frame, tbl, svc, d, nil)
		}
		switch d.Method {
		case vs.Masq:
			// The replies will come from the real server to the client.
			out := conntrack.Key{Src: d.Addr.As4(), SrcPort: destPort(d, ps), Dst: ps.Src, DstPort: ps.SrcPort, Proto: ps.Proto}
			c = w.ct.InsertNAT(key, out, svc.ID, d, now)
			w.wantNeighbour(tbl, ps.Src, now) // resolve the client's next hop before the reply
		case vs.FullNAT:
			// The replies will come from the real server to a local
			// address and port of ours.
			out, ok := w.localPort(svc, d.Addr.As4(), destPort(d, ps), ps.Proto)
			if !ok {
				w.tmpls.Release(tmpl)
				return w.drop(ReasonNoLocalPort)
			}
			c = w.ct.InsertNAT(key, out, svc.ID, d, now)
			w.wantNeighbour(tbl, ps.Src, now)
		default:
			c = w.ct.Insert(key, svc.ID, d, now)
		}
		if c == nil {
			w.tmpls.Release(tmpl)
			return w.drop(ReasonTableFull)
		}
		w.ct.SetTemplate(c, tmpl)
	}
	w.ct.Step(c, conntrack.Input, ps.TCPFlags, now, d)
	c.InPkts++ // cp->in_pkts: connection sync and drop_entry read it
	if w.master != nil {
		w.syncConn(c, tbl, d, now) // engine/sync.go
	}
	return w.forward(p, frame, tbl, tbl.Service(c.SvcID), d, c)
}

// outbound handles a real server's reply to a client through the director
// (NAT): SNAT back to the VIP and send it to the client's next hop.
func (w *worker) outbound(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick) bool {
	ps := &w.parsed
	out := conntrack.Key{Src: ps.Src, Dst: ps.Dst, SrcPort: ps.SrcPort, DstPort: ps.DstPort, Proto: ps.Proto}
	c := w.ct.LookupOut(out, now, tbl)
	if c == nil {
		return w.drop(ReasonNotOurs)
	}
	d := tbl.Dest(c.DestID)
	if d == nil {
		w.ct.Delete(c, tbl)
		return w.drop(ReasonDestGone)
	}
	if sp := w.proxyConn(c); sp != nil {
		if v, done := w.proxyOut(p, frame, tbl, c, sp, d, now); done {
			return v
		}
	}
	w.ct.Step(c, conntrack.Output, ps.TCPFlags, now, d)
	if svc := tbl.Service(c.SvcID); svc != nil {
		w.stats.outService(svc.Stats, ps.IPLen)
	}
	// The reply is forwarded too: it spends a hop (ip_forward's TTL step
	// in the kernel, where NAT replies take the forward path).
	hdr := pkt.IPv4(frame[ps.L3Off:])
	if hdr.TTL() <= 1 {
		return w.drop(ReasonTTL)
	}
	hdr.DecTTL()
	w.stats.outDest(d.State, ps.IPLen)
	iface, hop, ok := tbl.NextHop(c.Key.Src)
	if !ok || iface >= len(w.links) {
		return w.drop(ReasonNoRoute)
	}
	if w.tooBig(p, frame, iface) {
		return false
	}
	o := w.offload(p)
	forward.SNAT(frame, ps, &o, c.Key.Dst, c.Key.DstPort)
	if d.Method == vs.FullNAT {
		forward.DNAT(frame, ps, &o, c.Key.Src, c.Key.SrcPort)
	}
	w.setOffload(p, &o)
	mac, ok := w.neighbour(hop)
	if !ok {
		w.wantNeighbour(tbl, c.Key.Src, now)
		return w.queueUnresolved(p, iface, hop, now)
	}
	eth := pkt.Ether(frame)
	eth.SetDst(mac)
	eth.SetSrc(w.macs[iface])
	p.out = uint8(iface)
	p.vnet().forTX()
	return w.sendFitting(p, frame)
}

// isNewConn is the kernel's is_new_conn for TCP: a bare SYN.
func isNewConn(flags uint8) bool {
	return flags&(pkt.TCPSyn|pkt.TCPAck|pkt.TCPFin|pkt.TCPRst) == pkt.TCPSyn
}

// reschedule decides whether a new SYN ends connection c, as ip_vs_in does
// with expire_nodest_conn (dest at weight 0) or conn_reuse_mode (c in
// TIME_WAIT or CLOSE).
func (w *worker) reschedule(c *conntrack.Conn, tbl *vs.Table) bool {
	// The kernel looks at a new SYN for an old connection only with
	// conn_reuse_mode set, expire_nodest_conn's weight-0 case included.
	if tbl.Knobs.ConnReuseMode == 0 {
		return false
	}
	if tbl.Knobs.ExpireNodestConn {
		if d := tbl.Dest(c.DestID); d != nil && d.Weight == 0 {
			return true
		}
	}
	return c.NewConnExpected(tbl.Knobs.ConnReuseMode)
}

// schedule picks the dest of a new connection to svc (ip_vs_schedule): via
// the persistence template for a persistent service, else the scheduler. A
// non-persistent service matched by a port other than its own (the FTP and
// port-zero fallbacks) schedules nothing, as in the kernel. The returned
// template ID (0 for none) already counts the new connection.
func (w *worker) schedule(svc *vs.Service, tbl *vs.Table, now conntrack.Tick) (*vs.Dest, uint32, Reason) {
	ps := &w.parsed
	flow := vs.Flow{
		Proto:   vs.Protocol(ps.Proto),
		Src:     netip.AddrFrom4(ps.Src),
		Dst:     netip.AddrFrom4(ps.Dst),
		SrcPort: ps.SrcPort,
		DstPort: ps.DstPort,
	}
	if svc.Flags&vs.SvcPersistent == 0 {
		if svc.FwMark == 0 && ps.DstPort != svc.Port {
			return nil, 0, ReasonNoService
		}
		if d := svc.Scheduler.Schedule(svc, flow); d != nil {
			return d, 0, 0
		}
		return nil, 0, ReasonNoDest
	}
	return w.persist(svc, flow, templateKey(svc, ps), tbl, now)
}

// persist schedules through the persistence template k (ip_vs_sched_persist):
// its dest, or a new template on the scheduler's pick.
func (w *worker) persist(svc *vs.Service, flow vs.Flow, k conntrack.TemplateKey, tbl *vs.Table, now conntrack.Tick) (*vs.Dest, uint32, Reason) {
	w.pickSvc, w.pickFlow = svc, flow
	w.quiescentExpire = tbl.Knobs.ExpireQuiescentTemplate
	d, id := w.tmpls.Use(k, svc.ID, svc.Timeout, now, tbl, w.checkFn, w.pickFn)
	w.pickSvc = nil
	if d == nil {
		if w.tmpls.Full() {
			return nil, 0, ReasonTableFull // the templates' bound
		}
		return nil, 0, ReasonNoDest
	}
	return d, id, 0
}

// connDest returns the dest of a connection (IPv4 or IPv6), or nil when
// its real server was removed (ip_vs_in). Then del says the connection
// must be deleted, and r is the drop reason, 0 when the packet goes on as
// one without a connection: without expire_nodest_conn the packets are
// dropped until the connection times out (r ReasonDestGone, kept); with
// it the connection is expired now and the packet goes on (a SYN is
// scheduled again, anything else answered with a reset: the kernel from
// 5.9); a dest no longer in the table at all ends the connection and
// drops the packet.
func connDest(tbl *vs.Table, id uint32) (d *vs.Dest, del bool, r Reason) {
	d = tbl.Dest(id)
	switch {
	case d == nil:
		return nil, true, ReasonDestGone
	case !d.Trashed:
		return d, false, 0
	case tbl.Knobs.ExpireNodestConn:
		return nil, true, 0
	}
	return nil, false, ReasonDestGone
}

// admit decides whether a packet without a connection may open one, and
// why not: like tcp_conn_schedule only a SYN (without RST) opens a TCP
// connection, or any segment but a RST with sloppy_tcp; then the
// drop_packet defence (tcp_conn_schedule, udp_conn_schedule).
func (w *worker) admit(proto vs.Protocol, flags uint8, tbl *vs.Table) Reason {
	if proto == vs.TCP && (flags&pkt.TCPRst != 0 || (flags&pkt.TCPSyn == 0 && !tbl.Knobs.SloppyTCP)) {
		return ReasonNotSYN
	}
	if w.todrop() {
		return ReasonDropPacket
	}
	return 0
}

// pick schedules for the persistent service being handled; a method value
// bound once per worker, so handing it to Templates.Use does not allocate.
func (w *worker) pick() *vs.Dest {
	return w.pickSvc.Scheduler.Schedule(w.pickSvc, w.pickFlow)
}

// checkTemplate is ip_vs_check_template: a template's dest must still be
// in its service, and with expire_quiescent_template not at weight 0. A DR
// dest must also have a known MAC, or nothing could reach it.
func (w *worker) checkTemplate(d *vs.Dest) bool {
	if d.Trashed {
		return false
	}
	if w.quiescentExpire && d.Weight == 0 {
		return false
	}
	if d.Method == vs.Route {
		_, ok := d.State.MAC()
		return ok
	}
	return true
}

// templateKey builds the persistence template key as ip_vs_sched_persist
// does: <proto, client&mask, 0, vaddr, vport> for the service's own port
// (vport 0 for FTP, port 21, so its data connections share it);
// <IPPROTO_IP, client&mask, 0, mark, 0> for a mark service; <proto,
// client&mask, 0, vaddr, 0> for a port-zero service.
func templateKey(svc *vs.Service, ps *pkt.Parsed) conntrack.TemplateKey {
	k := conntrack.TemplateKey{Proto: ps.Proto, Src: maskAddr(ps.Src, svc.Netmask), Dst: ps.Dst}
	switch {
	case ps.DstPort == svc.Port:
		if svc.Port != ftpPort {
			k.DstPort = ps.DstPort
		}
	case svc.FwMark != 0:
		k.Proto = 0
		m := svc.FwMark
		k.Dst = [4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
	}
	return k
}

// ftpPort is the FTP control port: a port-21 service's template has
// vport 0 (ip_vs_sched_persist).
const ftpPort = 21

// maskAddr keeps the first bits bits of a.
func maskAddr(a [4]byte, bits int) [4]byte {
	if bits >= 32 || bits < 0 {
		return a
	}
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v &^= 1<<(32-bits) - 1
	return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// forward counts the packet and rewrites it for d's method.
func (w *worker) forward(p *packet, frame []byte, tbl *vs.Table, svc *vs.Service, d *vs.Dest, c *conntrack.Conn) bool {
	ps := &w.parsed
	if svc != nil {
		w.stats.inService(svc.Stats, ps.IPLen)
	}
	w.stats.inDest(d.State, ps.IPLen)
	// Forwarding spends a hop, in every method: __ip_vs_get_out_rt calls
	// decrement_ttl for any dest that is not local (Linux 5.0 on).
	ip := pkt.IPv4(frame[ps.L3Off:])
	if ip.TTL() <= 1 {
		return w.drop(ReasonTTL)
	}
	ip.DecTTL()
	if d.Method == vs.Tunnel {
		return w.tunnel(p, frame, d, tbl)
	}
	if d.Method != vs.Route && d.Method != vs.Masq && d.Method != vs.FullNAT {
		return w.drop(ReasonUnsupported)
	}
	mac, ok := d.State.MAC()
	if !ok {
		return w.drop(ReasonNoNeighbour)
	}
	out := d.Iface
	if out < 0 || out >= len(w.links) {
		out = int(p.in)
	}
	if w.tooBig(p, frame, out) {
		return false
	}
	if d.Method != vs.Route {
		// NAT: the destination becomes the real server; FULLNAT: the
		// source also becomes the connection's local address and port.
		o := w.offload(p)
		if d.Method == vs.FullNAT {
			if c == nil {
				return w.drop(ReasonUnsupported) // one-packet FULLNAT has no local port
			}
			rk := w.ct.Out(c)
			forward.SNAT(frame, ps, &o, rk.Dst, rk.DstPort)
		}
		forward.DNAT(frame, ps, &o, d.Addr.As4(), destPort(d, ps))
		w.setOffload(p, &o)
	}
	forward.DR(frame, mac, w.macs[out]) // every method here rewrites the MACs
	p.out = uint8(out)
	p.vnet().forTX()
	return w.sendFitting(p, frame)
}

// tooBig is the MTU check the kernel's transmitters make before they
// rewrite a packet (ip_vs_nat_xmit and the others, through
// ensure_mtu_is_adequate; ip_forward for a GSO packet, by its segment
// size): a DF packet longer than link out's MTU (for a GSO super-frame,
// one of its segments) is answered with fragmentation needed, built from
// the packet as it arrived so that its sender recognises it, and ends
// there (counted in frag_needed). It reports whether it did. It runs on
// every forwarded frame before any rewrite, so an MTU lowered under a
// running connection reaches its sender at the next segment.
func (w *worker) tooBig(p *packet, frame []byte, out int) bool {
	ps := &w.parsed
	mtu := w.mtus[out]
	if ps.IPLen <= mtu {
		return false
	}
	o := w.offload(p)
	if !forward.NeedsFragNeeded(frame, ps, &o, mtu) {
		return false
	}
	w.c.fragNeeded.Add(1)
	w.icmpFragNeeded(p, frame, mtu)
	return true
}

// sendFitting queues p on its egress link, fragmenting it first when it is
// longer than the link's MTU: the kernel hands the director reassembled
// fragments (PACKET_FANOUT_FLAG_DEFRAG, as ip_vs does with its own
// defragmentation), which must leave as fragments again. A DF packet too
// big gets fragmentation needed instead.
func (w *worker) sendFitting(p *packet, frame []byte) bool {
	ps := &w.parsed
	mtu := w.mtus[p.out]
	if ps.IPLen <= mtu {
		w.c.forwarded.Add(1)
		return w.transmit(p)
	}
	if p.vnet().gsoType() != vnetGSONone {
		w.c.forwarded.Add(1)
		return w.transmit(p)
	}
	o := w.offload(p)
	if forward.NeedsFragNeeded(frame, ps, &o, mtu) {
		w.c.fragNeeded.Add(1)
		w.icmpFragNeeded(p, frame, mtu)
		return false
	}
	if len(w.scr.free()) < scratchFrames/2 {
		w.flushTX()
	}
	n, err := forward.FragmentIPv4(w.scr.free(), w.scr.sizes, scratchHeadroom+vnetHdrLen, frame, ps, &o, mtu)
	if err != nil || n == 0 {
		return w.drop(ReasonSplit)
	}
	pieces := w.scr.take(n, w.scr.sizes, p.in)
	for i := range pieces {
		pieces[i].out = p.out
		w.c.forwarded.Add(1)
		w.transmit(&pieces[i])
	}
	w.c.split.Add(1)
	return false
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

// expireNodest is ip_vs_expire_nodest_conn_flush for the worker's table:
// when the engine's table changes and expire_nodest_conn is set, the
// connections of real servers no longer in their service are expired at
// once (the kernel queues this when a dest is deleted), so their clients'
// next segments are answered with a reset instead of vanishing.
func (w *worker) expireNodest(tbl *vs.Table) {
	w.nodestTbl = tbl
	if tbl == nil || !tbl.Knobs.ExpireNodestConn {
		return
	}
	n := w.ct.ExpireNodest(tbl)
	if w.ct6 != nil {
		n += w.ct6.ExpireNodest(tbl) // conntrack/nodest6.go
	}
	if n > 0 {
		w.c.nodestExpired.Add(uint64(n))
	}
}

// resetNoConn answers a TCP segment to a service that belongs to no
// connection and opens none with a reset, as the kernel director's own
// TCP stack does (ip_vs_in lets such a packet through to the local stack,
// which owns the VIP there and has no socket for it: tcp_v4_send_reset).
// Here the kernel does not own the VIP, so ulvs answers, with
// expire_nodest_conn set: the connections of a removed real server are
// expired without a trace (ip_vs_expire_nodest_conn_flush), and their
// clients learn it at their next segment instead of retransmitting until
// they give up. Without it ulvs stays silent, as before: a connection
// whose sync entry reaches a new master late then carries on once it
// arrives, where a reset would end it. A segment with RST is never
// answered.
func (w *worker) resetNoConn(p *packet, frame []byte) {
	ps := &w.parsed
	if ps.TCPFlags&pkt.TCPRst != 0 {
		return
	}
	t := pkt.TCP(frame[ps.L4Off:])
	seq, ack, flags := rstFor(ps.TCPFlags, t.Seq(), t.Ack(), ps.L4Len-t.DataOffset()) // engine/nodest6.go
	q, buf := w.proxyBuffer(p.in)
	l := synproxy.Build(buf[pkt.EtherHeaderLen:], ps.Dst, ps.Src, ps.DstPort, ps.SrcPort, seq, ack, flags, 0, nil, w.nextIPID())
	q.status, q.vlanTCI, q.vlanTP = p.status&(tpStatusVLANValid|tpStatusVLANTPIDValid), p.vlanTCI, p.vlanTP
	w.proxySend(q, buf, l, pkt.Ether(frame).Src(), p.in)
	w.c.rstSent.Add(1)
}
