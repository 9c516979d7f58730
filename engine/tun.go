package engine

import (
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

// Scratch frames: where a packet must become several (software GSO
// segmentation, IP fragmentation) or the director answers with a frame of
// its own (ICMP errors), the pieces go to per-worker buffers with
// headroom, reused at every batch.
const (
	scratchFrames   = 128
	scratchHeadroom = 64
	scratchSize     = scratchHeadroom + vnetHdrLen + 2048
)

// scratch hands out the worker's scratch buffers for the current batch.
type scratch struct {
	bufs  [][]byte
	pkts  []packet
	used  int
	segs  [][]byte // views for forward.Segment/FragmentIPv4
	sizes []int
}

func newScratch() *scratch {
	s := &scratch{
		bufs:  make([][]byte, scratchFrames),
		pkts:  make([]packet, scratchFrames),
		segs:  make([][]byte, scratchFrames),
		sizes: make([]int, scratchFrames),
	}
	for i := range s.bufs {
		s.bufs[i] = make([]byte, scratchSize)
	}
	return s
}

// reset makes every buffer free again; call it once the batch is sent.
func (s *scratch) reset() { s.used = 0 }

// free returns the buffers not yet used in this batch, as byte slices for
// the splitters (frames start at scratchHeadroom+vnetHdrLen).
func (s *scratch) free() [][]byte {
	n := 0
	for i := s.used; i < len(s.bufs); i++ {
		s.segs[n] = s.bufs[i]
		n++
	}
	return s.segs[:n]
}

// take turns the next n free buffers, each holding a frame of sizes[i]
// bytes at the frame offset, into packets; it returns them.
func (s *scratch) take(n int, sizes []int, in uint8) []packet {
	ps := s.pkts[s.used : s.used+n]
	for i := range ps {
		buf := s.bufs[s.used+i]
		clear(buf[scratchHeadroom : scratchHeadroom+vnetHdrLen]) // complete checksums, no GSO
		ps[i] = packet{buf: buf, off: scratchHeadroom + vnetHdrLen, n: sizes[i], in: in, out: in}
	}
	s.used += n
	return ps
}

// tunnel sends an IPv4 packet to real server d in a tunnel
// (ip_vs_tunnel_xmit, or ip_vs_tunnel_xmit_v6 for an IPv6 real server):
// IPIP, or IPv4 in IPv6 to an IPv6 real server (tun6.go), the outer header
// from the egress interface's address to d, the MTU checked against the
// egress MTU less the outer header (frag-needed to the client for a DF
// packet that does not fit, fragmentation otherwise), GSO super-frames
// segmented in software first since a virtio_net_hdr cannot describe GSO
// inside a tunnel.
func (w *worker) tunnel(p *packet, frame []byte, d *vs.Dest, tbl *vs.Table) bool {
	ps := &w.parsed
	e, r := w.tunnelTo(p, d, tbl)
	if r != 0 {
		return w.drop(r)
	}
	mtu := e.mtu
	o := w.offload(p)
	if forward.NeedsFragNeeded(frame, ps, &o, mtu) {
		w.c.fragNeeded.Add(1)
		w.icmpFragNeeded(p, frame, mtu)
		return false
	}
	if !o.IsGSO() && ps.IPLen <= mtu {
		// The common case: encapsulate in place, in the ring slot.
		var vnet [vnetHdrLen]byte
		copy(vnet[:], p.vnet())
		return w.sendEncapped(p, w.encap4(p.buf, p.off, p.n, ps, &o, &e), &vnet, &o, &e)
	}
	// Split first: GSO segments, or fragments of a non-DF packet. A 64 KiB
	// super-frame makes some 45 segments: send what is queued first when
	// the scratch buffers run short.
	if len(w.scr.free()) < scratchFrames/2 {
		w.flushTX()
	}
	dst := w.scr.free()
	var n int
	var err error
	if o.IsGSO() {
		n, err = forward.Segment(dst, w.scr.sizes, scratchHeadroom+vnetHdrLen, frame, ps, &o)
	} else {
		n, err = forward.FragmentIPv4(dst, w.scr.sizes, scratchHeadroom+vnetHdrLen, frame, ps, &o, mtu)
	}
	if err != nil || n == 0 {
		return w.drop(ReasonSplit)
	}
	pieces := w.scr.take(n, w.scr.sizes, p.in)
	var seg pkt.Parsed
	for i := range pieces {
		q := &pieces[i]
		if seg.Decode(q.frame()) != pkt.DecodeOK {
			w.c.drops[ReasonSplit].Add(1)
			continue
		}
		if seg.IPLen > mtu {
			// A segment still too big (GSOSize above the tunnel MTU)
			// with DF: tell the client the tunnel MTU.
			w.c.fragNeeded.Add(1)
			w.icmpFragNeeded(p, frame, mtu)
			break
		}
		var none forward.Offload
		newOff := w.encap4(q.buf, q.off, q.n, &seg, &none, &e)
		if newOff < vnetHdrLen {
			w.c.drops[ReasonSplit].Add(1)
			continue
		}
		q.n += q.off - newOff
		q.off = newOff
		clear(q.vnet())
		w.finishTunnel(q, e.mac, e.out)
	}
	w.c.split.Add(1)
	return false // the original frame itself is not sent
}

// tunnelEnd is where a tunnel packet to a real server goes: the egress
// link and the next hop's MAC, the MTU left for the inner packet, and the
// outer header's family and addresses.
type tunnelEnd struct {
	out        int
	mac        [6]byte
	mtu        int
	outer6     bool
	src4, dst4 [4]byte
	src6, dst6 [16]byte
}

// tunnelTo finds the tunnel's end towards real server d, as
// __ip_vs_get_out_rt (IPv4 real server: the route's next hop, the MTU
// less 20, at least 68) and __ip_vs_get_out_rt_v6 (IPv6 real server: the
// MTU less 40, at least 1280; the real server on the link of its
// interface, as IPv6 DR and NAT66 reach theirs) do for
// IP_VS_RT_MODE_TUNNEL; a path MTU learnt from a router lowers the MTU.
// It returns the reason to drop when there is none.
func (w *worker) tunnelTo(p *packet, d *vs.Dest, tbl *vs.Table) (e tunnelEnd, r Reason) {
	if d.Addr.Is6() && !d.Addr.Is4In6() {
		return w.tunnelTo6(p, d) // tun6.go
	}
	rip := d.Addr.As4()
	out, hop, ok := tbl.NextHop(rip)
	if !ok || out >= len(w.links) {
		out, hop = d.Iface, rip
		if out < 0 || out >= len(w.links) {
			out = int(p.in)
		}
	}
	var mac [6]byte
	if hop == rip {
		mac, ok = d.State.MAC()
	}
	if !ok {
		if mac, ok = w.neighbour(hop); !ok {
			w.askNeighbour(hop)
			return e, ReasonNoNeighbour
		}
	}
	mtu, ok := forward.TunnelMTU(w.mtus[out])
	if !ok {
		return e, ReasonUnsupported
	}
	if pm := int(d.State.PathMTU.Load()); pm > 0 && pm-forward.IPIPOverhead < mtu {
		mtu = pm - forward.IPIPOverhead // a router on the way reported less
	}
	return tunnelEnd{out: out, mac: mac, mtu: mtu, src4: w.addrs[out], dst4: rip}, 0
}

// encap4 encapsulates the IPv4 packet of buf[off:off+n] (decoded into ps)
// for the tunnel e: IPIP, or IPv4 in IPv6.
func (w *worker) encap4(buf []byte, off, n int, ps *pkt.Parsed, o *forward.Offload, e *tunnelEnd) int {
	if e.outer6 {
		return forward.EncapIn6(buf, off, n, ps.L3Off, ps.IPLen, o, e.src6, e.dst6)
	}
	return forward.EncapIPIP(buf, off, n, ps, o, e.src4, e.dst4, w.nextIPID())
}

// sendEncapped queues p, encapsulated in place to start at newOff (-1:
// refused), with its virtio_net_hdr vnet as it was before the
// encapsulation moved the frame, updated for offload o.
func (w *worker) sendEncapped(p *packet, newOff int, vnet *[vnetHdrLen]byte, o *forward.Offload, e *tunnelEnd) bool {
	if newOff < vnetHdrLen {
		return w.drop(ReasonUnsupported)
	}
	p.n += p.off - newOff
	p.off = newOff
	copy(p.vnet(), vnet[:])
	w.setOffload(p, o)
	p.vnet().forTX()
	w.finishTunnel(p, e.mac, e.out)
	return true
}

// finishTunnel sets the link-layer addresses of an encapsulated frame and
// queues it on link out.
func (w *worker) finishTunnel(p *packet, mac [6]byte, out int) {
	eth := pkt.Ether(p.frame())
	eth.SetDst(mac)
	eth.SetSrc(w.macs[out])
	p.out = uint8(out)
	w.c.forwarded.Add(1)
	w.transmit(p)
}

func (w *worker) nextIPID() uint16 {
	w.ipID++
	return w.ipID
}

// icmpFragNeeded answers the client that sent p with ICMP fragmentation
// needed carrying mtu, from the VIP, on the link p came from.
func (w *worker) icmpFragNeeded(p *packet, frame []byte, mtu int) {
	w.icmpError(p, frame, func(buf []byte) []byte {
		return forward.FragNeeded(buf, frame, &w.parsed, mtu, w.macs[p.in], w.parsed.Dst, w.nextIPID())
	})
}

// icmpPortUnreachable is ip_vs_leave's answer when a service has no real
// server available: ICMP port unreachable from the VIP to the client.
func (w *worker) icmpPortUnreachable(p *packet, frame []byte) {
	if !w.icmpAllowed() {
		return
	}
	w.icmpError(p, frame, func(buf []byte) []byte {
		return forward.PortUnreachable(buf, frame, &w.parsed, w.macs[p.in], w.parsed.Dst, w.nextIPID())
	})
}

// icmpError builds an ICMP error with build into a scratch buffer and
// queues it to go back out of p's link. When the batch has used every
// scratch buffer it sends what is queued first, which frees them (as
// proxyBuffer does): the frame that drew the error already ends in its
// own counter, so running short must not add a second one.
func (w *worker) icmpError(p *packet, frame []byte, build func(buf []byte) []byte) {
	if w.scr.used >= len(w.scr.bufs) {
		w.flushTX()
	}
	buf := w.scr.bufs[w.scr.used]
	msg := build(buf[scratchHeadroom+vnetHdrLen : scratchHeadroom+vnetHdrLen : len(buf)])
	if msg == nil {
		return
	}
	sizes := [1]int{len(msg)}
	q := &w.scr.take(1, sizes[:], p.in)[0]
	w.c.icmpSent.Add(1)
	w.transmit(q)
}

// icmpAllowed is a token bucket for the ICMP errors the worker sends, as
// the kernel rate-limits icmp_send: up to icmpBurst at once, refilled at
// icmpRate per second.
func (w *worker) icmpAllowed() bool {
	const icmpRate, icmpBurst = 1000, 50
	now := w.now
	if elapsed := int64(now.Sub(w.icmpAt)); elapsed > 0 {
		w.icmpTokens += elapsed * icmpRate / 1000
		if w.icmpTokens > icmpBurst {
			w.icmpTokens = icmpBurst
		}
		w.icmpAt = now
	}
	if w.icmpTokens <= 0 {
		return false
	}
	w.icmpTokens--
	return true
}
