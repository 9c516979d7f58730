package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/vrrp"
)

// haManager runs the configuration's failover instances (VRRP, as
// keepalived's VRRP process does) and tells the director which addresses
// it serves: an instance's virtual addresses are answered and forwarded
// only while the instance is master here; otherwise they are on standby
// (vs.Table.Standby). It changes the table only through the director's
// SetHA. Safe for concurrent use.
type haManager struct {
	dir      *Director
	announce func([]netip.Addr) // gratuitous ARP (engine.AnnounceAddrs)
	// sendFrame sends an Ethernet frame on an interface (engine
	// SendFrame): use_vmac adverts from the virtual MAC.
	sendFrame func(ifname string, frame []byte) error
	log       *slog.Logger
	// onRole, when set, is told whenever an instance becomes master or
	// leaves master (the sync daemon of lvs_sync_daemon follows it).
	onRole func(instance string, master bool)

	mu       sync.Mutex
	insts    []*haInstance
	groups   []config.VRRPSyncGroup // as configured, for Reload
	pulse    *pulseInstance         // nil unless lvs.cf's backup_active = 1
	runCtx   context.Context        // Run's; nil before Run
	stopping bool                   // Run's context ended: start nothing more
	wg       sync.WaitGroup         // the instances' goroutines
	errc     chan error             // their errors (buffered; Run returns the first)
	ifaces   []string               // the engine's interfaces (warnUnwatched)
	// static are failover addresses always served here: lvs.cf's
	// nat_router on a lone director (backup_active = 0).
	static []netip.Addr
	// linksDown, when set, lists the engine's interfaces that are not up
	// now: a router learns them before it runs (at start, or started by a
	// reload), since the link monitor reports only changes.
	linksDown func() []string
}

// haInstance is one running vrrp_instance.
type haInstance struct {
	cfg    config.VRRPInstance
	r      *vrrp.Router
	tr     *vrrp.RawTransport // closed by r.Run, or by close before it runs
	addrs  []netip.Addr       // virtual_ipaddress and _excluded
	vmac   [6]byte            // use_vmac: the virtual MAC
	master bool
	// retired: a reload replaced or removed it; its last transitions
	// change nothing.
	retired bool
	cancel  context.CancelFunc // ends its Run (set when started)
	done    chan struct{}      // closed when its Run returned
}

// newHA opens a transport and builds a router for every instance (and
// pulse's node when p asks for it) and puts every instance's addresses on
// standby until it becomes master. It must run in the director's network
// namespace.
func newHA(dir *Director, announce func([]netip.Addr), sendFrame func(string, []byte) error, insts []config.VRRPInstance,
	groups []config.VRRPSyncGroup, p *config.Pulse, log *slog.Logger) (*haManager, error) {
	h := &haManager{dir: dir, announce: announce, sendFrame: sendFrame, log: log, groups: groups}
	if runsPulse(p) {
		if err := h.newPulse(p, false); err != nil {
			return nil, err
		}
	} else if p != nil && p.NATRouter.IsValid() {
		h.static = []netip.Addr{p.NATRouter.Addr()}
	}
	h.errc = make(chan error, 64)
	groupOf, err := syncGroups(groups, log)
	if err != nil {
		return nil, err
	}
	for _, c := range insts {
		hi, err := h.newInstance(c, groupOf[c.Name], false)
		if err != nil {
			h.close()
			return nil, err
		}
		h.insts = append(h.insts, hi)
	}
	h.setVMACs()
	h.setLinks6()
	if err := h.publish(); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// newInstance opens the transport of c and builds its router, in group g
// (nil: none); resume starts it as master (a reload of an instance that
// was master here).
func (h *haManager) newInstance(c config.VRRPInstance, g *vrrp.Group, resume bool) (*haInstance, error) {
	in, err := vrrpInstance(c)
	if err != nil {
		return nil, err
	}
	tr, err := vrrp.Listen(vrrp.TransportConfig{Interface: c.Interface, Source: c.UnicastSrc, AH: c.AuthType == "AH", IPv6: c.IPv6()})
	if err != nil {
		return nil, fmt.Errorf("vrrp_instance %s: %w", c.Name, err)
	}
	hi := &haInstance{cfg: c, tr: tr, master: resume}
	for _, v := range append(slices.Clone(c.VIPs), c.Excluded...) {
		hi.addrs = append(hi.addrs, v.Prefix.Addr())
	}
	var trans vrrp.Transport = tr
	if c.UseVMAC {
		hi.vmac = vrrpVMAC(c.VRID, c.IPv6())
		if !c.VMACXmitBase && h.sendFrame != nil {
			trans = &vmacTransport{Transport: tr, ifname: c.Interface, vmac: hi.vmac, send: h.sendFrame}
		}
	}
	r, err := vrrp.New(vrrp.Config{
		Instance:     in,
		Transport:    trans,
		Log:          h.log.With("vrrp_instance", c.Name),
		OnTransition: func(t vrrp.Transition) { h.transition(hi, t) },
		OnGARP:       h.garp,
		Group:        g,
		ResumeMaster: resume,
	})
	if err != nil {
		tr.Close()
		return nil, err
	}
	hi.r = r
	return hi, nil
}

// setVMACs gives the director the virtual MACs of the use_vmac
// instances' addresses.
func (h *haManager) setVMACs() {
	vmacs := map[netip.Addr][6]byte{}
	for _, hi := range h.insts {
		if hi.cfg.UseVMAC {
			for _, a := range hi.addrs {
				vmacs[a] = hi.vmac
			}
		}
	}
	h.dir.SetVMACs(vmacs)
}

// setLinks6 gives the director the interfaces of the instances' IPv6
// addresses: an entry's dev, else the instance's interface (where
// keepalived adds it).
func (h *haManager) setLinks6() {
	links := map[netip.Addr][]string{}
	for _, hi := range h.insts {
		for _, v := range append(slices.Clone(hi.cfg.VIPs), hi.cfg.Excluded...) {
			a := v.Prefix.Addr()
			if !a.Is6() {
				continue
			}
			dev := v.Dev
			if dev == "" {
				dev = hi.cfg.Interface
			}
			if !slices.Contains(links[a], dev) {
				links[a] = append(links[a], dev)
			}
		}
	}
	h.dir.SetHALinks6(links)
}

// vrrpVMAC is the VRRP virtual router MAC of a VRID (RFC 5798 section
// 7.3): 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6
// (keepalived's netlink_link_add_vmac).
func vrrpVMAC(vrid uint8, ipv6 bool) [6]byte {
	if ipv6 {
		return [6]byte{0, 0, 0x5e, 0, 2, vrid}
	}
	return [6]byte{0, 0, 0x5e, 0, 1, vrid}
}

// vmacTransport is the transport of a use_vmac instance: multicast
// adverts leave as Ethernet frames from the virtual MAC through the
// engine's socket, as keepalived sends them from its macvlan, so that
// switches learn where the virtual MAC lives; unicast adverts (a
// unicast_peer, whose MAC only the kernel knows: keepalived sets
// vmac_xmit_base for them) and receiving stay on the raw socket. Over
// IPv6 the frame goes to 33:33:00:00:00:12 (RFC 2464 section 7) with the
// IPv6 header the raw socket would give it: from the transport's source
// (the interface's link-local address, which keepalived also gives its
// macvlan), traffic class 0xc0, hop limit 255.
type vmacTransport struct {
	vrrp.Transport // the raw socket
	ifname         string
	vmac           [6]byte
	send           func(ifname string, frame []byte) error
	buf            []byte
}

func (t *vmacTransport) Send(msg []byte, dst netip.Addr) error {
	if !dst.IsMulticast() {
		return t.Transport.Send(msg, dst)
	}
	if dst.Is6() {
		d := dst.As16()
		b := append(t.buf[:0], 0x33, 0x33, d[12], d[13], d[14], d[15])
		b = append(b, t.vmac[:]...)
		b = append(b, 0x86, 0xdd)
		b = vrrp.AppendIPv6(b, t.Source(), dst, vrrp.TTL, msg)
		t.buf = b
		return t.send(t.ifname, b)
	}
	d := dst.As4()
	b := append(t.buf[:0], 0x01, 0x00, 0x5e, d[1]&0x7f, d[2], d[3]) // RFC 1112 section 6.4
	b = append(b, t.vmac[:]...)
	b = append(b, 0x08, 0x00)
	if msg[0]>>4 == 4 {
		// auth_type AH: msg is already the whole IPv4 packet (a VRRP
		// message starts with version 2 or 3).
		b = append(b, msg...)
	} else {
		b = vrrp.AppendIPv4(b, t.Source(), dst, vrrp.TTL, msg)
	}
	t.buf = b
	return t.send(t.ifname, b)
}

// syncGroups builds the vrrp_sync_group runtimes and returns them by
// member name.
func syncGroups(groups []config.VRRPSyncGroup, log *slog.Logger) (map[string]*vrrp.Group, error) {
	out := map[string]*vrrp.Group{}
	for _, c := range groups {
		g, err := vrrp.NewGroup(vrrp.SyncGroup{Name: c.Name, Members: c.Members,
			NotifyMaster: c.NotifyMaster.Argv, NotifyBackup: c.NotifyBackup.Argv, NotifyFault: c.NotifyFault.Argv,
			NotifyStop: c.NotifyStop.Argv, Notify: c.Notify.Argv}, log.With("vrrp_sync_group", c.Name), nil)
		if err != nil {
			return nil, err
		}
		for _, m := range c.Members {
			out[m] = g
		}
	}
	return out, nil
}

// vrrpInstance translates the configuration model into package vrrp's.
func vrrpInstance(c config.VRRPInstance) (vrrp.Instance, error) {
	in := vrrp.Instance{
		Name: c.Name, Interface: c.Interface, VRID: c.VRID, Priority: c.Priority,
		AdvertInt: c.AdvertInt, Version: vrrp.Version(c.Version), AuthPass: c.AuthPass, IPv6: c.IPv6(),
		NoPreempt: c.NoPreempt, PreemptDelay: c.PreemptDelay,
		GARP:         vrrp.GARPConfig{Delay: c.GARPDelay, Repeat: c.GARPRepeat, Refresh: c.GARPRefresh, RefreshRepeat: c.GARPRefreshRepeat},
		NotifyMaster: c.NotifyMaster.Argv, NotifyBackup: c.NotifyBackup.Argv, NotifyFault: c.NotifyFault.Argv,
		NotifyStop: c.NotifyStop.Argv, Notify: c.Notify.Argv,
		UnicastSrc: c.UnicastSrc, UnicastPeers: c.UnicastPeers,
	}
	switch c.State {
	case "MASTER":
		in.State = vrrp.StateMaster
	case "BACKUP", "":
		in.State = vrrp.StateBackup
	default:
		return in, fmt.Errorf("vrrp_instance %s: state %q: want MASTER or BACKUP", c.Name, c.State)
	}
	switch c.AuthType {
	case "":
	case "PASS":
		in.AuthType = vrrp.AuthPass
	case "AH":
		in.AuthType = vrrp.AuthAH
	default:
		return in, fmt.Errorf("vrrp_instance %s: auth_type %s is not supported by ulvs", c.Name, c.AuthType)
	}
	conv := func(as []config.VRRPAddress) []vrrp.VIP {
		var out []vrrp.VIP
		for _, a := range as {
			out = append(out, vrrp.VIP{Prefix: a.Prefix, Brd: a.Brd, Dev: a.Dev, Label: a.Label, Scope: a.Scope})
		}
		return out
	}
	in.VIPs, in.ExcludedVIPs = conv(c.VIPs), conv(c.Excluded)
	for _, t := range c.TrackInterfaces {
		in.TrackInterfaces = append(in.TrackInterfaces, vrrp.TrackInterface{Name: t.Name, Weight: t.Weight})
	}
	for _, t := range c.TrackScripts {
		s := t.Script
		in.TrackScripts = append(in.TrackScripts, vrrp.TrackScript{
			Script: vrrp.Script{Name: s.Name, Argv: s.Script.Argv, Interval: s.Interval, Timeout: s.Timeout,
				Weight: s.Weight, Fall: s.Fall, Rise: s.Rise},
			Weight: t.Weight, HasWeight: t.HasWeight,
		})
	}
	return in, nil
}

// Run runs every instance (and those a Reload adds) until ctx is done;
// then each sends its priority-0 advert if it is master, as keepalived
// does on SIGTERM.
func (h *haManager) Run(ctx context.Context) error {
	h.mu.Lock()
	h.runCtx = ctx
	if pi := h.pulse; pi != nil {
		// pulse runs inactive_cmd as it starts, inactive.
		h.pulseCommand(pi, false)
		h.startPulseLocked(pi)
	}
	for _, hi := range h.insts {
		h.startLocked(hi)
	}
	h.mu.Unlock()
	<-ctx.Done()
	// No Reload starts instances from now on; taking the lock also
	// orders every earlier start (wg.Add) before the Wait.
	h.mu.Lock()
	h.stopping = true
	h.mu.Unlock()
	h.wg.Wait()
	select {
	case err := <-h.errc:
		return err
	default:
		return nil
	}
}

// startLocked runs hi's router and scripts under a context of its own,
// child of Run's. h.mu must be held and Run started.
func (h *haManager) startLocked(hi *haInstance) {
	if h.linksDown != nil {
		// The router has not started: SetInterfaceUp only records the
		// link (no transition, no callback into h while h.mu is held).
		for _, name := range h.linksDown() {
			if hi.cfg.Interface == name || slices.ContainsFunc(hi.cfg.TrackInterfaces, func(t config.VRRPTrackInterface) bool { return t.Name == name }) {
				hi.r.SetInterfaceUp(name, false)
			}
		}
	}
	ctx, cancel := context.WithCancel(h.runCtx)
	hi.cancel, hi.done = cancel, make(chan struct{})
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		defer close(hi.done)
		if err := hi.r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			select {
			case h.errc <- fmt.Errorf("vrrp_instance %s: %w", hi.cfg.Name, err):
			default:
			}
		}
	}()
	go func() {
		defer h.wg.Done()
		hi.r.RunScripts(ctx, vrrp.ExecScript)
	}()
}

// transition follows one instance's state: its addresses are served only
// while it is master.
func (h *haManager) transition(hi *haInstance, t vrrp.Transition) {
	h.mu.Lock()
	if hi.retired {
		h.mu.Unlock()
		h.log.Info("vrrp transition of a replaced instance", "vrrp_instance", hi.cfg.Name, "to", t.To.String(), "reason", t.Reason)
		return
	}
	was := hi.master
	hi.master = t.To == vrrp.StateMaster
	err := h.publishLocked()
	onRole := h.onRole
	h.mu.Unlock()
	h.log.Info("vrrp transition", "vrrp_instance", hi.cfg.Name, "from", t.From.String(), "to", t.To.String(),
		"reason", t.Reason, "priority", int(t.Priority))
	h.dir.traceEvent(trace.KindVRRP, fmt.Sprintf("vrrp_instance %s %s -> %s (%s, priority %d)", hi.cfg.Name, t.From, t.To, t.Reason, t.Priority),
		nil, netip.AddrPort{}, hi.addrs)
	if err != nil {
		h.log.Error("vrrp: cannot change the table", "vrrp_instance", hi.cfg.Name, "err", err)
	}
	if onRole != nil && was != hi.master {
		onRole(hi.cfg.Name, hi.master)
	}
}

// linkChanged tells every instance whose interface or track_interface is
// name that it went up or down (the engine's link monitor sees the
// director's interfaces). Safe on a nil manager.
func (h *haManager) linkChanged(name string, up bool) {
	if h == nil {
		return
	}
	h.mu.Lock()
	insts := slices.Clone(h.insts)
	if pi := h.pulse; pi != nil && pi.setLink(name, up) {
		h.log.Info("pulse: monitored link changed", "interface", name, "up", up)
	}
	h.mu.Unlock()
	for _, hi := range insts {
		if hi.cfg.Interface == name || slices.ContainsFunc(hi.cfg.TrackInterfaces, func(t config.VRRPTrackInterface) bool { return t.Name == name }) {
			hi.r.SetInterfaceUp(name, up)
		}
	}
}

// ifacesNow returns the engine's interfaces (nil before warnUnwatched).
func (h *haManager) ifacesNow() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ifaces
}

// checkPulseLinks refuses monitor_links on an interface ulvsd does not
// watch: its link state would never be seen.
func (h *haManager) checkPulseLinks(engineIfaces []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pi := h.pulse; pi != nil {
		for _, name := range pi.links {
			if !slices.Contains(engineIfaces, name) {
				return fmt.Errorf("monitor_links = 1: interface %s (of this director's heartbeat address) is not one of ulvsd's interfaces, so its link is not followed: add it to the interfaces (-i)", name)
			}
		}
	}
	return nil
}

// warnUnwatched logs the track_interface entries that are none of the
// engine's interfaces: ulvsd sees only those go up and down.
func (h *haManager) warnUnwatched(engineIfaces []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ifaces = engineIfaces
	for _, hi := range h.insts {
		for _, t := range hi.cfg.TrackInterfaces {
			if !slices.Contains(engineIfaces, t.Name) {
				h.log.Warn("track_interface is not one of ulvsd's interfaces: its state is not followed (add it to the interfaces)",
					"vrrp_instance", hi.cfg.Name, "track_interface", t.Name)
			}
		}
	}
}

// garp sends the gratuitous ARPs the router asks for.
func (h *haManager) garp(g vrrp.GARP) {
	var addrs []netip.Addr
	for _, v := range g.VIPs {
		addrs = append(addrs, v.Addr())
	}
	for i := 0; i < g.Count; i++ {
		h.announce(addrs)
	}
}

// publish hands the director the addresses on standby.
func (h *haManager) publish() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.publishLocked()
}

func (h *haManager) publishLocked() error {
	all, active := slices.Clone(h.static), slices.Clone(h.static)
	if pi := h.pulse; pi != nil {
		all = append(all, pi.addrs...)
		if pi.active {
			active = append(active, pi.addrs...)
		}
	}
	for _, hi := range h.insts {
		all = append(all, hi.addrs...)
		if hi.master {
			active = append(active, hi.addrs...)
		}
	}
	var standby []netip.Addr
	for _, a := range all {
		// An address two instances carry is served while either is master.
		if !slices.Contains(active, a) && !slices.Contains(standby, a) {
			standby = append(standby, a)
		}
	}
	h.dir.SetHAPulse(h.pulse != nil)
	return h.dir.SetHA(standby, all)
}

// isMaster reports whether the instance named name is master here.
func (h *haManager) isMaster(name string) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if name == config.PulseInstance && h.pulse != nil {
		return h.pulse.active
	}
	for _, hi := range h.insts {
		if hi.cfg.Name == name {
			return hi.master
		}
	}
	return false
}

// Status returns every instance's state for `ulvs ha`.
func (h *haManager) Status() []vrrp.Status {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	insts, pi := slices.Clone(h.insts), h.pulse
	h.mu.Unlock()
	out := make([]vrrp.Status, 0, len(insts)+1)
	if pi != nil {
		out = append(out, pi.status())
	}
	for _, hi := range insts {
		out = append(out, hi.r.Status())
	}
	return out
}

// sameConfig compares two configurations of the model, their file
// positions aside.
func sameConfig[T any](a, b T, clearPos func(*T)) bool {
	clearPos(&a)
	clearPos(&b)
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

func clearInstancePos(c *config.VRRPInstance) { c.File, c.Line = "", 0 }
func clearGroupPos(g *config.VRRPSyncGroup)   { g.File, g.Line = "", 0 }

// Reload applies a reloaded file's failover configuration without a
// restart, as keepalived's reload does: an instance whose configuration
// (and sync group) did not change keeps running untouched; a changed one
// gets a new router, which starts as master at once if the old one was
// master here (the old one leaves without a priority-0 advert, so the
// peer sees no change of master); a removed one stops as on SIGTERM
// (priority-0 advert, its addresses released); a new one starts as at
// start. A sync group whose configuration or any member changed restarts
// with all its members. Transports are opened before anything stops: if
// one cannot be, nothing changes and the error says why. A changed pulse
// (lvs.cf) configuration restarts the pulse node (reloadPulse).
func (h *haManager) Reload(insts []config.VRRPInstance, groups []config.VRRPSyncGroup, p *config.Pulse) error {
	pulseErr := h.reloadPulse(p)
	h.mu.Lock()
	old := h.insts
	oldByName := map[string]*haInstance{}
	for _, hi := range old {
		oldByName[hi.cfg.Name] = hi
	}
	groupOfName := func(gs []config.VRRPSyncGroup, name string) *config.VRRPSyncGroup {
		for i := range gs {
			if slices.Contains(gs[i].Members, name) {
				return &gs[i]
			}
		}
		return nil
	}
	// keep: same instance configuration, same group configuration.
	keep := map[string]bool{}
	for _, c := range insts {
		o := oldByName[c.Name]
		if o == nil || !sameConfig(o.cfg, c, clearInstancePos) {
			continue
		}
		og, ng := groupOfName(h.groups, c.Name), groupOfName(groups, c.Name)
		if (og == nil) != (ng == nil) || og != nil && !sameConfig(*og, *ng, clearGroupPos) {
			continue
		}
		keep[c.Name] = true
	}
	// A group restarts whole: one changed member drops the others.
	for _, g := range groups {
		all := true
		for _, m := range g.Members {
			all = all && keep[m]
		}
		if !all {
			for _, m := range g.Members {
				delete(keep, m)
			}
		}
	}
	var fresh []config.VRRPSyncGroup
	for _, g := range groups {
		if !keep[g.Members[0]] {
			fresh = append(fresh, g)
		}
	}
	groupOf, err := syncGroups(fresh, h.log)
	if err != nil {
		h.mu.Unlock()
		return errors.Join(pulseErr, err)
	}
	var next, started []*haInstance
	for _, c := range insts {
		if keep[c.Name] {
			next = append(next, oldByName[c.Name])
			continue
		}
		o := oldByName[c.Name]
		hi, err := h.newInstance(c, groupOf[c.Name], o != nil && o.master)
		if err != nil {
			for _, n := range started {
				n.tr.Close()
			}
			h.mu.Unlock()
			return errors.Join(pulseErr, fmt.Errorf("vrrp: nothing changed: %w", err))
		}
		next = append(next, hi)
		started = append(started, hi)
	}
	var retired []*haInstance
	for _, o := range old {
		if keep[o.cfg.Name] {
			continue
		}
		o.retired = true
		if slices.ContainsFunc(insts, func(c config.VRRPInstance) bool { return c.Name == o.cfg.Name }) {
			o.r.Retire() // replaced: its successor takes over at once
		}
		retired = append(retired, o)
	}
	h.insts, h.groups = next, groups
	h.setVMACs()
	h.setLinks6()
	pubErr := h.publishLocked()
	h.mu.Unlock()
	// The old routers go first (their Run ends within a moment; their
	// transitions change nothing now), then the new ones start.
	for _, o := range retired {
		if o.cancel == nil {
			o.tr.Close() // never ran
			continue
		}
		o.cancel()
		<-o.done
	}
	h.mu.Lock()
	switch {
	case h.stopping:
		for _, hi := range started {
			hi.tr.Close() // never to run
		}
	case h.runCtx != nil:
		for _, hi := range started {
			if o := oldByName[hi.cfg.Name]; o != nil && o.r != nil {
				hi.r.SetAHSequence(o.r.AHSequence()) // auth_type AH: keep counting
			}
			h.startLocked(hi)
		}
	}
	h.mu.Unlock()
	h.log.Info("reload: vrrp instances", "kept", len(next)-len(started), "started", len(started), "stopped", len(retired))
	if h.ifaces != nil {
		h.warnUnwatched(h.ifaces)
	}
	return errors.Join(pulseErr, pubErr)
}

// close releases the transports of instances that never ran.
func (h *haManager) close() {
	if h.pulse != nil {
		h.pulse.tr.Close()
	}
	for _, hi := range h.insts {
		hi.tr.Close()
	}
}
