package config

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/vs"
)

// This file holds the checks and small parsers that every configuration
// format shares (TOML, keepalived.conf, Piranha's lvs.cf), so a value means
// the same and is refused with the same words whichever file it came from.
// Each returns what is wrong as a message ("" when nothing is), which the
// format wraps with its file, line and key.

// MaxIfName is the longest interface name the kernel accepts: IFNAMSIZ - 1.
const MaxIfName = 15

// methodNames maps the accepted forward names, lower-cased, to methods:
// ulvs's own names, keepalived's lb_kind (DR, TUN, NAT), ipvsadm's -L
// words (route, tunnel, masq) and its long options (gatewaying, ipip,
// masquerading).
var methodNames = map[string]vs.Method{
	"dr": vs.Route, "route": vs.Route, "gatewaying": vs.Route,
	"tun": vs.Tunnel, "tunnel": vs.Tunnel, "ipip": vs.Tunnel,
	"nat": vs.Masq, "masq": vs.Masq, "masquerading": vs.Masq,
	"fullnat": vs.FullNAT,
}

// CheckIfName applies the kernel's dev_valid_name rules to an interface
// name and returns what is wrong with it, or "".
func CheckIfName(name string) string {
	switch {
	case name == "":
		return "interface name must not be empty"
	case len(name) > MaxIfName:
		return fmt.Sprintf("interface name %q is longer than %d bytes", name, MaxIfName)
	case name == "." || name == "..":
		return fmt.Sprintf("invalid interface name %q", name)
	case strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return fmt.Sprintf("invalid interface name %q (no '/', ':' or white space)", name)
	}
	return ""
}

// ParsePortRange parses "21", "10000-20000" or "10000:20000". msg says
// what is wrong when s is not that.
func ParsePortRange(s string) (r PortRange, msg string) {
	bad := fmt.Sprintf("must be a port or a range like \"10000-20000\" (got %q)", s)
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		a, b, isRange = strings.Cut(s, ":")
	}
	first, ok := ParsePort(a)
	if !ok {
		return r, bad
	}
	last := first
	if isRange {
		if last, ok = ParsePort(b); !ok {
			return r, bad
		}
	}
	switch {
	case first == 0 || last == 0:
		return r, fmt.Sprintf("ports must be between 1 and 65535 (got %q); leave ports out to match every port", s)
	case first > last:
		return r, fmt.Sprintf("range %q is reversed: the first port must not exceed the last", s)
	}
	return PortRange{First: first, Last: last}, ""
}

// ParsePort parses a decimal port number, digits only.
func ParsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// MergePorts sorts ranges and merges those that overlap or touch, in place.
// nil for none.
func MergePorts(ranges []PortRange) []PortRange {
	if len(ranges) == 0 {
		return nil
	}
	slices.SortFunc(ranges, func(a, b PortRange) int { return int(a.First) - int(b.First) })
	out := ranges[:1]
	for _, r := range ranges[1:] {
		last := &out[len(out)-1]
		if uint32(r.First) <= uint32(last.Last)+1 {
			last.Last = max(last.Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// ParseIPv4Prefix parses a destination of a mark match: "a.b.c.d" (a /32)
// or "a.b.c.d/n". msg says what is wrong when the text is not that.
func ParseIPv4Prefix(s string) (netip.Prefix, string) {
	if !strings.Contains(s, "/") {
		if strings.Contains(s, ":") && strings.Count(s, ":") == 1 {
			if _, _, withPort, msg := ParseIPv4Port(s); msg == "" && withPort {
				return netip.Prefix{}, fmt.Sprintf("must be an IPv4 address or prefix without a port (got %q); ports go in ports", s)
			}
		}
		a, err := netip.ParseAddr(s)
		switch {
		case err == nil && a.Is6():
			return netip.Prefix{}, fmt.Sprintf("IPv6 is not supported yet (got %q)", s)
		case err != nil || !a.Is4():
			return netip.Prefix{}, fmt.Sprintf("must be an IPv4 address or prefix like 10.0.0.0/24 (got %q)", s)
		case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			return netip.Prefix{}, fmt.Sprintf("%s is not a unicast address", a)
		}
		return netip.PrefixFrom(a, 32), ""
	}
	pfx, err := netip.ParsePrefix(s)
	switch {
	case err == nil && pfx.Addr().Is6():
		return netip.Prefix{}, fmt.Sprintf("IPv6 is not supported yet (got %q)", s)
	case err != nil || !pfx.Addr().Is4():
		return netip.Prefix{}, fmt.Sprintf("must be an IPv4 address or prefix like 10.0.0.0/24 (got %q)", s)
	case pfx.Bits() == 0:
		return netip.Prefix{}, fmt.Sprintf("%s matches every destination; name the VIPs or their subnet", pfx)
	case pfx != pfx.Masked():
		return netip.Prefix{}, fmt.Sprintf("%s has host bits set (did you mean %s?)", pfx, pfx.Masked())
	case pfx.Addr().IsMulticast() || pfx.Bits() == 32 && (pfx.Addr().IsUnspecified() || pfx.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255})):
		return netip.Prefix{}, fmt.Sprintf("%s is not a unicast prefix", pfx)
	}
	return pfx, ""
}

// ParseMarkPrefix parses a destination or source of a mark match of either
// family: what ParseIPv4Prefix takes, or an IPv6 address (a /128) or
// prefix ("2001:db8::100", "2001:db8::/64"; issue #17). An IPv6 match
// marks IPv6 packets, which an IPv6 fwmark service (ipvsadm -f N -6)
// takes. msg says what is wrong when the text is neither.
func ParseMarkPrefix(s string) (netip.Prefix, string) {
	if strings.Count(s, ":") < 2 {
		return ParseIPv4Prefix(s)
	}
	if strings.HasPrefix(s, "[") {
		return netip.Prefix{}, fmt.Sprintf("must be an IPv6 address or prefix without brackets or a port (got %q); ports go in ports", s)
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "":
			return netip.Prefix{}, fmt.Sprintf("must be an IPv6 address or prefix like 2001:db8::/64 (got %q)", s)
		case !Unicast(a):
			return netip.Prefix{}, fmt.Sprintf("%s is not a unicast address", a)
		}
		return netip.PrefixFrom(a, 128), ""
	}
	pfx, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6() || pfx.Addr().Zone() != "":
		return netip.Prefix{}, fmt.Sprintf("must be an IPv6 address or prefix like 2001:db8::/64 (got %q)", s)
	case pfx.Bits() == 0:
		return netip.Prefix{}, fmt.Sprintf("%s matches every destination; name the VIPs or their subnet", pfx)
	case pfx != pfx.Masked():
		return netip.Prefix{}, fmt.Sprintf("%s has host bits set (did you mean %s?)", pfx, pfx.Masked())
	case pfx.Addr().IsMulticast() || pfx.Addr().IsLinkLocalUnicast() || pfx.Addr().IsLoopback() ||
		pfx.Bits() == 128 && pfx.Addr().IsUnspecified():
		return netip.Prefix{}, fmt.Sprintf("%s is not a unicast prefix", pfx)
	}
	return pfx, ""
}

// ParseProto maps "tcp" or "udp", in any case, to the protocol.
func ParseProto(s string) (vs.Protocol, bool) {
	switch strings.ToLower(s) {
	case "tcp":
		return vs.TCP, true
	case "udp":
		return vs.UDP, true
	}
	return 0, false
}

// ParseMethod maps a forward name, in any case, to its method.
func ParseMethod(s string) (vs.Method, bool) {
	m, ok := methodNames[strings.ToLower(s)]
	return m, ok
}

// ParseAddrPort parses a virtual or real server address: "a.b.c.d",
// "a.b.c.d:port", an IPv6 address alone, or "[IPv6]:port". msg says what
// is wrong when the text is none of them.
func ParseAddrPort(s string) (addr netip.Addr, port uint16, withPort bool, msg string) {
	if !strings.HasPrefix(s, "[") && strings.Count(s, ":") <= 1 {
		return ParseIPv4Port(s)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		addr = a
	} else if ap, err := netip.ParseAddrPort(s); err == nil {
		addr, port, withPort = ap.Addr(), ap.Port(), true
	} else {
		return addr, 0, false, fmt.Sprintf("must be IPv4-address[:port] or [IPv6-address]:port (got %q)", s)
	}
	switch {
	case addr.Zone() != "":
		return netip.Addr{}, 0, false, fmt.Sprintf("%s: an address with a zone is not supported", s)
	case addr.Is4In6():
		return netip.Addr{}, 0, false, fmt.Sprintf("%s is an IPv4-mapped IPv6 address; write the IPv4 address", s)
	case !Unicast(addr):
		return netip.Addr{}, 0, false, fmt.Sprintf("%s is not a unicast address", addr)
	}
	return addr, port, withPort, ""
}

// ParseIPv4Port parses "a.b.c.d" or "a.b.c.d:port". msg says what is wrong
// when the text is not that.
func ParseIPv4Port(s string) (addr netip.Addr, port uint16, withPort bool, msg string) {
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") > 1 {
		host := s
		if ap, err := netip.ParseAddrPort(s); err == nil {
			host = ap.Addr().String()
		} else {
			host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		}
		if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
			return addr, 0, false, fmt.Sprintf("IPv6 is not supported yet (got %q)", s)
		}
		return addr, 0, false, fmt.Sprintf("must be IPv4-address[:port] (got %q)", s)
	}
	host, ps, withPort := strings.Cut(s, ":")
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return addr, 0, false, fmt.Sprintf("must be IPv4-address[:port] (got %q)", s)
	}
	if !Unicast(a) { // 0.0.0.0/8, multicast, broadcast
		return addr, 0, false, fmt.Sprintf("%s is not a unicast address", a)
	}
	if withPort {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || ps == "" || ps[0] < '0' || ps[0] > '9' {
			return addr, 0, false, fmt.Sprintf("port must be a number between 0 and 65535 (got %q)", ps)
		}
		port = uint16(n)
	}
	return a, port, withPort, ""
}

// ParseNetmask parses a dotted IPv4 netmask and reports whether its one
// bits are contiguous from the top.
func ParseNetmask(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	b := a.As4()
	inv := ^binary.BigEndian.Uint32(b[:])
	if inv&(inv+1) != 0 {
		return netip.Addr{}, false
	}
	return a, true
}
