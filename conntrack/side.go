package conntrack

// A connection's side entry holds what only some connections need, so
// that every slot need not carry it: the reply key of a NAT or FULLNAT
// connection (found through outIndex) and the auxiliary slot number
// (AttachAux), which is the entry's own number. Entries are numbered 1 to
// the table's usable slots, one for every connection the table can hold,
// and never move: the entry records the number of its connection's slot,
// which Table.removeAt updates when it moves the connection. The array is
// made at the first InsertNAT or AttachAux (16 bytes an entry); free
// entries form a list through their slot field, so nothing else is
// allocated.
type sides struct {
	e        []sideEntry // e[0] is unused: 0 means no entry
	freeHead uint32      // the last freed entry, 0 for none
	high     uint32      // entries 1 to high have been handed out
}

// sideEntry is a reply key less its protocol (the connection's), and the
// number of the connection's slot; in a free entry slot is the next free
// entry.
type sideEntry struct {
	src, dst     [4]byte
	sport, dport uint16
	slot         uint32
}

// attach gives c, in slot number slot, a side entry of its own, and
// returns its number; 0 when all limit entries are taken.
func (s *sides) attach(c *Conn, slot uint32, limit int) uint32 {
	if s.e == nil {
		s.e = make([]sideEntry, limit+1)
	}
	n := s.freeHead
	switch {
	case n != 0:
		s.freeHead = s.e[n].slot
	case int(s.high) < limit:
		s.high++
		n = s.high
	default:
		return 0
	}
	s.e[n] = sideEntry{slot: slot}
	c.side = n
	return n
}

// free gives entry n back.
func (s *sides) free(n uint32) {
	s.e[n] = sideEntry{slot: s.freeHead}
	s.freeHead = n
}

// reset frees every entry.
func (s *sides) reset() { s.freeHead, s.high = 0, 0 }

// moved records that entry n's connection is now in slot number slot.
func (s *sides) moved(n, slot uint32) { s.e[n].slot = slot }

// setOut records reply key out in entry n.
func (s *sides) setOut(n uint32, out *Key) {
	e := &s.e[n]
	e.src, e.dst, e.sport, e.dport = out.Src, out.Dst, out.SrcPort, out.DstPort
}

// out returns entry n's reply key, with protocol proto.
func (s *sides) out(n uint32, proto uint8) Key {
	e := &s.e[n]
	return Key{Src: e.src, Dst: e.dst, SrcPort: e.sport, DstPort: e.dport, Proto: proto}
}

// match returns entry n's slot number if its reply key is out's, but for
// the protocol, which the caller compares with the connection's.
func (s *sides) match(n uint32, out *Key) (uint32, bool) {
	e := &s.e[n]
	if e.src != out.Src || e.dst != out.Dst || e.sport != out.SrcPort || e.dport != out.DstPort {
		return 0, false
	}
	return e.slot, true
}
