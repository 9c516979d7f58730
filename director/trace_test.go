package director

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/vrrp"
	"github.com/ulvs/ulvs/vs"
)

// Edits through the control socket and the health checks' edits reach
// the clients tracing, filtered per client.
func TestTraceDirectorEvents(t *testing.T) {
	d, _ := newTestDirector(t)
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1, rip2)}}); err != nil {
		t.Fatal(err)
	}
	got, stop := traceEvents(t, d, "-r "+rip2.String())
	edit := func(rip netip.Addr, w int32) config.Command {
		return config.Command{Op: config.OpEditDest, HasService: true, Service: svc("rr"),
			Dest: config.Dest{Addr: rip, Port: 80, Method: vs.Route, Weight: w}}
	}
	if err := d.Apply(edit(rip1, 5)); err != nil { // filtered out
		t.Fatal(err)
	}
	if err := d.HealthEditor().Apply(edit(rip2, 0)); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(edit(rip2, 3)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ kind, text string }{
		{trace.KindHealth, "weight 0"},
		{trace.KindConfig, "weight 3"},
	} {
		e := <-got
		if e.Kind != want.kind || !strings.Contains(e.Text, want.text) || e.Dest.Addr() != rip2 || e.Service != "TCP 10.77.0.100:80" {
			t.Errorf("event %+v, want %s with %q", e, want.kind, want.text)
		}
	}
	stop()
	d.traces.mu.Lock()
	defer d.traces.mu.Unlock()
	if len(d.traces.subs) != 0 {
		t.Error("subscription left behind")
	}
}

// traceEvents subscribes to d's trace with filter; the channel gets the
// events other than stats, stop ends the subscription.
func traceEvents(t *testing.T, d *Director, filter string) (<-chan trace.Event, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := trace.Parse(filter)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	got := make(chan trace.Event, 16)
	done := make(chan error, 1)
	go func() {
		done <- d.Trace(ctx, f, ctl.TraceRequest{}, func(e *trace.Event) error {
			if e.Kind != trace.KindStats {
				got <- *e
			}
			return nil
		})
	}()
	waitSubscribed(t, d)
	return got, func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Trace: %v", err)
		}
	}
}

// waitSubscribed waits until d has one trace client.
func waitSubscribed(t *testing.T, d *Director) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		d.traces.mu.Lock()
		n := len(d.traces.subs)
		d.traces.mu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the trace never subscribed")
		}
		time.Sleep(time.Millisecond)
	}
}

// A VRRP transition appears in the trace of its addresses.
func TestTraceVRRPEvent(t *testing.T) {
	d, _ := newTestDirector(t)
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1)}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := trace.Parse("host " + vipA.String())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan trace.Event, 16)
	go d.Trace(ctx, f, ctl.TraceRequest{}, func(e *trace.Event) error {
		if e.Kind != trace.KindStats {
			got <- *e
		}
		return nil
	})
	waitSubscribed(t, d)
	hi := &haInstance{cfg: config.VRRPInstance{Name: "VI_1"}, addrs: []netip.Addr{vipA}}
	h := &haManager{dir: d, log: slog.New(slog.DiscardHandler), insts: []*haInstance{hi}}
	h.transition(hi, vrrp.Transition{From: vrrp.StateBackup, To: vrrp.StateMaster, Reason: "master down timer expired", Priority: 100})
	e := <-got
	if e.Kind != trace.KindVRRP || !strings.Contains(e.Text, "VI_1 BACKUP -> MASTER (master down timer expired") {
		t.Errorf("event %+v", e)
	}
}
