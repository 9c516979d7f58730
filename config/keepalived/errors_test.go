package keepalived

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// vsWith wraps lines into a complete virtual server whose real server is
// 10.0.0.1 80; rsLines go into the real server. The virtual_server line
// is line 1, vsLines start on line 2.
func vsWith(vsLines string, rsLines string) string {
	return "virtual_server 10.0.0.100 80 {\nlb_algo rr\nlb_kind DR\nprotocol TCP\n" + vsLines +
		"real_server 10.0.0.1 80 {\n" + rsLines + "}\n}\n"
}

// groupMixed and group6 open a virtual server of a group of both
// families, of IPv6 (the virtual_server line is line 5 and 4); rs6 closes
// it with an IPv6 real server.
const (
	groupMixed = "virtual_server_group G {\n10.0.0.1 80\n2001:db8::1 80\n}\nvirtual_server group G {\nprotocol TCP\nlb_kind DR\n"
	group6     = "virtual_server_group G {\n2001:db8::1 80\n}\nvirtual_server group G {\nprotocol TCP\nlb_kind DR\n"
	rs6        = "real_server 2001:db8::11 80 {\n}\n}\n"
)

// TestErrors checks that each wrong value stops the parse with a
// *config.Error naming the file, the line and the problem.
func TestErrors(t *testing.T) {
	// In vsWith, vsLines start at line 5 and rsLines at line 6 when
	// vsLines is one line (line 5 + real_server line).
	for _, tt := range []struct {
		name string
		conf string
		want string // "k.conf:LINE: ..." prefix and substring, separated by " ... "
	}{
		// Syntax.
		{"unexpected brace", "{\n}", "k.conf:1: unexpected '{'"},
		{"extra brace", "global_defs {\n}\n}", "k.conf:3: extra '}'"},
		{"unclosed block", "global_defs {\nrouter_id x\n", "k.conf:1: global_defs: block not closed"},
		{"unterminated quote", "global_defs {\nrouter_id \"x\n}", "k.conf:2: unterminated quote"},
		{"conditional line", "global_defs {\n@main router_id x\n}", "k.conf:2: conditional configuration"},
		{"parameter definition", "$X=1\n", "k.conf:1: parameter definitions"},
		{"sequence", "~SEQ(i,1,3) x\n", "k.conf:1: ~SEQ and ~LST"},
		{"blocks too deep", strings.Repeat("a {\n", maxBlockDepth+1), "blocks nested more than"},

		// Block shape and value counts.
		{"block keyword without block", "global_defs\n", "k.conf:1: global_defs: needs a { } block"},
		{"value with block", vsWith("delay_loop 3 { }\n", ""), "k.conf:5: delay_loop: takes no { } block"},
		{"value missing", vsWith("delay_loop\n", ""), "k.conf:5: delay_loop: needs a value"},
		{"two values", vsWith("delay_loop 3 4\n", ""), "k.conf:5: delay_loop: takes one value (got 2: 3 4)"},
		{"flag with a value", vsWith("ha_suspend yes\n", ""), "k.conf:5: ha_suspend: takes no value"},
		{"bad bool", vsWith("", "inhibit_on_failure maybe\n"), "k.conf:6: inhibit_on_failure: takes true/false"},

		// virtual_server line.
		{"virtual_server no args", "virtual_server {\n}", "k.conf:1: virtual_server: takes IP [PORT], fwmark N or group NAME"},
		{"bad address", "virtual_server 10.0.0.999 80 {\n}", `k.conf:1: virtual_server: "10.0.0.999" is not an IP address`},
		{"IPv6 virtual server with a zone", "virtual_server fe80::1%eth0 80 {\n}", "k.conf:1: virtual_server: fe80::1%eth0: an address with a zone is not supported by ulvs"},
		{"IPv6 link-local virtual server", "virtual_server fe80::1 80 {\n}", "k.conf:1: virtual_server: fe80::1 is not a unicast address"},
		{"IPv6 granularity", "virtual_server 2001:db8::1 80 {\npersistence_timeout 60\npersistence_granularity 129\nprotocol TCP\n}", "k.conf:3: persistence_granularity"},
		{"netmask with holes", vsWith("persistence_granularity 255.0.255.0\n", ""), "k.conf:5: persistence_granularity: 255.0.255.0 is not a contiguous netmask like 255.255.255.0, which ulvs needs"},
		{"virtual address 0.0.0.0", "virtual_server 0.0.0.0 80 {\n}", "k.conf:1: virtual_server: 0.0.0.0 is not a unicast address (a virtual address must be one)"},
		{"multicast in a group", "virtual_server_group G {\n223.255.255.255-224.0.0.1 80\n}\nvirtual_server group G {\nprotocol TCP\nreal_server 10.0.0.1 80 {\n}\n}", "k.conf:1: virtual_server_group: group G: 224.0.0.0 is not a unicast address"},
		{"port out of range", "virtual_server 10.0.0.1 70000 {\n}", `"70000" is out of range [0, 65535]`},
		{"fwmark zero", "virtual_server fwmark 0 {\n}", `k.conf:1: virtual_server: fwmark "0" is out of range`},

		// virtual_server keywords.
		{"scheduler", vsWith("lb_algo fast\n", ""), `k.conf:5: lb_algo: "fast" is not a scheduler`},
		{"lb_kind lower case", vsWith("lb_kind dr\n", ""), `k.conf:5: lb_kind: "dr" is not NAT, DR or TUN`},
		{"syn_proxy with DR", vsWith("syn_proxy\n", ""), "k.conf:5: syn_proxy: the SYN proxy needs NAT real servers (the director translates their replies); real server 10.0.0.1 80 is Route"},
		{"syn_proxy on UDP", "virtual_server 10.0.0.100 53 {\nlb_kind NAT\nprotocol UDP\nsyn_proxy\nreal_server 10.0.0.1 53 {\n}\n}\n", "k.conf:4: syn_proxy: the SYN proxy only applies to TCP virtual servers"},
		{"lb_kind FULLNAT", vsWith("lb_kind FNAT\n", ""), `FNAT (Alibaba's keepalived) is not read from keepalived.conf`},
		{"lb_kind other", vsWith("lb_kind MASQ\n", ""), `"MASQ" is not NAT, DR or TUN`},
		{"gue tunnel", vsWith("lvs_method TUN type gue port 6080\n", ""), "TUN type gue is not supported by ulvs"},
		{"ipip csum", vsWith("lvs_method TUN csum\n", ""), "ipip tunnels do not support the csum option"},
		{"DR options", vsWith("lb_kind DR type ipip\n", ""), "DR takes no options"},
		{"SCTP", vsWith("protocol SCTP\n", ""), "k.conf:5: protocol: SCTP is not supported by ulvs"},
		{"protocol", vsWith("protocol ICMP\n", ""), `"ICMP" is not TCP, UDP or SCTP`},
		{"persistence zero", vsWith("persistence_timeout 0\n", ""), `persistence_timeout: "0" is out of range [1, 2678400]`},
		{"persistence too long", vsWith("persistence_timeout 2678401\n", ""), "is out of range"},
		{"granularity", vsWith("persistence_granularity 64\n", ""), `persistence_granularity: "64" is not an IP address (an IPv4 netmask)`},
		{"persistence engine", vsWith("persistence_engine sip\n", ""), "persistence engines are not supported by ulvs"},
		{"quorum zero", vsWith("quorum 0\n", ""), `quorum: "0" is out of range [1, 4294967295]`},
		{"hysteresis negative", vsWith("hysteresis -1\n", ""), `hysteresis: "-1" is not a whole number`},
		{"quorum script as user", vsWith("quorum_up /bin/up.sh nobody\n", ""), "running the script as user nobody is not supported by ulvs"},
		{"quorum script twice", vsWith("quorum_up /bin/a\nquorum_up /bin/b\n", ""), `k.conf:6: quorum_up: given twice (first: "/bin/a")`},
		{"virtual server weight", vsWith("weight 0\n", ""), `weight: "0" is out of range [1, 65535]`},
		{"sorry server address", vsWith("sorry_server 10.0.0.300 80\n", ""), "sorry_server: \"10.0.0.300\" is not an IP address"},
		{"sorry inhibit first", vsWith("sorry_server_inhibit\n", ""), "sorry_server_inhibit: comes before (or without) sorry_server"},
		{"sorry method first", vsWith("sorry_server_lvs_method NAT\n", ""), "sorry_server_lvs_method: comes before (or without) sorry_server"},
		{"ip_family inet6", vsWith("ip_family inet6\n", ""), "k.conf:5: ip_family: ip_family inet6 does not match the address 10.0.0.100"},
		{"delay_loop zero", vsWith("delay_loop 0\n", ""), `delay_loop: "0" is too small (at least 0.000001 s)`},
		{"delay_loop decimals", vsWith("delay_loop 1.0000001\n", ""), "has more than 6 decimal places"},
		{"delay_loop text", vsWith("delay_loop 3s\n", ""), `"3s" is not a number of seconds`},
		{"connect_timeout too large", vsWith("connect_timeout 5000\n", ""), "is too large (at most 4294.967295 s)"},
		{"retry zero in virtual server", vsWith("retry 0\n", ""), `retry: "0" is out of range [1, 4294967295]`},
		{"sh flag with rr", vsWith("sh-port\n", ""), "k.conf:5: sh-port: sh-port only applies to the sh scheduler (lb_algo is rr)"},

		// real_server.
		{"real server without block", "virtual_server 10.0.0.100 80 {\nreal_server 10.0.0.1 80\n}", "k.conf:2: real_server: needs a { } block"},
		{"IPv6 real server", "virtual_server 10.0.0.100 80 {\nreal_server 2001:db8::2 80 {\n}\n}", "real server 2001:db8::2 in a service of the other address family: only tunnelling (-i, TUN) real servers may be: invalid operation"},
		{"real server broadcast", "virtual_server 10.0.0.100 80 {\nreal_server 255.255.255.255 80 {\n}\n}", "k.conf:2: real_server: 255.255.255.255 is not a unicast address"},
		{"sorry server zero", vsWith("sorry_server 0.0.0.0 80\n", ""), "sorry_server: 0.0.0.0 is not a unicast address"},
		{"real server weight", vsWith("", "weight 65536\n"), `k.conf:6: weight: "65536" is out of range [0, 65535]`},
		{"uthreshold", vsWith("", "uthreshold 2147483648\n"), `uthreshold: "2147483648" is out of range [0, 2147483647]`},
		{"thresholds reversed", vsWith("", "uthreshold 10\nlthreshold 20\n"), "k.conf:5: real_server: lthreshold 20 is above uthreshold 10"},
		{"lthreshold without uthreshold", vsWith("", "lthreshold 1\n"), "k.conf:5: real_server: lthreshold 1 is above uthreshold 0"},
		{"real server method", vsWith("", "lvs_method MASQ\n"), `lvs_method: "MASQ" is not NAT, DR or TUN`},
		{"notify as user", vsWith("", "notify_up /bin/up nobody\n"), "running the script as user nobody"},
		{"BFD_CHECK", vsWith("", "BFD_CHECK {\nname b\n}\n"), "k.conf:6: BFD_CHECK: BFD_CHECK is not supported by ulvs"},
		{"FILE_CHECK", vsWith("", "FILE_CHECK {\ntrack_file f\n}\n"), "k.conf:6: FILE_CHECK: FILE_CHECK is not supported by ulvs"},
		{"alpha differs", vsWith("", "alpha\nTCP_CHECK {\n}\n"), "k.conf:7: TCP_CHECK: alpha on a real_server or checker that differs"},

		// Checkers.
		{"checker without block", vsWith("", "TCP_CHECK\n"), "k.conf:6: TCP_CHECK: needs a { } block"},
		{"checker with a value", vsWith("", "TCP_CHECK x {\n}\n"), "TCP_CHECK: takes no value before its block"},
		{"bindto IPv6", vsWith("", "TCP_CHECK {\nbindto ::1\n}\n"), "k.conf:7: bindto: ::1: IPv6 is not supported by ulvs"},
		{"connect_ip not unicast", vsWith("", "TCP_CHECK {\nconnect_ip 0.0.0.0\n}\n"), "k.conf:7: connect_ip: 0.0.0.0 is not a unicast address"},
		{"bindto not unicast", vsWith("", "TCP_CHECK {\nbindto 0.0.0.0\n}\n"), "k.conf:7: bindto: 0.0.0.0 is not a unicast address"},
		{"connect_port zero", vsWith("", "TCP_CHECK {\nconnect_port 0\n}\n"), `connect_port: "0" is out of range [1, 65535]`},
		{"bind_if too long", vsWith("", "TCP_CHECK {\nbind_if averyveryverylongname\n}\n"), "is too long"},
		{"checker retry text", vsWith("", "TCP_CHECK {\nretry many\n}\n"), `retry: "many" is not a whole number`},
		{"HTTP_GET without url", vsWith("", "HTTP_GET {\n}\n"), "k.conf:6: HTTP_GET: HTTP_GET needs at least one url"},
		{"url without path", vsWith("", "HTTP_GET {\nurl {\nstatus_code 200\n}\n}\n"), "k.conf:7: url: url needs a path"},
		{"digest", vsWith("", "HTTP_GET {\nurl {\npath /\ndigest abc\n}\n}\n"), `k.conf:9: digest: "abc" is not an MD5 digest`},
		{"digest twice", vsWith("", "HTTP_GET {\nurl {\npath /\ndigest 9b3a0c85a887a256d6939da88aabd8cd\ndigest 9b3a0c85a887a256d6939da88aabd8cd\n}\n}\n"), "digest given twice"},
		{"status code", vsWith("", "HTTP_GET {\nurl {\npath /\nstatus_code 200 600\n}\n}\n"), `"600" is not an HTTP status code`},
		{"status range reversed", vsWith("", "HTTP_GET {\nurl {\npath /\nstatus_code 300-200\n}\n}\n"), `"300-200" is not an HTTP status code`},
		{"http_protocol", vsWith("", "HTTP_GET {\nhttp_protocol 2\nurl {\npath /\n}\n}\n"), `http_protocol: "2" is not 1.0, 1.0C or 1.1`},
		{"regex", vsWith("", "HTTP_GET {\nurl {\npath /\nregex ok\n}\n}\n"), "regex: regex is not supported by ulvs"},
		{"fast_recovery", vsWith("", "HTTP_GET {\nfast_recovery\nurl {\npath /\n}\n}\n"), "fast_recovery is not supported by ulvs"},
		{"MISC_CHECK without path", vsWith("", "MISC_CHECK {\nmisc_dynamic\n}\n"), "MISC_CHECK needs misc_path"},
		{"misc_path unquoted arguments", vsWith("", "MISC_CHECK {\nmisc_path /bin/check arg\n}\n"), `keepalived runs only the first word and drops "arg"`},
		{"misc user group", vsWith("", "MISC_CHECK {\nmisc_path /bin/check\nuser nobody nogroup\n}\n"), "a group for the script (nogroup) is not supported"},
		{"DNS type", vsWith("", "DNS_CHECK {\ntype PTR\n}\n"), `"PTR" is not a DNS type`},
		{"DNS name", vsWith("", "DNS_CHECK {\nname a..b\n}\n"), `DNS name "a..b" has an empty label`},
		{"UDP payload", vsWith("", "UDP_CHECK {\npayload zz\n}\n"), `"zz" is not a hex string`},
		{"UDP reply data", vsWith("", "UDP_CHECK {\nrequire_reply 01 02\n}\n"), "matching the reply's content is not supported"},
		{"fwmark service check without port", "virtual_server fwmark 1 {\nlb_algo rr\nlb_kind DR\nreal_server 10.0.0.1 {\nTCP_CHECK {\n}\n}\n}", "k.conf:5: TCP_CHECK: TCP_CHECK needs connect_port"},
		{"SMTP host without port on fwmark", "virtual_server fwmark 1 {\nlb_algo rr\nlb_kind DR\nreal_server 10.0.0.1 {\nSMTP_CHECK {\nhost {\n}\n}\n}\n}", "k.conf:6: host: SMTP_CHECK needs connect_port"},

		// Groups and services.
		{"group undefined", "virtual_server group G {\nreal_server 10.0.0.1 80 {\n}\n}", "k.conf:1: virtual_server: virtual_server_group G is not defined"},
		{"group twice", "virtual_server_group G {\n10.0.0.1 80\n}\nvirtual_server_group G {\n}", "k.conf:4: virtual_server_group: group G is already defined at k.conf:1"},
		{"group range reversed", "virtual_server_group G {\n10.0.0.10-5 80\n}", "range end is not above its start"},
		{"group prefix host bits", "virtual_server_group G {\n10.0.0.1/24 80\n}", "address bits beyond the prefix are set"},
		// IPv6 groups: families as keepalived's vsg_end_handler and validate_check_config.
		{"group mixed with fwmark", "virtual_server_group G {\n10.0.0.1 80\n2001:db8::1 80\nfwmark 1\n}", "k.conf:1: virtual_server_group: virtual server group G cannot have IPv4, IPv6 and fwmark without family"},
		{"group mixed with ip_family", groupMixed + "ip_family inet6\n" + rs6, "k.conf:5: virtual_server: virtual_server_group G has IPv4 and IPv6 addresses, which do not match a virtual server of family inet6 (from ip_family)"},
		{"group mixed not tunnelled", groupMixed + rs6, "k.conf:5: virtual_server: virtual_server_group G has IPv4 and IPv6 addresses, which do not match a virtual server of family inet6 (from real_server 2001:db8::11)"},
		{"group6 ip_family inet", group6 + "ip_family inet\n" + rs6, "k.conf:4: virtual_server: virtual_server_group G is inet6, the virtual server inet (from ip_family)"},
		{"group6 ipv4 granularity", group6 + "persistence_granularity 255.255.255.0\n" + rs6, "virtual_server_group G is inet6, the virtual server inet (from persistence_granularity)"},
		{"group granularity then ip_family", group6 + "persistence_granularity 255.255.255.0\nip_family inet6\n" + rs6, "k.conf:8: ip_family: ip_family inet6 does not match persistence_granularity, which is inet"},
		{"group6 ipv4 sorry", group6 + "sorry_server 10.0.0.9 80\n" + rs6, "k.conf:7: sorry_server: sorry server 10.0.0.9 is inet, the virtual server inet6 (from real_server 2001:db8::11): keepalived skips"},
		{"group6 ipv4 sorry, tunnelled reals", group6 + "sorry_server 10.0.0.9 80\nsorry_server_lvs_method DR\nlvs_method TUN\n" + rs6, "k.conf:4: virtual_server: virtual_server_group G is inet6, the virtual server inet (from sorry_server 10.0.0.9)"},
		{"fwmark6 ipv4 sorry", "virtual_server fwmark 5 {\nip_family inet6\nlb_kind DR\nsorry_server 10.0.0.9 80\nreal_server 2001:db8::1 80 {\n}\n}\n", "k.conf:4: sorry_server: sorry server 10.0.0.9 is inet, the virtual server inet6 (from ip_family): keepalived skips"},
		{"fwmark ipv6 sorry after ipv4 real", "virtual_server fwmark 5 {\nlb_kind DR\nsorry_server 2001:db8::9 80\nreal_server 10.0.0.1 80 {\n}\n}\n", "k.conf:3: sorry_server: sorry server 2001:db8::9 is inet6, the virtual server inet (from real_server 10.0.0.1)"},
		{"ipv6 vs ipv4 sorry", "virtual_server 2001:db8::100 80 {\nprotocol TCP\nlb_kind NAT\nsorry_server 10.0.0.9 80\nreal_server 2001:db8::1 80 {\n}\n}\n", "k.conf:4: sorry_server: sorry server 10.0.0.9 is inet, the virtual server inet6 (from its address)"},
		{"ipv4 vs ipv6 sorry", vsWith("sorry_server 2001:db8::9 80\nsorry_server_lvs_method NAT\n", ""), "k.conf:5: sorry_server: sorry server 2001:db8::9 is inet6, the virtual server inet (from its address)"},
		{"group6 range too wide", "virtual_server_group G {\n2001:db8::/64 80\n}", "k.conf:2: 2001:db8::/64: 2001:db8::/64: an IPv6 range must stay within its last 16 bits"},
		{"group6 range end", "virtual_server_group G {\n2001:db8::5-x 80\n}", `range end "x" is not a hexadecimal number`},
		{"group too large", "virtual_server_group G {\n10.0.0.0/16 80\n}\nvirtual_server group G {\nprotocol TCP\nreal_server 10.1.0.1 80 {\n}\n}", "group G expands to more than 4096 services"},
		{"duplicate service", vsWith("", "") + vsWith("", ""), "k.conf:8: virtual_server: service TCP 10.0.0.100:80 is already defined at k.conf:1"},

		{"group fwmark value", "virtual_server_group G {\nfwmark x\n}", `k.conf:2: fwmark: fwmark "x" is not a whole number`},
		{"group fwmark family", "virtual_server_group G {\nfwmark 1 ipx\n}", "takes fwmark N [inet|inet6]"},
		{"group entry words", "virtual_server_group G {\n10.0.0.1 80 tcp\n}", `takes IP-or-range [PORT] (got "10.0.0.1 80 tcp")`},
		{"group entry port", "virtual_server_group G {\n10.0.0.1 http\n}", `port "http" is not a whole number`},
		{"group entry block", "virtual_server_group G {\n10.0.0.1 80 {\n}\n}", "k.conf:2: 10.0.0.1: takes no { } block"},
		{"group name", "virtual_server_group {\n}", "virtual_server_group: takes one name"},

		// Scripts.
		{"empty script", vsWith("", "notify_up \"\"\n"), "k.conf:6: notify_up: empty script"},
		{"script quote", vsWith("", "notify_up \"'/bin/x\"\n"), `k.conf:6: notify_up: script "'/bin/x": missing terminating '`},
		{"script with an empty program", vsWith("", "notify_up \"'' -x\"\n"), `k.conf:6: notify_up: script "'' -x": the program name is empty`},
		{"script with a NUL byte", vsWith("", "notify_up \"/bin/x a\\\\0b\"\n"), "a word contains a NUL byte"},
		{"line quote", vsWith("", "notify_up /bin/x'\n"), `k.conf:6: notify_up: missing terminating ' in "notify_up /bin/x'"`},
		{"script missing", vsWith("", "notify_down\n"), "k.conf:6: notify_down: needs a script"},
		{"misc_path missing", vsWith("", "MISC_CHECK {\nmisc_path\n}\n"), "k.conf:7: misc_path: needs a program"},
		{"misc_path escape at end", vsWith("", "MISC_CHECK {\nmisc_path /bin/x\\\n}\n"), `k.conf:7: misc_path: a backslash ends it (escape what?) in "misc_path /bin/x\\"`},
		{"misc_timeout", vsWith("", "MISC_CHECK {\nmisc_path /bin/x\nmisc_timeout 1.5\n}\n"), `misc_timeout: "1.5" is not a whole number`},

		// More shapes.
		{"sorry server words", vsWith("sorry_server 10.0.0.9 80 tcp\n", ""), "sorry_server: takes IP [PORT]"},
		{"tunnel option", vsWith("lvs_method TUN fast\n", ""), `"fast" is not a tunnel option`},
		{"method missing", vsWith("lb_kind\n", ""), "lb_kind: needs NAT, DR or TUN"},
		{"lvs_timeouts odd", "global_defs {\nlvs_timeouts tcp\n}", "takes pairs of tcp|tcpfin|udp and seconds"},
		{"vrrp interface value", "vrrp_instance VI {\ninterface\n}", "k.conf:2: interface: needs a value"},
		{"SMTP host value", vsWith("", "SMTP_CHECK {\nhost {\nconnect_port x\n}\n}\n"), `k.conf:8: connect_port: "x" is not a whole number`},
		{"enable_sni value", vsWith("", "SSL_GET {\nenable_sni maybe\nurl {\npath /\n}\n}\n"), "enable_sni: takes true/false"},
		{"status_code empty", vsWith("", "HTTP_GET {\nurl {\npath /\nstatus_code\n}\n}\n"), "status_code: needs codes or ranges"},

		// Top level and global_defs.
		{"SSL block", "SSL {\nca /etc/ca.pem\n}", "k.conf:2: ca: the SSL block (client certificate, key, CA) is not supported by ulvs"},
		{"script_user group", "global_defs {\nscript_user a b\n}", "a group for scripts (b) is not supported by ulvs"},
		{"lvs_timeouts", "global_defs {\nlvs_timeouts tcp 0\n}", `lvs_timeouts: tcp "0" is out of range`},
		{"lvs_timeouts name", "global_defs {\nlvs_timeouts sctp 10\n}", `"sctp" is not tcp, tcpfin or udp`},
		{"vrrp interface", "vrrp_instance VI {\ninterface averyveryverylongname\n}", `k.conf:2: interface: interface name "averyveryverylongname" is longer than 15 bytes`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseString(t, tt.conf)
			if err == nil {
				t.Fatalf("no error; warnings %q", warningTexts(f.Warnings))
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v, want *config.Error", err, err)
			}
			prefix, sub, ok := strings.Cut(tt.want, ": ")
			if !ok || !strings.HasPrefix(tt.want, "k.conf:") {
				prefix, sub = "", tt.want
			} else if !strings.HasPrefix(err.Error(), prefix+":") {
				t.Errorf("error %q, want it at %s", err, prefix)
			}
			if !strings.Contains(err.Error(), sub) {
				t.Errorf("error %q, want it to contain %q", err, sub)
			}
		})
	}
}

// TestWarnings checks what keepalived accepts but ulvs does not act on,
// or corrects, is reported with its line and the parse goes on.
func TestWarnings(t *testing.T) {
	for _, tt := range []struct {
		name string
		conf string
		want []string
	}{
		{"unknown keywords at each level", "foo 1\nglobal_defs {\nbar\n}\n" + vsWith("baz {\n}\n", "qux 1\nTCP_CHECK {\nquux\n}\nHTTP_GET {\nurl {\npath /\nzap\n}\n}\n"), []string{
			`k.conf:1: unknown keyword "foo" in the top level (ignored, as keepalived does)`,
			`k.conf:3: unknown keyword "bar" in global_defs (ignored, as keepalived does)`,
			`k.conf:9: unknown keyword "baz" in virtual_server (ignored, as keepalived does)`,
			`k.conf:12: unknown keyword "qux" in real_server (ignored, as keepalived does)`,
			`k.conf:14: unknown keyword "quux" in TCP_CHECK (ignored, as keepalived does)`,
			`k.conf:19: unknown keyword "zap" in url (ignored, as keepalived does)`,
		}},
		{"connection keywords do not apply to MISC_CHECK", vsWith("", "MISC_CHECK {\nmisc_path /bin/x\nconnect_timeout 3\n}\n"), []string{
			`k.conf:8: unknown keyword "connect_timeout" in MISC_CHECK (ignored, as keepalived does)`,
		}},
		{"global_defs kept in Others", "global_defs {\nlvs_flush\nnotification_email {\na@b\n}\n}", []string{
			"k.conf:2: global_defs lvs_flush is not used by ulvs (ignored)",
			"k.conf:3: global_defs notification_email is not used by ulvs (ignored)",
		}},
		{"mail, snmp, logging", vsWith("smtp_alert\nsnmp_name web\n", "smtp_alert no\nTCP_CHECK {\nlog_all_failures\n}\n"), []string{
			"k.conf:5: smtp_alert: ulvs sends no mail (ignored)",
			"k.conf:6: snmp_name: ulvs has no SNMP agent (ignored)",
			"k.conf:8: smtp_alert: ulvs sends no mail (ignored)",
			"k.conf:10: log_all_failures is not supported by ulvs (ignored): ulvs logs each state change",
		}},
		{"hashed", vsWith("hashed\n", ""), []string{"k.conf:5: hashed has no effect (ignored, as by the kernel)"}},
		{"nb_get_retry in HTTP_GET", vsWith("", "HTTP_GET {\nnb_get_retry 2\nurl {\npath /\n}\n}\n"), []string{
			"k.conf:7: nb_get_retry is deprecated - please use 'retry' (as keepalived says)",
		}},
		{"defaults keepalived sets with a message", "virtual_server 10.0.0.100 80 {\nreal_server 10.0.0.1 80 {\n}\n}", []string{
			"k.conf:1: virtual server 10.0.0.100 80: no protocol set - defaulting to UDP (as keepalived does)",
			"k.conf:1: virtual server 10.0.0.100 80: no scheduler set, setting default 'wlc' (as keepalived does)",
			"k.conf:1: virtual server 10.0.0.100 80: no forwarding method set, setting default NAT (as keepalived does)",
		}},
		{"virtual server without real servers", "virtual_server 10.0.0.100 80 {\nprotocol TCP\n}", []string{
			"k.conf:1: virtual server 10.0.0.100 80 has no real servers (ignored, as keepalived does)",
		}},
		{"quorum and hysteresis corrected", vsWith("quorum 5\nhysteresis 3\n", ""), []string{
			"k.conf:1: quorum 5 for 10.0.0.100 80 exceeds total weight of real servers 1, reducing quorum to 1 (as keepalived does)",
			"k.conf:1: virtual server 10.0.0.100 80: hysteresis 3 >= quorum 1; setting hysteresis to 0 (as keepalived does)",
		}},
		{"quorum of weightless servers", vsWith("quorum 2\n", "weight 0\n"), []string{
			"k.conf:1: quorum 2 for 10.0.0.100 80 exceeds total weight of real servers 0: keepalived lowers quorum to 0 and hysteresis to 4294967295, so that the service never gains quorum; ulvs uses quorum 1 (the service gains quorum when a real server has weight)",
		}},
		{"ports of PING_CHECK", vsWith("", "PING_CHECK {\nconnect_port 80\nbind_port 5000\n}\n"), []string{
			"k.conf:7: connect_port has no effect in PING_CHECK (ignored, as keepalived does)",
			"k.conf:8: bind_port has no effect in PING_CHECK (ignored, as keepalived does)",
		}},
		{"ops needs UDP", vsWith("ops\n", ""), []string{
			"k.conf:1: virtual server 10.0.0.100 80: one packet scheduling requires UDP - resetting (as keepalived does)",
		}},
		{"duplicate real server", vsWith("real_server 10.0.0.1 80 {\n}\n", ""), []string{
			"k.conf:7: real server 10.0.0.1 80 is duplicated - removing the second (as keepalived does)",
		}},
		{"duplicate once the port is corrected", "virtual_server 10.0.0.100 80 {\nlb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.1 {\n}\nreal_server 10.0.0.1 80 {\n}\n}", []string{
			"k.conf:7: real server 10.0.0.1 80 duplicates another of service TCP 10.0.0.100:80 once ports are corrected (both are 10.0.0.1:80) - removing the second (keepalived's second add fails)",
		}},
		{"a clean file has none", vsWith("", ""), nil},
		{"DR real server port reset", "virtual_server 10.0.0.100 80 {\nlb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.0.1 8080 {\n}\n}", []string{
			"k.conf:5: virtual server TCP 10.0.0.100:80 and real server 10.0.0.1 8080 ports don't match - using 80 (as keepalived does)",
		}},
		{"sorry inhibit follows the real server", vsWith("inhibit_on_failure\nsorry_server 10.0.0.1 80\n", ""), []string{
			"k.conf:6: real server 10.0.0.1 80 matches the sorry server, but inhibit setting differs: using the real server's (as keepalived does)",
		}},
		{"UDP lengths", vsWith("", "UDP_CHECK {\nrequire_reply\nmin_reply_length 10\nmax_reply_length 5\n}\n"), []string{
			"k.conf:6: UDP_CHECK min_reply_length 10 > max_reply_length 5 - will always fail (as keepalived says)",
		}},
		{"fwmark services", "virtual_server fwmark 3 {\nprotocol TCP\nha_suspend\nlb_algo rr\nlb_kind DR\nreal_server 10.0.0.1 80 {\n}\n}", []string{
			"k.conf:1: protocol is ignored for a fwmark virtual server (as keepalived does)",
			"k.conf:1: virtual server fwmark 3: cannot use ha_suspend with fwmarks - clearing ha_suspend (as keepalived does)",
			"k.conf:1: virtual server fwmark 3: the mark comes from the director's iptables/nft MARK rules (ulvsd reads them; see ulvs marks); no packet reaches this service until a rule or a [[fwmark]] table in ulvs's TOML defines mark 3",
			"k.conf:6: fwmark virtual server fwmark 3, real server 10.0.0.1 80 has port specified - port ignored (as keepalived does)",
		}},
		{"groups empty and unused", "virtual_server_group E {\n}\nvirtual_server_group U {\n10.0.0.1 80\n}", []string{
			"k.conf:1: virtual server group E has no entries (ignored, as keepalived does)",
			"k.conf:3: virtual_server_group U is not used by any virtual_server",
		}},
		{"SMTP host unknown keyword", vsWith("", "SMTP_CHECK {\nhost {\nhelo_name x\nconnect_port 25\n}\n}\n"), []string{
			"k.conf:7: The SMTP_CHECK host block is deprecated. Please define additional checkers. (as keepalived says)",
			`k.conf:8: unknown keyword "helo_name" in SMTP_CHECK host (ignored, as keepalived does)`,
		}},
		{"accepted forms give no warning", vsWith("ip_family inet\nlvs_method TUN type ipip nocsum\n", "inhibit_on_failure off\nalpha false\nTCP_CHECK {\nalpha no\n}\n") +
			"virtual_server_group G {\nfwmark 1 inet\n}\nvirtual_server group G {\nlb_algo rr\nlb_kind NAT\nreal_server 10.0.0.2 80 {\n}\n}\n", []string{
			"k.conf:18: virtual server fwmark 1: the mark comes from the director's iptables/nft MARK rules (ulvsd reads them; see ulvs marks); no packet reaches this service until a rule or a [[fwmark]] table in ulvs's TOML defines mark 1",
		}},
		{"blocks ulvs does not run", "vrrp_script chk {\nscript x\n}\nstatic_ipaddress {\n1.2.3.4/24 dev eth0\n}\nbfd_instance b {\n}\nnet_namespace x\nvrrp_instance VI_1 {\ninterface eth0\nvirtual_router_id 1\n}", []string{
			"k.conf:4: static_ipaddress is not applied: ulvs does not manage the host's addresses, routes or rules",
			"k.conf:7: bfd_instance b is not run: ulvs does not implement BFD",
			"k.conf:9: net_namespace is not used by ulvs (ignored)",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.conf)
			if got := warningTexts(f.Warnings); !slices.Equal(got, tt.want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestGlobalOthersAndInterfaces checks what global_defs and vrrp_instance
// leave in the File.
func TestGlobalOthersAndInterfaces(t *testing.T) {
	f := mustParse(t, "global_defs {\nrouter_id r1\nlvs_flush\nlvs_flush\nvrrp_skip_check_adv_addr\n}\nvrrp_instance A {\ninterface eth1\nvirtual_router_id 1\n}\nvrrp_instance B {\ninterface eth0\nvirtual_router_id 1\n}\nvrrp_instance C {\ninterface eth1\nvirtual_router_id 2\n}")
	if want := []string{"lvs_flush", "vrrp_skip_check_adv_addr"}; !slices.Equal(f.Global.Others, want) {
		t.Errorf("Others %q, want %q", f.Global.Others, want)
	}
	if want := []string{"eth1", "eth0"}; !slices.Equal(f.Interfaces, want) {
		t.Errorf("Interfaces %q, want %q", f.Interfaces, want)
	}
	if f.Global.RouterID != "r1" || f.Format != "keepalived" || f.Socket != config.DefaultSocket {
		t.Errorf("RouterID %q Format %q Socket %q", f.Global.RouterID, f.Format, f.Socket)
	}
}

// TestReadTree checks the statement tree the VRRP code will walk.
func TestReadTree(t *testing.T) {
	tr, err := ReadTree("k.conf", []byte("vrrp_instance VI_1 {\n  state MASTER # main\n  virtual_ipaddress { 10.0.0.100/24 dev eth0 }\n  authentication\n  {\n    auth_pass \"a b\"\n  }\n}\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Nodes) != 1 {
		t.Fatalf("%d top nodes, want 1", len(tr.Nodes))
	}
	vi := tr.Nodes[0]
	type flat struct {
		Words    []string
		Line     int
		HasBlock bool
		Children int
	}
	var got []flat
	var walk func(ns []*Node)
	walk = func(ns []*Node) {
		for _, n := range ns {
			got = append(got, flat{n.Words, n.Line, n.HasBlock, len(n.Children)})
			walk(n.Children)
		}
	}
	walk([]*Node{vi})
	want := []flat{
		{[]string{"vrrp_instance", "VI_1"}, 1, true, 3},
		{[]string{"state", "MASTER"}, 2, false, 0},
		{[]string{"virtual_ipaddress"}, 3, true, 1},
		{[]string{"10.0.0.100/24", "dev", "eth0"}, 3, false, 0},
		{[]string{"authentication"}, 4, true, 1},
		{[]string{"auth_pass", "a b"}, 6, false, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i].Words, want[i].Words) || got[i].Line != want[i].Line || got[i].HasBlock != want[i].HasBlock || got[i].Children != want[i].Children {
			t.Errorf("node %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
