package piranha

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// virtual is one virtual (or failover) block as written.
type virtual struct {
	num      int // line of "virtual NAME {"
	name     string
	failover bool

	active      bool
	addr        netip.Addr
	device      string
	addrLine    int
	vipNmask    netip.Addr
	sorry       netip.Addr
	fwmark      uint32
	proto       vs.Protocol
	port        uint16
	portLine    int
	sched       string
	persistent  int
	pmask       netip.Addr
	pmaskLine   int
	send        string
	sendLine    int
	sendProgram string
	expect      string
	useRegex    bool
	timeout     int
	reentry     int
	quiesce     bool
	servers     []*server
	// key is the service an active virtual became (build); loaded
	// reports that it did.
	key    config.ServiceKey
	loaded bool
}

// server is one server block.
type server struct {
	num     int
	name    string
	addr    netip.Addr
	hasAddr bool
	active  bool
	weight  int
	port    uint16
	portSet bool
	// dest is the real server it became (service); loaded reports that
	// it did.
	dest   netip.AddrPort
	loaded bool
}

// Keywords of failover-service blocks, which a virtual block may carry
// without effect (lvsconfig.c reads them in both).
var fosKeywords = []string{"start_cmd", "stop_cmd", "master", "dirs"}

// block reads "virtual NAME {" or "failover NAME {" at lines[i] up to its
// "}", and returns the index of that line.
func (p *parser) block(lines []line, i int) int {
	l := &lines[i]
	if len(l.words) < 3 {
		p.errorf(l.num, l.keyword(), "missing arguments: write \"%s NAME {\"", l.keyword())
		return i
	}
	if len(l.words) > 3 {
		p.errorf(l.num, l.keyword(), "unexpected arguments after '{' (%s)", strings.Join(l.words[3:], " "))
		return i
	}
	if l.words[2] != "{" {
		p.errorf(l.num, l.keyword(), "missing arguments: '{' expected after %s %s (on the same line)", l.keyword(), l.words[1])
		return i
	}
	v := &virtual{
		num: l.num, name: l.words[1], failover: l.keyword() == "failover",
		proto: vs.TCP, port: defaultPort, sched: "wlc",
		timeout: defaultTimeout, reentry: defaultReentry,
	}
	for i++; i < len(lines) && p.err == nil; i++ {
		c := &lines[i]
		switch c.keyword() {
		case "}":
			if len(c.words) > 1 {
				p.errorf(c.num, "", "unexpected arguments after '}' (%s)", strings.Join(c.words[1:], " "))
			}
			p.virtuals = append(p.virtuals, v)
			return i
		case "server":
			i = p.server(v, lines, i)
		default:
			p.virtualKeyword(v, c)
		}
	}
	if p.err == nil {
		p.errorf(l.num, l.keyword(), "unexpected end of file: %s %s { is not closed", l.keyword(), v.name)
	}
	return i
}

// virtualKeyword reads one setting of a virtual block.
func (p *parser) virtualKeyword(v *virtual, l *line) {
	var ok bool
	switch kw := l.keyword(); kw {
	case "active":
		v.active, _ = p.boolean(l)
	case "address":
		v.addr, v.device, ok = p.addrDevice(l)
		if ok {
			v.addrLine = l.num
		}
	case "vip_nmask":
		v.vipNmask, _ = p.netmask(l)
	case "sorry_server":
		s, ok := p.value(l)
		if !ok {
			return
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			p.errorf(l.num, kw, "invalid IP address %q (an IPv4 address; Piranha takes no name or port here)", s)
			return
		}
		if p.unicast(l, a) {
			v.sorry = a
		}
	case "fwmark":
		n, ok := p.num(l, 0, 1<<31-1)
		if ok {
			v.fwmark = uint32(n)
		}
	case "protocol":
		if w, ok := p.oneOf(l, "tcp", "udp"); ok {
			v.proto = map[string]vs.Protocol{"tcp": vs.TCP, "udp": vs.UDP}[w]
		}
	case "port":
		v.port, ok = p.port(l, true)
		if ok {
			v.portLine = l.num
		}
	case "scheduler":
		s, ok := p.value(l)
		if !ok {
			return
		}
		if !config.KnownScheduler(s) {
			p.errorf(l.num, kw, "invalid argument %q: rr, wrr, lc, wlc, lblc, lblcr, dh, sh (or another scheduler ulvs has)", s)
			return
		}
		v.sched = s
	case "persistent":
		v.persistent, _ = p.num(l, 0, config.MaxTimeout)
	case "pmask":
		v.pmask, ok = p.netmask(l)
		if ok {
			v.pmaskLine = l.num
		}
	case "send", "expect":
		s, ok := p.value(l)
		if !ok {
			return
		}
		u, err := config.NannyUnescape(s)
		if err != nil {
			p.errorf(l.num, kw, "%s", err)
			return
		}
		if kw == "send" {
			v.send, v.sendLine = u, l.num
		} else {
			v.expect = u
		}
	case "send_program":
		s, ok := p.value(l)
		if !ok {
			return
		}
		if strings.TrimSpace(s) == "" {
			p.errorf(l.num, kw, "names no program")
			return
		}
		v.sendProgram = s
	case "use_regex":
		v.useRegex, _ = p.boolean(l)
	case "timeout":
		v.timeout, _ = p.num(l, 1, maxSeconds)
	case "reentry":
		v.reentry, _ = p.num(l, 0, maxSeconds)
	case "quiesce_server":
		v.quiesce, _ = p.boolean(l)
	case "load_monitor":
		s, ok := p.value(l)
		if !ok || s == "none" {
			return
		}
		switch s {
		case "uptime", "ruptime", "rup":
			p.errorf(l.num, kw, "load_monitor = %s is not implemented by ulvs (weights from the real servers' load average): write load_monitor = none", s)
		default:
			p.errorf(l.num, kw, "load_monitor = %s: ulvs runs no load-monitor command (nanny would run %q); write load_monitor = none", s, s)
		}
	case "client_monitor":
		if s, ok := p.value(l); ok {
			p.warnf(l.num, "client_monitor = %s is not run: ulvs checks the servers with its own nanny", s)
		}
	default:
		if slices.Contains(fosKeywords, kw) {
			p.values(l, len(l.words)-2)
			if p.err == nil && !v.failover {
				p.warnf(l.num, "%s is a failover-service setting: a virtual server does not use it (nor does Piranha)", kw)
			}
			return
		}
		p.errorf(l.num, kw, "unknown command %q in %s %s (Piranha refuses it too)", kw, blockWord(v), v.name)
	}
}

func blockWord(v *virtual) string {
	if v.failover {
		return "failover"
	}
	return "virtual"
}

// server reads "server NAME {" at lines[i] up to its "}".
func (p *parser) server(v *virtual, lines []line, i int) int {
	l := &lines[i]
	switch {
	case len(l.words) < 3 || l.words[2] != "{":
		p.errorf(l.num, "server", "missing arguments: write \"server NAME {\"")
		return i
	case len(l.words) > 3:
		p.errorf(l.num, "server", "unexpected arguments after '{' (%s)", strings.Join(l.words[3:], " "))
		return i
	}
	s := &server{num: l.num, name: l.words[1], weight: 1}
	for i++; i < len(lines) && p.err == nil; i++ {
		c := &lines[i]
		var ok bool
		switch kw := c.keyword(); kw {
		case "}":
			if len(c.words) > 1 {
				p.errorf(c.num, "", "unexpected arguments after '}' (%s)", strings.Join(c.words[1:], " "))
			}
			v.servers = append(v.servers, s)
			return i
		case "address":
			str, ok := p.value(c)
			if !ok {
				return i
			}
			if s.addr, ok = p.host(c, str); ok && p.unicast(c, s.addr) {
				s.hasAddr = true
			}
		case "active":
			s.active, _ = p.boolean(c)
		case "weight":
			s.weight, _ = p.num(c, 0, maxWeight)
		case "port":
			s.port, ok = p.port(c, false)
			if ok && s.port == 0 {
				p.errorf(c.num, kw, "must be between 1 and 65535 (got 0)")
			}
			s.portSet = ok
		default:
			p.errorf(c.num, kw, "unknown command %q in server %s (address, active, weight and port only)", kw, s.name)
		}
	}
	if p.err == nil {
		p.errorf(l.num, "server", "unexpected end of file: server %s { is not closed", s.name)
	}
	return i
}

// build turns the active virtual servers into services, health checks,
// interfaces and the pulse model, as lvsd and nanny would run them.
func (p *parser) build() {
	f, pu := p.file, p.pulse
	if !p.sawPriv {
		// lvsconfig.c: without primary_private the heartbeat uses the
		// public addresses.
		pu.PrimaryPrivate, pu.BackupPrivate = pu.Primary, pu.Backup
	}
	if !p.methodSet && slices.ContainsFunc(p.virtuals, func(v *virtual) bool { return v.active && !v.failover }) {
		p.warnf(0, "no network setting: Piranha's default is nat (write network = direct, nat or tunnel)")
	}
	seen := map[config.ServiceKey]*virtual{}
	var ifaces []string
	addIface := func(dev string) {
		if b := baseDevice(dev); !slices.Contains(ifaces, b) {
			ifaces = append(ifaces, b)
		}
	}
	for _, v := range p.virtuals {
		if v.failover {
			p.warnf(v.num, "failover %s is not run: service = lvs runs virtual servers only (as pulse does)", v.name)
			continue
		}
		if !v.active {
			continue // lvsd starts no inactive virtual server, and says nothing
		}
		svc, vh, ok := p.service(v)
		if !ok {
			return
		}
		k := svc.Key()
		if old := seen[k]; old != nil {
			p.errorf(v.num, "virtual", "virtual %s is the same service as virtual %s (line %d)", v.name, old.name, old.num)
			return
		}
		seen[k] = v
		v.key, v.loaded = k, true
		f.Rules.Services = append(f.Rules.Services, svc)
		f.Health = append(f.Health, *vh)
		addIface(v.device)
		if !slices.ContainsFunc(pu.VIPs, func(x config.PulseVIP) bool { return x.Addr == v.addr }) {
			pu.VIPs = append(pu.VIPs, config.PulseVIP{Addr: v.addr, Device: v.device, Netmask: v.vipNmask})
		}
	}
	if p.natRouter.IsValid() {
		bits := p.natBits
		if bits == 0 {
			bits = 32
		}
		pu.NATRouter = netip.PrefixFrom(p.natRouter, bits)
	}
	if p.method == vs.Masq && pu.NATRouterDevice != "" {
		addIface(pu.NATRouterDevice)
	}
	f.Interfaces = ifaces
	if p.natRouterLine != 0 && p.method != vs.Masq {
		// Piranha brings the NAT router address up for network = nat
		// only; ulvsd answers for it only then.
		p.warnf(p.natRouterLine, "nat_router is only used with network = nat (ignored)")
		pu.NATRouter, pu.NATRouterDevice = netip.Prefix{}, ""
	}
	if !pu.BackupActive && p.monitorLinksLine != 0 {
		// pulse's check_links: "us being quasi-up is better than
		// nothing up at all".
		p.warnf(p.monitorLinksLine, "monitor_links = 1 is not used without backup_active = 1 (as pulse: a lone director serves whatever its links)")
	}
	if !pu.BackupActive {
		for _, at := range p.cmdLines {
			p.warnf(at, "active_cmd and inactive_cmd are not run without backup_active = 1 (ulvsd runs no pulse then)")
		}
	}
	if pu.SyncDaemon {
		// lvsd runs ipvsadm --start-daemon master on the active director
		// and backup on the inactive one: the sync daemon follows pulse.
		iface := pu.SyncdIface
		if iface == "" {
			iface = "eth0" // lvsconfig.c's default
		}
		f.Sync = &config.SyncDaemon{Interface: iface, Instance: config.PulseInstance, SyncID: uint8(pu.SyncID)}
	}
}

// service builds one active virtual server's service and health.
func (p *parser) service(v *virtual) (config.Service, *config.VirtualHealth, bool) {
	if !v.addr.IsValid() {
		p.errorf(v.num, "virtual", "virtual %s has no address (address = IP DEVICE is required)", v.name)
		return config.Service{}, nil, false
	}
	svc := config.Service{Proto: v.proto, Addr: v.addr, Port: v.port, Scheduler: v.sched}
	if v.fwmark != 0 {
		svc = config.Service{Proto: vs.TCP, FwMark: v.fwmark, Scheduler: v.sched}
		p.warnf(v.num, "virtual %s: fwmark %d: the marks come from the director's iptables/nft MARK rules (ulvsd reads them; see ulvs marks); no packet reaches this service until a rule or a [[fwmark]] table in ulvs's TOML defines mark %d", v.name, v.fwmark, v.fwmark)
	}
	if v.persistent > 0 {
		svc.Persistent, svc.Timeout = true, uint32(v.persistent)
		if v.pmask.IsValid() && v.pmask != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			svc.Netmask = v.pmask
		}
	} else if v.pmaskLine != 0 {
		p.warnf(v.pmaskLine, "virtual %s: pmask has no effect without persistent (as in Piranha)", v.name)
	}
	if svc.FwMark == 0 && svc.Port == 0 && !svc.Persistent {
		p.errorf(v.portLine, "port", "virtual %s: port 0 is only valid for a persistent service (ipvsadm: zero port specified for non-persistent service)", v.name)
		return svc, nil, false
	}
	if v.sendProgram != "" && v.expect == "" {
		p.errorf(v.num, "send_program", "virtual %s: send_program without expect can never succeed (nanny compares the program's output with expect)", v.name)
		return svc, nil, false
	}
	if v.sendProgram != "" && v.send != "" {
		p.warnf(v.sendLine, "virtual %s: send is ignored when send_program is set (as nanny does)", v.name)
		v.send = ""
	}
	if v.useRegex && v.expect != "" {
		if _, err := regexp.Compile(v.expect); err != nil {
			p.errorf(v.num, "expect", "virtual %s: expect is not a regular expression: %v", v.name, err)
			return svc, nil, false
		}
	}
	send, expect := v.send, v.expect
	if v.port == 80 && send == "" && expect == "" && v.sendProgram == "" {
		// nanny: "no monitor configured, assuming web service on port 80".
		send, expect = "GET / HTTP/1.0\r\n\r\n", "HTTP"
	}
	reentry := v.reentry
	if reentry == 0 {
		reentry = defaultReentry // nanny's default for -a 0
	}
	vh := &config.VirtualHealth{
		Service:   svc.Key(),
		DelayLoop: time.Duration(v.timeout) * time.Second,
		// lvsd adds the service empty; nanny adds each server after its
		// first good check.
		Alpha: true,
	}
	if v.sorry.IsValid() {
		vh.Sorry = &config.SorryServer{Addr: v.sorry, Method: p.method}
	}
	for _, s := range v.servers {
		if !s.hasAddr {
			p.errorf(s.num, "server", "server %s has no address", s.name)
			return svc, nil, false
		}
		if !s.active {
			continue // lvsd starts no monitor for an inactive server
		}
		rport := v.port
		if s.portSet {
			rport = s.port
		}
		d := config.Dest{Addr: s.addr, Port: rport, Method: p.method, Weight: int32(s.weight)}
		if p.method != vs.Masq {
			switch {
			case svc.FwMark != 0:
				d.Port = 0
			case rport != v.port:
				p.warnf(s.num, "server %s: port %d differs from virtual %s's port %d, which %v keeps (ipvsadm -g/-i sets the service's)", s.name, rport, v.name, v.port, p.method)
				d.Port = v.port
			}
		}
		if slices.ContainsFunc(svc.Dests, func(o config.Dest) bool { return o.Addr == d.Addr && o.Port == d.Port }) {
			p.warnf(s.num, "server %s: %s is already a real server of virtual %s (ignored, as lvsd starts one monitor per address and port)", s.name, netip.AddrPortFrom(d.Addr, d.Port), v.name)
			continue
		}
		svc.Dests = append(svc.Dests, d)
		s.dest, s.loaded = netip.AddrPortFrom(d.Addr, d.Port), true
		ck := config.NewCheck(config.CheckNanny)
		if d.Port != rport {
			ck.ConnectPort = rport // nanny checks the server's port, which a DR/TUN fwmark dest lacks
		}
		ck.Warmup = 0 // nanny checks at once
		ck.Send, ck.Expect, ck.UseRegex = send, expect, v.useRegex
		ck.SendProgram = v.sendProgram
		ck.Proto = v.proto
		ck.Timeout = time.Duration(v.timeout) * time.Second
		ck.Reentry = time.Duration(reentry) * time.Second
		ck.QuiesceServer = v.quiesce
		vh.Reals = append(vh.Reals, config.RealHealth{
			Addr: d.Addr, Port: d.Port,
			// nanny with quiesce_server sets a failed server's weight
			// to 0 instead of removing it.
			Inhibit: v.quiesce,
			Checks:  []config.Check{ck},
		})
	}
	if len(svc.Dests) == 0 {
		p.warnf(v.num, "virtual %s has no active real servers: it accepts no connections%s", v.name, map[bool]string{true: " but the sorry server's", false: ""}[vh.Sorry != nil])
	}
	config.ResolveHealth(vh, nil)
	return svc, vh, true
}
