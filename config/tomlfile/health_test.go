package tomlfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// TestParseHealthExample: examples/health.toml as the model, every default
// resolved.
func TestParseHealthExample(t *testing.T) {
	f, err := Load("../../examples/health.toml")
	if err != nil {
		t.Fatal(err)
	}
	const s = time.Second
	tcp := config.NewCheck(config.CheckTCP)
	tcp.ConnectTimeout, tcp.Retry, tcp.DelayBeforeRetry, tcp.DelayLoop, tcp.Warmup, tcp.MaxReplyLength = 3*s, 1, 1*s, 10*s, 10*s, 0
	tcp.ConnectIP, tcp.ConnectPort = fileAddr("10.77.0.11"), 80 // the real server's
	http := config.NewCheck(config.CheckHTTP)
	http.ConnectTimeout, http.Retry, http.DelayBeforeRetry, http.DelayLoop, http.Warmup, http.MaxReplyLength = 3*s, 2, 2*s, 10*s, 10*s, 0
	tcp.ConnectIP, tcp.ConnectPort = fileAddr("10.77.0.11"), 80
	http.ConnectIP, http.ConnectPort = fileAddr("10.77.0.12"), 80
	http.HTTPProtocol = "1.0"
	http.ConnectIP, http.ConnectPort = fileAddr("10.77.0.12"), 80
	http.URLs = []config.URL{{Path: "/health", StatusCodes: []config.StatusRange{{First: 200, Last: 200}}}}
	vip := fileAddr("10.77.0.100")
	want := []config.VirtualHealth{{
		Service:   config.ServiceKey{Proto: vs.TCP, Addr: vip, Port: 80},
		DelayLoop: 10 * s,
		Quorum:    1,
		Sorry:     &config.SorryServer{Addr: fileAddr("10.77.0.13"), Port: 80, Method: vs.Route},
		Reals: []config.RealHealth{
			{Addr: fileAddr("10.77.0.11"), Port: 80, Inhibit: true, Checks: []config.Check{tcp}},
			{Addr: fileAddr("10.77.0.12"), Port: 80, Checks: []config.Check{http}},
		},
	}}
	if diff := cmp.Diff(want, f.Health, fileCmpAddr, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Health (-want +got):\n%s", diff)
	}
	if err := checkFile(f); err != nil {
		t.Error(err)
	}
}

// TestParseHealthErrors: one line per mistake, with its file:line, key
// path and message.
func TestParseHealthErrors(t *testing.T) {
	const svc = fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n"      // line 5: the first service key
	const real = svc + "[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\n" // line 7: the first real server key
	const check = real + "[[virtual_server.real_server.check]]\n"                 // line 8: the first check key
	const vs0, rs0, ck0 = "virtual_server[0]", "virtual_server[0].real_server[0]", "virtual_server[0].real_server[0].check[0]"
	tests := []struct{ in, want string }{
		{svc + "delay_loop = 0\n", "ulvs.toml:5: " + vs0 + ".delay_loop: must be between 0.000001 and 2678400 seconds (got 0)"},
		{svc + "delay_loop = \"6s\"\n", `ulvs.toml:5: ` + vs0 + `.delay_loop: must be seconds, an integer or a decimal like 2.5 (got string "6s")`},
		{svc + "delay_loop = nan\n", "ulvs.toml:5: " + vs0 + ".delay_loop: must be between 0.000001 and 2678400 seconds (got NaN)"},
		{svc + "quorum = 0\n", "ulvs.toml:5: " + vs0 + ".quorum: must be between 1 and 4294967295 (got 0)"},
		{svc + "hysteresis = 1\n", "ulvs.toml:5: " + vs0 + ".hysteresis: must be less than quorum (1), or a server set could never change state (got 1)"},
		{svc + "quorum_up = \"'/bin/x\"\n", `ulvs.toml:5: ` + vs0 + `.quorum_up: script "'/bin/x": missing terminating '`},
		{svc + "quorum_down = \"\"\n", "ulvs.toml:5: " + vs0 + ".quorum_down: empty script: name a program"},
		{svc + "sorry_server = \"10.0.0.9:81\"\n", "ulvs.toml:5: " + vs0 + ".sorry_server: port must equal the service port 80 with route forwarding (got 81)"},
		{svc + "sorry_server = \"10.0.0.x\"\n", `ulvs.toml:5: ` + vs0 + `.sorry_server: must be IPv4-address[:port] (got "10.0.0.x")`},
		{svc + "sorry_server = \"10.0.0.9\"\nsorry_server_method = \"local\"\n", `ulvs.toml:6: ` + vs0 + `.sorry_server_method: unknown forwarding method "local" (want dr, tun, nat or fullnat)`},
		{svc + "sorry_server_inhibit = true\n", "ulvs.toml:5: " + vs0 + ".sorry_server_inhibit: only applies with sorry_server"},
		{svc + "sorry_server_lvs_method = \"nat\"\n", `ulvs.toml:5: ` + vs0 + `.sorry_server_lvs_method: unknown key (ulvs calls keepalived's sorry_server_lvs_method "sorry_server_method")`},
		{svc + "http_get = 1\n", `ulvs.toml:5: ` + vs0 + `.http_get: unknown key (a check is a [[virtual_server.real_server.check]] table with type = "http")`},
		{real + "retry = 3\n", "ulvs.toml:7: " + rs0 + ".retry: unknown key (set it in each [[virtual_server.real_server.check]])"},
		{real + "notify_up = 3\n", "ulvs.toml:7: " + rs0 + ".notify_up: must be a string (got integer 3)"},
		{real + "inhibit_on_failure = 1\n", "ulvs.toml:7: " + rs0 + ".inhibit_on_failure: must be true or false (got integer 1)"},
		{check + "connect_timeout = 3\n", "ulvs.toml:7: " + ck0 + ".type: required: the kind of check (\"tcp\", \"http\", \"ssl\", \"misc\", \"smtp\", \"dns\", \"udp\", \"ping\", \"nanny\")"},
		{check + "type = \"TCP_CHECK\"\n", `ulvs.toml:8: ` + ck0 + `.type: unknown check type "TCP_CHECK" (want one of "tcp", "http", "ssl", "misc", "smtp", "dns", "udp", "ping", "nanny")`},
		{check + "type = \"tcp\"\nurl = [{path = \"/\"}]\n", "ulvs.toml:9: " + ck0 + ".url: does not apply to a tcp check (only to http, ssl)"},
		{check + "type = \"tcp\"\nconect_timeout = 3\n", `ulvs.toml:9: ` + ck0 + `.conect_timeout: unknown key (did you mean "connect_timeout"?)`},
		{check + "type = \"tcp\"\nnb_get_retry = 3\n", `ulvs.toml:9: ` + ck0 + `.nb_get_retry: unknown key (ulvs calls keepalived's nb_get_retry "retry")`},
		{check + "type = \"tcp\"\nconnect_timeout = 0\n", "ulvs.toml:9: " + ck0 + ".connect_timeout: must be between 0.000001 and 4294.967295 seconds (got 0)"},
		{check + "type = \"tcp\"\nretry = -1\n", "ulvs.toml:9: " + ck0 + ".retry: must be between 0 and 2147483647 (got -1)"},
		{check + "type = \"tcp\"\nconnect_port = 0\n", "ulvs.toml:9: " + ck0 + ".connect_port: must be between 1 and 65535 (got 0)"},
		{check + "type = \"tcp\"\nconnect_ip = \"10.0.0.1:80\"\n", `ulvs.toml:9: ` + ck0 + `.connect_ip: must be an IPv4 address without a port (got "10.0.0.1:80")`},
		{check + "type = \"tcp\"\nbindto = \"fd00::1\"\n", `ulvs.toml:9: ` + ck0 + `.bindto: IPv6 is not supported yet (got "fd00::1")`},
		{check + "type = \"tcp\"\nbind_if = \"a/b\"\n", `ulvs.toml:9: ` + ck0 + `.bind_if: invalid interface name "a/b" (no '/', ':' or white space)`},
		{check + "type = \"http\"\n", "ulvs.toml:7: " + ck0 + ".url: required: at least one url = {path = \"/...\"} to fetch"},
		{check + "type = \"http\"\nurl = [{digest = \"x\"}]\n", "ulvs.toml:9: " + ck0 + ".url[0].path: required: the path to fetch, like \"/health\""},
		{check + "type = \"http\"\nurl = [{path = \"/\", digest = \"abc\"}]\n", `ulvs.toml:9: ` + ck0 + `.url[0].digest: must be an MD5 digest, 32 hex digits as genhash prints it (got "abc")`},
		{check + "type = \"http\"\nurl = [{path = \"/\", status_code = \"300-200\"}]\n", "ulvs.toml:9: " + ck0 + ".url[0].status_code: must be status codes from 100 to 599, the first not above the last (got 300-200)"},
		{check + "type = \"http\"\nurl = [{path = \"/\", status_code = [200, 700]}]\n", "ulvs.toml:9: " + ck0 + ".url[0].status_code[1]: must be status codes from 100 to 599, the first not above the last (got 700)"},
		{check + "type = \"http\"\nurl = [{path = \"/\", status_code = []}]\n", "ulvs.toml:9: " + ck0 + ".url[0].status_code: must name at least one status code (leave it out for 200-299)"},
		{check + "type = \"http\"\nurl = [{path = \"/\", code = 200}]\n", `ulvs.toml:9: ` + ck0 + `.url[0].code: unknown key`},
		{check + "type = \"http\"\nurl = [{path = \"/\"}]\npath = \"/\"\n", `ulvs.toml:10: ` + ck0 + `.path: unknown key (it belongs in a url: url = [{ path = "/", ... }])`},
		{check + "type = \"http\"\nurl = [{path = \"/\"}]\nhttp_protocol = \"2\"\n", `ulvs.toml:10: ` + ck0 + `.http_protocol: must be "1.0", "1.0C" or "1.1" (got "2")`},
		{check + "type = \"http\"\nurl = [{path = \"/\"}]\nenable_sni = true\n", "ulvs.toml:10: " + ck0 + ".enable_sni: does not apply to a http check (only to ssl)"},
		{check + "type = \"misc\"\n", "ulvs.toml:7: " + ck0 + ".misc_path: required: the program to run and its arguments"},
		{check + "type = \"misc\"\nmisc_path = \"/bin/x\"\nconnect_timeout = 3\n", "ulvs.toml:10: " + ck0 + ".connect_timeout: does not apply to a misc check (only to tcp, http, ssl, smtp, dns, udp, ping)"},
		{check + "type = \"dns\"\ndns_type = \"PTR\"\n", `ulvs.toml:9: ` + ck0 + `.dns_type: unknown DNS query type "PTR" (want one of A NS CNAME SOA MX TXT AAAA RRSIG DNSKEY)`},
		{check + "type = \"dns\"\ndns_name = \"a..b\"\n", `ulvs.toml:9: ` + ck0 + `.dns_name: DNS name "a..b" has an empty label`},
		{check + "type = \"SOA\"\n", `ulvs.toml:8: ` + ck0 + `.type: unknown check type "SOA" (want one of "tcp", "http", "ssl", "misc", "smtp", "dns", "udp", "ping", "nanny"; a DNS check's query type is dns_type)`},
		{check + "type = \"dns\"\nname = \"a\"\n", `ulvs.toml:9: ` + ck0 + `.name: unknown key (ulvs calls DNS_CHECK's name "dns_name")`},
		{check + "type = \"udp\"\npayload = \"0g\"\n", `ulvs.toml:9: ` + ck0 + `.payload: must be the bytes to send in hex, like "0a0b0c" (got "0g")`},
		{check + "type = \"udp\"\nmin_reply_length = 300\n", "ulvs.toml:9: " + ck0 + ".min_reply_length: must not exceed max_reply_length (255), or the check always fails (got 300)"},
		{fileHead + "[[fwmark]]\nmark = 1\nmatch = [{protocol = \"tcp\", address = \"10.0.0.1\"}]\n[[virtual_server]]\nfwmark = 1\n[[virtual_server.real_server]]\naddress = \"10.1.0.1\"\n[[virtual_server.real_server.check]]\ntype = \"http\"\nurl = [{path = \"/\"}]\n",
			"ulvs.toml:10: virtual_server[0].real_server[0].check[0].connect_port: required: real server 10.1.0.1 has no port (a fwmark service), so a http check must name one"},
		{check + "type = \"ping\"\nconnect_port = 80\n", "ulvs.toml:9: " + ck0 + ".connect_port: does not apply to a ping check (only to tcp, http, ssl, smtp, dns, udp, nanny)"},
		{check + "type = \"nanny\"\ntimeout = 10\n", "ulvs.toml:7: " + ck0 + ".reentry: required for a nanny check: the seconds of success before a down server comes back (Piranha's reentry)"},
		{check + "type = \"nanny\"\ntimeout = 10\nreentry = 20\nexpect = \"(\"\nuse_regex = true\n", "ulvs.toml:11: " + ck0 + ".expect: not a regular expression: error parsing regexp: missing closing ): `(`"},
		{check + "type = \"nanny\"\ntimeout = 10\nreentry = 20\nretry = 2\n", "ulvs.toml:11: " + ck0 + ".retry: does not apply to a nanny check (only to tcp, http, ssl, misc, smtp, dns, udp, ping)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			f, err := Parse("ulvs.toml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\nHealth: %+v", tt.in, f.Health)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestParseHealthSorryPorts: a sorry server's port follows the rules of a
// real server's, and defaults to the service's.
func TestParseHealthSorryPorts(t *testing.T) {
	tests := []struct {
		service, sorry, method string
		wantPort               uint16
	}{
		{`address = "10.0.0.1:80"`, "10.0.0.9", "", 80},
		{`address = "10.0.0.1:80"`, "10.0.0.9:80", "dr", 80},
		{`address = "10.0.0.1:80"`, "10.0.0.9:8080", "nat", 8080},
		{"fwmark = 1", "10.0.0.9", "tun", 0},
	}
	for _, tt := range tests {
		t.Run(tt.service+" "+tt.sorry, func(t *testing.T) {
			text := fmt.Sprintf("%s[[fwmark]]\nmark = 1\nmatch = [{protocol = \"tcp\", address = \"10.0.0.1\"}]\n[[virtual_server]]\n%s\nsorry_server = %q\n",
				fileHead, tt.service, tt.sorry)
			if tt.method != "" {
				text += fmt.Sprintf("sorry_server_method = %q\n", tt.method)
			}
			f, err := Parse("ulvs.toml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Health[0].Sorry.Port; got != tt.wantPort {
				t.Errorf("sorry server port %d, want %d", got, tt.wantPort)
			}
			assertMarshalRoundTrip(t, f)
		})
	}
}

// TestReplaceServicesKeepsHealth: saving live rules into a file with health
// checks keeps each service's and real server's checks, drops those of a
// removed real server and gives an added one none.
func TestReplaceServicesKeepsHealth(t *testing.T) {
	data, err := os.ReadFile("../../examples/health.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("health.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Rules
	r.Services = append([]config.Service(nil), r.Services...)
	s := &r.Services[0]
	s.Dests = append([]config.Dest{{Addr: fileAddr("10.77.0.14"), Port: 80, Method: vs.Route, Weight: 1}}, s.Dests[1:]...)
	out, err := ReplaceServices("health.toml", data, r)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse("health.toml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := f.Health[0]
	want.Reals = []config.RealHealth{{Addr: fileAddr("10.77.0.14"), Port: 80}, f.Health[0].Reals[1]}
	if diff := cmp.Diff([]config.VirtualHealth{want}, g.Health, fileCmpAddr, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Health after ReplaceServices (-want +got):\n%s\n%s", diff, out)
	}
	if !strings.Contains(string(out), "# health.toml: the lab's") {
		t.Errorf("comments were not kept:\n%s", out)
	}
}

// TestMarshalHealthNotExpressible: health entries the file cannot hold are
// refused, not dropped.
func TestMarshalHealthNotExpressible(t *testing.T) {
	f, err := Load("../../examples/health.toml")
	if err != nil {
		t.Fatal(err)
	}
	orphan := *f
	orphan.Health = append([]config.VirtualHealth(nil), f.Health...)
	orphan.Health[0].Service.Port = 81
	if _, err := MarshalTOML(&orphan); err == nil || !strings.Contains(err.Error(), "no such service") {
		t.Errorf("MarshalTOML with health of a missing service: %v", err)
	}
	stray := *f
	stray.Health = []config.VirtualHealth{f.Health[0]}
	stray.Health[0].Reals = []config.RealHealth{{Addr: fileAddr("10.9.9.9"), Port: 80}}
	if _, err := MarshalTOML(&stray); err == nil || !strings.Contains(err.Error(), "no real server 10.9.9.9:80") {
		t.Errorf("MarshalTOML with health of a missing real server: %v", err)
	}
	// keepalived.conf warns of a UDP_CHECK that always fails; the file
	// refuses it.
	udp := *f
	udp.Health = []config.VirtualHealth{f.Health[0]}
	udp.Health[0].Reals = slices.Clone(f.Health[0].Reals)
	c := config.NewCheck(config.CheckUDP)
	c.MinReplyLength, c.MaxReplyLength = 300, 255
	udp.Health[0].Reals[0].Checks = []config.Check{c}
	if _, err := MarshalTOML(&udp); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "min_reply_length 300 > max_reply_length 255") {
		t.Errorf("MarshalTOML with a UDP check that always fails: %v", err)
	}
}

// assertMarshalRoundTrip checks Parse(MarshalTOML(f)) == f.
func assertMarshalRoundTrip(t *testing.T, f *config.File) {
	t.Helper()
	out, err := MarshalTOML(f)
	if err != nil {
		t.Fatalf("MarshalTOML: %v", err)
	}
	again, err := Parse(filepath.Base(f.Path), out)
	if err != nil {
		t.Fatalf("MarshalTOML wrote a file Parse refuses: %v\n%s", err, out)
	}
	if diff := cmp.Diff(f, again, fileCmpAddr, cmpopts.IgnoreFields(config.File{}, "Path"), cmpopts.IgnoreFields(config.VRRPSyncGroup{}, "Line")); diff != "" {
		t.Errorf("Parse(MarshalTOML(f)) != f (-want +got):\n%s\n%s", diff, out)
	}
}

// checkHealth verifies the health invariants of a parsed File: every entry
// names a service of the file and lists its real servers in order, and
// every check is resolved (nothing Unset, timings in range).
func checkHealth(f *config.File) error {
	for i := range f.Health {
		vh := &f.Health[i]
		s := f.Rules.Find(vh.Service)
		if s == nil {
			return fmt.Errorf("health %d: no service %v", i, vh.Service)
		}
		if vh.DelayLoop <= 0 || vh.Quorum < 1 || vh.Hysteresis >= vh.Quorum {
			return fmt.Errorf("health %d: delay_loop %v quorum %d hysteresis %d", i, vh.DelayLoop, vh.Quorum, vh.Hysteresis)
		}
		if len(vh.Reals) != len(s.Dests) {
			return fmt.Errorf("health %d: %d reals for %d dests", i, len(vh.Reals), len(s.Dests))
		}
		for j, rh := range vh.Reals {
			if d := s.Dests[j]; rh.Addr != d.Addr || rh.Port != d.Port {
				return fmt.Errorf("health %d real %d: %v:%d, dest %v:%d", i, j, rh.Addr, rh.Port, d.Addr, d.Port)
			}
			for k, c := range rh.Checks {
				if c.Kind.TOMLName() == "" || c.DelayLoop <= 0 || c.Retry < 0 || c.ConnectTimeout < 0 ||
					c.DelayBeforeRetry < 0 || c.Warmup < 0 || c.MaxReplyLength < 0 || c.MinReplyLength > max(c.MaxReplyLength, 0) && c.Kind == config.CheckUDP {
					return fmt.Errorf("health %d real %d check %d: unresolved or out of range: %+v", i, j, k, c)
				}
				if (c.Kind == config.CheckHTTP || c.Kind == config.CheckSSL) && len(c.URLs) == 0 {
					return fmt.Errorf("health %d real %d check %d: http without urls", i, j, k)
				}
			}
		}
	}
	return nil
}
