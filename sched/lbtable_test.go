package sched

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// fakeClock is a settable clock for lblc and lblcr; safe for concurrent
// use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lbStep is one moment of an lblc or lblcr case.
type lbStep struct {
	after time.Duration // advance the clock first
	dests string        // when set, reload: New with the scheduler as prev
	conns string        // counters to set before the picks ("A=3/1 B=2")
	over  string        // letters overloaded during the step
	flows []int         // clientFlow numbers: destination 198.51.100.i
	want  string        // the picks; each adds one active connection
}

type lbCase struct {
	name   string
	params vs.SchedParams
	steps  []lbStep
}

// buildLB builds lblc or lblcr on clock c.
func buildLB(name string, svc *vs.Service, c *fakeClock) vs.Scheduler {
	if name == "lblc" {
		return buildLBLC(svc, nil, c.Now)
	}
	return buildLBLCR(svc, nil, c.Now)
}

func runLB(t *testing.T, name string, cases []lbCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			clk := newFakeClock()
			var s vs.Scheduler
			var svc *vs.Service
			for i, st := range tc.steps {
				clk.Add(st.after)
				if i == 0 || st.dests != "" {
					svc = f.service(st.dests)
					svc.Params = tc.params
					if i == 0 {
						s = buildLB(name, svc, clk)
					} else {
						var err error
						if s, err = New(name, svc, s); err != nil {
							t.Fatalf("step %d: New: %v", i, err)
						}
					}
				}
				f.conns(st.conns)
				f.overload(st.over)
				got := make([]string, len(st.flows))
				for k, fl := range st.flows {
					d := s.Schedule(svc, clientFlow(fl))
					got[k] = letter(d)
					if d != nil {
						d.State.ActiveConns.Add(1)
					}
				}
				if g := strings.Join(got, " "); g != st.want {
					t.Errorf("step %d (flows %v): got %q, want %q", i, st.flows, g, st.want)
				}
			}
		})
	}
}

// slowExpire is ip_vs_lblc_check_expire run once per tick, literally, as
// the reference for lbTable.expireUpTo's skipping.
func slowExpire(tb *lbTable, t int64) {
	for tb.nextCheck <= t {
		now := tb.nextCheck
		tb.nextCheck += lbCheckInterval
		if tb.counter%lbFullExpiration == 0 {
			tb.fullCheck(now)
			tb.counter = 1
			continue
		}
		if tb.count <= lbMaxSize {
			tb.counter++
			continue
		}
		tb.collect(now)
	}
}

// lbAddrs lists the live entries' addresses with their lastuse.
func lbAddrs(tb *lbTable) map[[16]byte]int64 {
	m := make(map[[16]byte]int64)
	for _, h := range tb.heads {
		for i := h; i >= 0; i = tb.entries[i].next {
			m[tb.entries[i].addr] = tb.entries[i].lastuse
		}
	}
	return m
}

// TestLBExpireSkipsLikeTicks checks expireUpTo against one tick at a time
// on random tables (some above max_size) and random idle gaps, short and
// days long.
func TestLBExpireSkipsLikeTicks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	iters := 60
	if testing.Short() {
		iters = 10
	}
	for it := range iters {
		var a, b lbTable
		exp := time.Duration(1+rng.IntN(120)) * time.Minute
		a.init(func() time.Time { return time.Time{} }, exp)
		b.init(func() time.Time { return time.Time{} }, exp)
		n := rng.IntN(300)
		if rng.IntN(3) == 0 {
			n = lbMaxSize + rng.IntN(2000)
		}
		var now int64
		for i := range n {
			if rng.IntN(50) == 0 {
				now += int64(rng.IntN(20)) * int64(time.Minute)
				slowExpire(&a, now)
				b.expireUpTo(now)
			}
			addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).As16()
			fold := addrFold(netip.AddrFrom16(addr).Unmap())
			a.add(&addr, fold, now)
			b.add(&addr, fold, now)
		}
		for range 5 {
			gap := int64(rng.IntN(200)) * int64(time.Minute) / 3
			if rng.IntN(4) == 0 {
				gap = int64(rng.IntN(5)) * int64(24*time.Hour)
			}
			now += gap
			slowExpire(&a, now)
			b.expireUpTo(now)
			if a.count != b.count || a.counter != b.counter || a.rover != b.rover || a.nextCheck != b.nextCheck {
				t.Fatalf("iter %d: ticks give count %d counter %d rover %d next %d, skip gives %d %d %d %d",
					it, a.count, a.counter, a.rover, a.nextCheck, b.count, b.counter, b.rover, b.nextCheck)
			}
			am, bm := lbAddrs(&a), lbAddrs(&b)
			if len(am) != len(bm) {
				t.Fatalf("iter %d: %d entries against %d", it, len(am), len(bm))
			}
			for k, v := range am {
				if bm[k] != v {
					t.Fatalf("iter %d: entry sets differ", it)
				}
			}
		}
	}
}

// TestLBCollect checks the collection above max_size
// (ip_vs_lblc_check_expire): with 16484 entries added at 0, the ticks at
// 1..5 minutes find nothing unused for 6 minutes and leave the counter at
// 1; the tick at 6 minutes frees whole buckets after the rover until
// (16484 - 16384) * 4/3 = 133 went, bringing the table within max_size;
// the tick at 7 minutes counts.
func TestLBCollect(t *testing.T) {
	var tb lbTable
	tb.init(func() time.Time { return time.Time{} }, 0)
	for i := range lbMaxSize + 100 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		a16 := addr.As16()
		tb.add(&a16, addrFold(addr), 0)
	}
	tb.expireUpTo(int64(5 * time.Minute))
	if tb.count != lbMaxSize+100 || tb.counter != 1 || tb.rover != 0 {
		t.Fatalf("after 5 min: count %d counter %d rover %d, want %d 1 0", tb.count, tb.counter, tb.rover, lbMaxSize+100)
	}
	tb.expireUpTo(int64(6 * time.Minute))
	freed := lbMaxSize + 100 - tb.count
	if freed < 133 || tb.count > lbMaxSize || tb.counter != 1 || tb.rover == 0 {
		t.Fatalf("after 6 min: freed %d (count %d), counter %d, rover %d; want >= 133 freed, within %d, counter 1, rover moved",
			freed, tb.count, tb.counter, tb.rover, lbMaxSize)
	}
	tb.expireUpTo(int64(7 * time.Minute))
	if tb.counter != 2 {
		t.Errorf("after 7 min: counter %d, want 2", tb.counter)
	}
}

// TestLBHardLimit checks the cap: at lbHardLimit entries a new address is
// scheduled but not cached, as when the kernel's kmalloc fails.
func TestLBHardLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 65536 entries")
	}
	for _, name := range []string{"lblc", "lblcr"} {
		t.Run(name, func(t *testing.T) {
			svc := newFixture(t).service("B:1 A:1")
			s := buildLB(name, svc, newFakeClock())
			var tb *lbTable
			if name == "lblc" {
				tb = s.(*lblc).tb
			} else {
				tb = s.(*lblcr).tb
			}
			for i := range lbHardLimit + 10 {
				fl := vs.Flow{Proto: vs.TCP, Dst: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}
				if s.Schedule(svc, fl) == nil {
					t.Fatalf("flow %d: nil", i)
				}
			}
			if tb.count != lbHardLimit {
				t.Errorf("%d entries, want the cap %d", tb.count, lbHardLimit)
			}
		})
	}
}

// benchLB schedules 1024 cached destination addresses round and round.
func benchLB(b *testing.B, name string) {
	svc := benchConnService(b, 100)
	s, err := New(name, svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	fl := benchFlows()
	for _, f := range fl {
		s.Schedule(svc, f)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkDest = s.Schedule(svc, fl[i&1023])
		i++
	}
}

// lbNoAllocs checks that a cached address schedules without allocating.
func lbNoAllocs(t *testing.T, name string) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	f := newFixture(t)
	svc := f.service("D:0 C:2 B:3 A:4")
	f.conns("C=1/5 B=1/9 A=1")
	s, err := New(name, svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	fl := clientFlow(1)
	s.Schedule(svc, fl)
	if n := testing.AllocsPerRun(1000, func() { sinkDest = s.Schedule(svc, fl) }); n != 0 {
		t.Errorf("Schedule of a cached address allocates %v times per call, want 0", n)
	}
}
