package keepalived

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/vs"
)

// TestIPv6VirtualServer reads IPv6 virtual and real servers as keepalived
// writes them (virtual_server 2001:db8::100 80, persistence_granularity as
// a prefix length) into the rules the ipvsadm commands make.
func TestIPv6VirtualServer(t *testing.T) {
	conf := `virtual_server 2001:db8::100 80 {
    lb_algo sh
    lb_kind DR
    protocol TCP
    ip_family inet6
    persistence_timeout 120
    persistence_granularity 64
    real_server 2001:db8::1 80 {
        weight 2
    }
    real_server 2001:db8::2 80 {
    }
}
virtual_server 2001:db8::100 53 {
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 2001:db8:1::5 5353 {
    }
}
`
	f, err := Parse("k.conf", []byte(conf), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want config.Rules
	for _, line := range []string{
		"-A -t [2001:db8::100]:80 -s sh -p 120 -M 64",
		"-a -t [2001:db8::100]:80 -r [2001:db8::1]:80 -g -w 2",
		"-a -t [2001:db8::100]:80 -r [2001:db8::2]:80 -g -w 1",
		"-A -u [2001:db8::100]:53 -s rr",
		"-a -u [2001:db8::100]:53 -r [2001:db8:1::5]:5353 -m -w 1",
	} {
		c, err := ipvsadm.ParseArgs(strings.Fields(line))
		if err != nil {
			t.Fatalf("ParseArgs(%q): %v", line, err)
		}
		if err := want.Apply(c); err != nil {
			t.Fatalf("Apply(%q): %v", line, err)
		}
	}
	if len(f.Rules.Services) != len(want.Services) {
		t.Fatalf("services: got %d, want %d", len(f.Rules.Services), len(want.Services))
	}
	for i := range want.Services {
		g, w := &f.Rules.Services[i], &want.Services[i]
		if g.Key() != w.Key() || g.Scheduler != w.Scheduler || g.Netmask != w.Netmask || g.Timeout != w.Timeout || len(g.Dests) != len(w.Dests) {
			t.Errorf("service %d: got %+v, want %+v", i, *g, *w)
			continue
		}
		for j := range w.Dests {
			if g.Dests[j] != w.Dests[j] {
				t.Errorf("service %d dest %d: got %+v, want %+v", i, j, g.Dests[j], w.Dests[j])
			}
		}
	}
	if m := f.Rules.Services[0].Netmask; m != netip.MustParseAddr("ffff:ffff:ffff:ffff::") {
		t.Errorf("granularity 64 became netmask %v", m)
	}
}

// TestIPv6Tunnel reads lb_kind TUN with IPv6 and mixed families as the
// kernel takes them: ip6ip6, an IPv4 real server in an IPv6 service and
// an IPv6 real server in an IPv4 one.
func TestIPv6Tunnel(t *testing.T) {
	conf := `virtual_server 2001:db8::100 80 {
    lb_kind TUN
    protocol TCP
    real_server 2001:db8::1 80 {
    }
    real_server 10.0.0.11 80 {
    }
}
virtual_server 10.0.0.100 80 {
    lb_kind TUN
    protocol TCP
    real_server 2001:db8::2 80 {
    }
}
`
	f, err := Parse("k.conf", []byte(conf), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want config.Rules
	for _, line := range []string{
		"-A -t [2001:db8::100]:80 -s wlc",
		"-a -t [2001:db8::100]:80 -r [2001:db8::1]:80 -i -w 1",
		"-a -t [2001:db8::100]:80 -r 10.0.0.11:80 -i -w 1",
		"-A -t 10.0.0.100:80 -s wlc",
		"-a -t 10.0.0.100:80 -r [2001:db8::2]:80 -i -w 1",
	} {
		c, err := ipvsadm.ParseArgs(strings.Fields(line))
		if err != nil {
			t.Fatalf("ParseArgs(%q): %v", line, err)
		}
		if err := want.Apply(c); err != nil {
			t.Fatalf("Apply(%q): %v", line, err)
		}
	}
	if len(f.Rules.Services) != len(want.Services) {
		t.Fatalf("services: got %d, want %d", len(f.Rules.Services), len(want.Services))
	}
	for i := range want.Services {
		g, w := &f.Rules.Services[i], &want.Services[i]
		if g.Key() != w.Key() || len(g.Dests) != len(w.Dests) {
			t.Fatalf("service %d: got %+v, want %+v", i, *g, *w)
		}
		for j := range w.Dests {
			if g.Dests[j] != w.Dests[j] {
				t.Errorf("service %d dest %d: got %+v, want %+v", i, j, g.Dests[j], w.Dests[j])
			}
		}
	}
}

// TestIPv6Group expands an IPv6 virtual_server_group as keepalived's
// alloc_vsg_entry reads it and ipvs_group_range_cmd walks it (a range over
// the last 16 bits, its end in hexadecimal; a prefix; a range between two
// addresses), and a group of both families for a tunnelled virtual server
// into services of each family.
func TestIPv6Group(t *testing.T) {
	f, err := Load("testdata/group6.conf")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.Rules.Services {
		got = append(got, serviceName(s.Key()))
	}
	want := []string{"TCP [2001:db8::100]:80", "TCP [2001:db8::1fe]:80", "TCP [2001:db8::1ff]:80", "TCP [2001:db8::200]:80",
		"TCP [2001:db8::310]:8080", "TCP [2001:db8::311]:8080", "TCP [2001:db8::400]:443", "TCP [2001:db8::401]:443",
		"UDP 10.0.0.100:53", "UDP [2001:db8::53]:53"}
	if !slices.Equal(got, want) {
		t.Fatalf("services %q, want %q", got, want)
	}
	s := f.Rules.Services[4]
	if s.Netmask != netip.MustParseAddr("ffff:ffff:ffff:ffff::") || !s.Persistent || s.Timeout != 300 {
		t.Errorf("service %s: netmask %v persistent %v timeout %d, want /64, persistent, 300", serviceName(s.Key()), s.Netmask, s.Persistent, s.Timeout)
	}
	if d := s.Dests[1]; d.Addr != netip.MustParseAddr("2001:db8::12") || d.Port != 8080 || d.Method != vs.Route || d.Weight != 2 {
		t.Errorf("dest %+v, want [2001:db8::12]:8080 DR weight 2", d)
	}
	if len(f.Health) != 8 || f.Health[5].Reals[0].Checks[0].ConnectPort != 80 {
		t.Errorf("health %d entries (want 8, the tunnelled group has no checks), the check of %s", len(f.Health), serviceName(f.Health[5].Service))
	}
	for _, s := range f.Rules.Services[8:] {
		if len(s.Dests) != 2 || s.Dests[0].Method != vs.Tunnel || s.Dests[1].Method != vs.Tunnel {
			t.Errorf("service %s dests %+v, want two tunnelled", serviceName(s.Key()), s.Dests)
		}
	}
	if err := config.CheckRulesFamily(&f.Rules); err != nil {
		t.Error(err)
	}
}

// TestIPv6GroupRanges reads each form of an IPv6 group entry alone.
func TestIPv6GroupRanges(t *testing.T) {
	for _, tt := range []struct{ in, first, last, msg string }{
		{"2001:db8::5", "2001:db8::5", "2001:db8::5", ""},
		{"2001:db8::a-f", "2001:db8::a", "2001:db8::f", ""},
		{"2001:db8::ff-100", "2001:db8::ff", "2001:db8::100", ""},
		{"2001:db8::1:0-ffff", "2001:db8::1:0", "2001:db8::1:ffff", ""},
		{"2001:db8::10/124", "2001:db8::10", "2001:db8::1f", ""},
		{"2001:db8::-2001:db8::3", "2001:db8::", "2001:db8::3", ""},
		{"10.0.0.0/30", "10.0.0.0", "10.0.0.3", ""},
		{"2001:db8::10-10", "", "", "range end is not above its start"},
		{"2001:db8::10-g", "", "", "not a hexadecimal number"},
		{"2001:db8::10-10000", "", "", "not a hexadecimal number"},
		{"2001:db8::11/124", "", "", "address bits beyond the prefix are set"},
		{"2001:db8::/129", "", "", "prefix length"},
		{"2001:db8::/64", "", "", "must stay within its last 16 bits"},
		{"2001:db8::1:ffff-2001:db8::2:1", "", "", "must stay within its last 16 bits"},
		{"2001:db8::5-2001:db8::4", "", "", "range end is below its start"},
		{"2001:db8::5-10.0.0.1", "", "", "not a hexadecimal number"},
		{"2001:db8::5-::ffff:10.0.0.1", "", "", "range end is below its start"},
		{"fe80::1%eth0-3", "", "", "zone"},
	} {
		first, last, msg := parseRange(tt.in)
		if tt.msg != "" {
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("parseRange(%q) = %v, %v, %q; want an error containing %q", tt.in, first, last, msg, tt.msg)
			}
			continue
		}
		if msg != "" || first != netip.MustParseAddr(tt.first) || last != netip.MustParseAddr(tt.last) {
			t.Errorf("parseRange(%q) = %v, %v, %q; want %s, %s", tt.in, first, last, msg, tt.first, tt.last)
		}
	}
}

// TestIPv6FwMark reads IPv6 firewall-mark virtual servers with
// keepalived's family rules (check_parser.c: ip_family, else the first
// real or sorry server not tunnelled, else a family-bound
// persistence_granularity, else the tunnelled servers' common family):
// an IPv4 and an IPv6 service of one mark, fwmark N inet6 in a group and
// a fwmark without family in an IPv6 group. (DR and TUN real servers of
// a fwmark service take the packet's port, as keepalived gives them.)
func TestIPv6FwMark(t *testing.T) {
	conf := `virtual_server fwmark 5 {
    ip_family inet6
    lb_algo rr
    lb_kind DR
    persistence_timeout 300
    persistence_granularity 64
    real_server 2001:db8::11 80 {
    }
    real_server 10.0.0.12 80 {
        lvs_method TUN
    }
}
virtual_server fwmark 5 {
    lb_algo wlc
    lb_kind DR
    real_server 10.0.0.11 80 {
    }
}
virtual_server fwmark 6 {
    lb_algo rr
    lb_kind NAT
    real_server 2001:db8::21 8080 {
    }
}
virtual_server fwmark 7 {
    lb_algo rr
    lb_kind TUN
    real_server 2001:db8::31 80 {
    }
}
virtual_server fwmark 8 {
    lb_algo rr
    lb_kind TUN
    persistence_timeout 60
    persistence_granularity 48
    real_server 10.0.0.41 80 {
    }
}
virtual_server_group G6 {
    2001:db8::100 80
    fwmark 9 inet6
    fwmark 10
}
virtual_server group G6 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 2001:db8::51 80 {
    }
}
virtual_server_group GM {
    fwmark 11
}
virtual_server group GM {
    lb_algo rr
    ip_family inet6
    lb_kind DR
    real_server 2001:db8::61 80 {
    }
}
`
	f, err := Parse("k.conf", []byte(conf), Options{})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name    string
		netmask int
		dests   string
	}
	wants := []want{
		{"FWM 5 IPv6", 64, "[2001:db8::11]:0 Route, 10.0.0.12:0 Tunnel"},
		{"FWM 5", 32, "10.0.0.11:0 Route"},
		{"FWM 6 IPv6", 128, "[2001:db8::21]:8080 Masq"},
		{"FWM 7 IPv6", 128, "[2001:db8::31]:0 Tunnel"},
		{"FWM 8 IPv6", 48, "10.0.0.41:0 Tunnel"},
		{"TCP [2001:db8::100]:80", 128, "[2001:db8::51]:80 Route"},
		{"FWM 9 IPv6", 128, "[2001:db8::51]:0 Route"},
		{"FWM 10 IPv6", 128, "[2001:db8::51]:0 Route"},
		{"FWM 11 IPv6", 128, "[2001:db8::61]:0 Route"},
	}
	if len(f.Rules.Services) != len(wants) {
		for _, s := range f.Rules.Services {
			t.Log(s.Key().Name())
		}
		t.Fatalf("%d services, want %d", len(f.Rules.Services), len(wants))
	}
	for i, w := range wants {
		s := &f.Rules.Services[i]
		var ds []string
		for _, d := range s.Dests {
			ds = append(ds, netip.AddrPortFrom(d.Addr, d.Port).String()+" "+d.Method.String())
		}
		if got := s.Key().Name(); got != w.name || config.MaskBits(s.Netmask, s.IPv6()) != w.netmask || strings.Join(ds, ", ") != w.dests {
			t.Errorf("service %d: %s mask /%d dests %q, want %s /%d %q", i, got, config.MaskBits(s.Netmask, s.IPv6()), strings.Join(ds, ", "), w.name, w.netmask, w.dests)
		}
	}
	if err := config.CheckRulesFamily(&f.Rules); err != nil {
		t.Errorf("CheckRulesFamily: %v", err)
	}
}

// An IPv6 real server not tunnelled in a fwmark service made IPv4 by its
// ip_family is refused, as keepalived skips it with an error.
func TestIPv6FwMarkFamilyMismatch(t *testing.T) {
	conf := "virtual_server fwmark 5 {\nip_family inet\nlb_kind DR\nreal_server 2001:db8::11 80 {\n}\n}\n"
	_, err := Parse("k.conf", []byte(conf), Options{})
	if err == nil || !strings.Contains(err.Error(), "real server 2001:db8::11 in a service of the other address family") {
		t.Errorf("err %v", err)
	}
}

// TestGroupFamilyFromRealServer: a group virtual server without
// ip_family takes its family from its first real server not tunnelled,
// before its sorry server, as keepalived's rs_end_handler sets vs->af for
// group virtual servers too; a fwmark of the group without family is then
// of that family (ipvs_group_cmd), and a group of the other family does
// not match it. With every server tunnelled the family stays unset and
// the mark is IPv4, keepalived's default.
func TestGroupFamilyFromRealServer(t *testing.T) {
	for _, tt := range []struct{ name, conf, want string }{
		{"fwmark IPv6 real server", "virtual_server_group GM {\nfwmark 11\n}\nvirtual_server group GM {\nlb_algo rr\nlb_kind DR\nreal_server 2001:db8::61 80 {\n}\n}\n", "FWM 11 IPv6"},
		{"real server before sorry server", "virtual_server_group GM {\nfwmark 11\n}\nvirtual_server group GM {\nlb_kind DR\nsorry_server 10.0.0.9 80\nsorry_server_lvs_method TUN\nreal_server 10.0.0.1 80 {\nlvs_method TUN\n}\nreal_server 2001:db8::61 80 {\n}\n}\n", "FWM 11 IPv6"},
		{"all tunnelled", "virtual_server_group GM {\nfwmark 11\n}\nvirtual_server group GM {\nlb_kind TUN\nreal_server 2001:db8::61 80 {\n}\n}\n", "FWM 11"},
		{"IPv4 real server", "virtual_server_group GM {\nfwmark 11\n}\nvirtual_server group GM {\nlb_kind DR\nreal_server 10.0.0.61 80 {\n}\n}\n", "FWM 11"},
		{"IPv4 group, IPv6 real server", "virtual_server_group G {\n10.0.0.100 80\nfwmark 11\n}\nvirtual_server group G {\nprotocol TCP\nlb_kind DR\nreal_server 2001:db8::61 80 {\n}\n}\n",
			"k.conf:5: virtual_server: virtual_server_group G is inet, the virtual server inet6 (from real_server 2001:db8::61)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("k.conf", []byte(tt.conf), Options{})
			if strings.HasPrefix(tt.want, "k.conf:") {
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Fatalf("err %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Rules.Services) != 1 || f.Rules.Services[0].Key().Name() != tt.want {
				t.Fatalf("services %+v, want %s", f.Rules.Services, tt.want)
			}
			if err := config.CheckRulesFamily(&f.Rules); err != nil {
				t.Error(err)
			}
		})
	}
}

// A tunnelled sorry server may be of the other family than its virtual
// server, as keepalived's vs_end_handler lets it be.
func TestSorryServerTunnelledOtherFamily(t *testing.T) {
	conf := "virtual_server 2001:db8::100 80 {\nprotocol TCP\nlb_kind DR\nsorry_server 10.0.0.9 80\nsorry_server_lvs_method TUN\nreal_server 2001:db8::1 80 {\n}\n}\n"
	f, err := Parse("k.conf", []byte(conf), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Health) != 1 || f.Health[0].Sorry == nil || f.Health[0].Sorry.Addr != netip.MustParseAddr("10.0.0.9") || f.Health[0].Sorry.Method != vs.Tunnel {
		t.Fatalf("health %+v, want the tunnelled sorry server 10.0.0.9", f.Health)
	}
}
