package config

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// DefaultSocket is the control socket ulvsd listens on when the file names
// none.
const DefaultSocket = "/run/ulvs/ulvsd.sock"

// File is a parsed and validated ulvs.toml. Every default is filled in.
type File struct {
	// Path is the file name as given to Load or Parse.
	Path string
	// Interfaces the director listens on (AF_PACKET); never empty.
	Interfaces []string
	// Socket is the control socket path (default DefaultSocket).
	Socket string
	// Workers is the number of RX workers per interface; 0 means one per
	// CPU.
	Workers int
	// ConnTableSize is the number of conntrack slots per worker; 0 means
	// the engine's default.
	ConnTableSize int
	// StateFile is where ulvsd writes its connection table when it stops
	// on SIGTERM and reads it back (then removes it) when it starts, so
	// that a restart keeps established connections on their real
	// servers; "" is off.
	StateFile string
	// ExitOnInterfaceLoss makes ulvsd exit (non-zero) when one of its
	// interfaces is deleted, renamed away or set down, for supervisors
	// that prefer a restart; by default it waits for the interface to
	// come back and forwards on it again.
	ExitOnInterfaceLoss bool
	// NoIptablesMarks turns off reading the firewall marks of iptables'
	// mangle PREROUTING and nft prerouting rules ([director]
	// iptables_marks = false); by default ulvsd compiles them into its
	// mark classifier (package nfmarks).
	NoIptablesMarks bool
	// Timeouts are the TCP, TCP FIN and UDP connection timeouts to set,
	// like ipvsadm --set; 0 leaves one unchanged.
	Timeouts Timeouts
	// Marks are the [[fwmark]] packet classifiers in file order; nil when
	// there are none. Mark numbers are unique, every mark has at least one
	// match, and the ports of each match are sorted with overlapping and
	// adjacent ranges merged. A packet that several marks select gets the
	// first one's mark.
	Marks []Mark
	// Knobs are the [sysctl] settings. Absent keys keep their zero value,
	// which Knobs documents as the kernel's default (ConnReuseSet is false
	// unless conn_reuse_mode is given).
	Knobs Knobs
	// Metrics is the [metrics] table (file_metrics.go); zero when absent.
	Metrics Metrics
	// Web is the [web] table: the web console (package web); zero when
	// absent (the console is off).
	Web Web
	// Rules are the virtual services in file order, each with its real
	// servers in file order. A mark service (fwmark = N) has FwMark N,
	// Proto TCP and no address or port, as ipvsadm -A -f N makes it, and
	// N is one of Marks.
	Rules Rules
	// Health are the health checks of the services (health.go), in the
	// order of Rules, every default resolved (ResolveHealth); a service
	// whose configuration says nothing of health has no entry. An entry
	// lists every real server of its service, in order, checks or not.
	Health []VirtualHealth
	// VRRP are the failover instances (vrrp.go): keepalived.conf's
	// vrrp_instance blocks, the TOML file's [[vrrp_instance]] tables.
	VRRP []VRRPInstance
	// VRRPSyncGroups are keepalived.conf's vrrp_sync_group blocks (the
	// TOML file's [[vrrp_sync_group]]), checked by CheckSyncGroups.
	VRRPSyncGroups []VRRPSyncGroup
	// Sync is keepalived's lvs_sync_daemon; nil when not configured.
	Sync *SyncDaemon
	// Global is keepalived's global_defs (keepalived.conf only).
	Global Global
	// BGP is the [bgp] table (bgp.go): the virtual addresses announced to
	// routers; nil when absent.
	BGP *BGP
	// Pulse is Piranha's director pair and heartbeat (lvs.cf only; nil
	// from the other formats): pulse.go.
	Pulse *Pulse
	// Format names the file's format when a loader that detects formats
	// read it: "toml", "keepalived", ...; "" from the TOML parser itself.
	Format string
	// Warnings are problems that do not stop the file from running
	// (unknown keywords, blocks this ulvs does not run), in file order;
	// the daemon logs each.
	Warnings []Warning
}

// Error is a problem in a configuration file. Error() is one line:
//
//	ulvs.toml:14: virtual_server[0].real_server[1].weight: must be between 0 and 2147483647 (got -3)
type Error struct {
	File string // file name as given to Load or Parse
	// Line is 1-based; 0 when the problem has no line of its own, like a
	// required table that is missing.
	Line int
	// Field is the key path, with array-of-tables indices counted from 0
	// in file order; "" for TOML syntax errors.
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Metrics is the [metrics] table of the configuration file: where ulvsd
// serves Prometheus metrics (a ulvs extension; package metrics). The
// endpoint is off unless the table names an address:
//
//	[metrics]
//	listen = "127.0.0.1:9100"
type Metrics struct {
	// Listen is the host:port of the HTTP /metrics endpoint; "" is off.
	// The host may be empty (every address), an IP literal or a name.
	Listen string
}

// Web is the [web] table of the configuration file: the web console
// (package web, docs/web.md). It is off unless Listen is set:
//
//	[web]
//	listen = "127.0.0.1:8443"
//	cert = "/etc/ulvs/web.crt"     # TLS when cert and key are both given
//	key = "/etc/ulvs/web.key"
//	users = "/etc/ulvs/web.passwd" # written by `ulvs passwd`
type Web struct {
	// Listen is host:port; a bare port (":8080" or "8080") means
	// 127.0.0.1. "" is off.
	Listen string
	// Cert and Key are PEM files; both or neither.
	Cert, Key string
	// Users is the password file; "" means DefaultWebUsers.
	Users string
}

// DefaultWebUsers is the console's password file unless [web] users
// names another.
const DefaultWebUsers = "/etc/ulvs/web.passwd"

// WebListen returns the address the console listens on for s (a
// --web flag or [web] listen): host:port as given, and a bare port
// ("8080" or ":8080") on 127.0.0.1, so that the console is never on
// every address unless the host says so ("0.0.0.0:8080"). It returns
// the message of CheckListen for anything else.
func WebListen(s string) (string, error) {
	if s != "" && !strings.Contains(s, ":") {
		s = ":" + s
	}
	if msg := CheckListen(s); msg != "" {
		return "", errors.New(msg)
	}
	if strings.HasPrefix(s, ":") {
		s = "127.0.0.1" + s
	}
	return s, nil
}

// CheckListen returns what is wrong with a metrics listen address, or ""
// when it is a valid host:port with a port from 1 to 65535.
func CheckListen(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "must be host:port, like \"127.0.0.1:9100\" or \":9100\" (got " + strconv.Quote(s) + ")"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 || port[0] < '0' || port[0] > '9' {
		return "port must be a number between 1 and 65535 (got " + strconv.Quote(port) + ")"
	}
	if strings.ContainsAny(host, " \t\r\n/") {
		return "invalid host " + strconv.Quote(host)
	}
	return ""
}
