package conntrack

import (
	"github.com/ulvs/ulvs/vs"
)

// Key6 identifies an IPv6 connection by its client-to-director packets,
// as Key does for IPv4. Comparable and pointer-free.
type Key6 struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Proto            uint8
}

// Conn6 is one tracked IPv6 connection. The IPv4 Conn is embedded for the
// state, flags, counters and timers, which IPv6 shares with IPv4 (its Key
// holds only the ports and protocol); the IPv6 addresses live here, so the
// IPv4 entry does not grow.
type Conn6 struct {
	Conn
	Key6 Key6
	// Out6 is the key of the replies of a NAT66 connection (real server
	// to client), valid with flagOut.
	Out6 Key6
	// ClientMAC and ClientLink are where the client's packets came from:
	// a NAT66 reply goes back to that neighbour (the client or its
	// router) on that link.
	ClientMAC  [6]byte
	ClientLink uint8
}

// Table6 is one worker's IPv6 connection table, beside its IPv4 Table:
// the same states, timeouts (those of v4, the table it is made with),
// dest counters and persistence templates, with IPv6 keys. Its slots are
// allocated whole at start; the indexes are maps sized for every slot, so
// they do not grow. Not safe for concurrent use.
type Table6 struct {
	v4    *Table // timeouts, secure_tcp and templates come from here
	slots []Conn6
	free  []int32
	index map[Key6]int32
	out   map[Key6]int32
	// cursor is Sweep's next slot.
	cursor int
	nat    bool
}

// NewTable6 returns an IPv6 table of capacity connections sharing v4's
// timeouts, defence mode and templates.
func NewTable6(v4 *Table, capacity int) *Table6 {
	if capacity < minCapacity {
		capacity = minCapacity
	}
	t := &Table6{
		v4:    v4,
		slots: make([]Conn6, capacity),
		free:  make([]int32, capacity),
		index: make(map[Key6]int32, capacity),
		out:   make(map[Key6]int32, capacity),
	}
	for i := range t.free {
		t.free[i] = int32(capacity - 1 - i)
	}
	return t
}

// Len returns the live connections (expired ones not yet found included).
func (t *Table6) Len() int { return len(t.index) }

// Cap returns the number of slots.
func (t *Table6) Cap() int { return len(t.slots) }

// HasNAT reports whether the table ever held a NAT66 connection.
func (t *Table6) HasNAT() bool { return t.nat }

// Lookup returns the connection for k, or nil; one found expired is
// released (dest counters, template) and nil returned, as Table.Lookup.
func (t *Table6) Lookup(k Key6, now Tick, dests Dests) *Conn6 {
	i, ok := t.index[k]
	if !ok {
		return nil
	}
	c := &t.slots[i]
	if isExpired(&c.Conn, now) {
		t.remove(i, dests)
		return nil
	}
	return c
}

// LookupOut returns the NAT66 connection whose replies carry out, or nil.
func (t *Table6) LookupOut(out Key6, now Tick, dests Dests) *Conn6 {
	i, ok := t.out[out]
	if !ok {
		return nil
	}
	return t.Lookup(t.slots[i].Key6, now, dests)
}

// Insert adds a connection for k to dest d of service svcID, bound like
// Table.Insert binds an IPv4 one. It returns nil when the table is full or
// d is unusable; an existing live connection for k is returned unchanged.
func (t *Table6) Insert(k Key6, svcID uint32, d *vs.Dest, now Tick) *Conn6 {
	if d == nil || d.ID == 0 || d.State == nil {
		return nil
	}
	if i, ok := t.index[k]; ok {
		return &t.slots[i]
	}
	n := len(t.free)
	if n == 0 {
		return nil
	}
	i := t.free[n-1]
	t.free = t.free[:n-1]
	flags := FlagInactive
	if d.Method != vs.Masq && d.Method != vs.FullNAT {
		flags |= FlagNoOutput
	}
	state := StateNone
	if k.Proto != protoTCP {
		state = StateUDP
	}
	to := t.v4.timeouts.Load()
	c := &t.slots[i]
	*c = Conn6{
		Conn: Conn{
			Key:     Key{SrcPort: k.SrcPort, DstPort: k.DstPort, Proto: k.Proto},
			DestID:  d.ID,
			SvcID:   svcID,
			State:   state,
			Flags:   flags,
			Expires: now + ticks(to.TCP[StateNone]),
		},
		Key6: k,
	}
	t.index[k] = i
	bindDest(&c.Conn, d)
	return c
}

// InsertNAT is Insert for a NAT66 connection whose replies carry out. It
// returns nil when the table is full or out is in use.
func (t *Table6) InsertNAT(k, out Key6, svcID uint32, d *vs.Dest, now Tick) *Conn6 {
	if _, busy := t.out[out]; busy {
		return nil
	}
	c := t.Insert(k, svcID, d, now)
	if c == nil || c.Flags&flagOut != 0 {
		return c
	}
	t.nat = true
	c.Out6 = out
	c.Flags |= flagOut
	t.out[out] = t.index[k]
	return c
}

// SetTemplate records c's persistence template, as Table.SetTemplate.
func (t *Table6) SetTemplate(c *Conn6, id uint32) { c.Tmpl = id }

// Step advances c for one packet, exactly as Table.Step does for IPv4.
func (t *Table6) Step(c *Conn6, dir Direction, tcpFlags uint8, now Tick, d *vs.Dest) {
	t.v4.Step(&c.Conn, dir, tcpFlags, now, d)
}

// Delete removes c, releasing its counters. Other *Conn6 stay valid.
func (t *Table6) Delete(c *Conn6, dests Dests) {
	if c == nil || c.DestID == 0 {
		return
	}
	if i, ok := t.index[c.Key6]; ok && &t.slots[i] == c {
		t.remove(i, dests)
	}
}

// remove frees slot i: counters, template, indexes.
func (t *Table6) remove(i int32, dests Dests) {
	c := &t.slots[i]
	if c.Flags&flagOut != 0 {
		delete(t.out, c.Out6)
	}
	c.Flags &^= flagOut | flagAux
	c.side = 0 // an IPv6 slot number (AttachAux), not a side entry of v4's
	t.v4.release(&c.Conn, dests)
	delete(t.index, c.Key6)
	*c = Conn6{}
	t.free = append(t.free, i) // within its capacity
}

// Sweep examines up to budget slots from where it last stopped and
// removes the connections expired at now; it returns how many.
func (t *Table6) Sweep(now Tick, budget int, dests Dests) (expired int) {
	if len(t.index) == 0 {
		return 0
	}
	for ; budget > 0; budget-- {
		i := t.cursor
		t.cursor = (t.cursor + 1) % len(t.slots)
		c := &t.slots[i]
		if c.DestID != 0 && isExpired(&c.Conn, now) {
			t.remove(int32(i), dests)
			expired++
		}
	}
	return expired
}

// Flush removes every connection, releasing counters.
func (t *Table6) Flush(dests Dests) {
	for i := range t.slots {
		if t.slots[i].DestID != 0 {
			t.remove(int32(i), dests)
		}
	}
}

// Range calls fn for each connection until fn returns false.
func (t *Table6) Range(fn func(*Conn6) bool) {
	for i := range t.slots {
		if c := &t.slots[i]; c.DestID != 0 && !fn(c) {
			return
		}
	}
}

// OutInUse reports whether out is the reply key of a live or not yet
// swept NAT66 or FULLNAT connection, as Table.OutInUse: FULLNAT picks a
// local port whose key is free.
func (t *Table6) OutInUse(out Key6) bool {
	_, ok := t.out[out]
	return ok
}

// AttachAux gives c an auxiliary slot, as Table.AttachAux does for IPv4:
// a number from 1 to Cap by which the caller keeps more state for c (the
// SYN proxy's) until c is removed; c.Aux() returns it. An IPv6 entry's
// slot is its own place in the table, so this never fails for a live c
// and allocates nothing. It returns 0 for a c not in t.
func (t *Table6) AttachAux(c *Conn6) uint32 {
	i, ok := t.index[c.Key6]
	if !ok || &t.slots[i] != c {
		return 0
	}
	c.side = uint32(i) + 1
	c.Flags |= flagAux
	return c.side
}
