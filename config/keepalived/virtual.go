package keepalived

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// Limits and defaults of keepalived 2.2.7 (check/check_data.c, alloc_vs;
// include/ip_vs.h, libipvs.h, global_data.h).
const (
	defaultVSWeight       = 1
	defaultPersistTimeout = config.DefaultPersistentTimeout // IPVS_SVC_PERSISTENT_TIMEOUT, 6*60
	maxWeight             = 65535                           // ipvsadm 1.31's -w bound (ulvsadm -w and ulvs.toml take the kernel's INT_MAX)
	maxThreshold          = math.MaxInt32                   // Rules keep ipvsadm's INT_MAX bound
	maxConnectTimeoutUS   = math.MaxUint32                  // connect_timeout: UINT_MAX microseconds
	// maxServices bounds the services virtual_server_group ranges expand
	// to; keepalived has no bound, ulvs refuses a config past it.
	maxServices = 4096
)

// virtualServer is one virtual_server block as written; build expands it
// into services.
type virtualServer struct {
	node   *Node
	addr   netip.Addr
	port   uint16
	fwmark uint32
	group  string
	// family is "inet" or "inet6" once ip_family (or, for a group, an
	// address-family-bound persistence_granularity) set it, as
	// keepalived's vs->af; "" is keepalived's AF_UNSPEC.
	family string

	proto       vs.Protocol
	sched       string
	schedBits   int
	ops         bool
	synProxy    *Node // DPVS's keepalived: the syn_proxy line, nil without
	method      vs.Method
	persist     bool
	timeout     uint32
	netmask     netip.Addr
	haSuspend   bool
	alpha       bool
	omega       bool
	inhibit     bool
	virtualhost string
	quorum      uint32
	hysteresis  uint32
	quorumUp    config.Script
	quorumDown  config.Script
	weight      int32
	sorry       *sorryServer
	timing      config.Timing
	reals       []*realServer
	// keys are the services the block became (build).
	keys []config.ServiceKey
}

type sorryServer struct {
	node    *Node
	addr    netip.Addr
	port    uint16
	method  vs.Method // 0: the virtual server's
	inhibit bool
}

// realServer is one real_server block.
type realServer struct {
	node        *Node
	addr        netip.Addr
	port        uint16
	weight      optInt
	method      vs.Method // 0: the virtual server's
	uthreshold  uint32
	lthreshold  uint32
	inhibit     optBool
	alpha       optBool
	notifyUp    config.Script
	notifyDown  config.Script
	virtualhost string
	timing      config.Timing
	checks      []*checkSpec
	// dests are the real servers the block became, one per service of
	// its virtual server (service).
	dests []netip.AddrPort
}

// timingKeyword reads a checker timer keyword of a virtual_server,
// real_server or checker block into t (config.Timing: what the block sets
// for the checkers under it; unset fields stay config.Unset). minRetry is
// 1 for virtual and real servers, 0 for checkers (keepalived's bounds).
// It reports whether n was one.
func (p *parser) timingKeyword(t *config.Timing, n *Node, minRetry uint64) bool {
	switch n.Keyword() {
	case "connect_timeout":
		p.timer(n, 1, maxConnectTimeoutUS, &t.ConnectTimeout)
	case "delay_loop":
		p.timer(n, 1, maxTimer, &t.DelayLoop)
	case "delay_before_retry":
		p.timer(n, 0, maxTimer, &t.DelayBeforeRetry)
	case "warmup":
		p.timer(n, 0, maxTimer, &t.Warmup)
	case "retry":
		if v, ok := p.uint(n, minRetry, math.MaxUint32); ok {
			t.Retry = int(v)
		}
	default:
		return false
	}
	return true
}

// notifyOnly reads the keywords of virtual and real servers that only
// feed keepalived's mail and SNMP, which ulvs does not have; it reports
// whether n was one.
func (p *parser) notifyOnly(n *Node) bool {
	switch n.Keyword() {
	case "smtp_alert":
		if _, ok := p.flag(n); ok {
			p.warnf(n, "smtp_alert: ulvs sends no mail (ignored)")
		}
	case "snmp_name":
		if _, ok := p.arg(n); ok {
			p.warnf(n, "snmp_name: ulvs has no SNMP agent (ignored)")
		}
	default:
		return false
	}
	return true
}

// virtualServer reads a virtual_server block.
func (p *parser) virtualServer(n *Node) {
	v := &virtualServer{node: n, quorum: config.DefaultQuorum, weight: defaultVSWeight, timing: config.UnsetTiming()}
	args := n.Args()
	switch {
	case len(args) == 2 && args[0] == "group":
		v.group = args[1]
	case len(args) == 2 && args[0] == "fwmark":
		m, msg := parseUint(args[1], 1, math.MaxUint32)
		if msg != "" {
			p.errorf(n, "fwmark %s", msg)
			return
		}
		v.fwmark = uint32(m)
	case len(args) == 1 || len(args) == 2:
		a, msg := parseAddr(args[0])
		if msg == "" {
			msg = vipMsg(a)
		}
		if msg == "" {
			v.port, msg = parsePort(args, 1)
		}
		if msg != "" {
			p.errorf(n, "%s", msg)
			return
		}
		v.addr = a
	default:
		p.errorf(n, "takes IP [PORT], fwmark N or group NAME (got %q)", strings.Join(args, " "))
		return
	}
	protoSet := false
	for _, c := range n.Children {
		if p.err != nil {
			return
		}
		if p.timingKeyword(&v.timing, c, 1) || p.notifyOnly(c) {
			continue
		}
		switch kw := c.Keyword(); kw {
		case "real_server":
			if rs := p.realServer(v, c); rs != nil {
				v.reals = append(v.reals, rs)
			}
		case "lb_algo", "lvs_sched":
			if s, ok := p.arg(c); ok {
				if !slices.Contains(keepalivedSchedulers, s) {
					p.errorf(c, "%q is not a scheduler (%s)", s, strings.Join(keepalivedSchedulers, ", "))
					return
				}
				v.sched = s
			}
		case "lb_kind", "lvs_method":
			if m, ok := p.method(c); ok {
				v.method = m
			}
		case "protocol":
			if s, ok := p.arg(c); ok {
				switch strings.ToUpper(s) {
				case "TCP":
					v.proto = vs.TCP
				case "UDP":
					v.proto = vs.UDP
				case "SCTP":
					p.errorf(c, "SCTP is not supported by ulvs (TCP and UDP only)")
				default:
					p.errorf(c, "%q is not TCP, UDP or SCTP", s)
				}
				protoSet = true
			}
		case "persistence_timeout":
			if !p.noBlock(c) {
				return
			}
			v.persist, v.timeout = true, defaultPersistTimeout
			if len(c.Args()) > 0 {
				if t, ok := p.uint(c, 1, config.MaxTimeout); ok {
					v.timeout = uint32(t)
				}
			}
		case "persistence_granularity":
			if s, ok := p.arg(c); ok && p.granularity6(v, s) {
				// IPv6: a prefix length (keepalived's vs_pgran_handler).
				if bits, ok := p.uint(c, 1, 128); ok {
					v.netmask = config.IPv6Mask(int(bits))
				}
			} else if ok {
				m, msg := parseIPv4(s)
				if msg != "" {
					p.errorf(c, "%s (an IPv4 netmask)", msg)
					return
				}
				if _, ok := config.ParseNetmask(s); !ok {
					// keepalived and the kernel take any mask; ulvs's
					// formats share config's rule.
					p.errorf(c, "%s is not a contiguous netmask like 255.255.255.0, which ulvs needs", s)
					return
				}
				v.netmask = m
			}
		case "persistence_engine":
			p.errorf(c, "persistence engines are not supported by ulvs")
		case "ops":
			v.ops = p.bare(c)
		case "syn_proxy": // DPVS's keepalived
			if p.bare(c) {
				v.synProxy = c
			}
		case "flag-1", "flag-2", "flag-3", "sh-fallback", "sh-port", "mh-fallback", "mh-port":
			if p.bare(c) {
				v.schedBits |= schedFlagBit[kw]
			}
		case "hashed":
			if p.bare(c) {
				p.warnf(c, "hashed has no effect (ignored, as by the kernel)")
			}
		case "ha_suspend":
			v.haSuspend = p.bare(c)
		case "alpha":
			v.alpha = p.bare(c)
		case "omega":
			v.omega = p.bare(c)
		case "inhibit_on_failure":
			v.inhibit = p.bare(c)
		case "virtualhost":
			v.virtualhost, _ = p.arg(c)
		case "quorum":
			if q, ok := p.uint(c, 1, math.MaxUint32); ok {
				v.quorum = uint32(q)
			}
		case "hysteresis":
			if h, ok := p.uint(c, 0, math.MaxUint32); ok {
				v.hysteresis = uint32(h)
			}
		case "quorum_up":
			v.quorumUp, _ = p.script(c, v.quorumUp)
		case "quorum_down":
			v.quorumDown, _ = p.script(c, v.quorumDown)
		case "weight":
			if w, ok := p.uint(c, 1, maxWeight); ok {
				v.weight = int32(w)
			}
		case "sorry_server":
			p.sorryServer(v, c)
		case "sorry_server_inhibit":
			if !p.bare(c) {
				return
			}
			if v.sorry == nil {
				p.errorf(c, "comes before (or without) sorry_server")
				return
			}
			v.sorry.inhibit = true
		case "sorry_server_lvs_method":
			if v.sorry == nil {
				p.errorf(c, "comes before (or without) sorry_server")
				return
			}
			if m, ok := p.method(c); ok {
				v.sorry.method = m
			}
		case "ip_family":
			if s, ok := p.arg(c); ok {
				switch {
				case s != "inet" && s != "inet6":
					p.errorf(c, "%q is not inet or inet6", s)
				case v.addr.IsValid() && v.addr.Is6() != (s == "inet6"):
					p.errorf(c, "ip_family %s does not match the address %s", s, v.addr)
				case !v.addr.IsValid() && v.family != "" && v.family != s:
					p.errorf(c, "ip_family %s does not match persistence_granularity, which is %s", s, v.family)
				default:
					v.family = s
				}
			}
		default:
			p.unknown(c, "virtual_server")
		}
	}
	if p.err != nil {
		return
	}
	if v.fwmark != 0 && protoSet {
		p.warnf(n, "protocol is ignored for a fwmark virtual server (as keepalived does)")
	}
	if !protoSet && v.fwmark == 0 {
		v.proto = vs.UDP
		if v.group == "" || p.groupHasAddrs(v.group) {
			p.warnf(n, "virtual server %s: no protocol set - defaulting to UDP (as keepalived does)", strings.Join(args, " "))
		}
	}
	if v.netmask.IsValid() && !v.persist {
		v.persist, v.timeout = true, defaultPersistTimeout
	}
	p.virtuals = append(p.virtuals, v)
}

// keepalivedSchedulers are check_parser.c's lvs_schedulers.
var keepalivedSchedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos"}

// schedFlagBit maps the scheduler flag keywords to IP_VS_SVC_F_SCHED1..3.
var schedFlagBit = map[string]int{
	"flag-1": 1, "flag-2": 2, "flag-3": 4,
	"sh-fallback": 1, "sh-port": 2, "mh-fallback": 1, "mh-port": 2,
}

// method reads lb_kind/lvs_method: NAT, DR or TUN (keepalived's exact,
// case-sensitive words) and TUN's options, of which ulvs runs ipip.
func (p *parser) method(n *Node) (vs.Method, bool) {
	if !p.noBlock(n) {
		return 0, false
	}
	args := n.Args()
	if len(args) == 0 {
		p.errorf(n, "needs NAT, DR or TUN")
		return 0, false
	}
	var m vs.Method
	switch args[0] {
	case "NAT":
		m = vs.Masq
	case "DR":
		m = vs.Route
	case "TUN":
		m = vs.Tunnel
	case "FNAT", "FULLNAT":
		p.errorf(n, "%s (Alibaba's keepalived) is not read from keepalived.conf: write the service in ulvs's TOML with forward = \"fullnat\"", args[0])
		return 0, false
	default:
		p.errorf(n, "%q is not NAT, DR or TUN (keepalived's words, upper case)", args[0])
		return 0, false
	}
	if len(args) > 1 && m != vs.Tunnel {
		p.errorf(n, "%s takes no options (got %s)", args[0], strings.Join(args[1:], " "))
		return 0, false
	}
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "type" && i+1 < len(args) && args[i+1] == "ipip":
			i++
		case a == "type" && i+1 < len(args) && (args[i+1] == "gue" || args[i+1] == "gre"):
			p.errorf(n, "TUN type %s is not supported by ulvs (ipip only)", args[i+1])
			return 0, false
		case a == "nocsum":
		case a == "csum" || a == "remcsum":
			p.errorf(n, "ipip tunnels do not support the %s option", a)
			return 0, false
		default:
			p.errorf(n, "%q is not a tunnel option (type ipip, nocsum)", a)
			return 0, false
		}
	}
	return m, true
}

// sorryServer reads sorry_server IP [PORT].
func (p *parser) sorryServer(v *virtualServer, n *Node) {
	if !p.noBlock(n) {
		return
	}
	if a, port, ok := p.addrPort(n); ok {
		v.sorry = &sorryServer{node: n, addr: a, port: port}
	}
}

// granularity6 reports whether persistence_granularity s is an IPv6 prefix
// length rather than an IPv4 netmask: by the virtual address's family,
// or, for a group or a fwmark, as keepalived's vs_pgran_handler: by
// ip_family if it came first, else by the text (a dot: IPv4). It then
// sets the virtual server's family, as keepalived sets vs->af.
func (p *parser) granularity6(v *virtualServer, s string) bool {
	if v.group == "" && v.fwmark == 0 {
		return v.addr.Is6()
	}
	if v.family == "" {
		v.family = "inet6"
		if strings.Contains(s, ".") {
			v.family = "inet"
		}
	}
	return v.family == "inet6"
}

// addrPort reads the IP [PORT] of a sorry or real server.
func (p *parser) addrPort(n *Node) (netip.Addr, uint16, bool) {
	args := n.Args()
	if len(args) < 1 || len(args) > 2 {
		p.errorf(n, "takes IP [PORT]")
		return netip.Addr{}, 0, false
	}
	a, msg := parseAddr(args[0])
	var port uint16
	if msg == "" && !config.Unicast(a) {
		msg = fmt.Sprintf("%s is not a unicast address", a)
	}
	if msg == "" {
		port, msg = parsePort(args, 1)
	}
	if msg != "" {
		p.errorf(n, "%s", msg)
		return netip.Addr{}, 0, false
	}
	return a, port, true
}

// vipMsg says why a cannot be a virtual address, or "": ulvs answers ARP
// for its virtual addresses and holds them to the real servers' rule
// (config.Unicast), as its TOML file does.
func vipMsg(a netip.Addr) string {
	if config.Unicast(a) {
		return ""
	}
	return fmt.Sprintf("%s is not a unicast address (a virtual address must be one)", a)
}

// realServer reads a real_server block.
func (p *parser) realServer(v *virtualServer, n *Node) *realServer {
	if !p.needBlock(n) {
		return nil
	}
	a, port, ok := p.addrPort(n)
	if !ok {
		return nil
	}
	rs := &realServer{node: n, addr: a, port: port, timing: config.UnsetTiming()}
	for _, c := range n.Children {
		if p.err != nil {
			return nil
		}
		if p.timingKeyword(&rs.timing, c, 1) || p.notifyOnly(c) {
			continue
		}
		switch kw := c.Keyword(); kw {
		case "weight":
			if w, ok := p.uint(c, 0, maxWeight); ok {
				rs.weight = optInt{int(w), true}
			}
		case "lvs_method":
			rs.method, _ = p.method(c)
		case "uthreshold":
			if t, ok := p.uint(c, 0, maxThreshold); ok {
				rs.uthreshold = uint32(t)
			}
		case "lthreshold":
			if t, ok := p.uint(c, 0, maxThreshold); ok {
				rs.lthreshold = uint32(t)
			}
		case "inhibit_on_failure":
			if b, ok := p.flag(c); ok {
				rs.inhibit = optBool{b, true}
			}
		case "alpha":
			if b, ok := p.flag(c); ok {
				rs.alpha = optBool{b, true}
			}
		case "notify_up":
			rs.notifyUp, _ = p.script(c, rs.notifyUp)
		case "notify_down":
			rs.notifyDown, _ = p.script(c, rs.notifyDown)
		case "virtualhost":
			rs.virtualhost, _ = p.arg(c)
		case "BFD_CHECK", "FILE_CHECK":
			p.errorf(c, "%s is not supported by ulvs", kw)
		default:
			if kind, ok := checkKinds[kw]; ok {
				if ck := p.checker(kind, c); ck != nil {
					rs.checks = append(rs.checks, ck)
				}
				continue
			}
			p.unknown(c, "real_server")
		}
	}
	if p.err != nil {
		return nil
	}
	return rs
}

// vsGroup is a virtual_server_group: address ranges and fwmarks.
type vsGroup struct {
	node    *Node
	entries []groupEntry
	used    bool
	// have4 and have6 are keepalived's have_ipv4/have_ipv6: the group has
	// IPv4 (addresses or fwmark N inet) or IPv6 (addresses or fwmark N
	// inet6); markNoFamily:
	// a fwmark without a family.
	have4, have6, markNoFamily bool
}

// groupEntry is one line of a group: an inclusive address range with a
// port (0: none), or a fwmark.
type groupEntry struct {
	first, last netip.Addr
	port        uint16
	fwmark      uint32
	family      string // fwmark N inet|inet6; "": the virtual server's
}

// virtualServerGroup reads virtual_server_group NAME { ... }.
func (p *parser) virtualServerGroup(n *Node) {
	if len(n.Args()) != 1 {
		p.errorf(n, "takes one name")
		return
	}
	name := n.Args()[0]
	if old := p.groups[name]; old != nil {
		p.errorf(n, "group %s is already defined at %s:%d", name, old.node.File, old.node.Line)
		return
	}
	g := &vsGroup{node: n}
	for _, c := range n.Children {
		if !p.noBlock(c) {
			return
		}
		e, ok := p.groupEntry(c)
		if !ok {
			return
		}
		g.entries = append(g.entries, e)
		switch {
		case e.fwmark != 0 && e.family == "inet":
			g.have4 = true
		case e.fwmark != 0 && e.family == "inet6":
			g.have6 = true
		case e.fwmark != 0:
			g.markNoFamily = true
		case e.first.Is6():
			g.have6 = true
		default:
			g.have4 = true
		}
	}
	if g.have4 && g.have6 && g.markNoFamily {
		// keepalived's vsg_end_handler removes such a group.
		p.errorf(n, "virtual server group %s cannot have IPv4, IPv6 and fwmark without family (keepalived removes it)", name)
		return
	}
	if len(g.entries) == 0 {
		p.warnf(n, "virtual server group %s has no entries (ignored, as keepalived does)", name)
	}
	p.groups[name] = g
}

// groupEntry reads one group line: IP [PORT], IP-N [PORT] (the last byte,
// or the last 16 bits of an IPv6 address, up to N), IP-IP [PORT],
// IP/LEN [PORT] or fwmark N [inet].
func (p *parser) groupEntry(n *Node) (groupEntry, bool) {
	w := n.Words
	if w[0] == "fwmark" {
		if len(w) < 2 || len(w) > 3 || (len(w) == 3 && w[2] != "inet" && w[2] != "inet6") {
			p.errorf(n, "takes fwmark N [inet|inet6]")
			return groupEntry{}, false
		}
		m, msg := parseUint(w[1], 1, math.MaxUint32)
		if msg != "" {
			p.errorf(n, "fwmark %s", msg)
			return groupEntry{}, false
		}
		e := groupEntry{fwmark: uint32(m)}
		if len(w) == 3 {
			e.family = w[2]
		}
		return e, true
	}
	if len(w) > 2 {
		p.errorf(n, "takes IP-or-range [PORT] (got %q)", strings.Join(w, " "))
		return groupEntry{}, false
	}
	port, msg := parsePort(w, 1)
	if msg != "" {
		p.errorf(n, "port %s", msg)
		return groupEntry{}, false
	}
	first, last, msg := parseRange(w[0])
	if msg != "" {
		p.errorf(n, "%s", msg)
		return groupEntry{}, false
	}
	return groupEntry{first: first, last: last, port: port}, true
}

// parseRange reads a virtual_server_group address: a, a-N, a-b or a/len,
// of either family, as keepalived's alloc_vsg_entry and inet_stor: N is
// decimal and replaces the last byte of an IPv4 address, hexadecimal and
// replaces the last 16-bit group of an IPv6 one (2001:db8::100-10f).
// keepalived walks an IPv6 range over its last 16 bits only
// (ipvs_group_range_cmd: s6_addr16[7] up to the end's), so an IPv6 range
// whose ends differ above them is refused rather than read otherwise.
func parseRange(s string) (first, last netip.Addr, msg string) {
	if a, l, ok := strings.Cut(s, "/"); ok {
		if first, msg = parseAddr(a); msg != "" {
			return
		}
		bits, m := parseUint(l, 1, uint64(first.BitLen()))
		if m != "" {
			return first, last, "prefix length " + m
		}
		pfx := netip.PrefixFrom(first, int(bits))
		if pfx.Masked().Addr() != first {
			return first, last, fmt.Sprintf("%s: address bits beyond the prefix are set", s)
		}
		last = lastOf(pfx)
		return first, last, span6(s, first, last)
	}
	a, end, ok := strings.Cut(s, "-")
	first, msg = parseAddr(a)
	if msg != "" || !ok {
		return first, first, msg
	}
	sep := "."
	if first.Is6() {
		sep = ":"
	}
	if strings.Contains(end, sep) {
		last, msg = parseAddr(end)
		switch {
		case msg != "":
		case last.Is6() != first.Is6():
			msg = fmt.Sprintf("%s: range address families do not match", s)
		case last.Less(first):
			msg = fmt.Sprintf("%s: range end is below its start", s)
		default:
			msg = span6(s, first, last)
		}
		return first, last, msg
	}
	if first.Is4() {
		n, m := parseUint(end, 0, 255)
		if m != "" {
			return first, last, "range end " + m
		}
		b := first.As4()
		if uint64(b[3]) >= n {
			return first, last, fmt.Sprintf("%s: range end is not above its start", s)
		}
		b[3] = byte(n)
		return first, netip.AddrFrom4(b), ""
	}
	n, err := strconv.ParseUint(end, 16, 16)
	if err != nil {
		return first, last, fmt.Sprintf("range end %q is not a hexadecimal number up to ffff (the last 16 bits of an IPv6 address)", end)
	}
	b := first.As16()
	if uint64(b[14])<<8|uint64(b[15]) >= n {
		return first, last, fmt.Sprintf("%s: range end is not above its start", s)
	}
	b[14], b[15] = byte(n>>8), byte(n)
	return first, netip.AddrFrom16(b), ""
}

// span6 refuses an IPv6 range whose ends differ above the last 16 bits.
func span6(s string, first, last netip.Addr) string {
	f, l := first.As16(), last.As16()
	if first.Is6() && [14]byte(f[:14]) != [14]byte(l[:14]) {
		return fmt.Sprintf("%s: an IPv6 range must stay within its last 16 bits, the only ones keepalived walks (write several lines)", s)
	}
	return ""
}

// lastOf is the last address of p, of either family.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	for i := p.Bits() + off; i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	if p.Addr().Is4() {
		return netip.AddrFrom16(b).Unmap()
	}
	return netip.AddrFrom16(b)
}

func (p *parser) groupHasAddrs(name string) bool {
	g := p.groups[name]
	if g == nil {
		return true // resolved in build; warn as for an address service
	}
	return slices.ContainsFunc(g.entries, func(e groupEntry) bool { return e.fwmark == 0 })
}

// build turns the virtual servers into File.Rules and File.Health, with
// the corrections and defaults keepalived's validate_check_config applies.
func (p *parser) build() {
	f := p.file
	seen := map[config.ServiceKey]*Node{}
	for _, v := range p.virtuals {
		if !p.sorryFamily(v) {
			return
		}
		keys, ok := p.serviceKeys(v)
		if !ok {
			return
		}
		if len(v.reals) == 0 {
			p.warnf(v.node, "virtual server %s has no real servers (ignored, as keepalived does)", strings.Join(v.node.Args(), " "))
			continue
		}
		p.fixVirtual(v, keys)
		if p.err != nil {
			return
		}
		v.keys = keys
		for _, k := range keys {
			if old := seen[k]; old != nil {
				p.errorf(v.node, "service %s is already defined at %s:%d", serviceName(k), old.File, old.Line)
				return
			}
			seen[k] = v.node
			if len(seen) > maxServices {
				p.errorf(v.node, "more than %d services: ulvs refuses ranges this large", maxServices)
				return
			}
			svc, vh := p.service(v, k)
			if p.err != nil {
				return
			}
			if err := config.CheckRulesFamily(&config.Rules{Services: []config.Service{svc}}); err != nil {
				p.errorf(v.node, "%v", err)
				return
			}
			f.Rules.Services = append(f.Rules.Services, svc)
			if vh != nil {
				f.Health = append(f.Health, *vh)
			}
		}
	}
	for name, g := range p.groups {
		if !g.used && len(g.entries) > 0 {
			p.warnf(g.node, "virtual_server_group %s is not used by any virtual_server", name)
		}
	}
}

// serviceKeys lists the services a virtual server stands for.
func (p *parser) serviceKeys(v *virtualServer) ([]config.ServiceKey, bool) {
	switch {
	case v.fwmark != 0:
		k := config.ServiceKey{Proto: vs.TCP, FwMark: v.fwmark}
		if p.markFamily(v) == "inet6" {
			k.Addr = config.FwMark6Addr // an IPv6 fwmark service (ipvsadm -f N -6)
		}
		return []config.ServiceKey{k}, true
	case v.group == "":
		return []config.ServiceKey{{Proto: v.proto, Addr: v.addr, Port: v.port}}, true
	}
	g := p.groups[v.group]
	if g == nil {
		p.errorf(v.node, "virtual_server_group %s is not defined", v.group)
		return nil, false
	}
	g.used = true
	fam, ok := p.groupFamily(v, g)
	if !ok {
		return nil, false
	}
	var keys, marks []config.ServiceKey
	for _, e := range g.entries {
		if e.fwmark != 0 {
			k := config.ServiceKey{Proto: vs.TCP, FwMark: e.fwmark}
			// keepalived: fwmark N inet6, or a fwmark without family
			// in a virtual server that is IPv6 (its ip_family, or a
			// group of IPv6 addresses).
			if e.family == "inet6" || e.family == "" && (fam == "inet6" || fam == "" && g.have6 && !g.have4) {
				k.Addr = config.FwMark6Addr
			}
			marks = append(marks, k)
			continue
		}
		for a := e.first; ; a = a.Next() {
			if msg := vipMsg(a); msg != "" {
				p.errorf(g.node, "group %s: %s", v.group, msg)
				return nil, false
			}
			keys = append(keys, config.ServiceKey{Proto: v.proto, Addr: a, Port: e.port})
			if len(keys) > maxServices {
				p.errorf(g.node, "group %s expands to more than %d services: ulvs refuses ranges this large", v.group, maxServices)
				return nil, false
			}
			if a == e.last {
				break
			}
		}
	}
	return append(keys, marks...), true
}

// groupFamily checks the virtual server's address family against its
// group's, as keepalived's validate_check_config: the family is the one
// the virtual_server block settled (settledFamily: ip_family, a
// family-bound persistence_granularity, the first real server or the
// sorry server not tunnelled). A group of one family takes a virtual
// server of that family or none; a group mixing IPv4 and IPv6 takes only a
// virtual server with no family, whose services are then each of their
// own family (and take real servers of the other family only tunnelled,
// config.CheckRulesFamily, as the kernel). keepalived logs and ignores a
// virtual server that does not match; ulvs refuses it.
func (p *parser) groupFamily(v *virtualServer, g *vsGroup) (string, bool) {
	fam, why := v.settledFamily()
	if fam == "" {
		return "", true
	}
	switch {
	case g.have4 && g.have6:
		p.errorf(v.node, "virtual_server_group %s has IPv4 and IPv6 addresses, which do not match a virtual server of family %s (from %s): keepalived ignores such a virtual server, ulvs refuses it", v.group, fam, why)
		return "", false
	case g.have6 != (fam == "inet6") && (g.have4 || g.have6):
		grp := "inet"
		if g.have6 {
			grp = "inet6"
		}
		p.errorf(v.node, "virtual_server_group %s is %s, the virtual server %s (from %s): the address families do not match (keepalived ignores such a virtual server, ulvs refuses it)", v.group, grp, fam, why)
		return "", false
	}
	return fam, true
}

// familyOf is an address's family as keepalived.conf names it.
func familyOf(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "inet6"
	}
	return "inet"
}

// tunnelled reports whether a real or sorry server of method m (0: the
// virtual server's) is tunnelled, so that its family need not be the
// virtual server's.
func (v *virtualServer) tunnelled(m vs.Method) bool {
	return m == vs.Tunnel || m == 0 && v.method == vs.Tunnel
}

// settledFamily is the family keepalived's vs->af holds once the
// virtual_server block is read, before a group's family applies, and what
// set it: realFamily, else the sorry server's if it is not tunnelled
// (vs_end_handler). "" if none did.
func (v *virtualServer) settledFamily() (fam, why string) {
	if fam, why = v.realFamily(); fam != "" {
		return fam, why
	}
	if s := v.sorry; s != nil && !v.tunnelled(s.method) {
		return familyOf(s.addr), "sorry_server " + s.addr.String()
	}
	return "", ""
}

// realFamily is the family keepalived's vs->af holds when the sorry
// server is looked at, and what set it: the virtual address's; else
// ip_family or a family-bound persistence_granularity; else that of the
// first real server not tunnelled (rs_end_handler, for fwmark and group
// virtual servers alike). "" if none did.
func (v *virtualServer) realFamily() (fam, why string) {
	switch {
	case v.addr.IsValid():
		return familyOf(v.addr), "its address"
	case v.family != "":
		if slices.ContainsFunc(v.node.Children, func(c *Node) bool { return c.Keyword() == "ip_family" }) {
			return v.family, "ip_family"
		}
		return v.family, "persistence_granularity"
	}
	for _, rs := range v.reals {
		if !v.tunnelled(rs.method) {
			return familyOf(rs.addr), "real_server " + rs.addr.String()
		}
	}
	return "", ""
}

// sorryFamily refuses a sorry server, not tunnelled, of the other family
// than its virtual server: keepalived's vs_end_handler logs "Address
// family of virtual server and sorry server ... don't match" and drops
// the sorry server, which ulvs would otherwise add at quorum loss.
func (p *parser) sorryFamily(v *virtualServer) bool {
	s := v.sorry
	if s == nil || v.tunnelled(s.method) {
		return true
	}
	fam, why := v.realFamily()
	if fam == "" || fam == familyOf(s.addr) {
		return true
	}
	p.errorf(s.node, "sorry server %s is %s, the virtual server %s (from %s): keepalived skips a sorry server of the other address family that is not tunnelled (\"Address family of virtual server and sorry server don't match - skipping sorry server\"), ulvs refuses it", s.addr, familyOf(s.addr), fam, why)
	return false
}

// markFamily is the address family of a fwmark virtual server, as
// keepalived settles vs->af: settledFamily, else, all real and sorry
// servers being tunnelled, theirs if they share one, else inet
// (vs_end_handler).
func (p *parser) markFamily(v *virtualServer) string {
	if fam, _ := v.settledFamily(); fam != "" {
		return fam
	}
	fam := ""
	if s := v.sorry; s != nil {
		fam = familyOf(s.addr)
	}
	for _, rs := range v.reals {
		switch {
		case fam == "":
			fam = familyOf(rs.addr)
		case fam != familyOf(rs.addr):
			return "inet" // mixed tunnelled families: keepalived's default
		}
	}
	if fam == "" {
		return "inet"
	}
	return fam
}

// fixVirtual applies keepalived's corrections that concern the whole
// virtual server, each with the warning keepalived logs.
func (p *parser) fixVirtual(v *virtualServer, keys []config.ServiceKey) {
	n := v.node
	name := strings.Join(n.Args(), " ")
	hasMark := slices.ContainsFunc(keys, func(k config.ServiceKey) bool { return k.FwMark != 0 })
	hasAddr := slices.ContainsFunc(keys, func(k config.ServiceKey) bool { return k.FwMark == 0 })
	if v.haSuspend && hasMark {
		p.warnf(n, "virtual server %s: cannot use ha_suspend with fwmarks - clearing ha_suspend (as keepalived does)", name)
		v.haSuspend = false
	}
	if v.ops && hasAddr && v.proto != vs.UDP {
		p.warnf(n, "virtual server %s: one packet scheduling requires UDP - resetting (as keepalived does)", name)
		v.ops = false
	}
	if !v.persist && slices.ContainsFunc(keys, func(k config.ServiceKey) bool { return k.FwMark == 0 && k.Port == 0 }) {
		p.warnf(n, "virtual server %s: zero port only valid for persistent services - setting persistence_timeout %d (as keepalived does)", name, defaultPersistTimeout)
		v.persist, v.timeout = true, defaultPersistTimeout
	}
	if v.sched == "" {
		p.warnf(n, "virtual server %s: no scheduler set, setting default 'wlc' (as keepalived does)", name)
		v.sched = config.DefaultScheduler
	}
	if v.schedBits&3 != 0 && v.sched != "sh" && v.sched != "mh" {
		for _, c := range n.Children {
			if kw := c.Keyword(); strings.HasPrefix(kw, "sh-") || strings.HasPrefix(kw, "mh-") {
				p.errorf(c, "%s only applies to the %s scheduler (lb_algo is %s)", kw, kw[:2], v.sched)
				return
			}
		}
	}
	if v.method == 0 {
		p.warnf(n, "virtual server %s: no forwarding method set, setting default NAT (as keepalived does)", name)
		v.method = vs.Masq
	}
	if hasMark {
		for _, k := range keys {
			if k.FwMark != 0 {
				p.warnf(n, "virtual server fwmark %d: the mark comes from the director's iptables/nft MARK rules (ulvsd reads them; see ulvs marks); no packet reaches this service until a rule or a [[fwmark]] table in ulvs's TOML defines mark %d", k.FwMark, k.FwMark)
			}
		}
	}
	// Duplicate real servers: the second is dropped.
	var reals []*realServer
	for _, rs := range v.reals {
		if slices.ContainsFunc(reals, func(o *realServer) bool { return o.addr == rs.addr && o.port == rs.port }) {
			p.warnf(rs.node, "real server %s is duplicated - removing the second (as keepalived does)", strings.Join(rs.node.Args(), " "))
			continue
		}
		reals = append(reals, rs)
	}
	v.reals = reals
	var sum uint64
	for _, rs := range v.reals {
		if !rs.weight.set {
			rs.weight = optInt{int(v.weight), true}
		}
		if rs.method == 0 {
			rs.method = v.method
		}
		sum += uint64(rs.weight.v)
		if v.sorry != nil && rs.addr == v.sorry.addr && rs.port == v.sorry.port && rs.inhibit.or(v.inhibit) != v.sorry.inhibit {
			p.warnf(v.sorry.node, "real server %s matches the sorry server, but inhibit setting differs: using the real server's (as keepalived does)", strings.Join(rs.node.Args(), " "))
			v.sorry.inhibit = rs.inhibit.or(v.inhibit)
		}
	}
	if v.sorry != nil && v.sorry.method == 0 {
		v.sorry.method = v.method
	}
	if c := v.synProxy; c != nil {
		if hasAddr && v.proto != vs.TCP {
			p.errorf(c, "the SYN proxy only applies to TCP virtual servers")
			return
		}
		for _, rs := range v.reals {
			if !config.SynProxyMethod(rs.method) {
				p.errorf(c, "the SYN proxy needs NAT real servers (the director translates their replies); real server %s is %v", strings.Join(rs.node.Args(), " "), rs.method)
				return
			}
		}
		if v.sorry != nil && !config.SynProxyMethod(v.sorry.method) {
			p.errorf(c, "the SYN proxy needs a NAT sorry server too; sorry_server %s is %v", strings.Join(v.sorry.node.Args(), " "), v.sorry.method)
			return
		}
	}
	switch {
	case sum == 0:
		// keepalived lowers quorum to 0 and then hysteresis to quorum-1,
		// an unsigned 4294967295: the service never gains quorum, whatever
		// weights the real servers get later (misc_dynamic). Quorum 0 is
		// not in the model (it means the default, 1).
		p.warnf(n, "quorum %d for %s exceeds total weight of real servers 0: keepalived lowers quorum to 0 and hysteresis to 4294967295, so that the service never gains quorum; ulvs uses quorum %d (the service gains quorum when a real server has weight)", v.quorum, name, config.DefaultQuorum)
		v.quorum = config.DefaultQuorum
	case uint64(v.quorum) > sum:
		p.warnf(n, "quorum %d for %s exceeds total weight of real servers %d, reducing quorum to %d (as keepalived does)", v.quorum, name, sum, sum)
		v.quorum = uint32(sum)
	}
	if v.hysteresis >= v.quorum {
		p.warnf(n, "virtual server %s: hysteresis %d >= quorum %d; setting hysteresis to %d (as keepalived does)", name, v.hysteresis, v.quorum, v.quorum-1)
		v.hysteresis = v.quorum - 1
	}
}

// service builds one service and its health entry.
func (p *parser) service(v *virtualServer, k config.ServiceKey) (config.Service, *config.VirtualHealth) {
	svc := config.Service{
		Proto: k.Proto, Addr: k.Addr, Port: k.Port, FwMark: k.FwMark,
		Scheduler:  v.sched,
		SchedFlags: schedFlagNames(v.sched, v.schedBits),
		Persistent: v.persist,
		Timeout:    v.timeout,
		Netmask:    v.netmask,
		OnePacket:  v.ops,
		SynProxy:   v.synProxy != nil,
	}
	vh := &config.VirtualHealth{
		Service:     k,
		DelayLoop:   v.timing.DelayLoop, // Unset: ResolveHealth's default
		Alpha:       v.alpha,
		Omega:       v.omega,
		Quorum:      v.quorum,
		Hysteresis:  v.hysteresis,
		QuorumUp:    v.quorumUp,
		QuorumDown:  v.quorumDown,
		Virtualhost: v.virtualhost,
		HASuspend:   v.haSuspend,
	}
	if s := v.sorry; s != nil {
		vh.Sorry = &config.SorryServer{Addr: s.addr, Port: p.destPort(v, k, s.node, s.port, s.method), Method: s.method, Inhibit: s.inhibit}
	}
	keep := !vh.QuorumUp.IsZero() || !vh.QuorumDown.IsZero() || vh.Sorry != nil
	var inherited []config.Timing // keepalived: the checker's, else the real_server's, else the virtual_server's
	for _, rs := range v.reals {
		d := config.Dest{
			Addr:       rs.addr,
			Port:       p.destPort(v, k, rs.node, rs.port, rs.method),
			Method:     rs.method,
			Weight:     int32(rs.weight.v),
			UThreshold: rs.uthreshold,
			LThreshold: rs.lthreshold,
		}
		if d.LThreshold > d.UThreshold {
			// ip_vs_add_dest refuses it with ERANGE, even with uthreshold 0.
			p.errorf(rs.node, "lthreshold %d is above uthreshold %d (the kernel refuses it)", d.LThreshold, d.UThreshold)
			return svc, nil
		}
		if slices.ContainsFunc(svc.Dests, func(o config.Dest) bool { return o.Addr == d.Addr && o.Port == d.Port }) {
			// keepalived finds duplicates before it corrects ports; its
			// second add then fails in the kernel (EEXIST).
			p.warnf(rs.node, "real server %s duplicates another of service %s once ports are corrected (both are %s) - removing the second (keepalived's second add fails)",
				strings.Join(rs.node.Args(), " "), serviceName(k), netip.AddrPortFrom(d.Addr, d.Port))
			continue
		}
		svc.Dests = append(svc.Dests, d)
		rs.dests = append(rs.dests, netip.AddrPortFrom(d.Addr, d.Port))
		rh := config.RealHealth{
			Addr: d.Addr, Port: d.Port,
			Inhibit:    rs.inhibit.or(v.inhibit),
			NotifyUp:   rs.notifyUp,
			NotifyDown: rs.notifyDown,
		}
		for _, ck := range rs.checks {
			checks, ok := p.checks(ck, v, rs, d)
			if !ok {
				return svc, nil
			}
			rh.Checks = append(rh.Checks, checks...)
		}
		keep = keep || len(rh.Checks) > 0 || !rh.NotifyUp.IsZero() || !rh.NotifyDown.IsZero()
		vh.Reals = append(vh.Reals, rh)
		inherited = append(inherited, rs.timing.Or(v.timing))
	}
	if !keep {
		return svc, nil
	}
	if vh.DelayLoop == config.Unset {
		vh.DelayLoop = 0
	}
	config.ResolveHealth(vh, inherited)
	return svc, vh
}

// destPort is the port a real (or sorry) server gets in service k:
// keepalived's validate_check_config and ipvsadm's rules. Direct routing
// and tunnels keep the service's port (none for a fwmark service); NAT
// keeps its own, or takes the service's when it has none.
func (p *parser) destPort(v *virtualServer, k config.ServiceKey, n *Node, port uint16, m vs.Method) uint16 {
	switch {
	case m == vs.Masq && (port != 0 || k.FwMark != 0):
		return port
	case m == vs.Masq:
		return k.Port
	case k.FwMark != 0:
		if port != 0 {
			p.warnf(n, "fwmark virtual server %s, real server %s has port specified - port ignored (as keepalived does)", strings.Join(v.node.Args(), " "), strings.Join(n.Args(), " "))
		}
		return 0
	case port != 0 && port != k.Port:
		p.warnf(n, "virtual server %s and real server %s ports don't match - using %d (as keepalived does)", serviceName(k), strings.Join(n.Args(), " "), k.Port)
	}
	return k.Port
}

// schedFlagNames names the flag bits as ipvsadm prints them for sched.
func schedFlagNames(sched string, bits int) []string {
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	switch sched {
	case "sh", "mh":
		names = [3]string{sched + "-fallback", sched + "-port", "flag-3"}
	}
	var out []string
	for i := range 3 {
		if bits&(1<<i) != 0 {
			out = append(out, names[i])
		}
	}
	return out
}

func serviceName(k config.ServiceKey) string {
	if k.FwMark != 0 {
		return fmt.Sprintf("fwmark %d", k.FwMark)
	}
	proto := "TCP"
	if k.Proto == vs.UDP {
		proto = "UDP"
	}
	return fmt.Sprintf("%s %s", proto, netip.AddrPortFrom(k.Addr, k.Port))
}
