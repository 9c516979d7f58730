package engine

import (
	"testing"
	"time"
)

// TestIdlePollAdjust walks the window through haltpoll's rules: closed at
// first, opened and doubled by idle periods it did not cover that were
// within the maximum, capped there, halved by longer ones and by poll
// timeouts, closed below the starting width.
func TestIdlePollAdjust(t *testing.T) {
	us := time.Microsecond
	p := idlePoll{max: 200 * us}
	steps := []struct {
		idle time.Duration
		got  bool
		want time.Duration
	}{
		{70 * us, true, 50 * us},   // opened at the starting width
		{70 * us, true, 100 * us},  // still short of the gaps: doubled
		{150 * us, true, 200 * us}, // doubled, capped at the maximum
		{190 * us, true, 200 * us}, // stays at the maximum
		{5 * time.Millisecond, true, 100 * us},
		{100 * time.Millisecond, false, 50 * us}, // a poll timeout halves too
		{time.Second, true, 0},                   // below the start: closed
		{time.Second, true, 0},
		{30 * us, true, 50 * us},
	}
	for i, s := range steps {
		p.adjust(s.idle, s.got)
		if p.window != s.want {
			t.Fatalf("step %d (idle %v, frames %v): window %v, want %v", i, s.idle, s.got, p.window, s.want)
		}
	}
	off := idlePoll{}
	off.adjust(30*us, true)
	if off.window != 0 {
		t.Errorf("with no maximum the window opened to %v", off.window)
	}
}

// TestIdlePollSpin: a worker looking at its rings collects what is there,
// and gives up once its window has passed.
func TestIdlePollSpin(t *testing.T) {
	w, l := newTestWorker()
	w.idle = idlePoll{max: time.Millisecond, window: time.Millisecond}
	l.queue(tcpFrame(40000, 0x02))
	if n := w.spin(time.Now()); n != 1 {
		t.Fatalf("spin over one queued frame collected %d", n)
	}
	w.batch(1, testTable(t), 0)
	if out := l.takeOut(); len(out) != 1 {
		t.Fatalf("the collected frame gave %d frames out, want 1", len(out))
	}
	w.idle.window = 200 * time.Microsecond
	start := time.Now()
	if n := w.spin(start); n != 0 {
		t.Fatalf("spin over empty rings collected %d", n)
	}
	if d := time.Since(start); d < w.idle.window {
		t.Fatalf("spin gave up after %v, before its %v window", d, w.idle.window)
	}
}
