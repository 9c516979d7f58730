package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/config"
)

// udpDefaultPayload is what keepalived sends when no payload is set
// (layer4.c: 32 bytes of a repeated text).
var udpDefaultPayload = []byte("keepalived check - keepalived ch")

// udpProber is UDP_CHECK: send the payload on a connected socket, then
// wait connect_timeout. An ICMP port unreachable (the read fails with
// ECONNREFUSED) is a failure; silence is a success unless require_reply,
// which needs a datagram within the length bounds.
type udpProber struct {
	dst          netip.AddrPort
	d            *net.Dialer
	timeout      time.Duration
	payload      []byte
	requireReply bool
	min, max     int
}

func newUDPProber(c *config.Check, t Target) *udpProber {
	p := &udpProber{
		dst:          probeAddr(c, t),
		d:            newDialer(c, "udp", c.ConnectTimeout),
		timeout:      c.ConnectTimeout,
		payload:      c.Payload,
		requireReply: c.RequireReply,
		min:          c.MinReplyLength,
		max:          c.MaxReplyLength,
	}
	if len(p.payload) == 0 {
		p.payload = udpDefaultPayload
	}
	return p
}

func (p *udpProber) probe(ctx context.Context) Result {
	conn, err := p.d.DialContext(ctx, "udp", p.dst.String())
	if err != nil {
		return Result{Err: errString(err)}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(p.timeout))
	if _, err := conn.Write(p.payload); err != nil {
		return Result{Err: "send: " + errString(err)}
	}
	buf := make([]byte, 64<<10)
	n, err := conn.Read(buf)
	if err != nil {
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			if p.requireReply {
				return Result{Err: "no reply"}
			}
			return Result{OK: true}
		}
		return Result{Err: errString(err)}
	}
	if p.requireReply && (n < p.min || (p.max > 0 && n > p.max)) {
		return Result{Err: fmt.Sprintf("reply of %d bytes", n)}
	}
	return Result{OK: true}
}
