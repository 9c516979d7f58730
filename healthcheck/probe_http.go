package healthcheck

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// Bounds on what one HTTP probe reads. keepalived streams any length
// through MD5; ulvs stops and fails the check beyond these.
const (
	maxHTTPHeader = 64 << 10
	maxHTTPBody   = 8 << 20
)

// httpProber is HTTP_GET and SSL_GET: one GET of one url per probe, as
// check_http.c sends it, the answer judged by its status code and, when
// the url has a digest, the MD5 of its body.
type httpProber struct {
	dst     netip.AddrPort
	d       *net.Dialer
	timeout time.Duration
	tls     bool
	urls    []httpURL
	// next is the url the Checker wants probed (its url iterator).
	next int
}

type httpURL struct {
	request   []byte
	sni       string
	codes     []config.StatusRange
	digest    [md5.Size]byte
	hasDigest bool
}

func newHTTPProber(c *config.Check, t Target) (*httpProber, error) {
	var minor int
	var connClose bool
	switch c.HTTPProtocol {
	case "", "1.0":
	case "1.0C", "1.0c":
		connClose = true
	case "1.1":
		minor, connClose = 1, true
	default:
		return nil, fmt.Errorf("http_protocol %q is not one keepalived knows (1.0, 1.0C, 1.1)", c.HTTPProtocol)
	}
	p := &httpProber{
		dst:     probeAddr(c, t),
		d:       newDialer(c, "tcp", c.ConnectTimeout),
		timeout: c.ConnectTimeout,
		tls:     c.Kind == config.CheckSSL,
	}
	for _, u := range c.URLs {
		if u.Path == "" {
			return nil, errors.New("url without a path")
		}
		if strings.ContainsAny(u.Path, " \r\n") {
			return nil, fmt.Errorf("url path %q contains white space", u.Path)
		}
		vhost := firstNonEmpty(u.Virtualhost, c.Virtualhost, t.Virtualhost)
		host := vhost
		if host == "" {
			host = p.dst.String() // "10.0.0.11:80", "[2001:db8::1]:80"
		}
		var req strings.Builder
		fmt.Fprintf(&req, "GET %s HTTP/1.%d\r\nUser-Agent: KeepAliveClient\r\n", u.Path, minor)
		if connClose {
			req.WriteString("Connection: close\r\n")
		}
		fmt.Fprintf(&req, "Host: %s\r\n\r\n", host)
		hu := httpURL{request: []byte(req.String()), codes: u.StatusCodes}
		if c.EnableSNI {
			hu.sni = vhost
		}
		if len(hu.codes) == 0 {
			hu.codes = []config.StatusRange{{First: 200, Last: 299}}
		}
		if u.Digest != "" {
			b, err := hex.DecodeString(u.Digest)
			if err != nil || len(b) != md5.Size {
				return nil, fmt.Errorf("url %s: digest %q is not 32 hex digits", u.Path, u.Digest)
			}
			copy(hu.digest[:], b)
			hu.hasDigest = true
		}
		p.urls = append(p.urls, hu)
	}
	return p, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (p *httpProber) probe(ctx context.Context) Result {
	if p.next < 0 || p.next >= len(p.urls) {
		return Result{Err: "no url to check"}
	}
	u := &p.urls[p.next]
	raw, err := p.d.DialContext(ctx, "tcp", p.dst.String())
	if err != nil {
		return Result{Err: errString(err)}
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	defer raw.Close()
	var conn net.Conn = raw
	if p.tls {
		tc := tls.Client(raw, &tls.Config{
			// keepalived does not verify the server's certificate.
			InsecureSkipVerify: true, //nolint:gosec // as keepalived's SSL_GET
			ServerName:         u.sni,
			// Old servers keepalived's OpenSSL talks to are still checked.
			MinVersion: tls.VersionTLS10,
		})
		raw.SetDeadline(time.Now().Add(p.timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			return Result{Err: "TLS handshake: " + errString(err)}
		}
		conn = tc
	}
	conn.SetDeadline(time.Now().Add(p.timeout))
	if _, err := conn.Write(u.request); err != nil {
		return Result{Err: "send request: " + errString(err)}
	}
	return readHTTPResponse(conn, p.timeout, u)
}

// readHTTPResponse reads the answer to the end, as check_http.c does, and
// judges it. Each read has its own timeout, as keepalived's do.
func readHTTPResponse(conn net.Conn, timeout time.Duration, u *httpURL) Result {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 16<<10)
	headerEnd := -1
	for headerEnd < 0 {
		conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		headerEnd = bytes.Index(buf, []byte("\r\n\r\n"))
		if headerEnd >= 0 {
			break
		}
		if len(buf) > maxHTTPHeader {
			return Result{Err: fmt.Sprintf("HTTP header longer than %d bytes", maxHTTPHeader)}
		}
		if err == io.EOF {
			return Result{Err: "no data received"}
		}
		if err != nil {
			return Result{Err: "read: " + errString(err)}
		}
	}
	header := buf[:headerEnd]
	body := buf[headerEnd+4:]

	h := md5.New()
	contentLen := httpContentLength(header)
	var rx int64
	feed := func(b []byte) {
		rx += int64(len(b))
		if !u.hasDigest {
			return
		}
		// Like keepalived, digest at most Content-Length bytes.
		if contentLen >= 0 {
			left := contentLen - (rx - int64(len(b)))
			if left <= 0 {
				return
			}
			if int64(len(b)) > left {
				b = b[:left]
			}
		}
		h.Write(b)
	}
	feed(body)
	for {
		if rx > maxHTTPBody {
			return Result{Err: fmt.Sprintf("HTTP body longer than %d bytes", maxHTTPBody)}
		}
		conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := conn.Read(chunk)
		feed(chunk[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return Result{Err: "read: " + errString(err)}
		}
	}

	code := httpStatusCode(header)
	if !statusAllowed(code, u.codes) {
		return Result{Err: fmt.Sprintf("HTTP status %d", code)}
	}
	if u.hasDigest {
		var sum [md5.Size]byte
		h.Sum(sum[:0])
		if sum != u.digest {
			return Result{Err: "MD5 digest mismatch: " + hex.EncodeToString(sum[:])}
		}
	}
	return Result{OK: true}
}

// httpStatusCode extracts the status code as keepalived's
// extract_status_code does: the three digits after the first space,
// followed by a space; 0 when there are none.
func httpStatusCode(header []byte) int {
	sp := bytes.IndexAny(header, " \r")
	if sp < 0 || header[sp] != ' ' {
		return 0
	}
	rest := header[sp+1:]
	if len(rest) < 4 || rest[3] != ' ' {
		return 0
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil || code < 0 {
		return 0
	}
	return code
}

// httpContentLength returns the Content-Length header's value, or -1.
func httpContentLength(header []byte) int64 {
	for _, line := range bytes.Split(header, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !strings.EqualFold(string(name), "Content-Length") {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	return -1
}

func statusAllowed(code int, codes []config.StatusRange) bool {
	for _, r := range codes {
		if code >= r.First && code <= r.Last {
			return true
		}
	}
	return false
}
