package tomlfile

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// This file parses the health-check keys of [[virtual_server]] and
// [[virtual_server.real_server]] into config.VirtualHealth and
// config.RealHealth; check.go parses the [[virtual_server.real_server.check]]
// tables. Defaults are config.ResolveHealth's, so a check means the same
// as in keepalived.conf.

// Health keys of a [[virtual_server]] and of a [[virtual_server.real_server]].
var (
	serviceHealthKeys = []string{
		"delay_loop", "alpha", "omega", "quorum", "hysteresis", "quorum_up", "quorum_down",
		"virtualhost", "ha_suspend", "sorry_server", "sorry_server_method", "sorry_server_inhibit",
	}
	realHealthKeys = []string{"inhibit_on_failure", "notify_up", "notify_down", "check"}
)

// Bounds of health-check durations. keepalived reads them in microseconds
// (TIMER_HZ); connect_timeout must fit its unsigned int, the others are
// held to ipvsadm's 31 days like the file's other timeouts.
const (
	healthMaxDuration = fileMaxTimeout * time.Second
	healthMaxConnect  = math.MaxUint32 * time.Microsecond
	healthMinDuration = time.Microsecond
)

// hasAny reports whether m has one of keys.
func hasAny(m map[string]any, keys []string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { _, ok := m[k]; return ok })
}

// virtualHealth parses the health keys of the [[virtual_server]] m at path
// for svc, whose real servers' health reals holds (in the order of
// svc.Dests). method is the service's forward. It returns nil when
// neither the service nor any real server says anything about health.
func (p *fileParser) virtualHealth(path string, m map[string]any, svc *config.Service, method vs.Method, reals []config.RealHealth, realsSay bool) (*config.VirtualHealth, bool) {
	if !realsSay && !hasAny(m, serviceHealthKeys) {
		return nil, true
	}
	t := p.table(path, m) // the service's own keys were checked by service
	ok := true
	vh := &config.VirtualHealth{Service: svc.Key(), Reals: reals}
	if d, set := t.seconds("delay_loop", healthMinDuration, healthMaxDuration); set {
		vh.DelayLoop = d
	} else {
		_, present := m["delay_loop"]
		ok = ok && !present
	}
	vh.Alpha, vh.Omega, vh.HASuspend = t.bool("alpha"), t.bool("omega"), t.bool("ha_suspend")
	if _, present := m["quorum"]; present {
		n, nok := t.int("quorum", 1, math.MaxUint32)
		vh.Quorum, ok = uint32(n), ok && nok
	}
	hyst, hok := t.uint32("hysteresis", math.MaxUint32)
	ok = ok && hok
	if quorum := max(vh.Quorum, config.DefaultQuorum); hok && hyst >= quorum {
		p.errorf(path+".hysteresis", "must be less than quorum (%d), or a server set could never change state (got %d)", quorum, hyst)
		ok = false
	}
	vh.Hysteresis = hyst
	var sok bool
	vh.QuorumUp, sok = p.script(t, "quorum_up")
	ok = ok && sok
	vh.QuorumDown, sok = p.script(t, "quorum_down")
	ok = ok && sok
	if s, set := t.string("virtualhost"); set {
		vh.Virtualhost = s
	}
	sorry, sok := p.sorryServer(path, t, svc, method)
	vh.Sorry, ok = sorry, ok && sok
	if !ok {
		return nil, false
	}
	config.ResolveHealth(vh, nil)
	return vh, true
}

// sorryServer parses sorry_server, sorry_server_method and
// sorry_server_inhibit; nil when there is none.
func (p *fileParser) sorryServer(path string, t *tomlTable, svc *config.Service, method vs.Method) (*config.SorryServer, bool) {
	s, set := t.string("sorry_server")
	if !set {
		_, present := t.m["sorry_server"]
		for _, k := range []string{"sorry_server_method", "sorry_server_inhibit"} {
			if _, with := t.m[k]; with && !present {
				p.errorf(path+"."+k, "only applies with sorry_server")
				return nil, false
			}
		}
		return nil, !present
	}
	sorry := &config.SorryServer{Method: method}
	if m, ok := t.string("sorry_server_method"); ok {
		if sorry.Method, ok = config.ParseMethod(m); !ok {
			p.errorf(path+".sorry_server_method", "unknown forwarding method %q (want dr, tun, nat or fullnat)", m)
			return nil, false
		}
	} else if _, present := t.m["sorry_server_method"]; present {
		return nil, false
	}
	sorry.Inhibit = t.bool("sorry_server_inhibit")
	addr, port, withPort, msg := config.ParseAddrPort(s)
	portBound := sorry.Method == vs.Route || sorry.Method == vs.Tunnel
	switch {
	case msg != "":
		p.errorf(path+".sorry_server", "%s", msg)
		return nil, false
	case (svc.Addr.IsValid() || svc.FwMark != 0) && addr.Is6() != svc.IPv6():
		p.errorf(path+".sorry_server", "sorry server %s in a service of the other address family: %v", addr, config.ErrIPv6NotYet)
		return nil, false
	case svc.SynProxy && !config.SynProxyMethod(sorry.Method):
		p.errorf(path+".sorry_server", "forward %q: the SYN proxy (synproxy = true) needs a nat or fullnat sorry server too", tomlForward[sorry.Method])
		return nil, false
	case withPort && portBound && svc.FwMark != 0 && port != 0:
		p.errorf(path+".sorry_server", "port must be 0 or left out with %s forwarding to a fwmark service (got %d)", strings.ToLower(sorry.Method.String()), port)
		return nil, false
	case withPort && portBound && svc.FwMark == 0 && port != svc.Port:
		p.errorf(path+".sorry_server", "port must equal the service port %d with %s forwarding (got %d)", svc.Port, strings.ToLower(sorry.Method.String()), port)
		return nil, false
	}
	sorry.Addr, sorry.Port = addr, port
	return sorry, true
}

// realHealth parses the health keys and checks of the real server m at
// path, whose parsed form is d. says reports whether it has any.
func (p *fileParser) realHealth(path string, m map[string]any, d config.Dest) (rh config.RealHealth, says, ok bool) {
	rh = config.RealHealth{Addr: d.Addr, Port: d.Port}
	says = hasAny(m, realHealthKeys)
	t := p.table(path, m)
	ok = true
	rh.Inhibit = t.bool("inhibit_on_failure")
	var sok bool
	rh.NotifyUp, sok = p.script(t, "notify_up")
	ok = ok && sok
	rh.NotifyDown, sok = p.script(t, "notify_down")
	ok = ok && sok
	for i, cm := range t.tables("check") {
		field := fmt.Sprintf("%s.check[%d]", path, i)
		c, cok := p.check(field, cm)
		if cok && c.ConnectPort == 0 && d.Port == 0 && slices.Contains(checkKeys(c.Kind), "connect_port") {
			p.errorf(field+".connect_port", "required: real server %s has no port (a fwmark service), so a %s check must name one", d.Addr, c.Kind.TOMLName())
			cok = false
		}
		if cok {
			rh.Checks = append(rh.Checks, c)
		}
		ok = ok && cok
	}
	return rh, says, ok
}

// script parses the command line at key of t with config.ParseScript; the
// zero Script when absent.
func (p *fileParser) script(t *tomlTable, key string) (config.Script, bool) {
	s, set := t.string(key)
	if !set {
		_, present := t.m[key]
		return config.Script{}, !present
	}
	sc, err := config.ParseScript(s)
	if err != nil {
		p.errorf(t.field(key), "%v", err)
		return config.Script{}, false
	}
	return sc, true
}

// ipv4 parses the IPv4 address at key of t; the zero Addr when absent.
func (p *fileParser) ipv4(t *tomlTable, key string) (netip.Addr, bool) {
	s, set := t.string(key)
	if !set {
		_, present := t.m[key]
		return netip.Addr{}, !present
	}
	a, _, withPort, msg := config.ParseIPv4Port(s)
	switch {
	case msg != "":
		p.errorf(t.field(key), "%s", msg)
		return netip.Addr{}, false
	case withPort:
		p.errorf(t.field(key), "must be an IPv4 address without a port (got %q)", s)
		return netip.Addr{}, false
	}
	return a, true
}

// checkAddr parses a check's connect_ip or bindto: an IPv4 or IPv6
// address (the checkers dial either); the zero Addr when absent.
func (p *fileParser) checkAddr(t *tomlTable, key string) (netip.Addr, bool) {
	s, set := t.string(key)
	if !set {
		_, present := t.m[key]
		return netip.Addr{}, !present
	}
	if !strings.HasPrefix(s, "[") && strings.Count(s, ":") <= 1 {
		return p.ipv4(t, key)
	}
	a, _, withPort, msg := config.ParseAddrPort(s)
	switch {
	case msg != "":
		p.errorf(t.field(key), "%s", msg)
		return netip.Addr{}, false
	case withPort:
		p.errorf(t.field(key), "must be an IP address without a port (got %q)", s)
		return netip.Addr{}, false
	}
	return a, true
}
