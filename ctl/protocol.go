package ctl

import (
	"errors"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/vrrp"
	"github.com/ulvs/ulvs/vs"
)

// DefaultSocket is where ulvsd listens unless told otherwise.
const DefaultSocket = "/run/ulvs/ulvsd.sock"

// EnvSocket names the environment variable that overrides DefaultSocket
// (a --socket flag overrides both).
const EnvSocket = "ULVS_SOCKET"

// SocketPath returns flag if set, else $ULVS_SOCKET (looked up with getenv),
// else DefaultSocket.
func SocketPath(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if getenv != nil {
		if p := getenv(EnvSocket); p != "" {
			return p
		}
	}
	return DefaultSocket
}

// MaxRequestSize bounds one request line.
const MaxRequestSize = 1 << 20

// Director is what the daemon offers the admin protocol. Implementations
// must be safe for concurrent use.
type Director interface {
	// Apply performs a command: rule edits (returning config's sentinels,
	// wrapped), -Z, --set and the daemon commands.
	Apply(c config.Command) error
	// Snapshot returns the live table for listings.
	Snapshot() Snapshot
}

// ConnLister is implemented by a Director that can list its connections
// (ipvsadm -L -c). Without it the list is empty.
type ConnLister interface {
	Conns() []ConnStatus
}

// ConfigSaver is implemented by a Director that can write its live rules
// back to a TOML file (ulvsadm --save-config, a ulvs extension).
type ConfigSaver interface {
	// SaveConfig writes the live rules to path, or to the daemon's own
	// configuration file when path is "", and returns the path written.
	// It returns ErrNoConfigFile when path is "" and the daemon has no
	// file.
	SaveConfig(path string) (string, error)
}

// IPVSVersion is the IPVS version ulvs reports, the kernel's since 2.6.
const IPVSVersion = "1.2.1"

// DefaultConnTableSize is the kernel's default connection hash table size
// (CONFIG_IP_VS_TAB_BITS=12), which "ipvsadm -L" prints as size=.
const DefaultConnTableSize = 4096

// Info is what ipvs_init learns: the version and the connection table size.
type Info struct {
	Version       string
	ConnTableSize int
}

// Snapshot is the daemon's live table.
type Snapshot struct {
	Version       string // "" means IPVSVersion
	ConnTableSize int    // 0 means DefaultConnTableSize
	Timeouts      config.Timeouts
	Services      []ServiceStatus
	// Engine holds the data path's counters by name (frames, answers,
	// drops by reason); ulvs-only, shown by `ulvs stats`.
	Engine map[string]uint64 `json:",omitempty"`
	// Checks are the health checks of the checked services, their
	// servers and checkers (ulvs checks); ulvs-only.
	Checks []healthcheck.VirtualStatus `json:",omitempty"`
	// HA are the failover (VRRP) instances (ulvs ha); ulvs-only.
	HA []vrrp.Status `json:",omitempty"`
	// Interfaces holds the state of the director's interfaces;
	// ulvs-only, shown by `ulvs stats` and Prometheus.
	Interfaces []InterfaceStatus `json:",omitempty"`
	// Workers are the data path's workers' loop counters; ulvs-only,
	// shown by `ulvs stats` and Prometheus.
	Workers []WorkerStatus `json:",omitempty"`
	// Daemons are the running connection sync daemons, master first
	// (ipvsadm -L --daemon).
	Daemons []DaemonStatus `json:",omitempty"`
	// MarkRules are the iptables/nft prerouting MARK rules ulvsd read
	// (package nfmarks); nil when it does not read them. ulvs-only.
	MarkRules *MarkRulesStatus `json:",omitempty"`
	// Defense is the connection tables' fill and IPVS's defence ladder
	// (drop_entry, drop_packet, secure_tcp); ulvs-only, shown by
	// `ulvs stats` and Prometheus.
	Defense *DefenseStatus `json:",omitempty"`
	// BGP is the BGP speaker's state (ulvs bgp status); nil when [bgp]
	// is not configured. ulvs-only.
	BGP *BGPStatus `json:",omitempty"`
}

// BGPStatus is the state of ulvsd's BGP speaker (docs/scale-out.md).
type BGPStatus struct {
	LocalAS  uint32
	RouterID netip.Addr
	// Quorum is the alive weight each service of an address needs.
	Quorum uint32
	// Drained is set by `ulvs bgp drain`: nothing is announced.
	Drained bool
	// Stopping is set while ulvsd withdraws its routes before it stops.
	Stopping bool
	// Warmup says what the warm-up after start waits for ("" when it
	// is over or there is none).
	Warmup string `json:",omitempty"`
	Peers  []BGPPeerStatus
	// Addresses are the virtual addresses, each with whether it is
	// announced and why (not).
	Addresses []BGPAddressStatus
	// Error is the last failure to announce or withdraw ("" when none).
	Error string `json:",omitempty"`
}

// BGPPeerStatus is one BGP session.
type BGPPeerStatus struct {
	Address netip.Addr
	AS      uint32
	// State is the RFC 4271 FSM state: "idle", "connect", "active",
	// "opensent", "openconfirm" or "established".
	State string
	// HoldTime is the negotiated hold time in seconds (0 before OPEN).
	HoldTime int
	// Since is when the session came up (established) or last went
	// down; zero when never.
	Since                        time.Time `json:",omitzero"`
	UpdatesSent, UpdatesReceived uint64
	Flops                        uint32
	// BFD is the BFD session's state ("up", "down", "init",
	// "admindown"); "" without BFD.
	BFD string `json:",omitempty"`
}

// BGPAddressStatus is one virtual address as the BGP speaker sees it.
type BGPAddressStatus struct {
	Prefix    netip.Prefix
	Announced bool
	// Reason says why the address is (not) announced: "quorum",
	// "drained", "no quorum: TCP 10.0.0.1:80 has alive weight 0 < 1", ...
	Reason string
}

// BGPDrainer is implemented by a Director with a BGP speaker: drain
// withdraws every route (and keeps them withdrawn), undrain lets the
// quorum decide again. It returns config.ErrNotSupported, wrapped, when
// BGP is not configured.
type BGPDrainer interface {
	BGPDrain(drain bool) error
}

// DefenseStatus is the connection tables' fill and the defence ladder's
// state as update_defense_level last decided it.
type DefenseStatus struct {
	// DropEntry, DropPacket, SecureTCP are the modes now (0..3; 1 and 2
	// move by themselves, as the kernel's sysctls do).
	DropEntry, DropPacket, SecureTCP int
	// DropEntryOn: drop_entry runs each second; DropRate: one new
	// connection in DropRate is dropped (0: none); SecureOn: TCP follows
	// the stricter tcp_states_dos table.
	DropEntryOn bool
	DropRate    int
	SecureOn    bool
	// Conns are the connections in the tables and Capacity the
	// connections they can hold, as the workers last published them
	// (once per batch); Free is the slots left (the kernel's availmem)
	// and AmemThresh the threshold it was compared with, both at the
	// last decision (once a second), so Conns + Free may differ from
	// Capacity.
	Conns, Capacity, Free, AmemThresh int
}

// MarkRulesStatus is the last reading of the netfilter mark rules.
type MarkRulesStatus struct {
	Rules []MarkRuleStatus
	// Error is why the last reading failed ("" when it worked); the
	// rules are then those of the reading before.
	Error string `json:",omitempty"`
}

// MarkRuleStatus is one netfilter mark rule: used when Reason is "",
// refused with the reason otherwise.
type MarkRuleStatus struct {
	Chain, Text string
	Mark        uint32 `json:",omitempty"`
	Reason      string `json:",omitempty"`
}

// DaemonStatus is one running connection sync daemon as the kernel reports
// it (IPVS_CMD_GET_DAEMON): every field filled, defaults included.
type DaemonStatus struct {
	State     string // "master" or "backup"
	Interface string // --mcast-interface
	SyncID    uint8
	MaxLen    int
	Group     netip.Addr
	Port      uint16
	TTL       uint8
	// Stats are ulvs's counters of the daemon (messages, entries, drops)
	// by name; not printed by -L --daemon.
	Stats map[string]uint64 `json:",omitempty"`
}

// WorkerStatus is one data-path worker's loop counters.
type WorkerStatus struct {
	Index int
	// Packets are the frames it received, Batches its receive calls that
	// returned frames, Polls the times it slept waiting for frames,
	// TxCalls its transmit batches and TxFrames the frames they sent.
	Packets, Batches, Polls, TxCalls, TxFrames uint64
	// IdleWins are its idle polls that found frames before it would
	// have slept (ulvsd --idle-poll).
	IdleWins uint64 `json:",omitempty"`
	// RingDrops are the frames the kernel dropped because its receive
	// rings were full (it did not keep up).
	RingDrops uint64
	// CPUNanos is the CPU time of its thread, in nanoseconds.
	CPUNanos uint64
}

// InterfaceStatus is the state of one of the director's interfaces.
type InterfaceStatus struct {
	Name string
	// State is "up" (forwarding), "absent" (no interface of that name),
	// "down" (administratively down) or "broken" (up, but its sockets
	// failed and are being reopened).
	State string
	// Since is when State last changed.
	Since   time.Time
	Index   int    `json:",omitempty"`
	MAC     string `json:",omitempty"`
	MTU     int    `json:",omitempty"`
	Carrier bool
	// Losses counts the times the director stopped forwarding on it.
	Losses uint64
}

// Info returns s's version and table size with the defaults filled in.
func (s *Snapshot) Info() Info {
	i := Info{Version: s.Version, ConnTableSize: s.ConnTableSize}
	if i.Version == "" {
		i.Version = IPVSVersion
	}
	if i.ConnTableSize == 0 {
		i.ConnTableSize = DefaultConnTableSize
	}
	return i
}

// Stats are the counters and rate estimates of a service or dest, as the
// kernel's ip_vs_stats64 holds them.
type Stats struct {
	Conns    uint64
	InPkts   uint64
	OutPkts  uint64
	InBytes  uint64
	OutBytes uint64
	CPS      uint64 // connections per second
	InPPS    uint64
	OutPPS   uint64
	InBPS    uint64 // bytes per second
	OutBPS   uint64
}

// ServiceStatus is one service of a Snapshot. The embedded
// config.Service's Dests field is shadowed by Dests and unused.
type ServiceStatus struct {
	config.Service
	Stats Stats
	Dests []DestStatus
}

// DestStatus is one real server of a ServiceStatus.
type DestStatus struct {
	config.Dest
	ActiveConns  int32
	InactConns   int32
	PersistConns int32
	Stats        Stats
	// Resolved reports that the director knows the real server's MAC
	// (a DR real server takes connections only then); ulvs-only.
	Resolved bool `json:",omitempty"`
}

// ConnStatus is one connection or persistence template, as a line of
// /proc/net/ip_vs_conn.
type ConnStatus struct {
	Proto   vs.Protocol // 0 for a template without protocol ("IP")
	Client  netip.AddrPort
	Virtual netip.AddrPort
	Dest    netip.AddrPort
	State   string // "ESTABLISHED", "FIN_WAIT", "NONE", ...
	Expires uint32 // seconds
	PEName  string
	PEData  string
}

// ErrPermission is the refusal of a peer that is not root.
var ErrPermission = errors.New("permission denied: ulvsd accepts only root")

// ErrNoConfigFile is SaveConfig's refusal to save without a file name in
// a daemon started without one (ulvsd -i).
var ErrNoConfigFile = errors.New("ulvsd was started without a configuration file (-c): name the file to write")

// errInternal reports a failure inside the daemon (a panic in Director).
var errInternal = errors.New("internal error in ulvsd")

// errBadRequest reports a request the server cannot parse.
var errBadRequest = errors.New("bad request")

// errorCodes maps sentinels to their wire codes.
var errorCodes = []struct {
	code string
	err  error
}{
	{"service-exists", config.ErrServiceExists},
	{"no-service", config.ErrNoService},
	{"dest-exists", config.ErrDestExists},
	{"no-dest", config.ErrNoDest},
	{"sched-not-found", config.ErrSchedulerNotFound},
	{"range", config.ErrRange},
	{"invalid", config.ErrInvalid},
	{"af", config.ErrAddrFamily},
	{"protocol", config.ErrProtocol},
	{"ipv6-not-yet", config.ErrIPv6NotYet}, // before not-supported, which it also is
	{"not-supported", config.ErrNotSupported},
	{"synproxy-method", config.ErrSynProxyMethod},
	{"no-daemon", config.ErrNoDaemon},
	{"daemon-running", config.ErrDaemonRunning},
	{"not-rule-edit", config.ErrNotRuleEdit},
	{"permission", ErrPermission},
	{"no-config-file", ErrNoConfigFile},
	{"bad-request", errBadRequest},
	{"internal", errInternal},
}

func codeOf(err error) string {
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return ""
}

func sentinelOf(code string) error {
	for _, e := range errorCodes {
		if e.code == code {
			return e.err
		}
	}
	return nil
}

// RemoteError is an error the daemon returned. It unwraps to the sentinel
// its code names, if any.
type RemoteError struct {
	Code    string
	Message string
}

func (e *RemoteError) Error() string { return "ulvsd: " + e.Message }

// Unwrap returns the sentinel of e.Code, or nil.
func (e *RemoteError) Unwrap() error { return sentinelOf(e.Code) }

type request struct {
	Op      string          `json:"op"` // "info", "snapshot", "conns", "apply", "save-config", "trace", "bgp-drain"
	Command *config.Command `json:"command,omitempty"`
	Path    string          `json:"path,omitempty"` // save-config's file
	Trace   *TraceRequest   `json:"trace,omitempty"`
	Drain   *bool           `json:"drain,omitempty"` // bgp-drain's: true drains, false undrains
}

type wireError struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

type response struct {
	Error    *wireError   `json:"error,omitempty"`
	Info     *Info        `json:"info,omitempty"`
	Snapshot *Snapshot    `json:"snapshot,omitempty"`
	Conns    []ConnStatus `json:"conns,omitempty"`
	Saved    string       `json:"saved,omitempty"` // the file save-config wrote
	Event    *trace.Event `json:"event,omitempty"` // one event of a trace
}

func errorResponse(err error) response {
	return response{Error: &wireError{Code: codeOf(err), Message: err.Error()}}
}
