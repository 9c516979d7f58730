package director

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/netip"
	"os"

	"github.com/ulvs/ulvs/config"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// routePoll is how often the director re-reads the kernel's routing table.
const routePoll = 5 * time.Second

// readRoutes parses /proc/net/route (the routing table of the reading
// process's network namespace) into routes over the given interfaces, most
// specific first. Routes through other interfaces are left out: the
// director sends only on its own.
func readRoutes(r io.Reader, ifaces []string) []vs.IPRoute {
	var out []vs.IPRoute
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		idx := slices.Index(ifaces, f[0])
		if idx < 0 {
			continue
		}
		dst, ok1 := hexAddr(f[1])
		gw, ok2 := hexAddr(f[2])
		mask, ok3 := hexAddr(f[7])
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		bits := config.MaskBits(netip.AddrFrom4(mask), false)
		p, err := netip.AddrFrom4(dst).Prefix(bits)
		if err != nil {
			continue
		}
		out = append(out, vs.IPRoute{Prefix: p, Iface: idx, Gateway: gw})
	}
	slices.SortStableFunc(out, func(a, b vs.IPRoute) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	return out
}

// hexAddr decodes an address as /proc/net/route prints it: the 32-bit
// value in host (little-endian) byte order, in hex.
func hexAddr(s string) ([4]byte, bool) {
	var a [4]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return a, false
	}
	binary.BigEndian.PutUint32(a[:], binary.LittleEndian.Uint32(b))
	return a, true
}

// loadRoutes reads the current routes over the interfaces.
func loadRoutes(ifaces []string) []vs.IPRoute {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil
	}
	defer f.Close()
	return readRoutes(f, ifaces)
}

// watchRoutes re-reads the routes every routePoll and republishes the
// table when they changed.
func (d *Director) watchRoutes(ctx context.Context) {
	t := time.NewTicker(routePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		routes := loadRoutes(d.cfg.Interfaces)
		routes6 := loadRoutes6(d.cfg.Interfaces)
		d.mu.Lock()
		if !slices.Equal(routes, d.comp.routes) || !slices.Equal(routes6, d.comp.routes6) {
			d.comp.routes, d.comp.routes6 = routes, routes6
			if err := d.install(d.rules); err != nil {
				d.log.Error("routes changed but the table could not be rebuilt", "err", err)
			} else {
				d.log.Info("routes changed", "routes", len(routes))
			}
		}
		d.mu.Unlock()
	}
}
