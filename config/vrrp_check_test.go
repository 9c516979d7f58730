package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// goodVRRP is a valid instance with every default filled in.
func goodVRRP() VRRPInstance {
	return VRRPInstance{
		Name: "VI_1", State: "BACKUP", Interface: "eth0", VRID: 1, Priority: DefaultVRRPPriority,
		AdvertInt: DefaultVRRPAdvertInt, Version: DefaultVRRPVersion, GARPDelay: DefaultGARPDelay,
		GARPRepeat: DefaultGARPRepeat, GARPRefreshRepeat: DefaultGARPRefreshRepeat,
	}
}

// TestCheckVRRP: each rule of vrrp.Instance.Validate that takes more than
// one value, and the values no parser can make wrong but a caller can.
func TestCheckVRRP(t *testing.T) {
	script := VRRPScript{Name: "chk", Script: Script{Argv: []string{"/bin/true"}, Text: "/bin/true"},
		Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1}
	manyVIPs := make([]VRRPAddress, MaxVRRPAddrs+1)
	for i := range manyVIPs {
		manyVIPs[i].Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32)
	}
	for _, tt := range []struct {
		name   string
		change func(in *VRRPInstance)
		key    string
		index  int
		msg    string // substring; "" = valid
	}{
		{"valid", func(in *VRRPInstance) {}, "", 0, ""},
		{"v3 fraction", func(in *VRRPInstance) { in.Version, in.AdvertInt = 3, 250*time.Millisecond }, "", 0, ""},
		{"no name", func(in *VRRPInstance) { in.Name = "" }, "name", -1, "required"},
		{"state", func(in *VRRPInstance) { in.State = "master" }, "state", -1, `must be MASTER or BACKUP (got "master")`},
		{"no interface", func(in *VRRPInstance) { in.Interface = "" }, "interface", -1, "required"},
		{"vrid", func(in *VRRPInstance) { in.VRID = 0 }, "virtual_router_id", -1, "required"},
		{"priority", func(in *VRRPInstance) { in.Priority = 0 }, "priority", -1, "between 1 and 255"},
		{"version", func(in *VRRPInstance) { in.Version = 1 }, "version", -1, "must be 2 or 3"},
		{"v2 zero advert", func(in *VRRPInstance) { in.AdvertInt = 0 }, "advert_int", -1, "VRRPv2 needs whole seconds"},
		{"v3 advert too long", func(in *VRRPInstance) { in.Version, in.AdvertInt = 3, 41*time.Second }, "advert_int", -1, "from 0.01 to 40.95 s (got 41s)"},
		{"auth type", func(in *VRRPInstance) { in.AuthType, in.AuthPass = "MD5", "x" }, "auth_type", -1, `must be PASS or AH (got "MD5")`},
		{"auth AH no pass", func(in *VRRPInstance) { in.AuthType = "AH" }, "auth_pass", -1, "required with auth_type AH"},
		{"auth AH v3", func(in *VRRPInstance) { in.Version, in.AuthType, in.AuthPass = 3, "AH", "x" }, "auth_type", -1, "not part of VRRPv3"},
		{"too many VIPs", func(in *VRRPInstance) { in.VIPs = manyVIPs }, "virtual_ipaddress", MaxVRRPAddrs, "an advert carries at most 255"},
		{"IPv6 excluded on an IPv4 instance", func(in *VRRPInstance) {
			in.Excluded = []VRRPAddress{{Prefix: netip.MustParsePrefix("2001:db8::1/128")}}
		}, "", 0, ""},
		{"IPv6 VIP after an IPv4 one", func(in *VRRPInstance) {
			in.VIPs = []VRRPAddress{{Prefix: netip.MustParsePrefix("10.0.0.1/32")}, {Prefix: netip.MustParsePrefix("2001:db8::1/128")}}
		}, "virtual_ipaddress", 1, "the instance runs over IPv4"},
		{"IPv6 instance", func(in *VRRPInstance) {
			in.Version, in.VIPs = 3, []VRRPAddress{{Prefix: netip.MustParsePrefix("2001:db8::1/64")}}
		}, "", 0, ""},
		{"IPv6 instance v2", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass = "", ""
			in.VIPs = []VRRPAddress{{Prefix: netip.MustParsePrefix("2001:db8::1/64")}}
		}, "version", -1, "VRRP over IPv6 is version 3"},
		{"native_ipv6 with an IPv4 VIP", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass, in.Version, in.NativeIPv6 = "", "", 3, true
			in.VIPs = []VRRPAddress{{Prefix: netip.MustParsePrefix("10.0.0.1/32")}}
		}, "virtual_ipaddress", 0, "the instance runs over IPv6"},
		{"IPv4 peer on an IPv6 instance", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass, in.Version, in.NativeIPv6, in.VIPs = "", "", 3, true, nil
			in.UnicastPeers = []netip.Addr{netip.MustParseAddr("fe80::2"), netip.MustParseAddr("10.0.0.2")}
		}, "unicast_peer", 1, "10.0.0.2: the instance runs over IPv6"},
		{"IPv6 unicast", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass, in.Version, in.NativeIPv6, in.VIPs = "", "", 3, true, nil
			in.UnicastSrc = netip.MustParseAddr("2001:db8::1")
			in.UnicastPeers = []netip.Addr{netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("fe80::2")}
		}, "", 0, ""},
		{"IPv6 unicast makes the instance IPv6", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass, in.Version, in.VIPs = "", "", 3, nil
			in.UnicastPeers = []netip.Addr{netip.MustParseAddr("fe80::2")}
		}, "", 0, ""},
		{"IPv6 unicast makes the instance IPv6, version 2", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass, in.VIPs = "", "", nil
			in.UnicastSrc = netip.MustParseAddr("fe80::1")
		}, "version", -1, "VRRP over IPv6 is version 3"},
		{"IPv6 unicast beside IPv4 VIPs", func(in *VRRPInstance) {
			in.VIPs = []VRRPAddress{{Prefix: netip.MustParsePrefix("10.0.0.1/32")}}
			in.UnicastPeers = []netip.Addr{netip.MustParseAddr("2001:db8::2")}
		}, "unicast_peer", 0, "the instance runs over IPv4"},
		{"IPv6 multicast peer", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass, in.Version, in.NativeIPv6 = "", "", 3, true
			in.UnicastPeers = []netip.Addr{netip.MustParseAddr("ff02::12")}
		}, "unicast_peer", 0, "ff02::12 is not a unicast address"},
		{"IPv6 peer with a zone", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass, in.Version, in.NativeIPv6 = "", "", 3, true
			in.UnicastPeers = []netip.Addr{netip.MustParseAddr("fe80::2%eth0")}
		}, "unicast_peer", 0, "zone"},
		{"IPv6 use_vmac", func(in *VRRPInstance) {
			in.AuthType, in.AuthPass, in.Version, in.NativeIPv6, in.UseVMAC = "", "", 3, true, true
		}, "", 0, ""},
		{"preempt_delay", func(in *VRRPInstance) { in.PreemptDelay = -time.Second }, "preempt_delay", -1, "between 0 and"},
		{"garp delay", func(in *VRRPInstance) { in.GARPDelay = -1 }, "garp_master_delay", -1, "negative"},
		{"garp refresh", func(in *VRRPInstance) { in.GARPRefresh = -1 }, "garp_master_refresh", -1, "negative"},
		{"garp repeat", func(in *VRRPInstance) { in.GARPRepeat = 0 }, "garp_master_repeat", -1, "at least 1"},
		{"garp refresh repeat", func(in *VRRPInstance) { in.GARPRefreshRepeat = 0 }, "garp_master_refresh_repeat", -1, "at least 1"},
		{"track interface name", func(in *VRRPInstance) { in.TrackInterfaces = []VRRPTrackInterface{{Name: ""}} }, "track_interface", 0, "must not be empty"},
		{"track interface weight", func(in *VRRPInstance) { in.TrackInterfaces = []VRRPTrackInterface{{Name: "eth1", Weight: 255}} }, "track_interface", 0, "between -254 and 254"},
		{"track script unnamed", func(in *VRRPInstance) { in.TrackScripts = []VRRPTrackScript{{}} }, "track_script", 0, "names no vrrp_script"},
		{"track script empty", func(in *VRRPInstance) {
			in.TrackScripts = []VRRPTrackScript{{Script: VRRPScript{Name: "chk", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1}}}
		}, "track_script", 0, "has no script"},
		{"track script unresolved", func(in *VRRPInstance) {
			s := script
			s.Interval = 0
			in.TrackScripts = []VRRPTrackScript{{Script: s}}
		}, "track_script", 0, "interval and timeout must be positive"},
		{"track script weight", func(in *VRRPInstance) {
			s := script
			s.Weight = 254
			in.TrackScripts = []VRRPTrackScript{{Script: s}}
		}, "track_script", 0, "between -253 and 253 (got 254)"},
		{"track script weight override", func(in *VRRPInstance) {
			s := script
			s.Weight = 254
			in.TrackScripts = []VRRPTrackScript{{Script: s, Weight: 3, HasWeight: true}}
		}, "", 0, ""},
		{"unicast src IPv6", func(in *VRRPInstance) {
			in.VIPs = []VRRPAddress{{Prefix: netip.MustParsePrefix("10.0.0.1/32")}}
			in.UnicastSrc = netip.MustParseAddr("2001:db8::1")
		}, "unicast_src_ip", -1, "the instance runs over IPv4"},
		{"unicast peer broadcast", func(in *VRRPInstance) {
			in.UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("255.255.255.255")}
		}, "unicast_peer", 1, "not a unicast address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := goodVRRP()
			tt.change(&in)
			pr := CheckVRRP(&in)
			switch {
			case tt.msg == "" && pr != nil:
				t.Fatalf("CheckVRRP = %+v, want nil", *pr)
			case tt.msg == "":
			case pr == nil:
				t.Fatalf("CheckVRRP = nil, want %s[%d]: %s", tt.key, tt.index, tt.msg)
			case pr.Key != tt.key || pr.Index != tt.index || !strings.Contains(pr.Msg, tt.msg):
				t.Errorf("CheckVRRP = %+v, want %s[%d]: ...%s...", *pr, tt.key, tt.index, tt.msg)
			}
		})
	}
}

// TestParseVRRPAddress: keepalived's virtual_ipaddress words, refusals, and
// String reading back as the same address.
func TestParseVRRPAddress(t *testing.T) {
	tests := []struct {
		line string
		want VRRPAddress
		err  string
	}{
		{"10.0.0.1", VRRPAddress{Prefix: netip.MustParsePrefix("10.0.0.1/32")}, ""},
		{"192.168.200.17/24 dev eth1", VRRPAddress{Prefix: netip.MustParsePrefix("192.168.200.17/24"), Dev: "eth1"}, ""},
		{"192.168.200.18/24 brd 192.168.200.255 dev eth2 scope link label eth2:1",
			VRRPAddress{Prefix: netip.MustParsePrefix("192.168.200.18/24"), Brd: netip.MustParseAddr("192.168.200.255"), Dev: "eth2", Scope: "link", Label: "eth2:1"}, ""},
		{"", VRRPAddress{}, "empty"},
		{"10.0.0.1 dev", VRRPAddress{}, "needs a value"},
		{"10.0.0.1 no_track", VRRPAddress{}, `"no_track" in "10.0.0.1 no_track" is not supported`},
		{"10.0.0.1 home x", VRRPAddress{}, `"home" in "10.0.0.1 home x" is not supported`},
		{"2001:db8::1/64 dev eth0", VRRPAddress{Prefix: netip.MustParsePrefix("2001:db8::1/64"), Dev: "eth0"}, ""},
		{"2001:db8::1 brd 10.0.0.255", VRRPAddress{}, "IPv6 has no broadcast"},
		{"::ffff:10.0.0.1", VRRPAddress{}, "IPv4-mapped"},
		{"10.0.0.1 brd fe80::1", VRRPAddress{}, "is not an IPv4 address"},
		{"10.0.0.300", VRRPAddress{}, "is not an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseVRRPAddress(tt.line)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			again, err := ParseVRRPAddress(got.String())
			if err != nil || again != got {
				t.Errorf("String %q parses back to %+v, %v", got.String(), again, err)
			}
		})
	}
}

func FuzzParseVRRPAddress(f *testing.F) {
	f.Add("192.168.200.18/24 brd 192.168.200.255 dev eth2 scope link label eth2:1")
	f.Add("10.0.0.1")
	f.Fuzz(func(t *testing.T, line string) {
		v, err := ParseVRRPAddress(line)
		if err != nil {
			return
		}
		again, err := ParseVRRPAddress(v.String())
		if err != nil || again != v {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", line, v, v.String(), again, err)
		}
	})
}
