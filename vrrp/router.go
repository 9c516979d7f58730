package vrrp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/ulvs/ulvs/clock"
)

// Transport carries VRRP messages for one instance. Implementations: the
// Linux raw socket (Listen) and in-memory fakes in tests.
type Transport interface {
	// Send sends msg (a VRRP message; the transport adds the IPv4 header
	// with TTL 255 and Source as source) to dst (224.0.0.18 or a unicast
	// peer). For an auth_type AH instance msg is instead the whole IPv4
	// packet (protocol 51, header included: the ICV covers it), which the
	// transport sends as it is (TransportConfig.AH). msg is only valid
	// during the call.
	Send(msg []byte, dst netip.Addr) error
	// Receive reads one IPv4 packet (header included) into buf and returns
	// its length and the TTL it arrived with (-1 when unknown: the header's
	// TTL is then used). It blocks; after Close it returns an error.
	Receive(buf []byte) (n int, ttl int, err error)
	// Source is the address adverts are sent from (the interface's
	// primary address, or unicast_src_ip).
	Source() netip.Addr
	Close() error
}

// Clock is the time source of Run. Tests use a fake.
type Clock = clock.Clock

// Transition is a state change.
type Transition struct {
	Instance string
	From, To State
	At       time.Time
	// Reason says why ("master down timer expired", "higher priority
	// advert from 10.0.0.2 (prio 150)", "priority 0 advert from ...",
	// "track_interface eth1 down", "stopped", ...).
	Reason string
	// Priority is the effective priority after the change.
	Priority uint8
}

// GARP asks the caller to send gratuitous ARPs for the instance's
// addresses (announced and excluded) on becoming master, as keepalived
// does: Count ARPs per address now.
type GARP struct {
	Instance string
	// Interface is the instance's interface (a VIP's own Dev wins for it).
	Interface string
	VIPs      []VIP
	Count     int
	// Why is "master", "master delay" or "refresh".
	Why string
}

// Config configures a Router.
type Config struct {
	Instance  Instance
	Transport Transport
	// Clock is nil for the real clock.
	Clock Clock
	// Log receives keepalived's log lines; nil discards.
	Log *slog.Logger
	// OnTransition is called (on the Router's goroutine, with no lock
	// held) after each state change: on MASTER the caller takes the VIPs
	// (answers ARP, forwards); on leaving MASTER it releases them.
	OnTransition func(Transition)
	// OnGARP is called when gratuitous ARPs are due.
	OnGARP func(GARP)
	// RunNotify runs a notify program (argv) without waiting for it; nil
	// starts it with os/exec and reaps it in the background.
	RunNotify func(argv []string)
	// Group is the vrrp_sync_group the instance belongs to (nil: none).
	Group *Group
	// ResumeMaster starts the instance as MASTER at once (unless it is
	// in FAULT or its sync group holds it back), as keepalived's reload
	// keeps a master master: a configuration reload replaces the Router
	// of an instance that was master here.
	ResumeMaster bool
}

// Counters are the instance's statistics (keepalived's vrrp stats).
type Counters struct {
	AdvertsReceived      uint64
	AdvertsSent          uint64
	BecameMaster         uint64
	ReleasedMaster       uint64
	PriorityZeroReceived uint64
	PriorityZeroSent     uint64
	SendErrors           uint64
	// Errors counts received packets per Reason (ReasonAddrCount and
	// ReasonAddrList are counted but the advert is still used).
	Errors [NumReasons]uint64
}

// logSendError and logSyncWait are rate-limit flags past the Reasons: send
// errors, and waiting for the sync group.
const (
	logSendError = reasonCount + 1
	logSyncWait  = reasonCount + 2
)

// NumReasons is the number of Reason values (the length of
// Counters.Errors).
const NumReasons = int(reasonCount)

// Status is what `ulvs ha` shows for one instance.
type Status struct {
	Name      string
	Interface string
	VRID      uint8
	Version   Version
	State     State
	// Priority is the configured priority; EffectivePriority adds the
	// track weights.
	Priority          uint8
	EffectivePriority uint8
	// MasterAddr and MasterPriority are the master last seen (ourselves
	// while master); MasterAddr is invalid when none was seen.
	MasterAddr     netip.Addr
	MasterPriority uint8
	// LastTransition and Reason: when and why the state last changed.
	LastTransition time.Time
	Reason         string
	// Faults lists what keeps the instance in FAULT (its own faults, and
	// other members' of its sync group).
	Faults []string
	// SyncGroup names the vrrp_sync_group the instance belongs to.
	SyncGroup string
	// Interval is the time between adverts (advert_int; pulse's
	// keepalive between heartbeats); DeadTime, when not 0, the silence
	// after which the partner is declared dead (pulse's deadtime).
	Interval time.Duration
	DeadTime time.Duration `json:",omitempty"`
	Counters Counters
}

// Router runs one VRRP instance. Create it with New, run it with Run.
// Status, SetInterfaceUp and ScriptResult are safe for concurrent use.
type Router struct {
	cfg   Config
	in    Instance
	clock Clock
	log   *slog.Logger
	src   netip.Addr

	mu             sync.Mutex
	state          State
	effPrio        uint8
	masterAdverInt time.Duration
	masterAddr     netip.Addr
	masterPrio     uint8
	advertAt       time.Time // MASTER: next advert
	downAt         time.Time // BACKUP: master down timer
	preemptAt      time.Time // BACKUP: preempt_delay ends (zero = not running)
	garps          []garpDue // MASTER: pending gratuitous ARP bursts
	lastChange     time.Time
	reason         string
	ifDown         map[string]bool
	scripts        map[string]*scriptState
	counters       Counters
	logged         map[Reason]bool // keepalived's rate-limited log flags
	loggedVRID     map[uint8]bool
	pending        []func() // callbacks to run after unlocking
	sendBuf        []byte
	ahBuf          []byte
	ahSeq          uint32 // auth_type AH: the sequence counter (ah.go)
	ipID           uint16 // auth_type AH: the IP identification last sent
	started        bool
	retired        bool          // Retire: stop without a priority-0 advert
	wakeCh         chan struct{} // input changes wake Run
}

type garpDue struct {
	at    time.Time
	count int
	why   string
}

// New checks the configuration and returns a Router in INIT.
func New(cfg Config) (*Router, error) {
	in, err := cfg.Instance.Validate()
	if err != nil {
		return nil, err
	}
	if cfg.Transport == nil {
		return nil, fmt.Errorf("vrrp_instance %s: no transport", in.Name)
	}
	r := &Router{cfg: cfg, in: in, clock: cfg.Clock, log: cfg.Log,
		state: StateInit, ifDown: map[string]bool{}, scripts: map[string]*scriptState{},
		logged: map[Reason]bool{}, loggedVRID: map[uint8]bool{}, wakeCh: make(chan struct{}, 1)}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r.src = in.UnicastSrc
	if !r.src.IsValid() {
		r.src = cfg.Transport.Source()
	}
	if in.IPv6 && !r.src.Is6() || !in.IPv6 && !r.src.Is4() {
		return nil, fmt.Errorf("vrrp_instance %s: no source address of the instance's family (interface %s has none?): %v", in.Name, in.Interface, r.src)
	}
	for _, t := range in.TrackScripts {
		r.scripts[t.Script.Name] = &scriptState{track: t, result: t.Script.Rise - 1, init: true}
	}
	r.masterAdverInt = in.AdvertInt
	r.effPrio = r.computePriority()
	if cfg.Group != nil {
		if err := cfg.Group.join(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Instance returns the validated instance (defaults filled in).
func (r *Router) Instance() Instance { return r.in }

func (r *Router) logf(format string, args ...any) {
	r.log.Info(fmt.Sprintf("("+r.in.Name+") "+format, args...))
}

// logOnce logs a receive error once until the next state change or newly
// accepted master, as keepalived's log_rate_limited_error does.
func (r *Router) logOnce(reason Reason, format string, args ...any) {
	if r.logged[reason] {
		return
	}
	r.logged[reason] = true
	r.logf(format, args...)
}

// Run starts the instance and runs it until ctx ends; then, if master, it
// sends a priority-0 advert (so a backup takes over after its skew time)
// and releases the addresses, and enters STOP. It closes the transport.
func (r *Router) Run(ctx context.Context) error {
	type rx struct {
		b   []byte
		ttl int
	}
	pkts := make(chan rx, 16)
	rxErr := make(chan error, 1)
	go func() {
		for {
			buf := make([]byte, 1500)
			n, ttl, err := r.cfg.Transport.Receive(buf)
			if err != nil {
				rxErr <- err
				return
			}
			select {
			case pkts <- rx{buf[:n], ttl}:
			case <-ctx.Done():
				return
			}
		}
	}()
	r.do(func(now time.Time) { r.start(now) })
	defer r.cfg.Transport.Close()
	for {
		r.mu.Lock()
		next := r.deadline()
		r.mu.Unlock()
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = r.clock.After(max(next.Sub(r.clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			r.do(func(now time.Time) { r.stop(now) })
			return nil
		case p := <-pkts:
			r.do(func(now time.Time) { r.receive(now, p.b, p.ttl) })
		case err := <-rxErr:
			r.do(func(now time.Time) { r.stop(now) })
			return fmt.Errorf("vrrp_instance %s: receive: %w", r.in.Name, err)
		case <-timer:
			r.do(func(now time.Time) { r.expire(now) })
		case <-r.wakeCh:
		}
	}
}

// do runs fn under the lock at the clock's now, then the callbacks it
// queued without the lock.
func (r *Router) do(fn func(now time.Time)) {
	r.mu.Lock()
	fn(r.clock.Now())
	cbs := r.pending
	r.pending = nil
	r.mu.Unlock()
	for _, cb := range cbs {
		cb()
	}
}

// poke makes Run recompute its deadline after an input change.
func (r *Router) poke() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// Status returns a snapshot of the instance.
func (r *Router) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Status{Name: r.in.Name, Interface: r.in.Interface, VRID: r.in.VRID, Version: r.in.Version,
		State: r.state, Priority: r.in.Priority, EffectivePriority: r.effPrio,
		MasterAddr: r.masterAddr, MasterPriority: r.masterPrio,
		LastTransition: r.lastChange, Reason: r.reason, Faults: r.allFaults(), Counters: r.counters,
		Interval: r.in.AdvertInt}
	if g := r.cfg.Group; g != nil {
		s.SyncGroup = g.Name()
	}
	if r.state == StateMaster {
		s.MasterAddr, s.MasterPriority = r.src, r.effPrio
	}
	return s
}

// SetInterfaceUp reports the link state of a tracked interface (or of the
// instance's own interface, whose loss always means FAULT). Interfaces
// start up.
func (r *Router) SetInterfaceUp(name string, up bool) {
	r.do(func(now time.Time) {
		if r.ifDown[name] == !up {
			return
		}
		r.ifDown[name] = !up
		word := "UP"
		if !up {
			word = "DOWN"
		}
		r.logf("Netlink reports %s %s", name, word)
		r.reevaluate(now, "interface "+name+" "+word)
	})
	r.poke()
}

// start leaves INIT (RFC 5798 6.4.1): the address owner becomes master at
// once; anyone else becomes backup and waits the master down interval (one
// advert interval when configured state MASTER, as keepalived).
func (r *Router) start(now time.Time) {
	r.started = true
	if f := r.allFaults(); len(f) > 0 {
		r.setState(now, StateFault, "init: "+f[0])
		return
	}
	if r.effPrio == PriorityOwner && r.syncMayMaster() {
		r.becomeMaster(now, "init: address owner (priority 255)")
		return
	}
	if r.cfg.ResumeMaster && r.syncMayMaster() {
		r.becomeMaster(now, "reload: was MASTER")
		return
	}
	r.setState(now, StateBackup, "init")
	// keepalived clears state MASTER under auth_type AH ("Initial state
	// master is incompatible with AH authentication"): wait a full master
	// down interval to learn the AH sequence number first.
	if r.in.State == StateMaster && r.in.AuthType != AuthAH {
		r.downAt = now.Add(r.masterAdverInt + r.skewFor(1))
	} else {
		r.downAt = now.Add(r.downInterval())
	}
}

// skew returns Skew_Time: (256-Priority)/256 of the master advert interval
// (v3, RFC 5798 6.1) or of one second (v2, RFC 3768 6.1).
func (r *Router) skew() time.Duration {
	return r.skewFor(256 - int(r.effPrio))
}

func (r *Router) skewFor(n int) time.Duration {
	if r.in.Version == V3 {
		return time.Duration(n) * r.masterAdverInt / 256
	}
	return time.Duration(n) * time.Second / 256
}

// downInterval returns Master_Down_Interval: 3 * interval + Skew_Time.
func (r *Router) downInterval() time.Duration {
	return 3*r.masterAdverInt + r.skew()
}

// deadline returns the next time expire has work (zero = none).
func (r *Router) deadline() time.Time {
	var d time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	switch r.state {
	case StateMaster:
		earliest(r.advertAt)
		for _, g := range r.garps {
			earliest(g.at)
		}
	case StateBackup:
		earliest(r.downAt)
	}
	return d
}

// expire runs the timers that are due at now.
func (r *Router) expire(now time.Time) {
	switch r.state {
	case StateBackup:
		if !r.downAt.IsZero() && !now.Before(r.downAt) {
			if !r.syncMayMaster() {
				// keepalived's vrrp_sync_can_goto_master: wait for the
				// rest of the group, the timer rearmed.
				r.downAt = now.Add(r.downInterval())
				return
			}
			r.becomeMaster(now, "master down timer expired")
		}
	case StateMaster:
		if !now.Before(r.advertAt) {
			r.sendAdvert(r.effPrio)
			r.advertAt = now.Add(r.in.AdvertInt)
		}
		r.fireGARPs(now)
	}
}

func (r *Router) becomeMaster(now time.Time, why string) {
	// Advert first, so the old master drops the addresses before our
	// gratuitous ARPs (keepalived's vrrp_state_master_tx).
	r.masterAdverInt = r.in.AdvertInt
	r.sendAdvert(r.effPrio)
	r.advertAt = now.Add(r.in.AdvertInt)
	r.downAt, r.preemptAt = time.Time{}, time.Time{}
	r.masterAddr, r.masterPrio = r.src, r.effPrio
	r.counters.BecameMaster++
	r.setState(now, StateMaster, why)
	r.garps = r.garps[:0]
	g := r.in.GARP
	r.garps = append(r.garps, garpDue{now, g.Repeat, "master"})
	if g.Delay > 0 {
		r.garps = append(r.garps, garpDue{now.Add(g.Delay), g.Repeat, "master delay"})
	}
	if g.Refresh > 0 {
		r.garps = append(r.garps, garpDue{now.Add(g.Delay + g.Refresh), g.RefreshRepeat, "refresh"})
	}
	r.fireGARPs(now)
}

func (r *Router) fireGARPs(now time.Time) {
	kept := r.garps[:0]
	for _, g := range r.garps {
		if now.Before(g.at) {
			kept = append(kept, g)
			continue
		}
		if g.why == "refresh" {
			kept = append(kept, garpDue{g.at.Add(r.in.GARP.Refresh), g.count, g.why})
		}
		if r.cfg.OnGARP != nil && g.count > 0 {
			ev := GARP{Instance: r.in.Name, Interface: r.in.Interface,
				VIPs: append(append([]VIP(nil), r.in.VIPs...), r.in.ExcludedVIPs...), Count: g.count, Why: g.why}
			cb := r.cfg.OnGARP
			r.pending = append(r.pending, func() { cb(ev) })
		}
	}
	r.garps = kept
}

// leaveMaster goes from MASTER to to (BACKUP or FAULT or STOP); with
// stopAdvert it first sends a priority-0 advert.
func (r *Router) leaveMaster(now time.Time, to State, why string, stopAdvert bool) {
	if stopAdvert {
		r.sendAdvert(PriorityStop)
		r.counters.PriorityZeroSent++
	}
	r.garps = r.garps[:0]
	r.counters.ReleasedMaster++
	r.setState(now, to, why)
	r.masterAdverInt = r.in.AdvertInt
	if to == StateBackup {
		r.downAt = now.Add(r.downInterval())
	}
}

// AHSequence returns the auth_type AH sequence counter: the last number
// sent or accepted (ah.go).
func (r *Router) AHSequence() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ahSeq
}

// SetAHSequence sets the auth_type AH sequence counter before Run: a
// reload carries the replaced Router's over, as keepalived's reload keeps
// it (vrrp.c: "Keep ipsec AH seq_number"), so peers do not drop the new
// Router's adverts as replays.
func (r *Router) SetAHSequence(n uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ahSeq = n
}

// Retire makes the Router's stop (its Run's context ending) quiet: a
// master sends no priority-0 advert, because a new Router for the same
// instance (a reload) takes over at once with ResumeMaster.
func (r *Router) Retire() {
	r.mu.Lock()
	r.retired = true
	r.mu.Unlock()
}

// stop ends the instance (Run's context ended).
func (r *Router) stop(now time.Time) {
	if !r.started || r.state == StateStop {
		return
	}
	if r.state == StateMaster {
		if r.retired {
			r.leaveMaster(now, StateStop, "replaced by a reload", false)
			return
		}
		r.leaveMaster(now, StateStop, "stopped", true)
		return
	}
	r.setState(now, StateStop, "stopped")
}

// setState records a transition, logs it as keepalived does, and queues
// the callbacks and notify programs.
func (r *Router) setState(now time.Time, to State, why string) {
	from := r.state
	r.state = to
	r.lastChange, r.reason = now, why
	clear(r.logged)
	clear(r.loggedVRID)
	if to != StateBackup {
		r.downAt = time.Time{}
	}
	if to != StateMaster {
		r.advertAt = time.Time{}
	}
	if to == StateBackup {
		r.preemptAt = time.Time{}
	}
	if to == StateStop {
		r.logf("Stopped (%s)", why)
	} else {
		r.logf("Entering %s STATE (%s)", to, why)
	}
	tr := Transition{Instance: r.in.Name, From: from, To: to, At: now, Reason: why, Priority: r.effPrio}
	if cb := r.cfg.OnTransition; cb != nil {
		r.pending = append(r.pending, func() { cb(tr) })
	}
	r.queueNotifies(to)
	if g := r.cfg.Group; g != nil {
		r.pending = append(r.pending, g.changed(r, from, to, now)...)
	}
}

// syncMayMaster reports whether the sync group lets the instance become
// master now (always without a group), logging once why not.
func (r *Router) syncMayMaster() bool {
	g := r.cfg.Group
	if g == nil {
		return true
	}
	ok, waiting := g.mayMaster(r)
	if !ok {
		r.logOnce(logSyncWait, "sync group %s: waiting for %s to want MASTER too", g.Name(), waiting)
	}
	return ok
}

// notifyFor picks the notify_* program of state s.
func notifyFor(s State, master, backup, fault, stop []string) []string {
	switch s {
	case StateMaster:
		return master
	case StateBackup:
		return backup
	case StateFault:
		return fault
	case StateStop:
		return stop
	}
	return nil
}

func (r *Router) queueNotifies(s State) {
	prog := notifyFor(s, r.in.NotifyMaster, r.in.NotifyBackup, r.in.NotifyFault, r.in.NotifyStop)
	run := r.cfg.RunNotify
	if run == nil {
		run = r.execNotify
	}
	if len(prog) > 0 {
		argv := append([]string(nil), prog...)
		r.pending = append(r.pending, func() { run(argv) })
	}
	if len(r.in.Notify) > 0 {
		argv := append(append([]string(nil), r.in.Notify...), "INSTANCE", r.in.Name, s.String(), strconv.Itoa(int(r.effPrio)))
		r.pending = append(r.pending, func() { run(argv) })
	}
}

// execNotify starts argv and reaps it in the background.
func (r *Router) execNotify(argv []string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		r.logf("notify %s: %v", argv[0], err)
		return
	}
	go func() {
		if err := cmd.Wait(); err != nil {
			r.logf("notify %s: %v", argv[0], err)
		}
	}()
}

// sendAdvert sends an advert with priority prio to the group or to each
// unicast peer.
func (r *Router) sendAdvert(prio uint8) {
	a := Advert{Version: r.in.Version, Type: TypeAdvertisement, VRID: r.in.VRID, Priority: prio, Interval: r.in.wireInterval(),
		Addrs: r.vipAddrs()}
	if r.in.Version == V2 {
		a.AuthType, a.AuthData = r.in.AuthType, r.in.authData()
	}
	dsts := r.in.UnicastPeers
	if len(dsts) == 0 {
		dsts = []netip.Addr{MulticastGroup()}
		if r.in.IPv6 {
			dsts[0] = MulticastGroup6()
		}
	}
	ah := r.in.AuthType == AuthAH
	if ah {
		// One sequence number and IP identification per advert
		// (keepalived's vrrp_update_pkt; the number stops short of
		// wrapping, as keepalived's does).
		if r.ahSeq <= ahMaxSeq {
			r.ahSeq++
		}
		if r.ipID++; r.ipID == 0 {
			r.ipID++
		}
	}
	for _, dst := range dsts {
		b, err := a.Append(r.sendBuf[:0], r.src, dst)
		if err == nil && ah {
			r.sendBuf = b
			b, err = AppendAHPacket(r.ahBuf[:0], r.src, dst, TTL, r.ipID, r.ahSeq, r.in.ahKey(), len(r.in.UnicastPeers) > 0, b)
			r.ahBuf = b
		}
		if err != nil {
			r.counters.SendErrors++
			r.logf("build advert: %v", err)
			return
		}
		if !ah {
			r.sendBuf = b
		}
		if err := r.cfg.Transport.Send(b, dst); err != nil {
			r.counters.SendErrors++
			r.logOnce(logSendError, "send advert error to %v: %v", dst, err)
			continue
		}
	}
	r.counters.AdvertsSent++
}

func (r *Router) vipAddrs() []netip.Addr {
	a := make([]netip.Addr, len(r.in.VIPs))
	for i, v := range r.in.VIPs {
		a[i] = v.Addr()
	}
	return a
}
