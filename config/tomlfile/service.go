package tomlfile

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// This file parses [[virtual_server]] and its [[virtual_server.real_server]]
// tables into config.Service and config.Dest.

// service parses one [[virtual_server]] at path, and its health checks
// (health.go; nil when it has none). marks are the file's [[fwmark]]
// tables by number. ok is false when it has a problem (already recorded).
func (p *fileParser) service(path string, m map[string]any, marks map[uint32]*config.Mark) (svc config.Service, vh *config.VirtualHealth, ok bool) {
	t := p.table(path, m, append([]string{"protocol", "address", "fwmark", "scheduler", "forward",
		"persistence_timeout", "persistence_netmask", "one_packet", "sched_flags", "real_server",
		"local_addresses", "synproxy", "family"}, serviceHealthKeys...)...)
	defer t.done()
	ok = true
	svc = config.Service{Proto: vs.TCP, Scheduler: fileDefaultScheduler}
	_, hasAddr := m["address"]
	_, hasMark := m["fwmark"]

	if s, set := t.string("protocol"); set {
		proto, valid := config.ParseProto(s)
		switch {
		case !valid:
			p.errorf(path+".protocol", "must be \"tcp\" or \"udp\" (got %q)", s)
			ok = false
		case hasMark && !hasAddr:
			// ipvsadm -f gives a mark service no protocol of its own (it
			// stores TCP); the marks' matches choose the protocols.
			p.errorf(path+".protocol", "not allowed with fwmark: the [[fwmark]] matches choose the protocols")
			ok = false
		default:
			svc.Proto = proto
		}
	}

	hasPort := false // svc.Port is known
	known := false   // svc's identity (address:port or mark) is known
	switch {
	case hasAddr && hasMark:
		p.errorf(path+".fwmark", "a virtual_server has either address or fwmark, not both")
		ok = false
	case hasMark:
		n, nok := t.int("fwmark", 1, math.MaxUint32)
		if !nok {
			ok = false
			break
		}
		svc.FwMark, known = uint32(n), true
		if !p.markFamily(t, path, &svc) {
			ok = false
			break
		}
		if mk := marks[svc.FwMark]; mk == nil {
			p.errorf(path+".fwmark", "no [[fwmark]] table in this file defines mark %d%s", n, definedMarks(marks))
			ok = false
		} else if len(mk.Matches) > 0 && !slices.ContainsFunc(mk.Matches, func(mm config.MarkMatch) bool { return isIPv6Prefix(mm.Addr) == svc.IPv6() }) {
			p.errorf(path+".fwmark", "[[fwmark]] %d has no %s match, so no packet reaches this %s service (family = %q takes the other family's)",
				n, familyName(svc.IPv6()), familyName(svc.IPv6()), familyName(!svc.IPv6()))
			ok = false
		}
	case hasAddr:
		if _, set := m["family"]; set {
			p.errorf(path+".family", "only for a fwmark service: an address service's family is its address's")
			ok = false
		}
		s, set := t.string("address")
		if !set {
			ok = false // not a string: reported
			break
		}
		addr, port, withPort, msg := config.ParseAddrPort(s)
		switch {
		case msg != "":
			p.errorf(path+".address", "%s", msg)
			ok = false
		case !withPort:
			p.errorf(path+".address", "must be IPv4-address:port or [IPv6-address]:port (got %q)", s)
			ok = false
		default:
			svc.Addr, svc.Port, hasPort, known = addr, port, true, true
		}
	default:
		p.errorf(path+".address", "required: the virtual IPv4-address:port or [IPv6-address]:port (or fwmark = N for a [[fwmark]] port group)")
		ok = false
	}

	schedOK := true
	if s, set := t.string("scheduler"); set {
		name := strings.ToLower(s)
		if !slices.Contains(tomlSchedulers, name) {
			p.errorf(path+".scheduler", "unknown scheduler %q (want one of %s)", s, strings.Join(tomlSchedulers, " "))
			ok, schedOK = false, false
		} else {
			svc.Scheduler = name
		}
	} else if _, present := m["scheduler"]; present {
		ok, schedOK = false, false // not a string: reported
	}

	method := vs.Route
	if s, set := t.string("forward"); set {
		if m, known := config.ParseMethod(s); known {
			method = m
		} else {
			p.errorf(path+".forward", "unknown forwarding method %q (want dr, tun, nat or fullnat)", s)
			ok = false
		}
	}

	timeout, timeoutOK := t.uint32("persistence_timeout", fileMaxTimeout)
	svc.Timeout, svc.Persistent = timeout, timeout > 0
	ok = ok && timeoutOK
	if hasPort && svc.Port == 0 && !svc.Persistent && timeoutOK {
		p.errorf(path+".address", "port 0 is only allowed for persistent services (set persistence_timeout)")
		ok = false
	}

	if s, set := t.string("persistence_netmask"); set && svc.IPv6() {
		// IPv6: a prefix length, as ipvsadm -M and the kernel take it.
		n, err := strconv.Atoi(strings.TrimPrefix(s, "/"))
		switch {
		case err != nil || n < 1 || n > 128:
			p.errorf(path+".persistence_netmask", "must be a prefix length from 1 to 128 for an IPv6 service, like \"64\" (got %q)", s)
			ok = false
		case !svc.Persistent && timeoutOK:
			p.errorf(path+".persistence_netmask", "only applies to persistent services (set persistence_timeout)")
			ok = false
		default:
			svc.Netmask = config.IPv6Mask(n)
		}
	} else if set {
		mask, valid := config.ParseNetmask(s)
		switch {
		case !valid:
			p.errorf(path+".persistence_netmask", "must be a contiguous IPv4 netmask like 255.255.255.0 (got %q)", s)
			ok = false
		case !svc.Persistent && timeoutOK:
			p.errorf(path+".persistence_netmask", "only applies to persistent services (set persistence_timeout)")
			ok = false
		case mask == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			// The default, which Service.Netmask and ipvsadm -M store as
			// the zero Addr.
		default:
			svc.Netmask = mask
		}
	}

	if t.bool("one_packet") {
		switch {
		case svc.FwMark != 0:
			// ipvsadm allows -o with -f; it applies to the UDP packets.
			if mk := marks[svc.FwMark]; mk != nil && !markHasProto(mk, vs.UDP) {
				p.errorf(path+".one_packet", "only applies to udp, and [[fwmark]] %d matches no udp packets", svc.FwMark)
				ok = false
			} else {
				svc.OnePacket = true
			}
		case svc.Proto != vs.UDP:
			p.errorf(path+".one_packet", "only applies to udp services")
			ok = false
		default:
			svc.OnePacket = true
		}
	}

	if flags, set := t.strings("sched_flags"); set {
		var bits [3]string // the name that set each IP_VS_SVC_F_SCHED bit
		for i, fl := range flags {
			field := fmt.Sprintf("%s.sched_flags[%d]", path, i)
			bit, known := tomlSchedFlagBit[fl]
			switch {
			case !known:
				p.errorf(field, "unknown scheduler flag %q (want one of %s)", fl, strings.Join(tomlSchedFlags, " "))
				ok = false
				continue
			case !schedOK:
				continue
			case strings.HasPrefix(fl, "sh-") && svc.Scheduler != "sh",
				strings.HasPrefix(fl, "mh-") && svc.Scheduler != "mh":
				p.errorf(field, "%q only applies to the %s scheduler (scheduler is %q)", fl, fl[:2], svc.Scheduler)
				ok = false
				continue
			}
			if bits[bit] != "" {
				p.errorf(field, "%q sets the same flag as %q", fl, bits[bit])
				ok = false
				continue
			}
			bits[bit] = fl
		}
		svc.SchedFlags = schedFlagsFor(svc.Scheduler, bits)
	}

	var reals []config.RealHealth
	realsSay := false
	for i, dm := range t.tables("real_server") {
		field := fmt.Sprintf("%s.real_server[%d]", path, i)
		d, dok := p.dest(field, dm, &svc, method, known)
		if dok {
			svc.Dests = append(svc.Dests, d)
			rh, says, hok := p.realHealth(field, dm, d)
			reals, realsSay, dok = append(reals, rh), realsSay || says, hok
		}
		ok = ok && dok
	}
	if ok {
		p.duplicateDests(path, svc.Dests)
	}
	if addrs, set := t.strings("local_addresses"); set {
		for i, a := range addrs {
			field := fmt.Sprintf("%s.local_addresses[%d]", path, i)
			ip, err := netip.ParseAddr(a)
			switch {
			case err != nil:
				p.errorf(field, "not an IP address: %q", a)
				ok = false
			case ip.Is4In6() || ip.Is6() != svc.IPv6():
				// FULLNAT keeps the family: NAT64 (DPVS's IPv4 local
				// addresses for an IPv6 service) is not done.
				p.errorf(field, "%s is not of the service's address family (NAT64/NAT46): %v", a, config.ErrIPv6NotYet)
				ok = false
			case !ip.IsGlobalUnicast() && !ip.IsPrivate():
				p.errorf(field, "must be a unicast address (got %s)", a)
				ok = false
			case slices.Contains(svc.LocalAddrs, ip):
				p.errorf(field, "%s is listed twice", a)
				ok = false
			default:
				svc.LocalAddrs = append(svc.LocalAddrs, ip)
			}
		}
	}
	fullnat := slices.ContainsFunc(svc.Dests, func(d config.Dest) bool { return d.Method == vs.FullNAT })
	switch {
	case ok && fullnat && len(svc.LocalAddrs) == 0:
		p.errorf(path+".local_addresses", "fullnat real servers need local_addresses: the director's addresses on their network that clients are SNATed to")
		ok = false
	case ok && !fullnat && len(svc.LocalAddrs) > 0:
		p.errorf(path+".local_addresses", "only used with fullnat real servers")
		ok = false
	}
	if t.bool("synproxy") {
		bad := slices.IndexFunc(svc.Dests, func(d config.Dest) bool { return !config.SynProxyMethod(d.Method) })
		switch {
		case svc.FwMark == 0 && svc.Proto != vs.TCP:
			p.errorf(path+".synproxy", "only applies to tcp services")
			ok = false
		case bad >= 0:
			p.errorf(fmt.Sprintf("%s.real_server[%d]", path, bad), "forward = %q: the SYN proxy (synproxy = true) works only with nat and fullnat real servers, whose replies pass the director",
				tomlForward[svc.Dests[bad].Method])
			ok = false
		default:
			svc.SynProxy = true
		}
	}
	if ok {
		if err := config.CheckRulesFamily(&config.Rules{Services: []config.Service{svc}}); err != nil {
			p.errorf(path+".address", "%v", err)
			ok = false
		}
	}
	if ok {
		vh, ok = p.virtualHealth(path, m, &svc, method, reals, realsSay)
	}
	return svc, vh, ok
}

// dest parses one real server of svc. method is the service's forward;
// known says whether svc's address:port or mark is known, so ports can be
// checked.
func (p *fileParser) dest(path string, m map[string]any, svc *config.Service, method vs.Method, known bool) (config.Dest, bool) {
	t := p.table(path, m, append([]string{"address", "weight", "forward", "upper_threshold", "lower_threshold"}, realHealthKeys...)...)
	defer t.done()
	ok := true
	d := config.Dest{Weight: 1, Method: method}

	if s, set := t.string("forward"); set {
		if m, known := config.ParseMethod(s); known {
			d.Method = m
		} else {
			p.errorf(path+".forward", "unknown forwarding method %q (want dr, tun, nat or fullnat)", s)
			ok = false
		}
	}

	if s, set := t.string("address"); set {
		addr, port, withPort, msg := config.ParseAddrPort(s)
		switch {
		case msg != "":
			p.errorf(path+".address", "%s", msg)
			ok = false
		case svc.FwMark != 0 && withPort && port != 0 && (d.Method == vs.Route || d.Method == vs.Tunnel):
			// A port group has no one service port; port 0 keeps the
			// packet's (ip_vs_schedule: dest->port ? dest->port : vport).
			p.errorf(path+".address", "port must be 0 or left out with %s forwarding to a fwmark service, which keeps each packet's port (got %d)",
				strings.ToLower(d.Method.String()), port)
			ok = false
		case !withPort:
			d.Addr, d.Port = addr, svc.Port // 0 for a mark service, as ipvsadm -a -f
		case !known || svc.FwMark != 0:
			d.Addr, d.Port = addr, port
		case port == 0 && svc.Port != 0:
			p.errorf(path+".address", "port 0 is only allowed when the service port is 0")
			ok = false
		case port != svc.Port && (d.Method == vs.Route || d.Method == vs.Tunnel):
			p.errorf(path+".address", "port must equal the service port %d with %s forwarding (got %d)",
				svc.Port, strings.ToLower(d.Method.String()), port)
			ok = false
		default:
			d.Addr, d.Port = addr, port
		}
	} else if _, present := m["address"]; !present {
		p.errorf(path+".address", "required: the real server's IPv4-address[:port] or [IPv6-address]:port")
		ok = false
	} else {
		ok = false
	}
	if d.Addr.IsValid() && (svc.Addr.IsValid() || svc.FwMark != 0) {
		if err := config.CheckFamily(svc, svc.IPv6(), &d); err != nil {
			p.errorf(path+".address", "%v", err)
			ok = false
		}
	}

	if _, set := m["weight"]; set {
		w, wok := t.int("weight", 0, fileMaxWeight)
		d.Weight, ok = int32(w), ok && wok
	}
	var uok, lok bool
	d.UThreshold, uok = t.uint32("upper_threshold", fileMaxThreshold)
	d.LThreshold, lok = t.uint32("lower_threshold", fileMaxThreshold)
	ok = ok && uok && lok
	if uok && lok && d.LThreshold > d.UThreshold {
		// ip_vs_ctl.c refuses it even when the upper threshold is 0.
		p.errorf(path+".lower_threshold", "must not exceed upper_threshold (%d > %d)", d.LThreshold, d.UThreshold)
		ok = false
	}
	return d, ok
}

// duplicateServices reports services with the same protocol, address and
// port, or the same mark. index[i] is the position in the file of svcs[i].
func (p *fileParser) duplicateServices(svcs []config.Service, index []int) {
	seen := make(map[config.ServiceKey]int, len(svcs))
	for i := range svcs {
		k := svcs[i].Key()
		if j, dup := seen[k]; dup {
			key := "address"
			if k.FwMark != 0 {
				key = "fwmark"
			}
			p.errorf(fmt.Sprintf("virtual_server[%d].%s", index[i], key), "duplicate of virtual_server[%d] (%s)", j, k.Name())
			continue
		}
		seen[k] = index[i]
	}
}

func (p *fileParser) duplicateDests(path string, dests []config.Dest) {
	seen := make(map[netip.AddrPort]int, len(dests))
	for i, d := range dests {
		ap := netip.AddrPortFrom(d.Addr, d.Port)
		if j, dup := seen[ap]; dup {
			p.errorf(fmt.Sprintf("%s.real_server[%d].address", path, i), "duplicate of real_server[%d] (%s)", j, ap)
			continue
		}
		seen[ap] = i
	}
}

// schedFlagsFor names the set bits for sched in bit order, the way
// ipvsadm -L prints them (sh-fallback rather than flag-1 for sh), so a
// file and the ipvsadm rules it mirrors give equal Rules. nil when none.
func schedFlagsFor(sched string, bits [3]string) []string {
	var out []string
	for bit, set := range bits {
		if set == "" {
			continue
		}
		name := tomlSchedFlags[bit]
		if (sched == "sh" || sched == "mh") && bit < 2 {
			name = sched + []string{"-fallback", "-port"}[bit]
		}
		out = append(out, name)
	}
	return out
}

// markFamily reads the family of a fwmark service: "ipv4" (the default)
// or "ipv6", ipvsadm's -f N -6 (the kernel keys fwmark services by
// family and mark, so mark N may have one service of each). An IPv6
// mark service holds the address config.FwMark6Addr.
func (p *fileParser) markFamily(t *tomlTable, path string, svc *config.Service) bool {
	s, set := t.string("family")
	switch {
	case !set:
		_, present := t.m["family"]
		return !present // present but not a string: reported
	case s == "ipv6":
		svc.Addr = config.FwMark6Addr
	case s != "ipv4":
		p.errorf(path+".family", "must be \"ipv4\" or \"ipv6\" (got %q)", s)
		return false
	}
	return true
}

func familyName(v6 bool) string {
	if v6 {
		return "ipv6"
	}
	return "ipv4"
}

// isIPv6Prefix reports whether a mark match's prefix is IPv6.
func isIPv6Prefix(p netip.Prefix) bool { return p.Addr().Is6() && !p.Addr().Is4In6() }
