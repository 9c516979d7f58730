package conntrack

import (
	"testing"
	"time"
	"unsafe"

	"github.com/ulvs/ulvs/vs"
)

func key6(n int) Key6 {
	return Key6{
		Src:     [16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 15: byte(n)},
		Dst:     [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1},
		SrcPort: uint16(1024 + n), DstPort: 80, Proto: uint8(vs.TCP),
	}
}

// TestTable6 runs an IPv6 NAT66 connection through the IPv6 table: the
// same states and dest counters as IPv4, the reply key, expiry by Sweep.
func TestTable6(t *testing.T) {
	tbl := newFixture(t)
	v4 := New(Config{Capacity: 16})
	t6 := NewTable6(v4, 16)
	d := tbl.Dest(idMasq)
	k := key6(1)
	out := Key6{Src: [16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: 11}, Dst: k.Src, SrcPort: 80, DstPort: k.SrcPort, Proto: k.Proto}
	c := t6.InsertNAT(k, out, 1, d, 0)
	if c == nil {
		t.Fatal("InsertNAT: nil")
	}
	if got := countsOf(d); got != (counts{0, 1}) {
		t.Errorf("after insert: %+v, want 1 inactive", got)
	}
	t6.Step(c, Input, TCPSyn, 0, d)
	t6.Step(c, Output, TCPSyn|TCPAck, 1, d)
	t6.Step(c, Input, TCPAck, 2, d)
	if c.State != StateEstablished || countsOf(d) != (counts{1, 0}) {
		t.Errorf("after the handshake: %v %+v, want ESTABLISHED, 1 active", c.State, countsOf(d))
	}
	if t6.LookupOut(out, 3, tbl) != c || t6.Lookup(k, 3, tbl) != c {
		t.Error("lookups do not find the connection")
	}
	if t6.InsertNAT(key6(2), out, 1, d, 3) != nil {
		t.Error("a second connection took a reply key in use")
	}
	if v4.Len() != 0 || t6.Len() != 1 {
		t.Errorf("IPv4 table %d, IPv6 table %d connections; want 0 and 1", v4.Len(), t6.Len())
	}
	// Past the established timeout, Sweep ends it and releases the dest.
	tcp, _, _ := DefaultTimeouts().Get()
	late := Tick(0).Add(time.Duration(tcp+1) * time.Second)
	if n := t6.Sweep(late, 16, tbl); n != 1 || t6.Len() != 0 || countsOf(d) != (counts{0, 0}) {
		t.Errorf("Sweep: %d expired, %d left, %+v", n, t6.Len(), countsOf(d))
	}
	if t6.LookupOut(out, late, tbl) != nil {
		t.Error("the reply key outlived its connection")
	}
	// Full: capacity connections, then nil.
	for i := range 16 {
		if t6.Insert(key6(10+i), 1, d, late) == nil {
			t.Fatalf("Insert %d: nil", i)
		}
	}
	if t6.Insert(key6(99), 1, d, late) != nil {
		t.Error("Insert into a full table succeeded")
	}
	t6.Flush(tbl)
	if t6.Len() != 0 || countsOf(d) != (counts{0, 0}) {
		t.Errorf("Flush left %d, %+v", t6.Len(), countsOf(d))
	}
}

// TestTable6KeepsIPv4Conn checks that IPv6 did not grow the IPv4 entry.
func TestTable6KeepsIPv4Conn(t *testing.T) {
	if s := unsafe.Sizeof(Conn{}); s > 48 {
		t.Errorf("IPv4 Conn is %d bytes", s)
	}
	t.Logf("IPv4 Conn %d bytes, IPv6 Conn6 %d bytes", unsafe.Sizeof(Conn{}), unsafe.Sizeof(Conn6{}))
}

func TestTable6NoAllocs(t *testing.T) {
	tbl := newFixture(t)
	t6 := NewTable6(New(Config{Capacity: 64}), 64)
	d := tbl.Dest(idRoute)
	n := 0
	allocs := testing.AllocsPerRun(200, func() {
		k := key6(n % 32)
		n++
		c := t6.Lookup(k, 0, tbl)
		if c == nil {
			c = t6.Insert(k, 1, d, 0)
		}
		t6.Step(c, Input, TCPSyn, 0, d)
		if n%3 == 0 {
			t6.Delete(c, tbl)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("%v allocations per packet", allocs)
	}
}

// TestTable6Aux: an IPv6 connection's auxiliary slot is its own until it
// is removed; a NAT66 entry with one leaves the IPv4 table's side entries
// alone when it goes; OutInUse follows the reply key.
func TestTable6Aux(t *testing.T) {
	tbl := newFixture(t)
	v4 := New(Config{Capacity: 16})
	t6 := NewTable6(v4, 16)
	d := tbl.Dest(idMasq)
	out := func(n int) Key6 {
		return Key6{Src: [16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: 11}, Dst: key6(n).Src, SrcPort: 80, DstPort: key6(n).SrcPort, Proto: uint8(vs.TCP)}
	}
	a := t6.InsertNAT(key6(1), out(1), 1, d, 0)
	b := t6.InsertNAT(key6(2), out(2), 1, d, 0)
	plain := t6.Insert(key6(3), 1, d, 0)
	if a.Aux() != 0 || plain.Aux() != 0 {
		t.Fatal("a new connection has an auxiliary slot")
	}
	sa, sb := t6.AttachAux(a), t6.AttachAux(b)
	if sa == 0 || sb == 0 || sa == sb || a.Aux() != sa || b.Aux() != sb || int(sa) > t6.Cap() || int(sb) > t6.Cap() {
		t.Fatalf("slots %d %d (Aux %d %d), cap %d", sa, sb, a.Aux(), b.Aux(), t6.Cap())
	}
	if t6.AttachAux(&Conn6{Key6: key6(9)}) != 0 {
		t.Error("a slot for a connection not in the table")
	}
	if !t6.OutInUse(out(1)) || t6.OutInUse(out(5)) {
		t.Error("OutInUse does not follow the reply keys")
	}
	// An IPv4 NAT connection with a side entry of its own.
	k4 := Key{Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 100}, SrcPort: 1000, DstPort: 80, Proto: uint8(vs.TCP)}
	c4 := v4.InsertNAT(k4, Key{Src: [4]byte{10, 1, 0, 11}, Dst: k4.Src, SrcPort: 80, DstPort: 1000, Proto: k4.Proto}, 1, d, 0)
	s4 := v4.AttachAux(c4)
	t6.Delete(a, tbl)
	if t6.OutInUse(out(1)) || c4.Aux() != s4 || v4.AttachAux(c4) != s4 || v4.LookupOut(Key{Src: [4]byte{10, 1, 0, 11}, Dst: k4.Src, SrcPort: 80, DstPort: 1000, Proto: k4.Proto}, 1, tbl) != c4 {
		t.Error("deleting an IPv6 connection with a slot disturbed the IPv4 table or kept its reply key")
	}
	// The freed slot's next connection starts without one.
	n := t6.Insert(key6(4), 1, d, 1)
	if n.Aux() != 0 {
		t.Errorf("a connection in a reused slot has Aux %d", n.Aux())
	}
}
