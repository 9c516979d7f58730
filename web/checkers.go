package web

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// This file edits the health checkers of a keepalived.conf or a ulvs
// TOML file from the Monitoring scripts page: per checker of a real
// server, its connect_timeout, connect_port, delay_loop, retry,
// delay_before_retry, the first url's path, status_code and digest
// (HTTP_GET, SSL_GET) and misc_path and misc_timeout (MISC_CHECK). Each
// field is checked here; the file's writer (keepalived.Rewrite,
// tomlfile.RewriteSettings) writes only what changed and refuses, naming
// it, what it cannot write. misc_path is a command line the checker runs
// on the director as keepalived does (split into words, no shell); this
// process never runs it.

// Bounds of the checker fields (keepalived's own, within what the form
// takes).
const (
	maxCheckSeconds = 86400                             // delay_loop, delay_before_retry, misc_timeout
	maxConnect      = math.MaxUint32 * time.Microsecond // connect_timeout: UINT_MAX microseconds
	maxRetry        = 1_000_000
	maxStatusRanges = 16
)

// checkerForm is one checker's form.
type checkerForm struct {
	Svc, Real string // serviceID, address:port
	N         int    // index among the real server's checks
	Kind      string // keepalived's block name
	Port      bool   // has connect_port
	Timeout   bool   // has connect_timeout
	HTTP      bool   // url fields
	Misc      bool   // misc fields
	MoreURLs  int    // url blocks after the first, not edited here
	Form      map[string]string
	Errs      fieldErrors
}

// isLVSCF says whether f is a Piranha lvs.cf.
func isLVSCF(f *config.File) bool { return f != nil && f.Format == config.FormatPiranha }

// editableKind says whether the page edits checks of kind k.
func editableKind(k config.CheckKind) bool {
	return k != config.CheckNanny && k != config.CheckInvalid
}

// checkTexts are the form's fields for c, as the page shows them.
func checkTexts(c *config.Check) map[string]string {
	m := map[string]string{
		"delay_loop":         secondsText(c.DelayLoop),
		"retry":              strconv.Itoa(c.Retry),
		"delay_before_retry": secondsText(c.DelayBeforeRetry),
	}
	if c.Kind != config.CheckMisc {
		m["connect_timeout"] = secondsText(c.ConnectTimeout)
	}
	if hasPort(c.Kind) {
		m["connect_port"] = strconv.Itoa(int(c.ConnectPort))
	}
	if len(c.URLs) > 0 {
		m["url_path"], m["digest"] = c.URLs[0].Path, c.URLs[0].Digest
		m["status_code"] = config.StatusText(c.URLs[0].StatusCodes)
		if m["status_code"] == "" {
			m["status_code"] = config.StatusText(defaultStatus)
		}
	}
	if c.Kind == config.CheckMisc {
		m["misc_path"] = config.ScriptText(c.MiscPath)
		m["misc_timeout"] = strconv.Itoa(int(c.MiscTimeout / time.Second))
	}
	return m
}

var defaultStatus = []config.StatusRange{{First: config.DefaultStatusFirst, Last: config.DefaultStatusLast}}

func hasPort(k config.CheckKind) bool { return k != config.CheckMisc && k != config.CheckPing }

func secondsText(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// checkerForms are the forms of f's checkers (a keepalived.conf or a ulvs
// TOML file), the one named by form replaced by it.
func checkerForms(f *config.File, form *checkerForm) []checkerForm {
	if f == nil || isLVSCF(f) {
		return nil
	}
	var out []checkerForm
	for _, vh := range f.Health {
		for _, rh := range vh.Reals {
			for n := range rh.Checks {
				c := &rh.Checks[n]
				if !editableKind(c.Kind) {
					continue
				}
				cf := checkerForm{Svc: serviceID(vh.Service), Real: netip.AddrPortFrom(rh.Addr, rh.Port).String(), N: n, Kind: c.Kind.String(),
					Port: hasPort(c.Kind), Timeout: c.Kind != config.CheckMisc, HTTP: len(c.URLs) > 0, Misc: c.Kind == config.CheckMisc,
					Form: checkTexts(c), Errs: fieldErrors{}}
				if len(c.URLs) > 1 {
					cf.MoreURLs = len(c.URLs) - 1
				}
				if form != nil && form.Svc == cf.Svc && form.Real == cf.Real && form.N == n {
					cf.Form, cf.Errs = form.Form, form.Errs
				}
				out = append(out, cf)
			}
		}
	}
	return out
}

// checkerValues are a checker form's fields, checked.
type checkerValues struct {
	k         config.ServiceKey
	real      netip.AddrPort
	n         int
	kind      string
	texts     map[string]string // as typed (trimmed), by field
	timeout   time.Duration
	port      uint16
	delayLoop time.Duration
	retry     int
	delay     time.Duration
	path      string
	status    []config.StatusRange
	digest    string
	misc      []string
	miscTime  time.Duration
}

// checkerFields are the fields of a checker form.
var checkerFields = []string{"connect_timeout", "connect_port", "delay_loop", "retry", "delay_before_retry", "url_path", "status_code", "digest", "misc_path", "misc_timeout"}

// parseChecker reads a checker form. Only the fields present are checked
// and later applied (a form shows those of its kind).
func parseChecker(v url.Values) (*checkerValues, *checkerForm) {
	f := newForm(v)
	cf := &checkerForm{Svc: f.str("svc"), Real: f.str("real"), Kind: f.str("kind"), Form: map[string]string{}}
	cv := &checkerValues{texts: map[string]string{}, kind: cf.Kind}
	var err error
	if cv.k, err = parseServiceID(cf.Svc); err != nil {
		f.errs["svc"] = err.Error()
	}
	if cv.real, err = netip.ParseAddrPort(cf.Real); err != nil {
		f.errs["real"] = "not a real server (address:port)"
	}
	cv.n = int(f.uint("check", 0, 255, 0))
	cf.N = cv.n
	if cf.Kind == "" || !slices.ContainsFunc(checkKindNames(), func(s string) bool { return s == cf.Kind }) {
		f.errs["kind"] = "not a checker kind"
	}
	for _, name := range checkerFields {
		if _, ok := v[name]; !ok {
			continue
		}
		s := f.str(name)
		cf.Form[name], cv.texts[name] = s, s
		if f.errs[name] != "" {
			continue
		}
		switch name {
		case "connect_timeout":
			cv.timeout = f.duration(name, time.Millisecond, maxConnect)
		case "connect_port":
			cv.port = uint16(f.uint(name, 1, 65535, 0))
			if s == "" {
				f.errs[name] = "required: the port the check connects to"
			}
		case "delay_loop":
			cv.delayLoop = f.duration(name, time.Millisecond, maxCheckSeconds*time.Second)
		case "retry":
			cv.retry = int(f.uint(name, 0, maxRetry, 0))
			if s == "" {
				f.errs[name] = "required (0 for none)"
			}
		case "delay_before_retry":
			cv.delay = f.duration(name, 0, maxCheckSeconds*time.Second)
		case "misc_timeout":
			cv.miscTime = time.Duration(f.uint(name, 0, maxCheckSeconds, 0)) * time.Second
			if s == "" {
				f.errs[name] = "required: whole seconds, 0 for the delay_loop"
			}
		case "url_path":
			cv.path = s
			if !strings.HasPrefix(s, "/") || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || strings.ContainsRune(`"\#!{}'`, r) }) {
				f.errs[name] = `a URL path: starts with /, no spaces, quotes, \ # ! { }`
			}
		case "status_code":
			cv.status = f.status(name, s)
		case "digest":
			cv.digest = strings.ToLower(s)
			if s != "" && (len(s) != 32 || strings.Trim(cv.digest, "0123456789abcdef") != "") {
				f.errs[name] = "an MD5 digest: 32 hex digits, as genhash prints it (empty: not checked)"
			}
		case "misc_path":
			sc, err := config.ParseScript(s)
			switch {
			case err != nil:
				f.errs[name] = err.Error()
			case !strings.HasPrefix(sc.Argv[0], "/"):
				f.errs[name] = "the program must be an absolute path (/usr/local/bin/check ...)"
			default:
				cv.misc = sc.Argv
			}
		}
	}
	cf.Errs = f.errs
	if !f.ok() {
		return nil, cf
	}
	return cv, cf
}

func checkKindNames() []string {
	var out []string
	for k := config.CheckTCP; k < config.CheckNanny; k++ {
		out = append(out, k.String())
	}
	return out
}

// duration reads seconds (a fraction to the millisecond) in [lo, hi].
func (f *form) duration(name string, lo, hi time.Duration) time.Duration {
	s := f.str(name)
	sec, err := strconv.ParseFloat(s, 64)
	d := time.Duration(math.Round(sec*1000)) * time.Millisecond
	switch {
	case s == "":
		f.errs[name] = "required: seconds, like 3 or 0.5"
	case err != nil || math.IsNaN(sec) || math.IsInf(sec, 0) || strings.ContainsAny(s, "eExX_+"):
		f.errs[name] = "seconds, like 3 or 0.5"
	case sec < lo.Seconds() || sec > hi.Seconds():
		f.errs[name] = fmt.Sprintf("from %s to %s seconds", secondsText(lo), secondsText(hi))
	case math.Abs(d.Seconds()-sec) > 1e-9:
		f.errs[name] = "to the millisecond at most (0.001)"
	default:
		return d
	}
	return 0
}

// status reads HTTP status codes and ranges: "200 301-302" (commas too).
func (f *form) status(name, s string) []config.StatusRange {
	words := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	if len(words) == 0 {
		return defaultStatus
	}
	if len(words) > maxStatusRanges {
		f.errs[name] = fmt.Sprintf("at most %d codes or ranges", maxStatusRanges)
		return nil
	}
	var out []config.StatusRange
	for _, w := range words {
		a, b, isRange := strings.Cut(w, "-")
		if !isRange {
			b = a
		}
		lo, err1 := strconv.ParseUint(a, 10, 16)
		hi, err2 := strconv.ParseUint(b, 10, 16)
		if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
			f.errs[name] = fmt.Sprintf("%q is not an HTTP status code (100 to 599) or range (200-299)", w)
			return nil
		}
		out = append(out, config.StatusRange{First: int(lo), Last: int(hi)})
	}
	return out
}

// apply changes the checker of c the form names: each field whose text
// differs from the file's is set (so an untouched field keeps the file's
// exact value).
func (cv *checkerValues) apply(c *config.File) error {
	vh := slices.IndexFunc(c.Health, func(h config.VirtualHealth) bool { return h.Service == cv.k })
	if vh < 0 {
		return fmt.Errorf("%s has no health checks in the file", cv.k.Name())
	}
	reals := c.Health[vh].Reals
	r := slices.IndexFunc(reals, func(h config.RealHealth) bool { return netip.AddrPortFrom(h.Addr, h.Port) == cv.real })
	if r < 0 || cv.n >= len(reals[r].Checks) || reals[r].Checks[cv.n].Kind.String() != cv.kind || !editableKind(reals[r].Checks[cv.n].Kind) {
		return fmt.Errorf("real server %s of %s has no %s number %d in the file (it changed: reload the page)", cv.real, cv.k.Name(), cv.kind, cv.n+1)
	}
	ck := &reals[r].Checks[cv.n]
	old := checkTexts(ck)
	for name, text := range cv.texts {
		was, ok := old[name]
		if !ok {
			return fmt.Errorf("%s has no %s", cv.kind, name)
		}
		if text == was {
			continue
		}
		switch name {
		case "connect_timeout":
			ck.ConnectTimeout = cv.timeout
		case "connect_port":
			ck.ConnectPort = cv.port
		case "delay_loop":
			if ck.Warmup == ck.DelayLoop {
				ck.Warmup = cv.delayLoop // warmup follows delay_loop unless set
			}
			ck.DelayLoop = cv.delayLoop
		case "retry":
			ck.Retry = cv.retry
		case "delay_before_retry":
			ck.DelayBeforeRetry = cv.delay
		case "url_path":
			ck.URLs[0].Path = cv.path
		case "status_code":
			ck.URLs[0].StatusCodes = cv.status
		case "digest":
			ck.URLs[0].Digest = cv.digest
		case "misc_path":
			ck.MiscPath = cv.misc
		case "misc_timeout":
			ck.MiscTimeout = cv.miscTime
		}
	}
	return nil
}

// checkerSave is the POST of one checker's form.
func (s *Server) checkerSave(q *request) {
	cv, cf := parseChecker(q.r.PostForm)
	render := func(status int, msg string) { s.showChecks(q, status, "", nil, nil, cf, msg) }
	if st := s.fileState(); st.File == nil || isLVSCF(st.File) {
		why := st.ReadOnly
		if st.File != nil {
			why = "an lvs.cf has nanny's send/expect checks: use their forms"
		}
		render(http.StatusConflict, "NOT saved: "+why)
		return
	}
	if cv == nil {
		render(http.StatusUnprocessableEntity, "Nothing was changed: correct the fields marked below.")
		return
	}
	s.applyFile(q, fmt.Sprintf("%s of real server %s of %s changed", cv.kind, cv.real, cv.k.Name()), "/checks", cv.apply, notSaved(render))
}
