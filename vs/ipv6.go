package vs

import "net/netip"

// ServiceKey6 identifies an IPv6 service the way a packet finds it.
type ServiceKey6 struct {
	Proto Protocol
	Addr  [16]byte
	Port  uint16
}

// Key6 returns the lookup key of an IPv6 service.
func (s *Service) Key6() ServiceKey6 {
	return ServiceKey6{Proto: s.Proto, Addr: s.Addr.As16(), Port: s.Port}
}

// Is6 reports whether s is an IPv6 address:port service.
func (s *Service) Is6() bool { return s.FwMark == 0 && s.Addr.Is6() }

// addService6 indexes an IPv6 service while NewTableMarks builds t.
func (t *Table) addService6(s *Service) {
	if t.byKey6 == nil {
		t.byKey6 = make(map[ServiceKey6]*Service)
		t.vips6 = make(map[[16]byte]struct{})
	}
	t.byKey6[s.Key6()] = s
	t.vips6[s.Addr.As16()] = struct{}{}
	t.null6 = t.null6 || s.Port == 0
	for _, a := range s.LocalAddrs6 {
		if t.lips6 == nil {
			t.lips6 = make(map[[16]byte]struct{})
		}
		t.lips6[a] = struct{}{}
	}
}

// HasIPv6 reports whether t has an IPv6 service, so the engine needs to
// see IPv6 traffic at all.
func (t *Table) HasIPv6() bool { return len(t.vips6) > 0 }

// Lookup6 returns the IPv6 service for a packet of proto to dst:port, or
// nil: the exact protocol/address/port service, then the address's
// port-zero service (ip_vs_service_find's order without marks, which
// ulvs has for IPv4 only, and without the FTP rule: the FTP helper is
// IPv4 only and an IPv6 port-21 service is refused).
func (t *Table) Lookup6(proto Protocol, dst [16]byte, port uint16) *Service {
	if t.byKey6 == nil {
		return nil
	}
	if s := t.byKey6[ServiceKey6{Proto: proto, Addr: dst, Port: port}]; s != nil {
		return s
	}
	if t.null6 {
		return t.byKey6[ServiceKey6{Proto: proto, Addr: dst}]
	}
	return nil
}

// IsVIP6 reports whether addr is the address of an IPv6 service that is
// not on standby (Standby6): the director answers neighbour solicitations
// for it and forwards its traffic.
func (t *Table) IsVIP6(addr [16]byte) bool {
	if t.vips6 == nil {
		return false
	}
	_, ok := t.vips6[addr]
	return ok && !t.Standby6(addr)
}

// VIPs6 lists the IPv6 service addresses. It allocates; control plane
// only.
func (t *Table) VIPs6() []netip.Addr {
	out := make([]netip.Addr, 0, len(t.vips6))
	for a := range t.vips6 {
		out = append(out, netip.AddrFrom16(a))
	}
	return out
}

// NumVIPs6 returns how many IPv6 service addresses t has.
func (t *Table) NumVIPs6() int { return len(t.vips6) }
