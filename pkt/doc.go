// Package pkt holds the packet header views, the frame decoder and the
// Internet checksum helpers of the ulvs data path.
//
// # Views
//
// Ether, ARP, IPv4, TCP, UDP and ICMPv4 are []byte types with accessors and
// setters at named offsets, in the style of gvisor's pkg/tcpip/header. A
// view aliases the frame it was sliced from: setters write into that frame,
// and a view is valid only as long as the caller keeps the frame (for a
// ring-buffer frame, until the slot is handed back to the kernel). Nothing
// in this package copies or retains a frame.
//
// Accessors at fixed offsets need the fixed part of the header to be present
// (EtherHeaderLen, ARPLen, IPv4MinHeaderLen, TCPMinHeaderLen, UDPHeaderLen,
// ICMPv4HeaderLen bytes); calling them on a shorter slice is a programmer
// error and panics like any out-of-range slice index. Parsed.Decode checks
// those lengths, so views taken at the offsets it reports are safe.
// Accessors that follow a length field from the packet (IPv4.Payload,
// TCP.Payload, ...) clamp it to the slice and never panic.
//
// # Decoding
//
// Parsed.Decode validates one Ethernet frame (802.1Q and QinQ tags, ARP,
// IPv4 with options and fragments, TCP, UDP, ICMP) and fills a flat Parsed
// value with offsets into the frame, addresses, ports and flags, the way
// tailscale's net/packet does. A malformed frame yields a DecodeResult
// reason, never a panic or an error value; callers count the reasons in an
// array indexed by DecodeResult (NumDecodeResults entries).
//
// # Checksums
//
// Sum, Fold and Checksum implement the Internet checksum (RFC 1071);
// Update16/Update32 adjust a checksum field after a rewrite (RFC 1624,
// equation 3), and UpdatePartial16/UpdatePartial32 adjust the
// pseudo-header sum that a CHECKSUM_PARTIAL (virtio_net_hdr NEEDS_CSUM)
// frame carries in its checksum field.
//
// # Allocation and concurrency
//
// Per-packet functions (all view methods, Decode, the checksum helpers)
// never allocate; tests assert testing.AllocsPerRun == 0. No function
// keeps state between calls. A Parsed value belongs to one goroutine; views
// over distinct frames may be used concurrently.
//
// pkt imports only the standard library and no other ulvs package; every
// data-path package may import it.
package pkt
