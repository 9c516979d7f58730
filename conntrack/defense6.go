package conntrack

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
