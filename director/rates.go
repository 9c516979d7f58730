package director

import (
	"context"
	"time"

	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/estimator"
	"github.com/ulvs/ulvs/vs"
)

// runRates runs the rate estimator: every estimator.Interval it samples
// the counters of every service and dest, as the kernel's estimation
// kthreads do, until ctx is done. serve starts it; the rates reach
// ulvsadm --rate through Snapshot.
func (d *Director) runRates(ctx context.Context) {
	t := time.NewTicker(estimator.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.estimate()
		}
	}
}

// estimate is one estimator tick over the live counters.
func (d *Director) estimate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	live := make([]*vs.Counters, 0, len(d.comp.svcs)+len(d.comp.dests))
	for _, se := range d.comp.svcs {
		live = append(live, &se.stats.Counters)
	}
	for _, de := range d.comp.dests {
		live = append(live, &de.state.Counters)
	}
	d.rates.Tick(live)
}

// addRates fills the rate fields of st from the estimate of c.
func (d *Director) addRates(st *ctl.Stats, c *vs.Counters) {
	r := d.rates.Rates(c)
	st.CPS, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS = r.CPS, r.InPPS, r.OutPPS, r.InBPS, r.OutBPS
}
