package realserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// decapRunner is the userspace decapsulator as Server drives it; the Linux
// one is *decapsulator, tests use a fake.
type decapRunner interface {
	run()
	stop(started bool)
	closeFds()
	statsRef() *Stats
	doneCh() <-chan struct{}
	runErr() error
	// hold makes the capture take no frame (on) or the tunnel packets
	// again (off).
	hold(on bool) error
	// arm starts the tcx program's decapsulation once the VIPs are up,
	// and gives the decapsulator a logger.
	arm(log *slog.Logger) error
}

// env bundles the OS seams of Up and Down.
type env struct {
	h host
	// openDecap opens the userspace decapsulator; withTCX attaches the
	// tcx program too (an error matching ErrNotSupported where it cannot).
	openDecap func(iface, tunName string, vips []netip.Addr, withTCX bool) (decapRunner, error)
	netnsID   func() (uint64, error)
	netnsName func() string
	self      func() (*Process, error)
	// stopProcess signals the process p runs and waits until it is gone.
	stopProcess func(p *Process, timeout time.Duration, log *slog.Logger) error
}

// Server is a prepared real server, returned by Up. For the userspace
// decapsulator it owns the running decapsulator; otherwise the state file
// alone describes it and the process may exit. Its methods are safe for
// concurrent use.
type Server struct {
	cfg Config
	e   env
	log *slog.Logger

	mu     sync.Mutex
	st     *State
	decap  decapRunner
	run    bool // decap goroutine started
	downed bool
	done   chan struct{}
}

// Up prepares the host as cfg says and records every change in the state
// file StateDir/Name.json. For ModeTUN with the userspace decapsulator the
// returned Server runs it until Down; the state names this process, so a
// Down from another process signals it. If any step fails, Up reverts what
// it did and returns the error. An existing state file of the same name
// gives ErrAlreadyUp. ctx bounds the setup only.
//
// Up acts on the calling thread's network namespace (see the package doc).
func Up(ctx context.Context, cfg Config) (*Server, error) {
	return upWith(ctx, cfg, osEnv())
}

func upWith(ctx context.Context, cfg Config, e env) (_ *Server, err error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("realserver up: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = e.netnsName()
	}
	ns, err := e.netnsID()
	if err != nil {
		return nil, fmt.Errorf("realserver up: %w", err)
	}
	st := &State{Name: cfg.Name, Mode: cfg.Mode, VIPs: cfg.VIPs, NetNS: ns, Created: time.Now().UTC().Truncate(time.Second)}
	if err := createState(cfg.StateDir, st); err != nil {
		return nil, fmt.Errorf("realserver up %s: %w", cfg.Name, err)
	}
	s := &Server{cfg: cfg, e: e, log: cfg.Logger.With("realserver", cfg.Name), st: st, done: make(chan struct{})}
	defer func() {
		if err != nil {
			// Revert with a fresh context: ctx may be what failed.
			if derr := s.Down(context.Background()); derr != nil {
				err = fmt.Errorf("%w (and reverting: %v)", err, derr)
			}
		}
	}()
	switch cfg.Mode {
	case ModeDR:
		err = s.setupDR(ctx)
	case ModeTUN:
		err = s.setupTUN(ctx)
		if err == nil {
			err = s.setGateway(ctx)
		}
	case ModeNAT:
		err = s.setupNAT(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("realserver up %s: %w", cfg.Name, err)
	}
	if cfg.Mode == ModeTUN {
		s.log.Info("real server up", "mode", cfg.Mode, "vips", cfg.VIPs, "decap", st.Decap, "device", st.Device, "changes", len(st.Changes))
	} else {
		s.log.Info("real server up", "mode", cfg.Mode, "vips", cfg.VIPs, "changes", len(st.Changes))
	}
	return s, nil
}

// sysctl keys.
func confKey(dev, knob string) string { return "net/ipv4/conf/" + dev + "/" + knob }

// arpSysctls makes the host neither answer ARP for the VIP on other
// interfaces (arp_ignore=1: only for addresses on the receiving interface)
// nor use it as an ARP source (arp_announce=2), on all and lo as the
// seeds' realserver.sh does, and on the VIP device and the network device
// when the configuration names them (the configure script's
// SERVER_VIP_DEVICE and SERVER_NET_DEVICE; the kernel uses the maximum of
// all and the device, so these only make the intent visible per device).
func (s *Server) arpSysctls(vipDev string) error {
	devs := []string{"all", "lo"}
	for _, d := range []string{vipDev, s.cfg.NetDevice} {
		if d != "" && !slices.Contains(devs, d) {
			devs = append(devs, d)
		}
	}
	for _, dev := range devs {
		if err := s.setSysctl(confKey(dev, "arp_ignore"), "1"); err != nil {
			return err
		}
		if err := s.setSysctl(confKey(dev, "arp_announce"), "2"); err != nil {
			return err
		}
	}
	return nil
}

// vipDevice splits Config.VIPDevice of DR into the device and the label
// (lo and no label by default).
func (c *Config) vipDevice() (dev, label string) {
	if c.VIPDevice == "" {
		return "lo", ""
	}
	dev, _, hasLabel := strings.Cut(c.VIPDevice, ":")
	if hasLabel {
		label = c.VIPDevice
	}
	return dev, label
}

func (s *Server) setupDR(ctx context.Context) error {
	dev, label := s.cfg.vipDevice()
	if err := s.ensureLink(ctx, dev); err != nil {
		return err
	}
	if err := s.arpSysctls(dev); err != nil {
		return err
	}
	if err := s.ensureUp(ctx, dev); err != nil {
		return err
	}
	for _, v := range s.cfg.VIPs {
		if err := s.addAddr(ctx, dev, v, label); err != nil {
			return err
		}
	}
	return s.setGateway(ctx)
}

// ensureLink checks that dev exists; a missing dummyN is created as a
// dummy link, as a configure-script SERVER_VIP_DEVICE=dummy0 expects.
func (s *Server) ensureLink(ctx context.Context, dev string) error {
	exists, _, err := s.e.h.link(dev)
	if err != nil || exists {
		return err
	}
	if !strings.HasPrefix(dev, "dummy") {
		return fmt.Errorf("VIP device %s does not exist", dev)
	}
	if err := s.record(Change{Kind: ChangeLinkAdd, Dev: dev, Type: "dummy"}); err != nil {
		return err
	}
	if err := s.e.h.addDummyLink(ctx, dev); err != nil {
		s.unrecord()
		return fmt.Errorf("VIP device %s: creating a dummy link (does the kernel have the dummy module?): %w", dev, err)
	}
	return nil
}

// setupNAT points the default route at the director: a NAT real server's
// replies must go back through it to be rewritten.
func (s *Server) setupNAT(ctx context.Context) error {
	return s.setGateway(ctx)
}

// setGateway makes Config.Gateway the default route (through NetDevice
// when set), recording the route it replaces; nothing when no gateway is
// configured or the route is already that.
func (s *Server) setGateway(ctx context.Context) error {
	gw := s.cfg.Gateway
	if !gw.IsValid() {
		return nil
	}
	oldVia, oldDev, err := s.e.h.defaultRoute(ctx)
	if err != nil {
		return err
	}
	if oldVia == gw && (s.cfg.NetDevice == "" || oldDev == s.cfg.NetDevice) {
		return nil
	}
	c := Change{Kind: ChangeRoute, Via: gw, Dev: s.cfg.NetDevice, OldVia: oldVia, OldDev: oldDev}
	if err := s.record(c); err != nil {
		return err
	}
	if err := s.e.h.setDefaultRoute(ctx, gw, s.cfg.NetDevice); err != nil {
		s.unrecord()
		return fmt.Errorf("default route via %v: %w", gw, err)
	}
	return nil
}

func (s *Server) setupTUN(ctx context.Context) error {
	switch s.cfg.Decap {
	case DecapKernel:
		return s.setupKernelIPIP(ctx)
	case DecapAuto:
		if slices.ContainsFunc(s.cfg.VIPs, func(v netip.Addr) bool { return v.Is6() }) {
			// tunl0 takes IPIP only: IPv6 VIPs come in ip6ip6 or
			// IPv6 in IPv4, which the userspace decapsulator takes.
			s.log.Info("IPv6 VIPs: using the userspace decapsulator")
			break
		}
		err := s.setupKernelIPIP(ctx)
		if !errors.Is(err, ErrNotSupported) {
			return err
		}
		s.log.Info("no ipip in this kernel: using the userspace decapsulator", "why", err)
	}
	return s.setupUserDecap(ctx)
}

// wantTCX reports whether the userspace decapsulator should have the tcx
// program decapsulate IPIP to the IPv4 VIPs: asked for (DecapTCX), or
// tried (DecapAuto) where there is an IPv4 VIP.
func (s *Server) wantTCX() bool {
	switch s.cfg.Decap {
	case DecapTCX:
		return true
	case DecapAuto:
		return slices.ContainsFunc(s.cfg.VIPs, netip.Addr.Is4)
	}
	return false
}

// setupKernelIPIP uses the kernel's tunl0 as seed 002 does. It returns an
// error matching ErrNotSupported, having changed nothing, if the kernel has
// no ipip.
func (s *Server) setupKernelIPIP(ctx context.Context) error {
	exists, _, err := s.e.h.link(IPIPDevice)
	if err != nil {
		return err
	}
	if !exists {
		if err := s.record(Change{Kind: ChangeLinkAdd, Dev: IPIPDevice}); err != nil {
			return err
		}
		addErr := s.e.h.addIPIPLink(ctx, IPIPDevice)
		if addErr != nil {
			if err := s.unrecord(); err != nil {
				return err
			}
			// Loading the module may have created the fallback tunl0
			// and made our add fail with "exists".
			if exists, _, err = s.e.h.link(IPIPDevice); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("kernel ipip: %w: %v", ErrNotSupported, addErr)
			}
		}
	}
	s.setState(func(st *State) { st.Decap, st.Device = DecapKernel, IPIPDevice })
	if err := s.arpSysctls(""); err != nil {
		return err
	}
	for _, dev := range []string{"all", IPIPDevice} {
		if err := s.setSysctl(confKey(dev, "rp_filter"), "0"); err != nil {
			return err
		}
	}
	if err := s.ensureUp(ctx, IPIPDevice); err != nil {
		return err
	}
	for _, v := range s.cfg.VIPs {
		if err := s.addAddr(ctx, IPIPDevice, v, ""); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) setupUserDecap(ctx context.Context) error {
	iface := s.cfg.Iface
	if iface == "" {
		iface = s.cfg.NetDevice
	}
	if iface == "" {
		var err error
		if iface, err = s.e.h.defaultIface(ctx); err != nil {
			return fmt.Errorf("capture interface: %w", err)
		}
	}
	tun := s.cfg.TunName
	if exists, _, err := s.e.h.link(tun); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("TUN device %s already exists", tun)
	}
	if ok, err := s.e.h.nftTableExists(ctx, NftTable); err != nil {
		return fmt.Errorf("nftables (needed to drop the kernel's protocol-unreachable replies): %w", err)
	} else if ok {
		return fmt.Errorf("nftables table ip %s already exists: another decapsulator runs here?", NftTable)
	}
	self, err := s.e.self()
	if err != nil {
		return err
	}
	s.setState(func(st *State) { st.Decap, st.Device, st.Iface, st.Process = DecapUser, tun, iface, self })
	if err := s.record(Change{Kind: ChangeTun, Dev: tun}); err != nil {
		return err
	}
	withTCX := s.wantTCX()
	d, err := s.e.openDecap(iface, tun, s.cfg.VIPs, withTCX)
	if withTCX && s.cfg.Decap == DecapAuto && err != nil {
		if errors.Is(err, ErrNotSupported) {
			s.log.Info("no tcx decapsulation here: the userspace decapsulator takes every tunnel packet", "why", err)
		} else {
			s.log.Warn("tcx decapsulation failed (please report it): the userspace decapsulator takes every tunnel packet", "err", err)
		}
		withTCX = false
		d, err = s.e.openDecap(iface, tun, s.cfg.VIPs, false)
	}
	if err != nil {
		s.unrecord()
		return err
	}
	if withTCX {
		s.setState(func(st *State) { st.Decap = DecapTCX })
	}
	s.mu.Lock()
	s.decap = d
	s.mu.Unlock()
	if err := s.arpSysctls(""); err != nil {
		return err
	}
	// Loose reverse-path filtering on the TUN device: the kernel uses
	// max(all, dev), so this holds whatever conf/all says.
	if err := s.setSysctl(confKey(tun, "rp_filter"), "2"); err != nil {
		return err
	}
	// The tcx program's inner packets arrive on iface: strict filtering
	// there would drop a client routed through another interface.
	if withTCX {
		if err := s.noStrictRPFilter(iface); err != nil {
			return err
		}
	}
	if err := s.e.h.setLinkUp(ctx, tun, true); err != nil {
		return err
	}
	for _, v := range s.cfg.VIPs {
		if err := s.addAddr(ctx, tun, v, ""); err != nil {
			return err
		}
	}
	if err := s.record(Change{Kind: ChangeNftTable, Table: NftTable}); err != nil {
		return err
	}
	if err := s.e.h.addNftDropIPIP(ctx, NftTable); err != nil {
		s.unrecord()
		return fmt.Errorf("nftables table to drop IPIP input: %w", err)
	}
	if err := d.arm(s.log); err != nil {
		return err
	}
	s.mu.Lock()
	s.run = true
	s.mu.Unlock()
	go d.run()
	go func() {
		<-d.doneCh()
		if err := d.runErr(); err != nil {
			s.log.Error("decapsulator stopped", "err", err)
		}
	}()
	return nil
}

// noStrictRPFilter makes reverse-path filtering on dev loose if it is
// strict there (the kernel uses max(all, dev): 1 is strict, 2 loose, 0
// off), and leaves it alone otherwise.
func (s *Server) noStrictRPFilter(dev string) error {
	all, err := s.e.h.readSysctl(confKey("all", "rp_filter"))
	if err != nil {
		return err
	}
	own, err := s.e.h.readSysctl(confKey(dev, "rp_filter"))
	if err != nil {
		return err
	}
	if max(all, own) != "1" {
		return nil
	}
	return s.setSysctl(confKey(dev, "rp_filter"), "2")
}

// setState changes the state under the lock; the next record writes it.
func (s *Server) setState(fn func(*State)) {
	s.mu.Lock()
	fn(s.st)
	s.mu.Unlock()
}

// record appends c to the state and writes the state file. It runs before
// the change is made, so a crash in between leaves a record whose undo
// finds nothing to do.
func (s *Server) record(c Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Changes = append(s.st.Changes, c)
	if err := writeState(s.cfg.StateDir, s.st); err != nil {
		s.st.Changes = s.st.Changes[:len(s.st.Changes)-1]
		return err
	}
	s.log.Debug("change", "what", c.String())
	return nil
}

// unrecord drops the last change, which was not made after all.
func (s *Server) unrecord() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Changes = s.st.Changes[:len(s.st.Changes)-1]
	return writeState(s.cfg.StateDir, s.st)
}

// setSysctl writes value to key unless it already holds it.
func (s *Server) setSysctl(key, value string) error {
	old, err := s.e.h.readSysctl(key)
	if err != nil {
		return err
	}
	if old == value {
		return nil
	}
	if err := s.record(Change{Kind: ChangeSysctl, Key: key, Old: old, New: value}); err != nil {
		return err
	}
	if err := s.e.h.writeSysctl(key, value); err != nil {
		s.unrecord()
		return err
	}
	return nil
}

// addAddr adds v/32 on dev (labelled label, unless empty) unless dev
// already carries v. An IPv6 VIP goes on as v/128, unlabelled (labels
// are IPv4's): Linux answers neighbour solicitations only for addresses
// of the interface they arrive on (ndisc_recv_ns), so a VIP on lo is
// never announced or answered for on the real server's network, and no
// sysctl like arp_ignore/arp_announce is needed for IPv6; lo does no
// duplicate address detection either.
func (s *Server) addAddr(ctx context.Context, dev string, v netip.Addr, label string) error {
	has, err := s.e.h.hasAddr(dev, v)
	if err != nil || has {
		return err
	}
	p := netip.PrefixFrom(v, 32)
	if v.Is6() {
		p, label = netip.PrefixFrom(v, 128), ""
	}
	if err := s.record(Change{Kind: ChangeAddr, Dev: dev, Addr: p, Label: label}); err != nil {
		return err
	}
	if err := s.e.h.addAddr(ctx, dev, p, label); err != nil {
		s.unrecord()
		return err
	}
	return nil
}

// ensureUp sets dev up unless it is.
func (s *Server) ensureUp(ctx context.Context, dev string) error {
	exists, up, err := s.e.h.link(dev)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("link %s does not exist", dev)
	}
	if up {
		return nil
	}
	if err := s.record(Change{Kind: ChangeLinkUp, Dev: dev}); err != nil {
		return err
	}
	if err := s.e.h.setLinkUp(ctx, dev, true); err != nil {
		s.unrecord()
		return err
	}
	return nil
}

// State returns a copy of the recorded state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := *s.st
	st.Changes = append([]Change(nil), st.Changes...)
	st.VIPs = append([]netip.Addr(nil), st.VIPs...)
	return st
}

// Stats returns the decapsulator's counters, indexed by Verdict (all zero
// without a userspace decapsulator).
func (s *Server) Stats() [NumVerdicts]uint64 {
	s.mu.Lock()
	d := s.decap
	s.mu.Unlock()
	if d == nil {
		return [NumVerdicts]uint64{}
	}
	return d.statsRef().Snapshot()
}

// Hold stops (on) and resumes (off) the userspace decapsulator's capture
// and the tcx program: while held the socket filter takes no frame and a
// program that leaves every frame alone stands in the tcx link, so tunnel
// packets cost the host next to nothing and are not decapsulated. ulvs
// bench holds the lab's decapsulators while it floods (the real servers
// count and drop the flood at their interface's ingress, where a kernel's
// ipip would decapsulate only after that drop; the capture and the tcx
// hook run before it). Any thread may call it, in any namespace. Without
// a userspace decapsulator it does nothing.
func (s *Server) Hold(on bool) error {
	// Under s.mu: Down closes the capture socket under it, and its
	// descriptor number may be reused at once.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.decap == nil {
		return nil
	}
	return s.decap.hold(on)
}

// Done is closed when Down has finished, or when the userspace
// decapsulator stopped on its own (see Err); the caller should then call
// Down.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	d, run := s.decap, s.run
	s.mu.Unlock()
	if d == nil || !run {
		return s.done
	}
	ch := make(chan struct{})
	go func() {
		select {
		case <-d.doneCh():
		case <-s.done:
		}
		close(ch)
	}()
	return ch
}

// Err returns why the decapsulator stopped on its own, or nil.
func (s *Server) Err() error {
	s.mu.Lock()
	d, run := s.decap, s.run
	s.mu.Unlock()
	if d == nil || !run {
		return nil
	}
	select {
	case <-d.doneCh():
		return d.runErr()
	default:
		return nil
	}
}

// Down stops the decapsulator (closing the TUN device, which deletes it)
// and reverts every recorded change, then removes the state file. Changes
// it cannot revert stay in the state file and their errors are returned;
// calling Down again retries them. Like Up it acts on the calling thread's
// network namespace.
func (s *Server) Down(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downed {
		return nil
	}
	if s.decap != nil {
		s.decap.stop(s.run)
		s.decap.closeFds()
		s.decap = nil
	}
	s.st.Process = nil
	err := revert(ctx, s.e.h, s.cfg.StateDir, s.st, s.log)
	if err == nil {
		s.downed = true
		close(s.done)
	}
	return err
}

// revert undoes st's changes newest first, then removes the state file;
// what fails stays recorded (and the file is rewritten).
func revert(ctx context.Context, h host, dir string, st *State, log *slog.Logger) error {
	var errs []error
	var kept []Change
	for i := len(st.Changes) - 1; i >= 0; i-- {
		c := st.Changes[i]
		if err := undo(ctx, h, c, log); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", c, err))
			kept = append(kept, c)
		}
	}
	if len(errs) > 0 {
		// kept is newest first; the file keeps Up's order.
		for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
			kept[i], kept[j] = kept[j], kept[i]
		}
		st.Changes = kept
		if err := writeState(dir, st); err != nil {
			errs = append(errs, err)
		}
		return fmt.Errorf("realserver down %s: %w", st.Name, errors.Join(errs...))
	}
	st.Changes = nil
	if err := os.Remove(StatePath(dir, st.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("realserver down %s: %w", st.Name, err)
	}
	log.Info("real server down", "mode", st.Mode, "vips", st.VIPs)
	return nil
}

// undo reverts one change. What is already gone is not an error.
func undo(ctx context.Context, h host, c Change, log *slog.Logger) error {
	switch c.Kind {
	case ChangeAddr:
		return h.delAddr(ctx, c.Dev, c.Addr)
	case ChangeSysctl:
		cur, err := h.readSysctl(c.Key)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a device's key, gone with the device
		}
		if err != nil {
			return err
		}
		if cur != c.New {
			log.Warn("sysctl changed since up: left as is", "key", c.Key, "up-set", c.New, "now", cur, "before-up", c.Old)
			return nil
		}
		return h.writeSysctl(c.Key, c.Old)
	case ChangeLinkUp:
		exists, up, err := h.link(c.Dev)
		if err != nil || !exists || !up {
			return err
		}
		return h.setLinkUp(ctx, c.Dev, false)
	case ChangeLinkAdd, ChangeTun:
		return h.delLink(ctx, c.Dev)
	case ChangeNftTable:
		return h.delNftTable(ctx, c.Table)
	case ChangeRoute:
		via, dev, err := h.defaultRoute(ctx)
		if err != nil {
			return err
		}
		if via != c.Via || c.Dev != "" && dev != c.Dev {
			log.Warn("default route changed since up: left as is", "up-set", routeText(c.Via, c.Dev), "now", routeText(via, dev))
			return nil
		}
		if c.OldDev == "" {
			return h.delDefaultRoute(ctx)
		}
		return h.setDefaultRoute(ctx, c.OldVia, c.OldDev)
	}
	return fmt.Errorf("unknown change kind %q", c.Kind)
}

// DownConfig says which real server Down reverts.
type DownConfig struct {
	// Name of the state; empty means the same default as Config.Name.
	Name string
	// StateDir; empty means DefaultStateDir.
	StateDir string
	// StopTimeout bounds the wait for a decapsulator process to exit after
	// SIGTERM before it gets SIGKILL; 0 means 10 s.
	StopTimeout time.Duration
	Logger      *slog.Logger
}

// Down reverts what an Up recorded in the state file, typically from
// another process (`ulvs realserver down`). If a decapsulator process is
// recorded and still running (same PID, start time and command line) it
// gets SIGTERM, and Down waits for it to revert its own changes; whatever
// is left, Down reverts itself. Without a state file Down does nothing and
// returns nil. It refuses to run in another network namespace than Up's,
// and in the process that runs the decapsulator (use Server.Down there).
func Down(ctx context.Context, cfg DownConfig) error {
	return downWith(ctx, cfg, osEnv())
}

func downWith(ctx context.Context, cfg DownConfig, e env) error {
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.Name == "" {
		cfg.Name = e.netnsName()
	}
	if !nameRE.MatchString(cfg.Name) {
		return fmt.Errorf("realserver down: bad name %q", cfg.Name)
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("realserver", cfg.Name)
	st, err := ReadState(cfg.StateDir, cfg.Name)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info("no state: nothing to undo")
		return nil
	}
	if err != nil {
		return fmt.Errorf("realserver down: %w", err)
	}
	ns, err := e.netnsID()
	if err != nil {
		return fmt.Errorf("realserver down: %w", err)
	}
	if st.NetNS != 0 && st.NetNS != ns {
		return fmt.Errorf("realserver down %s: state recorded in network namespace %d, this is %d", st.Name, st.NetNS, ns)
	}
	if p := st.Process; p != nil {
		if self, err := e.self(); err == nil && self.PID == p.PID {
			return fmt.Errorf("realserver down %s: this process runs the decapsulator; use Server.Down", st.Name)
		}
		if err := e.stopProcess(p, cfg.StopTimeout, log); err != nil {
			return fmt.Errorf("realserver down %s: %w", st.Name, err)
		}
		// The process reverted what it could; take over the rest.
		st, err = ReadState(cfg.StateDir, cfg.Name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("realserver down: %w", err)
		}
		st.Process = nil
		if err := writeState(cfg.StateDir, st); err != nil {
			return err
		}
	}
	return revert(ctx, e.h, cfg.StateDir, st, log)
}

// Running reports whether the process still runs: same PID, start time and
// command line.
func (p *Process) Running() bool {
	cur, err := processInfo(p.PID)
	return err == nil && cur.StartTime == p.StartTime && equalArgs(cur.Cmdline, p.Cmdline)
}

func equalArgs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
