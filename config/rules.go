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
