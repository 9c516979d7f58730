package conntrack

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

func TestTemplates(t *testing.T) {
	a := &vs.Dest{ID: 1, Addr: netip.MustParseAddr("10.0.0.1"), Weight: 1, Method: vs.Masq, State: &vs.DestState{}}
	b := &vs.Dest{ID: 2, Addr: netip.MustParseAddr("10.0.0.2"), Weight: 1, Method: vs.Masq, State: &vs.DestState{}}
	dests := destMap{1: a, 2: b}
	ok := func(*vs.Dest) bool { return true }
	next := a
	picks := 0
	pick := func() *vs.Dest { picks++; return next }
	ts := NewTemplates()
	k := TemplateKey{Src: [4]byte{192, 0, 2, 1}, Dst: [4]byte{10, 0, 0, 100}, DstPort: 80, Proto: 6}

	d, id := ts.Use(k, 1, 60, 0, dests, ok, pick)
	if d != a || id == 0 || picks != 1 || a.State.PersistConns.Load() != 1 {
		t.Fatalf("first Use: dest %v id %d picks %d persist %d", d, id, picks, a.State.PersistConns.Load())
	}
	// A hit does not schedule, and restarts the timer.
	next = b
	if d2, id2 := ts.Use(k, 1, 60, 50_000, dests, ok, pick); d2 != a || id2 != id || picks != 1 {
		t.Fatalf("hit: dest %v id %d picks %d", d2, id2, picks)
	}
	// Controlled by two connections: the timer re-arms instead of expiring.
	if n := ts.Sweep(200_000, dests); n != 0 || ts.Len() != 1 {
		t.Fatalf("template with controlled connections expired")
	}
	ts.Release(id)
	ts.Release(id)
	ts.Release(id) // extra releases are ignored
	if n := ts.Sweep(200_000+59_000, dests); n != 0 {
		t.Fatalf("template expired before its re-armed timeout")
	}
	if n := ts.Sweep(200_000+60_000, dests); n != 1 || a.State.PersistConns.Load() != 0 {
		t.Fatalf("Sweep: %d expired, PersistConns %d", n, a.State.PersistConns.Load())
	}

	// A rejected dest invalidates the template: a new one is made with
	// the scheduler's pick, the old one lingers until it is done.
	next = a
	_, id = ts.Use(k, 1, 60, 0, dests, ok, pick)
	next = b
	reject := func(d *vs.Dest) bool { return d != a }
	d, id2 := ts.Use(k, 1, 60, 1000, dests, reject, pick)
	if d != b || id2 == id || ts.Len() != 2 {
		t.Fatalf("invalidated template: dest %v, ids %d/%d, len %d", d, id, id2, ts.Len())
	}
	if got, _ := ts.Use(k, 1, 60, 2000, dests, reject, pick); got != b {
		t.Fatalf("lookup after invalidation found %v", got)
	}
	ts.Release(id)
	ts.Release(id2)
	ts.Release(id2)
	if n := ts.Sweep(100_000, dests); n != 2 {
		t.Fatalf("expired %d, want the invalidated one and the new one", n)
	}
	if a.State.PersistConns.Load() != 0 || b.State.PersistConns.Load() != 0 {
		t.Fatalf("PersistConns left: %d %d", a.State.PersistConns.Load(), b.State.PersistConns.Load())
	}

	// No dest: nothing is created.
	next = nil
	if d, id := ts.Use(k, 1, 60, 0, dests, ok, pick); d != nil || id != 0 || ts.Len() != 0 {
		t.Fatalf("Use without a dest made a template")
	}
}

// A connection that dies releases its template.
func TestConnReleasesTemplate(t *testing.T) {
	d := &vs.Dest{ID: 1, Weight: 1, Method: vs.Route, State: &vs.DestState{}}
	dests := destMap{1: d}
	ts := NewTemplates()
	tbl := New(Config{Capacity: 16, Templates: ts})
	k := TemplateKey{Proto: 6, DstPort: 80}
	_, id := ts.Use(k, 1, 10, 0, dests, func(*vs.Dest) bool { return true }, func() *vs.Dest { return d })
	c := tbl.Insert(Key{Proto: 6, SrcPort: 1, DstPort: 80}, 1, d, 0)
	tbl.SetTemplate(c, id)
	if c.NewConnExpected(1) {
		t.Errorf("a controlled connection is reusable")
	}
	if n := ts.Sweep(20_000, dests); n != 0 {
		t.Fatalf("template expired while controlling a connection")
	}
	tbl.Sweep(1_000_000, 16, dests) // the NONE timeout has long passed
	if n := ts.Sweep(1_000_000, dests); n != 1 {
		t.Fatalf("template not released by its dead connection")
	}
}

func TestInsertNATAndLookupOut(t *testing.T) {
	d := &vs.Dest{ID: 1, Weight: 1, Method: vs.Masq, State: &vs.DestState{}}
	dests := destMap{1: d}
	tbl := New(Config{Capacity: 16})
	in := Key{Src: [4]byte{10, 0, 0, 9}, Dst: [4]byte{10, 0, 0, 100}, SrcPort: 4000, DstPort: 80, Proto: 6}
	out := Key{Src: [4]byte{10, 1, 0, 11}, Dst: [4]byte{10, 0, 0, 9}, SrcPort: 8080, DstPort: 4000, Proto: 6}
	c := tbl.InsertNAT(in, out, 1, d, 0)
	if c == nil || c.Flags&FlagNoOutput != 0 {
		t.Fatalf("InsertNAT: %+v (a Masq connection must see its output)", c)
	}
	if got := tbl.LookupOut(out, 1, dests); got != c {
		t.Fatalf("LookupOut = %v, want the connection", got)
	}
	if tbl.InsertNAT(Key{Proto: 6, SrcPort: 1}, out, 1, d, 0) != nil {
		t.Errorf("a second connection took a reply key in use")
	}
	tbl.Step(c, Output, TCPSyn|TCPAck, 1, d)
	// Expiry releases the reply key too.
	if tbl.Lookup(in, 1_000_000, dests) != nil || tbl.LookupOut(out, 1_000_000, dests) != nil {
		t.Fatalf("expired connection still found")
	}
	if tbl.out.n != 0 {
		t.Errorf("reply index keeps %d keys after expiry", tbl.out.n)
	}
	c = tbl.InsertNAT(in, out, 1, d, 2_000_000)
	tbl.Delete(c, dests)
	if tbl.out.n != 0 || tbl.LookupOut(out, 2_000_000, dests) != nil {
		t.Errorf("Delete left the reply key")
	}
}
