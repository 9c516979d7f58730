// Package vrrp is VRRP for ulvs: versions 2 (RFC 3768) and 3 (RFC 5798,
// over IPv4 and IPv6) on the wire as keepalived 2.2.7 speaks them, the state machine
// of one keepalived vrrp_instance, and a Linux raw-socket transport.
//
// It is not an address manager: ulvs owns its VIPs in user space, so the
// director runs one Router per instance and turns its transitions into
// "this VIP is active" (answer ARP, forward) or not, and its GARP events
// into gratuitous ARPs through the arp package. This package imports no
// other control-plane package (engine, director, config): it takes an
// Instance and reports through callbacks.
//
// # Wire
//
// Advert.Append encodes, Parse decodes (fixed header, version 2 or 3,
// length exactly 8 + 4*count (+8 authentication bytes in v2), Ethernet
// padding tolerated as keepalived tolerates it). Checksums: v2 over the
// VRRP message, v3 with the IPv4 pseudo-header (source, destination,
// protocol 112, length), as keepalived computes them (not its unicast
// "checksum compatibility" variant). ParseIPv4 reads the raw socket's IPv4
// header. An Instance with IPv6 set runs VRRPv3 over IPv6: Parse6 reads
// 16-byte addresses, the v3 checksum takes the IPv6 pseudo-header, adverts
// go to ff02::12 (MulticastGroup6) from the interface's link-local
// address, and the transport (transport6_linux.go) rebuilds a fixed IPv6
// header from what the raw IPv6 socket reports, which ParseIPv6 reads.
// Nothing panics on input; every refusal is a *PacketError with a
// Reason.
//
// # Receive rules
//
// Router.receive applies RFC 3768/5798 section 7.1 in the order of
// keepalived's vrrp_check_packet, each failure counted per Reason
// (Status().Counters.Errors) and logged once until the next state change
// (keepalived's rate-limited log lines, same wording): VRID not ours
// ("Unknown VRID(52) received on interface(eth0) from ..."), length, TTL
// != 255 (multicast only; the socket's IP_RECVTTL value wins over the
// header), version, v2 auth type invalid or not ours, v2 password, v2
// advert interval (dropped; v3 only logs it and adopts the master's),
// type, checksum, multicast received in unicast mode or the reverse,
// unicast source not in unicast_peer (check_unicast_src). An address count
// or list that differs from ours is logged and counted but the advert is
// still used, as keepalived does.
//
// # Timers (RFC 5798 section 6.1, keepalived's VRRP_TIMER_SKEW)
//
//	Skew_Time            v2: (256 - priority) / 256 s
//	                     v3: (256 - priority) * Master_Adver_Interval / 256
//	Master_Down_Interval 3 * Master_Adver_Interval + Skew_Time
//
// The priority is the effective one. A v3 backup adopts the interval of
// the master's adverts. A backup started with state MASTER (and a priority
// below 255) waits one advert interval plus the minimum skew instead of
// the down interval, as keepalived does; priority 255 (the address owner)
// is master at once. A priority-0 advert sets the backup's timer to
// Skew_Time. Preemption: a backup discards adverts of lower priority than
// its own, so its down timer runs out and it takes over (nopreempt accepts
// them; preempt_delay accepts them until the delay, started by the first
// such advert, has passed). Equal priorities: the higher primary address
// wins. A master that receives a lower-priority advert answers with one of
// its own at once; a priority-0 advert from another router is also
// answered at once.
//
// GARP: on becoming master, Repeat ARPs per address now, Repeat again
// after garp_master_delay (default 5 s), and RefreshRepeat every
// garp_master_refresh after that (default never), as keepalived's
// vrrp_state_become_master schedules them. The Router computes the
// schedule; OnGARP sends.
//
// Measured against keepalived 2.2.7 in namespaces (TestIntegration
// VRRPKeepalived, adverts 1 s for v2 and 0.5 s for v3; the RFC value in
// brackets): keepalived takes over 3.61 s [3.609] (v2) and 1.81 s [1.805]
// (v3) after ulvs's last advert when ulvs is killed, 0.62 s [0.609] and
// 0.32 s [0.305] after ulvs stops (priority 0); ulvs takes over 3.81 s
// [3.805] and 1.91 s [1.902] after keepalived's last advert when keepalived
// is killed with SIGKILL, 0.81 s [0.805] and 0.43-0.48 s [0.402] after
// keepalived's SIGTERM; each side preempts the other after its own down
// interval (3.42 s / 1.71 s for ulvs at priority 150).
//
// # Tracking and notify
//
// track_interface and track_script (vrrp_script: interval, timeout,
// weight, fall, rise) are inputs: SetInterfaceUp and ScriptResult (or
// RunScripts with ExecScript). A weight of 0 puts the instance in FAULT
// while the interface is down or the script bad (a weight-0 script that
// has not run yet also holds it in FAULT); a positive weight is added
// while up/good, a negative one subtracted while down/bad; the effective
// priority stays within 1..254 and an owner (255) cannot have weights.
// Script hysteresis is keepalived's counter: it starts at rise-1 (one
// result decides), then fall failures in a row make it bad and rise
// successes good. The instance's own interface going down means FAULT.
// A master entering FAULT sends a priority-0 advert first; leaving FAULT
// enters BACKUP with a full down timer (the address owner goes straight
// to MASTER, as keepalived's try_up_instance does).
//
// Each transition runs notify_master/backup/fault/stop (no arguments) and
// notify with "INSTANCE" NAME STATE PRIORITY appended, like keepalived,
// through Config.RunNotify (default: os/exec, not waited for).
//
// # Transport
//
// Listen opens keepalived's pair of raw IPv4 sockets for protocol 112 on
// the interface (SO_BINDTODEVICE): one bound to the source (the
// interface's first IPv4 address, or unicast_src_ip) sending with TTL 255
// (IP_TTL, IP_MULTICAST_TTL), TOS 0xc0, IP_MULTICAST_IF and loop off; one
// joined to 224.0.0.18 on the interface with IP_RECVTTL. Network
// namespaces: setns affects one OS thread, so TransportConfig.InNamespace
// runs the opening (interface lookup included) on a thread inside the
// namespace (e.g. lab.NS.Do); the sockets stay there. When unicast_src_ip
// is set, pass it as both Instance.UnicastSrc and TransportConfig.Source
// (the v3 checksum covers the source). Over IPv6 unicast works as over
// IPv4 (keepalived's vrrp_send_pkt with a peer): the adverts go from
// unicast_src_ip (default: the interface's link-local address, as
// keepalived's set_vrrp_src_addr picks it) to each unicast_peer, global or
// link-local (sent out of the interface), hop limit 255, traffic class
// 0xc0, the checksum over the IPv6 pseudo-header with the peer as
// destination; the receiver skips the hop-limit test for unicast, as
// keepalived does, and with check_unicast_src drops adverts whose source
// is no peer. The source and the peers must be of the instance's family.
//
// # Differences from keepalived
//
//   - keepalived restarts its advert timer whenever it receives a packet
//     of its VRID, even one it refuses (vrrp_dispatcher_read calls
//     vrrp_init_instance_sands after every packet): a rogue sending adverts
//     with a wrong password at the same rate silences a keepalived master,
//     and its backups take over (seen in the interop test). ulvs restarts
//     its timer only when it sends.
//   - keepalived 2.2.7 logs "received an invalid passwd!" without the
//     source; ulvs names it, as keepalived's newer versions do.
//   - auth_type AH is keepalived's IPsec authentication header (ah.go):
//     protocol 51, HMAC-MD5-96 keyed with auth_pass, SPI = the source
//     address, one sequence counter per instance; a bad ICV or SPI is
//     ReasonAuthFailure, a replayed sequence number ReasonAHReplay (both
//     dropped and logged). As keepalived, state MASTER waits a full master
//     down interval under AH (to learn the sequence number first).
//   - Refused loudly (Validate errors): authentication with VRRPv3, IPv6
//     with VRRPv2, an advertised address, unicast_src_ip or unicast_peer
//     of the other family than the instance's. Not modelled here (the configuration layer
//     must refuse them or carry them out): use_vmac (the director
//     answers for the virtual MAC and wraps the transport), track_process,
//     track_file, track_bfd, garp_lower_prio_*, lower_prio_no_advert,
//     higher_prio_send_advert, the owner "rogue" back-off of newer
//     keepalived, smtp_alert, vrrp_garp_interval (spacing between ARPs is
//     the caller's), the unicast checksum compatibility mode.
//
// # Sync groups
//
// A Group (vrrp_sync_group) joins Routers that change state together, as
// keepalived's vrrp_sync.c does: see Group. Each member takes its own
// lock, then the group's; a member's consequences for the others (become
// master, step down, re-evaluate faults) run after its lock is released,
// each under the other member's lock in turn, so no two Router locks are
// ever held at once.
//
// # Concurrency
//
// A Router's state is guarded by a mutex; Run is its only goroutine that
// reads packets and fires timers. Status, SetInterfaceUp and ScriptResult
// may be called from any goroutine. Callbacks (OnTransition, OnGARP,
// RunNotify) run on the calling goroutine after the lock is released, in
// order. The zero Router is not usable: call New.
package vrrp
