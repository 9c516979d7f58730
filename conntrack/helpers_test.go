package conntrack

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// Dest IDs of the fixture built by newFixture, one per method.
const (
	idMasq    = 1
	idRoute   = 2
	idTunnel  = 3
	idFullNAT = 4
	idLocal   = 5
)

// newFixture returns a vs.Table with one TCP and one UDP service whose
// dests cover every forwarding method.
func newFixture(t testing.TB) *vs.Table {
	t.Helper()
	mk := func(id uint32, addr string, m vs.Method) *vs.Dest {
		return &vs.Dest{ID: id, Addr: netip.MustParseAddr(addr), Port: 80, Method: m, Weight: 1, State: new(vs.DestState)}
	}
	dests := []*vs.Dest{
		mk(idMasq, "10.0.1.11", vs.Masq),
		mk(idRoute, "10.0.0.12", vs.Route),
		mk(idTunnel, "10.0.0.13", vs.Tunnel),
		mk(idFullNAT, "10.0.1.14", vs.FullNAT),
		mk(idLocal, "127.0.0.1", vs.Local),
	}
	svcs := []*vs.Service{
		{ID: 1, Proto: vs.TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, Dests: dests, Stats: new(vs.ServiceStats)},
		{ID: 2, Proto: vs.UDP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 53, Dests: dests, Stats: new(vs.ServiceStats)},
	}
	return vs.NewTable(1, svcs, nil)
}

// key returns a distinct client key for n.
func key(proto vs.Protocol, n int) Key {
	return Key{
		Src:     [4]byte{198, 51, byte(n >> 16), byte(n >> 8)},
		Dst:     [4]byte{192, 0, 2, 1},
		SrcPort: uint16(1024 + n),
		DstPort: 80,
		Proto:   uint8(proto),
	}
}

type counts struct{ active, inact int32 }

func countsOf(d *vs.Dest) counts {
	return counts{d.State.ActiveConns.Load(), d.State.InactConns.Load()}
}

// checkInvariants verifies the table's internal structure: the live and
// used counts, and that every occupied slot is reachable from its home
// without crossing a free slot.
func checkInvariants(t *testing.T, tb *Table) {
	t.Helper()
	live, used := 0, 0
	for i := range tb.slots {
		c := &tb.slots[i]
		if c.DestID == 0 {
			if *c != (Conn{}) {
				t.Fatalf("free slot %d not zeroed: %+v", i, *c)
			}
			continue
		}
		used++
		if c.Flags&flagDead == 0 {
			live++
		}
		for j := tb.home(&c.Key); j != uint32(i); j = tb.ring.next(j) {
			if tb.slots[j].DestID == 0 {
				t.Fatalf("slot %d (home %d) unreachable: slot %d is free", i, tb.home(&c.Key), j)
			}
		}
	}
	if live != tb.live || used != tb.used {
		t.Fatalf("counted live=%d used=%d, table says live=%d used=%d", live, used, tb.live, tb.used)
	}
	if tb.used > tb.maxUsed {
		t.Fatalf("used %d > maxUsed %d", tb.used, tb.maxUsed)
	}
	checkSides(t, tb)
}

// checkSides verifies the side entries and the reply-key index: each
// connection with a side entry owns it alone and the entry names its slot;
// the free entries and the owned ones are all that were handed out; the
// index holds one entry for each connection with a reply key, with that
// key's hash, reachable from its home, and finds the connection.
func checkSides(t *testing.T, tb *Table) {
	t.Helper()
	owner := map[uint32]int{}
	nOut := 0
	for i := range tb.slots {
		c := &tb.slots[i]
		if c.DestID == 0 {
			continue
		}
		if c.side == 0 {
			if c.Flags&(flagOut|flagAux) != 0 {
				t.Fatalf("slot %d: flags %#x without a side entry", i, c.Flags)
			}
			continue
		}
		if c.Flags&(flagOut|flagAux) == 0 || c.Flags&flagDead != 0 {
			t.Fatalf("slot %d: side entry %d with flags %#x", i, c.side, c.Flags)
		}
		if c.side > tb.sides.high {
			t.Fatalf("slot %d: side entry %d never handed out (high %d)", i, c.side, tb.sides.high)
		}
		if j, dup := owner[c.side]; dup {
			t.Fatalf("side entry %d owned by slots %d and %d", c.side, j, i)
		}
		owner[c.side] = i
		if got := tb.sides.e[c.side].slot; got != uint32(i) {
			t.Fatalf("side entry %d names slot %d, its connection is in %d", c.side, got, i)
		}
		if c.Flags&flagOut != 0 {
			nOut++
			if got, ok := tb.findOut(new(tb.Out(c)), tb.out.hash(new(tb.Out(c)))); !ok || got != c {
				t.Fatalf("slot %d: reply key %v finds %v", i, tb.Out(c), got)
			}
		}
	}
	free := 0
	for n := tb.sides.freeHead; n != 0; n = tb.sides.e[n].slot {
		if _, used := owner[n]; used || free > len(tb.sides.e) {
			t.Fatalf("side entry %d on the free list is owned or the list loops", n)
		}
		free++
	}
	if free+len(owner) != int(tb.sides.high) {
		t.Fatalf("%d free and %d owned side entries, %d handed out", free, len(owner), tb.sides.high)
	}
	if tb.out == nil {
		if nOut != 0 {
			t.Fatalf("%d reply keys without an index", nOut)
		}
		return
	}
	x := tb.out
	n := 0
	for i := range x.e {
		e := x.e[i]
		if e.side == 0 {
			continue
		}
		n++
		out := tb.sides.out(e.side, tb.slots[tb.sides.e[e.side].slot].Key.Proto)
		if e.h != x.hash(&out) {
			t.Fatalf("index slot %d: hash %#x, its key %v hashes to %#x", i, e.h, out, x.hash(&out))
		}
		for j := x.ring.home(uint64(e.h)); j != uint32(i); j = x.ring.next(j) {
			if x.e[j].side == 0 {
				t.Fatalf("index slot %d unreachable: slot %d is free", i, j)
			}
		}
	}
	if n != nOut || x.n != nOut {
		t.Fatalf("index holds %d entries (n %d), %d connections have reply keys", n, x.n, nOut)
	}
}
