package pulse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/ulvs/ulvs/clock"
)

// Role is which of lvs.cf's two directors this one is.
type Role int

const (
	// Primary is the director whose address is lvs.cf's primary (pulse's
	// master: amMaster finds the address on one of its interfaces).
	Primary Role = iota
	// Backup is any other director (pulse binds it to backup's address).
	Backup
)

func (r Role) String() string {
	if r == Primary {
		return "primary"
	}
	return "backup"
}

// Transport carries heartbeats to and from the partner.
type Transport interface {
	// Send sends one heartbeat datagram to the partner (and to its
	// private address when there is one).
	Send(msg []byte) error
	// Receive reads one datagram into buf and returns its length and
	// source. It blocks; after Close it returns an error.
	Receive(buf []byte) (n int, from netip.Addr, err error)
	Close() error
}

// Clock is the time source; nil in Config is the real clock.
type Clock = clock.Clock

// Config configures a Node.
type Config struct {
	Role Role
	// Partner is the other director's address (backup for the primary,
	// primary for the backup) and PartnerPrivate its private heartbeat
	// address (invalid or equal to Partner when none): heartbeats from
	// any other source are ignored, as pulse ignores them.
	Partner, PartnerPrivate netip.Addr
	// BackupActive is backup_active. Without it the primary sends no
	// heartbeat and becomes active after Deadtime; a backup refuses to
	// run (pulse exits there).
	BackupActive bool
	// Keepalive and Deadtime are lvs.cf's keepalive and deadtime.
	Keepalive, Deadtime time.Duration
	// FailBack makes an inactive primary that hears a running backup
	// take over (the backup then steps down, as pulse's backup does when
	// it hears a running primary). Piranha's pulse itself never does
	// this: its restarted primary stays inactive while the backup runs.
	FailBack  bool
	Transport Transport
	Clock     Clock
	// Log receives pulse's log lines; nil discards.
	Log *slog.Logger
	// OnTransition is called (on Run's goroutine, no lock held) after
	// each change of Active: the caller takes or releases the VIPs.
	OnTransition func(Transition)
	// MonitorLinks is lvs.cf's monitor_links: SetLinksUp(false) makes
	// this director give up the active role and refuse it until
	// SetLinksUp(true), as pulse's check_links does. Without it
	// SetLinksUp only records the state.
	MonitorLinks bool
	// StartActive starts the node active, without a transition (the
	// caller already serves the VIPs): a reloaded configuration on a
	// director that was active, so the partner sees no change.
	StartActive bool
	// OnAnnounce is called when the active primary hears an active
	// partner ("partner active: resending arps"): the caller sends
	// gratuitous ARPs for the VIPs again. Taking over is announced
	// through OnTransition.
	OnAnnounce func()
}

// Transition is a change between active and inactive.
type Transition struct {
	Active bool
	At     time.Time
	// Reason is pulse's: "partner dead", "backup inactive", "primary
	// inactive", "partner active", "backup active: failing back",
	// "local link failure", "stopped".
	Reason string
}

// Counters are the node's statistics.
type Counters struct {
	Sent, SendErrors, Received uint64
	// Ignored counts datagrams from other addresses; Bad those that
	// Decode refused.
	Ignored, Bad uint64
}

// Status is what `ulvs ha` shows.
type Status struct {
	Role    Role
	Active  bool
	Partner netip.Addr
	// PartnerSeen is when the last heartbeat came (zero: never) and
	// PartnerState what it said.
	PartnerSeen    time.Time
	PartnerState   Magic
	LastTransition time.Time
	Reason         string
	// LastError is the last refused datagram's error.
	LastError string
	// LinkFailed is pulse's LINKFAIL (monitor_links): a monitored link
	// is down, and this director will not become active until it is
	// back. LinkDown names the links that are down.
	LinkFailed bool
	LinkDown   string
	Counters   Counters
}

// Node runs pulse's heartbeat loop for one director. Status is safe for
// concurrent use.
type Node struct {
	cfg   Config
	clock Clock
	log   *slog.Logger

	mu sync.Mutex
	st Status
	// sendAt and needAt are pulse's sendHeartBeat and needHeartBeat.
	sendAt, needAt time.Time
	pending        []Transition
	announce       bool
	// linksUp and linkDown are the last SetLinksUp; linkEv wakes Run to
	// apply it.
	linksUp  bool
	linkDown string
	linkEv   chan struct{}
}

// New checks cfg and returns a Node.
func New(cfg Config) (*Node, error) {
	switch {
	case cfg.Transport == nil:
		return nil, errors.New("pulse: no transport")
	case cfg.Keepalive <= 0 || cfg.Deadtime <= 0:
		return nil, fmt.Errorf("pulse: keepalive %v and deadtime %v must be positive", cfg.Keepalive, cfg.Deadtime)
	case cfg.Role == Backup && !cfg.BackupActive:
		return nil, errors.New("pulse: this director is the backup and backup_active = 0 (pulse exits on such a backup)")
	case cfg.BackupActive && !cfg.Partner.IsValid():
		return nil, fmt.Errorf("pulse: the %s has no partner address", cfg.Role)
	}
	n := &Node{cfg: cfg, clock: cfg.Clock, log: cfg.Log, linksUp: true, linkEv: make(chan struct{}, 1)}
	if n.clock == nil {
		n.clock = clock.Real{}
	}
	if n.log == nil {
		n.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n.st.Role, n.st.Partner = cfg.Role, cfg.Partner
	return n, nil
}

// Status returns the node's state.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st
}

// SetLinksUp records whether every monitored link (the interfaces of
// this director's public and private heartbeat addresses) is up; down
// names those that are not, for the log and Status. Run applies it (at
// once when it runs, else when it starts): with MonitorLinks a failure
// deactivates an active director ("local link failure") and keeps it
// inactive until the links are back, as pulse's PULSE_FLAG_LINKFAIL
// does. Heartbeats go on meanwhile (stopped), so a partner that hears
// them takes over at once. Safe for concurrent use.
func (n *Node) SetLinksUp(up bool, down string) {
	n.mu.Lock()
	n.linksUp, n.linkDown = up, down
	n.mu.Unlock()
	select {
	case n.linkEv <- struct{}{}:
	default:
	}
}

// applyLinks follows the last SetLinksUp.
func (n *Node) applyLinks(now time.Time) {
	if !n.cfg.MonitorLinks {
		return
	}
	switch {
	case !n.linksUp && !n.st.LinkFailed:
		n.st.LinkFailed, n.st.LinkDown = true, n.linkDown
		n.log.Warn("Local NIC link failure: Pulse disabled", "down", n.linkDown)
		if n.st.Active {
			n.setActive(now, false, "local link failure")
		}
	case !n.linksUp:
		n.st.LinkDown = n.linkDown
	case n.linksUp && n.st.LinkFailed:
		n.st.LinkFailed, n.st.LinkDown = false, ""
		n.log.Info("Local NIC link(s) restored: Pulse enabled")
		// The silence while the link was down says nothing of the
		// partner: wait for its heartbeat, or a whole deadtime, before
		// declaring it dead (the later pulse waits the same way after a
		// link failure).
		n.needAt = now.Add(n.cfg.Deadtime)
	}
}

// mayActivate reports whether the director may become active: not while
// a monitored link is down.
func (n *Node) mayActivate() bool { return !n.st.LinkFailed }

type datagram struct {
	b    []byte
	from netip.Addr
}

// Run runs until ctx is done (or the transport fails), then closes the
// transport and, when active, becomes inactive ("stopped"). It sends no
// farewell heartbeat, as pulse sends none on SIGTERM: the partner takes
// over after Deadtime.
func (n *Node) Run(ctx context.Context) error {
	rx := make(chan datagram, 16)
	rxErr := make(chan error, 1)
	go func() {
		for {
			buf := make([]byte, 64)
			k, from, err := n.cfg.Transport.Receive(buf)
			if err != nil {
				rxErr <- err
				return
			}
			select {
			case rx <- datagram{buf[:k], from}:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer n.cfg.Transport.Close()

	n.do(func(now time.Time) {
		n.start(now)
		n.applyLinks(now)
	})
	for {
		n.mu.Lock()
		next := n.sendAt
		if n.needAt.Before(next) {
			next = n.needAt
		}
		n.mu.Unlock()
		wait := next.Sub(n.clock.Now())
		if wait < 0 {
			wait = 0
		}
		select {
		case <-ctx.Done():
			n.do(func(now time.Time) {
				if n.st.Active {
					n.setActive(now, false, "stopped")
				}
			})
			return ctx.Err()
		case err := <-rxErr:
			return fmt.Errorf("pulse: receiving heartbeats: %w", err)
		case d := <-rx:
			n.do(func(now time.Time) { n.receive(now, d) })
		case <-n.linkEv:
			n.do(n.applyLinks)
		case <-n.clock.After(wait):
			n.do(n.tick)
		}
	}
}

// do runs fn under the lock, then the callbacks it queued without it.
func (n *Node) do(fn func(now time.Time)) {
	n.mu.Lock()
	fn(n.clock.Now())
	ts, ann := n.pending, n.announce
	n.pending, n.announce = nil, false
	n.mu.Unlock()
	for _, t := range ts {
		if n.cfg.OnTransition != nil {
			n.cfg.OnTransition(t)
		}
	}
	if ann && n.cfg.OnAnnounce != nil {
		n.cfg.OnAnnounce()
	}
}

func (n *Node) start(now time.Time) {
	n.sendAt = now.Add(n.cfg.Keepalive)
	n.needAt = now.Add(n.cfg.Deadtime)
	if n.cfg.StartActive {
		n.st.Active, n.st.LastTransition, n.st.Reason = true, now, "reload: was active"
	}
	n.log.Info("starting pulse as "+n.cfg.Role.String(), "partner", n.cfg.Partner.String(),
		"keepalive", n.cfg.Keepalive.String(), "deadtime", n.cfg.Deadtime.String())
}

// tick handles whichever of pulse's two timers is due.
func (n *Node) tick(now time.Time) {
	if !now.Before(n.sendAt) {
		n.send()
		n.sendAt = now.Add(n.cfg.Keepalive)
	}
	if !now.Before(n.needAt) {
		if !n.st.Active && n.mayActivate() {
			n.setActive(now, true, "partner dead")
		}
		n.needAt = now.Add(n.cfg.Deadtime)
	}
}

// send sends the heartbeat of the current state (none without a backup).
func (n *Node) send() {
	if !n.cfg.BackupActive {
		return
	}
	m := Stopped
	if n.st.Active {
		m = Running
	}
	if err := n.cfg.Transport.Send(Encode(m)); err != nil {
		n.st.Counters.SendErrors++
		n.log.Debug("failed to send heartbeat", "err", err)
		return
	}
	n.st.Counters.Sent++
}

func (n *Node) receive(now time.Time, d datagram) {
	if d.from != n.cfg.Partner && (!n.cfg.PartnerPrivate.IsValid() || d.from != n.cfg.PartnerPrivate) {
		n.st.Counters.Ignored++
		n.log.Debug("unexpected heartbeat", "from", d.from.String())
		return
	}
	m, err := Decode(d.b)
	if err != nil {
		n.st.Counters.Bad++
		n.st.LastError = err.Error()
		n.log.Warn("bad heartbeat", "from", d.from.String(), "err", err)
		return
	}
	n.st.Counters.Received++
	n.st.PartnerSeen, n.st.PartnerState = now, m
	primary := n.cfg.Role == Primary
	switch m {
	case Running, StopMe:
		switch {
		case n.st.Active && !primary:
			// Both run and we are the backup: one last heartbeat so the
			// primary re-announces, then step down.
			n.send()
			n.setActive(now, false, "partner active")
		case n.st.Active && primary:
			n.log.Info("partner active: resending arps")
			n.announce = true
		case !n.st.Active && primary && n.cfg.FailBack && n.mayActivate():
			n.setActive(now, true, "backup active: failing back")
		}
	case Stopped:
		if !n.st.Active && n.mayActivate() {
			why := "primary inactive"
			if primary {
				why = "backup inactive"
			}
			n.setActive(now, true, why)
		}
	}
	n.needAt = now.Add(n.cfg.Deadtime)
}

func (n *Node) setActive(now time.Time, active bool, why string) {
	n.st.Active = active
	n.st.LastTransition, n.st.Reason = now, why
	n.pending = append(n.pending, Transition{Active: active, At: now, Reason: why})
	verb := "activating lvs"
	if !active {
		verb = "deactivating lvs"
	}
	n.log.Info(why + ": " + verb)
}
