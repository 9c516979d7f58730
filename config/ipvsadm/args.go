package ipvsadm

import (
	"math"
	"net/netip"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// parser is one run of ipvsadm's process_options over a command line: the
// options seen so far (bit per opt*), and the command being built.
type parser struct {
	res     Resolver
	options uint64
	cmd     config.Command
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

func (p *parser) parse(argv []string) (config.Command, *ParseError) {
	c := &p.cmd
	if len(argv) == 0 {
		// main(): list the table if there is no other argument.
		c.Op = config.OpList
		return *c, nil
	}
	// process_options defaults.
	c.Dest.Weight = 1
	c.Dest.Method = vs.Route

	pp := popt{argv: argv}
	tag, arg, perr := pp.getNext()
	if tag < 0 || perr != "" {
		return config.Command{}, tryHelp
	}
	switch tag {
	case 'A':
		c.Op = config.OpAddService
	case 'E':
		c.Op = config.OpEditService
	case 'D':
		c.Op = config.OpDelService
	case 'a':
		c.Op = config.OpAddDest
	case 'e':
		c.Op = config.OpEditDest
	case 'd':
		c.Op = config.OpDelDest
	case 'C':
		c.Op = config.OpClear
	case 'L', 'l':
		c.Op = config.OpList
	case 'Z':
		c.Op = config.OpZero
	case tagSet:
		c.Op = config.OpSetTimeout
	case 'R':
		c.Op = config.OpRestore
	case 'S':
		c.Op = config.OpSave
	case tagStartDaemon, tagStopDaemon:
		c.Op = config.OpStartDaemon
		if tag == tagStopDaemon {
			c.Op = config.OpStopDaemon
		}
		switch *arg {
		case "master", "backup":
			c.Daemon.State = *arg
		default:
			if tag == tagStartDaemon {
				return config.Command{}, failf("illegal start-daemon parameter specified")
			}
			return config.Command{}, failf("illegal start_daemon specified")
		}
	case 'h':
		return config.Command{Op: config.OpHelp}, nil
	case 'v':
		return config.Command{Op: config.OpVersion}, nil
	default:
		return config.Command{}, tryHelp
	}

	schedFlagsArg := ""
	for {
		tag, arg, perr = pp.getNext()
		if tag < 0 || perr != "" {
			break
		}
		if e := p.option(tag, arg, &pp, &schedFlagsArg); e != nil {
			return config.Command{}, e
		}
	}
	if perr != "" {
		return config.Command{}, &ParseError{Msg: pp.badOption() + ": " + perr, Status: 255}
	}

	if c.Op == config.OpSetTimeout {
		a0, ok0 := pp.getArg()
		a1, ok1 := pp.getArg()
		a2, ok2 := pp.getArg()
		if !ok0 || !ok1 || !ok2 {
			return config.Command{}, failf("--set option requires 3 timeout values")
		}
		var e *ParseError
		if c.Timeouts.TCP, e = parseTimeout(&a0, 0, config.MaxTimeout); e != nil {
			return config.Command{}, e
		}
		if c.Timeouts.TCPFin, e = parseTimeout(&a1, 0, config.MaxTimeout); e != nil {
			return config.Command{}, e
		}
		if c.Timeouts.UDP, e = parseTimeout(&a2, 0, config.MaxTimeout); e != nil {
			return config.Command{}, e
		}
	}
	if a, ok := pp.getArg(); ok {
		return config.Command{}, failf("unexpected argument %s", a)
	}
	if schedFlagsArg != "" {
		bits, e := parseSchedFlags(c.Service.Scheduler, schedFlagsArg)
		if e != nil {
			return config.Command{}, e
		}
		sched := c.Service.Scheduler
		if sched == "" {
			sched = config.DefaultScheduler
		}
		c.Service.SchedFlags = config.CanonicalSchedFlags(sched, bits)
	}

	if e := p.genericOptCheck(); e != nil {
		return config.Command{}, e
	}
	c.HasService = p.has(optService)

	switch c.Op {
	case config.OpAddService, config.OpEditService:
		if c.Service.FwMark == 0 && c.Service.Port == 0 && !c.Service.Persistent {
			return config.Command{}, failf("Zero port specified for non-persistent service")
		}
		if c.Service.OnePacket && c.Service.FwMark == 0 && c.Service.Proto != vs.UDP {
			return config.Command{}, failf("One-Packet Scheduling is only for UDP virtual services")
		}
		if c.Service.SynProxy && c.Service.FwMark == 0 && c.Service.Proto != vs.TCP {
			return config.Command{}, failf("SYN proxy is only for TCP virtual services")
		}
		if c.Service.Scheduler == "" {
			c.Service.Scheduler = config.DefaultScheduler
		}
	case config.OpAddDest, config.OpEditDest:
		if c.Service.FwMark == 0 && (c.Dest.Method == vs.Tunnel || c.Dest.Method == vs.Route) {
			c.Dest.Port = c.Service.Port
		}
		svcV6 := p.svcV6 || c.FwMarkIPv6
		if p.destV6 != svcV6 && c.Dest.Method != vs.Tunnel {
			return config.Command{}, failf("Different address family is allowed only for tunneling servers")
		}
		if (p.has(optTunType) || p.has(optTunPort) || p.has(optTunNoCsum) || p.has(optTunCsum) || p.has(optTunRemCsum)) &&
			c.Dest.Method != vs.Tunnel {
			return config.Command{}, failf("Tunnel options conflict with forward method")
		}
		if e := p.tunnelOptCheck(); e != nil {
			return config.Command{}, e
		}
	case config.OpList:
		if (p.has(optConnection) || p.has(optTimeout) || p.has(optDaemon)) &&
			(p.has(optStats) || p.has(optRate) || p.has(optThresholds)) ||
			(p.has(optTimeout) || p.has(optDaemon)) && p.has(optPersistentConn) {
			return config.Command{}, failf("options conflicts in the list command")
		}
	}
	if c.Op == config.OpStartDaemon && c.Daemon.McastIfn == "" {
		c.Daemon.McastIfn = "eth0" // DEF_MCAST_IFN
	}
	if c.Op != config.OpAddDest && c.Op != config.OpEditDest {
		c.Tunnel = config.TunnelOptions{}
	}
	if c.Op != config.OpAddDest && c.Op != config.OpEditDest && c.Op != config.OpDelDest {
		c.Dest = config.Dest{}
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
			s.Proto = config.ProtoSCTP
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
		if s.Timeout, e = parseTimeout(arg, 1, config.MaxTimeout); e != nil {
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
		} else {
			s.Netmask = config.IPv6Mask(int(n)) // a prefix length, as the kernel keeps it
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
			if err != nil || a.Is4In6() || !a.IsGlobalUnicast() {
				return failf("illegal local address specified")
			}
			c.Service.LocalAddrs = append(c.Service.LocalAddrs, a)
		}
	case tagSynProxy:
		e = p.setOption(optSynProxy)
		c.Service.SynProxy = true
	case 'w':
		if e = p.setOption(optWeight); e != nil {
			return e
		}
		// ipvsadm 1.31 stops at 65535; the kernel refuses only a weight
		// below 0 (ip_vs_add_dest, ip_vs_edit_dest), and ipvsadm raised
		// its bound to INT_MAX to match ("ipvsadm: increase maximum weight
		// value", 2025, Debian bug 814348). ulvs takes the kernel's range.
		n, ok := stringToNumber(*arg, 0, math.MaxInt32)
		if !ok {
			return failf("illegal weight specified")
		}
		c.Dest.Weight = int32(n)
	case 'x':
		if e = p.setOption(optUThreshold); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 0, math.MaxInt32)
		if !ok {
			return failf("illegal u_threshold specified")
		}
		c.Dest.UThreshold = uint32(n)
	case 'y':
		if e = p.setOption(optLThreshold); e != nil {
			return e
		}
		n, ok := stringToNumber(*arg, 0, math.MaxInt32)
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
		// ipvsadm 1.31: af = AF_INET6, netmask = 128 (an -M before -6
		// is forgotten). The kernel keys fwmark services by (af, mark).
		c.FwMarkIPv6 = true
		s.Addr = config.FwMark6Addr
		s.Netmask = netip.Addr{}
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
		case config.TunnelIPIP, config.TunnelGUE, config.TunnelGRE:
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
