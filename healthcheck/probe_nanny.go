package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// Bounds from nanny.c: the regex match reads at most 254 bytes, and a
// send_program's output is read up to 4095 bytes.
const (
	nannyRegexRead = 254
	nannyProgOut   = 4095
)

// nannyProber is Piranha's nanny check: connect to the port over TCP or
// UDP, write send, read and compare with expect (a prefix, "*" for any
// answer, or an extended regular expression with use_regex); or run
// send_program and compare its output with expect. Every step is bounded
// by nanny's interval (lvs.cf's timeout).
type nannyProber struct {
	dst     netip.AddrPort
	udp     bool
	d       *net.Dialer
	timeout time.Duration
	send    []byte
	expect  string
	re      *regexp.Regexp
	program []string
}

func newNannyProber(c *config.Check, t Target) (*nannyProber, error) {
	proto := c.Proto
	if proto == 0 {
		proto = t.Proto
	}
	p := &nannyProber{
		dst:     probeAddr(c, t),
		udp:     proto == vs.UDP,
		timeout: nannyInterval(c),
		send:    []byte(c.Send),
		expect:  c.Expect,
	}
	network := "tcp"
	if p.udp {
		network = "udp"
	}
	p.d = newDialer(c, network, p.timeout)
	if c.UseRegex && c.Expect != "" {
		re, err := regexp.Compile(c.Expect)
		if err != nil {
			return nil, fmt.Errorf("expect %q: %w", c.Expect, err)
		}
		p.re = re
	}
	if c.SendProgram != "" {
		if c.Expect == "" {
			// nanny fails such a check every time; refuse it up front.
			return nil, fmt.Errorf("send_program %q without expect can never succeed", c.SendProgram)
		}
		// nanny splits on spaces and replaces the tokens %h and %p.
		for _, tok := range strings.Fields(c.SendProgram) {
			switch tok {
			case "%h":
				tok = p.dst.Addr().String()
			case "%p":
				tok = strconv.Itoa(int(p.dst.Port()))
			}
			p.program = append(p.program, tok)
		}
	}
	return p, nil
}

func (p *nannyProber) probe(ctx context.Context) Result {
	if p.program != nil {
		return p.external(ctx)
	}
	network := "tcp"
	if p.udp {
		network = "udp"
	}
	conn, err := p.d.DialContext(ctx, network, p.dst.String())
	if err != nil {
		return Result{Err: "connect: " + errString(err)}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(p.timeout))
	if len(p.send) > 0 {
		if _, err := conn.Write(p.send); err != nil {
			return Result{Err: "write: " + errString(err)}
		}
	}
	if p.expect == "" && !p.udp {
		return Result{OK: true}
	}
	got, err := p.read(conn)
	if err != nil && len(got) == 0 {
		return Result{Err: "read: " + errString(err)}
	}
	if !p.matches(got) {
		return Result{Err: fmt.Sprintf("unexpected answer %q", got)}
	}
	return Result{OK: true}
}

// read gets what the answer is compared with: one datagram over UDP;
// over TCP len(expect) bytes (254 for a regular expression) or less at
// the end of the stream.
func (p *nannyProber) read(conn net.Conn) ([]byte, error) {
	if p.udp {
		buf := make([]byte, 255)
		n, err := conn.Read(buf)
		return buf[:n], err
	}
	want := len(p.expect)
	if p.re != nil {
		want = nannyRegexRead
	}
	if p.expect == "*" {
		want = 1
	}
	buf := make([]byte, want)
	var n int
	for n < want {
		m, err := conn.Read(buf[n:])
		n += m
		if p.re != nil && p.re.Match(buf[:n]) {
			return buf[:n], nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return buf[:n], err
		}
	}
	return buf[:n], nil
}

func (p *nannyProber) matches(got []byte) bool {
	switch {
	case p.expect == "":
		return len(got) > 0 // UDP without expect: any answer
	case p.expect == "*":
		return len(got) > 0
	case p.re != nil:
		return p.re.Match(got)
	}
	return bytes.HasPrefix(got, []byte(p.expect))
}

// external is nanny's external_check: the program's output, less its
// last byte (the newline), must equal expect (or match it with
// use_regex). A program that fails or times out fails the check (nanny
// itself counted a failed program as a success, a bug ulvs does not
// copy).
func (p *nannyProber) external(ctx context.Context) Result {
	var out boundedBuffer
	out.max = nannyProgOut
	ei, err := runProgram(ctx, p.program, p.timeout, runOpts{Stdout: &out})
	switch {
	case err != nil:
		return Result{Err: err.Error()}
	case ei.TimedOut:
		return Result{Err: "send_program timed out"}
	case ei.Signal != 0:
		return Result{Err: fmt.Sprintf("send_program killed by signal %d", int(ei.Signal))}
	case ei.Code != 0:
		return Result{Err: fmt.Sprintf("send_program exit status %d", ei.Code)}
	}
	got := out.b
	if len(got) > 0 {
		got = got[:len(got)-1]
	}
	if p.re != nil {
		if p.re.Match(got) {
			return Result{OK: true}
		}
	} else if string(got) == p.expect {
		return Result{OK: true}
	}
	return Result{Err: fmt.Sprintf("send_program said %q", got)}
}

// boundedBuffer keeps the first max bytes written to it and discards the
// rest (so a chatty program cannot grow it, nor block on its pipe).
type boundedBuffer struct {
	b   []byte
	max int
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
