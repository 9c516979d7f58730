// Package forward rewrites frames in place for the LVS forwarding methods
// and builds the director's own answers (ICMP echo replies to a VIP).
//
// Functions take a frame that pkt.Parsed.Decode accepted, change it in
// place and never allocate. They do not look up connections or schedule:
// the engine calls them with the dest it already chose.
//
// Direct routing follows ip_vs_dr_xmit (net/netfilter/ipvs/ip_vs_xmit.c):
// only the link-layer destination changes; the IP header, TTL included,
// is left as the client sent it.
package forward
