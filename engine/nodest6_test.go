package engine

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

// TestIPv6ExpireNodestConn is TestExpireNodestConn for IPv6: once a real
// server leaves its service, with expire_nodest_conn its connections are
// expired (at the table change, or at their next packet), a SYN on their
// ports is scheduled again and another segment is answered with a reset
// from the VIP; without it their packets are dropped (dest_gone) and the
// connections kept.
func TestIPv6ExpireNodestConn(t *testing.T) {
	for _, expire := range []bool{false, true} {
		tbl := testTable6(t)
		w, l := newTestWorker()
		on := map[[6]byte][]uint16{}
		for port := uint16(8000); port < 8006; port++ {
			out := run(w, l, tbl, 0, tcp6(port, 80, pkt.TCPSyn))
			if len(out) != 1 {
				t.Fatalf("SYN %d: %d frames out", port, len(out))
			}
			on[pkt.Ether(out[0]).Dst()] = append(on[pkt.Ether(out[0]).Dst()], port)
		}
		// rs2 (dest 2) leaves service 1.
		svc := *tbl.Service(1)
		gone := *tbl.Dest(2)
		gone.Trashed = true
		svc.Dests = []*vs.Dest{tbl.Dest(1)}
		sc, err := sched.New("rr", &svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		tbl2 := vs.NewTable(2, []*vs.Service{&svc, tbl.Service(2), tbl.Service(3)}, []*vs.Dest{&gone})
		tbl2.Knobs.ExpireNodestConn = expire

		// The next packet of a connection to rs2, before any flush.
		ack := tcp6(on[rs2MAC][0], 80, pkt.TCPAck)
		binary.BigEndian.PutUint32(ack[14+40+8:], 0x01020304)
		out := run(w, l, tbl2, 0, ack)
		if !expire {
			if len(out) != 0 || w.c.drops[ReasonDestGone].Load() != 1 || w.ct6.Len() != 6 {
				t.Errorf("without expire_nodest_conn: %d frames out, dest_gone %d, %d connections; want a drop, all kept",
					len(out), w.c.drops[ReasonDestGone].Load(), w.ct6.Len())
			}
		} else {
			if len(out) != 1 {
				t.Fatalf("with expire_nodest_conn: %d frames out for an ACK, want the reset", len(out))
			}
			p := decoded6(t, out[0])
			rst := pkt.TCP(out[0][p.L4Off:])
			if p.Src != vip6.As16() || p.Dst != client6.As16() || p.SrcPort != 80 || p.DstPort != on[rs2MAC][0] ||
				rst.Flags() != pkt.TCPRst || rst.Seq() != 0x01020304 || pkt.Ether(out[0]).Dst() != clientMAC {
				t.Errorf("reset %v:%d -> %v:%d flags %#x seq %#x", netip.AddrFrom16(p.Src), p.SrcPort, netip.AddrFrom16(p.Dst), p.DstPort, rst.Flags(), rst.Seq())
			}
			if w.c.rstSent.Load() != 1 || w.c.nodestExpired.Load() != 1 || w.ct6.Len() != 5 {
				t.Errorf("rst_sent %d, expire_nodest_conns %d, %d connections", w.c.rstSent.Load(), w.c.nodestExpired.Load(), w.ct6.Len())
			}
			// A SYN on another of rs2's connections: scheduled again.
			if out := run(w, l, tbl2, 0, tcp6(on[rs2MAC][1], 80, pkt.TCPSyn)); len(out) != 1 || pkt.Ether(out[0]).Dst() != rs1MAC {
				t.Errorf("a SYN on an expired connection's ports was not rescheduled to rs1")
			}
		}
		// The table change flushes the rest of rs2's connections.
		w.expireNodest(tbl2)
		want := 6
		if expire {
			want = 4 // rs1's three and the rescheduled one
		}
		if w.ct6.Len() != want {
			t.Errorf("expire_nodest_conn %v: %d connections after the flush, want %d", expire, w.ct6.Len(), want)
		}
		for _, port := range on[rs1MAC] {
			if out := run(w, l, tbl2, 0, tcp6(port, 80, pkt.TCPAck)); len(out) != 1 || pkt.Ether(out[0]).Dst() != rs1MAC {
				t.Errorf("a connection to rs1 was disturbed")
			}
		}
	}
}
