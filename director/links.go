package director

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/ulvs/ulvs/engine"
)

// LinkChanged follows a change of one of the engine's interfaces (engine
// Config.OnLink). It runs on the engine's link monitor thread, inside the
// director's network namespace, so the ARP client it dials again for an
// interface that came back is bound to that namespace's interface. It
// re-reads the interface's prefixes and the routes, which a recreated
// interface may have lost or changed.
func (d *Director) LinkChanged(ev engine.LinkEvent) {
	var ni *net.Interface
	if ev.State == engine.LinkUp {
		var err error
		if ni, err = net.InterfaceByName(ev.Name); err != nil {
			d.log.Warn("interface back but not readable", "interface", ev.Name, "err", err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.IndexFunc(d.resolvers, func(ir *ifaceResolver) bool { return ir.name == ev.Name })
	if ni != nil && i >= 0 {
		ir := d.resolvers[i]
		if ev.Reason == "back" {
			if err := ir.res.Redial(ni); err != nil {
				d.log.Error("ARP resolver cannot follow the interface: real servers on it will not be re-resolved", "interface", ev.Name, "err", err)
			}
			if ir.nd != nil {
				if err := ir.nd.Redial(ni); err != nil {
					d.log.Error("IPv6 neighbour resolver cannot follow the interface", "interface", ev.Name, "err", err)
				}
			}
		}
		if ps, err := prefixesOf(ni); err == nil && !slices.Equal(ps, ir.prefixes) {
			ir.prefixes = ps
			d.comp.ifacePrefixes[i] = ps
		}
	}
	if len(d.cfg.Interfaces) > 0 {
		d.comp.routes = loadRoutes(d.cfg.Interfaces)
		d.comp.routes6 = loadRoutes6(d.cfg.Interfaces)
	}
	if err := d.install(d.rules); err != nil {
		d.log.Error("interface changed but the table could not be rebuilt", "interface", ev.Name, "err", err)
	}
}

// prefixesOf returns the IPv4 and global IPv6 prefixes connected to ni.
func prefixesOf(ni *net.Interface) ([]netip.Prefix, error) {
	addrs, err := ni.Addrs()
	if err != nil {
		return nil, fmt.Errorf("interface %s addresses: %w", ni.Name, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if p, err := netip.ParsePrefix(ipn.String()); err == nil && (p.Addr().Is4() || p.Addr().Is6() && !p.Addr().IsLinkLocalUnicast()) {
				out = append(out, p.Masked())
			}
		}
	}
	return out, nil
}
