package vrrp

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// stepClock is a fake Clock for Run: After registers a waiter and tells
// the test, which then moves time with advance. No sleeps.
type stepClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	called  chan time.Duration
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newStepClock() *stepClock { return &stepClock{now: t0, called: make(chan time.Duration, 64)} }

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.mu.Unlock()
	c.called <- d
	return ch
}

// advance moves the clock by d and fires the waiters that are due.
func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// chanTransport is a Transport whose Receive reads from a channel and
// whose Send writes to one.
type chanTransport struct {
	in     chan []byte
	out    chan Advert
	closed chan struct{}
	once   sync.Once
}

func newChanTransport() *chanTransport {
	return &chanTransport{in: make(chan []byte), out: make(chan Advert, 64), closed: make(chan struct{})}
}

func (c *chanTransport) Send(msg []byte, dst netip.Addr) error {
	a, err := Parse(msg)
	if err != nil {
		return err
	}
	c.out <- a
	return nil
}

func (c *chanTransport) Receive(buf []byte) (int, int, error) {
	select {
	case b := <-c.in:
		return copy(buf, b), TTL, nil
	case <-c.closed:
		return 0, -1, errStopped
	}
}

func (c *chanTransport) Source() netip.Addr { return srcA }
func (c *chanTransport) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func TestRunLoop(t *testing.T) {
	clk := newStepClock()
	tr := newChanTransport()
	trans := make(chan Transition, 16)
	r, err := New(Config{Instance: inst(100), Transport: tr, Clock: clk,
		OnTransition: func(x Transition) { trans <- x }, RunNotify: func([]string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	expect := func(s State) Transition {
		t.Helper()
		select {
		case x := <-trans:
			if x.To != s {
				t.Fatalf("transition to %v (%s), want %v", x.To, x.Reason, s)
			}
			return x
		case <-time.After(5 * time.Second):
			t.Fatalf("no transition to %v", s)
		}
		return Transition{}
	}
	wait := func() time.Duration {
		t.Helper()
		select {
		case d := <-clk.called:
			return d
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not wait on the clock")
		}
		return 0
	}
	expect(StateBackup)
	if d := wait(); d != 3*time.Second+skew2(100) {
		t.Fatalf("backup waits %v, want the master down interval %v", d, 3*time.Second+skew2(100))
	}
	clk.advance(3*time.Second + skew2(100))
	expect(StateMaster)
	if a := <-tr.out; a.Priority != 100 || a.VRID != 51 {
		t.Errorf("advert %+v", a)
	}
	if d := wait(); d != time.Second {
		t.Errorf("master waits %v, want the advert interval", d)
	}
	// A higher-priority advert: back to BACKUP.
	a := Advert{Version: V2, Type: 1, VRID: 51, Priority: 200, AuthType: AuthPass, Interval: 1,
		Addrs: []netip.Addr{vip1}, AuthData: [8]byte{'1', '1', '1', '1'}}
	msg, _ := a.Append(nil, srcB, MulticastGroup())
	tr.in <- AppendIPv4(nil, srcB, MulticastGroup(), TTL, msg)
	x := expect(StateBackup)
	if !strings.Contains(x.Reason, "higher priority advert from 10.77.0.3") {
		t.Errorf("reason %q", x.Reason)
	}
	// Priority 0 from that master: take over after the skew.
	a.Priority = 0
	msg, _ = a.Append(nil, srcB, MulticastGroup())
	tr.in <- AppendIPv4(nil, srcB, MulticastGroup(), TTL, msg)
	for d := wait(); d != skew2(100); d = wait() {
	}
	clk.advance(skew2(100))
	expect(StateMaster)
	// Stop while master: a priority-0 advert, then STOP.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expect(StateStop)
	var last Advert
	for len(tr.out) > 0 {
		last = <-tr.out
	}
	if last.Priority != 0 {
		t.Errorf("last advert priority %d, want 0", last.Priority)
	}
}

func TestRunScripts(t *testing.T) {
	clk := newStepClock()
	r, err := New(Config{Instance: inst(100, func(in *Instance) {
		in.TrackScripts = []TrackScript{{Script: Script{Name: "chk", Argv: []string{"chk"}, Interval: 2 * time.Second, Fall: 2, Rise: 1, Weight: -30}}}
	}), Transport: newChanTransport(), Clock: clk, RunNotify: func([]string) {}})
	if err != nil {
		t.Fatal(err)
	}
	codes := []int{0, 1, 1, 0}
	ctx, cancel := context.WithCancel(context.Background())
	var runs int
	prios := make(chan uint8, len(codes))
	done := make(chan struct{})
	go func() {
		r.RunScripts(ctx, func(_ context.Context, argv []string, timeout time.Duration) (int, error) {
			if argv[0] != "chk" || timeout != 2*time.Second {
				t.Errorf("run %v timeout %v", argv, timeout)
			}
			if runs > 0 {
				prios <- r.Status().EffectivePriority
			}
			if runs == len(codes) {
				cancel()
				return 0, nil
			}
			runs++
			return codes[runs-1], nil
		})
		close(done)
	}()
	for range codes {
		if d := <-clk.called; d != 2*time.Second {
			t.Errorf("interval %v, want 2 s", d)
		}
		clk.advance(2 * time.Second)
	}
	<-done
	close(prios)
	var got []uint8
	for p := range prios {
		got = append(got, p)
	}
	// ok: 100; one failure (fall 2): still 100; two: 70; ok again: 100.
	if want := []uint8{100, 100, 70, 100}; string(got) != string(want) {
		t.Errorf("priorities %v, want %v", got, want)
	}
}

func TestExecScript(t *testing.T) {
	ctx := context.Background()
	if code, err := ExecScript(ctx, []string{"true"}, time.Second); code != 0 || err != nil {
		t.Errorf("true: %d %v", code, err)
	}
	if code, err := ExecScript(ctx, []string{"sh", "-c", "exit 3"}, time.Second); code != 3 || err != nil {
		t.Errorf("exit 3: %d %v", code, err)
	}
	if code, err := ExecScript(ctx, []string{"sleep", "5"}, 50*time.Millisecond); code != -1 || err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("sleep past the timeout: %d %v", code, err)
	}
	if _, err := ExecScript(ctx, []string{"/nonexistent/script"}, time.Second); err == nil {
		t.Error("missing program: no error")
	}
	if _, err := ExecScript(ctx, nil, time.Second); err == nil {
		t.Error("empty argv: no error")
	}
}
