package ipvsadm

import (
	"math"
	"net/netip"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

const (
	serviceAddr = 1
	servicePort = 2
)

// parseService is ipvsadm's parse_service: host[:port] or [v6]:port.
func (p *parser) parseService(buf string, proto vs.Protocol) (addr netip.Addr, port uint16, res int, v6 bool) {
	if strIsDigit(buf) {
		return netip.Addr{}, 0, 0, false
	}
	portStr, hasPort := "", false
	if strings.HasPrefix(buf, "[") {
		buf = buf[1:]
		i := strings.IndexByte(buf, ']')
		if i < 0 {
			return netip.Addr{}, 0, 0, false
		}
		rest := buf[i+1:]
		buf = buf[:i]
		if !strings.HasPrefix(rest, ":") {
			return netip.Addr{}, 0, 0, false
		}
		portStr, hasPort = rest[1:], true
	}
	if a, ok := parseIPv6(buf); ok {
		addr, v6 = a, true
	} else {
		// strrchr(buf, ':') on what is left of buf.
		hasPort = false
		if i := strings.LastIndexByte(buf, ':'); i >= 0 {
			portStr, hasPort = buf[i+1:], true
			buf = buf[:i]
		}
		if a, ok := inetAton(buf); ok {
			addr = a
		} else if a, ok := p.lookupHost(buf); ok {
			addr = a
		} else {
			return netip.Addr{}, 0, 0, false
		}
	}
	res = serviceAddr
	if hasPort {
		res |= servicePort
		if n, ok := stringToNumber(portStr, 0, 65535); ok {
			port = uint16(n)
		} else if n, ok := p.lookupService(portStr, proto); ok {
			port = n
		} else {
			return netip.Addr{}, 0, 0, false
		}
	}
	return addr, port, res, v6
}

func (p *parser) lookupHost(name string) (netip.Addr, bool) {
	if p.res == nil || name == "" {
		return netip.Addr{}, false
	}
	a, ok := p.res.LookupHost(name)
	if !ok || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

func (p *parser) lookupService(name string, proto vs.Protocol) (uint16, bool) {
	if p.res == nil {
		return 0, false
	}
	return p.res.LookupService(name, proto)
}

// parseNetmask is parse_netmask: inet_aton or a host name.
func (p *parser) parseNetmask(buf string) (netip.Addr, bool) {
	if a, ok := inetAton(buf); ok {
		return a, true
	}
	return p.lookupHost(buf)
}

// parseTimeout is parse_timeout; a nil buf is -p without a value.
func parseTimeout(buf *string, min, max int64) (uint32, *ParseError) {
	if buf == nil {
		return config.DefaultPersistentTimeout, nil
	}
	n, ok := stringToNumber(*buf, min, max)
	if !ok {
		return 0, failf("invalid timeout value `%s' specified", *buf)
	}
	return uint32(n), nil
}

// parseFwmark is parse_fwmark: 1..UINT_MAX.
func parseFwmark(buf string) (uint32, bool) {
	n, ok := strtol(buf)
	if !ok || n <= 0 || n > math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}

// Scheduler flag bits (IP_VS_SVC_F_SCHED1..3), as ipvsadm's -b sets them.
const (
	schedFlag1 = 1 << iota
	schedFlag2
	schedFlag3
)

// parseSchedFlags is parse_sched_flags: comma-separated flag names, checked
// against the scheduler (wlc when none was given).
func parseSchedFlags(sched, arg string) (int, *ParseError) {
	if sched == "" {
		sched = config.DefaultScheduler
	}
	bits := 0
	tokens := strings.FieldsFunc(arg, func(r rune) bool { return r == ',' })
	if len(tokens) == 0 {
		return 0, failf("invalid scheduler flag `%s'", "")
	}
	for _, f := range tokens {
		need := ""
		switch f {
		case "flag-1":
			bits |= schedFlag1
		case "flag-2":
			bits |= schedFlag2
		case "flag-3":
			bits |= schedFlag3
		case "sh-fallback":
			bits |= schedFlag1
			need = "sh"
		case "sh-port":
			bits |= schedFlag2
			need = "sh"
		case "mh-fallback":
			bits |= schedFlag1
			need = "mh"
		case "mh-port":
			bits |= schedFlag2
			need = "mh"
		default:
			return 0, failf("invalid scheduler flag `%s'", f)
		}
		if need != "" && sched != need {
			return 0, failf("incompatible scheduler flag `%s'", f)
		}
	}
	return bits, nil
}

// truncate cuts s to at most n bytes, as strncpy into ipvsadm's fixed
// buffers does.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
