package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/arp"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/engine"
	"github.com/ulvs/ulvs/estimator"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/ndp"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/vrrp"
	"github.com/ulvs/ulvs/vs"
)

// Engine is what the Director needs of the data path.
type Engine interface {
	SetTable(*vs.Table)
	Table() *vs.Table
	SetTimeouts(*conntrack.Timeouts)
	Timeouts() *conntrack.Timeouts
}

// Config configures a Director.
type Config struct {
	Engine Engine
	// Interfaces the real servers are reached on, for neighbour
	// resolution. Nil disables resolution (tests set MACs themselves).
	Interfaces []string
	// ConnTableSize is reported as ipvsadm's "size=".
	ConnTableSize int
	Logger        *slog.Logger
}

// Director owns the rules, compiles them into tables for the engine and
// keeps real-server MACs resolved. Safe for concurrent use.
type Director struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	nexthops []netip.Addr // next hops the data path asked to resolve
	rules    config.Rules
	marks    []config.Mark
	// nfMarks are the marks compiled from iptables/nft rules
	// (SetNetfilterMarks); unmarkedWarned the mark services already
	// warned about having no mark rule.
	nfMarks        []config.Mark
	unmarkedWarned map[config.ServiceKey]bool
	// markStatus is the last reading of the netfilter mark rules, for
	// Snapshot; nil when they are not read.
	markStatus *ctl.MarkRulesStatus
	knobs      config.Knobs
	comp       *compiler
	resolvers  []*ifaceResolver
	rates      estimator.Table // rates.go
	// haStandby and haAddrs are the failover state (SetHA): the addresses
	// this director is a backup for, and every failover address.
	haStandby, haAddrs []netip.Addr
	// haPulse says the failover is Piranha's pulse (SetHAPulse), which
	// carries IPv4 addresses only.
	haPulse bool
	// haLinks6 are the interfaces each IPv6 failover address is on (its
	// dev, else its instance's interface; SetHALinks6). ha6Warned are the
	// IPv6 floating addresses already reported as on none of ulvsd's
	// interfaces.
	haLinks6  map[netip.Addr][]string
	ha6Warned map[netip.Addr]bool
	// haVMAC and haVMAC6 are the virtual MACs of use_vmac instances'
	// IPv4 and IPv6 addresses (SetVMACs).
	haVMAC  map[[4]byte][6]byte
	haVMAC6 map[[16]byte][6]byte
	// checks reports the health checks' status (SetCheckStatus).
	checks atomic.Pointer[func() []healthcheck.VirtualStatus]
	// haStatus reports the failover instances (SetHAStatus).
	haStatus atomic.Pointer[func() []vrrp.Status]
	// sync runs the connection sync daemons (sync.go).
	sync *syncManager
	// traces are the clients of ulvs trace (trace.go).
	traces traceHub
	// bgp announces the virtual addresses (bgp.go); nil without [bgp].
	bgp atomic.Pointer[bgpManager]
}

// ifaceResolver resolves the real servers reachable on one interface.
type ifaceResolver struct {
	name     string
	prefixes []netip.Prefix
	res      *arp.Resolver
	// nd resolves the IPv6 real servers and next hops on the interface
	// by neighbour discovery; nil when it could not be opened (IPv6
	// disabled on the interface).
	nd *arp.Resolver
}

// New creates a Director with an empty table. When cfg.Interfaces is set it
// dials the ARP resolvers, so it must run inside the interfaces' network
// namespace.
func New(cfg Config) (*Director, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Director{cfg: cfg, log: log, comp: newCompiler(), sync: newSyncManager(cfg.Engine, log)}
	for _, name := range cfg.Interfaces {
		ni, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", name, err)
		}
		ir := &ifaceResolver{name: name}
		ps, err := prefixesOf(ni)
		if err != nil {
			return nil, err
		}
		ir.prefixes = ps
		res, err := arp.NewResolver(arp.ResolverConfig{
			Interface: ni,
			Logger:    log.With("interface", name),
			OnChange:  d.macChanged,
		})
		if err != nil {
			return nil, fmt.Errorf("ARP resolver on %s (the interface needs an IPv4 address): %w", name, err)
		}
		ir.res = res
		ir.nd, err = arp.NewResolver(arp.ResolverConfig{
			Interface: ni,
			IPv6:      true,
			Dial:      func(ifi *net.Interface) (arp.Conn, error) { return ndp.Dial(ifi) },
			Logger:    log.With("interface", name, "resolver", "ndp"),
			OnChange:  d.macChanged,
		})
		if err != nil {
			log.Warn("no IPv6 neighbour discovery on the interface: IPv6 real servers on it stay unresolved", "interface", name, "err", err)
			ir.nd = nil
		}
		d.resolvers = append(d.resolvers, ir)
		d.comp.ifacePrefixes = append(d.comp.ifacePrefixes, ir.prefixes)
	}
	if len(cfg.Interfaces) > 0 {
		d.comp.routes = loadRoutes(cfg.Interfaces)
		d.comp.routes6 = loadRoutes6(cfg.Interfaces)
	}
	return d, nil
}

// Run keeps neighbour resolution and the routes current until ctx is done.
func (d *Director) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if len(d.cfg.Interfaces) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.watchRoutes(ctx)
		}()
	}
	if ne, ok := d.cfg.Engine.(neighbourEngine); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.serveNeighbourRequests(ctx, ne)
		}()
	}
	for _, ir := range d.resolvers {
		if ir.nd != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ir.nd.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
					d.log.Error("IPv6 neighbour resolver stopped", "interface", ir.name, "err", err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ir.res.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				d.log.Error("ARP resolver stopped", "interface", ir.name, "err", err)
			}
		}()
	}
	wg.Wait()
	d.sync.stopAll()
	return nil
}

// neighbourEngine is the part of the engine that sends to next hops (NAT
// replies to clients).
type neighbourEngine interface {
	SetNeighbour(addr [4]byte, mac [6]byte, ok bool)
	NeighbourRequests() <-chan [4]byte
}

// maxNextHops bounds the next hops kept resolved for the data path.
const maxNextHops = 4096

// serveNeighbourRequests adds the next hops the engine asks for to the
// resolvers' watch lists.
func (d *Director) serveNeighbourRequests(ctx context.Context, ne neighbourEngine) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-ne.NeighbourRequests():
			addr := netip.AddrFrom4(a)
			d.mu.Lock()
			if !slices.Contains(d.nexthops, addr) && len(d.nexthops) < maxNextHops {
				d.nexthops = append(d.nexthops, addr)
				d.watch()
			}
			d.mu.Unlock()
		}
	}
}

func (d *Director) macChanged(addr netip.Addr, mac [6]byte, ok bool) {
	if ne, isNE := d.cfg.Engine.(neighbourEngine); isNE && addr.Is4() {
		ne.SetNeighbour(addr.As4(), mac, ok)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.comp.setMAC(addr, mac, ok)
	if !ok {
		d.log.Warn("neighbour unreachable: no ARP or neighbour advertisement answer", "addr", addr)
	}
}

// SetRules replaces the whole rule set (start-up, SIGHUP reload). Services
// and dests that stay keep their connections, counters and scheduler state.
func (d *Director) SetRules(r config.Rules) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.install(r)
}

// SetConfig replaces the rules, the mark rules (port groups) and the
// sysctl knobs together, as a (re)load of the configuration file does.
//
// The connection sync sysctls of knobs apply to the sync daemons started
// afterwards (running ones keep theirs, as the kernel's threads keep
// their sockets and buffers).
func (d *Director) SetConfig(r config.Rules, marks []config.Mark, knobs config.Knobs) error {
	sysctls, err := syncSysctls(knobs.Sync)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	oldMarks, oldKnobs := d.marks, d.knobs
	d.marks, d.knobs = marks, knobs
	if err := d.install(r); err != nil {
		d.marks, d.knobs = oldMarks, oldKnobs
		return err
	}
	d.warnShadowed()
	d.traceEvent(trace.KindConfig, fmt.Sprintf("configuration loaded: %d services", len(r.Services)), nil, netip.AddrPort{}, nil)
	return d.sync.setSysctls(sysctls)
}

// install compiles r and publishes it. d.mu must be held.
func (d *Director) install(r config.Rules) error {
	if d.haPulse && hasIPv6(&r) {
		// Piranha's pulse moves IPv4 addresses only (lvs.cf has no
		// IPv6): both directors would answer for an IPv6 VIP and
		// forward its traffic. VRRP (vrrp_instance) moves IPv6 ones.
		return fmt.Errorf("IPv6 services on a director with pulse failover (lvs.cf): pulse fails over IPv4 addresses only; use a vrrp_instance over IPv6 (VRRPv3): %w", config.ErrIPv6NotYet)
	}
	marks := d.allMarks()
	t, err := d.comp.compile(&r, marks, d.knobs)
	if err != nil {
		return err
	}
	d.warnUnmarked(&r, marks)
	if len(d.haAddrs) > 0 {
		var standby, floating [][4]byte
		var standby6 [][16]byte
		floating6 := map[[16]byte]uint64{}
		vips6 := t.VIPs6()
		for _, a := range d.haStandby {
			if a.Is4() {
				standby = append(standby, a.As4())
			} else {
				standby6 = append(standby6, a.As16())
			}
		}
		for _, a := range d.haAddrs {
			if a.Is4() && !t.IsVIP(a.As4()) {
				floating = append(floating, a.As4())
			}
			if a.Is6() && !slices.Contains(vips6, a) {
				if links := d.links6(a); links != 0 {
					floating6[a.As16()] = links
				}
			}
		}
		t.SetHA(standby, floating)
		t.SetHA6(standby6, floating6)
		t.SetVMACs(d.haVMAC)
		t.SetVMACs6(d.haVMAC6)
	}
	d.rules = r
	d.cfg.Engine.SetTable(t)
	d.watch()
	return nil
}

// SetHAPulse says whether the failover addresses are pulse's (lvs.cf):
// pulse carries IPv4 only, so IPv6 services are then refused. It takes
// effect with the next SetHA.
func (d *Director) SetHAPulse(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.haPulse = on
}

// SetHALinks6 gives the interfaces each IPv6 failover address is on (the
// entry's dev, else its instance's interface): an IPv6 floating address
// (no IPv6 VIP: a NAT66 gateway) is answered and announced on those only,
// as keepalived's `ip addr add ... dev` puts it on one interface, where
// only that link's solicitations find it (a link-local fe80::1 gateway
// on the inside must not take over an outside router's fe80::1). It
// takes effect with the next SetHA.
func (d *Director) SetHALinks6(m map[netip.Addr][]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.haLinks6 = nil
	for a, names := range m {
		if a.Is6() {
			if d.haLinks6 == nil {
				d.haLinks6 = map[netip.Addr][]string{}
			}
			d.haLinks6[a] = slices.Clone(names)
		}
	}
}

// links6 returns the links (bit i: interface i of ulvsd's list) the IPv6
// floating address a is answered on: those of SetHALinks6 that are
// ulvsd's interfaces; every link when either list is unknown. An address
// on none of ulvsd's interfaces is logged once. d.mu must be held.
func (d *Director) links6(a netip.Addr) uint64 {
	names := d.haLinks6[a]
	if len(names) == 0 || len(d.cfg.Interfaces) == 0 {
		return ^uint64(0)
	}
	var m uint64
	for _, n := range names {
		if i := slices.Index(d.cfg.Interfaces, n); i >= 0 && i < 64 {
			m |= 1 << i
		}
	}
	if m == 0 && !d.ha6Warned[a] {
		if d.ha6Warned == nil {
			d.ha6Warned = map[netip.Addr]bool{}
		}
		d.ha6Warned[a] = true
		d.log.Warn("IPv6 failover address is on none of ulvsd's interfaces: neighbour solicitations for it are not answered (add its interface to -i)",
			"address", a, "interfaces", names)
	}
	return m
}

// hasIPv6 reports whether r has an IPv6 service.
func hasIPv6(r *config.Rules) bool {
	return slices.ContainsFunc(r.Services, func(s config.Service) bool { return s.IPv6() })
}

// watch hands each resolver the real-server addresses on its subnets (the
// first interface takes the ones on none). d.mu must be held.
func (d *Director) watch() {
	if len(d.resolvers) == 0 {
		return
	}
	sets := make([][]netip.Addr, len(d.resolvers))
	add := func(a netip.Addr) {
		i := d.comp.ifaceOf(a)
		if !slices.Contains(sets[i], a) {
			sets[i] = append(sets[i], a)
		}
	}
	for _, s := range d.rules.Services {
		for _, dst := range s.Dests {
			add(dst.Addr)
		}
	}
	for _, a := range d.nexthops {
		add(a)
	}
	for _, v := range d.comp.viaRouters() {
		// Routers of IPv6 tunnel real servers (routes6.go), on the
		// interface of their route (a link-local router has no prefix).
		if v.iface < len(sets) && !slices.Contains(sets[v.iface], v.gw) {
			sets[v.iface] = append(sets[v.iface], v.gw)
		}
	}
	for i, ir := range d.resolvers {
		ir.res.Watch(sets[i]) // each resolver keeps its own family
		if ir.nd != nil {
			ir.nd.Watch(sets[i])
		}
	}
}

// SetHA sets the failover state: standby are the addresses whose VRRP
// instance is not master here (no ARP answers, their traffic dropped), all
// every instance's addresses (those that are no VIP are answered for, as a
// floating NAT gateway, while master). The table is republished at once.
func (d *Director) SetHA(standby, all []netip.Addr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range all {
		if !a.Is4() && (!a.Is6() || a.Is4In6()) {
			return fmt.Errorf("failover address %v: not an IPv4 or IPv6 address", a)
		}
	}
	d.haStandby, d.haAddrs = slices.Clone(standby), slices.Clone(all)
	return d.install(d.rules)
}

// SetVMACs gives the virtual MAC (use_vmac) of failover addresses: ARP
// (neighbour solicitations for an IPv6 address) for them is answered and
// announced with it, and frames sent to it are the director's. It takes
// effect with the next SetHA.
func (d *Director) SetVMACs(m map[netip.Addr][6]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.haVMAC, d.haVMAC6 = nil, nil
	for a, mac := range m {
		switch {
		case a.Is4():
			if d.haVMAC == nil {
				d.haVMAC = map[[4]byte][6]byte{}
			}
			d.haVMAC[a.As4()] = mac
		case a.Is6() && !a.Is4In6():
			if d.haVMAC6 == nil {
				d.haVMAC6 = map[[16]byte][6]byte{}
			}
			d.haVMAC6[a.As16()] = mac
		}
	}
}

// Rules returns a copy of the current rules.
func (d *Director) Rules() config.Rules {
	d.mu.Lock()
	defer d.mu.Unlock()
	return cloneRules(d.rules)
}

// apply is Apply; kind names the editor in trace events (trace.go).
func (d *Director) apply(c config.Command, kind string) error {
	c.Normalize() // -f N -6: the key d.zero and the trace use too
	if c.Op == config.OpStartDaemon || c.Op == config.OpStopDaemon {
		return d.sync.apply(c)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.Op == config.OpSetTimeout {
		return d.setTimeouts(c.Timeouts)
	}
	if (c.Op == config.OpAddDest || c.Op == config.OpEditDest) &&
		c.Dest.Addr.Is4() == (c.FwMarkIPv6 || c.Service.IPv6()) && len(d.sync.status()) > 0 {
		// ip_vs_genl_set_cmd: "The synchronization protocol is
		// incompatible with mixed family services".
		return fmt.Errorf("real server %v of the other address family while a sync daemon runs (the sync protocol cannot carry such connections): %w", c.Dest.Addr, config.ErrInvalid)
	}
	r := cloneRules(d.rules)
	if err := r.Apply(c); err != nil {
		return err
	}
	if c.Op == config.OpZero {
		d.zero(c)
		return nil
	}
	if err := d.install(r); err != nil {
		return err
	}
	d.traceCommand(kind, c)
	return nil
}

// zero clears the packet, byte and connection counters of one service (or
// all), as ipvsadm -Z does; connection gauges stay. d.mu must be held.
func (d *Director) zero(c config.Command) {
	for key, se := range d.comp.svcs {
		if c.HasService && key != c.Service.Key() {
			continue
		}
		se.stats.Zero()
		d.rates.Zero(&se.stats.Counters)
		for dk, de := range d.comp.dests {
			if dk.svc == key {
				de.state.Zero()
				d.rates.Zero(&de.state.Counters)
			}
		}
	}
}

func cloneRules(r config.Rules) config.Rules {
	out := config.Rules{Services: slices.Clone(r.Services)}
	for i := range out.Services {
		out.Services[i].Dests = slices.Clone(out.Services[i].Dests)
		out.Services[i].SchedFlags = slices.Clone(out.Services[i].SchedFlags)
	}
	return out
}

// announceAgain repeats the gratuitous ARP after start: a client that asked
// before the director was up holds a FAILED entry for about 3 s.
func announceAgain(ctx context.Context, e *engine.Engine) {
	for _, wait := range []time.Duration{time.Second, 3 * time.Second} {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
			e.Announce()
		}
	}
}

// SetTimeouts applies ipvsadm --set tcp tcpfin udp (0 keeps a value).
func (d *Director) SetTimeouts(t config.Timeouts) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setTimeouts(t)
}

func (d *Director) setTimeouts(t config.Timeouts) error {
	nt := d.cfg.Engine.Timeouts().Clone()
	if err := nt.Set(int(t.TCP), int(t.TCPFin), int(t.UDP)); err != nil {
		return err
	}
	d.cfg.Engine.SetTimeouts(nt)
	return nil
}
