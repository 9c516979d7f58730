package tomlfile

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/vs"
)

var netipCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmpopts.IgnoreFields(config.File{}, "Path"),
	cmpopts.IgnoreFields(config.VRRPInstance{}, "File", "Line"),
}

// TestMarshalTOMLRoundTrip: Parse(MarshalTOML(f)) == f for every good
// file in testdata, settings, marks, knobs and services alike.
func TestMarshalTOMLRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/file-*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/file-*.toml: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			out, err := MarshalTOML(f)
			if err != nil {
				t.Fatalf("MarshalTOML: %v", err)
			}
			g, err := Parse("written.toml", out)
			if err != nil {
				t.Fatalf("Parse(MarshalTOML()): %v\n%s", err, out)
			}
			if diff := cmp.Diff(f, g, netipCmp); diff != "" {
				t.Errorf("round trip (-want +got):\n%s\nwritten:\n%s", diff, out)
			}
			again, err := MarshalTOML(g)
			if err != nil || string(again) != string(out) {
				t.Errorf("second MarshalTOML differs (%v):\n%s", err, again)
			}
		})
	}
}

// TestMarshalIpvsadmRules: rules made by ipvsadm commands (what ulvsd -i
// holds) are written so that the file reads back to the same rules.
func TestMarshalIpvsadmRules(t *testing.T) {
	for _, name := range []string{"ipvsadm-dr.save", "ipvsadm-nat.save", "ipvsadm-tun.save"} {
		t.Run(name, func(t *testing.T) {
			fh, err := os.Open(filepath.Join("..", "ipvsadm", "testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			cmds, err := ipvsadm.ParseRestore(fh, nil)
			if err != nil {
				t.Fatal(err)
			}
			var r config.Rules
			for _, c := range cmds {
				if err := r.Apply(c); err != nil {
					t.Fatalf("%v: %v", ipvsadm.Args(&c), err)
				}
			}
			f := &config.File{Interfaces: []string{"eth0"}, Socket: config.DefaultSocket, Rules: r}
			if hasMark(r) {
				// The save text has no classifiers: give each mark one.
				for _, s := range r.Services {
					if s.FwMark != 0 {
						f.Marks = append(f.Marks, config.Mark{Mark: s.FwMark, Matches: []config.MarkMatch{{Proto: vs.TCP, Addr: netip.MustParsePrefix("192.0.2.1/32")}}})
					}
				}
			}
			out, err := MarshalTOML(f)
			if err != nil {
				t.Fatal(err)
			}
			g, err := Parse("written.toml", out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if diff := cmp.Diff(r, g.Rules, netipCmp, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("rules (-want +got):\n%s\nwritten:\n%s", diff, out)
			}
		})
	}
}

func hasMark(r config.Rules) bool {
	for _, s := range r.Services {
		if s.FwMark != 0 {
			return true
		}
	}
	return false
}

func TestMarshalNotExpressible(t *testing.T) {
	base := config.Service{Proto: vs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	local := base
	local.Dests = []config.Dest{{Addr: netip.MustParseAddr("10.0.0.2"), Port: 80, Method: vs.Local, Weight: 1}}
	sctp := base
	sctp.Proto = config.ProtoSCTP
	for name, s := range map[string]config.Service{"local": local, "sctp": sctp} {
		if _, err := MarshalServices(config.Rules{Services: []config.Service{s}}); !errors.Is(err, ErrNotExpressible) {
			t.Errorf("%s: error %v, want ErrNotExpressible", name, err)
		}
	}
}

// TestMarshalTOMLNotExpressible: files Parse could not have made are
// refused, not written as files Parse refuses.
func TestMarshalTOMLNotExpressible(t *testing.T) {
	mark := config.Service{Proto: vs.TCP, FwMark: 5, Scheduler: "rr"}
	tests := []struct {
		name string
		f    config.File
		want string
	}{
		{"no interface", config.File{}, "no interface to listen on"},
		{"mark without a classifier", config.File{Interfaces: []string{"eth0"}, Rules: config.Rules{Services: []config.Service{mark}}},
			"service fwmark 5: no [[fwmark]] classifier defines mark 5"},
		{"mark of another classifier", config.File{Interfaces: []string{"eth0"}, Rules: config.Rules{Services: []config.Service{mark}},
			Marks: []config.Mark{{Mark: 6, Matches: []config.MarkMatch{{Proto: vs.TCP, Addr: netip.MustParsePrefix("10.0.0.1/32")}}}}},
			"no [[fwmark]] classifier defines mark 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := MarshalTOML(&tt.f)
			if !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("MarshalTOML = %q, %v; want ErrNotExpressible about %q", out, err, tt.want)
			}
		})
	}
}

const replaceBase = `# Director of the lab.
[director]
interfaces = ["d-eth0"]   # the DIP side

[timeouts]
tcp = 600

# The web service.
[[virtual_server]]
address = "10.77.0.100:80"
scheduler = "rr"
  [[virtual_server.real_server]]
  address = "10.77.0.11"   # rs1

  [[virtual_server.real_server]]
  address = "10.77.0.12"

# Metrics for the NOC.
[metrics]
listen = "127.0.0.1:9100"

[[virtual_server]]
protocol = "udp"
address = "10.77.0.100:53"
# The end.
`

func TestReplaceServices(t *testing.T) {
	r := config.Rules{Services: []config.Service{{
		Proto: vs.TCP, Addr: netip.MustParseAddr("10.77.0.100"), Port: 443, Scheduler: "wlc",
		Persistent: true, Timeout: 300, Netmask: netip.MustParseAddr("255.255.255.0"),
		Dests: []config.Dest{{Addr: netip.MustParseAddr("10.77.0.13"), Port: 443, Method: vs.Route, Weight: 5, UThreshold: 10}},
	}}}
	out, err := ReplaceServices("ulvs.toml", []byte(replaceBase), r)
	if err != nil {
		t.Fatal(err)
	}
	want := `# Director of the lab.
[director]
interfaces = ["d-eth0"]   # the DIP side

[timeouts]
tcp = 600

# The web service.
[[virtual_server]]
protocol = "tcp"
address = "10.77.0.100:443"
scheduler = "wlc"
persistence_timeout = 300
persistence_netmask = "255.255.255.0"

  [[virtual_server.real_server]]
  address = "10.77.0.13:443"
  forward = "dr"
  weight = 5
  upper_threshold = 10

# Metrics for the NOC.
[metrics]
listen = "127.0.0.1:9100"

# The end.
`
	if string(out) != want {
		t.Errorf("ReplaceServices:\n%s\nwant:\n%s", out, want)
	}
	f, err := Parse("ulvs.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Timeouts.TCP != 600 || f.Metrics.Listen != "127.0.0.1:9100" || len(f.Rules.Services) != 1 {
		t.Errorf("settings not kept: %+v", f)
	}
}

func TestReplaceServicesInlineAndEmpty(t *testing.T) {
	inline := "virtual_server = [\n  { address = \"10.0.0.1:80\", real_server = [{ address = \"10.0.0.2\" }] },\n]\n\n[director]\ninterfaces = [\"eth0\"]\n"
	out, err := ReplaceServices("x.toml", []byte(inline), config.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "\n[director]\ninterfaces = [\"eth0\"]\n"; string(out) != want {
		t.Errorf("inline array removed: %q, want %q", out, want)
	}
	// No services in the file: they go at the end.
	r := config.Rules{Services: []config.Service{{Proto: vs.UDP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 53, Scheduler: "rr", OnePacket: true}}}
	out, err = ReplaceServices("x.toml", []byte("[director]\ninterfaces = [\"eth0\"]"), r)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("x.toml", out)
	if err != nil || len(f.Rules.Services) != 1 || !f.Rules.Services[0].OnePacket {
		t.Errorf("appended services: %v, %+v\n%s", err, f, out)
	}
	// A file that does not parse is not rewritten.
	if _, err := ReplaceServices("x.toml", []byte("[director\n"), r); err == nil {
		t.Error("bad file accepted")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ulvs.toml")
	if err := WriteFileAtomic(path, []byte("one\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "two\n" {
		t.Errorf("content %q, %v", b, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old file's 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (no temporary left)", len(entries))
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x.toml"), nil, 0o644); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestMetricsTable(t *testing.T) {
	tests := []struct {
		name, text, listen, err string
	}{
		{name: "absent"},
		{name: "loopback", text: "[metrics]\nlisten = \"127.0.0.1:9100\"\n", listen: "127.0.0.1:9100"},
		{name: "all addresses", text: "[metrics]\nlisten = \":9100\"\n", listen: ":9100"},
		{name: "no port", text: "[metrics]\nlisten = \"127.0.0.1\"\n", err: "x.toml:5: metrics.listen: must be host:port"},
		{name: "port 0", text: "[metrics]\nlisten = \"127.0.0.1:0\"\n", err: "x.toml:5: metrics.listen: port must be a number between 1 and 65535"},
		{name: "missing listen", text: "[metrics]\n", err: "x.toml:4: metrics.listen: required"},
		{name: "unknown key", text: "[metrics]\nlisten = \":9100\"\npath = \"/m\"\n", err: "x.toml:6: metrics.path: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("x.toml", []byte("[director]\ninterfaces = [\"eth0\"]\n\n"+tt.text))
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error %v, want prefix %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Metrics.Listen != tt.listen {
				t.Errorf("Listen = %q, want %q", f.Metrics.Listen, tt.listen)
			}
		})
	}
}

func TestWebTable(t *testing.T) {
	tests := []struct {
		name, text string
		want       config.Web
		err        string
	}{
		{name: "absent"},
		{name: "port only", text: "[web]\nlisten = \"8080\"\n", want: config.Web{Listen: "8080"}},
		{name: "tls", text: "[web]\nlisten = \"0.0.0.0:8443\"\ncert = \"/etc/ulvs/web.crt\"\nkey = \"/etc/ulvs/web.key\"\nusers = \"/etc/ulvs/u\"\n",
			want: config.Web{Listen: "0.0.0.0:8443", Cert: "/etc/ulvs/web.crt", Key: "/etc/ulvs/web.key", Users: "/etc/ulvs/u"}},
		{name: "cert without key", text: "[web]\nlisten = \":8443\"\ncert = \"/c\"\n", err: "x.toml:6: web.cert: cert and key go together"},
		{name: "bad port", text: "[web]\nlisten = \"127.0.0.1:http\"\n", err: "x.toml:5: web.listen: port must be a number"},
		{name: "missing listen", text: "[web]\n", err: "x.toml:4: web.listen: required"},
		{name: "unknown key", text: "[web]\nlisten = \":80\"\npassword = \"x\"\n", err: "x.toml:6: web.password: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("x.toml", []byte("[director]\ninterfaces = [\"eth0\"]\n\n"+tt.text))
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error %v, want prefix %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Web != tt.want {
				t.Errorf("Web = %+v, want %+v", f.Web, tt.want)
			}
			out, err := MarshalTOML(f)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse("x.toml", out)
			if err != nil || back.Web != tt.want {
				t.Errorf("written and read back: %+v, %v; want %+v\n%s", back.Web, err, tt.want, out)
			}
		})
	}
	for in, want := range map[string]string{"8080": "127.0.0.1:8080", ":8080": "127.0.0.1:8080", "0.0.0.0:80": "0.0.0.0:80", "[::1]:80": "[::1]:80"} {
		if got, err := config.WebListen(in); err != nil || got != want {
			t.Errorf("WebListen(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "80:80:80", "host:0"} {
		if got, err := config.WebListen(in); err == nil {
			t.Errorf("WebListen(%q) = %q, want an error", in, got)
		}
	}
}
