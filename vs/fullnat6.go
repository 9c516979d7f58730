package vs

import "net/netip"

// IsLocal6 reports whether addr is an IPv6 FULLNAT local address of some
// service: the director answers neighbour solicitations for it and takes
// the real servers' replies sent to it.
func (t *Table) IsLocal6(addr [16]byte) bool {
	if t.lips6 == nil {
		return false
	}
	_, ok := t.lips6[addr]
	return ok
}

// LocalAddrs6 lists the IPv6 FULLNAT local addresses of every service. It
// allocates; control plane only.
func (t *Table) LocalAddrs6() []netip.Addr {
	out := make([]netip.Addr, 0, len(t.lips6))
	for a := range t.lips6 {
		out = append(out, netip.AddrFrom16(a))
	}
	return out
}
