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

	mu     sync.Mutex
	insts  []*haInstance
	groups []config.VRRPSyncGroup // as configured, for Unchanged
	pulse  *pulseInstance         // nil unless lvs.cf's backup_active = 1
}

// haInstance is one running vrrp_instance.
type haInstance struct {
	cfg    config.VRRPInstance
	r      *vrrp.Router
	tr     *vrrp.RawTransport // closed by r.Run, or by close before it runs
	addrs  []netip.Addr       // virtual_ipaddress and _excluded
	master bool
}

// newHA opens a transport and builds a router for every instance (and
// pulse's node when p asks for it) and puts every instance's addresses on
// standby until it becomes master. It must run in the director's network
// namespace.
func newHA(dir *Director, announce func([]netip.Addr), sendFrame func(string, []byte) error, insts []config.VRRPInstance,
	groups []config.VRRPSyncGroup, p *config.Pulse, log *slog.Logger) (*haManager, error) {
	h := &haManager{dir: dir, announce: announce, sendFrame: sendFrame, log: log, groups: groups}
	if runsPulse(p) {
		if err := h.newPulse(p); err != nil {
			return nil, err
		}
	}
	groupOf, err := syncGroups(groups, log)
	if err != nil {
		return nil, err
	}
	vmacs := map[netip.Addr][6]byte{}
	for _, c := range insts {
		in, err := vrrpInstance(c)
		if err != nil {
			h.close()
			return nil, err
		}
		tr, err := vrrp.Listen(vrrp.TransportConfig{Interface: c.Interface, Source: c.UnicastSrc})
		if err != nil {
			h.close()
			return nil, fmt.Errorf("vrrp_instance %s: %w", c.Name, err)
		}
		hi := &haInstance{cfg: c, tr: tr}
		for _, v := range append(slices.Clone(c.VIPs), c.Excluded...) {
			hi.addrs = append(hi.addrs, v.Prefix.Addr())
		}
		var trans vrrp.Transport = tr
		if c.UseVMAC {
			mac := vrrpVMAC(c.VRID)
			for _, a := range hi.addrs {
				vmacs[a] = mac
			}
			if !c.VMACXmitBase && h.sendFrame != nil {
				trans = &vmacTransport{RawTransport: tr, ifname: c.Interface, vmac: mac, send: h.sendFrame}
			}
		}
		r, err := vrrp.New(vrrp.Config{
			Instance:     in,
			Transport:    trans,
			Log:          log.With("vrrp_instance", c.Name),
			OnTransition: func(t vrrp.Transition) { h.transition(hi, t) },
			OnGARP:       h.garp,
			Group:        groupOf[c.Name],
		})
		if err != nil {
			tr.Close()
			h.close()
			return nil, err
		}
		hi.r = r
		h.insts = append(h.insts, hi)
	}
	dir.SetVMACs(vmacs)
	if err := h.publish(); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// vrrpVMAC is the VRRP virtual router MAC of an IPv4 VRID (RFC 5798
// section 7.3): 00-00-5E-00-01-{VRID}.
func vrrpVMAC(vrid uint8) [6]byte { return [6]byte{0, 0, 0x5e, 0, 1, vrid} }

// vmacTransport is the transport of a use_vmac instance: multicast
// adverts leave as Ethernet frames from the virtual MAC through the
// engine's socket, as keepalived sends them from its macvlan, so that
// switches learn where the virtual MAC lives; unicast adverts (a
// unicast_peer, whose MAC only the kernel knows) and receiving stay on
// the raw socket.
type vmacTransport struct {
	*vrrp.RawTransport
	ifname string
	vmac   [6]byte
	send   func(ifname string, frame []byte) error
	buf    []byte
}

func (t *vmacTransport) Send(msg []byte, dst netip.Addr) error {
	if !dst.Is4() || !dst.IsMulticast() {
		return t.RawTransport.Send(msg, dst)
	}
	d := dst.As4()
	b := append(t.buf[:0], 0x01, 0x00, 0x5e, d[1]&0x7f, d[2], d[3]) // RFC 1112 section 6.4
	b = append(b, t.vmac[:]...)
	b = append(b, 0x08, 0x00)
	b = vrrp.AppendIPv4(b, t.Source(), dst, vrrp.TTL, msg)
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
		AdvertInt: c.AdvertInt, Version: vrrp.Version(c.Version), AuthPass: c.AuthPass,
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

// Run runs every instance until ctx is done; then each sends its
// priority-0 advert if it is master, as keepalived does on SIGTERM.
func (h *haManager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(h.insts)+1)
	if pi := h.pulse; pi != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pi.node.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
		}()
	}
	for _, hi := range h.insts {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := hi.r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("vrrp_instance %s: %w", hi.cfg.Name, err)
			}
		}()
		go func() {
			defer wg.Done()
			hi.r.RunScripts(ctx, vrrp.ExecScript)
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// transition follows one instance's state: its addresses are served only
// while it is master.
func (h *haManager) transition(hi *haInstance, t vrrp.Transition) {
	h.mu.Lock()
	was := hi.master
	hi.master = t.To == vrrp.StateMaster
	err := h.publishLocked()
	onRole := h.onRole
	h.mu.Unlock()
	h.log.Info("vrrp transition", "vrrp_instance", hi.cfg.Name, "from", t.From.String(), "to", t.To.String(),
		"reason", t.Reason, "priority", int(t.Priority))
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
	h.mu.Unlock()
	for _, hi := range insts {
		if hi.cfg.Interface == name || slices.ContainsFunc(hi.cfg.TrackInterfaces, func(t config.VRRPTrackInterface) bool { return t.Name == name }) {
			hi.r.SetInterfaceUp(name, up)
		}
	}
}

// warnUnwatched logs the track_interface entries that are none of the
// engine's interfaces: ulvsd sees only those go up and down.
func (h *haManager) warnUnwatched(engineIfaces []string) {
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
	var all, active []netip.Addr
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
	out := make([]vrrp.Status, 0, len(h.insts)+1)
	if h.pulse != nil {
		out = append(out, h.pulse.status())
	}
	for _, hi := range h.insts {
		out = append(out, hi.r.Status())
	}
	return out
}

// Unchanged reports whether insts, groups (and p) are the instances h
// runs, so that a reload can keep them.
func (h *haManager) Unchanged(insts []config.VRRPInstance, groups []config.VRRPSyncGroup, p *config.Pulse) bool {
	var cur []config.VRRPInstance
	var curPulse *config.Pulse
	if h != nil && h.pulse != nil {
		curPulse = &h.pulse.cfg
	}
	if runsPulse(p) != (curPulse != nil) || (curPulse != nil && fmt.Sprintf("%+v", *curPulse) != fmt.Sprintf("%+v", *p)) {
		return false
	}
	var curGroups []config.VRRPSyncGroup
	if h != nil {
		for _, hi := range h.insts {
			cur = append(cur, hi.cfg)
		}
		curGroups = h.groups
	}
	if len(cur) != len(insts) || len(curGroups) != len(groups) {
		return false
	}
	for i := range groups {
		a, b := curGroups[i], groups[i]
		a.File, a.Line, b.File, b.Line = "", 0, "", 0
		if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
			return false
		}
	}
	for i := range cur {
		a, b := cur[i], insts[i]
		a.File, a.Line, b.File, b.Line = "", 0, "", 0
		if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
			return false
		}
	}
	return true
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
