// Package synproxy is the director's SYN proxy, as DPVS has it
// (src/ipvs/ip_vs_synproxy.c) and Linux's SYNPROXY target and syncookies
// (net/ipv4/syncookies.c, net/netfilter/nf_synproxy_core.c) inspire it: the
// pieces the engine needs to answer a client's SYN itself, keep no state
// until the client's ACK proves its address, and then join the client's
// connection to one it opens to the real server.
//
//   - Cookies makes and checks SYN cookies: keyed (SipHash-2-4 with a
//     random key), time-sliced (a counter every 65.5 s in the top 8 bits,
//     accepted for two slices), with the client's MSS (as an index into a
//     table of four), window scale, SACK-permitted and timestamp flags in
//     the low 24 bits, whose unused bits must come back zero.
//   - ParseOptions reads the options of a SYN, SynAckOptions and
//     SynOptions write those of the proxy's SYN-ACK and of its SYN to the
//     real server, Build writes a whole IPv4/TCP segment.
//   - For IPv6 (cookie6.go): Make6 and Check6 hash the 128-bit addresses
//     and keep the MSS in Linux's IPv6 table, Build6 writes an IPv6/TCP
//     segment.
//   - Conn is a proxied connection's state, kept in the connection table
//     entry; ToServer and ToClient translate every later segment in place:
//     sequence and acknowledgment numbers by the difference of the two
//     initial sequence numbers, SACK blocks, timestamps, and the window
//     when the two sides scale it differently, with the TCP checksum
//     updated incrementally (or left alone while the device completes
//     it).
//
// It imports pkt only and allocates nothing per packet.
package synproxy
