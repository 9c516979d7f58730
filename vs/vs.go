package vs

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"
)

// Protocol is an IP protocol number a virtual service can carry.
type Protocol uint8

// Protocols a virtual service may carry. The values are IANA protocol numbers.
const (
	TCP Protocol = 6
	UDP Protocol = 17
)

// String returns ipvsadm's name for p ("TCP", "UDP").
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// Method is a forwarding method. The zero value is invalid.
type Method uint8

// Forwarding methods, named as ipvsadm -L names them.
const (
	MethodInvalid Method = iota
	Masq                 // NAT: DNAT in, SNAT out (ipvsadm -m)
	Local                // the director itself serves (not forwarded)
	Tunnel               // IPIP encapsulation (ipvsadm -i)
	Route                // direct routing: rewrite the destination MAC (ipvsadm -g)
	FullNAT              // DNAT and SNAT both ways; a ulvs extension
)

// String returns the Forward column text of ipvsadm -L.
func (m Method) String() string {
	switch m {
	case Masq:
		return "Masq"
	case Local:
		return "Local"
	case Tunnel:
		return "Tunnel"
	case Route:
		return "Route"
	case FullNAT:
		return "FullNat"
	}
	return fmt.Sprintf("Method(%d)", uint8(m))
}

// ServiceFlags are the kernel's IP_VS_SVC_F_* bits.
type ServiceFlags uint32

// Service flags, with the kernel's values (include/uapi/linux/ip_vs.h).
const (
	SvcPersistent ServiceFlags = 0x0001 // -p
	SvcHashed     ServiceFlags = 0x0002
	SvcOnePacket  ServiceFlags = 0x0004 // -o
	SvcSchedFlag1 ServiceFlags = 0x0008 // sh-fallback, mh-fallback
	SvcSchedFlag2 ServiceFlags = 0x0010 // sh-port, mh-port
	SvcSchedFlag3 ServiceFlags = 0x0020
	// SvcSynProxy: the director answers SYNs with SYN cookies and opens
	// the real server's side after the client's ACK (DPVS's
	// DP_VS_SVC_F_SYNPROXY value; not a kernel flag). TCP, NAT and
	// FULLNAT only.
	SvcSynProxy ServiceFlags = 0x8000
)

// DestState is the live, shared state of one real server. The same
// *DestState is carried by every Table that holds the dest, so counters and
// the resolved MAC survive reloads. Safe for concurrent use; the zero value
// is ready.
type DestState struct {
	ActiveConns  atomic.Int32 // connections in ESTABLISHED (ipvsadm ActiveConn)
	InactConns   atomic.Int32 // other connections (ipvsadm InActConn)
	PersistConns atomic.Int32 // persistence templates pointing here
	Overloaded   atomic.Bool  // over the upper threshold (IP_VS_DEST_F_OVERLOAD)
	// PathMTU is the path MTU towards the dest a router reported for the
	// director's IPIP packets (ICMP fragmentation needed); 0 = unknown.
	PathMTU atomic.Int32

	// mac holds the resolved hardware address in the low 48 bits and
	// macValid in bit 48; zero means unresolved.
	mac atomic.Uint64

	// epoch, when set, is an availability epoch shared by a director's
	// dests: bumped whenever Overloaded or the MAC changes, so schedulers
	// can tell that no dest's availability changed since they last looked.
	epoch *atomic.Uint64

	// The fields above are read for every packet (the MAC, Overloaded),
	// the counters below added to by every worker: a cache line's worth
	// of padding keeps them on different lines, so that one worker's
	// additions do not evict what the others read.
	_ cpu.CacheLinePad

	Counters
}

// Counters are the traffic counters the kernel keeps per service and per
// dest (struct ip_vs_stats): connections scheduled, packets and bytes in
// each direction. Safe for concurrent use; the zero value is ready.
type Counters struct {
	Conns    atomic.Uint64
	InPkts   atomic.Uint64
	OutPkts  atomic.Uint64
	InBytes  atomic.Uint64
	OutBytes atomic.Uint64
}

// CounterValues is a plain copy of Counters.
type CounterValues struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
}

// Load copies the counters.
func (c *Counters) Load() CounterValues {
	return CounterValues{
		Conns:    c.Conns.Load(),
		InPkts:   c.InPkts.Load(),
		OutPkts:  c.OutPkts.Load(),
		InBytes:  c.InBytes.Load(),
		OutBytes: c.OutBytes.Load(),
	}
}

// Zero resets the counters, as ipvsadm -Z does.
func (c *Counters) Zero() {
	c.Conns.Store(0)
	c.InPkts.Store(0)
	c.OutPkts.Store(0)
	c.InBytes.Store(0)
	c.OutBytes.Store(0)
}

const macValid = 1 << 48

// MAC returns the dest's resolved hardware address and whether it is known.
func (s *DestState) MAC() (mac [6]byte, ok bool) {
	v := s.mac.Load()
	if v&macValid == 0 {
		return mac, false
	}
	for i := 5; i >= 0; i-- {
		mac[i] = byte(v)
		v >>= 8
	}
	return mac, true
}

// HasMAC reports whether the dest's hardware address is known.
func (s *DestState) HasMAC() bool { return s.mac.Load()&macValid != 0 }

// SetMAC records the dest's hardware address.
func (s *DestState) SetMAC(mac [6]byte) {
	var v uint64
	for _, b := range mac {
		v = v<<8 | uint64(b)
	}
	if s.mac.Swap(v|macValid) != v|macValid {
		s.bump()
	}
}

// ClearMAC forgets the dest's hardware address; the dest takes no new
// connections until it is resolved again.
func (s *DestState) ClearMAC() {
	if s.mac.Swap(0) != 0 {
		s.bump()
	}
}

// SetOverloaded sets or clears the overload flag (IP_VS_DEST_F_OVERLOAD).
// Writers use it rather than Overloaded.Store so the availability epoch
// moves.
func (s *DestState) SetOverloaded(v bool) {
	if s.Overloaded.Swap(v) != v {
		s.bump()
	}
}

// SetAvailabilityEpoch makes s bump e on every availability change. Call
// it once, before s is shared.
func (s *DestState) SetAvailabilityEpoch(e *atomic.Uint64) { s.epoch = e }

// AvailabilityEpoch returns the epoch s bumps, or nil.
func (s *DestState) AvailabilityEpoch() *atomic.Uint64 { return s.epoch }

func (s *DestState) bump() {
	if s.epoch != nil {
		s.epoch.Add(1)
	}
}

// Dest is one real server of a Service as a Table holds it. Everything but
// State is immutable once the Table is published.
type Dest struct {
	// ID identifies the dest across Tables for as long as it exists or
	// connections still point to it. 0 is never used.
	ID     uint32
	Addr   netip.Addr
	Port   uint16
	Method Method
	Weight int32
	// UThreshold and LThreshold are the upper and lower connection
	// thresholds (ipvsadm -x, -y); 0 means none.
	UThreshold uint32
	LThreshold uint32
	// Iface is the index, in the director's interface list, of the
	// interface the real server is reached on (its subnet's).
	Iface int

	// Trashed marks a dest removed from its service that connections
	// still point to (the kernel's trash list, IP_VS_DEST_F_AVAILABLE
	// cleared): their packets are dropped and templates on it are not
	// used.
	Trashed bool

	State *DestState
}

// Available reports whether d may take a new connection: weight above zero,
// not overloaded and its MAC resolved when the method needs one.
func (d *Dest) Available() bool {
	if d.Weight <= 0 || d.Trashed || d.State.Overloaded.Load() {
		return false
	}
	return d.Method != Route || d.State.HasMAC()
}

// ServiceStats are a service's live counters, shared across Tables.
type ServiceStats struct {
	Counters
}

// Flow is what a scheduler sees of a new connection.
type Flow struct {
	Proto   Protocol
	Src     netip.Addr // client address
	Dst     netip.Addr // virtual address
	SrcPort uint16
	DstPort uint16
}

// Scheduler picks a real server for a new connection. Implementations live
// in package sched, one per file; each keeps its own state and is safe for
// concurrent use by all workers.
type Scheduler interface {
	// Name is the ipvsadm name ("rr", "wrr", ...).
	Name() string
	// Schedule returns the dest for a new connection of flow to s, or nil
	// when no dest is available. It must not allocate.
	Schedule(s *Service, flow Flow) *Dest
}

// ServiceKey identifies a service the way a packet finds it.
type ServiceKey struct {
	Proto Protocol
	Addr  [4]byte
	Port  uint16
}

// Service is one virtual service as a Table holds it. Immutable once the
// Table is published.
type Service struct {
	ID    uint32
	Proto Protocol
	Addr  netip.Addr
	Port  uint16
	Flags ServiceFlags
	// Timeout is the persistence timeout in seconds (-p); Netmask the
	// persistence granularity as a prefix length (-M).
	Timeout uint32
	Netmask int
	// Dests are newest first, as the kernel's __ip_vs_update_dest inserts
	// them (list_add_rcu at the head).
	Dests     []*Dest
	Scheduler Scheduler
	Stats     *ServiceStats
	// FwMark is the firewall-mark (port group) number of a mark service;
	// 0 for an address:port service.
	FwMark uint32
	// LocalAddrs are the FULLNAT local addresses clients are SNATed to;
	// LocalAddrs6 those of an IPv6 service (fullnat6.go).
	LocalAddrs  [][4]byte
	LocalAddrs6 [][16]byte
	// Params are the scheduler tunables of the kernel's sysctls.
	Params SchedParams
}

// SchedParams are scheduler tunables the kernel keeps as sysctls or build
// options. The zero value of each field means the kernel's default.
type SchedParams struct {
	// LBLCExpiration and LBLCRExpiration are how long an unused lblc/lblcr
	// cache entry lives (net.ipv4.vs.lblc_expiration, lblcr_expiration;
	// default 24 h).
	LBLCExpiration  time.Duration
	LBLCRExpiration time.Duration
	// MHTableSize is the mh lookup table size, a prime (default 4093,
	// CONFIG_IP_VS_MH_TAB_INDEX 12).
	MHTableSize int
	// Overhead selects the connection overhead formula of lc, wlc, lblc,
	// lblcr and friends.
	Overhead Overhead
}

// Overhead is a connection overhead formula (ip_vs_dest_conn_overhead).
type Overhead uint8

// Overhead formulas. The zero value is the kernel's long-standing one.
const (
	// OverheadClassic is (activeconns << 8) + inactconns.
	OverheadClassic Overhead = iota
	// OverheadTotal is (activeconns << 8) + activeconns + inactconns, the
	// variant that counts every connection once more.
	OverheadTotal
)

// Key returns the lookup key of s.
func (s *Service) Key() ServiceKey {
	return ServiceKey{Proto: s.Proto, Addr: s.Addr.As4(), Port: s.Port}
}

// Table is an immutable snapshot of every virtual service, built by the
// control plane and read by the engine's workers without locks.
type Table struct {
	Gen      uint64
	Services []*Service
	// DestByID maps Dest.ID to the dest, including dests removed from their
	// service that connections still point to. Index 0 is nil.
	DestByID []*Dest
	// ServiceByID maps Service.ID to the service. Index 0 is nil.
	ServiceByID []*Service

	// Knobs are the IPVS sysctls in force with this table.
	Knobs Knobs
	// Routes are the director's IPv4 routes over its interfaces, most
	// specific first: NAT and FULLNAT replies go to the client's next hop.
	Routes []IPRoute

	byKey  map[ServiceKey]*Service
	byKey6 map[ServiceKey6]*Service // IPv6 services (ipv6.go)
	vips6  map[[16]byte]struct{}
	null6  bool // some IPv6 service has port 0
	lips6  map[[16]byte]struct{}
	byMark map[uint32]*Service
	marks  []MarkRule
	// byMark6 are the IPv6 fwmark services (the kernel keys fwmark
	// services by address family and mark), marks6 the mark rules of
	// IPv6 prefixes, ftp6 and wideVIP6 ftp and wideVIP for IPv6
	// (ipv6.go).
	byMark6  map[uint32]*Service
	marks6   []MarkRule
	ftp6     bool
	wideVIP6 bool
	vips     map[[4]byte]bool // VIP -> on standby (SetHA)
	lips     map[[4]byte]struct{}
	ftp      bool // some TCP service listens on port 21 (ftpsvc_counter)
	null     bool // some service has port 0 (nullsvc_counter)
	wideVIP  bool // a mark rule covers more than single addresses
	// standby are the addresses this director is a failover backup for
	// (SetHA): it neither answers ARP for them nor forwards their
	// traffic. floating are failover addresses that are no VIP (a NAT
	// gateway address the real servers route through): ARP is answered
	// for them while this director is master.
	standby  map[[4]byte]struct{}
	floating map[[4]byte]struct{}
	// standby6 are the IPv6 VIPs this director is a failover backup for
	// (SetHA6, ha6.go).
	standby6 map[[16]byte]struct{}
	// floating6 are the IPv6 failover addresses that are no IPv6 VIP,
	// each with the links (bit per interface) it is answered on (SetHA6).
	floating6 map[[16]byte]uint64
	// vmac maps a failover address of a use_vmac instance to its VRRP
	// virtual MAC (00:00:5e:00:01:VRID): ARP is answered and announced
	// with it, and frames sent to it are ours (SetVMACs). vmac6 is the
	// same for IPv6 instances (00:00:5e:00:02:VRID): neighbour
	// solicitations are answered and advertisements sent with it
	// (SetVMACs6). vmacs are the MACs of both.
	vmac  map[[4]byte][6]byte
	vmac6 map[[16]byte][6]byte
	vmacs map[[6]byte]struct{}
}

// SetVMACs records, in a table being built, the virtual MAC of each IPv4
// address of a use_vmac failover instance.
func (t *Table) SetVMACs(m map[[4]byte][6]byte) {
	t.vmac = nil
	if len(m) > 0 {
		t.vmac = maps.Clone(m)
	}
	t.collectVMACs()
}

// SetVMACs6 records, in a table being built, the virtual MAC of each IPv6
// address of a use_vmac failover instance.
func (t *Table) SetVMACs6(m map[[16]byte][6]byte) {
	t.vmac6 = nil
	if len(m) > 0 {
		t.vmac6 = maps.Clone(m)
	}
	t.collectVMACs()
}

// collectVMACs gathers the virtual MACs of both families.
func (t *Table) collectVMACs() {
	t.vmacs = nil
	if len(t.vmac)+len(t.vmac6) == 0 {
		return
	}
	t.vmacs = map[[6]byte]struct{}{}
	for _, mac := range t.vmac {
		t.vmacs[mac] = struct{}{}
	}
	for _, mac := range t.vmac6 {
		t.vmacs[mac] = struct{}{}
	}
}

// NDMAC returns the MAC that answers neighbour solicitations for the IPv6
// address addr when it is not the interface's own: the virtual MAC of a
// use_vmac instance.
func (t *Table) NDMAC(addr [16]byte) ([6]byte, bool) {
	if t.vmac6 == nil {
		return [6]byte{}, false
	}
	m, ok := t.vmac6[addr]
	return m, ok
}

// ARPMAC returns the MAC that answers ARP for addr when it is not the
// interface's own: the virtual MAC of a use_vmac instance.
func (t *Table) ARPMAC(addr [4]byte) ([6]byte, bool) {
	if t.vmac == nil {
		return [6]byte{}, false
	}
	m, ok := t.vmac[addr]
	return m, ok
}

// IsVMAC reports whether mac is one of the table's virtual MACs: frames
// sent to it are the director's.
func (t *Table) IsVMAC(mac [6]byte) bool {
	if t.vmacs == nil {
		return false
	}
	_, ok := t.vmacs[mac]
	return ok
}

// VMACs lists the virtual MACs, sorted. It allocates; control plane only.
func (t *Table) VMACs() [][6]byte {
	out := make([][6]byte, 0, len(t.vmacs))
	for m := range t.vmacs {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b [6]byte) int { return slices.Compare(a[:], b[:]) })
	return out
}

// SetHA records the failover state in a table being built (before it is
// published; a published Table is immutable): standby are the addresses
// whose VRRP instance is not master here, floating the instances'
// addresses that are no service VIP. Both are control-plane lists.
func (t *Table) SetHA(standby, floating [][4]byte) {
	t.standby, t.floating = nil, nil
	for a := range t.vips {
		t.vips[a] = false
	}
	if len(standby) > 0 {
		t.standby = make(map[[4]byte]struct{}, len(standby))
		for _, a := range standby {
			t.standby[a] = struct{}{}
			if _, ok := t.vips[a]; ok {
				t.vips[a] = true
			}
		}
	}
	if len(floating) > 0 {
		t.floating = make(map[[4]byte]struct{}, len(floating))
		for _, a := range floating {
			t.floating[a] = struct{}{}
		}
	}
}

// Standby reports whether this director is a failover backup for addr:
// its traffic is dropped (counted) and ARP for it is not answered.
func (t *Table) Standby(addr [4]byte) bool {
	if t.standby == nil {
		return false
	}
	_, ok := t.standby[addr]
	return ok
}

// FloatingAddrs lists the failover addresses that are no VIP. It
// allocates; control plane only.
func (t *Table) FloatingAddrs() [][4]byte {
	out := make([][4]byte, 0, len(t.floating))
	for a := range t.floating {
		out = append(out, a)
	}
	return out
}

// StandbyAddrs lists the standby addresses. It allocates; control plane
// only.
func (t *Table) StandbyAddrs() [][4]byte {
	out := make([][4]byte, 0, len(t.standby))
	for a := range t.standby {
		out = append(out, a)
	}
	return out
}

// IPRoute is one IPv4 route of the director through one of its interfaces.
type IPRoute struct {
	Prefix netip.Prefix
	// Iface is the index of the interface in the director's list.
	Iface int
	// Gateway is the next hop; the zero address means on-link.
	Gateway [4]byte
}

// NextHop returns the interface and next-hop address for dst by the most
// specific route, and false when no route covers dst.
func (t *Table) NextHop(dst [4]byte) (iface int, hop [4]byte, ok bool) {
	a := netip.AddrFrom4(dst)
	for i := range t.Routes {
		r := &t.Routes[i]
		if r.Prefix.Contains(a) {
			if r.Gateway == ([4]byte{}) {
				return r.Iface, dst, true
			}
			return r.Iface, r.Gateway, true
		}
	}
	return 0, hop, false
}

// Knobs are the kernel's IPVS sysctls ulvs honours (/proc/sys/net/ipv4/vs).
type Knobs struct {
	// ConnReuseMode: a SYN that finds a connection in TIME_WAIT or CLOSE
	// (bit 0, the default 1) reschedules it.
	ConnReuseMode int
	// ExpireNodestConn: a connection whose dest was removed is expired at
	// its next packet instead of having its packets dropped until it
	// times out; with weight 0 a new SYN reschedules.
	ExpireNodestConn bool
	// ExpireQuiescentTemplate: a persistence template whose dest has
	// weight 0 is not used for new connections.
	ExpireQuiescentTemplate bool
	// SloppyTCP: any TCP packet (not only a SYN) may create a connection.
	SloppyTCP bool
	// DropEntry, DropPacket, SecureTCP are the defence modes 0..3 as
	// configured (the engine keeps the automatic 1 <-> 2 moves to
	// itself); AmemThresh is the free connection slots below which the
	// director counts as short of room; AmDropRate is drop_packet's rate
	// in mode 3 (drop one new connection in AmDropRate).
	DropEntry, DropPacket, SecureTCP int
	AmemThresh                       int
	AmDropRate                       int
}

// DefaultAmemThresh and DefaultAmDropRate are amemthresh's and
// am_droprate's kernel defaults (ip_vs_ctl.c); amemthresh counts free
// connection slots here, not pages.
const (
	DefaultAmemThresh = 1024
	DefaultAmDropRate = 10
)

// DefaultKnobs are the kernel's defaults.
func DefaultKnobs() Knobs {
	return Knobs{ConnReuseMode: 1, AmemThresh: DefaultAmemThresh, AmDropRate: DefaultAmDropRate}
}

// MarkRule classifies packets into a firewall mark (a port group): the
// userspace stand-in for an iptables MARK rule. Ports are inclusive
// ranges; none means every port.
type MarkRule struct {
	Mark  uint32
	Proto Protocol
	Addr  netip.Prefix
	// Src, when valid, restricts the rule to packets from that source
	// prefix (iptables -s); the zero Prefix means any source.
	Src   netip.Prefix
	Ports [][2]uint16
	first uint32 // Addr's first address, as a number
	last  uint32
	// srcFirst and srcLast bound Src (0 and all ones without one);
	// hasSrc tells whether the rule names a source.
	srcFirst, srcLast uint32
	hasSrc            bool
}

// match reports whether the rule selects a packet; srcKnown false (a
// lookup without a source) never matches a rule that names one.
func (r *MarkRule) match(proto Protocol, src, dst uint32, srcKnown bool, port uint16) bool {
	if r.Proto != proto || dst < r.first || dst > r.last {
		return false
	}
	if r.hasSrc && (!srcKnown || src < r.srcFirst || src > r.srcLast) {
		return false
	}
	return r.matchPort(port)
}

// matchPort reports whether the rule's ports (none: every port) hold port.
func (r *MarkRule) matchPort(port uint16) bool {
	if len(r.Ports) == 0 {
		return true
	}
	for _, pr := range r.Ports {
		if port >= pr[0] && port <= pr[1] {
			return true
		}
	}
	return false
}

// NewTable indexes services into a Table. extraDests are dests no longer in
// any service that connections still reference. Knobs start at the
// kernel's defaults.
func NewTable(gen uint64, services []*Service, extraDests []*Dest) *Table {
	return NewTableMarks(gen, services, extraDests, nil)
}

// NewTableMarks is NewTable with mark rules: packets a rule selects look
// for the service of its mark first, as the kernel looks for a fwmark
// service before the others. Rules are tried in order; the first match
// wins, like iptables rules.
func NewTableMarks(gen uint64, services []*Service, extraDests []*Dest, marks []MarkRule) *Table {
	t := &Table{
		Gen:      gen,
		Services: services,
		Knobs:    DefaultKnobs(),
		byKey:    make(map[ServiceKey]*Service, len(services)),
		byMark:   make(map[uint32]*Service),
		vips:     make(map[[4]byte]bool),
		lips:     make(map[[4]byte]struct{}),
	}
	for _, m := range marks {
		if isIPv6Prefix(m.Addr) {
			t.addMark6(m)
			continue
		}
		m.first, m.last = prefixRange(m.Addr)
		m.srcFirst, m.srcLast = 0, ^uint32(0)
		if m.hasSrc = m.Src.IsValid() && m.Src.Addr().Is4(); m.hasSrc {
			m.srcFirst, m.srcLast = prefixRange(m.Src)
		}
		t.marks = append(t.marks, m)
	}
	var maxDest, maxSvc uint32
	grow := func(d *Dest) {
		if d.ID > maxDest {
			maxDest = d.ID
		}
	}
	for _, s := range services {
		if s.ID > maxSvc {
			maxSvc = s.ID
		}
		for _, d := range s.Dests {
			grow(d)
		}
	}
	for _, d := range extraDests {
		grow(d)
	}
	t.DestByID = make([]*Dest, maxDest+1)
	t.ServiceByID = make([]*Service, maxSvc+1)
	for _, d := range extraDests {
		t.DestByID[d.ID] = d
	}
	for _, s := range services {
		t.ServiceByID[s.ID] = s
		for _, d := range s.Dests {
			t.DestByID[d.ID] = d
		}
		for _, a := range s.LocalAddrs {
			t.lips[a] = struct{}{}
		}
		if s.FwMark != 0 {
			if s.Addr.Is6() {
				t.addMark6Service(s)
				continue
			}
			t.byMark[s.FwMark] = s
			continue
		}
		if s.Addr.Is6() {
			t.addService6(s)
			continue
		}
		t.byKey[s.Key()] = s
		t.vips[s.Addr.As4()] = false
		t.ftp = t.ftp || (s.Proto == TCP && s.Port == ftpPort)
		t.null = t.null || s.Port == 0
	}
	t.markVIPs6()
	// A mark rule's addresses are VIPs when a service uses the mark.
	for _, m := range t.marks {
		if t.byMark[m.Mark] == nil {
			continue
		}
		if m.last-m.first > 255 {
			t.wideVIP = true
			continue
		}
		for a := m.first; ; a++ {
			t.vips[[4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}] = false
			if a == m.last {
				break
			}
		}
	}
	return t
}

const (
	ftpPort     = 21
	ftpDataPort = 20
)

// prefixRange returns the first and last address of an IPv4 prefix as
// numbers.
func prefixRange(pfx netip.Prefix) (first, last uint32) {
	p := pfx.Masked()
	a := p.Addr().As4()
	first = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	return first, first | uint32(uint64(1)<<(32-p.Bits())-1)
}

// LookupFrom is Lookup for a packet from src: mark rules that name a
// source prefix (iptables -s) take part. The data path uses it.
func (t *Table) LookupFrom(proto Protocol, src, dst [4]byte, port uint16) *Service {
	return t.lookup(proto, src, true, dst, port)
}

// Lookup returns the service for a packet of proto to dst:port, or nil, in
// the kernel's order (ip_vs_service_find, ip_vs_ctl.c): the service of the
// packet's mark, the exact protocol/address/port service, for TCP to port
// 20 or an unprivileged port the address's FTP (port 21) service, and
// last the address's port-zero service.
//
// The source is unknown here, so mark rules that name a source prefix do
// not match; LookupFrom takes the source.
func (t *Table) Lookup(proto Protocol, dst [4]byte, port uint16) *Service {
	return t.lookup(proto, [4]byte{}, false, dst, port)
}

func (t *Table) lookup(proto Protocol, src [4]byte, srcKnown bool, dst [4]byte, port uint16) *Service {
	if len(t.marks) > 0 {
		if m := t.mark(proto, src, srcKnown, dst, port); m != 0 {
			if s := t.byMark[m]; s != nil {
				return s
			}
		}
	}
	if s := t.byKey[ServiceKey{Proto: proto, Addr: dst, Port: port}]; s != nil {
		return s
	}
	if t.ftp && proto == TCP && (port == ftpDataPort || port >= 1024) {
		if s := t.byKey[ServiceKey{Proto: proto, Addr: dst, Port: ftpPort}]; s != nil {
			return s
		}
	}
	if t.null {
		return t.byKey[ServiceKey{Proto: proto, Addr: dst}]
	}
	return nil
}

// Mark returns the mark the first matching rule gives a packet, or 0,
// leaving out the rules that name a source (see MarkFrom).
func (t *Table) Mark(proto Protocol, dst [4]byte, port uint16) uint32 {
	return t.mark(proto, [4]byte{}, false, dst, port)
}

// MarkFrom returns the mark the first matching rule gives a packet from
// src, or 0.
func (t *Table) MarkFrom(proto Protocol, src, dst [4]byte, port uint16) uint32 {
	return t.mark(proto, src, true, dst, port)
}

func (t *Table) mark(proto Protocol, src [4]byte, srcKnown bool, dst [4]byte, port uint16) uint32 {
	a := uint32(dst[0])<<24 | uint32(dst[1])<<16 | uint32(dst[2])<<8 | uint32(dst[3])
	s := uint32(src[0])<<24 | uint32(src[1])<<16 | uint32(src[2])<<8 | uint32(src[3])
	for i := range t.marks {
		if t.marks[i].match(proto, s, a, srcKnown, port) {
			return t.marks[i].Mark
		}
	}
	return 0
}

// VIP reports whether addr is the address of any service and whether
// this director is a failover backup for it (Standby), in one look-up:
// the data path asks both of every packet to a VIP.
func (t *Table) VIP(addr [4]byte) (vip, standby bool) {
	if s, ok := t.vips[addr]; ok {
		return true, s
	}
	if t.wideVIP && t.IsVIP(addr) {
		return true, t.Standby(addr)
	}
	return false, false
}

// IsVIP reports whether addr is the address of any service.
func (t *Table) IsVIP(addr [4]byte) bool {
	if _, ok := t.vips[addr]; ok {
		return true
	}
	if !t.wideVIP {
		return false
	}
	a := uint32(addr[0])<<24 | uint32(addr[1])<<16 | uint32(addr[2])<<8 | uint32(addr[3])
	for i := range t.marks {
		m := &t.marks[i]
		if t.byMark[m.Mark] != nil && a >= m.first && a <= m.last {
			return true
		}
	}
	return false
}

// AnswersARP reports whether the director answers ARP for addr: a service
// address, or an address of a mark rule no wider than a /24, a FULLNAT
// local address or a failover address (SetHA), unless addr is on standby. Wider rules
// classify traffic routed to the director but are never claimed on the
// link.
func (t *Table) AnswersARP(addr [4]byte) bool {
	if t.standby != nil {
		if _, ok := t.standby[addr]; ok {
			return false
		}
	}
	if _, ok := t.vips[addr]; ok {
		return true
	}
	if _, ok := t.lips[addr]; ok {
		return true
	}
	if t.floating != nil {
		_, ok := t.floating[addr]
		return ok
	}
	return false
}

// LocalAddrs lists the FULLNAT local addresses of every service. It
// allocates; control plane only.
func (t *Table) LocalAddrs() [][4]byte {
	out := make([][4]byte, 0, len(t.lips))
	for a := range t.lips {
		out = append(out, a)
	}
	return out
}

// WideVIPs reports whether some mark rule covers more addresses than the
// VIP list holds, so a socket filter must pass all IPv4.
func (t *Table) WideVIPs() bool { return t.wideVIP }

// VIPs returns every virtual address, in no particular order. It allocates;
// control plane only.
func (t *Table) VIPs() []netip.Addr {
	out := make([]netip.Addr, 0, len(t.vips)+len(t.vips6))
	for a := range t.vips {
		out = append(out, netip.AddrFrom4(a))
	}
	for a := range t.vips6 {
		out = append(out, netip.AddrFrom16(a))
	}
	return out
}

// Dest returns the dest with the given ID, or nil.
func (t *Table) Dest(id uint32) *Dest {
	if int(id) >= len(t.DestByID) {
		return nil
	}
	return t.DestByID[id]
}

// Service returns the service with the given ID, or nil.
func (t *Table) Service(id uint32) *Service {
	if int(id) >= len(t.ServiceByID) {
		return nil
	}
	return t.ServiceByID[id]
}
