package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// ErrNotExpressible reports rules the console cannot write into a
// keepalived.conf (a change inside an included file or a
// virtual_server_group, a virtual_server sharing its lines with other
// statements, a setting the writer does not write): Rewrite refuses them,
// naming what, rather than write a file that reads differently.
var ErrNotExpressible = errors.New("cannot be written to this keepalived.conf")

// Rewrite returns the keepalived.conf data (the main file; includes are
// read, never written) changed so that its virtual services read as
// want.Rules, its vrrp_instance blocks as want.VRRP (the console
// changes their priority and advert_int only) and its checkers as
// want.Health (the settings rewrite_check.go writes), in keepalived's syntax. Only what differs is written, inside
// the virtual_server blocks of the main file: lb_algo (or lvs_sched),
// persistence_timeout and persistence_granularity; per real_server block
// weight, uthreshold and lthreshold; a new real server gets a
// real_server block without checkers (always up, as in keepalived), a
// real server gone loses its block (its checkers with it); a new service
// gets a virtual_server block at the end, a service gone loses its block.
// Every other line (global_defs, vrrp_instance, checkers, comments,
// include lines) stays byte for byte. A checker's changed settings are
// written on their own lines inside its block (rewrite_check.go); a real
// server want.Health does not name keeps its checkers as the file has them.
//
// The result is parsed again and its rules compared with want, and the
// health checks of the servers kept with the file's; anything that would
// read differently is refused with ErrNotExpressible, naming it. data
// must parse.
func Rewrite(path string, data []byte, want *config.File, opts Options) ([]byte, error) {
	p, err := parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	w := &kwriter{path: path, lines: splitLines(string(data)), p: p, want: want}
	w.finalNL = strings.HasSuffix(string(data), "\n")
	if err := w.run(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := []byte(w.text())
	back, err := Parse(path, out, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: the rewritten file does not parse (%v): %w", path, err, ErrNotExpressible)
	}
	if msg := sameRules(want, p.file, back); msg != "" {
		return nil, fmt.Errorf("%s: %s: %w", path, msg, ErrNotExpressible)
	}
	return out, nil
}

// kline is one line of the main file; gone lines are dropped at the end
// (so that the parser's line numbers keep pointing at the lines read).
type kline struct {
	text   string
	gone   bool
	before []string // lines added before this one
}

type kwriter struct {
	path    string
	lines   []kline
	finalNL bool
	tail    []string // lines added at the end
	p       *parser
	want    *config.File
}

func splitLines(s string) []kline {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	var out []kline
	for _, l := range strings.Split(s, "\n") {
		out = append(out, kline{text: l})
	}
	return out
}

func (w *kwriter) text() string {
	var b strings.Builder
	for _, l := range w.lines {
		for _, a := range l.before {
			b.WriteString(a + "\n")
		}
		if !l.gone {
			b.WriteString(l.text + "\n")
		}
	}
	for _, a := range w.tail {
		b.WriteString(a + "\n")
	}
	out := b.String()
	if !w.finalNL && len(w.tail) == 0 {
		out = strings.TrimSuffix(out, "\n")
	}
	return out
}

// segments are a line's statements and braces, comments removed.
func segments(line string) []string {
	text, _ := decomment(line)
	return splitBraces(text)
}

// span returns the lines [start, end] of the block whose statement is on
// line (1-based), when the block owns them: the statement starts its
// line, '{' ends it, and the closing '}' is alone on its line.
func (w *kwriter) span(n *Node) (int, int, error) {
	start := n.Line - 1
	where := fmt.Sprintf("%s at %s:%d", n.Keyword(), n.File, n.Line)
	if n.File != w.path {
		return 0, 0, fmt.Errorf("%s is in an included file, which the console does not write: %w", where, ErrNotExpressible)
	}
	if start < 0 || start >= len(w.lines) {
		return 0, 0, fmt.Errorf("%s: no such line: %w", where, ErrNotExpressible)
	}
	segs := segments(w.lines[start].text)
	if len(segs) != 2 || segs[1] != "{" || !strings.HasPrefix(segs[0], n.Keyword()) {
		return 0, 0, fmt.Errorf("%s shares its line with other statements (write it as \"%s ... {\" on a line of its own): %w", where, n.Keyword(), ErrNotExpressible)
	}
	depth := 1
	for i := start + 1; i < len(w.lines); i++ {
		for _, s := range segments(w.lines[i].text) {
			switch s {
			case "{":
				depth++
			case "}":
				depth--
			}
			if depth == 0 {
				if len(segments(w.lines[i].text)) != 1 {
					return 0, 0, fmt.Errorf("the '}' closing %s shares its line with other statements: %w", where, ErrNotExpressible)
				}
				return start, i, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("%s: no closing '}': %w", where, ErrNotExpressible)
}

// set makes "key value" the statement of the block [start, end] for the
// keywords keys (the last line with one of them is rewritten, others
// removed), or adds it before the first nested block or the '}'.
func (w *kwriter) set(start, end int, keys []string, value string) error {
	at := w.statements(start, end, keys)
	line := keys[0] + " " + value
	if len(at) > 0 {
		last := at[len(at)-1]
		for _, i := range at[:len(at)-1] {
			w.lines[i].gone = true
		}
		l := &w.lines[last]
		if len(segments(l.text)) != 1 {
			return fmt.Errorf("%s at %s:%d shares its line with other statements: %w", keys[0], w.path, last+1, ErrNotExpressible)
		}
		kw := strings.Fields(segments(l.text)[0])[0]
		l.text = leading(l.text) + kw + " " + value + trailingComment(l.text)
		return nil
	}
	pos := end
	for i := start + 1; i < end; i++ {
		if segs := segments(w.lines[i].text); len(segs) > 0 && segs[len(segs)-1] == "{" {
			pos = i
			break
		}
	}
	w.lines[pos].before = append(w.lines[pos].before, w.indent(start, end)+line)
	return nil
}

// unset removes the statements keys of the block.
func (w *kwriter) unset(start, end int, keys []string) error {
	for _, i := range w.statements(start, end, keys) {
		if len(segments(w.lines[i].text)) != 1 {
			return fmt.Errorf("%s at %s:%d shares its line with other statements: %w", keys[0], w.path, i+1, ErrNotExpressible)
		}
		w.lines[i].gone = true
	}
	return nil
}

// statements are the lines directly inside [start, end] whose statement
// is one of keys.
func (w *kwriter) statements(start, end int, keys []string) []int {
	var out []int
	depth := 0
	for i := start + 1; i < end; i++ {
		segs := segments(w.lines[i].text)
		if depth == 0 && len(segs) > 0 && segs[0] != "{" && segs[0] != "}" {
			if f := strings.Fields(segs[0]); len(f) > 0 && slices.Contains(keys, f[0]) && !w.lines[i].gone {
				out = append(out, i)
			}
		}
		for _, s := range segs {
			switch s {
			case "{":
				depth++
			case "}":
				depth--
			}
		}
	}
	return out
}

// trailingComment is the comment at the end of line (from the blank
// before its '#' or '!'), or "".
func trailingComment(line string) string {
	quote := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			quote = !quote
		case c == '\\':
			i++
		case !quote && (c == '#' || c == '!'):
			j := i
			for j > 0 && (line[j-1] == ' ' || line[j-1] == '\t') {
				j--
			}
			return line[j:]
		}
	}
	return ""
}

func leading(s string) string { return s[:len(s)-len(strings.TrimLeft(s, " \t"))] }

// indent is the indentation of the statements inside [start, end].
func (w *kwriter) indent(start, end int) string {
	for i := start + 1; i < end; i++ {
		if len(segments(w.lines[i].text)) > 0 {
			return leading(w.lines[i].text)
		}
	}
	return leading(w.lines[start].text) + "    "
}

var methodWords = map[vs.Method]string{vs.Masq: "NAT", vs.Route: "DR", vs.Tunnel: "TUN"}

func (w *kwriter) run() error {
	if err := w.vrrp(); err != nil {
		return err
	}
	for i := range w.want.Rules.Services {
		if err := w.service(&w.want.Rules.Services[i]); err != nil {
			return err
		}
	}
	if err := w.checkers(); err != nil {
		return err
	}
	for _, v := range w.p.virtuals {
		if len(v.keys) == 0 {
			continue
		}
		kept := 0
		for _, k := range v.keys {
			if slices.ContainsFunc(w.want.Rules.Services, func(s config.Service) bool { return s.Key() == k }) {
				kept++
			}
		}
		switch {
		case kept == len(v.keys):
		case len(v.keys) > 1:
			return fmt.Errorf("virtual_server group %s at %s:%d: the console deletes no service of a group: %w", v.group, v.node.File, v.node.Line, ErrNotExpressible)
		default:
			start, end, err := w.span(v.node)
			if err != nil {
				return err
			}
			for i := start; i <= end; i++ {
				w.lines[i].gone = true
			}
		}
	}
	return nil
}

func (w *kwriter) oldService(k config.ServiceKey) *config.Service {
	for i := range w.p.file.Rules.Services {
		if w.p.file.Rules.Services[i].Key() == k {
			return &w.p.file.Rules.Services[i]
		}
	}
	return nil
}

// service writes one service of want.
func (w *kwriter) service(s *config.Service) error {
	k := s.Key()
	if len(s.Dests) == 0 {
		return fmt.Errorf("%s has no real server, and keepalived ignores a virtual_server without one (add a real server, or delete the virtual server): %w", k.Name(), ErrNotExpressible)
	}
	old := w.oldService(k)
	if old == nil {
		return w.newVirtual(s)
	}
	if reflect.DeepEqual(normal(*old), normal(*s)) {
		return nil
	}
	i := slices.IndexFunc(w.p.virtuals, func(v *virtualServer) bool { return slices.Contains(v.keys, k) })
	v := w.p.virtuals[i]
	if len(v.keys) > 1 {
		return fmt.Errorf("%s belongs to virtual_server group %s at %s:%d, which the console does not rewrite (edit the file): %w", k.Name(), v.group, v.node.File, v.node.Line, ErrNotExpressible)
	}
	start, end, err := w.span(v.node)
	if err != nil {
		return err
	}
	o, n := *old, *s
	o.Dests, n.Dests = nil, nil
	o.Scheduler, n.Scheduler = "", ""
	o.Persistent, n.Persistent, o.Timeout, n.Timeout, o.Netmask, n.Netmask = false, false, 0, 0, netip.Addr{}, netip.Addr{}
	if !reflect.DeepEqual(normal(o), normal(n)) {
		return fmt.Errorf("%s: only the scheduler, persistence and real servers are written to a keepalived.conf (changed: %+v, was %+v): %w", k.Name(), n, o, ErrNotExpressible)
	}
	if old.Scheduler != s.Scheduler {
		if err := w.set(start, end, []string{"lb_algo", "lvs_sched"}, sched(s.Scheduler)); err != nil {
			return err
		}
	}
	if old.Persistent != s.Persistent || old.Timeout != s.Timeout {
		if !s.Persistent {
			if k.FwMark == 0 && k.Port == 0 {
				return fmt.Errorf("%s: port 0 needs persistence: %w", k.Name(), ErrNotExpressible)
			}
			if err := w.unset(start, end, []string{"persistence_timeout", "persistence_granularity"}); err != nil {
				return err
			}
		} else if err := w.set(start, end, []string{"persistence_timeout"}, strconv.FormatUint(uint64(s.Timeout), 10)); err != nil {
			return err
		}
	}
	if s.Persistent && old.Netmask != s.Netmask {
		var err error
		if s.Netmask.IsValid() {
			err = w.set(start, end, []string{"persistence_granularity"}, granularity(s))
		} else {
			err = w.unset(start, end, []string{"persistence_granularity"})
		}
		if err != nil {
			return err
		}
	}
	if err := w.markFamily(v, s, start, end); err != nil {
		return err
	}
	return w.reals(v, s, start, end)
}

// keyFamily is the ip_family of service k.
func keyFamily(k config.ServiceKey) string {
	if k.IPv6() {
		return "inet6"
	}
	return "inet"
}

// markFamily adds ip_family to the block [start, end] of the fwmark
// service s when, its real servers and persistence_granularity written as
// s has them, keepalived would settle another family than s's from them
// (check_parser.c; the parser's markFamily and settledFamily): deleting
// the one IPv4 DR real server of a mark whose others are IPv6 tunnels, say.
// A block with ip_family, or a group's fwmark of its own family, keeps it.
func (w *kwriter) markFamily(v *virtualServer, s *config.Service, start, end int) error {
	k := s.Key()
	if k.FwMark == 0 || len(w.statements(start, end, []string{"ip_family"})) > 0 {
		return nil
	}
	if v.group != "" {
		g := w.p.groups[v.group]
		if g == nil || g.have4 || g.have6 || slices.ContainsFunc(g.entries, func(e groupEntry) bool { return e.fwmark == k.FwMark && e.family != "" }) {
			return nil
		}
	}
	old := w.oldService(k)
	next := *v
	next.reals = nil
	for _, rs := range v.reals {
		if len(rs.dests) != 1 || slices.ContainsFunc(s.Dests, func(d config.Dest) bool { return netip.AddrPortFrom(d.Addr, d.Port) == rs.dests[0] }) {
			next.reals = append(next.reals, rs)
		}
	}
	for _, d := range s.Dests {
		if !slices.ContainsFunc(v.reals, func(rs *realServer) bool { return slices.Contains(rs.dests, netip.AddrPortFrom(d.Addr, d.Port)) }) {
			next.reals = append(next.reals, &realServer{addr: d.Addr, port: d.Port, method: d.Method})
		}
	}
	switch {
	case !s.Persistent || !s.Netmask.IsValid():
		next.family = "" // no persistence_granularity left
	case old.Persistent && old.Netmask == s.Netmask:
		// the line stays, and the family it set
	case strings.Contains(granularity(s), "."):
		next.family = "inet"
	default:
		next.family = "inet6"
	}
	fam := ""
	if v.group == "" {
		fam = w.p.markFamily(&next)
	} else if fam, _ = next.settledFamily(); fam == "" {
		fam = "inet" // keepalived's ipvs_group_cmd default
	}
	if want := keyFamily(k); fam != want {
		return w.set(start, end, []string{"ip_family"}, want)
	}
	return nil
}

func sched(s string) string {
	if s == "" {
		return "wlc"
	}
	return s
}

// normal is s with its empty slices nil and its dests sorted.
func normal(s config.Service) config.Service {
	if len(s.SchedFlags) == 0 {
		s.SchedFlags = nil
	}
	if len(s.LocalAddrs) == 0 {
		s.LocalAddrs = nil
	}
	s.Scheduler = sched(s.Scheduler)
	s.Dests = slices.Clone(s.Dests)
	slices.SortFunc(s.Dests, func(a, b config.Dest) int {
		return netip.AddrPortFrom(a.Addr, a.Port).Compare(netip.AddrPortFrom(b.Addr, b.Port))
	})
	if len(s.Dests) == 0 {
		s.Dests = nil
	}
	return s
}

// reals writes the real servers of s into the virtual_server block
// [start, end].
func (w *kwriter) reals(v *virtualServer, s *config.Service, start, end int) error {
	k := s.Key()
	have := map[netip.AddrPort]bool{}
	for _, rs := range v.reals {
		if len(rs.dests) != 1 {
			continue // a duplicate keepalived drops: left as it is
		}
		ap := rs.dests[0]
		j := slices.IndexFunc(s.Dests, func(d config.Dest) bool { return netip.AddrPortFrom(d.Addr, d.Port) == ap })
		if j >= 0 {
			have[ap] = true
			if s.Dests[j] == w.oldDest(k, ap) {
				continue
			}
		}
		rstart, rend, err := w.span(rs.node)
		if err != nil {
			return err
		}
		if j < 0 {
			for i := rstart; i <= rend; i++ {
				w.lines[i].gone = true
			}
			continue
		}
		d, od := s.Dests[j], w.oldDest(k, ap)
		if d.Method != od.Method {
			return fmt.Errorf("real server %s of %s: the console does not change a keepalived.conf's lb_kind (from %v to %v): %w", ap, k.Name(), od.Method, d.Method, ErrNotExpressible)
		}
		for _, f := range []struct {
			key  string
			o, n uint64
		}{{"weight", uint64(od.Weight), uint64(d.Weight)}, {"uthreshold", uint64(od.UThreshold), uint64(d.UThreshold)}, {"lthreshold", uint64(od.LThreshold), uint64(d.LThreshold)}} {
			if f.o != f.n {
				if err := w.set(rstart, rend, []string{f.key}, strconv.FormatUint(f.n, 10)); err != nil {
					return err
				}
			}
		}
	}
	for _, d := range s.Dests {
		if have[netip.AddrPortFrom(d.Addr, d.Port)] {
			continue
		}
		if d.Method != v.method {
			return fmt.Errorf("real server %s of %s is %v and the virtual_server's lb_kind %v: %w", netip.AddrPortFrom(d.Addr, d.Port), k.Name(), d.Method, v.method, ErrNotExpressible)
		}
		in := w.indent(start, end)
		w.lines[end].before = append(w.lines[end].before, realBlock(in, d, s)...)
	}
	return nil
}

func (w *kwriter) oldDest(k config.ServiceKey, ap netip.AddrPort) config.Dest {
	for _, d := range w.oldService(k).Dests {
		if netip.AddrPortFrom(d.Addr, d.Port) == ap {
			return d
		}
	}
	return config.Dest{}
}

// realBlock is a real_server block for d, indented by in.
func realBlock(in string, d config.Dest, s *config.Service) []string {
	port := d.Port
	if port == 0 {
		port = s.Port
	}
	out := []string{in + "real_server " + d.Addr.String() + " " + strconv.Itoa(int(port)) + " {", in + "    weight " + strconv.Itoa(int(d.Weight))}
	if d.UThreshold != 0 {
		out = append(out, in+"    uthreshold "+strconv.FormatUint(uint64(d.UThreshold), 10))
	}
	if d.LThreshold != 0 {
		out = append(out, in+"    lthreshold "+strconv.FormatUint(uint64(d.LThreshold), 10))
	}
	return append(out, in+"}")
}

// newVirtual adds a virtual_server block for s at the end of the file.
func (w *kwriter) newVirtual(s *config.Service) error {
	k := s.Key()
	m := s.Dests[0].Method
	for _, d := range s.Dests {
		if d.Method != m {
			return fmt.Errorf("%s: its real servers have different methods; a new virtual_server has one lb_kind: %w", k.Name(), ErrNotExpressible)
		}
	}
	kind, ok := methodWords[m]
	if !ok {
		return fmt.Errorf("%s: method %v is not NAT, DR or TUN: %w", k.Name(), m, ErrNotExpressible)
	}
	proto, ok := map[vs.Protocol]string{vs.TCP: "TCP", vs.UDP: "UDP"}[s.Proto]
	if !ok {
		return fmt.Errorf("%s: keepalived.conf services are TCP or UDP here: %w", k.Name(), ErrNotExpressible)
	}
	head := "virtual_server " + k.Addr.String() + " " + strconv.Itoa(int(k.Port)) + " {"
	if k.FwMark != 0 {
		head = "virtual_server fwmark " + strconv.FormatUint(uint64(k.FwMark), 10) + " {"
	}
	const in = "    "
	ls := []string{"", head, in + "lb_algo " + sched(s.Scheduler), in + "lb_kind " + kind, in + "protocol " + proto}
	if k.FwMark != 0 {
		// keepalived would otherwise settle the family from the real
		// servers: an IPv4 mark with only IPv6 tunnels would read as IPv6.
		ls = append(ls, in+"ip_family "+keyFamily(k))
	}
	if s.Persistent {
		ls = append(ls, in+"persistence_timeout "+strconv.FormatUint(uint64(s.Timeout), 10))
		if s.Netmask.IsValid() {
			ls = append(ls, in+"persistence_granularity "+granularity(s))
		}
	}
	if s.OnePacket {
		ls = append(ls, in+"ops")
	}
	if len(s.SchedFlags) > 0 || len(s.LocalAddrs) > 0 || s.SynProxy {
		return fmt.Errorf("%s: scheduler flags, local addresses and synproxy are not written to a new virtual_server: %w", k.Name(), ErrNotExpressible)
	}
	for _, d := range s.Dests {
		ls = append(ls, realBlock(in, d, s)...)
	}
	w.tail = append(w.tail, append(ls, "}")...)
	return nil
}

// vrrp writes the priority and advert_int of the vrrp_instance blocks
// that want changes; any other change of an instance is refused.
func (w *kwriter) vrrp() error {
	old := w.p.file.VRRP
	if len(old) != len(w.want.VRRP) {
		return fmt.Errorf("the console adds and removes no vrrp_instance (%d in the file, %d asked): %w", len(old), len(w.want.VRRP), ErrNotExpressible)
	}
	for i, n := range w.want.VRRP {
		o := old[i]
		if !config.SameVRRPBut(o, n, true) {
			return fmt.Errorf("vrrp_instance %s: only its priority and advert_int are written by the console: %w", o.Name, ErrNotExpressible)
		}
		if o.Priority == n.Priority && o.AdvertInt == n.AdvertInt {
			continue
		}
		if n.AdvertInt <= 0 || n.AdvertInt%(10*time.Millisecond) != 0 || n.Priority == 0 {
			return fmt.Errorf("vrrp_instance %s: priority %d, advert_int %v: %w", o.Name, n.Priority, n.AdvertInt, ErrNotExpressible)
		}
		start, end, err := w.span(&Node{Words: []string{"vrrp_instance", o.Name}, File: o.File, Line: o.Line})
		if err != nil {
			return err
		}
		if o.Priority != n.Priority {
			if err := w.set(start, end, []string{"priority"}, strconv.Itoa(int(n.Priority))); err != nil {
				return err
			}
		}
		if o.AdvertInt != n.AdvertInt {
			if err := w.set(start, end, []string{"advert_int"}, strconv.FormatFloat(n.AdvertInt.Seconds(), 'f', -1, 64)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameRules says how back (the rewritten file, parsed) differs from want
// in its rules, or in the health checks of the real servers kept from
// want's (old's where want names none); "" when it does not.
func sameRules(want, old, back *config.File) string {
	if want.Timeouts != back.Timeouts || !slices.Equal(want.Interfaces, back.Interfaces) {
		return fmt.Sprintf("the console does not write a keepalived.conf's timeouts or interfaces (they would read %+v %v, not %+v %v)", back.Timeouts, back.Interfaces, want.Timeouts, want.Interfaces)
	}
	if len(want.VRRP) != len(back.VRRP) {
		return fmt.Sprintf("%d vrrp_instance blocks would read back, not %d", len(back.VRRP), len(want.VRRP))
	}
	for i := range want.VRRP {
		if !config.SameVRRPBut(want.VRRP[i], back.VRRP[i], false) {
			return fmt.Sprintf("vrrp_instance %s would read %+v, not %+v", want.VRRP[i].Name, back.VRRP[i].WithoutPosition(), want.VRRP[i].WithoutPosition())
		}
	}
	if len(want.Rules.Services) != len(back.Rules.Services) {
		return fmt.Sprintf("%d virtual servers would read back, not %d", len(back.Rules.Services), len(want.Rules.Services))
	}
	for _, s := range want.Rules.Services {
		i := slices.IndexFunc(back.Rules.Services, func(b config.Service) bool { return b.Key() == s.Key() })
		if i < 0 {
			return s.Key().Name() + " would not read back"
		}
		if b := back.Rules.Services[i]; !reflect.DeepEqual(normal(s), normal(b)) {
			return fmt.Sprintf("%s would read %+v, not %+v", s.Key().Name(), normal(b), normal(s))
		}
		oh, bh, wh := healthFor(old, s.Key()), healthFor(back, s.Key()), healthFor(want, s.Key())
		for _, r := range reals(oh) {
			if !slices.ContainsFunc(s.Dests, func(d config.Dest) bool { return d.Addr == r.Addr && d.Port == r.Port }) {
				continue
			}
			if j := slices.IndexFunc(reals(wh), func(x config.RealHealth) bool { return x.Addr == r.Addr && x.Port == r.Port }); j >= 0 {
				r = reals(wh)[j] // the checks as the console asked
			}
			j := slices.IndexFunc(reals(bh), func(b config.RealHealth) bool { return b.Addr == r.Addr && b.Port == r.Port })
			if j < 0 || !reflect.DeepEqual(r, reals(bh)[j]) {
				return fmt.Sprintf("the checks of real server %s of %s would not read back as they are", netip.AddrPortFrom(r.Addr, r.Port), s.Key().Name())
			}
		}
	}
	return ""
}

func healthFor(f *config.File, k config.ServiceKey) *config.VirtualHealth {
	for i := range f.Health {
		if f.Health[i].Service == k {
			return &f.Health[i]
		}
	}
	return nil
}

func reals(vh *config.VirtualHealth) []config.RealHealth {
	if vh == nil {
		return nil
	}
	return vh.Reals
}

// granularity is persistence_granularity's value for s, as keepalived's
// vs_pgran_handler reads it: a netmask for IPv4, a prefix length for IPv6.
func granularity(s *config.Service) string {
	if s.IPv6() {
		return strconv.Itoa(config.MaskBits(s.Netmask, true))
	}
	return s.Netmask.String()
}
