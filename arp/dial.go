package arp

import (
	"net"
	"net/netip"
	"sync"
	"time"

	mdarp "github.com/mdlayher/arp"
)

var _ Conn = (*mdarp.Client)(nil)
var _ Conn = (*client)(nil)

// Bounds on discarding queued ARP frames before each request.
const (
	drainWait  = time.Millisecond
	drainLimit = 1024
)

// client is the Conn NewResolver dials. The raw socket of an
// mdlayher/arp client queues every ARP frame on the interface while nobody
// reads it, and Client.Resolve takes the first queued reply whose sender is
// the asked address, however old. client discards the queue before each
// request, so an answer is never one from before a MAC change.
type client struct {
	c *mdarp.Client

	mu       sync.Mutex // serialises deadline changes with the drain
	deadline time.Time  // the last deadline set through SetDeadline
}

func dial(ifi *net.Interface) (*client, error) {
	c, err := mdarp.Dial(ifi)
	if err != nil {
		return nil, err
	}
	return &client{c: c}, nil
}

func (c *client) Resolve(ip netip.Addr) (net.HardwareAddr, error) {
	c.drain()
	return c.c.Resolve(ip)
}

func (c *client) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.c.SetDeadline(t)
}

func (c *client) Close() error { return c.c.Close() }

// drain reads and drops queued frames for at most drainWait (bounded by the
// current deadline), then restores the deadline.
func (c *client) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	until := time.Now().Add(drainWait)
	if !c.deadline.IsZero() {
		if !c.deadline.After(time.Now()) {
			return
		}
		if c.deadline.Before(until) {
			until = c.deadline
		}
	}
	if err := c.c.SetReadDeadline(until); err != nil {
		return
	}
	for range drainLimit {
		if _, _, err := c.c.Read(); err != nil {
			break
		}
	}
	c.c.SetReadDeadline(c.deadline)
}
