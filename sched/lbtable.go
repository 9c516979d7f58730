package sched

import (
	"time"

	"github.com/ulvs/ulvs/vs"
)

// The cache table lblc and lblcr share: a hash table from a connection's
// destination address to a dest (lblc) or a set of dests (lblcr), aged the
// way ip_vs_lblc.c and ip_vs_lblcr.c age theirs. The two kernel files
// carry the same table code; ulvs keeps one copy.
const (
	lbTabBits = 10 // CONFIG_IP_VS_LBLC_TAB_BITS, CONFIG_IP_VS_LBLCR_TAB_BITS
	lbTabSize = 1 << lbTabBits
	lbTabMask = lbTabSize - 1
	// lbMaxSize is tbl->max_size: above it the periodic check collects
	// entries unused for lbEntryTimeout.
	lbMaxSize = lbTabSize * 16
	// lbHardLimit caps the table. The kernel has no cap beyond the memory
	// kmalloc(GFP_ATOMIC) finds: its collection only removes entries
	// unused for 6 minutes, so a flood of new addresses grows it without
	// bound. ulvs stops adding entries at 4 * max_size and schedules
	// without caching, which is what the kernel does when that kmalloc
	// fails ("If we fail to create a cache entry, we'll just use the
	// valid dest"). An entry is about 64 bytes, so the cap is about 4 MiB
	// per service.
	lbHardLimit = 4 * lbMaxSize
	// lbCheckInterval is CHECK_EXPIRE_INTERVAL, the period of the
	// kernel's per-service timer (ip_vs_lblc_check_expire).
	lbCheckInterval = int64(60 * time.Second)
	// lbEntryTimeout is ENTRY_TIMEOUT.
	lbEntryTimeout = int64(6 * time.Minute)
	// lbFullExpiration is COUNT_FOR_FULL_EXPIRATION: a full check every
	// 30 ticks that did no collection.
	lbFullExpiration = 30
	// lbDefaultExpiration is DEFAULT_EXPIRATION, the default of the
	// lblc_expiration and lblcr_expiration sysctls.
	lbDefaultExpiration = 24 * time.Hour
)

// lbEntry is struct ip_vs_lblc_entry or ip_vs_lblcr_entry. Dests are
// slots: indexes into the scheduler's known dests.
type lbEntry struct {
	addr    [16]byte // the destination address, IPv4 as IPv4-mapped
	next    int32    // next entry in the bucket or the free list; -1 ends
	lastuse int64    // ns since the table's epoch
	dest    int32    // lblc: the cached dest
	lastmod int64    // lblcr: when the set last changed
	set     []int32  // lblcr: the set, oldest first (the kernel's list is newest first)
}

// lbTable is struct ip_vs_lblc_table / ip_vs_lblcr_table with its timer.
// Not safe for concurrent use: the scheduler's mutex guards it.
//
// The kernel's timer fires every 60 s from the moment the scheduler was
// bound to the service. ulvs has no timer: at every Schedule it first runs
// the ticks that fell due since the last one (expireUpTo), each with the
// time it was due, so the table is what the kernel's would be at that
// moment. Long idle periods are skipped in O(1) where the ticks cannot
// change anything but the counter.
type lbTable struct {
	now    func() time.Time
	epoch  time.Time
	expire int64 // ns: lblc_expiration / lblcr_expiration

	heads   [lbTabSize]int32 // bucket heads, -1 empty
	entries []lbEntry
	free    int32 // free list head, -1 empty
	count   int   // tbl->entries

	rover     int   // tbl->rover
	counter   int   // tbl->counter
	nextCheck int64 // when the timer fires next, ns since epoch
}

// init is ip_vs_lblc_init_svc: an empty table whose timer first fires
// lbCheckInterval from now.
func (tb *lbTable) init(now func() time.Time, expire time.Duration) {
	if expire == 0 {
		expire = lbDefaultExpiration
	}
	tb.now = now
	tb.epoch = now()
	tb.expire = int64(expire)
	for i := range tb.heads {
		tb.heads[i] = -1
	}
	tb.free = -1
	tb.counter = 1
	tb.nextCheck = lbCheckInterval
}

// clone returns a deep copy of tb, with a new expiration (the sysctl may
// have changed) and the slots of live entries mapped through remap; free
// entries drop theirs. Control plane: it allocates.
func (tb *lbTable) clone(expire time.Duration, remap func(int32) int32) *lbTable {
	c := *tb
	if expire == 0 {
		expire = lbDefaultExpiration
	}
	c.expire = int64(expire)
	c.entries = make([]lbEntry, len(tb.entries))
	copy(c.entries, tb.entries)
	for i := range c.entries {
		c.entries[i].set = nil
		c.entries[i].dest = -1
	}
	for _, h := range tb.heads {
		for i := h; i >= 0; i = tb.entries[i].next {
			src, dst := &tb.entries[i], &c.entries[i]
			if src.dest >= 0 {
				dst.dest = remap(src.dest)
			}
			if len(src.set) > 0 {
				dst.set = make([]int32, len(src.set))
				for j, s := range src.set {
					dst.set[j] = remap(s)
				}
			}
		}
	}
	return &c
}

// clock returns the time now, in ns since the epoch.
func (tb *lbTable) clock() int64 { return int64(tb.now().Sub(tb.epoch)) }

// lbHash is ip_vs_lblc_hashkey / ip_vs_lblcr_hashkey (hash_32 in current
// kernels; 2.6 to 4.x multiplied by 2654435761 and masked).
func lbHash(fold uint32) uint32 { return hash32(fold, lbTabBits) }

// get is ip_vs_lblc_get: the entry for addr, or -1.
func (tb *lbTable) get(addr *[16]byte, fold uint32) int32 {
	for i := tb.heads[lbHash(fold)]; i >= 0; i = tb.entries[i].next {
		if tb.entries[i].addr == *addr {
			return i
		}
	}
	return -1
}

// add hashes a new entry for addr at the head of its bucket and returns
// it, or -1 at lbHardLimit. It allocates when the entry slice grows.
func (tb *lbTable) add(addr *[16]byte, fold uint32, t int64) int32 {
	if tb.count >= lbHardLimit {
		return -1
	}
	var i int32
	if tb.free >= 0 {
		i = tb.free
		tb.free = tb.entries[i].next
		set := tb.entries[i].set[:0]
		tb.entries[i] = lbEntry{set: set}
	} else {
		tb.entries = append(tb.entries, lbEntry{})
		i = int32(len(tb.entries) - 1)
	}
	e := &tb.entries[i]
	e.addr = *addr
	e.lastuse = t
	e.dest = -1
	b := lbHash(fold)
	e.next = tb.heads[b]
	tb.heads[b] = i
	tb.count++
	return i
}

// sweep walks bucket j and frees the entries unused for age at time t
// (t >= lastuse + age: the kernel's !time_before(now, lastuse + age)),
// returning how many it freed.
func (tb *lbTable) sweep(j int, t, age int64) int {
	n := 0
	link := &tb.heads[j]
	for i := *link; i >= 0; i = *link {
		e := &tb.entries[i]
		if t < e.lastuse+age {
			link = &e.next
			continue
		}
		*link = e.next
		e.next = tb.free
		tb.free = i
		tb.count--
		n++
	}
	return n
}

// fullCheck is ip_vs_lblc_full_check at time t: every entry unused for
// the expiration goes. The kernel's walk starts after the rover and, going
// all the way round, leaves it where it was.
func (tb *lbTable) fullCheck(t int64) {
	if tb.count == 0 {
		return
	}
	for j := range lbTabSize {
		tb.sweep(j, t, tb.expire)
	}
}

// collect is the garbage collection of ip_vs_lblc_check_expire at time t,
// when the table is over max_size: starting after the rover, free entries
// unused for lbEntryTimeout, bucket by bucket, until at least goal went.
func (tb *lbTable) collect(t int64) {
	goal := (tb.count - lbMaxSize) * 4 / 3
	if goal > lbMaxSize/2 {
		goal = lbMaxSize / 2
	}
	j := tb.rover
	for range lbTabSize {
		j = (j + 1) & lbTabMask
		goal -= tb.sweep(j, t, lbEntryTimeout)
		if goal <= 0 {
			break
		}
	}
	tb.rover = j
}

// expireUpTo runs every timer tick due at or before t
// (ip_vs_lblc_check_expire): a full check when the counter reaches 30,
// else a count when the table is within max_size, else a collection
// (which leaves the counter alone, so collections delay the full check).
func (tb *lbTable) expireUpTo(t int64) {
	for tb.nextCheck <= t {
		if tb.counter%lbFullExpiration == 0 {
			tb.fullCheck(tb.nextCheck)
			tb.counter = 1
			tb.nextCheck += lbCheckInterval
			continue
		}
		if tb.count > lbMaxSize {
			tb.collect(tb.nextCheck)
			tb.nextCheck += lbCheckInterval
			continue
		}
		// Within max_size every tick until t only counts or runs a full
		// check, and full checks only remove, so the table stays within
		// max_size and only the last full check matters.
		ticks := (t-tb.nextCheck)/lbCheckInterval + 1
		if tb.count == 0 {
			tb.counter = (tb.counter-1+int(ticks%lbFullExpiration))%lbFullExpiration + 1
		} else if k := int64(lbFullExpiration - tb.counter); ticks <= k {
			tb.counter += int(ticks)
		} else {
			last := k + (ticks-1-k)/lbFullExpiration*lbFullExpiration
			tb.fullCheck(tb.nextCheck + last*lbCheckInterval)
			tb.counter = 1 + int(ticks-1-last)
		}
		tb.nextCheck += ticks * lbCheckInterval
	}
}

// lbDests is the scheduler's view of dests: the current list, and after
// it the dests no longer in the list that cache entries still point to
// (the kernel keeps those in its trash, held by the entries). A slot is an
// index into known; slots below len(dests) are in the list, and slot i <
// len(dests) is dests[i].
type lbDests struct {
	dests []*vs.Dest
	known []*vs.Dest
}

// carry builds the slots for the new list cur from the old view, and
// returns the function mapping an old slot to its new one. Dests are
// matched by ID; an old dest gone from cur keeps a slot past the list.
func (v *lbDests) carry(old *lbDests, cur []*vs.Dest) func(int32) int32 {
	v.dests = cur
	v.known = append([]*vs.Dest(nil), cur...)
	byID := make(map[uint32]int32, len(cur))
	for i, d := range cur {
		byID[d.ID] = int32(i)
	}
	return func(s int32) int32 {
		d := old.known[s]
		if n, ok := byID[d.ID]; ok {
			return n
		}
		v.known = append(v.known, d)
		byID[d.ID] = int32(len(v.known) - 1)
		return int32(len(v.known) - 1)
	}
}

// inList reports whether slot s is a dest of the current list (the
// kernel's IP_VS_DEST_F_AVAILABLE: not in the trash).
func (v *lbDests) inList(s int32) bool { return int(s) < len(v.dests) }

// macReady reports whether d can be sent to as far as ulvs's MAC
// resolution goes: a direct-routed dest needs its MAC (a ulvs addition the
// kernel has no counterpart for).
func macReady(d *vs.Dest) bool {
	if d.Method != vs.Route {
		return true
	}
	_, ok := d.State.MAC()
	return ok
}

// lbLeastConn is __ip_vs_lblc_schedule and __ip_vs_lblcr_schedule: wlc over
// the whole list (skip overloaded dests; the first with a positive weight,
// replaced only when loh * dw > doh * lw), as an index into dests, -1 when
// none. Like wlc, it skips every unavailable dest, which picks the same.
func lbLeastConn(dests []*vs.Dest, oh vs.Overhead) int32 {
	least := int32(-1)
	var loh, lw int64
	for i, d := range dests {
		if !d.Available() {
			continue
		}
		doh, dw := overheadOf(oh, d), int64(d.Weight)
		if least < 0 || loh*dw > doh*lw {
			least, loh, lw = int32(i), doh, dw
		}
	}
	return least
}

// lbIsOverloaded is is_overloaded of ip_vs_lblc.c and ip_vs_lblcr.c: d has
// more active connections than its weight and some dest of the list (any,
// even one that is itself unavailable) has fewer than half its weight.
// The overload flag plays no part.
func lbIsOverloaded(d *vs.Dest, dests []*vs.Dest) bool {
	if d.State.ActiveConns.Load() <= d.Weight {
		return false
	}
	for _, o := range dests {
		if int64(o.State.ActiveConns.Load())*2 < int64(o.Weight) {
			return true
		}
	}
	return false
}
