package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/config"
)

// defaultHeloName is keepalived's SMTP_DEFAULT_HELO.
const defaultHeloName = "smtpchecker.keepalived.org"

// smtpLineMax is keepalived's SMTP_BUFF_MAX: a longer line wraps.
const smtpLineMax = 512

// smtpProber is SMTP_CHECK: read the 220 greeting, send HELO and expect
// 250, send QUIT and read the answer. Its failure texts are
// check_smtp.c's, which the Checker logs after "SMTP_CHECK ".
type smtpProber struct {
	dst     netip.AddrPort
	d       *net.Dialer
	timeout time.Duration
	helo    string
	pair    string // keepalived's FMT_SMTP_RS: "[10.0.0.11]:25"
}

func newSMTPProber(c *config.Check, t Target) *smtpProber {
	dst := probeAddr(c, t)
	helo := c.HeloName
	if helo == "" {
		helo = defaultHeloName
	}
	return &smtpProber{
		dst:     dst,
		d:       newDialer(c, "tcp", c.ConnectTimeout),
		timeout: c.ConnectTimeout,
		helo:    helo,
		pair:    fmt.Sprintf("[%s]:%d", dst.Addr(), dst.Port()),
	}
}

func (p *smtpProber) probe(ctx context.Context) Result {
	conn, err := p.d.DialContext(ctx, "tcp", p.dst.String())
	if err != nil {
		if errString(err) == "timeout" {
			return Result{Err: "Connection timeout to server " + p.pair}
		}
		return Result{Err: "Error connecting to server " + p.pair}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	steps := []struct {
		send string // "" = only read
		want int    // status wanted, 0 = any line
		bad  string
	}{
		{want: 220, bad: "Bad greeting banner from server "},
		{send: "HELO " + p.helo + "\r\n", want: 250, bad: "Bad HELO response from server "},
		{send: "QUIT\r\n"},
	}
	for _, s := range steps {
		if s.send != "" {
			conn.SetWriteDeadline(time.Now().Add(p.timeout))
			if _, err := io.WriteString(conn, s.send); err != nil {
				if errString(err) == "timeout" {
					return Result{Err: "Write timeout to server " + p.pair}
				}
				return Result{Err: "Write failure to server " + p.pair}
			}
		}
		line, msg := p.readLine(conn)
		if msg != "" {
			return Result{Err: msg}
		}
		if s.want != 0 && smtpStatus(line) != s.want {
			return Result{Err: s.bad + p.pair}
		}
	}
	return Result{OK: true}
}

// readLine reads until a newline, as smtp_get_line_cb does, and returns
// the text before it; msg is keepalived's failure text.
func (p *smtpProber) readLine(conn net.Conn) (line []byte, msg string) {
	buf := make([]byte, 0, smtpLineMax)
	chunk := make([]byte, smtpLineMax)
	for {
		if len(buf) >= smtpLineMax-1 {
			buf = buf[:0] // keepalived wraps a full buffer
		}
		conn.SetReadDeadline(time.Now().Add(p.timeout))
		n, err := conn.Read(chunk[:smtpLineMax-1-len(buf)])
		buf = append(buf, chunk[:n]...)
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return buf[:i], ""
		}
		if err != nil {
			var te interface{ Timeout() bool }
			if errors.As(err, &te) && te.Timeout() {
				return nil, "Read timeout from server " + p.pair
			}
			return nil, "Read failure from server " + p.pair
		}
	}
}

// smtpStatus is check_smtp.c's smtp_get_status: three digits followed by
// the end of the line or a space, else -1.
func smtpStatus(line []byte) int {
	if len(line) < 3 || (len(line) > 3 && line[3] != ' ') {
		return -1
	}
	n := 0
	for _, b := range line[:3] {
		if b < '0' || b > '9' {
			return -1
		}
		n = n*10 + int(b-'0')
	}
	return n
}
