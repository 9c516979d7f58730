package director

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ulvs/ulvs/bgp"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/healthcheck"
)

// This file decides which virtual addresses the BGP speaker announces
// (docs/scale-out.md): an address is announced while every service on it
// has quorum (the alive weight of its real servers, weight > 0 after the
// health checks and a resolved MAC, reaches [bgp] quorum, and its checks,
// if any, have keepalived's quorum), the director's interfaces are up, its failover
// instance (if any) is master, and the director is neither drained nor
// stopping.

// bgpInput is what the decision looks at.
type bgpInput struct {
	rules  config.Rules
	checks []healthcheck.VirtualStatus
	// standby are the failover addresses this director is backup for.
	standby []netip.Addr
	// linksDown are the director's interfaces that are not up.
	linksDown []string
	// unresolved are the real servers whose MAC (or next hop's) the
	// director does not know yet: they take no connection, so they do
	// not count as alive.
	unresolved        map[destKey]bool
	quorum            uint32
	drained, stopping bool
	// held, when not "", withdraws everything with this reason (the
	// warm-up, a restart of the speaker).
	held string
}

// bgpDecide returns every virtual address of in.rules (fwmark services
// have none and are not announced), sorted, each with whether to
// announce it and why.
func bgpDecide(in bgpInput) []ctl.BGPAddressStatus {
	checkUp := map[config.ServiceKey]bool{}
	for _, vs := range in.checks {
		checkUp[vs.Service] = vs.QuorumUp
	}
	type addrState struct {
		why string // first reason not to announce; "" announces
	}
	states := map[netip.Addr]*addrState{}
	var addrs []netip.Addr
	for i := range in.rules.Services {
		s := &in.rules.Services[i]
		if s.FwMark != 0 || !s.Addr.IsValid() {
			continue
		}
		st := states[s.Addr]
		if st == nil {
			st = &addrState{}
			states[s.Addr] = st
			addrs = append(addrs, s.Addr)
		}
		if st.why != "" {
			continue
		}
		var alive int64
		unresolved := 0
		for _, d := range s.Dests {
			switch {
			case d.Weight <= 0:
			case in.unresolved[destKey{svc: s.Key(), addr: d.Addr, port: d.Port}]:
				unresolved++
			default:
				alive += int64(d.Weight)
			}
		}
		name := fmt.Sprintf("%v %v", s.Proto, netip.AddrPortFrom(s.Addr, s.Port))
		if up, checked := checkUp[s.Key()]; checked && !up {
			st.why = "no quorum: the health checks of " + name + " lost quorum"
		} else if alive < int64(in.quorum) {
			st.why = fmt.Sprintf("no quorum: %s has alive weight %d < %d", name, alive, in.quorum)
			if unresolved > 0 {
				st.why += fmt.Sprintf(" (%d real servers with weight not resolved by ARP yet)", unresolved)
			}
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	out := make([]ctl.BGPAddressStatus, 0, len(addrs))
	for _, a := range addrs {
		as := ctl.BGPAddressStatus{Prefix: netip.PrefixFrom(a, a.BitLen())}
		switch {
		case in.stopping:
			as.Reason = "withdrawn: ulvsd is stopping"
		case in.drained:
			as.Reason = "withdrawn: drained (ulvs bgp undrain announces again)"
		case in.held != "":
			as.Reason = "withdrawn: " + in.held
		case len(in.linksDown) > 0:
			as.Reason = "withdrawn: interface " + strings.Join(in.linksDown, ", ") + " is not up"
		case slices.Contains(in.standby, a):
			as.Reason = "withdrawn: its failover instance is not master here"
		case states[a].why != "":
			as.Reason = states[a].why
		default:
			as.Announced = true
			as.Reason = "every service has quorum"
		}
		out = append(out, as)
	}
	return out
}

// bgpAnnounced returns the prefixes of the announced addresses.
func bgpAnnounced(st []ctl.BGPAddressStatus) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range st {
		if a.Announced {
			out = append(out, a.Prefix)
		}
	}
	return out
}

// bgpSpeaker is what bgpManager needs of bgp.Speaker.
type bgpSpeaker interface {
	SetAnnounced([]netip.Prefix) error
	Reconfigure(config.BGP) error
	Announced() []netip.Prefix
	Peers() []bgp.PeerStatus
	Stop(context.Context) error
}

// bgpManager keeps the speaker's announcements equal to bgpDecide's.
// Safe for concurrent use.
type bgpManager struct {
	sp    bgpSpeaker
	dir   *Director
	log   *slog.Logger
	links func() []string // interfaces not up; nil: none
	poke  chan struct{}
	// syncCreated returns the connections the backup sync daemon has
	// created, and whether one runs (the warm-up watches it); nil: none.
	syncCreated func() (uint64, bool)
	now         func() time.Time
	wg          sync.WaitGroup // a restart waiting in the background

	mu                sync.Mutex
	cfg               config.BGP
	drained, stopping bool
	last              []ctl.BGPAddressStatus
	lastErr           string
	warm              warmup
	// restarting is set while the speaker is withdrawn before a restart
	// (a new local_as, router_id or listening port); pending is the
	// configuration a reload gave meanwhile.
	restarting bool
	pending    *config.BGP
}

// bgpInterval is how often the decision is made again without a poke
// (health-check verdicts and interface changes arrive this way).
const bgpInterval = 200 * time.Millisecond

func newBGPManager(sp bgpSpeaker, cfg config.BGP, dir *Director, links func() []string, log *slog.Logger) *bgpManager {
	return newBGPManagerWarm(sp, cfg, dir, links, log, 0)
}

// newBGPManagerWarm is newBGPManager with a warm-up of warm before the
// first announcement.
func newBGPManagerWarm(sp bgpSpeaker, cfg config.BGP, dir *Director, links func() []string, log *slog.Logger, warm time.Duration) *bgpManager {
	m := &bgpManager{sp: sp, cfg: cfg, dir: dir, links: links, log: log, poke: make(chan struct{}, 1), now: time.Now,
		syncCreated: dir.syncBackupCreated}
	m.warm.start(m.now(), warm)
	if warm > 0 {
		log.Info("bgp: warming up before announcing", "warmup", warm)
	}
	dir.bgp.Store(m)
	m.update()
	return m
}

// config returns the [bgp] the manager runs with.
func (m *bgpManager) config() config.BGP {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// run decides again every bgpInterval, and at once when poked, until ctx
// is done.
func (m *bgpManager) run(ctx context.Context) error {
	t := time.NewTicker(bgpInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.poke:
		}
		m.update()
	}
}

// update decides and hands the result to the speaker.
func (m *bgpManager) update() {
	in := m.dir.bgpInput()
	if m.links != nil {
		in.linksDown = m.links()
	}
	var created uint64
	syncing := false
	if m.syncCreated != nil {
		created, syncing = m.syncCreated()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	in.quorum, in.drained, in.stopping = m.cfg.Quorum, m.drained, m.stopping
	if why, over := m.warm.check(m.now(), created, syncing); !over {
		in.held = why
	} else if why != "" {
		m.log.Info("bgp: warm-up over, announcing", "why", why)
	}
	if m.restarting {
		in.held = "the BGP speaker restarts for a new local_as, router_id or listening port"
	}
	st := bgpDecide(in)
	changed := !slices.Equal(st, m.last)
	err := m.sp.SetAnnounced(bgpAnnounced(st))
	m.last = st
	if err != nil {
		if m.lastErr != err.Error() {
			m.log.Error("bgp", "err", err)
		}
		m.lastErr = err.Error()
	} else {
		m.lastErr = ""
	}
	if changed {
		for _, a := range st {
			m.log.Debug("bgp decision", "prefix", a.Prefix, "announced", a.Announced, "reason", a.Reason)
		}
	}
}

// drain sets or clears the drain and applies it at once.
func (m *bgpManager) drain(on bool) {
	m.mu.Lock()
	m.drained = on
	m.mu.Unlock()
	m.log.Info("bgp: drain", "drained", on)
	m.update()
}

// reconfigure applies a reloaded [bgp]: at once when the running speaker
// can take it (peers, hold time, next hops, quorum), else (a new local
// AS, router id or listening port) by withdrawing everything, keeping
// forwarding for shutdown_delay as on SIGTERM, and starting the speaker
// again, in the background.
func (m *bgpManager) reconfigure(b config.BGP) {
	m.mu.Lock()
	if m.restarting {
		m.pending = &b
		m.mu.Unlock()
		return
	}
	if !bgp.NeedsRestart(m.cfg, b) {
		m.mu.Unlock()
		err := m.sp.Reconfigure(b)
		m.mu.Lock()
		m.cfg = b
		m.mu.Unlock()
		if err != nil {
			m.log.Error("reload: [bgp]", "err", err)
		} else {
			m.log.Info("reload: [bgp] applied to the running speaker", "peers", len(b.Peers))
		}
		m.update()
		return
	}
	m.restarting = true
	delay := m.cfg.ShutdownDelay
	m.mu.Unlock()
	m.update()
	m.log.Info("reload: [bgp] needs a new speaker: routes withdrawn, waiting before restarting it", "delay", delay)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		time.Sleep(delay)
		err := m.sp.Reconfigure(b)
		m.mu.Lock()
		m.cfg, m.restarting = b, false
		pending := m.pending
		m.pending = nil
		m.mu.Unlock()
		if err != nil {
			m.log.Error("reload: [bgp]: restarting the speaker", "err", err)
		}
		m.update()
		if pending != nil {
			m.reconfigure(*pending)
		}
	}()
}

// shutdown withdraws every route, keeps forwarding for the delay so that
// the routers move the flows away first, then closes the sessions.
func (m *bgpManager) shutdown(delay time.Duration) {
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	m.update()
	m.log.Info("bgp: routes withdrawn, waiting before stopping", "delay", delay)
	time.Sleep(delay)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.sp.Stop(ctx); err != nil {
		m.log.Error("bgp: stop", "err", err)
	}
}

// status is the speaker's state for the snapshot.
func (m *bgpManager) status() *ctl.BGPStatus {
	peers := m.sp.Peers()
	live := m.sp.Announced()
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &ctl.BGPStatus{LocalAS: m.cfg.LocalAS, RouterID: m.cfg.RouterID, Quorum: m.cfg.Quorum, Warmup: m.warm.status(),
		Drained: m.drained, Stopping: m.stopping, Addresses: slices.Clone(m.last), Error: m.lastErr}
	for i := range st.Addresses {
		// What the speaker holds, not only what was decided.
		if a := &st.Addresses[i]; a.Announced && !slices.Contains(live, a.Prefix) {
			a.Announced = false
			a.Reason = "has quorum, but the speaker failed to announce it: " + m.lastErr
		}
	}
	for _, p := range peers {
		st.Peers = append(st.Peers, ctl.BGPPeerStatus{Address: p.Address, AS: p.AS, State: p.State,
			HoldTime: int(p.HoldTime / time.Second), Since: p.Since,
			UpdatesSent: p.UpdatesSent, UpdatesReceived: p.UpdatesReceived, Flops: p.Flops, BFD: p.BFD})
	}
	return st
}

// bgpInput returns the rules, checks and failover state the decision
// needs.
func (d *Director) bgpInput() bgpInput {
	var in bgpInput
	if f := d.checks.Load(); f != nil {
		in.checks = (*f)()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	in.rules = cloneRules(d.rules)
	in.standby = slices.Clone(d.haStandby)
	if len(d.resolvers) > 0 {
		// Without resolvers (tests) MACs are set by hand, or not at all.
		for i := range in.rules.Services {
			s := &in.rules.Services[i]
			for _, rd := range s.Dests {
				k := destKey{svc: s.Key(), addr: rd.Addr, port: rd.Port}
				if de := d.comp.dests[k]; de == nil || !de.state.HasMAC() {
					if in.unresolved == nil {
						in.unresolved = map[destKey]bool{}
					}
					in.unresolved[k] = true
				}
			}
		}
	}
	return in
}

// BGPDrain withdraws every BGP route and keeps them withdrawn (drain), or
// lets the quorum decide again; ctl.BGPDrainer.
func (d *Director) BGPDrain(drain bool) error {
	m := d.bgp.Load()
	if m == nil {
		return fmt.Errorf("no [bgp] configured (nor --bgp-as): %w", config.ErrNotSupported)
	}
	m.drain(drain)
	return nil
}

// bgpStatus is the snapshot's BGP; nil without a speaker.
func (d *Director) bgpStatus() *ctl.BGPStatus {
	if m := d.bgp.Load(); m != nil {
		return m.status()
	}
	return nil
}
