// Package forward rewrites frames in place for the LVS forwarding methods
// and builds the director's own answers (ICMP echo replies to a VIP).
//
// Functions take a frame that pkt.Parsed.Decode accepted, change it in
// place and never allocate. They do not look up connections or schedule:
// the engine calls them with the dest it already chose.
//
// Direct routing follows ip_vs_dr_xmit (net/netfilter/ipvs/ip_vs_xmit.c):
// DR changes only the link-layer addresses. Like every method it passes
// through __ip_vs_get_out_rt, whose decrement_ttl spends one hop: the
// engine does that (pkt.IPv4.DecTTL) before calling any rewrite here.
//
// # NAT and FULLNAT
//
// DNAT and SNAT rewrite one end of a TCP or UDP packet with incremental
// checksums (RFC 1624), as ip_vs_nat_xmit and the protocols' dnat/snat
// handlers do, including frames whose L4 checksum is still pending
// (CHECKSUM_PARTIAL, Offload.NeedsCsum). NAT uses DNAT inbound and SNAT
// outbound; FULLNAT uses both in each direction. ICMP errors about a
// connection are found with ParseICMPError and translated, outer and
// quoted headers both, with NATICMP or NATICMPFull (ip_vs_nat_icmp).
//
// # TUN
//
// EncapIPIP prepends the outer IPv4 header of ip_vs_tunnel_xmit in the
// frame's headroom. NeedsFragNeeded and FragNeeded answer DF packets that
// no longer fit (the tunnel takes IPIPOverhead bytes of the MTU);
// FragmentIPv4 splits the others; Segment turns GSO super-frames, which a
// virtio_net_hdr cannot describe once tunnelled, into ordinary frames
// first. PortUnreachable is the kernel's answer when no real server is
// available (ip_vs_leave). EncapIn6 (ip6ip6, IPv4 in IPv6) and Encap6In4
// (IPv6 in IPv4) are ip_vs_tunnel_xmit_v6's and the mixed families'
// headers (tun6.go); ParseTunnelTooBig6/4 read a router's error about
// one of those packets.
//
// # Ownership
//
// Views and offsets alias the frame the caller passes; nothing is kept
// after a call returns. Functions that produce new frames write into
// buffers the caller provides (ICMP builders: one buffer, grown only if
// its capacity is short; Segment and FragmentIPv4: a batch of buffers
// with an offset for headroom) and allocate nothing when those suffice.
// No function keeps state; concurrent calls on distinct frames are safe.
package forward
