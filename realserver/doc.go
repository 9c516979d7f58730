// Package realserver prepares a host as an LVS real server for the DR and
// TUN forwarding methods (and NAT: the director as default gateway), and
// undoes exactly what it did.
//
// Config also carries the LVS configure script's real-server settings
// (lvs_dr.conf's SERVER_VIP_DEVICE, SERVER_NET_DEVICE, SERVER_GW): the VIP
// on another device than lo (an alias such as lo:0 becomes an address
// label; a missing dummyN is created), the ARP sysctls on the devices
// named, and the default route, whose previous value Down restores.
//
// The seeds' realserver.sh does the same with ifconfig and echo into
// /proc/sys: the VIP/32 on lo, arp_ignore=1 and arp_announce=2 (so the real
// server neither answers nor announces ARP for the VIP), and for TUN the VIP
// on the kernel's IPIP device tunl0 with rp_filter=0. ulvs goes beyond LVS
// here: on kernels without the ipip module (the hosts ulvs targets often
// lack it) Up runs a userspace IPIP decapsulator instead:
//
//	interface --AF_PACKET (BPF: IPv4 or IPv6 with protocol 4 or 41,
//	           PACKET_VNET_HDR)--> decap
//	   check the outer header (IPv4 or IPv6, protocol / next header 4 or
//	   41, to a local address), strip it, check the inner header (IPv4 for
//	   4, IPv6 for 41, to a configured VIP), move the virtio_net_hdr's
//	   csum_start back by the stripped length
//	--write--> TUN device (IFF_TUN|IFF_NO_PI|IFF_VNET_HDR) holding VIP/32
//	           and IPv6 VIP/128
//	   --> the kernel delivers the inner packet locally; replies leave the
//	       host normally, from the VIP straight to the client.
//
// It takes every tunnel the director sends (issue #17): IPIP, IPv6 in
// IPv4, ip6ip6 and IPv4 in IPv6 (the kernel's ip_vs_tunnel_xmit(_v6) with
// a real server of either family). Because the kernel has no handler for
// protocols 4 and 41 it would answer every captured tunnel packet with
// ICMP protocol-unreachable (ICMPv6 parameter problem); nftables tables
// (ip and ip6 ulvs_decap) drop them in the input hook. Reverse-path
// filtering would drop the inner packets (they arrive on the TUN device
// from a client routed via another interface), so the TUN device gets
// rp_filter=2 (loose); the kernel applies max(all, device), so loose mode
// holds whatever conf/all says, and conf/all is left alone.
//
// Where the kernel takes a tcx program (6.6 and later), Up with Decap auto
// or tcx also attaches an eBPF program at the interface's tcx ingress
// (tcxdecap_linux.go, package tcx) that takes the common case in the
// kernel: IPIP to an IPv4 VIP, to this host, with a 20-byte outer header,
// a valid checksum, no fragment and no GSO. It strips the outer header
// (bpf_skb_adjust_room) in the softirq that received the frame, and the
// stack delivers the inner packet, to a VIP held on the TUN device, as
// tunl0 would: no copy to user space, no write, no wake-up. The capture
// sockets are then bound to IPv4 and IPv6 instead of every protocol, which
// puts them after the tcx hook: they see only what the program left, and
// the decapsulator above takes it as before. The program is attached
// holding a stand-in that leaves every frame alone and set to work once
// the VIPs are up; holding (ulvs bench) puts the stand-in back; closing
// the link, when the process ends, removes it. The inner packets arrive
// on the capture interface, whose strict reverse-path filtering, if set,
// Up makes loose (recorded, undone by Down). Differences from tunl0 that
// the userspace decapsulator shares: the outer header never meets
// netfilter (an INPUT rule on protocol 4 does not see it; the inner
// packet does meet INPUT), and an outer ECN mark is not copied inward
// (RFC 6040). On a bridge or bond port the capture sockets, bound to a
// protocol, see nothing (the port's handler takes the frames first): give
// the bridge or bond itself as the interface, or use --decap user.
//
// Checksum offload: captured frames are often CHECKSUM_PARTIAL or GSO
// super-frames (veth, virtio). The capture socket uses PACKET_VNET_HDR and
// the TUN device IFF_VNET_HDR, so the virtio_net_hdr travels with the inner
// packet: csum_start and hdr_len move back by the stripped link and outer
// header lengths and the kernel finishes the checksum or segments as usual.
// Completing checksums in software would work for CHECKSUM_PARTIAL but not
// for GSO frames, which would need a software segmenter; passing the header
// on handles both without touching the payload.
//
// # State
//
// Up records every change it makes (each address it added, each sysctl's
// old and new value, the links, the nftables table, the TUN device and the
// process running the decapsulator) in a JSON state file,
// /run/ulvs/realserver/NAME.json, written after each step. Down, from this
// or another process, reads it and reverts the changes in reverse order:
// it removes only what Up added and restores a sysctl only while it still
// holds the value Up wrote. Down without a state file does nothing.
//
// # Namespaces and threads
//
// Up, Down and Status act on the network namespace of the calling OS
// thread: a process started with `ip netns exec`, or a goroutine locked to
// a thread that called setns. Sockets and devices Up opens keep that
// namespace; the decapsulator goroutine uses only those.
//
// # Concurrency
//
// A Server's methods are safe for concurrent use. Functions of this
// package may run concurrently for different state names.
package realserver
