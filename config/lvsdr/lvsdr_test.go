package lvsdr

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/configtest"
	"github.com/ulvs/ulvs/config/names"
	"github.com/ulvs/ulvs/vs"
)

var eq = cmpopts.EquateComparable(netip.Addr{})

// testHosts are the host names the seeds and the HOWTO's files use.
var testHosts = map[string]string{
	"rs1": "192.168.0.11", "rs2": "192.168.0.12",
	"real-server1": "192.168.1.2", "real-server2": "192.168.1.3", "real-server3": "192.168.1.4",
	"lvs": "192.168.1.110", "directorinside": "192.168.1.9", "client": "192.168.1.254",
}

// testOpts resolves names from testHosts (or hosts) and ports from
// testdata/services; nothing reaches the system.
func testOpts(t testing.TB, hosts map[string]string) Options {
	svc, err := names.LoadServices("testdata/services")
	if err != nil {
		t.Fatal(err)
	}
	if hosts == nil {
		hosts = testHosts
	}
	return Options{
		LookupHost: func(name string) (netip.Addr, error) {
			if a, ok := hosts[name]; ok {
				return netip.MustParseAddr(a), nil
			}
			return netip.Addr{}, fmt.Errorf("unknown host")
		},
		LookupPort: svc.Lookup,
	}
}

func parseFile(t *testing.T, name string, hosts map[string]string) *Conf {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConf("lvs_dr.conf", data, testOpts(t, hosts))
	if err != nil {
		t.Fatalf("ParseConf: %v", err)
	}
	configtest.ReplayRules(t, c.File)
	return c
}

func a(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestSeed004 reads seed 004's lvs_dr.conf: telnet and www by name,
// through /etc/services, to rs1 and rs2 by name, direct routing.
func TestSeed004(t *testing.T) {
	c := parseFile(t, "testdata/seed004.conf", nil)
	vip := a("192.168.0.101")
	dests := func(port uint16) []config.Dest {
		return []config.Dest{
			{Addr: a("192.168.0.11"), Port: port, Method: vs.Route, Weight: 1},
			{Addr: a("192.168.0.12"), Port: port, Method: vs.Route, Weight: 1},
		}
	}
	want := []config.Service{
		{Proto: vs.TCP, Addr: vip, Port: 23, Scheduler: "rr", Dests: dests(23)},
		{Proto: vs.TCP, Addr: vip, Port: 80, Scheduler: "rr", Dests: dests(80)},
	}
	if diff := cmp.Diff(want, c.File.Rules.Services, eq); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"eth0"}, c.File.Interfaces); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
	wantDir := Director{VIPDevice: "eth0:101", VIP: vip, VIPNetmask: a("255.255.255.0"), VIPBroadcast: a("192.168.0.0"),
		InsideDevice: "eth0", InsideIP: a("192.168.0.1"), InsideNetwork: a("192.168.0.0"), InsideNetmask: a("255.255.255.0"), InsideBroadcast: a("192.168.0.255")}
	if diff := cmp.Diff(wantDir, c.Director, eq); diff != "" {
		t.Errorf("director (-want +got):\n%s", diff)
	}
	wantRS := RealServer{Method: vs.Route, VIP: vip, VIPDevice: "dummy0", NetDevice: "eth0", Servers: []netip.Addr{a("192.168.0.11"), a("192.168.0.12")}}
	if diff := cmp.Diff(wantRS, c.RealServer, eq); diff != "" {
		t.Errorf("real server (-want +got):\n%s", diff)
	}
	if !c.InitialState || c.File.Format != Format || c.File.Health != nil || c.File.Pulse != nil {
		t.Errorf("InitialState %v Format %q Health %v", c.InitialState, c.File.Format, c.File.Health)
	}
	configtest.CheckWarnings(t, c.File, []string{"lvs_dr.conf: no health checks"})
}

// TestSeed004Lab is the lab copy the director's integration test runs.
func TestSeed004Lab(t *testing.T) {
	c := parseFile(t, "testdata/seed004-lab.conf", map[string]string{"rs1": "10.77.0.11", "rs2": "10.77.0.12"})
	if s := c.File.Rules.Services[1]; s.Addr != a("10.77.0.100") || s.Port != 80 || s.Dests[1].Addr != a("10.77.0.12") {
		t.Errorf("www service %+v", s)
	}
	if diff := cmp.Diff([]string{"d-eth0"}, c.File.Interfaces); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}

// TestHOWTO reads the LVS-HOWTO's examples: VS-NAT with port remapping
// and weights, and VS-DR with names, ppc, -t and port 0.
func TestHOWTO(t *testing.T) {
	nat := parseFile(t, "testdata/howto-nat.conf", nil)
	vip := a("192.168.1.110")
	want := []config.Service{
		{Proto: vs.TCP, Addr: vip, Port: 23, Scheduler: "wlc", Dests: []config.Dest{{Addr: a("10.1.1.2"), Port: 23, Method: vs.Masq, Weight: 1}}},
		{Proto: vs.TCP, Addr: vip, Port: 80, Scheduler: "wlc", Dests: []config.Dest{
			{Addr: a("10.1.1.2"), Port: 80, Method: vs.Masq, Weight: 2},
			{Addr: a("10.1.1.3"), Port: 8080, Method: vs.Masq, Weight: 1},
			{Addr: a("10.1.1.4"), Port: 80, Method: vs.Masq, Weight: 1},
		}},
	}
	if diff := cmp.Diff(want, nat.File.Rules.Services, eq); diff != "" {
		t.Errorf("NAT services (-want +got):\n%s", diff)
	}
	configtest.CheckWarnings(t, nat.File, []string{"lvs_dr.conf:7: ulvsd configures no address: 10.1.1.10 must already be on eth0:10", "lvs_dr.conf: no health checks"})

	dr := parseFile(t, "testdata/howto-dr.conf", nil)
	got := dr.File.Rules.Services
	if len(got) != 4 {
		t.Fatalf("%d services", len(got))
	}
	if s := got[1]; s.Port != 443 || s.Scheduler != "wlc" || !s.Persistent || s.Timeout != 360 {
		t.Errorf("https ppc: %+v", s)
	}
	if s := got[2]; s.Port != 0 || s.Scheduler != "wrr" || !s.Persistent || s.Timeout != 1800 || s.Dests[0].Port != 0 {
		t.Errorf("port 0 ppc -t 1800: %+v", s)
	}
	if s := got[3]; s.Proto != vs.UDP || s.Port != 2049 {
		t.Errorf("nfs: %+v", s)
	}
	if dr.Director.DefaultGW != a("192.168.1.254") || dr.RealServer.DefaultGW != a("192.168.1.254") || dr.RealServer.VIPDevice != "lo:0" {
		t.Errorf("director %+v real server %+v", dr.Director, dr.RealServer)
	}
}

func TestSettings(t *testing.T) {
	base := "LVS_TYPE=VS_TUN\nVIP=eth1 10.77.0.100\nSERVER_VIP_DEVICE=tunl0\n"
	for _, tt := range []struct {
		name  string
		text  string
		check func(t *testing.T, c *Conf)
	}{
		{"tunnel, DR port ignored", base + "SERVICE=t http sh rs1:8080,3\n", func(t *testing.T, c *Conf) {
			d := c.File.Rules.Services[0].Dests[0]
			if d.Method != vs.Tunnel || d.Port != 80 || d.Weight != 3 || c.File.Rules.Services[0].Scheduler != "sh" {
				t.Errorf("dest %+v", d)
			}
			configtest.CheckWarnings(t, c.File, []string{"x.conf:4: real server rs1:8080,3: Tunnel keeps the service's port 80", "x.conf: no health checks"})
		}},
		{"initial state off", base + "INITIAL_STATE=off\nSERVICE=u 53 rs1,5 rs2\n", func(t *testing.T, c *Conf) {
			for _, d := range c.File.Rules.Services[0].Dests {
				if d.Weight != 0 {
					t.Errorf("dest %+v, want weight 0", d)
				}
			}
			configtest.CheckWarnings(t, c.File, []string{"x.conf:4: INITIAL_STATE=off", "x.conf: no health checks"})
		}},
		{"older device name and SERVER_GW", "LVS_TYPE=VS_DR\nVIP=eth0 10.77.0.100\nSERVER_LVS_DEVICE=lo:0\nSERVER_GW=10.77.0.1\nSERVICE=t 80 rs1\n", func(t *testing.T, c *Conf) {
			if c.RealServer.VIPDevice != "lo:0" || c.RealServer.DefaultGW != a("10.77.0.1") {
				t.Errorf("real server %+v", c.RealServer)
			}
		}},
		{"no VIP device", "LVS_TYPE=VS_DR\nVIP=eth0 10.77.0.100\nSERVICE=t 80 rs1\n", func(t *testing.T, c *Conf) {
			configtest.CheckWarnings(t, c.File, []string{"x.conf: no SERVER_VIP_DEVICE: the real servers of VS_DR", "x.conf: no health checks"})
		}},
		{"NAT without inside", "LVS_TYPE=VS_NAT\nVIP=eth0 10.77.0.100\nSERVICE=t 80 rs1\n", func(t *testing.T, c *Conf) {
			configtest.CheckWarnings(t, c.File, []string{"x.conf: VS_NAT without DIRECTOR_INSIDEIP", "x.conf: no health checks"})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConf("x.conf", []byte(tt.text), testOpts(t, map[string]string{"rs1": "10.77.0.11", "rs2": "10.77.0.12"}))
			if err != nil {
				t.Fatal(err)
			}
			configtest.ReplayRules(t, c.File)
			tt.check(t, c)
		})
	}
}

func TestErrors(t *testing.T) {
	const head = "LVS_TYPE=VS_DR\nVIP=eth0:1 10.77.0.100 255.255.255.255\n" // SERVICE lines start on line 3
	for _, tt := range []struct{ name, text, want string }{
		{"not a setting", "hello world\n", `x.conf:1: expected NAME=value, like LVS_TYPE=VS_DR (got "hello world")`},
		{"unknown", "LVS_MODE=VS_DR\n", "x.conf:1: LVS_MODE: unknown setting LVS_MODE"},
		{"empty value", "LVS_TYPE=\n", "x.conf:1: LVS_TYPE: has no value"},
		{"twice", "LVS_TYPE=VS_DR\nLVS_TYPE=VS_NAT\n", "x.conf:2: LVS_TYPE: LVS_TYPE is already set on line 1"},
		{"no type", "VIP=eth0 10.77.0.100\n", "x.conf: LVS_TYPE: LVS_TYPE is required"},
		{"bad type", "LVS_TYPE=VS_FULLNAT\n", `x.conf:1: LVS_TYPE: "VS_FULLNAT" is not VS_DR, VS_NAT or VS_TUN`},
		{"initial state", "LVS_TYPE=VS_DR\nINITIAL_STATE=yes\n", `x.conf:2: INITIAL_STATE: "yes" is not on or off`},
		{"no VIP", "LVS_TYPE=VS_DR\nSERVICE=t 80 rs1\n", "x.conf: VIP: VIP is required"},
		{"VIP fields", "LVS_TYPE=VS_DR\nVIP=eth0\n", `x.conf:2: VIP: takes DEVICE ADDRESS [NETMASK [BROADCAST]] (got "eth0")`},
		{"VIP device", "LVS_TYPE=VS_DR\nVIP=a/b 10.0.0.1\n", `x.conf:2: VIP: device "a/b"`},
		{"VIP host", "LVS_TYPE=VS_DR\nVIP=eth0 nowhere\n", "x.conf:2: VIP: host nowhere: unknown host"},
		{"VIP netmask", "LVS_TYPE=VS_DR\nVIP=eth0 10.0.0.1 255.0.255.0\n", `x.conf:2: VIP: "255.0.255.0" is not a netmask`},
		{"VIP IPv6", "LVS_TYPE=VS_DR\nVIP=eth0 2001:db8::1\n", "x.conf:2: VIP: 2001:db8::1: IPv6 is not supported"},
		{"no service", head, "x.conf: SERVICE: no SERVICE line"},
		{"service short", head + "SERVICE=t 80\n", "x.conf:3: SERVICE: takes PROTOCOL PORT"},
		{"fwmark", head + "SERVICE=f 1 rr rs1\n", "x.conf:3: SERVICE: fwmark services (f) are not read"},
		{"protocol", head + "SERVICE=tcp 80 rr rs1\n", `x.conf:3: SERVICE: protocol "tcp" is not t (TCP) or u (UDP)`},
		{"service name", head + "SERVICE=t gopher rr rs1\n", `x.conf:3: SERVICE: "gopher" is neither a port number nor a service name`},
		{"udp name from tcp", head + "SERVICE=u telnet rr rs1\n", `x.conf:3: SERVICE: "telnet" is neither a port number nor a service name: no service telnet/udp`},
		{"port range", head + "SERVICE=t 70000 rr rs1\n", "x.conf:3: SERVICE: port 70000 is out of range"},
		{"port 0 without ppc", head + "SERVICE=t 0 rr rs1\n", "x.conf:3: SERVICE: port 0 (every port) needs ppc"},
		{"ppc -t", head + "SERVICE=t 80 rr ppc -t\n", "x.conf:3: SERVICE: ppc -t needs a number"},
		{"ppc -t range", head + "SERVICE=t 80 rr ppc -t 0 rs1\n", "x.conf:3: SERVICE: ppc -t 0: the persistence timeout"},
		{"no real server", head + "SERVICE=t 80 rr ppc\n", "x.conf:3: SERVICE: names no real server"},
		{"bad host", head + "SERVICE=t 80 rr nowhere\n", "x.conf:3: SERVICE: host nowhere: unknown host"},
		{"multicast server", head + "SERVICE=t 80 rr 224.0.0.1\n", "x.conf:3: SERVICE: 224.0.0.1 is not a unicast address"},
		{"weight", head + "SERVICE=t 80 rr rs1,x\n", `x.conf:3: SERVICE: real server rs1,x: weight "x" must be a number from 0 to 65535`},
		{"weight range", head + "SERVICE=t 80 rr rs1,70000\n", `x.conf:3: SERVICE: real server rs1,70000: weight "70000"`},
		{"server port name", head + "SERVICE=t 80 rr rs1:gopher\n", `x.conf:3: SERVICE: "gopher" is neither`},
		{"server twice", head + "SERVICE=t 80 rr rs1 rs1:80\n", "x.conf:3: SERVICE: real server rs1:80 is listed twice"},
		{"service twice", head + "SERVICE=t 80 rr rs1\nSERVICE=t http rs2\n", "x.conf:4: SERVICE: service TCP port 80 is already defined on line 3"},
		{"gateway", head + "SERVER_DEFAULT_GW=nowhere\nSERVICE=t 80 rs1\n", "x.conf:3: SERVER_DEFAULT_GW: host nowhere"},
		{"device", head + "SERVER_NET_DEVICE=eth0 eth1\nSERVICE=t 80 rs1\n", "x.conf:3: SERVER_NET_DEVICE: takes a device"},
		{"inside", head + "DIRECTOR_INSIDEIP=eth0 10.0.0.1 10.0.0.0 255.255.0.255\nSERVICE=t 80 rs1\n", `x.conf:3: DIRECTOR_INSIDEIP: "255.255.0.255" is not a netmask`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.conf", []byte(tt.text), testOpts(t, map[string]string{"rs1": "10.77.0.11", "rs2": "10.77.0.12"}))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse: %v, want a *config.Error", err)
			}
			if !strings.HasPrefix(ce.Error(), tt.want) {
				t.Errorf("error\n got %s\nwant %s...", ce.Error(), tt.want)
			}
		})
	}
}
