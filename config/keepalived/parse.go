package keepalived

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// Options are the file access Parse uses for includes. The zero value
// reads the file system (os.ReadFile, filepath.Glob); tests pass maps.
type Options struct {
	// ReadFile reads an included file.
	ReadFile func(path string) ([]byte, error)
	// Glob lists the files an include pattern matches (filepath.Glob
	// syntax; {a,b} alternatives are expanded before it is called).
	Glob func(pattern string) ([]string, error)
}

// Format is the File.Format of a keepalived.conf.
const Format = config.FormatKeepalived

// Load reads and parses the keepalived.conf at path, includes from the
// file system.
func Load(path string) (*config.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, Options{})
}

// Parse reads keepalived.conf text. path names the file (in errors and
// warnings; includes are relative to its directory). A returned error is a
// *config.Error with the file and line of the first problem. data is not
// retained; the File belongs to the caller.
func Parse(path string, data []byte, opts Options) (*config.File, error) {
	p, err := parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	return p.file, nil
}

// parse is Parse, returning the parser with the blocks as written.
func parse(path string, data []byte, opts Options) (*parser, error) {
	t, err := ReadTree(path, data, opts)
	if err != nil {
		return nil, err
	}
	p := &parser{
		file: &config.File{
			Path:     path,
			Format:   Format,
			Socket:   config.DefaultSocket,
			Warnings: t.Warnings,
		},
		groups:  map[string]*vsGroup{},
		warnSeq: t.warnSeq,
	}
	p.top(t.Nodes)
	if p.err == nil {
		p.resolveVRRP()
	}
	if p.err == nil {
		p.build()
	}
	if p.err != nil {
		return nil, p.err
	}
	p.sortWarnings()
	return p, nil
}

// parser interprets a Tree. The first error stops it.
type parser struct {
	file     *config.File
	err      *config.Error
	groups   map[string]*vsGroup
	virtuals []*virtualServer
	// sawGlobal notes keywords already listed in Global.Others.
	sawGlobal map[string]bool
	// warnSeq are the stream positions of file.Warnings.
	warnSeq []int
	// vrrp is what the failover blocks said (vrrp.go).
	vrrp vrrpState
}

func (p *parser) errorf(n *Node, format string, args ...any) {
	if p.err == nil {
		p.err = &config.Error{File: n.File, Line: n.Line, Field: n.Keyword(), Msg: fmt.Sprintf(format, args...)}
	}
}

// errorAt is errorf with the field named: a problem of a keyword that is
// missing is reported at its block's line.
func (p *parser) errorAt(n *Node, field, format string, args ...any) {
	if p.err == nil {
		p.err = &config.Error{File: n.File, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

func (p *parser) warnf(n *Node, format string, args ...any) {
	p.file.Warnings = append(p.file.Warnings, config.Warning{File: n.File, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
	p.warnSeq = append(p.warnSeq, n.seq)
}

// sortWarnings puts the warnings in file order (includes where they are
// included), whichever pass found them.
func (p *parser) sortWarnings() {
	idx := make([]int, len(p.file.Warnings))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return p.warnSeq[a] - p.warnSeq[b] })
	out := make([]config.Warning, len(idx))
	for i, j := range idx {
		out[i] = p.file.Warnings[j]
	}
	p.file.Warnings = out
}

func (p *parser) unknown(n *Node, where string) {
	p.warnf(n, "unknown keyword %q in %s (ignored, as keepalived does)", n.Keyword(), where)
}

// noBlock refuses a { } block after a value keyword.
func (p *parser) noBlock(n *Node) bool {
	if n.HasBlock {
		p.errorf(n, "takes no { } block")
		return false
	}
	return true
}

// needBlock refuses a block keyword without its block.
func (p *parser) needBlock(n *Node) bool {
	if !n.HasBlock {
		p.errorf(n, "needs a { } block")
		return false
	}
	return true
}

// arg returns the single value of n.
func (p *parser) arg(n *Node) (string, bool) {
	if !p.noBlock(n) {
		return "", false
	}
	switch len(n.Args()) {
	case 0:
		p.errorf(n, "needs a value")
		return "", false
	case 1:
		return n.Args()[0], true
	}
	p.errorf(n, "takes one value (got %d: %s)", len(n.Args()), strings.Join(n.Args(), " "))
	return "", false
}

// bare checks a keyword that takes no value (keepalived ignores any).
func (p *parser) bare(n *Node) bool {
	if !p.noBlock(n) {
		return false
	}
	if len(n.Args()) > 0 {
		p.errorf(n, "takes no value (got %s)", strings.Join(n.Args(), " "))
		return false
	}
	return true
}

// flag reads a keyword with an optional <BOOL> (no value means true).
func (p *parser) flag(n *Node) (bool, bool) {
	if !p.noBlock(n) {
		return false, false
	}
	switch len(n.Args()) {
	case 0:
		return true, true
	case 1:
		if b, ok := parseBool(n.Args()[0]); ok {
			return b, true
		}
	}
	p.errorf(n, "takes true/false, on/off or yes/no (got %s)", strings.Join(n.Args(), " "))
	return false, false
}

// timer reads a <TIMER> value between lo and hi microseconds into *to,
// which keeps its value when the line is wrong.
func (p *parser) timer(n *Node, lo, hi uint64, to *time.Duration) {
	s, ok := p.arg(n)
	if !ok {
		return
	}
	d, msg := parseTimer(s, lo, hi)
	if msg != "" {
		p.errorf(n, "%s", msg)
		return
	}
	*to = d
}

func (p *parser) uint(n *Node, lo, hi uint64) (uint64, bool) {
	s, ok := p.arg(n)
	if !ok {
		return 0, false
	}
	v, msg := parseUint(s, lo, hi)
	if msg != "" {
		p.errorf(n, "%s", msg)
		return 0, false
	}
	return v, true
}

// script reads a notify or quorum script line as keepalived's
// notify_script_init: the line re-read with quotes and escapes, its second
// word the script (itself split into the program and arguments).
func (p *parser) script(n *Node, old config.Script) (config.Script, bool) {
	return p.scriptLine(n, old, func(words []string) string {
		return fmt.Sprintf("running the script as user %s is not supported by ulvs (quote the script with its arguments: %s \"%s\")",
			strings.Join(words[2:], " "), n.Keyword(), strings.Join(words[1:], " "))
	})
}

// scriptLine reads a line whose second word is a script; extra says what
// is wrong with words after it.
func (p *parser) scriptLine(n *Node, old config.Script, extra func(words []string) string) (config.Script, bool) {
	if !p.noBlock(n) {
		return config.Script{}, false
	}
	if !old.IsZero() {
		p.errorf(n, "given twice (first: %q)", old.Text)
		return config.Script{}, false
	}
	words, ok := p.splitLine(n, "needs a script")
	if !ok {
		return config.Script{}, false
	}
	if len(words) > 2 {
		p.errorf(n, "%s", extra(words))
		return config.Script{}, false
	}
	return p.parseScript(n, words[1])
}

// splitLine re-reads the line of n with quotes and escapes, as keepalived
// does for the keywords that name a script (config.SplitWords); missing
// is the error when the line has no word after its keyword.
func (p *parser) splitLine(n *Node, missing string) ([]string, bool) {
	words, err := config.SplitWords(n.Raw)
	switch {
	case err != nil:
		p.errorf(n, "%v in %q", err, n.Raw)
		return nil, false
	case len(words) < 2:
		p.errorf(n, "%s", missing)
		return nil, false
	}
	return words, true
}

// parseScript splits the script text (config.ParseScript) of the line n.
func (p *parser) parseScript(n *Node, text string) (config.Script, bool) {
	s, err := config.ParseScript(text)
	if err != nil {
		p.errorf(n, "%v", err)
		return config.Script{}, false
	}
	return s, true
}

// top interprets the top-level statements.
func (p *parser) top(nodes []*Node) {
	for _, n := range nodes {
		if p.err != nil {
			return
		}
		switch kw := n.Keyword(); kw {
		case "global_defs":
			if p.needBlock(n) {
				p.globalDefs(n)
			}
		case "virtual_server":
			if p.needBlock(n) {
				p.virtualServer(n)
			}
		case "virtual_server_group":
			if p.needBlock(n) {
				p.virtualServerGroup(n)
			}
		case "vrrp_instance":
			p.vrrpInstance(n)
		case "vrrp_script":
			p.vrrpScript(n)
		case "vrrp_sync_group":
			p.vrrpSyncGroup(n)
		case "vrrp_track_process", "vrrp_track_file", "track_file", "track_group", "garp_group":
			p.refuseVRRP(n, vrrpTopRefused)
		case "static_ipaddress", "static_routes", "static_rules":
			p.warnf(n, "%s is not applied: ulvs does not manage the host's addresses, routes or rules", kw)
		case "bfd_instance":
			p.warnf(n, "%s is not run: ulvs does not implement BFD", strings.Join(n.Words, " "))
		case "linkbeat_interfaces", "linkbeat_use_polling", "net_namespace", "net_namespace_ipvs",
			"namespace_with_ipsets", "instance", "use_pid_dir", "child_wait_time", "interface_up_down_delays":
			p.warnf(n, "%s is not used by ulvs (ignored)", kw)
		case "SSL":
			if p.needBlock(n) && len(n.Children) > 0 {
				p.errorf(n.Children[0], "the SSL block (client certificate, key, CA) is not supported by ulvs: SSL_GET connects without a client certificate")
			}
		default:
			p.unknown(n, "the top level")
		}
	}
}

// globalDefs reads global_defs: what ulvs uses into Global, every other
// keyword into Global.Others with a warning.
func (p *parser) globalDefs(n *Node) {
	g := &p.file.Global
	for _, c := range n.Children {
		if p.err != nil {
			return
		}
		if p.vrrpGlobal(c) {
			continue
		}
		switch kw := c.Keyword(); kw {
		case "router_id":
			if v, ok := p.arg(c); ok {
				g.RouterID = v
			}
		case "script_user":
			if len(c.Args()) > 1 {
				p.errorf(c, "a group for scripts (%s) is not supported by ulvs", c.Args()[1])
				return
			}
			if v, ok := p.arg(c); ok {
				g.ScriptUser = v
			}
		case "enable_script_security":
			if p.bare(c) {
				g.EnableScriptSecurity = true
			}
		case "lvs_timeouts":
			p.lvsTimeouts(c)
		default:
			if p.sawGlobal == nil {
				p.sawGlobal = map[string]bool{}
			}
			if !p.sawGlobal[kw] {
				p.sawGlobal[kw] = true
				g.Others = append(g.Others, kw)
			}
			if slices.Contains(knownGlobalDefs, kw) {
				p.warnf(c, "global_defs %s is not used by ulvs (ignored)", kw)
			} else {
				p.unknown(c, "global_defs")
			}
		}
	}
}

// lvsTimeouts reads `lvs_timeouts [tcp N] [tcpfin N] [udp N]` (seconds),
// ipvsadm --set's timeouts.
func (p *parser) lvsTimeouts(n *Node) {
	if !p.noBlock(n) {
		return
	}
	args := n.Args()
	if len(args) == 0 || len(args)%2 != 0 {
		p.errorf(n, "takes pairs of tcp|tcpfin|udp and seconds (got %s)", strings.Join(args, " "))
		return
	}
	t := &p.file.Timeouts
	for i := 0; i < len(args); i += 2 {
		v, msg := parseUint(args[i+1], 1, config.MaxTimeout)
		if msg != "" {
			p.errorf(n, "%s %s", args[i], msg)
			return
		}
		switch args[i] {
		case "tcp":
			t.TCP = uint32(v)
		case "tcpfin":
			t.TCPFin = uint32(v)
		case "udp":
			t.UDP = uint32(v)
		default:
			p.errorf(n, "%q is not tcp, tcpfin or udp", args[i])
			return
		}
	}
}

// knownGlobalDefs are keepalived 2.2.7's global_defs keywords
// (core/global_parser.c) that ulvs does not act on: they get "not used by
// ulvs" rather than "unknown".
var knownGlobalDefs = []string{
	"process_names", "process_name", "vrrp_process_name", "checker_process_name", "lvs_process_name",
	"bfd_process_name", "notification_email_from", "smtp_server", "smtp_helo_name",
	"smtp_connect_timeout", "notification_email", "smtp_alert", "startup_script",
	"startup_script_timeout", "shutdown_script", "shutdown_script_timeout", "max_auto_priority",
	"min_auto_priority_delay", "smtp_alert_vrrp", "smtp_alert_checker", "checker_log_all_failures",
	"dynamic_interfaces", "no_email_faults", "default_interface", "disable_local_igmp",
	"lvs_flush", "lvs_flush_on_stop", "lvs_flush_onstop",
	"vrrp_mcast_group6",
	"vrrp_garp_lower_prio_delay",
	"vrrp_garp_lower_prio_repeat", "vrrp_down_timer_adverts", "vrrp_garp_interval",
	"vrrp_gna_interval", "vrrp_min_garp", "vrrp_garp_extra_if", "vrrp_vmac_garp_intvl",
	"vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert", "vrrp_iptables",
	"vrrp_ipsets", "nftables", "nftables_priority", "nftables_ifindex", "nftables_ipvs",
	"nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_counters",
	"vrrp_skip_check_adv_addr", "vrrp_priority",
	"vrrp_no_swap", "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime",
	"vrrp_rlimit_rtime", "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo",
	"vrrp_notify_fifo_script", "vrrp_notify_priority_changes", "fifo_write_vrrp_states_on_reload",
	"lvs_notify_fifo", "lvs_notify_fifo_script", "checker_priority", "checker_no_swap",
	"checker_rt_priority", "checker_cpu_affinity", "checker_rlimit_rttime", "checker_rlimit_rtime",
	"bfd_priority", "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime",
	"bfd_rlimit_rtime", "snmp_socket", "enable_traps", "enable_snmp_vrrp", "enable_snmp_keepalived",
	"enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_snmp_checker",
	"enable_dbus", "dbus_service_name", "vrrp_netlink_cmd_rcv_bufs",
	"vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
	"vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
	"process_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
	"lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", "rs_init_notifies",
	"no_checker_emails", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "vrrp_startup_delay",
	"log_unknown_vrids", "vmac_prefix", "vmac_addr_prefix", "umask", "random_seed",
	"reload_check_config", "reload_time_file", "reload_repeat", "reload_file", "include_check",
	"config_save_dir", "tmp_config_directory", "data_use_instance",
}

// optInt is a count that may be unset.
type optInt = opt[int]

// optBool is a flag that may be unset.
type optBool struct {
	v   bool
	set bool
}

func (o optBool) or(b bool) bool {
	if o.set {
		return o.v
	}
	return b
}
