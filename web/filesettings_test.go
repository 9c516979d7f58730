package web

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/keepalived"
	"github.com/ulvs/ulvs/config/load"
	"github.com/ulvs/ulvs/config/piranha"
	"github.com/ulvs/ulvs/config/tomlfile"
)

// fileEditor is a FileEditor over a real file in a temporary directory,
// written the way ulvsd writes it (the live rules, piranha.Rewrite for an
// lvs.cf, FILE.bak); reloads are counted.
type fileEditor struct {
	mu      sync.Mutex
	path    string
	d       *fakeDirector
	reloads int
}

func (fe *fileEditor) File() (*config.File, error) { return load.File(fe.path) }

func (fe *fileEditor) Edit(edit func(*config.File) error) (FileEdit, error) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	base, err := os.ReadFile(fe.path)
	if err != nil {
		return FileEdit{}, err
	}
	f, err := load.Parse(fe.path, base)
	if err != nil {
		return FileEdit{}, err
	}
	fe.d.mu.Lock()
	f.Rules = config.Rules{Services: append([]config.Service(nil), fe.d.rules.Services...)}
	fe.d.mu.Unlock()
	if err := edit(f); err != nil {
		return FileEdit{}, err
	}
	var data []byte
	switch f.Format {
	case piranha.Format:
		data, err = piranha.Rewrite(fe.path, base, f, piranha.Options{})
	case "toml":
		data, err = tomlfile.RewriteSettings(fe.path, base, f)
	case "keepalived":
		data, err = keepalived.Rewrite(fe.path, base, f, keepalived.Options{})
	default:
		err = fmt.Errorf("%s is not an lvs.cf or a TOML file", fe.path)
	}
	if err != nil {
		return FileEdit{}, err
	}
	if err := os.WriteFile(fe.path+".bak", base, 0o644); err != nil {
		return FileEdit{}, err
	}
	if err := os.WriteFile(fe.path, data, 0o644); err != nil {
		return FileEdit{}, err
	}
	fe.reloads++
	return FileEdit{Path: fe.path, AtRestart: []string{"interfaces: test"}}, nil
}

const testLVSCF = `# the console's test file
serial_no = 1
primary = 192.0.2.2
service = lvs
backup = 0.0.0.0
backup_active = 0
heartbeat = 1
heartbeat_port = 539
keepalive = 2
deadtime = 5
network = direct
virtual web {
     active = 1
     address = 192.0.2.100 eth0:1
     port = 80
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     timeout = 6
     reentry = 15
     server rs1 {
         address = 192.0.2.11
         active = 1
         weight = 1
     }
}
`

// newFileEnv is newEnv with a FileEditor over text, the director's
// table loaded from it.
func newFileEnv(t *testing.T, name, text string) (*env, *fileEditor) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := load.File(path)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, d: &fakeDirector{rules: f.Rules}}
	fe := &fileEditor{path: path, d: e.d}
	srv, err := New(Config{Director: e.d, Users: writeUsers(t, dir), Files: fe, ConfigPath: path,
		Save: func() (string, error) { return path, nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.ts = srv, httptest.NewServer(srv)
	t.Cleanup(e.ts.Close)
	return e, fe
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fieldError returns the message shown next to field in body.
func fieldError(body, field string) string {
	m := regexp.MustCompile(`id="err-` + regexp.QuoteMeta(field) + `">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// TestFileSettings edits GLOBAL SETTINGS, REDUNDANCY, MONITORING SCRIPTS
// and the virtual server's lvs.cf fields through the forms: malformed
// values are refused next to their field with the file untouched, good
// ones are written to the lvs.cf (FILE.bak the previous one) and
// reloaded, and the monitor role is refused.
func TestFileSettings(t *testing.T) {
	e, fe := newFileEnv(t, "lvs.cf", testLVSCF)
	c := e.client()
	if c.login("admin", "adminpass1") != http.StatusSeeOther {
		t.Fatal("login")
	}
	sid := serviceID(e.d.rules.Services[0].Key())
	for _, tt := range []struct {
		name, path, page string
		form             url.Values
		field, msg       string
	}{
		{"primary", "/global/file", "/global", url.Values{"primary": {"192.0.2.300"}, "network": {"direct"}}, "primary", "not an IP address"},
		{"network", "/global/file", "/global", url.Values{"primary": {"192.0.2.2"}, "network": {"bridge"}}, "network", "direct, nat or tunnel"},
		{"nat router without nat", "/global/file", "/global", url.Values{"primary": {"192.0.2.2"}, "network": {"direct"}, "nat_router": {"10.0.1.254/24"}, "nat_device": {"eth1:1"}}, "nat_router", "nat only"},
		{"nat device", "/global/file", "/global", url.Values{"primary": {"192.0.2.2"}, "network": {"nat"}, "nat_router": {"10.0.1.254/24"}, "nat_device": {"eth 1"}}, "nat_device", ""},
		{"keepalive", "/redundancy/save", "/redundancy", url.Values{"keepalive": {"two"}, "deadtime": {"5"}, "heartbeat_port": {"539"}}, "keepalive", "whole number"},
		{"deadtime", "/redundancy/save", "/redundancy", url.Values{"keepalive": {"6"}, "deadtime": {"5"}, "heartbeat_port": {"539"}}, "deadtime", "longer than the heartbeat interval"},
		{"port", "/redundancy/save", "/redundancy", url.Values{"keepalive": {"2"}, "deadtime": {"5"}, "heartbeat_port": {"70000"}}, "heartbeat_port", "1 to 65535"},
		{"backup", "/redundancy/save", "/redundancy", url.Values{"backup_active": {"on"}, "keepalive": {"2"}, "deadtime": {"5"}, "heartbeat_port": {"539"}}, "backup", "required when the backup takes over"},
		{"device", "/virtual/save", "/virtual", url.Values{"orig": {sid}, "proto": {"tcp"}, "addr": {"192.0.2.100"}, "port": {"80"}, "scheduler": {"wlc"},
			"lvscf": {"1"}, "lvscf_checks": {"1"}, "device": {"eth0/1"}, "check_timeout": {"6"}, "reentry": {"15"}}, "device", ""},
		{"check timeout", "/virtual/save", "/virtual", url.Values{"orig": {sid}, "proto": {"tcp"}, "addr": {"192.0.2.100"}, "port": {"80"}, "scheduler": {"wlc"},
			"lvscf": {"1"}, "lvscf_checks": {"1"}, "device": {"eth0:1"}, "check_timeout": {"0"}, "reentry": {"15"}}, "check_timeout", "from 1"},
	} {
		t.Run("refused "+tt.name, func(t *testing.T) {
			before := readText(t, fe.path)
			edits := e.d.edits()
			st, body := c.post(tt.path, tt.form)
			if st != http.StatusUnprocessableEntity {
				t.Fatalf("POST %s: %d, want 422\n%s", tt.path, st, body)
			}
			if msg := fieldError(body, tt.field); msg == "" || !strings.Contains(msg, tt.msg) {
				t.Errorf("message next to %s: %q, want one saying %q", tt.field, msg, tt.msg)
			}
			if readText(t, fe.path) != before || e.d.edits() != edits {
				t.Error("a refused form changed the file or the table")
			}
		})
	}
	scripts := func(form url.Values) url.Values { form.Set("svc", sid); return form }
	for _, tt := range []struct {
		name, path string
		form       url.Values
		msg        string
	}{
		{"escape", "/checks/save", scripts(url.Values{"send": {`GET /\q`}, "expect": {"HTTP"}}), "unknown escape"},
		{"regex", "/checks/save", scripts(url.Values{"send": {"x"}, "expect": {"HTTP/1.[01"}, "use_regex": {"on"}}), "not a regular expression"},
		{"program without expect", "/checks/save", scripts(url.Values{"send_program": {"/bin/check %h"}}), "required with a send program"},
		{"program without %h", "/checks/save", scripts(url.Values{"send_program": {"/bin/check"}, "expect": {"OK"}}), "%h"},
	} {
		t.Run("refused script "+tt.name, func(t *testing.T) {
			before := readText(t, fe.path)
			st, body := c.post(tt.path, tt.form)
			if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), tt.msg) {
				t.Fatalf("POST: %d, want 422 saying %q\n%s", st, tt.msg, body)
			}
			if readText(t, fe.path) != before {
				t.Error("a refused form changed the file")
			}
		})
	}

	for _, tt := range []struct {
		name, path, to string
		form           url.Values
		lines          []string
	}{
		{"global", "/global/file", "/global", url.Values{"primary": {"192.0.2.4"}, "network": {"tunnel"}}, []string{"primary = 192.0.2.4\n", "network = tunnel\n"}},
		{"redundancy", "/redundancy/save", "/redundancy", url.Values{"backup": {"192.0.2.3"}, "backup_active": {"on"}, "heartbeat": {"on"}, "keepalive": {"3"}, "deadtime": {"10"}, "heartbeat_port": {"1539"}},
			[]string{"backup = 192.0.2.3\n", "backup_active = 1\n", "keepalive = 3\n", "deadtime = 10\n", "heartbeat_port = 1539\n"}},
		{"scripts", "/checks/save", "/checks", scripts(url.Values{"send": {`HEAD / HTTP/1.0\r\n\r\n`}, "expect": {"HTTP/1.[01] 200"}, "use_regex": {"on"}}),
			[]string{`send = "HEAD / HTTP/1.0\r\n\r\n"` + "\n", `expect = "HTTP/1.[01] 200"` + "\n", "use_regex = 1\n"}},
		{"virtual", "/virtual/save", "/virtual", url.Values{"orig": {sid}, "proto": {"tcp"}, "addr": {"192.0.2.100"}, "port": {"80"}, "scheduler": {"rr"},
			"lvscf": {"1"}, "lvscf_checks": {"1"}, "device": {"eth0:2"}, "check_timeout": {"4"}, "reentry": {"20"}, "quiesce": {"on"}},
			[]string{"address = 192.0.2.100 eth0:2\n", "scheduler = rr\n", "timeout = 4\n", "reentry = 20\n", "quiesce_server = 1\n"}},
	} {
		t.Run("saved "+tt.name, func(t *testing.T) {
			before := readText(t, fe.path)
			reloads := fe.reloads
			st, body := c.post(tt.path, tt.form)
			if st != http.StatusSeeOther {
				t.Fatalf("POST %s: %d, want 303\n%s", tt.path, st, body)
			}
			text := readText(t, fe.path)
			for _, l := range tt.lines {
				if !strings.Contains(text, l) {
					t.Errorf("file lacks %q:\n%s", l, text)
				}
			}
			if !strings.HasPrefix(text, "# the console's test file\n") {
				t.Errorf("comment lost:\n%s", text)
			}
			if bak := readText(t, fe.path+".bak"); bak != before {
				t.Errorf("FILE.bak is not the previous file:\n%s", bak)
			}
			if fe.reloads != reloads+1 {
				t.Error("not reloaded")
			}
			_, page, _ := c.do("GET", tt.to, nil)
			for _, want := range []string{"Saved to " + fe.path, "applied to the running director", "Saved, applies at restart: interfaces: test."} {
				if !strings.Contains(html.UnescapeString(page), want) {
					t.Errorf("%s after saving lacks %q", tt.to, want)
				}
			}
		})
	}
	// What the form shows next time is what the file says.
	_, page, _ := c.do("GET", "/redundancy", nil)
	if !strings.Contains(page, `id="keepalive" name="keepalive" value="3"`) {
		t.Error("the redundancy form does not show the saved heartbeat interval")
	}
	_, page, _ = c.do("GET", "/checks", nil)
	if !strings.Contains(html.UnescapeString(page), `value="HEAD / HTTP/1.0\r\n\r\n"`) {
		t.Error("the scripts form does not show the saved send string with its escapes")
	}

	// A table the file cannot hold is refused by the writer, loudly.
	e.d.mu.Lock()
	e.d.rules.Services[0].Dests[0].UThreshold = 9
	e.d.mu.Unlock()
	before := readText(t, fe.path)
	st, body := c.post("/redundancy/save", url.Values{"keepalive": {"2"}, "deadtime": {"5"}, "heartbeat_port": {"539"}})
	if st != http.StatusConflict || !strings.Contains(body, "NOT saved, nothing changed") || !strings.Contains(body, "thresholds") {
		t.Errorf("a table lvs.cf cannot hold: %d, want 409 naming the thresholds\n%s", st, body)
	}
	if readText(t, fe.path) != before {
		t.Error("a refused edit changed the file")
	}

	// The monitor role sees the settings, no form, and is refused.
	m := e.client()
	m.login("watcher", "watchpass1")
	_, page, _ = m.do("GET", "/redundancy", nil)
	if strings.Contains(page, "redundancy-form") || !strings.Contains(page, "heartbeat every 3 s") {
		t.Error("the monitor's redundancy page has a form or lacks the settings")
	}
	for _, p := range []string{"/global/file", "/redundancy/save", "/checks/save"} {
		if st, _ := m.post(p, url.Values{"svc": {sid}, "keepalive": {"9"}}); st != http.StatusForbidden {
			t.Errorf("monitor POST %s: %d, want 403", p, st)
		}
	}
	if readText(t, fe.path) != before {
		t.Error("the monitor changed the file")
	}
}

// TestFileSettingsReadOnly: with a file in another format the pages say
// why they offer no form, and a POST is refused without a change.
func TestFileSettingsReadOnly(t *testing.T) {
	e, fe := newFileEnv(t, "ulvs.toml", "[director]\ninterfaces = [\"eth0\"]\n")
	c := e.client()
	c.login("admin", "adminpass1")
	for _, p := range []string{"/global", "/redundancy", "/checks"} {
		_, body, _ := c.do("GET", p, nil)
		if !strings.Contains(body, `id="file-readonly"`) || !strings.Contains(body, "ulvs TOML file") {
			t.Errorf("%s does not say why its file settings are read-only", p)
		}
	}
	before := readText(t, fe.path)
	st, body := c.post("/redundancy/save", url.Values{"keepalive": {"2"}, "deadtime": {"5"}, "heartbeat_port": {"539"}})
	if st != http.StatusConflict || !strings.Contains(body, "NOT saved") {
		t.Errorf("POST to a TOML file's redundancy: %d, want 409 NOT saved", st)
	}
	if readText(t, fe.path) != before || fe.reloads != 0 {
		t.Error("the file changed")
	}
}

// FuzzFileForms: any body given to the global, redundancy, scripts and
// virtual-server lvs.cf forms gets field errors, or an edit that
// piranha.Rewrite writes (reading back as the edit, which it checks) or
// refuses with ErrNotExpressible; never a panic.
func FuzzFileForms(f *testing.F) {
	for _, s := range []string{
		"primary=192.0.2.4&network=nat&nat_router=10.0.1.254/24&nat_device=eth1:1",
		"backup=192.0.2.3&backup_active=on&heartbeat=on&keepalive=3&deadtime=10&heartbeat_port=1539",
		`send=HEAD / HTTP/1.0\r\n\r\n&expect=HTTP/1.[01] 200&use_regex=on`,
		"send_program=/bin/check %h&expect=OK",
		"lvscf=1&lvscf_checks=1&device=eth0:2&check_timeout=4&reentry=20&quiesce=on",
		"send=a\"b'c d&expect=%00",
	} {
		f.Add(s)
	}
	base, err := load.Parse("lvs.cf", []byte(testLVSCF))
	if err != nil {
		f.Fatal(err)
	}
	k := base.Rules.Services[0].Key()
	vrrpBase := &config.File{VRRP: []config.VRRPInstance{{Name: "VI_1", Version: 2, Priority: 100, AdvertInt: time.Second}}}
	f.Add("instance=VI_1&priority=120&advert_int=2")
	f.Add("file_tcp=600&file_tcpfin=0&file_udp=30&interfaces=eth0,eth1")
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		g, _, _ := parseGlobalFile(v)
		r, _, _ := parseRedundancy(v)
		s, _, _ := parseScripts(v, k)
		vf, _, _ := parseVirtualFile(v, k, base.Rules.Services[0].Addr)
		vr, _ := parseVRRP(v, vrrpBase)
		if vr != nil {
			in := *vrrpBase
			in.VRRP = append([]config.VRRPInstance(nil), vrrpBase.VRRP...)
			if err := vr(&in); err != nil || in.VRRP[0].Priority == 0 || in.VRRP[0].AdvertInt < time.Second || in.VRRP[0].AdvertInt%time.Second != 0 {
				t.Fatalf("VRRP form accepted %q: %+v, %v", body, in.VRRP[0], err)
			}
		}
		ft, _, _ := parseFileTimeouts(v)
		fi, _, _ := parseInterfaces(v)
		if fi != nil {
			var c config.File
			if err := fi(&c); err != nil || len(c.Interfaces) == 0 {
				t.Fatalf("interfaces form accepted %q: %v, %v", body, c.Interfaces, err)
			}
			for _, n := range c.Interfaces {
				if config.CheckIfName(n) != "" {
					t.Fatalf("interfaces form accepted %q", n)
				}
			}
		}
		for _, edit := range []func(*config.File) error{g, r, s, vf, ft} {
			if edit == nil {
				continue
			}
			file, err := load.Parse("lvs.cf", []byte(testLVSCF))
			if err != nil {
				t.Fatal(err)
			}
			if err := edit(file); err != nil {
				continue // said on the page
			}
			if _, err := piranha.Rewrite("lvs.cf", []byte(testLVSCF), file, piranha.Options{}); err != nil && !errors.Is(err, piranha.ErrNotExpressible) {
				t.Fatalf("Rewrite: %v", err)
			}
		}
	})
}

// TestVRRPSettings: a ulvs TOML file's VRRP instance on the Redundancy
// page: a priority or advert interval out of range is refused next to its
// field, a good one written in place and reloaded; the monitor is
// refused.
func TestVRRPSettings(t *testing.T) {
	const conf = `[director]
interfaces = ["eth0"]

[[vrrp_instance]]
name = "VI_1"
state = "MASTER"
interface = "eth0"
virtual_router_id = 51
priority = 100 # the master
advert_int = 1
virtual_ipaddress = ["192.0.2.100"]
`
	e, fe := newFileEnv(t, "ulvs.toml", conf)
	c := e.client()
	c.login("admin", "adminpass1")
	_, page, _ := c.do("GET", "/redundancy", nil)
	if !strings.Contains(page, `id="vrrp-VI_1"`) || !strings.Contains(page, `name="priority" value="100"`) {
		t.Fatalf("the redundancy page has no form for VI_1:\n%s", page)
	}
	for _, tt := range []struct{ prio, adv, field, msg string }{
		{"300", "1", "priority", "from 1 to 255"},
		{"100", "1.5", "advert_int", "whole seconds"},
		{"100", "soon", "advert_int", "seconds"},
	} {
		st, body := c.post("/redundancy/vrrp", url.Values{"instance": {"VI_1"}, "priority": {tt.prio}, "advert_int": {tt.adv}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(fieldError(body, tt.field), tt.msg) {
			t.Errorf("priority %s advert %s: %d, %q next to %s; want 422 saying %q", tt.prio, tt.adv, st, fieldError(body, tt.field), tt.field, tt.msg)
		}
	}
	if readText(t, fe.path) != conf {
		t.Fatal("a refused form changed the file")
	}
	st, body := c.post("/redundancy/vrrp", url.Values{"instance": {"VI_1"}, "priority": {"120"}, "advert_int": {"2"}})
	if st != http.StatusSeeOther {
		t.Fatalf("POST: %d\n%s", st, body)
	}
	text := readText(t, fe.path)
	if !strings.Contains(text, "priority = 120 # the master\nadvert_int = 2\n") || readText(t, fe.path+".bak") != conf || fe.reloads != 1 {
		t.Errorf("file after the edit (reloads %d):\n%s", fe.reloads, text)
	}
	m := e.client()
	m.login("watcher", "watchpass1")
	if st, _ := m.post("/redundancy/vrrp", url.Values{"instance": {"VI_1"}, "priority": {"1"}, "advert_int": {"1"}}); st != http.StatusForbidden {
		t.Errorf("monitor: %d, want 403", st)
	}
}

// TestGlobalFileSettings: the timeouts of a ulvs TOML file and an lvs.cf,
// and a TOML file's interfaces, through the Global settings page: bad
// values refused next to their field, good ones written.
func TestGlobalFileSettings(t *testing.T) {
	e, fe := newFileEnv(t, "ulvs.toml", "# the director\n[director]\ninterfaces = [\"eth0\"]\n")
	c := e.client()
	c.login("admin", "adminpass1")
	_, page, _ := c.do("GET", "/global", nil)
	if !strings.Contains(page, `id="file-timeouts-form"`) || !strings.Contains(page, `name="interfaces" value="eth0"`) {
		t.Fatalf("the global page of a TOML file has no timeouts or interfaces form:\n%s", page)
	}
	for _, tt := range []struct{ path, field, value, msg string }{
		{"/global/file-timeouts", "file_tcp", "-1", "whole number"},
		{"/global/interfaces", "interfaces", "eth0 eth/1", "invalid interface name"},
		{"/global/interfaces", "interfaces", " , ", "required"},
	} {
		st, body := c.post(tt.path, url.Values{tt.field: {tt.value}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(fieldError(body, tt.field), tt.msg) {
			t.Errorf("%s %s=%q: %d, %q next to the field; want 422 saying %q", tt.path, tt.field, tt.value, st, fieldError(body, tt.field), tt.msg)
		}
	}
	if st, body := c.post("/global/file-timeouts", url.Values{"file_tcp": {"600"}, "file_udp": {"30"}}); st != http.StatusSeeOther {
		t.Fatalf("timeouts: %d\n%s", st, body)
	}
	if st, body := c.post("/global/interfaces", url.Values{"interfaces": {"eth0, eth1"}}); st != http.StatusSeeOther {
		t.Fatalf("interfaces: %d\n%s", st, body)
	}
	if text := readText(t, fe.path); text != "# the director\n[director]\ninterfaces = [\"eth0\", \"eth1\"]\n\n[timeouts]\ntcp = 600\nudp = 30\n" {
		t.Errorf("file:\n%s", text)
	}

	e, fe = newFileEnv(t, "lvs.cf", testLVSCF)
	c = e.client()
	c.login("admin", "adminpass1")
	_, page, _ = c.do("GET", "/global", nil)
	if !strings.Contains(page, `id="file-timeouts-form"`) || strings.Contains(page, `id="interfaces-form"`) {
		t.Error("an lvs.cf's global page: want the timeouts form and no interfaces form (they are its devices)")
	}
	if st, _ := c.post("/global/interfaces", url.Values{"interfaces": {"eth1"}}); st != http.StatusConflict {
		t.Errorf("interfaces of an lvs.cf: %d, want 409", st)
	}
	if st, _ := c.post("/global/file-timeouts", url.Values{"file_tcpfin": {"30"}}); st != http.StatusSeeOther || !strings.Contains(readText(t, fe.path), "tcpfin_timeout = 30\n") {
		t.Errorf("an lvs.cf's timeouts: %d\n%s", st, readText(t, fe.path))
	}
}
