package engine

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sort"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

// fragTable6 is an IPv6 table for the reassembly tests: UDP [vip6]:53 DR
// to rs1v6, UDP [vip6]:5353 NAT66 to [natRS6]:53.
func fragTable6(t testing.TB) *vs.Table {
	t.Helper()
	mk := func(id uint32, port uint16, d *vs.Dest) *vs.Service {
		d.State = &vs.DestState{}
		svc := &vs.Service{ID: id, Proto: vs.UDP, Addr: vip6, Port: port, Netmask: 128, Stats: &vs.ServiceStats{}, Dests: []*vs.Dest{d}}
		sc, err := sched.New("rr", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		return svc
	}
	dr := mk(1, 53, &vs.Dest{ID: 1, Addr: rs1v6, Port: 53, Method: vs.Route, Weight: 1})
	nat := mk(2, 5353, &vs.Dest{ID: 2, Addr: natRS6, Port: 53, Method: vs.Masq, Weight: 1})
	dr.Dests[0].State.SetMAC(rs1MAC)
	nat.Dests[0].State.SetMAC(natMAC)
	return vs.NewTable(1, []*vs.Service{dr, nat}, nil)
}

// bigUDP6 is a UDP datagram from the client to [vip6]:dport with n bytes
// of patterned payload.
func bigUDP6(sport, dport uint16, n int) []byte {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i*7 + i>>8)
	}
	return pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP,
		SrcPort: sport, DstPort: dport, Payload: payload}.Build()
}

// joinFragments checks that out are fragments of one datagram (the same
// identification, each at most max bytes of IPv6 packet, offsets
// covering the payload once, M on all but the last) and returns the
// datagram they make, decoded (its checksum checked by decoded6).
func joinFragments(t *testing.T, out [][]byte, id uint32, max int) ([]byte, *pkt.Parsed6) {
	t.Helper()
	type piece struct {
		off  int
		more bool
		data []byte
	}
	var ps []piece
	for i, f := range out {
		ip := pkt.IPv6(f[14:])
		if ip.NextHeader() != pkt.ProtoFragment {
			t.Fatalf("output %d is not a fragment (next header %d)", i, ip.NextHeader())
		}
		if l := 40 + int(ip.PayloadLen()); l > max || 14+l != len(f) {
			t.Errorf("fragment %d: %d bytes of IPv6 (frame %d), want at most %d", i, l, len(f), max)
		}
		fh := pkt.Frag6(f[54:])
		if fh.ID() != id {
			t.Errorf("fragment %d: identification %#x, want %#x", i, fh.ID(), id)
		}
		ps = append(ps, piece{fh.Offset(), fh.More(), f[62:]})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].off < ps[j].off })
	var data []byte
	for i, p := range ps {
		if p.off != len(data) {
			t.Fatalf("fragment at %d, want %d", p.off, len(data))
		}
		if p.more != (i < len(ps)-1) {
			t.Errorf("fragment at %d: M %v", p.off, p.more)
		}
		if p.more && len(p.data)%8 != 0 {
			t.Errorf("fragment at %d: %d bytes, not a multiple of 8", p.off, len(p.data))
		}
		data = append(data, p.data...)
	}
	first := out[0]
	whole := append(append([]byte(nil), first[:54]...), data...)
	pkt.IPv6(whole[14:]).SetPayloadLen(uint16(len(data)))
	whole[14+6] = pkt.Frag6(first[54:]).NextHeader()
	return whole, decoded6(t, whole)
}

func TestIPv6Reassembly(t *testing.T) {
	full := bigUDP6(5000, 53, 3000)
	frags := pkttest.Fragments6(full, 0xabcd0001, 1232, 2464) // 1280-byte fragments, as a 1280 link sends
	orders := map[string][]int{"in order": {0, 1, 2}, "out of order": {2, 0, 1}, "last first": {2, 1, 0}}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			tbl := fragTable6(t)
			w, l := newTestWorker()
			var out [][]byte
			for i, k := range order {
				out = run(w, l, tbl, 0, frags[k])
				if i < len(order)-1 && len(out) != 0 {
					t.Fatalf("fragment %d sent before the datagram was complete", k)
				}
			}
			if len(out) != 3 {
				t.Fatalf("%d frames out, want 3 fragments", len(out))
			}
			for _, f := range out {
				if pkt.Ether(f).Dst() != rs1MAC || pkt.IPv6(f[14:]).HopLimit() != 63 {
					t.Errorf("fragment to %x hop limit %d", pkt.Ether(f).Dst(), pkt.IPv6(f[14:]).HopLimit())
				}
			}
			whole, p := joinFragments(t, out, 0xabcd0001, 1280)
			want := append([]byte(nil), full...)
			want[14+7]-- // the hop spent
			copy(want[:12], whole[:12])
			if !bytes.Equal(whole, want) || p.SrcPort != 5000 || p.DstPort != 53 {
				t.Errorf("the real server gets a datagram that differs from the client's")
			}
			if w.c.frag6Queued.Load() != 2 || w.c.frag6Reassembled.Load() != 1 || w.c.forwarded.Load() != 3 || w.c.split.Load() != 1 {
				t.Errorf("queued %d reassembled %d forwarded %d split %d", w.c.frag6Queued.Load(), w.c.frag6Reassembled.Load(), w.c.forwarded.Load(), w.c.split.Load())
			}
			if w.ct6.Len() != 1 {
				t.Errorf("%d connections, want 1", w.ct6.Len())
			}
			for i := range w.frag6.slots {
				if w.frag6.slots[i].used {
					t.Errorf("slot %d still used after the datagram went", i)
				}
			}
		})
	}
}

func TestIPv6ReassemblyNAT66(t *testing.T) {
	tbl := fragTable6(t)
	w, l := newTestWorker()
	full := bigUDP6(5000, 5353, 4000)
	// Fragments of 1000 bytes: the datagram leaves in fragments no
	// larger, though the egress MTU (1500) would take more.
	frags := pkttest.Fragments6(full, 7, 952, 1904, 2856, 3808)
	var out [][]byte
	for _, k := range []int{4, 1, 3, 0, 2} {
		out = run(w, l, tbl, 0, frags[k])
	}
	if len(out) != 5 {
		t.Fatalf("%d frames out, want 5", len(out))
	}
	_, p := joinFragments(t, out, 7, 1000)
	if p.Dst != natRS6.As16() || p.DstPort != 53 || p.Src != client6.As16() || p.SrcPort != 5000 || pkt.Ether(out[0]).Dst() != natMAC {
		t.Errorf("NAT66 datagram to %v port %d from %v port %d", netip.AddrFrom16(p.Dst), p.DstPort, netip.AddrFrom16(p.Src), p.SrcPort)
	}
	// The reply comes back fragmented too (from the real server to the
	// client): reassembled, translated back, fragmented again.
	reply := pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoUDP,
		SrcPort: 53, DstPort: 5000, Payload: make([]byte, 2000)}.Build()
	rf := pkttest.Fragments6(reply, 99, 1448)
	run(w, l, tbl, 0, rf[1])
	out = run(w, l, tbl, 0, rf[0])
	if len(out) != 2 {
		t.Fatalf("reply: %d frames out, want 2", len(out))
	}
	_, p = joinFragments(t, out, 99, 1500)
	if p.Src != vip6.As16() || p.SrcPort != 5353 || p.Dst != client6.As16() || pkt.Ether(out[0]).Dst() != clientMAC {
		t.Errorf("NAT66 reply from %v port %d to %v", netip.AddrFrom16(p.Src), p.SrcPort, netip.AddrFrom16(p.Dst))
	}
}

func TestIPv6ReassemblyDrops(t *testing.T) {
	full := bigUDP6(5000, 53, 3000)
	frag := func(id uint32, off, end int, more bool) []byte { return pkttest.Fragment6(full, id, off, end, more) }
	t.Run("overlap", func(t *testing.T) {
		tbl := fragTable6(t)
		w, l := newTestWorker()
		// 0-1232 then 1224-2464 overlaps by 8 bytes: the datagram is
		// discarded, and its remaining fragments with it (RFC 5722).
		out := run(w, l, tbl, 0, frag(1, 0, 1232, true), frag(1, 1224, 2464, true), frag(1, 2464, 3008, false), frag(1, 1232, 2464, true))
		if len(out) != 0 {
			t.Fatalf("%d frames out of an overlapping set", len(out))
		}
		if got := w.c.drops[ReasonFrag6Overlap].Load(); got != 3 {
			t.Errorf("ipv6_frag_overlap %d, want 3", got)
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		tbl := fragTable6(t)
		w, l := newTestWorker()
		f := pkttest.Fragments6(full, 2, 1232, 2464)
		out := run(w, l, tbl, 0, f[0], f[0], f[1], f[1], f[2])
		if len(out) != 3 {
			t.Fatalf("%d frames out, want the datagram in 3", len(out))
		}
		joinFragments(t, out, 2, 1280)
		if got := w.c.drops[ReasonFrag6Dup].Load(); got != 2 {
			t.Errorf("ipv6_frag_duplicate %d, want 2", got)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		tbl := fragTable6(t)
		w, l := newTestWorker()
		f := pkttest.Fragments6(full, 3, 1232, 2464)
		run(w, l, tbl, 0, f[0], f[1])
		// 60 s later the datagram is gone: the last fragment starts a
		// new one that never completes.
		if out := run(w, l, tbl, 60_000, f[2]); len(out) != 0 {
			t.Fatalf("completed after the timeout")
		}
		if got := w.c.frag6Timeouts.Load(); got != 1 {
			t.Errorf("ipv6_reasm_timeouts %d, want 1", got)
		}
		// Within the timeout it would have completed.
		run(w, l, tbl, 60_000, f[0])
		if out := run(w, l, tbl, 119_999, f[1]); len(out) != 3 {
			t.Errorf("%d frames out 59.999 s after the first fragment, want 3", len(out))
		}
	})
	t.Run("pool full", func(t *testing.T) {
		tbl := fragTable6(t)
		w, l := newTestWorker()
		for id := range uint32(frag6Slots) {
			run(w, l, tbl, 0, frag(100+id, 0, 1232, true))
		}
		run(w, l, tbl, 0, frag(999, 0, 1232, true))
		if got := w.c.drops[ReasonFrag6Full].Load(); got != 1 {
			t.Errorf("ipv6_frag_full %d, want 1", got)
		}
		// A held datagram still completes.
		run(w, l, tbl, 0, frag(100, 1232, 2464, true))
		out := run(w, l, tbl, 0, frag(100, 2464, 3008, false))
		if len(out) != 3 {
			t.Errorf("%d frames out for a datagram in the full pool, want 3", len(out))
		}
	})
	t.Run("too many fragments", func(t *testing.T) {
		tbl := fragTable6(t)
		w, l := newTestWorker()
		for i := range frag6MaxFrags + 1 {
			run(w, l, tbl, 0, frag(5, i*8, i*8+8, true))
		}
		if got := w.c.drops[ReasonFrag6Full].Load(); got != 1 {
			t.Errorf("ipv6_frag_full %d, want 1", got)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		tbl := fragTable6(t)
		w, l := newTestWorker()
		run(w, l, tbl, 0,
			frag(6, 0, 1230, true),     // not a multiple of 8
			frag(7, 1232, 2464, false), // the last ...
			frag(7, 2464, 3008, false), // ... and another last
			frag(8, 1232, 2464, false), // the last ...
			frag(8, 2464, 3008, true),  // ... and data beyond it
		)
		if got := w.c.drops[ReasonIPv6Fragment].Load(); got != 3 {
			t.Errorf("ipv6_fragment %d, want 3", got)
		}
		// Datagram 6 took no slot; 7 and 8 are discarded (dead until
		// the timeout).
		for i := range w.frag6.slots {
			if s := &w.frag6.slots[i]; s.used && (s.id == 6 || !s.dead) {
				t.Errorf("slot of datagram %d: dead %v", s.id, s.dead)
			}
		}
	})
	t.Run("not ours", func(t *testing.T) {
		tbl := fragTable6(t)
		w, l := newTestWorker()
		other := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: rs2v6, Proto: pkt.ProtoUDP,
			SrcPort: 1, DstPort: 2, Payload: make([]byte, 100)}.Build()
		run(w, l, tbl, 0, pkttest.Fragment6(other, 1, 0, 56, true))
		if w.c.drops[ReasonNotOurs].Load() != 1 || w.frag6 != nil {
			t.Errorf("a fragment to another address was taken in")
		}
	})
}

// TestIPv6ReassemblyMTU: a datagram whose largest fragment does not fit
// the link to the real server is answered with Packet Too Big, as the
// kernel's __mtu_check_toobig_v6 does with frag_max_size; one whose
// fragments fit leaves in fragments at most the egress MTU.
func TestIPv6ReassemblyMTU(t *testing.T) {
	tbl := fragTable6(t)
	w, l := newTestWorker()
	w.mtus[0] = 1400
	full := bigUDP6(5000, 53, 3000)
	f := pkttest.Fragments6(full, 11, 1448, 2896) // 1496-byte fragments
	out := run(w, l, tbl, 0, f[0], f[1], f[2])
	if len(out) != 1 {
		t.Fatalf("%d frames out, want the Packet Too Big", len(out))
	}
	p := decoded6(t, out[0])
	msg := out[0][p.L4Off:]
	if p.Dst != client6.As16() || msg[0] != pkt.ICMPv6PacketTooBig || binary.BigEndian.Uint32(msg[4:]) != 1400 {
		t.Errorf("answer to %v type %d mtu %d", netip.AddrFrom16(p.Dst), msg[0], binary.BigEndian.Uint32(msg[4:]))
	}
	if w.c.drops[ReasonIPv6TooBig].Load() != 1 {
		t.Errorf("ipv6_too_big %d", w.c.drops[ReasonIPv6TooBig].Load())
	}
	// Fragments of 1280 fit.
	f = pkttest.Fragments6(full, 12, 1232, 2464)
	out = run(w, l, tbl, 0, f[0], f[1], f[2])
	if len(out) != 3 {
		t.Fatalf("%d frames out, want 3", len(out))
	}
	joinFragments(t, out, 12, 1280)
}

// TestIPv6AtomicFragment: an atomic fragment (RFC 6946) is a whole packet,
// forwarded as it came with its fragment header.
func TestIPv6AtomicFragment(t *testing.T) {
	tbl := fragTable6(t)
	w, l := newTestWorker()
	full := bigUDP6(5000, 53, 100)
	atomic := pkttest.Fragment6(full, 42, 0, 108, false)
	out := run(w, l, tbl, 0, atomic)
	if len(out) != 1 {
		t.Fatalf("%d frames out for an atomic fragment, want 1", len(out))
	}
	p := decoded6(t, out[0])
	if pkt.IPv6(out[0][14:]).NextHeader() != pkt.ProtoFragment || p.ExtLen != 8 || p.DstPort != 53 || pkt.Ether(out[0]).Dst() != rs1MAC {
		t.Errorf("atomic fragment out: next header %d ext %d port %d", pkt.IPv6(out[0][14:]).NextHeader(), p.ExtLen, p.DstPort)
	}
	if w.frag6 != nil {
		t.Errorf("an atomic fragment went to reassembly")
	}
}

// TestIPv6ReassemblyAllocs: fragments and the datagram they make, once the
// pool exists, allocate nothing.
func TestIPv6ReassemblyAllocs(t *testing.T) {
	tbl := fragTable6(t)
	w, _ := newTestWorker()
	for name, full := range map[string][]byte{"DR": bigUDP6(5000, 53, 3000), "NAT66": bigUDP6(5001, 5353, 3000)} {
		frags := pkttest.Fragments6(full, 77, 1232, 2464)
		pkts := make([]packet, len(frags))
		for i, f := range frags {
			pkts[i] = packet{buf: make([]byte, 256+len(f)), off: 256, n: len(f)}
		}
		feed := func() int {
			w.tx = w.tx[:0]
			for i, f := range frags {
				copy(pkts[i].buf[256:], f)
				w.process(&pkts[i], tbl, 1)
			}
			n := len(w.tx)
			w.tx = w.tx[:0] // what flushTX does, without the test link's copies
			w.scr.reset()
			w.frag6.release()
			return n
		}
		if n := feed(); n != 3 {
			t.Fatalf("%s: %d fragments out, want 3", name, n)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if n := feed(); n != 3 {
				t.Fatalf("%s: %d fragments out, want 3", name, n)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per datagram, want 0", name, allocs)
		}
	}
}

// TestIPv6ReplyTooBig: a NAT66 reply too big for the client's link is
// answered to the real server with Packet Too Big (from the client's
// address, quoting the reply as sent) and dropped; one that fits passes;
// a reassembled reply whose fragments do not fit gets the same answer.
func TestIPv6ReplyTooBig(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	if out := run(w, l, tbl, 0, tcp6(40000, 8080, pkt.TCPSyn)); len(out) != 1 {
		t.Fatalf("SYN: %d frames out", len(out))
	}
	w.mtus[0] = 1400
	reply := func(n int) []byte {
		return pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoTCP,
			SrcPort: 80, DstPort: 40000, TCPFlags: pkt.TCPAck, Payload: make([]byte, n)}.Build()
	}
	big := reply(1400)
	out := run(w, l, tbl, 0, big)
	if len(out) != 1 {
		t.Fatalf("%d frames out for a reply too big, want the Packet Too Big", len(out))
	}
	f := out[0]
	p := decoded6(t, f)
	msg := f[p.L4Off : p.L4Off+p.L4Len]
	if p.Src != client6.As16() || p.Dst != natRS6.As16() || pkt.Ether(f).Dst() != natMAC || pkt.Ether(f).Src() != dirMAC ||
		msg[0] != pkt.ICMPv6PacketTooBig || binary.BigEndian.Uint32(msg[4:]) != 1400 {
		t.Errorf("Packet Too Big %v -> %v (mac %x) type %d mtu %d", netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst), pkt.Ether(f).Dst(), msg[0], binary.BigEndian.Uint32(msg[4:]))
	}
	if want := big[14 : 14+1280-48]; !bytes.Equal(msg[8:], want) {
		t.Errorf("the quote is not the reply as the real server sent it")
	}
	if w.c.drops[ReasonIPv6TooBig].Load() != 1 || w.c.icmpSent.Load() != 1 {
		t.Errorf("ipv6_too_big %d icmp_sent %d", w.c.drops[ReasonIPv6TooBig].Load(), w.c.icmpSent.Load())
	}
	if st := tbl.Service(2).Stats; st.OutPkts.Load() != 0 {
		t.Errorf("a dropped reply counted in the service's out packets")
	}
	if out := run(w, l, tbl, 0, reply(1300)); len(out) != 1 || decoded6(t, out[0]).Src != vip6.As16() {
		t.Fatalf("a reply that fits was not forwarded")
	}
	// A GSO super-frame is judged by its segments: 1440 bytes of
	// payload make 1500-byte segments, too big for 1400.
	vnet := make([]byte, vnetHdrLen)
	vnetHdr(vnet).setGSO(vnetGSOTCPv6, 1440)
	l.queueVnet(vnet, reply(2880))
	w.batch(l.collect(w.rx), tbl, 0)
	if out := l.takeOut(); len(out) != 1 || decoded6(t, out[0]).Dst != natRS6.As16() {
		t.Fatalf("GSO reply with segments too big: %d frames out, want the Packet Too Big", len(out))
	}
	vnetHdr(vnet).setGSO(vnetGSOTCPv6, 1300)
	l.queueVnet(vnet, reply(2600))
	w.batch(l.collect(w.rx), tbl, 0)
	if out := l.takeOut(); len(out) != 1 || decoded6(t, out[0]).Src != vip6.As16() {
		t.Fatalf("GSO reply whose segments fit: not forwarded")
	}
	// Fragments of 1496 bytes from the real server (its link takes
	// them) do not fit the client's 1400.
	rf := pkttest.Fragments6(reply(2500), 5, 1448)
	run(w, l, tbl, 0, rf[0])
	out = run(w, l, tbl, 0, rf[1])
	if len(out) != 1 || decoded6(t, out[0]).Dst != natRS6.As16() {
		t.Fatalf("reassembled reply too big: %d frames out, want the Packet Too Big", len(out))
	}
}

// TestIPv6GSOOverMTU: a client's GSO super-frame whose segments do not fit
// the link to the real server is answered with Packet Too Big, as the
// IPv4 path answers with fragmentation needed (TestGSOOverMTU); one whose
// segments fit is forwarded whole.
func TestIPv6GSOOverMTU(t *testing.T) {
	tbl := testTable6(t)
	w, l := newTestWorker()
	run(w, l, tbl, 0, tcp6(40000, 80, pkt.TCPSyn))
	super := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoTCP,
		SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck, Payload: make([]byte, 3*1440)}.Build()
	send := func(mtu int) [][]byte {
		w.mtus[0] = mtu
		vnet := make([]byte, vnetHdrLen)
		vnetHdr(vnet).setGSO(vnetGSOTCPv6, 1440)
		l.queueVnet(vnet, super)
		w.batch(l.collect(w.rx), tbl, 0)
		return l.takeOut()
	}
	if out := send(1500); len(out) != 1 || pkt.Ether(out[0]).Dst() == clientMAC {
		t.Fatalf("segments that fit: %d frames out, want the super-frame forwarded", len(out))
	}
	out := send(1400)
	if len(out) != 1 {
		t.Fatalf("segments over the MTU: %d frames out, want the Packet Too Big", len(out))
	}
	p := decoded6(t, out[0])
	if msg := out[0][p.L4Off:]; p.Dst != client6.As16() || msg[0] != pkt.ICMPv6PacketTooBig || binary.BigEndian.Uint32(msg[4:]) != 1400 {
		t.Errorf("answer to %v type %d mtu %d", netip.AddrFrom16(p.Dst), msg[0], binary.BigEndian.Uint32(msg[4:]))
	}
}

// TestIPv6ReassemblyExtHeaders: fragments with a hop-by-hop header before
// the fragment header (the unfragmentable part) and a destination-options
// header after it (in the first fragment's data) are reassembled and sent
// on with the same layout: every fragment repeats the hop-by-hop header,
// which names the fragment header; the destination options travel in the
// first fragment.
func TestIPv6ReassemblyExtHeaders(t *testing.T) {
	tbl := fragTable6(t)
	w, l := newTestWorker()
	payload := make([]byte, 2500)
	for i := range payload {
		payload[i] = byte(i)
	}
	full := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53,
		ExtHeaders: []uint8{pkt.ProtoHopByHop, pkt.ProtoDstOpts}, Payload: payload}.Build()
	frags := pkttest.Fragments6(full, 21, 1224)
	run(w, l, tbl, 0, frags[1])
	out := run(w, l, tbl, 0, frags[0])
	if len(out) != 2 {
		t.Fatalf("%d frames out, want 2", len(out))
	}
	largest := max(len(frags[0]), len(frags[1]))
	var data []byte
	for i, f := range out {
		ip := f[14:]
		if ip[6] != pkt.ProtoHopByHop || ip[40] != pkt.ProtoFragment || len(f) > largest {
			t.Errorf("fragment %d: next headers %d, %d, %d bytes", i, ip[6], ip[40], len(f))
		}
		fh := pkt.Frag6(ip[48:])
		if fh.NextHeader() != pkt.ProtoDstOpts || fh.ID() != 21 || fh.Offset() != len(data) {
			t.Errorf("fragment %d: next %d id %d offset %d", i, fh.NextHeader(), fh.ID(), fh.Offset())
		}
		data = append(data, ip[56:]...)
	}
	if !bytes.Equal(data, full[14+48:]) {
		t.Error("the fragmentable part differs from the client's")
	}
}

// TestIPv6ReassemblyHandover: with two workers, worker 0 (where the fanout
// sends every fragment) reassembles and hands the datagram to the worker
// the fanout hash gives its flow, which schedules it, sends it and owns
// the connection; a NAT66 reply fragmented by the real server reaches the
// worker that owns the connection the same way; flows of worker 0 stay.
func TestIPv6ReassemblyHandover(t *testing.T) {
	tbl := fragTable6(t)
	w0, l0 := newTestWorker()
	w1, l1 := newTestWorker()
	boxes := []*frag6Box{{}, {}}
	for i, w := range []*worker{w0, w1} {
		w.index, w.nworkers, w.boxes = i, 2, boxes
	}
	owner := func(port uint16) int { return int(fanoutHash([4]byte(client6.AsSlice()[12:]), port) % 2) }
	port1, port0 := uint16(5000), uint16(5000)
	for owner(port1) != 1 {
		port1++
	}
	for owner(port0) != 0 {
		port0++
	}
	if out := run(w0, l0, tbl, 0, pkttest.Fragments6(bigUDP6(port1, 53, 3000), 1, 1232, 2464)...); len(out) != 0 {
		t.Fatalf("worker 0 sent %d frames of worker 1's datagram", len(out))
	}
	w1.drainFrag6(tbl, 0)
	out := l1.takeOut()
	if len(out) != 3 {
		t.Fatalf("worker 1 sent %d frames, want 3 fragments", len(out))
	}
	joinFragments(t, out, 1, 1280)
	if w1.ct6 == nil || w1.ct6.Len() != 1 || w0.ct6 != nil && w0.ct6.Len() != 0 || w0.c.frag6Lent.Load() != 1 {
		t.Errorf("the connection is not worker 1's alone (lent %d)", w0.c.frag6Lent.Load())
	}
	// NAT66: the request was not fragmented and went to worker 1; the
	// real server's fragmented reply reaches worker 0.
	if out := run(w1, l1, tbl, 0, bigUDP6(port1, 5353, 100)); len(out) != 1 {
		t.Fatalf("NAT66 request: %d frames out", len(out))
	}
	reply := pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoUDP,
		SrcPort: 53, DstPort: port1, Payload: make([]byte, 2000)}.Build()
	if out := run(w0, l0, tbl, 0, pkttest.Fragments6(reply, 2, 1448)...); len(out) != 0 {
		t.Fatalf("worker 0 sent %d frames of worker 1's reply", len(out))
	}
	w1.drainFrag6(tbl, 0)
	out = l1.takeOut()
	if len(out) != 2 {
		t.Fatalf("worker 1 sent %d frames of the reply, want 2", len(out))
	}
	if _, p := joinFragments(t, out, 2, 1500); p.Src != vip6.As16() || p.SrcPort != 5353 || p.Dst != client6.As16() {
		t.Errorf("NAT66 reply from %v port %d", netip.AddrFrom16(p.Src), p.SrcPort)
	}
	// A fragmented ICMPv6 error about that reply (to the VIP, quoting
	// VIP:5353 -> client:port1) is worker 1's too, as the fanout program
	// sends an unfragmented one.
	quoted := pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: port1,
		Payload: make([]byte, 1800)}.Build()
	body := append(make([]byte, 4), quoted[pkt.EtherHeaderLen:]...)
	unreach := pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: netip.MustParseAddr("2001:db8::1"), Dst: vip6,
		Proto: pkt.ProtoICMPv6, ICMPType: 1, ICMPCode: 3, Payload: body}.Build()
	run(w0, l0, tbl, 0, pkttest.Fragments6(unreach, 4, 1232)...)
	if got := w0.c.frag6Lent.Load(); got != 3 {
		t.Errorf("worker 0 lent %d datagrams, want 3 (the ICMPv6 error about worker 1's reply too)", got)
	}
	w1.drainFrag6(tbl, 0)
	l1.takeOut()
	// Worker 0's own flow stays with it; the lent slots came back.
	if out := run(w0, l0, tbl, 0, pkttest.Fragments6(bigUDP6(port0, 53, 3000), 3, 1232, 2464)...); len(out) != 3 {
		t.Fatalf("worker 0's own datagram: %d frames out, want 3", len(out))
	}
	for i := range w0.frag6.slots {
		if s := &w0.frag6.slots[i]; s.used || s.lentOut {
			t.Errorf("slot %d used %v lent %v after every datagram went", i, s.used, s.lentOut)
		}
	}
}
