// Package ipvssync speaks the Linux kernel's IPVS connection
// synchronisation protocol (net/netfilter/ipvs/ip_vs_sync.c, Linux >=
// 2.6.39), versions 1 and 0, so that a ulvs director pair, or a ulvs
// director and a kernel IPVS director, keep each other's connection tables.
//
// It holds the wire format (Entry, AppendMessageV1, AppendMessageV0,
// Decode, Accept), the master's decisions (ShouldSync over Sysctls, and
// the Batcher that packs entries into messages), and the multicast sockets
// (Sender, Receiver). It does not touch connection tables: the engine
// turns its connections into Entry values and the backup's Messages into
// table inserts (see "Left for the engine" below). It imports only the
// standard library and golang.org/x/sys/unix.
//
// Everything here was checked against a recording of the real kernel
// (Debian 6.1, ipvsadm 1.31; testdata/README.md): every captured message
// decodes to the recorded fields and re-encodes byte for byte, and the
// Batcher rebuilds the captured messages from their entries.
//
// # Version 1 message
//
// A UDP datagram to 224.0.0.81:8848 (configurable group, port and TTL;
// with sync_ports N, ports 8848..8848+N-1, one per master thread). The
// header is 8 bytes:
//
//	off size field
//	0   1    reserved, 0 (a v0 receiver reads it as "0 entries")
//	1   1    syncid
//	2   2    size: the whole UDP payload, big-endian
//	4   1    nr_conns
//	5   1    version, 1
//	6   2    spare, 0
//
// Entries follow, each starting on a 4-byte boundary (zero padding before
// the next entry, none after the last; the size in the header counts the
// padding between entries). An IPv4 entry is 36 bytes plus options:
//
//	off size field
//	0   1    type: 0 IPv4; bit 0 set (STYPE_F_INET6, whatever the other
//	         bits): IPv6; other values: malformed
//	1   1    protocol (6 TCP, 17 UDP)
//	2   2    version (top 4 bits, 0) and size (low 12 bits): this entry
//	         with its options, without padding
//	4   4    flags, IP_VS_CONN_F_* (32 bits)
//	8   2    state
//	10  2    cport   (client, virtual, destination: in that order)
//	12  2    vport
//	14  2    dport
//	16  4    fwmark
//	20  4    timeout, seconds (the connection's current timeout)
//	24  4    caddr
//	28  4    vaddr
//	32  4    daddr
//	36  ...  options: type (1 byte), length (1 byte, 1..255), data
//
// An IPv6 entry (struct ip_vs_sync_v6, Entry.IPv6) has the same first 24
// bytes, then caddr, vaddr and daddr of 16 bytes each (offsets 24, 40,
// 56): a 72-byte fixed part, options from byte 72. The oracle recorded
// no IPv6 connection, so the layout is checked against a C rendering of
// the kernel's struct (testdata/sync_v6_layout.c, TestIPv6KernelLayout).
// v0 has no IPv6 entry: the kernel's v0 sender leaves IPv6 connections
// out, and CheckV0 refuses them. An IPv6 FULLNAT connection's local
// address travels in option 0x46 (below); an IPv6 entry carrying the IPv4
// option 0x44, or an IPv4 entry carrying 0x46, is skipped.
//
// Options, all big-endian:
//
//	1  IPVS_OPT_SEQ_DATA  24 bytes: in_seq then out_seq, each init_seq,
//	                      delta, previous_delta (u32)
//	2  IPVS_OPT_PE_DATA   persistence engine data, up to 255 bytes
//	3  IPVS_OPT_PE_NAME   persistence engine name, up to 16 bytes
//	0x44 ulvs local       6 bytes: FULLNAT local address and port
//	0x45 ulvs SYN proxy   9 bytes: timestamp offset (u32), client MSS
//	                      (u16), options, client and server window
//	                      scales (u8 each); the sequence number delta
//	                      travels in SEQ_DATA's out_seq, with
//	                      IP_VS_CONN_F_OUT_SEQ, as the kernel's own
//	                      sequence adjustment would carry it
//	0x46 ulvs local6      18 bytes: an IPv6 FULLNAT connection's local
//	                      IPv6 address and port (IPv6 entries only)
//	0x48 ulvs neighbour   7 bytes: a NAT66 or FULLNAT connection's client
//	                      neighbour MAC and the index of the director's
//	                      interface it was seen on (its replies go back
//	                      there, IPv6 NAT replies having no route lookup)
//
// The kernel sends PE_NAME only after PE_DATA, refuses SEQ_DATA, PE_DATA
// or PE_NAME twice, and masks bit 0x40 (IPVS_OPT_F_PARAM) off the type
// before looking at it; an unknown type with that bit set is skipped, one
// without it makes the backup drop that entry.
//
// # Version 0 message (sync_version 0, for old peers)
//
// Header of 4 bytes: nr_conns, syncid, size (be16). Entries of 24 bytes,
// no padding, no options, no timeout, no fwmark:
//
//	off size field
//	0   1    reserved, 0
//	1   1    protocol
//	2   2    cport
//	4   2    vport
//	6   2    dport
//	8   4    caddr
//	12  4    vaddr
//	16  4    daddr
//	20  2    flags (low 16 bits)
//	22  2    state
//	24  24   only when flags has IN_SEQ or OUT_SEQ (0x0600): in_seq and
//	         out_seq in the sending kernel's host order (it copies its
//	         struct as is; little-endian on x86, which this package
//	         assumes)
//
// A receiver tells the versions apart by the kernel's rule: reserved 0,
// version 1 and spare 0 make v1, anything else is v0. A v0 backup drops v1
// messages (it sees 0 entries). A v1 kernel backup takes both; a v0 message
// gives it no timeout, so it uses its own state timeout, and 180 s for a
// template (the oracle saw 02:58 for a template whose master timeout was
// 60 s).
//
// # The FULLNAT option
//
// ulvs's FULLNAT connections are SNATed to a local address and port that
// the backup must reuse after a takeover. They travel in option 0x44 =
// IPVS_OPT_F_PARAM|4: the kernel defines no option 4, and in
// ip_vs_proc_sync_conn an unknown option whose type has IPVS_OPT_F_PARAM
// set falls into the default case and is skipped ("param data mandatory?"
// no), so a kernel backup applies the entry as if the option were absent.
// The option can therefore go to any peer, and ulvs always sends it for
// FULLNAT connections (v1 only: v0 has no options, and a Batcher in v0
// refuses FULLNAT entries with ErrNotSupported). A stock kernel backup
// cannot take over a FULLNAT connection anyway: its forwarding method 5
// (FlagFullNAT, the value of Alibaba's FULLNAT patches) is kept by the
// backup's mask, but ip_vs_bind_xmit has no transmitter for it, and after
// a takeover the kernel hands such packets to the local stack ("packet_xmit
// is null"). A bare option type 4 (without 0x40) would make a kernel backup
// drop the entry; ulvs never sends that. An IPv6 FULLNAT connection's
// local address and port go, on its IPv6 entry, in option 0x46 =
// IPVS_OPT_F_PARAM|6 (16-byte address, then the port): skipped by a
// kernel backup for the same reason (the kernel defines no option 6).
// Its SYN proxy state, as IPv4's, goes in SEQ_DATA and option 0x45, which
// do not depend on the family.
//
// # Flags and what a kernel backup does with them
//
// The master sends its connection flags without IP_VS_CONN_F_HASHED. Seen
// on the wire: the forwarding method (bits 0-2: MASQ 0, LOCALNODE 1,
// TUNNEL 2, DROUTE 3, BYPASS 4), NOOUTPUT 0x80 (DR/TUN: the director sees
// no replies), INACTIVE 0x100 (not established), TEMPLATE 0x1000; also
// possible: OUT_SEQ 0x200 and IN_SEQ 0x400 (FTP sequence adjustment, with
// the SEQ_DATA option), NO_CPORT 0x800 (an FTP data template), and bits 16+
// such as NFCT. ONE_PACKET 0x2000 connections are never synced. The
// backup keeps only BackupMask (forwarding method, NOOUTPUT, INACTIVE, the
// SEQ bits, NO_CPORT, TEMPLATE) and adds SYNC 0x20. For an existing
// connection it updates only INACTIVE and the SEQ bits (BackupUpdMask),
// moving the destination between its active and inactive counts when
// INACTIVE changes; a connection entry naming another real server than
// the existing one replaces it, unless the entry is INACTIVE (then it is
// the stale end of the replaced one and ignored). Templates are looked up
// as templates (ip_vs_ct_in_get) and only refreshed. The
// backup sets the connection's state, its timeout from the entry (or the
// defaults above), and its packet count to sync_threshold; it binds the
// connection to the real server of its own configuration when there is
// one.
//
// Per entry the kernel also skips (keeping the rest of the message): an
// unknown mandatory option, a protocol it does not know, a state beyond
// the protocol's table (templates may have any state), and persistence
// engine data without a known engine name. It drops the rest of the
// message (after applying the entries before) on a truncated or
// oversized entry, a non-zero entry version, an unknown entry type, an
// entry size below its fixed part, an option that does not fit or has
// length 0, and a repeated or wrongly sized SEQ/PE option. Decode reports
// the first kind in Message.Skipped and the second as its error, with the
// entries before it. ulvs additionally skips protocols other than TCP
// and UDP (ErrNotSupported).
//
// # Syncid
//
// Byte 1 of both headers. A backup with syncid 0 takes every message;
// otherwise messages with another syncid are dropped silently (Accept).
// The oracle showed both: a backup with syncid 9 ignored the master's 7,
// one with syncid 0 took it.
//
// # When the master syncs, and when it sends
//
// On each packet from the client (the kernel does not sync on replies),
// the master counts the
// connection's packets and asks ShouldSync: by default a TCP connection is
// synced at its 3rd packet once ESTABLISHED and every 50 packets after
// (sync_threshold "3 50"), and at once on each change into FIN_WAIT,
// CLOSE, CLOSE_WAIT or TIME_WAIT; UDP at packets 3, 53, 103...; other TCP
// states never. sync_refresh_period and sync_retries replace the packet
// rule by a time rule; sync_persist_mode syncs only the templates of
// persistent connections. After a connection (synced or not) the master
// looks at its controller: a template is synced with its connection (its
// own packet count incremented for the purpose, and with the default
// sync_period > 0 it always passes), which is why the oracle's first
// message holds the template ten times for two connections.
//
// Entries go into the message being filled for the master thread; a
// message leaves when the next entry would not fit in maxlen (1472 by
// default: a 1500-byte MTU minus 28), within 20 ms, or when it is 2 s old,
// checked every second (so a lone entry leaves after 2 to 3 s). There is
// no heartbeat: no traffic, no messages. Messages beyond sync_qlen_max
// waiting are dropped; when the master daemon stops, unsent messages are
// discarded, not flushed. The kernel never checks the one-byte entry count;
// with maxlen near 64 KiB it would wrap. The Batcher stops at 255.
//
// # Sockets
//
// The master socket is bound to the sync interface's first IPv4 address
// and an ephemeral port (a new one at every daemon start), sends with
// IP_MULTICAST_IF set to the interface's index, multicast loop off, TTL 1
// by default and DF clear. The backup socket has SO_REUSEADDR, is bound to
// the device and to the group address and port, joins the group on the
// interface, and reads into a buffer of the interface's MTU (at least
// 1500) minus 28: longer messages are dropped. Sender and Receiver do the
// same; they are opened in the network namespace of the calling thread.
//
// # Left for the engine
//
//   - Master: each worker, after stepping a connection on a client packet,
//     calls ShouldSync with the connection's SyncState (two words to keep
//     in the pointer-free conntrack entry) and emits an Entry (and its
//     template's) as an event to a sync goroutine, without blocking: a
//     bounded per-worker queue, drops counted. The sync goroutine owns the
//     Batcher(s) (one per sync port) and the Sender, calls Next after each
//     Add and on a CheckPeriod ticker.
//   - Backup: the Receiver's callback routes each entry to the worker that
//     owns its flow (the fanout hash of the client side), through a
//     per-worker inbox the worker drains between batches, so the
//     lock-free connection tables stay single-writer; templates go to the
//     shared template table. Inserts follow the kernel's rules above
//     (flags masked, SYNC added, timeout or default, replace on another
//     real server unless INACTIVE, counters moved).
//   - Takeover: when VRRP makes the backup master, the synced connections
//     are already in the tables; the sync roles switch with the VRRP state
//     (keepalived's lvs_sync_daemon).
//   - ulvsadm --start-daemon/--stop-daemon and -L --daemon, the sysctls
//     in the configuration, and counters in Prometheus.
package ipvssync
