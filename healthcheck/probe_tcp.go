package healthcheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/config"
)

// errnoError is the syscall error the probes report by name.
type errnoError = syscall.Errno

const (
	sigTERM = syscall.SIGTERM
	sigKILL = syscall.SIGKILL
)

// probeAddr is where a checker connects: connect_ip/connect_port when
// set, else the real server's own address and port.
func probeAddr(c *config.Check, t Target) netip.AddrPort {
	a, p := t.Addr, t.Port
	if c.ConnectIP.IsValid() {
		a = c.ConnectIP
	}
	if c.ConnectPort != 0 {
		p = c.ConnectPort
	}
	return netip.AddrPortFrom(a, p)
}

// newDialer returns a dialer for network ("tcp" or "udp") that binds and
// marks the socket as the checker says (bindto, bind_port, bind_if,
// fwmark), as keepalived's tcp_bind_connect/udp_bind_connect do. A probe
// never picks the VIP: without bindto the kernel chooses among the
// director's own addresses.
func newDialer(c *config.Check, network string, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		var ip net.IP
		if c.BindTo.IsValid() {
			ip = c.BindTo.AsSlice()
		}
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{IP: ip, Port: int(c.BindPort)}
		} else {
			d.LocalAddr = &net.TCPAddr{IP: ip, Port: int(c.BindPort)}
		}
	}
	if c.BindIf != "" || c.FwMark != 0 {
		bindIf, mark := c.BindIf, c.FwMark
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return setSockOpts(rc, bindIf, mark)
		}
	}
	return d
}

// setSockOpts applies bind_if (SO_BINDTODEVICE) and fwmark (SO_MARK).
func setSockOpts(rc syscall.RawConn, bindIf string, mark uint32) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		if bindIf != "" {
			if e := unix.BindToDevice(int(fd), bindIf); e != nil {
				serr = fmt.Errorf("bind to device %s: %w", bindIf, e)
				return
			}
		}
		if mark != 0 {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark)); e != nil {
				serr = fmt.Errorf("set fwmark %d: %w", mark, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// tcpProber is TCP_CHECK: a connect within connect_timeout.
type tcpProber struct {
	dst netip.AddrPort
	d   *net.Dialer
}

func newTCPProber(c *config.Check, t Target) *tcpProber {
	return &tcpProber{dst: probeAddr(c, t), d: newDialer(c, "tcp", c.ConnectTimeout)}
}

func (p *tcpProber) probe(ctx context.Context) Result {
	conn, err := p.d.DialContext(ctx, "tcp", p.dst.String())
	if err != nil {
		return Result{Err: errString(err)}
	}
	conn.Close()
	return Result{OK: true}
}
