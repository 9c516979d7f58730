package sched

import "github.com/ulvs/ulvs/vs"

// shTabBits is CONFIG_IP_VS_SH_TAB_BITS's default: 256 buckets.
const (
	shTabBits = 8
	shTabSize = 1 << shTabBits
	shTabMask = shTabSize - 1
)

// sh is source-hashing scheduling as net/netfilter/ipvs/ip_vs_sh.c does it
// (the version with weights, the sh-fallback and sh-port flags and
// hash_32; Linux 4.x to 6.x).
//
// A table of 256 buckets is filled from the dest list, newest first, each
// dest taking as many consecutive buckets as its weight (at least one,
// even at weight 0), wrapping round the list until all 256 are filled
// (ip_vs_sh_reassign). A new connection goes to bucket
//
//	hash_32(port + addr, 8)
//
// where addr is the folded source address and port is the source port with
// the sh-port flag (vs.SvcSchedFlag2), else 0 (ip_vs_sh_hashkey). A dest of
// weight 0 or overloaded is unavailable (ulvs also counts a direct-routed
// dest whose MAC is not resolved):
//
//   - without sh-fallback the connection gets no dest (ip_vs_sh_get);
//   - with sh-fallback (vs.SvcSchedFlag1), ip_vs_sh_get_fallback tries,
//     for offset 0..255, bucket (offset + ihash + hash) & 255 where ihash
//     is the first bucket, that is (offset + 2*ihash) & 255, and takes the
//     first available dest; an empty bucket ends the search.
//
// Older kernels (before hash_32) used (port + addr) * 2654435761 & 255.
//
// The table is built in New and never changes; Schedule is a hash and an
// index (a walk of at most 256 buckets with sh-fallback), without locks or
// allocation.
type sh struct {
	buckets  [shTabSize]*vs.Dest
	fallback bool // vs.SvcSchedFlag1: sh-fallback
	port     bool // vs.SvcSchedFlag2: sh-port
}

var _ vs.Scheduler = (*sh)(nil)

// newSH builds the sh table for svc. The kernel rebuilds the whole table
// from the current list and weights on every add_dest, upd_dest and
// del_dest, so the table depends on the list alone and prev does not
// matter.
func newSH(svc *vs.Service, _ vs.Scheduler) vs.Scheduler {
	s := &sh{
		fallback: svc.Flags&vs.SvcSchedFlag1 != 0,
		port:     svc.Flags&vs.SvcSchedFlag2 != 0,
	}
	shReassign(&s.buckets, svc.Dests)
	return s
}

// shReassign is ip_vs_sh_reassign: walk the list round, giving each dest
// max(weight, 1) consecutive buckets.
func shReassign(b *[shTabSize]*vs.Dest, dests []*vs.Dest) {
	if len(dests) == 0 {
		return
	}
	p, count := 0, 0
	for i := range b {
		d := dests[p]
		b[i] = d
		count++
		if count >= int(d.Weight) {
			p = (p + 1) % len(dests)
			count = 0
		}
	}
}

// Name returns "sh".
func (s *sh) Name() string { return "sh" }

// shHash is ip_vs_sh_hashkey.
func shHash(fold uint32, port uint16, offset uint32) uint32 {
	return (offset + hash32(uint32(port)+fold, shTabBits)) & shTabMask
}

// Schedule returns the dest of flow.Src's bucket (with flow.SrcPort under
// sh-port), or with sh-fallback the first available dest of the
// kernel's search; nil when there is none (ip_vs_sh_schedule).
func (s *sh) Schedule(_ *vs.Service, flow vs.Flow) *vs.Dest {
	var port uint16
	if s.port {
		port = flowPort(&flow)
	}
	fold := addrFold(flow.Src)
	ihash := shHash(fold, port, 0)
	d := s.buckets[ihash]
	if d == nil {
		return nil
	}
	if d.Available() {
		return d
	}
	if !s.fallback {
		return nil
	}
	for offset := range uint32(shTabSize) {
		roffset := (offset + ihash) % shTabSize
		d = s.buckets[shHash(fold, port, roffset)]
		if d == nil {
			return nil
		}
		if d.Available() {
			return d
		}
	}
	return nil
}
