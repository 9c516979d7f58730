// Package vs is the runtime model of a virtual server that the data path
// shares: Service, Dest, the forwarding Method, live per-dest counters and
// the immutable Table snapshot the engine reads.
//
// The control plane builds a new Table for every configuration change and
// hands it to the engine, which swaps it with an atomic pointer that workers
// load once per batch. A Table and everything it points to is immutable once
// published, except the live counters (DestState, ServiceStats), which are
// atomics shared by every Table that holds the same dest or service, so
// counters survive a reload. Scheduler state is owned by the Scheduler value
// and guarded by it.
//
// vs imports nothing else from ulvs; it is what sched, conntrack, forward,
// arp and engine agree on.
package vs
