package engine

import (
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/vs"
)

// FuzzProcess6 feeds arbitrary frames through the IPv6 path (traced or
// not, with or without expire_nodest_conn, GSO types, a lowered MTU):
// DR and NAT66, reassembly, Packet Too Big both ways, resets, the trace
// records. Nothing may panic; every frame ends in a counter (more than
// one only when it left as several: a reassembled datagram's fragments).
func FuzzProcess6(f *testing.F) {
	f.Add(tcp6(1000, 80, pkt.TCPSyn), uint8(0), uint8(0))
	f.Add(tcp6(1000, 8080, pkt.TCPAck), uint8(vnetGSOTCPv6), uint8(1))
	f.Add(pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoTCP,
		SrcPort: 80, DstPort: 1000, TCPFlags: pkt.TCPAck, Payload: make([]byte, 1500)}.Build(), uint8(0), uint8(2))
	f.Add(pkttest.Solicit6(clientMAC, client6, vip6), uint8(0), uint8(0))
	for _, fr := range pkttest.Fragments6(bigUDP6(5000, 53, 3000), 1, 1232, 2464) {
		f.Add(fr, uint8(0), uint8(3))
	}
	tbls := [2]*vs.Table{testTable6(f), testTable6(f)}
	tbls[1].Knobs.ExpireNodestConn = true
	w, _ := newTestWorker()
	wt, _, tr := traceWorker(64)
	f.Fuzz(func(t *testing.T, frame []byte, gso, mode uint8) {
		if len(frame) > 65535 {
			return
		}
		w := w
		if mode&1 != 0 {
			w = wt
		}
		w.mtus[0] = 1500 - 100*int(mode>>1&3)
		tbl := tbls[mode>>3&1]
		p := packet{buf: make([]byte, 256+len(frame)), off: 256, n: len(frame)}
		copy(p.buf[256:], frame)
		p.vnet()[vnetOffGSOType] = gso
		before, split := total(w), w.c.split.Load()
		w.tx = w.tx[:0]
		if w.tr != nil {
			w.processTraced(&p, tbl, 1)
		} else {
			w.process(&p, tbl, 1)
		}
		got := total(w) - before
		if got != 1 && (got == 0 || w.c.split.Load() == split) {
			t.Fatalf("frame ended in %d counters", got)
		}
		w.tx = w.tx[:0]
		w.scr.reset()
		if w.frag6 != nil {
			w.frag6.release()
		}
		if w.tr != nil {
			for _, e := range tr.read(nil) {
				_ = e.Line() // the event renders
			}
		}
	})
}
