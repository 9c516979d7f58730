package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/ulvs/ulvs/vs"
)

// Op is an ipvsadm command. The zero value is invalid.
type Op uint8

// Commands, one per ipvsadm command option.
const (
	OpInvalid     Op = iota
	OpAddService     // -A, --add-service
	OpEditService    // -E, --edit-service
	OpDelService     // -D, --delete-service
	OpClear          // -C, --clear
	OpAddDest        // -a, --add-server
	OpEditDest       // -e, --edit-server
	OpDelDest        // -d, --delete-server
	OpList           // -L, -l, --list (and no arguments at all)
	OpZero           // -Z, --zero
	OpSetTimeout     // --set tcp tcpfin udp
	OpSave           // -S, --save
	OpRestore        // -R, --restore
	OpStartDaemon    // --start-daemon master|backup
	OpStopDaemon     // --stop-daemon master|backup
	OpHelp           // -h, --help
	OpVersion        // -v, --version
	numOps
)

// opNames are ipvsadm's cmdnames (ipvsadm.c), which its option-check
// messages print.
var opNames = [numOps]string{
	OpInvalid:     "",
	OpAddService:  "add-service",
	OpEditService: "edit-service",
	OpDelService:  "delete-service",
	OpClear:       "flush",
	OpAddDest:     "add-server",
	OpEditDest:    "edit-server",
	OpDelDest:     "delete-server",
	OpList:        "list",
	OpZero:        "zero",
	OpSetTimeout:  "set",
	OpSave:        "save",
	OpRestore:     "restore",
	OpStartDaemon: "start-daemon",
	OpStopDaemon:  "stop-daemon",
	OpHelp:        "help",
	OpVersion:     "version",
}

// String returns ipvsadm's name for the command ("add-service", "flush", ...).
func (o Op) String() string {
	if o == OpInvalid || o >= numOps {
		return fmt.Sprintf("Op(%d)", uint8(o))
	}
	return opNames[o]
}

// IsRuleEdit reports whether o changes the rule table (and so is handled by
// Rules.Apply).
func (o Op) IsRuleEdit() bool {
	switch o {
	case OpAddService, OpEditService, OpDelService, OpClear,
		OpAddDest, OpEditDest, OpDelDest:
		return true
	}
	return false
}

// ListOptions are the output options of -L, -S and -c.
type ListOptions struct {
	Numeric     bool // -n
	Conn        bool // -c: list connections
	Timeout     bool // --timeout: list the timeouts
	Daemon      bool // --daemon: list the sync daemons
	Stats       bool // --stats
	Rate        bool // --rate
	Thresholds  bool // --thresholds
	PersistConn bool // --persistent-conn
	NoSort      bool // --nosort
	Exact       bool // -X, --exact
	TunInfo     bool // --tun-info
}

// Timeouts are the connection timeouts of --set, in seconds. Zero leaves a
// value unchanged, as the kernel's ip_vs_set_timeout does.
type Timeouts struct {
	TCP    uint32
	TCPFin uint32
	UDP    uint32
}

// Tunnel types of --tun-type (IP_VS_CONN_F_TUNNEL_TYPE_*).
const (
	TunnelIPIP = "ipip"
	TunnelGUE  = "gue"
	TunnelGRE  = "gre"
)

// Tunnel checksum modes of --tun-nocsum, --tun-csum and --tun-remcsum.
const (
	TunnelNoCsum  = "nocsum"
	TunnelCsum    = "csum"
	TunnelRemCsum = "remcsum"
)

// TunnelOptions are the --tun-* options of -a/-e.
type TunnelOptions struct {
	Type string // "" means ipip
	Port uint16 // --tun-port (gue only)
	Csum string // "", TunnelNoCsum, TunnelCsum or TunnelRemCsum
}

// DaemonOptions are the arguments of --start-daemon and --stop-daemon,
// which ulvsd's connection sync daemons (package ipvssync, run by the
// director) take. Zero fields mean the kernel's defaults.
type DaemonOptions struct {
	State      string // "master" or "backup"
	McastIfn   string
	SyncID     uint8
	McastGroup netip.Addr
	McastPort  uint16
	McastTTL   uint8
	SyncMaxLen uint16
}

// Command is one parsed ipvsadm command line.
type Command struct {
	Op Op

	// Service names the virtual service (-t/-u/-f) and, for -A/-E, carries
	// its parameters. Service.Dests is unused.
	Service Service
	// HasService reports whether a service was named (it is optional for
	// -L and -Z).
	HasService bool
	// FwMarkIPv6 is -6: the fwmark service is IPv6.
	FwMarkIPv6 bool
	// PersistenceEngine is --pe NAME.
	PersistenceEngine string

	// Dest is the real server of -a/-e/-d.
	Dest   Dest
	Tunnel TunnelOptions

	List     ListOptions
	Timeouts Timeouts
	Daemon   DaemonOptions
}

// Normalize gives a fwmark service named IPv6 by FwMarkIPv6 alone
// (ipvsadm's -6) its key's address, FwMark6Addr, so that every user of
// c.Service.Key() (Apply, the director's -Z and trace) names the IPv6
// service rather than the IPv4 one of the same mark.
func (c *Command) Normalize() {
	if c.FwMarkIPv6 && c.Service.FwMark != 0 {
		c.Service.Addr = FwMark6Addr
	}
}

// Sentinel errors of Apply, one per errno the kernel returns from
// do_ip_vs_set_ctl (net/netfilter/ipvs/ip_vs_ctl.c). ipvsadm turns the pair
// (command, errno) into its message; so does ulvsadm.
var (
	ErrServiceExists     = errors.New("service already exists")                    // EEXIST on add-service
	ErrNoService         = errors.New("no such service")                           // ESRCH
	ErrDestExists        = errors.New("destination already exists")                // EEXIST on add-server
	ErrNoDest            = errors.New("no such destination")                       // ENOENT on edit/delete-server
	ErrSchedulerNotFound = errors.New("scheduler or persistence engine not found") // ENOENT on add/edit-service
	ErrRange             = errors.New("value out of range")                        // ERANGE: weight, thresholds
	ErrInvalid           = errors.New("invalid operation")                         // EINVAL: address not unicast, ...
	ErrAddrFamily        = errors.New("address family not supported")              // EAFNOSUPPORT: ulvs is IPv4 only
	ErrProtocol          = errors.New("protocol not available")                    // SCTP and others
	ErrNotSupported      = errors.New("not supported by ulvs")                     // sync daemon, gue/gre tunnels
	ErrNoDaemon          = errors.New("no daemon is running")                      // ESRCH on stop-daemon
	ErrDaemonRunning     = errors.New("daemon has already run")                    // EEXIST on start-daemon
	ErrNotRuleEdit       = errors.New("not a rule edit")                           // Apply given -L, -S, ...
	// ErrSynProxyMethod: a SYN proxy service with a DR or TUN real
	// server, whose replies would bypass the director that must
	// translate their sequence numbers. ulvs only.
	ErrSynProxyMethod = errors.New("the SYN proxy works only with NAT and FULLNAT real servers")
)

// Schedulers are the scheduler names ulvs knows, the kernel's
// ip_vs_<name>.c modules.
var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// Schedulers returns the scheduler names ulvs knows, in the kernel's
// order (ipvsadm's SCHEDULERS list, then twos); the caller owns the slice.
func Schedulers() []string { return slices.Clone(schedulers) }

// KnownScheduler reports whether name is a scheduler ulvs provides.
func KnownScheduler(name string) bool { return slices.Contains(schedulers, name) }

// schedFlagNames returns the names of the three scheduler flag bits for
// sched, as ipvsadm's print_sched_flags spells them.
func schedFlagNames(sched string) [3]string {
	switch sched {
	case "sh":
		return [3]string{"sh-fallback", "sh-port", "flag-3"}
	case "mh":
		return [3]string{"mh-fallback", "mh-port", "flag-3"}
	}
	return [3]string{"flag-1", "flag-2", "flag-3"}
}

// SchedFlagBits returns the IP_VS_SVC_F_SCHED* bits (0x08, 0x10, 0x20) named
// by flags, whatever the scheduler; unknown names are ignored.
func SchedFlagBits(flags []string) vs.ServiceFlags {
	var b vs.ServiceFlags
	for _, f := range flags {
		switch f {
		case "flag-1", "sh-fallback", "mh-fallback":
			b |= vs.SvcSchedFlag1
		case "flag-2", "sh-port", "mh-port":
			b |= vs.SvcSchedFlag2
		case "flag-3":
			b |= vs.SvcSchedFlag3
		}
	}
	return b
}

// CanonicalSchedFlags names the scheduler flag bits set in bits (bit 0 is
// IP_VS_SVC_F_SCHED1) for sched, in bit order, as ipvsadm -L prints them.
func CanonicalSchedFlags(sched string, bits int) []string {
	if bits == 0 {
		return nil
	}
	names := schedFlagNames(sched)
	var out []string
	for i := range 3 {
		if bits&(1<<i) != 0 {
			out = append(out, names[i])
		}
	}
	return out
}

// Validate checks the invariants every command ParseArgs accepts holds. It
// does not consult any rule table.
func (c *Command) Validate() error {
	if c.Op == OpInvalid || c.Op >= numOps {
		return fmt.Errorf("config: invalid op %d", uint8(c.Op))
	}
	needService := false
	switch c.Op {
	case OpAddService, OpEditService, OpDelService, OpAddDest, OpEditDest, OpDelDest:
		needService = true
	}
	if needService && !c.HasService {
		return fmt.Errorf("config: %v needs a service", c.Op)
	}
	if c.HasService {
		s := &c.Service
		if s.FwMark == 0 {
			if !s.Addr.IsValid() {
				return fmt.Errorf("config: %v: service has no address", c.Op)
			}
			if s.Proto == 0 {
				return fmt.Errorf("config: %v: service has no protocol", c.Op)
			}
		} else if s.Addr.IsValid() && s.Addr != FwMark6Addr || s.Port != 0 {
			return fmt.Errorf("config: %v: fwmark service with an address", c.Op)
		}
	}
	switch c.Op {
	case OpAddService, OpEditService:
		s := &c.Service
		if s.Scheduler == "" {
			return fmt.Errorf("config: %v: no scheduler", c.Op)
		}
		if s.FwMark == 0 && s.Port == 0 && !s.Persistent {
			return fmt.Errorf("config: %v: zero port for a non-persistent service", c.Op)
		}
		if s.Persistent && (s.Timeout < 1 || s.Timeout > MaxTimeout) {
			return fmt.Errorf("config: %v: persistence timeout %d out of range", c.Op, s.Timeout)
		}
		if !s.Persistent && s.Timeout != 0 {
			return fmt.Errorf("config: %v: timeout without persistence", c.Op)
		}
		if v6 := c.FwMarkIPv6 || s.IPv6(); s.Netmask.IsValid() && s.Netmask.Is6() != v6 {
			return fmt.Errorf("config: %v: netmask %v is not of the service's address family", c.Op, s.Netmask)
		}
		if s.OnePacket && s.FwMark == 0 && s.Proto != vs.UDP {
			return fmt.Errorf("config: %v: one-packet scheduling on a non-UDP service", c.Op)
		}
		if s.SynProxy && s.FwMark == 0 && s.Proto != vs.TCP {
			return fmt.Errorf("config: %v: SYN proxy on a non-TCP service", c.Op)
		}
	case OpAddDest, OpEditDest, OpDelDest:
		d := &c.Dest
		if !d.Addr.IsValid() {
			return fmt.Errorf("config: %v: dest has no address", c.Op)
		}
		if d.Weight < 0 { // the kernel's only check; any int32 >= 0 is a weight
			return fmt.Errorf("config: %v: weight %d out of range", c.Op, d.Weight)
		}
		if d.UThreshold > maxInt32 || d.LThreshold > maxInt32 {
			return fmt.Errorf("config: %v: threshold out of range", c.Op)
		}
		switch d.Method {
		case vs.Masq, vs.Tunnel, vs.Route, vs.FullNAT:
		default:
			return fmt.Errorf("config: %v: forwarding method %v", c.Op, d.Method)
		}
		if c.Op != OpDelDest && c.Service.FwMark == 0 && d.Method != vs.Masq && d.Method != vs.FullNAT && d.Port != c.Service.Port {
			return fmt.Errorf("config: %v: %v dest port %d differs from service port %d", c.Op, d.Method, d.Port, c.Service.Port)
		}
		if c.Tunnel != (TunnelOptions{}) && d.Method != vs.Tunnel {
			return fmt.Errorf("config: %v: tunnel options with %v", c.Op, d.Method)
		}
	case OpSetTimeout:
		t := c.Timeouts
		if t.TCP > MaxTimeout || t.TCPFin > MaxTimeout || t.UDP > MaxTimeout {
			return fmt.Errorf("config: set: timeout out of range")
		}
	case OpStartDaemon, OpStopDaemon:
		if c.Daemon.State != "master" && c.Daemon.State != "backup" {
			return fmt.Errorf("config: %v: state %q", c.Op, c.Daemon.State)
		}
	}
	return nil
}

// ProtoSCTP is IPPROTO_SCTP, the protocol of --sctp-service. ulvs parses it
// but does not serve it (Rules.Apply returns ErrProtocol).
const ProtoSCTP vs.Protocol = 132

// MaxTimeout is ipvsadm's MAX_TIMEOUT: 31 days, in seconds.
const MaxTimeout = 86400 * 31

const maxInt32 = 1<<31 - 1

// DefaultPersistentTimeout is the persistence timeout of -p without a value:
// IPVS_SVC_PERSISTENT_TIMEOUT, (6*60), in ipvsadm's libipvs/libipvs.h. The
// man page says 300 seconds; the code sends 360, and the code wins.
const DefaultPersistentTimeout = 360

// DefaultScheduler is ipvsadm's DEF_SCHED.
const DefaultScheduler = "wlc"
