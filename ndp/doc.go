// Package ndp is IPv6 neighbour discovery (RFC 4861) for the director, in
// place of ARP: recognising Neighbor Solicitations for the addresses the
// director answers for (its IPv6 VIPs) and turning them into Neighbor
// Advertisements in place, building unsolicited advertisements announced
// at start, and resolving real servers' MACs by solicitation (Conn, which
// package arp's Resolver drives like an ARP client).
//
// The director's own interface addresses are the kernel's: it answers
// solicitations for them itself, as it answers ARP for them.
//
// Duplicate address detection: a VIP is not an address of the director's
// kernel, so the kernel never runs DAD for it. A solicitation from the
// unspecified address (another host's DAD probe for the VIP) is answered
// with an advertisement to all-nodes, which makes the prober see the
// address as in use, as RFC 4862 5.4.3 has the owner of an address do.
// A VIP configured on a DR real server's loopback is never probed on the
// link (loopback does no DAD).
package ndp
