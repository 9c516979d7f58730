package tomlfile

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/vs"
)

var fileCmpAddr = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	// Where an instance was read from differs between a file and what
	// MarshalTOML writes of it.
	cmpopts.IgnoreFields(config.VRRPInstance{}, "File", "Line"),
}

func fileAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func filePrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestParseGood(t *testing.T) {
	tests := []struct {
		name string
		path string
		want *config.File
	}{
		{
			name: "minimal: defaults",
			path: "testdata/file-minimal.toml",
			want: &config.File{Interfaces: []string{"eth0"}, Socket: config.DefaultSocket},
		},
		{
			name: "lab DR example",
			path: "../../examples/ulvs.toml",
			want: &config.File{
				Interfaces: []string{"d-eth0"},
				Socket:     "/run/ulvs/ulvsd.sock",
				Rules: config.Rules{Services: []config.Service{{
					Proto: vs.TCP, Addr: fileAddr("10.77.0.100"), Port: 80, Scheduler: "rr",
					Dests: []config.Dest{
						{Addr: fileAddr("10.77.0.11"), Port: 80, Method: vs.Route, Weight: 1},
						{Addr: fileAddr("10.77.0.12"), Port: 80, Method: vs.Route, Weight: 1},
					},
				}}},
			},
		},
		{
			name: "every key",
			path: "testdata/file-full.toml",
			want: &config.File{
				Interfaces:    []string{"eth0", "eth1"},
				Socket:        "/tmp/ulvs-test.sock",
				Workers:       4,
				ConnTableSize: 131072,
				Timeouts:      config.Timeouts{TCP: 900, TCPFin: 120, UDP: 300},
				Knobs: config.Knobs{
					ConnReuseMode: 2, ConnReuseSet: true, ExpireNodestConn: true, ExpireQuiescentTemplate: true,
					LBLCExpiration: 86400, LBLCRExpiration: 600, MHTableSize: 251, Overhead: "classic",
					Sync: []config.SyncSysctl{{Name: "sync_threshold", Value: "4 60"}, {Name: "sync_retries", Value: "2"},
						{Name: "sync_persist_mode", Value: "1"}},
				},
				Marks: []config.Mark{{Mark: 7, Matches: []config.MarkMatch{
					{Proto: vs.UDP, Addr: filePrefix("192.0.2.0/24"), Ports: []config.PortRange{{First: 5060, Last: 5061}}},
				}}},
				Rules: config.Rules{Services: []config.Service{
					{
						Proto: vs.TCP, Addr: fileAddr("192.0.2.10"), Port: 80, Scheduler: "wrr",
						Persistent: true, Timeout: 60, Netmask: fileAddr("255.255.255.0"),
						Dests: []config.Dest{
							{Addr: fileAddr("10.0.0.1"), Port: 80, Method: vs.Route, Weight: 3, UThreshold: 1000, LThreshold: 800},
							{Addr: fileAddr("10.0.0.2"), Port: 80, Method: vs.Route, Weight: 0},
							{Addr: fileAddr("10.0.0.3"), Port: 80, Method: vs.Tunnel, Weight: 1},
						},
					},
					{
						Proto: vs.UDP, Addr: fileAddr("192.0.2.10"), Port: 53, Scheduler: "sh",
						SchedFlags: []string{"sh-fallback", "sh-port"}, OnePacket: true,
						LocalAddrs: []netip.Addr{fileAddr("10.0.0.200"), fileAddr("10.0.0.201")},
						Dests: []config.Dest{
							{Addr: fileAddr("10.0.0.1"), Port: 5353, Method: vs.Masq, Weight: 1},
							{Addr: fileAddr("10.0.0.2"), Port: 53, Method: vs.Masq, Weight: 2},
							{Addr: fileAddr("10.0.0.3"), Port: 53, Method: vs.FullNAT, Weight: 1},
						},
					},
					{
						Proto: vs.UDP, Addr: fileAddr("192.0.2.10"), Port: 0, Scheduler: "wlc",
						Persistent: true, Timeout: 300,
						Dests: []config.Dest{{Addr: fileAddr("10.0.0.9"), Port: 0, Method: vs.Route, Weight: 1}},
					},
					{Proto: vs.UDP, Addr: fileAddr("192.0.2.10"), Port: 80, Scheduler: "wlc"},
					{
						Proto: vs.TCP, FwMark: 7, Scheduler: "lc",
						Persistent: true, Timeout: 60, Netmask: fileAddr("255.255.0.0"), SynProxy: true,
						Dests: []config.Dest{{Addr: fileAddr("10.0.0.4"), Port: 0, Method: vs.Masq, Weight: 5}},
					},
				}},
			},
		},
		{
			name: "port groups and mark services",
			path: "testdata/file-fwmark.toml",
			want: &config.File{
				Interfaces: []string{"eth0"},
				Socket:     config.DefaultSocket,
				Marks: []config.Mark{
					{Mark: 21, Matches: []config.MarkMatch{
						{Proto: vs.TCP, Addr: filePrefix("192.0.2.10/32"), Ports: []config.PortRange{{First: 20, Last: 21}, {First: 10000, Last: 20000}}},
					}},
					{Mark: 65536, Matches: []config.MarkMatch{
						{Proto: vs.TCP, Addr: filePrefix("198.51.100.16/28"), Ports: []config.PortRange{{First: 80, Last: 81}, {First: 443, Last: 443}}},
						{Proto: vs.UDP, Addr: filePrefix("198.51.100.16/28"), Ports: []config.PortRange{{First: 53, Last: 53}}},
						{Proto: vs.UDP, Addr: filePrefix("203.0.113.7/32")},
					}},
					{Mark: 4294967295, Matches: []config.MarkMatch{
						{Proto: vs.UDP, Addr: filePrefix("203.0.113.0/24")},
					}},
				},
				Rules: config.Rules{Services: []config.Service{
					{
						Proto: vs.TCP, FwMark: 21, Scheduler: "rr", Persistent: true, Timeout: 300,
						Dests: []config.Dest{
							{Addr: fileAddr("10.0.0.1"), Port: 0, Method: vs.Route, Weight: 1},
							{Addr: fileAddr("10.0.0.2"), Port: 0, Method: vs.Tunnel, Weight: 2},
						},
					},
					{
						Proto: vs.TCP, FwMark: 65536, Scheduler: "sh", SchedFlags: []string{"sh-port"}, OnePacket: true,
						Dests: []config.Dest{
							{Addr: fileAddr("10.0.1.1"), Port: 8080, Method: vs.Masq, Weight: 1},
							{Addr: fileAddr("10.0.1.2"), Port: 0, Method: vs.Masq, Weight: 1},
						},
					},
					{Proto: vs.TCP, Addr: fileAddr("192.0.2.10"), Port: 21, Scheduler: "wlc"},
				}},
			},
		},
		{
			name: "sysctl switches as integers",
			path: "testdata/file-sysctl.toml",
			want: &config.File{
				Interfaces: []string{"eth0"},
				Socket:     config.DefaultSocket,
				Knobs: config.Knobs{
					ConnReuseMode: 0, ConnReuseSet: true, ExpireNodestConn: true, SloppyTCP: true,
					LBLCExpiration: 3600, LBLCRExpiration: 1, MHTableSize: 65521, Overhead: "total",
					DropEntry: 1, DropPacket: 2, SecureTCP: 3, AmemThresh: 0, AmemThreshSet: true,
					AmDropRate: 20, AmDropRateSet: true,
				},
			},
		},
		{
			name: "lab FTP example: the seed's port group",
			path: "../../examples/ftp.toml",
			want: &config.File{
				Interfaces: []string{"d-eth0"},
				Socket:     config.DefaultSocket,
				Marks: []config.Mark{{Mark: 21, Matches: []config.MarkMatch{{
					Proto: vs.TCP, Addr: filePrefix("10.77.0.100/32"),
					Ports: []config.PortRange{{First: 20, Last: 21}, {First: 10000, Last: 20000}},
				}}}},
				Rules: config.Rules{Services: []config.Service{{
					Proto: vs.TCP, FwMark: 21, Scheduler: "rr", Persistent: true, Timeout: 10,
					Dests: []config.Dest{
						{Addr: fileAddr("10.77.0.11"), Port: 0, Method: vs.Route, Weight: 1},
						{Addr: fileAddr("10.77.0.12"), Port: 0, Method: vs.Route, Weight: 1},
					},
				}}},
			},
		},
		{
			name: "inline tables and dotted keys",
			path: "testdata/file-inline.toml",
			want: &config.File{
				Interfaces: []string{"eth0"},
				Socket:     config.DefaultSocket,
				Timeouts:   config.Timeouts{TCP: 10, UDP: 20},
				Rules: config.Rules{Services: []config.Service{
					{
						Proto: vs.TCP, Addr: fileAddr("198.51.100.1"), Port: 443, Scheduler: "lc",
						Dests: []config.Dest{
							{Addr: fileAddr("10.1.0.1"), Port: 443, Method: vs.Route, Weight: 1},
							{Addr: fileAddr("10.1.0.2"), Port: 443, Method: vs.Route, Weight: 5},
						},
					},
					{
						Proto: vs.TCP, Addr: fileAddr("198.51.100.1"), Port: 80, Scheduler: "wlc",
						Dests: []config.Dest{{Addr: fileAddr("10.1.0.1"), Port: 8080, Method: vs.Masq, Weight: 1}},
					},
				}},
			},
		},
		{
			name: "mh flags named for the scheduler",
			path: "testdata/file-mh.toml",
			want: &config.File{
				Interfaces: []string{"ens3"},
				Socket:     config.DefaultSocket,
				Rules: config.Rules{Services: []config.Service{
					{
						Proto: vs.TCP, Addr: fileAddr("203.0.113.5"), Port: 443, Scheduler: "mh",
						SchedFlags: []string{"mh-port", "flag-3"},
						Dests: []config.Dest{
							{Addr: fileAddr("10.2.0.1"), Port: 443, Method: vs.Route, Weight: 1},
							{Addr: fileAddr("10.2.0.2"), Port: 443, Method: vs.Route, Weight: 1},
						},
					},
					{Proto: vs.TCP, Addr: fileAddr("203.0.113.5"), Port: 80, Scheduler: "rr", SchedFlags: []string{"flag-2"}},
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.path)
			if err != nil {
				t.Fatalf("Load(%q): %v", tt.path, err)
			}
			tt.want.Path = tt.path
			if diff := cmp.Diff(tt.want, got, fileCmpAddr); diff != "" {
				t.Errorf("Load(%q) mismatch (-want +got):\n%s", tt.path, diff)
			}
			if err := checkFile(got); err != nil {
				t.Errorf("Load(%q) gave an invalid File: %v", tt.path, err)
			}
			assertFileRoundTrip(t, got)
		})
	}
}

// TestFileMatchesIpvsadm checks that a file and the ipvsadm commands it
// stands for give equal Rules: the commands go through ParseArgs and
// Rules.Apply, as ulvsadm's do.
func TestFileMatchesIpvsadm(t *testing.T) {
	tests := []struct {
		name     string
		file     string // TOML text, or a path when it ends in .toml
		commands []string
	}{
		{
			name: "mark service",
			file: fileHead + `
[[virtual_server]]
fwmark = 21
scheduler = "rr"
persistence_timeout = 300
  [[virtual_server.real_server]]
  address = "10.77.0.11"

# After the service that names it: order does not matter.
[[fwmark]]
mark = 21
  [[fwmark.match]]
  address = "10.77.0.100"
  ports = [21, 20, "10000-20000"]
`,
			commands: []string{
				"-A -f 21 -s rr -p 300",
				"-a -f 21 -r 10.77.0.11 -g",
			},
		},
		{
			name: "the FTP example",
			file: "../../examples/ftp.toml",
			commands: []string{
				"-A -f 21 -s rr -p 10",
				"-a -f 21 -r 10.77.0.11 -g -w 1",
				"-a -f 21 -r 10.77.0.12 -g -w 1",
			},
		},
		{
			name: "mark service with nat, netmask, one-packet and explicit ports",
			file: fileHead + `
[[fwmark]]
mark = 0xffffffff
match = [{ protocol = "udp", address = "192.0.2.0/24" }]

[[virtual_server]]
fwmark = 4294967295
scheduler = "sh"
sched_flags = ["sh-fallback"]
persistence_timeout = 60
persistence_netmask = "255.255.255.0"
one_packet = true
forward = "nat"
  [[virtual_server.real_server]]
  address = "10.0.0.1:5353"
  weight = 3
  [[virtual_server.real_server]]
  address = "10.0.0.2:0"
  upper_threshold = 10
  lower_threshold = 5
  [[virtual_server.real_server]]
  address = "10.0.0.3"
  forward = "dr"
`,
			commands: []string{
				"-A -f 4294967295 -s sh -b sh-fallback -p 60 -M 255.255.255.0 -o",
				"-a -f 4294967295 -r 10.0.0.1:5353 -m -w 3",
				"-a -f 4294967295 -r 10.0.0.2 -m -x 10 -y 5",
				"-a -f 4294967295 -r 10.0.0.3:0 -g",
			},
		},
		{
			name: "address services: the default netmask and port 0",
			file: fileHead + `
[[virtual_server]]
address = "10.0.0.1:80"
persistence_timeout = 60
persistence_netmask = "255.255.255.255"
  [[virtual_server.real_server]]
  address = "10.1.0.1"
[[virtual_server]]
protocol = "udp"
address = "10.0.0.1:0"
persistence_timeout = 300
  [[virtual_server.real_server]]
  address = "10.1.0.1"
  forward = "tun"
`,
			commands: []string{
				"-A -t 10.0.0.1:80 -p 60 -M 255.255.255.255",
				"-a -t 10.0.0.1:80 -r 10.1.0.1",
				"-A -u 10.0.0.1:0 -p 300",
				"-a -u 10.0.0.1:0 -r 10.1.0.1 -i",
			},
		},
		{
			name: "IPv6 services: DR, NAT66, a /64 persistence granularity",
			file: fileHead + `
[[virtual_server]]
address = "[2001:db8::100]:80"
scheduler = "sh"
  [[virtual_server.real_server]]
  address = "2001:db8::1"
  weight = 2
  [[virtual_server.real_server]]
  address = "[2001:db8::2]:80"

[[virtual_server]]
protocol = "udp"
address = "[2001:db8::100]:53"
scheduler = "rr"
forward = "nat"
persistence_timeout = 60
persistence_netmask = "64"
  [[virtual_server.real_server]]
  address = "[2001:db8:1::5]:5353"
`,
			commands: []string{
				"-A -t [2001:db8::100]:80 -s sh",
				"-a -t [2001:db8::100]:80 -r [2001:db8::1]:80 -g -w 2",
				"-a -t [2001:db8::100]:80 -r [2001:db8::2]:80 -g",
				"-A -u [2001:db8::100]:53 -s rr -p 60 -M 64",
				"-a -u [2001:db8::100]:53 -r [2001:db8:1::5]:5353 -m",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f *config.File
			var err error
			if strings.HasSuffix(tt.file, ".toml") {
				f, err = Load(tt.file)
			} else {
				f, err = Parse("ulvs.toml", []byte(tt.file))
			}
			if err != nil {
				t.Fatal(err)
			}
			var want config.Rules
			for _, line := range tt.commands {
				c, err := ipvsadm.ParseArgs(strings.Fields(line))
				if err != nil {
					t.Fatalf("ipvsadm.ParseArgs(%q): %v", line, err)
				}
				if err := want.Apply(c); err != nil {
					t.Fatalf("Apply(%q): %v", line, err)
				}
			}
			if diff := cmp.Diff(want, f.Rules, fileCmpAddr); diff != "" {
				t.Errorf("file Rules differ from the ipvsadm commands' (-ipvsadm +file):\n%s", diff)
			}
		})
	}
}

// TestExamplesREADME parses every toml block of examples/README.md, so
// the documentation cannot drift from the parser.
func TestExamplesREADME(t *testing.T) {
	const path = "../../examples/README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	rest := string(data)
	for {
		_, after, found := strings.Cut(rest, "```toml\n")
		if !found {
			break
		}
		block, after, found := strings.Cut(after, "```")
		if !found {
			t.Fatalf("%s: unterminated toml block", path)
		}
		rest = after
		blocks++
		name := fmt.Sprintf("%s block %d", path, blocks)
		f, err := Parse(name, []byte(block))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if err := checkFile(f); err != nil {
			t.Errorf("%s: invalid File: %v", name, err)
		}
	}
	if blocks < 3 {
		t.Errorf("%s: found %d toml blocks, want at least 3", path, blocks)
	}
}

func TestIndexKeys(t *testing.T) {
	doc := `# [[virtual_server]] in a comment is not a header
[director]
interfaces = [
  "eth0", # comment with ] and "
  "eth1",
]
banner = """
[[virtual_server]]
address = "fake"
"""
raw = '''
weight = 1 '''
"quoted.key" = 'x'
a.b.c = 1
when = 1979-05-27 07:32:00Z

[[virtual_server]]
address = "10.0.0.1:80"
  [[virtual_server.real_server]]
  address = "10.1.0.1"
  [[virtual_server.real_server]]
  weight = 2

[[ virtual_server ]]
real_server = [ { address = "x" },
  { address = "y", weight = { nested = [1, 2] } } ]
[virtual_server.extra]
k = "v"
`
	got := indexKeys([]byte(doc))
	want := map[string]int{
		"director":                                          2,
		"director.interfaces":                               3,
		"director.interfaces[0]":                            4,
		"director.interfaces[1]":                            5,
		"director.banner":                                   7,
		"director.raw":                                      11,
		`director."quoted.key"`:                             13,
		"director.a":                                        14,
		"director.a.b":                                      14,
		"director.a.b.c":                                    14,
		"director.when":                                     15,
		"virtual_server[0]":                                 17,
		"virtual_server[0].address":                         18,
		"virtual_server[0].real_server[0]":                  19,
		"virtual_server[0].real_server[0].address":          20,
		"virtual_server[0].real_server[1]":                  21,
		"virtual_server[0].real_server[1].weight":           22,
		"virtual_server[1]":                                 24,
		"virtual_server[1].real_server":                     25,
		"virtual_server[1].real_server[0]":                  25,
		"virtual_server[1].real_server[0].address":          25,
		"virtual_server[1].real_server[1]":                  26,
		"virtual_server[1].real_server[1].address":          26,
		"virtual_server[1].real_server[1].weight":           26,
		"virtual_server[1].real_server[1].weight.nested":    26,
		"virtual_server[1].real_server[1].weight.nested[0]": 26,
		"virtual_server[1].real_server[1].weight.nested[1]": 26,
		"virtual_server[1].extra":                           27,
		"virtual_server[1].extra.k":                         28,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("indexKeys mismatch (-want +got):\n%s", diff)
	}
	// The document is valid TOML: the scanner is only ever run on such.
	if _, err := Parse("doc.toml", []byte(doc)); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("Parse(doc) = %v, want an unknown key error (the document itself must be valid TOML)", err)
	}
}

func TestLocalAddresses(t *testing.T) {
	base := "[director]\ninterfaces = [\"d-eth0\", \"d-eth1\"]\n\n[[virtual_server]]\naddress = \"10.77.0.100:80\"\nforward = \"%s\"\n%s\n[[virtual_server.real_server]]\naddress = \"10.77.1.11:8080\"\n"
	tests := []struct {
		name, forward, extra, err string
	}{
		{"fullnat with addresses", "fullnat", `local_addresses = ["10.77.1.200", "10.77.1.201"]`, ""},
		{"fullnat without", "fullnat", "", "ulvs.toml:4: virtual_server[0].local_addresses: fullnat real servers need local_addresses"},
		{"nat with", "nat", `local_addresses = ["10.77.1.200"]`, "ulvs.toml:7: virtual_server[0].local_addresses: only used with fullnat real servers"},
		{"bad address", "fullnat", `local_addresses = ["10.77.1.x"]`, `ulvs.toml:7: virtual_server[0].local_addresses[0]: not an IP address: "10.77.1.x"`},
		{"twice", "fullnat", `local_addresses = ["10.77.1.200", "10.77.1.200"]`, "ulvs.toml:7: virtual_server[0].local_addresses[1]: 10.77.1.200 is listed twice"},
		{"IPv6 for an IPv4 service", "fullnat", `local_addresses = ["fd00::1"]`, "ulvs.toml:7: virtual_server[0].local_addresses[0]: fd00::1 is not of the service's address family (NAT64/NAT46): not supported yet (ulvs issue #17, IPv6)"},
		{"IPv4-mapped", "fullnat", `local_addresses = ["::ffff:10.77.1.200"]`, "ulvs.toml:7: virtual_server[0].local_addresses[0]: ::ffff:10.77.1.200 is not of the service's address family"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("ulvs.toml", []byte(fmt.Sprintf(base, tt.forward, tt.extra)))
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := f.Rules.Services[0].LocalAddrs; len(got) != 2 || got[0] != netip.MustParseAddr("10.77.1.200") {
					t.Errorf("LocalAddrs = %v", got)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("error %v, want prefix %q", err, tt.err)
			}
		})
	}
}

// TestDirectorSwitches checks the [director] booleans, parsed and
// written back.
func TestDirectorSwitches(t *testing.T) {
	exit := func(f *config.File) bool { return f.ExitOnInterfaceLoss }
	noMarks := func(f *config.File) bool { return f.NoIptablesMarks }
	for _, tt := range []struct {
		in   string
		get  func(*config.File) bool
		want bool
	}{
		{fileHead, exit, false},
		{fileHead + "exit_on_interface_loss = false\n", exit, false},
		{fileHead + "exit_on_interface_loss = true\n", exit, true},
		{fileHead, noMarks, false},
		{fileHead + "iptables_marks = true\n", noMarks, false},
		{fileHead + "iptables_marks = false\n", noMarks, true},
	} {
		f, err := Parse("ulvs.toml", []byte(tt.in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := tt.get(f); got != tt.want {
			t.Errorf("Parse(%q): %v, want %v", tt.in, got, tt.want)
		}
		text, err := MarshalTOML(f)
		if err != nil {
			t.Fatalf("MarshalTOML: %v", err)
		}
		back, err := Parse("ulvs.toml", text)
		if err != nil {
			t.Fatalf("parse the written file: %v\n%s", err, text)
		}
		if got := tt.get(back); got != tt.want {
			t.Errorf("%q written and parsed again: %v, want %v", tt.in, got, tt.want)
		}
	}
	if _, err := Parse("ulvs.toml", []byte(fileHead+"iptables_marks = 1\n")); err == nil || !strings.Contains(err.Error(), "director.iptables_marks: must be true or false") {
		t.Errorf("iptables_marks = 1: err %v", err)
	}
}

func TestMarkSource(t *testing.T) {
	in := fileHead + `
[[fwmark]]
mark = 5
  [[fwmark.match]]
  address = "10.77.0.100"
  source = "10.1.0.0/16"
  [[fwmark.match]]
  address = "10.77.0.100"
  source = "10.2.0.1"
`
	f, err := Parse("ulvs.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.1/32")}
	check := func(f *config.File, what string) {
		if len(f.Marks) != 1 || len(f.Marks[0].Matches) != 2 {
			t.Fatalf("%s: marks %+v", what, f.Marks)
		}
		for i, m := range f.Marks[0].Matches {
			if m.Src != want[i] {
				t.Errorf("%s: match %d source %v, want %v", what, i, m.Src, want[i])
			}
		}
	}
	check(f, "parsed")
	text, err := MarshalTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("ulvs.toml", text)
	if err != nil {
		t.Fatalf("parse the written file: %v\n%s", err, text)
	}
	check(back, "written and parsed again")
	for _, bad := range []string{`source = "10.1.0.1/16"`, `source = 7`, `source = "::1"`} {
		in := fileHead + "[[fwmark]]\nmark = 5\n[[fwmark.match]]\naddress = \"10.77.0.100\"\n" + bad + "\n"
		if _, err := Parse("ulvs.toml", []byte(in)); err == nil || !strings.Contains(err.Error(), "source") {
			t.Errorf("%s: err %v, want one about source", bad, err)
		}
	}
}
