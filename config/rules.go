package config

import (
	"net/netip"

	"github.com/ulvs/ulvs/vs"
)

// Rules is the virtual-server table as an administrator states it: what
// ipvsadm adds to the kernel, what the TOML file lists. The director
// compiles Rules into a vs.Table. The zero value is an empty table.
type Rules struct {
	// Services in the order they were added.
	Services []Service
}

// ServiceKey identifies a virtual service: protocol and VIP:port (or a
// firewall-mark/port-group number when FwMark is set).
type ServiceKey struct {
	Proto  vs.Protocol
	Addr   netip.Addr
	Port   uint16
	FwMark uint32
}

// Service is one virtual service and its real servers.
type Service struct {
	Proto  vs.Protocol
	Addr   netip.Addr
	Port   uint16
	FwMark uint32

	Scheduler  string     // ipvsadm -s; "" means the default (wlc)
	SchedFlags []string   // ipvsadm -b (sh-fallback, sh-port, ...)
	Persistent bool       // ipvsadm -p
	Timeout    uint32     // persistence timeout in seconds
	Netmask    netip.Addr // ipvsadm -M; invalid means 255.255.255.255
	OnePacket  bool       // ipvsadm -o
	// LocalAddrs are the FULLNAT local addresses (DPVS's laddr): the
	// director SNATs clients to them on the real servers' network and
	// answers ARP for them. ulvs extension; only with fullnat dests.
	LocalAddrs []netip.Addr
	// SynProxy: the director answers SYNs with SYN cookies and opens
	// the real server's side only after the client's ACK (DPVS's
	// synproxy). ulvs extension; TCP, NAT and FULLNAT real servers only.
	SynProxy bool `json:",omitempty"`

	// Dests in the order they were added.
	Dests []Dest
}

// Key returns the identity of s.
func (s *Service) Key() ServiceKey {
	return ServiceKey{Proto: s.Proto, Addr: s.Addr, Port: s.Port, FwMark: s.FwMark}
}

// Dest is one real server of a service.
type Dest struct {
	Addr       netip.Addr
	Port       uint16
	Method     vs.Method
	Weight     int32
	UThreshold uint32 // ipvsadm -x
	LThreshold uint32 // ipvsadm -y
}

// Mark classifies packets into a firewall-mark number: the userspace
// equivalent of `iptables -t mangle -A PREROUTING ... -j MARK --set-mark N`,
// which ulvs cannot rely on because it sees packets before netfilter does.
// A mark service (ipvsadm -f N, or a virtual_server with fwmark = N) takes
// every packet that one of the mark's matches selects: a port group, such as
// the seed's FTP cluster (ports 21, 20 and 10000-20000 sharing one
// persistence template).
type Mark struct {
	Mark    uint32
	Matches []MarkMatch
}

// MarkMatch selects packets by protocol, destination prefix, destination
// ports and source prefix. An empty Ports matches every port; the zero
// Src every source.
type MarkMatch struct {
	Proto vs.Protocol
	Addr  netip.Prefix
	Ports []PortRange
	// Src restricts the match to clients in a prefix (iptables -s,
	// nft ip saddr); the zero Prefix is any source.
	Src netip.Prefix
}

// PortRange is an inclusive range of ports; a single port has First == Last.
type PortRange struct {
	First, Last uint16
}

// Knobs are the kernel's IPVS sysctls that ulvs honours, with the
// kernel's defaults as their zero values where it can, as the TOML file's
// [sysctl] table sets them (names as in /proc/sys/net/ipv4/vs/).
type Knobs struct {
	// ConnReuseMode is conn_reuse_mode (default 1: a SYN that hits a
	// connection in TIME_WAIT or CLOSE is scheduled afresh). ConnReuseSet
	// tells an explicit 0 from the default.
	ConnReuseMode int
	ConnReuseSet  bool
	// ExpireNodestConn is expire_nodest_conn (default 0). Packets of a
	// connection whose dest was removed are dropped either way; with it
	// the connection is expired at its next packet (so a new SYN is
	// scheduled again), and a new SYN on a connection to a weight-0 dest
	// is rescheduled.
	ExpireNodestConn bool
	// ExpireQuiescentTemplate is expire_quiescent_template (default 0):
	// a persistence template whose dest has weight 0 is not used.
	ExpireQuiescentTemplate bool
	// SloppyTCP is sloppy_tcp (default 0): create connections on any TCP
	// packet, not only SYN.
	SloppyTCP bool
	// LBLCExpiration, LBLCRExpiration: seconds, 0 = default (24 h).
	LBLCExpiration  uint32
	LBLCRExpiration uint32
	// MHTableSize: the mh lookup table size (a prime), 0 = 4093.
	MHTableSize int
	// Overhead: "classic" (default) or "total"; see vs.Overhead.
	Overhead string
	// DropEntry, DropPacket and SecureTCP are the defence modes
	// drop_entry, drop_packet and secure_tcp (0 off, the default; 1 on
	// when short of room; 2 on now, automatic; 3 always on), as
	// ip_vs_ctl.c's update_defense_level reads them. AmemThresh is
	// amemthresh, counted in free connection slots rather than pages of
	// memory (default vs.DefaultAmemThresh, AmemThreshSet tells an
	// explicit 0), AmDropRate am_droprate (default 10, AmDropRateSet
	// likewise).
	DropEntry, DropPacket, SecureTCP int
	AmemThresh                       int
	AmemThreshSet                    bool
	AmDropRate                       int
	AmDropRateSet                    bool
	// Sync are the connection sync sysctls the file sets (sync_threshold,
	// sync_refresh_period, ...; ipvssync.SysctlNames), in /proc's text
	// ("3 50" for sync_threshold), in the file's order. The director
	// applies them over the kernel's defaults (ipvssync.Sysctls.Set) for
	// the sync daemons started afterwards.
	Sync []SyncSysctl
}

// SyncSysctl is one connection sync sysctl: its name under
// /proc/sys/net/ipv4/vs/ and its value as written there.
type SyncSysctl struct {
	Name, Value string
}
