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
}
