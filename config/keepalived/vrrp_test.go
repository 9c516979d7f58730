package keepalived

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/config"
)

func script(t *testing.T, text string) config.Script {
	t.Helper()
	s, err := config.ParseScript(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestVRRPFiles checks the VRRP model of the sample files, every default
// resolved.
func TestVRRPFiles(t *testing.T) {
	chkNginx := config.VRRPScript{Name: "chk_nginx", Script: script(t, "/usr/bin/pgrep -x nginx"),
		Interval: 2 * time.Second, Timeout: 2 * time.Second, Weight: -30, Fall: 3, Rise: 2}
	chkLoad := config.VRRPScript{Name: "chk_load", Script: script(t, "/usr/local/bin/chk_load"),
		Interval: 5 * time.Second, Timeout: 3 * time.Second, Fall: 1, Rise: 1}
	for _, tt := range []struct {
		file       string
		vrrp       []config.VRRPInstance
		sync       *config.SyncDaemon
		interfaces []string
	}{
		{"testdata/vrrp-unicast.conf", []config.VRRPInstance{{
			Name: "VI_WEB", State: "BACKUP", Interface: "eth1", VRID: 61, Priority: 150,
			AdvertInt: 500 * time.Millisecond, Version: 3,
			VIPs: []config.VRRPAddress{
				{Prefix: pfx("192.168.50.100/24"), Brd: ip("192.168.50.255"), Dev: "eth1", Label: "eth1:web"},
				{Prefix: pfx("192.168.50.101/32")},
			},
			Excluded:  []config.VRRPAddress{{Prefix: pfx("192.168.60.100/24"), Dev: "eth2", Scope: "global"}},
			NoPreempt: true,
			GARPDelay: time.Second, GARPRepeat: 3, GARPRefresh: time.Minute, GARPRefreshRepeat: 2,
			UnicastSrc: ip("192.168.50.11"), UnicastPeers: []netip.Addr{ip("192.168.50.12"), ip("192.168.50.13")},
			CheckUnicastSrc: true,
			File:            "testdata/vrrp-unicast.conf", Line: 12,
		}}, &config.SyncDaemon{Interface: "eth1", Instance: "VI_WEB", SyncID: 7, MaxLen: 1400, Port: 8849, TTL: 2, Group: ip("239.1.1.81")},
			[]string{"eth1"}},
		{"testdata/vrrp-track.conf", []config.VRRPInstance{{
			Name: "VI_1", State: "MASTER", Interface: "eth0", VRID: 51, Priority: 101,
			AdvertInt: 2 * time.Second, Version: 2, AuthType: "PASS", AuthPass: "s3cr3t",
			VIPs:         []config.VRRPAddress{{Prefix: pfx("10.0.0.100/24"), Dev: "eth0"}},
			PreemptDelay: 30500 * time.Millisecond,
			GARPDelay:    10 * time.Second, GARPRepeat: 2, GARPRefreshRepeat: 1,
			TrackInterfaces: []config.VRRPTrackInterface{{Name: "eth0"}, {Name: "eth2", Weight: -20}},
			TrackScripts:    []config.VRRPTrackScript{{Script: chkNginx}, {Script: chkLoad, Weight: 10, HasWeight: true}},
			NotifyMaster:    script(t, "/usr/local/bin/notify.sh master"),
			NotifyBackup:    script(t, "/usr/local/bin/backup.sh"),
			NotifyFault:     script(t, "/usr/local/bin/notify.sh 'fault state'"),
			NotifyStop:      script(t, "/usr/local/bin/stop.sh"),
			Notify:          script(t, "/usr/local/bin/any.sh"),
			File:            "testdata/vrrp-track.conf", Line: 4,
		}}, &config.SyncDaemon{Interface: "eth0", Instance: "VI_1", SyncID: 51}, []string{"eth0"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.vrrp, f.VRRP, cmpAddr); diff != "" {
				t.Errorf("VRRP mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.sync, f.Sync, cmpAddr); diff != "" {
				t.Errorf("Sync mismatch (-want +got):\n%s", diff)
			}
			if !slices.Equal(f.Interfaces, tt.interfaces) {
				t.Errorf("Interfaces %q, want %q", f.Interfaces, tt.interfaces)
			}
			if len(f.Warnings) != 0 {
				t.Errorf("warnings: %q", warningTexts(f.Warnings))
			}
		})
	}
}

// vi wraps lines into a vrrp_instance with the required keywords; the
// vrrp_instance line is line 1, lines start on line 4.
func vi(lines string) string {
	return "vrrp_instance VI_1 {\ninterface eth0\nvirtual_router_id 51\n" + lines + "}\n"
}

// TestVRRPSyncGroup reads a vrrp_sync_group as keepalived.conf(5) shows
// it, members one per line or several on one.
func TestVRRPSyncGroup(t *testing.T) {
	f := mustParse(t, `vrrp_sync_group VG_1 {
    group {
        VI_1
        VI_2 VI_3
    }
    notify_master /bin/to_master.sh
    notify_fault "/bin/fault.sh VG_1"
    notify /bin/notify.sh
    smtp_alert
}
`+vi("")+"vrrp_instance VI_2 {\ninterface eth1\nvirtual_router_id 52\n}\nvrrp_instance VI_3 {\ninterface eth1\nvirtual_router_id 53\n}\n")
	if len(f.VRRPSyncGroups) != 1 {
		t.Fatalf("groups: %+v", f.VRRPSyncGroups)
	}
	g := f.VRRPSyncGroups[0]
	if g.Name != "VG_1" || strings.Join(g.Members, " ") != "VI_1 VI_2 VI_3" || g.Line != 1 ||
		strings.Join(g.NotifyMaster.Argv, " ") != "/bin/to_master.sh" || strings.Join(g.NotifyFault.Argv, " ") != "/bin/fault.sh VG_1" ||
		strings.Join(g.Notify.Argv, " ") != "/bin/notify.sh" {
		t.Errorf("group %+v", g)
	}
	if !slices.ContainsFunc(f.Warnings, func(w config.Warning) bool { return strings.Contains(w.Msg, "smtp_alert") }) {
		t.Errorf("no warning for smtp_alert: %v", f.Warnings)
	}
}

// TestVRRPUseVMAC: use_vmac, with keepalived's optional interface name
// (warned: ulvs creates none), and vmac_xmit_base.
func TestVRRPUseVMAC(t *testing.T) {
	f := mustParse(t, vi("use_vmac vrrp.51\nvmac_xmit_base\n"))
	if in := f.VRRP[0]; !in.UseVMAC || !in.VMACXmitBase {
		t.Errorf("use_vmac %v vmac_xmit_base %v", in.UseVMAC, in.VMACXmitBase)
	}
	if !slices.ContainsFunc(f.Warnings, func(w config.Warning) bool { return strings.Contains(w.Msg, "creates no interface vrrp.51") }) {
		t.Errorf("no warning for the VMAC interface name: %v", f.Warnings)
	}
}

// TestVRRPDefaults: a minimal instance gets keepalived's defaults, and
// global_defs' defaults apply to instances above and below it.
func TestVRRPDefaults(t *testing.T) {
	f := mustParse(t, vi(""))
	want := config.VRRPInstance{Name: "VI_1", State: "BACKUP", Interface: "eth0", VRID: 51, Priority: 100,
		AdvertInt: time.Second, Version: 2, GARPDelay: 5 * time.Second, GARPRepeat: 5, GARPRefreshRepeat: 1,
		File: "k.conf", Line: 1}
	if diff := cmp.Diff([]config.VRRPInstance{want}, f.VRRP, cmpAddr); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	f = mustParse(t, vi("garp_master_repeat 7\nversion 2\n")+
		"global_defs {\nvrrp_version 3\nvrrp_garp_master_delay 0\nvrrp_garp_master_repeat 2\nvrrp_garp_master_refresh 30\nvrrp_garp_master_refresh_repeat 4\n}\n"+
		"vrrp_instance VI_2 {\ninterface eth0\nvirtual_router_id 52\npreempt\n}\n")
	got := f.VRRP
	if len(got) != 2 {
		t.Fatalf("%d instances, want 2", len(got))
	}
	if g := got[0]; g.Version != 2 || g.GARPRepeat != 7 || g.GARPDelay != 0 || g.GARPRefresh != 30*time.Second || g.GARPRefreshRepeat != 4 {
		t.Errorf("VI_1 %+v: want its own version 2 and repeat 7, the global delay 0, refresh 30 s x 4", g)
	}
	if g := got[1]; g.Version != 3 || g.GARPRepeat != 2 || g.GARPDelay != 0 || g.NoPreempt {
		t.Errorf("VI_2 %+v: want the global version 3 and repeat 2", g)
	}
}

// TestVRRPErrors: every wrong or unsupported VRRP setting stops the parse
// with the file, the line and the problem.
func TestVRRPErrors(t *testing.T) {
	const script = "vrrp_script chk {\nscript /bin/true\n}\n"
	for _, tt := range []struct {
		name, conf, want string
	}{
		// The instance block.
		{"no name", "vrrp_instance {\n}\n", "k.conf:1: vrrp_instance: takes one name"},
		{"two names", "vrrp_instance A B {\n}\n", "k.conf:1: vrrp_instance: takes one name"},
		{"no block", "vrrp_instance VI_1\n", "k.conf:1: vrrp_instance: needs a { } block"},
		{"twice", vi("") + vi(""), "k.conf:5: vrrp_instance: vrrp_instance VI_1 is already defined at k.conf:1"},
		{"no interface", "vrrp_instance VI_1 {\nvirtual_router_id 1\n}\n", "k.conf:1: interface: required: the interface the adverts go out of (vrrp_instance VI_1)"},
		{"no vrid", "vrrp_instance VI_1 {\ninterface eth0\n}\n", "k.conf:1: virtual_router_id: required: a number from 1 to 255"},
		{"same vrid", vi("") + "vrrp_instance VI_2 {\ninterface eth0\nvirtual_router_id 51\n}\n",
			"k.conf:7: virtual_router_id: 51 on eth0 is already used by vrrp_instance VI_1 at k.conf:1 (vrrp_instance VI_2)"},

		// Values.
		{"state", vi("state EQUAL\n"), `k.conf:4: state: must be MASTER or BACKUP (got "EQUAL")`},
		{"interface name", "vrrp_instance VI {\ninterface averyveryverylongname\n}", `k.conf:2: interface: interface name "averyveryverylongname" is longer than 15 bytes`},
		{"vrid 0", "vrrp_instance VI {\ninterface eth0\nvirtual_router_id 0\n}", `k.conf:3: virtual_router_id: "0" is out of range [1, 255]`},
		{"vrid 256", "vrrp_instance VI {\ninterface eth0\nvirtual_router_id 256\n}", `k.conf:3: virtual_router_id: "256" is out of range [1, 255]`},
		{"priority 0", vi("priority 0\n"), `k.conf:4: priority: "0" is out of range [1, 255]`},
		{"priority word", vi("priority high\n"), `k.conf:4: priority: "high" is not a whole number`},
		{"advert_int zero", vi("advert_int 0\n"), `k.conf:4: advert_int: "0" is too small (at least 0.01 s)`},
		{"advert_int big", vi("advert_int 256\n"), `k.conf:4: advert_int: "256" is too large (at most 255 s)`},
		{"advert_int v2 fraction", vi("advert_int 0.5\n"), "k.conf:4: advert_int: VRRPv2 needs whole seconds from 1 to 255 (got 500ms; fractions need version 3) (vrrp_instance VI_1)"},
		{"advert_int v3 ms", vi("version 3\nadvert_int 0.015\n"), "k.conf:5: advert_int: VRRPv3 needs a multiple of 0.01 s from 0.01 to 40.95 s (got 15ms)"},
		{"advert_int v3 big", "global_defs {\nvrrp_version 3\n}\n" + vi("advert_int 41\n"), "k.conf:7: advert_int: VRRPv3 needs a multiple of 0.01 s from 0.01 to 40.95 s (got 41s)"},
		{"version 4", vi("version 4\n"), `k.conf:4: version: "4" is out of range [2, 3]`},
		{"global version", "global_defs {\nvrrp_version 1\n}\n", `k.conf:2: vrrp_version: "1" is out of range [2, 3]`},
		{"preempt_delay", vi("preempt_delay 1001\n"), `k.conf:4: preempt_delay: "1001" is too large (at most 1000 s)`},
		{"nopreempt value", vi("nopreempt yes\n"), "k.conf:4: nopreempt: takes no value (got yes)"},
		{"garp delay", vi("garp_master_delay 1.5\n"), `k.conf:4: garp_master_delay: "1.5" is not a whole number`},
		{"garp repeat 0", vi("garp_master_repeat 0\n"), `k.conf:4: garp_master_repeat: "0" is out of range [1, 2147483647]`},
		{"garp refresh repeat 0", vi("garp_master_refresh_repeat 0\n"), `k.conf:4: garp_master_refresh_repeat: "0" is out of range`},
		{"global garp repeat", "global_defs {\nvrrp_garp_master_repeat x\n}\n", `k.conf:2: vrrp_garp_master_repeat: "x" is not a whole number`},

		// Authentication.
		{"auth AH no pass", vi("authentication {\nauth_type AH\n}\n"), "k.conf:5: auth_pass: required with auth_type AH: the password, 1 to 8 bytes (vrrp_instance VI_1)"},
		{"auth type", vi("authentication {\nauth_type MD5\n}\n"), `k.conf:5: auth_type: must be PASS or AH (got "MD5")`},
		{"auth pass long", vi("authentication {\nauth_type PASS\nauth_pass 123456789\n}\n"), `k.conf:6: auth_pass: must be 1 to 8 bytes (got 9; keepalived would cut it to "12345678")`},
		{"auth pass missing", vi("authentication {\nauth_type PASS\n}\n"), "k.conf:5: auth_pass: required with auth_type PASS: the password, 1 to 8 bytes (vrrp_instance VI_1)"},
		{"auth pass alone", vi("authentication {\nauth_pass x\n}\n"), "k.conf:5: auth_pass: auth_pass without auth_type PASS"},
		{"auth v3", vi("version 3\nauthentication {\nauth_type PASS\nauth_pass x\n}\n"), "k.conf:6: auth_type: authentication is not part of VRRPv3 (RFC 5798 section 9): remove it or use version 2 (vrrp_instance VI_1)"},
		{"auth v3 global", "global_defs {\nvrrp_version 3\n}\n" + vi("authentication {\nauth_type PASS\nauth_pass x\n}\n"), "k.conf:8: auth_type: authentication is not part of VRRPv3"},
		{"auth no block", vi("authentication\n"), "k.conf:4: authentication: needs a { } block"},

		// Addresses.
		{"vip ipv6 v2", vi("version 2\nvirtual_ipaddress {\n2001:db8::1/64\n}\n"), "k.conf:4: version: VRRP over IPv6 is version 3"},
		{"vip ipv6 after ipv4", vi("version 3\nvirtual_ipaddress {\n10.0.0.1\n2001:db8::1/64\n}\n"), "k.conf:7: virtual_ipaddress: 2001:db8::1: the instance runs over IPv4"},
		{"vip bad", vi("virtual_ipaddress {\n10.0.0.300\n}\n"), `k.conf:5: 10.0.0.300: "10.0.0.300" is not an IP address`},
		{"vip word", vi("virtual_ipaddress {\n10.0.0.1/24 dev eth0 no_track\n}\n"), `k.conf:5: 10.0.0.1/24: "no_track" in "10.0.0.1/24 dev eth0 no_track" is not supported by ulvs (brd, dev, scope and label are)`},
		{"vip value", vi("virtual_ipaddress {\n10.0.0.1/24 label\n}\n"), `k.conf:5: 10.0.0.1/24: "label" needs a value`},
		{"vip brd", vi("virtual_ipaddress {\n10.0.0.1/24 brd x\n}\n"), `brd "x" is not an IPv4 address`},
		{"vip twice", vi("virtual_ipaddress {\n10.0.0.1/24\n}\nvirtual_ipaddress_excluded {\n10.0.0.1\n}\n"), "k.conf:8: virtual_ipaddress_excluded: 10.0.0.1 is already listed in virtual_ipaddress (vrrp_instance VI_1)"},
		{"excluded mapped", vi("virtual_ipaddress_excluded {\n::ffff:10.0.0.1\n}\n"), "k.conf:5: ::ffff:10.0.0.1: an IPv4-mapped IPv6 address"},
		{"native_ipv6 v2", vi("native_ipv6\nversion 2\n"), "k.conf:5: version: VRRP over IPv6 is version 3"},
		{"native_ipv6 value", vi("native_ipv6 yes\n"), "k.conf:4: native_ipv6: takes no value"},
		{"unicast src loopback", vi("version 3\nunicast_src_ip ::1\n"), "k.conf:5: unicast_src_ip: ::1 is not a unicast address (vrrp_instance VI_1)"},
		{"unicast src ipv6 v2", vi("version 2\nunicast_src_ip fe80::1\n"), "k.conf:4: version: VRRP over IPv6 is version 3"},
		{"unicast peer ipv6 on ipv4", vi("virtual_ipaddress {\n10.0.0.1\n}\nunicast_peer {\n2001:db8::2\n}\n"),
			"k.conf:8: unicast_peer: 2001:db8::2: the instance runs over IPv4, and its unicast addresses must be of that family too"},
		{"unicast src ipv4 on ipv6", vi("version 3\nnative_ipv6\nunicast_src_ip 10.0.0.1\n"), "k.conf:6: unicast_src_ip: 10.0.0.1: the instance runs over IPv6"},
		{"unicast peer zone", vi("version 3\nunicast_peer {\nfe80::2%eth0\n}\n"), "k.conf:6: fe80::2%eth0: an address with a zone is not supported by ulvs"},
		{"unicast peer", vi("unicast_peer {\n10.0.0.2 min_ttl 3\n}\n"), "k.conf:5: 10.0.0.2: min_ttl 3 is not supported by ulvs (only the peer's address)"},
		{"unicast peer multicast", vi("unicast_peer {\n224.0.0.18\n}\n"), "k.conf:5: unicast_peer: 224.0.0.18 is not a unicast address (vrrp_instance VI_1)"},
		{"unicast peer twice", vi("unicast_peer {\n10.0.0.2\n10.0.0.2\n}\n"), "k.conf:6: unicast_peer: 10.0.0.2 listed twice"},
		{"check_unicast_src alone", vi("check_unicast_src\n"), "k.conf:4: check_unicast_src: needs unicast_peer"},

		// Tracking.
		{"track_script unknown", vi("track_script {\nchk_x\n}\n") + script, "k.conf:5: chk_x: no vrrp_script chk_x is defined (defined: chk)"},
		{"track_script none", vi("track_script {\nchk_x\n}\n"), "k.conf:5: chk_x: no vrrp_script chk_x is defined (the file defines none)"},
		{"track_script weight", vi("track_script {\nchk weight 254\n}\n") + script, `k.conf:5: chk: weight "254" is not a whole number in [-253, 253]`},
		{"track_script reverse", vi("track_script {\nchk weight 2 reverse\n}\n") + script, "k.conf:5: chk: weight 2 reverse: reverse is not supported by ulvs"},
		{"track_script syntax", vi("track_script {\nchk 5\n}\n") + script, `k.conf:5: chk: takes NAME [weight N] (got "chk 5")`},
		{"track_script twice", vi("track_script {\nchk\nchk\n}\n") + script, "k.conf:6: track_script: chk listed twice"},
		{"track_script owner", vi("priority 255\ntrack_script {\nchk weight 5\n}\n") + script, "k.conf:6: track_script: chk has a weight, but priority 255 (the address owner) cannot change"},
		{"track_interface weight", vi("track_interface {\neth1 weight 255\n}\n"), `k.conf:5: eth1: weight "255" is not a whole number in [-254, 254]`},
		{"track_interface owner", vi("priority 255\ntrack_interface {\neth1 weight -5\n}\n"), "k.conf:6: track_interface: eth1 has a weight, but priority 255"},
		{"track_interface twice", vi("track_interface {\neth1\neth1\n}\n"), "k.conf:6: track_interface: eth1 listed twice"},
		{"track_interface name", vi("track_interface {\neth1/2\n}\n"), `k.conf:5: eth1/2: invalid interface name "eth1/2"`},
		{"track_process", vi("track_process {\nnginx\n}\n"), "k.conf:4: track_process: track_process is not supported by ulvs: ulvs does not track processes; use a vrrp_script that checks the process"},
		{"track_file", vi("track_file {\nf\n}\n"), "k.conf:4: track_file: track_file is not supported by ulvs: ulvs does not track files; use a vrrp_script that reads the file"},
		{"track_bfd", vi("track_bfd {\nb\n}\n"), "k.conf:4: track_bfd: track_bfd is not supported by ulvs: ulvs does not implement BFD"},

		// vrrp_script.
		{"script no name", "vrrp_script {\nscript x\n}\n", "k.conf:1: vrrp_script: takes one name"},
		{"script twice", script + script, "k.conf:4: vrrp_script: vrrp_script chk is already defined at k.conf:1"},
		{"script missing", "vrrp_script chk {\ninterval 2\n}\n", "k.conf:1: vrrp_script: vrrp_script chk has no script"},
		{"script extra words", "vrrp_script chk {\nscript /bin/check arg\n}\n", `k.conf:2: script: keepalived ignores the words after the script (arg): quote the script with its arguments: script "/bin/check arg"`},
		{"script given twice", "vrrp_script chk {\nscript a\nscript b\n}\n", `k.conf:3: script: given twice (first: "a")`},
		{"script interval", "vrrp_script chk {\nscript a\ninterval 0\n}\n", `k.conf:3: interval: "0" is out of range`},
		{"script weight", "vrrp_script chk {\nscript a\nweight -254\n}\n", `k.conf:3: weight: "-254" is not a whole number in [-253, 253]`},
		{"script weight reverse", "vrrp_script chk {\nscript a\nweight 2 reverse\n}\n", "k.conf:3: weight: weight reverse is not supported by ulvs"},
		{"script fall", "vrrp_script chk {\nscript a\nfall 0\n}\n", `k.conf:3: fall: "0" is out of range`},
		{"script user", "vrrp_script chk {\nscript a\nuser nobody\n}\n", "k.conf:3: user: running a vrrp_script as another user is not supported by ulvs"},
		{"script init_fail", "vrrp_script chk {\nscript a\ninit_fail\n}\n", "k.conf:3: init_fail: init_fail is not supported by ulvs"},

		// Notify scripts.
		{"notify twice", vi("notify_master /a\nnotify_master /b\n"), `k.conf:5: notify_master: given twice (first: "/a")`},
		{"notify user", vi("notify_backup /a nobody\n"), "k.conf:4: notify_backup: running the script as user nobody is not supported by ulvs"},
		{"notify empty", vi("notify_fault\n"), "k.conf:4: notify_fault: needs a script"},

		// What ulvs does not implement.
		{"use_vmac two names", vi("use_vmac a b\n"), `k.conf:4: use_vmac: takes at most an interface name (got "a b")`},
		{"vmac_xmit_base alone", vi("vmac_xmit_base\n"), "k.conf:4: vmac_xmit_base: needs use_vmac"},
		{"use_vmac_addr", vi("use_vmac_addr\n"), "k.conf:4: use_vmac_addr: use_vmac_addr is not supported by ulvs"},
		{"mcast_src_ip", vi("mcast_src_ip 10.0.0.1\n"), "k.conf:4: mcast_src_ip: mcast_src_ip is not supported by ulvs"},
		{"old sync daemon", vi("lvs_sync_daemon_interface eth0\n"), "k.conf:4: lvs_sync_daemon_interface: lvs_sync_daemon_interface is not supported by ulvs: use global_defs lvs_sync_daemon IF INSTANCE"},
		{"sync group of one", "vrrp_sync_group G {\ngroup {\nVI_1\n}\n}\n" + vi(""), "k.conf:1: vrrp_sync_group: vrrp_sync_group G needs at least two vrrp_instance members"},
		{"sync group unknown member", "vrrp_sync_group G {\ngroup {\nVI_1 VI_2\n}\n}\n" + vi(""), "k.conf:1: vrrp_sync_group: vrrp_sync_group G: no vrrp_instance VI_2 is defined"},
		{"sync group twice", "vrrp_sync_group G {\ngroup {\nVI_1 VI_2\n}\n}\nvrrp_sync_group G {\ngroup {\nVI_1 VI_2\n}\n}\n", "k.conf:6: vrrp_sync_group: vrrp_sync_group G is already defined at k.conf:1"},
		{"sync group two groups", "vrrp_sync_group G {\ngroup {\nVI_1 VI_2\n}\n}\nvrrp_sync_group H {\ngroup {\nVI_1 VI_2\n}\n}\n" + vi("") +
			"vrrp_instance VI_2 {\ninterface eth1\nvirtual_router_id 52\n}\n", "k.conf:6: vrrp_sync_group: vrrp_instance VI_1 is in vrrp_sync_group G already"},
		{"sync group track", "vrrp_sync_group G {\ngroup {\nVI_1 VI_2\n}\ntrack_interface {\neth0\n}\n}\n", "k.conf:5: track_interface: track_interface is not supported by ulvs: track the interface in each vrrp_instance"},
		{"sync group no block", "vrrp_sync_group G {\ngroup VI_1 VI_2\n}\n", "k.conf:2: group:"},
		{"vrrp_track_process", "vrrp_track_process p {\nprocess nginx\n}\n", "k.conf:1: vrrp_track_process: vrrp_track_process is not supported by ulvs"},
		{"vrrp_track_file", "vrrp_track_file f {\nfile /x\n}\n", "k.conf:1: vrrp_track_file: vrrp_track_file is not supported by ulvs"},
		{"garp_group", "garp_group {\ninterface eth0\n}\n", "k.conf:1: garp_group: garp_group is not supported by ulvs"},
		{"vrrp_strict", "global_defs {\nvrrp_strict\n}\n", "k.conf:2: vrrp_strict: vrrp_strict is not supported by ulvs: it does not implement keepalived's strict mode"},
		{"mcast group", "global_defs {\nvrrp_mcast_group4 224.0.0.19\n}\n", "k.conf:2: vrrp_mcast_group4: a multicast group other than 224.0.0.18 (224.0.0.19) is not supported by ulvs"},

		// lvs_sync_daemon.
		{"sync no args", "global_defs {\nlvs_sync_daemon\n}\n", "k.conf:2: lvs_sync_daemon: needs an interface and a vrrp_instance"},
		{"sync no instance", "global_defs {\nlvs_sync_daemon eth0\n}\n" + vi(""), "k.conf:2: lvs_sync_daemon: names no vrrp_instance"},
		{"sync unknown instance", "global_defs {\nlvs_sync_daemon eth0 VI_9\n}\n" + vi(""), "k.conf:2: lvs_sync_daemon: no vrrp_instance VI_9 is defined: the sync daemon follows an instance's state"},
		{"sync twice", "global_defs {\nlvs_sync_daemon eth0 VI_1\nlvs_sync_daemon eth0 VI_1\n}\n" + vi(""), "k.conf:3: lvs_sync_daemon: given twice (first at k.conf:2)"},
		{"sync id", "global_defs {\nlvs_sync_daemon eth0 VI_1 256\n}\n" + vi(""), `k.conf:2: lvs_sync_daemon: sync id "256" is out of range [0, 255]`},
		{"sync word", "global_defs {\nlvs_sync_daemon eth0 VI_1 1 extra\n}\n" + vi(""), `k.conf:2: lvs_sync_daemon: "extra" is not inst, id, maxlen, port, ttl or group`},
		{"sync value", "global_defs {\nlvs_sync_daemon eth0 inst VI_1 port\n}\n" + vi(""), "k.conf:2: lvs_sync_daemon: port needs a value"},
		{"sync group", "global_defs {\nlvs_sync_daemon eth0 inst VI_1 group 10.0.0.1\n}\n" + vi(""), "k.conf:2: lvs_sync_daemon: group 10.0.0.1 is not a multicast address"},
		{"sync maxlen", "global_defs {\nlvs_sync_daemon eth0 inst VI_1 maxlen 0\n}\n" + vi(""), `k.conf:2: lvs_sync_daemon: maxlen "0" is out of range [1, 65507]`},
		{"sync ttl", "global_defs {\nlvs_sync_daemon eth0 inst VI_1 ttl 0\n}\n" + vi(""), `k.conf:2: lvs_sync_daemon: ttl "0" is out of range [1, 255]`},
		{"sync inst twice", "global_defs {\nlvs_sync_daemon eth0 VI_1 inst VI_2\n}\n" + vi(""), "k.conf:2: lvs_sync_daemon: names the vrrp_instance twice (VI_1 and VI_2)"},
		{"sync interface", "global_defs {\nlvs_sync_daemon eth/0 VI_1\n}\n" + vi(""), `k.conf:2: lvs_sync_daemon: invalid interface name "eth/0"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseString(t, tt.conf)
			if err == nil {
				t.Fatalf("parsed (%d instances); want error %q", len(f.VRRP), tt.want)
			}
			prefix, rest, cut := strings.Cut(tt.want, ": ")
			if !strings.HasPrefix(tt.want, "k.conf:") || !cut {
				prefix, rest = "", tt.want
			}
			if got := err.Error(); !strings.HasPrefix(got, prefix+": ") && prefix != "" || !strings.Contains(got, rest) {
				t.Errorf("error %q\nwant %q", got, tt.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

// TestVRRPWarnings: keywords that change nothing ulvs does are warned
// about, unknown ones too.
func TestVRRPWarnings(t *testing.T) {
	f := mustParse(t, vi("debug 2\nsmtp_alert\nfoo_bar 1\nauthentication {\nauth_typo PASS\n}\n")+"vrrp_script chk {\nscript /bin/true\nbogus\n}\n")
	want := []string{
		"k.conf:4: debug is not used by ulvs (ignored): ulvs logs with its own levels",
		"k.conf:5: smtp_alert is not used by ulvs (ignored): ulvs sends no mail",
		`k.conf:6: unknown keyword "foo_bar" in vrrp_instance (ignored, as keepalived does)`,
		`k.conf:8: unknown keyword "auth_typo" in authentication (ignored, as keepalived does)`,
		`k.conf:13: unknown keyword "bogus" in vrrp_script (ignored, as keepalived does)`,
	}
	if got := warningTexts(f.Warnings); !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestVRRPAddressRoundTrip: VRRPAddress.String is read back the same.
func TestVRRPAddressRoundTrip(t *testing.T) {
	for _, line := range []string{
		"10.0.0.1", "10.0.0.1/24", "10.0.0.1/24 brd 10.0.0.255 dev eth0 scope link label eth0:1",
	} {
		a, err := config.ParseVRRPAddress(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got := a.String(); got != line {
			t.Errorf("String() = %q, want %q", got, line)
		}
	}
	a, err := config.ParseVRRPAddress("10.0.0.1/24 broadcast 10.0.0.255")
	if err != nil || a.Brd != ip("10.0.0.255") {
		t.Errorf("broadcast: %+v, %v", a, err)
	}
}

// TestVRRPAuthAH: authentication { auth_type AH auth_pass ... } is read
// as keepalived (built with VRRP_AUTH) reads it.
func TestVRRPAuthAH(t *testing.T) {
	f, err := parseString(t, vi("authentication {\nauth_type AH\nauth_pass s3cr3t\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if in := f.VRRP[0]; in.AuthType != "AH" || in.AuthPass != "s3cr3t" {
		t.Errorf("auth = %q %q, want AH s3cr3t", in.AuthType, in.AuthPass)
	}
}
