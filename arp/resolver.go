package arp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for the zero values of [ResolverConfig].
const (
	DefaultRefresh   = 30 * time.Second
	DefaultRetry     = time.Second
	DefaultTimeout   = 500 * time.Millisecond
	DefaultFailAfter = 3
)

// Conn is the part of an ARP client the [Resolver] uses.
// *github.com/mdlayher/arp.Client satisfies it. Resolve sends a request for
// ip and waits for the matching reply until the deadline last set with
// SetDeadline. The Resolver never calls Resolve concurrently with itself;
// SetDeadline and Close may be called while a Resolve is in progress, to
// interrupt it.
type Conn interface {
	Resolve(ip netip.Addr) (net.HardwareAddr, error)
	SetDeadline(t time.Time) error
	Close() error
}

// ResolverConfig configures a [Resolver]. Zero values mean the defaults.
type ResolverConfig struct {
	// Conn is the ARP client. If nil, NewResolver dials
	// github.com/mdlayher/arp on Interface, which needs an IPv4 address
	// on that interface, and the Resolver owns the client.
	Conn Conn
	// Interface is the interface to resolve on; required when Conn is nil.
	Interface *net.Interface
	// Dial makes the ARP client for Redial (and for NewResolver when Conn
	// is nil); nil means github.com/mdlayher/arp's. It runs on the
	// caller's thread, so in the caller's network namespace.
	Dial func(*net.Interface) (Conn, error)

	// Refresh is how often each resolved address is resolved again
	// (default 30s).
	Refresh time.Duration
	// Retry is how often an unresolved address, or a resolved one whose
	// refresh failed, is tried again (default 1s).
	Retry time.Duration
	// Timeout bounds each attempt (default 500ms).
	Timeout time.Duration
	// FailAfter is the number of consecutive failed attempts after which
	// a resolved address is forgotten (default 3). With the defaults a
	// real server that stops answering loses its MAC within about
	// Refresh + 2*Retry + 3*Timeout.
	FailAfter int

	// Seed holds neighbour entries known before any ARP, such as
	// ReadNeighbours returns. Addresses in the first Watch call that have
	// a seed entry are known at once (and reported through OnChange), then
	// confirmed by ARP right away like any new address. Later Watch calls
	// do not use the seed: it would be stale by then. If Seed is nil and
	// Conn is nil, NewResolver reads ReadNeighbours(Interface.Name) itself.
	Seed map[netip.Addr][6]byte

	// OnChange, if not nil, is called from the goroutine running Run when
	// a watched address gets a MAC (ok true), gets a different MAC (ok
	// true), or loses its MAC after FailAfter failed attempts (ok false,
	// mac the MAC it had). It is not called for addresses Watch removes.
	// It may call Lookup and Watch; resolution waits while it runs.
	OnChange func(addr netip.Addr, mac [6]byte, ok bool)

	// Logger receives resolution events; nil discards them.
	Logger *slog.Logger

	// IPv6 makes the resolver watch IPv6 addresses instead of IPv4
	// ones: Dial must then make a neighbour-discovery client (package
	// ndp's Conn), and no neighbour table seed is read.
	IPv6 bool
}

// A Resolver keeps a set of IPv4 addresses resolved to MAC addresses on one
// interface, for forwarding to real servers.
//
// Create it with [NewResolver] and run [Resolver.Run] in one goroutine. All
// ARP traffic happens in Run, one request at a time, so the ARP client is
// never used concurrently. Watch, Lookup and Close are safe for concurrent
// use with each other and with Run. The zero value is not usable.
type Resolver struct {
	ipv6      bool // watches IPv6 addresses (ResolverConfig.IPv6)
	conn      Conn
	refresh   time.Duration
	retry     time.Duration
	timeout   time.Duration
	failAfter int
	onChange  func(netip.Addr, [6]byte, bool)
	log       *slog.Logger

	wake      chan struct{} // capacity 1: Watch asks Run to look again
	dial      func(*net.Interface) (Conn, error)
	running   atomic.Bool
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	mu      sync.RWMutex
	entries map[netip.Addr]*entry // the watched set
	seed    map[netip.Addr][6]byte

	// connMu guards conn and next: Run swaps in the client Redial made
	// (next) at the top of its loop. linkDown is Run's own: the client
	// failed as it does when its interface is gone or down, so Run makes
	// no attempts until Redial.
	connMu   sync.Mutex
	next     Conn
	linkDown bool
}

// entry is the state of one watched address. It is guarded by Resolver.mu.
type entry struct {
	mac     [6]byte
	known   bool      // mac is valid
	pending bool      // known was set from the seed and OnChange has not run yet
	fails   int       // consecutive failed attempts while known
	due     time.Time // next attempt; zero means now
}

// NewResolver validates cfg and returns a Resolver. When cfg.Conn is nil it
// dials the ARP client and reads the neighbour table before returning, so
// both happen in the network namespace of the calling OS thread; see the
// package documentation.
func NewResolver(cfg ResolverConfig) (*Resolver, error) {
	r := &Resolver{
		refresh:   cfg.Refresh,
		retry:     cfg.Retry,
		timeout:   cfg.Timeout,
		failAfter: cfg.FailAfter,
		onChange:  cfg.OnChange,
		log:       cfg.Logger,
		wake:      make(chan struct{}, 1),
		entries:   make(map[netip.Addr]*entry),
		seed:      cfg.Seed,
		dial:      cfg.Dial,
		ipv6:      cfg.IPv6,
	}
	if r.refresh < 0 || r.retry < 0 || r.timeout < 0 || r.failAfter < 0 {
		return nil, fmt.Errorf("arp: new resolver: negative Refresh, Retry, Timeout or FailAfter")
	}
	if r.refresh == 0 {
		r.refresh = DefaultRefresh
	}
	if r.retry == 0 {
		r.retry = DefaultRetry
	}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.failAfter == 0 {
		r.failAfter = DefaultFailAfter
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.dial == nil {
		r.dial = func(ifi *net.Interface) (Conn, error) { return dial(ifi) }
	}
	r.conn = cfg.Conn
	if r.conn == nil {
		if cfg.Interface == nil {
			return nil, errors.New("arp: new resolver: neither Conn nor Interface is set")
		}
		c, err := r.dial(cfg.Interface)
		if err != nil {
			return nil, fmt.Errorf("arp: new resolver: dial ARP client on %s: %w", cfg.Interface.Name, err)
		}
		r.conn = c
		if r.seed == nil && !r.ipv6 {
			r.seed = ReadNeighbours(cfg.Interface.Name)
		}
	}
	return r, nil
}

// Watch replaces the set of addresses to keep resolved. Addresses already
// watched keep their state; new ones are resolved promptly; removed ones are
// forgotten without calling OnChange. IPv4-mapped IPv6 addresses are
// unmapped; addresses of the other family (IPv6, or IPv4 for a resolver
// made with ResolverConfig.IPv6) are ignored. Watch does not keep addrs.
func (r *Resolver) Watch(addrs []netip.Addr) {
	r.mu.Lock()
	next := make(map[netip.Addr]*entry, len(addrs))
	added := false
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() == r.ipv6 {
			continue // the other family's resolver watches it
		}
		if _, ok := next[a]; ok {
			continue
		}
		if e, ok := r.entries[a]; ok {
			next[a] = e
			continue
		}
		e := &entry{}
		if mac, ok := r.seed[a]; ok {
			e.mac, e.known, e.pending = mac, true, true
		}
		next[a] = e
		added = true
	}
	r.entries = next
	r.seed = nil
	r.mu.Unlock()
	if added {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// Lookup returns the MAC address of addr if addr is watched and resolved.
func (r *Resolver) Lookup(addr netip.Addr) ([6]byte, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[addr.Unmap()]
	if !ok || !e.known {
		return [6]byte{}, false
	}
	return e.mac, true
}

// Close closes the ARP client, which interrupts a Run in progress (Run then
// returns net.ErrClosed). Run closes the client itself when it returns, so
// Close is only needed when Run never ran. Close may be called more than
// once; later calls return the first result.
func (r *Resolver) Close() error {
	r.closeOnce.Do(func() {
		r.connMu.Lock()
		defer r.connMu.Unlock()
		r.closed.Store(true)
		r.closeErr = r.conn.Close()
		if r.next != nil {
			r.next.Close()
			r.next = nil
		}
	})
	return r.closeErr
}

// Redial dials a new ARP client on ifi and makes Run use it instead of the
// current one, which Run closes: for an interface that was deleted and
// made again, or went down and up, since the old client's socket stays
// bound to what is gone. It dials on the calling thread, which must be in
// ifi's network namespace. Watched addresses keep their MACs and are all
// resolved again at once. Safe for concurrent use with Run.
func (r *Resolver) Redial(ifi *net.Interface) error {
	c, err := r.dial(ifi)
	if err != nil {
		return fmt.Errorf("arp: redial on %s: %w", ifi.Name, err)
	}
	r.connMu.Lock()
	if r.closed.Load() {
		r.connMu.Unlock()
		c.Close()
		return net.ErrClosed
	}
	old := r.next
	r.next = c
	// Cut a Resolve on the old client short.
	r.conn.SetDeadline(time.Unix(1, 0))
	r.connMu.Unlock()
	if old != nil {
		old.Close()
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// takeNext makes the client Redial left the current one. Only Run calls
// it.
func (r *Resolver) takeNext() {
	r.connMu.Lock()
	c := r.next
	if c == nil {
		r.connMu.Unlock()
		return
	}
	old := r.conn
	r.conn, r.next = c, nil
	r.connMu.Unlock()
	old.Close()
	r.linkDown = false
	r.mu.Lock()
	for _, e := range r.entries {
		e.due = time.Time{}
	}
	r.mu.Unlock()
	r.log.Info("arp: new client on the interface, resolving every address again")
}

// hasNext reports whether Redial left a client for Run.
func (r *Resolver) hasNext() bool {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	return r.next != nil
}

// linkGone reports whether err is what a packet socket returns once its
// interface is gone or down (ENETDOWN, ENXIO, ENODEV): retrying on that
// client is useless until Redial.
func linkGone(err error) bool {
	return errors.Is(err, syscall.ENETDOWN) || errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.ENODEV)
}

// Run resolves watched addresses until ctx is done or the Resolver is
// closed, then closes the ARP client. It returns ctx.Err() or net.ErrClosed.
// Only one Run may be active; a second concurrent call returns an error.
func (r *Resolver) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("arp: Resolver.Run is already running")
	}
	defer r.running.Store(false)
	defer r.Close()

	// Cancelling ctx cuts a Resolve in progress short instead of waiting
	// out its Timeout.
	stop := context.AfterFunc(ctx, func() {
		r.connMu.Lock()
		r.conn.SetDeadline(time.Unix(1, 0))
		r.connMu.Unlock()
	})
	defer stop()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.closed.Load() {
			return net.ErrClosed
		}
		r.deliverPending()
		r.takeNext()

		addr, e, wait := r.nextDue(time.Now())
		if r.linkDown {
			e, wait = nil, 0 // wait for Redial (or ctx)
		}
		if e == nil {
			var tc <-chan time.Time
			if wait > 0 {
				timer.Reset(wait)
				tc = timer.C
			}
			select {
			case <-ctx.Done():
			case <-r.wake:
			case <-tc:
			}
			timer.Stop()
			continue
		}

		mac, err := r.resolveOnce(addr)
		if ctx.Err() != nil || r.hasNext() {
			continue // the attempt was cut short; don't count it
		}
		if r.closed.Load() {
			return net.ErrClosed
		}
		if err != nil && linkGone(err) {
			// Not the neighbour's fault: keep every MAC as it is and stop
			// asking until the interface is back (Redial).
			r.log.Warn("arp: the interface is gone or down; resolution paused until it is back", "err", err)
			r.linkDown = true
			continue
		}
		r.record(addr, e, mac, err, time.Now())
	}
}

// resolveOnce makes one bounded attempt to resolve addr. Only Run calls it.
func (r *Resolver) resolveOnce(addr netip.Addr) ([6]byte, error) {
	if err := r.conn.SetDeadline(time.Now().Add(r.timeout)); err != nil {
		return [6]byte{}, fmt.Errorf("set deadline: %w", err)
	}
	hw, err := r.conn.Resolve(addr)
	if err != nil {
		return [6]byte{}, err
	}
	if len(hw) != hwAddrLen {
		return [6]byte{}, fmt.Errorf("reply has a %d-byte hardware address", len(hw))
	}
	return [6]byte(hw), nil
}

// nextDue returns the watched address whose attempt is most overdue, or, if
// none is due at now, how long until the next one is (0: nothing watched).
func (r *Resolver) nextDue(now time.Time) (netip.Addr, *entry, time.Duration) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var (
		best     netip.Addr
		bestE    *entry
		earliest time.Time
	)
	for a, e := range r.entries {
		if bestE == nil || e.due.Before(earliest) || (e.due.Equal(earliest) && a.Less(best)) {
			best, bestE, earliest = a, e, e.due
		}
	}
	if bestE == nil {
		return netip.Addr{}, nil, 0
	}
	if earliest.After(now) {
		return netip.Addr{}, nil, earliest.Sub(now)
	}
	return best, bestE, 0
}

// change is one OnChange call to make.
type change struct {
	addr netip.Addr
	mac  [6]byte
	ok   bool
}

// deliverPending reports seeded entries that OnChange has not heard of yet.
func (r *Resolver) deliverPending() {
	var cs []change
	r.mu.Lock()
	for a, e := range r.entries {
		if e.pending {
			e.pending = false
			cs = append(cs, change{a, e.mac, true})
		}
	}
	r.mu.Unlock()
	for _, c := range cs {
		r.log.Info("arp: neighbour from the kernel table", "addr", c.addr, "mac", net.HardwareAddr(c.mac[:]).String())
		r.notify(c)
	}
}

// record applies the outcome of one attempt for addr to e, if e is still
// the watched entry for addr, and calls OnChange when the MAC changed.
func (r *Resolver) record(addr netip.Addr, e *entry, mac [6]byte, err error, now time.Time) {
	var c *change
	r.mu.Lock()
	if r.entries[addr] != e { // removed (or removed and added again) meanwhile
		r.mu.Unlock()
		return
	}
	switch {
	case err == nil:
		if !e.known || e.mac != mac || e.pending {
			if e.known && e.mac != mac {
				r.log.Info("arp: neighbour changed MAC", "addr", addr, "old", net.HardwareAddr(e.mac[:]).String(), "mac", net.HardwareAddr(mac[:]).String())
			} else {
				r.log.Info("arp: neighbour resolved", "addr", addr, "mac", net.HardwareAddr(mac[:]).String())
			}
			c = &change{addr, mac, true}
		}
		e.mac, e.known, e.pending, e.fails = mac, true, false, 0
		e.due = now.Add(r.refresh)
	case e.known:
		e.fails++
		e.due = now.Add(r.retry)
		r.log.Debug("arp: refresh failed", "addr", addr, "fails", e.fails, "err", err)
		if e.fails >= r.failAfter {
			r.log.Warn("arp: neighbour lost", "addr", addr, "mac", net.HardwareAddr(e.mac[:]).String(), "fails", e.fails, "err", err)
			if !e.pending {
				c = &change{addr, e.mac, false}
			}
			e.known, e.pending, e.fails = false, false, 0
		}
	default:
		e.due = now.Add(r.retry)
		r.log.Debug("arp: resolve failed", "addr", addr, "err", err)
	}
	r.mu.Unlock()
	if c != nil {
		r.notify(*c)
	}
}

func (r *Resolver) notify(c change) {
	if r.onChange != nil {
		r.onChange(c.addr, c.mac, c.ok)
	}
}
