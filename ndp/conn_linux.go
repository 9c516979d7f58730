package ndp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv6"
)

// Conn resolves IPv6 neighbours on one interface by Neighbor
// Solicitation: it satisfies package arp's Conn, so arp's Resolver (watch
// lists, retries, OnChange) drives it as it drives an ARP client. It uses
// a raw ICMPv6 socket: the kernel picks the source address (the
// interface's link-local one), fills the checksum, and hands the socket a
// copy of each advertisement (an ICMPv6 filter passes only those).
type Conn struct {
	c   net.PacketConn
	pc  *ipv6.PacketConn
	ifi *net.Interface
	mac [6]byte
	buf []byte
}

// Dial opens a Conn on ifi. It must run in ifi's network namespace.
func Dial(ifi *net.Interface) (*Conn, error) {
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("ndp: %s has no Ethernet address", ifi.Name)
	}
	c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("ndp: %w", err)
	}
	pc := ipv6.NewPacketConn(c)
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeNeighborAdvertisement)
	for _, err := range []error{
		pc.SetICMPFilter(&f),
		pc.SetMulticastHopLimit(255),
		pc.SetHopLimit(255),
		pc.SetMulticastInterface(ifi),
		pc.SetControlMessage(ipv6.FlagInterface|ipv6.FlagHopLimit, true),
	} {
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("ndp: %s: %w", ifi.Name, err)
		}
	}
	return &Conn{c: c, pc: pc, ifi: ifi, mac: [6]byte(ifi.HardwareAddr), buf: make([]byte, 1500)}, nil
}

// ErrNotIPv6 is Resolve's answer for an address that is not IPv6.
var ErrNotIPv6 = errors.New("ndp: not an IPv6 address")

// Resolve sends a solicitation for ip to its solicited-node group and
// waits, until the deadline, for an advertisement of ip on the interface
// (hop limit 255, as RFC 4861 7.1.2 requires) carrying its MAC.
func (c *Conn) Resolve(ip netip.Addr) (net.HardwareAddr, error) {
	if !ip.Is6() || ip.Is4In6() {
		return nil, ErrNotIPv6
	}
	target := ip.As16()
	var msg [SolicitLen]byte
	n := SolicitMessage(msg[:], target, c.mac)
	grp := SolicitedNode(target)
	dst := &net.IPAddr{IP: net.IP(grp[:]), Zone: c.ifi.Name}
	if _, err := c.pc.WriteTo(msg[:n], &ipv6.ControlMessage{HopLimit: 255, IfIndex: c.ifi.Index}, dst); err != nil {
		return nil, err
	}
	for {
		n, cm, _, err := c.pc.ReadFrom(c.buf)
		if err != nil {
			return nil, err
		}
		if cm == nil || cm.IfIndex != c.ifi.Index || cm.HopLimit != 255 {
			continue
		}
		if t, mac, ok := ParseAdvert(c.buf[:n]); ok && t == target {
			return net.HardwareAddr(mac[:]), nil
		}
	}
}

// SetDeadline bounds Resolve.
func (c *Conn) SetDeadline(t time.Time) error { return c.pc.SetDeadline(t) }

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }
