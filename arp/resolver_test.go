package arp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeConn is a Conn whose neighbours are a map. An address without an
// answer behaves like silence on the wire: Resolve waits for the deadline.
// It records every call and whether two Resolve calls ever overlapped.
type fakeConn struct {
	delay time.Duration // time each answered Resolve takes
	// script, if set, answers instead of answers: n counts the calls for
	// addr, from 1.
	script func(addr netip.Addr, n int) ([6]byte, bool)

	mu       sync.Mutex
	answers  map[netip.Addr][6]byte
	calls    map[netip.Addr]int
	deadline time.Time
	closed   bool
	fail     error // every Resolve fails with it at once (the interface is gone)

	inflight atomic.Int32
	overlap  atomic.Bool
}

func newFakeConn() *fakeConn {
	return &fakeConn{answers: map[netip.Addr][6]byte{}, calls: map[netip.Addr]int{}}
}

func (c *fakeConn) set(addr netip.Addr, mac [6]byte) {
	c.mu.Lock()
	c.answers[addr] = mac
	c.mu.Unlock()
}

func (c *fakeConn) silence(addr netip.Addr) {
	c.mu.Lock()
	delete(c.answers, addr)
	c.mu.Unlock()
}

func (c *fakeConn) count(addr netip.Addr) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[addr]
}

func (c *fakeConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *fakeConn) Resolve(ip netip.Addr) (net.HardwareAddr, error) {
	if c.inflight.Add(1) > 1 {
		c.overlap.Store(true)
	}
	defer c.inflight.Add(-1)
	time.Sleep(c.delay)
	c.mu.Lock()
	c.calls[ip]++
	mac, ok := c.answers[ip]
	if c.script != nil {
		mac, ok = c.script(ip, c.calls[ip])
	}
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	if ok {
		return net.HardwareAddr(mac[:]), nil
	}
	for {
		c.mu.Lock()
		closed, deadline := c.closed, c.deadline
		c.mu.Unlock()
		switch {
		case closed:
			return nil, net.ErrClosed
		case !deadline.IsZero() && !time.Now().Before(deadline):
			return nil, os.ErrDeadlineExceeded
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *fakeConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.deadline = t
	return nil
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

type changeEvent struct {
	addr netip.Addr
	mac  [6]byte
	ok   bool
}

var (
	rs1  = netip.MustParseAddr("10.77.0.11")
	rs2  = netip.MustParseAddr("10.77.0.12")
	rs3  = netip.MustParseAddr("10.77.0.13")
	mac1 = [6]byte{2, 0, 0, 0, 0, 0x11}
	mac2 = [6]byte{2, 0, 0, 0, 0, 0x12}
	mac3 = [6]byte{2, 0, 0, 0, 0, 0x13}
)

// startResolver runs a Resolver over conn with short durations and returns
// it with the channel its OnChange events arrive on. Run stops at cleanup.
func startResolver(t *testing.T, conn Conn, cfg ResolverConfig, onChange func(changeEvent)) (*Resolver, <-chan changeEvent) {
	t.Helper()
	events := make(chan changeEvent, 100)
	cfg.Conn = conn
	if cfg.Refresh == 0 {
		cfg.Refresh = time.Hour
	}
	if cfg.Retry == 0 {
		cfg.Retry = 5 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Millisecond
	}
	cfg.OnChange = func(addr netip.Addr, mac [6]byte, ok bool) {
		ev := changeEvent{addr, mac, ok}
		if onChange != nil {
			onChange(ev)
		}
		events <- ev
	}
	r, err := NewResolver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return r, events
}

func expectChange(t *testing.T, events <-chan changeEvent, want changeEvent) {
	t.Helper()
	select {
	case got := <-events:
		if got != want {
			t.Fatalf("OnChange(%v, %x, %v), want OnChange(%v, %x, %v)", got.addr, got.mac, got.ok, want.addr, want.mac, want.ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no OnChange, want OnChange(%v, %x, %v)", want.addr, want.mac, want.ok)
	}
}

func expectNoChange(t *testing.T, events <-chan changeEvent, d time.Duration) {
	t.Helper()
	select {
	case got := <-events:
		t.Fatalf("unexpected OnChange(%v, %x, %v)", got.addr, got.mac, got.ok)
	case <-time.After(d):
	}
}

func expectLookup(t *testing.T, r *Resolver, addr netip.Addr, mac [6]byte, ok bool) {
	t.Helper()
	got, gotOK := r.Lookup(addr)
	if got != mac || gotOK != ok {
		t.Errorf("Lookup(%v) = %x, %v; want %x, %v", addr, got, gotOK, mac, ok)
	}
}

func TestResolverResolves(t *testing.T) {
	conn := newFakeConn()
	conn.set(rs1, mac1)
	r, events := startResolver(t, conn, ResolverConfig{}, nil)
	expectLookup(t, r, rs1, [6]byte{}, false)

	r.Watch([]netip.Addr{rs1, rs2})
	expectChange(t, events, changeEvent{rs1, mac1, true})
	expectLookup(t, r, rs1, mac1, true)
	expectLookup(t, r, rs2, [6]byte{}, false)
	expectLookup(t, r, rs3, [6]byte{}, false) // not watched

	// rs2 comes up later (after it was asked for in vain) and is found
	// by the retry.
	for deadline := time.Now().Add(5 * time.Second); conn.count(rs2) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("rs2 was never asked for")
		}
		time.Sleep(time.Millisecond)
	}
	conn.set(rs2, mac2)
	expectChange(t, events, changeEvent{rs2, mac2, true})
	expectLookup(t, r, rs2, mac2, true)
	if conn.count(rs2) < 2 {
		t.Errorf("rs2 was asked %d times, want retries", conn.count(rs2))
	}
}

func TestResolverRefreshNotifiesOnlyChanges(t *testing.T) {
	conn := newFakeConn()
	conn.set(rs1, mac1)
	r, events := startResolver(t, conn, ResolverConfig{Refresh: 5 * time.Millisecond}, nil)
	r.Watch([]netip.Addr{rs1})
	expectChange(t, events, changeEvent{rs1, mac1, true})

	// Refreshes that find the same MAC are silent.
	n := conn.count(rs1)
	expectNoChange(t, events, 50*time.Millisecond)
	if conn.count(rs1) <= n {
		t.Fatalf("no refresh in 50ms with Refresh 5ms")
	}

	// The real server's NIC is replaced.
	conn.set(rs1, mac2)
	expectChange(t, events, changeEvent{rs1, mac2, true})
	expectLookup(t, r, rs1, mac2, true)
}

func TestResolverForgetsAfterFailAfter(t *testing.T) {
	conn := newFakeConn()
	// Answers the first call and calls from the 6th on: silent for 4.
	conn.script = func(_ netip.Addr, n int) ([6]byte, bool) { return mac1, n == 1 || n >= 6 }
	var lostAt atomic.Int64
	r, events := startResolver(t, conn, ResolverConfig{Refresh: 5 * time.Millisecond, FailAfter: 3},
		func(ev changeEvent) {
			if !ev.ok {
				lostAt.Store(int64(conn.count(rs1)))
			}
		})
	r.Watch([]netip.Addr{rs1})
	expectChange(t, events, changeEvent{rs1, mac1, true})
	expectChange(t, events, changeEvent{rs1, mac1, false})
	if got := lostAt.Load(); got != 4 {
		t.Errorf("forgotten after call %d, want 4 (answered once, then FailAfter = 3 failures)", got)
	}
	if n := conn.count(rs1); n < 6 {
		expectLookup(t, r, rs1, [6]byte{}, false)
	}

	// Still watched: it is found again when it answers.
	expectChange(t, events, changeEvent{rs1, mac1, true})
	expectLookup(t, r, rs1, mac1, true)
}

func TestResolverOneFailureIsForgiven(t *testing.T) {
	conn := newFakeConn()
	// Two failures out of every three calls after the first: never three
	// in a row, so the entry is never forgotten.
	conn.script = func(_ netip.Addr, n int) ([6]byte, bool) { return mac1, n%3 == 1 }
	r, events := startResolver(t, conn, ResolverConfig{Refresh: time.Millisecond, FailAfter: 3}, nil)
	r.Watch([]netip.Addr{rs1})
	expectChange(t, events, changeEvent{rs1, mac1, true})
	for conn.count(rs1) < 12 {
		time.Sleep(time.Millisecond)
	}
	expectNoChange(t, events, 5*time.Millisecond)
	expectLookup(t, r, rs1, mac1, true)
}

func TestResolverWatchRemoves(t *testing.T) {
	conn := newFakeConn()
	conn.set(rs1, mac1)
	conn.set(rs2, mac2)
	r, events := startResolver(t, conn, ResolverConfig{Refresh: 2 * time.Millisecond}, nil)
	r.Watch([]netip.Addr{rs1, rs2})
	got := map[netip.Addr]bool{}
	for range 2 {
		select {
		case ev := <-events:
			got[ev.addr] = ev.ok
		case <-time.After(5 * time.Second):
			t.Fatal("addresses not resolved")
		}
	}
	if !got[rs1] || !got[rs2] {
		t.Fatalf("resolved %v, want both", got)
	}

	r.Watch([]netip.Addr{rs2})
	expectLookup(t, r, rs1, [6]byte{}, false)
	expectLookup(t, r, rs2, mac2, true)
	time.Sleep(10 * time.Millisecond) // let an attempt already in progress finish
	n1, n2 := conn.count(rs1), conn.count(rs2)
	expectNoChange(t, events, 50*time.Millisecond) // no OnChange for the removed address
	if conn.count(rs1) != n1 {
		t.Errorf("removed address asked %d more times", conn.count(rs1)-n1)
	}
	if conn.count(rs2) == n2 {
		t.Errorf("remaining address no longer refreshed")
	}

	// Watching it again starts from scratch.
	r.Watch([]netip.Addr{rs1, rs2})
	expectChange(t, events, changeEvent{rs1, mac1, true})

	r.Watch(nil)
	expectLookup(t, r, rs2, [6]byte{}, false)
}

func TestResolverWatchAddresses(t *testing.T) {
	conn := newFakeConn()
	conn.set(rs1, mac1)
	r, events := startResolver(t, conn, ResolverConfig{}, nil)
	mapped := netip.AddrFrom16(rs1.As16()) // ::ffff:10.77.0.11
	r.Watch([]netip.Addr{mapped, rs1, netip.MustParseAddr("2001:db8::1"), {}})
	expectChange(t, events, changeEvent{rs1, mac1, true})
	expectLookup(t, r, mapped, mac1, true)
	expectNoChange(t, events, 20*time.Millisecond)
	r.mu.RLock()
	n := len(r.entries)
	r.mu.RUnlock()
	if n != 1 {
		t.Errorf("watching %d addresses, want 1 (IPv6 and invalid ignored, duplicates merged)", n)
	}
}

func TestResolverSeed(t *testing.T) {
	conn := newFakeConn()
	conn.set(rs1, mac2)
	conn.set(rs3, mac3)
	seed := map[netip.Addr][6]byte{rs1: mac1, rs3: {2, 0, 0, 0, 0, 0xff}}
	r, err := NewResolver(ResolverConfig{Conn: conn, Seed: seed, Refresh: time.Hour, Retry: 5 * time.Millisecond, Timeout: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan changeEvent, 10)
	r.onChange = func(a netip.Addr, m [6]byte, ok bool) { events <- changeEvent{a, m, ok} }

	// Known from the seed before any ARP.
	r.Watch([]netip.Addr{rs1})
	expectLookup(t, r, rs1, mac1, true)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	expectChange(t, events, changeEvent{rs1, mac1, true}) // the seed, reported
	expectChange(t, events, changeEvent{rs1, mac2, true}) // corrected by ARP

	// The seed served the first Watch only: rs3 gets ARP's answer, never
	// the seed's 02:00:00:00:00:ff. (Whether Lookup still misses right
	// after Watch depends on how fast the resolver runs: not checked.)
	r.Watch([]netip.Addr{rs1, rs3})
	expectChange(t, events, changeEvent{rs3, mac3, true})
}

func TestResolverSeedFailsLikeAnyEntry(t *testing.T) {
	conn := newFakeConn() // nobody answers
	var lostAt atomic.Int64
	r, events := startResolver(t, conn, ResolverConfig{Seed: map[netip.Addr][6]byte{rs1: mac1}, FailAfter: 2},
		func(ev changeEvent) {
			if !ev.ok {
				lostAt.Store(int64(conn.count(rs1)))
			}
		})
	r.Watch([]netip.Addr{rs1})
	expectChange(t, events, changeEvent{rs1, mac1, true})
	expectChange(t, events, changeEvent{rs1, mac1, false})
	if n := lostAt.Load(); n != 2 {
		t.Errorf("seeded entry dropped after %d attempts, want FailAfter = 2", n)
	}
}

// TestResolverNoConcurrentResolve hammers Watch and Lookup while Run works
// and checks that the Conn never saw two Resolve calls at once.
func TestResolverNoConcurrentResolve(t *testing.T) {
	conn := newFakeConn()
	conn.delay = 200 * time.Microsecond
	var addrs []netip.Addr
	for i := range 16 {
		a := netip.AddrFrom4([4]byte{10, 77, 1, byte(i)})
		addrs = append(addrs, a)
		if i%2 == 0 {
			conn.set(a, [6]byte{2, 0, 0, 0, 1, byte(i)})
		}
	}
	r, events := startResolver(t, conn, ResolverConfig{Refresh: time.Millisecond, Retry: time.Millisecond, Timeout: time.Millisecond}, nil)
	go func() { // drain
		for range events {
		}
	}()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				lo := (i + g) % len(addrs)
				r.Watch(addrs[lo:])
				for _, a := range addrs {
					r.Lookup(a)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	total := 0
	for _, a := range addrs {
		total += conn.count(a)
	}
	if total < 10 {
		t.Errorf("only %d Resolve calls; the test did not exercise the loop", total)
	}
	if conn.overlap.Load() {
		t.Errorf("two Resolve calls overlapped on one Conn")
	}

	// A second Run is refused rather than racing the first.
	if err := r.Run(context.Background()); err == nil {
		t.Errorf("second concurrent Run returned nil, want an error")
	}
}

func TestResolverRunStops(t *testing.T) {
	t.Run("cancel interrupts a Resolve", func(t *testing.T) {
		conn := newFakeConn() // silent: Resolve waits for the deadline
		r, err := NewResolver(ResolverConfig{Conn: conn, Timeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		r.Watch([]netip.Addr{rs1})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		for conn.count(rs1) == 0 && conn.inflight.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run still blocked in Resolve after cancel")
		}
		if !conn.isClosed() {
			t.Errorf("Run did not close the Conn")
		}
	})
	t.Run("Close", func(t *testing.T) {
		conn := newFakeConn()
		r, err := NewResolver(ResolverConfig{Conn: conn, Timeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		r.Watch([]netip.Addr{rs1})
		done := make(chan error, 1)
		go func() { done <- r.Run(context.Background()) }()
		for conn.inflight.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Run = %v, want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after Close")
		}
	})
	t.Run("idle", func(t *testing.T) {
		conn := newFakeConn()
		r, err := NewResolver(ResolverConfig{Conn: conn})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := r.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestNewResolverConfig(t *testing.T) {
	conn := newFakeConn()
	for _, tc := range []struct {
		name string
		cfg  ResolverConfig
	}{
		{"no Conn and no Interface", ResolverConfig{}},
		{"negative Refresh", ResolverConfig{Conn: conn, Refresh: -1}},
		{"negative Retry", ResolverConfig{Conn: conn, Retry: -1}},
		{"negative Timeout", ResolverConfig{Conn: conn, Timeout: -1}},
		{"negative FailAfter", ResolverConfig{Conn: conn, FailAfter: -1}},
	} {
		if _, err := NewResolver(tc.cfg); err == nil {
			t.Errorf("%s: NewResolver succeeded, want an error", tc.name)
		}
	}

	r, err := NewResolver(ResolverConfig{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	if r.refresh != DefaultRefresh || r.retry != DefaultRetry || r.timeout != DefaultTimeout || r.failAfter != DefaultFailAfter {
		t.Errorf("defaults = %v %v %v %v", r.refresh, r.retry, r.timeout, r.failAfter)
	}
}

func (c *fakeConn) failWith(err error) {
	c.mu.Lock()
	c.fail = err
	c.mu.Unlock()
}

// TestResolverPausesWhileTheInterfaceIsGoneAndRedials: a client failing as
// a packet socket does once its interface is gone makes the resolver stop
// asking (no spinning, no neighbour declared lost); Redial brings a new
// client and every address is resolved again at once.
func TestResolverPausesWhileTheInterfaceIsGoneAndRedials(t *testing.T) {
	conn1, conn2 := newFakeConn(), newFakeConn()
	conn1.set(rs1, mac1)
	conn2.set(rs1, mac2)
	var dialed atomic.Int32
	cfg := ResolverConfig{Refresh: 5 * time.Millisecond, Dial: func(ifi *net.Interface) (Conn, error) {
		if ifi.Name != "d-eth0" {
			t.Errorf("Dial(%q), want d-eth0", ifi.Name)
		}
		dialed.Add(1)
		return conn2, nil
	}}
	r, events := startResolver(t, conn1, cfg, nil)
	r.Watch([]netip.Addr{rs1})
	expectChange(t, events, changeEvent{rs1, mac1, true})

	conn1.failWith(&net.OpError{Op: "write", Net: "packet", Err: os.NewSyscallError("sendto", syscall.ENXIO)})
	time.Sleep(50 * time.Millisecond)
	before := conn1.count(rs1)
	expectNoChange(t, events, 100*time.Millisecond)
	if after := conn1.count(rs1); after != before {
		t.Errorf("the resolver kept asking on a dead client: %d more attempts in 100ms", after-before)
	}
	expectLookup(t, r, rs1, mac1, true)

	if err := r.Redial(&net.Interface{Name: "d-eth0", Index: 9}); err != nil {
		t.Fatalf("Redial: %v", err)
	}
	expectChange(t, events, changeEvent{rs1, mac2, true})
	if dialed.Load() != 1 {
		t.Errorf("dialed %d times, want 1", dialed.Load())
	}
	deadline := time.Now().Add(time.Second)
	for !conn1.isClosed() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !conn1.isClosed() {
		t.Errorf("the old client was not closed")
	}
}

func TestLinkGone(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{syscall.ENETDOWN, true},
		{&net.OpError{Op: "write", Err: os.NewSyscallError("sendto", syscall.ENXIO)}, true},
		{fmt.Errorf("read: %w", syscall.ENODEV), true},
		{os.ErrDeadlineExceeded, false},
		{net.ErrClosed, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := linkGone(tt.err); got != tt.want {
			t.Errorf("linkGone(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
