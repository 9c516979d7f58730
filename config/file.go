// Package config holds the director's configuration: the ipvsadm rule
// model (Rules, Service, Dest), the TOML configuration file ulvsd reads
// (Load, Parse), and the parsing of ipvsadm arguments and ipvsadm-save
// text into Rules.
//
// Nothing here touches the network or the engine: callers get plain values
// and decide what to apply. The functions are safe for concurrent use; the
// values they return belong to the caller.
package config

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/ulvs/ulvs/vs"
)

// DefaultSocket is the control socket ulvsd listens on when the file names
// none.
const DefaultSocket = "/run/ulvs/ulvsd.sock"

// Limits of the file format. The timeout and threshold bounds are
// ipvsadm's (MAX_TIMEOUT, and INT_MAX for -x/-y); the weight bound is what
// ipvsadm's -w accepts.
const (
	fileMaxTimeout       = 86400 * 31 // ipvsadm MAX_TIMEOUT: 31 days
	fileMaxWeight        = 65535
	fileMaxThreshold     = math.MaxInt32
	fileMaxWorkers       = 4096
	fileMaxConnTableSize = 1 << 26
	fileMaxSocketPath    = 107 // sizeof(sun_path) - 1 for the NUL
	fileMaxIfName        = 15  // IFNAMSIZ - 1
	fileDefaultScheduler = "wlc"
)

// tomlSchedulers are the kernel's scheduler names (net/netfilter/ipvs/
// ip_vs_<name>.c), the only values scheduler accepts. The sched package
// keeps the implementations; config may not import it, so the names are
// repeated here.
var tomlSchedulers = []string{
	"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh",
	"sed", "nq", "fo", "ovf", "mh", "twos",
}

// tomlSchedFlags are ipvsadm's -b names. sh-* apply to sh only, mh-* to mh
// only (ipvsadm's parse_sched_flags refuses them with other schedulers).
var tomlSchedFlags = []string{
	"flag-1", "flag-2", "flag-3",
	"sh-fallback", "sh-port", "mh-fallback", "mh-port",
}

// tomlSchedFlagBit is the IP_VS_SVC_F_SCHED1..3 bit, 0..2, each name sets.
var tomlSchedFlagBit = map[string]int{
	"flag-1": 0, "flag-2": 1, "flag-3": 2,
	"sh-fallback": 0, "sh-port": 1,
	"mh-fallback": 0, "mh-port": 1,
}

// tomlMethods maps the accepted forward names, lower-cased, to methods:
// ulvs's own names, keepalived's lb_kind (DR, TUN, NAT), ipvsadm's -L
// words (route, tunnel, masq) and its long options (gatewaying, ipip,
// masquerading).
var tomlMethods = map[string]vs.Method{
	"dr": vs.Route, "route": vs.Route, "gatewaying": vs.Route,
	"tun": vs.Tunnel, "tunnel": vs.Tunnel, "ipip": vs.Tunnel,
	"nat": vs.Masq, "masq": vs.Masq, "masquerading": vs.Masq,
	"fullnat": vs.FullNAT,
}

// File is a parsed and validated ulvs.toml. Every default is filled in.
type File struct {
	// Path is the file name as given to Load or Parse.
	Path string
	// Interfaces the director listens on (AF_PACKET); never empty.
	Interfaces []string
	// Socket is the control socket path (default DefaultSocket).
	Socket string
	// Workers is the number of RX workers per interface; 0 means one per
	// CPU.
	Workers int
	// ConnTableSize is the number of conntrack slots per worker; 0 means
	// the engine's default.
	ConnTableSize int
	// Timeouts are the TCP, TCP FIN and UDP connection timeouts to set,
	// like ipvsadm --set; 0 leaves one unchanged.
	Timeouts Timeouts
	// Rules are the virtual services in file order, each with its real
	// servers in file order.
	Rules Rules
}

// Error is a problem in a configuration file. Error() is one line:
//
//	ulvs.toml:14: virtual_server[0].real_server[1].weight: must be between 0 and 65535 (got -3)
type Error struct {
	File string // file name as given to Load or Parse
	// Line is 1-based; 0 when the problem has no line of its own, like a
	// required table that is missing.
	Line int
	// Field is the key path, with array-of-tables indices counted from 0
	// in file order; "" for TOML syntax errors.
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads and parses the configuration file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses and validates the TOML text data of the file named path.
// path is only used in errors and File.Path. A returned error is an
// *Error: the first problem in file order. data is not retained.
func Parse(path string, data []byte) (*File, error) {
	var doc map[string]any
	if err := tomlDecode(data, &doc); err != nil {
		e := &Error{File: path, Msg: oneLine(err.Error())}
		if pe, ok := err.(toml.ParseError); ok {
			e.Line = pe.Position.Line
			if start := pe.Position.Start; start >= 0 && start <= len(data) {
				// Position.Line counts a '\n' that ends the bad line
				// into the next one; the offset does not.
				e.Line = 1 + strings.Count(string(data[:start]), "\n")
			}
			e.Msg = oneLine(pe.Message)
		}
		return nil, e
	}
	p := &fileParser{path: path, lines: indexKeys(data)}
	f := p.file(doc)
	if err := p.first(); err != nil {
		return nil, err
	}
	return f, nil
}

// tomlDecode runs the TOML decoder, turning a panic inside it into an
// error: a bad file given to a running daemon's reload must not stop it.
func tomlDecode(data []byte, doc *map[string]any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("toml decoder failed: %v", r)
		}
	}()
	_, err = toml.Decode(string(data), doc)
	return err
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(s), " ")
}

// fileParser turns the decoded document into a File, collecting errors.
type fileParser struct {
	path  string
	lines map[string]int
	errs  []*Error
}

// errorf records a problem with field.
func (p *fileParser) errorf(field, format string, args ...any) {
	p.errs = append(p.errs, &Error{
		File:  p.path,
		Line:  lineOf(p.lines, field),
		Field: field,
		Msg:   fmt.Sprintf(format, args...),
	})
}

// first returns the error with the lowest line, or nil.
func (p *fileParser) first() error {
	if len(p.errs) == 0 {
		return nil
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return p.errs[0]
}

func (p *fileParser) file(doc map[string]any) *File {
	f := &File{Path: p.path, Socket: DefaultSocket}
	top := p.table("", doc, "director", "timeouts", "virtual_server")

	if m, ok := top.table("director"); ok {
		p.director(f, m)
	} else if _, set := doc["director"]; !set {
		p.errorf("director.interfaces", "required: the interfaces the director listens on")
	}
	if m, ok := top.table("timeouts"); ok {
		t := p.table("timeouts", m, "tcp", "tcpfin", "udp")
		f.Timeouts.TCP, _ = t.uint32("tcp", fileMaxTimeout)
		f.Timeouts.TCPFin, _ = t.uint32("tcpfin", fileMaxTimeout)
		f.Timeouts.UDP, _ = t.uint32("udp", fileMaxTimeout)
		t.done()
	}
	var index []int // file index of each service in f.Rules.Services
	for i, m := range top.tables("virtual_server") {
		if svc, ok := p.service(fmt.Sprintf("virtual_server[%d]", i), m); ok {
			f.Rules.Services = append(f.Rules.Services, svc)
			index = append(index, i)
		}
	}
	top.done()
	p.duplicateServices(f.Rules.Services, index)
	return f
}

func (p *fileParser) director(f *File, m map[string]any) {
	t := p.table("director", m, "interfaces", "socket", "workers", "conn_table_size")
	if names, ok := t.strings("interfaces"); !ok {
		if _, set := m["interfaces"]; !set {
			p.errorf("director.interfaces", "required: the interfaces the director listens on")
		}
	} else if len(names) == 0 {
		p.errorf("director.interfaces", "must name at least one interface")
	} else {
		for i, name := range names {
			field := fmt.Sprintf("director.interfaces[%d]", i)
			if msg := checkIfName(name); msg != "" {
				p.errorf(field, "%s", msg)
			} else if j := slices.Index(names[:i], name); j >= 0 {
				p.errorf(field, "duplicate of interfaces[%d] (%q)", j, name)
			}
		}
		f.Interfaces = names
	}
	if s, ok := t.string("socket"); ok {
		switch {
		case s == "":
			p.errorf("director.socket", "must not be empty")
		case len(s) > fileMaxSocketPath:
			p.errorf("director.socket", "path is %d bytes, longer than a unix socket allows (%d)", len(s), fileMaxSocketPath)
		default:
			f.Socket = s
		}
	}
	workers, _ := t.int("workers", 0, fileMaxWorkers)
	size, _ := t.int("conn_table_size", 0, fileMaxConnTableSize)
	f.Workers, f.ConnTableSize = int(workers), int(size)
	t.done()
}

// checkIfName applies the kernel's dev_valid_name rules to an interface
// name and returns what is wrong with it, or "".
func checkIfName(name string) string {
	switch {
	case name == "":
		return "interface name must not be empty"
	case len(name) > fileMaxIfName:
		return fmt.Sprintf("interface name %q is longer than %d bytes", name, fileMaxIfName)
	case name == "." || name == "..":
		return fmt.Sprintf("invalid interface name %q", name)
	case strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return fmt.Sprintf("invalid interface name %q (no '/', ':' or white space)", name)
	}
	return ""
}

// service parses one [[virtual_server]] at path. ok is false when it has
// a problem (already recorded).
func (p *fileParser) service(path string, m map[string]any) (svc Service, ok bool) {
	t := p.table(path, m, "protocol", "address", "scheduler", "forward",
		"persistence_timeout", "persistence_netmask", "one_packet", "sched_flags", "real_server")
	defer t.done()
	ok = true
	svc = Service{Proto: vs.TCP, Scheduler: fileDefaultScheduler}

	if s, set := t.string("protocol"); set {
		switch strings.ToLower(s) {
		case "tcp":
			svc.Proto = vs.TCP
		case "udp":
			svc.Proto = vs.UDP
		default:
			p.errorf(path+".protocol", "must be \"tcp\" or \"udp\" (got %q)", s)
			ok = false
		}
	}

	hasPort := false
	if s, set := t.string("address"); set {
		addr, port, withPort, msg := parseIPv4Port(s)
		switch {
		case msg != "":
			p.errorf(path+".address", "%s", msg)
			ok = false
		case !withPort:
			p.errorf(path+".address", "must be IPv4-address:port (got %q)", s)
			ok = false
		default:
			svc.Addr, svc.Port, hasPort = addr, port, true
		}
	} else if _, present := m["address"]; !present {
		p.errorf(path+".address", "required: the virtual IPv4-address:port")
		ok = false
	} else {
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
		if m, known := parseMethod(s); known {
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

	if s, set := t.string("persistence_netmask"); set {
		mask, valid := parseNetmask(s)
		switch {
		case !valid:
			p.errorf(path+".persistence_netmask", "must be a contiguous IPv4 netmask like 255.255.255.0 (got %q)", s)
			ok = false
		case !svc.Persistent && timeoutOK:
			p.errorf(path+".persistence_netmask", "only applies to persistent services (set persistence_timeout)")
			ok = false
		default:
			svc.Netmask = mask
		}
	}

	if t.bool("one_packet") {
		if svc.Proto != vs.UDP {
			p.errorf(path+".one_packet", "only applies to udp services")
			ok = false
		} else {
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

	for i, dm := range t.tables("real_server") {
		field := fmt.Sprintf("%s.real_server[%d]", path, i)
		d, dok := p.dest(field, dm, &svc, method, hasPort)
		if dok {
			svc.Dests = append(svc.Dests, d)
		}
		ok = ok && dok
	}
	if ok {
		p.duplicateDests(path, svc.Dests)
	}
	return svc, ok
}

// dest parses one real server of svc. method is the service's forward;
// svcPortOK says whether svc.Port is known, so ports can be checked.
func (p *fileParser) dest(path string, m map[string]any, svc *Service, method vs.Method, svcPortOK bool) (Dest, bool) {
	t := p.table(path, m, "address", "weight", "forward", "upper_threshold", "lower_threshold")
	defer t.done()
	ok := true
	d := Dest{Weight: 1, Method: method}

	if s, set := t.string("forward"); set {
		if m, known := parseMethod(s); known {
			d.Method = m
		} else {
			p.errorf(path+".forward", "unknown forwarding method %q (want dr, tun, nat or fullnat)", s)
			ok = false
		}
	}

	if s, set := t.string("address"); set {
		addr, port, withPort, msg := parseIPv4Port(s)
		switch {
		case msg != "":
			p.errorf(path+".address", "%s", msg)
			ok = false
		case !withPort:
			d.Addr, d.Port = addr, svc.Port
		case !svcPortOK:
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
		p.errorf(path+".address", "required: the real server's IPv4-address[:port]")
		ok = false
	} else {
		ok = false
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
// port. index[i] is the position in the file of svcs[i].
func (p *fileParser) duplicateServices(svcs []Service, index []int) {
	seen := make(map[ServiceKey]int, len(svcs))
	for i := range svcs {
		k := svcs[i].Key()
		if j, dup := seen[k]; dup {
			p.errorf(fmt.Sprintf("virtual_server[%d].address", index[i]), "duplicate of virtual_server[%d] (%s %s)",
				j, k.Proto, netip.AddrPortFrom(k.Addr, k.Port))
			continue
		}
		seen[k] = index[i]
	}
}

func (p *fileParser) duplicateDests(path string, dests []Dest) {
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

// parseMethod maps a forward name, in any case, to its method.
func parseMethod(s string) (vs.Method, bool) {
	m, ok := tomlMethods[strings.ToLower(s)]
	return m, ok
}

// parseIPv4Port parses "a.b.c.d" or "a.b.c.d:port". msg says what is wrong
// when the text is not that.
func parseIPv4Port(s string) (addr netip.Addr, port uint16, withPort bool, msg string) {
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
	if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
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

// parseNetmask parses a dotted IPv4 netmask and reports whether its one
// bits are contiguous from the top.
func parseNetmask(s string) (netip.Addr, bool) {
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

// tomlTable reads the keys of one TOML table, remembering which it used
// so done can report the rest as unknown.
type tomlTable struct {
	p     *fileParser
	path  string // "" for the document, else "virtual_server[0]"
	m     map[string]any
	known []string
}

func (p *fileParser) table(path string, m map[string]any, known ...string) *tomlTable {
	return &tomlTable{p: p, path: path, m: m, known: known}
}

func (t *tomlTable) field(key string) string {
	if t.path == "" {
		return tomlKey(key)
	}
	return t.path + "." + tomlKey(key)
}

// done reports every key of the table that is not a known one.
func (t *tomlTable) done() {
	var unknown []string
	for key := range t.m {
		if !slices.Contains(t.known, key) {
			unknown = append(unknown, key)
		}
	}
	slices.Sort(unknown) // same-line keys report in a stable order
	for _, key := range unknown {
		t.p.errorf(t.field(key), "unknown key%s", unknownHint(key, t.known))
	}
}

func (t *tomlTable) wrongType(key, want string) {
	v := t.m[key]
	switch v := v.(type) {
	case string:
		t.p.errorf(t.field(key), "must be %s (got string %q)", want, v)
	case map[string]any, []map[string]any, []any:
		t.p.errorf(t.field(key), "must be %s (got %s)", want, tomlTypeName(v))
	default:
		t.p.errorf(t.field(key), "must be %s (got %s %v)", want, tomlTypeName(v), v)
	}
}

// string returns the string at key; set is false when the key is absent
// or not a string (which is reported).
func (t *tomlTable) string(key string) (s string, set bool) {
	v, present := t.m[key]
	if !present {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(key, "a string")
	}
	return s, ok
}

// int returns the integer at key, 0 when absent. ok is false when the
// value is wrong (which is reported).
func (t *tomlTable) int(key string, lo, hi int64) (n int64, ok bool) {
	v, present := t.m[key]
	if !present {
		return 0, true
	}
	n, ok = v.(int64)
	if !ok {
		t.wrongType(key, "an integer")
		return 0, false
	}
	if n < lo || n > hi {
		t.p.errorf(t.field(key), "must be between %d and %d (got %d)", lo, hi, n)
		return 0, false
	}
	return n, true
}

// uint32 is int for values that fit a uint32.
func (t *tomlTable) uint32(key string, hi int64) (uint32, bool) {
	n, ok := t.int(key, 0, hi)
	return uint32(n), ok
}

// bool returns the boolean at key, false when absent or wrong.
func (t *tomlTable) bool(key string) bool {
	v, present := t.m[key]
	if !present {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		t.wrongType(key, "true or false")
	}
	return b
}

// strings returns the array of strings at key.
func (t *tomlTable) strings(key string) (out []string, set bool) {
	v, present := t.m[key]
	if !present {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		t.wrongType(key, "an array of strings")
		return nil, false
	}
	out = make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			t.p.errorf(fmt.Sprintf("%s[%d]", t.field(key), i), "must be a string (got %s)", tomlTypeName(e))
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// table returns the sub-table at key.
func (t *tomlTable) table(key string) (map[string]any, bool) {
	v, present := t.m[key]
	if !present {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.wrongType(key, "a table")
	}
	return m, ok
}

// tables returns the array of tables at key ([[key]] blocks or an inline
// array of inline tables).
func (t *tomlTable) tables(key string) []map[string]any {
	v, present := t.m[key]
	if !present {
		return nil
	}
	switch v := v.(type) {
	case []map[string]any:
		return v
	case []any:
		out := make([]map[string]any, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				t.p.errorf(fmt.Sprintf("%s[%d]", t.field(key), i), "must be a table (got %s)", tomlTypeName(e))
				return nil
			}
			out = append(out, m)
		}
		return out
	}
	t.wrongType(key, "an array of tables ([["+t.field(key)+"]])")
	return nil
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	case []any:
		return "array"
	}
	return "datetime"
}

// tomlKeyRenames are keepalived.conf names a keepalived user may type, and
// what ulvs.toml calls them.
var tomlKeyRenames = map[string]string{
	"lb_algo":                 "scheduler",
	"lvs_sched":               "scheduler",
	"lb_kind":                 "forward",
	"lvs_method":              "forward",
	"persistence_granularity": "persistence_netmask",
	"uthreshold":              "upper_threshold",
	"lthreshold":              "lower_threshold",
	"interface":               "interfaces",
}

// tomlHealthKeys are keepalived's health-check keys; ulvs has no health
// checks yet.
var tomlHealthKeys = []string{
	"delay_loop", "tcp_check", "http_get", "ssl_get", "misc_check",
	"smtp_check", "dns_check", "udp_check", "ping_check", "bfd_check",
	"connect_timeout", "connect_port", "retry", "nb_get_retry",
	"delay_before_retry", "sorry_server", "inhibit_on_failure",
	"quorum", "hysteresis", "alpha", "omega",
}

// unknownHint suggests what an unknown key may have meant.
func unknownHint(key string, known []string) string {
	lower := strings.ToLower(key)
	if to, ok := tomlKeyRenames[lower]; ok && slices.Contains(known, to) {
		return fmt.Sprintf(" (ulvs calls keepalived's %s %q)", key, to)
	}
	if slices.Contains(tomlHealthKeys, lower) {
		return " (health checks are not supported yet)"
	}
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(lower, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// tomlKey writes one key part the way TOML would: bare when it can be,
// quoted otherwise.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyByte(k[i]) {
			return strconv.Quote(k)
		}
	}
	return k
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// lineOf returns the line of field, or of its nearest enclosing key or
// table that has one, or 0.
func lineOf(lines map[string]int, field string) int {
	for field != "" {
		if l, ok := lines[field]; ok {
			return l
		}
		cut := strings.LastIndexAny(field, ".[")
		if cut < 0 {
			break
		}
		field = field[:cut]
	}
	return 0
}

// indexKeys maps every key path of a TOML document to the line that
// defines it, numbering arrays of tables the way the decoder does:
// "virtual_server[1].real_server[0].weight" is the weight of the first
// [[virtual_server.real_server]] under the second [[virtual_server]].
// Elements of inline arrays get indices too. Intermediate tables implied
// by a dotted key or header map to the line that first implied them.
//
// BurntSushi/toml records key positions but does not export them (and
// keeps one per key name, not per array element), so this is a small
// scanner of its own. It runs on text the decoder accepted; on anything
// else it still ends, with partial results.
func indexKeys(data []byte) map[string]int {
	s := &keyScanner{data: data, lines: make(map[string]int), arrays: make(map[string]int)}
	for i, c := range data {
		if c == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	s.document()
	return s.lines
}

type keyScanner struct {
	data     []byte
	i        int
	newlines []int          // offsets of '\n'
	lines    map[string]int // path -> line
	arrays   map[string]int // array-of-tables path -> elements so far
}

// lineAt returns the 1-based line of offset off.
func (s *keyScanner) lineAt(off int) int {
	return sort.SearchInts(s.newlines, off) + 1
}

func (s *keyScanner) record(path string, off int) {
	if _, ok := s.lines[path]; !ok {
		s.lines[path] = s.lineAt(off)
	}
}

func (s *keyScanner) peek(ahead int) byte {
	if s.i+ahead < len(s.data) {
		return s.data[s.i+ahead]
	}
	return 0
}

func (s *keyScanner) eof() bool { return s.i >= len(s.data) }

// skipSpace skips blanks within a line.
func (s *keyScanner) skipSpace() {
	for !s.eof() && (s.data[s.i] == ' ' || s.data[s.i] == '\t') {
		s.i++
	}
}

// skipBlank skips blanks, line ends and comments.
func (s *keyScanner) skipBlank() {
	for !s.eof() {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '#':
			for !s.eof() && s.data[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

func (s *keyScanner) document() {
	table := ""
	for {
		s.skipBlank()
		if s.eof() {
			return
		}
		start := s.i
		if s.data[s.i] == '[' {
			array := s.peek(1) == '['
			s.i++
			if array {
				s.i++
			}
			table = s.header(s.key(), array, start)
			s.skipSpace()
			for !s.eof() && s.data[s.i] == ']' {
				s.i++
			}
		} else {
			s.keyValue(table, start)
		}
		if s.i == start {
			s.i++ // not TOML; make progress anyway
		}
	}
}

// header resolves a [table] or [[array]] header to its indexed path.
func (s *keyScanner) header(parts []string, array bool, off int) string {
	path := ""
	for i, part := range parts {
		if path != "" {
			path += "."
		}
		path += tomlKey(part)
		if array && i == len(parts)-1 {
			n := s.arrays[path]
			s.arrays[path] = n + 1
			path = fmt.Sprintf("%s[%d]", path, n)
		} else if n, ok := s.arrays[path]; ok {
			path = fmt.Sprintf("%s[%d]", path, n-1) // the last element so far
		}
		s.record(path, off)
	}
	return path
}

// keyValue scans "key = value" within table.
func (s *keyScanner) keyValue(table string, start int) {
	parts := s.key()
	if len(parts) == 0 {
		return
	}
	s.skipSpace()
	if s.peek(0) != '=' {
		return
	}
	s.i++
	s.skipSpace()
	path := table
	for _, part := range parts {
		if path != "" {
			path += "."
		}
		path += tomlKey(part)
		s.record(path, start)
	}
	s.value(path)
}

// key scans a dotted key and returns its parts, unquoted.
func (s *keyScanner) key() []string {
	var parts []string
	for {
		s.skipSpace()
		part, ok := s.simpleKey()
		if !ok {
			return parts
		}
		parts = append(parts, part)
		s.skipSpace()
		if s.peek(0) != '.' {
			return parts
		}
		s.i++
	}
}

func (s *keyScanner) simpleKey() (string, bool) {
	switch c := s.peek(0); {
	case c == '"':
		start := s.i
		s.str()
		raw := string(s.data[start:s.i])
		if k, err := strconv.Unquote(raw); err == nil {
			return k, true
		}
		return strings.Trim(raw, `"`), true
	case c == '\'':
		start := s.i
		s.str()
		return strings.Trim(string(s.data[start:s.i]), "'"), true
	case isBareKeyByte(c):
		start := s.i
		for !s.eof() && isBareKeyByte(s.data[s.i]) {
			s.i++
		}
		return string(s.data[start:s.i]), true
	}
	return "", false
}

// str skips a basic, literal or multi-line string starting at s.i.
func (s *keyScanner) str() {
	q := s.data[s.i]
	if s.peek(1) == q && s.peek(2) == q { // multi-line
		s.i += 3
		for !s.eof() {
			c := s.data[s.i]
			if c == '\\' && q == '"' {
				s.i += 2
				continue
			}
			if c == q && s.peek(1) == q && s.peek(2) == q {
				s.i += 3
				for extra := 0; extra < 2 && s.peek(0) == q; extra++ {
					s.i++ // up to two quotes may end the content
				}
				return
			}
			s.i++
		}
		return
	}
	s.i++
	for !s.eof() {
		c := s.data[s.i]
		switch {
		case c == '\\' && q == '"':
			s.i += 2
			continue
		case c == q:
			s.i++
			return
		case c == '\n':
			return
		}
		s.i++
	}
}

// value skips one value, recording the keys of inline tables and the
// elements of arrays under path.
func (s *keyScanner) value(path string) {
	switch c := s.peek(0); c {
	case '"', '\'':
		s.str()
	case '[':
		s.i++
		for n := 0; ; {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.data[s.i] {
			case ']':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			start := s.i
			elem := fmt.Sprintf("%s[%d]", path, n)
			s.record(elem, start)
			s.value(elem)
			n++
			if s.i == start {
				s.i++
			}
		}
	case '{':
		s.i++
		for {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.data[s.i] {
			case '}':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			start := s.i
			s.keyValue(path, start)
			if s.i == start {
				s.i++
			}
		}
	default:
		start := s.i
		s.scalar()
		// A local date followed by a space and a time is one value.
		if s.i-start == 10 && s.data[start+4] == '-' && s.peek(0) == ' ' && s.peek(1) >= '0' && s.peek(1) <= '9' {
			s.i++
			s.scalar()
		}
	}
}

// scalar skips a number, boolean or date-time.
func (s *keyScanner) scalar() {
	for !s.eof() {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n', ',', ']', '}', '#':
			return
		}
		s.i++
	}
}
