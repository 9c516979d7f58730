package tomlfile

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// This file parses the failover tables: [[vrrp_script]], [[vrrp_instance]]
// and [sync_daemon], keyed like keepalived.conf's keywords, into
// File.VRRP and File.Sync with keepalived's defaults resolved, as package
// keepalived does.

var vrrpInstanceKeys = []string{
	"name", "state", "interface", "virtual_router_id", "priority", "advert_int", "version",
	"auth_type", "auth_pass", "virtual_ipaddress", "virtual_ipaddress_excluded", "nopreempt",
	"preempt_delay", "garp_master_delay", "garp_master_repeat", "garp_master_refresh",
	"garp_master_refresh_repeat", "track_interface", "track_script", "notify_master",
	"notify_backup", "notify_fault", "notify_stop", "notify", "unicast_src_ip", "unicast_peer",
	"check_unicast_src", "use_vmac", "vmac_xmit_base", "native_ipv6",
}

var vrrpScriptKeys = []string{"name", "script", "interval", "timeout", "weight", "fall", "rise"}

var syncGroupKeys = []string{"name", "group", "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"}

var syncDaemonKeys = []string{"interface", "instance", "sync_id", "maxlen", "port", "ttl", "group"}

// tomlVRRPUnsupported are keepalived vrrp_instance keywords a user may
// carry over that ulvs does not implement.
var tomlVRRPUnsupported = []string{
	"use_vmac_addr", "use_ipvlan", "track_process",
	"track_file", "track_bfd", "vrf", "mcast_src_ip", "mcast_dst_ip", "strict_mode", "dont_track_primary",
}

// vrrp parses the failover tables of the document into f.
func (p *fileParser) vrrp(f *config.File, top *tomlTable) {
	scripts := map[string]config.VRRPScript{}
	for i, m := range top.tables("vrrp_script") {
		path := fmt.Sprintf("vrrp_script[%d]", i)
		if s, ok := p.vrrpScript(path, m); ok {
			if _, dup := scripts[s.Name]; dup {
				p.errorf(path+".name", "vrrp_script %q is defined twice", s.Name)
				continue
			}
			scripts[s.Name] = s
		}
	}
	type key struct {
		ifname string
		vrid   uint8
	}
	vrids := map[key]int{}
	for i, m := range top.tables("vrrp_instance") {
		path := fmt.Sprintf("vrrp_instance[%d]", i)
		in, ok := p.vrrpInstance(path, m, scripts)
		if !ok {
			continue
		}
		if j := slices.IndexFunc(f.VRRP, func(o config.VRRPInstance) bool { return o.Name == in.Name }); j >= 0 {
			p.errorf(path+".name", "vrrp_instance %q is already defined (line %d)", in.Name, f.VRRP[j].Line)
			continue
		}
		k := key{in.Interface, in.VRID}
		if j, dup := vrids[k]; dup {
			p.errorf(path+".virtual_router_id", "%d on %s is already used by vrrp_instance %q", in.VRID, in.Interface, f.VRRP[j].Name)
			continue
		}
		vrids[k] = len(f.VRRP)
		f.VRRP = append(f.VRRP, in)
	}
	groups := top.tables("vrrp_sync_group")
	for i, m := range groups {
		p.syncGroup(f, fmt.Sprintf("vrrp_sync_group[%d]", i), m)
	}
	if len(f.VRRPSyncGroups) == len(groups) {
		if i, msg := config.CheckSyncGroups(f.VRRPSyncGroups, f.VRRP); i >= 0 {
			p.errorf(fmt.Sprintf("vrrp_sync_group[%d].group", i), "%s", msg)
		}
	}
	if m, ok := top.table("sync_daemon"); ok {
		f.Sync = p.syncDaemon(m, f.VRRP)
	}
}

// syncGroup parses one [[vrrp_sync_group]] into f.
func (p *fileParser) syncGroup(f *config.File, path string, m map[string]any) {
	t := p.table(path, m, syncGroupKeys...)
	errs := len(p.errs)
	g := config.VRRPSyncGroup{File: p.path, Line: lineOf(p.lines, path)}
	g.Name, _ = p.required(t, "name", "the group's name (keepalived's vrrp_sync_group NAME)")
	if members, set := t.strings("group"); set {
		g.Members = members
	} else if _, present := m["group"]; !present {
		p.errorf(t.field("group"), "required: the names of the vrrp_instance members, like [\"VI_1\", \"VI_2\"]")
	}
	for _, kv := range []struct {
		key string
		to  *config.Script
	}{{"notify_master", &g.NotifyMaster}, {"notify_backup", &g.NotifyBackup}, {"notify_fault", &g.NotifyFault},
		{"notify_stop", &g.NotifyStop}, {"notify", &g.Notify}} {
		*kv.to, _ = p.script(t, kv.key)
	}
	t.done()
	if len(p.errs) == errs {
		f.VRRPSyncGroups = append(f.VRRPSyncGroups, g)
	}
}

// vrrpScript parses one [[vrrp_script]].
func (p *fileParser) vrrpScript(path string, m map[string]any) (config.VRRPScript, bool) {
	t := p.table(path, m, vrrpScriptKeys...)
	defer t.done()
	s := config.VRRPScript{Interval: config.DefaultVRRPScriptInterval, Fall: 1, Rise: 1}
	name, ok := p.required(t, "name", "the name track_script uses")
	s.Name = name
	var sok bool
	s.Script, sok = p.script(t, "script")
	ok = ok && sok
	if _, present := m["script"]; !present {
		p.errorf(path+".script", "required: the command line to run")
		ok = false
	}
	if n, set, iok := p.optInt(t, "interval", 1, math.MaxUint32/1_000_000); set {
		s.Interval = time.Duration(n) * time.Second
	} else {
		ok = ok && iok
	}
	s.Timeout = s.Interval
	if n, set, iok := p.optInt(t, "timeout", 1, math.MaxUint32/1_000_000); set {
		s.Timeout = time.Duration(n) * time.Second
	} else {
		ok = ok && iok
	}
	w, wok := t.int("weight", -253, 253)
	s.Weight = int(w)
	ok = ok && wok
	for _, kv := range []struct {
		key string
		to  *int
	}{{"fall", &s.Fall}, {"rise", &s.Rise}} {
		if n, set, fok := p.optInt(t, kv.key, 1, math.MaxInt32); set {
			*kv.to = int(n)
		} else {
			ok = ok && fok
		}
	}
	return s, ok
}

// required returns the non-empty string at key, reporting it missing with
// what it is for.
func (p *fileParser) required(t *tomlTable, key, what string) (string, bool) {
	s, set := t.string(key)
	switch {
	case !set:
		if _, present := t.m[key]; !present {
			p.errorf(t.field(key), "required: %s", what)
		}
		return "", false
	case s == "":
		p.errorf(t.field(key), "must not be empty: %s", what)
		return "", false
	}
	return s, true
}

// optInt returns the integer at key: set when present and valid; ok is
// false when present and wrong (reported).
func (p *fileParser) optInt(t *tomlTable, key string, lo, hi int64) (n int64, set, ok bool) {
	if _, present := t.m[key]; !present {
		return 0, false, true
	}
	n, ok = t.int(key, lo, hi)
	return n, ok, ok
}

// vrrpInstance parses one [[vrrp_instance]]; scripts are the
// [[vrrp_script]] tables by name.
func (p *fileParser) vrrpInstance(path string, m map[string]any, scripts map[string]config.VRRPScript) (config.VRRPInstance, bool) {
	t := p.table(path, m, vrrpInstanceKeys...)
	defer t.done()
	in := config.VRRPInstance{
		State: "BACKUP", Priority: config.DefaultVRRPPriority, AdvertInt: config.DefaultVRRPAdvertInt,
		Version: config.DefaultVRRPVersion, GARPDelay: config.DefaultGARPDelay,
		GARPRepeat: config.DefaultGARPRepeat, GARPRefreshRepeat: config.DefaultGARPRefreshRepeat,
		File: p.path, Line: lineOf(p.lines, path),
	}
	errs := len(p.errs)
	in.Name, _ = p.required(t, "name", "the instance's name (keepalived's vrrp_instance NAME)")
	if s, set := t.string("state"); set {
		in.State = strings.ToUpper(s)
		if in.State != "MASTER" && in.State != "BACKUP" {
			p.errorf(t.field("state"), "must be \"MASTER\" or \"BACKUP\" (got %q)", s)
		}
	}
	if s, ok := p.required(t, "interface", "the interface the adverts go out of"); ok {
		if msg := config.CheckIfName(s); msg != "" {
			p.errorf(t.field("interface"), "%s", msg)
		}
		in.Interface = s
	}
	if _, present := m["virtual_router_id"]; !present {
		p.errorf(t.field("virtual_router_id"), "required: a number from 1 to 255, the same on every router of the group")
	}
	vrid, _ := t.int("virtual_router_id", 1, 255)
	in.VRID = uint8(vrid)
	if n, set, _ := p.optInt(t, "priority", 1, config.VRRPPriorityOwner); set {
		in.Priority = uint8(n)
	}
	if d, set := t.seconds("advert_int", 10*time.Millisecond, 255*time.Second); set {
		in.AdvertInt = d
	}
	versionSet := false
	if n, set, _ := p.optInt(t, "version", 2, 3); set {
		in.Version, versionSet = int(n), true
	}
	if s, set := t.string("auth_type"); set {
		in.AuthType = strings.ToUpper(s)
	}
	in.AuthPass, _ = t.string("auth_pass")
	in.VIPs = p.vrrpAddresses(t, "virtual_ipaddress")
	in.Excluded = p.vrrpAddresses(t, "virtual_ipaddress_excluded")
	in.NoPreempt = t.bool("nopreempt")
	in.NativeIPv6 = t.bool("native_ipv6")
	if d, set := t.seconds("preempt_delay", 0, config.MaxPreemptDelay); set {
		in.PreemptDelay = d
	}
	for _, kv := range []struct {
		key string
		to  *time.Duration
	}{{"garp_master_delay", &in.GARPDelay}, {"garp_master_refresh", &in.GARPRefresh}} {
		if n, set, _ := p.optInt(t, kv.key, 0, math.MaxUint32/1_000_000); set {
			*kv.to = time.Duration(n) * time.Second
		}
	}
	for _, kv := range []struct {
		key string
		to  *int
	}{{"garp_master_repeat", &in.GARPRepeat}, {"garp_master_refresh_repeat", &in.GARPRefreshRepeat}} {
		if n, set, _ := p.optInt(t, kv.key, 1, math.MaxInt32); set {
			*kv.to = int(n)
		}
	}
	in.TrackInterfaces = p.trackInterfaces(t)
	in.TrackScripts = p.trackScripts(t, scripts)
	for _, kv := range []struct {
		key string
		to  *config.Script
	}{{"notify_master", &in.NotifyMaster}, {"notify_backup", &in.NotifyBackup}, {"notify_fault", &in.NotifyFault},
		{"notify_stop", &in.NotifyStop}, {"notify", &in.Notify}} {
		*kv.to, _ = p.script(t, kv.key)
	}
	if s, set := t.string("unicast_src_ip"); set {
		a, msg := parseUnicastAddr(s)
		if msg != "" {
			p.errorf(t.field("unicast_src_ip"), "%s", msg)
		}
		in.UnicastSrc = a
	}
	if addrs, set := t.strings("unicast_peer"); set {
		for i, s := range addrs {
			a, msg := parseUnicastAddr(s)
			if msg != "" {
				p.errorf(fmt.Sprintf("%s[%d]", t.field("unicast_peer"), i), "%s", msg)
				continue
			}
			in.UnicastPeers = append(in.UnicastPeers, a)
		}
	}
	in.CheckUnicastSrc = t.bool("check_unicast_src")
	in.UseVMAC = t.bool("use_vmac")
	in.VMACXmitBase = t.bool("vmac_xmit_base")
	if len(p.errs) > errs {
		return in, false
	}
	if in.IPv6() && !versionSet {
		in.Version = 3 // as keepalived: an IPv6 instance is VRRPv3 unless it says otherwise
	}
	if pr := config.CheckVRRP(&in); pr != nil {
		field := t.field(pr.Key)
		if pr.Index >= 0 {
			field = fmt.Sprintf("%s[%d]", field, pr.Index)
		}
		p.errorf(field, "%s", pr.Msg)
		return in, false
	}
	return in, true
}

// vrrpAddresses parses an array of virtual_ipaddress lines.
func (p *fileParser) vrrpAddresses(t *tomlTable, key string) []config.VRRPAddress {
	lines, _ := t.strings(key)
	var out []config.VRRPAddress
	for i, line := range lines {
		a, err := config.ParseVRRPAddress(line)
		if err != nil {
			p.errorf(fmt.Sprintf("%s[%d]", t.field(key), i), "%v", err)
			continue
		}
		out = append(out, a)
	}
	return out
}

// trackInterfaces parses track_interface = [{ interface = "eth0",
// weight = -20 }, ...].
func (p *fileParser) trackInterfaces(t *tomlTable) []config.VRRPTrackInterface {
	var out []config.VRRPTrackInterface
	for i, m := range t.tables("track_interface") {
		tt := p.table(fmt.Sprintf("%s[%d]", t.field("track_interface"), i), m, "interface", "weight")
		name, ok := p.required(tt, "interface", "the interface to track")
		w, wok := tt.int("weight", -254, 254)
		tt.done()
		if ok && wok {
			out = append(out, config.VRRPTrackInterface{Name: name, Weight: int(w)})
		}
	}
	return out
}

// trackScripts parses track_script = [{ script = "chk", weight = 10 },
// ...], looking the names up in scripts.
func (p *fileParser) trackScripts(t *tomlTable, scripts map[string]config.VRRPScript) []config.VRRPTrackScript {
	var out []config.VRRPTrackScript
	for i, m := range t.tables("track_script") {
		tt := p.table(fmt.Sprintf("%s[%d]", t.field("track_script"), i), m, "script", "weight")
		name, ok := p.required(tt, "script", "the name of a [[vrrp_script]]")
		_, hasWeight := m["weight"]
		w, wok := tt.int("weight", -253, 253)
		tt.done()
		if !ok || !wok {
			continue
		}
		s, defined := scripts[name]
		if !defined {
			p.errorf(tt.field("script"), "no [[vrrp_script]] is named %q%s", name, scriptNameList(scripts))
			continue
		}
		out = append(out, config.VRRPTrackScript{Script: s, Weight: int(w), HasWeight: hasWeight})
	}
	return out
}

func scriptNameList(scripts map[string]config.VRRPScript) string {
	if len(scripts) == 0 {
		return " (the file has none)"
	}
	names := make([]string, 0, len(scripts))
	for name := range scripts {
		names = append(names, name)
	}
	slices.Sort(names)
	return " (defined: " + strings.Join(names, ", ") + ")"
}

// syncDaemon parses [sync_daemon]; instances are the file's.
func (p *fileParser) syncDaemon(m map[string]any, instances []config.VRRPInstance) *config.SyncDaemon {
	t := p.table("sync_daemon", m, syncDaemonKeys...)
	defer t.done()
	s := &config.SyncDaemon{}
	errs := len(p.errs)
	if name, ok := p.required(t, "interface", "the interface the sync messages go out of"); ok {
		if msg := config.CheckIfName(name); msg != "" {
			p.errorf(t.field("interface"), "%s", msg)
		}
		s.Interface = name
	}
	s.Instance, _ = p.required(t, "instance", "the [[vrrp_instance]] whose state the sync daemon follows")
	id, idSet, _ := p.optInt(t, "sync_id", 0, 255)
	maxlen, _ := t.int("maxlen", 1, 65535-20-8)
	port, _ := t.int("port", 1, 65535)
	ttl, _ := t.int("ttl", 1, 255)
	s.SyncID, s.MaxLen, s.Port, s.TTL = uint8(id), uint16(maxlen), uint16(port), uint8(ttl)
	if g, set := t.string("group"); set {
		a, msg := parseAddr4(g)
		if msg == "" && !a.IsMulticast() {
			msg = fmt.Sprintf("%s is not a multicast address", a)
		}
		if msg != "" {
			p.errorf(t.field("group"), "%s", msg)
		}
		s.Group = a
	}
	if len(p.errs) > errs {
		return nil
	}
	i := slices.IndexFunc(instances, func(in config.VRRPInstance) bool { return in.Name == s.Instance })
	if i < 0 {
		p.errorf(t.field("instance"), "no [[vrrp_instance]] is named %q: the sync daemon follows an instance's state", s.Instance)
		return nil
	}
	if !idSet {
		s.SyncID = instances[i].VRID
	}
	return s
}

// parseUnicastAddr reads a unicast_src_ip or unicast_peer: an IPv4 or
// IPv6 address (link-local included), without a port or zone; its family
// and kind are config.CheckVRRP's.
func parseUnicastAddr(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Sprintf("must be an IPv4 or IPv6 address without a port (got %q)", s)
	case a.Zone() != "":
		return netip.Addr{}, fmt.Sprintf("an address with a zone is not supported (got %q; a link-local peer is reached on the instance's interface)", s)
	}
	return a, ""
}

// parseAddr4 reads an IPv4 address of any kind.
func parseAddr4(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return a, fmt.Sprintf("must be an IPv4 address (got %q)", s)
	case !a.Is4():
		return a, fmt.Sprintf("IPv6 is not supported by ulvs (got %q)", s)
	}
	return a, ""
}
