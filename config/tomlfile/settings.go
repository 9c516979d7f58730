package tomlfile

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
)

// This file parses the settings tables: [sysctl] and [metrics].

// tomlMHTableSizes are the mh lookup table sizes the kernel can be built
// with: ip_vs_mh.c's primes[], of which CONFIG_IP_VS_MH_TAB_INDEX 8..17
// picks one (default 12: 4093).
var tomlMHTableSizes = []int{251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071}

// tomlOverheads are the accepted [sysctl] overhead names.
var tomlOverheads = []string{"classic", "total"}

// sysctl parses the [sysctl] table into k.
func (p *fileParser) sysctl(k *config.Knobs, m map[string]any) {
	t := p.table("sysctl", m, append([]string{"conn_reuse_mode", "expire_nodest_conn", "expire_quiescent_template",
		"sloppy_tcp", "lblc_expiration", "lblcr_expiration", "mh_table_size", "overhead",
		"drop_entry", "drop_packet", "secure_tcp", "amemthresh", "am_droprate"}, tomlSyncSysctls...)...)
	defer t.done()
	p.syncSysctls(t, k, m)
	if _, set := m["conn_reuse_mode"]; set {
		// The kernel takes any integer (proc_dointvec) but only looks at
		// "not 0" and bit 1 (value 2: also reschedule over FIN_WAIT
		// connections of DR/TUN, ip_vs_core.c is_new_conn_expected).
		if n, ok := t.int("conn_reuse_mode", 0, 3); ok {
			k.ConnReuseMode, k.ConnReuseSet = int(n), true
		}
	}
	k.ExpireNodestConn = t.flag("expire_nodest_conn")
	k.ExpireQuiescentTemplate = t.flag("expire_quiescent_template")
	k.SloppyTCP = t.flag("sloppy_tcp")
	// The defence modes take 0..3, as proc_do_defense_mode does.
	for _, d := range []struct {
		key string
		v   *int
	}{{"drop_entry", &k.DropEntry}, {"drop_packet", &k.DropPacket}, {"secure_tcp", &k.SecureTCP}} {
		n, _ := t.int(d.key, 0, 3)
		*d.v = int(n)
	}
	if _, set := m["amemthresh"]; set {
		n, ok := t.int("amemthresh", 0, math.MaxInt32)
		k.AmemThresh, k.AmemThreshSet = int(n), ok
	}
	if _, set := m["am_droprate"]; set {
		n, ok := t.int("am_droprate", 0, math.MaxInt32)
		k.AmDropRate, k.AmDropRateSet = int(n), ok
	}
	for _, key := range []string{"lblc_expiration", "lblcr_expiration"} {
		if _, set := m[key]; !set {
			continue
		}
		n, _ := t.int(key, 1, fileMaxExpiration)
		if key == "lblc_expiration" {
			k.LBLCExpiration = uint32(n)
		} else {
			k.LBLCRExpiration = uint32(n)
		}
	}
	if _, set := m["mh_table_size"]; set {
		if n, ok := t.int("mh_table_size", math.MinInt64, math.MaxInt64); ok {
			if slices.Contains(tomlMHTableSizes, int(n)) {
				k.MHTableSize = int(n)
			} else {
				sizes := make([]string, len(tomlMHTableSizes))
				for i, size := range tomlMHTableSizes {
					sizes[i] = strconv.Itoa(size)
				}
				p.errorf("sysctl.mh_table_size", "must be one of the kernel's mh table sizes %s (got %d)", strings.Join(sizes, " "), n)
			}
		}
	}
	if s, set := t.string("overhead"); set {
		if name := strings.ToLower(s); slices.Contains(tomlOverheads, name) {
			k.Overhead = name
		} else {
			p.errorf("sysctl.overhead", "must be \"classic\" or \"total\" (got %q)", s)
		}
	}
}

// tomlSyncSysctls are the connection sync sysctls [sysctl] takes, in the
// order they are applied (ipvssync.SysctlNames).
var tomlSyncSysctls = []string{
	"sync_threshold", "sync_refresh_period", "sync_retries", "sync_persist_mode",
	"sync_qlen_max", "sync_sock_size", "sync_ports", "sync_version",
}

// syncSysctls parses the connection sync sysctls of [sysctl] into k.Sync,
// as /proc's text: sync_threshold is an array of two integers (threshold
// and period), sync_persist_mode a flag, the others non-negative
// integers. The kernel's finer rules (threshold below period, sync_ports
// a power of 2, ...) are checked where they are applied.
func (p *fileParser) syncSysctls(t *tomlTable, k *config.Knobs, m map[string]any) {
	for _, name := range tomlSyncSysctls {
		v, set := m[name]
		if !set {
			continue
		}
		var val string
		switch name {
		case "sync_threshold":
			a, ok := v.([]any)
			var nums []string
			for _, x := range a {
				if n, isInt := x.(int64); isInt && n >= 0 {
					nums = append(nums, strconv.FormatInt(n, 10))
				}
			}
			if !ok || len(a) != 2 || len(nums) != 2 {
				p.errorf("sysctl.sync_threshold", "must be two non-negative integers, [threshold, period] (the kernel's default is [3, 50])")
				continue
			}
			val = nums[0] + " " + nums[1]
		case "sync_persist_mode":
			val = "0"
			if t.flag(name) {
				val = "1"
			}
		default:
			n, ok := t.int(name, 0, math.MaxInt32)
			if !ok {
				continue
			}
			val = strconv.FormatInt(n, 10)
		}
		k.Sync = append(k.Sync, config.SyncSysctl{Name: name, Value: val})
	}
}

// metrics parses the [metrics] table into m.
func (p *fileParser) metrics(m *config.Metrics, tbl map[string]any) {
	t := p.table("metrics", tbl, "listen")
	defer t.done()
	s, ok := t.string("listen")
	if !ok {
		if _, present := tbl["listen"]; !present {
			p.errorf("metrics.listen", "required: the host:port to serve /metrics on (leave out [metrics] to turn metrics off)")
		}
		return
	}
	if msg := config.CheckListen(s); msg != "" {
		p.errorf("metrics.listen", "%s", msg)
		return
	}
	m.Listen = s
}

// web parses the [web] table into w.
func (p *fileParser) web(w *config.Web, tbl map[string]any) {
	t := p.table("web", tbl, "listen", "cert", "key", "users")
	defer t.done()
	s, ok := t.string("listen")
	if !ok {
		if _, present := tbl["listen"]; !present {
			p.errorf("web.listen", "required: the host:port (or port, on 127.0.0.1) to serve the console on (leave out [web] to turn it off)")
		}
		return
	}
	if _, err := config.WebListen(s); err != nil {
		p.errorf("web.listen", "%v", err)
		return
	}
	w.Listen = s
	w.Cert, _ = t.string("cert")
	w.Key, _ = t.string("key")
	if (w.Cert == "") != (w.Key == "") {
		p.errorf("web.cert", "cert and key go together: give both for TLS, or neither")
	}
	w.Users, _ = t.string("users")
}
