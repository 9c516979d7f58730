package healthcheck

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

const probeTimeout = 300 * time.Millisecond

// probeOnce builds c's prober against target and runs it once.
func probeOnce(t *testing.T, c config.Check, target Target) Result {
	t.Helper()
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = probeTimeout
	}
	if c.DelayLoop == 0 {
		c.DelayLoop = time.Second
	}
	p, err := newProber(&c, target)
	if err != nil {
		t.Fatal(err)
	}
	if hp, ok := p.(*httpProber); ok {
		hp.next = 0
	}
	return p.probe(context.Background())
}

func targetOf(t *testing.T, addr net.Addr, proto vs.Protocol) Target {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return Target{Addr: ap.Addr(), Port: ap.Port(), Proto: proto}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T, network string) Target {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tg := targetOf(t, pc.LocalAddr(), vs.UDP)
		pc.Close()
		return tg
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := targetOf(t, ln.Addr(), vs.TCP)
	ln.Close()
	return tg
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go acceptAndClose(ln)
	c := config.Check{Kind: config.CheckTCP}
	if r := probeOnce(t, c, targetOf(t, ln.Addr(), vs.TCP)); !r.OK {
		t.Errorf("listening server: %+v", r)
	}
	if r := probeOnce(t, c, closedPort(t, "tcp")); r.OK || r.Err != "connection refused" {
		t.Errorf("closed port: %+v, want connection refused", r)
	}
	// connect_port overrides the server's port; bind_if must exist.
	c.ConnectPort = targetOf(t, ln.Addr(), vs.TCP).Port
	if r := probeOnce(t, c, Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: 1, Proto: vs.TCP}); !r.OK {
		t.Errorf("connect_port: %+v", r)
	}
	c.BindIf = "ulvs-no-such-if"
	if r := probeOnce(t, c, targetOf(t, ln.Addr(), vs.TCP)); r.OK {
		t.Errorf("bind_if to a missing interface succeeded")
	}
}

// rawHTTPServer answers every connection with the given bytes and
// records the requests it read.
type rawHTTPServer struct {
	ln   net.Listener
	mu   sync.Mutex
	reqs []string
}

// serveTCP listens on loopback and runs handle for each connection (with
// a 1 s deadline), until the test ends.
func serveTCP(t *testing.T, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Second))
				handle(c)
			}()
		}
	}()
	return ln
}

func newRawHTTPServer(t *testing.T, answer string) *rawHTTPServer {
	t.Helper()
	s := &rawHTTPServer{}
	s.ln = serveTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		var req strings.Builder
		for {
			line, err := br.ReadString('\n')
			req.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, req.String())
		s.mu.Unlock()
		io.WriteString(c, answer)
	})
	return s
}

func (s *rawHTTPServer) lastRequest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		return ""
	}
	return s.reqs[len(s.reqs)-1]
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestHTTPProbe(t *testing.T) {
	const body = "<html>ok</html>\n"
	ok200 := "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 16\r\n\r\n" + body
	for _, tc := range []struct {
		name    string
		answer  string
		url     config.URL
		wantOK  bool
		wantErr string
	}{
		{"200", ok200, config.URL{Path: "/health"}, true, ""},
		{"404", "HTTP/1.0 404 Not Found\r\n\r\nnope", config.URL{Path: "/health"}, false, "HTTP status 404"},
		{"404 allowed", "HTTP/1.0 404 Not Found\r\n\r\n", config.URL{Path: "/", StatusCodes: []config.StatusRange{{First: 404, Last: 404}}}, true, ""},
		{"301 outside default range", "HTTP/1.1 301 Moved\r\n\r\n", config.URL{Path: "/"}, false, "HTTP status 301"},
		{"digest good", ok200, config.URL{Path: "/", Digest: md5hex(body)}, true, ""},
		{"digest bad", ok200, config.URL{Path: "/", Digest: md5hex("other")}, false, "MD5 digest mismatch: " + md5hex(body)},
		{"digest bounded by Content-Length", "HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nabcdEXTRA", config.URL{Path: "/", Digest: md5hex("abcd")}, true, ""},
		{"no header", "", config.URL{Path: "/"}, false, "no data received"},
		{"status without reason phrase", "HTTP/1.0 200\r\n\r\n", config.URL{Path: "/"}, false, "HTTP status 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawHTTPServer(t, tc.answer)
			c := config.Check{Kind: config.CheckHTTP, URLs: []config.URL{tc.url}}
			r := probeOnce(t, c, targetOf(t, s.ln.Addr(), vs.TCP))
			if r.OK != tc.wantOK || (!tc.wantOK && r.Err != tc.wantErr) {
				t.Errorf("got %+v, want ok=%v err=%q", r, tc.wantOK, tc.wantErr)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		c := config.Check{Kind: config.CheckHTTP, URLs: []config.URL{{Path: "/"}}}
		if r := probeOnce(t, c, closedPort(t, "tcp")); r.OK {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() { // accept and say nothing
			c, err := ln.Accept()
			if err == nil {
				time.Sleep(time.Second)
				c.Close()
			}
		}()
		c := config.Check{Kind: config.CheckHTTP, URLs: []config.URL{{Path: "/"}}, ConnectTimeout: 50 * time.Millisecond}
		if r := probeOnce(t, c, targetOf(t, ln.Addr(), vs.TCP)); r.OK || r.Err != "no data received" && r.Err != "read: timeout" {
			t.Errorf("got %+v, want a read timeout", r)
		}
	})
}

func TestHTTPRequestText(t *testing.T) {
	ok := "HTTP/1.0 200 OK\r\n\r\n"
	for _, tc := range []struct {
		name  string
		check config.Check
		vhost string // the target's (virtual_server's) virtualhost
		want  string
	}{
		{"1.0, address as host", config.Check{}, "",
			"GET /p HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: ADDR\r\n\r\n"},
		{"virtual_server virtualhost", config.Check{}, "vs.example",
			"GET /p HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: vs.example\r\n\r\n"},
		{"checker virtualhost wins", config.Check{Virtualhost: "ck.example"}, "vs.example",
			"GET /p HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: ck.example\r\n\r\n"},
		{"1.1", config.Check{HTTPProtocol: "1.1"}, "",
			"GET /p HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: ADDR\r\n\r\n"},
		{"1.0C", config.Check{HTTPProtocol: "1.0C"}, "",
			"GET /p HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: ADDR\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawHTTPServer(t, ok)
			c := tc.check
			c.Kind = config.CheckHTTP
			c.URLs = []config.URL{{Path: "/p"}}
			tg := targetOf(t, s.ln.Addr(), vs.TCP)
			tg.Virtualhost = tc.vhost
			if r := probeOnce(t, c, tg); !r.OK {
				t.Fatalf("probe: %+v", r)
			}
			want := strings.ReplaceAll(tc.want, "ADDR", s.ln.Addr().String())
			if got := s.lastRequest(); got != want {
				t.Errorf("request\n%q\nwant\n%q", got, want)
			}
		})
	}
	t.Run("url virtualhost wins", func(t *testing.T) {
		s := newRawHTTPServer(t, ok)
		c := config.Check{Kind: config.CheckHTTP, Virtualhost: "ck.example", URLs: []config.URL{{Path: "/", Virtualhost: "url.example"}}}
		if r := probeOnce(t, c, targetOf(t, s.ln.Addr(), vs.TCP)); !r.OK {
			t.Fatalf("probe: %+v", r)
		}
		if got := s.lastRequest(); !strings.Contains(got, "Host: url.example\r\n") {
			t.Errorf("request %q", got)
		}
	})
}

func TestSSLProbe(t *testing.T) {
	var mu sync.Mutex
	var sni []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "fine")
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		sni = append(sni, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	tg := targetOf(t, srv.Listener.Addr(), vs.TCP)
	c := config.Check{Kind: config.CheckSSL, HTTPProtocol: "1.1", URLs: []config.URL{{Path: "/health", Digest: md5hex("fine")}}}
	if r := probeOnce(t, c, tg); !r.OK {
		t.Errorf("SSL_GET: %+v", r)
	}
	c.URLs[0].Path = "/missing"
	c.URLs[0].Digest = ""
	if r := probeOnce(t, c, tg); r.OK || r.Err != "HTTP status 404" {
		t.Errorf("SSL_GET of a missing page: %+v", r)
	}
	c.URLs[0].Path = "/health"
	c.EnableSNI = true
	c.Virtualhost = "www.example"
	if r := probeOnce(t, c, tg); !r.OK {
		t.Errorf("SSL_GET with SNI: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "", "www.example"}; strings.Join(sni, ",") != strings.Join(want, ",") {
		t.Errorf("SNI sent %q, want %q", sni, want)
	}
	// A plain HTTP server is not an SSL_GET success.
	s := newRawHTTPServer(t, "HTTP/1.0 200 OK\r\n\r\n")
	if r := probeOnce(t, config.Check{Kind: config.CheckSSL, URLs: []config.URL{{Path: "/"}}}, targetOf(t, s.ln.Addr(), vs.TCP)); r.OK {
		t.Error("SSL_GET against plain HTTP succeeded")
	}
}

// smtpServer speaks the given greeting and HELO answer.
func smtpServer(t *testing.T, greeting, heloAnswer string) (Target, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	ln := serveTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		io.WriteString(c, greeting)
		for _, answer := range []string{heloAnswer, "221 bye\r\n"} {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, line)
			mu.Unlock()
			io.WriteString(c, answer)
		}
	})
	return targetOf(t, ln.Addr(), vs.TCP), &got
}

func TestSMTPProbe(t *testing.T) {
	tg, got := smtpServer(t, "220 mail.example ESMTP\r\n", "250 hello\r\n")
	c := config.Check{Kind: config.CheckSMTP}
	if r := probeOnce(t, c, tg); !r.OK {
		t.Errorf("good server: %+v", r)
	}
	if want := "HELO smtpchecker.keepalived.org\r\n,QUIT\r\n"; strings.Join(*got, ",") != want {
		t.Errorf("server read %q, want %q", *got, want)
	}
	pair := func(tg Target) string { return "[" + tg.Addr.String() + "]:" + strconv.Itoa(int(tg.Port)) }
	tg2, _ := smtpServer(t, "554 go away\r\n", "250 hello\r\n")
	if r := probeOnce(t, c, tg2); r.Err != "Bad greeting banner from server "+pair(tg2) {
		t.Errorf("bad greeting: %+v", r)
	}
	tg3, _ := smtpServer(t, "220 hi\r\n", "500 what\r\n")
	if r := probeOnce(t, c, tg3); r.Err != "Bad HELO response from server "+pair(tg3) {
		t.Errorf("bad HELO answer: %+v", r)
	}
	closed := closedPort(t, "tcp")
	if r := probeOnce(t, c, closed); r.Err != "Error connecting to server "+pair(closed) {
		t.Errorf("closed port: %+v", r)
	}
	c.HeloName = "director.example"
	tg4, got4 := smtpServer(t, "220 hi\r\n", "250 ok\r\n")
	if r := probeOnce(t, c, tg4); !r.OK || !strings.HasPrefix(strings.Join(*got4, ""), "HELO director.example\r\n") {
		t.Errorf("helo_name: %+v, server read %q", r, *got4)
	}
}

// dnsServer answers each query with what answer returns (nil: silence).
func dnsServer(t *testing.T, answer func(q []byte) [][]byte) Target {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, m := range answer(append([]byte(nil), buf[:n]...)) {
				pc.WriteTo(m, from)
			}
		}
	}()
	return targetOf(t, pc.LocalAddr(), vs.UDP)
}

// dnsReply turns a query into a response with rcode and the id changed
// by idDelta.
func dnsReply(q []byte, rcode uint16, idDelta uint16) []byte {
	m := append([]byte(nil), q...)
	binary.BigEndian.PutUint16(m, binary.BigEndian.Uint16(m)+idDelta)
	flags := binary.BigEndian.Uint16(m[2:])
	binary.BigEndian.PutUint16(m[2:], flags|dnsFlagQR|rcode)
	return m
}

func TestDNSProbe(t *testing.T) {
	var mu sync.Mutex
	var seen [][]byte
	good := dnsServer(t, func(q []byte) [][]byte {
		mu.Lock()
		seen = append(seen, q)
		mu.Unlock()
		// A stray answer with another id and a query echo come first.
		return [][]byte{dnsReply(q, 0, 1), q, dnsReply(q, 0, 0)}
	})
	c := config.Check{Kind: config.CheckDNS, DNSType: "A", DNSName: "www.example.com"}
	if r := probeOnce(t, c, good); !r.OK {
		t.Errorf("good server: %+v", r)
	}
	mu.Lock()
	q := seen[0]
	mu.Unlock()
	wantQ := []byte("\x03www\x07example\x03com\x00\x00\x01\x00\x01")
	if len(q) != 12+len(wantQ) || string(q[12:]) != string(wantQ) || binary.BigEndian.Uint16(q[2:]) != dnsFlagRD || binary.BigEndian.Uint16(q[4:]) != 1 {
		t.Errorf("query % x", q)
	}
	// Defaults: SOA of the root.
	if r := probeOnce(t, config.Check{Kind: config.CheckDNS}, good); !r.OK {
		t.Errorf("default query: %+v", r)
	}
	mu.Lock()
	if got := string(seen[1][12:]); got != "\x00\x00\x06\x00\x01" {
		t.Errorf("default question % x", got)
	}
	mu.Unlock()

	servfail := dnsServer(t, func(q []byte) [][]byte { return [][]byte{dnsReply(q, 2, 0)} })
	if r := probeOnce(t, c, servfail); r.Err != "read error occurred. (rcode = 2)" {
		t.Errorf("SERVFAIL: %+v", r)
	}
	silent := dnsServer(t, func([]byte) [][]byte { return nil })
	c.ConnectTimeout = 50 * time.Millisecond
	if r := probeOnce(t, c, silent); r.Err != "read timeout from socket" {
		t.Errorf("silent server: %+v", r)
	}
	if r := probeOnce(t, c, closedPort(t, "udp")); r.Err != "failed to read socket; errno 111 (Connection refused)" {
		t.Errorf("closed port: %+v", r)
	}
}

func TestUDPProbe(t *testing.T) {
	echo := dnsServer(t, func(q []byte) [][]byte { return [][]byte{q} })
	silent := dnsServer(t, func([]byte) [][]byte { return nil })
	closed := closedPort(t, "udp")
	to := 50 * time.Millisecond
	for _, tc := range []struct {
		name   string
		check  config.Check
		target Target
		wantOK bool
	}{
		{"echo", config.Check{}, echo, true},
		{"silence is success", config.Check{}, silent, true},
		{"port unreachable", config.Check{}, closed, false},
		{"require_reply, silence", config.Check{RequireReply: true}, silent, false},
		{"require_reply, echo", config.Check{RequireReply: true, Payload: []byte("hello")}, echo, true},
		{"reply too short", config.Check{RequireReply: true, Payload: []byte("hi"), MinReplyLength: 3}, echo, false},
		{"reply too long", config.Check{RequireReply: true, Payload: []byte("hello"), MaxReplyLength: 4}, echo, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.check
			c.Kind = config.CheckUDP
			c.ConnectTimeout = to
			if r := probeOnce(t, c, tc.target); r.OK != tc.wantOK {
				t.Errorf("got %+v, want ok=%v", r, tc.wantOK)
			}
		})
	}
}

func TestPingProbe(t *testing.T) {
	lo := Target{Addr: netip.MustParseAddr("127.0.0.1"), Proto: vs.TCP}
	c := config.Check{Kind: config.CheckPing}
	r := probeOnce(t, c, lo)
	if !r.OK && strings.Contains(r.Err, "ICMP socket") {
		t.Skipf("no ICMP socket here: %v", r.Err)
	}
	if !r.OK {
		t.Errorf("ping 127.0.0.1: %+v", r)
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil { // IPv6 is on
		ln.Close()
		if r := probeOnce(t, c, Target{Addr: netip.IPv6Loopback(), Proto: vs.TCP}); !r.OK {
			t.Errorf("ping ::1: %+v", r)
		}
	}
	c.BindIf = "ulvs-no-such-if"
	if r := probeOnce(t, c, lo); r.OK {
		t.Error("ping bound to a missing interface succeeded")
	}
}

func TestICMPMatching(t *testing.T) {
	reply := icmpEcho(false, 7, 9)
	reply[0] = icmpEchoReply
	ip := make([]byte, 20)
	ip[0] = 0x45
	raw := append(ip, reply...)
	for _, tc := range []struct {
		name string
		m    []byte
		raw  bool
		want bool
	}{
		{"datagram reply", reply, false, true},
		{"raw reply with IP header", raw, true, true},
		{"raw, other id", append(append([]byte(nil), ip...), icmpEchoWith(icmpEchoReply, 8, 9)...), true, false},
		{"other sequence", icmpEchoWith(icmpEchoReply, 7, 10), false, false},
		{"our own request", icmpEcho(false, 7, 9), false, false},
		{"short", reply[:4], false, false},
	} {
		if got := icmpIsReply(tc.m, false, tc.raw, 7, 9); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if icmpChecksum(icmpEcho(false, 7, 9)) != 0 {
		t.Error("echo request checksum does not verify")
	}
}

func icmpEchoWith(typ byte, id, seq uint16) []byte {
	m := icmpEcho(false, id, seq)
	m[0] = typ
	return m
}

// lineServer answers each TCP connection with greeting and then reads
// what the client sends.
func lineServer(t *testing.T, greeting string) Target {
	t.Helper()
	ln := serveTCP(t, func(c net.Conn) {
		io.WriteString(c, greeting)
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		io.Copy(io.Discard, c)
	})
	return targetOf(t, ln.Addr(), vs.TCP)
}

func TestNannyProbe(t *testing.T) {
	ftp := lineServer(t, "220 (vsFTPd 3.0.3)\r\n")
	web := newRawHTTPServer(t, "HTTP/1.0 200 OK\r\n\r\nhi")
	webT := targetOf(t, web.ln.Addr(), vs.TCP)
	echo := dnsServer(t, func(q []byte) [][]byte { return [][]byte{q} })
	to := 200 * time.Millisecond
	for _, tc := range []struct {
		name   string
		check  config.Check
		target Target
		wantOK bool
	}{
		{"ftp quit/220", config.Check{Send: "quit\r\n", Expect: "220"}, ftp, true},
		{"ftp wrong expect", config.Check{Send: "quit\r\n", Expect: "HTTP"}, ftp, false},
		{"http GET/HTTP", config.Check{Send: "GET / HTTP/1.0\r\n\r\n", Expect: "HTTP"}, webT, true},
		{"regex", config.Check{Send: "quit\r\n", Expect: "^2[0-9]{2} \\(vsFTPd", UseRegex: true}, ftp, true},
		{"regex no match", config.Check{Expect: "^5", UseRegex: true}, ftp, false},
		{"wildcard", config.Check{Expect: "*"}, ftp, true},
		{"connect only", config.Check{}, ftp, true},
		{"refused", config.Check{}, closedPort(t, "tcp"), false},
		{"udp echo", config.Check{Proto: vs.UDP, Send: "ping", Expect: "ping"}, echo, true},
		{"udp unreachable", config.Check{Proto: vs.UDP, Send: "ping"}, closedPort(t, "udp"), false},
		{"send_program %h", config.Check{SendProgram: "/bin/echo %h", Expect: "127.0.0.1"}, ftp, true},
		{"send_program other output", config.Check{SendProgram: "/bin/echo nope", Expect: "127.0.0.1"}, ftp, false},
		{"send_program regex, %p", config.Check{SendProgram: "/bin/echo up %p", Expect: "^up [0-9]+$", UseRegex: true}, ftp, true},
		{"send_program tokens only", config.Check{SendProgram: "/bin/echo up:%p", Expect: "^up:[0-9]+$", UseRegex: true}, ftp, false},
		{"send_program fails", config.Check{SendProgram: "/bin/false", Expect: ""}, ftp, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.check
			c.Kind = config.CheckNanny
			c.Timeout = to
			if c.SendProgram == "/bin/false" {
				c.Expect = "x"
			}
			if r := probeOnce(t, c, tc.target); r.OK != tc.wantOK {
				t.Errorf("got %+v, want ok=%v", r, tc.wantOK)
			}
		})
	}
}
