// Package bgp announces virtual addresses to routers over BGP, with GoBGP
// (github.com/osrg/gobgp/v4) as the speaker: a Speaker holds eBGP sessions
// with the configured peers and announces exactly the host prefixes (IPv4
// /32, IPv6 /128 over MP-BGP) it is last given (SetAnnounced), withdrawing
// the others; Reconfigure applies a reloaded [bgp].
//
// It decides nothing: which addresses to announce (quorum, drain,
// shutdown) is the director's business (director/bgp.go), so that the
// decision can be tested without sessions. Nothing here touches the data
// path. A Speaker is safe for concurrent use. See docs/scale-out.md.
package bgp
