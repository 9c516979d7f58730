// Package arp answers ARP for the director's virtual addresses and keeps the
// link-layer addresses of real servers resolved.
//
// # Data path
//
// The engine hands every received ARP frame to [IsRequestFor]. When it
// reports a who-has request for an address the director owns (a VIP; the
// engine decides that, this package holds no table), [MakeReply] turns the
// same buffer into the answer in place and the engine transmits it. Neither
// function allocates, stores the frame or calls a func value, so both are safe
// to call from any number of workers at once, each on its own buffer.
//
// [Gratuitous] builds the announcement the engine sends when it starts and
// when a VIP is added, so that clients drop entries that point elsewhere or
// that failed while the director was down.
//
// # Control plane
//
// A [Resolver] keeps the MAC addresses of a set of IPv4 real servers fresh
// on one interface (DR and NAT forward to them by MAC). One goroutine, [Resolver.Run],
// sends every ARP request, so the underlying client is never used
// concurrently. [ReadNeighbours] reads the kernel's neighbour table for a
// fast first answer.
//
// # Network namespaces
//
// Sockets stay in the namespace of the thread that opened them, and
// /proc/thread-self/net shows the namespace of the calling thread. The
// daemon therefore calls [NewResolver] (which dials the ARP socket and reads
// the neighbour table synchronously) on a locked OS thread that has joined
// the director's namespace; Run may then be called from any goroutine.
//
// # What it is not
//
// Not a general ARP implementation: it does not answer for the director's
// own interface addresses (the kernel does), keeps no cache of clients, and
// speaks only Ethernet and IPv4. IPv6 neighbour discovery is elsewhere.
package arp
