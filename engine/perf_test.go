package engine

import (
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/pkt"
)

// BenchmarkProcessNewConnWarm is BenchmarkProcessNewConn on a table whose
// memory is already resident: half a million connections from other clients
// went in first, so the figure is the new connection's own cost (lookup
// miss, schedule, insert, rewrite) without the page faults of a fresh
// table's first touch.
func BenchmarkProcessNewConnWarm(b *testing.B) {
	tbl := testTable(b)
	w, _ := newTestWorker()
	w.ct = conntrack.New(conntrack.Config{Capacity: 1 << 21})
	frame := tcpFrame(1, pkt.TCPSyn)
	buf := make([]byte, 256+len(frame))
	p := packet{buf: buf, off: 256, n: len(frame)}
	syn := func(a, x, y, z byte) {
		copy(buf[256:], frame)
		pkt.IPv4(buf[256+pkt.EtherHeaderLen:]).SetSrc([4]byte{a, x, y, z})
		w.tx = w.tx[:0]
		sinkForwarded = w.process(&p, tbl, 1)
	}
	for i := 0; i < 1<<19; i++ {
		syn(11, byte(i>>16), byte(i>>8), byte(i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if i == 1<<20 {
			b.Fatal("more iterations than the table holds: use -benchtime up to 1000000x")
		}
		syn(10, byte(i>>16), byte(i>>8), byte(i))
	}
}
