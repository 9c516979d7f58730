package lvsdr

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/names"
	"github.com/ulvs/ulvs/vs"
)

// Format is the File.Format of a configure-script file.
const Format = "lvsdr"

// Options are the name look-ups Parse makes. The zero value uses the
// system's resolver (/etc/hosts, DNS) for host names and /etc/services for
// service names, as the configure script does. Tests pass maps and a
// services file of their own (names.ParseServices).
type Options = names.Resolver

// Conf is everything a configure-script file says: the director's part
// as the configuration model (File), the director's own addresses, and
// the real servers' part.
type Conf struct {
	File       *config.File
	Director   Director
	RealServer RealServer
	// InitialState is INITIAL_STATE: on (true) adds the real servers with
	// weight 1; off adds them with weight 0, for mon to bring in.
	InitialState bool
}

// Director is what the configure script sets up on the director beside
// the IPVS table: the VIP on its device and the director's inside
// address. ulvsd does not configure these (it answers ARP for the VIP
// itself); they are kept for tools and for conversion.
type Director struct {
	// VIPDevice is VIP's device as written (eth0:110); VIP, VIPNetmask
	// and VIPBroadcast its address, netmask and broadcast (invalid when
	// not given).
	VIPDevice    string
	VIP          netip.Addr
	VIPNetmask   netip.Addr
	VIPBroadcast netip.Addr
	// InsideDevice, InsideIP, InsideNetwork, InsideNetmask and
	// InsideBroadcast are DIRECTOR_INSIDEIP's fields (zero when absent).
	InsideDevice    string
	InsideIP        netip.Addr
	InsideNetwork   netip.Addr
	InsideNetmask   netip.Addr
	InsideBroadcast netip.Addr
	// DefaultGW is DIRECTOR_DEFAULT_GW.
	DefaultGW netip.Addr
}

// RealServer is the real servers' part of the file, which the generated
// rc.lvs applies when it runs on a real server: for `ulvs realserver`.
type RealServer struct {
	// Method is LVS_TYPE: Route (VS_DR), Tunnel (VS_TUN) or Masq (VS_NAT).
	Method vs.Method
	// VIP is the address DR and TUN real servers hold on VIPDevice
	// (SERVER_VIP_DEVICE, or the older SERVER_LVS_DEVICE: lo:0, dummy0,
	// tunl0).
	VIP       netip.Addr
	VIPDevice string
	// NetDevice is SERVER_NET_DEVICE, the real servers' network device.
	NetDevice string
	// DefaultGW is SERVER_DEFAULT_GW (or SERVER_GW); for NAT it is
	// normally the director's inside address.
	DefaultGW netip.Addr
	// Servers are the real servers' addresses, in file order, each once.
	Servers []netip.Addr
}

// Load reads and parses the file at path with the system's look-ups.
func Load(path string) (*Conf, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConf(path, data, Options{})
}

// Parse reads configure-script text and returns its director part, for
// config/load.
func Parse(path string, data []byte, opts Options) (*config.File, error) {
	c, err := ParseConf(path, data, opts)
	if err != nil {
		return nil, err
	}
	return c.File, nil
}

// ParseConf reads lvs_dr.conf, lvs_nat.conf or lvs_tun.conf text. path
// names the file in errors and warnings. A returned error is a
// *config.Error with the file and line of the first problem. data is not
// retained.
func ParseConf(path string, data []byte, opts Options) (*Conf, error) {
	opts.Fill()
	p := &parser{path: path, opts: opts, conf: &Conf{
		File: &config.File{Path: path, Format: Format, Socket: config.DefaultSocket},
	}}
	p.read(data)
	if p.err == nil {
		p.build()
	}
	if p.err != nil {
		return nil, p.err
	}
	config.SortWarnings(p.conf.File.Warnings)
	return p.conf, nil
}

// setting is one NAME=value line.
type setting struct {
	num   int
	name  string
	words []string
}

type parser struct {
	path string
	opts Options
	conf *Conf
	err  *config.Error

	once     map[string]*setting
	services []*setting
	method   vs.Method
}

func (p *parser) errorf(num int, field, format string, args ...any) {
	if p.err == nil {
		p.err = &config.Error{File: p.path, Line: num, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

func (p *parser) warnf(num int, format string, args ...any) {
	p.conf.File.Warnings = append(p.conf.File.Warnings, config.Warning{File: p.path, Line: num, Msg: fmt.Sprintf(format, args...)})
}

// settingNames are the settings the configure script reads; SERVICE may
// repeat.
var settingNames = []string{
	"LVS_TYPE", "INITIAL_STATE", "VIP", "DIRECTOR_INSIDEIP", "DIRECTOR_DEFAULT_GW",
	"SERVICE", "SERVER_VIP_DEVICE", "SERVER_LVS_DEVICE", "SERVER_NET_DEVICE",
	"SERVER_DEFAULT_GW", "SERVER_GW",
}

// read splits the text into settings: NAME=value lines, leading blanks
// allowed, '#' starting a comment anywhere, the value's words separated
// by white space.
func (p *parser) read(data []byte) {
	p.once = map[string]*setting{}
	text := strings.TrimPrefix(string(data), "\xef\xbb\xbf")
	for i, raw := range strings.Split(text, "\n") {
		num := i + 1
		line, _, _ := strings.Cut(raw, "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			p.errorf(num, "", "expected NAME=value, like LVS_TYPE=VS_DR (got %q)", shorten(line))
			return
		}
		if !slices.Contains(settingNames, name) {
			p.errorf(num, name, "unknown setting %s (the configure script reads %s)", name, strings.Join(settingNames, ", "))
			return
		}
		s := &setting{num: num, name: name, words: strings.Fields(value)}
		if len(s.words) == 0 {
			p.errorf(num, name, "has no value")
			return
		}
		if name == "SERVICE" {
			p.services = append(p.services, s)
			continue
		}
		if name == "SERVER_LVS_DEVICE" {
			name = "SERVER_VIP_DEVICE"
		}
		if name == "SERVER_GW" {
			name = "SERVER_DEFAULT_GW"
		}
		if old := p.once[name]; old != nil {
			p.errorf(num, s.name, "%s is already set on line %d", s.name, old.num)
			return
		}
		p.once[name] = s
	}
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// fields checks that s has between lo and hi words.
func (p *parser) fields(s *setting, lo, hi int, form string) bool {
	if len(s.words) < lo || len(s.words) > hi {
		p.errorf(s.num, s.name, "takes %s (got %q)", form, strings.Join(s.words, " "))
		return false
	}
	return true
}

// host resolves an IPv4 address or a host name.
func (p *parser) host(s *setting, w string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(w); err == nil {
		if !a.Is4() {
			p.errorf(s.num, s.name, "%s: IPv6 is not supported by ulvs (IPv4 only)", w)
			return netip.Addr{}, false
		}
		return a, true
	}
	if strings.ContainsAny(w, ":/,") || strings.Trim(w, "0123456789.") == "" {
		p.errorf(s.num, s.name, "%q is not an IPv4 address or a host name", w)
		return netip.Addr{}, false
	}
	a, err := p.opts.LookupHost(w)
	if err != nil {
		p.errorf(s.num, s.name, "host %s: %v", w, err)
		return netip.Addr{}, false
	}
	if !a.Is4() {
		p.errorf(s.num, s.name, "host %s is %s: IPv6 is not supported by ulvs", w, a)
		return netip.Addr{}, false
	}
	return a, true
}

// unicastHost is host for an address a server or VIP can have.
func (p *parser) unicastHost(s *setting, w string) (netip.Addr, bool) {
	a, ok := p.host(s, w)
	if ok && !config.Unicast(a) {
		p.errorf(s.num, s.name, "%s is not a unicast address", a)
		return netip.Addr{}, false
	}
	return a, ok
}

// netmask reads a dotted netmask.
func (p *parser) netmask(s *setting, w string) (netip.Addr, bool) {
	m, ok := config.ParseNetmask(w)
	if !ok {
		p.errorf(s.num, s.name, "%q is not a netmask (like 255.255.255.0)", w)
	}
	return m, ok
}

// device checks a device name; its base (eth0 of eth0:110) must be a
// valid interface name.
func (p *parser) device(s *setting, w string) (string, bool) {
	base, _, _ := strings.Cut(w, ":")
	if msg := config.CheckIfName(base); msg != "" {
		p.errorf(s.num, s.name, "device %q: %s", w, msg)
		return "", false
	}
	return w, true
}

// port reads a port number or a service name for proto.
func (p *parser) port(s *setting, w, proto string) (uint16, bool) {
	if n, err := strconv.Atoi(w); err == nil && w[0] != '+' && w[0] != '-' {
		if n > 65535 {
			p.errorf(s.num, s.name, "port %d is out of range (0 to 65535)", n)
			return 0, false
		}
		return uint16(n), true
	}
	n, err := p.opts.LookupPort(w, proto)
	if err != nil {
		p.errorf(s.num, s.name, "%q is neither a port number nor a service name: %v", w, err)
		return 0, false
	}
	return n, true
}
