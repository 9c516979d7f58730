package healthcheck

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/config"
)

// ICMP echo (RFC 792, RFC 4443 section 4).
const (
	icmpEchoRequest   = 8
	icmpEchoReply     = 0
	icmp6EchoRequest  = 128
	icmp6EchoReply    = 129
	icmpHeaderLen     = 8
	icmpPayloadLength = 32
)

// pingProber is PING_CHECK: one ICMP echo, good when the matching reply
// comes within connect_timeout. Like keepalived it uses an unprivileged
// ICMP datagram socket (the kernel matches the reply's id); where
// net.ipv4.ping_group_range does not allow one it falls back to a raw
// socket and matches id and sequence itself. keepalived instead widens
// ping_group_range; ulvs leaves the host's sysctls alone.
type pingProber struct {
	dst     netip.Addr
	bindTo  netip.Addr
	bindIf  string
	mark    uint32
	timeout time.Duration
	id      uint16
	seq     uint16
}

func newPingProber(c *config.Check, t Target) *pingProber {
	dst := t.Addr
	if c.ConnectIP.IsValid() {
		dst = c.ConnectIP
	}
	return &pingProber{
		dst:     dst.Unmap(),
		bindTo:  c.BindTo,
		bindIf:  c.BindIf,
		mark:    c.FwMark,
		timeout: c.ConnectTimeout,
		id:      uint16(rand.Uint32()),
	}
}

func (p *pingProber) probe(ctx context.Context) Result {
	f, raw, err := p.open()
	if err != nil {
		return Result{Err: err.Error()}
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	defer f.Close()
	p.seq++
	f.SetDeadline(time.Now().Add(p.timeout))
	if _, err := f.Write(icmpEcho(p.dst.Is6(), p.id, p.seq)); err != nil {
		return Result{Err: "send: " + errString(err)}
	}
	buf := make([]byte, 1500)
	for {
		n, err := f.Read(buf)
		if err != nil {
			return Result{Err: errString(err)}
		}
		if icmpIsReply(buf[:n], p.dst.Is6(), raw, p.id, p.seq) {
			return Result{OK: true}
		}
	}
}

// open makes a connected ICMP socket: a datagram one when allowed, else
// a raw one (raw reports true).
func (p *pingProber) open() (*os.File, bool, error) {
	fam, proto := unix.AF_INET, unix.IPPROTO_ICMP
	var sa, local unix.Sockaddr
	if p.dst.Is6() {
		fam, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
		sa = &unix.SockaddrInet6{Addr: p.dst.As16()}
		if p.bindTo.IsValid() {
			local = &unix.SockaddrInet6{Addr: p.bindTo.As16()}
		}
	} else {
		sa = &unix.SockaddrInet4{Addr: p.dst.As4()}
		if p.bindTo.IsValid() {
			local = &unix.SockaddrInet4{Addr: p.bindTo.Unmap().As4()}
		}
	}
	const flags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	raw := false
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|flags, proto)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EPROTONOSUPPORT) {
		fd, err = unix.Socket(fam, unix.SOCK_RAW|flags, proto)
		raw = true
	}
	if err != nil {
		return nil, false, fmt.Errorf("ICMP socket: %w", err)
	}
	fail := func(op string, err error) (*os.File, bool, error) {
		unix.Close(fd)
		return nil, false, fmt.Errorf("ICMP socket %s: %w", op, err)
	}
	if p.bindIf != "" {
		if err := unix.BindToDevice(fd, p.bindIf); err != nil {
			return fail("bind to device "+p.bindIf, err)
		}
	}
	if p.mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(p.mark)); err != nil {
			return fail("fwmark", err)
		}
	}
	if local != nil {
		if err := unix.Bind(fd, local); err != nil {
			return fail("bind", err)
		}
	}
	if err := unix.Connect(fd, sa); err != nil {
		return fail("connect", err)
	}
	return os.NewFile(uintptr(fd), "icmp"), raw, nil
}

// icmpEcho builds an echo request with keepalived's payload text.
func icmpEcho(v6 bool, id, seq uint16) []byte {
	m := make([]byte, icmpHeaderLen+icmpPayloadLength)
	m[0] = icmpEchoRequest
	if v6 {
		m[0] = icmp6EchoRequest // the kernel fills the ICMPv6 checksum
	}
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[icmpHeaderLen:], udpDefaultPayload)
	if !v6 {
		binary.BigEndian.PutUint16(m[2:], icmpChecksum(m))
	}
	return m
}

// icmpChecksum is the Internet checksum (RFC 1071) of b.
func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// icmpIsReply reports whether one received message (with its IPv4 header
// when raw and IPv4) is the reply to our echo. Other messages (our own
// request seen on loopback, other hosts' traffic on a raw socket) are
// skipped. On a datagram socket the kernel already matched the id (it
// rewrites it); errors about our echo arrive as read errors.
func icmpIsReply(m []byte, v6, raw bool, id, seq uint16) bool {
	if raw && !v6 {
		if len(m) < 20 {
			return false
		}
		ihl := int(m[0]&0xf) * 4
		if ihl < 20 || len(m) < ihl {
			return false
		}
		m = m[ihl:]
	}
	if len(m) < icmpHeaderLen {
		return false
	}
	reply := byte(icmpEchoReply)
	if v6 {
		reply = icmp6EchoReply
	}
	if m[0] != reply {
		return false // echo requests (ours, on loopback), other traffic
	}
	if binary.BigEndian.Uint16(m[6:]) != seq {
		return false
	}
	if raw && binary.BigEndian.Uint16(m[4:]) != id {
		return false
	}
	return true
}
