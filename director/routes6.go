package director

import (
	"bufio"
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// IPv6 routes, for tunnel real servers that are not on a link of the
// director (issue #17): the kernel's ip_vs_tunnel_xmit_v6 sends through
// the route to the real server (__ip_vs_get_out_rt_v6), so an ip6ip6 or
// IPv4-in-IPv6 packet to a real server behind a router goes to the
// router's MAC. DR and NAT66 real servers stay on-link, as the kernel
// needs for DR (IP_VS_RT_MODE_KNOWN_NH) and ulvs for NAT66.

// route6 is an IPv6 route over one of the director's interfaces.
type route6 struct {
	prefix  netip.Prefix
	iface   int        // index in the director's interface list
	gateway netip.Addr // the next hop; invalid: on-link
}

// readRoutes6 parses /proc/net/ipv6_route (destination, prefix length,
// source, source length, next hop, metric, refcount, use, flags, device;
// addresses in 32 hex digits) into the routes over the given interfaces,
// most specific first (by metric among equals, as they come).
func readRoutes6(r io.Reader, ifaces []string) []route6 {
	type withMetric struct {
		route6
		metric uint64
	}
	var rs []withMetric
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		idx := slices.Index(ifaces, f[9])
		if idx < 0 {
			continue
		}
		dst, ok1 := hexAddr6(f[0])
		bits, err1 := strconv.ParseUint(f[1], 16, 8)
		hop, ok2 := hexAddr6(f[4])
		metric, err2 := strconv.ParseUint(f[5], 16, 32)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || bits > 128 {
			continue
		}
		p, err := dst.Prefix(int(bits))
		if err != nil {
			continue
		}
		rt := route6{prefix: p, iface: idx}
		if !hop.IsUnspecified() {
			rt.gateway = hop
		}
		rs = append(rs, withMetric{rt, metric})
	}
	slices.SortStableFunc(rs, func(a, b withMetric) int {
		if d := b.prefix.Bits() - a.prefix.Bits(); d != 0 {
			return d
		}
		return int(a.metric) - int(b.metric)
	})
	out := make([]route6, len(rs))
	for i := range rs {
		out[i] = rs[i].route6
	}
	return out
}

// hexAddr6 decodes an address as /proc/net/ipv6_route prints it.
func hexAddr6(s string) (netip.Addr, bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(b)), true
}

// loadRoutes6 reads the current IPv6 routes over the interfaces.
func loadRoutes6(ifaces []string) []route6 {
	f, err := os.Open("/proc/net/ipv6_route")
	if err != nil {
		return nil // IPv6 off in this namespace
	}
	defer f.Close()
	return readRoutes6(f, ifaces)
}

// via6 returns the router through which the director reaches IPv6 tunnel
// real server addr, and the interface: the most specific route with a
// gateway, when addr is on none of the director's links. ok is false for
// an on-link real server or one no route covers.
func (c *compiler) via6(addr netip.Addr) (gw netip.Addr, iface int, ok bool) {
	for _, ps := range c.ifacePrefixes {
		for _, p := range ps {
			if p.Contains(addr) {
				return gw, 0, false
			}
		}
	}
	for _, r := range c.routes6 {
		if r.prefix.Contains(addr) {
			return r.gateway, r.iface, r.gateway.IsValid()
		}
	}
	return gw, 0, false
}

// applyVia gives a tunnel real server reached through router gw the
// router's MAC (or none yet), as the kernel's route gives its packets.
func (c *compiler) applyVia(de *destEntry, gw netip.Addr) {
	if mac, ok := c.macs[gw]; ok {
		de.state.SetMAC(mac)
	} else {
		de.state.ClearMAC()
	}
}

// via6 is the router an IPv6 tunnel real server is reached through, and
// the interface it is on.
type via6 struct {
	gw    netip.Addr
	iface int
}

// viaRouters lists the routers of the IPv6 tunnel real servers off the
// director's links, sorted, each once, for neighbour resolution on their
// interface.
func (c *compiler) viaRouters() []via6 {
	var out []via6
	for _, v := range c.vias {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b via6) int {
		if r := a.gw.Compare(b.gw); r != 0 {
			return r
		}
		return a.iface - b.iface
	})
	return out
}
