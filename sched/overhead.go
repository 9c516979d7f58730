package sched

import "github.com/ulvs/ulvs/vs"

// overhead is ip_vs_dest_conn_overhead (include/net/ip_vs.h), the load lc
// and wlc compare: an active connection counts as 256 inactive ones,
//
//	(activeconns << 8) + inactconns
//
// This is the formula of every kernel from 2.6 to the newest 6.x header
// read (the one that also declares tcp_snat_handler and udp_snat_handler,
// moved there from ip_vs_core.c); ulvs follows it. No later change to the
// formula was found in the sources available; a selectable variant, if one
// is needed, belongs here.
//
// The kernel returns an int, which wraps once activeconns reaches 2^23.
// ulvs computes in int64 and does not wrap: the two differ only beyond 8
// million active connections on one dest. Below that the result stays under
// 2^32, so wlc's cross-multiplications by an int32 weight cannot overflow
// int64 (the kernel casts its products to __s64 for the same reason).
func overhead(d *vs.Dest) int64 {
	return int64(d.State.ActiveConns.Load())<<8 + int64(d.State.InactConns.Load())
}
