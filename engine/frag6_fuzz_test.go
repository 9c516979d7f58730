package engine

import (
	"bytes"
	"sort"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// FuzzReasm6 feeds a worker sequences of fragments of one UDP datagram
// (two identifications, any offsets, lengths, M flags and arrival times,
// overlaps, duplicates and gaps included) through the whole path:
// nothing may panic, every fragment ends in a counter (queued or one
// verdict), no slot stays held past the flush, and whenever a datagram
// completes and is forwarded the fragments sent carry exactly the
// client's payload.
//
// Each 4-byte op: flags (bit 0 the identification, bit 1 M, bit 2 a
// 20 s step of the clock, bit 3 "to the end of the datagram", bits 4-6
// odd bytes of a last fragment), the offset in 8-byte units (2 bytes),
// the length in 8-byte units.
func FuzzReasm6(f *testing.F) {
	f.Add([]byte{2, 0, 0, 154, 10, 0, 154, 0})                // in order
	f.Add([]byte{10, 0, 154, 0, 2, 0, 0, 154})                // last first
	f.Add([]byte{2, 0, 0, 154, 2, 0, 153, 10, 10, 0, 154, 0}) // overlap
	f.Add([]byte{2, 0, 0, 154, 2, 0, 0, 154, 10, 0, 154, 0})  // duplicate
	f.Add([]byte{2, 0, 0, 154, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 10, 0, 154, 0})
	f.Add([]byte{3, 0, 0, 1, 2, 0, 1, 1, 0x1a, 0, 2, 0})
	tbl := fragTable6(f)
	full := bigUDP6(5000, 53, 2500)
	n := len(full) - pkt.EtherHeaderLen - pkt.IPv6HeaderLen
	payload := full[pkt.EtherHeaderLen+pkt.IPv6HeaderLen:]
	// One worker for all inputs (its pool is made once); each input
	// starts two minutes after the last, when every slot has timed out.
	w, _ := newTestWorker()
	now := conntrack.Tick(1)
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4*200 {
			return
		}
		now += 120_000
		for len(ops) >= 4 {
			flags := ops[0]
			off := (int(ops[1])<<8 | int(ops[2])) * 8 % (n + 8)
			end := off + int(ops[3])*8
			more := flags&2 != 0
			if flags&8 != 0 {
				end = n
			} else if !more {
				end += int(flags>>4) & 7
			}
			ops = ops[4:]
			if flags&4 != 0 {
				now += 20_000
			}
			if end > n || end < off {
				continue
			}
			frame := pkttest.Fragment6(full, uint32(flags&1), off, end, more)
			p := packet{buf: make([]byte, 256+len(frame)), off: 256, n: len(frame)}
			copy(p.buf[256:], frame)
			before, queued, done, tooBig := total(w), w.c.frag6Queued.Load(), w.c.frag6Reassembled.Load(), w.c.drops[ReasonIPv6TooBig].Load()
			w.tx = w.tx[:0]
			w.now = now
			w.process(&p, tbl, now)
			q := w.c.frag6Queued.Load() - queued
			verdicts := total(w) - before - q
			if q+min(verdicts, 1) != 1 {
				t.Fatalf("fragment [%d,%d) more %v: queued %d, %d verdicts", off, end, more, q, verdicts)
			}
			switch {
			case w.c.frag6Reassembled.Load() == done || len(w.tx) == 0:
			case w.c.drops[ReasonIPv6TooBig].Load() > tooBig:
				// The largest fragment does not fit the egress MTU:
				// the answer is a Packet Too Big, nothing else.
				var a pkt.Parsed6
				if f := w.tx[0].frame(); len(w.tx) != 1 || a.Decode6(f, pkt.EtherHeaderLen, false) != pkt.DecodeOK || a.ICMPType != pkt.ICMPv6PacketTooBig {
					t.Fatalf("a datagram too big: %d frames sent, not one Packet Too Big", len(w.tx))
				}
			default:
				got := sentPayload(t, w.tx)
				if !bytes.Equal(got, payload) {
					t.Fatalf("forwarded %d bytes of payload that differ from the client's %d", len(got), len(payload))
				}
			}
			w.tx = w.tx[:0]
			w.scr.reset()
			if w.frag6 != nil {
				w.frag6.release()
				for i := range w.frag6.slots {
					if w.frag6.slots[i].held {
						t.Fatalf("slot %d held after the flush", i)
					}
				}
			}
		}
	})
}

// sentPayload joins the data of the fragments queued in tx by offset, or
// returns the payload of the one whole packet sent (a datagram no larger
// than its largest fragment leaves unfragmented, as ip6_fragment leaves
// it).
func sentPayload(t *testing.T, tx []*packet) []byte {
	if f := tx[0].frame(); len(tx) == 1 && pkt.IPv6(f[pkt.EtherHeaderLen:]).NextHeader() != pkt.ProtoFragment {
		return f[pkt.EtherHeaderLen+pkt.IPv6HeaderLen:]
	}
	type piece struct {
		off  int
		data []byte
	}
	var ps []piece
	for _, q := range tx {
		f := q.frame()
		var p pkt.Parsed6
		if p.Decode6(f, pkt.EtherHeaderLen, false) != pkt.DecodeOK || !p.Frag {
			t.Fatalf("a frame sent is not a fragment")
		}
		fo := pkt.EtherHeaderLen + pkt.IPv6HeaderLen + p.ExtLen
		ps = append(ps, piece{pkt.Frag6(f[fo:]).Offset(), f[fo+pkt.Frag6HeaderLen:]})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].off < ps[j].off })
	var out []byte
	for _, p := range ps {
		if p.off != len(out) {
			t.Fatalf("fragments sent leave a gap or overlap at %d", p.off)
		}
		out = append(out, p.data...)
	}
	return out
}
