package estimator

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestEstimatorSequence feeds a synthetic counter sequence, one sample per
// 2-second tick, and checks the scaled averages and the decoded rates
// against values worked out by hand from ip_vs_est.c's formulas:
//
//	conns +100 per tick:  rate = 100<<9 = 51200
//	  avg 0 -> 0+51200>>2 = 12800 -> 12800+(38400>>2) = 22400 -> 29600 -> 35000
//	  then +0: 35000 + (-35000>>2) = 26250
//	  read (avg+0x1FF)>>10: 12, 22, 29, 34, 26
//	inpkts +3 once:      rate = 1536: 384, then 288, 216, 162, and
//	  162 + (-162>>2) = 162 - 41 = 121 (the shift floors, as s64 >> 2)
//	inbytes +1000 twice: rate = 1000<<4 = 16000: 4000, 7000, then
//	  7000-1750 = 5250, 5250-1313 = 3937, 3937-985 = 2952
//	  read (avg+0xF)>>5: 125, 219, 164, 123, 92
//	outpkts +2e6 per tick: rate = 2e6<<9 = 1024000000:
//	  256000000 (250000 pps), 448000000 (437500 pps), ...
func TestEstimatorSequence(t *testing.T) {
	steps := []struct {
		in                vs.CounterValues
		cps, inpps, inbps uint64 // scaled averages
		outpps            uint64
		want              Rates
	}{
		{in: vs.CounterValues{Conns: 100, InPkts: 3, InBytes: 1000, OutPkts: 2e6},
			cps: 12800, inpps: 384, inbps: 4000, outpps: 256000000,
			want: Rates{CPS: 12, InPPS: 0, OutPPS: 250000, InBPS: 125}},
		{in: vs.CounterValues{Conns: 200, InPkts: 3, InBytes: 2000, OutPkts: 4e6},
			cps: 22400, inpps: 288, inbps: 7000, outpps: 448000000,
			want: Rates{CPS: 22, InPPS: 0, OutPPS: 437500, InBPS: 219}},
		{in: vs.CounterValues{Conns: 300, InPkts: 3, InBytes: 2000, OutPkts: 6e6},
			cps: 29600, inpps: 216, inbps: 5250, outpps: 592000000,
			want: Rates{CPS: 29, InPPS: 0, OutPPS: 578125, InBPS: 164}},
		{in: vs.CounterValues{Conns: 400, InPkts: 3, InBytes: 2000, OutPkts: 8e6},
			cps: 35000, inpps: 162, inbps: 3937, outpps: 700000000,
			want: Rates{CPS: 34, InPPS: 0, OutPPS: 683594, InBPS: 123}},
		{in: vs.CounterValues{Conns: 400, InPkts: 3, InBytes: 2000, OutPkts: 8e6},
			cps: 26250, inpps: 121, inbps: 2952, outpps: 525000000,
			want: Rates{CPS: 26, InPPS: 0, OutPPS: 512695, InBPS: 92}},
	}
	var e Estimator
	for i, s := range steps {
		e.Update(s.in)
		if e.cps != s.cps || e.inpps != s.inpps || e.inbps != s.inbps || e.outpps != s.outpps {
			t.Errorf("tick %d: scaled cps/inpps/inbps/outpps = %d/%d/%d/%d, want %d/%d/%d/%d",
				i+1, e.cps, e.inpps, e.inbps, e.outpps, s.cps, s.inpps, s.inbps, s.outpps)
		}
		if got := e.Rates(); got != s.want {
			t.Errorf("tick %d: Rates() = %+v, want %+v", i+1, got, s.want)
		}
	}
}

// TestEstimatorSteadyState: at a constant 50 conn/s and 500 B/s the
// average creeps up to 51197 (the >>2 of a difference below 4 is 0), which
// still reads as exactly 50.
func TestEstimatorSteadyState(t *testing.T) {
	var e Estimator
	var n vs.CounterValues
	for range 60 {
		n.Conns += 100
		n.OutBytes += 1000
		e.Update(n)
	}
	if e.cps != 51197 {
		t.Errorf("scaled cps = %d, want 51197", e.cps)
	}
	if got := e.Rates(); got.CPS != 50 || got.OutBPS != 500 {
		t.Errorf("Rates() = %+v, want CPS 50, OutBPS 500", got)
	}
}

func TestEstimatorZero(t *testing.T) {
	var e Estimator
	e.Update(vs.CounterValues{Conns: 1000})
	e.Zero(vs.CounterValues{Conns: 1000})
	if got := e.Rates(); got != (Rates{}) {
		t.Fatalf("after Zero: %+v, want all 0", got)
	}
	e.Update(vs.CounterValues{Conns: 1000})
	if got := e.Rates(); got != (Rates{}) {
		t.Errorf("no traffic after Zero: %+v, want all 0", got)
	}
	// ulvs's -Z stores 0 in the counters: a counter below its last sample
	// counts from 0 instead of wrapping around.
	e.Update(vs.CounterValues{Conns: 40})
	if e.cps != 40<<9>>2 {
		t.Errorf("after a counter reset: scaled cps = %d, want %d", e.cps, 40<<9>>2)
	}
}

func TestTable(t *testing.T) {
	var tab Table
	a, b := new(vs.Counters), new(vs.Counters)
	if got := tab.Rates(a); got != (Rates{}) {
		t.Fatalf("unsampled: %+v", got)
	}
	a.Conns.Add(100)
	b.InBytes.Add(1000)
	tab.Tick([]*vs.Counters{a, b, nil})
	if got := tab.Rates(a); got.CPS != 12 {
		t.Errorf("a: CPS = %d, want 12", got.CPS)
	}
	if got := tab.Rates(b); got.InBPS != 125 {
		t.Errorf("b: InBPS = %d, want 125", got.InBPS)
	}
	// b leaves; when it comes back (same pointer) it starts afresh.
	a.Conns.Add(100)
	tab.Tick([]*vs.Counters{a})
	if got := tab.Rates(a); got.CPS != 22 {
		t.Errorf("a after tick 2: CPS = %d, want 22", got.CPS)
	}
	if got := tab.Rates(b); got != (Rates{}) {
		t.Errorf("b after removal: %+v, want 0", got)
	}
	a.Zero()
	tab.Zero(a)
	if got := tab.Rates(a); got != (Rates{}) {
		t.Errorf("a after Zero: %+v, want 0", got)
	}
	tab.Tick([]*vs.Counters{a})
	if got := tab.Rates(a); got != (Rates{}) {
		t.Errorf("a idle after Zero: %+v, want 0", got)
	}
}
