package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/vs"
)

var fileCmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func fileAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestParseGood(t *testing.T) {
	tests := []struct {
		name string
		path string
		want *File
	}{
		{
			name: "minimal: defaults",
			path: "testdata/file-minimal.toml",
			want: &File{Interfaces: []string{"eth0"}, Socket: DefaultSocket},
		},
		{
			name: "lab DR example",
			path: "../examples/ulvs.toml",
			want: &File{
				Interfaces: []string{"d-eth0"},
				Socket:     "/run/ulvs/ulvsd.sock",
				Rules: Rules{Services: []Service{{
					Proto: vs.TCP, Addr: fileAddr("10.77.0.100"), Port: 80, Scheduler: "rr",
					Dests: []Dest{
						{Addr: fileAddr("10.77.0.11"), Port: 80, Method: vs.Route, Weight: 1},
						{Addr: fileAddr("10.77.0.12"), Port: 80, Method: vs.Route, Weight: 1},
					},
				}}},
			},
		},
		{
			name: "every key",
			path: "testdata/file-full.toml",
			want: &File{
				Interfaces:    []string{"eth0", "eth1"},
				Socket:        "/tmp/ulvs-test.sock",
				Workers:       4,
				ConnTableSize: 131072,
				Timeouts:      Timeouts{TCP: 900, TCPFin: 120, UDP: 300},
				Rules: Rules{Services: []Service{
					{
						Proto: vs.TCP, Addr: fileAddr("192.0.2.10"), Port: 80, Scheduler: "wrr",
						Persistent: true, Timeout: 60, Netmask: fileAddr("255.255.255.0"),
						Dests: []Dest{
							{Addr: fileAddr("10.0.0.1"), Port: 80, Method: vs.Route, Weight: 3, UThreshold: 1000, LThreshold: 800},
							{Addr: fileAddr("10.0.0.2"), Port: 80, Method: vs.Route, Weight: 0},
							{Addr: fileAddr("10.0.0.3"), Port: 80, Method: vs.Tunnel, Weight: 1},
						},
					},
					{
						Proto: vs.UDP, Addr: fileAddr("192.0.2.10"), Port: 53, Scheduler: "sh",
						SchedFlags: []string{"sh-fallback", "sh-port"}, OnePacket: true,
						Dests: []Dest{
							{Addr: fileAddr("10.0.0.1"), Port: 5353, Method: vs.Masq, Weight: 1},
							{Addr: fileAddr("10.0.0.2"), Port: 53, Method: vs.Masq, Weight: 2},
							{Addr: fileAddr("10.0.0.3"), Port: 53, Method: vs.FullNAT, Weight: 1},
						},
					},
					{
						Proto: vs.UDP, Addr: fileAddr("192.0.2.10"), Port: 0, Scheduler: "wlc",
						Persistent: true, Timeout: 300,
						Dests: []Dest{{Addr: fileAddr("10.0.0.9"), Port: 0, Method: vs.Route, Weight: 1}},
					},
					{Proto: vs.UDP, Addr: fileAddr("192.0.2.10"), Port: 80, Scheduler: "wlc"},
				}},
			},
		},
		{
			name: "inline tables and dotted keys",
			path: "testdata/file-inline.toml",
			want: &File{
				Interfaces: []string{"eth0"},
				Socket:     DefaultSocket,
				Timeouts:   Timeouts{TCP: 10, UDP: 20},
				Rules: Rules{Services: []Service{
					{
						Proto: vs.TCP, Addr: fileAddr("198.51.100.1"), Port: 443, Scheduler: "lc",
						Dests: []Dest{
							{Addr: fileAddr("10.1.0.1"), Port: 443, Method: vs.Route, Weight: 1},
							{Addr: fileAddr("10.1.0.2"), Port: 443, Method: vs.Route, Weight: 5},
						},
					},
					{
						Proto: vs.TCP, Addr: fileAddr("198.51.100.1"), Port: 80, Scheduler: "wlc",
						Dests: []Dest{{Addr: fileAddr("10.1.0.1"), Port: 8080, Method: vs.Masq, Weight: 1}},
					},
				}},
			},
		},
		{
			name: "mh flags named for the scheduler",
			path: "testdata/file-mh.toml",
			want: &File{
				Interfaces: []string{"ens3"},
				Socket:     DefaultSocket,
				Rules: Rules{Services: []Service{
					{
						Proto: vs.TCP, Addr: fileAddr("203.0.113.5"), Port: 443, Scheduler: "mh",
						SchedFlags: []string{"mh-port", "flag-3"},
						Dests: []Dest{
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

// fileHead is a [director] table taking lines 1 and 2.
const fileHead = "[director]\ninterfaces = [\"eth0\"]\n"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// TOML syntax: the line comes from toml.ParseError.
		{
			name: "syntax: unclosed table header",
			in:   fileHead + "\n[[virtual_server]\n",
			want: `ulvs.toml:4: expected end of table array name delimiter ']', but got '\n' instead`,
		},
		{
			name: "syntax: key defined twice",
			in:   fileHead + "socket = \"/a\"\nsocket = \"/b\"\n",
			want: `ulvs.toml:4: Key 'director.socket' has already been defined.`,
		},
		{
			name: "syntax: string across lines",
			in:   fileHead + "socket = \"/run\n/x\"\n",
			want: `ulvs.toml:3: strings cannot contain newlines`,
		},
		{
			name: "syntax: value missing",
			in:   fileHead + "workers =\n",
			want: `ulvs.toml:3: expected value but found '\n' instead`,
		},

		// Unknown keys.
		{
			name: "unknown top-level table",
			in:   fileHead + "[timeout]\ntcp = 1\n",
			want: `ulvs.toml:3: timeout: unknown key (did you mean "timeouts"?)`,
		},
		{
			name: "unknown director key",
			in:   fileHead + "interface_name = \"x\"\n",
			want: `ulvs.toml:3: director.interface_name: unknown key`,
		},
		{
			name: "typo in the second real server of the second service",
			in: fileHead + `
[[virtual_server]]
address = "10.0.0.1:80"
[[virtual_server.real_server]]
address = "10.1.0.1"

[[virtual_server]]
address = "10.0.0.2:80"
[[virtual_server.real_server]]
address = "10.1.0.1"
[[virtual_server.real_server]]
address = "10.1.0.2"
wieght = 2
`,
			want: `ulvs.toml:15: virtual_server[1].real_server[1].wieght: unknown key (did you mean "weight"?)`,
		},
		{
			name: "keepalived lb_algo",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nlb_algo = \"rr\"\n",
			want: `ulvs.toml:5: virtual_server[0].lb_algo: unknown key (ulvs calls keepalived's lb_algo "scheduler")`,
		},
		{
			name: "keepalived health check",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\ndelay_loop = 6\n",
			want: `ulvs.toml:5: virtual_server[0].delay_loop: unknown key (health checks are not supported yet)`,
		},
		{
			name: "keepalived TCP_CHECK table",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\n[virtual_server.real_server.TCP_CHECK]\nconnect_timeout = 3\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].TCP_CHECK: unknown key (health checks are not supported yet)`,
		},
		{
			name: "quoted unknown key",
			in:   fileHead + "\"two words\" = 1\n",
			want: `ulvs.toml:3: director."two words": unknown key`,
		},

		// [director]
		{
			name: "no director table",
			in:   "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n",
			want: `ulvs.toml: director.interfaces: required: the interfaces the director listens on`,
		},
		{
			name: "director without interfaces",
			in:   "# comment\n[director]\nworkers = 2\n",
			want: `ulvs.toml:2: director.interfaces: required: the interfaces the director listens on`,
		},
		{
			name: "director is not a table",
			in:   "director = \"eth0\"\n",
			want: `ulvs.toml:1: director: must be a table (got string "eth0")`,
		},
		{
			name: "interfaces empty",
			in:   "[director]\ninterfaces = []\n",
			want: `ulvs.toml:2: director.interfaces: must name at least one interface`,
		},
		{
			name: "interfaces is a string",
			in:   "[director]\ninterfaces = \"eth0\"\n",
			want: `ulvs.toml:2: director.interfaces: must be an array of strings (got string "eth0")`,
		},
		{
			name: "interfaces holds a number",
			in:   "[director]\ninterfaces = [\n  \"eth0\",\n  1,\n]\n",
			want: `ulvs.toml:4: director.interfaces[1]: must be a string (got integer)`,
		},
		{
			name: "interface name too long",
			in:   "[director]\ninterfaces = [\"a-very-long-ifname\"]\n",
			want: `ulvs.toml:2: director.interfaces[0]: interface name "a-very-long-ifname" is longer than 15 bytes`,
		},
		{
			name: "interface name with slash",
			in:   "[director]\ninterfaces = [\"eth0/1\"]\n",
			want: `ulvs.toml:2: director.interfaces[0]: invalid interface name "eth0/1" (no '/', ':' or white space)`,
		},
		{
			name: "interface named twice",
			in:   "[director]\ninterfaces = [\"eth0\", \"eth1\", \"eth0\"]\n",
			want: `ulvs.toml:2: director.interfaces[2]: duplicate of interfaces[0] ("eth0")`,
		},
		{
			name: "socket empty",
			in:   fileHead + "socket = \"\"\n",
			want: `ulvs.toml:3: director.socket: must not be empty`,
		},
		{
			name: "socket path too long",
			in:   fileHead + "socket = \"/" + strings.Repeat("s", 107) + "\"\n",
			want: `ulvs.toml:3: director.socket: path is 108 bytes, longer than a unix socket allows (107)`,
		},
		{
			name: "workers negative",
			in:   fileHead + "workers = -1\n",
			want: `ulvs.toml:3: director.workers: must be between 0 and 4096 (got -1)`,
		},
		{
			name: "conn_table_size a float",
			in:   fileHead + "conn_table_size = 6.5e4\n",
			want: `ulvs.toml:3: director.conn_table_size: must be an integer (got float 65000)`,
		},

		// [timeouts]
		{
			name: "timeout beyond ipvsadm's 31 days",
			in:   fileHead + "[timeouts]\ntcp = 900\nudp = 2678401\n",
			want: `ulvs.toml:5: timeouts.udp: must be between 0 and 2678400 (got 2678401)`,
		},
		{
			name: "timeout as duration string",
			in:   fileHead + "[timeouts]\ntcpfin = \"2m\"\n",
			want: `ulvs.toml:4: timeouts.tcpfin: must be an integer (got string "2m")`,
		},

		// [[virtual_server]]
		{
			name: "virtual_server as a plain table",
			in:   fileHead + "[virtual_server]\naddress = \"10.0.0.1:80\"\n",
			want: `ulvs.toml:3: virtual_server: must be an array of tables ([[virtual_server]]) (got table)`,
		},
		{
			name: "inline virtual_server element not a table",
			in:   "virtual_server = [\n  { address = \"10.0.0.1:80\" },\n  \"10.0.0.2:80\",\n]\n" + fileHead,
			want: `ulvs.toml:3: virtual_server[1]: must be a table (got string)`,
		},
		{
			name: "protocol sctp",
			in:   fileHead + "[[virtual_server]]\nprotocol = \"sctp\"\naddress = \"10.0.0.1:80\"\n",
			want: `ulvs.toml:4: virtual_server[0].protocol: must be "tcp" or "udp" (got "sctp")`,
		},
		{
			name: "address missing",
			in:   fileHead + "[[virtual_server]]\nscheduler = \"rr\"\n",
			want: `ulvs.toml:3: virtual_server[0].address: required: the virtual IPv4-address:port`,
		},
		{
			name: "address without port",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: must be IPv4-address:port (got "10.0.0.1")`,
		},
		{
			name: "address IPv6",
			in:   fileHead + "[[virtual_server]]\naddress = \"[2001:db8::1]:80\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: IPv6 is not supported yet (got "[2001:db8::1]:80")`,
		},
		{
			name: "address IPv4-mapped IPv6",
			in:   fileHead + "[[virtual_server]]\naddress = \"[::ffff:10.0.0.1]:80\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: IPv6 is not supported yet (got "[::ffff:10.0.0.1]:80")`,
		},
		{
			name: "address octet out of range",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.300:80\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: must be IPv4-address[:port] (got "10.0.0.300:80")`,
		},
		{
			name: "address host name",
			in:   fileHead + "[[virtual_server]]\naddress = \"www.example.com:80\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: must be IPv4-address[:port] (got "www.example.com:80")`,
		},
		{
			name: "address port out of range",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:70000\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: port must be a number between 0 and 65535 (got "70000")`,
		},
		{
			name: "address port by name",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:http\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: port must be a number between 0 and 65535 (got "http")`,
		},
		{
			name: "address port 0 without persistence",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:0\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: port 0 is only allowed for persistent services (set persistence_timeout)`,
		},
		{
			name: "address multicast",
			in:   fileHead + "[[virtual_server]]\naddress = \"224.0.0.1:80\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: 224.0.0.1 is not a unicast address`,
		},
		{
			name: "address unspecified",
			in:   fileHead + "[[virtual_server]]\naddress = \"0.0.0.0:80\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: 0.0.0.0 is not a unicast address`,
		},
		{
			name: "scheduler unknown",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nscheduler = \"roundrobin\"\n",
			want: `ulvs.toml:5: virtual_server[0].scheduler: unknown scheduler "roundrobin" (want one of rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos)`,
		},
		{
			name: "forward unknown",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nforward = \"direct\"\n",
			want: `ulvs.toml:5: virtual_server[0].forward: unknown forwarding method "direct" (want dr, tun, nat or fullnat)`,
		},
		{
			name: "persistence_timeout negative",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\npersistence_timeout = -5\n",
			want: `ulvs.toml:5: virtual_server[0].persistence_timeout: must be between 0 and 2678400 (got -5)`,
		},
		{
			name: "persistence_netmask not contiguous",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\npersistence_timeout = 60\npersistence_netmask = \"255.0.255.0\"\n",
			want: `ulvs.toml:6: virtual_server[0].persistence_netmask: must be a contiguous IPv4 netmask like 255.255.255.0 (got "255.0.255.0")`,
		},
		{
			name: "persistence_netmask as prefix length",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\npersistence_timeout = 60\npersistence_netmask = \"24\"\n",
			want: `ulvs.toml:6: virtual_server[0].persistence_netmask: must be a contiguous IPv4 netmask like 255.255.255.0 (got "24")`,
		},
		{
			name: "persistence_netmask without persistence",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\npersistence_netmask = \"255.255.255.0\"\n",
			want: `ulvs.toml:5: virtual_server[0].persistence_netmask: only applies to persistent services (set persistence_timeout)`,
		},
		{
			name: "one_packet on tcp",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\none_packet = true\n",
			want: `ulvs.toml:5: virtual_server[0].one_packet: only applies to udp services`,
		},
		{
			name: "one_packet not a bool",
			in:   fileHead + "[[virtual_server]]\nprotocol = \"udp\"\naddress = \"10.0.0.1:53\"\none_packet = 1\n",
			want: `ulvs.toml:6: virtual_server[0].one_packet: must be true or false (got integer 1)`,
		},
		{
			name: "sched_flags unknown",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nsched_flags = [\"flag-4\"]\n",
			want: `ulvs.toml:5: virtual_server[0].sched_flags[0]: unknown scheduler flag "flag-4" (want one of flag-1 flag-2 flag-3 sh-fallback sh-port mh-fallback mh-port)`,
		},
		{
			name: "sched_flags sh flag with rr",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nscheduler = \"rr\"\nsched_flags = [\"sh-port\"]\n",
			want: `ulvs.toml:6: virtual_server[0].sched_flags[0]: "sh-port" only applies to the sh scheduler (scheduler is "rr")`,
		},
		{
			name: "sched_flags same bit twice",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nscheduler = \"sh\"\nsched_flags = [\"sh-fallback\", \"flag-1\"]\n",
			want: `ulvs.toml:6: virtual_server[0].sched_flags[1]: "flag-1" sets the same flag as "sh-fallback"`,
		},
		{
			name: "duplicate service",
			in: fileHead + `[[virtual_server]]
address = "10.0.0.1:80"
[[virtual_server]]
protocol = "udp"
address = "10.0.0.1:80"
[[virtual_server]]
protocol = "tcp"
address = "10.0.0.1:80"
`,
			want: `ulvs.toml:10: virtual_server[2].address: duplicate of virtual_server[0] (TCP 10.0.0.1:80)`,
		},
		{
			name: "duplicate service indices count a bad service",
			in: fileHead + `[[virtual_server]]
address = "10.0.0.1:80"
scheduler = "nope"
[[virtual_server]]
address = "10.0.0.2:80"
[[virtual_server]]
address = "10.0.0.2:80"
`,
			want: `ulvs.toml:5: virtual_server[0].scheduler: unknown scheduler "nope" (want one of rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos)`,
		},

		// [[virtual_server.real_server]]
		{
			// The brief's example message, on its line 14.
			name: "weight negative",
			in: `# ulvs.toml
[director]
interfaces = ["eth0"]

[[virtual_server]]
address = "10.77.0.100:80"
scheduler = "rr"

  [[virtual_server.real_server]]
  address = "10.77.0.11:80"

  [[virtual_server.real_server]]
  address = "10.77.0.12:80"
  weight = -3
`,
			want: `ulvs.toml:14: virtual_server[0].real_server[1].weight: must be between 0 and 65535 (got -3)`,
		},
		{
			name: "weight above ipvsadm's 65535",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nweight = 65536\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].weight: must be between 0 and 65535 (got 65536)`,
		},
		{
			name: "weight a float",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nweight = 1.5\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].weight: must be an integer (got float 1.5)`,
		},
		{
			name: "weight a string",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nweight = \"3\"\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].weight: must be an integer (got string "3")`,
		},
		{
			name: "real_server not an array of tables",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nreal_server = \"10.1.0.1\"\n",
			want: `ulvs.toml:5: virtual_server[0].real_server: must be an array of tables ([[virtual_server[0].real_server]]) (got string "10.1.0.1")`,
		},
		{
			name: "real server address missing",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\nweight = 2\n",
			want: `ulvs.toml:5: virtual_server[0].real_server[0].address: required: the real server's IPv4-address[:port]`,
		},
		{
			name: "real server IPv6",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"2001:db8::5\"\n",
			want: `ulvs.toml:6: virtual_server[0].real_server[0].address: IPv6 is not supported yet (got "2001:db8::5")`,
		},
		{
			name: "real server broadcast",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"255.255.255.255\"\n",
			want: `ulvs.toml:6: virtual_server[0].real_server[0].address: 255.255.255.255 is not a unicast address`,
		},
		{
			name: "real server forward unknown",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nforward = \"snat\"\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].forward: unknown forwarding method "snat" (want dr, tun, nat or fullnat)`,
		},
		{
			name: "dr real server on another port",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1:8080\"\n",
			want: `ulvs.toml:6: virtual_server[0].real_server[0].address: port must equal the service port 80 with route forwarding (got 8080)`,
		},
		{
			name: "tun real server on another port",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nforward = \"TUN\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1:8080\"\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].address: port must equal the service port 80 with tunnel forwarding (got 8080)`,
		},
		{
			name: "nat real server on port 0",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nforward = \"nat\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1:0\"\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].address: port 0 is only allowed when the service port is 0`,
		},
		{
			name: "threshold above INT_MAX",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nupper_threshold = 2147483648\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].upper_threshold: must be between 0 and 2147483647 (got 2147483648)`,
		},
		{
			name: "lower threshold above upper",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nupper_threshold = 100\nlower_threshold = 200\n",
			want: `ulvs.toml:8: virtual_server[0].real_server[0].lower_threshold: must not exceed upper_threshold (200 > 100)`,
		},
		{
			name: "lower threshold without upper",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nlower_threshold = 5\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].lower_threshold: must not exceed upper_threshold (5 > 0)`,
		},
		{
			name: "duplicate real server",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.2\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1:80\"\n",
			want: `ulvs.toml:10: virtual_server[0].real_server[2].address: duplicate of real_server[0] (10.1.0.1:80)`,
		},
		{
			name: "real servers in inline array",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nreal_server = [\n  { address = \"10.1.0.1\" },\n  { address = \"10.1.0.2\", weight = -1 },\n]\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[1].weight: must be between 0 and 65535 (got -1)`,
		},

		{
			name: "CRLF line ends",
			in:   "# windows\r\n[director]\r\ninterfaces = [\"eth0\"]\r\nworkers = 1.0\r\n",
			want: `ulvs.toml:4: director.workers: must be an integer (got float 1)`,
		},
		{
			name: "empty file",
			in:   "",
			want: `ulvs.toml: director.interfaces: required: the interfaces the director listens on`,
		},

		// Several problems: the first in the file is reported.
		{
			name: "earliest line wins",
			in:   "[director]\nworkers = -1\ninterfaces = []\n[timeouts]\nfoo = 1\n",
			want: `ulvs.toml:2: director.workers: must be between 0 and 4096 (got -1)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("ulvs.toml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", f)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse error\n got: %s\nwant: %s", got, tt.want)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, want *Error", err)
			}
			if fe.File != "ulvs.toml" {
				t.Errorf("Error.File = %q, want %q", fe.File, "ulvs.toml")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err.Error())
			}
		})
	}
}

// TestExamplesREADME parses every toml block of examples/README.md, so
// the documentation cannot drift from the parser.
func TestExamplesREADME(t *testing.T) {
	const path = "../examples/README.md"
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

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"all parts", Error{File: "a.toml", Line: 3, Field: "x.y", Msg: "bad"}, "a.toml:3: x.y: bad"},
		{"no line", Error{File: "a.toml", Field: "x", Msg: "bad"}, "a.toml: x: bad"},
		{"no field", Error{File: "a.toml", Line: 1, Msg: "bad"}, "a.toml:1: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load of a missing file: got %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("bad files in testdata", func(t *testing.T) {
		// Each bad-*.toml states the error it must give in a "# want: "
		// comment.
		files, err := filepath.Glob("testdata/bad-*.toml")
		if err != nil || len(files) == 0 {
			t.Fatalf("no testdata/bad-*.toml: %v", err)
		}
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, rest, found := strings.Cut(string(data), "# want: ")
			if !found {
				t.Fatalf("%s has no \"# want: \" line", path)
			}
			want, _, _ := strings.Cut(rest, "\n")
			_, err = Load(path)
			if err == nil {
				t.Errorf("Load(%q) accepted the file", path)
				continue
			}
			if got := err.Error(); got != want {
				t.Errorf("Load(%q)\n got: %s\nwant: %s", path, got, want)
			}
		}
	})
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

// checkFile verifies, independently of the parser, what every accepted
// File must hold.
func checkFile(f *File) error {
	if len(f.Interfaces) == 0 {
		return errors.New("no interfaces")
	}
	for _, name := range f.Interfaces {
		if name == "" || len(name) > 15 {
			return fmt.Errorf("interface %q", name)
		}
	}
	if f.Socket == "" || f.Workers < 0 || f.ConnTableSize < 0 {
		return fmt.Errorf("director: socket %q workers %d conn_table_size %d", f.Socket, f.Workers, f.ConnTableSize)
	}
	const maxTimeout = 86400 * 31
	if f.Timeouts.TCP > maxTimeout || f.Timeouts.TCPFin > maxTimeout || f.Timeouts.UDP > maxTimeout {
		return fmt.Errorf("timeouts %+v", f.Timeouts)
	}
	keys := map[ServiceKey]bool{}
	for i := range f.Rules.Services {
		s := &f.Rules.Services[i]
		if s.Proto != vs.TCP && s.Proto != vs.UDP {
			return fmt.Errorf("service %d: protocol %v", i, s.Proto)
		}
		if !s.Addr.Is4() || s.Addr.IsUnspecified() || s.Addr.IsMulticast() || s.FwMark != 0 {
			return fmt.Errorf("service %d: address %v fwmark %d", i, s.Addr, s.FwMark)
		}
		if s.Port == 0 && !s.Persistent {
			return fmt.Errorf("service %d: port 0 without persistence", i)
		}
		if s.Persistent != (s.Timeout > 0) || s.Timeout > maxTimeout {
			return fmt.Errorf("service %d: persistent %v timeout %d", i, s.Persistent, s.Timeout)
		}
		if s.Netmask.IsValid() && (!s.Netmask.Is4() || !s.Persistent) {
			return fmt.Errorf("service %d: netmask %v", i, s.Netmask)
		}
		if s.OnePacket && s.Proto != vs.UDP {
			return fmt.Errorf("service %d: one-packet on %v", i, s.Proto)
		}
		if !slices.Contains(tomlSchedulers, s.Scheduler) {
			return fmt.Errorf("service %d: scheduler %q", i, s.Scheduler)
		}
		if s.SchedFlags != nil && len(s.SchedFlags) == 0 {
			return fmt.Errorf("service %d: empty, non-nil sched flags", i)
		}
		if keys[s.Key()] {
			return fmt.Errorf("service %d: duplicate %v", i, s.Key())
		}
		keys[s.Key()] = true
		dests := map[netip.AddrPort]bool{}
		for j, d := range s.Dests {
			ap := netip.AddrPortFrom(d.Addr, d.Port)
			if !d.Addr.Is4() || dests[ap] {
				return fmt.Errorf("service %d dest %d: address %v", i, j, ap)
			}
			dests[ap] = true
			if d.Weight < 0 || d.Weight > 65535 || d.LThreshold > d.UThreshold || d.UThreshold > 1<<31-1 {
				return fmt.Errorf("service %d dest %d: weight %d thresholds %d/%d", i, j, d.Weight, d.LThreshold, d.UThreshold)
			}
			switch d.Method {
			case vs.Route, vs.Tunnel:
				if d.Port != s.Port {
					return fmt.Errorf("service %d dest %d: %v on port %d, service port %d", i, j, d.Method, d.Port, s.Port)
				}
			case vs.Masq, vs.FullNAT:
				if d.Port == 0 && s.Port != 0 {
					return fmt.Errorf("service %d dest %d: port 0", i, j)
				}
			default:
				return fmt.Errorf("service %d dest %d: method %v", i, j, d.Method)
			}
		}
	}
	return nil
}

// encodeFile writes f as ulvs.toml text, every key spelled out. It is the
// test's inverse of Parse.
func encodeFile(f *File) string {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "[director]\ninterfaces = [")
	for i, name := range f.Interfaces {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q(name))
	}
	fmt.Fprintf(&b, "]\nsocket = %s\nworkers = %d\nconn_table_size = %d\n", q(f.Socket), f.Workers, f.ConnTableSize)
	fmt.Fprintf(&b, "[timeouts]\ntcp = %d\ntcpfin = %d\nudp = %d\n", f.Timeouts.TCP, f.Timeouts.TCPFin, f.Timeouts.UDP)
	methods := map[vs.Method]string{vs.Route: "dr", vs.Tunnel: "tun", vs.Masq: "nat", vs.FullNAT: "fullnat"}
	for _, s := range f.Rules.Services {
		fmt.Fprintf(&b, "[[virtual_server]]\nprotocol = %s\naddress = %s\nscheduler = %s\npersistence_timeout = %d\none_packet = %v\n",
			q(strings.ToLower(s.Proto.String())), q(netip.AddrPortFrom(s.Addr, s.Port).String()), q(s.Scheduler), s.Timeout, s.OnePacket)
		if s.Netmask.IsValid() {
			fmt.Fprintf(&b, "persistence_netmask = %s\n", q(s.Netmask.String()))
		}
		b.WriteString("sched_flags = [")
		for i, fl := range s.SchedFlags {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q(fl))
		}
		b.WriteString("]\n")
		for _, d := range s.Dests {
			fmt.Fprintf(&b, "[[virtual_server.real_server]]\naddress = %s\nweight = %d\nforward = %s\nupper_threshold = %d\nlower_threshold = %d\n",
				q(netip.AddrPortFrom(d.Addr, d.Port).String()), d.Weight, q(methods[d.Method]), d.UThreshold, d.LThreshold)
		}
	}
	return b.String()
}

// assertFileRoundTrip checks that f written out and parsed again is f.
func assertFileRoundTrip(t *testing.T, f *File) {
	t.Helper()
	text := encodeFile(f)
	again, err := Parse(f.Path, []byte(text))
	if err != nil {
		t.Fatalf("re-parse of the encoded file: %v\n%s", err, text)
	}
	if diff := cmp.Diff(f, again, fileCmpAddr); diff != "" {
		t.Errorf("encode/parse round trip mismatch (-want +got):\n%s\n%s", diff, text)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.toml")
	seeds = append(seeds, "../examples/ulvs.toml")
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nreal_server = [{address = \"10.1.0.1\"}]\n"))
	f.Add([]byte("virtual_server = [{ address = \"1.2.3.4:5\", real_server = [{}] }]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.toml", data)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is more than one line: %q", err.Error())
			}
			if fe.Line < 0 || fe.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("error line %d outside the file: %v", fe.Line, err)
			}
			return
		}
		if err := checkFile(file); err != nil {
			t.Fatalf("accepted an invalid file: %v\n%s", err, data)
		}
		assertFileRoundTrip(t, file)
	})
}
