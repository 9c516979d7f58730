// Package trace is what `ulvs trace` shows: the director's decision for
// one packet (or one health-check or failover change of the table) as an
// Event, its one-line text form, and the FILTER language that selects
// events (tcpdump's common primitives, or ipvsadm's -t/-u/-r). The engine
// fills Events from its per-worker trace rings (engine/trace.go); the
// director filters them and streams them over the control socket.
package trace
