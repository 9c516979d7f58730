package sched

import "github.com/ulvs/ulvs/vs"

// dhTabBits is CONFIG_IP_VS_DH_TAB_BITS's default: 256 buckets.
const (
	dhTabBits = 8
	dhTabSize = 1 << dhTabBits
)

// dh is destination-hashing scheduling as net/netfilter/ipvs/ip_vs_dh.c
// does it (the RCU version with ip_vs_dh_reassign as add_dest and
// del_dest hook, and hash_32; Linux 4.x to 6.x).
//
// A table of 256 buckets is filled round-robin from the dest list, newest
// first, one bucket per dest whatever its weight (ip_vs_dh_reassign), and
// a new connection goes to the bucket of hash_32 of its destination
// address (ip_vs_dh_hashkey; IPv6 addresses are folded by XOR of their
// four words first). If that dest is unavailable (weight 0 or overloaded;
// ulvs also counts a direct-routed dest whose MAC is not resolved) the
// connection gets no dest: dh has no fallback. Older kernels (2.6 to 4.x)
// hashed with (addr * 2654435761) & 255 instead of hash_32.
//
// The table is built in New and never changes; Schedule is a hash and an
// index, without locks or allocation.
type dh struct {
	buckets [dhTabSize]*vs.Dest
}

var _ vs.Scheduler = (*dh)(nil)

// newDH builds the dh table for svc. The kernel rebuilds the whole table
// from the current list on every add_dest and del_dest (it has no
// upd_dest: a weight edit changes nothing), so the table depends on the
// list alone and prev does not matter.
func newDH(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	s := &dh{}
	if n := len(svc.Dests); n > 0 {
		for i := range s.buckets {
			s.buckets[i] = svc.Dests[i%n]
		}
	}
	return s
}

// Name returns "dh".
func (s *dh) Name() string { return "dh" }

// Schedule returns the dest of flow.Dst's bucket, or nil when it is
// unavailable or the service has no dests (ip_vs_dh_schedule).
func (s *dh) Schedule(_ *vs.Service, flow vs.Flow) *vs.Dest {
	d := s.buckets[hash32(addrFold(flow.Dst), dhTabBits)]
	if d == nil || !d.Available() {
		return nil
	}
	return d
}
