package piranha

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/names"
	"github.com/ulvs/ulvs/vs"
)

// Format is the File.Format of an lvs.cf.
const Format = config.FormatPiranha

// Piranha's defaults (lvsconfig.c: lvsParseConfig, lvsInitVirtualServer).
const (
	defaultHeartbeatPort = 539
	defaultKeepalive     = 2 * time.Second
	defaultDeadtime      = 5 * time.Second
	defaultSyncdIface    = "eth0"
	defaultPort          = 80
	defaultTimeout       = 10  // seconds
	defaultReentry       = 180 // seconds; nanny also uses it for reentry = 0
	maxWeight            = 65535
	maxSeconds           = 1 << 31 / int(time.Second/time.Millisecond) // keeps durations far from overflow
)

// Options are the name look-ups Parse makes. The zero value uses the
// system's: host names through the resolver (/etc/hosts, DNS), service
// names in /etc/services, as Piranha's gethostbyname and getservbyname
// do. Tests pass maps.
type Options = names.Resolver

// Load reads and parses the lvs.cf at path with the system's look-ups.
func Load(path string) (*config.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, Options{})
}

// Parse reads lvs.cf text. path names the file in errors and warnings. A
// returned error is a *config.Error with the file and line of the first
// problem. data is not retained; the File belongs to the caller.
func Parse(path string, data []byte, opts Options) (*config.File, error) {
	p, err := parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	return p.file, nil
}

// parse is Parse, returning the parser with the blocks as written.
func parse(path string, data []byte, opts Options) (*parser, error) {
	opts.Fill()
	p := &parser{
		path: path,
		opts: opts,
		file: &config.File{Path: path, Format: Format, Socket: config.DefaultSocket},
		pulse: &config.Pulse{
			HeartbeatPort: defaultHeartbeatPort,
			Keepalive:     defaultKeepalive,
			Deadtime:      defaultDeadtime,
			SyncdIface:    defaultSyncdIface,
			HardShutdown:  true,
		},
		method: vs.Masq,
	}
	lines, lerr := lex(data)
	if lerr != nil {
		return nil, &config.Error{File: path, Line: lerr.num, Msg: lerr.msg}
	}
	if len(lines) == 0 {
		return nil, &config.Error{File: path, Msg: "empty configuration: no settings and no virtual servers (Piranha refuses it too)"}
	}
	p.top(lines)
	if p.err == nil {
		p.build()
	}
	if p.err != nil {
		return nil, p.err
	}
	p.file.Pulse = p.pulse
	config.SortWarnings(p.file.Warnings)
	return p, nil
}

// parser interprets the lines. The first error stops it.
type parser struct {
	path  string
	opts  Options
	file  *config.File
	pulse *config.Pulse
	err   *config.Error

	method    vs.Method
	methodSet bool
	sawPriv   bool
	virtuals  []*virtual
	// lines of the settings that the warnings after the parse point at.
	natRouterLine, syncLine, monitorLinksLine int
	cmdLines                                  []int // active_cmd, inactive_cmd
	// natRouter and natBits are nat_router's address and nat_nmask's
	// length (0: none given, a /32).
	natRouter netip.Addr
	natBits   int
}

func (p *parser) errorf(num int, field, format string, args ...any) {
	if p.err == nil {
		p.err = &config.Error{File: p.path, Line: num, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

func (p *parser) warnf(num int, format string, args ...any) {
	p.file.Warnings = append(p.file.Warnings, config.Warning{File: p.path, Line: num, Msg: fmt.Sprintf(format, args...)})
}

// values checks "keyword = v1 ... vn" (lvsconfig.c's CHECK_ARGS) and
// returns the n values.
func (p *parser) values(l *line, n int) ([]string, bool) {
	if len(l.words) < 2 || l.words[1] != "=" || l.quoted[1] != 0 {
		p.errorf(l.num, l.keyword(), "equal (=) expected after %s (write \"%s = value\", with spaces)", l.keyword(), l.keyword())
		return nil, false
	}
	v := l.words[2:]
	switch {
	case len(v) < n:
		p.errorf(l.num, l.keyword(), "missing arguments: takes %s", plural(n, "value"))
		return nil, false
	case len(v) > n:
		p.errorf(l.num, l.keyword(), "unexpected arguments: takes %s, got %d (%s); lvs.cf has no comments after a value", plural(n, "value"), len(v), strings.Join(v, " "))
		return nil, false
	}
	return v, true
}

func plural(n int, what string) string {
	if n == 1 {
		return "one " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// value returns the single value of "keyword = value".
func (p *parser) value(l *line) (string, bool) {
	v, ok := p.values(l, 1)
	if !ok {
		return "", false
	}
	return v[0], true
}

// oneOf reads a value that must be one of words (case matters, as in
// lvsconfig.c's strcmp).
func (p *parser) oneOf(l *line, words ...string) (string, bool) {
	s, ok := p.value(l)
	if !ok {
		return "", false
	}
	if slices.Contains(words, s) {
		return s, true
	}
	list := strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
	p.errorf(l.num, l.keyword(), "invalid argument %q: %s", s, list)
	return "", false
}

// num reads a decimal integer in [lo, hi].
func (p *parser) num(l *line, lo, hi int) (int, bool) {
	s, ok := p.value(l)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || s[0] == '+' {
		p.errorf(l.num, l.keyword(), "integer expected (got %q)", s)
		return 0, false
	}
	if octal(s) {
		p.errorf(l.num, l.keyword(), "%s has a leading zero, which Piranha reads as octal: write the number in decimal without it", s)
		return 0, false
	}
	if n < lo || n > hi {
		p.errorf(l.num, l.keyword(), "must be between %d and %d (got %d)", lo, hi, n)
		return 0, false
	}
	return n, true
}

// octal reports whether a decimal-looking number has a leading zero,
// which lvsconfig.c's strtol(s, 0) reads as octal.
func octal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return len(s) > 1 && s[0] == '0'
}

// seconds reads a number of seconds in [lo, maxSeconds].
func (p *parser) seconds(l *line, lo int) (time.Duration, bool) {
	n, ok := p.num(l, lo, maxSeconds)
	return time.Duration(n) * time.Second, ok
}

// boolean reads 0 or 1.
func (p *parser) boolean(l *line) (bool, bool) {
	s, ok := p.value(l)
	if !ok {
		return false, false
	}
	switch s {
	case "0":
		return false, true
	case "1":
		return true, true
	}
	p.errorf(l.num, l.keyword(), "boolean expected: 0 or 1 (got %q)", s)
	return false, false
}

// host resolves an address or host name (lvsconfig.c's getHostname) to an
// IPv4 address.
func (p *parser) host(l *line, s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		if !a.Is4() {
			p.errorf(l.num, l.keyword(), "%s: IPv6 is not supported by ulvs (IPv4 only)", s)
			return netip.Addr{}, false
		}
		return a, true
	}
	if strings.ContainsAny(s, ":/") || strings.Trim(s, "0123456789.") == "" {
		p.errorf(l.num, l.keyword(), "invalid host name or IP address %q", s)
		return netip.Addr{}, false
	}
	a, err := p.opts.LookupHost(s)
	if err != nil {
		p.errorf(l.num, l.keyword(), "invalid host name or IP address %q: %v", s, err)
		return netip.Addr{}, false
	}
	if !a.Is4() {
		p.errorf(l.num, l.keyword(), "%s resolves to %s: IPv6 is not supported by ulvs", s, a)
		return netip.Addr{}, false
	}
	return a, true
}

// unicast checks an address a real or virtual server can have.
func (p *parser) unicast(l *line, a netip.Addr) bool {
	if !config.Unicast(a) {
		p.errorf(l.num, l.keyword(), "%s is not a unicast address", a)
		return false
	}
	return true
}

// netmask reads a dotted netmask (inet_aton in Piranha, which takes
// anything; ulvs wants contiguous ones).
func (p *parser) netmask(l *line) (netip.Addr, bool) {
	s, ok := p.value(l)
	if !ok {
		return netip.Addr{}, false
	}
	m, ok := config.ParseNetmask(s)
	if !ok {
		p.errorf(l.num, l.keyword(), "bad subnet mask %q (a dotted IPv4 netmask like 255.255.255.0)", s)
		return netip.Addr{}, false
	}
	return m, true
}

// port reads a port number or, where Piranha takes one (getPort), a
// service name looked up for TCP.
func (p *parser) port(l *line, names bool) (uint16, bool) {
	s, ok := p.value(l)
	if !ok {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil && s[0] != '+' {
		if octal(s) {
			p.errorf(l.num, l.keyword(), "%s has a leading zero, which Piranha reads as octal: write the number in decimal without it", s)
			return 0, false
		}
		if n < 0 || n > 65535 {
			p.errorf(l.num, l.keyword(), "must be between 0 and 65535 (got %d)", n)
			return 0, false
		}
		return uint16(n), true
	}
	if !names {
		p.errorf(l.num, l.keyword(), "integer expected (got %q)", s)
		return 0, false
	}
	n, err := p.opts.LookupPort(s, "tcp")
	if err != nil {
		p.errorf(l.num, l.keyword(), "%q is neither a port number nor a service name: %v", s, err)
		return 0, false
	}
	return n, true
}

// addrDevice reads "keyword = ADDRESS DEVICE" (a virtual server's address
// and nat_router) and checks the device's base name.
func (p *parser) addrDevice(l *line) (netip.Addr, string, bool) {
	v, ok := p.values(l, 2)
	if !ok {
		if len(l.words) == 3 && p.err != nil {
			p.err.Msg += " (an address and its device, like \"192.168.56.100 eth0:1\")"
		}
		return netip.Addr{}, "", false
	}
	a, ok := p.host(l, v[0])
	if !ok || !p.unicast(l, a) {
		return netip.Addr{}, "", false
	}
	if msg := config.CheckIfName(baseDevice(v[1])); msg != "" {
		p.errorf(l.num, l.keyword(), "device %q: %s", v[1], msg)
		return netip.Addr{}, "", false
	}
	return a, v[1], true
}

// baseDevice strips an alias: eth0:1 is eth0.
func baseDevice(dev string) string {
	base, _, _ := strings.Cut(dev, ":")
	return base
}

// top reads the global section and the virtual and failover blocks.
func (p *parser) top(lines []line) {
	for i := 0; i < len(lines) && p.err == nil; i++ {
		l := &lines[i]
		switch kw := l.keyword(); kw {
		case "virtual", "failover":
			i = p.block(lines, i)
		case "}":
			p.errorf(l.num, "", "unexpected '}' outside a virtual block")
		default:
			p.global(l)
		}
	}
}

// global reads one setting of the global section.
func (p *parser) global(l *line) {
	pu := p.pulse
	var ok bool
	switch kw := l.keyword(); kw {
	case "serial_no":
		pu.SerialNo, _ = p.num(l, 0, 1<<31-1)
	case "primary", "primary_private", "backup", "backup_private":
		s, ok := p.value(l)
		if !ok {
			return
		}
		a, ok := p.host(l, s)
		if !ok {
			return
		}
		if a.IsUnspecified() && kw != "backup" {
			p.errorf(l.num, kw, "invalid host name or IP address %q (0.0.0.0)", s)
			return
		}
		switch kw {
		case "primary":
			pu.Primary = a
		case "primary_private":
			pu.PrimaryPrivate, p.sawPriv = a, true
		case "backup":
			if a.IsUnspecified() {
				a = netip.Addr{}
			}
			pu.Backup = a
		case "backup_private":
			pu.BackupPrivate = a
		}
	case "service":
		if w, ok := p.oneOf(l, "lvs", "fos"); ok && w == "fos" {
			p.errorf(l.num, kw, "service = fos (failover services) is not supported by ulvs: only service = lvs (virtual servers)")
		}
	case "backup_active":
		pu.BackupActive, _ = p.boolean(l)
	case "heartbeat":
		pu.Heartbeat, _ = p.boolean(l)
	case "heartbeat_port":
		if port, ok := p.port(l, true); ok {
			if port == 0 {
				p.errorf(l.num, kw, "must be between 1 and 65535 (got 0)")
				return
			}
			pu.HeartbeatPort = port
		}
	case "keepalive":
		pu.Keepalive, _ = p.seconds(l, 1)
	case "deadtime":
		pu.Deadtime, _ = p.seconds(l, 1)
	case "monitor_links":
		pu.MonitorLinks, ok = p.boolean(l)
		if ok && pu.MonitorLinks {
			p.monitorLinksLine = l.num
		}
	case "syncdaemon":
		pu.SyncDaemon, ok = p.boolean(l)
		if ok && pu.SyncDaemon {
			p.syncLine = l.num
		}
	case "syncd_iface":
		s, ok := p.value(l)
		if ok {
			if msg := config.CheckIfName(s); msg != "" {
				p.errorf(l.num, kw, "%s", msg)
				return
			}
			pu.SyncdIface = s
		}
	case "syncd_id":
		pu.SyncID, _ = p.num(l, 0, 255)
	case "hard_shutdown":
		pu.HardShutdown, _ = p.boolean(l)
	case "active_cmd", "inactive_cmd":
		s, ok := p.value(l)
		if !ok {
			return
		}
		if strings.TrimSpace(s) == "" {
			// pulse splits it at spaces and execs the first word.
			p.errorf(l.num, kw, "empty command: name a program")
			return
		}
		if kw == "active_cmd" {
			pu.ActiveCmd = s
		} else {
			pu.InactiveCmd = s
		}
		p.cmdLines = append(p.cmdLines, l.num)
	case "network":
		methods := map[string]vs.Method{"direct": vs.Route, "nat": vs.Masq, "tunnel": vs.Tunnel}
		if w, ok := p.oneOf(l, "direct", "nat", "tunnel"); ok {
			p.method, p.methodSet = methods[w], true
		}
	case "nat_router":
		a, dev, ok := p.addrDevice(l)
		if ok {
			p.natRouter, pu.NATRouterDevice = a, dev
			p.natRouterLine = l.num
		}
	case "nat_nmask":
		if m, ok := p.netmask(l); ok {
			p.natBits = maskBits(m)
		}
	case "tcp_timeout", "tcpfin_timeout", "udp_timeout":
		n, ok := p.num(l, 0, config.MaxTimeout)
		if !ok {
			return
		}
		switch kw {
		case "tcp_timeout":
			p.file.Timeouts.TCP = uint32(n)
		case "tcpfin_timeout":
			p.file.Timeouts.TCPFin = uint32(n)
		default:
			p.file.Timeouts.UDP = uint32(n)
		}
	case "debug_level", "rsh_command":
		// debug_level is Piranha's log verbosity; rsh_command the remote
		// shell of the uptime load monitor (refused) and of file sync.
		p.value(l)
	case "ipvsadm":
		if s, ok := p.value(l); ok {
			p.warnf(l.num, "ipvsadm = %s is not used: ulvs edits its own table, not the kernel's", s)
		}
	case "sync":
		if on, ok := p.boolean(l); ok && on {
			p.warnf(l.num, "sync = 1: ulvs does not copy files to the backup director (copy lvs.cf yourself, as seed 000 does)")
		}
	case "primary_shared", "backup_shared", "reservation_conflict_action":
		if _, ok := p.value(l); ok {
			p.warnf(l.num, "%s is a failover-service (fos) setting for shared storage: not used with service = lvs", kw)
		}
	default:
		if k, v, ok := strings.Cut(kw, "="); ok {
			p.errorf(l.num, kw, "equal (=) expected as a word of its own: write \"%s = %s\" (Piranha refuses %q too)", k, v, kw)
			return
		}
		p.errorf(l.num, kw, "unknown command %q in the global section (Piranha refuses it too)", kw)
	}
}

// maskBits counts the one bits of a contiguous netmask.
func maskBits(m netip.Addr) int {
	b := m.As4()
	n := 0
	for _, x := range b {
		for ; x != 0; x <<= 1 {
			n++
		}
	}
	return n
}
