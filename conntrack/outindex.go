package conntrack

// outIndex maps the reply keys of NAT and FULLNAT connections to their
// connection keys: an open-addressing table like Table's own (linear
// probing, backward-shift deletion) over an array allocated once, so the
// index never grows, whatever the churn. (A Go map sized for the table
// grew by half its size again under insert/delete churn: measured in
// TestBoundedMemory.) It holds at most as many entries as the table has
// live connections, at most three quarters of its slots, so every probe
// sequence ends at a free slot.
type outIndex struct {
	e    []outEntry
	ring probeRing
	seed uint64
	n    int
}

// outEntry is one reply key and its connection key; out.Proto 0 marks a
// free slot (a connection's protocol is never 0).
type outEntry struct {
	out, in Key
}

func newOutIndex(size int, seed uint64) *outIndex {
	return &outIndex{e: make([]outEntry, size), ring: probeRing{n: uint32(size)}, seed: seed ^ wyp1}
}

func (x *outIndex) home(k *Key) uint32 { return x.ring.home(hashKey(x.seed, k)) }

// get returns the connection key of reply key out.
func (x *outIndex) get(out Key) (Key, bool) {
	for i := x.home(&out); ; i = x.ring.next(i) {
		e := &x.e[i]
		if e.out.Proto == 0 {
			return Key{}, false
		}
		if e.out == out {
			return e.in, true
		}
	}
}

// put adds out -> in; false if out is already there (nothing changes).
func (x *outIndex) put(out, in Key) bool {
	i := x.home(&out)
	for ; x.e[i].out.Proto != 0; i = x.ring.next(i) {
		if x.e[i].out == out {
			return false
		}
	}
	x.e[i] = outEntry{out: out, in: in}
	x.n++
	return true
}

// del removes out, closing the gap as Table.removeAt does.
func (x *outIndex) del(out Key) {
	i := x.home(&out)
	for {
		e := &x.e[i]
		if e.out.Proto == 0 {
			return
		}
		if e.out == out {
			break
		}
		i = x.ring.next(i)
	}
	x.n--
	j := i
	for {
		j = x.ring.next(j)
		e := &x.e[j]
		if e.out.Proto == 0 {
			break
		}
		if x.ring.dist(x.home(&e.out), j) >= x.ring.dist(i, j) {
			x.e[i] = *e
			i = j
		}
	}
	x.e[i] = outEntry{}
}
