package keepalived

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// This file reads the failover blocks: vrrp_instance, vrrp_script and
// global_defs' vrrp_* defaults and lvs_sync_daemon, into File.VRRP and
// File.Sync with keepalived 2.2.7's defaults resolved
// (vrrp/vrrp_parser.c, vrrp/vrrp_data.c, core/global_parser.c).

// vrrpState is what the failover blocks have said so far. Instances are
// resolved after the whole file is read: keepalived lets a track_script
// name a vrrp_script defined further down, and global_defs' defaults
// apply to every instance wherever it is.
type vrrpState struct {
	instances []*vrrpInstance
	scripts   map[string]*vrrpScript
	// groups are the vrrp_sync_group blocks, groupNodes their lines.
	groups     []config.VRRPSyncGroup
	groupNodes []*Node
	// global_defs defaults.
	version         optInt
	garp            garpOpts
	checkUnicastSrc bool
	sync            *config.SyncDaemon
	syncNode        *Node
	syncIDSet       bool
}

// garpOpts are the garp_master_* settings of an instance, or global_defs'
// vrrp_garp_master_* defaults.
type garpOpts struct {
	delay, refresh        optDur
	repeat, refreshRepeat optInt
}

// garp reads the garp_master_* keyword kw (without global_defs' vrrp_
// prefix) of n into g; it reports whether kw was one.
func (p *parser) garp(n *Node, kw string, g *garpOpts) bool {
	switch kw {
	case "garp_master_delay":
		p.seconds(n, 0, &g.delay)
	case "garp_master_refresh":
		p.seconds(n, 0, &g.refresh)
	case "garp_master_repeat":
		p.count(n, &g.repeat)
	case "garp_master_refresh_repeat":
		p.count(n, &g.refreshRepeat)
	default:
		return false
	}
	return true
}

// opt is a value that may be unset.
type opt[T any] struct {
	v   T
	set bool
}

// optDur is a duration that may be unset.
type optDur = opt[time.Duration]

type vrrpScript struct {
	node   *Node
	script config.VRRPScript
}

// vrrpInstance is one vrrp_instance as written: the values it sets, and
// the lines that set them (for CheckVRRP's problems).
type vrrpInstance struct {
	node  *Node
	in    config.VRRPInstance
	lines map[string][]*Node // keyword -> its lines, or its entries' lines
	// unset values that take a default.
	priority, version optInt
	advert            optDur
	garp              garpOpts
	tracks            []trackRef
}

// trackRef is a track_script line before its vrrp_script is looked up.
type trackRef struct {
	node      *Node
	name      string
	weight    int
	hasWeight bool
}

// vrrpRefused are vrrp_instance keywords keepalived has and ulvs does not
// implement: each is an error, with why.
var vrrpRefused = map[string]string{
	"use_vmac_addr":              "ulvs has no VMAC interface (use_vmac answers for the virtual MAC without one)",
	"use_ipvlan":                 "ulvs has no ipvlan interface",
	"track_process":              "ulvs does not track processes; use a vrrp_script that checks the process",
	"track_file":                 "ulvs does not track files; use a vrrp_script that reads the file",
	"track_bfd":                  "ulvs does not implement BFD",
	"vrf":                        "ulvs does not run VRRP in a VRF",
	"mcast_src_ip":               "set the advert source with unicast_src_ip, or leave it to the interface's primary address",
	"mcast_dst_ip":               "ulvs sends multicast adverts to 224.0.0.18 only",
	"track_src_ip":               "ulvs does not track the source address",
	"virtual_routes":             "ulvs does not manage the host's routes",
	"virtual_rules":              "ulvs does not manage the host's routing rules",
	"lvs_sync_daemon_interface":  "use global_defs lvs_sync_daemon IF INSTANCE",
	"dont_track_primary":         "ulvs always puts the instance in FAULT when its interface is down",
	"strict_mode":                "ulvs does not implement keepalived's strict mode",
	"garp_lower_prio_delay":      "ulvs sends no gratuitous ARP on a lower-priority advert",
	"garp_lower_prio_repeat":     "ulvs sends no gratuitous ARP on a lower-priority advert",
	"down_timer_adverts":         "ulvs uses the RFC's master down interval (3 adverts and the skew)",
	"lower_prio_no_advert":       "ulvs answers as the RFC says",
	"higher_prio_send_advert":    "ulvs answers as the RFC says",
	"unicast_ttl":                "ulvs sends unicast adverts with TTL 255",
	"unicast_fault_no_peer":      "ulvs does not implement it",
	"old_unicast_checksum":       "ulvs computes the checksum as RFC 5798 says",
	"garp_extra_if":              "ulvs sends gratuitous ARPs on the instance's interfaces only",
	"vmac_garp_intvl":            "ulvs sends the gratuitous ARPs of a use_vmac instance as garp_master_* say",
	"notify_deleted":             "ulvs runs notify_stop when an instance stops",
	"notify_master_rx_lower_pri": "ulvs does not implement it",
}

// vrrpIgnored are vrrp_instance keywords that change nothing ulvs does.
var vrrpIgnored = map[string]string{
	"debug":                   "ulvs logs with its own levels",
	"smtp_alert":              "ulvs sends no mail",
	"notify_priority_changes": "ulvs calls notify on state changes only",
	"kernel_rx_buf_size":      "ulvs sizes its own socket buffers",
	"promote_secondaries":     "ulvs does not add the virtual addresses to the kernel",
	"linkbeat_use_polling":    "ulvs watches links with netlink",
	"skip_check_adv_addr":     "ulvs checks the advert's addresses only when it has to",
	"accept":                  "ulvs serves the virtual addresses itself while master",
	"no_accept":               "ulvs serves the virtual addresses itself while master",
}

// vrrpTopRefused are top-level blocks of keepalived's VRRP that ulvs does
// not implement.
var vrrpTopRefused = map[string]string{
	"vrrp_track_process": "ulvs does not track processes; use a vrrp_script that checks the process",
	"vrrp_track_file":    "ulvs does not track files; use a vrrp_script that reads the file",
	"track_file":         "ulvs does not track files; use a vrrp_script that reads the file",
	"track_group":        "ulvs does not implement track groups",
	"garp_group":         "ulvs sends gratuitous ARPs as each instance's garp_master_* say",
}

// syncGroupRefused are vrrp_sync_group keywords ulvs does not implement.
var syncGroupRefused = map[string]string{
	"track_interface":            "track the interface in each vrrp_instance (a member's FAULT is the group's)",
	"track_script":               "track the script in each vrrp_instance (a member's FAULT is the group's)",
	"track_process":              "ulvs does not track processes",
	"track_file":                 "ulvs does not track files",
	"track_bfd":                  "ulvs does not implement BFD",
	"global_tracking":            "track in each vrrp_instance",
	"sync_group_tracking_weight": "track in each vrrp_instance",
	"notify_priority_changes":    "ulvs calls notify on state changes only",
}

// vrrpSyncGroup reads a vrrp_sync_group block; resolveVRRP checks its
// members.
func (p *parser) vrrpSyncGroup(n *Node) {
	name, ok := p.namedBlock(n, func(name string) *Node {
		for i, g := range p.vrrp.groups {
			if g.Name == name {
				return p.vrrp.groupNodes[i]
			}
		}
		return nil
	})
	if !ok {
		return
	}
	g := config.VRRPSyncGroup{Name: name, File: n.File, Line: n.Line}
	for _, c := range n.Children {
		if p.err != nil {
			return
		}
		switch kw := c.Keyword(); kw {
		case "group":
			if !p.needBlock(c) {
				return
			}
			for _, m := range c.Children {
				if m.HasBlock {
					p.errorf(m, "a group { } block lists vrrp_instance names, no blocks")
					return
				}
				g.Members = append(g.Members, m.Words...)
			}
		case "notify_master":
			g.NotifyMaster, _ = p.script(c, g.NotifyMaster)
		case "notify_backup":
			g.NotifyBackup, _ = p.script(c, g.NotifyBackup)
		case "notify_fault":
			g.NotifyFault, _ = p.script(c, g.NotifyFault)
		case "notify_stop":
			g.NotifyStop, _ = p.script(c, g.NotifyStop)
		case "notify":
			g.Notify, _ = p.script(c, g.Notify)
		case "smtp_alert":
			p.warnf(c, "smtp_alert is not used by ulvs (ignored): ulvs sends no mail")
		default:
			if !p.refuseVRRP(c, syncGroupRefused) {
				p.unknown(c, "vrrp_sync_group")
			}
		}
	}
	p.vrrp.groups = append(p.vrrp.groups, g)
	p.vrrp.groupNodes = append(p.vrrp.groupNodes, n)
}

// refuseVRRP reports a keyword of refused (a map of why) as not supported.
func (p *parser) refuseVRRP(n *Node, refused map[string]string) bool {
	why, ok := refused[n.Keyword()]
	if ok {
		p.errorf(n, "%s is not supported by ulvs: %s", n.Keyword(), why)
	}
	return ok
}

// vrrpGlobal reads a global_defs keyword of VRRP; it reports whether n
// was one.
func (p *parser) vrrpGlobal(n *Node) bool {
	v := &p.vrrp
	if kw, ok := strings.CutPrefix(n.Keyword(), "vrrp_"); ok && p.garp(n, kw, &v.garp) {
		return true
	}
	switch n.Keyword() {
	case "vrrp_version":
		if x, ok := p.uint(n, 2, 3); ok {
			v.version = optInt{int(x), true}
		}
	case "vrrp_check_unicast_src":
		v.checkUnicastSrc = p.bare(n)
	case "vrrp_mcast_group4":
		if s, ok := p.arg(n); ok && s != "224.0.0.18" {
			p.errorf(n, "a multicast group other than 224.0.0.18 (%s) is not supported by ulvs", s)
		}
	case "vrrp_strict":
		p.errorf(n, "vrrp_strict is not supported by ulvs: it does not implement keepalived's strict mode")
	case "lvs_sync_daemon":
		p.syncDaemon(n)
	default:
		return false
	}
	return true
}

// seconds reads a whole number of seconds (keepalived's garp_master_delay
// and refresh) into *to.
func (p *parser) seconds(n *Node, lo uint64, to *optDur) {
	if x, ok := p.uint(n, lo, math.MaxUint32/1_000_000); ok {
		*to = optDur{time.Duration(x) * time.Second, true}
	}
}

// count reads a repeat count, at least 1 (keepalived turns 0 into 1 with
// a complaint; ulvs refuses it).
func (p *parser) count(n *Node, to *optInt) {
	if x, ok := p.uint(n, 1, math.MaxInt32); ok {
		*to = optInt{int(x), true}
	}
}

// parseInt reads a signed decimal integer between lo and hi.
func parseInt(s string, lo, hi int) (int, string) {
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") || n < lo || n > hi {
		return 0, fmt.Sprintf("%q is not a whole number in [%d, %d]", s, lo, hi)
	}
	return n, ""
}

// namedBlock checks a NAME { } block whose name must be new: defined
// returns the node of an earlier block of that name, or nil.
func (p *parser) namedBlock(n *Node, defined func(name string) *Node) (string, bool) {
	if !p.needBlock(n) {
		return "", false
	}
	if len(n.Args()) != 1 {
		p.errorf(n, "takes one name (got %q)", strings.Join(n.Args(), " "))
		return "", false
	}
	name := n.Args()[0]
	if old := defined(name); old != nil {
		p.errorf(n, "%s %s is already defined at %s:%d", n.Keyword(), name, old.File, old.Line)
		return "", false
	}
	return name, true
}

// vrrpScript reads a vrrp_script block.
func (p *parser) vrrpScript(n *Node) {
	name, ok := p.namedBlock(n, func(name string) *Node {
		if old := p.vrrp.scripts[name]; old != nil {
			return old.node
		}
		return nil
	})
	if !ok {
		return
	}
	s := config.VRRPScript{Name: name}
	var interval, timeout optDur
	var fall, rise optInt
	for _, c := range n.Children {
		if p.err != nil {
			return
		}
		switch c.Keyword() {
		case "script":
			s.Script, _ = p.scriptLine(c, s.Script, func(words []string) string {
				return fmt.Sprintf("keepalived ignores the words after the script (%s): quote the script with its arguments: script \"%s\"",
					strings.Join(words[2:], " "), strings.Join(words[1:], " "))
			})
		case "interval":
			p.seconds(c, 1, &interval)
		case "timeout":
			p.seconds(c, 1, &timeout)
		case "weight":
			if !p.noBlock(c) {
				return
			}
			args := c.Args()
			if len(args) == 0 {
				p.errorf(c, "needs a value")
				return
			}
			w, msg := parseInt(args[0], -253, 253)
			if msg != "" {
				p.errorf(c, "%s", msg)
				return
			}
			if len(args) > 1 {
				p.errorf(c, "weight %s is not supported by ulvs (only a plain weight)", strings.Join(args[1:], " "))
				return
			}
			s.Weight = w
		case "fall":
			p.count(c, &fall)
		case "rise":
			p.count(c, &rise)
		case "user":
			p.errorf(c, "running a vrrp_script as another user is not supported by ulvs")
		case "init_fail":
			p.errorf(c, "init_fail is not supported by ulvs: a script starts as good and falls after fall failures")
		default:
			p.unknown(c, "vrrp_script")
		}
	}
	if p.err != nil {
		return
	}
	if s.Script.IsZero() {
		p.errorf(n, "vrrp_script %s has no script", name)
		return
	}
	s.Interval = config.DefaultVRRPScriptInterval
	if interval.set {
		s.Interval = interval.v
	}
	s.Timeout = s.Interval
	if timeout.set {
		s.Timeout = timeout.v
	}
	s.Fall, s.Rise = 1, 1
	if fall.set {
		s.Fall = fall.v
	}
	if rise.set {
		s.Rise = rise.v
	}
	if p.vrrp.scripts == nil {
		p.vrrp.scripts = map[string]*vrrpScript{}
	}
	p.vrrp.scripts[name] = &vrrpScript{node: n, script: s}
}

// vrrpInstance reads a vrrp_instance block; resolveVRRP finishes it.
func (p *parser) vrrpInstance(n *Node) {
	name, ok := p.namedBlock(n, func(name string) *Node {
		for _, old := range p.vrrp.instances {
			if old.in.Name == name {
				return old.node
			}
		}
		return nil
	})
	if !ok {
		return
	}
	vi := &vrrpInstance{node: n, lines: map[string][]*Node{}}
	in := &vi.in
	in.Name, in.File, in.Line = name, n.File, n.Line
	for _, c := range n.Children {
		if p.err != nil {
			return
		}
		kw := c.Keyword()
		if _, list := vrrpListKeys[kw]; !list {
			vi.lines[kw] = []*Node{c}
		}
		if p.refuseVRRP(c, vrrpRefused) {
			return
		}
		if why, ok := vrrpIgnored[kw]; ok {
			p.warnf(c, "%s is not used by ulvs (ignored): %s", kw, why)
			continue
		}
		p.instanceKeyword(vi, c)
	}
	p.vrrp.instances = append(p.vrrp.instances, vi)
}

// vrrpListKeys are the keywords whose entries CheckVRRP counts: their
// lines are the entries' lines.
var vrrpListKeys = map[string]bool{
	"virtual_ipaddress": true, "virtual_ipaddress_excluded": true,
	"track_interface": true, "track_script": true, "unicast_peer": true,
}

// instanceKeyword reads one keyword of a vrrp_instance.
func (p *parser) instanceKeyword(vi *vrrpInstance, c *Node) {
	in := &vi.in
	if p.garp(c, c.Keyword(), &vi.garp) {
		return
	}
	switch kw := c.Keyword(); kw {
	case "state":
		if s, ok := p.arg(c); ok {
			if s != "MASTER" && s != "BACKUP" {
				p.errorf(c, "must be MASTER or BACKUP (got %q)", s)
				return
			}
			in.State = s
		}
	case "interface":
		if s, ok := p.arg(c); ok {
			if msg := config.CheckIfName(s); msg != "" {
				p.errorf(c, "%s", msg)
				return
			}
			in.Interface = s
			if !slices.Contains(p.file.Interfaces, s) {
				p.file.Interfaces = append(p.file.Interfaces, s)
			}
		}
	case "virtual_router_id":
		if x, ok := p.uint(c, 1, 255); ok {
			in.VRID = uint8(x)
		}
	case "priority":
		if x, ok := p.uint(c, 1, config.VRRPPriorityOwner); ok {
			vi.priority = optInt{int(x), true}
		}
	case "advert_int":
		var d time.Duration
		p.timer(c, 10_000, 255_000_000, &d)
		vi.advert = optDur{d, true}
	case "version":
		if x, ok := p.uint(c, 2, 3); ok {
			vi.version = optInt{int(x), true}
		}
	case "authentication":
		p.authentication(vi, c)
	case "virtual_ipaddress", "virtual_ipaddress_excluded":
		p.vrrpAddresses(vi, c)
	case "native_ipv6":
		in.NativeIPv6 = p.bare(c)
	case "nopreempt", "preempt":
		if p.bare(c) {
			in.NoPreempt = kw == "nopreempt"
		}
	case "preempt_delay":
		p.timer(c, 0, uint64(config.MaxPreemptDelay/time.Microsecond), &in.PreemptDelay)
	case "track_interface", "track_script":
		p.tracks(vi, c)
	case "notify_master":
		in.NotifyMaster, _ = p.script(c, in.NotifyMaster)
	case "notify_backup":
		in.NotifyBackup, _ = p.script(c, in.NotifyBackup)
	case "notify_fault":
		in.NotifyFault, _ = p.script(c, in.NotifyFault)
	case "notify_stop":
		in.NotifyStop, _ = p.script(c, in.NotifyStop)
	case "notify":
		in.Notify, _ = p.script(c, in.Notify)
	case "unicast_src_ip":
		if s, ok := p.arg(c); ok {
			a, msg := parseAddr(s) // its family: config.CheckVRRP
			if msg != "" {
				p.errorf(c, "%s", msg)
				return
			}
			in.UnicastSrc = a
		}
	case "unicast_peer":
		p.unicastPeers(vi, c)
	case "check_unicast_src":
		in.CheckUnicastSrc = p.bare(c)
	case "use_vmac":
		// keepalived's optional argument names the macvlan interface it
		// creates; ulvs creates none.
		if !p.noBlock(c) {
			return
		}
		if args := c.Args(); len(args) > 1 {
			p.errorf(c, "takes at most an interface name (got %q)", strings.Join(args, " "))
			return
		} else if len(args) == 1 {
			p.warnf(c, "use_vmac %s: ulvs creates no interface %s (it answers for the virtual MAC on the instance's interface itself); scripts that use %s will not find it", args[0], args[0], args[0])
		}
		in.UseVMAC = true
	case "vmac_xmit_base":
		in.VMACXmitBase = p.bare(c)
	default:
		p.unknown(c, "vrrp_instance")
	}
}

// authentication reads the authentication block.
func (p *parser) authentication(vi *vrrpInstance, n *Node) {
	if !p.needBlock(n) {
		return
	}
	for _, c := range n.Children {
		if p.err != nil {
			return
		}
		switch c.Keyword() {
		case "auth_type":
			vi.lines["auth_type"] = []*Node{c}
			s, ok := p.arg(c)
			switch {
			case !ok:
			case s == "PASS", s == "AH":
				vi.in.AuthType = s
			default:
				p.errorf(c, "must be PASS or AH (got %q)", s)
			}
		case "auth_pass":
			vi.lines["auth_pass"] = []*Node{c}
			if s, ok := p.arg(c); ok {
				if len(s) > config.MaxVRRPAuthPass {
					p.errorf(c, "must be 1 to %d bytes (got %d; keepalived would cut it to %q)", config.MaxVRRPAuthPass, len(s), s[:config.MaxVRRPAuthPass])
					return
				}
				vi.in.AuthPass = s
			}
		default:
			p.unknown(c, "authentication")
		}
	}
}

// vrrpAddresses reads a virtual_ipaddress or virtual_ipaddress_excluded
// block: one address a line.
func (p *parser) vrrpAddresses(vi *vrrpInstance, n *Node) {
	if !p.needBlock(n) {
		return
	}
	kw := n.Keyword()
	to := &vi.in.VIPs
	if kw == "virtual_ipaddress_excluded" {
		to = &vi.in.Excluded
	}
	for _, c := range n.Children {
		if !p.noBlock(c) {
			return
		}
		a, err := config.ParseVRRPAddress(strings.Join(c.Words, " "))
		if err != nil {
			p.errorf(c, "%v", err)
			return
		}
		*to = append(*to, a)
		vi.lines[kw] = append(vi.lines[kw], c)
	}
}

// tracks reads a track_interface or track_script block: NAME [weight N]
// a line.
func (p *parser) tracks(vi *vrrpInstance, n *Node) {
	if !p.needBlock(n) {
		return
	}
	kw := n.Keyword()
	lim := 254
	if kw == "track_script" {
		lim = 253
	}
	for _, c := range n.Children {
		if !p.noBlock(c) {
			return
		}
		args := c.Words
		var w int
		switch {
		case len(args) == 1:
		case len(args) == 3 && args[1] == "weight":
			var msg string
			if w, msg = parseInt(args[2], -lim, lim); msg != "" {
				p.errorf(c, "weight %s", msg)
				return
			}
		case len(args) == 4 && args[1] == "weight" && (args[3] == "reverse" || args[3] == "noreverse"):
			p.errorf(c, "weight %s %s: reverse is not supported by ulvs", args[2], args[3])
			return
		default:
			p.errorf(c, "takes NAME [weight N] (got %q)", strings.Join(args, " "))
			return
		}
		vi.lines[kw] = append(vi.lines[kw], c)
		if kw == "track_interface" {
			if msg := config.CheckIfName(args[0]); msg != "" {
				p.errorf(c, "%s", msg)
				return
			}
			vi.in.TrackInterfaces = append(vi.in.TrackInterfaces, config.VRRPTrackInterface{Name: args[0], Weight: w})
		} else {
			vi.tracks = append(vi.tracks, trackRef{node: c, name: args[0], weight: w, hasWeight: len(args) > 1})
		}
	}
}

// unicastPeers reads the unicast_peer block: one address a line.
func (p *parser) unicastPeers(vi *vrrpInstance, n *Node) {
	if !p.needBlock(n) {
		return
	}
	for _, c := range n.Children {
		if !p.noBlock(c) {
			return
		}
		if len(c.Words) > 1 {
			p.errorf(c, "%s is not supported by ulvs (only the peer's address)", strings.Join(c.Args(), " "))
			return
		}
		a, msg := parseAddr(c.Keyword()) // its family: config.CheckVRRP
		if msg != "" {
			p.errorf(c, "%s", msg)
			return
		}
		vi.in.UnicastPeers = append(vi.in.UnicastPeers, a)
		vi.lines["unicast_peer"] = append(vi.lines["unicast_peer"], c)
	}
}

// syncDaemon reads global_defs lvs_sync_daemon: IF [INSTANCE [SYNCID]]
// (the old form) or IF followed by inst NAME, id N, maxlen N, port N,
// ttl N and group ADDR in any order.
func (p *parser) syncDaemon(n *Node) {
	if !p.noBlock(n) {
		return
	}
	if p.vrrp.syncNode != nil {
		p.errorf(n, "given twice (first at %s:%d)", p.vrrp.syncNode.File, p.vrrp.syncNode.Line)
		return
	}
	args := n.Args()
	if len(args) == 0 {
		p.errorf(n, "needs an interface and a vrrp_instance: lvs_sync_daemon IF INSTANCE [id N]")
		return
	}
	if msg := config.CheckIfName(args[0]); msg != "" {
		p.errorf(n, "%s", msg)
		return
	}
	s := &config.SyncDaemon{Interface: args[0]}
	syncID := optInt{}
	for i := 1; i < len(args); i++ {
		word := args[i]
		kw := slices.Contains([]string{"inst", "id", "maxlen", "port", "ttl", "group"}, word)
		switch {
		case !kw && i == 1:
			s.Instance = word
			continue
		case !kw && i == 2 && s.Instance != "":
			v, msg := parseUint(word, 0, 255)
			if msg != "" {
				p.errorf(n, "sync id %s", msg)
				return
			}
			syncID = optInt{int(v), true}
			continue
		case !kw:
			p.errorf(n, "%q is not inst, id, maxlen, port, ttl or group", word)
			return
		case i+1 >= len(args):
			p.errorf(n, "%s needs a value", word)
			return
		}
		i++
		val := args[i]
		var msg string
		var v uint64
		switch word {
		case "inst":
			if s.Instance != "" {
				p.errorf(n, "names the vrrp_instance twice (%s and %s)", s.Instance, val)
				return
			}
			s.Instance = val
		case "id":
			v, msg = parseUint(val, 0, 255)
			syncID = optInt{int(v), true}
		case "maxlen":
			v, msg = parseUint(val, 1, 65535-20-8)
			s.MaxLen = uint16(v)
		case "port":
			v, msg = parseUint(val, 1, 65535)
			s.Port = uint16(v)
		case "ttl":
			v, msg = parseUint(val, 1, 255)
			s.TTL = uint8(v)
		case "group":
			var a netip.Addr
			if a, msg = parseIPv4(val); msg == "" && !a.IsMulticast() {
				msg = fmt.Sprintf("%s is not a multicast address", a)
			}
			s.Group = a
		}
		if msg != "" {
			p.errorf(n, "%s %s", word, msg)
			return
		}
	}
	if s.Instance == "" {
		p.errorf(n, "names no vrrp_instance: ulvs starts the sync daemon as master or backup with an instance's state (lvs_sync_daemon %s INSTANCE)", s.Interface)
		return
	}
	if syncID.set {
		s.SyncID = uint8(syncID.v)
	}
	p.vrrp.sync, p.vrrp.syncNode = s, n
	p.vrrp.syncIDSet = syncID.set
}

// resolveVRRP fills in the defaults of every instance, looks up its
// track_script names, checks it (config.CheckVRRP) and the sync daemon's
// instance, into File.VRRP and File.Sync.
func (p *parser) resolveVRRP() {
	v := &p.vrrp
	type key struct {
		ifname string
		vrid   uint8
	}
	vrids := map[key]*vrrpInstance{}
	for _, vi := range v.instances {
		in := vi.in
		if in.State == "" {
			in.State = "BACKUP"
		}
		in.Priority = uint8(pick(vi.priority, optInt{}, config.DefaultVRRPPriority))
		in.Version = pick(vi.version, v.version, config.DefaultVRRPVersion)
		if in.IPv6() && !vi.version.set {
			// keepalived's vrrp_complete_instance: an IPv6 instance
			// without a version of its own runs VRRPv3, whatever the
			// global vrrp_version says.
			in.Version = 3
		}
		in.AdvertInt = pick(vi.advert, optDur{}, config.DefaultVRRPAdvertInt)
		in.GARPDelay = pick(vi.garp.delay, v.garp.delay, config.DefaultGARPDelay)
		in.GARPRefresh = pick(vi.garp.refresh, v.garp.refresh, 0)
		in.GARPRepeat = pick(vi.garp.repeat, v.garp.repeat, config.DefaultGARPRepeat)
		in.GARPRefreshRepeat = pick(vi.garp.refreshRepeat, v.garp.refreshRepeat, config.DefaultGARPRefreshRepeat)
		in.CheckUnicastSrc = in.CheckUnicastSrc || v.checkUnicastSrc && len(in.UnicastPeers) > 0
		for _, t := range vi.tracks {
			s := v.scripts[t.name]
			if s == nil {
				p.errorf(t.node, "no vrrp_script %s is defined%s", t.name, p.scriptNames())
				return
			}
			in.TrackScripts = append(in.TrackScripts, config.VRRPTrackScript{Script: s.script, Weight: t.weight, HasWeight: t.hasWeight})
		}
		if pr := config.CheckVRRP(&in); pr != nil {
			p.errorAt(vi.problemNode(pr), pr.Key, "%s (vrrp_instance %s)", pr.Msg, in.Name)
			return
		}
		k := key{in.Interface, in.VRID}
		if old := vrids[k]; old != nil {
			p.errorAt(vi.problemNode(&config.VRRPProblem{Key: "virtual_router_id", Index: -1}), "virtual_router_id",
				"%d on %s is already used by vrrp_instance %s at %s:%d (vrrp_instance %s)",
				in.VRID, in.Interface, old.in.Name, old.node.File, old.node.Line, in.Name)
			return
		}
		vrids[k] = vi
		p.file.VRRP = append(p.file.VRRP, in)
	}
	if i, msg := config.CheckSyncGroups(v.groups, p.file.VRRP); i >= 0 {
		p.errorf(v.groupNodes[i], "%s", msg)
		return
	}
	p.file.VRRPSyncGroups = v.groups
	if s := v.sync; s != nil {
		i := slices.IndexFunc(p.file.VRRP, func(in config.VRRPInstance) bool { return in.Name == s.Instance })
		if i < 0 {
			p.errorf(v.syncNode, "no vrrp_instance %s is defined: the sync daemon follows an instance's state", s.Instance)
			return
		}
		if !v.syncIDSet {
			s.SyncID = p.file.VRRP[i].VRID
		}
		p.file.Sync = s
	}
}

// scriptNames lists the defined vrrp_script names for an error.
func (p *parser) scriptNames() string {
	if len(p.vrrp.scripts) == 0 {
		return " (the file defines none)"
	}
	names := make([]string, 0, len(p.vrrp.scripts))
	for name := range p.vrrp.scripts {
		names = append(names, name)
	}
	slices.Sort(names)
	return " (defined: " + strings.Join(names, ", ") + ")"
}

// problemNode returns the line a CheckVRRP problem is about: the entry's,
// the keyword's, or the block's.
func (vi *vrrpInstance) problemNode(pr *config.VRRPProblem) *Node {
	lines := vi.lines[pr.Key]
	if len(lines) == 0 && pr.Key == "auth_pass" {
		lines = vi.lines["auth_type"]
	}
	switch {
	case pr.Index >= 0 && pr.Index < len(lines):
		return lines[pr.Index]
	case len(lines) > 0:
		return lines[0]
	}
	return vi.node
}

// pick returns the instance's value, else global_defs', else def.
func pick[T any](own, global opt[T], def T) T {
	switch {
	case own.set:
		return own.v
	case global.set:
		return global.v
	}
	return def
}
