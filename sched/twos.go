package sched

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/ulvs/ulvs/vs"
)

// twos is power-of-two-choices scheduling as net/netfilter/ipvs/ip_vs_twos.c
// does it (added in Linux 6.2; no hooks, no state).
//
// ip_vs_twos_schedule sums the weights of the dests that are neither
// overloaded nor of weight 0, draws two numbers r1 and r2 uniformly from
// [0, sum] (sum+1 values, so 0 and sum are both possible), then walks the
// list, newest first, subtracting each such dest's weight from both: the
// dest at which r1 first drops to 0 or below is choice 1, likewise r2 for
// choice 2. Choice 2 wins only when
//
//	weight2 * overhead1 > weight1 * overhead2
//
// (it has strictly less overhead per unit of weight), else choice 1; the
// overhead is ip_vs_dest_conn_overhead (overheadOf, after the service's
// choice). ulvs also skips a direct-routed dest whose MAC is not resolved
// (vs.Dest.Available) and multiplies in int64 where the kernel's ints can
// overflow.
//
// The kernel draws with get_random_u32_below(sum+1) (the version released
// in 6.2; the patch as first posted used prandom_u32() % (sum+1)), which
// maps a uniform 32-bit number u to (u * ceil) >> 32, rejecting the few u
// whose low half falls below 2^32 % ceil so that every value is equally
// likely. ulvs does the same with rand, math/rand/v2's Uint32 unless a test
// sets another source.
type twos struct {
	dests []cand
	extra int64 // the overhead formula (extraFor)
	// rand returns uniform 32-bit numbers, as get_random_u32 does. It
	// must be safe for concurrent use; rand.Uint32 is.
	rand func() uint32
	// epoch is the availability epoch all dests share (nil: none), and
	// cache the first walk's result for one value of it.
	epoch *atomic.Uint64
	cache atomic.Pointer[twosCache]
}

// twosCache is the first walk of Schedule for one availability epoch.
type twosCache struct {
	epoch uint64
	total int64
	last  int // index of the last available dest, -1 for none
}

var _ vs.Scheduler = (*twos)(nil)

// newTWOS builds twos for svc. ip_vs_twos_scheduler has no init_service or
// dest hooks: it keeps no state, so prev does not matter.
func newTWOS(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	t := &twos{dests: candidates(svc.Dests), extra: extraFor(svc.Params.Overhead), rand: rand.Uint32}
	// Use the epoch only if every dest bumps the same one.
	for i, c := range t.dests {
		e := c.st.AvailabilityEpoch()
		if i == 0 {
			t.epoch = e
		} else if e != t.epoch {
			t.epoch = nil
			break
		}
	}
	return t
}

// Name returns "twos".
func (s *twos) Name() string { return "twos" }

// randBelow is get_random_u32_below (drivers/char/random.c,
// __get_random_u32_below): a uniform number in [0, ceil) by Lemire's
// multiply-and-shift with rejection. ceil 0 returns a raw draw, as the
// kernel's does.
func randBelow(r func() uint32, ceil uint32) uint32 {
	x := r()
	if ceil == 0 {
		return x
	}
	mult := uint64(ceil) * uint64(x)
	if uint32(mult) < ceil {
		bound := -ceil % ceil
		for uint32(mult) < bound {
			mult = uint64(ceil) * uint64(r())
		}
	}
	return uint32(mult >> 32)
}

// draw returns a uniform number in [0, total]. Totals that do not fit the
// kernel's 32-bit arithmetic (an int sum it would have overflowed) take a
// 64-bit draw modulo total+1.
func (s *twos) draw(total int64) int64 {
	if total < 1<<32-1 {
		return int64(randBelow(s.rand, uint32(total+1)))
	}
	x := uint64(s.rand())<<32 | uint64(s.rand())
	return int64(x % uint64(total+1))
}

// Schedule picks two dests at random, weighted, and returns the less loaded
// per unit of weight; nil when no dest is available.
func (s *twos) Schedule(_ *vs.Service, _ vs.Flow) *vs.Dest {
	var choice1, choice2 *cand
	var total int64
	// The first walk sums the weights of the available dests. When the
	// dests share an availability epoch that has not moved since the last
	// walk, its result is still right: reuse it.
	var epoch uint64
	if s.epoch != nil {
		epoch = s.epoch.Load()
		if c := s.cache.Load(); c != nil && c.epoch == epoch {
			total = c.total
			if c.last >= 0 {
				choice1 = &s.dests[c.last]
			}
		}
	}
	if total == 0 {
		last := -1
		for i := range s.dests {
			if c := &s.dests[i]; c.ok() {
				total += c.w
				choice1 = c
				last = i
			}
		}
		if s.epoch != nil {
			s.cache.Store(&twosCache{epoch: epoch, total: total, last: last})
		}
	}
	if choice1 == nil {
		return nil
	}
	r1, r2 := s.draw(total), s.draw(total)
	w1, w2 := int64(-1), int64(-1)
	var oh1, oh2 int64
	for i := range s.dests {
		c := &s.dests[i]
		if !c.ok() {
			continue
		}
		r1 -= c.w
		r2 -= c.w
		if r1 <= 0 && w1 == -1 {
			choice1, w1, oh1 = c, c.w, c.overhead(s.extra)
		}
		if r2 <= 0 && w2 == -1 {
			choice2, w2, oh2 = c, c.w, c.overhead(s.extra)
		}
		if w1 != -1 && w2 != -1 {
			break
		}
	}
	// The overload flags are live: a dest can become unavailable between
	// the two walks, so, as in the kernel, choice 2 may be unset and
	// choice 1 may be the first walk's last dest with w1 -1.
	if choice2 != nil && w2*oh1 > w1*oh2 {
		choice1 = choice2
	}
	return choice1.d
}
