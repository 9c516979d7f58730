package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config/keepalived"
)

const testKeepalived = `# the console's checker test
virtual_server 192.0.2.100 80 {
    delay_loop 2
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 192.0.2.11 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1 # fast
            retry 2
        }
        HTTP_GET {
            url {
                path /health
                status_code 200
            }
        }
    }
    real_server 192.0.2.12 80 {
        weight 1
        MISC_CHECK {
            misc_path "/usr/local/bin/probe 192.0.2.12"
        }
    }
}
`

// checkerPost is a checker form's POST body with the given fields.
func checkerPost(real, n, kind string, fields ...string) url.Values {
	v := url.Values{"svc": {"tcp-192.0.2.100-80"}, "real": {real}, "check": {n}, "kind": {kind}}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	return v
}

// TestCheckerSettings: a keepalived.conf's checkers edited from the
// Monitoring scripts page: each malformed field refused next to itself
// (file untouched), good values written into the checker's lines (the
// comment kept, FILE.bak the previous file, a reload), the monitor role
// refused.
func TestCheckerSettings(t *testing.T) {
	e, fe := newFileEnv(t, "keepalived.conf", testKeepalived)
	if id := serviceID(e.d.rules.Services[0].Key()); id != "tcp-192.0.2.100-80" {
		t.Fatalf("service id %q", id)
	}
	c := e.client()
	c.login("admin", "adminpass1")
	_, page, _ := c.do("GET", "/checks", nil)
	for _, want := range []string{`id="chk-tcp-192.0.2.100-80-192.0.2.11:80-0"`, `name="connect_timeout" value="1"`, `name="url_path" value="/health"`,
		`name="misc_path" value="/usr/local/bin/probe 192.0.2.12"`, "runs on the director"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the checks page lacks %q:\n%s", want, page)
		}
	}
	for _, tt := range []struct {
		form       url.Values
		field, msg string
	}{
		{checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "connect_timeout", "soon"), "connect_timeout", "seconds"},
		{checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "connect_timeout", "0"), "connect_timeout", "from 0.001"},
		{checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "connect_timeout", "0.0001"), "connect_timeout", "from 0.001"},
		{checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "connect_timeout", "1.0005"), "connect_timeout", "millisecond"},
		{checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "connect_port", "0"), "connect_port", "from 1 to 65535"},
		{checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "connect_port", ""), "connect_port", "required"},
		{checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "delay_loop", "NaN"), "delay_loop", "seconds"},
		{checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "retry", "-1"), "retry", "whole number"},
		{checkerPost("192.0.2.11:80", "1", "HTTP_GET", "url_path", "health"), "url_path", "starts with /"},
		{checkerPost("192.0.2.11:80", "1", "HTTP_GET", "url_path", "/a b"), "url_path", "no spaces"},
		{checkerPost("192.0.2.11:80", "1", "HTTP_GET", "status_code", "99"), "status_code", "100 to 599"},
		{checkerPost("192.0.2.11:80", "1", "HTTP_GET", "status_code", "300-200"), "status_code", "range"},
		{checkerPost("192.0.2.11:80", "1", "HTTP_GET", "digest", "xyz"), "digest", "32 hex digits"},
		{checkerPost("192.0.2.12:80", "0", "MISC_CHECK", "misc_path", "probe x"), "misc_path", "absolute path"},
		{checkerPost("192.0.2.12:80", "0", "MISC_CHECK", "misc_path", `/bin/x "open`), "misc_path", "missing terminating"},
		{checkerPost("192.0.2.12:80", "0", "MISC_CHECK", "misc_timeout", "1.5"), "misc_timeout", "whole number"},
	} {
		st, body := c.post("/checks/checker", tt.form)
		if st != http.StatusUnprocessableEntity || !strings.Contains(fieldError(body, tt.field), tt.msg) {
			t.Errorf("%v: %d, %q next to %s; want 422 saying %q", tt.form, st, fieldError(body, tt.field), tt.field, tt.msg)
		}
	}
	if readText(t, fe.path) != testKeepalived || fe.reloads != 0 {
		t.Fatal("a refused form changed the file")
	}
	// A form naming a checker the file does not have: refused, nothing written.
	if st, body := c.post("/checks/checker", checkerPost("192.0.2.11:80", "1", "TCP_CHECK", "retry", "3")); st != http.StatusConflict || !strings.Contains(body, "NOT saved") {
		t.Errorf("a checker of another kind: %d\n%s", st, body)
	}
	st, body := c.post("/checks/checker", checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "connect_timeout", "1", "connect_port", "8080", "delay_loop", "2", "retry", "4", "delay_before_retry", "0.5"))
	if st != http.StatusSeeOther {
		t.Fatalf("POST: %d\n%s", st, body)
	}
	text := readText(t, fe.path)
	if !strings.Contains(text, "            connect_timeout 1 # fast\n            retry 4\n            connect_port 8080\n            delay_before_retry 0.5\n        }") ||
		readText(t, fe.path+".bak") != testKeepalived || fe.reloads != 1 {
		t.Errorf("file after the edit (reloads %d):\n%s", fe.reloads, text)
	}
	st, body = c.post("/checks/checker", checkerPost("192.0.2.11:80", "1", "HTTP_GET", "url_path", "/ok", "status_code", "200-204, 301", "digest", "0123456789ABCDEF0123456789abcdef"))
	if st != http.StatusSeeOther {
		t.Fatalf("POST: %d\n%s", st, body)
	}
	st, body = c.post("/checks/checker", checkerPost("192.0.2.12:80", "0", "MISC_CHECK", "misc_path", `/usr/local/bin/probe "two words"`, "misc_timeout", "3"))
	if st != http.StatusSeeOther {
		t.Fatalf("POST: %d\n%s", st, body)
	}
	text = readText(t, fe.path)
	for _, want := range []string{"path /ok\n                status_code 200-204 301\n                digest 0123456789abcdef0123456789abcdef\n",
		`misc_path "/usr/local/bin/probe \"two words\""` + "\n            misc_timeout 3\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("file lacks %q:\n%s", want, text)
		}
	}
	_, page, _ = c.do("GET", "/checks", nil)
	if !strings.Contains(page, "MISC_CHECK of real server 192.0.2.12:80 of TCP 192.0.2.100:80 changed. Saved to") {
		t.Errorf("the page does not say what was saved:\n%s", page)
	}
	m := e.client()
	m.login("watcher", "watchpass1")
	if st, _ := m.post("/checks/checker", checkerPost("192.0.2.11:80", "0", "TCP_CHECK", "retry", "1")); st != http.StatusForbidden {
		t.Errorf("monitor: %d, want 403", st)
	}
	if _, page, _ := m.do("GET", "/checks", nil); strings.Contains(page, `action="/checks/checker"`) {
		t.Error("the monitor is shown checker forms")
	}
}

// TestCheckerSettingsTOML: a ulvs TOML file's check edited the same way,
// written by tomlfile.RewriteSettings (the comment before the services
// kept).
func TestCheckerSettingsTOML(t *testing.T) {
	const conf = `# kept
[director]
interfaces = ["eth0"]

[[virtual_server]]
protocol = "tcp"
address = "192.0.2.100:80"

  [[virtual_server.real_server]]
  address = "192.0.2.11:80"
  forward = "dr"

    [[virtual_server.real_server.check]]
    type = "http"
    url = [{ path = "/" }]
`
	e, fe := newFileEnv(t, "ulvs.toml", conf)
	c := e.client()
	c.login("admin", "adminpass1")
	st, body := c.post("/checks/checker", checkerPost("192.0.2.11:80", "0", "HTTP_GET", "url_path", "/health", "retry", "5", "connect_timeout", "2.5"))
	if st != http.StatusSeeOther {
		t.Fatalf("POST: %d\n%s", st, body)
	}
	text := readText(t, fe.path)
	for _, want := range []string{"# kept\n", "connect_timeout = 2.5\n", "retry = 5\n", `{ path = "/health" }`} {
		if !strings.Contains(text, want) {
			t.Errorf("file lacks %q:\n%s", want, text)
		}
	}
	if readText(t, fe.path+".bak") != conf {
		t.Error("FILE.bak is not the previous file")
	}
}

// FuzzCheckerForm: any checker form body gets field errors, or an edit
// that keepalived.Rewrite writes into testKeepalived (reading back as
// the edit, which Rewrite checks) or refuses with ErrNotExpressible, or
// that the edit itself refuses (a checker the file lacks); never a
// panic, never a value outside its field's bounds.
func FuzzCheckerForm(f *testing.F) {
	for _, s := range []string{
		"svc=tcp-192.0.2.100-80&real=192.0.2.11:80&check=0&kind=TCP_CHECK&connect_timeout=1.5&connect_port=81&delay_loop=3&retry=0&delay_before_retry=0.25",
		"svc=tcp-192.0.2.100-80&real=192.0.2.11:80&check=1&kind=HTTP_GET&url_path=/x&status_code=200-204,301&digest=0123456789abcdef0123456789abcdef",
		`svc=tcp-192.0.2.100-80&real=192.0.2.12:80&check=0&kind=MISC_CHECK&misc_path=/bin/check "a b" \x41&misc_timeout=5`,
		"svc=tcp-192.0.2.100-80&real=192.0.2.12:80&check=0&kind=MISC_CHECK&misc_path=/bin/x '&misc_timeout=-1",
		"svc=x&real=y&check=300&kind=NANNY&delay_loop=1e9",
	} {
		f.Add(s)
	}
	base, err := keepalived.Parse("k.conf", []byte(testKeepalived), keepalived.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		cv, cf := parseChecker(v)
		if cv == nil {
			if len(cf.Errs) == 0 {
				t.Fatal("refused without a field error")
			}
			return
		}
		if cv.timeout < 0 || cv.delayLoop < 0 || cv.delay < 0 || cv.miscTime < 0 || cv.retry < 0 || cv.retry > maxRetry {
			t.Fatalf("out of bounds: %+v", cv)
		}
		file, err := keepalived.Parse("k.conf", []byte(testKeepalived), keepalived.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cv.apply(file); err != nil {
			return
		}
		out, err := keepalived.Rewrite("k.conf", []byte(testKeepalived), file, keepalived.Options{})
		if err != nil {
			if !errors.Is(err, keepalived.ErrNotExpressible) {
				t.Fatalf("refusal without ErrNotExpressible: %v", err)
			}
			return
		}
		back, err := keepalived.Parse("k.conf", out, keepalived.Options{})
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, out)
		}
		if len(back.Health) != len(base.Health) {
			t.Fatalf("health entries: %d, want %d", len(back.Health), len(base.Health))
		}
	})
}
