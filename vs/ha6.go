package vs

// SetHA6 records, in a table being built, the IPv6 addresses whose
// failover instance (VRRPv3 over IPv6) is not master here: like the IPv4
// standby addresses of SetHA, their solicitations are not answered and
// their traffic is dropped (counted).
func (t *Table) SetHA6(standby [][16]byte) {
	t.standby6 = nil
	if len(standby) == 0 {
		return
	}
	t.standby6 = make(map[[16]byte]struct{}, len(standby))
	for _, a := range standby {
		t.standby6[a] = struct{}{}
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
