package engine

import "github.com/ulvs/ulvs/vs"

// The packet and byte counters of services and dests (vs.Counters) are
// shared by every worker. Added to once per packet, their cache lines
// travel between the workers' CPUs at each packet: two workers forwarding
// to the same service were slower together than one alone
// (BenchmarkWorkersEstablished). The kernel keeps these counters per CPU
// (struct ip_vs_cpu_stats) and sums them when it reads them; a worker here
// sums its packets per counter during a batch and adds the sums to the
// shared counters once, before the batch's frames are sent (flushTX), so a
// reader (ipvsadm --stats, the rate estimator, metrics) has every frame
// that is on the wire counted.

// statSlots is how many counters a batch sums before it must flush: a
// batch reaches a service and a dest per connection it forwards, most of
// them the same few.
const statSlots = 8

// statSum is one counter's sums for the batch so far.
type statSum struct {
	c                                  *vs.Counters
	inPkts, inBytes, outPkts, outBytes uint64
}

// statBatch is a worker's sums; the zero value is ready.
type statBatch struct {
	sums [statSlots]statSum
	n    int
}

// sum returns c's sums, starting them if need be (and flushing the others
// first when every slot is taken).
func (b *statBatch) sum(c *vs.Counters) *statSum {
	for i := range b.n {
		if b.sums[i].c == c {
			return &b.sums[i]
		}
	}
	if b.n == len(b.sums) {
		b.flush()
	}
	s := &b.sums[b.n]
	b.n++
	s.c = c
	return s
}

// in counts a packet of n bytes from a client on c (a service's or a
// dest's counters).
func (b *statBatch) in(c *vs.Counters, n int) {
	s := b.sum(c)
	s.inPkts++
	s.inBytes += uint64(n)
}

// out counts a reply of n bytes to a client on c.
func (b *statBatch) out(c *vs.Counters, n int) {
	s := b.sum(c)
	s.outPkts++
	s.outBytes += uint64(n)
}

// flush adds the sums to the shared counters and starts over.
func (b *statBatch) flush() {
	for i := range b.n {
		s := &b.sums[i]
		if s.inPkts != 0 {
			s.c.InPkts.Add(s.inPkts)
			s.c.InBytes.Add(s.inBytes)
		}
		if s.outPkts != 0 {
			s.c.OutPkts.Add(s.outPkts)
			s.c.OutBytes.Add(s.outBytes)
		}
		*s = statSum{}
	}
	b.n = 0
}
