package director

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/engine"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/trace"
)

var _ ctl.Tracer = (*Director)(nil)

// tracingEngine is the part of the engine that traces packets; test
// fakes may lack it (their traces carry only the director's events).
type tracingEngine interface {
	StartTrace(engine.TraceConfig) *engine.Trace
}

const (
	// tracePoll is how often the pump drains the workers' rings.
	tracePoll = 20 * time.Millisecond
	// traceQueue is how many events a client may be behind before the
	// next ones are dropped for it (counted as slow).
	traceQueue = 4096
)

// traceHub hands trace events to the clients tracing: the engine's
// records, drained by one pump while anybody traces, and the director's
// own events (health checks, failover, edits).
type traceHub struct {
	mu   sync.Mutex
	subs map[*traceSub]struct{}
	cur  *engine.Trace // nil when nobody traces
	snap int           // cur's snap length
	stop chan struct{} // closes cur's pump
}

type traceSub struct {
	f    *trace.Filter
	snap int
	ch   chan trace.Event
	slow atomic.Uint64
}

// Trace streams the events f matches to send until ctx is done
// (ctl.Tracer).
func (d *Director) Trace(ctx context.Context, f *trace.Filter, req ctl.TraceRequest, send func(*trace.Event) error) error {
	sub := &traceSub{f: f, snap: min(max(req.Snap, 0), trace.MaxSnap), ch: make(chan trace.Event, traceQueue)}
	d.traces.add(d.cfg.Engine, sub, req.Rate)
	defer d.traces.remove(sub)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-sub.ch:
			if err := send(&e); err != nil {
				return err
			}
		case <-tick.C:
			s := d.traces.stats()
			s.Slow = sub.slow.Load()
			if err := send(&trace.Event{Time: time.Now(), Kind: trace.KindStats, Stats: &s}); err != nil {
				return err
			}
		}
	}
}

func (h *traceHub) add(eng Engine, sub *traceSub, rate int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*traceSub]struct{}{}
	}
	h.subs[sub] = struct{}{}
	te, ok := eng.(tracingEngine)
	if !ok || (h.cur != nil && sub.snap <= h.snap) {
		return
	}
	// Start tracing, or again with longer frames for this client.
	if h.stop != nil {
		close(h.stop)
	}
	h.cur, h.snap, h.stop = te.StartTrace(engine.TraceConfig{Rate: rate, Snap: sub.snap}), sub.snap, make(chan struct{})
	go h.pump(h.cur, h.stop)
}

func (h *traceHub) remove(sub *traceSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
	if len(h.subs) > 0 || h.cur == nil {
		return
	}
	h.cur.Stop()
	close(h.stop)
	h.cur, h.snap, h.stop = nil, 0, nil
}

func (h *traceHub) stats() trace.Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		return trace.Stats{}
	}
	return h.cur.Stats()
}

// pump drains t's rings until stop closes.
func (h *traceHub) pump(t *engine.Trace, stop chan struct{}) {
	tick := time.NewTicker(tracePoll)
	defer tick.Stop()
	var buf []trace.Event
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		buf = t.Read(buf[:0])
		for i := range buf {
			h.publish(&buf[i])
		}
	}
}

// publish hands e to every client whose filter matches it.
func (h *traceHub) publish(e *trace.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if !sub.f.Match(e) {
			continue
		}
		ev := *e
		ev.InFrame, ev.OutFrame = cut(ev.InFrame, sub.snap), cut(ev.OutFrame, sub.snap)
		select {
		case sub.ch <- ev:
		default:
			sub.slow.Add(1)
		}
	}
}

// cut returns the first n bytes of b (nil for n 0).
func cut(b []byte, n int) []byte {
	if n == 0 {
		return nil
	}
	return b[:min(len(b), n)]
}

// traceEvent publishes a director event (kind trace.KindHealth, KindVRRP,
// KindConfig) to the clients tracing, if any.
func (d *Director) traceEvent(kind, text string, svc *config.Service, dest netip.AddrPort, addrs []netip.Addr) {
	d.traces.mu.Lock()
	n := len(d.traces.subs)
	d.traces.mu.Unlock()
	if n == 0 {
		return
	}
	e := trace.Event{Time: time.Now(), Kind: kind, Text: text, Dest: dest, Addrs: addrs}
	if svc != nil {
		e.Service = serviceName(svc)
	}
	d.traces.publish(&e)
}

// serviceName writes a service as trace events name it: "TCP 10.77.0.100:80",
// "FWM 5", "FWM 5 IPv6".
func serviceName(s *config.Service) string {
	if s.FwMark != 0 {
		return s.Key().Name()
	}
	return fmt.Sprintf("%s %s", s.Proto, netip.AddrPortFrom(s.Addr, s.Port))
}

// traceCommand publishes a rule edit that went through: from a health
// check (kind trace.KindHealth) or the control socket (KindConfig).
func (d *Director) traceCommand(kind string, c config.Command) {
	var svc *config.Service
	if c.HasService {
		svc = &c.Service
	}
	var dest netip.AddrPort
	text := c.Op.String()
	switch c.Op {
	case config.OpAddDest, config.OpEditDest, config.OpDelDest:
		dest = netip.AddrPortFrom(c.Dest.Addr, c.Dest.Port)
		text = fmt.Sprintf("%s %s", c.Op, dest)
		if c.Op != config.OpDelDest {
			text += fmt.Sprintf(" weight %d", c.Dest.Weight)
		}
	}
	if svc != nil {
		text += " in " + serviceName(svc)
	}
	d.traceEvent(kind, text, svc, dest, nil)
}

// HealthEditor is the director's edit API as the health-check monitor
// uses it: the same Apply, and its edits appear in `ulvs trace` as
// health events.
func (d *Director) HealthEditor() healthcheck.Editor { return healthEditor{d} }

// Apply carries out an ipvsadm command against the live rules;
// --start-daemon and --stop-daemon go to the sync daemons (sync.go). A
// rule edit that went through appears in `ulvs trace` as a config event.
func (d *Director) Apply(c config.Command) error { return d.apply(c, trace.KindConfig) }

type healthEditor struct{ d *Director }

func (h healthEditor) Apply(c config.Command) error { return h.d.apply(c, trace.KindHealth) }
func (h healthEditor) Rules() config.Rules          { return h.d.Rules() }
