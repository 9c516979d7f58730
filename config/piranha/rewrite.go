package piranha

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

// ErrNotExpressible reports a configuration lvs.cf cannot hold (a real
// server whose method differs from the file's network, thresholds, a
// keepalived checker, ...): Rewrite refuses it, naming what, rather than
// write a file that reads differently.
var ErrNotExpressible = errors.New("cannot be written to an lvs.cf")

// Rewrite returns the lvs.cf data changed so that it reads as want: what
// Piranha's GUI does when it writes lvs.cf, but keeping every line it has
// no reason to change as it was (comments, inactive virtual servers and
// real servers, failover blocks, keywords ulvs only warns about).
//
// Compared with what data reads as, Rewrite writes: the pulse settings of
// want.Pulse (primary, backup and their private addresses, backup_active,
// heartbeat, heartbeat_port, keepalive, deadtime, monitor_links,
// syncdaemon, syncd_iface, syncd_id, hard_shutdown, active_cmd,
// inactive_cmd, serial_no, nat_router and nat_nmask), each virtual
// address's device and vip_nmask (want.Pulse.VIPs), the timeouts, network
// (the one method every real server of want has), and for each service of
// want.Rules its virtual block: scheduler, persistent, pmask, and from its
// health checks (want.Health, nanny checks only) timeout, reentry,
// quiesce_server, send, expect, use_regex, send_program and sorry_server;
// real servers by address and port (weight; a new one gets a server
// block, one gone loses its block). A new service gets a virtual block at
// the end, a service gone loses its block. A nil want.Pulse keeps data's.
//
// The result is parsed again and compared with want (rules, pulse,
// timeouts, the checks' settings); anything that would read differently
// is refused with ErrNotExpressible, naming it. path names the file in
// errors; data must parse.
func Rewrite(path string, data []byte, want *config.File, opts Options) ([]byte, error) {
	opts.Fill()
	p, err := parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	d, err := parseDoc(data)
	if err != nil {
		return nil, err
	}
	if want.Pulse == nil {
		w := *want
		w.Pulse = p.file.Pulse
		want = &w
	}
	r := &rewriter{d: d, p: p, old: p.file, want: want}
	if err := r.run(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := d.bytes()
	back, err := Parse(path, out, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: the rewritten file does not parse (%v): %w", path, err, ErrNotExpressible)
	}
	if msg := differs(want, back); msg != "" {
		return nil, fmt.Errorf("%s: %s: %w", path, msg, ErrNotExpressible)
	}
	return out, nil
}

type rewriter struct {
	d         *doc
	p         *parser
	old, want *config.File
	method    vs.Method
}

const (
	virtualIndent = "     "
	serverIndent  = "         "
)

func (r *rewriter) run() error {
	if err := r.network(); err != nil {
		return err
	}
	if err := r.global(); err != nil {
		return err
	}
	for i := range r.want.Rules.Services {
		if err := r.service(&r.want.Rules.Services[i]); err != nil {
			return err
		}
	}
	for _, v := range r.p.virtuals {
		if v.loaded && !slices.ContainsFunc(r.want.Rules.Services, func(s config.Service) bool { return s.Key() == v.key }) {
			i := r.d.at(v.num)
			r.d.lines = slices.Delete(r.d.lines, i, r.d.end(i)+1)
		}
	}
	return nil
}

// network is the one forwarding method of want's real servers.
func (r *rewriter) network() error {
	r.method = r.p.method
	var first *config.Dest
	var firstSvc config.ServiceKey
	for _, s := range r.want.Rules.Services {
		for i := range s.Dests {
			d := &s.Dests[i]
			if first == nil {
				first, firstSvc = d, s.Key()
			}
			if d.Method != first.Method {
				return fmt.Errorf("real server %s of %s is %v but real server %s of %s is %v, and lvs.cf has one network (direct, nat or tunnel) for all: %w",
					netip.AddrPortFrom(d.Addr, d.Port), s.Key().Name(), d.Method, netip.AddrPortFrom(first.Addr, first.Port), firstSvc.Name(), first.Method, ErrNotExpressible)
			}
		}
	}
	if first == nil {
		return nil
	}
	names := map[vs.Method]string{vs.Route: "direct", vs.Masq: "nat", vs.Tunnel: "tunnel"}
	name, ok := names[first.Method]
	if !ok {
		return fmt.Errorf("forwarding method %v: lvs.cf's network is direct, nat or tunnel: %w", first.Method, ErrNotExpressible)
	}
	if first.Method != r.p.method {
		r.d.set(0, r.globalEnd(), "network", name, "")
	}
	r.method = first.Method
	return nil
}

// globalEnd is the index of the first block line (the global section
// ends there).
func (r *rewriter) globalEnd() int {
	for i := range r.d.lines {
		if r.d.lines[i].opens() {
			return i
		}
	}
	return len(r.d.lines)
}

func (r *rewriter) setGlobal(key, value string) { r.d.set(0, r.globalEnd(), key, value, "") }

func boolWord(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func seconds(what string, d time.Duration, lo int) (string, error) {
	if d%time.Second != 0 || d < time.Duration(lo)*time.Second || d > time.Duration(maxSeconds)*time.Second {
		return "", fmt.Errorf("%s %v: lvs.cf takes whole seconds from %d to %d: %w", what, d, lo, maxSeconds, ErrNotExpressible)
	}
	return strconv.Itoa(int(d / time.Second)), nil
}

func addrWord(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// global writes the pulse settings and timeouts that differ.
func (r *rewriter) global() error {
	o, w := r.old.Pulse, r.want.Pulse
	if w.Primary != o.Primary {
		if !w.Primary.Is4() || w.Primary.IsUnspecified() {
			return fmt.Errorf("primary %v: an IPv4 address is needed: %w", w.Primary, ErrNotExpressible)
		}
		r.setGlobal("primary", w.Primary.String())
	}
	if w.Backup != o.Backup {
		if w.Backup.IsValid() && !w.Backup.Is4() {
			return fmt.Errorf("backup %v: IPv4 only: %w", w.Backup, ErrNotExpressible)
		}
		r.setGlobal("backup", addrWord(w.Backup))
	}
	// Without primary_private the heartbeat addresses are the public
	// ones; they need writing only when they differ.
	same := w.PrimaryPrivate == w.Primary && w.BackupPrivate == w.Backup
	changed := w.PrimaryPrivate != o.PrimaryPrivate || w.BackupPrivate != o.BackupPrivate
	if (changed || !same) && (r.p.sawPriv || !same) {
		if !w.PrimaryPrivate.Is4() || w.PrimaryPrivate.IsUnspecified() {
			return fmt.Errorf("primary_private %v: an IPv4 address is needed: %w", w.PrimaryPrivate, ErrNotExpressible)
		}
		r.setGlobal("primary_private", w.PrimaryPrivate.String())
		if w.BackupPrivate.IsValid() {
			r.setGlobal("backup_private", w.BackupPrivate.String())
		} else {
			r.d.unset(0, r.globalEnd(), "backup_private")
		}
	}
	bools := []struct {
		key  string
		o, w bool
	}{
		{"backup_active", o.BackupActive, w.BackupActive}, {"heartbeat", o.Heartbeat, w.Heartbeat},
		{"monitor_links", o.MonitorLinks, w.MonitorLinks}, {"syncdaemon", o.SyncDaemon, w.SyncDaemon},
		{"hard_shutdown", o.HardShutdown, w.HardShutdown},
	}
	for _, b := range bools {
		if b.o != b.w {
			r.setGlobal(b.key, boolWord(b.w))
		}
	}
	if w.HeartbeatPort != o.HeartbeatPort {
		if w.HeartbeatPort == 0 {
			return fmt.Errorf("heartbeat_port 0: %w", ErrNotExpressible)
		}
		r.setGlobal("heartbeat_port", strconv.Itoa(int(w.HeartbeatPort)))
	}
	for _, t := range []struct {
		key  string
		o, w time.Duration
	}{{"keepalive", o.Keepalive, w.Keepalive}, {"deadtime", o.Deadtime, w.Deadtime}} {
		if t.o != t.w {
			s, err := seconds(t.key, t.w, 1)
			if err != nil {
				return err
			}
			r.setGlobal(t.key, s)
		}
	}
	ints := []struct {
		key    string
		o, w   int
		lo, hi int
	}{{"serial_no", o.SerialNo, w.SerialNo, 0, 1<<31 - 1}, {"syncd_id", o.SyncID, w.SyncID, 0, 255}}
	for _, n := range ints {
		if n.o != n.w {
			if n.w < n.lo || n.w > n.hi {
				return fmt.Errorf("%s %d: from %d to %d: %w", n.key, n.w, n.lo, n.hi, ErrNotExpressible)
			}
			r.setGlobal(n.key, strconv.Itoa(n.w))
		}
	}
	strs := []struct{ key, o, w string }{
		{"syncd_iface", o.SyncdIface, w.SyncdIface}, {"active_cmd", o.ActiveCmd, w.ActiveCmd}, {"inactive_cmd", o.InactiveCmd, w.InactiveCmd},
	}
	for _, s := range strs {
		if s.o == s.w {
			continue
		}
		if s.w == "" && s.key != "syncd_iface" {
			r.d.unset(0, r.globalEnd(), s.key)
			continue
		}
		v, err := word(s.w)
		if err != nil {
			return fmt.Errorf("%s: %w", s.key, err)
		}
		r.setGlobal(s.key, v)
	}
	if w.NATRouter != o.NATRouter || w.NATRouterDevice != o.NATRouterDevice {
		if err := r.natRouter(w); err != nil {
			return err
		}
	}
	ot, wt := r.old.Timeouts, r.want.Timeouts
	for _, t := range []struct {
		key  string
		o, w uint32
	}{{"tcp_timeout", ot.TCP, wt.TCP}, {"tcpfin_timeout", ot.TCPFin, wt.TCPFin}, {"udp_timeout", ot.UDP, wt.UDP}} {
		if t.o != t.w {
			r.setGlobal(t.key, strconv.FormatUint(uint64(t.w), 10))
		}
	}
	return nil
}

func (r *rewriter) natRouter(w *config.Pulse) error {
	if !w.NATRouter.IsValid() {
		r.d.unset(0, r.globalEnd(), "nat_router")
		r.d.unset(0, r.globalEnd(), "nat_nmask")
		return nil
	}
	if !w.NATRouter.Addr().Is4() || !config.Unicast(w.NATRouter.Addr()) {
		return fmt.Errorf("nat_router %v: a unicast IPv4 address: %w", w.NATRouter, ErrNotExpressible)
	}
	if r.method != vs.Masq {
		return fmt.Errorf("nat_router %v: lvs.cf uses it with network = nat only: %w", w.NATRouter, ErrNotExpressible)
	}
	dev, err := word(w.NATRouterDevice)
	if err != nil || w.NATRouterDevice == "" || config.CheckIfName(baseDevice(w.NATRouterDevice)) != "" {
		return fmt.Errorf("nat_router's device %q is not an interface name: %w", w.NATRouterDevice, ErrNotExpressible)
	}
	r.setGlobal("nat_router", w.NATRouter.Addr().String()+" "+dev)
	if w.NATRouter.Bits() == 32 {
		r.d.unset(0, r.globalEnd(), "nat_nmask")
	} else {
		r.setGlobal("nat_nmask", netip.AddrFrom4(prefixMask(w.NATRouter.Bits())).String())
	}
	return nil
}

func prefixMask(bits int) [4]byte {
	var m [4]byte
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// settings is what one virtual block says of its nanny checks.
type settings struct {
	timeout, reentry        time.Duration
	quiesce                 bool
	send, expect, program   string
	regex                   bool
	sorry                   netip.Addr
	hasChecks, hasSorryInfo bool
}

// checkSettings reads the settings back from a service's health: every
// real server's check must be the same nanny check (lvs.cf has one per
// virtual server); a real server without checks (new to the file) gets
// the virtual's.
func checkSettings(vh *config.VirtualHealth) (settings, error) {
	var s settings
	if vh == nil {
		return s, nil
	}
	s.hasSorryInfo = true
	if vh.Sorry != nil {
		s.sorry = vh.Sorry.Addr
	}
	var first *config.Check
	for i := range vh.Reals {
		rh := &vh.Reals[i]
		if len(rh.Checks) == 0 {
			continue // a real server new to the file: it gets the virtual's check
		}
		if len(rh.Checks) != 1 || rh.Checks[0].Kind != config.CheckNanny {
			return s, fmt.Errorf("real server %s of %s: lvs.cf holds one send/expect check (nanny) per real server, not %s: %w",
				netip.AddrPortFrom(rh.Addr, rh.Port), vh.Service.Name(), checkKinds(rh.Checks), ErrNotExpressible)
		}
		c := &rh.Checks[0]
		if rh.Inhibit != c.QuiesceServer {
			return s, fmt.Errorf("real server %s of %s: lvs.cf's quiesce_server sets both the check's quiesce and inhibit: %w", netip.AddrPortFrom(rh.Addr, rh.Port), vh.Service.Name(), ErrNotExpressible)
		}
		if first == nil {
			first = c
			continue
		}
		if c.Send != first.Send || c.Expect != first.Expect || c.UseRegex != first.UseRegex || c.SendProgram != first.SendProgram ||
			c.Timeout != first.Timeout || c.Reentry != first.Reentry || c.QuiesceServer != first.QuiesceServer {
			return s, fmt.Errorf("the real servers of %s have different checks, and lvs.cf has one send/expect, timeout, reentry and quiesce_server per virtual server: %w", vh.Service.Name(), ErrNotExpressible)
		}
	}
	if first == nil {
		return s, nil
	}
	s.hasChecks = true
	s.timeout, s.reentry, s.quiesce = first.Timeout, first.Reentry, first.QuiesceServer
	s.send, s.expect, s.program, s.regex = first.Send, first.Expect, first.SendProgram, first.UseRegex
	return s, nil
}

func checkKinds(cs []config.Check) string {
	if len(cs) == 0 {
		return "none"
	}
	var k []string
	for _, c := range cs {
		k = append(k, c.Kind.String())
	}
	return strings.Join(k, " and ")
}

func healthOf(f *config.File, k config.ServiceKey) *config.VirtualHealth {
	for i := range f.Health {
		if f.Health[i].Service == k {
			return &f.Health[i]
		}
	}
	return nil
}

// expressible refuses what a virtual block cannot hold.
func expressible(s *config.Service) error {
	name := s.Key().Name()
	switch {
	case s.Proto != vs.TCP && s.Proto != vs.UDP:
		return fmt.Errorf("%s: lvs.cf has tcp and udp only: %w", name, ErrNotExpressible)
	case s.FwMark == 0 && !s.Addr.Is4(), s.IPv6():
		// An IPv6 fwmark service (ipvsadm -f N -6) too: lvs.cf's fwmark
		// has no family.
		return fmt.Errorf("%s: lvs.cf is IPv4 only: %w", name, ErrNotExpressible)
	case len(s.SchedFlags) > 0:
		return fmt.Errorf("%s: scheduler flags (%s): lvs.cf has none: %w", name, strings.Join(s.SchedFlags, ","), ErrNotExpressible)
	case s.OnePacket:
		return fmt.Errorf("%s: one-packet scheduling: lvs.cf has none: %w", name, ErrNotExpressible)
	case len(s.LocalAddrs) > 0 || s.SynProxy:
		return fmt.Errorf("%s: FULLNAT local addresses and synproxy: lvs.cf has neither: %w", name, ErrNotExpressible)
	case s.Persistent && s.Timeout == 0:
		return fmt.Errorf("%s: persistence without a timeout: %w", name, ErrNotExpressible)
	}
	for _, d := range s.Dests {
		ap := netip.AddrPortFrom(d.Addr, d.Port)
		switch {
		case d.UThreshold != 0 || d.LThreshold != 0:
			return fmt.Errorf("real server %s of %s: connection thresholds: lvs.cf has none: %w", ap, name, ErrNotExpressible)
		case d.Weight < 0 || d.Weight > maxWeight:
			return fmt.Errorf("real server %s of %s: weight %d: lvs.cf takes 0 to %d: %w", ap, name, d.Weight, maxWeight, ErrNotExpressible)
		case !d.Addr.Is4():
			return fmt.Errorf("real server %s of %s: lvs.cf is IPv4 only: %w", ap, name, ErrNotExpressible)
		case d.Method == vs.Masq && d.Port == 0 && s.FwMark == 0:
			return fmt.Errorf("real server %s of %s: port 0: %w", ap, name, ErrNotExpressible)
		}
	}
	return nil
}

// service writes one service of want: its virtual block changed, or a
// new one.
func (r *rewriter) service(s *config.Service) error {
	if err := expressible(s); err != nil {
		return err
	}
	k := s.Key()
	ws, err := checkSettings(healthOf(r.want, k))
	if err != nil {
		return err
	}
	i := slices.IndexFunc(r.p.virtuals, func(v *virtual) bool { return v.loaded && v.key == k })
	if i < 0 {
		return r.newVirtual(s, ws)
	}
	v := r.p.virtuals[i]
	have, _ := checkSettings(healthOf(r.old, k))
	var old config.Service
	for _, o := range r.old.Rules.Services {
		if o.Key() == k {
			old = o
		}
	}
	from := r.d.at(v.num)
	set := func(key, value string) { r.d.set(from+1, r.d.end(from), key, value, virtualIndent) }
	unset := func(key string) { r.d.unset(from+1, r.d.end(from), key) }
	if dev := r.device(v.addr, v.device); dev != v.device {
		w, err := word(dev)
		if err != nil {
			return fmt.Errorf("%s's device: %w", k.Name(), err)
		}
		set("address", v.addr.String()+" "+w)
	}
	if m := r.vipNmask(v.addr, v.vipNmask); m != v.vipNmask {
		if m.IsValid() {
			set("vip_nmask", m.String())
		} else {
			unset("vip_nmask")
		}
	}
	if sched(s.Scheduler) != sched(old.Scheduler) {
		set("scheduler", sched(s.Scheduler))
	}
	if s.Persistent != old.Persistent || s.Timeout != old.Timeout {
		set("persistent", strconv.FormatUint(uint64(persist(s)), 10))
	}
	if s.Netmask != old.Netmask {
		if s.Netmask.IsValid() {
			set("pmask", s.Netmask.String())
		} else {
			unset("pmask")
		}
	}
	if err := r.checks(k, ws, have, set, unset); err != nil {
		return err
	}
	return r.servers(v, s, from)
}

func sched(s string) string {
	if s == "" {
		return "wlc"
	}
	return s
}

func persist(s *config.Service) uint32 {
	if !s.Persistent {
		return 0
	}
	return s.Timeout
}

// device is the device want gives the virtual address a when it
// differs from the file's, else def.
func (r *rewriter) device(a netip.Addr, def string) string {
	if w, ok := r.vipChange(a); ok && w.Device != "" {
		return w.Device
	}
	return def
}

func (r *rewriter) vipNmask(a, def netip.Addr) netip.Addr {
	if w, ok := r.vipChange(a); ok {
		return w.Netmask
	}
	return def
}

// vipChange returns want's floating address a when it is new or differs
// from the file's.
func (r *rewriter) vipChange(a netip.Addr) (config.PulseVIP, bool) {
	for _, w := range r.want.Pulse.VIPs {
		if w.Addr != a {
			continue
		}
		for _, o := range r.old.Pulse.VIPs {
			if o.Addr == a {
				return w, o != w
			}
		}
		return w, true
	}
	return config.PulseVIP{}, false
}

// checks writes the check settings of ws that differ from os.
func (r *rewriter) checks(k config.ServiceKey, ws, have settings, set func(k, v string), unset func(string)) error {
	if ws.hasSorryInfo && ws.sorry != have.sorry {
		if ws.sorry.IsValid() {
			set("sorry_server", ws.sorry.String())
		} else {
			unset("sorry_server")
		}
	}
	if !ws.hasChecks {
		return nil
	}
	if ws.timeout != have.timeout || !have.hasChecks {
		v, err := seconds(k.Name()+": timeout", ws.timeout, 1)
		if err != nil {
			return err
		}
		set("timeout", v)
	}
	if ws.reentry != have.reentry || !have.hasChecks {
		v, err := seconds(k.Name()+": reentry", ws.reentry, 1)
		if err != nil {
			return err
		}
		set("reentry", v)
	}
	if ws.quiesce != have.quiesce || !have.hasChecks {
		set("quiesce_server", boolWord(ws.quiesce))
	}
	if ws.send == have.send && ws.expect == have.expect && ws.program == have.program && ws.regex == have.regex && have.hasChecks {
		return nil
	}
	if ws.program != "" && ws.expect == "" {
		return fmt.Errorf("%s: send_program without expect can never succeed: %w", k.Name(), ErrNotExpressible)
	}
	for _, kv := range []struct {
		key, v string
		esc    bool
	}{{"send", ws.send, true}, {"expect", ws.expect, true}, {"send_program", ws.program, false}} {
		if kv.key == "send" && ws.program != "" && kv.v != "" {
			return fmt.Errorf("%s: send is not used beside send_program (nanny ignores it): %w", k.Name(), ErrNotExpressible)
		}
		if kv.v == "" {
			unset(kv.key)
			continue
		}
		v := kv.v
		if kv.esc {
			v = config.NannyEscape(v)
		}
		w, err := word(v)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", k.Name(), kv.key, err)
		}
		set(kv.key, w)
	}
	set("use_regex", boolWord(ws.regex))
	return nil
}

// servers writes the real servers of s into the virtual block at from:
// weights of those it has, blocks for new ones, none for those gone.
func (r *rewriter) servers(v *virtual, s *config.Service, from int) error {
	// Each loaded server block keeps the real server of its address and
	// port, else one of its address whose port changed (the block's port
	// is rewritten), else it goes.
	block := map[*server]int{} // server -> index in s.Dests
	taken := make([]bool, len(s.Dests))
	for _, exact := range []bool{true, false} {
		for _, sv := range v.servers {
			if _, ok := block[sv]; ok || !sv.loaded {
				continue
			}
			for j, d := range s.Dests {
				if !taken[j] && (netip.AddrPortFrom(d.Addr, d.Port) == sv.dest || !exact && d.Addr == sv.dest.Addr()) {
					block[sv], taken[j] = j, true
					break
				}
			}
		}
	}
	for _, sv := range v.servers {
		if !sv.loaded {
			continue
		}
		at := r.d.at(sv.num)
		j, ok := block[sv]
		if !ok {
			r.d.lines = slices.Delete(r.d.lines, at, r.d.end(at)+1)
			continue
		}
		d := s.Dests[j]
		if int(d.Weight) != sv.weight {
			r.d.set(at+1, r.d.end(at), "weight", strconv.Itoa(int(d.Weight)), serverIndent)
		}
		if netip.AddrPortFrom(d.Addr, d.Port) != sv.dest {
			if err := serverPort(s, d); err != nil {
				return err
			}
			if d.Port == s.Port || d.Port == 0 {
				r.d.unset(at+1, r.d.end(at), "port")
			} else {
				r.d.set(at+1, r.d.end(at), "port", strconv.Itoa(int(d.Port)), serverIndent)
			}
		}
	}
	names := map[string]bool{}
	for _, sv := range v.servers {
		names[sv.name] = true
	}
	for j, d := range s.Dests {
		if taken[j] {
			continue
		}
		lead, in := r.serverIndent(from)
		ls, err := r.serverBlock(s, d, names, lead, in)
		if err != nil {
			return err
		}
		r.d.insert(r.d.end(from), ls...)
	}
	return nil
}

// serverPort refuses a DR or TUN real server whose port is not the
// virtual's: lvs.cf would give it the virtual's.
func serverPort(s *config.Service, d config.Dest) error {
	if d.Method != vs.Masq && s.FwMark == 0 && d.Port != s.Port {
		return fmt.Errorf("real server %s of %s: with %v the real server's port is the virtual's (%d): %w", netip.AddrPortFrom(d.Addr, d.Port), s.Key().Name(), d.Method, s.Port, ErrNotExpressible)
	}
	return nil
}

// serverIndent is the indentation of the server blocks of the virtual
// block at from and of their settings: as its first server block has
// them, else one level deeper than the virtual's settings.
func (r *rewriter) serverIndent(from int) (lead, in string) {
	lead = r.d.indent(from+1, r.d.end(from), virtualIndent)
	in = lead + "    "
	for j := from + 1; j < r.d.end(from); j++ {
		if l := &r.d.lines[j]; l.opens() {
			lead = l.text[:len(l.text)-len(strings.TrimLeft(l.text, " \t"))]
			in = r.d.indent(j+1, r.d.end(j), lead+"    ")
			break
		}
	}
	return lead, in
}

// serverBlock is a new "server NAME { }" for d, its line indented by
// indent and its settings by in.
func (r *rewriter) serverBlock(s *config.Service, d config.Dest, names map[string]bool, indent, in string) ([]docLine, error) {
	if err := serverPort(s, d); err != nil {
		return nil, err
	}
	name := unique(names, "rs_"+strings.ReplaceAll(d.Addr.String(), ".", "_"))
	ls := []docLine{
		{text: indent + "server " + name + " {"},
		{text: in + "address = " + d.Addr.String()},
		{text: in + "active = 1"},
		{text: in + "weight = " + strconv.Itoa(int(d.Weight))},
	}
	if d.Port != s.Port && d.Port != 0 {
		ls = append(ls, docLine{text: in + "port = " + strconv.Itoa(int(d.Port))})
	}
	return append(ls, docLine{text: indent + "}"}), nil
}

func unique(names map[string]bool, base string) string {
	name := base
	for n := 2; names[name]; n++ {
		name = base + "_" + strconv.Itoa(n)
	}
	names[name] = true
	return name
}

// newVirtual adds a virtual block for s at the end of the file.
func (r *rewriter) newVirtual(s *config.Service, ws settings) error {
	k := s.Key()
	if s.FwMark != 0 {
		return fmt.Errorf("%s: a new firewall-mark virtual server needs its address and device in lvs.cf (add it to the file): %w", k.Name(), ErrNotExpressible)
	}
	dev := r.device(s.Addr, "")
	if dev == "" {
		for _, v := range r.p.virtuals {
			if v.addr == s.Addr && v.device != "" {
				dev = v.device
				break
			}
		}
	}
	if dev == "" && len(r.want.Interfaces) > 0 {
		dev = r.want.Interfaces[0]
	}
	if dev == "" && len(r.old.Interfaces) > 0 {
		dev = r.old.Interfaces[0]
	}
	devWord, err := word(dev)
	if err != nil || dev == "" {
		return fmt.Errorf("%s: no device for its address (lvs.cf's address = IP DEVICE): %w", k.Name(), ErrNotExpressible)
	}
	names := map[string]bool{}
	for _, v := range r.p.virtuals {
		names[v.name] = true
	}
	proto := map[vs.Protocol]string{vs.TCP: "tcp", vs.UDP: "udp"}[s.Proto]
	name := unique(names, proto+"_"+strings.ReplaceAll(s.Addr.String(), ".", "_")+"_"+strconv.Itoa(int(s.Port)))
	in := virtualIndent
	ls := []docLine{
		{text: "virtual " + name + " {"},
		{text: in + "active = 1"},
		{text: in + "address = " + s.Addr.String() + " " + devWord},
		{text: in + "protocol = " + proto},
		{text: in + "port = " + strconv.Itoa(int(s.Port))},
		{text: in + "scheduler = " + sched(s.Scheduler)},
	}
	if m := r.vipNmask(s.Addr, netip.Addr{}); m.IsValid() {
		ls = append(ls, docLine{text: in + "vip_nmask = " + m.String()})
	}
	if s.Persistent {
		ls = append(ls, docLine{text: in + "persistent = " + strconv.FormatUint(uint64(s.Timeout), 10)})
		if s.Netmask.IsValid() {
			ls = append(ls, docLine{text: in + "pmask = " + s.Netmask.String()})
		}
	}
	ls = append(ls, docLine{text: "}"})
	from := len(r.d.lines)
	r.d.insert(from, ls...)
	r.d.finalNL = true
	set := func(key, value string) { r.d.set(from+1, r.d.end(from), key, value, virtualIndent) }
	unset := func(key string) { r.d.unset(from+1, r.d.end(from), key) }
	// A new block starts from Piranha's defaults.
	def := settings{timeout: defaultTimeout * time.Second, reentry: defaultReentry * time.Second, hasChecks: true}
	if s.Port == 80 {
		def.send, def.expect = "GET / HTTP/1.0\r\n\r\n", "HTTP"
	}
	if err := r.checks(k, ws, def, set, unset); err != nil {
		return err
	}
	for _, d := range s.Dests {
		sl, err := r.serverBlock(s, d, map[string]bool{}, virtualIndent, serverIndent)
		if err != nil {
			return err
		}
		r.d.insert(r.d.end(from), sl...)
	}
	return nil
}

// differs says how back (the rewritten file, parsed) differs from want
// in what Rewrite writes; "" when it does not.
func differs(want, back *config.File) string {
	if want.Timeouts != back.Timeouts {
		return fmt.Sprintf("the timeouts would read %+v, not %+v", back.Timeouts, want.Timeouts)
	}
	wp, bp := *want.Pulse, *back.Pulse
	wv, bv := wp.VIPs, bp.VIPs
	wp.VIPs, bp.VIPs = nil, nil
	if !reflect.DeepEqual(wp, bp) {
		return fmt.Sprintf("the director pair and heartbeat settings would read %+v, not %+v", bp, wp)
	}
	for _, v := range wv {
		i := slices.IndexFunc(bv, func(b config.PulseVIP) bool { return b.Addr == v.Addr })
		if i >= 0 && bv[i] != v {
			return fmt.Sprintf("virtual address %v would be on %s, not %s", v.Addr, bv[i].Device, v.Device)
		}
	}
	if len(want.Rules.Services) != len(back.Rules.Services) {
		return fmt.Sprintf("%d virtual servers would read back, not %d", len(back.Rules.Services), len(want.Rules.Services))
	}
	for i := range want.Rules.Services {
		w := &want.Rules.Services[i]
		j := slices.IndexFunc(back.Rules.Services, func(s config.Service) bool { return s.Key() == w.Key() })
		if j < 0 {
			return fmt.Sprintf("%s would not read back", w.Key().Name())
		}
		if msg := sameService(w, &back.Rules.Services[j]); msg != "" {
			return w.Key().Name() + ": " + msg
		}
		ws, _ := checkSettings(healthOf(want, w.Key()))
		bs, _ := checkSettings(healthOf(back, w.Key()))
		if ws.hasChecks && (!bs.hasChecks || ws != bs) {
			return fmt.Sprintf("%s: the checks would read %+v, not %+v", w.Key().Name(), bs, ws)
		}
		if ws.hasSorryInfo && ws.sorry != bs.sorry {
			return fmt.Sprintf("%s: the sorry server would read %v, not %v", w.Key().Name(), bs.sorry, ws.sorry)
		}
	}
	return ""
}

func sameService(w, b *config.Service) string {
	wc, bc := *w, *b
	wc.Dests, bc.Dests = nil, nil
	for _, c := range []*config.Service{&wc, &bc} {
		if len(c.SchedFlags) == 0 {
			c.SchedFlags = nil
		}
		if len(c.LocalAddrs) == 0 {
			c.LocalAddrs = nil
		}
	}
	wc.Scheduler, bc.Scheduler = sched(wc.Scheduler), sched(bc.Scheduler)
	if !reflect.DeepEqual(wc, bc) {
		return fmt.Sprintf("would read %+v, not %+v", bc, wc)
	}
	if len(w.Dests) != len(b.Dests) {
		return fmt.Sprintf("%d real servers would read back, not %d", len(b.Dests), len(w.Dests))
	}
	for _, d := range w.Dests {
		if !slices.Contains(b.Dests, d) {
			return fmt.Sprintf("real server %s (%v, weight %d) would not read back as it is", netip.AddrPortFrom(d.Addr, d.Port), d.Method, d.Weight)
		}
	}
	return ""
}
