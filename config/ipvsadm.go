package config

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// This file parses ipvsadm 1.31 command lines the way ipvsadm.c does:
// parse_options (popt), process_options, generic_opt_check and
// tunnel_opt_check, with the same defaults, checks, order of checks and
// message text.

// ProtoSCTP is IPPROTO_SCTP, the protocol of --sctp-service. ulvs parses it
// but does not serve it (Rules.Apply returns ErrProtocol).
const ProtoSCTP vs.Protocol = 132

// ParseError is a command line ipvsadm rejects, with what it prints.
type ParseError struct {
	// Msg is the line ipvsadm prints on stderr, without the newline. It is
	// empty when TryHelp is set.
	Msg string
	// TryHelp means ipvsadm prints "Try `PROG -h' or 'PROG --help' for more
	// information." (tryhelp_exit).
	TryHelp bool
	// Status is ipvsadm's exit status: 2 for fail(), 255 for the rest.
	Status int
}

func (e *ParseError) Error() string {
	if e.TryHelp {
		return "ipvsadm: bad command line"
	}
	return e.Msg
}

func failf(format string, args ...any) *ParseError {
	return &ParseError{Msg: fmt.Sprintf(format, args...), Status: 2}
}

// Resolver resolves the host and service names ipvsadm accepts in place of
// numbers (gethostbyname, getservbyname).
type Resolver interface {
	// LookupHost returns an IPv4 address for name.
	LookupHost(name string) (netip.Addr, bool)
	// LookupService returns the port of the named service for proto.
	LookupService(name string, proto vs.Protocol) (uint16, bool)
}

// SystemResolver resolves names with the Go resolver (/etc/hosts, DNS and
// /etc/services). The zero value is ready to use.
type SystemResolver struct{}

// LookupHost implements Resolver.
func (SystemResolver) LookupHost(name string) (netip.Addr, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, false
	}
	return addrs[0].Unmap(), true
}

// LookupService implements Resolver.
func (SystemResolver) LookupService(name string, proto vs.Protocol) (uint16, bool) {
	var network string
	switch proto {
	case vs.TCP:
		network = "tcp"
	case vs.UDP:
		network = "udp"
	default:
		return 0, false
	}
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return 0, false // getservbyname does not take numbers
	}
	p, err := net.LookupPort(network, name)
	if err != nil || p < 0 || p > 65535 {
		return 0, false
	}
	return uint16(p), true
}

// ParseArgs parses ipvsadm's arguments (without the program name),
// resolving host and service names with SystemResolver. Errors are
// *ParseError.
func ParseArgs(args []string) (Command, error) {
	return ParseArgsWith(args, SystemResolver{})
}

// ParseArgsWith is ParseArgs with the given resolver; nil accepts numbers
// only.
func ParseArgsWith(args []string, r Resolver) (Command, error) {
	p := parser{res: r}
	c, perr := p.parse(args)
	if perr != nil {
		return Command{}, perr
	}
	return c, nil
}

// Option tags: short options use their letter, long-only options a value
// above 127, as ipvsadm does.
const (
	tagSet = 128 + iota
	tagStartDaemon
	tagStopDaemon
	tagMcastInterface
	tagTimeout
	tagDaemon
	tagStats
	tagRate
	tagThresholds
	tagPersistentConn
	tagSort
	tagNoSort
	tagPersistenceEngine
	tagSCTPService
	tagMcastGroup
	tagMcastPort
	tagMcastTTL
	tagSyncMaxLen
	tagTunInfo
	tagTunType
	tagTunPort
	tagTunNoCsum
	tagTunCsum
	tagTunRemCsum
	tagFullNAT // ulvs: --fullnat
	tagLAddr   // ulvs: --laddr
	tagSyncID
)

type argKind uint8

const (
	argNone argKind = iota
	argRequired
	argOptional
)

type optDef struct {
	long  string
	short byte
	arg   argKind
	tag   int
}

// options is ipvsadm 1.31's popt table.
var options = []optDef{
	{"add-service", 'A', argNone, 'A'},
	{"edit-service", 'E', argNone, 'E'},
	{"delete-service", 'D', argNone, 'D'},
	{"clear", 'C', argNone, 'C'},
	{"list", 'L', argNone, 'L'},
	{"list", 'l', argNone, 'l'},
	{"zero", 'Z', argNone, 'Z'},
	{"add-server", 'a', argNone, 'a'},
	{"edit-server", 'e', argNone, 'e'},
	{"delete-server", 'd', argNone, 'd'},
	{"set", 0, argNone, tagSet},
	{"help", 'h', argNone, 'h'},
	{"version", 'v', argNone, 'v'},
	{"restore", 'R', argNone, 'R'},
	{"save", 'S', argNone, 'S'},
	{"start-daemon", 0, argRequired, tagStartDaemon},
	{"stop-daemon", 0, argRequired, tagStopDaemon},
	{"tcp-service", 't', argRequired, 't'},
	{"udp-service", 'u', argRequired, 'u'},
	{"sctp-service", 0, argRequired, tagSCTPService},
	{"fwmark-service", 'f', argRequired, 'f'},
	{"scheduler", 's', argRequired, 's'},
	{"persistent", 'p', argOptional, 'p'},
	{"netmask", 'M', argRequired, 'M'},
	{"real-server", 'r', argRequired, 'r'},
	{"masquerading", 'm', argNone, 'm'},
	{"ipip", 'i', argNone, 'i'},
	{"gatewaying", 'g', argNone, 'g'},
	{"weight", 'w', argRequired, 'w'},
	{"u-threshold", 'x', argRequired, 'x'},
	{"l-threshold", 'y', argRequired, 'y'},
	{"numeric", 'n', argNone, 'n'},
	{"connection", 'c', argNone, 'c'},
	{"mcast-interface", 0, argRequired, tagMcastInterface},
	{"syncid", 0, argRequired, tagSyncID},
	{"timeout", 0, argNone, tagTimeout},
	{"daemon", 0, argNone, tagDaemon},
	{"stats", 0, argNone, tagStats},
	{"rate", 0, argNone, tagRate},
	{"thresholds", 0, argNone, tagThresholds},
	{"persistent-conn", 0, argNone, tagPersistentConn},
	{"nosort", 0, argNone, tagNoSort},
	{"sort", 0, argNone, tagSort},
	{"exact", 'X', argNone, 'X'},
	{"ipv6", '6', argNone, '6'},
	{"ops", 'o', argNone, 'o'},
	{"pe", 0, argRequired, tagPersistenceEngine},
	{"sched-flags", 'b', argRequired, 'b'},
	{"mcast-group", 0, argRequired, tagMcastGroup},
	{"mcast-port", 0, argRequired, tagMcastPort},
	{"mcast-ttl", 0, argRequired, tagMcastTTL},
	{"sync-maxlen", 0, argRequired, tagSyncMaxLen},
	{"tun-info", 0, argNone, tagTunInfo},
	{"tun-type", 0, argRequired, tagTunType},
	{"tun-port", 0, argRequired, tagTunPort},
	{"tun-nocsum", 0, argNone, tagTunNoCsum},
	{"tun-csum", 0, argNone, tagTunCsum},
	{"tun-remcsum", 0, argNone, tagTunRemCsum},
	// ulvs extensions for FULLNAT (not in ipvsadm): the forwarding switch
	// of -a/-e, and the service's local addresses on -A/-E.
	{"fullnat", 0, argNone, tagFullNAT},
	{"laddr", 0, argRequired, tagLAddr},
}

// Option indexes (ipvsadm's OPTC_*) and names (optnames).
const (
	optNumeric = iota
	optConnection
	optService
	optScheduler
	optPersistent
	optNetmask
	optServer
	optForward
	optWeight
	optUThreshold
	optLThreshold
	optMcast
	optTimeout
	optDaemon
	optStats
	optRate
	optThresholds
	optPersistentConn
	optNoSort
	optSyncID
	optExact
	optOnePacket
	optPE
	optSchedFlags
	optMcastGroup
	optMcastPort
	optMcastTTL
	optSyncMaxLen
	optTunInfo
	optTunType
	optTunPort
	optTunNoCsum
	optTunCsum
	optTunRemCsum
	optLAddr // ulvs
	numOpts
)

var optNames = [numOpts]string{
	"numeric", "connection", "service-address", "scheduler", "persistent",
	"netmask", "real-server", "forwarding-method", "weight", "u-threshold",
	"l-threshold", "mcast-interface", "timeout", "daemon", "stats", "rate",
	"thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
	"sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen",
	"tun-info", "tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum",
	"laddr",
}

// commandOptions is ipvsadm's commands_v_options table: per command, per
// option, '+' compulsory, 'x' illegal, '1' exclusive, ' ' optional.
var commandOptions = map[Op]string{
	OpAddService:  "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx ",
	OpEditService: "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx ",
	OpDelService:  "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	OpClear:       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	OpList:        " 11xxxxxxxxx11       xxxxxxx xxxxxx",
	OpAddDest:     "xx+xxx+    xxxxxxxxxxxxxxxxxx     x",
	OpDelDest:     "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	OpEditDest:    "xx+xxx+    xxxxxxxxxxxxxxxxxx     x",
	OpSetTimeout:  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	OpStartDaemon: "xxxxxxxxxxx xxxxxxx xxxx    xxxxxxx",
	OpStopDaemon:  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxxx",
	OpRestore:     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	OpSave:        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	OpZero:        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
}

// tunnelOptions is tunnel_types_v_options over --tun-port, --tun-nocsum,
// --tun-csum and --tun-remcsum.
var (
	tunnelOpts    = [4]int{optTunPort, optTunNoCsum, optTunCsum, optTunRemCsum}
	tunnelOptions = map[string]string{
		TunnelIPIP: "xxxx",
		TunnelGUE:  "+111",
		TunnelGRE:  "x11x",
	}
)

// popt error codes and poptStrerror's text.
const (
	poptNoArg       = "missing argument"
	poptBadOpt      = "unknown option"
	poptUnwantedArg = "option does not take an argument"
)

// popt walks argv as libpopt does for ipvsadm's table (no aliases, flags
// 0): short options cluster ("-Ln"), a short option's argument may follow
// it in the same word ("-w3", "-w=3"), long options take "--opt=val" or the
// next word, optional arguments only a next word not starting with '-',
// words that are not options are left over in order, "--" ends options.
type popt struct {
	argv      []string
	next      int
	nextChars string
	rest      bool
	leftovers []string
}

// getNext returns the next option's tag and argument. tag is -1 at the end;
// errText is set on a popt error.
func (p *popt) getNext() (tag int, arg *string, errText string) {
	for {
		var opt *optDef
		var longArg *string
		if p.nextChars == "" {
			if p.next >= len(p.argv) {
				return -1, nil, ""
			}
			s := p.argv[p.next]
			p.next++
			if p.rest || len(s) < 2 || s[0] != '-' {
				p.leftovers = append(p.leftovers, s)
				continue
			}
			if s == "--" {
				p.rest = true
				continue
			}
			if s[1] == '-' {
				name := s[2:]
				if i := strings.IndexByte(name, '='); i >= 0 {
					v := name[i+1:]
					longArg = &v
					name = name[:i]
				}
				for i := range options {
					if options[i].long == name {
						opt = &options[i]
						break
					}
				}
				if opt == nil {
					return 0, nil, poptBadOpt
				}
			} else {
				p.nextChars = s[1:]
			}
		}
		if opt == nil {
			c := p.nextChars[0]
			p.nextChars = p.nextChars[1:]
			for i := range options {
				if options[i].short == c {
					opt = &options[i]
					break
				}
			}
			if opt == nil {
				p.nextChars = ""
				return 0, nil, poptBadOpt
			}
			if strings.HasPrefix(p.nextChars, "=") {
				p.nextChars = p.nextChars[1:]
			}
		}
		switch opt.arg {
		case argNone:
			if longArg != nil {
				return 0, nil, poptUnwantedArg
			}
			return opt.tag, nil, ""
		default:
			if longArg != nil {
				return opt.tag, longArg, ""
			}
			if p.nextChars != "" {
				v := p.nextChars
				p.nextChars = ""
				return opt.tag, &v, ""
			}
			if p.next >= len(p.argv) {
				if opt.arg == argOptional {
					return opt.tag, nil, ""
				}
				return 0, nil, poptNoArg
			}
			v := p.argv[p.next]
			if opt.arg == argOptional && strings.HasPrefix(v, "-") {
				return opt.tag, nil, ""
			}
			p.next++
			return opt.tag, &v, ""
		}
	}
}

// badOption is poptBadOption: the argv word last consumed.
func (p *popt) badOption() string {
	if p.next > 0 {
		return p.argv[p.next-1]
	}
	return "(null)"
}

func (p *popt) getArg() (string, bool) {
	if len(p.leftovers) == 0 {
		return "", false
	}
	a := p.leftovers[0]
	p.leftovers = p.leftovers[1:]
	return a, true
}

type parser struct {
	res     Resolver
	options uint64
	cmd     Command
	svcV6   bool // the service address is IPv6 (ce->svc.af == AF_INET6)
	destV6  bool
	hasDest bool
	tunCsum int // bits: 1 nocsum, 2 csum, 4 remcsum
}

func (p *parser) setOption(o int) *ParseError {
	bit := uint64(1) << o
	if p.options&bit != 0 {
		return failf("multiple '%s' options specified", optNames[o])
	}
	p.options |= bit
	return nil
}

func (p *parser) has(o int) bool { return p.options&(1<<o) != 0 }

var tryHelp = &ParseError{TryHelp: true, Status: 255}

func (p *parser) parse(argv []string) (Command, *ParseError) {
	c := &p.cmd
	if len(argv) == 0 {
		// main(): list the table if there is no other argument.
		c.Op = OpList
		return *c, nil
	}
	// process_options defaults.
	c.Dest.Weight = 1
	c.Dest.Method = vs.Route

	pp := popt{argv: argv}
	tag, arg, perr := pp.getNext()
	if tag < 0 || perr != "" {
		return Command{}, tryHelp
	}
	switch tag {
	case 'A':
		c.Op = OpAddService
	case 'E':
		c.Op = OpEditService
	case 'D':
		c.Op = OpDelService
	case 'a':
		c.Op = OpAddDest
	case 'e':
		c.Op = OpEditDest
	case 'd':
		c.Op = OpDelDest
	case 'C':
		c.Op = OpClear
	case 'L', 'l':
		c.Op = OpList
	case 'Z':
		c.Op = OpZero
	case tagSet:
		c.Op = OpSetTimeout
	case 'R':
		c.Op = OpRestore
	case 'S':
		c.Op = OpSave
	case tagStartDaemon, tagStopDaemon:
		c.Op = OpStartDaemon
		if tag == tagStopDaemon {
			c.Op = OpStopDaemon
		}
		switch *arg {
		case "master", "backup":
			c.Daemon.State = *arg
		default:
			if tag == tagStartDaemon {
				return Command{}, failf("illegal start-daemon parameter specified")
			}
			return Command{}, failf("illegal start_daemon specified")
		}
	case 'h':
		return Command{Op: OpHelp}, nil
	case 'v':
		return Command{Op: OpVersion}, nil
	default:
		return Command{}, tryHelp
	}

	schedFlagsArg := ""
	for {
		tag, arg, perr = pp.getNext()
		if tag < 0 || perr != "" {
			break
		}
		if e := p.option(tag, arg, &pp, &schedFlagsArg); e != nil {
			return Command{}, e
		}
	}
	if perr != "" {
		return Command{}, &ParseError{Msg: pp.badOption() + ": " + perr, Status: 255}
	}

	if c.Op == OpSetTimeout {
		a0, ok0 := pp.getArg()
		a1, ok1 := pp.getArg()
		a2, ok2 := pp.getArg()
		if !ok0 || !ok1 || !ok2 {
			return Command{}, failf("--set option requires 3 timeout values")
		}
		var e *ParseError
		if c.Timeouts.TCP, e = parseTimeout(&a0, 0, MaxTimeout); e != nil {
			return Command{}, e
		}
		if c.Timeouts.TCPFin, e = parseTimeout(&a1, 0, MaxTimeout); e != nil {
			return Command{}, e
		}
		if c.Timeouts.UDP, e = parseTimeout(&a2, 0, MaxTimeout); e != nil {
			return Command{}, e
		}
	}
	if a, ok := pp.getArg(); ok {
		return Command{}, failf("unexpected argument %s", a)
	}
	if schedFlagsArg != "" {
		bits, e := parseSchedFlags(c.Service.Scheduler, schedFlagsArg)
		if e != nil {
			return Command{}, e
		}
		sched := c.Service.Scheduler
		if sched == "" {
			sched = DefaultScheduler
		}
		c.Service.SchedFlags = canonicalSchedFlags(sched, bits)
	}

	if e := p.genericOptCheck(); e != nil {
		return Command{}, e
	}
	c.HasService = p.has(optService)

	switch c.Op {
	case OpAddService, OpEditService:
		if c.Service.FwMark == 0 && c.Service.Port == 0 && !c.Service.Persistent {
			return Command{}, failf("Zero port specified for non-persistent service")
		}
		if c.Service.OnePacket && c.Service.FwMark == 0 && c.Service.Proto != vs.UDP {
			return Command{}, failf("One-Packet Scheduling is only for UDP virtual services")
		}
		if c.Service.Scheduler == "" {
			c.Service.Scheduler = DefaultScheduler
		}
	case OpAddDest, OpEditDest:
		if c.Service.FwMark == 0 && (c.Dest.Method == vs.Tunnel || c.Dest.Method == vs.Route) {
			c.Dest.Port = c.Service.Port
		}
		svcV6 := p.svcV6 || c.FwMarkIPv6
		if p.destV6 != svcV6 && c.Dest.Method != vs.Tunnel {
			return Command{}, failf("Different address family is allowed only for tunneling servers")
		}
		if (p.has(optTunType) || p.has(optTunPort) || p.has(optTunNoCsum) || p.has(optTunCsum) || p.has(optTunRemCsum)) &&
			c.Dest.Method != vs.Tunnel {
			return Command{}, failf("Tunnel options conflict with forward method")
		}
		if e := p.tunnelOptCheck(); e != nil {
			return Command{}, e
		}
	case OpList:
		if (p.has(optConnection) || p.has(optTimeout) || p.has(optDaemon)) &&
			(p.has(optStats) || p.has(optRate) || p.has(optThresholds)) ||
			(p.has(optTimeout) || p.has(optDaemon)) && p.has(optPersistentConn) {
			return Command{}, failf("options conflicts in the list command")
		}
	}
	if c.Op == OpStartDaemon && c.Daemon.McastIfn == "" {
		c.Daemon.McastIfn = "eth0" // DEF_MCAST_IFN
	}
	if c.Op != OpAddDest && c.Op != OpEditDest {
		c.Tunnel = TunnelOptions{}
	}
	if c.Op != OpAddDest && c.Op != OpEditDest && c.Op != OpDelDest {
		c.Dest = Dest{}
	}
	return *c, nil
}

// option handles one option after the command, as parse_options' loop.
func (p *parser) option(tag int, arg *string, pp *popt, schedFlags *string) *ParseError {
	c := &p.cmd
	s := &c.Service
	var e *ParseError
	switch tag {
	case 't', 'u', tagSCTPService:
		if e = p.setOption(optService); e != nil {
			return e
		}
		switch tag {
		case 't':
			s.Proto = vs.TCP
		case 'u':
			s.Proto = vs.UDP
		default:
			s.Proto = ProtoSCTP
		}
		addr, port, res, v6 := p.parseService(*arg, s.Proto)
		if res&serviceAddr == 0 {
			return failf("illegal virtual server address[:port] specified")
		}
		s.Addr, p.svcV6 = addr, v6
		if res&servicePort != 0 {
			s.Port = port
		}
	case 'f':
		if e = p.setOption(optService); e != nil {
			return e
		}
		s.Proto = vs.TCP
		s.Addr = netip.Addr{}
		s.Port = 0
		p.svcV6 = false
		mark, ok := parseFwmark(*arg)
		if !ok {
			return failf("invalid fwmark value `%s' specified", *arg)
		}
		s.FwMark = mark
	case 's':
		if e = p.setOption(optScheduler); e != nil {
			return e
		}
		s.Scheduler = truncate(*arg, 15) // IP_VS_SCHEDNAME_MAXLEN - 1
	case 'p':
		if e = p.setOption(optPersistent); e != nil {
			return e
		}
		s.Persistent = true
		if s.Timeout, e = parseTimeout(arg, 1, MaxTimeout); e != nil {
			return e
		}
	case 'M':
		if e = p.setOption(optNetmask); e != nil {
			return e
		}
		if !p.svcV6 && !c.FwMarkIPv6 {
			m, ok := p.parseNetmask(*arg)
			if !ok {
				return failf("illegal virtual server persistent mask specified")
			}
			if m == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				m = netip.Addr{}
			}
			s.Netmask = m
		} else if n := atoi(*arg); n < 1 || n > 128 {
			return failf("illegal ipv6 netmask specified")
		}
	case 'r':
		if e = p.setOption(optServer); e != nil {
			return e
		}
		addr, port, res, v6 := p.parseService(*arg, s.Proto)
		c.Dest.Addr, p.destV6 = addr, v6
		c.Dest.Port = s.Port
		if res&servicePort != 0 {
			c.Dest.Port = port
		}
		if res&serviceAddr == 0 {
			return failf("illegal real server address[:port] specified")
		}
		p.hasDest = true
	case 'i':
		e = p.setOption(optForward)
		c.Dest.Method = vs.Tunnel
	case 'g':
		e = p.setOption(optForward)
		c.Dest.Method = vs.Route
	case 'm':
		e = p.setOption(optForward)
		c.Dest.Method = vs.Masq
	case tagFullNAT:
		e = p.setOption(optForward)
		c.Dest.Method = vs.FullNAT
	case tagLAddr:
		if e = p.setOption(optLAddr); e != nil {
			return e
		}
		c.Service.LocalAddrs = nil
		for _, f := range strings.Split(*arg, ",") {
			a, err := netip.ParseAddr(f)
			if err != nil || !a.Is4() || !a.IsGlobalUnicast() {
				return failf("illegal local address specified")
			}
			c.Service.LocalAddrs = append(c.Service.LocalAddrs, a)
		}
	case 'w':
		if e = p.setOption(optWeight); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 0, 65535)
		if !ok {
			return failf("illegal weight specified")
		}
		c.Dest.Weight = int32(n)
	case 'x':
		if e = p.setOption(optUThreshold); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 0, maxInt32)
		if !ok {
			return failf("illegal u_threshold specified")
		}
		c.Dest.UThreshold = uint32(n)
	case 'y':
		if e = p.setOption(optLThreshold); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 0, maxInt32)
		if !ok {
			return failf("illegal l_threshold specified")
		}
		c.Dest.LThreshold = uint32(n)
	case 'c':
		e = p.setOption(optConnection)
		c.List.Conn = true
	case 'n':
		e = p.setOption(optNumeric)
		c.List.Numeric = true
	case tagMcastInterface:
		e = p.setOption(optMcast)
		c.Daemon.McastIfn = truncate(*arg, 15)
	case tagSyncID:
		if e = p.setOption(optSyncID); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 0, 255)
		if !ok {
			return failf("illegal syncid specified")
		}
		c.Daemon.SyncID = uint8(n)
	case tagTimeout:
		e = p.setOption(optTimeout)
		c.List.Timeout = true
	case tagDaemon:
		e = p.setOption(optDaemon)
		c.List.Daemon = true
	case tagStats:
		e = p.setOption(optStats)
		c.List.Stats = true
	case tagRate:
		e = p.setOption(optRate)
		c.List.Rate = true
	case tagThresholds:
		e = p.setOption(optThresholds)
		c.List.Thresholds = true
	case tagPersistentConn:
		e = p.setOption(optPersistentConn)
		c.List.PersistConn = true
	case tagNoSort:
		e = p.setOption(optNoSort)
		c.List.NoSort = true
	case tagSort:
		// The default; a no-op for compatibility.
	case 'X':
		e = p.setOption(optExact)
		c.List.Exact = true
	case '6':
		if s.FwMark == 0 {
			return failf("-6 used before -f\n")
		}
		c.FwMarkIPv6 = true
	case 'o':
		e = p.setOption(optOnePacket)
		s.OnePacket = true
	case tagPersistenceEngine:
		e = p.setOption(optPE)
		c.PersistenceEngine = truncate(*arg, 16)
	case 'b':
		e = p.setOption(optSchedFlags)
		*schedFlags = truncate(*arg, 127)
	case tagMcastGroup:
		if e = p.setOption(optMcastGroup); e != nil {
			return e
		}
		a, err := netip.ParseAddr(*arg)
		if strings.Contains(*arg, ":") {
			if err != nil || !a.Is6() || a.Zone() != "" || !a.IsMulticast() {
				return failf("invalid IPv6 mcast-group `%s'", *arg)
			}
		} else if err != nil || !a.Is4() || !a.IsMulticast() {
			return failf("invalid IPv4 mcast-group `%s'", *arg)
		}
		c.Daemon.McastGroup = a
	case tagMcastPort:
		if e = p.setOption(optMcastPort); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 1, 65535)
		if !ok {
			return failf("illegal mcast-port specified")
		}
		c.Daemon.McastPort = uint16(n)
	case tagMcastTTL:
		if e = p.setOption(optMcastTTL); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 1, 255)
		if !ok {
			return failf("illegal mcast-ttl specified")
		}
		c.Daemon.McastTTL = uint8(n)
	case tagSyncMaxLen:
		if e = p.setOption(optSyncMaxLen); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 1, 65535-20-8)
		if !ok {
			return failf("illegal sync-maxlen specified")
		}
		c.Daemon.SyncMaxLen = uint16(n)
	case tagTunInfo:
		e = p.setOption(optTunInfo)
		c.List.TunInfo = true
	case tagTunType:
		if e = p.setOption(optTunType); e != nil {
			return e
		}
		switch *arg {
		case TunnelIPIP, TunnelGUE, TunnelGRE:
			c.Tunnel.Type = *arg
		default:
			return failf("illegal tunnel type specified")
		}
	case tagTunPort:
		if e = p.setOption(optTunPort); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 1, 65535)
		if !ok {
			return failf("illegal tunnel port specified")
		}
		c.Tunnel.Port = uint16(n)
	case tagTunNoCsum:
		e = p.setOption(optTunNoCsum)
		p.tunCsum |= 1
	case tagTunCsum:
		e = p.setOption(optTunCsum)
		p.tunCsum |= 2
	case tagTunRemCsum:
		e = p.setOption(optTunRemCsum)
		p.tunCsum |= 4
	default:
		return failf("invalid option `%s'", pp.badOption())
	}
	return e
}

func (p *parser) genericOptCheck() *ParseError {
	row := commandOptions[p.cmd.Op]
	name := p.cmd.Op.String()
	count, last := 0, 0
	for j := range numOpts {
		if !p.has(j) {
			if row[j] == '+' {
				return failf("You need to supply the '%s' option for the '%s' command", optNames[j], name)
			}
			continue
		}
		switch row[j] {
		case 'x':
			return failf("Illegal '%s' option with the '%s' command", optNames[j], name)
		case '1':
			count++
			if count == 1 {
				last = j
				continue
			}
			return failf("The option '%s' conflicts with the '%s' option in the '%s' command", optNames[j], optNames[last], name)
		}
	}
	return nil
}

func (p *parser) tunnelOptCheck() *ParseError {
	t := &p.cmd.Tunnel
	typ := t.Type
	if typ == "" {
		typ = TunnelIPIP
	}
	row := tunnelOptions[typ]
	count, last := 0, 0
	for j, k := range tunnelOpts {
		if !p.has(k) {
			if row[j] == '+' {
				return failf("You need to supply the '%s' option for the '%s' tunnel type", optNames[k], typ)
			}
			continue
		}
		switch row[j] {
		case 'x':
			return failf("Illegal '%s' option with the '%s' tunnel type", optNames[k], typ)
		case '1':
			count++
			if count == 1 {
				last = k
				continue
			}
			return failf("The option '%s' conflicts with the '%s' option in the '%s' tunnel type", optNames[k], optNames[last], typ)
		}
	}
	switch p.tunCsum {
	case 1:
		t.Csum = TunnelNoCsum
	case 2:
		t.Csum = TunnelCsum
	case 4:
		t.Csum = TunnelRemCsum
	}
	return nil
}

const (
	serviceAddr = 1
	servicePort = 2
)

// parseService is ipvsadm's parse_service: host[:port] or [v6]:port.
func (p *parser) parseService(buf string, proto vs.Protocol) (addr netip.Addr, port uint16, res int, v6 bool) {
	if strIsDigit(buf) {
		return netip.Addr{}, 0, 0, false
	}
	portStr, hasPort := "", false
	if strings.HasPrefix(buf, "[") {
		buf = buf[1:]
		i := strings.IndexByte(buf, ']')
		if i < 0 {
			return netip.Addr{}, 0, 0, false
		}
		rest := buf[i+1:]
		buf = buf[:i]
		if !strings.HasPrefix(rest, ":") {
			return netip.Addr{}, 0, 0, false
		}
		portStr, hasPort = rest[1:], true
	}
	if a, ok := parseIPv6(buf); ok {
		addr, v6 = a, true
	} else {
		// strrchr(buf, ':') on what is left of buf.
		hasPort = false
		if i := strings.LastIndexByte(buf, ':'); i >= 0 {
			portStr, hasPort = buf[i+1:], true
			buf = buf[:i]
		}
		if a, ok := inetAton(buf); ok {
			addr = a
		} else if a, ok := p.lookupHost(buf); ok {
			addr = a
		} else {
			return netip.Addr{}, 0, 0, false
		}
	}
	res = serviceAddr
	if hasPort {
		res |= servicePort
		if n, ok := stringToNumber(portStr, 0, 65535); ok {
			port = uint16(n)
		} else if n, ok := p.lookupService(portStr, proto); ok {
			port = n
		} else {
			return netip.Addr{}, 0, 0, false
		}
	}
	return addr, port, res, v6
}

func (p *parser) lookupHost(name string) (netip.Addr, bool) {
	if p.res == nil || name == "" {
		return netip.Addr{}, false
	}
	a, ok := p.res.LookupHost(name)
	if !ok || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

func (p *parser) lookupService(name string, proto vs.Protocol) (uint16, bool) {
	if p.res == nil {
		return 0, false
	}
	return p.res.LookupService(name, proto)
}

// parseNetmask is parse_netmask: inet_aton or a host name.
func (p *parser) parseNetmask(buf string) (netip.Addr, bool) {
	if a, ok := inetAton(buf); ok {
		return a, true
	}
	return p.lookupHost(buf)
}

// parseIPv6 is inet_pton(AF_INET6, ...): IPv6 text only, no zone.
func parseIPv6(s string) (netip.Addr, bool) {
	if !strings.Contains(s, ":") || strings.Contains(s, "%") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// inetAton is glibc's inet_aton: one to four parts in C notation (decimal,
// 0 octal, 0x hex), a.b.c.d, a.b.c (c 16 bits), a.b (b 24 bits) or a (32
// bits), optionally followed by white space and anything.
func inetAton(s string) (netip.Addr, bool) {
	var parts [3]uint32
	n := 0
	i := 0
	var val uint64
	for {
		if i >= len(s) || !isDigit(s[i]) {
			return netip.Addr{}, false
		}
		var ok bool
		val, i, ok = strtoul0(s, i)
		if !ok || val > math.MaxUint32 {
			return netip.Addr{}, false
		}
		if i < len(s) && s[i] == '.' {
			if n > 2 || val > 0xff {
				return netip.Addr{}, false
			}
			parts[n] = uint32(val)
			n++
			i++
			continue
		}
		break
	}
	if i < len(s) && !isSpace(s[i]) {
		return netip.Addr{}, false
	}
	max := [4]uint64{0xffffffff, 0xffffff, 0xffff, 0xff}
	if val > max[n] {
		return netip.Addr{}, false
	}
	v := uint32(val)
	for k := 0; k < n; k++ {
		v |= parts[k] << (24 - 8*k)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// strtoul0 reads an unsigned number at s[i:] as strtoul with base 0 does
// when s[i] is a digit. It reports false on overflow.
func strtoul0(s string, i int) (uint64, int, bool) {
	base := uint64(10)
	if s[i] == '0' {
		base = 8
		if i+2 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) {
			base = 16
			i += 2
		}
	}
	var v uint64
	overflow := false
	for i < len(s) {
		d, ok := digitVal(s[i])
		if !ok || d >= base {
			break
		}
		if v > (math.MaxUint64-d)/base {
			overflow = true
		}
		v = v*base + d
		i++
	}
	return v, i, !overflow
}

func digitVal(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { _, ok := digitVal(c); return ok }
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// strIsDigit is ipvsadm's str_is_digit: true for "" and all-digit strings.
func strIsDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// strtol is C strtol(s, &end, 10): leading space, a sign, digits. ok is
// false when no digits were read, trailing text remains or it overflows.
func strtol(s string) (int64, bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	overflow := false
	for i < len(s) && isDigit(s[i]) {
		v = v*10 + uint64(s[i]-'0')
		if v > 1<<63 {
			overflow = true
			v = 1 << 63
		}
		i++
	}
	if i == start || i != len(s) {
		return 0, false
	}
	if !neg && v > math.MaxInt64 {
		overflow = true
	}
	if overflow {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// stringToNumber is ipvsadm's string_to_number.
func stringToNumber(s string, min, max int64) (int64, bool) {
	n, ok := strtol(s)
	if !ok || n < min || n > max {
		return 0, false
	}
	return n, true
}

// atoi is C atoi: leading space, a sign, as many digits as there are.
func atoi(s string) int64 {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v int64
	for i < len(s) && isDigit(s[i]) {
		if v < 1<<40 {
			v = v*10 + int64(s[i]-'0')
		}
		i++
	}
	if neg {
		return -v
	}
	return v
}

// parseTimeout is parse_timeout; a nil buf is -p without a value.
func parseTimeout(buf *string, min, max int64) (uint32, *ParseError) {
	if buf == nil {
		return DefaultPersistentTimeout, nil
	}
	n, ok := stringToNumber(*buf, min, max)
	if !ok {
		return 0, failf("invalid timeout value `%s' specified", *buf)
	}
	return uint32(n), nil
}

// parseFwmark is parse_fwmark: 1..UINT_MAX.
func parseFwmark(buf string) (uint32, bool) {
	n, ok := strtol(buf)
	if !ok || n <= 0 || n > math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}

// parseSchedFlags is parse_sched_flags: comma-separated flag names, checked
// against the scheduler (wlc when none was given).
func parseSchedFlags(sched, arg string) (int, *ParseError) {
	if sched == "" {
		sched = DefaultScheduler
	}
	bits := 0
	tokens := strings.FieldsFunc(arg, func(r rune) bool { return r == ',' })
	if len(tokens) == 0 {
		return 0, failf("invalid scheduler flag `%s'", "")
	}
	for _, f := range tokens {
		need := ""
		switch f {
		case "flag-1":
			bits |= schedFlag1
		case "flag-2":
			bits |= schedFlag2
		case "flag-3":
			bits |= schedFlag3
		case "sh-fallback":
			bits |= schedFlag1
			need = "sh"
		case "sh-port":
			bits |= schedFlag2
			need = "sh"
		case "mh-fallback":
			bits |= schedFlag1
			need = "mh"
		case "mh-port":
			bits |= schedFlag2
			need = "mh"
		default:
			return 0, failf("invalid scheduler flag `%s'", f)
		}
		if need != "" && sched != need {
			return 0, failf("incompatible scheduler flag `%s'", f)
		}
	}
	return bits, nil
}

// truncate cuts s to at most n bytes, as strncpy into ipvsadm's fixed
// buffers does.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// SplitRestoreLine splits one line of ipvsadm -R input into arguments as
// ipvsadm's config_stream_read does: words separated by blanks, the word
// "ipvsadm" dropped. Unlike ipvsadm, whose comment handling never fires,
// everything from a '#' on is ignored, as its documentation says.
func SplitRestoreLine(line string) []string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	var out []string
	for _, w := range strings.FieldsFunc(line, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n'
	}) {
		if w != "ipvsadm" {
			out = append(out, w)
		}
	}
	return out
}

// RestoreError is a parse error in ipvsadm -R input.
type RestoreError struct {
	Line int // 1-based
	Err  *ParseError
}

func (e *RestoreError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Err.Error() }
func (e *RestoreError) Unwrap() error { return e.Err }

// ParseRestore parses ipvsadm -R / ipvsadm-save text: one command per
// line, blank lines skipped. The first bad line stops it with a
// *RestoreError.
func ParseRestore(r io.Reader, res Resolver) ([]Command, error) {
	var cmds []Command
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		args := SplitRestoreLine(sc.Text())
		if len(args) == 0 {
			continue
		}
		c, err := ParseArgsWith(args, res)
		if err != nil {
			return cmds, &RestoreError{Line: line, Err: err.(*ParseError)}
		}
		if c.Op == OpRestore {
			return cmds, &RestoreError{Line: line, Err: tryHelp}
		}
		cmds = append(cmds, c)
	}
	return cmds, sc.Err()
}

// Args returns ipvsadm arguments that parse back to c, numeric, in the
// order ipvsadm-save writes them. It covers the rule edits, -Z, -C and
// --set; other ops return just the command option.
func (c *Command) Args() []string {
	var a []string
	switch c.Op {
	case OpAddService:
		a = append(a, "-A")
	case OpEditService:
		a = append(a, "-E")
	case OpDelService:
		a = append(a, "-D")
	case OpClear:
		return []string{"-C"}
	case OpAddDest:
		a = append(a, "-a")
	case OpEditDest:
		a = append(a, "-e")
	case OpDelDest:
		a = append(a, "-d")
	case OpZero:
		a = append(a, "-Z")
	case OpSetTimeout:
		t := c.Timeouts
		return []string{"--set", u32(t.TCP), u32(t.TCPFin), u32(t.UDP)}
	case OpList:
		return []string{"-L"}
	case OpSave:
		return []string{"-S"}
	case OpRestore:
		return []string{"-R"}
	case OpHelp:
		return []string{"-h"}
	case OpVersion:
		return []string{"-v"}
	case OpStartDaemon:
		return []string{"--start-daemon", c.Daemon.State}
	case OpStopDaemon:
		return []string{"--stop-daemon", c.Daemon.State}
	default:
		return nil
	}
	if c.HasService {
		a = append(a, ServiceArgs(&c.Service, c.FwMarkIPv6)...)
	}
	switch c.Op {
	case OpAddService, OpEditService:
		s := &c.Service
		a = append(a, "-s", s.Scheduler)
		if s.Persistent {
			a = append(a, "-p", u32(s.Timeout))
		}
		if s.Netmask.IsValid() {
			a = append(a, "-M", s.Netmask.String())
		}
		if c.PersistenceEngine != "" {
			a = append(a, "--pe", c.PersistenceEngine)
		}
		if s.OnePacket {
			a = append(a, "-o")
		}
		if len(s.SchedFlags) > 0 {
			a = append(a, "-b", strings.Join(s.SchedFlags, ","))
		}
		if len(s.LocalAddrs) > 0 {
			a = append(a, "--laddr", joinAddrs(s.LocalAddrs))
		}
	case OpAddDest, OpEditDest, OpDelDest:
		d := &c.Dest
		a = append(a, "-r", addrPortString(d.Addr, d.Port))
		if c.Op == OpDelDest {
			break
		}
		switch d.Method {
		case vs.Masq:
			a = append(a, "-m")
		case vs.Tunnel:
			a = append(a, "-i")
		case vs.FullNAT:
			a = append(a, "--fullnat")
		default:
			a = append(a, "-g")
		}
		a = append(a, "-w", strconv.Itoa(int(d.Weight)))
		if d.UThreshold != 0 {
			a = append(a, "-x", u32(d.UThreshold))
		}
		if d.LThreshold != 0 {
			a = append(a, "-y", u32(d.LThreshold))
		}
		if c.Tunnel.Type != "" {
			a = append(a, "--tun-type", c.Tunnel.Type)
		}
		if c.Tunnel.Port != 0 {
			a = append(a, "--tun-port", strconv.Itoa(int(c.Tunnel.Port)))
		}
		if c.Tunnel.Csum != "" {
			a = append(a, "--tun-"+c.Tunnel.Csum)
		}
	}
	return a
}

// joinAddrs writes addresses as --laddr takes them: comma-separated.
func joinAddrs(as []netip.Addr) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return strings.Join(out, ",")
}

// ServiceArgs returns the -t/-u/--sctp-service/-f arguments naming s.
func ServiceArgs(s *Service, fwmarkIPv6 bool) []string {
	if s.FwMark != 0 {
		if fwmarkIPv6 {
			return []string{"-f", u32(s.FwMark), "-6"}
		}
		return []string{"-f", u32(s.FwMark)}
	}
	opt := "-t"
	switch s.Proto {
	case vs.UDP:
		opt = "-u"
	case ProtoSCTP:
		opt = "--sctp-service"
	}
	return []string{opt, addrPortString(s.Addr, s.Port)}
}

func addrPortString(a netip.Addr, port uint16) string {
	if a.Is6() {
		return "[" + a.String() + "]:" + strconv.Itoa(int(port))
	}
	return a.String() + ":" + strconv.Itoa(int(port))
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
