package conntrack

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// Tick is a point in time in milliseconds from an arbitrary epoch. It wraps
// around every 2^32 ms (~49.7 days); compare Ticks only with Before and
// Sub, never with < on the raw values.
type Tick uint32

// Before reports whether t is earlier than u, assuming they lie within
// 2^31 ms (~24.8 days) of each other.
func (t Tick) Before(u Tick) bool { return int32(t-u) < 0 }

// Sub returns t-u in milliseconds, negative when t is earlier.
func (t Tick) Sub(u Tick) int32 { return int32(t - u) }

// Add returns t plus d, rounded down to whole milliseconds. d must be
// below 2^31 ms.
func (t Tick) Add(d time.Duration) Tick { return t + Tick(d/time.Millisecond) }

const protoTCP = uint8(vs.TCP)

// Key identifies a connection by its packets from the client: the client
// address and port, the virtual address and port, and the protocol, as they
// appear on the wire of client to director packets. It is comparable and
// holds no pointers.
type Key struct {
	Src, Dst         [4]byte
	SrcPort, DstPort uint16
	Proto            uint8
}

// Connection flags. The values are the kernel's IP_VS_CONN_F_* bits
// (include/uapi/linux/ip_vs.h).
const (
	// FlagNoOutput marks a connection whose replies bypass the director
	// (every method but NAT and FULLNAT): Step uses the INPUT-ONLY table
	// until an Output packet is seen (IP_VS_CONN_F_NOOUTPUT).
	FlagNoOutput uint16 = 0x0080
	// FlagInactive marks a connection counted in its dest's InactConns
	// rather than ActiveConns (IP_VS_CONN_F_INACTIVE).
	FlagInactive uint16 = 0x0100
	// FlagTemplate is reserved for persistence templates
	// (IP_VS_CONN_F_TEMPLATE); Insert never sets it.
	FlagTemplate uint16 = 0x1000
	// FlagSync marks a connection a sync backup created from its
	// master's message (IP_VS_CONN_F_SYNC); see InsertSynced.
	FlagSync uint16 = 0x0020

	// flagDead marks a tombstone: an entry Lookup found expired and
	// released, kept in its slot so other entries' pointers stay valid
	// until Sweep or Delete removes it. Not a kernel flag.
	flagDead uint16 = 0x8000
	// flagOut marks a connection indexed by its reply key too (Out).
	flagOut uint16 = 0x4000
	// flagAux marks a connection given an auxiliary slot (AttachAux).
	flagAux uint16 = 0x0010
)

// Conn is one tracked connection. It holds no pointers. The engine may
// read every field and may use a *Conn it got from Lookup or Insert until
// the next Delete, Sweep or Flush on the same Table (Lookup and Insert never
// move entries). Only Step should change State, Flags and Expires. A NAT or
// FULLNAT connection's reply key is not in the Conn but in the Table
// (Table.Out), so a slot is 48 bytes.
type Conn struct {
	Key Key
	// Flags are FlagNoOutput, FlagInactive, FlagTemplate.
	Flags uint16
	// DestID is the vs.Dest.ID of the real server; 0 marks a free slot.
	DestID uint32
	// SvcID is the vs.Service.ID the connection was scheduled by.
	SvcID uint32
	// State is the TCP state, or StateUDP.
	State State
	// SyncOld is the state at the last connection sync decision that
	// went through (the kernel's cp->old_state; ipvssync.SyncState).
	SyncOld uint8
	// Expires is when the connection times out unless a packet
	// refreshes it.
	Expires Tick
	// Tmpl is the ID of the persistence template that controls this
	// connection in the Table's Templates, 0 for none.
	Tmpl uint32
	// InPkts counts the client's packets (the kernel's cp->in_pkts) for
	// the connection sync threshold; the engine increments it only while
	// a master sync daemon runs. A synced connection starts at the
	// backup's sync threshold, as in the kernel.
	InPkts uint32
	// SyncEnd is the low 32 bits of the sync decision's end time in
	// milliseconds (cp->sync_endtime; ipvssync.SyncState.EndTime), 0 for
	// never synced.
	SyncEnd uint32
	// side is the connection's side entry in the Table (side.go): its
	// reply key (flagOut) and its auxiliary slot number (flagAux); 0 for
	// none.
	side uint32
}

// Remaining returns the time left before c expires at now, or 0 when it
// has expired (the expire column of ipvsadm -c).
func (c *Conn) Remaining(now Tick) time.Duration {
	ms := c.Expires.Sub(now)
	if ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// NewConnExpected reports whether a new SYN for c's key should end c and
// be scheduled afresh, as is_new_conn_expected (ip_vs_core.c) decides for
// the conn_reuse_mode sysctl (default 1): a TCP connection in TIME_WAIT or
// CLOSE; with bit 2 of mode also one in FIN_WAIT whose replies bypass the
// director. Mode 0 never reuses. The engine, not the Table, acts on it
// (Delete, then schedule and Insert).
func (c *Conn) NewConnExpected(connReuseMode int) bool {
	// A connection controlled by a persistence template is never reused
	// (cp->control in the kernel).
	if connReuseMode == 0 || c.Key.Proto != protoTCP || c.Flags&FlagTemplate != 0 || c.Tmpl != 0 {
		return false
	}
	switch c.State {
	case StateTimeWait, StateClose:
		return true
	case StateFinWait:
		return connReuseMode&2 != 0 && c.Flags&FlagNoOutput != 0
	}
	return false
}

// Dests resolves a connection's DestID to its dest when the connection
// dies, so its counters can be released. *vs.Table satisfies it. A nil
// result means the dest is gone: the entry is dropped without touching any
// counter.
type Dests interface {
	Dest(id uint32) *vs.Dest
}

var _ Dests = (*vs.Table)(nil)

// DefaultCapacity is the number of slots of a Table whose Config leaves
// Capacity zero.
const DefaultCapacity = 1 << 16

const (
	minCapacity = 8
	maxCapacity = 1 << 30
)

// Config configures a Table. The zero value is ready to use.
type Config struct {
	// Capacity is the number of slots (at least 8, at most 2^30), taken
	// as it is: it need not be a power of two, so a table sized for N
	// connections holds 4N/3 slots, not the next power of two above
	// that; 0 means DefaultCapacity. At most three quarters of the slots
	// are ever used: Insert fails beyond that.
	Capacity int
	// Timeouts are the per-state timeouts; nil means DefaultTimeouts().
	// The Table keeps the pointer (see Timeouts for the rules).
	Timeouts *Timeouts
	// Templates are the persistence templates shared by the workers'
	// tables; a connection that dies releases its template here. Nil
	// when nothing is persistent.
	Templates *Templates
}

// Table is one worker's connection table. It is not safe for concurrent
// use, except SetTimeouts. Create it with New.
type Table struct {
	slots   []Conn
	ring    probeRing
	seed    uint64
	live    int // entries that are neither free nor tombstones
	used    int // occupied slots: live entries and tombstones
	maxUsed int
	cursor  uint32 // Sweep's next slot
	tmpls   *Templates
	// sides are the connections' side entries (side.go): reply keys
	// and auxiliary slots, made at the first InsertNAT or AttachAux.
	sides sides
	// out maps reply keys to side entries for NAT and FULLNAT
	// connections; made at the first InsertNAT with as many slots as the
	// table, so it never grows (outindex.go).
	out *outIndex
	// secure selects the secure_tcp state table (SetSecureTCP);
	// dropCount are drop_entry's counters (DropEntry).
	secure    bool
	dropCount [8]int8

	timeouts atomic.Pointer[Timeouts]
}

// New returns an empty Table with all its slots allocated.
func New(cfg Config) *Table {
	n := cfg.Capacity
	switch {
	case n <= 0:
		n = DefaultCapacity
	case n < minCapacity:
		n = minCapacity
	case n > maxCapacity:
		n = maxCapacity
	}
	size := n
	t := &Table{
		slots:   make([]Conn, size),
		ring:    probeRing{n: uint32(size)},
		seed:    rand.Uint64(),
		maxUsed: size - size/4,
		tmpls:   cfg.Templates,
	}
	t.SetTimeouts(cfg.Timeouts)
	return t
}

// SetTimeouts replaces the table's timeouts; nil restores the defaults. A
// connection's new timeout applies from its next packet. Safe to call from
// any goroutine.
func (t *Table) SetTimeouts(to *Timeouts) {
	if to == nil {
		to = DefaultTimeouts()
	}
	t.timeouts.Store(to)
}

// Timeouts returns the timeouts in use. The caller must not modify them.
func (t *Table) Timeouts() *Timeouts { return t.timeouts.Load() }

// Len returns the number of connections in the table, including expired
// ones that Lookup or Sweep have not yet found.
func (t *Table) Len() int { return t.live }

// Cap returns the number of slots.
func (t *Table) Cap() int { return len(t.slots) }

// Usable returns how many connections the table can hold: three quarters
// of its slots.
func (t *Table) Usable() int { return t.maxUsed }

// Room returns how many more connections Insert can surely take now:
// the usable slots not held by a live entry or a tombstone (which the
// next Sweep frees).
func (t *Table) Room() int { return t.maxUsed - t.used }

// Constants from wyhash (public domain), used to mix the key.
const (
	wyp0 = 0xa0761d6478bd642f
	wyp1 = 0xe7037ed1a0b428db
)

func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash mixes k with the table's random seed, so clients cannot aim their
// ports at one probe sequence. Two 64x64->128 multiplies, no allocation.
func (t *Table) hash(k *Key) uint64 { return hashKey(t.seed, k) }

// hashKey mixes k with seed.
func hashKey(seed uint64, k *Key) uint64 {
	a := uint64(binary.BigEndian.Uint32(k.Src[:]))<<32 | uint64(binary.BigEndian.Uint32(k.Dst[:]))
	b := uint64(k.SrcPort)<<32 | uint64(k.DstPort)<<16 | uint64(k.Proto)
	return mum(mum(a^seed, b^wyp1), seed^wyp0)
}

// home returns the slot where k's probe sequence starts.
func (t *Table) home(k *Key) uint32 { return t.ring.home(t.hash(k)) }

// probeRing is the index arithmetic of an open-addressing table of n
// slots, n any number from 1 to 2^32-1: linear probing that wraps around.
type probeRing struct{ n uint32 }

// home maps a hash to a slot: the high half of the product of its low 32
// bits and n (Lemire's multiply-shift reduction: one multiplication, no
// division, uniform for a uniform hash).
func (r probeRing) home(h uint64) uint32 { return uint32(uint64(uint32(h)) * uint64(r.n) >> 32) }

// next is the slot after i.
func (r probeRing) next(i uint32) uint32 {
	i++
	if i == r.n {
		i = 0
	}
	return i
}

// dist is how many steps forward from slot a reach slot b.
func (r probeRing) dist(a, b uint32) uint32 {
	if b >= a {
		return b - a
	}
	return b + r.n - a
}

// isExpired reports whether c's deadline has passed at now.
func isExpired(c *Conn, now Tick) bool { return !now.Before(c.Expires) }

// Lookup returns the connection for k, or nil. A connection found expired
// is released (its dest's counters decremented, via dests) and nil is
// returned, as if the kernel's timer had fired. Lookup does not allocate
// and does not move other entries.
func (t *Table) Lookup(k Key, now Tick, dests Dests) *Conn {
	i := t.home(&k)
	for {
		c := &t.slots[i]
		if c.DestID == 0 {
			return nil
		}
		if c.Key == k && c.Flags&flagDead == 0 {
			if isExpired(c, now) {
				t.expire(c, dests)
				return nil
			}
			return c
		}
		i = t.ring.next(i)
	}
}

// Insert adds a connection for k to dest d of service svcID and binds it
// like ip_vs_conn_new and ip_vs_bind_dest (ip_vs_conn.c): the new
// connection carries the dest's conn_flags, IP_VS_CONN_F_INACTIVE always
// and IP_VS_CONN_F_NOOUTPUT unless the method is NAT or FULLNAT
// (__ip_vs_update_dest, ip_vs_ctl.c), so it counts in d's InactConns until
// Step makes it active; d's Conns grows by one and d is marked overloaded
// when it reaches its upper threshold. A TCP connection starts in NONE, a
// UDP one in the UDP state, both with the NONE timeout: the engine steps
// the first packet right after Insert, as ip_vs_in does.
//
// Insert returns nil, binding nothing, when the table is full or d is nil
// or has ID 0; the caller drops the packet. Insert should follow a Lookup
// miss for k: if a live connection for k exists anyway, Insert returns it
// unchanged and binds nothing. Insert does not allocate and does not move
// other entries.
func (t *Table) Insert(k Key, svcID uint32, d *vs.Dest, now Tick) *Conn {
	c, _ := t.insert(k, svcID, d, now)
	return c
}

// insert is Insert that also returns the connection's slot number.
func (t *Table) insert(k Key, svcID uint32, d *vs.Dest, now Tick) (*Conn, uint32) {
	if d == nil || d.ID == 0 || d.State == nil {
		return nil, 0
	}
	i := t.home(&k)
	var free *Conn // first tombstone on the probe sequence
	var at uint32
	for {
		c := &t.slots[i]
		if c.DestID == 0 {
			break
		}
		if c.Flags&flagDead != 0 {
			if free == nil {
				free, at = c, i
			}
		} else if c.Key == k {
			return c, i
		}
		i = t.ring.next(i)
	}
	if free == nil {
		if t.used >= t.maxUsed {
			return nil, 0
		}
		free, at = &t.slots[i], i
		t.used++
	}
	t.live++

	flags := FlagInactive
	if d.Method != vs.Masq && d.Method != vs.FullNAT {
		flags |= FlagNoOutput
	}
	state := StateNone
	if k.Proto != protoTCP {
		state = StateUDP
	}
	to := t.timeouts.Load()
	*free = Conn{
		Key:     k,
		DestID:  d.ID,
		SvcID:   svcID,
		State:   state,
		Flags:   flags,
		Expires: now + ticks(to.TCP[StateNone]),
	}
	bindDest(free, d)
	return free, at
}

// bindDest counts c, just created with its flags set, in d's counters
// (ip_vs_bind_dest in ip_vs_conn.c; Conns as ip_vs_conn_stats in
// ip_vs_core.c counts a scheduled connection).
func bindDest(c *Conn, d *vs.Dest) {
	st := d.State
	switch {
	case c.Flags&FlagTemplate != 0:
		st.PersistConns.Add(1)
	case c.Flags&FlagInactive != 0:
		st.InactConns.Add(1)
	default:
		st.ActiveConns.Add(1)
	}
	st.Conns.Add(1)
	if d.UThreshold != 0 && totalConns(st) >= int64(d.UThreshold) {
		st.SetOverloaded(true)
	}
}

// unbindDest releases c's count in d (ip_vs_unbind_dest in ip_vs_conn.c):
// InactConns if c is inactive, else ActiveConns, then clears the overload
// mark once the dest is below its lower threshold (or 3/4 of the upper
// one when no lower one is set).
func unbindDest(c *Conn, d *vs.Dest) {
	st := d.State
	switch {
	case c.Flags&FlagTemplate != 0:
		st.PersistConns.Add(-1)
	case c.Flags&FlagInactive != 0:
		st.InactConns.Add(-1)
	default:
		st.ActiveConns.Add(-1)
	}
	switch {
	case d.LThreshold != 0:
		if totalConns(st) < int64(d.LThreshold) {
			st.SetOverloaded(false)
		}
	case d.UThreshold != 0:
		if totalConns(st)*4 < int64(d.UThreshold)*3 {
			st.SetOverloaded(false)
		}
	default:
		if st.Overloaded.Load() {
			st.SetOverloaded(false)
		}
	}
}

// totalConns is ip_vs_dest_totalconns: active plus inactive.
func totalConns(st *vs.DestState) int64 {
	return int64(st.ActiveConns.Load()) + int64(st.InactConns.Load())
}

// Aux returns c's auxiliary slot, 0 for none.
func (c *Conn) Aux() uint32 {
	if c.Flags&flagAux == 0 {
		return 0
	}
	return c.side
}

// AuxSlots is the number of auxiliary slots, numbered 1 to AuxSlots: one
// per connection the table can hold.
func (t *Table) AuxSlots() int { return t.maxUsed }

// AttachAux gives c an auxiliary slot of its own, a number from 1 to
// AuxSlots by which the caller keeps more state for c in an array of its
// own (the engine's SYN proxy state): the slot is c's until c dies, then
// free for another connection. It returns c's slot if it has one already,
// and 0 when none is free. The slot is c's side entry (side.go), made at
// the first call to AttachAux or InsertNAT; it does not allocate
// afterwards.
func (t *Table) AttachAux(c *Conn) uint32 {
	if c.side == 0 {
		i, ok := t.slotOf(c)
		if !ok || t.sides.attach(c, i, t.maxUsed) == 0 {
			return 0
		}
	}
	c.Flags |= flagAux
	return c.side
}

// slotOf returns the number of the slot that holds c.
func (t *Table) slotOf(c *Conn) (uint32, bool) {
	if c == nil || c.DestID == 0 || c.Flags&flagDead != 0 {
		return 0, false
	}
	for i := t.home(&c.Key); ; i = t.ring.next(i) {
		s := &t.slots[i]
		if s.DestID == 0 {
			return 0, false
		}
		if s == c {
			return i, true
		}
	}
}

// release unbinds c from its dest, if dests still knows it, and frees its
// side entry.
func (t *Table) release(c *Conn, dests Dests) {
	if c.side != 0 {
		if c.Flags&flagOut != 0 {
			t.out.del(t.Out(c), c.side)
		}
		t.sides.free(c.side)
		c.side = 0
		c.Flags &^= flagOut | flagAux
	}
	if c.Tmpl != 0 && t.tmpls != nil {
		t.tmpls.Release(c.Tmpl)
		c.Tmpl = 0
	}
	if dests == nil {
		return
	}
	d := dests.Dest(c.DestID)
	if d == nil || d.State == nil || d.ID != c.DestID {
		return
	}
	unbindDest(c, d)
}

// InsertNAT is Insert for a connection whose replies come back through the
// director (NAT, FULLNAT): out is the key those replies carry as they
// arrive (real server address and port to client, or to the local address
// for FULLNAT), so LookupOut finds the connection from them. It returns
// nil, binding nothing, when the table is full or out is already in use.
func (t *Table) InsertNAT(k, out Key, svcID uint32, d *vs.Dest, now Tick) *Conn {
	if t.out == nil {
		t.out = newOutIndex(len(t.slots), t.seed)
	}
	h := t.out.hash(&out)
	if _, busy := t.findOut(&out, h); busy {
		return nil
	}
	c, i := t.insert(k, svcID, d, now)
	if c == nil || c.Flags&flagOut != 0 {
		return c
	}
	if c.side == 0 {
		t.sides.attach(c, i, t.maxUsed) // there is one for every usable slot
	}
	t.sides.setOut(c.side, &out)
	c.Flags |= flagOut
	t.out.put(h, c.side)
	return c
}

// Out returns the key of c's replies as they reach the director (NAT and
// FULLNAT: real server address and port to the client, or to the local
// address and port for FULLNAT), the zero Key for a connection inserted
// without one. c must be a live connection of t.
func (t *Table) Out(c *Conn) Key {
	if c.Flags&flagOut == 0 {
		return Key{}
	}
	return t.sides.out(c.side, c.Key.Proto)
}

// OutInUse reports whether a live connection already has reply key out.
func (t *Table) OutInUse(out Key) bool {
	if t.out == nil {
		return false
	}
	_, ok := t.findOut(&out, t.out.hash(&out))
	return ok
}

// HasNAT reports whether the table has ever held a NAT or FULLNAT
// connection, so callers can skip reply lookups on DR-only directors.
func (t *Table) HasNAT() bool { return t.out != nil }

// LookupOut returns the connection whose replies carry out, or nil; like
// Lookup it releases a connection found expired.
func (t *Table) LookupOut(out Key, now Tick, dests Dests) *Conn {
	if t.out == nil {
		return nil
	}
	c, ok := t.findOut(&out, t.out.hash(&out))
	if !ok {
		return nil
	}
	if isExpired(c, now) {
		t.expire(c, dests)
		return nil
	}
	return c
}

// expire releases c, which a lookup found expired, and leaves it as a
// tombstone in its slot, as if the kernel's timer had fired.
func (t *Table) expire(c *Conn, dests Dests) {
	t.release(c, dests)
	c.Flags |= flagDead
	t.live--
}

// SetTemplate records that c was created under persistence template id
// (from Templates.Use); the template is released when c dies.
func (t *Table) SetTemplate(c *Conn, id uint32) { c.Tmpl = id }

// Step advances c for one packet travelling in direction dir at now.
//
// TCP follows set_tcp_state (ip_vs_proto_tcp.c), with the tcp_states table
// or, while SetSecureTCP(true) is in force, tcp_states_dos: a connection with
// FlagNoOutput uses the INPUT-ONLY table for Input packets and loses the
// flag on its first Output packet; the row is chosen from tcpFlags with
// precedence RST > SYN > FIN > ACK, and a segment with none of them moves
// the connection to CLOSE. When the state changes, a connection entering
// an active state (SYN_SENT, SYN_RECV, ESTABLISHED, SYNACK) moves from d's
// InactConns to its ActiveConns, and one leaving them moves back
// (FlagInactive tracks which). The timeout becomes that of the new state.
//
// Any other protocol is UDP (udp_state_transition in ip_vs_proto_udp.c):
// the timeout is refreshed, nothing else changes, so UDP connections stay
// in InactConns.
//
// d is c's dest; pass nil if it is gone (counters are then left alone,
// like the kernel's cp->dest == NULL). A d whose ID is not c.DestID is
// treated as nil. Step does not allocate.
func (t *Table) Step(c *Conn, dir Direction, tcpFlags uint8, now Tick, d *vs.Dest) {
	to := t.timeouts.Load()
	if c.Key.Proto != protoTCP {
		c.Expires = now + ticks(to.UDP)
		return
	}
	if c.Flags&FlagNoOutput != 0 {
		if dir == Output {
			c.Flags &^= FlagNoOutput
		} else {
			dir = InputOnly
		}
	}
	next := nextTCPState(dir, tcpFlags, c.State, t.secure)
	if next != c.State && d != nil && d.State != nil && d.ID == c.DestID && c.Flags&FlagTemplate == 0 {
		st := d.State
		switch inactive := c.Flags&FlagInactive != 0; {
		case !inactive && !next.active():
			st.ActiveConns.Add(-1)
			st.InactConns.Add(1)
			c.Flags |= FlagInactive
		case inactive && next.active():
			st.ActiveConns.Add(1)
			st.InactConns.Add(-1)
			c.Flags &^= FlagInactive
		}
	}
	c.State = next
	c.Expires = now + to.forState(protoTCP, next)
}

// Delete removes c from the table and releases its dest's counters via
// dests. c must come from this table (Lookup or Insert) and still be
// valid; anything else is ignored. Delete moves other entries: every
// *Conn from this table is invalid afterwards.
func (t *Table) Delete(c *Conn, dests Dests) {
	if c == nil || c.DestID == 0 || c.Flags&flagDead != 0 {
		return
	}
	i := t.home(&c.Key)
	for {
		s := &t.slots[i]
		if s.DestID == 0 {
			return // not in this table
		}
		if s == c {
			t.release(c, dests)
			t.live--
			t.removeAt(i)
			return
		}
		i = t.ring.next(i)
	}
}

// removeAt empties slot i and closes the gap with backward-shift deletion
// (Knuth, TAOCP vol. 3, 6.4, Algorithm R): each later entry of the cluster
// that may live at the hole moves into it, so no probe sequence ever
// crosses an empty slot before reaching its key.
func (t *Table) removeAt(i uint32) {
	t.used--
	j := i
	for {
		j = t.ring.next(j)
		s := &t.slots[j]
		if s.DestID == 0 {
			break
		}
		// s may move to the hole if its home is not after the hole, i.e.
		// it is at least as far from home as the hole is from it.
		if t.ring.dist(t.home(&s.Key), j) >= t.ring.dist(i, j) {
			t.slots[i] = *s
			if s.side != 0 {
				t.sides.moved(s.side, i)
			}
			i = j
		}
	}
	t.slots[i] = Conn{}
}

// Sweep examines up to budget slots, continuing where the previous call
// stopped and wrapping around, and removes the entries that have expired
// at now, releasing their counters via dests, as well as tombstones left
// by Lookup. It returns how many live connections it expired. Sweep moves
// entries: every *Conn from this table is invalid afterwards. It does not
// allocate.
func (t *Table) Sweep(now Tick, budget int, dests Dests) (expired int) {
	if t.used == 0 {
		return 0
	}
	for ; budget > 0; budget-- {
		i := t.cursor
		c := &t.slots[i]
		if c.DestID != 0 {
			dead := c.Flags&flagDead != 0
			if dead || isExpired(c, now) {
				if !dead {
					t.release(c, dests)
					t.live--
					expired++
				}
				t.removeAt(i)
				// An entry may have shifted into slot i: look at it again.
				continue
			}
		}
		t.cursor = t.ring.next(i)
	}
	return expired
}

// Flush removes every connection, releasing counters via dests. Control
// plane; it costs one pass over all slots.
func (t *Table) Flush(dests Dests) {
	for i := range t.slots {
		c := &t.slots[i]
		if c.DestID != 0 && c.Flags&flagDead == 0 {
			t.release(c, dests)
		}
		*c = Conn{}
	}
	t.live, t.used, t.cursor = 0, 0, 0
	t.sides.reset()
}

// Range calls fn for each connection, expired or not, in slot order until
// fn returns false. fn must not modify the table. It runs on the table's
// owner goroutine like every other method.
func (t *Table) Range(fn func(*Conn) bool) {
	for i := range t.slots {
		c := &t.slots[i]
		if c.DestID == 0 || c.Flags&flagDead != 0 {
			continue
		}
		if !fn(c) {
			return
		}
	}
}

// ExpireNodest removes every connection whose dest is no longer in dests
// or has been removed from its service (vs.Dest.Trashed), releasing their
// counters: ip_vs_expire_nodest_conn_flush, which the kernel queues when a
// dest is deleted with expire_nodest_conn set. It returns how many it
// removed. One pass over all slots: control-plane cost, run once per
// table change. Like Sweep it moves entries.
func (t *Table) ExpireNodest(dests Dests) (expired int) {
	if t.live == 0 {
		return 0
	}
	for i := uint32(0); i < uint32(len(t.slots)); {
		c := &t.slots[i]
		if c.DestID != 0 {
			dead := c.Flags&flagDead != 0
			d := dests.Dest(c.DestID)
			if dead || d == nil || d.Trashed {
				if !dead {
					t.release(c, dests)
					t.live--
					expired++
				}
				t.removeAt(i)
				continue // an entry may have shifted into slot i
			}
		}
		i++
	}
	return expired
}
