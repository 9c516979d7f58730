package tomlfile

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// This file parses the [bgp] table and its [[bgp.peer]] tables into
// config.BGP (docs/scale-out.md).

var bgpKeys = []string{"local_as", "router_id", "hold_time", "next_hop", "next_hop6", "warmup", "quorum", "shutdown_delay", "listen_port", "peer"}

var bgpPeerKeys = []string{"address", "as", "port", "passive", "bfd", "bfd_interval", "bfd_multiplier"}

// bgp parses [bgp]; it returns nil when the table has errors (reported).
func (p *fileParser) bgp(m map[string]any) *config.BGP {
	errs := len(p.errs)
	t := p.table("bgp", m, bgpKeys...)
	b := &config.BGP{HoldTime: config.DefaultBGPHoldTime, Quorum: config.DefaultBGPQuorum, ShutdownDelay: config.DefaultBGPShutdownDelay}
	if n, ok := t.int("local_as", 1, math.MaxUint32); ok {
		b.LocalAS = uint32(n)
	}
	b.RouterID, _ = p.bgpAddr(t, "router_id")
	b.NextHop, _ = p.bgpAddr(t, "next_hop")
	b.NextHop6, _ = p.bgpAddrCheck(t, "next_hop6", config.CheckBGPAddr6)
	if d, set := t.seconds("warmup", 0, config.MaxBGPWarmup); set {
		b.Warmup = d
	}
	if _, set := m["hold_time"]; set {
		if n, ok := t.int("hold_time", 0, int64(config.MaxBGPHoldTime/time.Second)); ok {
			b.HoldTime = time.Duration(n) * time.Second
			if msg := config.CheckBGPHoldTime(b.HoldTime); msg != "" {
				p.errorf("bgp.hold_time", "%s", msg)
			}
		}
	}
	if _, set := m["quorum"]; set {
		if n, ok := t.int("quorum", 1, math.MaxUint32); ok {
			b.Quorum = uint32(n)
		}
	}
	if d, set := t.seconds("shutdown_delay", 0, config.MaxBGPShutdownDelay); set {
		b.ShutdownDelay = d
	}
	if n, ok := t.int("listen_port", 0, 65535); ok {
		b.ListenPort = uint16(n)
	}
	for i, pm := range t.tables("peer") {
		path := fmt.Sprintf("bgp.peer[%d]", i)
		pt := p.table(path, pm, bgpPeerKeys...)
		var peer config.BGPPeer
		if a, ok := p.bgpAddrCheck(pt, "address", config.CheckBGPPeerAddr); ok && a.IsValid() {
			peer.Address = a
		} else if _, present := pm["address"]; !present {
			p.errorf(path+".address", "required: the router's address")
		}
		if _, present := pm["as"]; !present {
			p.errorf(path+".as", "required: the router's AS number")
		} else if n, ok := pt.int("as", 1, math.MaxUint32); ok {
			peer.AS = uint32(n)
		}
		if n, ok := pt.int("port", 1, 65535); ok {
			peer.Port = uint16(n)
		}
		peer.Passive = pt.bool("passive")
		peer.BFD = pt.bool("bfd")
		peer.BFDInterval, peer.BFDMultiplier = config.DefaultBFDInterval, config.DefaultBFDMultiplier
		if d, set := pt.seconds("bfd_interval", config.MinBFDInterval, config.MaxBFDInterval); set {
			peer.BFDInterval = d
			if msg := config.CheckBFDInterval(d); msg != "" {
				p.errorf(path+".bfd_interval", "%s", msg)
			}
		}
		if n, ok := pt.int("bfd_multiplier", 1, 255); ok && n != 0 {
			peer.BFDMultiplier = uint8(n)
		}
		if !peer.BFD {
			for _, k := range []string{"bfd_interval", "bfd_multiplier"} {
				if _, set := pm[k]; set {
					p.errorf(path+"."+k, "needs bfd = true (BFD is off for this peer)")
				}
			}
			peer.BFDInterval, peer.BFDMultiplier = 0, 0
		}
		pt.done()
		b.Peers = append(b.Peers, peer)
	}
	t.done()
	if len(p.errs) > errs {
		return nil
	}
	if field, msg := config.CheckBGP(b); msg != "" {
		if field == "" {
			field = "bgp"
		} else {
			field = "bgp." + field
		}
		p.errorf(field, "%s", msg)
		return nil
	}
	return b
}

// bgpAddr reads the IPv4 address at key: ok is false when it is wrong
// (reported); an absent key gives the zero Addr and ok.
func (p *fileParser) bgpAddr(t *tomlTable, key string) (netip.Addr, bool) {
	return p.bgpAddrCheck(t, key, config.CheckBGPAddr)
}

// bgpAddrCheck reads the address at key, checked by check, as bgpAddr.
func (p *fileParser) bgpAddrCheck(t *tomlTable, key string, check func(netip.Addr, string) string) (netip.Addr, bool) {
	s, set := t.string(key)
	if !set {
		_, present := t.m[key]
		return netip.Addr{}, !present
	}
	a, _ := netip.ParseAddr(s)
	if msg := check(a, s); msg != "" {
		p.errorf(t.field(key), "%s", msg)
		return netip.Addr{}, false
	}
	return a, true
}

// writeBGP writes b as [bgp] and its [[bgp.peer]] tables; nothing when b
// is nil. Defaults are left out.
func writeBGP(w *strings.Builder, b *config.BGP) {
	if b == nil {
		return
	}
	fmt.Fprintf(w, "\n[bgp]\nlocal_as = %d\nrouter_id = %s\n", b.LocalAS, tomlString(b.RouterID.String()))
	if b.HoldTime != config.DefaultBGPHoldTime {
		fmt.Fprintf(w, "hold_time = %d\n", b.HoldTime/time.Second)
	}
	if b.NextHop.IsValid() {
		fmt.Fprintf(w, "next_hop = %s\n", tomlString(b.NextHop.String()))
	}
	if b.NextHop6.IsValid() {
		fmt.Fprintf(w, "next_hop6 = %s\n", tomlString(b.NextHop6.String()))
	}
	if b.Warmup != 0 {
		fmt.Fprintf(w, "warmup = %s\n", secondsText(b.Warmup))
	}
	if b.Quorum != config.DefaultBGPQuorum {
		fmt.Fprintf(w, "quorum = %d\n", b.Quorum)
	}
	if b.ShutdownDelay != config.DefaultBGPShutdownDelay {
		fmt.Fprintf(w, "shutdown_delay = %s\n", secondsText(b.ShutdownDelay))
	}
	if b.ListenPort != 0 {
		fmt.Fprintf(w, "listen_port = %d\n", b.ListenPort)
	}
	for _, p := range b.Peers {
		fmt.Fprintf(w, "\n[[bgp.peer]]\naddress = %s\nas = %d\n", tomlString(p.Address.String()), p.AS)
		if p.Port != 0 {
			fmt.Fprintf(w, "port = %d\n", p.Port)
		}
		if p.Passive {
			w.WriteString("passive = true\n")
		}
		if p.BFD {
			w.WriteString("bfd = true\n")
			if p.BFDInterval != config.DefaultBFDInterval {
				fmt.Fprintf(w, "bfd_interval = %s\n", secondsText(p.BFDInterval))
			}
			if p.BFDMultiplier != config.DefaultBFDMultiplier {
				fmt.Fprintf(w, "bfd_multiplier = %d\n", p.BFDMultiplier)
			}
		}
	}
}
