package piranha

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/configtest"
	"github.com/ulvs/ulvs/vs"
)

// testOpts resolves the names the tests use from maps; anything else is
// an error, so no test reaches the system's resolver.
func testOpts() Options {
	hosts := map[string]string{"lvs1": "10.77.0.2", "lvs2": "10.77.0.3", "rs1": "10.77.0.11", "rs2": "10.77.0.12"}
	ports := map[string]uint16{"http": 80, "www": 80, "ftp": 21, "telnet": 23}
	return Options{
		LookupHost: func(name string) (netip.Addr, error) {
			if a, ok := hosts[name]; ok {
				return netip.MustParseAddr(a), nil
			}
			return netip.Addr{}, fmt.Errorf("unknown host %s", name)
		},
		LookupPort: func(name, proto string) (uint16, error) {
			if p, ok := ports[name]; ok {
				return p, nil
			}
			return 0, fmt.Errorf("unknown service %s/%s", name, proto)
		},
	}
}

func mustParse(t *testing.T, name string, text string) *config.File {
	t.Helper()
	f, err := Parse(name, []byte(text), testOpts())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eq compares addresses and prefixes by value.
var eq = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// nanny is the check lvs.cf's seed virtuals give each server; port is
// its ConnectPort (0: the dest's).
func nanny(port uint16, send, expect string) config.Check {
	return config.Check{
		Kind: config.CheckNanny, ConnectPort: port, Send: send, Expect: expect,
		Proto: vs.TCP, Timeout: 6 * time.Second, Reentry: 15 * time.Second,
		DelayLoop: 6 * time.Second,
	}
}

// TestSeed001 reads seed 001's lvs.cf, line breaks restored: the Apache
// virtual (direct routing, rr, GET / expect HTTP) and the FTP cluster
// (fwmark 21, persistent 10, quit expect 220), with pulse's settings.
func TestSeed001(t *testing.T) {
	f := mustParse(t, "lvs.cf", readFile(t, "testdata/seed001.cf"))
	web := config.Service{Proto: vs.TCP, Addr: addr("192.168.56.100"), Port: 80, Scheduler: "rr", Dests: []config.Dest{
		{Addr: addr("192.168.56.103"), Port: 80, Method: vs.Route, Weight: 1},
		{Addr: addr("192.168.56.104"), Port: 80, Method: vs.Route, Weight: 1},
	}}
	ftp := config.Service{Proto: vs.TCP, FwMark: 21, Scheduler: "wrr", Persistent: true, Timeout: 10, Dests: []config.Dest{
		{Addr: addr("192.168.56.103"), Method: vs.Route, Weight: 1},
		{Addr: addr("192.168.56.104"), Method: vs.Route, Weight: 1},
	}}
	if diff := cmp.Diff([]config.Service{web, ftp}, f.Rules.Services, eq); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	get := "GET / HTTP/1.0\r\n\r\n"
	wantHealth := []config.VirtualHealth{
		{Service: web.Key(), DelayLoop: 6 * time.Second, Alpha: true, Quorum: 1, Reals: []config.RealHealth{
			{Addr: addr("192.168.56.103"), Port: 80, Checks: []config.Check{nanny(0, get, "HTTP")}},
			{Addr: addr("192.168.56.104"), Port: 80, Checks: []config.Check{nanny(0, get, "HTTP")}},
		}},
		{Service: ftp.Key(), DelayLoop: 6 * time.Second, Alpha: true, Quorum: 1, Reals: []config.RealHealth{
			{Addr: addr("192.168.56.103"), Checks: []config.Check{nanny(21, "quit", "220")}},
			{Addr: addr("192.168.56.104"), Checks: []config.Check{nanny(21, "quit", "220")}},
		}},
	}
	if diff := cmp.Diff(wantHealth, f.Health, eq); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"eth0"}, f.Interfaces, eq); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
	wantPulse := &config.Pulse{
		SerialNo: 77, Primary: addr("192.168.56.101"), PrimaryPrivate: addr("192.168.56.101"),
		Backup: addr("192.168.56.102"), BackupPrivate: addr("192.168.56.102"), BackupActive: true,
		HeartbeatPort: 539, Keepalive: 6 * time.Second, Deadtime: 18 * time.Second,
		SyncdIface: "eth0", HardShutdown: true,
		VIPs: []config.PulseVIP{
			{Addr: addr("192.168.56.100"), Device: "eth0:1", Netmask: addr("255.255.255.0")},
			{Addr: addr("192.168.56.200"), Device: "eth0:2", Netmask: addr("255.255.255.0")},
		},
	}
	if diff := cmp.Diff(wantPulse, f.Pulse, eq); diff != "" {
		t.Errorf("pulse (-want +got):\n%s", diff)
	}
	wantWarn := []string{
		"lvs.cf:38: virtual FTP: fwmark 21: the marks come from the director's iptables/nft MARK rules",
	}
	configtest.CheckWarnings(t, f, wantWarn)
	if f.Format != Format || f.Path != "lvs.cf" || f.Socket != config.DefaultSocket {
		t.Errorf("Format %q Path %q Socket %q", f.Format, f.Path, f.Socket)
	}
}

// TestSeed001AsPrinted: the article prints the file with arrows and notes
// after four values; Piranha refuses such a line ("unexpected
// arguments"), and so does ulvs, at the first one.
func TestSeed001AsPrinted(t *testing.T) {
	_, err := Parse("lvs.cf", []byte(readFile(t, "testdata/seed001-printed.cf")), testOpts())
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse: %v, want a *config.Error", err)
	}
	want := "lvs.cf:42: fwmark: unexpected arguments: takes one value, got 5 (21 <---- 这个要和后面配置的 iptables"
	if !strings.HasPrefix(ce.Error(), want) {
		t.Errorf("error\n got %s\nwant %s...", ce.Error(), want)
	}
}

// TestSeed001Lab is the lab copy the director's integration test runs.
func TestSeed001Lab(t *testing.T) {
	f := mustParse(t, "lvs.cf", readFile(t, "testdata/seed001-lab.cf"))
	if len(f.Rules.Services) != 2 || f.Rules.Services[0].Addr != addr("10.77.0.100") {
		t.Fatalf("services %+v", f.Rules.Services)
	}
	if diff := cmp.Diff([]string{"d-eth0"}, f.Interfaces, eq); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
}

// global wraps lines into a file with one direct-routing virtual server
// of one server; the settings start on line 1.
func global(lines string) string {
	return lines + "network = direct\nvirtual web {\nactive = 1\naddress = 10.77.0.100 eth0:1\nserver rs1 {\naddress = 10.77.0.11\nactive = 1\n}\n}\n"
}

// virtualWith makes a file whose virtual block holds vLines (from line 5)
// and, after them, the server block holding sLines.
func virtualWith(vLines, sLines string) string {
	return "network = direct\nvirtual web {\nactive = 1\naddress = 10.77.0.100 eth0:1\n" + vLines +
		"server rs1 {\naddress = 10.77.0.11\nactive = 1\n" + sLines + "}\n}\n"
}

func TestSettings(t *testing.T) {
	for _, tt := range []struct {
		name  string
		text  string
		check func(t *testing.T, f *config.File)
	}{
		{"defaults", global(""), func(t *testing.T, f *config.File) {
			s := f.Rules.Services[0]
			want := config.Service{Proto: vs.TCP, Addr: addr("10.77.0.100"), Port: 80, Scheduler: "wlc",
				Dests: []config.Dest{{Addr: addr("10.77.0.11"), Port: 80, Method: vs.Route, Weight: 1}}}
			if diff := cmp.Diff(want, s, eq); diff != "" {
				t.Errorf("service (-want +got):\n%s", diff)
			}
			c := f.Health[0].Reals[0].Checks[0]
			// nanny's port-80 default check, lvs.cf's timeout 10 and
			// reentry 180.
			if c.Send != "GET / HTTP/1.0\r\n\r\n" || c.Expect != "HTTP" || c.Timeout != 10*time.Second || c.Reentry != 180*time.Second {
				t.Errorf("check %+v", c)
			}
			if p := f.Pulse; p.HeartbeatPort != 539 || p.Keepalive != 2*time.Second || p.Deadtime != 5*time.Second || !p.HardShutdown || p.SyncdIface != "eth0" {
				t.Errorf("pulse defaults %+v", p)
			}
		}},
		{"network nat with nat_router", "network = nat\nnat_router = 10.77.1.1 eth1:1\nnat_nmask = 255.255.255.0\nvirtual web {\nactive = 1\naddress = 10.77.0.100 eth0:1\nport = 8080\nserver rs1 {\naddress = 10.77.1.11\nactive = 1\nport = 80\nweight = 3\n}\n}\n",
			func(t *testing.T, f *config.File) {
				d := f.Rules.Services[0].Dests[0]
				if d.Method != vs.Masq || d.Port != 80 || d.Weight != 3 {
					t.Errorf("dest %+v", d)
				}
				if diff := cmp.Diff([]string{"eth0", "eth1"}, f.Interfaces, eq); diff != "" {
					t.Errorf("interfaces (-want +got):\n%s", diff)
				}
				if f.Pulse.NATRouter != netip.MustParsePrefix("10.77.1.1/24") || f.Pulse.NATRouterDevice != "eth1:1" {
					t.Errorf("nat router %v %q", f.Pulse.NATRouter, f.Pulse.NATRouterDevice)
				}
				if c := f.Health[0].Reals[0].Checks[0]; c.ConnectPort != 0 || c.Send != "" || c.Expect != "" {
					t.Errorf("check %+v (port 8080: no default HTTP check)", c)
				}
				configtest.CheckWarnings(t, f, nil)
			}},
		{"tunnel", "network = tunnel\n" + strings.TrimPrefix(global(""), ""), func(t *testing.T, f *config.File) {
			// the later network = direct wins: Piranha keeps the last.
			if f.Rules.Services[0].Dests[0].Method != vs.Route {
				t.Errorf("method %v", f.Rules.Services[0].Dests[0].Method)
			}
		}},
		{"names", "primary = lvs1\nbackup = lvs2\nprimary_private = 10.1.0.2\nbackup_private = 10.1.0.3\nheartbeat_port = http\n" + virtualWith("port = ftp\n", "port = 2121\n"),
			func(t *testing.T, f *config.File) {
				p := f.Pulse
				if p.Primary != addr("10.77.0.2") || p.Backup != addr("10.77.0.3") || p.PrimaryPrivate != addr("10.1.0.2") || p.BackupPrivate != addr("10.1.0.3") || p.HeartbeatPort != 80 {
					t.Errorf("pulse %+v", p)
				}
				s := f.Rules.Services[0]
				if s.Port != 21 || s.Dests[0].Port != 21 {
					t.Errorf("service %+v", s)
				}
				if c := f.Health[0].Reals[0].Checks[0]; c.ConnectPort != 2121 {
					t.Errorf("check port %d, want the server's 2121", c.ConnectPort)
				}
				configtest.CheckWarnings(t, f, []string{"x.cf:11: server rs1: port 2121 differs from virtual web's port 21, which Route keeps"})
			}},
		{"server address by name", virtualWith("", "") + "", func(t *testing.T, f *config.File) {
			if f.Rules.Services[0].Dests[0].Addr != addr("10.77.0.11") {
				t.Error(f.Rules.Services[0].Dests)
			}
		}},
		{"persistent pmask udp", virtualWith("protocol = udp\nport = 53\npersistent = 300\npmask = 255.255.255.0\nsend = \"x\\n\\t\\\\\\'\"\nexpect = \"y\"\nuse_regex = 1\nquiesce_server = 1\ntimeout = 2\nreentry = 0\n", "weight = 0\n"),
			func(t *testing.T, f *config.File) {
				s := f.Rules.Services[0]
				if s.Proto != vs.UDP || !s.Persistent || s.Timeout != 300 || s.Netmask != addr("255.255.255.0") || s.Dests[0].Weight != 0 {
					t.Errorf("service %+v", s)
				}
				r := f.Health[0].Reals[0]
				c := r.Checks[0]
				if c.Send != "x\n\t\\'" || !c.UseRegex || !c.QuiesceServer || !r.Inhibit || c.Proto != vs.UDP || c.Timeout != 2*time.Second || c.Reentry != 180*time.Second {
					t.Errorf("real %+v check %+v", r, c)
				}
			}},
		{"pmask all ones is none", virtualWith("persistent = 60\npmask = 255.255.255.255\n", ""), func(t *testing.T, f *config.File) {
			if s := f.Rules.Services[0]; s.Netmask.IsValid() {
				t.Errorf("netmask %v", s.Netmask)
			}
		}},
		{"fwmark udp check", virtualWith("fwmark = 7\nprotocol = udp\nport = 53\n", ""), func(t *testing.T, f *config.File) {
			s := f.Rules.Services[0]
			if s.FwMark != 7 || s.Proto != vs.TCP || s.Addr.IsValid() || s.Dests[0].Port != 0 {
				t.Errorf("service %+v", s)
			}
			if c := f.Health[0].Reals[0].Checks[0]; c.Proto != vs.UDP || c.ConnectPort != 53 {
				t.Errorf("check %+v", c)
			}
		}},
		{"send_program", virtualWith("send_program = \"/bin/check %h\"\nexpect = \"OK\"\n", ""), func(t *testing.T, f *config.File) {
			if c := f.Health[0].Reals[0].Checks[0]; c.SendProgram != "/bin/check %h" || c.Send != "" || c.Expect != "OK" {
				t.Errorf("check %+v", c)
			}
		}},
		{"sorry server", virtualWith("sorry_server = 10.77.0.50\n", ""), func(t *testing.T, f *config.File) {
			s := f.Health[0].Sorry
			if s == nil || s.Addr != addr("10.77.0.50") || s.Port != 80 || s.Method != vs.Route {
				t.Errorf("sorry %+v", s)
			}
		}},
		{"timeouts", global("tcp_timeout = 900\ntcpfin_timeout = 120\nudp_timeout = 300\n"), func(t *testing.T, f *config.File) {
			if f.Timeouts != (config.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}) {
				t.Errorf("timeouts %+v", f.Timeouts)
			}
		}},
		{"inactive virtual and server", "network = direct\nvirtual off {\nactive = 0\naddress = 10.77.0.101 eth1:1\n}\n" + virtualWith("", "") + "", func(t *testing.T, f *config.File) {
			if len(f.Rules.Services) != 1 || len(f.Interfaces) != 1 || f.Interfaces[0] != "eth0" {
				t.Errorf("services %+v interfaces %v", f.Rules.Services, f.Interfaces)
			}
		}},
		{"server without active is inactive", "network = direct\nvirtual web {\nactive = 1\naddress = 10.77.0.100 eth0:1\nserver a {\naddress = 10.77.0.11\n}\n}\n", func(t *testing.T, f *config.File) {
			if n := len(f.Rules.Services[0].Dests); n != 0 {
				t.Errorf("%d dests, want 0", n)
			}
			configtest.CheckWarnings(t, f, []string{"x.cf:2: virtual web has no active real servers"})
		}},
		{"comments, CRLF, tabs and quotes", "# lvs.cf\r\n\tnetwork\t=\tdirect\r\n\r\n  # x\nvirtual 'web' {\nactive = 1\naddress = 10.77.0.100 eth0\nexpect = 'say \"hi\"'\nserver rs1 {\naddress = 10.77.0.11\nactive = 1\n}\n}\n",
			func(t *testing.T, f *config.File) {
				c := f.Health[0].Reals[0].Checks[0]
				if c.Expect != `say "hi"` || f.Rules.Services[0].Dests[0].Method != vs.Route || f.Interfaces[0] != "eth0" {
					t.Errorf("check %+v, services %+v, interfaces %v", c, f.Rules.Services, f.Interfaces)
				}
			}},
		{"failover block", global("failover ftp {\nactive = 1\naddress = 10.77.0.9 eth0:3\nstart_cmd = \"/etc/init.d/vsftpd start\"\n}\n"), func(t *testing.T, f *config.File) {
			configtest.CheckWarnings(t, f, []string{"x.cf:1: failover ftp is not run"})
		}},
		{"monitor_links and commands run with backup_active", global("backup_active = 1\nbackup = 10.0.0.3\nmonitor_links = 1\nactive_cmd = \"/bin/echo up\"\ninactive_cmd = /bin/true\n"), func(t *testing.T, f *config.File) {
			configtest.CheckWarnings(t, f, nil)
			if p := f.Pulse; !p.MonitorLinks || p.ActiveCmd != "/bin/echo up" || p.InactiveCmd != "/bin/true" {
				t.Errorf("pulse %+v", p)
			}
		}},
		{"pulse settings unused without backup_active", global("monitor_links = 1\nactive_cmd = /bin/true\n"), func(t *testing.T, f *config.File) {
			configtest.CheckWarnings(t, f, []string{
				"x.cf:1: monitor_links = 1 is not used without backup_active = 1",
				"x.cf:2: active_cmd and inactive_cmd are not run without backup_active = 1",
			})
		}},
		{"no network", "virtual web {\nactive = 1\naddress = 10.77.0.100 eth0:1\nserver rs1 {\naddress = 10.77.0.11\nactive = 1\n}\n}\n", func(t *testing.T, f *config.File) {
			if m := f.Rules.Services[0].Dests[0].Method; m != vs.Masq {
				t.Errorf("method %v, want Piranha's default NAT", m)
			}
			configtest.CheckWarnings(t, f, []string{"x.cf: no network setting: Piranha's default is nat"})
		}},
		{"duplicate server", virtualWith("server rs1b {\naddress = rs1\nactive = 1\n}\n", ""), func(t *testing.T, f *config.File) {
			if n := len(f.Rules.Services[0].Dests); n != 1 {
				t.Errorf("%d dests", n)
			}
			configtest.CheckWarnings(t, f, []string{"x.cf:9: server rs1: 10.77.0.11:80 is already a real server"})
		}},
		{"warned settings", global("ipvsadm = /sbin/ipvsadm\nsync = 1\nprimary_shared = /dev/sdb\n") + "", func(t *testing.T, f *config.File) {
			configtest.CheckWarnings(t, f, []string{"x.cf:1: ipvsadm = /sbin/ipvsadm is not used", "x.cf:2: sync = 1", "x.cf:3: primary_shared is a failover-service"})
		}},
		{"syncdaemon follows pulse", global("syncdaemon = 1\nsyncd_iface = eth1\nsyncd_id = 7\n"), func(t *testing.T, f *config.File) {
			want := &config.SyncDaemon{Interface: "eth1", Instance: config.PulseInstance, SyncID: 7}
			if f.Sync == nil || *f.Sync != *want {
				t.Errorf("Sync = %+v, want %+v", f.Sync, want)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParse(t, "x.cf", tt.text))
		})
	}
}
