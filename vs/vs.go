package vs

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"
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

	// mac holds the resolved hardware address in the low 48 bits and
	// macValid in bit 48; zero means unresolved.
	mac atomic.Uint64

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

// SetMAC records the dest's hardware address.
func (s *DestState) SetMAC(mac [6]byte) {
	var v uint64
	for _, b := range mac {
		v = v<<8 | uint64(b)
	}
	s.mac.Store(v | macValid)
}

// ClearMAC forgets the dest's hardware address; the dest takes no new
// connections until it is resolved again.
func (s *DestState) ClearMAC() { s.mac.Store(0) }

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

	State *DestState
}

// Available reports whether d may take a new connection: weight above zero,
// not overloaded and its MAC resolved when the method needs one.
func (d *Dest) Available() bool {
	if d.Weight <= 0 || d.State.Overloaded.Load() {
		return false
	}
	if d.Method == Route {
		_, ok := d.State.MAC()
		return ok
	}
	return true
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

	byKey map[ServiceKey]*Service
	vips  map[[4]byte]struct{}
}

// NewTable indexes services into a Table. extraDests are dests no longer in
// any service that connections still reference.
func NewTable(gen uint64, services []*Service, extraDests []*Dest) *Table {
	t := &Table{
		Gen:      gen,
		Services: services,
		byKey:    make(map[ServiceKey]*Service, len(services)),
		vips:     make(map[[4]byte]struct{}),
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
		t.byKey[s.Key()] = s
		t.vips[s.Addr.As4()] = struct{}{}
		for _, d := range s.Dests {
			t.DestByID[d.ID] = d
		}
	}
	return t
}

// Lookup returns the service for proto and dst:port, or nil.
func (t *Table) Lookup(proto Protocol, dst [4]byte, port uint16) *Service {
	return t.byKey[ServiceKey{Proto: proto, Addr: dst, Port: port}]
}

// IsVIP reports whether addr is the address of any service.
func (t *Table) IsVIP(addr [4]byte) bool {
	_, ok := t.vips[addr]
	return ok
}

// VIPs returns every virtual address, in no particular order. It allocates;
// control plane only.
func (t *Table) VIPs() []netip.Addr {
	out := make([]netip.Addr, 0, len(t.vips))
	for a := range t.vips {
		out = append(out, netip.AddrFrom4(a))
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
