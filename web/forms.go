package web

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// MaxField is the longest form field accepted, in bytes.
const MaxField = 256

// Persistence defaults, as ipvsadm's -p without a value and the kernel's.
const (
	defaultPersistTimeout = 300
	maxPersistTimeout     = math.MaxInt32 / 1000 // ipvsadm's limit
	maxWeight             = 65535                // ipvsadm's parse_weight
)

// fieldErrors maps a form field to what is wrong with it.
type fieldErrors map[string]string

// form reads url.Values field by field, recording what is wrong next to
// each field.
type form struct {
	v    url.Values
	errs fieldErrors
}

func newForm(v url.Values) *form { return &form{v: v, errs: fieldErrors{}} }

// str returns the field trimmed, refusing oversized, repeated, non-UTF-8
// and control characters.
func (f *form) str(name string) string {
	vals := f.v[name]
	if len(vals) == 0 {
		return ""
	}
	if len(vals) > 1 {
		f.errs[name] = "given more than once"
		return ""
	}
	s := vals[0]
	if len(s) > MaxField {
		f.errs[name] = fmt.Sprintf("too long: at most %d characters", MaxField)
		return ""
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		f.errs[name] = "contains control characters or invalid UTF-8"
		return ""
	}
	return strings.TrimSpace(s)
}

func (f *form) flag(name string) bool {
	s := f.str(name)
	switch s {
	case "", "0", "off", "false":
		return false
	case "1", "on", "true":
		return true
	}
	f.errs[name] = "must be on or off"
	return false
}

// uint reads an optional unsigned integer in [lo, hi]; def when empty.
func (f *form) uint(name string, lo, hi, def uint64) uint64 {
	s := f.str(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n < lo || n > hi {
		f.errs[name] = fmt.Sprintf("must be a whole number from %d to %d", lo, hi)
		return def
	}
	return n
}

func (f *form) addr(name string) netip.Addr {
	s := f.str(name)
	if s == "" {
		if _, bad := f.errs[name]; !bad {
			f.errs[name] = "required"
		}
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		f.errs[name] = "not an IP address (like 192.0.2.10 or 2001:db8::10)"
	case !a.Is4() && !a.Is6():
		f.errs[name] = "not an IPv4 or IPv6 address"
	case !config.Unicast(a):
		f.errs[name] = "must be a unicast address"
	default:
		return a
	}
	return netip.Addr{}
}

func (f *form) ok() bool { return len(f.errs) == 0 }

// methods are the forwarding methods by form value, in the order the
// forms offer them.
var methods = []struct {
	Value string
	M     vs.Method
	Label string
}{
	{"dr", vs.Route, "direct routing (DR, -g)"},
	{"nat", vs.Masq, "NAT (masquerading, -m)"},
	{"tun", vs.Tunnel, "tunnelling (IPIP, -i)"},
	{"fullnat", vs.FullNAT, "FULLNAT (ulvs extension)"},
}

func methodValue(m vs.Method) string {
	for _, x := range methods {
		if x.M == m {
			return x.Value
		}
	}
	return ""
}

// serviceForm is the virtual server form's values, as typed (to show
// them again next to their errors).
type serviceForm struct {
	Proto, Addr, Port, FwMark, Scheduler, Timeout, Netmask string
	Persistent, OnePacket                                  bool
	SchedFlags                                             []string
}

// parseService reads the virtual server form into a service.
func parseService(v url.Values) (config.Service, serviceForm, fieldErrors) {
	f := newForm(v)
	sf := serviceForm{
		Proto: f.str("proto"), Addr: f.str("addr"), Port: f.str("port"), FwMark: f.str("fwmark"),
		Scheduler: f.str("scheduler"), Timeout: f.str("timeout"), Netmask: f.str("netmask"),
		Persistent: f.flag("persistent"), OnePacket: f.flag("onepacket"),
	}
	var s config.Service
	switch sf.Proto {
	case "tcp", "udp":
		s.Proto = vs.TCP
		if sf.Proto == "udp" {
			s.Proto = vs.UDP
		}
		s.Addr = f.addr("addr")
		s.Port = uint16(f.uint("port", 0, 65535, 0))
		if sf.Port == "" && f.errs["port"] == "" {
			f.errs["port"] = "required (0 for every port, with persistence)"
		}
		if sf.FwMark != "" && f.errs["fwmark"] == "" {
			f.errs["fwmark"] = "a TCP or UDP service has no firewall mark (choose protocol fwmark)"
		}
		if s.Port == 0 && sf.Port != "" && !sf.Persistent && f.errs["port"] == "" {
			f.errs["port"] = "port 0 (every port) needs persistence, as ipvsadm says"
		}
	case "fwmark", "fwmark6":
		s.Proto = vs.TCP
		if sf.Proto == "fwmark6" {
			s.Addr = config.FwMark6Addr // ipvsadm -f N -6
		}
		s.FwMark = uint32(f.uint("fwmark", 1, math.MaxUint32, 0))
		if sf.FwMark == "" && f.errs["fwmark"] == "" {
			f.errs["fwmark"] = "required: the mark number (1 to 4294967295)"
		}
		if sf.Addr != "" && f.errs["addr"] == "" {
			f.errs["addr"] = "a firewall-mark service has no address (leave it empty)"
		}
		if sf.Port != "" && f.errs["port"] == "" {
			f.errs["port"] = "a firewall-mark service has no port (leave it empty)"
		}
	case "":
		if f.errs["proto"] == "" {
			f.errs["proto"] = "required: tcp, udp, fwmark or fwmark6"
		}
	default:
		if f.errs["proto"] == "" {
			f.errs["proto"] = "must be tcp, udp, fwmark or fwmark6"
		}
	}
	s.Scheduler = sf.Scheduler
	if s.Scheduler == "" {
		s.Scheduler = config.DefaultScheduler
	} else if !config.KnownScheduler(s.Scheduler) && f.errs["scheduler"] == "" {
		f.errs["scheduler"] = "unknown scheduler; one of " + strings.Join(config.Schedulers(), ", ")
	}
	for _, fl := range v["schedflags"] {
		if !slices.Contains(schedFlagChoices, fl) {
			f.errs["schedflags"] = "unknown scheduler flag"
			break
		}
		if !slices.Contains(sf.SchedFlags, fl) {
			sf.SchedFlags = append(sf.SchedFlags, fl)
		}
	}
	if len(sf.SchedFlags) > 0 && s.Scheduler != "sh" && s.Scheduler != "mh" {
		f.errs["schedflags"] = "scheduler flags are for the sh and mh schedulers"
	}
	s.SchedFlags = config.CanonicalSchedFlags(s.Scheduler, int(config.SchedFlagBits(sf.SchedFlags))>>3)
	s.Persistent = sf.Persistent
	s.OnePacket = sf.OnePacket
	if s.OnePacket && s.Proto != vs.UDP && s.FwMark == 0 {
		f.errs["onepacket"] = "one-packet scheduling is for UDP (and fwmark) services"
	}
	if s.Persistent {
		s.Timeout = uint32(f.uint("timeout", 1, maxPersistTimeout, defaultPersistTimeout))
		if sf.Netmask != "" && s.IPv6() {
			// An IPv6 service's granularity is a prefix length, as
			// ipvsadm -M takes it.
			n, err := strconv.Atoi(strings.TrimPrefix(sf.Netmask, "/"))
			if err != nil || n < 1 || n > 128 {
				f.errs["netmask"] = "an IPv6 service's netmask is a prefix length, 1 to 128"
			} else {
				s.Netmask = config.IPv6Mask(n)
			}
		} else if sf.Netmask != "" {
			m, err := netip.ParseAddr(sf.Netmask)
			if err != nil || !m.Is4() || !contiguous(m) {
				f.errs["netmask"] = "must be an IPv4 netmask like 255.255.255.0"
			} else {
				s.Netmask = m
			}
		}
	} else {
		if sf.Timeout != "" && f.errs["timeout"] == "" {
			f.errs["timeout"] = "a timeout needs persistence turned on"
		}
		if sf.Netmask != "" && f.errs["netmask"] == "" {
			f.errs["netmask"] = "a netmask needs persistence turned on"
		}
	}
	return s, sf, f.errs
}

var schedFlagChoices = []string{"sh-fallback", "sh-port", "mh-fallback", "mh-port"}

// contiguous reports whether m is a netmask (ones then zeros).
func contiguous(m netip.Addr) bool {
	b := m.As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	inv := ^n
	return inv&(inv+1) == 0
}

// destForm is the real server form's values as typed.
type destForm struct {
	Addr, Port, Weight, Method, UThreshold, LThreshold string
}

// parseDest reads the real server form. A fwmark service's real servers
// may leave the port empty (the packet's own port).
func parseDest(v url.Values, svc config.ServiceKey) (config.Dest, destForm, fieldErrors) {
	f := newForm(v)
	df := destForm{Addr: f.str("addr"), Port: f.str("port"), Weight: f.str("weight"), Method: f.str("method"),
		UThreshold: f.str("uthreshold"), LThreshold: f.str("lthreshold")}
	var d config.Dest
	d.Addr = f.addr("addr")
	d.Port = uint16(f.uint("port", 0, 65535, uint64(svc.Port)))
	if svc.Port == 0 && svc.FwMark == 0 && d.Port != 0 {
		// ipvsadm: a port-0 service's real servers take the packet's port.
		f.errs["port"] = "this service takes every port: leave the port empty or 0"
	}
	d.Weight = int32(f.uint("weight", 0, maxWeight, 1))
	d.UThreshold = uint32(f.uint("uthreshold", 0, math.MaxInt32, 0))
	d.LThreshold = uint32(f.uint("lthreshold", 0, math.MaxInt32, 0))
	if d.LThreshold > d.UThreshold && f.errs["lthreshold"] == "" && f.errs["uthreshold"] == "" {
		f.errs["lthreshold"] = "must not be above the upper threshold"
	}
	switch df.Method {
	case "":
		d.Method = vs.Route // ipvsadm's default, -g
	default:
		for _, m := range methods {
			if m.Value == df.Method {
				d.Method = m.M
			}
		}
		if d.Method == vs.MethodInvalid && f.errs["method"] == "" {
			f.errs["method"] = "must be dr, nat, tun or fullnat"
		}
	}
	return d, df, f.errs
}

// serviceID is a service's key as the pages put it in URLs and forms:
// "tcp-192.0.2.1-80", "udp-192.0.2.1-53", "fwm-5", "fwm6-5" (the IPv6
// service of mark 5).
func serviceID(k config.ServiceKey) string {
	if k.FwMark != 0 {
		if k.IPv6() {
			return "fwm6-" + strconv.FormatUint(uint64(k.FwMark), 10)
		}
		return "fwm-" + strconv.FormatUint(uint64(k.FwMark), 10)
	}
	p := "tcp"
	if k.Proto == vs.UDP {
		p = "udp"
	}
	return p + "-" + k.Addr.String() + "-" + strconv.Itoa(int(k.Port))
}

// parseServiceID reads serviceID's text back; anything else is an error.
func parseServiceID(s string) (config.ServiceKey, error) {
	bad := fmt.Errorf("not a virtual server id: %q", truncate(s, 64))
	if len(s) > 64 {
		return config.ServiceKey{}, bad
	}
	parts := strings.Split(s, "-")
	switch {
	case len(parts) == 2 && (parts[0] == "fwm" || parts[0] == "fwm6"):
		n, err := strconv.ParseUint(parts[1], 10, 32)
		if err != nil || n == 0 || strconv.FormatUint(n, 10) != parts[1] {
			return config.ServiceKey{}, bad
		}
		k := config.ServiceKey{Proto: vs.TCP, FwMark: uint32(n)}
		if parts[0] == "fwm6" {
			k.Addr = config.FwMark6Addr
		}
		return k, nil
	case len(parts) == 3 && (parts[0] == "tcp" || parts[0] == "udp"):
		a, err := netip.ParseAddr(parts[1])
		if err != nil || a.String() != parts[1] || a.Is4In6() || a.Zone() != "" {
			return config.ServiceKey{}, bad
		}
		p, err := strconv.ParseUint(parts[2], 10, 16)
		if err != nil || strconv.FormatUint(p, 10) != parts[2] {
			return config.ServiceKey{}, bad
		}
		proto := vs.TCP
		if parts[0] == "udp" {
			proto = vs.UDP
		}
		return config.ServiceKey{Proto: proto, Addr: a, Port: uint16(p)}, nil
	}
	return config.ServiceKey{}, bad
}

// destID is a real server's address and port in forms: "192.0.2.11:80".
func parseDestID(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil || !ap.Addr().Is4() || len(s) > 32 {
		return netip.AddrPort{}, fmt.Errorf("not a real server: %q", truncate(s, 32))
	}
	return ap, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
