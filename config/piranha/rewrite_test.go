package piranha

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// samples are every lvs.cf of the repository that parses (seed 001's as
// restored and on the lab's addresses, the tests' own).
func samples(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/*.cf")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data, testOpts()); err != nil {
			if filepath.Base(f) != "seed001-printed.cf" {
				t.Fatalf("%s: %v", f, err)
			}
			continue // refused on purpose (the article's notes)
		}
		out[f] = data
	}
	return out
}

var fileCmp = []cmp.Option{cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmpopts.EquateEmpty(), cmpopts.IgnoreFields(config.File{}, "Warnings", "Path")}

// TestRewriteRoundTrip: parse(write(parse(f))) == parse(f) for every
// sample, and the unchanged file is written back byte for byte.
func TestRewriteRoundTrip(t *testing.T) {
	for name, data := range samples(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			f, err := Parse(name, data, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			out, err := Rewrite(name, data, f, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(data) {
				t.Errorf("an unchanged file is rewritten:\n%s", out)
			}
			back, err := Parse(name, out, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f, back, fileCmp...); diff != "" {
				t.Errorf("(-parse +parse(write(parse))):\n%s", diff)
			}
		})
	}
}

// TestRewriteFromScratch writes each sample's whole configuration into a
// file that holds nothing but "service = lvs", as Piranha's GUI writes
// lvs.cf whole: it must read back as the sample (rules, health, pulse,
// timeouts, interfaces). A firewall-mark virtual cannot be created so
// (its address is not in the model): that is refused, naming it.
func TestRewriteFromScratch(t *testing.T) {
	for name, data := range samples(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			f, err := Parse(name, data, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			out, err := Rewrite("new.cf", []byte("service = lvs\n"), f, testOpts())
			fwmark := false
			for _, s := range f.Rules.Services {
				fwmark = fwmark || s.FwMark != 0
			}
			if fwmark {
				if !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "firewall-mark") {
					t.Fatalf("Rewrite = %v, want a refusal naming the firewall-mark virtual", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse("new.cf", out, testOpts())
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if diff := cmp.Diff(f, back, append(fileCmp, cmpopts.IgnoreFields(config.File{}, "Warnings", "Path"))...); diff != "" {
				t.Errorf("(-sample +written from scratch):\n%s\n%s", diff, out)
			}
		})
	}
}

func parseText(t *testing.T, text string) *config.File {
	t.Helper()
	f, err := Parse("lvs.cf", []byte(text), testOpts())
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return f
}

func webNAT(t *testing.T) (string, *config.File) {
	data, err := os.ReadFile("testdata/web-nat.cf")
	if err != nil {
		t.Fatal(err)
	}
	return string(data), parseText(t, string(data))
}

// TestRewriteEdits makes the console's edits and checks that each one
// changes only its lines and reads back as asked.
func TestRewriteEdits(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(f *config.File)
		// lines the new text must hold, and must not
		has, hasNot []string
	}{
		{"weight", func(f *config.File) { f.Rules.Services[0].Dests[1].Weight = 7 },
			[]string{"         address = 10.77.1.12\n         active = 1\n         weight = 7\n"}, nil},
		{"add a real server", func(f *config.File) {
			f.Rules.Services[0].Dests = append(f.Rules.Services[0].Dests, config.Dest{Addr: netip.MustParseAddr("10.77.1.14"), Port: 80, Method: vs.Masq, Weight: 3})
		}, []string{"     server rs_10_77_1_14 {\n         address = 10.77.1.14\n         active = 1\n         weight = 3\n     }\n}\nvirtual dns {"}, nil},
		{"delete a real server", func(f *config.File) {
			f.Rules.Services[0].Dests = f.Rules.Services[0].Dests[1:]
			f.Health[0].Reals = f.Health[0].Reals[1:]
		}, []string{"server rs3 {"}, []string{"server rs1 {"}},
		{"delete a virtual server", func(f *config.File) {
			f.Rules.Services = f.Rules.Services[:1]
			f.Health = f.Health[:1]
		}, []string{"virtual web {"}, []string{"virtual dns {", "dig-check"}},
		{"add a virtual server", func(f *config.File) {
			f.Rules.Services = append(f.Rules.Services, config.Service{Proto: vs.TCP, Addr: netip.MustParseAddr("10.77.0.101"), Port: 443, Scheduler: "rr",
				Dests: []config.Dest{{Addr: netip.MustParseAddr("10.77.1.11"), Port: 443, Method: vs.Masq, Weight: 1}}})
		}, []string{"virtual tcp_10_77_0_101_443 {\n     active = 1\n     address = 10.77.0.101 d-eth0\n     protocol = tcp\n     port = 443\n     scheduler = rr\n     server rs_10_77_1_11 {"}, nil},
		{"redundancy", func(f *config.File) {
			f.Pulse.Backup = netip.MustParseAddr("10.77.0.3")
			f.Pulse.BackupPrivate = f.Pulse.Backup
			f.Pulse.BackupActive, f.Pulse.Heartbeat = true, true
			f.Pulse.Keepalive, f.Pulse.Deadtime, f.Pulse.HeartbeatPort = 3*time.Second, 9*time.Second, 1539
		}, []string{"backup_active = 1\nheartbeat = 1\n", "backup = 10.77.0.3\n", "keepalive = 3\n", "deadtime = 9\n", "heartbeat_port = 1539\n"}, []string{"primary_private"}},
		{"global", func(f *config.File) {
			f.Pulse.Primary, f.Pulse.PrimaryPrivate = netip.MustParseAddr("10.77.0.4"), netip.MustParseAddr("10.77.0.4")
			f.Pulse.NATRouter, f.Pulse.NATRouterDevice = netip.MustParsePrefix("10.77.1.254/24"), "d-eth1:2"
			f.Timeouts.TCPFin = 30
		}, []string{"primary = 10.77.0.4\n", "nat_router = 10.77.1.254 d-eth1:2\nnat_nmask = 255.255.255.0\n", "tcpfin_timeout = 30\n"}, nil},
		{"network", func(f *config.File) {
			f.Pulse.NATRouter, f.Pulse.NATRouterDevice = netip.Prefix{}, ""
			for i := range f.Rules.Services {
				for j := range f.Rules.Services[i].Dests {
					d := &f.Rules.Services[i].Dests[j]
					d.Method, d.Port = vs.Route, f.Rules.Services[i].Port
				}
			}
			for i := range f.Health {
				for j := range f.Health[i].Reals {
					r := &f.Health[i].Reals[j]
					r.Port = f.Rules.Services[i].Port
					r.Checks[0].ConnectPort = r.Port
				}
			}
			f.Health[0].Sorry.Method = vs.Route
		}, []string{"network = direct\n"}, []string{"nat_router"}},
		{"device and checks", func(f *config.File) {
			f.Pulse.VIPs[0].Device = "d-eth0:7"
			vh := &f.Health[0]
			for i := range vh.Reals {
				c := &vh.Reals[i].Checks[0]
				c.Send, c.Expect, c.UseRegex = "HEAD / HTTP/1.0\r\n\r\n", `it's"up"`, false
				c.Timeout, c.Reentry, c.QuiesceServer = 4*time.Second, 12*time.Second, false
				vh.Reals[i].Inhibit = false
			}
			vh.DelayLoop = 4 * time.Second
			vh.Sorry = nil
		}, []string{"     address = 10.77.0.100 d-eth0:7\n", `     send = "HEAD / HTTP/1.0\r\n\r\n"` + "\n", `     expect = it's"up"`, "     use_regex = 0\n", "     timeout = 4\n     reentry = 12\n     quiesce_server = 0\n"},
			[]string{"sorry_server", "d-eth0:1"}},
		{"send_program", func(f *config.File) {
			for i := range f.Health[1].Reals {
				f.Health[1].Reals[i].Checks[0].SendProgram = "/usr/bin/dig @%h ulvs"
			}
		}, []string{`send_program = "/usr/bin/dig @%h ulvs"`}, []string{"dig-check"}},
		{"scheduler and persistence", func(f *config.File) {
			s := &f.Rules.Services[0]
			s.Scheduler, s.Persistent, s.Timeout, s.Netmask = "rr", false, 0, netip.Addr{}
		}, []string{"     persistent = 0\n", "     scheduler = rr\n"}, []string{"pmask"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text, f := webNAT(t)
			tt.edit(f)
			out, err := Rewrite("lvs.cf", []byte(text), f, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.has {
				if !strings.Contains(string(out), s) {
					t.Errorf("written file lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(string(out), s) {
					t.Errorf("written file still has %q:\n%s", s, out)
				}
			}
			if !strings.HasPrefix(string(out), "# lvs.cf of a NAT cluster") || !strings.Contains(string(out), "server rs3 {\n         address = 10.77.1.13\n         active = 0") {
				t.Errorf("comment or inactive server lost:\n%s", out)
			}
			back := parseText(t, string(out))
			if diff := cmp.Diff(f.Rules, back.Rules, fileCmp...); diff != "" {
				t.Errorf("rules (-want +written):\n%s", diff)
			}
		})
	}
}

// TestRewriteRefusals: what lvs.cf cannot hold is refused, naming it,
// and nothing is written.
func TestRewriteRefusals(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		edit       func(f *config.File)
	}{
		{"two methods", "one network", func(f *config.File) { f.Rules.Services[0].Dests[0].Method = vs.Route }},
		{"fullnat", "direct, nat or tunnel", func(f *config.File) {
			for i := range f.Rules.Services {
				for j := range f.Rules.Services[i].Dests {
					f.Rules.Services[i].Dests[j].Method = vs.FullNAT
				}
			}
		}},
		{"thresholds", "thresholds", func(f *config.File) { f.Rules.Services[0].Dests[0].UThreshold = 10 }},
		{"sched flags", "scheduler flags", func(f *config.File) { f.Rules.Services[0].SchedFlags = []string{"sh-port"} }},
		{"one-packet", "one-packet", func(f *config.File) { f.Rules.Services[1].OnePacket = true }},
		{"no check", "TCP_CHECK", func(f *config.File) {
			f.Health[0].Reals[0].Checks[0].Kind = config.CheckTCP
			f.Health[0].Reals[1].Checks = nil
		}},
		{"keepalived checker", "TCP_CHECK", func(f *config.File) { f.Health[0].Reals[0].Checks[0].Kind = config.CheckTCP }},
		{"two checks differ", "different checks", func(f *config.File) { f.Health[0].Reals[0].Checks[0].Expect = "other" }},
		{"sub-second keepalive", "whole seconds", func(f *config.File) { f.Pulse.Keepalive = 1500 * time.Millisecond }},
		{"line end in a command", "line end", func(f *config.File) { f.Pulse.ActiveCmd = "a\nb" }},
		{"quotes and blanks", "both quote characters", func(f *config.File) {
			for i := range f.Health[1].Reals {
				f.Health[1].Reals[i].Checks[0].SendProgram = `a "b" 'c'`
			}
		}},
		{"send beside send_program", "send is not used", func(f *config.File) {
			for i := range f.Health[1].Reals {
				f.Health[1].Reals[i].Checks[0].Send = "x"
			}
		}},
		{"IPv6 dest", "IPv4 only", func(f *config.File) { f.Rules.Services[1].Dests[0].Addr = netip.MustParseAddr("2001:db8::1") }},
		{"IPv6 fwmark service", "FWM 5 IPv6: lvs.cf is IPv4 only", func(f *config.File) {
			s := &f.Rules.Services[1]
			s.FwMark, s.Addr, s.Port = 5, config.FwMark6Addr, 0
			f.Health[1].Service = s.Key()
		}},
		{"DR port", "port is the virtual's", func(f *config.File) {
			f.Pulse.NATRouter, f.Pulse.NATRouterDevice = netip.Prefix{}, ""
			for i := range f.Rules.Services {
				for j := range f.Rules.Services[i].Dests {
					f.Rules.Services[i].Dests[j].Method = vs.Route
				}
			}
			f.Rules.Services[1].Dests = append(f.Rules.Services[1].Dests, config.Dest{Addr: netip.MustParseAddr("10.77.1.30"), Port: 5353, Method: vs.Route, Weight: 1})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text, f := webNAT(t)
			tt.edit(f)
			out, err := Rewrite("lvs.cf", []byte(text), f, testOpts())
			if !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Rewrite = %v, want ErrNotExpressible naming %q\n%s", err, tt.want, out)
			}
		})
	}
}

// FuzzRewrite: for any lvs.cf Parse takes, writing its own model back
// gives the same text, and a weight changed on every real server reads
// back as written, or is refused with ErrNotExpressible; never a panic,
// never a file that reads differently.
func FuzzRewrite(f *testing.F) {
	for _, name := range []string{"seed001.cf", "seed001-lab.cf", "web-nat.cf", "pulse-links.cf"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data), uint16(3))
	}
	f.Add(virtualWith("# c\nsend = \"a\\tb\"\nexpect = 'x'\n", "port = 99\nweight = 0\n"), uint16(0))
	f.Fuzz(func(t *testing.T, text string, weight uint16) {
		file, err := Parse("f.cf", []byte(text), testOpts())
		if err != nil {
			return
		}
		out, err := Rewrite("f.cf", []byte(text), file, testOpts())
		if err != nil {
			t.Fatalf("unchanged model refused: %v", err)
		}
		if string(out) != text {
			t.Fatalf("unchanged model rewritten:\n%q\n%q", text, out)
		}
		for i := range file.Rules.Services {
			for j := range file.Rules.Services[i].Dests {
				file.Rules.Services[i].Dests[j].Weight = int32(weight)
			}
		}
		out, err = Rewrite("f.cf", []byte(text), file, testOpts())
		if err != nil {
			if !errors.Is(err, ErrNotExpressible) {
				t.Fatalf("refusal without ErrNotExpressible: %v", err)
			}
			return
		}
		back, err := Parse("f.cf", out, testOpts())
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, out)
		}
		if diff := cmp.Diff(file.Rules, back.Rules, fileCmp...); diff != "" {
			t.Fatalf("rules (-want +written):\n%s", diff)
		}
	})
}
