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

	// fileMaxExpiration bounds lblc_expiration and lblcr_expiration: the
	// kernel keeps them as jiffies in an int (proc_dointvec_jiffies), so
	// with HZ=1000 it refuses more than INT_MAX/1000 seconds (24.8 days).
	fileMaxExpiration = math.MaxInt32 / 1000
)

// tomlMHTableSizes are the mh lookup table sizes the kernel can be built
// with: ip_vs_mh.c's primes[], of which CONFIG_IP_VS_MH_TAB_INDEX 8..17
// picks one (default 12: 4093).
var tomlMHTableSizes = []int{251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071}

// tomlOverheads are the accepted [sysctl] overhead names.
var tomlOverheads = []string{"classic", "total"}

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
	// ExitOnInterfaceLoss makes ulvsd exit (non-zero) when one of its
	// interfaces is deleted, renamed away or set down, for supervisors
	// that prefer a restart; by default it waits for the interface to
	// come back and forwards on it again.
	ExitOnInterfaceLoss bool
	// Timeouts are the TCP, TCP FIN and UDP connection timeouts to set,
	// like ipvsadm --set; 0 leaves one unchanged.
	Timeouts Timeouts
	// Marks are the [[fwmark]] packet classifiers in file order; nil when
	// there are none. Mark numbers are unique, every mark has at least one
	// match, and the ports of each match are sorted with overlapping and
	// adjacent ranges merged. A packet that several marks select gets the
	// first one's mark.
	Marks []Mark
	// Knobs are the [sysctl] settings. Absent keys keep their zero value,
	// which Knobs documents as the kernel's default (ConnReuseSet is false
	// unless conn_reuse_mode is given).
	Knobs Knobs
	// Metrics is the [metrics] table (file_metrics.go); zero when absent.
	Metrics Metrics
	// Rules are the virtual services in file order, each with its real
	// servers in file order. A mark service (fwmark = N) has FwMark N,
	// Proto TCP and no address or port, as ipvsadm -A -f N makes it, and
	// N is one of Marks.
	Rules Rules
	// Health are the health checks of the services (health.go), in the
	// order of Rules; a service without checks has no entry.
	Health []VirtualHealth
	// Global is keepalived's global_defs (keepalived.conf only).
	Global Global
	// Format names the file's format when a loader that detects formats
	// read it: "toml", "keepalived", ...; "" from the TOML parser itself.
	Format string
	// Warnings are problems that do not stop the file from running
	// (unknown keywords, blocks this ulvs does not run), in file order;
	// the daemon logs each.
	Warnings []Warning
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
	top := p.table("", doc, "director", "timeouts", "sysctl", "fwmark", "metrics", "virtual_server")

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
	if m, ok := top.table("sysctl"); ok {
		p.sysctl(&f.Knobs, m)
	}
	if m, ok := top.table("metrics"); ok {
		p.metrics(&f.Metrics, m)
	}
	marks := p.marks(f, top.tables("fwmark"))
	var index []int // file index of each service in f.Rules.Services
	for i, m := range top.tables("virtual_server") {
		if svc, ok := p.service(fmt.Sprintf("virtual_server[%d]", i), m, marks); ok {
			f.Rules.Services = append(f.Rules.Services, svc)
			index = append(index, i)
		}
	}
	top.done()
	p.duplicateServices(f.Rules.Services, index)
	return f
}

func (p *fileParser) director(f *File, m map[string]any) {
	t := p.table("director", m, "interfaces", "socket", "workers", "conn_table_size", "exit_on_interface_loss")
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
	f.ExitOnInterfaceLoss = t.bool("exit_on_interface_loss")
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

// service parses one [[virtual_server]] at path. marks are the file's
// [[fwmark]] tables by number. ok is false when it has a problem (already
// recorded).
func (p *fileParser) service(path string, m map[string]any, marks map[uint32]*Mark) (svc Service, ok bool) {
	t := p.table(path, m, "protocol", "address", "fwmark", "scheduler", "forward",
		"persistence_timeout", "persistence_netmask", "one_packet", "sched_flags", "real_server",
		"local_addresses")
	defer t.done()
	ok = true
	svc = Service{Proto: vs.TCP, Scheduler: fileDefaultScheduler}
	_, hasAddr := m["address"]
	_, hasMark := m["fwmark"]

	if s, set := t.string("protocol"); set {
		proto, valid := parseProto(s)
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
		if marks[svc.FwMark] == nil {
			p.errorf(path+".fwmark", "no [[fwmark]] table in this file defines mark %d%s", n, definedMarks(marks))
			ok = false
		}
	case hasAddr:
		s, set := t.string("address")
		if !set {
			ok = false // not a string: reported
			break
		}
		addr, port, withPort, msg := parseIPv4Port(s)
		switch {
		case msg != "":
			p.errorf(path+".address", "%s", msg)
			ok = false
		case !withPort:
			p.errorf(path+".address", "must be IPv4-address:port (got %q)", s)
			ok = false
		default:
			svc.Addr, svc.Port, hasPort, known = addr, port, true, true
		}
	default:
		p.errorf(path+".address", "required: the virtual IPv4-address:port (or fwmark = N for a [[fwmark]] port group)")
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

	for i, dm := range t.tables("real_server") {
		field := fmt.Sprintf("%s.real_server[%d]", path, i)
		d, dok := p.dest(field, dm, &svc, method, known)
		if dok {
			svc.Dests = append(svc.Dests, d)
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
			case !ip.Is4():
				p.errorf(field, "IPv6 is not supported yet (got %s)", a)
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
	fullnat := slices.ContainsFunc(svc.Dests, func(d Dest) bool { return d.Method == vs.FullNAT })
	switch {
	case ok && fullnat && len(svc.LocalAddrs) == 0:
		p.errorf(path+".local_addresses", "fullnat real servers need local_addresses: the director's addresses on their network that clients are SNATed to")
		ok = false
	case ok && !fullnat && len(svc.LocalAddrs) > 0:
		p.errorf(path+".local_addresses", "only used with fullnat real servers")
		ok = false
	}
	return svc, ok
}

// dest parses one real server of svc. method is the service's forward;
// known says whether svc's address:port or mark is known, so ports can be
// checked.
func (p *fileParser) dest(path string, m map[string]any, svc *Service, method vs.Method, known bool) (Dest, bool) {
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

// marks parses the [[fwmark]] tables into f.Marks and returns them by
// number. A mark whose number is valid is in the map even when one of its
// matches has a problem, so that the services naming it are not also
// reported.
func (p *fileParser) marks(f *File, tables []map[string]any) map[uint32]*Mark {
	byNum := make(map[uint32]*Mark, len(tables))
	first := make(map[uint32]int, len(tables)) // mark -> index of its table
	for i, m := range tables {
		path := fmt.Sprintf("fwmark[%d]", i)
		mk, numOK, ok := p.mark(path, m)
		if !numOK {
			continue
		}
		if j, dup := first[mk.Mark]; dup {
			p.errorf(path+".mark", "duplicate of fwmark[%d] (mark %d)", j, mk.Mark)
			continue
		}
		first[mk.Mark] = i
		if ok {
			f.Marks = append(f.Marks, mk)
		}
		byNum[mk.Mark] = &mk
	}
	return byNum
}

// mark parses one [[fwmark]] table. numOK says whether its mark number is
// valid, ok whether all of it is.
func (p *fileParser) mark(path string, m map[string]any) (mk Mark, numOK, ok bool) {
	t := p.table(path, m, "mark", "match")
	defer t.done()
	if _, set := m["mark"]; set {
		n, nok := t.int("mark", 1, math.MaxUint32)
		mk.Mark, numOK = uint32(n), nok
	} else {
		p.errorf(path+".mark", "required: the mark number, 1 to %d", uint32(math.MaxUint32))
	}
	ok = numOK

	v, present := m["match"]
	matches := t.tables("match")
	switch {
	case !present:
		p.errorf(path+".match", "required: at least one [[fwmark.match]] choosing the packets that get the mark")
		ok = false
	case len(matches) == 0:
		if arr, isArr := v.([]any); isArr && len(arr) == 0 {
			p.errorf(path+".match", "must hold at least one match")
		}
		ok = false // otherwise reported by tables
	}
	for i, mm := range matches {
		match, mok := p.markMatch(fmt.Sprintf("%s.match[%d]", path, i), mm)
		if mok {
			mk.Matches = append(mk.Matches, match)
		}
		ok = ok && mok
	}
	return mk, numOK, ok
}

// markMatch parses one [[fwmark.match]] table.
func (p *fileParser) markMatch(path string, m map[string]any) (MarkMatch, bool) {
	t := p.table(path, m, "protocol", "address", "ports")
	defer t.done()
	ok := true
	match := MarkMatch{Proto: vs.TCP}

	if s, set := t.string("protocol"); set {
		if proto, valid := parseProto(s); valid {
			match.Proto = proto
		} else {
			p.errorf(path+".protocol", "must be \"tcp\" or \"udp\" (got %q)", s)
			ok = false
		}
	}

	if s, set := t.string("address"); set {
		prefix, msg := parseIPv4Prefix(s)
		if msg != "" {
			p.errorf(path+".address", "%s", msg)
			ok = false
		}
		match.Addr = prefix
	} else if _, present := m["address"]; !present {
		p.errorf(path+".address", "required: the destination IPv4 address (the VIP) or prefix")
		ok = false
	} else {
		ok = false
	}

	if v, present := m["ports"]; present {
		ports, pok := p.ports(t.field("ports"), v)
		match.Ports, ok = ports, ok && pok
	}
	return match, ok
}

// ports parses the ports array of a match at field: integers and
// "first-last" (or iptables' "first:last") strings. The result is sorted,
// with overlapping and adjacent ranges merged; nil for an empty array,
// which matches every port.
func (p *fileParser) ports(field string, v any) ([]PortRange, bool) {
	arr, isArr := v.([]any)
	if !isArr {
		p.wrongType(field, v, `an array of ports and "first-last" ranges`)
		return nil, false
	}
	ok := true
	var out []PortRange
	for i, e := range arr {
		elem := fmt.Sprintf("%s[%d]", field, i)
		switch e := e.(type) {
		case int64:
			if e < 1 || e > math.MaxUint16 {
				p.errorf(elem, "port must be between 1 and 65535 (got %d); leave ports out to match every port", e)
				ok = false
				continue
			}
			out = append(out, PortRange{First: uint16(e), Last: uint16(e)})
		case string:
			r, msg := parsePortRange(e)
			if msg != "" {
				p.errorf(elem, "%s", msg)
				ok = false
				continue
			}
			out = append(out, r)
		default:
			p.errorf(elem, "must be a port number or a \"first-last\" range string (got %s)", tomlValueText(e))
			ok = false
		}
	}
	if !ok {
		return nil, false
	}
	return mergePorts(out), true
}

// parsePortRange parses "21", "10000-20000" or "10000:20000". msg says
// what is wrong when s is not that.
func parsePortRange(s string) (r PortRange, msg string) {
	bad := fmt.Sprintf("must be a port or a range like \"10000-20000\" (got %q)", s)
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		a, b, isRange = strings.Cut(s, ":")
	}
	first, ok := parsePort(a)
	if !ok {
		return r, bad
	}
	last := first
	if isRange {
		if last, ok = parsePort(b); !ok {
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

// parsePort parses a decimal port number, digits only.
func parsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// mergePorts sorts ranges and merges those that overlap or touch, in place.
// nil for none.
func mergePorts(ranges []PortRange) []PortRange {
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

// parseIPv4Prefix parses a destination of a mark match: "a.b.c.d" (a /32)
// or "a.b.c.d/n". msg says what is wrong when the text is not that.
func parseIPv4Prefix(s string) (netip.Prefix, string) {
	if !strings.Contains(s, "/") {
		if strings.Contains(s, ":") && strings.Count(s, ":") == 1 {
			if _, _, withPort, msg := parseIPv4Port(s); msg == "" && withPort {
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

// parseProto maps "tcp" or "udp", in any case, to the protocol.
func parseProto(s string) (vs.Protocol, bool) {
	switch strings.ToLower(s) {
	case "tcp":
		return vs.TCP, true
	case "udp":
		return vs.UDP, true
	}
	return 0, false
}

// markHasProto reports whether a match of mk selects protocol proto.
func markHasProto(mk *Mark, proto vs.Protocol) bool {
	return slices.ContainsFunc(mk.Matches, func(m MarkMatch) bool { return m.Proto == proto })
}

// definedMarks lists the mark numbers of marks for an error message.
func definedMarks(marks map[uint32]*Mark) string {
	if len(marks) == 0 {
		return ""
	}
	nums := make([]uint32, 0, len(marks))
	for n := range marks {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	var b strings.Builder
	b.WriteString(" (defined: ")
	for i, n := range nums {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(uint64(n), 10))
	}
	b.WriteByte(')')
	return b.String()
}

// sysctl parses the [sysctl] table into k.
func (p *fileParser) sysctl(k *Knobs, m map[string]any) {
	t := p.table("sysctl", m, "conn_reuse_mode", "expire_nodest_conn", "expire_quiescent_template",
		"sloppy_tcp", "lblc_expiration", "lblcr_expiration", "mh_table_size", "overhead")
	defer t.done()
	if _, set := m["conn_reuse_mode"]; set {
		// The kernel takes any integer (proc_dointvec) but only looks at
		// "not 0" and bit 1 (value 2: also reschedule over FIN_WAIT
		// connections of DR/TUN, ip_vs_core.c is_new_conn_expected).
		if n, ok := t.int("conn_reuse_mode", 0, 3); ok {
			k.ConnReuseMode, k.ConnReuseSet = int(n), true
		}
	}
	k.ExpireNodestConn = t.flag("expire_nodest_conn")
	k.ExpireQuiescentTemplate = t.flag("expire_quiescent_template")
	k.SloppyTCP = t.flag("sloppy_tcp")
	for _, key := range []string{"lblc_expiration", "lblcr_expiration"} {
		if _, set := m[key]; !set {
			continue
		}
		n, _ := t.int(key, 1, fileMaxExpiration)
		if key == "lblc_expiration" {
			k.LBLCExpiration = uint32(n)
		} else {
			k.LBLCRExpiration = uint32(n)
		}
	}
	if _, set := m["mh_table_size"]; set {
		if n, ok := t.int("mh_table_size", math.MinInt64, math.MaxInt64); ok {
			if slices.Contains(tomlMHTableSizes, int(n)) {
				k.MHTableSize = int(n)
			} else {
				sizes := make([]string, len(tomlMHTableSizes))
				for i, size := range tomlMHTableSizes {
					sizes[i] = strconv.Itoa(size)
				}
				p.errorf("sysctl.mh_table_size", "must be one of the kernel's mh table sizes %s (got %d)", strings.Join(sizes, " "), n)
			}
		}
	}
	if s, set := t.string("overhead"); set {
		if name := strings.ToLower(s); slices.Contains(tomlOverheads, name) {
			k.Overhead = name
		} else {
			p.errorf("sysctl.overhead", "must be \"classic\" or \"total\" (got %q)", s)
		}
	}
}

// duplicateServices reports services with the same protocol, address and
// port, or the same mark. index[i] is the position in the file of svcs[i].
func (p *fileParser) duplicateServices(svcs []Service, index []int) {
	seen := make(map[ServiceKey]int, len(svcs))
	for i := range svcs {
		k := svcs[i].Key()
		if j, dup := seen[k]; dup {
			key := "address"
			if k.FwMark != 0 {
				key = "fwmark"
			}
			p.errorf(fmt.Sprintf("virtual_server[%d].%s", index[i], key), "duplicate of virtual_server[%d] (%s)", j, serviceName(k))
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
		t.p.errorf(t.field(key), "unknown key%s", unknownHint(t.path, key, t.known))
	}
}

func (t *tomlTable) wrongType(key, want string) {
	t.p.wrongType(t.field(key), t.m[key], want)
}

// wrongType reports that the value v at field is not want.
func (p *fileParser) wrongType(field string, v any, want string) {
	p.errorf(field, "must be %s (got %s)", want, tomlValueText(v))
}

// tomlValueText describes a decoded value for an error: its type, and the
// value itself when it is short.
func tomlValueText(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case map[string]any, []map[string]any, []any:
		return tomlTypeName(v)
	}
	return fmt.Sprintf("%s %v", tomlTypeName(v), v)
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

// flag returns the sysctl-style switch at key: 0 or 1, or true or false
// (false when absent or wrong, which is reported).
func (t *tomlTable) flag(key string) bool {
	v, present := t.m[key]
	if !present {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		if v == 0 || v == 1 {
			return v == 1
		}
	}
	t.wrongType(key, "0, 1, true or false")
	return false
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

// tomlIptablesRenames are iptables words a user translating MARK rules
// may type in a [[fwmark]] table, and what ulvs.toml calls them.
var tomlIptablesRenames = map[string]string{
	"set_mark": "mark", "set-mark": "mark", "set_xmark": "mark",
	"destination": "address", "dst": "address", "d": "address",
	"dport": "ports", "dports": "ports", "destination_ports": "ports", "destination-ports": "ports",
	"proto": "protocol", "p": "protocol",
}

// tomlKernelSysctls are the kernel's IPVS sysctls (/proc/sys/net/ipv4/vs/)
// that ulvs does not implement: named in [sysctl], they get that said.
var tomlKernelSysctls = []string{
	"am_droprate", "amemthresh", "backup_only", "cache_bypass", "conntrack",
	"debug_level", "drop_entry", "drop_packet", "est_cpulist", "est_nice",
	"ignore_tunneled", "nat_icmp_send", "pmtu_disc", "run_estimation",
	"schedule_icmp", "secure_tcp", "sloppy_sctp", "snat_reroute",
	"sync_persist_mode", "sync_ports", "sync_qlen_max", "sync_refresh_period",
	"sync_retries", "sync_sock_size", "sync_threshold", "sync_version",
}

// unknownHint suggests what an unknown key of the table at path may have
// meant.
func unknownHint(path, key string, known []string) string {
	lower := strings.ToLower(key)
	if to, ok := tomlKeyRenames[lower]; ok && slices.Contains(known, to) {
		return fmt.Sprintf(" (ulvs calls keepalived's %s %q)", key, to)
	}
	if to, ok := tomlIptablesRenames[lower]; ok && slices.Contains(known, to) && strings.HasPrefix(path, "fwmark[") {
		return fmt.Sprintf(" (ulvs calls iptables' %s %q)", key, to)
	}
	if slices.Contains(tomlHealthKeys, lower) {
		return " (health checks are not supported yet)"
	}
	if strings.HasPrefix(path, "fwmark[") && !strings.Contains(path, ".") &&
		(lower == "protocol" || lower == "address" || lower == "ports") {
		return " (it belongs in a [[fwmark.match]] table)"
	}
	if path == "sysctl" {
		switch {
		case slices.Contains(tomlKernelSysctls, lower):
			return " (a kernel IPVS sysctl that ulvs does not implement)"
		case lower == "net":
			return " (name the sysctl without its net.ipv4.vs. prefix)"
		}
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
