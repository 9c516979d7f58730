package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// keepalived 2.2.7's VRRP defaults and limits (vrrp/vrrp_data.c alloc_vrrp,
// vrrp/vrrp_parser.c), which package vrrp's Instance.Validate applies too:
// the parsers fill them in so that the model maps 1:1 onto a vrrp.Instance.
const (
	DefaultVRRPPriority       = 100
	DefaultVRRPAdvertInt      = time.Second
	DefaultVRRPVersion        = 2
	DefaultGARPDelay          = 5 * time.Second
	DefaultGARPRepeat         = 5
	DefaultGARPRefreshRepeat  = 1
	DefaultVRRPScriptInterval = time.Second
	// MaxVRRPAuthPass is the size of a VRRPv2 advert's authentication data.
	MaxVRRPAuthPass = 8
	// MaxVRRPAddrs is what an advert's address count (one byte) can say.
	MaxVRRPAddrs = 255
	// MaxPreemptDelay is keepalived's bound of preempt_delay.
	MaxPreemptDelay = 1000 * time.Second
	// VRRPPriorityOwner is the priority of the router that owns the
	// addresses: it cannot change, so tracking weights are refused.
	VRRPPriorityOwner = 255
	// MaxVRRPv3AdvertInt is the 12-bit centisecond field of a VRRPv3
	// advert: 40.95 s.
	MaxVRRPv3AdvertInt = 4095 * 10 * time.Millisecond
)

// ParseVRRPAddress parses one virtual_ipaddress line of keepalived.conf:
// "ADDR[/LEN] [brd ADDR] [dev IF] [scope SCOPE] [label LABEL]", the syntax
// package vrrp's ParseVIP accepts; the address may be IPv6 (VRRPv3 over
// IPv6). keepalived's other words (no_track, preferred_lft, home, ...)
// are refused.
func ParseVRRPAddress(line string) (VRRPAddress, error) {
	var v VRRPAddress
	f := strings.Fields(line)
	if len(f) == 0 {
		return v, errors.New("empty virtual address")
	}
	p, err := parseVRRPPrefix(f[0])
	if err != nil {
		return v, err
	}
	v.Prefix = p
	for i := 1; i < len(f); i += 2 {
		word := f[i]
		switch word {
		case "brd", "broadcast", "dev", "scope", "label":
		default:
			return v, fmt.Errorf("%q in %q is not supported by ulvs (brd, dev, scope and label are)", word, line)
		}
		if i+1 >= len(f) {
			return v, fmt.Errorf("%q needs a value in %q", word, line)
		}
		val := f[i+1]
		switch word {
		case "brd", "broadcast":
			a, err := netip.ParseAddr(val)
			if err != nil || !a.Is4() {
				return v, fmt.Errorf("brd %q is not an IPv4 address", val)
			}
			if !p.Addr().Is4() {
				return v, fmt.Errorf("brd %s on an IPv6 address: IPv6 has no broadcast", val)
			}
			v.Brd = a
		case "dev":
			if msg := CheckIfName(val); msg != "" {
				return v, fmt.Errorf("dev: %s", msg)
			}
			v.Dev = val
		case "scope":
			v.Scope = val
		case "label":
			v.Label = val
		}
	}
	return v, nil
}

func parseVRRPPrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, fmt.Errorf("%q is not an IP address or ADDRESS/LENGTH", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, fmt.Errorf("%q is not an IP address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return p, fmt.Errorf("%s: an IPv4-mapped IPv6 address or one with a zone is not a virtual address", s)
	}
	return p, nil
}

// String writes the address as a virtual_ipaddress line that
// ParseVRRPAddress reads back.
func (v VRRPAddress) String() string {
	var b strings.Builder
	if v.Prefix.Bits() == 32 {
		b.WriteString(v.Prefix.Addr().String())
	} else {
		b.WriteString(v.Prefix.String())
	}
	for _, kv := range [...]struct{ k, v string }{
		{"brd", addrText(v.Brd)}, {"dev", v.Dev}, {"scope", v.Scope}, {"label", v.Label},
	} {
		if kv.v != "" {
			b.WriteString(" " + kv.k + " " + kv.v)
		}
	}
	return b.String()
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// VRRPProblem is what CheckVRRP finds wrong with an instance. Key is the
// keyword that is wrong (keepalived.conf's, which the TOML file's keys
// repeat); Index is the entry of a list keyword (virtual_ipaddress,
// track_script, ...), -1 for the keyword as a whole.
type VRRPProblem struct {
	Key   string
	Index int
	Msg   string
}

// CheckVRRP checks an instance whose defaults are filled in with package
// vrrp's Instance.Validate rules, so that the file is refused with a line
// rather than the daemon at start. It returns the first problem, or nil.
// The parsers check single values (ranges, syntax) at their line; this is
// what takes several values together.
func CheckVRRP(in *VRRPInstance) *VRRPProblem {
	bad := func(key string, index int, format string, args ...any) *VRRPProblem {
		return &VRRPProblem{Key: key, Index: index, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case in.Name == "":
		return bad("name", -1, "required: the instance's name")
	case in.State != "MASTER" && in.State != "BACKUP":
		return bad("state", -1, "must be MASTER or BACKUP (got %q)", in.State)
	case in.Interface == "":
		return bad("interface", -1, "required: the interface the adverts go out of")
	case in.VRID == 0:
		return bad("virtual_router_id", -1, "required: a number from 1 to 255, the same on every router of the group")
	case in.Priority == 0:
		return bad("priority", -1, "must be between 1 and 255")
	case in.Version != 2 && in.Version != 3:
		return bad("version", -1, "must be 2 or 3 (got %d)", in.Version)
	}
	if p := checkAdvertInt(in.Version, in.AdvertInt); p != "" {
		return bad("advert_int", -1, "%s", p)
	}
	switch in.AuthType {
	case "":
		if in.AuthPass != "" {
			return bad("auth_pass", -1, "auth_pass without auth_type PASS")
		}
	case "PASS", "AH":
		if in.Version != 2 {
			return bad("auth_type", -1, "authentication is not part of VRRPv3 (RFC 5798 section 9): remove it or use version 2")
		}
		if in.AuthPass == "" {
			return bad("auth_pass", -1, "required with auth_type %s: the password, 1 to %d bytes", in.AuthType, MaxVRRPAuthPass)
		}
		if len(in.AuthPass) > MaxVRRPAuthPass {
			return bad("auth_pass", -1, "must be 1 to %d bytes (got %d; keepalived would cut it to %q)", MaxVRRPAuthPass, len(in.AuthPass), in.AuthPass[:MaxVRRPAuthPass])
		}
	default:
		return bad("auth_type", -1, "must be PASS or AH (got %q)", in.AuthType)
	}
	if len(in.VIPs) > MaxVRRPAddrs {
		return bad("virtual_ipaddress", MaxVRRPAddrs, "%d addresses, an advert carries at most %d (put the rest in virtual_ipaddress_excluded)", len(in.VIPs), MaxVRRPAddrs)
	}
	if p := checkVRRPAddrs(in); p != nil {
		return p
	}
	switch {
	case in.PreemptDelay < 0 || in.PreemptDelay > MaxPreemptDelay:
		return bad("preempt_delay", -1, "must be between 0 and %v (got %v)", MaxPreemptDelay, in.PreemptDelay)
	case in.GARPDelay < 0:
		return bad("garp_master_delay", -1, "must not be negative")
	case in.GARPRefresh < 0:
		return bad("garp_master_refresh", -1, "must not be negative")
	case in.GARPRepeat < 1:
		return bad("garp_master_repeat", -1, "must be at least 1")
	case in.GARPRefreshRepeat < 1:
		return bad("garp_master_refresh_repeat", -1, "must be at least 1")
	}
	if p := checkVRRPTracking(in); p != nil {
		return p
	}
	if a := in.UnicastSrc; a.IsValid() {
		if msg := vrrpUnicastAddr(in, a); msg != "" {
			return bad("unicast_src_ip", -1, "%s", msg)
		}
	}
	for i, a := range in.UnicastPeers {
		if msg := vrrpUnicastAddr(in, a); msg != "" {
			return bad("unicast_peer", i, "%s", msg)
		}
		for j := range i {
			if in.UnicastPeers[j] == a {
				return bad("unicast_peer", i, "%v listed twice", a)
			}
		}
	}
	if in.VMACXmitBase && !in.UseVMAC {
		return bad("vmac_xmit_base", -1, "needs use_vmac: it sends the adverts of a use_vmac instance from the interface's own MAC")
	}
	if in.CheckUnicastSrc && len(in.UnicastPeers) == 0 {
		return bad("check_unicast_src", -1, "needs unicast_peer: it drops adverts from addresses that are not peers")
	}
	return nil
}

// vrrpUnicastAddr returns what is wrong with a as the instance's
// unicast_src_ip or a unicast_peer: keepalived wants it of the instance's
// family ("MUST be of the same family"), and a unicast address. A
// link-local IPv6 address is taken (it is on the instance's interface),
// without a zone.
func vrrpUnicastAddr(in *VRRPInstance, a netip.Addr) string {
	family := "IPv4"
	if in.IPv6() {
		family = "IPv6"
	}
	switch {
	case a.Is4In6() || a.Is6() != in.IPv6():
		return fmt.Sprintf("%v: the instance runs over %s, and its unicast addresses must be of that family too", a, family)
	case a.Zone() != "":
		return fmt.Sprintf("%v: an address with a zone is not supported (a link-local peer is reached on the instance's interface)", a)
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Sprintf("%v is not a unicast address", a)
	}
	return ""
}

// checkAdvertInt returns what is wrong with advert_int d for version v.
func checkAdvertInt(v int, d time.Duration) string {
	switch {
	case v == 2 && (d%time.Second != 0 || d < time.Second || d > 255*time.Second):
		return fmt.Sprintf("VRRPv2 needs whole seconds from 1 to 255 (got %v; fractions need version 3)", d)
	case v == 3 && (d%(10*time.Millisecond) != 0 || d < 10*time.Millisecond || d > MaxVRRPv3AdvertInt):
		return fmt.Sprintf("VRRPv3 needs a multiple of 0.01 s from 0.01 to 40.95 s (got %v)", d)
	}
	return ""
}

func checkVRRPAddrs(in *VRRPInstance) *VRRPProblem {
	v6 := in.IPv6()
	if v6 {
		switch {
		case in.Version != 3:
			return &VRRPProblem{"version", -1, "VRRP over IPv6 is version 3 (RFC 5798; VRRPv2 is IPv4 only): keepalived runs an IPv6 instance written with version 2 as its own VRRPv2 over IPv6 without the authentication field, which no RFC defines and ulvs does not speak; write version 3, or leave version out (an IPv6 instance then runs version 3, as in keepalived)"}
		}
	}
	seen := map[netip.Addr]string{}
	for _, l := range []struct {
		key   string
		addrs []VRRPAddress
	}{{"virtual_ipaddress", in.VIPs}, {"virtual_ipaddress_excluded", in.Excluded}} {
		for i, v := range l.addrs {
			a := v.Prefix.Addr()
			if !v.Prefix.IsValid() || a.Is4In6() {
				return &VRRPProblem{l.key, i, fmt.Sprintf("%v is not an IPv4 or IPv6 address", v.Prefix)}
			}
			if l.key == "virtual_ipaddress" && a.Is6() != v6 {
				family := "IPv4"
				if v6 {
					family = "IPv6"
				}
				return &VRRPProblem{l.key, i, fmt.Sprintf("%v: the instance runs over %s and its adverts carry addresses of that family only (keepalived ignores such an address; put it in another instance or in virtual_ipaddress_excluded)", a, family)}
			}
			if first, dup := seen[a]; dup {
				return &VRRPProblem{l.key, i, fmt.Sprintf("%v is already listed in %s", a, first)}
			}
			seen[a] = l.key
		}
	}
	return nil
}

func checkVRRPTracking(in *VRRPInstance) *VRRPProblem {
	owner := in.Priority == VRRPPriorityOwner
	for i, t := range in.TrackInterfaces {
		switch {
		case CheckIfName(t.Name) != "":
			return &VRRPProblem{"track_interface", i, CheckIfName(t.Name)}
		case t.Weight < -254 || t.Weight > 254:
			return &VRRPProblem{"track_interface", i, fmt.Sprintf("weight must be between -254 and 254 (got %d)", t.Weight)}
		case owner && t.Weight != 0:
			return &VRRPProblem{"track_interface", i, fmt.Sprintf("%s has a weight, but priority 255 (the address owner) cannot change", t.Name)}
		}
		for j := range i {
			if in.TrackInterfaces[j].Name == t.Name {
				return &VRRPProblem{"track_interface", i, fmt.Sprintf("%s listed twice", t.Name)}
			}
		}
	}
	for i, t := range in.TrackScripts {
		s := &t.Script
		w := s.Weight
		if t.HasWeight {
			w = t.Weight
		}
		switch {
		case s.Name == "":
			return &VRRPProblem{"track_script", i, "names no vrrp_script"}
		case s.Script.IsZero():
			return &VRRPProblem{"track_script", i, fmt.Sprintf("vrrp_script %s has no script", s.Name)}
		case s.Interval <= 0 || s.Timeout <= 0 || s.Fall < 1 || s.Rise < 1:
			return &VRRPProblem{"track_script", i, fmt.Sprintf("vrrp_script %s: interval and timeout must be positive, fall and rise at least 1", s.Name)}
		case w < -253 || w > 253:
			return &VRRPProblem{"track_script", i, fmt.Sprintf("weight must be between -253 and 253 (got %d)", w)}
		case owner && w != 0:
			return &VRRPProblem{"track_script", i, fmt.Sprintf("%s has a weight, but priority 255 (the address owner) cannot change", s.Name)}
		}
		for j := range i {
			if in.TrackScripts[j].Script.Name == s.Name {
				return &VRRPProblem{"track_script", i, fmt.Sprintf("%s listed twice", s.Name)}
			}
		}
	}
	return nil
}
