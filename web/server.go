package web

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
)

// Director is what the console needs of the daemon: the edit API
// ulvsadm's requests take, and its listings. Implementations must be safe
// for concurrent use.
type Director interface {
	// Apply performs a rule edit (or --set) as ulvsadm's does.
	Apply(c config.Command) error
	// Snapshot returns the live table, counters and rates, health checks
	// and failover state.
	Snapshot() ctl.Snapshot
	// Conns lists the connections (ulvsadm -L -c).
	Conns() []ctl.ConnStatus
}

// Config configures a Server.
type Config struct {
	Director Director
	// Save writes the live rules to the configuration file (keeping the
	// previous one as a backup) and returns its path; it is called after
	// every edit. Nil means the daemon has no file (ulvsd -i): every page
	// then says that edits are live only and lost on restart.
	Save func() (string, error)
	// Files edits the settings the configuration file holds (global
	// settings, redundancy, monitoring scripts; filesettings.go). Nil
	// means the daemon has no file: those pages are read-only.
	Files FileEditor
	// Users is the password file (ulvs passwd).
	Users string
	// TLS reports that the console is served over TLS: cookies are then
	// Secure.
	TLS bool
	// ConfigPath is shown on the settings page; "" when none.
	ConfigPath string
	// Interval is the live updates' period; 0 means one second.
	Interval time.Duration
	Logger   *slog.Logger
	// Now is the clock of sessions and the login limit; nil is time.Now.
	Now func() time.Time
}

// MaxBody bounds a request body (every form is far smaller).
const MaxBody = 64 << 10

// maxStreams bounds the live-update streams served at once.
const maxStreams = 64

// maxHashing bounds the password checks run at once.
const maxHashing = 2

//go:embed assets
var assets embed.FS

// Server is the console's http.Handler. Create it with New.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	pages    map[string]*template.Template
	sessions sessions
	limit    limiter
	dummy    dummies
	streams  chan struct{}
	// hashing bounds the bcrypt comparisons run at once (each takes a
	// core for a quarter second or more): a login flood from many
	// addresses queues instead of taking every CPU.
	hashing chan struct{}

	mu sync.Mutex
	// weights remembers the weight of real servers deactivated here, so
	// that activating them brings it back.
	weights map[weightKey]int32
	flash   map[string]string // session id -> message for its next page
}

type weightKey struct {
	svc  config.ServiceKey
	dest string
}

// New checks cfg (the password file must hold a user) and returns the
// console.
func New(cfg Config) (*Server, error) {
	if cfg.Director == nil {
		return nil, errors.New("web: no director")
	}
	if cfg.Users == "" {
		cfg.Users = config.DefaultWebUsers
	}
	if _, err := readUsers(cfg.Users); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, streams: make(chan struct{}, maxStreams), hashing: make(chan struct{}, maxHashing),
		weights: map[weightKey]int32{}, flash: map[string]string{}}
	s.sessions.now, s.limit.now = cfg.Now, cfg.Now
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.post(RoleMonitor, s.logout))
	m.HandleFunc("GET /{$}", s.get(s.controlPage))
	m.HandleFunc("GET /events", s.get(s.events))
	m.HandleFunc("GET /virtual", s.get(s.virtualPage))
	m.HandleFunc("GET /virtual/edit", s.get(s.virtualEditPage))
	m.HandleFunc("POST /virtual/save", s.post(RoleAdmin, s.virtualSave))
	m.HandleFunc("POST /virtual/delete", s.post(RoleAdmin, s.virtualDelete))
	m.HandleFunc("POST /virtual/activate", s.post(RoleAdmin, s.virtualActivate(true)))
	m.HandleFunc("POST /virtual/deactivate", s.post(RoleAdmin, s.virtualActivate(false)))
	m.HandleFunc("GET /real", s.get(s.realPage))
	m.HandleFunc("GET /real/edit", s.get(s.realEditPage))
	m.HandleFunc("POST /real/save", s.post(RoleAdmin, s.realSave))
	m.HandleFunc("POST /real/delete", s.post(RoleAdmin, s.realDelete))
	m.HandleFunc("POST /real/activate", s.post(RoleAdmin, s.realActivate(true)))
	m.HandleFunc("POST /real/deactivate", s.post(RoleAdmin, s.realActivate(false)))
	m.HandleFunc("GET /global", s.get(s.globalPage))
	m.HandleFunc("POST /global/timeouts", s.post(RoleAdmin, s.setTimeouts))
	m.HandleFunc("POST /global/file", s.post(RoleAdmin, s.globalFileSave))
	m.HandleFunc("POST /global/file-timeouts", s.post(RoleAdmin, s.globalFileTimeouts))
	m.HandleFunc("POST /global/interfaces", s.post(RoleAdmin, s.globalInterfaces))
	m.HandleFunc("GET /redundancy", s.get(s.redundancyPage))
	m.HandleFunc("POST /redundancy/save", s.post(RoleAdmin, s.redundancySave))
	m.HandleFunc("POST /redundancy/vrrp", s.post(RoleAdmin, s.redundancyVRRP))
	m.HandleFunc("GET /checks", s.get(s.checksPage))
	m.HandleFunc("POST /checks/save", s.post(RoleAdmin, s.checksSave))
	m.HandleFunc("POST /checks/checker", s.post(RoleAdmin, s.checkerSave))
	m.HandleFunc("GET /conns", s.get(s.connsPage))
	m.HandleFunc("GET /sched", s.get(s.schedPage))
	s.mux = m
}

// ServeHTTP implements http.Handler: security headers on every answer,
// bounded bodies.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if s.cfg.TLS {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	s.mux.ServeHTTP(w, r)
}

// request is one authenticated request.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	id   string // session id
	sess *session
}

func (s *Server) session(r *http.Request) (string, *session) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", nil
	}
	return c.Value, s.sessions.get(c.Value)
}

// get wraps a page: without a session, off to the login page.
func (s *Server) get(h func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, se := s.session(r)
		if se == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(&request{w: w, r: r, id: id, sess: se})
	}
}

// post wraps a state change: a session, its CSRF token in the form, and
// a role at least as strong as need (RoleAdmin: admins only).
func (s *Server) post(need Role, h func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, se := s.session(r)
		if se == nil {
			http.Error(w, "not logged in (or the session expired): log in again", http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !sameToken(r.PostForm.Get("csrf"), se.csrf) || len(r.PostForm["csrf"]) != 1 {
			s.log.Warn("web: POST without a valid CSRF token refused", "path", r.URL.Path, "user", se.user, "client", clientAddr(r))
			http.Error(w, "refused: missing or wrong CSRF token (reload the page and try again)", http.StatusForbidden)
			return
		}
		if need == RoleAdmin && se.role != RoleAdmin {
			s.log.Warn("web: edit by a read-only user refused", "path", r.URL.Path, "user", se.user)
			http.Error(w, "refused: user "+se.user+" has the read-only monitor role", http.StatusForbidden)
			return
		}
		h(&request{w: w, r: r, id: id, sess: se})
	}
}

func (s *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: s.cfg.TLS, SameSite: http.SameSiteStrictMode}
}

// loginPage shows the login form, with a fresh token for the login's
// own CSRF check (a cookie and the same value in the form).
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.showLogin(w, http.StatusOK, "")
}

func (s *Server) showLogin(w http.ResponseWriter, status int, msg string) {
	tok := newToken()
	http.SetCookie(w, s.cookie(loginCookie, tok, 600))
	s.render(w, status, "login", &page{Title: "Log in", CSRF: tok, Error: msg})
}

// login checks the credentials, limited per client address.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	addr := clientAddr(r)
	if wait := s.limit.wait(addr); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
		s.log.Warn("web: login refused: too many failures", "client", addr)
		s.showLogin(w, http.StatusTooManyRequests, fmt.Sprintf("Too many failed logins from %s: wait %d s.", addr, int(wait.Seconds()+0.999)))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.showLogin(w, http.StatusBadRequest, "Bad form.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), c.Value) {
		s.showLogin(w, http.StatusForbidden, "Refused: missing or wrong CSRF token (the form expired?); try again.")
		return
	}
	name, pw := r.PostForm.Get("user"), r.PostForm.Get("password")
	select {
	case s.hashing <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	u, ok := s.check(name, pw)
	<-s.hashing
	if !ok {
		s.limit.fail(addr)
		s.log.Warn("web: failed login", "user", truncate(name, 64), "client", addr)
		s.showLogin(w, http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	s.limit.succeed(addr)
	id, _ := s.sessions.create(u.name, u.role)
	http.SetCookie(w, s.cookie(sessionCookie, id, int(MaxSessionAge/time.Second)))
	http.SetCookie(w, s.cookie(loginCookie, "", -1))
	s.log.Info("web: login", "user", u.name, "role", u.role.String(), "client", addr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// check compares the password with the user's bcrypt hash; an unknown
// user costs the same time as a known one.
func (s *Server) check(name, pw string) (user, bool) {
	us, err := readUsers(s.cfg.Users)
	if err != nil {
		s.log.Error("web: password file", "err", err)
	}
	if len(pw) > MaxPasswordLen || CheckUserName(name) != "" {
		return user{}, false
	}
	for _, u := range us {
		if u.name == name {
			return u, bcryptOK(u.hash, pw)
		}
	}
	cost := BcryptCost
	if len(us) > 0 {
		cost, _ = bcrypt.Cost(us[0].hash)
	}
	bcryptOK(s.dummy.hash(cost), pw)
	return user{}, false
}

func (s *Server) logout(q *request) {
	s.sessions.remove(q.id)
	s.mu.Lock()
	delete(s.flash, q.id)
	s.mu.Unlock()
	http.SetCookie(q.w, s.cookie(sessionCookie, "", -1))
	http.Redirect(q.w, q.r, "/login", http.StatusSeeOther)
}

// Serve serves s on ln until ctx is done; with certFile and keyFile, over
// TLS (1.2 at least).
func Serve(ctx context.Context, ln net.Listener, s *Server, certFile, keyFile string) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("web: TLS: %w", err)
		}
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		hs.Close()
	})
	defer stop()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
