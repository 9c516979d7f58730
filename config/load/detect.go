package load

import (
	"bytes"
	"slices"
	"strings"
)

// Format is a configuration file format. The zero value is Unknown.
type Format uint8

// The formats Detect tells apart.
const (
	Unknown    Format = iota
	TOML              // ulvs.toml (config/tomlfile)
	Keepalived        // keepalived.conf (config/keepalived)
	Piranha           // Piranha's lvs.cf (config/piranha)
	LVSConf           // the LVS configure script's lvs_dr.conf, lvs_nat.conf, lvs_tun.conf (config/lvsdr)
)

var formatNames = [...]string{Unknown: "unknown", TOML: "toml", Keepalived: "keepalived", Piranha: "piranha", LVSConf: "lvsdr"}

// String returns the name File.Format carries: "toml", "keepalived",
// "piranha", "lvsdr", or "unknown".
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// keepalivedBlocks are keepalived.conf's top-level block and directive
// keywords (keepalived.conf(5)). A first line starting with one of them
// makes the file a keepalived.conf even when its brace is on the next line.
var keepalivedBlocks = []string{
	"global_defs", "vrrp_instance", "vrrp_sync_group", "vrrp_script",
	"vrrp_track_file", "track_file", "virtual_server", "virtual_server_group",
	"static_ipaddress", "static_routes", "static_rules", "linkbeat_interfaces",
	"net_namespace", "include", "garp_group", "bfd_instance", "real_server",
}

// piranhaGlobals are lvs.cf's global keywords (lvsconfig.c). None is a
// top-level key of ulvs.toml, so "serial_no = 77" or "primary = ..." on
// the first line makes the file an lvs.cf.
var piranhaGlobals = []string{
	"serial_no", "primary", "primary_private", "primary_shared", "service", "backup",
	"backup_private", "backup_shared", "backup_active", "heartbeat", "heartbeat_port",
	"keepalive", "deadtime", "network", "nat_router", "nat_nmask", "debug_level",
	"monitor_links", "syncdaemon", "syncd_iface", "syncd_id", "hard_shutdown",
	"active_cmd", "inactive_cmd", "rsh_command", "ipvsadm", "sync",
	"reservation_conflict_action", "tcp_timeout", "tcpfin_timeout", "udp_timeout",
}

// lvsConfNames are the configure script's settings (upper case, NAME=value
// as in a shell script).
var lvsConfNames = []string{
	"LVS_TYPE", "INITIAL_STATE", "VIP", "DIRECTOR_INSIDEIP", "DIRECTOR_DEFAULT_GW",
	"SERVICE", "SERVER_VIP_DEVICE", "SERVER_LVS_DEVICE", "SERVER_NET_DEVICE",
	"SERVER_DEFAULT_GW", "SERVER_GW",
}

// Detect tells the format of a configuration file from its content. It
// looks at the first line that is neither blank nor a '#' comment (every
// format has those):
//
//   - NAME=value with one of the configure script's names (LVS_TYPE,
//     VIP, SERVICE, ...): the LVS configure script's lvs_dr.conf;
//   - "keyword = value" with one of lvs.cf's global keywords (serial_no,
//     primary, service, network, ...), or "virtual NAME {" or "failover
//     NAME {": Piranha's lvs.cf;
//   - '[' (a table header) or key = value: TOML;
//   - '!' (keepalived's other comment), '$' (a definition), '@' (a
//     conditional line), a line that opens a block ("word ... {") or starts
//     with a top-level keepalived keyword: keepalived.conf.
//
// A file with no such line is TOML (an empty TOML document, whose parser
// then says what is missing); anything else is Unknown.
func Detect(data []byte) Format {
	f, _ := detect(data)
	return f
}

// firstLine is the line Detect decided on, for error messages.
type firstLine struct {
	num  int
	text string
}

func detect(data []byte) (Format, firstLine) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	for num := 1; len(data) > 0; num++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		fl := firstLine{num: num, text: shorten(s, 40)}
		return classify(s), fl
	}
	return TOML, firstLine{}
}

// classify decides on one significant, trimmed line.
func classify(s string) Format {
	if name, _, ok := strings.Cut(s, "="); ok && slices.Contains(lvsConfNames, name) {
		return LVSConf
	}
	words := strings.Fields(s)
	if key, _, ok := strings.Cut(words[0], "="); ok || len(words) > 1 && strings.HasPrefix(words[1], "=") {
		if slices.Contains(piranhaGlobals, key) {
			return Piranha
		}
	}
	if len(words) == 3 && (words[0] == "virtual" || words[0] == "failover") && words[2] == "{" {
		return Piranha
	}
	switch s[0] {
	case '[':
		return TOML
	case '!', '$', '@':
		return Keepalived
	}
	if isTOMLKeyValue(s) {
		return TOML
	}
	word, _, _ := strings.Cut(strings.Join(strings.Fields(s), " "), " ")
	if strings.HasSuffix(s, "{") || strings.Contains(s, " {") || strings.Contains(s, "\t{") {
		if isKeepalivedWord(word) {
			return Keepalived
		}
	}
	for _, kw := range keepalivedBlocks {
		if word == kw {
			return Keepalived
		}
	}
	return Unknown
}

// isTOMLKeyValue reports whether s starts with a TOML key (bare, quoted or
// dotted) followed by '='.
func isTOMLKeyValue(s string) bool {
	i := 0
	for {
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			end := strings.IndexByte(s[i+1:], s[i])
			if end < 0 {
				return false
			}
			i += end + 2
		} else {
			start := i
			for i < len(s) && isBareKeyByte(s[i]) {
				i++
			}
			if i == start {
				return false
			}
		}
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i < len(s) && s[i] == '.' {
			i++
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			continue
		}
		return i < len(s) && s[i] == '='
	}
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// isKeepalivedWord reports whether w can be a keepalived keyword: letters,
// digits and '_', starting with a letter.
func isKeepalivedWord(w string) bool {
	if w == "" || !(w[0] >= 'a' && w[0] <= 'z' || w[0] >= 'A' && w[0] <= 'Z') {
		return false
	}
	for i := 0; i < len(w); i++ {
		if !isBareKeyByte(w[i]) || w[i] == '-' {
			return false
		}
	}
	return true
}

// shorten cuts s to n bytes at most, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
