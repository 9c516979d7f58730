package keepalived

import (
	"net/netip"
	"testing"
)

// TestVRRPIPv6Instance: a VRRPv3 instance over IPv6 as keepalived.conf
// writes it (version 3, native_ipv6, IPv6 virtual_ipaddress, an IPv4
// excluded address) is read, and runs over IPv6; without native_ipv6 the
// first IPv6 virtual_ipaddress makes it IPv6 too.
func TestVRRPIPv6Instance(t *testing.T) {
	f := mustParse(t, `vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  version 3
  native_ipv6
  advert_int 0.5
  virtual_ipaddress {
    2001:db8::100/64
    2001:db8::101/64 dev eth0
  }
  virtual_ipaddress_excluded {
    10.0.0.100/24
  }
}
vrrp_instance VI_7 {
  interface eth0
  virtual_router_id 62
  version 3
  virtual_ipaddress {
    2001:db8::200
  }
}
`)
	if len(f.VRRP) != 2 {
		t.Fatalf("%d instances", len(f.VRRP))
	}
	in := f.VRRP[0]
	if !in.NativeIPv6 || !in.IPv6() || in.Version != 3 || len(in.VIPs) != 2 || in.VIPs[0].Prefix != netip.MustParsePrefix("2001:db8::100/64") ||
		in.VIPs[1].Dev != "eth0" || len(in.Excluded) != 1 || !in.Excluded[0].Prefix.Addr().Is4() {
		t.Errorf("VI_6 = %+v", in)
	}
	if in := f.VRRP[1]; in.NativeIPv6 || !in.IPv6() || in.VIPs[0].Prefix != netip.MustParsePrefix("2001:db8::200/128") {
		t.Errorf("VI_7 = %+v", in)
	}
}

// TestVRRPIPv6Unicast: unicast_src_ip and unicast_peer of an IPv6
// instance (global or link-local, as keepalived takes them), with
// check_unicast_src, and use_vmac on IPv6 instances (the virtual MAC
// 00:00:5e:00:02:VRID; the director answers for it). An IPv6 unicast_peer
// makes an instance without virtual_ipaddress IPv6, as keepalived's
// family rule does.
func TestVRRPIPv6Unicast(t *testing.T) {
	f := mustParse(t, `vrrp_instance VI_6 {
  interface eth0
  virtual_router_id 61
  version 3
  native_ipv6
  unicast_src_ip 2001:db8::1
  unicast_peer {
    2001:db8::2
    fe80::3
  }
  check_unicast_src
  use_vmac
  virtual_ipaddress {
    2001:db8::100/64
  }
}
vrrp_instance VI_7 {
  interface eth0
  virtual_router_id 62
  version 3
  unicast_peer {
    fe80::2
  }
}
`)
	in := f.VRRP[0]
	if !in.IPv6() || in.UnicastSrc != netip.MustParseAddr("2001:db8::1") || len(in.UnicastPeers) != 2 ||
		in.UnicastPeers[1] != netip.MustParseAddr("fe80::3") || !in.CheckUnicastSrc || !in.UseVMAC {
		t.Errorf("VI_6 = %+v", in)
	}
	if in := f.VRRP[1]; !in.IPv6() || in.UnicastPeers[0] != netip.MustParseAddr("fe80::2") {
		t.Errorf("VI_7 = %+v", in)
	}
}

// TestVRRPIPv6VersionDefault: an IPv6 instance without a version of its
// own runs VRRPv3, whatever the global vrrp_version says, as keepalived's
// vrrp_complete_instance decides (keepalived 2.2.7 ran this file over
// VRRPv3 without a word); an IPv4 instance beside it keeps the global
// version.
func TestVRRPIPv6VersionDefault(t *testing.T) {
	f := mustParse(t, `global_defs {
  vrrp_version 2
}
vrrp_instance VI_6 {
  interface eth0
  virtual_router_id 61
  virtual_ipaddress {
    2001:db8::100/64
  }
}
vrrp_instance VI_4 {
  interface eth0
  virtual_router_id 41
  virtual_ipaddress {
    10.0.0.100/24
  }
}
vrrp_instance VI_N {
  interface eth0
  virtual_router_id 62
  native_ipv6
}
`)
	if len(f.VRRP) != 3 {
		t.Fatalf("%d instances", len(f.VRRP))
	}
	if v := f.VRRP[0].Version; v != 3 {
		t.Errorf("IPv6 instance without version: version %d, want 3", v)
	}
	if v := f.VRRP[1].Version; v != 2 {
		t.Errorf("IPv4 instance under vrrp_version 2: version %d, want 2", v)
	}
	if v := f.VRRP[2].Version; v != 3 {
		t.Errorf("native_ipv6 instance without version: version %d, want 3", v)
	}
}
