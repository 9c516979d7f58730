package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// BGP is the [bgp] table of the configuration file: ulvsd announces the
// /32 (IPv4) or /128 (IPv6) of each virtual address to the peers while
// the address's services have quorum (docs/scale-out.md), so that routers spread the traffic
// over several directors by ECMP. A ulvs extension; nil when absent.
//
//	[bgp]
//	local_as = 65001
//	router_id = "10.77.0.11"
//	hold_time = 9            # seconds (default 90; 0, or 3 and more)
//	next_hop = "10.77.0.11"  # default: the address of each session
//	next_hop6 = "fd77::11"   # of the /128s; default: the session's own IPv6
//	                         # address, or for an IPv4 session the global
//	                         # IPv6 address of the interface it runs on
//	warmup = 10              # seconds: announce nothing before (default 0)
//	quorum = 1               # alive weight each service needs (default 1)
//	shutdown_delay = 2       # seconds between withdrawing and stopping (default 2)
//
//	[[bgp.peer]]
//	address = "10.77.0.1"
//	as = 65000
//	port = 179               # default 179
//	passive = false          # true: wait for the peer to connect
//	bfd = true               # BFD (RFC 5880/5881) with the peer
//	bfd_interval = 0.3       # seconds between BFD packets (default 0.3)
//	bfd_multiplier = 3       # packets missed before down (default 3)
type BGP struct {
	LocalAS  uint32
	RouterID netip.Addr
	// HoldTime is the hold time offered in OPEN (RFC 4271 section 4.2):
	// 0 or at least 3 s.
	HoldTime time.Duration
	// NextHop is the NEXT_HOP of the announcements; invalid means the
	// local address of each session.
	NextHop netip.Addr
	// NextHop6 is the next hop of the IPv6 announcements; invalid means
	// the local address of an IPv6 session, and for an IPv4 session the
	// global IPv6 address of the interface the session runs on.
	NextHop6 netip.Addr
	// Warmup is how long after ulvsd starts nothing is announced, unless
	// the connection sync shows the other directors' tables arrived
	// first (docs/scale-out.md); 0 announces at once.
	Warmup time.Duration
	// Quorum is the total weight of available real servers (weight > 0
	// after health checks) every service of a virtual address needs for
	// the address to be announced, as keepalived's quorum.
	Quorum uint32
	// ShutdownDelay is how long ulvsd keeps forwarding after withdrawing
	// its routes on SIGTERM, so that routers move the flows first.
	ShutdownDelay time.Duration
	// ListenPort is the TCP port ulvsd accepts sessions on; 0 means 179
	// when a peer is passive, and no listening otherwise.
	ListenPort uint16
	Peers      []BGPPeer
}

// BGPPeer is one [[bgp.peer]].
type BGPPeer struct {
	Address netip.Addr // IPv4 or IPv6 (global)
	AS      uint32
	Port    uint16 // 0 means 179
	// Passive waits for the peer to open the session.
	Passive bool
	// BFD runs BFD with the peer (RFC 5880, single hop RFC 5881): a
	// session whose BFD goes down is reset at once, without waiting for
	// the hold time. BFDInterval is the transmit and receive interval
	// offered, BFDMultiplier the packets missed before it is down.
	BFD           bool
	BFDInterval   time.Duration
	BFDMultiplier uint8
}

// BGP defaults (RFC 4271 section 10 suggests 90 s for the hold time).
const (
	DefaultBGPHoldTime      = 90 * time.Second
	DefaultBGPQuorum        = 1
	DefaultBGPShutdownDelay = 2 * time.Second
	DefaultBGPPort          = 179
	// MaxBGPHoldTime is the largest hold time OPEN can carry (16 bits).
	MaxBGPHoldTime = 65535 * time.Second
	// MaxBGPShutdownDelay bounds shutdown_delay.
	MaxBGPShutdownDelay = 5 * time.Minute
	// MaxBGPWarmup bounds warmup.
	MaxBGPWarmup = 30 * time.Minute
	// BFD defaults and bounds: GoBGP's timers are microseconds in 32
	// bits; below 10 ms a user-space speaker cannot keep the pace.
	DefaultBFDInterval   = 300 * time.Millisecond
	DefaultBFDMultiplier = 3
	MinBFDInterval       = 10 * time.Millisecond
	MaxBFDInterval       = 60 * time.Second
)

// CheckBGPHoldTime returns what is wrong with a hold time, or "".
func CheckBGPHoldTime(d time.Duration) string {
	switch {
	case d%time.Second != 0:
		return fmt.Sprintf("must be whole seconds (got %v)", d)
	case d != 0 && d < 3*time.Second, d > MaxBGPHoldTime:
		return fmt.Sprintf("must be 0 or between 3 and 65535 seconds, RFC 4271 section 4.2 (got %d)", d/time.Second)
	}
	return ""
}

// CheckBGPAddr returns what is wrong with an IPv4 address used by BGP
// (router id, next hop), or "": IPv4 only (a BGP identifier is 32 bits,
// RFC 6286), neither unspecified nor multicast.
func CheckBGPAddr(a netip.Addr, s string) string {
	switch {
	case !a.IsValid():
		return fmt.Sprintf("must be an IPv4 address (got %q)", s)
	case !a.Is4():
		return fmt.Sprintf("must be an IPv4 address (got %q)", s)
	case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Sprintf("must be a unicast address (got %q)", s)
	}
	return ""
}

// CheckBGPAddr6 returns what is wrong with next_hop6, or "": a global
// IPv6 unicast address (a router installs a link-local next hop only with
// the interface, which an announcement cannot carry alone).
func CheckBGPAddr6(a netip.Addr, s string) string {
	switch {
	case !a.IsValid(), !a.Is6(), a.Is4In6():
		return fmt.Sprintf("must be an IPv6 address (got %q)", s)
	case !a.IsGlobalUnicast(), a.Zone() != "":
		return fmt.Sprintf("must be a global unicast IPv6 address, not link-local, multicast or unspecified (got %q)", s)
	}
	return ""
}

// CheckBGPPeerAddr returns what is wrong with a peer's address, or "":
// IPv4 or global IPv6 unicast.
func CheckBGPPeerAddr(a netip.Addr, s string) string {
	if a.IsValid() && a.Is6() && !a.Is4In6() {
		return CheckBGPAddr6(a, s)
	}
	if !a.IsValid() || a.Is4In6() {
		return fmt.Sprintf("must be an IPv4 or IPv6 address (got %q)", s)
	}
	return CheckBGPAddr(a, s)
}

// CheckBFDInterval returns what is wrong with a BFD interval, or "".
func CheckBFDInterval(d time.Duration) string {
	if d < MinBFDInterval || d > MaxBFDInterval || d%time.Millisecond != 0 {
		return fmt.Sprintf("must be whole milliseconds from %v to %v (got %v)", MinBFDInterval, MaxBFDInterval, d)
	}
	return ""
}

// ParseBGPPeer parses ulvsd's --bgp-peer value: AS@ADDRESS[:PORT], with
// a "passive:" prefix for a peer that opens the session itself and a
// "bfd:" prefix for BFD with the default timers, as "65000@10.77.0.1",
// "passive:65000@10.77.0.1:1179", "bfd:65000@[fd00::1]:179".
func ParseBGPPeer(s string) (BGPPeer, error) {
	var p BGPPeer
	rest := s
	for {
		if r, ok := strings.CutPrefix(rest, "passive:"); ok && !p.Passive {
			rest, p.Passive = r, true
		} else if r, ok := strings.CutPrefix(rest, "bfd:"); ok && !p.BFD {
			rest, p.BFD = r, true
			p.BFDInterval, p.BFDMultiplier = DefaultBFDInterval, DefaultBFDMultiplier
		} else {
			break
		}
	}
	asText, addr, ok := strings.Cut(rest, "@")
	if !ok {
		return p, fmt.Errorf("bgp peer %q: want AS@ADDRESS[:PORT], like 65000@10.0.0.1", s)
	}
	as, err := strconv.ParseUint(asText, 10, 32)
	if err != nil || as == 0 {
		return p, fmt.Errorf("bgp peer %q: AS must be a number from 1 to 4294967295 (got %q)", s, asText)
	}
	p.AS = uint32(as)
	host := addr
	if h, port, err := splitHostPortOpt(addr); err != nil {
		return p, fmt.Errorf("bgp peer %q: %v", s, err)
	} else if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return p, fmt.Errorf("bgp peer %q: port must be a number from 1 to 65535 (got %q)", s, port)
		}
		host, p.Port = h, uint16(n)
	}
	a, _ := netip.ParseAddr(host)
	if msg := CheckBGPPeerAddr(a, host); msg != "" {
		return p, fmt.Errorf("bgp peer %q: address %s", s, msg)
	}
	p.Address = a
	return p, nil
}

// splitHostPortOpt splits "a.b.c.d:port" and "[v6]:port", and leaves
// "a.b.c.d" (or an IPv6 literal without brackets) whole.
func splitHostPortOpt(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		host, port, err := net.SplitHostPort(s)
		if err == nil && port == "" {
			err = fmt.Errorf("empty port in %q", s)
		}
		return host, port, err
	}
	return s, "", nil
}

// CheckBGP returns the field (relative to [bgp], "" for the table) and
// message of the first problem of b that its fields alone do not show:
// a missing local AS or router id, no peer, a peer given twice, or an
// iBGP peer (the announcements are meant for eBGP routers; an iBGP peer
// would need a next hop and local preference this does not set).
func CheckBGP(b *BGP) (field, msg string) {
	switch {
	case b.LocalAS == 0:
		return "local_as", "required: the director's AS number (a private one, 64512 to 65534 or 4200000000 to 4294967294, is usual)"
	case !b.RouterID.IsValid():
		return "router_id", "required: the director's BGP identifier, an IPv4 address (usually its own)"
	case b.NextHop.IsValid() && CheckBGPAddr(b.NextHop, b.NextHop.String()) != "":
		return "next_hop", CheckBGPAddr(b.NextHop, b.NextHop.String())
	case b.NextHop6.IsValid() && CheckBGPAddr6(b.NextHop6, b.NextHop6.String()) != "":
		return "next_hop6", CheckBGPAddr6(b.NextHop6, b.NextHop6.String())
	case b.Warmup < 0 || b.Warmup > MaxBGPWarmup:
		return "warmup", fmt.Sprintf("must be from 0 to %v (got %v)", MaxBGPWarmup, b.Warmup)
	case len(b.Peers) == 0:
		return "peer", "required: at least one [[bgp.peer]] (address and as) to announce the virtual addresses to"
	}
	seen := map[netip.Addr]int{}
	for i, p := range b.Peers {
		if j, dup := seen[p.Address]; dup {
			return fmt.Sprintf("peer[%d].address", i), fmt.Sprintf("duplicate of peer[%d] (%v)", j, p.Address)
		}
		seen[p.Address] = i
		if p.AS == b.LocalAS {
			return fmt.Sprintf("peer[%d].as", i), fmt.Sprintf("is the local AS %d: ulvs speaks eBGP only (give the router its own AS)", p.AS)
		}
		if msg := CheckBGPPeerAddr(p.Address, p.Address.String()); msg != "" {
			return fmt.Sprintf("peer[%d].address", i), msg
		}
		if p.BFD {
			if msg := CheckBFDInterval(p.BFDInterval); msg != "" {
				return fmt.Sprintf("peer[%d].bfd_interval", i), msg
			}
			if p.BFDMultiplier < 1 {
				return fmt.Sprintf("peer[%d].bfd_multiplier", i), fmt.Sprintf("must be from 1 to 255 (got %d)", p.BFDMultiplier)
			}
		}
	}
	return "", ""
}
