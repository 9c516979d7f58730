package conntrack

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// Sinks keep benchmark results alive.
var (
	sinkConn *Conn
	sinkInt  int
)

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	vt := newFixture(t)
	var dests Dests = vt
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 1 << 12})
	for i := range 1000 {
		tb.Insert(key(vs.TCP, i), 1, d, 0)
	}
	// The first NAT insert and auxiliary slot make the reply-key index
	// and the side entries, once.
	natOut := func(k Key) Key {
		return Key{Src: [4]byte{10, 0, 1, 11}, Dst: k.Src, SrcPort: 80, DstPort: k.SrcPort, Proto: k.Proto}
	}
	tb.AttachAux(tb.InsertNAT(key(vs.TCP, 4000), natOut(key(vs.TCP, 4000)), 1, d, 0))
	hit, miss := key(vs.TCP, 10), key(vs.TCP, 5000)
	c := tb.Lookup(hit, 0, dests)
	n := 0
	now := Tick(0)
	tests := []struct {
		name string
		fn   func()
	}{
		{"Lookup hit", func() { sinkConn = tb.Lookup(hit, 0, dests) }},
		{"Lookup miss", func() { sinkConn = tb.Lookup(miss, 0, dests) }},
		{"Step TCP", func() { tb.Step(c, Input, TCPAck, 1, d) }},
		{"Insert+Delete", func() {
			n++
			c := tb.Insert(key(vs.TCP, 2000+n%1000), 1, d, 0)
			tb.Delete(c, dests)
		}},
		{"Lookup expiry", func() {
			n++
			k := key(vs.UDP, 3000+n%1000)
			tb.Insert(k, 2, d, now)
			sinkConn = tb.Lookup(k, now+5000, dests)
			now += 10000
		}},
		{"Sweep", func() { sinkInt = tb.Sweep(now, 64, dests) }},
		{"InsertNAT+AttachAux+LookupOut+Delete", func() {
			n++
			k := key(vs.TCP, 6000+n%1000)
			c := tb.InsertNAT(k, natOut(k), 1, d, now)
			tb.AttachAux(c)
			sinkConn = tb.LookupOut(tb.Out(c), now, dests)
			tb.Delete(c, dests)
		}},
	}
	for _, tc := range tests {
		if got := testing.AllocsPerRun(200, tc.fn); got != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tc.name, got)
		}
	}
}

// fill returns a table of 1<<20 slots holding n TCP connections, and their
// keys.
func fill(b *testing.B, n int) (*Table, *vs.Table, []Key) {
	vt := newFixture(b)
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 1 << 20})
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = Key{
			Src:     [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)},
			Dst:     [4]byte{192, 0, 2, 1},
			SrcPort: uint16(32768 + i%28000),
			DstPort: 80,
			Proto:   uint8(vs.TCP),
		}
		c := tb.Insert(keys[i], 1, d, 0)
		if c == nil {
			b.Fatalf("insert %d failed", i)
		}
		tb.Step(c, Input, TCPSyn, 0, d)
		tb.Step(c, Input, TCPAck, 0, d)
	}
	return tb, vt, keys
}

// BenchmarkLookupHit looks up established connections in a table of 1M
// slots at 70% load. Keys are taken in insertion order, which the hash
// scatters over the slots, so every lookup lands on a random cache line.
func BenchmarkLookupHit(b *testing.B) {
	tb, vt, keys := fill(b, 1<<20*7/10)
	var dests Dests = vt
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sinkConn = tb.Lookup(keys[i%len(keys)], 1, dests)
	}
	if sinkConn == nil {
		b.Fatal("miss")
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	tb, vt, keys := fill(b, 1<<20*7/10)
	var dests Dests = vt
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := keys[i%len(keys)]
		k.DstPort = 443
		sinkConn = tb.Lookup(k, 1, dests)
	}
}

func BenchmarkInsertDelete(b *testing.B) {
	tb, vt, keys := fill(b, 1<<20/2)
	var dests Dests = vt
	d := vt.Dest(idRoute)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := keys[i%len(keys)]
		k.DstPort = 443
		c := tb.Insert(k, 1, d, 1)
		tb.Delete(c, dests)
	}
}

func BenchmarkStep(b *testing.B) {
	tb, vt, keys := fill(b, 1024)
	d := vt.Dest(idMasq)
	c := tb.Lookup(keys[0], 1, vt)
	flags := [...]uint8{TCPAck, TCPPsh | TCPAck, TCPFin | TCPAck, TCPSyn}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tb.Step(c, Direction(i&1), flags[i&3], Tick(i), d)
	}
}

// BenchmarkSweep measures a sweep step of 256 slots over a 70% full table
// where nothing is due, the common case.
func BenchmarkSweep(b *testing.B) {
	tb, vt, _ := fill(b, 1<<20*7/10)
	var dests Dests = vt
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sinkInt = tb.Sweep(1, 256, dests)
	}
}
