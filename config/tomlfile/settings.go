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
	t := p.table("sysctl", m, "conn_reuse_mode", "expire_nodest_conn", "expire_quiescent_template",
		"sloppy_tcp", "lblc_expiration", "lblcr_expiration", "mh_table_size", "overhead")
	defer t.done()
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
