// Package estimator computes the connection, packet and byte rates that
// ipvsadm --rate shows, the way the kernel's IPVS rate estimator does
// (net/netfilter/ipvs/ip_vs_est.c, Linux 6.x: ip_vs_chain_estimation,
// ip_vs_read_estimator and ip_vs_zero_estimator; the arithmetic is the same
// since 64-bit rates came in Linux 4.1).
//
// Every Interval (2 seconds) each counter set is sampled and the new rate
// is folded into a moving average with weight 1/4:
//
//	avgrate = avgrate*(1-W) + rate*W,  W = 2^-2
//
// in fixed point: connections and packets per second are kept scaled by
// 2^10, bytes per second by 2^5, so a sample's delta over 2 seconds is
// shifted left by 9 (cps, pps) or 4 (bps) and the average moves by a
// quarter of the difference with an arithmetic shift right by 2. Reading
// rounds: (avg + 0x1FF) >> 10 and (avg + 0xF) >> 5.
//
// The package is control plane: the director runs Table.Tick from one
// goroutine every Interval and reads Table.Rates when it builds a
// snapshot. Nothing here runs per packet.
package estimator

import (
	"sync"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// Interval is how often the kernel samples the counters (2*HZ).
const Interval = 2 * time.Second

// Fixed-point scaling of the averages (ip_vs_est.c's NOTES).
const (
	// pktShift scales cps and pps by 2^10; a 2-second delta is shifted
	// by pktShift-1 ("scaled by 2^10, but divided 2 seconds").
	pktShift = 10
	// byteShift scales bps by 2^5; a 2-second delta is shifted by
	// byteShift-1.
	byteShift = 5
	// weightShift is W = 2^-2.
	weightShift = 2
)

// Rates are the decoded averages, per second, as ipvsadm --rate prints
// them (struct ip_vs_kstats' cps, inpps, outpps, inbps, outbps).
type Rates struct {
	CPS, InPPS, OutPPS, InBPS, OutBPS uint64
}

// Estimator is the kernel's struct ip_vs_estimator for one counter set:
// the last sample and the five scaled averages. The zero value is an
// estimator whose last sample is all zeros, as for a new service or dest.
// Not safe for concurrent use.
type Estimator struct {
	last                              vs.CounterValues
	cps, inpps, outpps, inbps, outbps uint64 // scaled: 2^10, 2^10, 2^10, 2^5, 2^5
}

// Update folds in the counters sampled one Interval after the previous
// Update (ip_vs_chain_estimation).
//
// The kernel's counters never decrease (its ipvsadm -Z moves a zero point
// instead). ulvs's -Z stores 0 in the counters, so a counter found below
// its last sample is taken as restarted from 0: its delta is its value.
func (e *Estimator) Update(n vs.CounterValues) {
	fold(&e.cps, delta(n.Conns, e.last.Conns)<<(pktShift-1))
	fold(&e.inpps, delta(n.InPkts, e.last.InPkts)<<(pktShift-1))
	fold(&e.outpps, delta(n.OutPkts, e.last.OutPkts)<<(pktShift-1))
	fold(&e.inbps, delta(n.InBytes, e.last.InBytes)<<(byteShift-1))
	fold(&e.outbps, delta(n.OutBytes, e.last.OutBytes)<<(byteShift-1))
	e.last = n
}

func delta(now, last uint64) uint64 {
	if now < last {
		return now
	}
	return now - last
}

// fold is avg += ((s64)rate - (s64)avg) >> 2, with the kernel's signed
// arithmetic shift.
func fold(avg *uint64, rate uint64) {
	*avg += uint64((int64(rate) - int64(*avg)) >> weightShift)
}

// Rates decodes the averages (ip_vs_read_estimator).
func (e *Estimator) Rates() Rates {
	const pktRound = 1<<(pktShift-1) - 1   // 0x1FF
	const byteRound = 1<<(byteShift-1) - 1 // 0xF
	return Rates{
		CPS:    (e.cps + pktRound) >> pktShift,
		InPPS:  (e.inpps + pktRound) >> pktShift,
		OutPPS: (e.outpps + pktRound) >> pktShift,
		InBPS:  (e.inbps + byteRound) >> byteShift,
		OutBPS: (e.outbps + byteRound) >> byteShift,
	}
}

// Zero restarts the estimator from the counters n with all averages 0
// (ip_vs_zero_estimator, called by ipvsadm -Z).
func (e *Estimator) Zero(n vs.CounterValues) {
	*e = Estimator{last: n}
}

// Table keeps one Estimator per live counter set (a service's or a dest's
// vs.Counters), keyed by the counters' identity: the director shares one
// *vs.Counters across every table that holds the service or dest, so an
// estimate survives reloads exactly as long as its counters do. The zero
// value is ready to use; safe for concurrent use.
type Table struct {
	mu   sync.Mutex
	ests map[*vs.Counters]*Estimator
}

// Tick samples every counter set in live and updates its estimator; a
// counter set seen for the first time starts from a zero last sample (its
// counters started at 0 when it was created). Estimators of counter sets
// not in live are dropped.
func (t *Table) Tick(live []*vs.Counters) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := make(map[*vs.Counters]*Estimator, len(live))
	for _, c := range live {
		if c == nil {
			continue
		}
		e := t.ests[c]
		if e == nil {
			e = new(Estimator)
		}
		e.Update(c.Load())
		next[c] = e
	}
	t.ests = next
}

// Rates returns the current rates of c, zero if c has not been sampled.
func (t *Table) Rates(c *vs.Counters) Rates {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.ests[c]; e != nil {
		return e.Rates()
	}
	return Rates{}
}

// Zero clears the averages of c and restarts its estimator from c's
// current values; call it right after zeroing c (ipvsadm -Z).
func (t *Table) Zero(c *vs.Counters) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.ests[c]; e != nil {
		e.Zero(c.Load())
	}
}
