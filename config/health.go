package config

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// This file is the health-check part of the configuration model: what
// keepalived.conf's checker blocks, Piranha's nanny settings and the TOML
// file's [[virtual_server.real_server.check]] tables all say. The file
// formats fill it in with every default resolved; the healthcheck package
// runs it and turns results into rule edits.

// CheckKind is the kind of a health check. The zero value is invalid.
type CheckKind uint8

// The checker kinds, named as keepalived.conf names their blocks (nanny's
// send/expect is Piranha's).
const (
	CheckInvalid CheckKind = iota
	CheckTCP               // TCP_CHECK: a TCP connect
	CheckHTTP              // HTTP_GET
	CheckSSL               // SSL_GET: HTTP_GET over TLS
	CheckMisc              // MISC_CHECK: a program's exit code
	CheckSMTP              // SMTP_CHECK: the greeting, HELO and QUIT
	CheckDNS               // DNS_CHECK: a query and an answer
	CheckUDP               // UDP_CHECK: a datagram, and no ICMP error back
	CheckPing              // PING_CHECK: ICMP echo
	CheckNanny             // Piranha nanny: send/expect over TCP or UDP, or send_program
)

var checkKindNames = [...]string{
	CheckInvalid: "invalid",
	CheckTCP:     "TCP_CHECK",
	CheckHTTP:    "HTTP_GET",
	CheckSSL:     "SSL_GET",
	CheckMisc:    "MISC_CHECK",
	CheckSMTP:    "SMTP_CHECK",
	CheckDNS:     "DNS_CHECK",
	CheckUDP:     "UDP_CHECK",
	CheckPing:    "PING_CHECK",
	CheckNanny:   "NANNY",
}

// String returns keepalived's block name (TCP_CHECK, HTTP_GET, ...).
func (k CheckKind) String() string {
	if int(k) < len(checkKindNames) {
		return checkKindNames[k]
	}
	return "invalid"
}

// checkKindTOML are the TOML file's type names, lower case.
var checkKindTOML = [...]string{
	CheckTCP: "tcp", CheckHTTP: "http", CheckSSL: "ssl", CheckMisc: "misc",
	CheckSMTP: "smtp", CheckDNS: "dns", CheckUDP: "udp", CheckPing: "ping",
	CheckNanny: "nanny",
}

// TOMLName returns the name the TOML file uses for k ("tcp", "http", ...).
func (k CheckKind) TOMLName() string {
	if k > CheckInvalid && int(k) < len(checkKindTOML) {
		return checkKindTOML[k]
	}
	return ""
}

// CheckKindByTOMLName is the inverse of TOMLName.
func CheckKindByTOMLName(s string) (CheckKind, bool) {
	for k := CheckTCP; int(k) < len(checkKindTOML); k++ {
		if checkKindTOML[k] == s {
			return k, true
		}
	}
	return CheckInvalid, false
}

// Defaults keepalived 2.2.7 applies (keepalived.conf(5), check_*.c), used
// by every format so that a check means the same whichever file it came
// from.
const (
	DefaultDelayLoop      = 60 * time.Second // virtual_server delay_loop
	DefaultConnectTimeout = 5 * time.Second  // connect_timeout
	DefaultMiscTimeout    = 0                // misc_timeout: 0 = delay_loop
)

// Check is one checker of one real server, with every default resolved
// (ResolveHealth, resolve.go; a parser starts each check with NewCheck).
// Fields that do not apply to Kind are zero.
type Check struct {
	Kind CheckKind

	// Where to connect: ConnectIP and ConnectPort (ResolveHealth fills
	// in the real server's address and port when the file names none;
	// invalid and 0 before it), from BindTo (invalid:
	// the kernel's choice among the director's own addresses, never the
	// VIP) and BindPort (0: any). BindIf is bind_if. FwMark marks the
	// probe's packets (fwmark).
	ConnectIP   netip.Addr
	ConnectPort uint16
	BindTo      netip.Addr
	BindPort    uint16
	BindIf      string
	FwMark      uint32

	// Timing. ConnectTimeout bounds one attempt. A failing server is
	// retried Retry times, DelayBeforeRetry apart, before it is declared
	// down; DelayLoop is the interval between rounds; Warmup bounds the
	// random delay before the first round (keepalived: up to delay_loop).
	ConnectTimeout   time.Duration
	Retry            int
	DelayBeforeRetry time.Duration
	DelayLoop        time.Duration
	Warmup           time.Duration

	// HTTP_GET and SSL_GET.
	URLs         []URL
	Virtualhost  string // Host header; "" = the virtual_server's or the address
	EnableSNI    bool   // SSL_GET: send Virtualhost as SNI
	HTTPProtocol string // "1.0" (default), "1.0C", "1.1", "0.9"

	// MISC_CHECK: the program and its arguments (misc_path, split as
	// keepalived splits it), its timeout (0 = DelayLoop), whether its exit
	// code sets the weight (misc_dynamic) and the user to run it as.
	MiscPath    []string
	MiscTimeout time.Duration
	MiscDynamic bool
	User        string

	// SMTP_CHECK: the HELO name (default DefaultHeloName, keepalived's
	// SMTP_DEFAULT_HELO).
	HeloName string

	// DNS_CHECK: the query type ("SOA" default) and name ("." default).
	DNSType string
	DNSName string

	// UDP_CHECK: the payload sent, whether an answer is needed, and the
	// bounds of its length (keepalived's defaults: 0 and 255).
	Payload        []byte
	RequireReply   bool
	MinReplyLength int
	MaxReplyLength int

	// Nanny (Piranha): Send, then read and compare against Expect (a
	// regular expression when UseRegex), or run SendProgram with %h
	// replaced by the server's address and compare its output. Proto is
	// the virtual's protocol. A server is declared down after failing for
	// Timeout and back after Reentry of success (Piranha's timeout,
	// reentry). QuiesceServer is Piranha's quiesce_server: as nanny.c
	// does it, a failed server gets weight 0 instead of leaving the table
	// (inhibit_on_failure).
	Send          string
	Expect        string
	UseRegex      bool
	SendProgram   string
	Proto         vs.Protocol
	Timeout       time.Duration
	Reentry       time.Duration
	QuiesceServer bool
}

// URL is one url block of HTTP_GET/SSL_GET: the path to fetch, and what
// makes the answer good. An empty StatusCodes means 200-299 (keepalived's
// default); Digest is the MD5 of the body in hex, lower case, as genhash
// prints it ("" = not checked).
type URL struct {
	Path        string
	Digest      string
	StatusCodes []StatusRange
	Virtualhost string // per-url Host header, overriding the checker's
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ First, Last int }

// Script is a program keepalived runs: argv as keepalived splits the
// configured string (white space, quotes). It runs without a shell unless
// the first word is a shell.
type Script struct {
	Argv []string
	// Text is the string as configured, for logs and for writing back.
	Text string
}

// IsZero reports whether no script is configured.
func (s Script) IsZero() bool { return len(s.Argv) == 0 }

// SorryServer is the server a service falls back to when no real server is
// alive (keepalived's sorry_server).
type SorryServer struct {
	Addr    netip.Addr
	Port    uint16
	Method  vs.Method // sorry_server_lvs_method; 0 = the service's
	Inhibit bool      // sorry_server_inhibit: weight 0 instead of removal
}

// VirtualHealth is the health-check part of one virtual service.
type VirtualHealth struct {
	Service ServiceKey

	DelayLoop   time.Duration // default for the service's checkers
	Alpha       bool          // servers start down until their first success
	Omega       bool          // run quorum_down and notify_down when the service goes away
	Quorum      uint32        // minimum alive weight (default 1)
	Hysteresis  uint32
	QuorumUp    Script
	QuorumDown  Script
	Sorry       *SorryServer
	Virtualhost string // default Host header of the HTTP checks
	HASuspend   bool   // ha_suspend: checks only while this director is master

	Reals []RealHealth
}

// RealHealth is the health-check part of one real server of a service.
type RealHealth struct {
	Addr netip.Addr
	Port uint16
	// Inhibit is inhibit_on_failure: a down server stays with weight 0
	// instead of leaving the table.
	Inhibit    bool
	NotifyUp   Script
	NotifyDown Script
	// Checks are the server's checkers; it is up only while every one is.
	// A server without checks is always up.
	Checks []Check
}

// Global is what ulvs keeps of keepalived's global_defs.
type Global struct {
	RouterID             string
	ScriptUser           string
	EnableScriptSecurity bool
	// Others are the global_defs keywords ulvs accepts but does not act
	// on, each reported as a warning.
	Others []string
}

// Warning is a problem that does not stop a configuration from running:
// an unknown keyword, or a block this ulvs does not run.
type Warning struct {
	File string
	Line int
	Msg  string
}

// SortWarnings puts warnings of one file in line order, keeping the order
// of those on the same line; warnings about the whole file (line 0) go
// last.
func SortWarnings(ws []Warning) {
	key := func(w Warning) int {
		if w.Line == 0 {
			return math.MaxInt
		}
		return w.Line
	}
	slices.SortStableFunc(ws, func(a, b Warning) int { return cmp.Compare(key(a), key(b)) })
}

// String returns "file:line: msg".
func (w Warning) String() string {
	e := Error{File: w.File, Line: w.Line, Msg: w.Msg}
	return e.Error()
}

// ChangedHealth names a real server whose health checks differ between
// old and want (services and real servers in both), or returns "": the
// file writers that keep a file's checks as they are refuse a change
// they would not write.
func ChangedHealth(old, want []VirtualHealth) string {
	for _, w := range want {
		for _, o := range old {
			if o.Service != w.Service {
				continue
			}
			for _, wr := range w.Reals {
				for _, or := range o.Reals {
					if or.Addr == wr.Addr && or.Port == wr.Port && !reflect.DeepEqual(or, wr) {
						return fmt.Sprintf("the checks of real server %s of %s", netip.AddrPortFrom(wr.Addr, wr.Port), w.Service.Name())
					}
				}
			}
		}
	}
	return ""
}

// CheckWithoutEdits returns c without the settings the web console edits
// on the Monitoring scripts page of a keepalived.conf or a ulvs TOML file
// (connect_timeout, connect_port, delay_loop and the warmup that follows
// it, retry, delay_before_retry, the first url's path, status_code and
// digest, misc_path and misc_timeout): a writer compares two checks with
// it to refuse any other change.
func CheckWithoutEdits(c Check) Check {
	c.ConnectTimeout, c.ConnectPort, c.DelayLoop, c.Warmup = 0, 0, 0, 0
	c.Retry, c.DelayBeforeRetry = 0, 0
	c.MiscPath, c.MiscTimeout = nil, 0
	c.URLs = slices.Clone(c.URLs)
	if len(c.URLs) > 0 {
		c.URLs[0].Path, c.URLs[0].StatusCodes, c.URLs[0].Digest = "", nil, ""
	}
	return c
}

// StatusText writes status code ranges as keepalived's status_code and
// the TOML's status_codes read them: "200 301-302".
func StatusText(rs []StatusRange) string {
	var out []string
	for _, r := range rs {
		if r.First == r.Last {
			out = append(out, fmt.Sprint(r.First))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", r.First, r.Last))
		}
	}
	return strings.Join(out, " ")
}
