package tomlfile

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/config"
)

func vrrpScript(t *testing.T, text string) config.Script {
	t.Helper()
	s, err := config.ParseScript(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVRRPFile checks the failover model of testdata/file-vrrp.toml,
// every default resolved as the keepalived parser resolves it.
func TestVRRPFile(t *testing.T) {
	f, err := Load("testdata/file-vrrp.toml")
	if err != nil {
		t.Fatal(err)
	}
	pfx := netip.MustParsePrefix
	nginx := config.VRRPScript{Name: "chk_nginx", Script: vrrpScript(t, "/usr/bin/pgrep -x nginx"),
		Interval: 2 * time.Second, Timeout: 2 * time.Second, Weight: -30, Fall: 3, Rise: 2}
	load := config.VRRPScript{Name: "chk_load", Script: vrrpScript(t, "/usr/local/bin/chk_load 'high water'"),
		Interval: 5 * time.Second, Timeout: 3 * time.Second, Fall: 1, Rise: 1}
	want := []config.VRRPInstance{{
		Name: "VI_1", State: "MASTER", Interface: "eth0", VRID: 51, Priority: 100, AdvertInt: time.Second,
		Version: 2, AuthType: "PASS", AuthPass: "1111",
		VIPs: []config.VRRPAddress{{Prefix: pfx("10.77.0.100/32")},
			{Prefix: pfx("10.77.0.101/24"), Brd: fileAddr("10.77.0.255"), Dev: "eth0", Label: "eth0:vip"}},
		Excluded:     []config.VRRPAddress{{Prefix: pfx("10.88.0.100/24"), Dev: "eth1", Scope: "global"}},
		PreemptDelay: 30500 * time.Millisecond,
		GARPDelay:    10 * time.Second, GARPRepeat: 2, GARPRefresh: time.Minute, GARPRefreshRepeat: 3,
		TrackInterfaces: []config.VRRPTrackInterface{{Name: "eth0"}, {Name: "eth1", Weight: -20}},
		TrackScripts:    []config.VRRPTrackScript{{Script: nginx}, {Script: load, Weight: 10, HasWeight: true}},
		NotifyMaster:    vrrpScript(t, "/usr/local/bin/notify.sh master"),
		NotifyBackup:    vrrpScript(t, "/usr/local/bin/notify.sh backup"),
		NotifyFault:     vrrpScript(t, "/usr/local/bin/notify.sh 'fault state'"),
		NotifyStop:      vrrpScript(t, "/usr/local/bin/stop.sh"),
		Notify:          vrrpScript(t, "/usr/local/bin/any.sh"),
		File:            "testdata/file-vrrp.toml", Line: 21,
	}, {
		Name: "VI_2", State: "BACKUP", Interface: "eth1", VRID: 52, Priority: 100, AdvertInt: 250 * time.Millisecond,
		Version: 3, VIPs: []config.VRRPAddress{{Prefix: pfx("192.168.50.100/24")}}, NoPreempt: true,
		GARPDelay: 5 * time.Second, GARPRepeat: 5, GARPRefreshRepeat: 1,
		TrackScripts: []config.VRRPTrackScript{{Script: nginx, HasWeight: true}},
		UnicastSrc:   fileAddr("192.168.50.11"), UnicastPeers: []netip.Addr{fileAddr("192.168.50.12"), fileAddr("192.168.50.13")},
		CheckUnicastSrc: true,
		File:            "testdata/file-vrrp.toml", Line: 48,
	}}
	opts := cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })}
	if diff := cmp.Diff(want, f.VRRP, opts); diff != "" {
		t.Errorf("VRRP (-want +got):\n%s", diff)
	}
	wantSync := &config.SyncDaemon{Interface: "eth1", Instance: "VI_1", SyncID: 9, MaxLen: 1400, Port: 8849, TTL: 2, Group: fileAddr("239.1.1.81")}
	if diff := cmp.Diff(wantSync, f.Sync, opts); diff != "" {
		t.Errorf("Sync (-want +got):\n%s", diff)
	}
}

// TestVRRPDefaults: a minimal instance and sync daemon take keepalived's
// defaults; the sync id is the instance's virtual_router_id.
func TestVRRPDefaults(t *testing.T) {
	f, err := Parse("ulvs.toml", []byte(fileHead+"[[vrrp_instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 7\n[sync_daemon]\ninterface = \"eth0\"\ninstance = \"VI_1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.VRRPInstance{Name: "VI_1", State: "BACKUP", Interface: "eth0", VRID: 7, Priority: 100,
		AdvertInt: time.Second, Version: 2, GARPDelay: 5 * time.Second, GARPRepeat: 5, GARPRefreshRepeat: 1,
		File: "ulvs.toml", Line: 3}
	if diff := cmp.Diff([]config.VRRPInstance{want}, f.VRRP, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if f.VRRP[0].File != "ulvs.toml" || f.VRRP[0].Line != 3 {
		t.Errorf("File:Line = %s:%d, want ulvs.toml:3", f.VRRP[0].File, f.VRRP[0].Line)
	}
	if s := f.Sync; s == nil || *s != (config.SyncDaemon{Interface: "eth0", Instance: "VI_1", SyncID: 7}) {
		t.Errorf("Sync = %+v, want eth0 VI_1 sync id 7", s)
	}
}

// TestVRRPParseErrors: each mistake in the failover tables is reported
// with its line, key path and message.
func TestVRRPParseErrors(t *testing.T) {
	const vi = fileHead + "[[vrrp_instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n"
	const chk = "[[vrrp_script]]\nname = \"chk\"\nscript = \"/bin/true\"\n"
	for _, tt := range []struct {
		name, in, want string
	}{
		{"no name", fileHead + "[[vrrp_instance]]\ninterface = \"eth0\"\nvirtual_router_id = 1\n",
			`ulvs.toml:3: vrrp_instance[0].name: required: the instance's name (keepalived's vrrp_instance NAME)`},
		{"no interface", fileHead + "[[vrrp_instance]]\nname = \"A\"\nvirtual_router_id = 1\n",
			`ulvs.toml:3: vrrp_instance[0].interface: required: the interface the adverts go out of`},
		{"no vrid", fileHead + "[[vrrp_instance]]\nname = \"A\"\ninterface = \"eth0\"\n",
			`ulvs.toml:3: vrrp_instance[0].virtual_router_id: required: a number from 1 to 255, the same on every router of the group`},
		{"vrid range", fileHead + "[[vrrp_instance]]\nname = \"A\"\ninterface = \"eth0\"\nvirtual_router_id = 256\n",
			`ulvs.toml:6: vrrp_instance[0].virtual_router_id: must be between 1 and 255 (got 256)`},
		{"state", vi + "state = \"EQUAL\"\n", `ulvs.toml:7: vrrp_instance[0].state: must be "MASTER" or "BACKUP" (got "EQUAL")`},
		{"priority", vi + "priority = 0\n", `ulvs.toml:7: vrrp_instance[0].priority: must be between 1 and 255 (got 0)`},
		{"advert_int v2", vi + "advert_int = 1.5\n",
			`ulvs.toml:7: vrrp_instance[0].advert_int: VRRPv2 needs whole seconds from 1 to 255 (got 1.5s; fractions need version 3)`},
		{"advert_int v3", vi + "version = 3\nadvert_int = 0.005\n", `ulvs.toml:8: vrrp_instance[0].advert_int: must be between 0.01 and 255 seconds (got 0.005)`},
		{"version", vi + "version = 4\n", `ulvs.toml:7: vrrp_instance[0].version: must be between 2 and 3 (got 4)`},
		{"auth AH no pass", vi + "auth_type = \"AH\"\n",
			`ulvs.toml:3: vrrp_instance[0].auth_pass: required with auth_type AH: the password, 1 to 8 bytes`},
		{"auth v3", vi + "version = 3\nauth_type = \"PASS\"\nauth_pass = \"x\"\n",
			`ulvs.toml:8: vrrp_instance[0].auth_type: authentication is not part of VRRPv3 (RFC 5798 section 9): remove it or use version 2`},
		{"auth pass long", vi + "auth_type = \"PASS\"\nauth_pass = \"123456789\"\n",
			`ulvs.toml:8: vrrp_instance[0].auth_pass: must be 1 to 8 bytes (got 9; keepalived would cut it to "12345678")`},
		{"auth pass missing", vi + "auth_type = \"pass\"\n",
			`ulvs.toml:3: vrrp_instance[0].auth_pass: required with auth_type PASS: the password, 1 to 8 bytes`},
		{"auth block", vi + "authentication = { auth_type = \"PASS\" }\n",
			`ulvs.toml:7: vrrp_instance[0].authentication: unknown key (ulvs.toml has auth_type and auth_pass keys in [[vrrp_instance]] instead of a block)`},
		{"vip ipv6", vi + "virtual_ipaddress = [\"10.0.0.1\", \"2001:db8::1\"]\n",
			`ulvs.toml:7: vrrp_instance[0].virtual_ipaddress[1]: 2001:db8::1: the instance runs over IPv4 and its adverts carry addresses of that family only (keepalived ignores such an address; put it in another instance or in virtual_ipaddress_excluded)`},
		{"vip word", vi + "virtual_ipaddress = [\"10.0.0.1 home\"]\n",
			`ulvs.toml:7: vrrp_instance[0].virtual_ipaddress[0]: "home" in "10.0.0.1 home" is not supported by ulvs (brd, dev, scope and label are)`},
		{"vip twice", vi + "virtual_ipaddress = [\"10.0.0.1\"]\nvirtual_ipaddress_excluded = [\"10.0.0.1/24\"]\n",
			`ulvs.toml:8: vrrp_instance[0].virtual_ipaddress_excluded[0]: 10.0.0.1 is already listed in virtual_ipaddress`},
		{"vip type", vi + "virtual_ipaddress = \"10.0.0.1\"\n",
			`ulvs.toml:7: vrrp_instance[0].virtual_ipaddress: must be an array of strings (got string "10.0.0.1")`},
		{"preempt_delay", vi + "preempt_delay = 1001\n", `ulvs.toml:7: vrrp_instance[0].preempt_delay: must be between 0 and 1000 seconds (got 1001)`},
		{"preempt", vi + "preempt = true\n", `ulvs.toml:7: vrrp_instance[0].preempt: unknown key (ulvs calls keepalived's preempt "nopreempt")`},
		{"garp repeat", vi + "garp_master_repeat = 0\n", `ulvs.toml:7: vrrp_instance[0].garp_master_repeat: must be between 1 and 2147483647 (got 0)`},
		{"garp delay fraction", vi + "garp_master_delay = 1.5\n", `ulvs.toml:7: vrrp_instance[0].garp_master_delay: must be an integer (got float 1.5)`},
		{"track interface weight", vi + "track_interface = [{ interface = \"eth1\", weight = 300 }]\n",
			`ulvs.toml:7: vrrp_instance[0].track_interface[0].weight: must be between -254 and 254 (got 300)`},
		{"track interface name", vi + "track_interface = [{ name = \"eth1\" }]\n",
			`ulvs.toml:7: vrrp_instance[0].track_interface[0].interface: required: the interface to track`},
		{"track interface twice", vi + "track_interface = [{ interface = \"eth1\" }, { interface = \"eth1\" }]\n",
			`ulvs.toml:7: vrrp_instance[0].track_interface[1]: eth1 listed twice`},
		{"track script unknown", chk + vi + "track_script = [{ script = \"chk_x\" }]\n",
			`ulvs.toml:10: vrrp_instance[0].track_script[0].script: no [[vrrp_script]] is named "chk_x" (defined: chk)`},
		{"track script owner", chk + vi + "priority = 255\ntrack_script = [{ script = \"chk\", weight = 2 }]\n",
			`ulvs.toml:11: vrrp_instance[0].track_script[0]: chk has a weight, but priority 255 (the address owner) cannot change`},
		{"track script weight", chk + vi + "track_script = [{ script = \"chk\", weight = -254 }]\n",
			`ulvs.toml:10: vrrp_instance[0].track_script[0].weight: must be between -253 and 253 (got -254)`},
		{"notify", vi + "notify_master = \"\"\n", `ulvs.toml:7: vrrp_instance[0].notify_master: empty script: name a program`},
		{"unicast peer", vi + "unicast_peer = [\"10.0.0.2\", \"fe80::2\"]\n", `ulvs.toml:7: vrrp_instance[0].unicast_peer[1]: fe80::2: the instance runs over IPv4, and its unicast addresses must be of that family too`},
		{"unicast peer zone", vi + "unicast_peer = [\"fe80::2%eth0\"]\n", `ulvs.toml:7: vrrp_instance[0].unicast_peer[0]: an address with a zone is not supported (got "fe80::2%eth0"; a link-local peer is reached on the instance's interface)`},
		{"unicast peer multicast", vi + "unicast_peer = [\"224.0.0.18\"]\n", `ulvs.toml:7: vrrp_instance[0].unicast_peer[0]: 224.0.0.18 is not a unicast address`},
		{"check_unicast_src", vi + "check_unicast_src = true\n", `ulvs.toml:7: vrrp_instance[0].check_unicast_src: needs unicast_peer: it drops adverts from addresses that are not peers`},
		{"unicast src", vi + "unicast_src_ip = \"10.0.0.1:5\"\n", `ulvs.toml:7: vrrp_instance[0].unicast_src_ip: must be an IPv4 or IPv6 address without a port (got "10.0.0.1:5")`},
		{"use_vmac_addr", vi + "use_vmac_addr = true\n", `ulvs.toml:7: vrrp_instance[0].use_vmac_addr: unknown key (not supported by ulvs)`},
		{"vmac_xmit_base alone", vi + "vmac_xmit_base = true\n", `ulvs.toml:7: vrrp_instance[0].vmac_xmit_base: needs use_vmac: it sends the adverts of a use_vmac instance from the interface's own MAC`},
		{"typo", vi + "virtual_routr_id = 3\n", `ulvs.toml:7: vrrp_instance[0].virtual_routr_id: unknown key (did you mean "virtual_router_id"?)`},
		{"same name", vi + "[[vrrp_instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 52\n",
			`ulvs.toml:8: vrrp_instance[1].name: vrrp_instance "VI_1" is already defined (line 3)`},
		{"same vrid", vi + "[[vrrp_instance]]\nname = \"VI_2\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n",
			`ulvs.toml:10: vrrp_instance[1].virtual_router_id: 51 on eth0 is already used by vrrp_instance "VI_1"`},
		{"sync group not a table", "vrrp_sync_group = 1\n" + vi, `ulvs.toml:1: vrrp_sync_group: must be an array of tables ([[vrrp_sync_group]]) (got integer 1)`},
		{"sync group of one", vi + "[[vrrp_sync_group]]\nname = \"VG\"\ngroup = [\"VI_1\"]\n",
			`ulvs.toml:9: vrrp_sync_group[0].group: vrrp_sync_group VG needs at least two vrrp_instance members in its group { } block`},
		{"sync group unknown member", vi + "[[vrrp_sync_group]]\nname = \"VG\"\ngroup = [\"VI_1\", \"VI_9\"]\n",
			`ulvs.toml:9: vrrp_sync_group[0].group: vrrp_sync_group VG: no vrrp_instance VI_9 is defined`},
		{"sync group no name", vi + "[[vrrp_sync_group]]\ngroup = [\"VI_1\", \"VI_9\"]\n",
			`ulvs.toml:7: vrrp_sync_group[0].name: required: the group's name (keepalived's vrrp_sync_group NAME)`},
		{"sync group track", vi + "[[vrrp_sync_group]]\nname = \"VG\"\ngroup = [\"VI_1\", \"VI_1\"]\ntrack_interface = []\n",
			`ulvs.toml:10: vrrp_sync_group[0].track_interface: unknown key (not supported by ulvs: track in each vrrp_instance)`},

		// [[vrrp_script]].
		{"script name", fileHead + "[[vrrp_script]]\nscript = \"/bin/true\"\n", `ulvs.toml:3: vrrp_script[0].name: required: the name track_script uses`},
		{"script missing", fileHead + "[[vrrp_script]]\nname = \"chk\"\n", `ulvs.toml:3: vrrp_script[0].script: required: the command line to run`},
		{"script twice", fileHead + chk + chk, `ulvs.toml:7: vrrp_script[1].name: vrrp_script "chk" is defined twice`},
		{"script interval", fileHead + chk + "interval = 0\n", `ulvs.toml:6: vrrp_script[0].interval: must be between 1 and 4294 (got 0)`},
		{"script fall", fileHead + chk + "fall = 0\n", `ulvs.toml:6: vrrp_script[0].fall: must be between 1 and 2147483647 (got 0)`},
		{"script user", fileHead + chk + "user = \"nobody\"\n", `ulvs.toml:6: vrrp_script[0].user: unknown key (running a vrrp_script as another user is not supported by ulvs)`},

		// [sync_daemon].
		{"sync instance", vi + "[sync_daemon]\ninterface = \"eth0\"\ninstance = \"VI_9\"\n",
			`ulvs.toml:9: sync_daemon.instance: no [[vrrp_instance]] is named "VI_9": the sync daemon follows an instance's state`},
		{"sync no instance", vi + "[sync_daemon]\ninterface = \"eth0\"\n",
			`ulvs.toml:7: sync_daemon.instance: required: the [[vrrp_instance]] whose state the sync daemon follows`},
		{"sync group", vi + "[sync_daemon]\ninterface = \"eth0\"\ninstance = \"VI_1\"\ngroup = \"10.0.0.1\"\n",
			`ulvs.toml:10: sync_daemon.group: 10.0.0.1 is not a multicast address`},
		{"sync id", vi + "[sync_daemon]\ninterface = \"eth0\"\ninstance = \"VI_1\"\nsync_id = 256\n",
			`ulvs.toml:10: sync_daemon.sync_id: must be between 0 and 255 (got 256)`},
		{"sync keepalived name", vi + "[lvs_sync_daemon]\ninterface = \"eth0\"\n",
			`ulvs.toml:7: lvs_sync_daemon: unknown key (ulvs calls keepalived's lvs_sync_daemon "sync_daemon")`},
		{"sync id keepalived name", vi + "[sync_daemon]\ninterface = \"eth0\"\ninstance = \"VI_1\"\nid = 3\n",
			`ulvs.toml:10: sync_daemon.id: unknown key (ulvs calls keepalived's id "sync_id")`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("ulvs.toml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", f.VRRP)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestReplaceServicesKeepsVRRP: ulvsadm --save-config rewrites the
// services of a file and leaves its failover tables as they were.
func TestReplaceServicesKeepsVRRP(t *testing.T) {
	data, err := os.ReadFile("testdata/file-vrrp.toml")
	if err != nil {
		t.Fatal(err)
	}
	before, err := Parse("ulvs.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ReplaceServices("ulvs.toml", data, config.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := Parse("ulvs.toml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(after.Rules.Services) != 0 {
		t.Errorf("services left: %+v", after.Rules.Services)
	}
	if diff := cmp.Diff(before.VRRP, after.VRRP, fileCmpAddr); diff != "" {
		t.Errorf("VRRP changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before.Sync, after.Sync, fileCmpAddr); diff != "" {
		t.Errorf("Sync changed (-before +after):\n%s", diff)
	}
}

// TestVRRPAuthAH: auth_type AH is read, and written back by MarshalTOML
// (what ulvs convert writes).
func TestVRRPAuthAH(t *testing.T) {
	f, err := Parse("ulvs.toml", []byte(fileHead+"[[vrrp_instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 7\nauth_type = \"ah\"\nauth_pass = \"s3cr3t\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if in := f.VRRP[0]; in.AuthType != "AH" || in.AuthPass != "s3cr3t" {
		t.Fatalf("auth = %q %q, want AH s3cr3t", in.AuthType, in.AuthPass)
	}
	out, err := MarshalTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `auth_type = "AH"`) {
		t.Errorf("written file has no auth_type AH:\n%s", out)
	}
	g, err := Parse("written.toml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if in := g.VRRP[0]; in.AuthType != "AH" || in.AuthPass != "s3cr3t" {
		t.Errorf("read back auth = %q %q, want AH s3cr3t", in.AuthType, in.AuthPass)
	}
}

// TestVRRPIPv6RoundTrip: native_ipv6 and IPv6 virtual addresses are read
// from ulvs.toml and written back the same way.
func TestVRRPIPv6RoundTrip(t *testing.T) {
	src := fileHead + "[[vrrp_instance]]\nname = \"VI_6\"\ninterface = \"eth0\"\nvirtual_router_id = 61\nversion = 3\nnative_ipv6 = true\n" +
		"virtual_ipaddress = [\"2001:db8::100/64\"]\n"
	f, err := Parse("ulvs.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if in := f.VRRP[0]; !in.NativeIPv6 || !in.IPv6() || in.VIPs[0].Prefix != netip.MustParsePrefix("2001:db8::100/64") {
		t.Fatalf("parsed %+v", in)
	}
	g, out := writeBack(t, f)
	if in := g.VRRP[0]; !in.NativeIPv6 || in.VIPs[0].Prefix != f.VRRP[0].VIPs[0].Prefix || in.Version != 3 {
		t.Errorf("written back as\n%s", out)
	}
}

// writeBack writes f as TOML and parses it again.
func writeBack(t *testing.T, f *config.File) (*config.File, []byte) {
	t.Helper()
	out, err := MarshalTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse("ulvs.toml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return g, out
}

// TestVRRPIPv6Unicast: an IPv6 instance's unicast_src_ip and unicast_peer
// (global and link-local) and use_vmac are read from ulvs.toml and
// written back the same way.
func TestVRRPIPv6Unicast(t *testing.T) {
	src := fileHead + "[[vrrp_instance]]\nname = \"VI_6\"\ninterface = \"eth0\"\nvirtual_router_id = 61\nversion = 3\n" +
		"virtual_ipaddress = [\"2001:db8::100/64\"]\nunicast_src_ip = \"2001:db8::1\"\nunicast_peer = [\"2001:db8::2\", \"fe80::3\"]\n" +
		"check_unicast_src = true\nuse_vmac = true\n"
	f, err := Parse("ulvs.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("fe80::3")}
	check := func(what string, in config.VRRPInstance) {
		t.Helper()
		if !in.IPv6() || in.UnicastSrc != netip.MustParseAddr("2001:db8::1") || !slices.Equal(in.UnicastPeers, want) || !in.CheckUnicastSrc || !in.UseVMAC {
			t.Errorf("%s: %+v", what, in)
		}
	}
	check("parsed", f.VRRP[0])
	g, _ := writeBack(t, f)
	check("read back", g.VRRP[0])
}

// TestVRRPIPv6VersionDefault: an IPv6 instance without version runs
// VRRPv3, as keepalived runs one; version = 2 on it is refused.
func TestVRRPIPv6VersionDefault(t *testing.T) {
	f, err := Parse("ulvs.toml", []byte(fileHead+"[[vrrp_instance]]\nname = \"VI_6\"\ninterface = \"eth0\"\nvirtual_router_id = 7\nvirtual_ipaddress = [\"2001:db8::100/64\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v := f.VRRP[0].Version; v != 3 {
		t.Errorf("IPv6 instance without version: version %d, want 3", v)
	}
	_, err = Parse("ulvs.toml", []byte(fileHead+"[[vrrp_instance]]\nname = \"VI_6\"\ninterface = \"eth0\"\nvirtual_router_id = 7\nversion = 2\nvirtual_ipaddress = [\"2001:db8::100/64\"]\n"))
	if err == nil || !strings.Contains(err.Error(), "VRRP over IPv6 is version 3") {
		t.Errorf("version = 2 on an IPv6 instance: %v", err)
	}
}
