package director

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/config/load"
	"github.com/ulvs/ulvs/config/tomlfile"
	"github.com/ulvs/ulvs/ctl"
)

const saveBase = `# The lab director.
[director]
interfaces = ["d-eth0"]
workers = 2

[timeouts]
tcp = 600

[[virtual_server]]
address = "10.77.0.100:80"
scheduler = "rr"
  [[virtual_server.real_server]]
  address = "10.77.0.11"

[metrics]
listen = "127.0.0.1:9100"
`

// directorFromFile writes text to path with mode perm and returns a test
// director running the rules load.File reads from it.
func directorFromFile(t *testing.T, path, text string, perm os.FileMode) *Director {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	f, err := load.File(path)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := newTestDirector(t)
	if err := d.SetRules(f.Rules); err != nil {
		t.Fatal(err)
	}
	return d
}

func applyAll(t *testing.T, d *Director, lines ...string) {
	t.Helper()
	for _, l := range lines {
		c, err := ipvsadm.ParseArgs(strings.Fields(l))
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if err := d.Apply(c); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
}

var rulesCmp = cmp.Options{cmp.Comparer(func(a, b config.Service) bool {
	x, _ := tomlfile.MarshalServices(config.Rules{Services: []config.Service{a}})
	y, _ := tomlfile.MarshalServices(config.Rules{Services: []config.Service{b}})
	return string(x) == string(y)
}), cmpopts.EquateEmpty()}

// TestSaveConfigFile: ulvsd -c FILE, rules changed by ulvsadm, then
// --save-config: the file keeps its settings and comments and now holds
// the live rules, which it loads back to.
func TestSaveConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ulvs.toml")
	d := directorFromFile(t, path, saveBase, 0o600)
	applyAll(t, d,
		"-a -t 10.77.0.100:80 -r 10.77.0.12 -g -w 3 -x 50 -y 5",
		"-E -t 10.77.0.100:80 -s wrr -p 120",
		"-A -u 10.77.0.100:53 -s sh -b sh-port",
		"-a -u 10.77.0.100:53 -r 10.77.0.11:5353 -m",
	)
	s := &saver{Director: d, cfgPath: path, log: slog.New(slog.DiscardHandler)}
	got, err := s.SaveConfig("")
	if err != nil || got != path {
		t.Fatalf("SaveConfig(\"\") = %q, %v", got, err)
	}
	g, err := load.File(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d.Rules(), g.Rules, rulesCmp); diff != "" {
		t.Errorf("saved rules (-live +file):\n%s", diff)
	}
	if g.Workers != 2 || g.Timeouts.TCP != 600 || g.Metrics.Listen != "127.0.0.1:9100" {
		t.Errorf("settings not kept: workers %d, tcp %d, metrics %q", g.Workers, g.Timeouts.TCP, g.Metrics.Listen)
	}
	text, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(text), "# The lab director.\n") {
		t.Errorf("comment lost:\n%s", text)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the file's 0600", fi.Mode().Perm())
	}

	// Another file named: written from the -c file's settings.
	other := filepath.Join(dir, "copy.toml")
	if got, err := s.SaveConfig(other); err != nil || got != other {
		t.Fatalf("SaveConfig(%q) = %q, %v", other, got, err)
	}
	if c, err := load.File(other); err != nil || c.Workers != 2 || len(c.Rules.Services) != 2 {
		t.Errorf("copy: %v, %+v", err, c)
	}
}

// TestSaveConfigNoFile: ulvsd -i needs a file name, and then writes a
// whole file from its own settings.
func TestSaveConfigNoFile(t *testing.T) {
	d, _ := newTestDirector(t)
	applyAll(t, d,
		"-A -t 172.25.7.200:80 -s rr",
		"-a -t 172.25.7.200:80 -r 172.25.7.3:80 -g",
		"-a -t 172.25.7.200:80 -r 172.25.7.4:80 -g",
		"--set 900 120 300",
	)
	s := &saver{Director: d, opts: options{interfaces: []string{"d-eth0"}, socket: "/tmp/x.sock", metrics: ":9100"},
		log: slog.New(slog.DiscardHandler)}
	if _, err := s.SaveConfig(""); !errors.Is(err, ctl.ErrNoConfigFile) {
		t.Fatalf("SaveConfig(\"\") with -i: %v, want ErrNoConfigFile", err)
	}
	path := filepath.Join(t.TempDir(), "saved.toml")
	if _, err := s.SaveConfig(path); err != nil {
		t.Fatal(err)
	}
	f, err := load.File(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d.Rules(), f.Rules, rulesCmp); diff != "" {
		t.Errorf("saved rules (-live +file):\n%s", diff)
	}
	want := config.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}
	if f.Timeouts != want || f.Socket != "/tmp/x.sock" || f.Metrics.Listen != ":9100" || f.Interfaces[0] != "d-eth0" {
		t.Errorf("settings: %+v", f)
	}
	// A mark service has no [[fwmark]] classifier in a fresh file: refused,
	// and the file is left as it was.
	before, _ := os.ReadFile(path)
	applyAll(t, d, "-A -f 7 -s rr")
	if _, err := s.SaveConfig(path); err == nil {
		t.Error("mark service without [[fwmark]] saved")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("failed save changed the file")
	}
}

// TestSaveConfigKeepalived: a daemon started from a keepalived.conf does
// not overwrite it with TOML; saved to a new file, the live rules keep
// the keepalived.conf's health checks.
func TestSaveConfigKeepalived(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	const conf = "virtual_server 10.77.0.100 80 {\n  delay_loop 10\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n" +
		"  real_server 10.77.0.11 80 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n"
	d := directorFromFile(t, path, conf, 0o644)
	applyAll(t, d, "-a -t 10.77.0.100:80 -r 10.77.0.12 -g")
	s := &saver{Director: d, cfgPath: path, opts: options{interfaces: []string{"d-eth0"}}, log: slog.New(slog.DiscardHandler)}
	if _, err := s.SaveWithBackup(); err != nil {
		t.Fatalf("SaveConfig over the keepalived.conf: %v", err)
	}
	if text, _ := os.ReadFile(path); !strings.HasPrefix(string(text), conf[:len(conf)-2]) || !strings.HasSuffix(string(text), "  real_server 10.77.0.12 80 {\n      weight 1\n  }\n}\n") {
		t.Fatalf("keepalived.conf saved as:\n%s", text)
	}
	if bak, _ := os.ReadFile(path + ".bak"); string(bak) != conf {
		t.Fatalf("FILE.bak:\n%s", bak)
	}
	if g, err := load.File(path); err != nil || len(g.Rules.Services[0].Dests) != 2 || len(g.Health[0].Reals[0].Checks) != 1 {
		t.Fatalf("saved keepalived.conf reads as %+v, %v", g, err)
	}
	applyAll(t, d, "-e -t 10.77.0.100:80 -r 10.77.0.12 -m")
	saved, _ := os.ReadFile(path)
	if _, err := s.SaveConfig(""); err == nil || !strings.Contains(err.Error(), "NOT saved") || !strings.Contains(err.Error(), "lb_kind") {
		t.Fatalf("a NAT server in a DR virtual_server: %v, want a refusal naming lb_kind", err)
	}
	if now, _ := os.ReadFile(path); string(now) != string(saved) {
		t.Fatal("a refused save changed the file")
	}
	out := filepath.Join(dir, "ulvs.toml")
	if _, err := s.SaveConfig(out); err != nil {
		t.Fatal(err)
	}
	g, err := load.File(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d.Rules(), g.Rules, rulesCmp); diff != "" {
		t.Errorf("saved rules (-live +file):\n%s", diff)
	}
	if len(g.Health) != 1 || len(g.Health[0].Reals) != 2 || len(g.Health[0].Reals[0].Checks) != 1 ||
		g.Health[0].Reals[0].Checks[0].ConnectTimeout != 3*time.Second || len(g.Health[0].Reals[1].Checks) != 0 {
		t.Errorf("health checks not kept: %+v", g.Health)
	}
}

// TestSaveConfigUndoesChecks: with health checks, --save-config writes the
// rules as configured, not as the checks have them right now.
func TestSaveConfigUndoesChecks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ulvs.toml")
	d := directorFromFile(t, path, saveBase, 0o600)
	configured := d.Rules()
	// The checks took the only real server out.
	applyAll(t, d, "-d -t 10.77.0.100:80 -r 10.77.0.11")
	s := &saver{Director: d, cfgPath: path, log: slog.New(slog.DiscardHandler),
		configured: func(config.Rules) config.Rules { return configured }}
	if _, err := s.SaveConfig(""); err != nil {
		t.Fatal(err)
	}
	g, err := load.File(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(configured, g.Rules, rulesCmp); diff != "" {
		t.Errorf("saved rules (-configured +file):\n%s", diff)
	}
}

func TestKeepBackup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ulvs.toml")
	if err := keepBackup(path, []byte("new")); err != nil {
		t.Fatalf("no file yet: %v", err)
	}
	if _, err := os.Stat(path + ".bak"); !os.IsNotExist(err) {
		t.Fatalf("a backup of nothing was written: %v", err)
	}
	os.WriteFile(path, []byte("old"), 0o640)
	if err := keepBackup(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".bak"); !os.IsNotExist(err) {
		t.Fatal("an unchanged file was backed up")
	}
	if err := keepBackup(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path + ".bak")
	fi, _ := os.Stat(path + ".bak")
	if err != nil || string(b) != "old" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("backup: %q, %v, mode %v; want \"old\" with mode 0640", b, err, fi.Mode())
	}
}

// TestSaveConfigLVSCF: an lvs.cf -c file is saved as an lvs.cf (its
// comments and inactive servers kept, FILE.bak the previous content);
// what lvs.cf cannot hold is refused, naming it, and the file stays.
// Edit (the console's settings) writes the settings and reloads.
func TestSaveConfigLVSCF(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lvs.cf")
	const conf = "# pair\nprimary = 10.77.0.2\nnetwork = direct\nkeepalive = 2\nvirtual web {\n active = 1\n address = 10.77.0.100 d-eth0:1\n port = 80\n" +
		" server rs1 {\n  address = 10.77.0.11\n  active = 1\n }\n server old {\n  address = 10.77.0.13\n  active = 0\n }\n}\n"
	d := directorFromFile(t, path, conf, 0o644)
	applyAll(t, d, "-a -t 10.77.0.100:80 -r 10.77.0.12 -g -w 4")
	reloads := 0
	s := &saver{Director: d, cfgPath: path, opts: options{interfaces: []string{"d-eth0"}}, log: slog.New(slog.DiscardHandler),
		reload: func() ([]string, error) { reloads++; return nil, nil }}
	if _, err := s.SaveWithBackup(); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(path)
	for _, want := range []string{"# pair\n", "server old {\n  address = 10.77.0.13\n  active = 0\n", " server rs_10_77_0_12 {\n  address = 10.77.0.12\n  active = 1\n  weight = 4\n }\n}\n"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("saved lvs.cf lacks %q:\n%s", want, text)
		}
	}
	if bak, _ := os.ReadFile(path + ".bak"); string(bak) != conf {
		t.Errorf("FILE.bak:\n%s", bak)
	}
	if reloads != 1 {
		t.Errorf("%d reloads after the console's save, want 1 (the checks take the saved file)", reloads)
	}
	g, err := load.File(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d.Rules(), g.Rules, rulesCmp); diff != "" {
		t.Errorf("saved rules (-live +file):\n%s", diff)
	}

	applyAll(t, d, "-a -t 10.77.0.100:80 -r 10.77.0.14 -m")
	saved, _ := os.ReadFile(path)
	if _, err := s.SaveWithBackup(); err == nil || !strings.Contains(err.Error(), "NOT saved") || !strings.Contains(err.Error(), "one network") {
		t.Fatalf("a NAT server in a direct lvs.cf: %v, want a refusal naming the network", err)
	}
	if now, _ := os.ReadFile(path); string(now) != string(saved) {
		t.Error("a refused save changed the file")
	}
	applyAll(t, d, "-d -t 10.77.0.100:80 -r 10.77.0.14")

	res, err := s.Edit(func(f *config.File) error {
		f.Pulse.Keepalive = 3 * time.Second
		f.Pulse.VIPs[0].Device = "d-eth1:1"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	text, _ = os.ReadFile(path)
	if !strings.Contains(string(text), "keepalive = 3\n") || !strings.Contains(string(text), "address = 10.77.0.100 d-eth1:1\n") || reloads != 2 {
		t.Errorf("Edit: reloads %d, file:\n%s", reloads, text)
	}
	if len(res.AtRestart) != 1 || !strings.Contains(res.AtRestart[0], "interfaces: ulvsd runs with d-eth0; the file's d-eth1") {
		t.Errorf("AtRestart = %q, want the interface named", res.AtRestart)
	}
	if res, err := s.Edit(func(f *config.File) error { f.Pulse.Keepalive = 4 * time.Second; return nil }); err != nil || len(res.AtRestart) != 0 {
		t.Errorf("an edit of the keepalive only: %v, AtRestart %q (want none: the interfaces were not changed by it)", err, res.AtRestart)
	}
	if _, err := s.Edit(func(f *config.File) error { f.Pulse.Deadtime = 1500 * time.Millisecond; return nil }); err == nil || !strings.Contains(err.Error(), "whole seconds") {
		t.Errorf("Edit with a sub-second dead time: %v", err)
	}
}

// TestSaveConfigIPv6FwMark: --save-config writes an IPv6 fwmark service
// (ulvsadm -A -f 5 -6) with family = "ipv6" beside the IPv4 service of the
// same mark, and the file reads back as the live rules.
func TestSaveConfigIPv6FwMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ulvs.toml")
	d := directorFromFile(t, path, saveBase+`
[[fwmark]]
mark = 5
  [[fwmark.match]]
  address = "2001:db8::100"
  ports = [80, 443]
  [[fwmark.match]]
  address = "10.77.0.100"
  ports = [443]
`, 0o644)
	applyAll(t, d,
		"-A -f 5 -6 -s rr -p 300 -M 64",
		"-a -f 5 -6 -r [2001:db8::11]:0 -g",
		"-a -f 5 -6 -r 10.77.0.12:0 -i",
		"-A -f 5 -s wlc",
		"-a -f 5 -r 10.77.0.11:0 -g",
	)
	s := &saver{Director: d, cfgPath: path, log: slog.New(slog.DiscardHandler)}
	if _, err := s.SaveConfig(""); err != nil {
		t.Fatal(err)
	}
	g, err := load.File(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d.Rules(), g.Rules, rulesCmp); diff != "" {
		t.Errorf("saved rules (-live +file):\n%s", diff)
	}
	if text, _ := os.ReadFile(path); !strings.Contains(string(text), "fwmark = 5\nfamily = \"ipv6\"\n") {
		t.Errorf("no IPv6 mark service in the file:\n%s", text)
	}
}
