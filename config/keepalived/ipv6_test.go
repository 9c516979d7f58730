package keepalived

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/ipvsadm"
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
