package sched

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/ulvs/ulvs/vs"
)

// mh table sizes: the kernel picks one of a fixed list of primes with
// CONFIG_IP_VS_MH_TAB_INDEX (8..17, default 12: 4093). ulvs accepts any
// prime from 2 up to the largest of them.
const (
	mhDefaultTabSize = 4093
	mhMaxTabSize     = 131071
)

// mhPrimes is the kernel's primes[] list; CONFIG_IP_VS_MH_TAB_INDEX i
// selects mhPrimes[i-8].
var mhPrimes = [...]int{251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071}

// mhTabBits is IP_VS_MH_TAB_BITS, CONFIG_IP_VS_MH_TAB_INDEX / 2, for the
// kernel table size size (6 for 4093). For a prime not in the kernel's
// list, ulvs takes the index of the largest kernel prime not above it (8
// below 251).
func mhTabBits(size int) int {
	index := 8
	for i, p := range mhPrimes {
		if p <= size {
			index = i + 8
		}
	}
	return index / 2
}

// The keys of generate_hash_secret: fixed, not random, so every kernel
// builds the same table for the same dests.
var (
	mhKey1 = sipKey{2654435761, 2654435761}
	mhKey2 = sipKey{2654446892, 2654446892}
)

// mh is Maglev-hashing scheduling as net/netfilter/ipvs/ip_vs_mh.c does it
// (added in Linux 4.18; unchanged in substance to 6.x).
//
// Each dest gets a permutation of the lookup table's positions from two
// hashes of its address and port (ip_vs_mh_permutate): offset =
// h1 % size and skip = h2 % (size-1) + 1, where h1 and h2 are hsiphash
// with fixed keys of ntohs(port) + ntohl(addr). ip_vs_mh_populate then
// walks the list, newest first, round and round: each dest with turns > 0
// takes its next free preferred position, turns times in a row, until the
// table is full. turns is the dest's last non-zero weight (last_weight)
// divided by the gcd of those weights and shifted right so that the
// largest fits in IP_VS_MH_TAB_BITS bits, or 1 when that comes to 0 for a
// positive weight. A quiesced dest (weight set to 0 by an edit) keeps its
// positions: last_weight remembers its weight.
//
// A new connection goes to position hsiphash(port + addr) % size of the
// source address (and source port with mh-port, vs.SvcSchedFlag2). A dest
// of weight 0 or overloaded is unavailable (ulvs also counts a
// direct-routed dest whose MAC is not resolved): without mh-fallback the
// connection gets no dest; with it (vs.SvcSchedFlag1) ip_vs_mh_get_fallback
// rehashes with offset + ihash added to the hashed value, for offset
// 0..size-1, and takes the first available dest.
//
// The table is built in New; Schedule is one SipHash-1-3 of 4 bytes and an
// index, without locks or allocation.
type mh struct {
	lookup   []*vs.Dest // size entries; all nil when no dest has a last weight
	fallback bool       // vs.SvcSchedFlag1: mh-fallback
	port     bool       // vs.SvcSchedFlag2: mh-port
	dests    []*vs.Dest
	// lastWeight[i] is dest i's last_weight: its weight when added, and
	// every non-zero weight an edit set since.
	lastWeight []int32
}

var _ vs.Scheduler = (*mh)(nil)

// mhTableSize is svc's table size, the default when unset.
func mhTableSize(svc *vs.Service) int {
	if svc.Params.MHTableSize == 0 {
		return mhDefaultTabSize
	}
	return svc.Params.MHTableSize
}

// checkMH rejects a table size that is not a prime in 2..131071, and more
// dests than table positions (ip_vs_mh_reassign returns -EINVAL there; the
// kernel then keeps its old table, or fails to create the service).
func checkMH(svc *vs.Service) error {
	size := mhTableSize(svc)
	if size < 2 || size > mhMaxTabSize || !isPrime(size) {
		return fmt.Errorf("mh table size %d is not a prime in 2..%d", size, mhMaxTabSize)
	}
	if len(svc.Dests) > size {
		return errors.New("mh: more dests than lookup table positions")
	}
	return nil
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for p := 2; p*p <= n; p++ {
		if n%p == 0 {
			return false
		}
	}
	return true
}

// newMH builds the mh table for svc. The kernel rebuilds the whole table
// on every add_dest, upd_dest and del_dest from the current list and the
// dests' last_weight, so only last_weight needs prev: a dest that stayed
// keeps its last_weight when its weight is now 0. A dest added (or taken
// back from the trash) starts from its weight, as __ip_vs_update_dest sets
// it. When prev is another scheduler (ipvsadm -E -s mh) ulvs does not know
// the dests' history and takes their current weights: a dest quiesced
// before the switch gets no positions, where the kernel would give it
// those of its old weight.
func newMH(svc *vs.Service, prev vs.Scheduler) vs.Scheduler {
	s := &mh{
		fallback:   svc.Flags&vs.SvcSchedFlag1 != 0,
		port:       svc.Flags&vs.SvcSchedFlag2 != 0,
		dests:      svc.Dests,
		lastWeight: make([]int32, len(svc.Dests)),
	}
	for i, d := range svc.Dests {
		s.lastWeight[i] = d.Weight
	}
	if p, ok := prev.(*mh); ok && p != nil {
		dd := diffDests(p.dests, svc.Dests)
		for i := dd.stayFrom; i < len(svc.Dests); i++ {
			if svc.Dests[i].Weight == 0 {
				s.lastWeight[i] = p.lastWeight[dd.oldOf[i]]
			}
		}
	}
	s.lookup = mhPopulate(svc.Dests, s.lastWeight, mhTableSize(svc))
	return s
}

// mhHash is ip_vs_mh_hashkey with its result already reduced: hsiphash of
// offset + port + addr, modulo size.
func mhHash(key sipKey, fold uint32, port uint16, offset uint32, size uint32) uint32 {
	return hsipHash1u32(key, offset+uint32(port)+fold) % size
}

// mhPopulate is ip_vs_mh_gcd_weight, ip_vs_mh_shift_weight,
// ip_vs_mh_permutate and ip_vs_mh_populate: the lookup table for dests
// with the given last weights. Control plane; it allocates.
func mhPopulate(dests []*vs.Dest, lastWeight []int32, size int) []*vs.Dest {
	lookup := make([]*vs.Dest, size)
	g, maxW := 0, 0
	for _, w := range lastWeight {
		if w > 0 {
			if g > 0 {
				g = gcd(int(w), g)
			} else {
				g = int(w)
			}
		}
		if int(w) > maxW {
			maxW = int(w)
		}
	}
	if g < 1 { // no positive last weight: an empty table
		return lookup
	}
	rshift := bits.Len(uint(maxW/g)) - mhTabBits(size) // fls(mw) - IP_VS_MH_TAB_BITS
	if rshift < 0 {
		rshift = 0
	}
	type setup struct {
		perm, skip uint32
		turns      int
	}
	ds := make([]setup, len(dests))
	for i, d := range dests {
		fold := addrFold(d.Addr)
		offset := mhHash(mhKey1, fold, d.Port, 0, uint32(size))
		ds[i] = setup{
			perm: offset,
			skip: mhHash(mhKey2, fold, d.Port, 0, uint32(size-1)) + 1,
		}
		lw := int(lastWeight[i])
		if t := (lw / g) >> rshift; t != 0 {
			ds[i].turns = t
		} else if lw != 0 {
			ds[i].turns = 1
		}
	}
	taken := make([]bool, size)
	n, count := 0, 0
	for {
		for i := 0; i < len(dests); {
			if ds[i].turns < 1 { // a dest added with weight 0
				i++
				continue
			}
			c := ds[i].perm
			for taken[c] {
				ds[i].perm += ds[i].skip
				if ds[i].perm >= uint32(size) {
					ds[i].perm -= uint32(size)
				}
				c = ds[i].perm
			}
			taken[c] = true
			lookup[c] = dests[i]
			if n++; n == size {
				return lookup
			}
			if count++; count >= ds[i].turns {
				count = 0
				i++
			}
		}
	}
}

// Name returns "mh".
func (s *mh) Name() string { return "mh" }

// Schedule returns the dest at flow.Src's position (with flow.SrcPort under
// mh-port), or with mh-fallback the first available dest of the kernel's
// rehash walk; nil when there is none (ip_vs_mh_schedule).
func (s *mh) Schedule(_ *vs.Service, flow vs.Flow) *vs.Dest {
	var port uint16
	if s.port {
		port = flowPort(&flow)
	}
	size := uint32(len(s.lookup))
	fold := addrFold(flow.Src)
	ihash := mhHash(mhKey1, fold, port, 0, size)
	d := s.lookup[ihash]
	if d == nil {
		return nil
	}
	if d.Available() {
		return d
	}
	if !s.fallback {
		return nil
	}
	for offset := range size {
		roffset := (offset + ihash) % size
		d = s.lookup[mhHash(mhKey1, fold, port, roffset, size)]
		if d == nil {
			return nil
		}
		if d.Available() {
			return d
		}
	}
	return nil
}
