package engine

import (
	"sync/atomic"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

// Handing reassembled datagrams to the worker that owns their flow. The
// fanout program sends every IPv6 fragment to worker 0 (it cannot see the
// ports of a later fragment), but the flow's other packets, and the
// connection they make, belong to the worker its hash picks. For IPv4 the
// kernel reassembles before the fanout (PACKET_FANOUT_FLAG_DEFRAG) and
// hashes the whole packet; here worker 0 reassembles, computes the same
// hash as the program (fanoutHash on the client's side: the last 32 bits
// of its address and its port) and, when another worker owns the flow,
// lends it the slot through that worker's frag6Box. The owner runs the
// datagram through its own IPv6 path between batches (drainFrag6), sends
// it, and gives the slot back; worker 0 frees it at its next fragment.
// With one worker, or more than maxFanoutVIPs6 IPv6 VIPs (all IPv6 then
// goes to worker 0), nothing is handed over.

// frag6BoxLen is the room of a worker's inbox; a full inbox leaves the
// datagram with worker 0, which runs it itself (ipv6_reasm_box_full).
const frag6BoxLen = 16

// frag6Box is a worker's inbox of lent slots: worker 0 pushes, the owner
// pops (single producer, single consumer).
type frag6Box struct {
	ring       [frag6BoxLen]atomic.Pointer[frag6Slot]
	head, tail atomic.Uint32
}

func (b *frag6Box) push(s *frag6Slot) bool {
	t := b.tail.Load()
	if t-b.head.Load() == frag6BoxLen {
		return false
	}
	b.ring[t%frag6BoxLen].Store(s)
	b.tail.Store(t + 1)
	return true
}

func (b *frag6Box) pop() *frag6Slot {
	h := b.head.Load()
	if h == b.tail.Load() {
		return nil
	}
	s := b.ring[h%frag6BoxLen].Swap(nil)
	b.head.Store(h + 1)
	return s
}

// frag6Owner returns the worker the fanout program would send the
// reassembled datagram of slot s to, were it one packet.
func (w *worker) frag6Owner(s *frag6Slot, tbl *vs.Table) int {
	if w.nworkers <= 1 || len(w.boxes) != w.nworkers || all6On0(tbl) {
		return w.index
	}
	var ps pkt.Parsed6
	frame := s.pkt.frame()
	if ps.Decode6(frame, s.l3, false) != pkt.DecodeOK || ps.L4Off == 0 {
		return w.index
	}
	var addr [16]byte
	var port uint16
	switch ps.Proto {
	case pkt.ProtoTCP, pkt.ProtoUDP:
		addr, port = ps.Dst, ps.DstPort // a reply: its client is the destination
		if tbl.IsVIP6(ps.Dst) {
			addr, port = ps.Src, ps.SrcPort
		}
	case pkt.ProtoICMPv6:
		// An error goes where the program sends an unfragmented one:
		// to the client of the packet it quotes.
		q, ok := forward.ParseICMPv6Error(frame, &ps)
		if !ok {
			return w.index // neighbour discovery and the rest: worker 0
		}
		addr, port = q.Src, q.SrcPort // it quotes a request from the client
		if tbl.IsVIP6(ps.Dst) {
			addr, port = q.Dst, q.DstPort // it quotes a reply to the client
		}
	default:
		return w.index
	}
	return int(fanoutHash([4]byte(addr[12:]), port) % uint32(w.nworkers))
}

// lend hands the reassembled datagram of slot s to worker owner. It
// reports false when owner's inbox is full.
func (w *worker) lend(s *frag6Slot, owner int) bool {
	s.lent.Store(true)
	s.lentOut = true
	if !w.boxes[owner].push(s) {
		s.lent.Store(false)
		s.lentOut = false
		return false
	}
	return true
}

// drainFrag6 runs the datagrams other workers reassembled for this
// worker's flows through its IPv6 path, sends them, and gives their
// slots back.
func (w *worker) drainFrag6(tbl *vs.Table, now conntrack.Tick) {
	if w.boxes == nil {
		return
	}
	box := w.boxes[w.index]
	var done [frag6BoxLen]*frag6Slot
	n := 0
	for n < len(done) {
		s := box.pop()
		if s == nil {
			break
		}
		done[n] = s
		n++
		l3 := w.parsed.L3Off
		w.parsed.L3Off = s.l3
		w.reasm = s
		w.process6(&s.pkt, s.pkt.frame(), tbl, now)
		w.reasm = nil
		w.parsed.L3Off = l3
	}
	if n == 0 {
		return
	}
	w.flushTX() // the slot's packet may itself be queued (an echo reply)
	for _, s := range done[:n] {
		s.lent.Store(false)
	}
}
