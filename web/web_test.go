package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/vrrp"
	"github.com/ulvs/ulvs/vs"
)

// fakeDirector applies commands to rules as the director does (Rules.Apply)
// and lists them; safe for concurrent use.
type fakeDirector struct {
	mu       sync.Mutex
	rules    config.Rules
	applied  []config.Command
	timeouts config.Timeouts
	conns    []ctl.ConnStatus
}

func (d *fakeDirector) Apply(c config.Command) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.Op == config.OpSetTimeout {
		d.timeouts = c.Timeouts
		d.applied = append(d.applied, c)
		return nil
	}
	r := config.Rules{Services: append([]config.Service(nil), d.rules.Services...)}
	for i := range r.Services {
		r.Services[i].Dests = append([]config.Dest(nil), r.Services[i].Dests...)
	}
	if err := r.Apply(c); err != nil {
		return err
	}
	d.rules = r
	d.applied = append(d.applied, c)
	return nil
}

func (d *fakeDirector) Snapshot() ctl.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	snap := ctl.Snapshot{Timeouts: d.timeouts}
	for _, s := range d.rules.Services {
		ss := ctl.ServiceStatus{Service: s, Stats: ctl.Stats{CPS: 7, Conns: 70}}
		ss.Service.Dests = nil
		for _, dst := range s.Dests {
			ss.Dests = append(ss.Dests, ctl.DestStatus{Dest: dst, ActiveConns: 3, InactConns: 1, Stats: ctl.Stats{CPS: 3}})
		}
		snap.Services = append(snap.Services, ss)
	}
	return snap
}

func (d *fakeDirector) Conns() []ctl.ConnStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ctl.ConnStatus(nil), d.conns...)
}

func (d *fakeDirector) edits() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.applied)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// writeUsers writes a password file with cheap hashes (bcrypt.MinCost):
// admin/adminpass1 and watcher/watchpass1 (monitor).
func writeUsers(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, u := range []struct{ name, role, pw string }{{"admin", "admin", "adminpass1"}, {"watcher", "monitor", "watchpass1"}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u.pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s:%s\n", u.name, u.role, h)
	}
	path := filepath.Join(dir, "web.passwd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type env struct {
	t     *testing.T
	d     *fakeDirector
	srv   *Server
	ts    *httptest.Server
	clock *fakeClock
	saves int
	mu    sync.Mutex
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, d: &fakeDirector{}, clock: &fakeClock{now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}}
	srv, err := New(Config{Director: e.d, Users: writeUsers(t, t.TempDir()), Now: e.clock.Now, Interval: 10 * time.Millisecond,
		Save: func() (string, error) { e.mu.Lock(); e.saves++; e.mu.Unlock(); return "/etc/ulvs/ulvs.toml", nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv)
	t.Cleanup(e.ts.Close)
	return e
}

// client is a browser: a cookie jar, no redirects followed.
type client struct {
	e    *env
	hc   *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(method, path string, form url.Values) (int, string, http.Header) {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.e.ts.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b), resp.Header
}

// login logs in and returns the status of the POST.
func (c *client) login(user, pw string) int {
	c.e.t.Helper()
	c.do("GET", "/login", nil)
	st, _, _ := c.do("POST", "/login", url.Values{"csrf": {c.csrf}, "user": {user}, "password": {pw}})
	if st == http.StatusSeeOther {
		c.do("GET", "/", nil) // a page with the session's CSRF token
	}
	return st
}

// post sends form with the session's CSRF token.
func (c *client) post(path string, form url.Values) (int, string) {
	c.e.t.Helper()
	form.Set("csrf", c.csrf)
	st, body, _ := c.do("POST", path, form)
	return st, body
}

func TestLoginRequired(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, p := range []string{"/", "/virtual", "/real?svc=tcp-192.0.2.1-80", "/global", "/conns", "/events", "/checks", "/redundancy"} {
		st, _, h := c.do("GET", p, nil)
		if st != http.StatusSeeOther || h.Get("Location") != "/login" {
			t.Errorf("GET %s without a session: %d to %q, want 303 to /login", p, st, h.Get("Location"))
		}
	}
	st, _, _ := c.do("POST", "/virtual/save", url.Values{"proto": {"tcp"}})
	if st != http.StatusUnauthorized {
		t.Errorf("POST without a session: %d, want 401", st)
	}
	if e.d.edits() != 0 {
		t.Errorf("edits applied without a session")
	}
}

func TestLoginCookies(t *testing.T) {
	e := newEnv(t)
	e.srv.cfg.TLS = true // cookies must then be Secure
	c := e.client()
	c.do("GET", "/login", nil)
	st, _, h := c.do("POST", "/login", url.Values{"csrf": {c.csrf}, "user": {"admin"}, "password": {"adminpass1"}})
	if st != http.StatusSeeOther {
		t.Fatalf("login: %d, want 303", st)
	}
	var found bool
	for _, sc := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(sc, sessionCookie+"=") {
			continue
		}
		found = true
		for _, want := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
			if !strings.Contains(sc, want) {
				t.Errorf("session cookie %q lacks %s", sc, want)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie set")
	}
	if got := h.Get("Strict-Transport-Security"); got == "" {
		t.Error("no HSTS header with TLS")
	}
}

func TestWrongPasswordAndRateLimit(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for i := range LoginLimit {
		if st := c.login("admin", "wrong-password"); st != http.StatusUnauthorized {
			t.Fatalf("wrong password #%d: %d, want 401", i+1, st)
		}
	}
	if st := c.login("nobody", "whatever1"); st != http.StatusTooManyRequests {
		t.Fatalf("attempt after %d failures: %d, want 429", LoginLimit, st)
	}
	// Even the right password waits.
	if st := c.login("admin", "adminpass1"); st != http.StatusTooManyRequests {
		t.Fatalf("right password while limited: %d, want 429", st)
	}
	e.clock.Add(LoginWindow + time.Second)
	if st := c.login("admin", "adminpass1"); st != http.StatusSeeOther {
		t.Fatalf("right password after the window: %d, want 303", st)
	}
}

func TestLoginNeedsItsCSRFToken(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	// No login cookie, no token: refused even with the right password.
	st, body, _ := c.do("POST", "/login", url.Values{"user": {"admin"}, "password": {"adminpass1"}})
	if st != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("login without its token: %d, want 403 naming CSRF", st)
	}
}

func TestUnknownUserAndOversizedPassword(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	if st := c.login("nobody", "adminpass1"); st != http.StatusUnauthorized {
		t.Errorf("unknown user: %d, want 401", st)
	}
	if st := c.login("admin", strings.Repeat("x", 100)); st != http.StatusUnauthorized {
		t.Errorf("100-byte password: %d, want 401", st)
	}
	if st := c.login("bad:name", "adminpass1"); st != http.StatusUnauthorized {
		t.Errorf("malformed user name: %d, want 401", st)
	}
}

// addFixture adds TCP 192.0.2.100:80 with two real servers through the
// forms.
func addFixture(t *testing.T, c *client) {
	t.Helper()
	st, body := c.post("/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.100"}, "port": {"80"}, "scheduler": {"rr"}})
	if st != http.StatusSeeOther {
		t.Fatalf("add virtual server: %d\n%s", st, body)
	}
	for _, a := range []string{"192.0.2.11", "192.0.2.12"} {
		st, body := c.post("/real/save", url.Values{"svc": {"tcp-192.0.2.100-80"}, "addr": {a}, "weight": {"2"}, "method": {"dr"}})
		if st != http.StatusSeeOther {
			t.Fatalf("add real server %s: %d\n%s", a, st, body)
		}
	}
}

func TestEditsThroughTheForms(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	if st := c.login("admin", "adminpass1"); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	addFixture(t, c)
	r := e.d.Snapshot()
	if len(r.Services) != 1 || len(r.Services[0].Dests) != 2 || r.Services[0].Scheduler != "rr" || r.Services[0].Dests[1].Weight != 2 {
		t.Fatalf("rules after the forms: %+v", r.Services)
	}
	_, body, _ := c.do("GET", "/real?svc=tcp-192.0.2.100-80", nil)
	if !strings.Contains(body, "Added real server 192.0.2.12:80") || !strings.Contains(body, "Saved to /etc/ulvs/ulvs.toml") {
		t.Errorf("real server page lacks the flash of the last edit:\n%s", body)
	}
	_, body, _ = c.do("GET", "/", nil)
	if !strings.Contains(body, "TCP  192.0.2.100:80 rr") || !strings.Contains(body, "-&gt; 192.0.2.12:80") {
		t.Errorf("control page lacks the -L -n table:\n%s", body)
	}

	// Deactivate: weight 0; activate: weight 2 again.
	if st, _ := c.post("/real/deactivate", url.Values{"svc": {"tcp-192.0.2.100-80"}, "dest": {"192.0.2.11:80"}}); st != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", st)
	}
	if w := e.d.Snapshot().Services[0].Dests[0].Weight; w != 0 {
		t.Fatalf("weight after deactivate = %d, want 0", w)
	}
	if st, _ := c.post("/real/activate", url.Values{"svc": {"tcp-192.0.2.100-80"}, "dest": {"192.0.2.11:80"}}); st != http.StatusSeeOther {
		t.Fatalf("activate: %d", st)
	}
	if w := e.d.Snapshot().Services[0].Dests[0].Weight; w != 2 {
		t.Fatalf("weight after activate = %d, want the remembered 2", w)
	}
	// Deactivating the virtual server quiesces both; activating restores.
	c.post("/virtual/deactivate", url.Values{"svc": {"tcp-192.0.2.100-80"}})
	for _, d := range e.d.Snapshot().Services[0].Dests {
		if d.Weight != 0 {
			t.Fatalf("after virtual deactivate: %v weight %d", d.Addr, d.Weight)
		}
	}
	c.post("/virtual/activate", url.Values{"svc": {"tcp-192.0.2.100-80"}})
	for _, d := range e.d.Snapshot().Services[0].Dests {
		if d.Weight != 2 {
			t.Fatalf("after virtual activate: %v weight %d, want 2", d.Addr, d.Weight)
		}
	}
	// Edit the service in place (scheduler, persistence).
	st, body := c.post("/virtual/save", url.Values{"orig": {"tcp-192.0.2.100-80"}, "proto": {"tcp"}, "addr": {"192.0.2.100"}, "port": {"80"},
		"scheduler": {"wlc"}, "persistent": {"on"}, "timeout": {"600"}, "netmask": {"255.255.255.0"}})
	if st != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", st, body)
	}
	s := e.d.Snapshot().Services[0]
	if s.Scheduler != "wlc" || !s.Persistent || s.Timeout != 600 || s.Netmask != netip.MustParseAddr("255.255.255.0") || len(s.Dests) != 2 {
		t.Fatalf("after edit: %+v", s)
	}
	// Move it to port 8080: the real servers follow.
	st, body = c.post("/virtual/save", url.Values{"orig": {"tcp-192.0.2.100-80"}, "proto": {"tcp"}, "addr": {"192.0.2.100"}, "port": {"8080"}, "scheduler": {"wlc"}})
	if st != http.StatusSeeOther {
		t.Fatalf("move: %d\n%s", st, body)
	}
	snap := e.d.Snapshot()
	if len(snap.Services) != 1 || snap.Services[0].Port != 8080 || len(snap.Services[0].Dests) != 2 {
		t.Fatalf("after move: %+v", snap.Services)
	}
	// Edit a real server: weight and method.
	st, body = c.post("/real/save", url.Values{"svc": {"tcp-192.0.2.100-8080"}, "orig": {"192.0.2.12:80"}, "addr": {"192.0.2.12"}, "port": {"80"}, "weight": {"5"}, "method": {"nat"}})
	if st != http.StatusSeeOther {
		t.Fatalf("edit real: %d\n%s", st, body)
	}
	d := e.d.Snapshot().Services[0].Dests[1]
	if d.Weight != 5 || d.Method != vs.Masq {
		t.Fatalf("after edit real: %+v", d)
	}
	// Delete the real server, then the service.
	c.post("/real/delete", url.Values{"svc": {"tcp-192.0.2.100-8080"}, "dest": {"192.0.2.12:80"}})
	if n := len(e.d.Snapshot().Services[0].Dests); n != 1 {
		t.Fatalf("after delete real: %d real servers", n)
	}
	c.post("/virtual/delete", url.Values{"svc": {"tcp-192.0.2.100-8080"}})
	if n := len(e.d.Snapshot().Services); n != 0 {
		t.Fatalf("after delete: %d services", n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.saves < 10 {
		t.Errorf("saved %d times, want once per edit", e.saves)
	}
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("admin", "adminpass1")
	form := url.Values{"proto": {"tcp"}, "addr": {"192.0.2.100"}, "port": {"80"}}
	for _, tok := range [][]string{nil, {""}, {"forged-token"}, {c.csrf, c.csrf}} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if tok != nil {
			f["csrf"] = tok
		}
		st, body, _ := c.do("POST", "/virtual/save", f)
		if st != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Errorf("csrf %q: %d, want 403 naming CSRF", tok, st)
		}
	}
	// Another session's token is no good either.
	other := e.client()
	other.login("admin", "adminpass1")
	form.Set("csrf", other.csrf)
	if st, _, _ := c.do("POST", "/virtual/save", form); st != http.StatusForbidden {
		t.Errorf("another session's token: %d, want 403", st)
	}
	if e.d.edits() != 0 {
		t.Fatalf("%d edits applied without a valid token", e.d.edits())
	}
}

func TestMonitorIsReadOnly(t *testing.T) {
	e := newEnv(t)
	admin := e.client()
	admin.login("admin", "adminpass1")
	addFixture(t, admin)
	n := e.d.edits()
	c := e.client()
	if st := c.login("watcher", "watchpass1"); st != http.StatusSeeOther {
		t.Fatalf("monitor login: %d", st)
	}
	for _, p := range []string{"/", "/virtual", "/real?svc=tcp-192.0.2.100-80", "/global", "/conns", "/checks", "/redundancy"} {
		st, body, _ := c.do("GET", p, nil)
		if st != http.StatusOK {
			t.Errorf("monitor GET %s: %d", p, st)
		}
		if strings.Contains(body, `action="/virtual/delete"`) || strings.Contains(body, `action="/real/deactivate"`) {
			t.Errorf("monitor sees edit forms on %s", p)
		}
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/virtual/save", url.Values{"proto": {"udp"}, "addr": {"192.0.2.100"}, "port": {"53"}}},
		{"/virtual/delete", url.Values{"svc": {"tcp-192.0.2.100-80"}}},
		{"/virtual/deactivate", url.Values{"svc": {"tcp-192.0.2.100-80"}}},
		{"/real/save", url.Values{"svc": {"tcp-192.0.2.100-80"}, "addr": {"192.0.2.13"}}},
		{"/real/deactivate", url.Values{"svc": {"tcp-192.0.2.100-80"}, "dest": {"192.0.2.11:80"}}},
		{"/real/delete", url.Values{"svc": {"tcp-192.0.2.100-80"}, "dest": {"192.0.2.11:80"}}},
		{"/global/timeouts", url.Values{"tcp": {"100"}}},
	} {
		st, body := c.post(tc.path, tc.form)
		if st != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("monitor POST %s: %d %q, want 403 saying read-only", tc.path, st, body)
		}
	}
	if e.d.edits() != n {
		t.Fatalf("the monitor's edits were applied")
	}
	// Logging out is allowed.
	if st, _ := c.post("/logout", url.Values{}); st != http.StatusSeeOther {
		t.Errorf("monitor logout: %d", st)
	}
	if st, _, _ := c.do("GET", "/", nil); st != http.StatusSeeOther {
		t.Errorf("GET / after logout: %d, want 303 to the login", st)
	}
}

func TestFieldValidation(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("admin", "adminpass1")
	addFixture(t, c)
	n := e.d.edits()
	long := strings.Repeat("1", MaxField+1)
	for _, tc := range []struct {
		name, path string
		form       url.Values
		field, msg string
	}{
		{"bad address", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"300.1.2.3"}, "port": {"80"}}, "addr", "not an IP address"},
		{"IPv6 link-local", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"fe80::1"}, "port": {"80"}}, "addr", "unicast"},
		{"multicast", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"224.0.0.1"}, "port": {"80"}}, "addr", "unicast"},
		{"no address", "/virtual/save", url.Values{"proto": {"tcp"}, "port": {"80"}}, "addr", "required"},
		{"port too big", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1"}, "port": {"65536"}}, "port", "from 0 to 65535"},
		{"port not a number", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1"}, "port": {"http; rm -rf /"}}, "port", "whole number"},
		{"oversized field", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1"}, "port": {long}}, "port", "too long"},
		{"control characters", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1\x00"}, "port": {"80"}}, "addr", "control characters"},
		{"repeated field", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1", "192.0.2.2"}, "port": {"80"}}, "addr", "more than once"},
		{"bad protocol", "/virtual/save", url.Values{"proto": {"sctp"}, "addr": {"192.0.2.1"}, "port": {"80"}}, "proto", "tcp, udp, fwmark or fwmark6"},
		{"unknown scheduler", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1"}, "port": {"80"}, "scheduler": {"../../etc/passwd"}}, "scheduler", "unknown scheduler"},
		{"fwmark with address", "/virtual/save", url.Values{"proto": {"fwmark"}, "fwmark": {"5"}, "addr": {"192.0.2.1"}}, "addr", "no address"},
		{"fwmark zero", "/virtual/save", url.Values{"proto": {"fwmark"}, "fwmark": {"0"}}, "fwmark", "from 1"},
		{"bad netmask", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1"}, "port": {"80"}, "persistent": {"on"}, "netmask": {"255.0.255.0"}}, "netmask", "netmask"},
		{"timeout without persistence", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1"}, "port": {"80"}, "timeout": {"30"}}, "timeout", "needs persistence"},
		{"flags for rr", "/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1"}, "port": {"80"}, "schedflags": {"sh-port"}}, "schedflags", "sh and mh"},
		{"weight negative", "/real/save", url.Values{"svc": {"tcp-192.0.2.100-80"}, "addr": {"192.0.2.13"}, "weight": {"-1"}}, "weight", "whole number"},
		{"weight too big", "/real/save", url.Values{"svc": {"tcp-192.0.2.100-80"}, "addr": {"192.0.2.13"}, "weight": {"65536"}}, "weight", "65535"},
		{"bad method", "/real/save", url.Values{"svc": {"tcp-192.0.2.100-80"}, "addr": {"192.0.2.13"}, "method": {"bridge"}}, "method", "dr, nat, tun or fullnat"},
		{"thresholds", "/real/save", url.Values{"svc": {"tcp-192.0.2.100-80"}, "addr": {"192.0.2.13"}, "uthreshold": {"5"}, "lthreshold": {"9"}}, "lthreshold", "upper threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := c.post(tc.path, tc.form)
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422\n%s", st, body)
			}
			re := regexp.MustCompile(`<span class="field-error" id="err-` + tc.field + `">([^<]*)</span>`)
			m := re.FindStringSubmatch(body)
			if m == nil || !strings.Contains(m[1], tc.msg) {
				t.Fatalf("no message containing %q next to field %s (got %q)", tc.msg, tc.field, m)
			}
		})
	}
	// Refusals by the director are shown, not ignored.
	st, body := c.post("/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"192.0.2.100"}, "port": {"80"}})
	if st != http.StatusConflict || !strings.Contains(body, "service already exists") {
		t.Errorf("duplicate service: %d, want 409 with the director's refusal\n%s", st, body)
	}
	// Malformed ids.
	for _, id := range []string{"", "tcp-1.2.3.4", "tcp-1.2.3.4-80-1", "fwm-0", "fwm-01", "tcp-::01-80", "tcp-::ffff:1.2.3.4-80", strings.Repeat("a", 500)} {
		st, _ := c.post("/virtual/delete", url.Values{"svc": {id}})
		if st != http.StatusBadRequest {
			t.Errorf("delete svc=%q: %d, want 400", id, st)
		}
	}
	if st, _ := c.post("/real/delete", url.Values{"svc": {"tcp-192.0.2.100-80"}, "dest": {"192.0.2.99:80"}}); st != http.StatusNotFound {
		t.Errorf("delete of an unknown real server: %d, want 404", st)
	}
	if e.d.edits() != n {
		t.Fatalf("refused forms changed the rules")
	}
}

func TestOversizedBody(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("admin", "adminpass1")
	form := url.Values{"proto": {"tcp"}, "addr": {"192.0.2.1"}, "port": {"80"}, "junk": {strings.Repeat("x", MaxBody)}}
	st, _ := c.post("/virtual/save", form)
	if st != http.StatusBadRequest {
		t.Fatalf("body over %d bytes: %d, want 400", MaxBody, st)
	}
	if e.d.edits() != 0 {
		t.Fatal("an oversized body was applied")
	}
}

func TestTimeouts(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("admin", "adminpass1")
	if st, _ := c.post("/global/timeouts", url.Values{"tcp": {"900"}, "tcpfin": {"0"}, "udp": {"60"}}); st != http.StatusSeeOther {
		t.Fatalf("set timeouts: %d", st)
	}
	if got := e.d.Snapshot().Timeouts; got != (config.Timeouts{TCP: 900, UDP: 60}) {
		t.Fatalf("timeouts = %+v", got)
	}
	if st, body := c.post("/global/timeouts", url.Values{"tcp": {"abc"}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "whole number") {
		t.Fatalf("bad timeout: %d", st)
	}
}

func TestEventsStream(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("admin", "adminpass1")
	addFixture(t, c)
	req, _ := http.NewRequest("GET", e.ts.URL+"/events", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 1024)
	for !strings.Contains(string(buf), "\n\n") {
		n, err := resp.Body.Read(tmp)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, buf)
		}
		buf = append(buf, tmp[:n]...)
	}
	ev := string(buf)
	for _, want := range []string{"event: stats\n", `"id":"tcp-192.0.2.100-80"`, `"cps":7`, `"id":"192.0.2.11:80"`, `"active":3`, `"table":"IP Virtual Server`} {
		if !strings.Contains(ev, want) {
			t.Errorf("event lacks %s:\n%s", want, ev)
		}
	}
}

func TestConnsFilter(t *testing.T) {
	e := newEnv(t)
	e.d.conns = []ctl.ConnStatus{
		{Proto: vs.TCP, Client: netip.MustParseAddrPort("10.0.0.5:40000"), Virtual: netip.MustParseAddrPort("192.0.2.100:80"), Dest: netip.MustParseAddrPort("192.0.2.11:80"), State: "ESTABLISHED", Expires: 890},
		{Proto: vs.TCP, Client: netip.MustParseAddrPort("10.0.1.6:40001"), Virtual: netip.MustParseAddrPort("192.0.2.100:80"), Dest: netip.MustParseAddrPort("192.0.2.12:80"), State: "TIME_WAIT", Expires: 100},
	}
	c := e.client()
	c.login("watcher", "watchpass1")
	for _, tc := range []struct {
		q    string
		want []string
		not  []string
	}{
		{"", []string{"10.0.0.5:40000", "10.0.1.6:40001"}, nil},
		{"?client=10.0.0.0/24", []string{"10.0.0.5:40000"}, []string{"10.0.1.6"}},
		{"?server=192.0.2.12", []string{"10.0.1.6:40001"}, []string{"10.0.0.5"}},
		{"?state=ESTABLISHED", []string{"10.0.0.5:40000"}, []string{"10.0.1.6"}},
		{"?server=192.0.2.11:81", nil, []string{"10.0.0.5", "10.0.1.6"}},
	} {
		st, body, _ := c.do("GET", "/conns"+tc.q, nil)
		if st != http.StatusOK {
			t.Errorf("%s: %d", tc.q, st)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: lacks %s", tc.q, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(body, w) {
				t.Errorf("%s: shows %s", tc.q, w)
			}
		}
	}
	if st, _, _ := c.do("GET", "/conns?state=BOGUS&client=x", nil); st != http.StatusUnprocessableEntity {
		t.Errorf("bad filter: %d, want 422", st)
	}
}

func TestSessionExpires(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("admin", "adminpass1")
	if st, _, _ := c.do("GET", "/", nil); st != http.StatusOK {
		t.Fatalf("GET /: %d", st)
	}
	e.clock.Add(IdleTimeout + time.Second)
	if st, _, _ := c.do("GET", "/", nil); st != http.StatusSeeOther {
		t.Fatalf("GET / after the idle timeout: %d, want 303 to login", st)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	_, _, h := e.client().do("GET", "/login", nil)
	for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if h.Get(k) == "" {
			t.Errorf("no %s header", k)
		}
	}
}

func TestPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "web.passwd")
	if err := SetPassword(path, "alice", RoleMonitor, "short"); err == nil {
		t.Error("a 5-character password was accepted")
	}
	if err := setPassword(path, "alice", RoleMonitor, "alicepass1", bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	if err := SetPassword(path, "bob", RoleAdmin, "bobpass123"); err != nil {
		t.Fatal(err)
	}
	if err := setPassword(path, "alice", RoleAdmin, "alicepass2", bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	us, err := readUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].name != "alice" || us[0].role != RoleAdmin || !bcryptOK(us[0].hash, "alicepass2") || bcryptOK(us[0].hash, "alicepass1") {
		t.Fatalf("users: %+v", us)
	}
	if cost, _ := bcrypt.Cost(us[1].hash); cost != BcryptCost {
		t.Errorf("bcrypt cost %d, want %d", cost, BcryptCost)
	}
	os.Chmod(path, 0o644)
	if _, err := readUsers(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable password file: %v, want a refusal", err)
	}
	if _, err := New(Config{Director: &fakeDirector{}, Users: filepath.Join(t.TempDir(), "none")}); err == nil || !strings.Contains(err.Error(), "ulvs passwd") {
		t.Errorf("New without a password file: %v, want the ulvs passwd hint", err)
	}
}

func TestSchedSimulator(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("watcher", "watchpass1") // a read-only user may simulate: nothing live changes
	st, body, _ := c.do("GET", "/sched?sched=wrr&servers=A:4+B:3+C:2&n=18", nil)
	if st != http.StatusOK {
		t.Fatalf("simulate: %d\n%s", st, body)
	}
	// The same picks as `ulvs sched -s wrr -r A:4 -r B:3 -r C:2 -n 18`.
	want := strings.Fields("C B A A B A C B A C B A A B A C B A")
	m := regexp.MustCompile(`(?s)<ol class="picks" id="sched-picks">(.*?)</ol>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no picks on the page:\n%s", body)
	}
	got := regexp.MustCompile(`<li>([^<]*)</li>`).FindAllStringSubmatch(m[1], -1)
	if len(got) != len(want) {
		t.Fatalf("%d picks, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i][1] != want[i] {
			t.Fatalf("pick %d: %s, want %s (all: %v)", i+1, got[i][1], want[i], got)
		}
	}
	if !strings.Contains(body, `<td>A</td><td class="num">4</td><td class="num">8</td>`) {
		t.Errorf("result table lacks A weight 4 picks 8")
	}
	for _, tc := range []struct{ q, field, msg string }{
		{"sched=nope&servers=A&n=3", "sched", "one of"},
		{"sched=rr&servers=&n=3", "servers", "at least one"},
		{"sched=rr&servers=A:x&n=3", "servers", "whole number"},
		{"sched=rr&servers=A+A&n=3", "servers", "twice"},
		{"sched=rr&servers=" + strings.Repeat("A", 40) + "&n=3", "servers", "a server is a name"},
		{"sched=rr&servers=A&n=501", "n", "from 1 to 500"},
		{"sched=rr&servers=A&n=1&clients=-1", "clients", "whole number"},
	} {
		st, body, _ := c.do("GET", "/sched?"+tc.q, nil)
		re := regexp.MustCompile(`<span class="field-error" id="err-` + tc.field + `">([^<]*)</span>`)
		if m := re.FindStringSubmatch(body); st != http.StatusUnprocessableEntity || m == nil || !strings.Contains(m[1], tc.msg) {
			t.Errorf("%s: %d %v, want 422 with %q next to %s", tc.q, st, m, tc.msg, tc.field)
		}
	}
}

// statusDirector is a fakeDirector whose snapshot carries health checks
// and a failover instance.
type statusDirector struct{ fakeDirector }

func (d *statusDirector) Snapshot() ctl.Snapshot {
	snap := d.fakeDirector.Snapshot()
	svc := config.ServiceKey{Proto: vs.TCP, Addr: netip.MustParseAddr("192.0.2.100"), Port: 80}
	snap.Checks = []healthcheck.VirtualStatus{{Service: svc, Reals: []healthcheck.RealStatus{
		{Addr: netip.MustParseAddr("192.0.2.11"), Port: 80, Alive: false, Weight: 1, Checks: []healthcheck.CheckStatus{
			{Kind: "HTTP_GET", Addr: netip.MustParseAddr("192.0.2.11"), Port: 80, HasRun: true, ConsecutiveFailures: 3,
				Last: healthcheck.Result{Err: "HTTP status 503", At: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}}}},
	}}}
	snap.HA = []vrrp.Status{{Name: "VI_1", Interface: "eth0", VRID: 51, State: vrrp.StateBackup, Priority: 100, EffectivePriority: 100,
		MasterAddr: netip.MustParseAddr("192.0.2.3"), MasterPriority: 150, Reason: "higher priority advert"}}
	return snap
}

func TestStatusPages(t *testing.T) {
	d := &statusDirector{}
	srv, err := New(Config{Director: d, Users: writeUsers(t, t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, d: &d.fakeDirector, srv: srv, ts: httptest.NewServer(srv)}
	t.Cleanup(e.ts.Close)
	c := e.client()
	c.login("watcher", "watchpass1")
	for _, p := range []string{"/", "/checks"} {
		_, body, _ := c.do("GET", p, nil)
		for _, want := range []string{"HTTP_GET 192.0.2.11:80", "failed: HTTP status 503", "<strong>DOWN</strong>"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", p, want)
			}
		}
	}
	for _, p := range []string{"/", "/redundancy"} {
		_, body, _ := c.do("GET", p, nil)
		for _, want := range []string{"VI_1", "BACKUP", "192.0.2.3", "higher priority advert"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", p, want)
			}
		}
	}
	_, body, _ := c.do("GET", "/redundancy", nil)
	if !strings.Contains(body, `id="file-readonly"`) || !strings.Contains(body, "without a configuration file") {
		t.Error("the redundancy page does not say why it offers no form")
	}
}

// TestTLS serves the console over TLS with a self-signed certificate: the
// session cookie is Secure.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	srv, err := New(Config{Director: &fakeDirector{}, Users: writeUsers(t, dir), TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, srv, certFile, keyFile) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "https://" + ln.Addr().String()
	resp, err := hc.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := csrfRE.FindSubmatch(b)
	if tok == nil {
		t.Fatal("no login token")
	}
	resp, err = hc.PostForm(base+"/login", url.Values{"csrf": {string(tok[1])}, "user": {"admin"}, "password": {"adminpass1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.TLS == nil {
		t.Fatalf("login over TLS: %d", resp.StatusCode)
	}
	var secure bool
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			secure = c.Secure && c.HttpOnly && c.SameSite == http.SameSiteStrictMode
		}
	}
	if !secure {
		t.Errorf("session cookie over TLS is not Secure, HttpOnly, SameSite=Strict: %v", resp.Cookies())
	}
	// Plain HTTP on the TLS port gets no page.
	if resp, err := http.Get("http://" + ln.Addr().String() + "/login"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "login-form") {
			t.Error("the TLS port served the login page over plain HTTP")
		}
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ulvs test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "web.crt"), filepath.Join(dir, "web.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}
