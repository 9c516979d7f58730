package engine

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
)

// The worker benchmarks run one worker per goroutine, each with its own
// connections, all on the same table, as ulvsd's workers do; run them with
// -cpu 1,2 and compare ns/op (wall time per packet of all workers
// together): with no shared cache lines written per packet, two CPUs take
// half the time per packet of one. They count a batch's service and dest
// counters at the end of each batch of the given size, as Run does.

// BenchmarkWorkersEstablished: established TCP packets of one connection
// per worker, all to the same service and real server (rs2 has weight 0),
// the most counters the workers can share.
func BenchmarkWorkersEstablished(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			tbl := testTable(b, 1, 0)
			var next atomic.Int32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w, l := newTestWorker()
				port := uint16(7000 + next.Add(1))
				run(w, l, tbl, 0, tcpFrame(port, pkt.TCPSyn))
				frame := tcpFrame(port, pkt.TCPAck)
				buf := make([]byte, 256+len(frame))
				p := packet{buf: buf, off: 256, n: len(frame)}
				for i := 1; pb.Next(); i++ {
					copy(buf[256:], frame)
					w.tx = w.tx[:0]
					if !w.process(&p, tbl, 1) {
						panic("not forwarded")
					}
					if i%batch == 0 {
						w.stats.flush()
					}
				}
			})
		})
	}
}

// BenchmarkWorkersNewConn: a new TCP connection per packet (lookup miss,
// schedule, insert), every worker to the same service, each worker's from
// clients of its own.
func BenchmarkWorkersNewConn(b *testing.B) {
	tbl := testTable(b)
	var next atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w, _ := newTestWorker()
		w.ct = conntrack.New(conntrack.Config{Capacity: 1 << 21})
		net := byte(next.Add(1))
		frame := tcpFrame(1, pkt.TCPSyn)
		buf := make([]byte, 256+len(frame))
		p := packet{buf: buf, off: 256, n: len(frame)}
		for i := 1; pb.Next(); i++ {
			copy(buf[256:], frame)
			pkt.IPv4(buf[256+pkt.EtherHeaderLen:]).SetSrc([4]byte{net, byte(i >> 16), byte(i >> 8), byte(i)})
			w.tx = w.tx[:0]
			if !w.process(&p, tbl, 1) {
				panic("SYN not forwarded")
			}
			if i%32 == 0 {
				w.stats.flush()
			}
			if i%(1<<20) == 0 {
				w.ct = conntrack.New(conntrack.Config{Capacity: 1 << 21})
			}
		}
	})
}
