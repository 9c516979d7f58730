package director

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

// destKey identifies a real server within its service.
type destKey struct {
	svc  config.ServiceKey
	addr netip.Addr
	port uint16
}

// destEntry is what stays stable about a real server across tables: its ID
// and live state.
type destEntry struct {
	id    uint32
	state *vs.DestState
	last  *vs.Dest // as in the newest table
}

// svcEntry is what stays stable about a service across tables.
type svcEntry struct {
	id    uint32
	stats *vs.ServiceStats
	last  *vs.Service
}

// compiler turns Rules into vs.Table snapshots, keeping IDs, live counters
// and scheduler state of everything that did not change. Not safe for
// concurrent use; the Director serialises calls.
type compiler struct {
	gen      uint64
	nextSvc  uint32
	nextDest uint32
	svcs     map[config.ServiceKey]*svcEntry
	dests    map[destKey]*destEntry
	// macs are the resolved MACs of real-server addresses, applied to
	// dests as they are created.
	macs map[netip.Addr][6]byte
	// ifacePrefixes are the connected prefixes of each interface, in the
	// engine's order: a dest is reached on the interface of its subnet.
	ifacePrefixes [][]netip.Prefix
	// routes are the kernel's routes over the director's interfaces;
	// routes6 its IPv6 ones, and vias the router each IPv6 tunnel real
	// server off the director's links is reached through (routes6.go).
	routes  []vs.IPRoute
	routes6 []route6
	vias    map[netip.Addr]via6
	// epoch is the availability epoch every dest's state bumps.
	epoch atomic.Uint64
}

// ifaceOf returns the index of the interface whose subnet holds addr, or
// 0 when none does (the first interface carries everything else).
func (c *compiler) ifaceOf(addr netip.Addr) int {
	for i, ps := range c.ifacePrefixes {
		for _, p := range ps {
			if p.Contains(addr) {
				return i
			}
		}
	}
	return 0
}

func newCompiler() *compiler {
	return &compiler{
		svcs:  make(map[config.ServiceKey]*svcEntry),
		dests: make(map[destKey]*destEntry),
		macs:  make(map[netip.Addr][6]byte),
	}
}

// compile builds the table for rules with the mark rules and sysctl knobs
// in force. On error nothing changes.
func (c *compiler) compile(rules *config.Rules, marks []config.Mark, knobs config.Knobs) (*vs.Table, error) {
	params, err := schedParams(knobs)
	if err != nil {
		return nil, err
	}
	if err := config.CheckRulesFamily(rules); err != nil {
		return nil, err
	}
	type built struct {
		key  config.ServiceKey
		svc  *vs.Service
		prev *svcEntry
	}
	var out []built
	newSvcs := make(map[config.ServiceKey]*svcEntry)
	newDests := make(map[destKey]*destEntry)
	newVias := make(map[netip.Addr]via6)
	nextSvc, nextDest := c.nextSvc, c.nextDest
	for i := range rules.Services {
		rs := &rules.Services[i]
		if rs.FwMark == 0 && !rs.Addr.Is4() && !rs.Addr.Is6() {
			return nil, fmt.Errorf("service %s: no address", rs.Key().Name())
		}
		key := rs.Key()
		se := c.svcs[key]
		if se == nil {
			nextSvc++
			se = &svcEntry{id: nextSvc, stats: &vs.ServiceStats{}}
		}
		svc := &vs.Service{
			ID:      se.id,
			Proto:   rs.Proto,
			Addr:    rs.Addr,
			Port:    rs.Port,
			FwMark:  rs.FwMark,
			Timeout: rs.Timeout,
			Netmask: config.MaskBits(netip.Addr{}, rs.IPv6()),
			Stats:   se.stats,
			Params:  params,
		}
		for _, a := range rs.LocalAddrs {
			if a.Is4() {
				svc.LocalAddrs = append(svc.LocalAddrs, a.As4())
			} else {
				svc.LocalAddrs6 = append(svc.LocalAddrs6, a.As16()) // CheckRulesFamily: an IPv6 service's
			}
		}
		if slices.ContainsFunc(rs.Dests, func(d config.Dest) bool { return d.Method == vs.FullNAT }) && len(rs.LocalAddrs) == 0 {
			return nil, fmt.Errorf("service %s: fullnat real servers need local addresses (local_addresses in the configuration file)", netip.AddrPortFrom(rs.Addr, rs.Port))
		}
		if rs.Persistent && svc.Timeout == 0 {
			svc.Timeout = config.DefaultPersistentTimeout
		}
		svc.Flags |= config.SchedFlagBits(rs.SchedFlags)
		if rs.Persistent {
			svc.Flags |= vs.SvcPersistent
		}
		if rs.OnePacket {
			svc.Flags |= vs.SvcOnePacket
		}
		if rs.SynProxy {
			if slices.ContainsFunc(rs.Dests, func(d config.Dest) bool { return !config.SynProxyMethod(d.Method) }) {
				return nil, fmt.Errorf("service %s: %w", rs.Key().Name(), config.ErrSynProxyMethod)
			}
			svc.Flags |= vs.SvcSynProxy
		}
		if rs.Netmask.IsValid() {
			svc.Netmask = config.MaskBits(rs.Netmask, rs.Netmask.Is6())
		}
		// The kernel keeps dests newest first.
		for j := len(rs.Dests) - 1; j >= 0; j-- {
			rd := &rs.Dests[j]
			dk := destKey{svc: key, addr: rd.Addr, port: rd.Port}
			de := c.dests[dk]
			if de == nil {
				nextDest++
				de = &destEntry{id: nextDest, state: &vs.DestState{}}
				de.state.SetAvailabilityEpoch(&c.epoch)
				if mac, ok := c.macs[rd.Addr]; ok {
					de.state.SetMAC(mac)
				}
			}
			d := &vs.Dest{
				ID:         de.id,
				Addr:       rd.Addr,
				Port:       rd.Port,
				Method:     rd.Method,
				Weight:     rd.Weight,
				UThreshold: rd.UThreshold,
				LThreshold: rd.LThreshold,
				Iface:      c.ifaceOf(rd.Addr),
				State:      de.state,
			}
			if rd.Method == vs.Tunnel && rd.Addr.Is6() && !rd.Addr.Is4In6() {
				if gw, iface, ok := c.via6(rd.Addr); ok {
					d.Iface = iface
					newVias[rd.Addr] = via6{gw, iface}
					c.applyVia(de, gw)
				}
			}
			// __ip_vs_update_dest: a dest with no upper threshold, or one
			// above its current connections, is not overloaded.
			if d.UThreshold == 0 || int64(d.UThreshold) > int64(de.state.ActiveConns.Load())+int64(de.state.InactConns.Load()) {
				de.state.SetOverloaded(false)
			}
			newDests[dk] = &destEntry{id: de.id, state: de.state, last: d}
			svc.Dests = append(svc.Dests, d)
		}
		newSvcs[key] = &svcEntry{id: se.id, stats: se.stats, last: svc}
		out = append(out, built{key: key, svc: svc, prev: c.svcs[key]})
	}
	// Schedulers: keep the old one when neither its name nor anything
	// about the service's dests changed; otherwise build anew from the old
	// one's state, so the new one continues as the kernel's dest_changed
	// hooks (or, after ipvsadm -E -s, its fresh bind) would.
	for i, b := range out {
		name := rules.Services[i].Scheduler
		if name == "" {
			name = "wlc"
		}
		var prev vs.Scheduler
		if b.prev != nil && b.prev.last != nil {
			prev = b.prev.last.Scheduler
		}
		if prev != nil && prev.Name() == name && sameDests(b.prev.last.Dests, b.svc.Dests) &&
			b.prev.last.Params == b.svc.Params && b.prev.last.Flags == b.svc.Flags {
			b.svc.Scheduler = prev
			continue
		}
		s, err := sched.New(name, b.svc, prev)
		if err != nil {
			if errors.Is(err, sched.ErrUnknown) || errors.Is(err, sched.ErrNotImplemented) {
				err = fmt.Errorf("%w: %w", config.ErrSchedulerNotFound, err)
			}
			return nil, fmt.Errorf("service %s %s: %w", b.svc.Proto, netip.AddrPortFrom(b.svc.Addr, b.svc.Port), err)
		}
		b.svc.Scheduler = s
	}
	// Dests that left the rules stay addressable while connections still
	// point to them, as the kernel keeps them in its trash list.
	var extra []*vs.Dest
	for dk, de := range c.dests {
		if _, ok := newDests[dk]; ok {
			continue
		}
		if de.state.ActiveConns.Load()+de.state.InactConns.Load()+de.state.PersistConns.Load() > 0 {
			gone := *de.last
			gone.Trashed = true
			newDests[dk] = &destEntry{id: de.id, state: de.state, last: &gone}
			extra = append(extra, &gone)
		}
	}
	// Commit.
	c.nextSvc, c.nextDest = nextSvc, nextDest
	c.svcs, c.dests, c.vias = newSvcs, newDests, newVias
	c.gen++
	svcs := make([]*vs.Service, len(out))
	for i, b := range out {
		svcs[i] = b.svc
	}
	t := vs.NewTableMarks(c.gen, svcs, extra, markRules(marks))
	t.Knobs = tableKnobs(knobs)
	t.Routes = c.routes
	return t, nil
}

// markRules turns the configured port groups into the table's rules, in
// order.
func markRules(marks []config.Mark) []vs.MarkRule {
	var out []vs.MarkRule
	for _, m := range marks {
		for _, mm := range m.Matches {
			r := vs.MarkRule{Mark: m.Mark, Proto: mm.Proto, Addr: mm.Addr, Src: mm.Src}
			for _, pr := range mm.Ports {
				r.Ports = append(r.Ports, [2]uint16{pr.First, pr.Last})
			}
			out = append(out, r)
		}
	}
	return out
}

// tableKnobs maps the [sysctl] settings to the table's, with the kernel's
// defaults where unset.
func tableKnobs(k config.Knobs) vs.Knobs {
	out := vs.DefaultKnobs()
	if k.ConnReuseSet {
		out.ConnReuseMode = k.ConnReuseMode
	}
	out.ExpireNodestConn = k.ExpireNodestConn
	out.ExpireQuiescentTemplate = k.ExpireQuiescentTemplate
	out.SloppyTCP = k.SloppyTCP
	out.DropEntry, out.DropPacket, out.SecureTCP = k.DropEntry, k.DropPacket, k.SecureTCP
	if k.AmemThreshSet {
		out.AmemThresh = k.AmemThresh
	}
	if k.AmDropRateSet {
		out.AmDropRate = k.AmDropRate
	}
	return out
}

// schedParams maps the scheduler tunables of the [sysctl] settings.
func schedParams(k config.Knobs) (vs.SchedParams, error) {
	p := vs.SchedParams{
		LBLCExpiration:  time.Duration(k.LBLCExpiration) * time.Second,
		LBLCRExpiration: time.Duration(k.LBLCRExpiration) * time.Second,
		MHTableSize:     k.MHTableSize,
	}
	switch k.Overhead {
	case "", "classic":
		p.Overhead = vs.OverheadClassic
	case "total":
		p.Overhead = vs.OverheadTotal
	default:
		return p, fmt.Errorf("overhead %q: want classic or total", k.Overhead)
	}
	return p, nil
}

// sameDests reports whether two dest lists are the same for a scheduler:
// same dests in the same order with the same weights and thresholds.
func sameDests(a, b []*vs.Dest) bool {
	return slices.EqualFunc(a, b, func(x, y *vs.Dest) bool {
		return x.ID == y.ID && x.Weight == y.Weight && x.Method == y.Method && x.Iface == y.Iface &&
			x.UThreshold == y.UThreshold && x.LThreshold == y.LThreshold
	})
}

// setMAC records addr's MAC (ok) or its loss (!ok) and applies it to every
// dest with that address.
func (c *compiler) setMAC(addr netip.Addr, mac [6]byte, ok bool) {
	if ok {
		c.macs[addr] = mac
	} else {
		delete(c.macs, addr)
	}
	for dk, de := range c.dests {
		if v, ok := c.vias[dk.addr]; ok {
			if v.gw == addr {
				c.applyVia(de, v.gw) // a router's MAC for the real servers behind it
			}
			continue
		}
		if dk.addr != addr {
			continue
		}
		if ok {
			de.state.SetMAC(mac)
		} else {
			de.state.ClearMAC()
		}
	}
}
