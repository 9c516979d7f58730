package director

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/pulse"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/vrrp"
)

// pulseInstance is Piranha's pulse for an lvs.cf with backup_active = 1:
// its VIPs are served only while pulse is active here.
type pulseInstance struct {
	cfg    config.Pulse
	node   *pulse.Node
	tr     *pulse.UDPTransport // closed by node.Run, or by close before it runs
	self   netip.Addr
	device string // the first VIP's device, for `ulvs ha`
	addrs  []netip.Addr
	active bool
	// links are the interfaces monitor_links watches (those of this
	// director's public and private heartbeat addresses) and down those
	// of them that are down now; both nil without monitor_links. Under
	// haManager.mu.
	links, down []string
	// cmds queues active_cmd / inactive_cmd runs, in transition order.
	cmds chan pulseCmd
	// retired: a reload replaced it; its last transition changes
	// nothing. cancel ends its Run and done is closed when it returned
	// (set when started).
	retired bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// pulseCmd is one run of active_cmd or inactive_cmd.
type pulseCmd struct {
	key  string // "active_cmd" or "inactive_cmd", for the log
	argv []string
}

// pulseCmdTimeout bounds one run of active_cmd or inactive_cmd (pulse
// forks them and never waits; ulvsd kills one still running after this).
const pulseCmdTimeout = time.Minute

// runsPulse reports whether the file asks for pulse failover. Without
// backup_active the lone director serves at once (pulse would wait
// deadtime first, hearing nobody).
func runsPulse(p *config.Pulse) bool { return p != nil && p.BackupActive }

// pulseRole decides which director this is, as pulse's amMaster does: the
// primary when one of the host's addresses is lvs.cf's primary; else the
// backup, whose address must be here too (pulse binds its socket to it).
func pulseRole(p *config.Pulse, local []netip.Addr) (pulse.Role, netip.Addr, netip.Addr, error) {
	switch {
	case slices.Contains(local, p.Primary):
		return pulse.Primary, p.Primary, p.Backup, nil
	case slices.Contains(local, p.Backup):
		return pulse.Backup, p.Backup, p.Primary, nil
	}
	return 0, netip.Addr{}, netip.Addr{}, fmt.Errorf("pulse: neither primary %v nor backup %v is an address of this host (pulse binds its heartbeat socket to its own)", p.Primary, p.Backup)
}

// hostAddrs lists the IPv4 addresses of every interface.
func hostAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("pulse: listing the host's addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

// ifaceOf names the interface that has addr (pulse's ip_check_link
// looks its address up the same way).
func ifaceOf(addr netip.Addr) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("pulse: listing the interfaces: %w", err)
	}
	for _, ifc := range ifs {
		as, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == addr {
				return ifc.Name, nil
			}
		}
	}
	return "", fmt.Errorf("pulse: no interface has %v", addr)
}

// newPulse builds the pulse node of p (runsPulse(p) is true); h receives
// its transitions.
func (h *haManager) newPulse(p *config.Pulse, startActive bool) error {
	if len(p.VIPs) == 0 {
		return fmt.Errorf("pulse: no active virtual server, no address to fail over (pulse exits: no active lvs services)")
	}
	local, err := hostAddrs()
	if err != nil {
		return err
	}
	role, self, partner, err := pulseRole(p, local)
	if err != nil {
		return err
	}
	// primary_private / backup_private: a second heartbeat path over a
	// private network, as pulse sends on both.
	selfPriv, partnerPriv := p.PrimaryPrivate, p.BackupPrivate
	if role == pulse.Backup {
		selfPriv, partnerPriv = partnerPriv, selfPriv
	}
	ucfg := pulse.UDPConfig{Local: self, Port: p.HeartbeatPort, Partners: []netip.Addr{partner}}
	if selfPriv.IsValid() && selfPriv != self {
		if !slices.Contains(local, selfPriv) {
			return fmt.Errorf("pulse: this director's private heartbeat address %v (lvs.cf's %s_private) is not an address of this host", selfPriv, role)
		}
		ucfg.LocalPrivate, ucfg.PartnerPrivate = selfPriv, partnerPriv
	} else if partnerPriv.IsValid() && partnerPriv != partner {
		// Only the partner has a private address: send there too.
		ucfg.Partners = append(ucfg.Partners, partnerPriv)
	}
	tr, err := pulse.ListenUDP(ucfg)
	if err != nil {
		return err
	}
	pi := &pulseInstance{cfg: *p, tr: tr, self: self, device: p.VIPs[0].Device, cmds: make(chan pulseCmd, 16)}
	if p.MonitorLinks {
		// pulse's check_links: the links of this director's public
		// address and of its private one when that is another.
		for _, a := range []netip.Addr{self, ucfg.LocalPrivate} {
			if !a.IsValid() {
				continue
			}
			name, err := ifaceOf(a)
			if err != nil {
				tr.Close()
				return fmt.Errorf("monitor_links = 1: %w", err)
			}
			if !slices.Contains(pi.links, name) {
				pi.links = append(pi.links, name)
			}
		}
	}
	for _, v := range p.VIPs {
		pi.addrs = append(pi.addrs, v.Addr)
	}
	if p.NATRouter.IsValid() && !slices.Contains(pi.addrs, p.NATRouter.Addr()) {
		// nat_router: the real servers' gateway floats with the active
		// director, as pulse brings it up with the VIPs.
		pi.addrs = append(pi.addrs, p.NATRouter.Addr())
	}
	n, err := pulse.New(pulse.Config{
		Role: role, Partner: partner, PartnerPrivate: partnerPriv, BackupActive: p.BackupActive,
		Keepalive: p.Keepalive, Deadtime: p.Deadtime,
		// The issue asks for the primary to take its VIPs back; pulse
		// itself leaves them on the backup (docs/ha.md).
		FailBack:     true,
		MonitorLinks: p.MonitorLinks,
		StartActive:  startActive,
		Transport:    tr,
		Log:          h.log.With("pulse", role.String()),
		OnTransition: func(t pulse.Transition) { h.pulseTransition(pi, t) },
		OnAnnounce:   func() { go h.pulseARPs(pi) },
	})
	if err != nil {
		tr.Close()
		return err
	}
	pi.node = n
	pi.active = startActive
	h.mu.Lock()
	h.pulse = pi
	h.mu.Unlock()
	return nil
}

// startPulseLocked runs pi's node and its commands under a context of
// their own, child of Run's. h.mu must be held and Run started.
func (h *haManager) startPulseLocked(pi *pulseInstance) {
	if h.linksDown != nil {
		// The link monitor reports only changes: start from the links
		// that are down now.
		for _, name := range h.linksDown() {
			pi.setLink(name, false)
		}
	}
	ctx, cancel := context.WithCancel(h.runCtx)
	pi.cancel, pi.done = cancel, make(chan struct{})
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		h.runPulseCommands(ctx, pi)
	}()
	go func() {
		defer h.wg.Done()
		defer close(pi.done)
		if err := pi.node.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			select {
			case h.errc <- err:
			default:
			}
		}
	}()
}

// reloadPulse applies a reloaded lvs.cf's pulse configuration: unchanged,
// the node runs on untouched; changed, the old node stops and a new one
// starts (active at once, without a transition, when the old one was
// active here, so the partner sees no change: as a reloaded VRRP master);
// gone (backup_active = 0 now), the node stops as on SIGTERM. The
// heartbeat socket can only be bound once the old one is closed: if the
// new node cannot start, the old configuration is started again and the
// error says why.
func (h *haManager) reloadPulse(p *config.Pulse) error {
	h.mu.Lock()
	old, running := h.pulse, h.runCtx != nil && !h.stopping
	h.mu.Unlock()
	if old == nil && !runsPulse(p) {
		return nil
	}
	if old != nil && runsPulse(p) && fmt.Sprintf("%+v", old.cfg) == fmt.Sprintf("%+v", *p) {
		return nil
	}
	if !running {
		return errors.New("the lvs.cf pulse configuration changed while ulvsd is not running failover: restart ulvsd to apply it")
	}
	wasActive := false
	if old != nil {
		h.mu.Lock()
		wasActive = old.active
		// Replaced: its "stopped" must not release the VIPs. Removed:
		// it stops as on SIGTERM.
		old.retired = runsPulse(p)
		h.mu.Unlock()
		old.cancel()
		<-old.done
		h.mu.Lock()
		h.pulse = nil
		h.mu.Unlock()
	}
	if !runsPulse(p) {
		h.mu.Lock()
		h.static = nil
		if p != nil && p.NATRouter.IsValid() {
			h.static = []netip.Addr{p.NATRouter.Addr()}
		}
		err := h.publishLocked()
		h.mu.Unlock()
		h.log.Info("reload: pulse stopped (the file runs no pulse now)")
		return err
	}
	err := h.newPulse(p, wasActive)
	if err == nil {
		if err = h.checkPulseLinks(h.ifacesNow()); err != nil {
			h.mu.Lock()
			h.pulse.tr.Close()
			h.pulse = nil
			h.mu.Unlock()
		}
	}
	if err != nil {
		if old == nil {
			return fmt.Errorf("pulse: %w", err)
		}
		if err2 := h.newPulse(&old.cfg, wasActive); err2 != nil {
			// Nothing runs: keep the VIPs on standby rather than served.
			h.mu.Lock()
			old.active = false
			h.pulse = old
			pubErr := h.publishLocked()
			h.mu.Unlock()
			return errors.Join(fmt.Errorf("pulse: %w; restarting the previous pulse configuration failed too: %w: restart ulvsd", err, err2), pubErr)
		}
		err = fmt.Errorf("pulse: %w (the previous pulse configuration runs on)", err)
	}
	h.mu.Lock()
	pi := h.pulse
	h.static = nil
	h.startPulseLocked(pi)
	pubErr := h.publishLocked()
	h.mu.Unlock()
	h.log.Info("reload: pulse restarted", "active", wasActive)
	if wasActive {
		go h.pulseARPs(pi)
	}
	return errors.Join(err, pubErr)
}

// pulseTransition serves the VIPs while pulse is active and announces
// them with gratuitous ARP (pulse's send_arp) on taking over.
func (h *haManager) pulseTransition(pi *pulseInstance, t pulse.Transition) {
	h.mu.Lock()
	if pi.retired {
		h.mu.Unlock()
		h.log.Info("pulse transition of a replaced configuration", "active", t.Active, "reason", t.Reason)
		return
	}
	was := pi.active
	pi.active = t.Active
	err := h.publishLocked()
	onRole := h.onRole
	h.mu.Unlock()
	h.log.Info("pulse transition", "active", t.Active, "reason", t.Reason)
	h.dir.traceEvent(trace.KindVRRP, fmt.Sprintf("pulse active=%v (%s)", t.Active, t.Reason), nil, netip.AddrPort{}, pi.addrs)
	if err != nil {
		h.log.Error("pulse: cannot change the table", "err", err)
	}
	// lvs.cf's syncdaemon: the active director's sync daemon sends.
	if onRole != nil && was != t.Active {
		onRole(config.PulseInstance, t.Active)
	}
	if t.Active {
		go h.pulseARPs(pi)
	}
	// active_cmd / inactive_cmd, as pulse's activateLvs and
	// deactivateLvs run them (not when ulvsd stops: pulse's SIGTERM path
	// skips inactive_cmd too).
	if t.Reason != "stopped" {
		h.pulseCommand(pi, t.Active)
	}
}

// pulseCommand queues active_cmd (active) or inactive_cmd for the runner.
func (h *haManager) pulseCommand(pi *pulseInstance, active bool) {
	key, text := "inactive_cmd", pi.cfg.InactiveCmd
	if active {
		key, text = "active_cmd", pi.cfg.ActiveCmd
	}
	// pulse splits the command at spaces and execs it, without a shell.
	argv := strings.Fields(text)
	if len(argv) == 0 {
		return
	}
	select {
	case pi.cmds <- pulseCmd{key, argv}:
	default:
		h.log.Error("pulse: too many commands waiting to run, this one is skipped", key, text)
	}
}

// runPulseCommands runs the queued active_cmd / inactive_cmd one after
// the other until ctx is done, each bounded by pulseCmdTimeout; a failure
// is logged.
func (h *haManager) runPulseCommands(ctx context.Context, pi *pulseInstance) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-pi.cmds:
			code, err := vrrp.ExecScript(ctx, c.argv, pulseCmdTimeout)
			switch {
			case err != nil:
				h.log.Error("pulse: "+c.key+" failed", "command", strings.Join(c.argv, " "), "err", err)
			case code != 0:
				h.log.Warn("pulse: "+c.key+" exited with status "+fmt.Sprint(code), "command", strings.Join(c.argv, " "))
			default:
				h.log.Info("pulse: "+c.key+" ran", "command", strings.Join(c.argv, " "))
			}
		}
	}
}

// setLink follows monitor_links: name went up or down (haManager.mu
// held); it tells the node whether every monitored link is up, and
// reports whether name is one of them.
func (pi *pulseInstance) setLink(name string, up bool) bool {
	if !slices.Contains(pi.links, name) {
		return false
	}
	pi.down = slices.DeleteFunc(pi.down, func(d string) bool { return d == name })
	if !up {
		pi.down = append(pi.down, name)
	}
	pi.node.SetLinksUp(len(pi.down) == 0, strings.Join(pi.down, ","))
	return true
}

// pulseARPs announces the VIPs as pulse's sendLvsArps does: send_arp
// five times, a second apart, while pulse stays active here.
func (h *haManager) pulseARPs(pi *pulseInstance) {
	for i := 0; i < 5; i++ {
		if i > 0 {
			time.Sleep(time.Second)
		}
		h.mu.Lock()
		active := pi.active
		h.mu.Unlock()
		if !active {
			return
		}
		h.announce(pi.addrs)
	}
}

// status maps pulse's state onto `ulvs ha`'s columns: MASTER while
// active, the active director as master seen, heartbeats as adverts.
func (pi *pulseInstance) status() vrrp.Status {
	st := pi.node.Status()
	out := vrrp.Status{
		Name: "pulse/" + st.Role.String(), Interface: pi.device, State: vrrp.StateBackup,
		LastTransition: st.LastTransition, Reason: st.Reason,
		Counters: vrrp.Counters{AdvertsReceived: st.Counters.Received, AdvertsSent: st.Counters.Sent},
		Interval: pi.cfg.Keepalive, DeadTime: pi.cfg.Deadtime,
	}
	switch {
	case st.Active:
		out.State, out.MasterAddr = vrrp.StateMaster, pi.self
	case st.PartnerState == pulse.Running || st.PartnerState == pulse.StopMe:
		out.MasterAddr = st.Partner
	}
	if out.Reason == "" {
		out.Reason = "waiting for the partner's heartbeat"
	}
	if st.LastError != "" {
		out.Faults = []string{st.LastError}
	}
	if st.LinkFailed {
		// monitor_links: pulse's "Pulse disabled" until the link is back.
		out.State = vrrp.StateFault
		out.Faults = append(out.Faults, "link down: "+st.LinkDown)
	}
	return out
}
