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

// Is6 reports whether s is an IPv6 address:port service (an IPv6 fwmark
// service, ipvsadm -f N -6, holds the address :: and is not one).
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
	t.ftp6 = t.ftp6 || (s.Proto == TCP && s.Port == ftpPort)
	for _, a := range s.LocalAddrs6 {
		if t.lips6 == nil {
			t.lips6 = make(map[[16]byte]struct{})
		}
		t.lips6[a] = struct{}{}
	}
}

// HasIPv6 reports whether t has an IPv6 service, so the engine needs to
// see IPv6 traffic at all.
func (t *Table) HasIPv6() bool { return len(t.vips6) > 0 || t.wideVIP6 }

// Lookup6 returns the IPv6 service for a packet of proto to dst:port, or
// nil, leaving out the mark rules that name a source (Lookup6From takes
// the source).
func (t *Table) Lookup6(proto Protocol, dst [16]byte, port uint16) *Service {
	return t.lookup6(proto, t.mark6(proto, [16]byte{}, false, dst, port), dst, port)
}

// Lookup6From returns the IPv6 service for a packet of proto from src to
// dst:port, or nil, in the kernel's order (ip_vs_service_find for
// AF_INET6): the IPv6 service of the packet's mark, the exact
// protocol/address/port service, for TCP to port 20 or an unprivileged
// port the address's FTP (port 21) service, last the address's port-zero
// service. The data path uses it.
func (t *Table) Lookup6From(proto Protocol, src, dst [16]byte, port uint16) *Service {
	return t.lookup6(proto, t.mark6(proto, src, true, dst, port), dst, port)
}

// Lookup6Mark is ip_vs_service_find for AF_INET6 given the packet's
// mark (0 for none): the mark's IPv6 service first, then by address.
// A sync backup uses it with the fwmark a sync entry carries.
func (t *Table) Lookup6Mark(mark uint32, proto Protocol, dst [16]byte, port uint16) *Service {
	return t.lookup6(proto, mark, dst, port)
}

func (t *Table) lookup6(proto Protocol, mark uint32, dst [16]byte, port uint16) *Service {
	if mark != 0 && t.byMark6 != nil {
		if s := t.byMark6[mark]; s != nil {
			return s
		}
	}
	if t.byKey6 == nil {
		return nil
	}
	if s := t.byKey6[ServiceKey6{Proto: proto, Addr: dst, Port: port}]; s != nil {
		return s
	}
	if t.ftp6 && proto == TCP && (port == ftpDataPort || port >= 1024) {
		if s := t.byKey6[ServiceKey6{Proto: proto, Addr: dst, Port: ftpPort}]; s != nil {
			return s
		}
	}
	if t.null6 {
		return t.byKey6[ServiceKey6{Proto: proto, Addr: dst}]
	}
	return nil
}

// isIPv6Prefix reports whether a mark rule's prefix is IPv6 (an IPv4
// prefix, or an IPv4-mapped one, is IPv4's).
func isIPv6Prefix(p netip.Prefix) bool { return p.Addr().Is6() && !p.Addr().Is4In6() }

// addMark6 records an IPv6 mark rule while NewTableMarks builds t. A
// source prefix of the other family never matches an IPv6 packet.
func (t *Table) addMark6(m MarkRule) {
	m.Addr = m.Addr.Masked()
	m.hasSrc = m.Src.IsValid()
	if m.hasSrc {
		m.Src = m.Src.Masked()
	}
	t.marks6 = append(t.marks6, m)
}

// addMark6Service indexes an IPv6 fwmark service (ipvsadm -f N -6).
func (t *Table) addMark6Service(s *Service) {
	if t.byMark6 == nil {
		t.byMark6 = make(map[uint32]*Service)
	}
	t.byMark6[s.FwMark] = s
}

// markVIPs6 makes the addresses of the IPv6 mark rules whose mark has an
// IPv6 service VIPs, as for IPv4: one by one for a rule of at most 256
// addresses (a /120 or longer), answered in neighbour discovery; wider
// rules only classify traffic routed to the director (wideVIP6).
func (t *Table) markVIPs6() {
	for i := range t.marks6 {
		m := &t.marks6[i]
		if t.byMark6[m.Mark] == nil {
			continue
		}
		if m.Addr.Bits() < 120 {
			t.wideVIP6 = true
			continue
		}
		if t.vips6 == nil {
			t.vips6 = make(map[[16]byte]struct{})
		}
		a := m.Addr.Addr().As16()
		n := 1 << (128 - m.Addr.Bits())
		for j := range n {
			a[15] = m.Addr.Addr().As16()[15] + byte(j)
			t.vips6[a] = struct{}{}
		}
	}
}

// match6 reports whether an IPv6 rule selects a packet; srcKnown false
// never matches a rule that names a source.
func (r *MarkRule) match6(proto Protocol, src, dst netip.Addr, srcKnown bool, port uint16) bool {
	if r.Proto != proto || !r.Addr.Contains(dst) {
		return false
	}
	if r.hasSrc && (!srcKnown || !r.Src.Contains(src)) {
		return false
	}
	return r.matchPort(port)
}

// Mark6From returns the mark the first matching IPv6 rule gives a packet
// from src, or 0.
func (t *Table) Mark6From(proto Protocol, src, dst [16]byte, port uint16) uint32 {
	return t.mark6(proto, src, true, dst, port)
}

func (t *Table) mark6(proto Protocol, src [16]byte, srcKnown bool, dst [16]byte, port uint16) uint32 {
	if len(t.marks6) == 0 {
		return 0
	}
	d, s := netip.AddrFrom16(dst), netip.AddrFrom16(src)
	for i := range t.marks6 {
		if t.marks6[i].match6(proto, s, d, srcKnown, port) {
			return t.marks6[i].Mark
		}
	}
	return 0
}

// IsVIP6 reports whether addr is the address of an IPv6 service that is
// not on standby (Standby6): the director answers neighbour solicitations
// for it and forwards its traffic.
func (t *Table) IsVIP6(addr [16]byte) bool {
	if t.vips6 == nil && !t.wideVIP6 {
		return false
	}
	_, ok := t.vips6[addr]
	if !ok && t.wideVIP6 {
		ok = t.inWideMark6(addr)
	}
	return ok && !t.Standby6(addr)
}

// inWideMark6 reports whether addr is in an IPv6 mark rule whose mark has
// an IPv6 service.
func (t *Table) inWideMark6(addr [16]byte) bool {
	a := netip.AddrFrom16(addr)
	for i := range t.marks6 {
		m := &t.marks6[i]
		if t.byMark6[m.Mark] != nil && m.Addr.Contains(a) {
			return true
		}
	}
	return false
}

// AnswersND reports whether the director answers neighbour solicitations
// for addr as a VIP: a service address or an address of an IPv6 mark rule
// no wider than a /120, not on standby. Wider rules classify traffic
// routed to the director but are never claimed on the link.
func (t *Table) AnswersND(addr [16]byte) bool {
	if t.vips6 == nil {
		return false
	}
	_, ok := t.vips6[addr]
	return ok && !t.Standby6(addr)
}

// WideVIPs6 reports whether some IPv6 mark rule covers more addresses
// than the VIP list holds, so the socket filter must pass all IPv6 and
// the fanout program cannot tell a VIP by its list.
func (t *Table) WideVIPs6() bool { return t.wideVIP6 }

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
