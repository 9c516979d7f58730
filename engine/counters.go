package engine

import "sync/atomic"

// Reason is why a frame was not forwarded. The zero value is invalid.
type Reason uint8

// Reasons a frame is dropped or left alone. Every frame the engine reads ends
// in exactly one counter: forwarded/answered, or one of these.
const (
	ReasonInvalid      Reason = iota
	ReasonMalformed           // the decoder rejected the frame
	ReasonTruncated           // the ring slot held less than the frame
	ReasonNotOurs             // not ARP for a VIP and not IPv4 to a VIP
	ReasonNoService           // IPv4 to a VIP on a port with no service
	ReasonNotSYN              // TCP without a connection and not a SYN
	ReasonNoDest              // the scheduler found no available real server
	ReasonTableFull           // the connection table is full
	ReasonDestGone            // the connection's real server no longer exists
	ReasonNoNeighbour         // the real server's MAC is not resolved
	ReasonFragment            // an IPv4 fragment the kernel did not reassemble
	ReasonUnsupported         // forwarding method or protocol not handled
	ReasonTxError             // the kernel refused to transmit the frame
	ReasonNoRoute             // no route to the client for a NAT reply
	ReasonUnresolved          // a reply waited too long for its next hop's MAC, or the wait queue was full
	ReasonNoLocalPort         // FULLNAT found no free local address and port
	ReasonSplit               // segmentation or fragmentation failed, or no scratch buffer was left
	ReasonTTL                 // the TTL ran out (decrement_ttl)
	ReasonLinkDown            // the egress interface is gone or down
	ReasonStandby             // to an address this director is a failover backup for
	ReasonBadCookie           // an ACK without a connection whose SYN cookie is wrong or too old (SYN proxy)
	ReasonProxyWait           // a client's frame while its proxied connection opens, not queued, or queued too long
	ReasonDropPacket          // a new connection dropped by the drop_packet defence (ip_vs_todrop)
	ReasonIPv6Fragment        // an IPv6 fragment that cannot be reassembled: bad length or offset, a fragment inside a reassembled datagram
	ReasonIPv6TooBig          // an IPv6 packet over the egress MTU (Packet Too Big sent for a client's)
	ReasonFrag6Overlap        // an IPv6 fragment overlapping another, or of a datagram an overlap discarded (RFC 5722)
	ReasonFrag6Dup            // an IPv6 fragment received twice
	ReasonFrag6Full           // no free IPv6 reassembly slot, or too many fragments in one datagram
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonInvalid:      "invalid",
	ReasonMalformed:    "malformed",
	ReasonTruncated:    "truncated",
	ReasonNotOurs:      "not_ours",
	ReasonNoService:    "no_service",
	ReasonNotSYN:       "no_conn_not_syn",
	ReasonNoDest:       "no_dest",
	ReasonTableFull:    "conn_table_full",
	ReasonDestGone:     "dest_gone",
	ReasonNoNeighbour:  "no_neighbour",
	ReasonFragment:     "fragment",
	ReasonUnsupported:  "unsupported",
	ReasonTxError:      "tx_error",
	ReasonNoRoute:      "no_route",
	ReasonUnresolved:   "unresolved",
	ReasonNoLocalPort:  "no_local_port",
	ReasonSplit:        "split_failed",
	ReasonTTL:          "ttl_expired",
	ReasonLinkDown:     "link_down",
	ReasonStandby:      "standby",
	ReasonBadCookie:    "synproxy_bad_ack",
	ReasonProxyWait:    "synproxy_wait",
	ReasonDropPacket:   "drop_packet",
	ReasonIPv6Fragment: "ipv6_fragment",
	ReasonIPv6TooBig:   "ipv6_too_big",
	ReasonFrag6Overlap: "ipv6_frag_overlap",
	ReasonFrag6Dup:     "ipv6_frag_duplicate",
	ReasonFrag6Full:    "ipv6_frag_full",
}

// String returns the counter name of r.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons lists every valid reason, for reporting.
func Reasons() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := ReasonInvalid + 1; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// counters are one worker's statistics. Only the worker writes them; the
// control plane reads them, hence atomics (uncontended, on the worker's
// own cache lines).
type counters struct {
	// The SYN proxy (engine/synproxy.go). A frame ends in synCookies
	// (a SYN answered with a cookie) or synAbsorbed (a client's ACK that
	// completed the handshake with nothing to forward, a real server's
	// SYN-ACK): the others count events, not frames. synAckValid and
	// synAckInvalid count cookie ACKs, synOpened real server sides opened,
	// synQueued client frames queued while opening, synRetries SYNs sent
	// again.
	synCookies, synAbsorbed                                      atomic.Uint64
	synAckValid, synAckInvalid, synOpened, synQueued, synRetries atomic.Uint64

	rxFrames  atomic.Uint64
	rxBytes   atomic.Uint64
	txFrames  atomic.Uint64
	txBytes   atomic.Uint64
	forwarded atomic.Uint64
	arpReply  atomic.Uint64
	ndReply   atomic.Uint64 // neighbour advertisements for IPv6 VIPs
	echoReply atomic.Uint64
	newConns  atomic.Uint64
	// fragNeeded counts DF packets answered with ICMP fragmentation
	// needed; split counts frames sent as several (GSO segments, IP
	// fragments); icmpSent counts ICMP errors the director sent.
	fragNeeded atomic.Uint64
	split      atomic.Uint64
	icmpSent   atomic.Uint64
	// icmpRelayed counts ICMP errors about connections passed on,
	// translated where the method needs it.
	icmpRelayed atomic.Uint64
	// IPv6 reassembly (frag6.go): fragments held until their datagram
	// is complete, datagrams reassembled, datagrams discarded at the
	// timeout.
	frag6Queued, frag6Reassembled, frag6Timeouts atomic.Uint64
	// frag6Lent counts datagrams handed to the worker owning their
	// flow, frag6BoxFull those kept because its inbox was full.
	frag6Lent, frag6BoxFull atomic.Uint64
	drops                   [numReasons]atomic.Uint64
	// dropEntry counts the connections the drop_entry defence removed;
	// conns, free and room are the worker's table: entries, free usable
	// slots (Table.Room) and usable slots, stored once per batch.
	dropEntry atomic.Uint64
	// nodestExpired counts connections expired because their real
	// server was removed (expire_nodest_conn); rstSent the resets the
	// director sent for TCP segments to a service that belong to no
	// connection (as the kernel director's own stack answers them).
	nodestExpired atomic.Uint64
	rstSent       atomic.Uint64
	conns         atomic.Int64
	free          atomic.Int64
	room          atomic.Int64
	loop          loopCounters
	_             [64]byte
}

// Stats is a snapshot of the engine's counters summed over workers.
type Stats struct {
	RxFrames, RxBytes uint64
	TxFrames, TxBytes uint64
	Forwarded         uint64
	ARPReplies        uint64
	NDReplies         uint64
	EchoReplies       uint64
	NewConns          uint64
	FragNeeded        uint64
	Split             uint64
	ICMPSent          uint64
	ICMPRelayed       uint64
	// IPv6 fragments held for reassembly, datagrams reassembled,
	// datagrams discarded at the reassembly timeout.
	Frag6Queued, Frag6Reassembled, Frag6Timeouts uint64
	// Reassembled datagrams handed to the worker owning their flow, and
	// kept by the reassembling worker because that one's inbox was full.
	Frag6Lent, Frag6BoxFull uint64
	Drops                   map[Reason]uint64
	Conns                   int // entries in the connection tables

	// SYN proxy: cookies sent, cookie ACKs valid and invalid, real
	// server sides opened, client frames queued, SYNs sent again.
	SynCookies, SynAbsorbed, SynAckValid, SynAckInvalid, SynOpened, SynQueued, SynRetries uint64
	// DropEntries counts the connections the drop_entry defence removed.
	DropEntries uint64
	// NodestExpired counts connections expired because their real
	// server was removed (expire_nodest_conn); RSTSent the resets sent
	// for segments to a service that belong to no connection.
	NodestExpired, RSTSent uint64
}
