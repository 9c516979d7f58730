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

// statSum is one counter's sums for the batch so far: a service's
// (svc) or a dest's (dst).
//
// The sums are keyed by the owner's pointer, not by the address of its
// Counters: taking &svc.Stats.Counters makes the compiler check svc.Stats
// for nil by reading it, and that read, once a packet, missed the cache
// whenever another worker had just added its sums to the same counters.
type statSum struct {
	svc                                *vs.ServiceStats
	dst                                *vs.DestState
	inPkts, inBytes, outPkts, outBytes uint64
}

// counters are the shared counters the sums go to.
func (s *statSum) counters() *vs.Counters {
	if s.svc != nil {
		return &s.svc.Counters
	}
	return &s.dst.Counters
}

// statBatch is a worker's sums; the zero value is ready.
type statBatch struct {
	sums [statSlots]statSum
	n    int
}

// sum returns the sums of a service's counters (svc) or a dest's (dst;
// the other nil), starting them if need be (and flushing the others first
// when every slot is taken).
func (b *statBatch) sum(svc *vs.ServiceStats, dst *vs.DestState) *statSum {
	for i := range b.n {
		if b.sums[i].svc == svc && b.sums[i].dst == dst {
			return &b.sums[i]
		}
	}
	if b.n == len(b.sums) {
		b.flush()
	}
	s := &b.sums[b.n]
	b.n++
	s.svc, s.dst = svc, dst
	return s
}

// inService and inDest count a packet of n bytes from a client on a
// service's counters and on a dest's.
func (b *statBatch) inService(svc *vs.ServiceStats, n int) { b.sum(svc, nil).in(n) }
func (b *statBatch) inDest(dst *vs.DestState, n int)       { b.sum(nil, dst).in(n) }

// outService and outDest count a reply of n bytes to a client.
func (b *statBatch) outService(svc *vs.ServiceStats, n int) { b.sum(svc, nil).out(n) }
func (b *statBatch) outDest(dst *vs.DestState, n int)       { b.sum(nil, dst).out(n) }

func (s *statSum) in(n int) {
	s.inPkts++
	s.inBytes += uint64(n)
}

func (s *statSum) out(n int) {
	s.outPkts++
	s.outBytes += uint64(n)
}

// flush adds the sums to the shared counters and starts over.
func (b *statBatch) flush() {
	for i := range b.n {
		s := &b.sums[i]
		c := s.counters()
		if s.inPkts != 0 {
			c.InPkts.Add(s.inPkts)
			c.InBytes.Add(s.inBytes)
		}
		if s.outPkts != 0 {
			c.OutPkts.Add(s.outPkts)
			c.OutBytes.Add(s.outBytes)
		}
		*s = statSum{}
	}
	b.n = 0
}
