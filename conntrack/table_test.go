package conntrack

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/ulvs/ulvs/vs"
)

func TestConnIsPointerFree(t *testing.T) {
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		switch ty.Kind() {
		case reflect.Pointer, reflect.UnsafePointer, reflect.Interface, reflect.Map,
			reflect.Slice, reflect.String, reflect.Chan, reflect.Func:
			t.Errorf("%v holds %v", ty, ty.Kind())
		case reflect.Array:
			walk(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(ty.Field(i).Type)
			}
		}
	}
	walk(reflect.TypeFor[Conn]())
	if s := unsafe.Sizeof(Key{}); s != 14 {
		t.Errorf("Key is %d bytes, want 14", s)
	}
	// 48 since the reply key and the auxiliary slot moved to the side
	// entries (side.go): a million connections in 4/3 M slots take 64
	// MiB (issue 14: 100 MB).
	if s := unsafe.Sizeof(Conn{}); s != 48 {
		t.Errorf("Conn is %d bytes, want 48", s)
	}
	if s := unsafe.Sizeof(sideEntry{}); s != 16 {
		t.Errorf("sideEntry is %d bytes, want 16", s)
	}
	if s := unsafe.Sizeof(outEntry{}); s != 8 {
		t.Errorf("outEntry is %d bytes, want 8", s)
	}
}

func TestNewCapacity(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, DefaultCapacity}, {-5, DefaultCapacity}, {1, 8}, {8, 8}, {9, 9}, {1000, 1000}, {1 << 20, 1 << 20},
		{1<<20 + 1, 1<<20 + 1},
	} {
		if got := New(Config{Capacity: tc.in}).Cap(); got != tc.want {
			t.Errorf("Capacity %d: Cap() = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestOddCapacityChurn: tables whose size is not a power of two (their
// probe sequences wrap at an arbitrary slot) keep every invariant and
// agree with a model through random inserts, NAT inserts, lookups by
// either key, deletes and sweeps, filled to their limit.
func TestOddCapacityChurn(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	for _, capacity := range []int{9, 13, 100, 1001} {
		tb := New(Config{Capacity: capacity})
		rng := rand.New(rand.NewPCG(uint64(capacity), 1))
		model := map[Key]Key{} // key -> reply key
		for step := range 20000 {
			k := key(vs.TCP, rng.IntN(3*capacity))
			out := Key{Src: [4]byte{10, 0, 1, 11}, Dst: k.Src, SrcPort: 80, DstPort: k.SrcPort, Proto: k.Proto}
			switch op := rng.IntN(10); {
			case op < 5:
				c := tb.Lookup(k, 0, vt)
				if _, ok := model[k]; ok != (c != nil) {
					t.Fatalf("cap %d step %d: Lookup(%v) = %v, model has it: %v", capacity, step, k, c, ok)
				}
				if c == nil && tb.Room() > 0 {
					if tb.InsertNAT(k, out, 1, d, 0) == nil {
						t.Fatalf("cap %d step %d: InsertNAT failed with room %d", capacity, step, tb.Room())
					}
					model[k] = out
				}
			case op < 8:
				if c := tb.Lookup(k, 0, vt); c != nil {
					tb.Delete(c, vt)
					delete(model, k)
				}
			default:
				if want, ok := model[k]; ok {
					c := tb.LookupOut(want, 0, vt)
					if c == nil || c.Key != k {
						t.Fatalf("cap %d step %d: LookupOut(%v) = %v, want key %v", capacity, step, want, c, k)
					}
				}
				tb.Sweep(0, 3, vt)
			}
			if step%500 == 0 {
				checkInvariants(t, tb)
			}
		}
		if tb.Len() != len(model) {
			t.Fatalf("cap %d: Len %d, model %d", capacity, tb.Len(), len(model))
		}
		checkInvariants(t, tb)
	}
}

func TestTick(t *testing.T) {
	a := Tick(0xffff_fff0)
	b := a + 0x20 // wrapped past zero
	if !a.Before(b) || b.Before(a) || a.Before(a) {
		t.Error("Before is not wraparound-safe")
	}
	if b.Sub(a) != 0x20 || a.Sub(b) != -0x20 {
		t.Errorf("Sub: %d %d", b.Sub(a), a.Sub(b))
	}
	if a.Add(1500*time.Millisecond) != a+1500 {
		t.Error("Add")
	}
}

func TestInsertLookup(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{})
	k := key(vs.TCP, 1)
	if c := tb.Lookup(k, 0, vt); c != nil {
		t.Fatal("hit in an empty table")
	}
	c := tb.Insert(k, 9, d, 100)
	want := Conn{Key: k, DestID: idMasq, SvcID: 9, State: StateNone, Flags: FlagInactive, Expires: 2100}
	if *c != want {
		t.Errorf("inserted %+v, want %+v", *c, want)
	}
	if got := tb.Lookup(k, 200, vt); got != c {
		t.Errorf("Lookup = %p, want %p", got, c)
	}
	other := k
	other.SrcPort++
	if tb.Lookup(other, 200, vt) != nil {
		t.Error("Lookup of another port hit")
	}
	if tb.Len() != 1 || d.State.Conns.Load() != 1 || countsOf(d) != (counts{0, 1}) {
		t.Errorf("Len %d Conns %d counters %+v", tb.Len(), d.State.Conns.Load(), countsOf(d))
	}
	if got := tb.Insert(k, 9, vt.Dest(idRoute), 300); got != c || got.DestID != idMasq {
		t.Error("a second Insert of a live key did not return the existing entry")
	}
	if d.State.Conns.Load() != 1 || vt.Dest(idRoute).State.Conns.Load() != 0 {
		t.Error("a second Insert of a live key bound a dest")
	}
	for _, bad := range []*vs.Dest{nil, {ID: 0, State: new(vs.DestState)}, {ID: 3}} {
		if tb.Insert(key(vs.TCP, 2), 1, bad, 0) != nil {
			t.Errorf("Insert with dest %+v succeeded", bad)
		}
	}
	checkInvariants(t, tb)
}

func TestLookupExpiry(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 16})
	k := key(vs.TCP, 1)
	now := Tick(0xffff_f000) // deadlines wrap around zero
	c := tb.Insert(k, 1, d, now)
	tb.Step(c, Input, TCPSyn, now, d)
	tb.Step(c, Input, TCPAck, now, d) // ESTABLISHED, 900 s
	p := tb.Insert(key(vs.TCP, 2), 1, d, now)
	if countsOf(d) != (counts{1, 1}) {
		t.Fatalf("counters %+v", countsOf(d))
	}
	deadline := now + 900_000
	if got := tb.Lookup(k, deadline-1, vt); got != c {
		t.Fatal("expired one millisecond early")
	}
	if got := tb.Lookup(k, deadline, vt); got != nil {
		t.Fatal("alive at its deadline")
	}
	if countsOf(d) != (counts{0, 1}) || tb.Len() != 1 {
		t.Errorf("after expiry: counters %+v Len %d", countsOf(d), tb.Len())
	}
	if tb.Lookup(k, deadline, vt) != nil {
		t.Error("second Lookup found the expired entry")
	}
	// The other entry did not move (Lookup keeps pointers valid).
	if p.Key != key(vs.TCP, 2) {
		t.Error("Lookup moved another entry")
	}
	checkInvariants(t, tb)

	// Re-inserting reuses the tombstone.
	used := tb.used
	c2 := tb.Insert(k, 1, d, deadline)
	if c2 == nil || tb.used != used || tb.Len() != 2 {
		t.Errorf("reinsert: %p used %d->%d Len %d", c2, used, tb.used, tb.Len())
	}
	if countsOf(d) != (counts{0, 2}) || d.State.Conns.Load() != 3 {
		t.Errorf("after reinsert: counters %+v Conns %d", countsOf(d), d.State.Conns.Load())
	}
	checkInvariants(t, tb)
}

func TestSweepExpiresEverything(t *testing.T) {
	vt := newFixture(t)
	ids := []uint32{idMasq, idRoute, idTunnel, idFullNAT}
	tb := New(Config{Capacity: 1024})
	seq := []uint8{TCPSyn, TCPAck, TCPPsh | TCPAck, TCPFin | TCPAck, TCPRst}
	const n = 700
	for i := range n {
		proto := vs.TCP
		if i%5 == 0 {
			proto = vs.UDP
		}
		d := vt.Dest(ids[i%len(ids)])
		c := tb.Insert(key(proto, i), 1, d, Tick(i))
		if c == nil {
			t.Fatalf("Insert %d failed", i)
		}
		for _, f := range seq[:i%len(seq)] {
			tb.Step(c, Input, f, Tick(i), d)
		}
	}
	var before counts
	for _, id := range ids {
		c := countsOf(vt.Dest(id))
		before.active += c.active
		before.inact += c.inact
	}
	if before.active+before.inact != n || before.active == 0 || before.inact == 0 {
		t.Fatalf("counters before: %+v", before)
	}
	// Nothing is due yet: a full pass expires nothing.
	if got := tb.Sweep(1000, 2*tb.Cap(), vt); got != 0 {
		t.Fatalf("early sweep expired %d", got)
	}
	// Past every deadline (15 min is the longest), in small steps.
	now := Tick(16 * 60 * 1000)
	total := 0
	for range tb.Cap() / 10 * 2 {
		total += tb.Sweep(now, 10, vt)
		checkInvariantsQuiet(t, tb)
	}
	if total != n || tb.Len() != 0 || tb.used != 0 {
		t.Errorf("expired %d of %d, Len %d used %d", total, n, tb.Len(), tb.used)
	}
	for _, id := range ids {
		if got := countsOf(vt.Dest(id)); got != (counts{}) {
			t.Errorf("dest %d counters %+v after everything expired", id, got)
		}
	}
}

func checkInvariantsQuiet(t *testing.T, tb *Table) {
	t.Helper()
	if !t.Failed() {
		checkInvariants(t, tb)
	}
}

func TestSweepKeepsLiveEntries(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 64})
	var keep []Key
	for i := range 40 {
		k := key(vs.TCP, i)
		c := tb.Insert(k, 1, d, 0) // NONE: 2 s
		if i%2 == 0 {
			tb.Step(c, Input, TCPSyn, 0, d) // SYN_RECV: 60 s
			keep = append(keep, k)
		}
	}
	total := 0
	for range 10 {
		total += tb.Sweep(5000, 16, vt)
	}
	if total != 20 || tb.Len() != 20 {
		t.Fatalf("expired %d, Len %d", total, tb.Len())
	}
	for _, k := range keep {
		if tb.Lookup(k, 5000, vt) == nil {
			t.Errorf("live entry %v lost", k)
		}
	}
	if countsOf(d) != (counts{20, 0}) {
		t.Errorf("counters %+v", countsOf(d))
	}
	checkInvariants(t, tb)
}

func TestSweepRemovesTombstones(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 16})
	for i := range 12 {
		tb.Insert(key(vs.TCP, i), 1, d, 0)
	}
	if tb.Insert(key(vs.TCP, 99), 1, d, 0) != nil {
		t.Fatal("13th insert into 16 slots succeeded")
	}
	for i := range 12 {
		if tb.Lookup(key(vs.TCP, i), 3000, vt) != nil {
			t.Fatal("hit after expiry")
		}
	}
	if tb.Len() != 0 || tb.used != 12 || countsOf(d) != (counts{}) {
		t.Fatalf("Len %d used %d counters %+v", tb.Len(), tb.used, countsOf(d))
	}
	if got := tb.Sweep(3000, 32, vt); got != 0 {
		t.Errorf("Sweep counted %d tombstones as expired", got)
	}
	if tb.used != 0 {
		t.Errorf("used %d after sweeping tombstones", tb.used)
	}
	checkInvariants(t, tb)
}

func TestDestGone(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{})
	tb.Insert(key(vs.TCP, 1), 1, d, 0)
	tb.Insert(key(vs.TCP, 2), 1, d, 0)
	tb.Insert(key(vs.TCP, 3), 1, d, 0)
	empty := vs.NewTable(2, nil, nil)
	if tb.Lookup(key(vs.TCP, 1), 5000, empty) != nil {
		t.Error("hit after expiry")
	}
	if tb.Sweep(5000, tb.Cap(), nil) != 2 {
		t.Error("Sweep with nil Dests")
	}
	if tb.Len() != 0 || countsOf(d) != (counts{0, 3}) {
		t.Errorf("Len %d counters %+v: a gone dest's counters must not move", tb.Len(), countsOf(d))
	}
}

func TestTableFull(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 16})
	var conns []*Conn
	for i := 0; ; i++ {
		c := tb.Insert(key(vs.TCP, i), 1, d, 0)
		if c == nil {
			if i != 12 {
				t.Fatalf("table of 16 slots full after %d inserts, want 12", i)
			}
			break
		}
		conns = append(conns, c)
	}
	if d.State.Conns.Load() != 12 || countsOf(d) != (counts{0, 12}) {
		t.Errorf("a failed Insert counted: Conns %d %+v", d.State.Conns.Load(), countsOf(d))
	}
	tb.Delete(conns[5], vt)
	if tb.Insert(key(vs.TCP, 100), 1, d, 0) == nil {
		t.Error("Insert failed after a Delete")
	}
	checkInvariants(t, tb)
}

func TestDelete(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 32})
	a := tb.Insert(key(vs.TCP, 1), 1, d, 0)
	tb.Step(a, Input, TCPSyn, 0, d)
	tb.Insert(key(vs.TCP, 2), 1, d, 0)
	if countsOf(d) != (counts{1, 1}) {
		t.Fatalf("counters %+v", countsOf(d))
	}
	tb.Delete(a, vt)
	if countsOf(d) != (counts{0, 1}) || tb.Len() != 1 || tb.Lookup(key(vs.TCP, 1), 0, vt) != nil {
		t.Errorf("after Delete: counters %+v Len %d", countsOf(d), tb.Len())
	}
	// Foreign or stale pointers are ignored.
	other := New(Config{Capacity: 32})
	oc := other.Insert(key(vs.TCP, 2), 1, d, 0)
	tb.Delete(oc, vt)
	tb.Delete(&Conn{Key: key(vs.TCP, 2), DestID: idMasq}, vt)
	tb.Delete(nil, vt)
	if tb.Len() != 1 || countsOf(d) != (counts{0, 2}) {
		t.Errorf("foreign Delete changed the table: Len %d counters %+v", tb.Len(), countsOf(d))
	}
	checkInvariants(t, tb)
}

func TestFlushAndRange(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idRoute)
	tb := New(Config{Capacity: 64})
	for i := range 30 {
		c := tb.Insert(key(vs.TCP, i), 1, d, 0)
		if i%3 == 0 {
			tb.Step(c, Input, TCPSyn, 0, d)
		}
	}
	tb.Lookup(key(vs.TCP, 1), 2000, vt) // one tombstone, not listed
	seen := map[Key]bool{}
	tb.Range(func(c *Conn) bool { seen[c.Key] = true; return true })
	if len(seen) != 29 || seen[key(vs.TCP, 1)] {
		t.Errorf("Range saw %d entries", len(seen))
	}
	n := 0
	tb.Range(func(*Conn) bool { n++; return n < 5 })
	if n != 5 {
		t.Errorf("Range went on after false: %d calls", n)
	}
	tb.Flush(vt)
	if tb.Len() != 0 || countsOf(d) != (counts{}) {
		t.Errorf("after Flush: Len %d counters %+v", tb.Len(), countsOf(d))
	}
	checkInvariants(t, tb)
}

func TestOverload(t *testing.T) {
	for _, tc := range []struct {
		name  string
		u, l  uint32
		clear int // connections left when the mark clears
	}{
		{"upper only: clears below 3/4", 4, 0, 2},
		{"lower set", 4, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &vs.Dest{ID: 1, Method: vs.Masq, UThreshold: tc.u, LThreshold: tc.l, State: new(vs.DestState)}
			dests := destMap{1: d}
			tb := New(Config{})
			var conns []*Conn
			for i := range int(tc.u) {
				if d.State.Overloaded.Load() {
					t.Fatalf("overloaded at %d conns", i)
				}
				conns = append(conns, tb.Insert(key(vs.TCP, i), 1, d, 0))
			}
			if !d.State.Overloaded.Load() {
				t.Fatal("not overloaded at the upper threshold")
			}
			for left := int(tc.u) - 1; left >= 0; left-- {
				tb.Delete(tb.Lookup(conns[left].Key, 0, dests), dests)
				if got, want := d.State.Overloaded.Load(), left > tc.clear; got != want {
					t.Errorf("%d conns left: overloaded %v, want %v", left, got, want)
				}
			}
		})
	}
}

type destMap map[uint32]*vs.Dest

func (m destMap) Dest(id uint32) *vs.Dest { return m[id] }

// TestModel runs random inserts, lookups, deletes, steps, clock jumps and
// sweeps against a map model on small tables, where clusters are long and
// backward shifts frequent, checking the structure after every operation.
func TestModel(t *testing.T) {
	for _, capacity := range []int{8, 16, 64} {
		for seed := range uint64(20) {
			runModel(t, capacity, seed)
			if t.Failed() {
				return
			}
		}
	}
}

func runModel(t *testing.T, capacity int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(capacity)))
	vt := newFixture(t)
	ids := []uint32{idMasq, idRoute, idFullNAT}
	tb := New(Config{Capacity: capacity})
	type entry struct {
		dest    uint32
		expires Tick
	}
	model := map[Key]entry{}
	now := Tick(rng.Uint32())
	keyspace := capacity * 2
	for op := range 3000 {
		k := key(vs.TCP, rng.IntN(keyspace))
		switch r := rng.IntN(100); {
		case r < 35: // insert after a lookup miss, as the engine does
			c := tb.Lookup(k, now, vt)
			e, ok := model[k]
			if ok && !now.Before(e.expires) {
				delete(model, k)
				ok = false
			}
			if (c != nil) != ok {
				t.Fatalf("cap %d seed %d op %d: Lookup(%v) = %v, model has %v", capacity, seed, op, k, c, ok)
			}
			if c != nil {
				break
			}
			id := ids[rng.IntN(len(ids))]
			c = tb.Insert(k, 1, vt.Dest(id), now)
			if c == nil {
				if tb.used < tb.maxUsed {
					t.Fatalf("cap %d seed %d op %d: Insert failed with %d/%d used", capacity, seed, op, tb.used, tb.maxUsed)
				}
				break
			}
			model[k] = entry{id, c.Expires}
		case r < 60: // lookup, maybe step
			c := tb.Lookup(k, now, vt)
			e, ok := model[k]
			if ok && !now.Before(e.expires) {
				delete(model, k)
				ok = false
			}
			if (c != nil) != ok {
				t.Fatalf("cap %d seed %d op %d: Lookup(%v) = %v, model has %v", capacity, seed, op, k, c, ok)
			}
			if c == nil {
				break
			}
			if c.DestID != e.dest || c.Key != k {
				t.Fatalf("op %d: entry %+v, model dest %d", op, *c, e.dest)
			}
			tb.Step(c, Direction(rng.IntN(2)), uint8(rng.IntN(32)), now, vt.Dest(c.DestID))
			model[k] = entry{e.dest, c.Expires}
		case r < 75: // delete
			c := tb.Lookup(k, now, vt)
			if e, ok := model[k]; ok && !now.Before(e.expires) {
				delete(model, k)
			}
			if c != nil {
				tb.Delete(c, vt)
				delete(model, k)
			}
		case r < 90: // time passes
			now += Tick(rng.IntN(3000))
		default: // sweep
			tb.Sweep(now, rng.IntN(capacity), vt)
			for mk, e := range model {
				if !now.Before(e.expires) && tb.Lookup(mk, now, vt) == nil {
					delete(model, mk)
				}
			}
		}
		checkInvariants(t, tb)
		// Every live model entry is found, with its deadline.
		for mk, e := range model {
			if !now.Before(e.expires) {
				continue
			}
			c := tb.Lookup(mk, now, vt)
			if c == nil || c.DestID != e.dest || c.Expires != e.expires {
				t.Fatalf("cap %d seed %d op %d: model entry %v %+v, table %+v", capacity, seed, op, mk, e, c)
			}
		}
		if t.Failed() {
			return
		}
	}
	// Expire everything: all counters return to zero.
	now += 16 * 60 * 1000
	tb.Sweep(now, 2*tb.Cap(), vt)
	if tb.Len() != 0 || tb.used != 0 {
		t.Fatalf("cap %d seed %d: Len %d used %d after final sweep", capacity, seed, tb.Len(), tb.used)
	}
	for _, id := range ids {
		if got := countsOf(vt.Dest(id)); got != (counts{}) {
			t.Fatalf("cap %d seed %d: dest %d counters %+v at the end", capacity, seed, id, got)
		}
	}
}

// TestHashSpread fills a table to its limit with keys that differ in one
// field at a time and checks probe sequences stay short.
func TestHashSpread(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	for _, vary := range []string{"port", "addr"} {
		tb := New(Config{Capacity: 1 << 12})
		for i := range tb.maxUsed {
			k := Key{Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{192, 0, 2, 1}, SrcPort: 40000, DstPort: 80, Proto: 6}
			if vary == "port" {
				k.SrcPort = uint16(i)
			} else {
				k.Src = [4]byte{10, 0, byte(i >> 8), byte(i)}
			}
			if tb.Insert(k, 1, d, 0) == nil {
				t.Fatalf("%s: insert %d failed", vary, i)
			}
		}
		probes := 0
		for i := range tb.slots {
			c := &tb.slots[i]
			if c.DestID != 0 {
				probes += int(tb.ring.dist(tb.home(&c.Key), uint32(i))) + 1
			}
		}
		// Linear probing at load 3/4 averages 2.5 probes per hit.
		if avg := float64(probes) / float64(tb.Len()); avg > 4 {
			t.Errorf("%s: %.2f probes per hit", vary, avg)
		}
	}
}

// TestAttachAux: every live connection can hold a distinct auxiliary slot;
// a slot comes free when its connection dies (Delete, expiry, Flush) and
// moves with its entry when Delete shifts entries.
func TestAttachAux(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 8})
	if tb.AuxSlots() != 6 {
		t.Fatalf("AuxSlots = %d, want 6 (3/4 of 8)", tb.AuxSlots())
	}
	seen := map[uint32]Key{}
	for i := range 6 {
		c := tb.Insert(key(vs.TCP, i), 1, d, 0)
		a := tb.AttachAux(c)
		if a == 0 || a > 6 {
			t.Fatalf("conn %d: slot %d", i, a)
		}
		if _, dup := seen[a]; dup {
			t.Fatalf("slot %d given twice", a)
		}
		seen[a] = c.Key
		if tb.AttachAux(c) != a {
			t.Error("AttachAux of a connection with a slot gave another")
		}
	}
	// Deleting one frees its slot; the others keep theirs even if moved.
	c := tb.Lookup(key(vs.TCP, 2), 1, vt)
	freed := c.Aux()
	tb.Delete(c, vt)
	for a, k := range seen {
		if a == freed {
			continue
		}
		if c := tb.Lookup(k, 1, vt); c == nil || c.Aux() != a {
			t.Fatalf("after a delete, %v lost slot %d", k, a)
		}
	}
	c = tb.Insert(key(vs.TCP, 100), 1, d, 0)
	if a := tb.AttachAux(c); a != freed {
		t.Errorf("the freed slot %d was not reused: got %d", freed, a)
	}
	// Expiry frees slots too.
	tb.Sweep(1<<20, 1<<10, vt)
	if tb.Len() != 0 {
		t.Fatalf("%d connections left after expiry", tb.Len())
	}
	got := map[uint32]bool{}
	for i := range 6 {
		c := tb.Insert(key(vs.TCP, 200+i), 1, d, 1<<20)
		got[tb.AttachAux(c)] = true
	}
	if len(got) != 6 || got[0] {
		t.Errorf("slots after expiry: %v", got)
	}
}

// TestTickWrapNAT: a NAT connection whose deadline lies past the 32-bit
// tick's wrap (2^32 ms, ~49.7 days) keeps its millisecond deadline through
// Remaining, LookupOut and Sweep, and its reply key and side entry go when
// it expires.
func TestTickWrapNAT(t *testing.T) {
	vt, d, tb, k, out := natOne(t, vs.UDP)
	now := Tick(1<<32 - 1000) // one second before the wrap
	c := tb.InsertNAT(k, out, 2, d, now)
	tb.Step(c, Input, 0, now, d) // UDP: 300 s
	deadline := now + 300_000
	if deadline > now {
		t.Fatal("the deadline does not wrap")
	}
	if got := c.Remaining(now + 2000); got != 298*time.Second {
		t.Errorf("Remaining after the wrap = %v, want 298s", got)
	}
	if got := tb.LookupOut(out, deadline-1, vt); got != c {
		t.Fatal("LookupOut: expired one millisecond early")
	}
	if tb.Sweep(deadline-1, tb.Cap(), vt) != 0 || tb.Len() != 1 {
		t.Fatal("Sweep expired it one millisecond early")
	}
	if tb.Sweep(deadline, tb.Cap(), vt) != 1 || tb.Len() != 0 {
		t.Fatal("Sweep kept it past its deadline")
	}
	if tb.OutInUse(out) || tb.out.n != 0 || countsOf(d) != (counts{}) {
		t.Errorf("after expiry: reply key in use %v, index %d, counters %+v", tb.OutInUse(out), tb.out.n, countsOf(d))
	}
	checkInvariants(t, tb)
}

// TestInsertNATOverExisting: InsertNAT for the key of a live connection
// without a reply key gives it that key, keeping its auxiliary slot; a
// second InsertNAT changes nothing.
func TestInsertNATOverExisting(t *testing.T) {
	vt, d, tb, k, out := natOne(t, vs.TCP)
	c := tb.Insert(k, 1, d, 0)
	a := tb.AttachAux(c)
	if got := tb.InsertNAT(k, out, 1, d, 0); got != c {
		t.Fatalf("InsertNAT over a live connection = %v, want it", got)
	}
	if tb.LookupOut(out, 0, vt) != c || tb.Out(c) != out || c.Aux() != a {
		t.Errorf("reply key %v (want %v), aux %d (want %d)", tb.Out(c), out, c.Aux(), a)
	}
	other := out
	other.DstPort++
	if tb.InsertNAT(k, other, 1, d, 0) != c || tb.Out(c) != out || tb.OutInUse(other) {
		t.Error("a second InsertNAT changed the reply key")
	}
	checkInvariants(t, tb)
}

// natOne returns the fixture, its NAT dest, an empty 16-slot table, a
// client key of proto and the reply key a NAT connection for it has.
func natOne(t *testing.T, proto vs.Protocol) (*vs.Table, *vs.Dest, *Table, Key, Key) {
	vt := newFixture(t)
	k := key(proto, 1)
	out := Key{Src: [4]byte{10, 0, 1, 11}, Dst: k.Src, SrcPort: 80, DstPort: k.SrcPort, Proto: k.Proto}
	return vt, vt.Dest(idMasq), New(Config{Capacity: 16}), k, out
}
