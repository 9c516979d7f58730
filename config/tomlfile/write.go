package tomlfile

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// ErrNotExpressible reports rules the TOML file cannot hold (SCTP,
// the Local forwarding method, a persistent service without a timeout).
var ErrNotExpressible = errors.New("cannot be written to a ulvs TOML file")

// tomlForward is the forward name the writer uses for each method.
var tomlForward = map[vs.Method]string{
	vs.Route: "dr", vs.Tunnel: "tun", vs.Masq: "nat", vs.FullNAT: "fullnat",
}

// MarshalTOML writes f as a configuration file that Parse reads back to
// the same File (except Path): [director], [timeouts] when set, [sysctl]
// when any knob differs from the default, [metrics] when on, every
// [[fwmark]], the failover tables ([[vrrp_script]] for each tracked
// script, [[vrrp_instance]], [sync_daemon]) and every [[virtual_server]]
// with its real servers. Defaults
// Parse fills in are written out explicitly where that keeps the file
// clear (scheduler, forward, weight); comments are not kept. It fails
// with ErrNotExpressible for rules the format cannot hold.
//
// A File Parse could not have made is refused with ErrNotExpressible
// rather than written as a file that Parse refuses or reads differently:
// no interfaces (a keepalived.conf without vrrp_instance names none), a
// fwmark service whose mark no [[fwmark]] classifier defines (a
// keepalived.conf's marks come from iptables).
func MarshalTOML(f *config.File) ([]byte, error) {
	if err := checkExpressible(f); err != nil {
		return nil, err
	}
	written := []any{f.Interfaces, f.Socket, f.Rules, f.Health, f.VRRP, f.VRRPSyncGroups, f.Sync, f.Marks, f.Metrics, f.Web}
	if s, bad := notUTF8(reflect.ValueOf(written)); bad {
		return nil, fmt.Errorf("value %q is not valid UTF-8, which TOML cannot hold: %w", s, ErrNotExpressible)
	}
	var b strings.Builder
	b.WriteString("# ulvs director configuration (ulvsd -c), written by ulvs.\n\n")
	b.WriteString("[director]\n")
	b.WriteString("interfaces = [")
	for i, name := range f.Interfaces {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tomlString(name))
	}
	b.WriteString("]\n")
	if f.Socket != "" && f.Socket != config.DefaultSocket {
		fmt.Fprintf(&b, "socket = %s\n", tomlString(f.Socket))
	}
	if f.Workers != 0 {
		fmt.Fprintf(&b, "workers = %d\n", f.Workers)
	}
	if f.ConnTableSize != 0 {
		fmt.Fprintf(&b, "conn_table_size = %d\n", f.ConnTableSize)
	}
	if f.StateFile != "" {
		fmt.Fprintf(&b, "state_file = %s\n", tomlString(f.StateFile))
	}
	if f.ExitOnInterfaceLoss {
		b.WriteString("exit_on_interface_loss = true\n")
	}
	if f.NoIptablesMarks {
		b.WriteString("iptables_marks = false\n")
	}
	if t := f.Timeouts; t != (config.Timeouts{}) {
		b.WriteString("\n[timeouts]\n")
		for _, kv := range []struct {
			k string
			v uint32
		}{{"tcp", t.TCP}, {"tcpfin", t.TCPFin}, {"udp", t.UDP}} {
			if kv.v != 0 {
				fmt.Fprintf(&b, "%s = %d\n", kv.k, kv.v)
			}
		}
	}
	writeKnobs(&b, &f.Knobs)
	if f.Metrics.Listen != "" {
		fmt.Fprintf(&b, "\n[metrics]\nlisten = %s\n", tomlString(f.Metrics.Listen))
	}
	if w := f.Web; w.Listen != "" {
		fmt.Fprintf(&b, "\n[web]\nlisten = %s\n", tomlString(w.Listen))
		for _, kv := range [][2]string{{"cert", w.Cert}, {"key", w.Key}, {"users", w.Users}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "%s = %s\n", kv[0], tomlString(kv[1]))
			}
		}
	}
	for _, m := range f.Marks {
		if err := writeMark(&b, &m); err != nil {
			return nil, err
		}
	}
	if err := writeVRRP(&b, f); err != nil {
		return nil, err
	}
	writeBGP(&b, f.BGP)
	svcs, err := marshalServices(f.Rules, f.Health)
	if err != nil {
		return nil, err
	}
	b.Write(svcs)
	return []byte(b.String()), nil
}

// notUTF8 returns the first string in v (walked through structs, slices,
// arrays and pointers) that is not valid UTF-8. TOML text is UTF-8 and
// has no escape for a lone byte, so such a value (a keepalived.conf may
// hold any bytes) cannot be written without changing it.
func notUTF8(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) {
			return s, true
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return notUTF8(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				if s, bad := notUTF8(v.Field(i)); bad {
					return s, true
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", false // bytes (a UDP payload) are written as hex
		}
		for i := 0; i < v.Len(); i++ {
			if s, bad := notUTF8(v.Index(i)); bad {
				return s, true
			}
		}
	}
	return "", false
}

// checkExpressible reports what of f, beyond single values, a ulvs.toml
// cannot say.
func checkExpressible(f *config.File) error {
	if len(f.Interfaces) == 0 {
		return fmt.Errorf("no interface to listen on ([director] interfaces must name one): %w", ErrNotExpressible)
	}
	for _, s := range f.Rules.Services {
		if s.FwMark != 0 && !slices.ContainsFunc(f.Marks, func(m config.Mark) bool { return m.Mark == s.FwMark }) {
			return fmt.Errorf("service fwmark %d: no [[fwmark]] classifier defines mark %d (a ulvs.toml names its marks; iptables rules are not written into it): %w",
				s.FwMark, s.FwMark, ErrNotExpressible)
		}
	}
	return nil
}

func writeKnobs(b *strings.Builder, k *config.Knobs) {
	var lines []string
	if k.ConnReuseSet {
		lines = append(lines, fmt.Sprintf("conn_reuse_mode = %d", k.ConnReuseMode))
	}
	for _, kv := range []struct {
		k string
		v bool
	}{{"expire_nodest_conn", k.ExpireNodestConn}, {"expire_quiescent_template", k.ExpireQuiescentTemplate}, {"sloppy_tcp", k.SloppyTCP}} {
		if kv.v {
			lines = append(lines, kv.k+" = 1")
		}
	}
	if k.LBLCExpiration != 0 {
		lines = append(lines, fmt.Sprintf("lblc_expiration = %d", k.LBLCExpiration))
	}
	if k.LBLCRExpiration != 0 {
		lines = append(lines, fmt.Sprintf("lblcr_expiration = %d", k.LBLCRExpiration))
	}
	if k.MHTableSize != 0 {
		lines = append(lines, fmt.Sprintf("mh_table_size = %d", k.MHTableSize))
	}
	for _, kv := range []struct {
		k string
		v int
	}{{"drop_entry", k.DropEntry}, {"drop_packet", k.DropPacket}, {"secure_tcp", k.SecureTCP}} {
		if kv.v != 0 {
			lines = append(lines, fmt.Sprintf("%s = %d", kv.k, kv.v))
		}
	}
	if k.AmemThreshSet {
		lines = append(lines, fmt.Sprintf("amemthresh = %d", k.AmemThresh))
	}
	if k.AmDropRateSet {
		lines = append(lines, fmt.Sprintf("am_droprate = %d", k.AmDropRate))
	}
	if k.Overhead != "" {
		lines = append(lines, "overhead = "+tomlString(k.Overhead))
	}
	for _, sc := range k.Sync {
		if sc.Name == "sync_threshold" {
			lines = append(lines, fmt.Sprintf("%s = [%s]", sc.Name, strings.Join(strings.Fields(sc.Value), ", ")))
		} else {
			lines = append(lines, sc.Name+" = "+sc.Value)
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n[sysctl]\n")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// prefixText is a prefix as the file writes it: a /32 as its address.
func prefixText(p netip.Prefix) string {
	if p.Bits() == 32 && p.Addr().Is4() || p.Bits() == 128 {
		return p.Addr().String()
	}
	return p.String()
}

func writeMark(b *strings.Builder, m *config.Mark) error {
	fmt.Fprintf(b, "\n[[fwmark]]\nmark = %d\n", m.Mark)
	for _, mm := range m.Matches {
		if !mm.Addr.IsValid() {
			return fmt.Errorf("fwmark %d: match address %s: %w", m.Mark, mm.Addr, ErrNotExpressible)
		}
		proto, err := protoKey(mm.Proto)
		if err != nil {
			return fmt.Errorf("fwmark %d: %w", m.Mark, err)
		}
		fmt.Fprintf(b, "  [[fwmark.match]]\n  protocol = %q\n  address = %s\n", proto, tomlString(prefixText(mm.Addr)))
		if mm.Src.IsValid() {
			fmt.Fprintf(b, "  source = %s\n", tomlString(prefixText(mm.Src)))
		}
		if len(mm.Ports) > 0 {
			b.WriteString("  ports = [")
			for i, r := range mm.Ports {
				if i > 0 {
					b.WriteString(", ")
				}
				if r.First == r.Last {
					b.WriteString(strconv.Itoa(int(r.First)))
				} else {
					fmt.Fprintf(b, "\"%d-%d\"", r.First, r.Last)
				}
			}
			b.WriteString("]\n")
		}
	}
	return nil
}

func protoKey(p vs.Protocol) (string, error) {
	switch p {
	case vs.TCP:
		return "tcp", nil
	case vs.UDP:
		return "udp", nil
	}
	return "", fmt.Errorf("protocol %d: %w", p, ErrNotExpressible)
}

// MarshalServices writes the [[virtual_server]] tables of r, each service
// and real server in r's order, every setting explicit. Two Rules that
// give the same text are the same rules as far as the file can tell.
func MarshalServices(r config.Rules) ([]byte, error) {
	return marshalServices(r, nil)
}

// marshalServices is MarshalServices with the services' health checks
// (write_health.go): health holds at most one entry per service.
func marshalServices(r config.Rules, health []config.VirtualHealth) ([]byte, error) {
	var b strings.Builder
	if err := checkHealthServices(r, health); err != nil {
		return nil, err
	}
	for i := range r.Services {
		s := &r.Services[i]
		name := s.Key().Name()
		vh := healthOf(health, s.Key())
		b.WriteString("\n[[virtual_server]]\n")
		if s.FwMark != 0 {
			fmt.Fprintf(&b, "fwmark = %d\n", s.FwMark)
			if s.IPv6() {
				b.WriteString("family = \"ipv6\"\n")
			}
		} else {
			if !s.Addr.Is4() && !s.Addr.Is6() {
				return nil, fmt.Errorf("service %s: %w (no address)", name, ErrNotExpressible)
			}
			proto, err := protoKey(s.Proto)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", name, err)
			}
			fmt.Fprintf(&b, "protocol = %q\naddress = %q\n", proto, netip.AddrPortFrom(s.Addr, s.Port))
		}
		sched := s.Scheduler
		if sched == "" {
			sched = fileDefaultScheduler
		}
		fmt.Fprintf(&b, "scheduler = %s\n", tomlString(sched))
		if s.Persistent {
			if s.Timeout == 0 {
				return nil, fmt.Errorf("service %s: persistent without a timeout: %w", name, ErrNotExpressible)
			}
			fmt.Fprintf(&b, "persistence_timeout = %d\n", s.Timeout)
			if s.Netmask.Is6() {
				fmt.Fprintf(&b, "persistence_netmask = \"%d\"\n", config.MaskBits(s.Netmask, true))
			} else if s.Netmask.IsValid() {
				fmt.Fprintf(&b, "persistence_netmask = %q\n", s.Netmask)
			}
		}
		if s.OnePacket {
			b.WriteString("one_packet = true\n")
		}
		if s.SynProxy {
			b.WriteString("synproxy = true\n")
		}
		if len(s.LocalAddrs) > 0 {
			b.WriteString("local_addresses = [")
			for j, a := range s.LocalAddrs {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q", a.String())
			}
			b.WriteString("]\n")
		}
		if len(s.SchedFlags) > 0 {
			b.WriteString("sched_flags = [")
			for j, fl := range s.SchedFlags {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(tomlString(fl))
			}
			b.WriteString("]\n")
		}
		if err := writeServiceHealth(&b, vh); err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		for j := range s.Dests {
			d := &s.Dests[j]
			fwd, ok := tomlForward[d.Method]
			if !ok {
				return nil, fmt.Errorf("service %s, real server %s: forwarding method %s: %w",
					name, netip.AddrPortFrom(d.Addr, d.Port), d.Method, ErrNotExpressible)
			}
			if !d.Addr.Is4() && !d.Addr.Is6() {
				return nil, fmt.Errorf("service %s, real server %s: %w (no address)", name, d.Addr, ErrNotExpressible)
			}
			fmt.Fprintf(&b, "\n  [[virtual_server.real_server]]\n  address = %q\n  forward = %q\n  weight = %d\n",
				netip.AddrPortFrom(d.Addr, d.Port), fwd, d.Weight)
			if d.UThreshold != 0 {
				fmt.Fprintf(&b, "  upper_threshold = %d\n", d.UThreshold)
			}
			if d.LThreshold != 0 {
				fmt.Fprintf(&b, "  lower_threshold = %d\n", d.LThreshold)
			}
			if err := writeRealHealth(&b, vh, d); err != nil {
				return nil, fmt.Errorf("service %s, real server %s: %w", name, netip.AddrPortFrom(d.Addr, d.Port), err)
			}
		}
	}
	return []byte(b.String()), nil
}

// ReplaceServices returns the configuration file data with its virtual
// services replaced by r: every [[virtual_server]] table (with its
// [[virtual_server.real_server]] tables, or a top-level virtual_server
// array) is taken out and r's tables go where the first one was, or at
// the end. Everything else, comments included, stays as it was. The
// health checks of the file's services stay with the services and real
// servers r still has (KeepHealth). The result is parsed as path to make
// sure it holds exactly r; data must parse too.
func ReplaceServices(path string, data []byte, r config.Rules) ([]byte, error) {
	return replaceServices(path, data, r, nil)
}

// replaceServices is ReplaceServices with the health checks of health
// (nil: the file's) kept for the services and real servers of r.
func replaceServices(path string, data []byte, r config.Rules, health []config.VirtualHealth) ([]byte, error) {
	old, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if health == nil {
		health = old.Health
	}
	health = KeepHealth(r, health)
	svcs, err := marshalServices(r, health)
	if err != nil {
		return nil, err
	}
	spans := serviceSpans(data)
	var out []byte
	at := len(data)
	if len(spans) > 0 {
		at = spans[0][0]
	}
	prev := 0
	for i, sp := range spans {
		gap := data[prev:sp[0]]
		if i > 0 && len(strings.TrimSpace(string(gap))) == 0 {
			gap = nil // blank lines between two service tables go with them
		}
		out = append(out, gap...)
		if sp[0] == at {
			out = append(out, strings.TrimPrefix(string(svcs), "\n")...)
		}
		prev = sp[1]
	}
	out = append(out, data[prev:]...)
	if len(spans) == 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, svcs...)
	}
	f, err := Parse(path, out)
	if err != nil {
		return nil, fmt.Errorf("rewriting %s: %w", path, err)
	}
	got, err := marshalServices(f.Rules, f.Health)
	if err != nil || string(got) != string(svcs) {
		return nil, fmt.Errorf("rewriting %s: the file does not read back as the rules written (%v)", path, err)
	}
	return out, nil
}

// serviceSpans returns the [start, end) byte ranges of data that hold
// virtual services: each table whose header starts with virtual_server,
// from its header to the end of its last key's line, and a top-level
// virtual_server key. It scans with the keyScanner of indexKeys, so
// strings and multi-line arrays are skipped correctly.
func serviceSpans(data []byte) [][2]int {
	s := &keyScanner{data: data, lines: make(map[string]int), arrays: make(map[string]int)}
	var spans [][2]int
	inService := false // inside a virtual_server table
	inTable := false   // after any table header: no top-level keys follow
	lineEnd := func(i int) int {
		for i < len(data) && data[i] != '\n' && data[i] != '#' {
			i++
		}
		for i < len(data) && data[i] != '\n' {
			i++ // a trailing comment belongs to the line
		}
		if i < len(data) {
			i++
		}
		return i
	}
	for {
		s.skipBlank()
		if s.eof() {
			break
		}
		start := s.i
		if data[s.i] == '[' {
			s.i++
			if s.peek(0) == '[' {
				s.i++
			}
			parts := s.key()
			s.skipSpace()
			for !s.eof() && data[s.i] == ']' {
				s.i++
			}
			inTable = true
			inService = len(parts) > 0 && parts[0] == "virtual_server"
			if inService {
				spans = append(spans, [2]int{lineStart(data, start), lineEnd(s.i)})
			}
		} else {
			parts := s.key()
			s.skipSpace()
			if s.peek(0) == '=' {
				s.i++
				s.skipSpace()
				s.value("")
			}
			end := lineEnd(s.i)
			switch {
			case inService:
				spans[len(spans)-1][1] = end
			case !inTable && len(parts) > 0 && parts[0] == "virtual_server":
				spans = append(spans, [2]int{lineStart(data, start), end})
			}
		}
		if s.i == start {
			s.i++
		}
	}
	return spans
}

// lineStart moves off back over the blanks before it to the start of its
// line, if only blanks precede it there.
func lineStart(data []byte, off int) int {
	i := off
	for i > 0 && (data[i-1] == ' ' || data[i-1] == '\t') {
		i--
	}
	if i == 0 || data[i-1] == '\n' {
		return i
	}
	return off
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// WriteFileAtomic writes data to path so that readers see either the old
// file or the new one, never a part: it writes a temporary file in the
// same directory, syncs it, renames it over path and syncs the directory.
// When any step fails (a full disk: ENOSPC from write, fsync or close) the
// temporary file is removed and path keeps its old content. A new file
// gets mode perm; an existing one keeps its mode. When path is a symbolic
// link, the file it points to is replaced and the link stays.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(path, data, perm, func(dir, pattern string) (tempFile, error) {
		return os.CreateTemp(dir, pattern)
	})
}

// tempFile is what writeFileAtomic needs of an *os.File: the seam where
// tests make a disk fill up midway.
type tempFile interface {
	Name() string
	Write(b []byte) (int, error)
	Chmod(mode os.FileMode) error
	Sync() error
	Close() error
}

func writeFileAtomic(path string, data []byte, perm os.FileMode, createTemp func(dir, pattern string) (tempFile, error)) error {
	target := path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if fi, err := os.Stat(target); err == nil {
		perm = fi.Mode().Perm()
	}
	dir := filepath.Dir(target)
	tmp, err := createTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, target); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// KeepHealth returns the health checks of old for the services of r: a
// service keeps its settings, and each of its real servers in r keeps its
// checks (a real server added since has none; one removed takes its
// checks along). It is how a file written from live rules keeps the
// checks of the file they came from.
func KeepHealth(r config.Rules, old []config.VirtualHealth) []config.VirtualHealth {
	var out []config.VirtualHealth
	for i := range r.Services {
		s := &r.Services[i]
		vh := healthOf(old, s.Key())
		if vh == nil {
			continue
		}
		nv := *vh
		nv.Reals = make([]config.RealHealth, 0, len(s.Dests))
		for _, d := range s.Dests {
			rh := config.RealHealth{Addr: d.Addr, Port: d.Port}
			for _, o := range vh.Reals {
				if o.Addr == d.Addr && o.Port == d.Port {
					rh = o
				}
			}
			nv.Reals = append(nv.Reals, rh)
		}
		out = append(out, nv)
	}
	return out
}

// mergeHealth is old with each service want names taken from want.
func mergeHealth(old, want []config.VirtualHealth) []config.VirtualHealth {
	out := slices.Clone(old)
	for _, w := range want {
		if i := slices.IndexFunc(out, func(o config.VirtualHealth) bool { return o.Service == w.Service }); i >= 0 {
			out[i] = w
		} else {
			out = append(out, w)
		}
	}
	return out
}
