package conntrack

// outIndex maps the reply keys of NAT and FULLNAT connections to their
// side entries (side.go), which hold the keys and the numbers of the
// connections' slots: an open-addressing table like Table's own (linear
// probing, backward-shift deletion) over an array allocated once, so the
// index never grows, whatever the churn. (A Go map sized for the table
// grew by half its size again under insert/delete churn: measured in
// TestBoundedMemory.) An entry is 8 bytes: the low 32 bits of the reply
// key's hash, which give its home slot and filter the probe, and the side
// entry's number. It holds at most as many entries as the table has live
// connections, at most three quarters of its slots, so every probe
// sequence ends at a free slot.
type outIndex struct {
	e    []outEntry
	ring probeRing
	seed uint64
	n    int
}

// outEntry is one reply key's hash and side entry; side 0 marks a free
// slot.
type outEntry struct {
	h, side uint32
}

func newOutIndex(size int, seed uint64) *outIndex {
	return &outIndex{e: make([]outEntry, size), ring: probeRing{n: uint32(size)}, seed: seed ^ wyp1}
}

// hash is the hash of reply key k that the index keeps.
func (x *outIndex) hash(k *Key) uint32 { return uint32(hashKey(x.seed, k)) }

// put adds side entry side, whose reply key hashes to h. The caller
// checked that the key is not there yet.
func (x *outIndex) put(h, side uint32) {
	i := x.ring.home(uint64(h))
	for x.e[i].side != 0 {
		i = x.ring.next(i)
	}
	x.e[i] = outEntry{h: h, side: side}
	x.n++
}

// del removes side entry side, whose reply key is out, closing the gap
// as Table.removeAt does.
func (x *outIndex) del(out Key, side uint32) {
	i := x.ring.home(uint64(x.hash(&out)))
	for {
		e := &x.e[i]
		if e.side == 0 {
			return
		}
		if e.side == side {
			break
		}
		i = x.ring.next(i)
	}
	x.n--
	j := i
	for {
		j = x.ring.next(j)
		e := &x.e[j]
		if e.side == 0 {
			break
		}
		if x.ring.dist(x.ring.home(uint64(e.h)), j) >= x.ring.dist(i, j) {
			x.e[i] = *e
			i = j
		}
	}
	x.e[i] = outEntry{}
}

// findOut returns the live connection whose reply key is out, which
// hashes to h in t.out.
func (t *Table) findOut(out *Key, h uint32) (*Conn, bool) {
	x := t.out
	for i := x.ring.home(uint64(h)); ; i = x.ring.next(i) {
		e := &x.e[i]
		if e.side == 0 {
			return nil, false
		}
		if e.h != h {
			continue
		}
		if slot, ok := t.sides.match(e.side, out); ok {
			if c := &t.slots[slot]; c.Key.Proto == out.Proto {
				return c, true
			}
		}
	}
}
