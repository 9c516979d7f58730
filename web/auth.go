package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"sync"
	"time"
)

// Session lifetimes: a session ends after IdleTimeout without a request,
// and after MaxSessionAge in any case.
const (
	IdleTimeout   = 30 * time.Minute
	MaxSessionAge = 12 * time.Hour
)

// LoginLimit failed logins from one client address within LoginWindow
// make that address wait until the window has passed.
const (
	LoginLimit  = 5
	LoginWindow = time.Minute
)

// maxSessions bounds the session table (a flood of logins cannot grow it
// without end); the oldest session goes first.
const maxSessions = 1024

const (
	sessionCookie = "ulvs_session"
	loginCookie   = "ulvs_login" // the login form's CSRF token (double submit)
)

type session struct {
	user    string
	role    Role
	csrf    string
	created time.Time
	seen    time.Time
}

// sessions is the session table. Safe for concurrent use.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	now func() time.Time
}

func newToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *sessions) create(name string, role Role) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*session{}
	}
	now := s.now()
	if len(s.m) >= maxSessions {
		var oldest string
		for id, se := range s.m {
			if oldest == "" || se.seen.Before(s.m[oldest].seen) {
				oldest = id
			}
		}
		delete(s.m, oldest)
	}
	id := newToken()
	se := &session{user: name, role: role, csrf: newToken(), created: now, seen: now}
	s.m[id] = se
	return id, se
}

// get returns the live session of id and marks it used, or nil.
func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[id]
	if se == nil {
		return nil
	}
	now := s.now()
	if now.Sub(se.seen) > IdleTimeout || now.Sub(se.created) > MaxSessionAge {
		delete(s.m, id)
		return nil
	}
	se.seen = now
	cp := *se
	return &cp
}

// alive reports whether id is a live session, without marking it used
// (a live stream must not keep an idle session open).
func (s *sessions) alive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[id]
	now := s.now()
	return se != nil && now.Sub(se.seen) <= IdleTimeout && now.Sub(se.created) <= MaxSessionAge
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// limiter counts failed logins per client address. Safe for concurrent
// use.
type limiter struct {
	mu    sync.Mutex
	fails map[string]*failures
	now   func() time.Time
}

type failures struct {
	n     int
	start time.Time
}

// wait returns how long addr must wait before its next attempt (0: may
// try now).
func (l *limiter) wait(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fails[addr]
	if f == nil {
		return 0
	}
	left := LoginWindow - l.now().Sub(f.start)
	if left <= 0 {
		delete(l.fails, addr)
		return 0
	}
	if f.n >= LoginLimit {
		return left
	}
	return 0
}

func (l *limiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fails == nil {
		l.fails = map[string]*failures{}
	}
	now := l.now()
	if len(l.fails) > 65536 { // forget expired windows under a flood
		for a, f := range l.fails {
			if now.Sub(f.start) > LoginWindow {
				delete(l.fails, a)
			}
		}
	}
	f := l.fails[addr]
	if f == nil || now.Sub(f.start) > LoginWindow {
		f = &failures{start: now}
		l.fails[addr] = f
	}
	f.n++
}

func (l *limiter) succeed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, addr)
}

// clientAddr is the request's peer address without the port: the rate
// limit's key. Headers such as X-Forwarded-For are not trusted.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
