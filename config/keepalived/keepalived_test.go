package keepalived

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

var cmpAddr = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

var ip = netip.MustParseAddr

// mapFS serves files from a map, for includes.
func mapFS(files map[string]string) Options {
	return Options{
		ReadFile: func(name string) ([]byte, error) {
			s, ok := files[name]
			if !ok {
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
			}
			return []byte(s), nil
		},
		Glob: func(pattern string) ([]string, error) {
			var out []string
			for name := range files {
				ok, err := path.Match(pattern, name)
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, name)
				}
			}
			return out, nil
		},
	}
}

func parseString(t *testing.T, conf string) (*config.File, error) {
	t.Helper()
	return Parse("k.conf", []byte(conf), mapFS(nil))
}

func mustParse(t *testing.T, conf string) *config.File {
	t.Helper()
	f, err := parseString(t, conf)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func warningTexts(ws []config.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// tcpCheck is a TCP_CHECK as the seed and the oracle resolve it.
func tcpCheck(addr netip.Addr, port uint16, timeout time.Duration, retry int, dbr, loop time.Duration) config.Check {
	return config.Check{
		Kind: config.CheckTCP, ConnectIP: addr, ConnectPort: port, ConnectTimeout: timeout,
		Retry: retry, DelayBeforeRetry: dbr, DelayLoop: loop, Warmup: loop,
	}
}

// TestSeed001 parses seed 001's keepalived.conf, line breaks restored,
// with its own addresses and with the lab's.
func TestSeed001(t *testing.T) {
	for _, tt := range []struct {
		name          string
		file          string
		vip, rs1, rs2 netip.Addr
	}{
		{"seed", "testdata/seed001.conf", ip("61.164.122.8"), ip("61.164.122.9"), ip("61.164.122.10")},
		{"lab", "testdata/seed001-lab.conf", ip("10.77.0.100"), ip("10.77.0.11"), ip("10.77.0.12")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			key := config.ServiceKey{Proto: vs.TCP, Addr: tt.vip, Port: 80}
			want := &config.File{
				Path:       tt.file,
				Interfaces: []string{"eth0"},
				Socket:     config.DefaultSocket,
				Format:     "keepalived",
				Rules: config.Rules{Services: []config.Service{{
					Proto: vs.TCP, Addr: tt.vip, Port: 80, Scheduler: "wrr", Persistent: true, Timeout: 60,
					Dests: []config.Dest{
						{Addr: tt.rs1, Port: 80, Method: vs.Route, Weight: 3},
						{Addr: tt.rs2, Port: 80, Method: vs.Route, Weight: 3},
					},
				}}},
				Health: []config.VirtualHealth{{
					Service: key, DelayLoop: 6 * time.Second, Quorum: 1,
					Reals: []config.RealHealth{
						{Addr: tt.rs1, Port: 80, Checks: []config.Check{tcpCheck(tt.rs1, 80, 10*time.Second, 3, 3*time.Second, 6*time.Second)}},
						{Addr: tt.rs2, Port: 80, Checks: []config.Check{tcpCheck(tt.rs2, 80, 10*time.Second, 3, 3*time.Second, 6*time.Second)}},
					},
				}},
				VRRP:   []config.VRRPInstance{seed001VRRP(tt.file, "MASTER", 100, tt.vip)},
				Global: config.Global{RouterID: "LVS_DEVEL", Others: []string{"notification_email", "notification_email_from", "smtp_server"}},
				Warnings: []config.Warning{
					{File: tt.file, Line: 3, Msg: "global_defs notification_email is not used by ulvs (ignored)"},
					{File: tt.file, Line: 8, Msg: "global_defs notification_email_from is not used by ulvs (ignored)"},
					{File: tt.file, Line: 9, Msg: "global_defs smtp_server is not used by ulvs (ignored)"},
					{File: tt.file, Line: 40, Msg: "nb_get_retry is deprecated - please use 'retry'; keepalived 2.2.7 ignores it in TCP_CHECK (keeping retry 1), ulvs applies it"},
					{File: tt.file, Line: 49, Msg: "nb_get_retry is deprecated - please use 'retry'; keepalived 2.2.7 ignores it in TCP_CHECK (keeping retry 1), ulvs applies it"},
				},
			}
			if diff := cmp.Diff(want, f, cmpAddr); diff != "" {
				t.Errorf("Load(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// seed001VRRP is seed 001's vrrp_instance VI_1 with keepalived's
// defaults resolved.
func seed001VRRP(file, state string, prio uint8, vip netip.Addr) config.VRRPInstance {
	return config.VRRPInstance{
		Name: "VI_1", State: state, Interface: "eth0", VRID: 51, Priority: prio,
		AdvertInt: time.Second, Version: 2, AuthType: "PASS", AuthPass: "1111",
		VIPs:      []config.VRRPAddress{{Prefix: netip.PrefixFrom(vip, 32)}},
		GARPDelay: 5 * time.Second, GARPRepeat: 5, GARPRefreshRepeat: 1,
		File: file, Line: 15,
	}
}

// TestSeed001Backup: the backup director's keepalived.conf, seed 001's
// with the two changes its comments ask for (BACKUP, priority 99).
func TestSeed001Backup(t *testing.T) {
	data, err := os.ReadFile("testdata/seed001-lab.conf")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "state MASTER", "state BACKUP", 1)
	text = strings.Replace(text, "priority 100", "priority 99", 1)
	f, err := Parse("backup.conf", []byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []config.VRRPInstance{seed001VRRP("backup.conf", "BACKUP", 99, ip("10.77.0.100"))}
	if diff := cmp.Diff(want, f.VRRP, cmpAddr); diff != "" {
		t.Errorf("VRRP mismatch (-want +got):\n%s", diff)
	}
	if f.Sync != nil {
		t.Errorf("Sync = %+v, want nil", f.Sync)
	}
}

// TestOracle checks the reference run's files against the settings
// keepalived 2.2.7 itself dumped for them (README of the oracle).
func TestOracle(t *testing.T) {
	vip := ip("10.0.0.100")
	rs := []netip.Addr{ip("10.0.0.11"), ip("10.0.0.12")}
	tcp := func(a netip.Addr) config.Check {
		// TCP_CHECK: Timeout = 1, Retries = 2, Delay before retry =
		// 1000000 us, Delay loop = Warmup = 2000000 us.
		return tcpCheck(a, 80, time.Second, 2, time.Second, 2*time.Second)
	}
	http := func(a netip.Addr) config.Check {
		// HTTP_GET: Timeout = 1, Retries = 1, Delay before retry =
		// 3000000 us (defaults), http protocol 1.0, url /health, 200.
		return config.Check{
			Kind: config.CheckHTTP, ConnectIP: a, ConnectPort: 8081, ConnectTimeout: time.Second,
			Retry: 1, DelayBeforeRetry: 3 * time.Second, DelayLoop: 2 * time.Second, Warmup: 2 * time.Second,
			URLs:         []config.URL{{Path: "/health", StatusCodes: []config.StatusRange{{First: 200, Last: 200}}}},
			HTTPProtocol: "1.0",
		}
	}
	health := func(inhibit bool) []config.VirtualHealth {
		return []config.VirtualHealth{
			{Service: config.ServiceKey{Proto: vs.TCP, Addr: vip, Port: 80}, DelayLoop: 2 * time.Second, Quorum: 1, Reals: []config.RealHealth{
				{Addr: rs[0], Port: 80, Inhibit: inhibit, Checks: []config.Check{tcp(rs[0])}},
				{Addr: rs[1], Port: 80, Inhibit: inhibit, Checks: []config.Check{tcp(rs[1])}},
			}},
			{Service: config.ServiceKey{Proto: vs.TCP, Addr: vip, Port: 8081}, DelayLoop: 2 * time.Second, Quorum: 1, Reals: []config.RealHealth{
				{Addr: rs[0], Port: 8081, Inhibit: inhibit, Checks: []config.Check{http(rs[0])}},
				{Addr: rs[1], Port: 8081, Inhibit: inhibit, Checks: []config.Check{http(rs[1])}},
			}},
		}
	}
	script := func(s string) config.Script { return config.Script{Argv: strings.Fields(s), Text: s} }
	for _, tt := range []struct {
		variant string
		want    []config.VirtualHealth
	}{
		{"base", health(false)},
		{"inhibit", health(true)},
		{"sorry", func() []config.VirtualHealth {
			h := health(false)
			h[0].Sorry = &config.SorryServer{Addr: ip("10.0.0.13"), Port: 80, Method: vs.Masq}
			return h
		}()},
		{"quorum", func() []config.VirtualHealth {
			h := health(false)
			h[0].Quorum = 2
			h[0].QuorumUp = script("/usr/bin/touch /tmp/lab/quorum_up")
			h[0].QuorumDown = script("/usr/bin/touch /tmp/lab/quorum_down")
			return h
		}()},
	} {
		t.Run(tt.variant, func(t *testing.T) {
			file := "testdata/ka-" + tt.variant + ".conf"
			f, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, f.Health, cmpAddr); diff != "" {
				t.Errorf("Health mismatch (-want +got):\n%s", diff)
			}
			var wantRules config.Rules
			for _, port := range []uint16{80, 8081} {
				wantRules.Services = append(wantRules.Services, config.Service{
					Proto: vs.TCP, Addr: vip, Port: port, Scheduler: "rr",
					Dests: []config.Dest{
						{Addr: rs[0], Port: port, Method: vs.Masq, Weight: 1},
						{Addr: rs[1], Port: port, Method: vs.Masq, Weight: 1},
					},
				})
			}
			if diff := cmp.Diff(wantRules, f.Rules, cmpAddr); diff != "" {
				t.Errorf("Rules mismatch (-want +got):\n%s", diff)
			}
			wantGlobal := config.Global{RouterID: "kacheck", ScriptUser: "root", EnableScriptSecurity: true}
			if diff := cmp.Diff(wantGlobal, f.Global); diff != "" {
				t.Errorf("Global mismatch (-want +got):\n%s", diff)
			}
			if len(f.Warnings) != 0 {
				t.Errorf("warnings: %q, want none", warningTexts(f.Warnings))
			}
		})
	}
}

// TestUserFiles checks the hand-written files of testdata, one aspect per
// case.
func TestUserFiles(t *testing.T) {
	load := func(t *testing.T, name string) *config.File {
		t.Helper()
		f, err := Load("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tt := range []struct {
		name  string
		file  string
		check func(t *testing.T, f *config.File)
	}{
		{"global and timeouts", "web-http.conf", func(t *testing.T, f *config.File) {
			want := config.Global{RouterID: "web-lb1", ScriptUser: "nobody", EnableScriptSecurity: true}
			if diff := cmp.Diff(want, f.Global); diff != "" {
				t.Errorf("Global (-want +got):\n%s", diff)
			}
			if want := (config.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}); f.Timeouts != want {
				t.Errorf("Timeouts = %+v, want %+v", f.Timeouts, want)
			}
		}},
		{"NAT service with thresholds and a sorry server", "web-http.conf", func(t *testing.T, f *config.File) {
			want := config.Service{
				Proto: vs.TCP, Addr: ip("192.0.2.10"), Port: 80, Scheduler: "wlc",
				Dests: []config.Dest{
					{Addr: ip("198.51.100.1"), Port: 8080, Method: vs.Masq, Weight: 2, UThreshold: 1000, LThreshold: 800},
					{Addr: ip("198.51.100.2"), Port: 8080, Method: vs.Masq, Weight: 1},
				},
			}
			if diff := cmp.Diff(want, f.Rules.Services[0], cmpAddr); diff != "" {
				t.Errorf("service (-want +got):\n%s", diff)
			}
			h := f.Health[0]
			if want := (config.SorryServer{Addr: ip("198.51.100.99"), Port: 8080, Method: vs.Masq, Inhibit: true}); h.Sorry == nil || *h.Sorry != want {
				t.Errorf("Sorry = %+v, want %+v", h.Sorry, want)
			}
			if h.Quorum != 2 || h.Hysteresis != 1 || h.Virtualhost != "www.example.com" || h.DelayLoop != 5*time.Second {
				t.Errorf("quorum %d hysteresis %d virtualhost %q delay %v, want 2 1 www.example.com 5s", h.Quorum, h.Hysteresis, h.Virtualhost, h.DelayLoop)
			}
			if got := h.QuorumUp.Argv; !slices.Equal(got, []string{"/usr/local/bin/vs-up.sh", "192.0.2.10:80"}) {
				t.Errorf("QuorumUp = %q", got)
			}
			// inhibit_on_failure in the virtual server; "no" in rs2 wins.
			if !h.Reals[0].Inhibit || h.Reals[1].Inhibit {
				t.Errorf("Inhibit = %v, %v, want true, false", h.Reals[0].Inhibit, h.Reals[1].Inhibit)
			}
			if got := h.Reals[0].NotifyDown.Argv; !slices.Equal(got, []string{"/usr/local/bin/rs.sh", "down", "198.51.100.1"}) {
				t.Errorf("NotifyDown = %q", got)
			}
		}},
		{"HTTP_GET urls and inheritance", "web-http.conf", func(t *testing.T, f *config.File) {
			c := f.Health[0].Reals[0].Checks[0]
			want := config.Check{
				Kind: config.CheckHTTP, ConnectIP: ip("198.51.100.1"), ConnectPort: 8080,
				ConnectTimeout: 2 * time.Second, Retry: 2, DelayBeforeRetry: 1500 * time.Millisecond,
				DelayLoop: 5 * time.Second, Warmup: 5 * time.Second,
				URLs: []config.URL{
					{Path: "/healthz", StatusCodes: []config.StatusRange{{First: 200, Last: 299}, {First: 301, Last: 302}}},
					{Path: "/index.html", Digest: "9b3a0c85a887a256d6939da88aabd8cd", StatusCodes: []config.StatusRange{{First: 200, Last: 299}}, Virtualhost: "static.example.com"},
				},
				Virtualhost:  "www.example.com", // the virtual server's
				HTTPProtocol: "1.1",
			}
			if diff := cmp.Diff(want, c, cmpAddr); diff != "" {
				t.Errorf("check (-want +got):\n%s", diff)
			}
			c2 := f.Health[0].Reals[1].Checks[0]
			if c2.Virtualhost != "rs2.example.com" || c2.ConnectPort != 8081 || c2.Retry != 1 || c2.DelayBeforeRetry != 3*time.Second {
				t.Errorf("rs2 check: virtualhost %q port %d retry %d dbr %v, want rs2.example.com 8081 1 3s", c2.Virtualhost, c2.ConnectPort, c2.Retry, c2.DelayBeforeRetry)
			}
		}},
		{"DR service, sh flags, persistence granularity, SSL_GET", "web-http.conf", func(t *testing.T, f *config.File) {
			s := f.Rules.Services[1]
			if s.Scheduler != "sh" || !slices.Equal(s.SchedFlags, []string{"sh-port"}) || !s.Persistent || s.Timeout != 360 || s.Netmask != ip("255.255.255.0") {
				t.Errorf("service %+v", s)
			}
			// rs2 has no port: DR takes the service's; weight 5.
			if d := s.Dests[1]; d.Port != 443 || d.Method != vs.Route || d.Weight != 5 {
				t.Errorf("dest %+v, want port 443 Route weight 5", d)
			}
			c := f.Health[1].Reals[0].Checks[0]
			if c.Kind != config.CheckSSL || !c.EnableSNI || c.Virtualhost != "secure.example.com" || c.Warmup != 0 ||
				c.ConnectTimeout != 3*time.Second || c.Retry != 4 || c.DelayLoop != 10*time.Second {
				t.Errorf("SSL check %+v", c)
			}
			if c := f.Health[1].Reals[1].Checks[0]; c.DelayLoop != 20*time.Second || c.Warmup != 20*time.Second {
				t.Errorf("rs delay_loop: check %v warmup %v, want 20s 20s", c.DelayLoop, c.Warmup)
			}
		}},
		{"DNS, UDP, PING defaults", "checks.conf", func(t *testing.T, f *config.File) {
			r := f.Health[0].Reals
			dns := r[0].Checks[0]
			if dns.DNSType != "A" || dns.DNSName != "example.org" || dns.Retry != 3 || dns.DelayBeforeRetry != 3*time.Second || dns.ConnectTimeout != time.Second {
				t.Errorf("DNS_CHECK %+v", dns)
			}
			if d := r[1].Checks[0]; d.DNSType != "SOA" || d.DNSName != "." {
				t.Errorf("DNS defaults: %q %q, want SOA .", d.DNSType, d.DNSName)
			}
			udp := r[2].Checks[0]
			if !slices.Equal(udp.Payload, []byte{0, 1, 2, 3, 0xa}) || !udp.RequireReply || udp.MinReplyLength != 4 || udp.MaxReplyLength != 255 {
				t.Errorf("UDP_CHECK %+v", udp)
			}
			ping := r[3].Checks[0]
			if ping.Kind != config.CheckPing || ping.Retry != 5 || ping.BindTo != ip("10.1.0.254") || ping.ConnectIP != ip("10.1.0.4") || ping.ConnectPort != 0 {
				t.Errorf("PING_CHECK %+v", ping)
			}
			if s := f.Rules.Services[0]; s.Proto != vs.UDP || !s.OnePacket {
				t.Errorf("service %+v, want UDP with ops", s)
			}
		}},
		{"SMTP host blocks, MISC_CHECK, TUN", "checks.conf", func(t *testing.T, f *config.File) {
			r := f.Health[1].Reals
			if c := r[0].Checks[0]; c.HeloName != "mail.example.org" || c.ConnectTimeout != 7*time.Second {
				t.Errorf("SMTP_CHECK %+v", c)
			}
			hosts := r[1].Checks
			if len(hosts) != 2 {
				t.Fatalf("host blocks: %d checks, want 2", len(hosts))
			}
			// A host block without connect_timeout inherits (keepalived
			// 2.2.7 leaves it 0: doc.go).
			if c := hosts[0]; c.ConnectIP != ip("10.1.0.11") || c.ConnectPort != 25 || c.Retry != 2 || c.HeloName != "smtpchecker.keepalived.org" || c.ConnectTimeout != 5*time.Second {
				t.Errorf("host 1 %+v", c)
			}
			if c := hosts[1]; c.ConnectIP != ip("10.1.1.11") || c.ConnectPort != 587 || c.ConnectTimeout != 9*time.Second || c.BindTo != ip("10.1.1.254") || c.Retry != 2 {
				t.Errorf("host 2 %+v", c)
			}
			misc := r[2].Checks[0]
			wantMisc := config.Check{
				Kind: config.CheckMisc, Retry: 0, DelayBeforeRetry: time.Second, DelayLoop: time.Minute, Warmup: time.Minute,
				MiscPath:    []string{"/usr/lib/check-smtp.sh", "--host", "10.1.0.12", "two words", "A"},
				MiscTimeout: 4 * time.Second, MiscDynamic: true, User: "checker",
			}
			if diff := cmp.Diff(wantMisc, misc, cmpAddr); diff != "" {
				t.Errorf("MISC_CHECK (-want +got):\n%s", diff)
			}
			tcp := r[2].Checks[1]
			if tcp.ConnectIP != ip("10.1.0.112") || tcp.ConnectPort != 25 || tcp.BindPort != 4000 || tcp.BindIf != "eth1" || tcp.FwMark != 7 {
				t.Errorf("TCP_CHECK %+v", tcp)
			}
			for _, d := range f.Rules.Services[1].Dests {
				if d.Method != vs.Tunnel {
					t.Errorf("dest %v method %v, want Tunnel", d.Addr, d.Method)
				}
			}
		}},
		{"group expands to services", "group.conf", func(t *testing.T, f *config.File) {
			var got []string
			for _, s := range f.Rules.Services {
				got = append(got, serviceName(s.Key()))
			}
			want := []string{"TCP 192.0.2.1:80", "TCP 192.0.2.20:80", "TCP 192.0.2.21:80", "TCP 192.0.2.22:80",
				"TCP 192.0.2.32:8080", "TCP 192.0.2.33:8080", "fwmark 5", "fwmark 9"}
			if !slices.Equal(got, want) {
				t.Errorf("services %q, want %q", got, want)
			}
			// DR: dests take the service's port, none for a fwmark.
			if p := f.Rules.Services[4].Dests[1].Port; p != 8080 {
				t.Errorf("dest port in 192.0.2.32:8080 = %d, want 8080", p)
			}
			if p := f.Rules.Services[6].Dests[0].Port; p != 0 {
				t.Errorf("dest port in fwmark 5 = %d, want 0", p)
			}
			if len(f.Health) != len(want) {
				t.Errorf("%d health entries, want %d", len(f.Health), len(want))
			}
			if c := f.Health[7].Reals[0].Checks[0]; c.ConnectPort != 21 {
				t.Errorf("fwmark 9 check port %d, want 21", c.ConnectPort)
			}
		}},
		{"includes from the file system", "include/keepalived.conf", func(t *testing.T, f *config.File) {
			if len(f.Rules.Services) != 2 || f.Rules.Services[0].Port != 80 || f.Rules.Services[1].Port != 53 {
				t.Fatalf("services %+v, want :80 from 10-web.conf then :53", f.Rules.Services)
			}
			if len(f.Health) != 1 || len(f.Health[0].Reals[0].Checks) != 1 {
				t.Errorf("health %+v, want the TCP_CHECK of reals.inc", f.Health)
			}
			if !slices.Equal(f.Interfaces, []string{"eth1"}) {
				t.Errorf("Interfaces %q, want eth1 from extra.inc", f.Interfaces)
			}
			want := []string{
				"testdata/include/keepalived.conf:5: include conf.d/{extra,missing}.inc: no file matches testdata/include/conf.d/missing.inc",
			}
			if got := warningTexts(f.Warnings); !slices.Equal(got, want) {
				t.Errorf("warnings %q, want %q", got, want)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, load(t, tt.file)) })
	}
}

// TestGrammar checks keepalived's lexical rules on small files.
func TestGrammar(t *testing.T) {
	const rs = "real_server 10.0.0.1 80 { weight 1 }"
	for _, tt := range []struct {
		name string
		conf string
		want config.Service
	}{
		{
			name: "one line blocks",
			conf: "virtual_server 1.2.3.4 80 { lb_algo rr\nlb_kind DR\nprotocol TCP\n" + rs + " }",
			want: config.Service{Proto: vs.TCP, Addr: ip("1.2.3.4"), Port: 80, Scheduler: "rr",
				Dests: []config.Dest{{Addr: ip("10.0.0.1"), Port: 80, Method: vs.Route, Weight: 1}}},
		},
		{
			name: "brace on the next line, comments after values, tabs, CRLF",
			conf: "virtual_server 1.2.3.4 80\r\n{\r\n\tlb_algo rr # round robin\r\n\tlb_kind DR!direct\r\n\tprotocol TCP#tcp\r\n\treal_server 10.0.0.1 80\r\n\t{\r\n\t\tweight 2 ! two\r\n\t}\r\n}\r\n",
			want: config.Service{Proto: vs.TCP, Addr: ip("1.2.3.4"), Port: 80, Scheduler: "rr",
				Dests: []config.Dest{{Addr: ip("10.0.0.1"), Port: 80, Method: vs.Route, Weight: 2}}},
		},
		{
			name: "quoted words keep spaces, # and braces",
			conf: "virtual_server 1.2.3.4 80 {\nlb_algo \"rr\"\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.1 80 {\nHTTP_GET { url { path \"/a b#{}\" } }\n}\n}",
			want: config.Service{Proto: vs.TCP, Addr: ip("1.2.3.4"), Port: 80, Scheduler: "rr",
				Dests: []config.Dest{{Addr: ip("10.0.0.1"), Port: 80, Method: vs.Route, Weight: 1}}},
		},
		{
			name: "port omitted: persistent, as keepalived makes it",
			conf: "virtual_server 1.2.3.4 {\nlb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.1 { weight 1 }\n}",
			want: config.Service{Proto: vs.TCP, Addr: ip("1.2.3.4"), Scheduler: "rr", Persistent: true, Timeout: 360,
				Dests: []config.Dest{{Addr: ip("10.0.0.1"), Method: vs.Route, Weight: 1}}},
		},
		{
			name: "defaults: wlc, NAT, UDP, weight from the virtual server",
			conf: "virtual_server 1.2.3.4 53 {\nweight 4\nreal_server 10.0.0.1 { }\nreal_server 10.0.0.2 5353 { }\n}",
			want: config.Service{Proto: vs.UDP, Addr: ip("1.2.3.4"), Port: 53, Scheduler: "wlc",
				Dests: []config.Dest{{Addr: ip("10.0.0.1"), Port: 53, Method: vs.Masq, Weight: 4}, {Addr: ip("10.0.0.2"), Port: 5353, Method: vs.Masq, Weight: 4}}},
		},
		{
			name: "escaped comment characters and lvs_sched/lvs_method names",
			conf: "virtual_server 1.2.3.4 80 {\nlvs_sched wrr\nlvs_method TUN\nprotocol tcp\n" + rs + "\n}",
			want: config.Service{Proto: vs.TCP, Addr: ip("1.2.3.4"), Port: 80, Scheduler: "wrr",
				Dests: []config.Dest{{Addr: ip("10.0.0.1"), Port: 80, Method: vs.Tunnel, Weight: 1}}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.conf)
			if len(f.Rules.Services) != 1 {
				t.Fatalf("%d services, want 1", len(f.Rules.Services))
			}
			if diff := cmp.Diff(tt.want, f.Rules.Services[0], cmpAddr); diff != "" {
				t.Errorf("service (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScripts checks how script lines are split: quotes and escapes, as
// keepalived's notify_script_init and misc_path.
func TestScripts(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
	}{
		{`notify_up /bin/true`, []string{"/bin/true"}},
		{`notify_up "/bin/echo a b"`, []string{"/bin/echo", "a", "b"}},
		{`notify_up "/bin/echo 'a b' \"c d\""`, []string{"/bin/echo", "a b", "c d"}},
		{`notify_up '/bin/echo x\ty'`, []string{"/bin/echo", "x", "y"}}, // the tab splits again
		{`notify_up "/bin/echo 'x\\ty'"`, []string{"/bin/echo", "x\ty"}},
		{`notify_up "/bin/echo \# \x41\101"`, []string{"/bin/echo", "#", "AA"}},
	} {
		t.Run(tt.line, func(t *testing.T) {
			conf := "virtual_server 1.2.3.4 80 {\nprotocol TCP\nreal_server 10.0.0.1 80 {\n" + tt.line + "\n}\n}"
			f := mustParse(t, conf)
			got := f.Health[0].Reals[0].NotifyUp.Argv
			if !slices.Equal(got, tt.want) {
				t.Errorf("Argv = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestIncludes covers include lines read through Options.
func TestIncludes(t *testing.T) {
	vsConf := func(port int) string {
		return fmt.Sprintf("virtual_server 1.2.3.4 %d {\nlb_algo rr\nlb_kind NAT\nprotocol TCP\nreal_server 10.0.0.1 %d { }\n}\n", port, port)
	}
	for _, tt := range []struct {
		name      string
		files     map[string]string
		wantPorts []uint16
		wantWarn  []string
		wantErr   string
	}{
		{
			name: "glob, sorted, relative to the including file",
			files: map[string]string{
				"/etc/k/k.conf":        "include conf.d/*.conf\ninclude /abs/x.conf",
				"/etc/k/conf.d/b.conf": vsConf(2),
				"/etc/k/conf.d/a.conf": vsConf(1) + "include ../sub/c.inc",
				"/etc/k/sub/c.inc":     vsConf(3),
				"/abs/x.conf":          vsConf(4),
			},
			wantPorts: []uint16{1, 3, 2, 4},
		},
		{
			name: "include inside a block",
			files: map[string]string{
				"/etc/k/k.conf": "virtual_server 1.2.3.4 80 {\nlb_algo rr\nlb_kind NAT\nprotocol TCP\ninclude rs.inc\n}",
				"/etc/k/rs.inc": "real_server 10.0.0.1 80 {\n}",
			},
			wantPorts: []uint16{80},
		},
		{
			name: "includer and brace alternatives",
			files: map[string]string{
				"/etc/k/k.conf": "includer {a,b}.conf",
				"/etc/k/a.conf": vsConf(1),
				"/etc/k/b.conf": vsConf(2),
			},
			wantPorts: []uint16{1, 2},
		},
		{
			name:      "glob matching nothing is a warning",
			files:     map[string]string{"/etc/k/k.conf": "include none/*.conf\n" + vsConf(1)},
			wantPorts: []uint16{1},
			wantWarn:  []string{"/etc/k/k.conf:1: include none/*.conf: no file matches /etc/k/none/*.conf"},
		},
		{
			name:    "missing plain file is an error",
			files:   map[string]string{"/etc/k/k.conf": "\ninclude other.conf"},
			wantErr: "/etc/k/k.conf:2: include other.conf: open /etc/k/other.conf: file does not exist",
		},
		{
			name: "include loop",
			files: map[string]string{
				"/etc/k/k.conf": "include a.conf",
				"/etc/k/a.conf": "include k.conf",
			},
			wantErr: "/etc/k/a.conf:1: include k.conf: /etc/k/k.conf includes itself",
		},
		{
			name: "block opened in one file and closed in another",
			files: map[string]string{
				"/etc/k/k.conf":   "virtual_server 1.2.3.4 80 {\nlb_algo rr\nlb_kind NAT\nprotocol TCP\ninclude tail.inc",
				"/etc/k/tail.inc": "real_server 10.0.0.1 80 { }\n}",
			},
			wantPorts: []uint16{80},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("/etc/k/k.conf", []byte(tt.files["/etc/k/k.conf"]), mapFS(tt.files))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ports []uint16
			for _, s := range f.Rules.Services {
				ports = append(ports, s.Port)
			}
			if !slices.Equal(ports, tt.wantPorts) {
				t.Errorf("ports %v, want %v", ports, tt.wantPorts)
			}
			if got := warningTexts(f.Warnings); !slices.Equal(got, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", got, tt.wantWarn)
			}
		})
	}
}

// TestIncludeDepth refuses includes nested without end.
func TestIncludeDepth(t *testing.T) {
	files := map[string]string{}
	for i := range maxIncludeDepth + 2 {
		files[fmt.Sprintf("/k/%d.conf", i)] = fmt.Sprintf("include %d.conf", i+1)
	}
	_, err := Parse("/k/0.conf", []byte(files["/k/0.conf"]), mapFS(files))
	if err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Fatalf("err = %v, want nesting refused", err)
	}
}

// TestLoadMissing reports a missing file as the OS error.
func TestLoadMissing(t *testing.T) {
	_, err := Load("testdata/no-such.conf")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}
