package keepalived

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

var kaCmp = []cmp.Option{cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmpopts.EquateEmpty()}

// kaSamples are every keepalived.conf of the repository that parses: the
// tests' own, seed 001's (as printed and on the lab's addresses), the
// include example.
func kaSamples(t testing.TB) map[string][]byte {
	files, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	files = append(files, "testdata/include/keepalived.conf")
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data, Options{}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = data
	}
	return out
}

// TestRewriteRoundTrip: parse(write(parse(f))) == parse(f) for every
// sample, the unchanged file written back byte for byte.
func TestRewriteRoundTrip(t *testing.T) {
	for name, data := range kaSamples(t) {
		t.Run(name, func(t *testing.T) {
			f, err := Parse(name, data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := Rewrite(name, data, f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(data) {
				t.Errorf("an unchanged file is rewritten:\n%s", out)
			}
			back, err := Parse(name, out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f, back, kaCmp...); diff != "" {
				t.Errorf("(-parse +parse(write(parse))):\n%s", diff)
			}
		})
	}
}

// TestRewriteFromScratch writes each sample's rules into a file that
// holds only a comment, in keepalived's syntax: they must read back the
// same (the checkers are not written: a new real_server has none).
func TestRewriteFromScratch(t *testing.T) {
	for name, data := range kaSamples(t) {
		t.Run(name, func(t *testing.T) {
			f, err := Parse(name, data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			// not written from scratch: failover, and what comes with it
			f.VRRP, f.VRRPSyncGroups, f.Interfaces, f.Timeouts = nil, nil, nil, config.Timeouts{}
			out, err := Rewrite("new.conf", []byte("! written by the test\n"), f, Options{})
			var flags bool
			for _, s := range f.Rules.Services {
				flags = flags || len(s.SchedFlags) > 0 || s.SynProxy
			}
			if flags {
				if !errors.Is(err, ErrNotExpressible) {
					t.Fatalf("Rewrite = %v, want a refusal of the flags", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse("new.conf", out, Options{})
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if diff := cmp.Diff(f.Rules, back.Rules, kaCmp...); diff != "" {
				t.Errorf("(-sample +written):\n%s\n%s", diff, out)
			}
		})
	}
}

func kaBase(t *testing.T) (string, *config.File) {
	data, err := os.ReadFile("testdata/ka-base.conf")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("ka-base.conf", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return string(data), f
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// checkWritten checks that out holds each of has and none of hasNot.
func checkWritten(t *testing.T, out []byte, has, hasNot []string) {
	t.Helper()
	for _, s := range has {
		if !strings.Contains(string(out), s) {
			t.Errorf("written file lacks %q:\n%s", s, out)
		}
	}
	for _, s := range hasNot {
		if strings.Contains(string(out), s) {
			t.Errorf("written file still has %q:\n%s", s, out)
		}
	}
}

// TestRewriteKeepalivedEdits makes the console's rule edits on ka-base.conf:
// each reads back as asked, the checkers of the servers kept stay, and
// the other lines stay as they were.
func TestRewriteKeepalivedEdits(t *testing.T) {
	for _, tt := range []struct {
		name        string
		edit        func(f *config.File)
		has, hasNot []string
	}{
		{"weight", func(f *config.File) { f.Rules.Services[0].Dests[1].Weight = 5 }, []string{"    real_server 10.0.0.12 80 {\n        weight 5\n"}, nil},
		{"scheduler and persistence", func(f *config.File) {
			s := &f.Rules.Services[0]
			s.Scheduler, s.Persistent, s.Timeout, s.Netmask = "wrr", true, 60, addr("255.255.255.0")
		}, []string{"    lb_algo wrr\n", "    \n    persistence_timeout 60\n    persistence_granularity 255.255.255.0\n    real_server 10.0.0.11 80 {"}, nil},
		{"add a real server", func(f *config.File) {
			f.Rules.Services[0].Dests = append(f.Rules.Services[0].Dests, config.Dest{Addr: addr("10.0.0.13"), Port: 80, Method: vs.Masq, Weight: 2})
		}, []string{"    real_server 10.0.0.13 80 {\n        weight 2\n    }\n}"}, nil},
		{"delete a real server", func(f *config.File) {
			f.Rules.Services[0].Dests = f.Rules.Services[0].Dests[1:]
		}, []string{"real_server 10.0.0.12 80 {"}, []string{"real_server 10.0.0.11 80 {"}},
		{"thresholds", func(f *config.File) {
			f.Rules.Services[0].Dests[0].UThreshold, f.Rules.Services[0].Dests[0].LThreshold = 100, 10
		},
			[]string{"uthreshold 100\n", "lthreshold 10\n"}, nil},
		{"add a virtual server", func(f *config.File) {
			f.Rules.Services = append(f.Rules.Services, config.Service{Proto: vs.UDP, Addr: addr("10.0.0.101"), Port: 53, Scheduler: "rr",
				Dests: []config.Dest{{Addr: addr("10.0.0.21"), Port: 53, Method: vs.Route, Weight: 1}}})
		}, []string{"\nvirtual_server 10.0.0.101 53 {\n    lb_algo rr\n    lb_kind DR\n    protocol UDP\n    real_server 10.0.0.21 53 {\n        weight 1\n    }\n}\n"}, nil},
		{"delete the virtual server", func(f *config.File) { f.Rules.Services = nil }, []string{"global_defs {"}, []string{"virtual_server"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text, f := kaBase(t)
			old := f.Health
			tt.edit(f)
			out, err := Rewrite("ka-base.conf", []byte(text), f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkWritten(t, out, tt.has, tt.hasNot)
			if !strings.HasPrefix(string(out), "global_defs {\n    router_id kacheck\n") {
				t.Errorf("global_defs changed:\n%s", out)
			}
			back, err := Parse("ka-base.conf", out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f.Rules, back.Rules, kaCmp...); diff != "" {
				t.Errorf("rules (-want +written):\n%s", diff)
			}
			for _, vh := range back.Health {
				for _, r := range vh.Reals {
					for _, o := range old {
						for _, or := range o.Reals {
							if or.Addr == r.Addr && or.Port == r.Port && o.Service == vh.Service && !cmp.Equal(or, r, kaCmp...) {
								t.Errorf("checks of %v changed", r.Addr)
							}
						}
					}
				}
			}
		})
	}
}

// TestRewriteKeepalivedRefusals: what the console cannot write into a
// keepalived.conf is refused, naming it.
func TestRewriteKeepalivedRefusals(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		edit       func(f *config.File)
	}{
		{"method", "lb_kind", func(f *config.File) { f.Rules.Services[0].Dests[0].Method = vs.Route }},
		{"new server's method", "lb_kind", func(f *config.File) {
			f.Rules.Services[0].Dests = append(f.Rules.Services[0].Dests, config.Dest{Addr: addr("10.0.0.13"), Port: 80, Method: vs.Tunnel, Weight: 1})
		}},
		{"no real server", "ignores a virtual_server without one", func(f *config.File) {
			f.Rules.Services = append(f.Rules.Services, config.Service{Proto: vs.TCP, Addr: addr("10.0.0.102"), Port: 80})
		}},
		{"one-packet", "only the scheduler, persistence and real servers", func(f *config.File) { f.Rules.Services[0].OnePacket = true }},
		{"fullnat", "not NAT, DR or TUN", func(f *config.File) {
			f.Rules.Services = append(f.Rules.Services, config.Service{Proto: vs.TCP, Addr: addr("10.0.0.102"), Port: 80,
				Dests: []config.Dest{{Addr: addr("10.0.0.21"), Port: 80, Method: vs.FullNAT, Weight: 1}}})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text, f := kaBase(t)
			tt.edit(f)
			_, err := Rewrite("ka-base.conf", []byte(text), f, Options{})
			if !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Rewrite = %v, want ErrNotExpressible naming %q", err, tt.want)
			}
		})
	}
	// A virtual_server in an included file, and one sharing its line.
	inc := "testdata/include/keepalived.conf"
	data, err := os.ReadFile(inc)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(inc, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Rules.Services[0].Dests[0].Weight++
	if _, err := Rewrite(inc, data, f, Options{}); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "included file") {
		t.Errorf("an edit inside an included file: %v", err)
	}
	one := "virtual_server 10.0.0.1 80 { lb_kind DR\n real_server 10.0.0.2 80 { weight 1 }\n}\n"
	f, err = Parse("one.conf", []byte(one), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Rules.Services[0].Dests[0].Weight = 3
	if _, err := Rewrite("one.conf", []byte(one), f, Options{}); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "shares its line") {
		t.Errorf("an edit of a real_server written on one line: %v", err)
	}
}

// FuzzRewriteKeepalived: for any keepalived.conf Parse takes, writing its
// own rules back gives the same text, and a weight set on every real
// server reads back as written or is refused with ErrNotExpressible;
// never a panic, never a file that reads differently.
func FuzzRewriteKeepalived(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.conf")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data), uint16(4))
	}
	f.Add("virtual_server 10.0.0.1 80 {\n lb_kind DR # c\n real_server 10.0.0.2 80 {\n weight 1 }\n}", uint16(0))
	opts := mapFS(map[string]string{"a.conf": "virtual_server 1.1.1.1 1 {\nreal_server 2.2.2.2 1 {\n}\n}\n"})
	f.Fuzz(func(t *testing.T, text string, weight uint16) {
		file, err := Parse("f.conf", []byte(text), opts)
		if err != nil {
			return
		}
		out, err := Rewrite("f.conf", []byte(text), file, opts)
		if err != nil || string(out) != text {
			t.Fatalf("unchanged rules: %v\n%q\n%q", err, text, out)
		}
		for i := range file.Rules.Services {
			for j := range file.Rules.Services[i].Dests {
				file.Rules.Services[i].Dests[j].Weight = int32(weight)
			}
		}
		out, err = Rewrite("f.conf", []byte(text), file, opts)
		if err != nil {
			if !errors.Is(err, ErrNotExpressible) {
				t.Fatalf("refusal without ErrNotExpressible: %v", err)
			}
			return
		}
		back, err := Parse("f.conf", out, opts)
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, out)
		}
		if diff := cmp.Diff(file.Rules, back.Rules, kaCmp...); diff != "" {
			t.Fatalf("rules (-want +written):\n%s", diff)
		}
		// The Monitoring scripts page's checker edits: every checker's
		// retry and connect_timeout, and a url's path.
		file, err = Parse("f.conf", out, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range file.Health {
			for j := range file.Health[i].Reals {
				for k := range file.Health[i].Reals[j].Checks {
					c := &file.Health[i].Reals[j].Checks[k]
					c.Retry, c.ConnectTimeout = int(weight%7), time.Duration(weight%5000+1)*time.Millisecond
					if len(c.URLs) > 0 {
						c.URLs[0].Path = "/w" + strconv.Itoa(int(weight))
					}
				}
			}
		}
		checked, err := Rewrite("f.conf", out, file, opts)
		if err != nil {
			if !errors.Is(err, ErrNotExpressible) {
				t.Fatalf("refusal without ErrNotExpressible: %v", err)
			}
			return
		}
		back, err = Parse("f.conf", checked, opts)
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, checked)
		}
		if diff := cmp.Diff(file.Health, back.Health, kaCmp...); diff != "" {
			t.Fatalf("health (-want +written):\n%s", diff)
		}
	})
}

// TestRewriteVRRP: the Redundancy page's edit of a vrrp_instance (priority
// and advert_int) is written into its block; any other change of an
// instance is refused.
func TestRewriteVRRP(t *testing.T) {
	data, err := os.ReadFile("testdata/seed001.conf")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("seed001.conf", data, Options{})
	if err != nil || len(f.VRRP) == 0 {
		t.Fatal(err, f.VRRP)
	}
	f.VRRP[0].Priority, f.VRRP[0].AdvertInt = 90, 2*time.Second
	out, err := Rewrite("seed001.conf", data, f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "    priority 90 # 备份服务上将100改为99\n") || !strings.Contains(string(out), "    advert_int 2\n") {
		t.Errorf("written:\n%s", out)
	}
	back, err := Parse("seed001.conf", out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.VRRP[0].WithoutPosition(), back.VRRP[0].WithoutPosition(), kaCmp...); diff != "" {
		t.Errorf("(-want +written):\n%s", diff)
	}
	f.VRRP[0].AdvertInt = 2500 * time.Millisecond // VRRPv2: whole seconds
	if _, err := Rewrite("seed001.conf", data, f, Options{}); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "whole seconds") {
		t.Errorf("advert_int 2.5 in VRRPv2: %v", err)
	}
	f.VRRP[0].VRID++
	if _, err := Rewrite("seed001.conf", data, f, Options{}); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "only its priority and advert_int") {
		t.Errorf("a changed virtual_router_id: %v", err)
	}
}

// TestRewriteKeepalivedChecks: the Monitoring scripts page's checker
// settings are written into the checker's block (only those lines), read
// back as asked; any other change of a checker is refused, naming it.
func TestRewriteKeepalivedChecks(t *testing.T) {
	text, f := kaBase(t)
	c := &f.Health[0].Reals[0].Checks[0] // TCP_CHECK of 10.0.0.11:80
	c.Retry, c.ConnectTimeout, c.ConnectPort, c.DelayLoop, c.Warmup = 9, 1500*time.Millisecond, 81, 5*time.Second, 5*time.Second
	c.DelayBeforeRetry = 2 * time.Second
	h := &f.Health[1].Reals[1].Checks[0] // HTTP_GET of 10.0.0.12:8081
	h.URLs[0].Path, h.URLs[0].Digest = "/other", "0123456789abcdef0123456789abcdef"
	h.URLs[0].StatusCodes = []config.StatusRange{{First: 200, Last: 204}, {First: 301, Last: 301}}
	out, err := Rewrite("ka-base.conf", []byte(text), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(text, `        TCP_CHECK {
            connect_timeout 1
            retry 2
            delay_before_retry 1
            connect_port 80
        }`, `        TCP_CHECK {
            connect_timeout 1.5
            retry 9
            delay_before_retry 2
            connect_port 81
            delay_loop 5
        }`, 1)
	i := strings.LastIndex(want, "path /health\n                status_code 200")
	i = strings.LastIndex(want, "                path /health\n")
	want = want[:i] + "                path /other\n                status_code 200-204 301\n                digest 0123456789abcdef0123456789abcdef\n" +
		strings.TrimPrefix(want[i:], "                path /health\n                status_code 200\n")
	if string(out) != want {
		t.Errorf("written:\n%s\nwant:\n%s", out, want)
	}
	back, err := Parse("ka-base.conf", out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.Health, back.Health, kaCmp...); diff != "" {
		t.Errorf("(-want +written):\n%s", diff)
	}
	// Cleared: the url's status_code and digest lines go.
	text2 := string(out)
	h = &back.Health[1].Reals[1].Checks[0]
	h.URLs[0].Digest, h.URLs[0].StatusCodes = "", []config.StatusRange{{First: 200, Last: 299}}
	out, err = Rewrite("ka-base.conf", out, back, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "digest") || strings.Contains(string(out), "200-204") || len(out) >= len(text2) {
		t.Errorf("cleared digest and status_code:\n%s", out)
	}

	for _, tc := range []struct {
		name, msg string
		edit      func(f *config.File)
	}{
		{"kind", "only connect_timeout", func(f *config.File) { f.Health[0].Reals[0].Checks[0].BindIf = "eth9" }},
		{"added", "adds and removes no checker", func(f *config.File) {
			r := &f.Health[0].Reals[0]
			r.Checks = append(r.Checks, r.Checks[0])
		}},
		{"inhibit", "not inhibit_on_failure", func(f *config.File) { f.Health[0].Reals[0].Inhibit = true }},
		{"virtual", "not the virtual_server's health settings", func(f *config.File) { f.Health[0].Quorum = 7 }},
		{"path", "path", func(f *config.File) { f.Health[1].Reals[0].Checks[0].URLs[0].Path = "/a b" }},
		{"warmup", "would not read back", func(f *config.File) { f.Health[0].Reals[0].Checks[0].Warmup = 3 * time.Second }},
	} {
		_, f := kaBase(t)
		tc.edit(f)
		if _, err := Rewrite("ka-base.conf", []byte(text), f, Options{}); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestRewriteKeepalivedMisc: misc_path (quoted as keepalived splits it)
// and misc_timeout written into a MISC_CHECK block.
func TestRewriteKeepalivedMisc(t *testing.T) {
	data, err := os.ReadFile("testdata/checks.conf")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("checks.conf", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var c *config.Check
	for i := range f.Health {
		for j := range f.Health[i].Reals {
			for k := range f.Health[i].Reals[j].Checks {
				if f.Health[i].Reals[j].Checks[k].Kind == config.CheckMisc && c == nil {
					c = &f.Health[i].Reals[j].Checks[k]
				}
			}
		}
	}
	c.MiscPath = []string{"/usr/local/bin/check", `a "quoted" word`, `back\slash`, "x"}
	c.MiscTimeout = 7 * time.Second
	out, err := Rewrite("checks.conf", data, f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `            misc_path "/usr/local/bin/check \"a \\\"quoted\\\" word\" \"back\\\\slash\" x"`+"\n            misc_timeout 7\n") {
		t.Errorf("written:\n%s", out)
	}
	back, err := Parse("checks.conf", out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.Health, back.Health, kaCmp...); diff != "" {
		t.Errorf("(-want +written):\n%s", diff)
	}
	c.MiscTimeout = 1500 * time.Millisecond
	if _, err := Rewrite("checks.conf", data, f, Options{}); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "whole seconds") {
		t.Errorf("misc_timeout 1.5: %v", err)
	}
}

// TestRewriteFwMarkFamily: the console writes the family of a fwmark
// service (ip_family) where keepalived would otherwise settle another one
// from the real servers (check_parser.c: the first not tunnelled, else
// the tunnelled ones' common family, else inet): always in a new block,
// and in an edited block when the edit would change the family read back.
func TestRewriteFwMarkFamily(t *testing.T) {
	tun6 := config.Dest{Addr: addr("2001:db8::1"), Method: vs.Tunnel, Weight: 1}
	for _, tt := range []struct {
		name, conf  string
		edit        func(f *config.File)
		has, hasNot []string
	}{
		{"new IPv4 mark, IPv6 tunnel", "! new\n", func(f *config.File) {
			f.Rules.Services = append(f.Rules.Services, config.Service{Proto: vs.TCP, FwMark: 5, Scheduler: "rr", Dests: []config.Dest{tun6}})
		}, []string{"virtual_server fwmark 5 {\n    lb_algo rr\n    lb_kind TUN\n    protocol TCP\n    ip_family inet\n"}, nil},
		{"new IPv6 mark", "! new\n", func(f *config.File) {
			f.Rules.Services = append(f.Rules.Services, config.Service{Proto: vs.TCP, FwMark: 5, Addr: config.FwMark6Addr, Scheduler: "rr", Dests: []config.Dest{tun6}})
		}, []string{"    ip_family inet6\n"}, nil},
		{"delete the DR real server", "virtual_server fwmark 5 {\n    lb_algo rr\n    lb_kind DR\n    real_server 10.0.0.1 80 {\n    }\n    real_server 2001:db8::1 80 {\n        lvs_method TUN\n    }\n}\n", func(f *config.File) {
			f.Rules.Services[0].Dests = f.Rules.Services[0].Dests[1:]
		}, []string{"    lb_kind DR\n    ip_family inet\n    real_server 2001:db8::1 80 {"}, []string{"10.0.0.1"}},
		{"add a tunnel of the other family", "virtual_server fwmark 5 {\n    lb_algo rr\n    lb_kind TUN\n    real_server 2001:db8::1 80 {\n    }\n}\n", func(f *config.File) {
			f.Rules.Services[0].Dests = append(f.Rules.Services[0].Dests, config.Dest{Addr: addr("10.0.0.3"), Method: vs.Tunnel, Weight: 1})
		}, []string{"    ip_family inet6\n"}, nil},
		{"drop the granularity", "virtual_server fwmark 5 {\n    lb_algo rr\n    lb_kind TUN\n    persistence_timeout 60\n    persistence_granularity 64\n    real_server 10.0.0.1 80 {\n    }\n}\n", func(f *config.File) {
			f.Rules.Services[0].Persistent, f.Rules.Services[0].Timeout, f.Rules.Services[0].Netmask = false, 0, netip.Addr{}
		}, []string{"    ip_family inet6\n"}, []string{"persistence"}},
		{"same family", "virtual_server fwmark 5 {\n    lb_algo rr\n    lb_kind DR\n    real_server 10.0.0.1 80 {\n    }\n}\n", func(f *config.File) {
			f.Rules.Services[0].Dests = append(f.Rules.Services[0].Dests, config.Dest{Addr: addr("10.0.0.2"), Method: vs.Route, Weight: 1})
		}, []string{"real_server 10.0.0.2 0 {"}, []string{"ip_family"}},
		{"group mark", "virtual_server_group G {\n    fwmark 5\n}\nvirtual_server group G {\n    lb_algo rr\n    lb_kind DR\n    real_server 2001:db8::2 80 {\n    }\n    real_server 10.0.0.1 80 {\n        lvs_method TUN\n    }\n}\n", func(f *config.File) {
			f.Rules.Services[0].Dests = f.Rules.Services[0].Dests[1:]
		}, []string{"    ip_family inet6\n"}, []string{"2001:db8::2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("k.conf", []byte(tt.conf), Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(f)
			out, err := Rewrite("k.conf", []byte(tt.conf), f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkWritten(t, out, tt.has, tt.hasNot)
			back, err := Parse("k.conf", out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f.Rules, back.Rules, kaCmp...); diff != "" {
				t.Errorf("rules (-want +written):\n%s", diff)
			}
		})
	}
}
