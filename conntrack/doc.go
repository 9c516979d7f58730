// Package conntrack is the director's connection table: one entry per
// client flow, remembering which real server (dest) the scheduler picked
// and where the flow stands in the kernel's IPVS TCP state machine.
//
// It is the userspace counterpart of the kernel's ip_vs_conn.c (entries,
// binding to a dest, expiry) and ip_vs_proto_tcp.c / ip_vs_proto_udp.c
// (state tables and timeouts). It is not a scheduler (package sched picks
// dests) and does not touch packets (package forward rewrites them); the
// engine calls Lookup, Insert and Step with values it decoded.
//
// # Entries and memory
//
// A Table is an open-addressing hash table (linear probing, backward-shift
// deletion) over a fixed array of Conn values allocated once by New. Conn
// is pointer-free: it names its dest by vs.Dest.ID, so the garbage collector
// never scans the table, and lookups, inserts, state steps and sweeps
// allocate nothing.
//
// # Time
//
// Time is a Tick, milliseconds from an arbitrary epoch that wraps around
// every ~49 days; the engine reads the clock once per batch and passes it in.
// There is no timer per connection: an entry found expired by Lookup is
// released at once, and Sweep walks the table a few slots per call, releasing
// what has expired. Between the two, an expired entry still counts in its
// dest's ActiveConns/InactConns, so the engine should call Sweep often
// enough to visit every slot within about a second.
//
// # Counters
//
// Insert, Step and expiry move the dest's ActiveConns and InactConns exactly
// as ip_vs_bind_dest, set_tcp_state and ip_vs_unbind_dest do: every new
// connection starts inactive (the kernel's dests carry IP_VS_CONN_F_INACTIVE
// in their conn_flags), TCP moves it to active when it enters an "active"
// state (SYN_SENT, SYN_RECV, ESTABLISHED, SYNACK) and back when it leaves,
// and UDP never changes state, which is why ipvsadm lists UDP connections
// under InActConn.
//
// # Concurrency
//
// A Table is not safe for concurrent use: each engine worker owns one, and
// flows always hash to the same worker. Dest counters are atomic and shared.
// SetTimeouts is the only method another goroutine may call.
package conntrack
