package engine

import (
	"sync/atomic"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

// IPv6 reassembly (issue #17). The kernel director reassembles IPv6
// fragments before IPVS sees them (nf_defrag_ipv6, nf_ct_frag6_gather),
// schedules and rewrites the whole datagram, and sends it fragmented again
// with fragments no larger than the largest it received (frag_max_size,
// ip6_fragment). The fanout's defragmentation flag that gives ulvs the
// kernel's reassembly for IPv4 has no IPv6 counterpart, so a worker
// reassembles here, with the kernel's rules:
//
//   - a fixed pool of frag6Slots datagrams per worker, each with room for
//     the largest IPv6 datagram, allocated once at the worker's first
//     fragment; a fragment that finds no slot is dropped and counted
//     (ipv6_frag_full), as is a datagram of more than frag6MaxFrags
//     fragments;
//   - a datagram not complete 60 s after its first fragment is discarded
//     (ip6frag_time), counted in ipv6_reasm_timeouts, without an ICMP
//     error (nf_defrag sends none);
//   - an overlapping fragment discards its whole datagram, and the rest
//     of its fragments until the timeout (RFC 5722 with errata 3089);
//     an exact duplicate is dropped alone (the kernel's IPFRAG_DUP);
//   - a non-last fragment whose data is not a multiple of 8, a datagram
//     beyond 65535 bytes of payload, or last fragments that disagree
//     discard the datagram (ipv6_fragment);
//   - atomic fragments (offset 0, M clear; RFC 6946) never get here:
//     pkt.Decode6 walks past their header and they are forwarded as they
//     came.
//
// The reassembled datagram carries the first fragment's link-layer header
// and unfragmentable part (RFC 8200 4.5) and no fragment header; it goes
// through the IPv6 path as any packet (process6), so scheduling, NAT66
// rewriting and the checksum update happen once, on the whole. The MTU
// check looks at its largest fragment (__mtu_check_toobig_v6 with
// frag_max_size), and send6 hands it to sendFragments6, which splits it
// again: each fragment at most the largest received and the egress MTU,
// with the identification it came with (the kernel's ip6_fragment picks
// a fresh one; keeping the sender's leaves a DR datagram as it was sent)
// and the same unfragmentable part.
//
// The fanout program sends every IPv6 packet with extension headers to
// worker 0, so all fragments of a datagram meet there; the datagram then
// goes to the worker that owns its flow (frag6box.go).
const (
	frag6Slots    = 32
	frag6MaxFrags = 64
	frag6Timeout  = 60_000 // ms, the kernel's ip6frag_time
	// frag6MaxHdr bounds the link-layer header (VLAN tags included) and
	// the unfragmentable part kept in front of the data.
	frag6MaxL2     = 32
	frag6MaxUnfrag = pkt.IPv6HeaderLen + 512
	frag6DataAt    = scratchHeadroom + vnetHdrLen + frag6MaxL2 + frag6MaxUnfrag
	frag6SlotSize  = frag6DataAt + 0xffff
)

// frag6Slot is one datagram under reassembly.
type frag6Slot struct {
	used bool
	// dead: an overlap discarded the datagram; its other fragments are
	// dropped until the timeout. held: the reassembled packet is queued
	// for transmission as is, so the slot waits for the flush.
	dead, held bool
	src, dst   [16]byte
	id         uint32
	start      conntrack.Tick
	// hdr is the bytes of the first fragment before its fragment header
	// (link layer and unfragmentable part), 0 until it arrives; l3 its
	// link-layer length; next its fragment header's next header.
	hdr, l3 int
	next    uint8
	// total is the fragmentable part's length, -1 until the last
	// fragment; have the bytes received; maxFrag the largest fragment's
	// IPv6 length (frag_max_size).
	total, have, maxFrag int
	n                    int
	ranges               [frag6MaxFrags]struct{ off, end int32 }
	buf                  []byte
	pkt                  packet
	// lent is set while another worker owns the reassembled datagram
	// (frag6box.go), which clears it when done; lentOut is the lending
	// worker's own note that it lent the slot.
	lent    atomic.Bool
	lentOut bool
}

// reasm6 is a worker's reassembly pool.
type reasm6 struct {
	slots    []frag6Slot
	timeouts uint64 // datagrams discarded at the timeout, for the worker's counter
}

func newReasm6() *reasm6 {
	r := &reasm6{slots: make([]frag6Slot, frag6Slots)}
	mem := make([]byte, frag6Slots*frag6SlotSize)
	for i := range r.slots {
		r.slots[i].buf = mem[i*frag6SlotSize : (i+1)*frag6SlotSize : (i+1)*frag6SlotSize]
	}
	return r
}

// reset makes free slot s the first of datagram id from src to dst.
func (s *frag6Slot) reset(src, dst [16]byte, id uint32, now conntrack.Tick) {
	s.used, s.dead, s.held = true, false, false
	s.src, s.dst, s.id, s.start = src, dst, id, now
	s.hdr, s.l3, s.next = 0, 0, 0
	s.total, s.have, s.maxFrag, s.n = -1, 0, 0, 0
	s.pkt = packet{}
}

// free makes slot s free again.
func (s *frag6Slot) free() {
	s.used, s.dead, s.held = false, false, false
}

// discard discards the datagram of slot s: its later fragments are
// dropped until the timeout frees it. A slot its first fragment just took
// is freed at once.
func (s *frag6Slot) discard(fresh bool) {
	if fresh {
		s.free()
		return
	}
	s.dead = true
}

// release frees the slots whose reassembled packets were queued as they
// were, once the TX batch holding them is sent.
func (r *reasm6) release() {
	for i := range r.slots {
		if r.slots[i].held {
			r.slots[i].free()
		}
	}
}

// add takes the fragment in frame, decoded into ps (Frag set). It returns
// the slot of the datagram it completed (done), or a drop reason, or
// neither (queued).
func (r *reasm6) add(p *packet, frame []byte, ps *pkt.Parsed6, now conntrack.Tick) (s *frag6Slot, done bool, why Reason) {
	fo := ps.L3Off + pkt.IPv6HeaderLen + ps.ExtLen
	fh := pkt.Frag6(frame[fo:])
	off, more, id := fh.Offset(), fh.More(), fh.ID()
	data := frame[fo+pkt.Frag6HeaderLen : ps.L3Off+ps.IPLen]
	end := off + len(data)

	var empty *frag6Slot
	fresh := false
	for i := range r.slots {
		c := &r.slots[i]
		if c.lentOut {
			if c.lent.Load() {
				continue // another worker still has it
			}
			c.lentOut = false
			c.free()
		}
		if c.used && !c.held && now.Sub(c.start) >= frag6Timeout {
			r.timeouts++
			c.free()
		}
		if !c.used {
			if empty == nil {
				empty = c
			}
			continue
		}
		if s == nil && c.id == id && c.src == ps.Src && c.dst == ps.Dst && !c.held {
			s = c
		}
	}
	if s == nil {
		if empty == nil {
			return nil, false, ReasonFrag6Full
		}
		s, fresh = empty, true
		s.reset(ps.Src, ps.Dst, id, now)
	}
	if s.dead {
		return nil, false, ReasonFrag6Overlap
	}
	// ip6_frag_queue's checks: the payload limit, 8-byte multiples but
	// for the last, one end.
	if end > 0xffff || (more && (len(data) == 0 || len(data)%8 != 0)) {
		s.discard(fresh)
		return nil, false, ReasonIPv6Fragment
	}
	if !more {
		if s.total >= 0 && end != s.total || s.beyond(end) {
			s.discard(fresh)
			return nil, false, ReasonIPv6Fragment
		}
	} else if s.total >= 0 && end > s.total {
		s.discard(fresh)
		return nil, false, ReasonIPv6Fragment
	}
	for i := range s.ranges[:s.n] {
		g := &s.ranges[i]
		if int(g.off) == off && int(g.end) == end {
			return nil, false, ReasonFrag6Dup
		}
		if off < int(g.end) && int(g.off) < end {
			s.discard(fresh) // RFC 5722 (never fresh: it has fragments)
			return nil, false, ReasonFrag6Overlap
		}
	}
	if s.n == frag6MaxFrags {
		s.discard(fresh)
		return nil, false, ReasonFrag6Full
	}
	if off == 0 {
		// The first fragment: its headers become the datagram's.
		if ps.L3Off > frag6MaxL2 || fo-ps.L3Off > frag6MaxUnfrag {
			s.discard(fresh)
			return nil, false, ReasonUnsupported
		}
		s.hdr, s.l3, s.next = fo, ps.L3Off, fh.NextHeader()
		copy(s.buf[frag6DataAt-fo:], frame[:fo])
	}
	if !more {
		s.total = end
	}
	copy(s.buf[frag6DataAt+off:], data)
	s.ranges[s.n].off, s.ranges[s.n].end = int32(off), int32(end)
	s.n++
	s.have += len(data)
	s.maxFrag = max(s.maxFrag, ps.IPLen)
	if s.hdr == 0 || s.total < 0 || s.have != s.total {
		return nil, false, 0
	}
	// Complete (no overlaps, so the bytes cover it): the first fragment's
	// headers in front of the data, the fragment header taken out.
	start := frag6DataAt - s.hdr
	ip := s.buf[start+s.l3:]
	unfrag := s.hdr - s.l3
	if unfrag-pkt.IPv6HeaderLen+s.total > 0xffff {
		s.discard(fresh)
		return nil, false, ReasonIPv6Fragment
	}
	nh := 6
	for at := pkt.IPv6HeaderLen; at < unfrag; at += (int(ip[at+1]) + 1) * 8 {
		nh = at
	}
	ip[nh] = s.next
	pkt.IPv6(ip).SetPayloadLen(uint16(unfrag - pkt.IPv6HeaderLen + s.total))
	clear(s.buf[start-vnetHdrLen : start])
	s.pkt = packet{buf: s.buf, off: start, n: s.hdr + s.total, in: p.in, out: p.in,
		status: p.status & (tpStatusVLANValid | tpStatusVLANTPIDValid), vlanTCI: p.vlanTCI, vlanTP: p.vlanTP}
	return s, true, 0
}

// beyond reports whether data already received ends after end.
func (s *frag6Slot) beyond(end int) bool {
	for _, g := range s.ranges[:s.n] {
		if int(g.end) > end {
			return true
		}
	}
	return false
}

// fragment6 takes an IPv6 fragment (w.parsed6 with Frag set) to a VIP, or
// possibly of a NAT66 reply, into reassembly; the datagram it completes
// goes through process6 whole.
func (w *worker) fragment6(p *packet, frame []byte, tbl *vs.Table, now conntrack.Tick) bool {
	ps := &w.parsed6
	if w.reasm != nil {
		return w.drop(ReasonIPv6Fragment) // a fragment header inside a reassembled datagram
	}
	if !tbl.IsVIP6(ps.Dst) && (w.ct6 == nil || !w.ct6.HasNAT()) && w.boxes == nil {
		// Not a VIP's, and no NAT66 reply: with several workers the
		// reply's connection may be another's.
		return w.drop(ReasonNotOurs)
	}
	if w.frag6 == nil {
		w.frag6 = newReasm6() // once, at the worker's first fragment
	}
	s, done, why := w.frag6.add(p, frame, ps, now)
	if t := w.frag6.timeouts; t > 0 {
		w.c.frag6Timeouts.Add(t)
		w.frag6.timeouts = 0
	}
	if why != 0 {
		return w.drop(why)
	}
	if !done {
		w.c.frag6Queued.Add(1)
		return false
	}
	w.c.frag6Reassembled.Add(1)
	if owner := w.frag6Owner(s, tbl); owner != w.index { // frag6box.go
		if w.lend(s, owner) {
			w.c.frag6Lent.Add(1)
			return false
		}
		w.c.frag6BoxFull.Add(1)
	}
	q := &s.pkt
	l3 := w.parsed.L3Off
	w.parsed.L3Off = s.l3
	w.reasm = s
	ok := w.process6(q, q.frame(), tbl, now)
	w.reasm = nil
	w.parsed.L3Off = l3
	if ok && len(w.tx) > 0 && w.tx[len(w.tx)-1] == q {
		s.held = true // queued as it is (an echo reply): freed at the flush
	} else {
		s.free()
	}
	return ok
}

// size6 is the size the MTU is checked against: the packet's, or for a
// reassembled datagram its largest fragment's (__mtu_check_toobig_v6).
func (w *worker) size6() int {
	if w.reasm != nil {
		return w.reasm.maxFrag
	}
	return w.parsed6.IPLen
}

// sendFragments6 sends the reassembled datagram p fragmented again, each
// fragment at most the largest received and the egress MTU (checked by
// the caller through size6), with its identification and unfragmentable
// part. It reports false: p itself is not sent.
func (w *worker) sendFragments6(p *packet) bool {
	s := w.reasm
	mtu := min(w.mtus[p.out], s.maxFrag)
	if s.maxFrag > w.mtus[p.out] {
		return w.drop(ReasonIPv6TooBig)
	}
	if len(w.scr.free()) < frag6MaxFrags+1 {
		w.flushTX()
	}
	n, err := forward.FragmentIPv6(w.scr.free(), w.scr.sizes, scratchHeadroom+vnetHdrLen, p.frame(), &w.parsed6, s.hdr-s.l3, s.id, mtu)
	if err != nil || n == 0 {
		return w.drop(ReasonSplit)
	}
	pieces := w.scr.take(n, w.scr.sizes, p.in)
	for i := range pieces {
		q := &pieces[i]
		q.out, q.status, q.vlanTCI, q.vlanTP = p.out, p.status, p.vlanTCI, p.vlanTP
		w.c.forwarded.Add(1)
		w.transmit(q)
	}
	if n > 1 {
		w.c.split.Add(1)
	}
	return false
}
