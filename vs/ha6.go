package vs

import (
	"net/netip"
	"slices"
)

// SetHA6 records, in a table being built, the IPv6 failover state:
// standby are the IPv6 addresses whose failover instance (VRRPv3 over
// IPv6) is not master here; like the IPv4 standby addresses of SetHA,
// their solicitations are not answered and their traffic is dropped
// (counted). floating are the IPv6 failover addresses that are no IPv6
// VIP (a NAT66 gateway the real servers route through, fe80::1 say),
// each with the links it is answered on (bit i: the director's interface
// i), as keepalived puts such an address on one interface, where only
// that interface's solicitations find it. Both are control-plane lists.
func (t *Table) SetHA6(standby [][16]byte, floating map[[16]byte]uint64) {
	t.standby6, t.floating6 = nil, nil
	if len(standby) > 0 {
		t.standby6 = make(map[[16]byte]struct{}, len(standby))
		for _, a := range standby {
			t.standby6[a] = struct{}{}
		}
	}
	if len(floating) > 0 {
		t.floating6 = make(map[[16]byte]uint64, len(floating))
		for a, links := range floating {
			t.floating6[a] = links
		}
	}
}

// Standby6 reports whether this director is a failover backup for the
// IPv6 address addr.
func (t *Table) Standby6(addr [16]byte) bool {
	if t.standby6 == nil {
		return false
	}
	_, ok := t.standby6[addr]
	return ok
}

// AnswersND6 reports whether the director answers neighbour solicitations
// for addr arriving on its interface link: a VIP not on standby
// (AnswersND: not an address only a wide mark rule covers) and a
// FULLNAT local address on every link, a floating failover address
// (SetHA6) on its own links while it is not on standby.
func (t *Table) AnswersND6(addr [16]byte, link int) bool {
	if t.AnswersND(addr) || t.IsLocal6(addr) {
		return true
	}
	if t.floating6 == nil || link < 0 || link >= 64 {
		return false
	}
	links, ok := t.floating6[addr]
	return ok && links&(1<<link) != 0 && !t.Standby6(addr)
}

// FloatingAddrs6 lists, sorted, the IPv6 floating failover addresses that
// are not on standby: those this director answers for on some link now.
// It allocates; control plane only.
func (t *Table) FloatingAddrs6() []netip.Addr {
	out := make([]netip.Addr, 0, len(t.floating6))
	for a := range t.floating6 {
		if !t.Standby6(a) {
			out = append(out, netip.AddrFrom16(a))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// HasFloating6 reports whether the table has IPv6 floating failover
// addresses, on standby or not.
func (t *Table) HasFloating6() bool { return len(t.floating6) > 0 }
