package tomlfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// This file holds the parser's error tests: one case per mistake, with
// its file:line, key path and message.

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
			name: "synproxy with a dr real server",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nsynproxy = true\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nforward = \"dr\"\n",
			want: `ulvs.toml:6: virtual_server[0].real_server[0]: forward = "dr": the SYN proxy (synproxy = true) works only with nat and fullnat real servers, whose replies pass the director`,
		},
		{
			name: "synproxy with a dr sorry server",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nforward = \"nat\"\nsynproxy = true\nsorry_server = \"10.1.0.9:80\"\nsorry_server_method = \"dr\"\n",
			want: `ulvs.toml:7: virtual_server[0].sorry_server: forward "dr": the SYN proxy (synproxy = true) needs a nat or fullnat sorry server too`,
		},
		{
			name: "synproxy on udp",
			in:   fileHead + "[[virtual_server]]\nprotocol = \"udp\"\naddress = \"10.0.0.1:53\"\nsynproxy = true\n",
			want: `ulvs.toml:6: virtual_server[0].synproxy: only applies to tcp services`,
		},
		{
			name: "keepalived lb_algo",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nlb_algo = \"rr\"\n",
			want: `ulvs.toml:5: virtual_server[0].lb_algo: unknown key (ulvs calls keepalived's lb_algo "scheduler")`,
		},
		{
			name: "keepalived checker setting on the service",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nconnect_timeout = 6\n",
			want: `ulvs.toml:5: virtual_server[0].connect_timeout: unknown key (set it in each [[virtual_server.real_server.check]])`,
		},
		{
			name: "keepalived TCP_CHECK table",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\n[virtual_server.real_server.TCP_CHECK]\nconnect_timeout = 3\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].TCP_CHECK: unknown key (a check is a [[virtual_server.real_server.check]] table with type = "tcp")`,
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
			want: `ulvs.toml:1: director.interfaces: required: the interfaces the director listens on; the file has no [director] table (add one: [director] and interfaces = ["eth0"])`,
		},
		{
			name: "empty file",
			in:   "",
			want: `ulvs.toml:1: director.interfaces: required: the interfaces the director listens on; the file has no [director] table (add one: [director] and interfaces = ["eth0"])`,
		},
		{
			name: "director from a dotted key only",
			in:   "# comment\n\ndirector.workers = 2\n",
			want: `ulvs.toml:3: director.interfaces: required: the interfaces the director listens on`,
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
			name: "exit_on_interface_loss not a boolean",
			in:   fileHead + "exit_on_interface_loss = \"yes\"\n",
			want: `ulvs.toml:3: director.exit_on_interface_loss: must be true or false (got string "yes")`,
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
			want: `ulvs.toml:3: virtual_server[0].address: required: the virtual IPv4-address:port or [IPv6-address]:port (or fwmark = N for a [[fwmark]] port group)`,
		},
		{
			name: "address without port",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: must be IPv4-address:port or [IPv6-address]:port (got "10.0.0.1")`,
		},
		{
			name: "address IPv6 without brackets",
			in:   fileHead + "[[virtual_server]]\naddress = \"2001:db8::1\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: must be IPv4-address:port or [IPv6-address]:port (got "2001:db8::1")`,
		},
		{
			name: "address IPv4-mapped IPv6",
			in:   fileHead + "[[virtual_server]]\naddress = \"[::ffff:10.0.0.1]:80\"\n",
			want: `ulvs.toml:4: virtual_server[0].address: [::ffff:10.0.0.1]:80 is an IPv4-mapped IPv6 address; write the IPv4 address`,
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
			want: `ulvs.toml:14: virtual_server[0].real_server[1].weight: must be between 0 and 2147483647 (got -3)`,
		},
		{
			name: "weight above the kernel's INT_MAX",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nweight = 2147483648\n",
			want: `ulvs.toml:7: virtual_server[0].real_server[0].weight: must be between 0 and 2147483647 (got 2147483648)`,
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
			want: `ulvs.toml:5: virtual_server[0].real_server[0].address: required: the real server's IPv4-address[:port] or [IPv6-address]:port`,
		},
		{
			name: "real server IPv6 in an IPv4 service",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"2001:db8::5\"\n",
			want: `ulvs.toml:6: virtual_server[0].real_server[0].address: real server 2001:db8::5 in a service of the other address family: only tunnelling (-i, TUN) real servers may be: invalid operation`,
		},
		{
			name: "IPv6 netmask not a prefix length",
			in:   fileHead + "[[virtual_server]]\naddress = \"[2001:db8::1]:80\"\npersistence_timeout = 60\npersistence_netmask = \"255.255.255.0\"\n",
			want: `ulvs.toml:6: virtual_server[0].persistence_netmask: must be a prefix length from 1 to 128 for an IPv6 service, like "64" (got "255.255.255.0")`,
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
			want: `ulvs.toml:7: virtual_server[0].real_server[1].weight: must be between 0 and 2147483647 (got -1)`,
		},

		// [[fwmark]] and [[fwmark.match]]
		{
			name: "fwmark as a plain table",
			in:   fileHead + "[fwmark]\nmark = 21\n",
			want: `ulvs.toml:3: fwmark: must be an array of tables ([[fwmark]]) (got table)`,
		},
		{
			name: "mark missing",
			in:   fileHead + "[[fwmark]]\n[[fwmark.match]]\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:3: fwmark[0].mark: required: the mark number, 1 to 4294967295`,
		},
		{
			name: "mark 0",
			in:   fileHead + "[[fwmark]]\nmark = 0\n[[fwmark.match]]\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:4: fwmark[0].mark: must be between 1 and 4294967295 (got 0)`,
		},
		{
			name: "mark above 2^32-1",
			in:   fileHead + "[[fwmark]]\nmark = 4294967296\n[[fwmark.match]]\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:4: fwmark[0].mark: must be between 1 and 4294967295 (got 4294967296)`,
		},
		{
			name: "mark a string",
			in:   fileHead + "[[fwmark]]\nmark = \"21\"\n[[fwmark.match]]\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:4: fwmark[0].mark: must be an integer (got string "21")`,
		},
		{
			name: "mark defined twice",
			in: fileHead + `[[fwmark]]
mark = 21
match = [{ address = "10.0.0.1", ports = [21] }]
[[fwmark]]
mark = 22
match = [{ address = "10.0.0.1", ports = [22] }]
[[fwmark]]
mark = 21
match = [{ address = "10.0.0.2" }]
`,
			want: `ulvs.toml:10: fwmark[2].mark: duplicate of fwmark[0] (mark 21)`,
		},
		{
			name: "mark without match",
			in:   fileHead + "\n[[fwmark]]\nmark = 21\n",
			want: `ulvs.toml:4: fwmark[0].match: required: at least one [[fwmark.match]] choosing the packets that get the mark`,
		},
		{
			name: "mark with an empty match array",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = []\n",
			want: `ulvs.toml:5: fwmark[0].match: must hold at least one match`,
		},
		{
			name: "match a string",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = \"10.0.0.1\"\n",
			want: `ulvs.toml:5: fwmark[0].match: must be an array of tables ([[fwmark[0].match]]) (got string "10.0.0.1")`,
		},
		{
			name: "match keys straight in the fwmark table",
			in:   fileHead + "[[fwmark]]\nmark = 21\nports = [21]\n[[fwmark.match]]\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:5: fwmark[0].ports: unknown key (it belongs in a [[fwmark.match]] table)`,
		},
		{
			name: "iptables set-mark",
			in:   fileHead + "[[fwmark]]\nmark = 21\nset-mark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:5: fwmark[0].set-mark: unknown key (ulvs calls iptables' set-mark "mark")`,
		},
		{
			name: "iptables destination",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\ndestination = \"10.0.0.2\"\n",
			want: `ulvs.toml:7: fwmark[0].match[0].destination: unknown key (ulvs calls iptables' destination "address")`,
		},
		{
			name: "iptables dport",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\ndport = 21\n",
			want: `ulvs.toml:7: fwmark[0].match[0].dport: unknown key (ulvs calls iptables' dport "ports")`,
		},
		{
			name: "match protocol icmp",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\nprotocol = \"icmp\"\naddress = \"10.0.0.1\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].protocol: must be "tcp" or "udp" (got "icmp")`,
		},
		{
			name: "match address missing",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\nports = [21]\n",
			want: `ulvs.toml:5: fwmark[0].match[0].address: required: the destination IPv4 or IPv6 address (the VIP) or prefix`,
		},
		{
			name: "match address a number",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = 167772161\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: must be a string (got integer 167772161)`,
		},
		{
			name: "match address with a port",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1:21\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: must be an IPv4 address or prefix without a port (got "10.0.0.1:21"); ports go in ports`,
		},
		{
			name: "match prefix IPv6 host bits",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"2001:db8::1/64\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: 2001:db8::1/64 has host bits set (did you mean 2001:db8::/64?)`,
		},
		{
			name: "match IPv6 link-local",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"fe80::1\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: fe80::1 is not a unicast address`,
		},
		{
			name: "match source of the other family",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"2001:db8::1\"\nsource = \"10.0.0.0/8\"\n",
			want: `ulvs.toml:7: fwmark[0].match[0].source: 10.0.0.0/8 is not of the address's family (2001:db8::1/128): a packet has both`,
		},
		{
			name: "IPv6 fwmark service without an IPv6 match",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = [{ address = \"10.0.0.1\" }]\n[[virtual_server]]\nfwmark = 21\nfamily = \"ipv6\"\n",
			want: `ulvs.toml:7: virtual_server[0].fwmark: [[fwmark]] 21 has no ipv6 match, so no packet reaches this ipv6 service (family = "ipv4" takes the other family's)`,
		},
		{
			name: "IPv4 fwmark service without an IPv4 match",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = [{ address = \"2001:db8::1\" }]\n[[virtual_server]]\nfwmark = 21\n",
			want: `ulvs.toml:7: virtual_server[0].fwmark: [[fwmark]] 21 has no ipv4 match, so no packet reaches this ipv4 service (family = "ipv6" takes the other family's)`,
		},
		{
			name: "family not a family",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = [{ address = \"2001:db8::1\" }]\n[[virtual_server]]\nfwmark = 21\nfamily = \"inet6\"\n",
			want: `ulvs.toml:8: virtual_server[0].family: must be "ipv4" or "ipv6" (got "inet6")`,
		},
		{
			name: "family on an address service",
			in:   fileHead + "[[virtual_server]]\naddress = \"[2001:db8::1]:80\"\nfamily = \"ipv6\"\n",
			want: `ulvs.toml:5: virtual_server[0].family: only for a fwmark service: an address service's family is its address's`,
		},
		{
			name: "IPv4 real server in an IPv6 fwmark service",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = [{ address = \"2001:db8::1\" }]\n[[virtual_server]]\nfwmark = 21\nfamily = \"ipv6\"\n[[virtual_server.real_server]]\naddress = \"10.0.0.2\"\n",
			want: `ulvs.toml:10: virtual_server[0].real_server[0].address: real server 10.0.0.2 in a service of the other address family: only tunnelling (-i, TUN) real servers may be: invalid operation`,
		},
		{
			name: "match address a host name",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"ftp.example.com\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: must be an IPv4 address or prefix like 10.0.0.0/24 (got "ftp.example.com")`,
		},
		{
			name: "match prefix length out of range",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.0/33\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: must be an IPv4 address or prefix like 10.0.0.0/24 (got "10.0.0.0/33")`,
		},
		{
			name: "match prefix with host bits",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.77.0.100/24\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: 10.77.0.100/24 has host bits set (did you mean 10.77.0.0/24?)`,
		},
		{
			name: "match prefix /0",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"0.0.0.0/0\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: 0.0.0.0/0 matches every destination; name the VIPs or their subnet`,
		},
		{
			name: "match prefix multicast",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"239.0.0.0/8\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: 239.0.0.0/8 is not a unicast prefix`,
		},
		{
			name: "match address broadcast",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"255.255.255.255\"\n",
			want: `ulvs.toml:6: fwmark[0].match[0].address: 255.255.255.255 is not a unicast address`,
		},
		{
			name: "ports not an array",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = 21\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports: must be an array of ports and "first-last" ranges (got integer 21)`,
		},
		{
			name: "ports a range string without the array",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = \"10000-20000\"\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports: must be an array of ports and "first-last" ranges (got string "10000-20000")`,
		},
		{
			name: "port 0",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [\n  21,\n  0,\n]\n",
			want: `ulvs.toml:9: fwmark[0].match[0].ports[1]: port must be between 1 and 65535 (got 0); leave ports out to match every port`,
		},
		{
			name: "port above 65535",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [65536]\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports[0]: port must be between 1 and 65535 (got 65536); leave ports out to match every port`,
		},
		{
			name: "port range from 0",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [\"0:1023\"]\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports[0]: ports must be between 1 and 65535 (got "0:1023"); leave ports out to match every port`,
		},
		{
			name: "port range reversed",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [21, \"20000-10000\"]\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports[1]: range "20000-10000" is reversed: the first port must not exceed the last`,
		},
		{
			name: "port range above 65535",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [\"60000-70000\"]\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports[0]: must be a port or a range like "10000-20000" (got "60000-70000")`,
		},
		{
			name: "port range open-ended as iptables allows",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [\"1024:\"]\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports[0]: must be a port or a range like "10000-20000" (got "1024:")`,
		},
		{
			name: "port by service name",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [\"ftp\"]\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports[0]: must be a port or a range like "10000-20000" (got "ftp")`,
		},
		{
			name: "port with a sign",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [\"+21\"]\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports[0]: must be a port or a range like "10000-20000" (got "+21")`,
		},
		{
			name: "port a float",
			in:   fileHead + "[[fwmark]]\nmark = 21\n[[fwmark.match]]\naddress = \"10.0.0.1\"\nports = [21.0]\n",
			want: `ulvs.toml:7: fwmark[0].match[0].ports[0]: must be a port number or a "first-last" range string (got float 21)`,
		},
		{
			name: "second match of the second mark",
			in: fileHead + `[[fwmark]]
mark = 1
  [[fwmark.match]]
  address = "10.0.0.1"
[[fwmark]]
mark = 2
  [[fwmark.match]]
  address = "10.0.0.2"
  [[fwmark.match]]
  protocol = "udp"
  address = "10.0.0.2"
  ports = [53, "5353-5300"]
`,
			want: `ulvs.toml:14: fwmark[1].match[1].ports[1]: range "5353-5300" is reversed: the first port must not exceed the last`,
		},

		// virtual_server with fwmark
		{
			name: "address and fwmark both",
			in:   fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:21\"\nfwmark = 21\n",
			want: `ulvs.toml:5: virtual_server[0].fwmark: a virtual_server has either address or fwmark, not both`,
		},
		{
			name: "fwmark without any [[fwmark]]",
			in:   fileHead + "[[virtual_server]]\nfwmark = 21\npersistence_timeout = 300\n",
			want: `ulvs.toml:4: virtual_server[0].fwmark: no [[fwmark]] table in this file defines mark 21`,
		},
		{
			name: "fwmark not among the defined ones",
			in: fileHead + `[[virtual_server]]
fwmark = 3
[[fwmark]]
mark = 2
match = [{ address = "10.0.0.1" }]
[[fwmark]]
mark = 1
match = [{ address = "10.0.0.2" }]
`,
			want: `ulvs.toml:4: virtual_server[0].fwmark: no [[fwmark]] table in this file defines mark 3 (defined: 1, 2)`,
		},
		{
			name: "fwmark 0",
			in:   fileHead + "[[virtual_server]]\nfwmark = 0\n",
			want: `ulvs.toml:4: virtual_server[0].fwmark: must be between 1 and 4294967295 (got 0)`,
		},
		{
			name: "fwmark as a string",
			in:   fileHead + "[[virtual_server]]\nfwmark = \"21\"\n",
			want: `ulvs.toml:4: virtual_server[0].fwmark: must be an integer (got string "21")`,
		},
		{
			name: "protocol on a mark service",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = [{ address = \"10.0.0.1\" }]\n[[virtual_server]]\nfwmark = 21\nprotocol = \"udp\"\n",
			want: `ulvs.toml:8: virtual_server[0].protocol: not allowed with fwmark: the [[fwmark]] matches choose the protocols`,
		},
		{
			name: "one_packet on a mark without udp",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = [{ address = \"10.0.0.1\" }]\n[[virtual_server]]\nfwmark = 21\none_packet = true\n",
			want: `ulvs.toml:8: virtual_server[0].one_packet: only applies to udp, and [[fwmark]] 21 matches no udp packets`,
		},
		{
			name: "dr real server with a port on a mark service",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = [{ address = \"10.0.0.1\" }]\n[[virtual_server]]\nfwmark = 21\n[[virtual_server.real_server]]\naddress = \"10.1.0.1:21\"\n",
			want: `ulvs.toml:9: virtual_server[0].real_server[0].address: port must be 0 or left out with route forwarding to a fwmark service, which keeps each packet's port (got 21)`,
		},
		{
			name: "tun real server with a port on a mark service",
			in:   fileHead + "[[fwmark]]\nmark = 21\nmatch = [{ address = \"10.0.0.1\" }]\n[[virtual_server]]\nfwmark = 21\n[[virtual_server.real_server]]\nforward = \"tun\"\naddress = \"10.1.0.1:21\"\n",
			want: `ulvs.toml:10: virtual_server[0].real_server[0].address: port must be 0 or left out with tunnel forwarding to a fwmark service, which keeps each packet's port (got 21)`,
		},
		{
			name: "undefined mark reported before its real servers' problems",
			in:   fileHead + "[[virtual_server]]\nfwmark = 21\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\nweight = -1\n",
			want: `ulvs.toml:4: virtual_server[0].fwmark: no [[fwmark]] table in this file defines mark 21`,
		},
		{
			name: "duplicate mark service",
			in: fileHead + `[[fwmark]]
mark = 21
match = [{ address = "10.0.0.1" }]
[[virtual_server]]
fwmark = 21
scheduler = "rr"
[[virtual_server]]
fwmark = 21
scheduler = "wrr"
`,
			want: `ulvs.toml:10: virtual_server[1].fwmark: duplicate of virtual_server[0] (FWM 21)`,
		},

		// [sysctl]
		{
			name: "sysctl not a table",
			in:   "sysctl = 1\n" + fileHead,
			want: `ulvs.toml:1: sysctl: must be a table (got integer 1)`,
		},
		{
			name: "sysctl misspelled table",
			in:   fileHead + "[sysctls]\nsloppy_tcp = 1\n",
			want: `ulvs.toml:3: sysctls: unknown key (did you mean "sysctl"?)`,
		},
		{
			name: "sysctl with the net.ipv4.vs. prefix",
			in:   fileHead + "[sysctl]\nnet.ipv4.vs.sloppy_tcp = 1\n",
			want: `ulvs.toml:4: sysctl.net: unknown key (name the sysctl without its net.ipv4.vs. prefix)`,
		},
		{
			name: "sysctl typo",
			in:   fileHead + "[sysctl]\nsloppy_tpc = 1\n",
			want: `ulvs.toml:4: sysctl.sloppy_tpc: unknown key (did you mean "sloppy_tcp"?)`,
		},
		{
			name: "sync_threshold one number",
			in:   fileHead + "[sysctl]\nsync_threshold = 3\n",
			want: `ulvs.toml:4: sysctl.sync_threshold: must be two non-negative integers, [threshold, period] (the kernel's default is [3, 50])`,
		},
		{
			name: "sync_retries negative",
			in:   fileHead + "[sysctl]\nsync_retries = -1\n",
			want: `ulvs.toml:4: sysctl.sync_retries: must be between 0 and 2147483647 (got -1)`,
		},
		{
			name: "conn_reuse_mode beyond its two bits",
			in:   fileHead + "[sysctl]\nconn_reuse_mode = 4\n",
			want: `ulvs.toml:4: sysctl.conn_reuse_mode: must be between 0 and 3 (got 4)`,
		},
		{
			name: "drop_entry beyond mode 3",
			in:   fileHead + "[sysctl]\ndrop_entry = 4\n",
			want: `ulvs.toml:4: sysctl.drop_entry: must be between 0 and 3 (got 4)`,
		},
		{
			name: "amemthresh negative",
			in:   fileHead + "[sysctl]\namemthresh = -1\n",
			want: `ulvs.toml:4: sysctl.amemthresh: must be between 0 and 2147483647 (got -1)`,
		},
		{
			name: "conn_reuse_mode a boolean",
			in:   fileHead + "[sysctl]\nconn_reuse_mode = true\n",
			want: `ulvs.toml:4: sysctl.conn_reuse_mode: must be an integer (got boolean true)`,
		},
		{
			name: "expire_nodest_conn 2",
			in:   fileHead + "[sysctl]\nexpire_nodest_conn = 2\n",
			want: `ulvs.toml:4: sysctl.expire_nodest_conn: must be 0, 1, true or false (got integer 2)`,
		},
		{
			name: "sloppy_tcp a string",
			in:   fileHead + "[sysctl]\nsloppy_tcp = \"yes\"\n",
			want: `ulvs.toml:4: sysctl.sloppy_tcp: must be 0, 1, true or false (got string "yes")`,
		},
		{
			name: "expire_quiescent_template a float",
			in:   fileHead + "[sysctl]\nexpire_quiescent_template = 1.0\n",
			want: `ulvs.toml:4: sysctl.expire_quiescent_template: must be 0, 1, true or false (got float 1)`,
		},
		{
			name: "lblc_expiration 0",
			in:   fileHead + "[sysctl]\nlblc_expiration = 0\n",
			want: `ulvs.toml:4: sysctl.lblc_expiration: must be between 1 and 2147483 (got 0)`,
		},
		{
			name: "lblcr_expiration beyond what jiffies hold",
			in:   fileHead + "[sysctl]\nlblcr_expiration = 2147484\n",
			want: `ulvs.toml:4: sysctl.lblcr_expiration: must be between 1 and 2147483 (got 2147484)`,
		},
		{
			name: "lblc_expiration as a duration",
			in:   fileHead + "[sysctl]\nlblc_expiration = \"24h\"\n",
			want: `ulvs.toml:4: sysctl.lblc_expiration: must be an integer (got string "24h")`,
		},
		{
			name: "mh_table_size not one of the kernel's primes",
			in:   fileHead + "[sysctl]\nmh_table_size = 4099\n",
			want: `ulvs.toml:4: sysctl.mh_table_size: must be one of the kernel's mh table sizes 251 509 1021 2039 4093 8191 16381 32749 65521 131071 (got 4099)`,
		},
		{
			name: "mh_table_size negative",
			in:   fileHead + "[sysctl]\nmh_table_size = -251\n",
			want: `ulvs.toml:4: sysctl.mh_table_size: must be one of the kernel's mh table sizes 251 509 1021 2039 4093 8191 16381 32749 65521 131071 (got -251)`,
		},
		{
			name: "overhead unknown",
			in:   fileHead + "[sysctl]\noverhead = \"sum\"\n",
			want: `ulvs.toml:4: sysctl.overhead: must be "classic" or "total" (got "sum")`,
		},
		{
			name: "overhead a number",
			in:   fileHead + "[sysctl]\noverhead = 1\n",
			want: `ulvs.toml:4: sysctl.overhead: must be a string (got integer 1)`,
		},

		{
			name: "CRLF line ends",
			in:   "# windows\r\n[director]\r\ninterfaces = [\"eth0\"]\r\nworkers = 1.0\r\n",
			want: `ulvs.toml:4: director.workers: must be an integer (got float 1)`,
		},
		{
			name: "empty file",
			in:   "",
			want: `ulvs.toml:1: director.interfaces: required: the interfaces the director listens on; the file has no [director] table (add one: [director] and interfaces = ["eth0"])`,
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
			var fe *config.Error
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

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  config.Error
		want string
	}{
		{"all parts", config.Error{File: "a.toml", Line: 3, Field: "x.y", Msg: "bad"}, "a.toml:3: x.y: bad"},
		{"no line", config.Error{File: "a.toml", Field: "x", Msg: "bad"}, "a.toml: x: bad"},
		{"no field", config.Error{File: "a.toml", Line: 1, Msg: "bad"}, "a.toml:1: bad"},
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
