package tomlfile

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// This file says what an unknown key probably meant: keepalived.conf and
// iptables words, kernel sysctls ulvs does not have, and near misses by
// edit distance ("did you mean").

// tomlKeyRenames are keepalived.conf names a keepalived user may type, and
// what ulvs.toml calls them.
var tomlKeyRenames = map[string]string{
	"lb_algo":                 "scheduler",
	"lvs_sched":               "scheduler",
	"lb_kind":                 "forward",
	"lvs_method":              "forward",
	"persistence_granularity": "persistence_netmask",
	"uthreshold":              "upper_threshold",
	"lthreshold":              "lower_threshold",
	"interface":               "interfaces",
	"nb_get_retry":            "retry",
	"sorry_server_lvs_method": "sorry_server_method",
	"lvs_sync_daemon":         "sync_daemon",
	"vrid":                    "virtual_router_id",
	"id":                      "sync_id",
	"syncid":                  "sync_id",
	"inst":                    "instance",
	"unicast_peers":           "unicast_peer",
	"preempt":                 "nopreempt",
}

// tomlCheckBlocks are keepalived's checker block names, lower-cased, and
// the check type that stands for each in ulvs.toml.
var tomlCheckBlocks = map[string]string{
	"tcp_check": "tcp", "http_get": "http", "ssl_get": "ssl", "misc_check": "misc",
	"smtp_check": "smtp", "dns_check": "dns", "udp_check": "udp", "ping_check": "ping",
}

// tomlCheckOnlyKeys are keepalived keys that a virtual_server or
// real_server block may give for all its checkers (keepalived 2.2), and
// that ulvs.toml takes per check.
var tomlCheckOnlyKeys = []string{
	"connect_timeout", "connect_port", "connect_ip", "retry", "nb_get_retry",
	"delay_before_retry", "warmup", "delay_loop",
}

// tomlURLKeys are the keys of a url of an HTTP check.
var tomlURLKeys = []string{"path", "digest", "status_code"}

// tomlIptablesRenames are iptables words a user translating MARK rules
// may type in a [[fwmark]] table, and what ulvs.toml calls them.
var tomlIptablesRenames = map[string]string{
	"set_mark": "mark", "set-mark": "mark", "set_xmark": "mark",
	"destination": "address", "dst": "address", "d": "address",
	"dport": "ports", "dports": "ports", "destination_ports": "ports", "destination-ports": "ports",
	"proto": "protocol", "p": "protocol",
}

// tomlKernelSysctls are the kernel's IPVS sysctls (/proc/sys/net/ipv4/vs/)
// that ulvs does not implement: named in [sysctl], they get that said.
var tomlKernelSysctls = []string{
	"backup_only", "cache_bypass", "conntrack",
	"debug_level", "est_cpulist", "est_nice",
	"ignore_tunneled", "nat_icmp_send", "pmtu_disc", "run_estimation",
	"schedule_icmp", "sloppy_sctp", "snat_reroute",
}

// unknownHint suggests what an unknown key of the table at path may have
// meant.
func unknownHint(path, key string, known []string) string {
	lower := strings.ToLower(key)
	if to, ok := tomlKeyRenames[lower]; ok && slices.Contains(known, to) {
		return fmt.Sprintf(" (ulvs calls keepalived's %s %q)", key, to)
	}
	if to, ok := tomlIptablesRenames[lower]; ok && slices.Contains(known, to) && strings.HasPrefix(path, "fwmark[") {
		return fmt.Sprintf(" (ulvs calls iptables' %s %q)", key, to)
	}
	if hint := healthHint(path, lower, known); hint != "" {
		return hint
	}
	if hint := vrrpHint(path, lower); hint != "" {
		return hint
	}
	if strings.HasPrefix(path, "fwmark[") && !strings.Contains(path, ".") &&
		(lower == "protocol" || lower == "address" || lower == "ports") {
		return " (it belongs in a [[fwmark.match]] table)"
	}
	if path == "sysctl" {
		switch {
		case lower == "sloppy_sctp":
			// The kernel's sloppy_sctp is sloppy_tcp for SCTP services
			// (ip_vs_proto_sctp.c, sctp_conn_schedule); ulvs has none.
			return " (ulvs balances no SCTP, so there is nothing for sloppy_sctp to do; sloppy_tcp is implemented)"
		case slices.Contains(tomlKernelSysctls, lower):
			return " (a kernel IPVS sysctl that ulvs does not implement)"
		case lower == "net":
			return " (name the sysctl without its net.ipv4.vs. prefix)"
		}
	}
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(lower, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// healthHint explains keepalived checker habits: a checker block where
// ulvs.toml has a check table, checker settings on the service or the real
// server, url settings on the check.
func healthHint(path, key string, known []string) string {
	inCheck := strings.HasSuffix(path, "]") && strings.Contains(path, ".check[")
	switch {
	case tomlCheckBlocks[key] != "":
		return fmt.Sprintf(" (a check is a [[virtual_server.real_server.check]] table with type = %q)", tomlCheckBlocks[key])
	case key == "bfd_check":
		return " (BFD_CHECK is not supported)"
	case !inCheck && slices.Contains(tomlCheckOnlyKeys, key) && !slices.Contains(known, key):
		return " (set it in each [[virtual_server.real_server.check]])"
	case inCheck && slices.Contains(tomlURLKeys, key):
		return " (it belongs in a url: url = [{ path = \"/\", ... }])"
	case inCheck && key == "name":
		return ` (ulvs calls DNS_CHECK's name "dns_name")`
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// vrrpHint explains keepalived's VRRP habits: the authentication block,
// keywords ulvs does not implement.
func vrrpHint(path, key string) string {
	inInstance := strings.HasPrefix(path, "vrrp_instance[") && !strings.Contains(path, ".")
	switch {
	case inInstance && key == "authentication":
		return " (ulvs.toml has auth_type and auth_pass keys in [[vrrp_instance]] instead of a block)"
	case inInstance && slices.Contains(tomlVRRPUnsupported, key):
		return " (not supported by ulvs)"
	case strings.HasPrefix(path, "vrrp_sync_group[") && strings.HasPrefix(key, "track_"):
		return " (not supported by ulvs: track in each vrrp_instance)"
	case strings.HasPrefix(path, "vrrp_script[") && key == "user":
		return " (running a vrrp_script as another user is not supported by ulvs)"
	}
	return ""
}
