package director

import (
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
)

// TestSnapshotRates: the estimator ticks over the live counters of every
// service and dest, Snapshot reports the decoded rates, -Z clears them, and
// a reload keeps them with the counters.
func TestSnapshotRates(t *testing.T) {
	d, fe := newTestDirector(t)
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1, rip2)}}); err != nil {
		t.Fatal(err)
	}
	s := fe.t.Services[0]
	var dst1 = s.Dests[0]
	if dst1.Addr != rip1 {
		dst1 = s.Dests[1]
	}
	// Two ticks of 100 connections and 2000 in-bytes per 2 seconds, all on
	// rs1: scaled cps 12800 then 22400, read (+0x1FF >> 10) as 12 then 22;
	// scaled bps (2000<<4 = 32000)/4 = 8000 then 8000+6000 = 14000, read
	// (+0xF >> 5) as 250 then 437.
	for range 2 {
		s.Stats.Conns.Add(100)
		s.Stats.InBytes.Add(2000)
		dst1.State.Conns.Add(100)
		dst1.State.InBytes.Add(2000)
		d.estimate()
	}
	snap := d.Snapshot()
	want := ctl.Stats{Conns: 200, InBytes: 4000, CPS: 22, InBPS: 437}
	if got := snap.Services[0].Stats; got != want {
		t.Errorf("service stats %+v, want %+v", got, want)
	}
	for _, ds := range snap.Services[0].Dests {
		w := ctl.Stats{}
		if ds.Addr == rip1 {
			w = want
		}
		if ds.Stats != w {
			t.Errorf("dest %s stats %+v, want %+v", ds.Addr, ds.Stats, w)
		}
	}

	// A reload that keeps the service keeps its estimator.
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1, rip2, rip3)}}); err != nil {
		t.Fatal(err)
	}
	if got := d.Snapshot().Services[0].Stats.CPS; got != 22 {
		t.Errorf("after reload CPS = %d, want 22", got)
	}

	if err := d.Apply(config.Command{Op: config.OpZero}); err != nil {
		t.Fatal(err)
	}
	if got := d.Snapshot().Services[0].Stats; got != (ctl.Stats{}) {
		t.Errorf("after -Z: %+v, want all 0", got)
	}
	d.estimate()
	if got := d.Snapshot().Services[0].Stats; got != (ctl.Stats{}) {
		t.Errorf("idle tick after -Z: %+v, want all 0", got)
	}
}
