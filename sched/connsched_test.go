package sched

import (
	"math"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// The connection-count schedulers (lc, wlc, sed, nq, fo, ovf) walk the list
// once, keeping a candidate and replacing it only on a strictly better
// value, as the kernel does. Such a walk returns the first dest in list
// order among those with the best value. The reference below says that
// directly, with exact rationals instead of cross-multiplication, and the
// schedulers must agree with it on random services.

// refPick is the first dest of dests, in list order, among those ok accepts,
// that no other accepted dest is better than.
func refPick(dests []*vs.Dest, ok func(*vs.Dest) bool, better func(a, b *vs.Dest) bool) *vs.Dest {
	var best *vs.Dest
	for _, d := range dests {
		if !ok(d) {
			continue
		}
		if best == nil || better(d, best) {
			best = d
		}
	}
	return best
}

func active(d *vs.Dest) int64 { return int64(d.State.ActiveConns.Load()) }

func ratio(num int64, d *vs.Dest) *big.Rat {
	return new(big.Rat).SetFrac(big.NewInt(num), big.NewInt(int64(d.Weight)))
}

func refOverhead(d *vs.Dest) int64 {
	return active(d)*256 + int64(d.State.InactConns.Load())
}

// reference states what each scheduler picks, after its kernel file's
// description rather than its loop.
var reference = map[string]func(dests []*vs.Dest) *vs.Dest{
	// ip_vs_lc.c: least overhead.
	"lc": func(ds []*vs.Dest) *vs.Dest {
		return refPick(ds, (*vs.Dest).Available, func(a, b *vs.Dest) bool {
			return refOverhead(a) < refOverhead(b)
		})
	},
	// ip_vs_wlc.c: least overhead/weight.
	"wlc": func(ds []*vs.Dest) *vs.Dest {
		return refPick(ds, (*vs.Dest).Available, func(a, b *vs.Dest) bool {
			return ratio(refOverhead(a), a).Cmp(ratio(refOverhead(b), b)) < 0
		})
	},
	// ip_vs_sed.c: least (active+1)/weight.
	"sed": func(ds []*vs.Dest) *vs.Dest {
		return refPick(ds, (*vs.Dest).Available, func(a, b *vs.Dest) bool {
			return ratio(active(a)+1, a).Cmp(ratio(active(b)+1, b)) < 0
		})
	},
	// ip_vs_nq.c: the first idle dest, else as sed.
	"nq": func(ds []*vs.Dest) *vs.Dest {
		for _, d := range ds {
			if d.Available() && active(d) == 0 {
				return d
			}
		}
		return refPick(ds, (*vs.Dest).Available, func(a, b *vs.Dest) bool {
			return ratio(active(a)+1, a).Cmp(ratio(active(b)+1, b)) < 0
		})
	},
	// ip_vs_fo.c: highest weight.
	"fo": func(ds []*vs.Dest) *vs.Dest {
		return refPick(ds, (*vs.Dest).Available, func(a, b *vs.Dest) bool {
			return a.Weight > b.Weight
		})
	},
	// ip_vs_ovf.c: highest weight among those not above their weight.
	"ovf": func(ds []*vs.Dest) *vs.Dest {
		return refPick(ds, func(d *vs.Dest) bool {
			return d.Available() && active(d) <= int64(d.Weight)
		}, func(a, b *vs.Dest) bool {
			return a.Weight > b.Weight
		})
	},
}

// randomConnService builds up to 8 dests with small weights and counts that
// tie often, and now and then large ones that overflow 32-bit products.
func randomConnService(rng *rand.Rand) *vs.Service {
	svc := &vs.Service{}
	n := rng.IntN(9)
	for i := range n {
		d := &vs.Dest{
			ID:     uint32(i + 1),
			Addr:   netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}),
			Method: vs.Masq,
			Weight: int32(rng.IntN(5)),
			State:  &vs.DestState{},
		}
		d.State.ActiveConns.Store(int32(rng.IntN(5)))
		d.State.InactConns.Store(int32(rng.IntN(4) * 128))
		if rng.IntN(8) == 0 {
			d.Weight = rng.Int32N(math.MaxInt32) + 1
		}
		if rng.IntN(8) == 0 {
			// Up to just below 2^23, where the kernel's int overhead
			// would wrap.
			d.State.ActiveConns.Store(rng.Int32N(1 << 23))
			d.State.InactConns.Store(rng.Int32())
		}
		d.State.Overloaded.Store(rng.IntN(6) == 0)
		if rng.IntN(10) == 0 {
			d.Method = vs.Route // no MAC resolved: unavailable
		}
		svc.Dests = append(svc.Dests, d)
	}
	return svc
}

func TestConnSchedulersAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	iters := 3000
	if testing.Short() {
		iters = 500
	}
	for name, ref := range reference {
		t.Run(name, func(t *testing.T) {
			for it := range iters {
				svc := randomConnService(rng)
				s, err := New(name, svc, nil)
				if err != nil {
					t.Fatal(err)
				}
				// A few picks in a row, each adding a connection as
				// runConns does.
				for pick := range 4 {
					want := ref(svc.Dests)
					got := s.Schedule(svc, vs.Flow{})
					if got != want {
						t.Fatalf("iter %d pick %d: got dest %d, reference dest %d; dests %s",
							it, pick, idOf(got), idOf(want), describe(svc))
					}
					if got == nil {
						break
					}
					got.State.ActiveConns.Add(1)
				}
			}
		})
	}
}

// describe lists dests for a failure message.
func describe(svc *vs.Service) string {
	var b []byte
	for _, d := range svc.Dests {
		b = append(b, '[')
		b = append(b, d.Addr.String()...)
		b = append(b, " w"...)
		b = big.NewInt(int64(d.Weight)).Append(b, 10)
		b = append(b, " a"...)
		b = big.NewInt(active(d)).Append(b, 10)
		b = append(b, " i"...)
		b = big.NewInt(int64(d.State.InactConns.Load())).Append(b, 10)
		if d.State.Overloaded.Load() {
			b = append(b, " over"...)
		}
		if d.Method == vs.Route {
			b = append(b, " nomac"...)
		}
		b = append(b, "] "...)
	}
	return string(b)
}

// TestConnSchedulersConcurrent schedules from several goroutines while each
// pick bumps the chosen dest's counter, as workers do. The schedulers keep
// no state, so the point is that -race finds no unsynchronised access and
// that no pick fails while dests are available.
func TestConnSchedulersConcurrent(t *testing.T) {
	for name := range reference {
		t.Run(name, func(t *testing.T) {
			svc := newFixture(t).service("D:4 C:1 B:2 A:3")
			s, err := New(name, svc, nil)
			if err != nil {
				t.Fatal(err)
			}
			const workers, perWorker = 4, 200
			var wg sync.WaitGroup
			var nils [workers]int
			for w := range workers {
				wg.Go(func() {
					for range perWorker {
						d := s.Schedule(svc, vs.Flow{})
						if d == nil {
							nils[w]++
							continue
						}
						d.State.ActiveConns.Add(1)
						d.State.ActiveConns.Add(-1) // the connection ends
					}
				})
			}
			wg.Wait()
			for w, n := range nils {
				if n != 0 {
					t.Errorf("worker %d: %d nil picks with every dest available", w, n)
				}
			}
		})
	}
}

// benchConnService is benchService with live counters: dest i has i%7+1
// active and i%13 inactive connections, so no dest is idle and the whole
// list is compared.
func benchConnService(tb testing.TB, n int) *vs.Service {
	tb.Helper()
	svc := benchService(tb, n)
	for i, d := range svc.Dests {
		d.State.ActiveConns.Store(int32(i%7 + 1))
		d.State.InactConns.Store(int32(i % 13))
	}
	return svc
}

// connNoAllocs checks that scheduler name picks without allocating, on a
// service with a quiesced dest and the connections conns (as connCase).
func connNoAllocs(t *testing.T, name, conns string) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	f := newFixture(t)
	svc := f.service("D:0 C:2 B:3 A:4")
	f.conns(conns)
	s, err := New(name, svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { sinkDest = s.Schedule(svc, vs.Flow{}) }); n != 0 {
		t.Errorf("Schedule allocates %v times per call, want 0", n)
	}
}

// benchConn measures one pick of scheduler name among 100 loaded dests.
func benchConn(b *testing.B, name string) {
	svc := benchConnService(b, 100)
	s, err := New(name, svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkDest = s.Schedule(svc, vs.Flow{})
	}
}
