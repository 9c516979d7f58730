package sched

import "github.com/ulvs/ulvs/vs"

// overhead is ip_vs_dest_conn_overhead (include/net/ip_vs.h), the load lc,
// wlc, lblc, lblcr and twos compare, in its classic form: an active
// connection counts as 256 inactive ones,
//
//	(activeconns << 8) + inactconns
//
// This is the formula of every kernel header read, from 2.6 to the newest
// 6.x ones (the header that also declares tcp_snat_handler and
// udp_snat_handler, and the 6.16-era tree whose timers use
// timer_container_of). No kernel version with another formula was found in
// the sources available; see overheadOf for the selectable variant.
//
// The kernel returns an int, which wraps once activeconns reaches 2^23.
// ulvs computes in int64 and does not wrap: the two differ only beyond 8
// million active connections on one dest. Below that the result stays under
// 2^32, so wlc's cross-multiplications by an int32 weight cannot overflow
// int64 (the kernel casts its products to __s64 for the same reason).
func overhead(d *vs.Dest) int64 {
	return int64(d.State.ActiveConns.Load())<<8 + int64(d.State.InactConns.Load())
}

// overheadOf is the overhead formula the service chose
// (vs.SchedParams.Overhead):
//
//   - vs.OverheadClassic (the zero value): overhead, the kernel's
//     (activeconns << 8) + inactconns.
//   - vs.OverheadTotal: (activeconns << 8) + activeconns + inactconns,
//     that is 257 per active and 1 per inactive connection: every
//     connection, active or not, counts once more on top of the classic
//     weighting, so between two dests of equal active load the one with
//     fewer connections in total wins by one more unit per active
//     connection. This is the variant vs.Overhead defines; it is not the
//     formula of any kernel release found (every header read has the
//     classic one), so a service that wants kernel picks keeps the zero
//     value.
//
// New rejects any other value, so the default branch is unreachable.
func overheadOf(kind vs.Overhead, d *vs.Dest) int64 {
	if kind == vs.OverheadTotal {
		a := int64(d.State.ActiveConns.Load())
		return a<<8 + a + int64(d.State.InactConns.Load())
	}
	return overhead(d)
}
