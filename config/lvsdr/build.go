package lvsdr

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// lvsTypes are LVS_TYPE's values.
var lvsTypes = map[string]vs.Method{"VS_DR": vs.Route, "VS_NAT": vs.Masq, "VS_TUN": vs.Tunnel}

// build interprets the settings.
func (p *parser) build() {
	c, f := p.conf, p.conf.File
	d, rs := &c.Director, &c.RealServer
	s := p.once["LVS_TYPE"]
	if s == nil {
		p.errorf(0, "LVS_TYPE", "LVS_TYPE is required: VS_DR, VS_NAT or VS_TUN")
		return
	}
	if !p.fields(s, 1, 1, "VS_DR, VS_NAT or VS_TUN") {
		return
	}
	m, ok := lvsTypes[s.words[0]]
	if !ok {
		p.errorf(s.num, s.name, "%q is not VS_DR, VS_NAT or VS_TUN", s.words[0])
		return
	}
	p.method, rs.Method = m, m
	lvsType := s.words[0]

	c.InitialState = true
	if s := p.once["INITIAL_STATE"]; s != nil {
		if !p.fields(s, 1, 1, "on or off") {
			return
		}
		switch s.words[0] {
		case "on":
		case "off":
			c.InitialState = false
			p.warnf(s.num, "INITIAL_STATE=off: the real servers start with weight 0, for mon to bring in; ulvs runs no mon, so set their weights with ulvsadm -e")
		default:
			p.errorf(s.num, s.name, "%q is not on or off", s.words[0])
			return
		}
	}

	s = p.once["VIP"]
	if s == nil {
		p.errorf(0, "VIP", "VIP is required: VIP=DEVICE ADDRESS NETMASK BROADCAST, like VIP=eth0:110 192.168.1.110 255.255.255.255 192.168.1.110")
		return
	}
	if !p.fields(s, 2, 4, "DEVICE ADDRESS [NETMASK [BROADCAST]]") {
		return
	}
	if d.VIPDevice, ok = p.device(s, s.words[0]); !ok {
		return
	}
	if d.VIP, ok = p.unicastHost(s, s.words[1]); !ok {
		return
	}
	if len(s.words) > 2 {
		if d.VIPNetmask, ok = p.netmask(s, s.words[2]); !ok {
			return
		}
	}
	if len(s.words) > 3 {
		if d.VIPBroadcast, ok = p.host(s, s.words[3]); !ok {
			return
		}
	}
	rs.VIP = d.VIP
	addIface := func(dev string) {
		base, _, _ := strings.Cut(dev, ":")
		if !slices.Contains(f.Interfaces, base) {
			f.Interfaces = append(f.Interfaces, base)
		}
	}
	addIface(d.VIPDevice)

	if s := p.once["DIRECTOR_INSIDEIP"]; s != nil {
		if !p.fields(s, 2, 5, "DEVICE ADDRESS [NETWORK [NETMASK [BROADCAST]]]") {
			return
		}
		if d.InsideDevice, ok = p.device(s, s.words[0]); !ok {
			return
		}
		if d.InsideIP, ok = p.unicastHost(s, s.words[1]); !ok {
			return
		}
		dst := []*netip.Addr{&d.InsideNetwork, &d.InsideNetmask, &d.InsideBroadcast}
		for i, w := range s.words[2:] {
			if i == 1 {
				*dst[i], ok = p.netmask(s, w)
			} else {
				*dst[i], ok = p.host(s, w)
			}
			if !ok {
				return
			}
		}
		addIface(d.InsideDevice)
		if p.method == vs.Masq {
			p.warnf(s.num, "ulvsd configures no address: %s must already be on %s, as the real servers' gateway (rc.lvs_nat would add it)", d.InsideIP, d.InsideDevice)
		}
	} else if p.method == vs.Masq {
		p.warnf(0, "VS_NAT without DIRECTOR_INSIDEIP: the real servers must route their replies through this director")
	}
	gw := func(name string, to *netip.Addr) bool {
		if s := p.once[name]; s != nil {
			if !p.fields(s, 1, 1, "a host") {
				return false
			}
			*to, ok = p.host(s, s.words[0])
			return ok
		}
		return true
	}
	if !gw("DIRECTOR_DEFAULT_GW", &d.DefaultGW) || !gw("SERVER_DEFAULT_GW", &rs.DefaultGW) {
		return
	}
	for _, name := range []string{"SERVER_VIP_DEVICE", "SERVER_NET_DEVICE"} {
		s := p.once[name]
		if s == nil {
			continue
		}
		if !p.fields(s, 1, 1, "a device") {
			return
		}
		dev, ok := p.device(s, s.words[0])
		if !ok {
			return
		}
		if name == "SERVER_VIP_DEVICE" {
			rs.VIPDevice = dev
		} else {
			rs.NetDevice = dev
		}
	}
	if rs.VIPDevice == "" && p.method != vs.Masq {
		p.warnf(0, "no SERVER_VIP_DEVICE: the real servers of %s need the VIP on a device that does not answer ARP (lo:0, dummy0, tunl0)", lvsType)
	}

	if len(p.services) == 0 {
		p.errorf(0, "SERVICE", "no SERVICE line: nothing to balance")
		return
	}
	seen := map[config.ServiceKey]int{}
	for _, s := range p.services {
		svc, ok := p.service(s)
		if !ok {
			return
		}
		if old, dup := seen[svc.Key()]; dup {
			p.errorf(s.num, s.name, "service %s port %d is already defined on line %d", svc.Proto, svc.Port, old)
			return
		}
		seen[svc.Key()] = s.num
		f.Rules.Services = append(f.Rules.Services, svc)
		for _, dst := range svc.Dests {
			if !slices.Contains(rs.Servers, dst.Addr) {
				rs.Servers = append(rs.Servers, dst.Addr)
			}
		}
	}
	p.warnf(0, "no health checks: the configure script leaves them to mon, which ulvs does not run (a failed real server stays in the table)")
}

// service reads SERVICE=PROTO PORT [SCHEDULER] [ppc [-t SECONDS]] SERVER...,
// each SERVER being HOST[:PORT][,WEIGHT].
func (p *parser) service(s *setting) (config.Service, bool) {
	w := s.words
	if len(w) < 3 {
		p.errorf(s.num, s.name, "takes PROTOCOL PORT [SCHEDULER] [ppc [-t SECONDS]] REALSERVER... (got %q)", strings.Join(w, " "))
		return config.Service{}, false
	}
	svc := config.Service{Addr: p.conf.Director.VIP, Scheduler: config.DefaultScheduler}
	proto := ""
	switch w[0] {
	case "t":
		svc.Proto, proto = vs.TCP, "tcp"
	case "u":
		svc.Proto, proto = vs.UDP, "udp"
	case "f":
		p.errorf(s.num, s.name, "fwmark services (f) are not read from this file: write them in ulvs's TOML with [[fwmark]]")
		return svc, false
	default:
		p.errorf(s.num, s.name, "protocol %q is not t (TCP) or u (UDP)", w[0])
		return svc, false
	}
	var ok bool
	if svc.Port, ok = p.port(s, w[1], proto); !ok {
		return svc, false
	}
	w = w[2:]
	if config.KnownScheduler(w[0]) {
		svc.Scheduler, w = w[0], w[1:]
	}
	if len(w) > 0 && w[0] == "ppc" {
		svc.Persistent, svc.Timeout, w = true, config.DefaultPersistentTimeout, w[1:]
		if len(w) > 0 && w[0] == "-t" {
			if len(w) < 2 {
				p.errorf(s.num, s.name, "ppc -t needs a number of seconds")
				return svc, false
			}
			n, err := strconv.Atoi(w[1])
			if err != nil || n < 1 || n > config.MaxTimeout {
				p.errorf(s.num, s.name, "ppc -t %s: the persistence timeout must be a number of seconds from 1 to %d", w[1], config.MaxTimeout)
				return svc, false
			}
			svc.Timeout, w = uint32(n), w[2:]
		}
	}
	if svc.Port == 0 && !svc.Persistent {
		p.errorf(s.num, s.name, "port 0 (every port) needs ppc (ipvsadm: zero port specified for non-persistent service)")
		return svc, false
	}
	if len(w) == 0 {
		p.errorf(s.num, s.name, "names no real server")
		return svc, false
	}
	for _, rw := range w {
		d, ok := p.realServer(s, rw, svc, proto)
		if !ok {
			return svc, false
		}
		if slices.ContainsFunc(svc.Dests, func(o config.Dest) bool { return o.Addr == d.Addr && o.Port == d.Port }) {
			p.errorf(s.num, s.name, "real server %s is listed twice", rw)
			return svc, false
		}
		svc.Dests = append(svc.Dests, d)
	}
	return svc, true
}

// realServer reads HOST[:PORT][,WEIGHT].
func (p *parser) realServer(s *setting, w string, svc config.Service, proto string) (config.Dest, bool) {
	d := config.Dest{Port: svc.Port, Method: p.method, Weight: 1}
	if !p.conf.InitialState {
		d.Weight = 0
	}
	hp, weight, hasWeight := strings.Cut(w, ",")
	host, port, hasPort := strings.Cut(hp, ":")
	var ok bool
	if d.Addr, ok = p.unicastHost(s, host); !ok {
		return d, false
	}
	if hasPort {
		if d.Port, ok = p.port(s, port, proto); !ok {
			return d, false
		}
		if d.Port != svc.Port && p.method != vs.Masq {
			p.warnf(s.num, "real server %s: %v keeps the service's port %d (ipvsadm -g/-i ignores %d)", w, p.method, svc.Port, d.Port)
			d.Port = svc.Port
		}
		if d.Port == 0 && svc.Port != 0 {
			p.errorf(s.num, s.name, "real server %s: port 0", w)
			return d, false
		}
	}
	if hasWeight {
		n, err := strconv.Atoi(weight)
		if err != nil || n < 0 || n > 65535 {
			p.errorf(s.num, s.name, "real server %s: weight %q must be a number from 0 to 65535", w, weight)
			return d, false
		}
		if p.conf.InitialState {
			d.Weight = int32(n)
		}
	}
	return d, true
}
