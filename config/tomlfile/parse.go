// Package tomlfile reads and writes ulvs.toml, the director's own
// configuration file: Load and Parse turn its text into a *config.File with
// every default resolved and every problem reported as a *config.Error with
// file, line and key path; MarshalTOML, MarshalServices and ReplaceServices
// write a model back (ulvsadm --save-config, ulvs convert).
//
// Nothing here touches the network or the engine. The functions are safe
// for concurrent use; the values they return belong to the caller.
package tomlfile

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/ulvs/ulvs/config"
)

// Limits of the file format. The timeout and threshold bounds are
// ipvsadm's (MAX_TIMEOUT, and INT_MAX for -x/-y); the weight bound is the
// kernel's and ulvsadm -w's (INT_MAX; ipvsadm 1.31 stopped at 65535).
const (
	fileMaxTimeout       = 86400 * 31 // ipvsadm MAX_TIMEOUT: 31 days
	fileMaxWeight        = math.MaxInt32
	fileMaxThreshold     = math.MaxInt32
	fileMaxWorkers       = 4096
	fileMaxConnTableSize = 1 << 26
	fileMaxSocketPath    = 107 // sizeof(sun_path) - 1 for the NUL
	fileDefaultScheduler = "wlc"

	// fileMaxExpiration bounds lblc_expiration and lblcr_expiration: the
	// kernel keeps them as jiffies in an int (proc_dointvec_jiffies), so
	// with HZ=1000 it refuses more than INT_MAX/1000 seconds (24.8 days).
	fileMaxExpiration = math.MaxInt32 / 1000
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

// Load reads and parses the configuration file at path.
func Load(path string) (*config.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses and validates the TOML text data of the file named path.
// path is only used in errors and File.Path. A returned error is an
// *Error: the first problem in file order. data is not retained.
func Parse(path string, data []byte) (*config.File, error) {
	var doc map[string]any
	if err := tomlDecode(data, &doc); err != nil {
		e := &config.Error{File: path, Msg: oneLine(err.Error())}
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
	errs  []*config.Error
}

// errorf records a problem with field.
func (p *fileParser) errorf(field, format string, args ...any) {
	p.errs = append(p.errs, &config.Error{
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

func (p *fileParser) file(doc map[string]any) *config.File {
	f := &config.File{Path: p.path, Socket: config.DefaultSocket}
	top := p.table("", doc, "director", "timeouts", "sysctl", "fwmark", "metrics", "web", "virtual_server",
		"vrrp_script", "vrrp_instance", "vrrp_sync_group", "sync_daemon", "bgp")

	if m, ok := top.table("director"); ok {
		p.director(f, m)
	} else if _, set := doc["director"]; !set {
		// Nothing in the file to point at: line 1, the top of the file,
		// where the table belongs.
		p.errs = append(p.errs, &config.Error{File: p.path, Line: 1, Field: "director.interfaces",
			Msg: `required: the interfaces the director listens on; the file has no [director] table (add one: [director] and interfaces = ["eth0"])`})
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
	if m, ok := top.table("web"); ok {
		p.web(&f.Web, m)
	}
	marks := p.marks(f, top.tables("fwmark"))
	var index []int // file index of each service in f.Rules.Services
	for i, m := range top.tables("virtual_server") {
		if svc, vh, ok := p.service(fmt.Sprintf("virtual_server[%d]", i), m, marks); ok {
			f.Rules.Services = append(f.Rules.Services, svc)
			index = append(index, i)
			if vh != nil {
				f.Health = append(f.Health, *vh)
			}
		}
	}
	p.vrrp(f, top)
	if m, ok := top.table("bgp"); ok {
		f.BGP = p.bgp(m)
	}
	top.done()
	p.duplicateServices(f.Rules.Services, index)
	return f
}

func (p *fileParser) director(f *config.File, m map[string]any) {
	t := p.table("director", m, "interfaces", "socket", "workers", "conn_table_size", "exit_on_interface_loss", "iptables_marks", "state_file")
	if names, ok := t.strings("interfaces"); !ok {
		if _, set := m["interfaces"]; !set {
			p.errorf("director.interfaces", "required: the interfaces the director listens on")
		}
	} else if len(names) == 0 {
		p.errorf("director.interfaces", "must name at least one interface")
	} else {
		for i, name := range names {
			field := fmt.Sprintf("director.interfaces[%d]", i)
			if msg := config.CheckIfName(name); msg != "" {
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
	if s, ok := t.string("state_file"); ok {
		if s == "" || s[0] != '/' {
			p.errorf("director.state_file", "must be an absolute path (got %q)", s)
		} else {
			f.StateFile = s
		}
	}
	workers, _ := t.int("workers", 0, fileMaxWorkers)
	size, _ := t.int("conn_table_size", 0, fileMaxConnTableSize)
	f.Workers, f.ConnTableSize = int(workers), int(size)
	f.ExitOnInterfaceLoss = t.bool("exit_on_interface_loss")
	if _, present := m["iptables_marks"]; present {
		f.NoIptablesMarks = !t.bool("iptables_marks")
	}
	t.done()
}
