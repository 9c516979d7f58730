package piranha

import (
	"errors"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// TestErrors checks that each wrong line stops the parse with a
// *config.Error naming the file, the line and the problem. In
// virtualWith, vLines start on line 5; sLines on line 6 when vLines is
// empty (after the server line), line 7 when it is one line.
func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		name, text, want string // want: the error's prefix
	}{
		{"empty", "# nothing\n\n", "x.cf: empty configuration"},
		{"unclosed quote", "primary = \"10.0.0.1\n", "x.cf:1: quotation mismatch"},
		{"no equals", "primary 10.0.0.1\n", "x.cf:1: primary: equal (=) expected"},
		{"equals glued", "keepalive=6\n", `x.cf:1: keepalive=6: equal (=) expected as a word of its own: write "keepalive = 6"`},
		{"missing value", "keepalive =\n", "x.cf:1: keepalive: missing arguments"},
		{"extra value", "keepalive = 6 # seconds\n", "x.cf:1: keepalive: unexpected arguments: takes one value, got 3"},
		{"integer", "keepalive = six\n", `x.cf:1: keepalive: integer expected (got "six")`},
		{"hex is not decimal", "deadtime = 0x10\n", `x.cf:1: deadtime: integer expected`},
		{"octal", "deadtime = 010\n", `x.cf:1: deadtime: 010 has a leading zero, which Piranha reads as octal`},
		{"octal port", virtualWith("port = 080\n", ""), `x.cf:5: port: 080 has a leading zero`},
		{"zero keepalive", "keepalive = 0\n", "x.cf:1: keepalive: must be between 1 and"},
		{"boolean", "backup_active = yes\n", `x.cf:1: backup_active: boolean expected: 0 or 1 (got "yes")`},
		{"unknown global", "debug = NONE\n", `x.cf:1: debug: unknown command "debug" in the global section`},
		{"service fos", "service = fos\n", "x.cf:1: service: service = fos (failover services) is not supported"},
		{"service other", "service = web\n", `x.cf:1: service: invalid argument "web": lvs or fos`},
		{"network", "network = dr\n", `x.cf:1: network: invalid argument "dr": direct, nat or tunnel`},
		{"primary zero", "primary = 0.0.0.0\n", "x.cf:1: primary: invalid host name or IP address"},
		{"unknown host", "primary = nowhere\n", `x.cf:1: primary: invalid host name or IP address "nowhere": unknown host nowhere`},
		{"bad dotted", "backup = 10.0.0.300\n", `x.cf:1: backup: invalid host name or IP address "10.0.0.300"`},
		{"IPv6", "primary = 2001:db8::1\n", "x.cf:1: primary: 2001:db8::1: IPv6 is not supported"},
		{"heartbeat port name", "heartbeat_port = nosuch\n", `x.cf:1: heartbeat_port: "nosuch" is neither a port number nor a service name`},
		{"heartbeat port zero", "heartbeat_port = 0\n", "x.cf:1: heartbeat_port: must be between 1 and 65535"},
		{"empty active_cmd", "active_cmd = \"  \"\n", "x.cf:1: active_cmd: empty command: name a program"},
		{"nat_router without device", "nat_router = 10.77.1.1\n", `x.cf:1: nat_router: missing arguments: takes 2 values (an address and its device`},
		{"nat_router bad device", "nat_router = 10.77.1.1 eth/1\n", `x.cf:1: nat_router: device "eth/1"`},
		{"nat_nmask", "nat_nmask = 255.0.255.0\n", `x.cf:1: nat_nmask: bad subnet mask "255.0.255.0"`},
		{"timeout range", "tcp_timeout = 99999999\n", "x.cf:1: tcp_timeout: must be between 0 and 2678400"},
		{"stray brace", "}\n", "x.cf:1: unexpected '}' outside a virtual block"},

		// Blocks.
		{"virtual without name", "virtual {\n}\n", "x.cf:1: virtual: missing arguments"},
		{"brace on next line", "virtual web\n{\n}\n", "x.cf:1: virtual: missing arguments"},
		{"virtual extra", "virtual web { x\n}\n", "x.cf:1: virtual: unexpected arguments after '{'"},
		{"virtual not closed", "virtual web {\nactive = 1\n", "x.cf:1: virtual: unexpected end of file: virtual web { is not closed"},
		{"server not closed", "virtual web {\nserver a {\naddress = 10.0.0.1\n", "x.cf:2: server: unexpected end of file: server a { is not closed"},
		{"closing brace extra", "virtual web {\n} x\n", "x.cf:2: unexpected arguments after '}'"},
		{"unknown virtual keyword", virtualWith("delay_loop = 6\n", ""), `x.cf:5: delay_loop: unknown command "delay_loop" in virtual web`},
		{"unknown server keyword", virtualWith("", "notify_up = x\n"), `x.cf:8: notify_up: unknown command "notify_up" in server rs1`},
		{"nested virtual", virtualWith("", "server x {\n"), `x.cf:8: server: unknown command "server" in server rs1`},

		// Virtual settings.
		{"address without device", virtualWith("address = 10.77.0.100\n", ""), "x.cf:5: address: missing arguments: takes 2 values (an address and its device"},
		{"address multicast", virtualWith("address = 224.0.0.1 eth0\n", ""), "x.cf:5: address: 224.0.0.1 is not a unicast address"},
		{"protocol", virtualWith("protocol = TCP\n", ""), `x.cf:5: protocol: invalid argument "TCP": tcp or udp`},
		{"scheduler", virtualWith("scheduler = fast\n", ""), `x.cf:5: scheduler: invalid argument "fast"`},
		{"port name", virtualWith("port = nosuch\n", ""), `x.cf:5: port: "nosuch" is neither a port number nor a service name`},
		{"port range", virtualWith("port = 65536\n", ""), "x.cf:5: port: must be between 0 and 65535"},
		{"port zero", virtualWith("port = 0\n", ""), "x.cf:5: port: virtual web: port 0 is only valid for a persistent service"},
		{"persistent range", virtualWith("persistent = -1\n", ""), "x.cf:5: persistent: must be between 0 and"},
		{"pmask", virtualWith("persistent = 10\npmask = 255.255.0.255\n", ""), `x.cf:6: pmask: bad subnet mask`},
		{"vip_nmask", virtualWith("vip_nmask = x\n", ""), `x.cf:5: vip_nmask: bad subnet mask "x"`},
		{"sorry name", virtualWith("sorry_server = rs1\n", ""), `x.cf:5: sorry_server: invalid IP address "rs1"`},
		{"timeout zero", virtualWith("timeout = 0\n", ""), "x.cf:5: timeout: must be between 1 and"},
		{"load monitor uptime", virtualWith("load_monitor = uptime\n", ""), "x.cf:5: load_monitor: load_monitor = uptime is not implemented by ulvs"},
		{"load monitor rup", virtualWith("load_monitor = rup\n", ""), "x.cf:5: load_monitor: load_monitor = rup is not implemented by ulvs"},
		{"load monitor command", virtualWith("load_monitor = /bin/load\n", ""), "x.cf:5: load_monitor: load_monitor = /bin/load: ulvs runs no load-monitor command"},
		{"bad escape", virtualWith("send = \"a\\d\"\n", ""), `x.cf:5: send: unknown escape \d`},
		{"trailing backslash", virtualWith("expect = \"a\\\"\n", ""), `x.cf:5: expect: ends with a backslash`},
		{"send unquoted words", virtualWith("send = GET / HTTP/1.0\n", ""), "x.cf:5: send: unexpected arguments: takes one value, got 3"},
		{"program without expect", virtualWith("send_program = \"/bin/x %h\"\n", ""), "x.cf:2: send_program: virtual web: send_program without expect can never succeed"},
		{"empty program", virtualWith("send_program = \" \"\n", ""), "x.cf:5: send_program: names no program"},
		{"bad regex", virtualWith("use_regex = 1\nexpect = \"(\"\n", ""), "x.cf:2: expect: virtual web: expect is not a regular expression"},
		{"no address", "virtual web {\nactive = 1\n}\n", "x.cf:1: virtual: virtual web has no address"},
		{"same service twice", virtualWith("", "") + "virtual again {\nactive = 1\naddress = 10.77.0.100 eth0:2\n}\n", "x.cf:10: virtual: virtual again is the same service as virtual web (line 2)"},

		// Server settings.
		{"server no address", "network = direct\nvirtual web {\nactive = 1\naddress = 10.77.0.100 eth0:1\nserver a {\nactive = 1\n}\n}\n", "x.cf:5: server: server a has no address"},
		{"server port name", virtualWith("", "port = http\n"), `x.cf:8: port: integer expected (got "http")`},
		{"server port zero", virtualWith("", "port = 0\n"), "x.cf:8: port: must be between 1 and 65535"},
		{"weight", virtualWith("", "weight = 65536\n"), "x.cf:8: weight: must be between 0 and 65535"},
		{"server host", virtualWith("", "address = nowhere\n"), `x.cf:8: address: invalid host name or IP address "nowhere"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.cf", []byte(tt.text), testOpts())
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
