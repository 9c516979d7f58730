package conntrack

import "math/rand/v2"

// ExpireNodest is Table.ExpireNodest for the IPv6 table: it removes the
// connections whose real server is no longer in its service (gone from
// dests, or trashed) and returns how many.
func (t *Table6) ExpireNodest(dests Dests) (expired int) {
	if len(t.index) == 0 {
		return 0
	}
	for i := range t.slots {
		c := &t.slots[i]
		if c.DestID == 0 {
			continue
		}
		if d := dests.Dest(c.DestID); d == nil || d.Trashed {
			t.remove(int32(i), dests)
			expired++
		}
	}
	return expired
}

// DropEntry is Table.DropEntry (ip_vs_random_dropentry) for the IPv6
// table: as many random slots as the IPv4 table looks at for its size,
// the same choice (dropVictim, with the IPv4 table's per-packet-count
// counters: the kernel keeps one set per network namespace), templates
// of the dropped connections expired. It returns how many it dropped.
func (t *Table6) DropEntry(now Tick, dests Dests) (dropped int) {
	if len(t.index) == 0 {
		return 0
	}
	to := t.v4.timeouts.Load()
	for n := max(len(t.slots)>>5, 1); n > 0; n-- {
		i := rand.IntN(len(t.slots))
		c := &t.slots[i]
		if c.DestID == 0 || c.Flags&FlagTemplate != 0 || !t.v4.dropVictim(&c.Conn, now, to) {
			continue
		}
		tmpl := c.Tmpl
		t.remove(int32(i), dests)
		if tmpl != 0 && t.v4.tmpls != nil {
			t.v4.tmpls.ExpireNow(tmpl, now)
		}
		dropped++
	}
	return dropped
}
