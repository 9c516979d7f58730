package tomlfile

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/ulvs/ulvs/config"
)

// This file writes the failover part of the model: [[vrrp_script]] for
// every script the instances track, [[vrrp_instance]] and [sync_daemon].
// Values that differ from the defaults Parse fills in are written, and
// the keys that say what the instance is (state, interface,
// virtual_router_id, priority, advert_int) always.

// writeVRRP writes the failover tables of f.
func writeVRRP(b *strings.Builder, f *config.File) error {
	scripts, err := vrrpScripts(f.VRRP)
	if err != nil {
		return err
	}
	for _, s := range scripts {
		b.WriteString("\n[[vrrp_script]]\n")
		w := keyWriter{b: b}
		w.str("name", s.Name)
		w.script("script", s.Script)
		if s.Interval != config.DefaultVRRPScriptInterval {
			w.seconds("interval", s.Interval)
		}
		if s.Timeout != s.Interval {
			w.seconds("timeout", s.Timeout)
		}
		for _, kv := range []struct {
			k    string
			v, d int
		}{{"weight", s.Weight, 0}, {"fall", s.Fall, 1}, {"rise", s.Rise, 1}} {
			if kv.v != kv.d {
				w.int(kv.k, int64(kv.v))
			}
		}
	}
	for i := range f.VRRP {
		writeVRRPInstance(b, &f.VRRP[i])
	}
	for _, g := range f.VRRPSyncGroups {
		b.WriteString("\n[[vrrp_sync_group]]\n")
		w := keyWriter{b: b}
		w.str("name", g.Name)
		members := make([]string, len(g.Members))
		for i, m := range g.Members {
			members[i] = tomlString(m)
		}
		w.raw("group", "["+strings.Join(members, ", ")+"]")
		w.script("notify_master", g.NotifyMaster)
		w.script("notify_backup", g.NotifyBackup)
		w.script("notify_fault", g.NotifyFault)
		w.script("notify_stop", g.NotifyStop)
		w.script("notify", g.Notify)
	}
	if s := f.Sync; s != nil {
		b.WriteString("\n[sync_daemon]\n")
		w := keyWriter{b: b}
		w.str("interface", s.Interface)
		w.str("instance", s.Instance)
		w.int("sync_id", int64(s.SyncID))
		for _, kv := range []struct {
			k string
			v int64
		}{{"maxlen", int64(s.MaxLen)}, {"port", int64(s.Port)}, {"ttl", int64(s.TTL)}} {
			if kv.v != 0 {
				w.int(kv.k, kv.v)
			}
		}
		if s.Group.IsValid() {
			w.str("group", s.Group.String())
		}
	}
	return nil
}

// vrrpScripts returns the scripts the instances track, once each in the
// order they are first tracked. Two different scripts of one name cannot
// be written.
func vrrpScripts(instances []config.VRRPInstance) ([]config.VRRPScript, error) {
	var out []config.VRRPScript
	seen := map[string]int{}
	for _, in := range instances {
		for _, t := range in.TrackScripts {
			s := t.Script
			if i, ok := seen[s.Name]; ok {
				if !reflect.DeepEqual(out[i], s) {
					return nil, fmt.Errorf("vrrp_instance %s: two different vrrp_script %s: %w", in.Name, s.Name, ErrNotExpressible)
				}
				continue
			}
			seen[s.Name] = len(out)
			out = append(out, s)
		}
	}
	return out, nil
}

func writeVRRPInstance(b *strings.Builder, in *config.VRRPInstance) {
	b.WriteString("\n[[vrrp_instance]]\n")
	w := keyWriter{b: b}
	w.str("name", in.Name)
	w.str("state", in.State)
	w.str("interface", in.Interface)
	w.int("virtual_router_id", int64(in.VRID))
	w.int("priority", int64(in.Priority))
	w.seconds("advert_int", in.AdvertInt)
	if in.Version != config.DefaultVRRPVersion {
		w.int("version", int64(in.Version))
	}
	if in.AuthType != "" {
		w.str("auth_type", in.AuthType)
	}
	if in.AuthPass != "" {
		w.str("auth_pass", in.AuthPass)
	}
	for _, kv := range []struct {
		k     string
		addrs []config.VRRPAddress
	}{{"virtual_ipaddress", in.VIPs}, {"virtual_ipaddress_excluded", in.Excluded}} {
		if len(kv.addrs) > 0 {
			lines := make([]string, len(kv.addrs))
			for i, a := range kv.addrs {
				lines[i] = tomlString(a.String())
			}
			w.raw(kv.k, "["+strings.Join(lines, ", ")+"]")
		}
	}
	w.flag("nopreempt", in.NoPreempt)
	w.flag("native_ipv6", in.NativeIPv6)
	if in.PreemptDelay != 0 {
		w.seconds("preempt_delay", in.PreemptDelay)
	}
	if in.GARPDelay != config.DefaultGARPDelay {
		w.seconds("garp_master_delay", in.GARPDelay)
	}
	if in.GARPRepeat != config.DefaultGARPRepeat {
		w.int("garp_master_repeat", int64(in.GARPRepeat))
	}
	if in.GARPRefresh != 0 {
		w.seconds("garp_master_refresh", in.GARPRefresh)
	}
	if in.GARPRefreshRepeat != config.DefaultGARPRefreshRepeat {
		w.int("garp_master_refresh_repeat", int64(in.GARPRefreshRepeat))
	}
	if len(in.TrackInterfaces) > 0 {
		items := make([]string, len(in.TrackInterfaces))
		for i, t := range in.TrackInterfaces {
			items[i] = "{ interface = " + tomlString(t.Name)
			if t.Weight != 0 {
				items[i] += fmt.Sprintf(", weight = %d", t.Weight)
			}
			items[i] += " }"
		}
		w.raw("track_interface", "["+strings.Join(items, ", ")+"]")
	}
	if len(in.TrackScripts) > 0 {
		items := make([]string, len(in.TrackScripts))
		for i, t := range in.TrackScripts {
			items[i] = "{ script = " + tomlString(t.Script.Name)
			if t.HasWeight {
				items[i] += fmt.Sprintf(", weight = %d", t.Weight)
			}
			items[i] += " }"
		}
		w.raw("track_script", "["+strings.Join(items, ", ")+"]")
	}
	w.script("notify_master", in.NotifyMaster)
	w.script("notify_backup", in.NotifyBackup)
	w.script("notify_fault", in.NotifyFault)
	w.script("notify_stop", in.NotifyStop)
	w.script("notify", in.Notify)
	if in.UnicastSrc.IsValid() {
		w.str("unicast_src_ip", in.UnicastSrc.String())
	}
	if len(in.UnicastPeers) > 0 {
		peers := make([]string, len(in.UnicastPeers))
		for i, a := range in.UnicastPeers {
			peers[i] = tomlString(a.String())
		}
		w.raw("unicast_peer", "["+strings.Join(peers, ", ")+"]")
	}
	w.flag("check_unicast_src", in.CheckUnicastSrc)
	w.flag("use_vmac", in.UseVMAC)
	w.flag("vmac_xmit_base", in.VMACXmitBase)
}
