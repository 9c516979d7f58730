package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestIPv6Forms adds an IPv6 virtual server and a real server through the
// forms (DR and ip6ip6), shows them, and shows the director's refusal of
// a DR real server of the other family.
func TestIPv6Forms(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("admin", "adminpass1")
	if st, body := c.post("/virtual/save", url.Values{"proto": {"tcp"}, "addr": {"2001:db8::100"}, "port": {"80"}, "scheduler": {"rr"}}); st != http.StatusSeeOther {
		t.Fatalf("add IPv6 virtual server: %d\n%s", st, body)
	}
	id := "tcp-2001:db8::100-80"
	if st, body := c.post("/real/save", url.Values{"svc": {id}, "addr": {"2001:db8::11"}, "weight": {"1"}, "method": {"dr"}}); st != http.StatusSeeOther {
		t.Fatalf("add IPv6 real server: %d\n%s", st, body)
	}
	if st, body := c.post("/real/save", url.Values{"svc": {id}, "addr": {"2001:db8::12"}, "weight": {"1"}, "method": {"tun"}}); st != http.StatusSeeOther {
		t.Fatalf("add an IPv6 tunnel (ip6ip6) real server: %d\n%s", st, body)
	}
	// Another method across families is the director's refusal (EINVAL,
	// as the kernel's), shown on the form.
	st, body := c.post("/real/save", url.Values{"svc": {id}, "addr": {"10.0.0.13"}, "weight": {"1"}, "method": {"dr"}})
	if st == http.StatusSeeOther || !strings.Contains(body, "only tunnelling") {
		t.Errorf("an IPv4 DR real server in an IPv6 service: %d, want the director's refusal\n%s", st, body)
	}
	r := e.d.rules
	if len(r.Services) != 1 || len(r.Services[0].Dests) != 2 || r.Services[0].Dests[0].Addr.String() != "2001:db8::11" || r.Services[0].Dests[1].Addr.String() != "2001:db8::12" {
		t.Errorf("rules after the forms: %+v", r.Services)
	}
}

// TestIPv6FwMarkForms adds an IPv4 and an IPv6 firewall-mark service of
// the same mark through the forms (the kernel keys them by family and
// mark), an IPv6 real server to the IPv6 one, edits its persistence
// prefix length and shows the form again with it.
func TestIPv6FwMarkForms(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("admin", "adminpass1")
	for _, proto := range []string{"fwmark6", "fwmark"} {
		if st, body := c.post("/virtual/save", url.Values{"proto": {proto}, "fwmark": {"5"}, "scheduler": {"rr"}}); st != http.StatusSeeOther {
			t.Fatalf("add %s 5: %d\n%s", proto, st, body)
		}
	}
	if st, body := c.post("/real/save", url.Values{"svc": {"fwm6-5"}, "addr": {"2001:db8::11"}, "weight": {"1"}, "method": {"dr"}}); st != http.StatusSeeOther {
		t.Fatalf("add an IPv6 real server to the IPv6 mark service: %d\n%s", st, body)
	}
	st, body := c.post("/real/save", url.Values{"svc": {"fwm-5"}, "addr": {"2001:db8::12"}, "weight": {"1"}, "method": {"dr"}})
	if st == http.StatusSeeOther || !strings.Contains(body, "only tunnelling") {
		t.Errorf("an IPv6 DR real server in the IPv4 mark service: %d, want the director's refusal\n%s", st, body)
	}
	if st, body := c.post("/virtual/save", url.Values{"orig": {"fwm6-5"}, "proto": {"fwmark6"}, "fwmark": {"5"}, "scheduler": {"wlc"},
		"persistent": {"on"}, "timeout": {"60"}, "netmask": {"64"}}); st != http.StatusSeeOther {
		t.Fatalf("edit the IPv6 mark service: %d\n%s", st, body)
	}
	r := e.d.rules
	if len(r.Services) != 2 {
		t.Fatalf("rules after the forms: %+v", r.Services)
	}
	var v6, v4 int
	for _, s := range r.Services {
		switch {
		case s.FwMark == 5 && s.IPv6():
			v6++
			if s.Scheduler != "wlc" || !s.Persistent || s.Netmask.String() != "ffff:ffff:ffff:ffff::" || len(s.Dests) != 1 {
				t.Errorf("IPv6 mark service after the edit: %+v", s)
			}
		case s.FwMark == 5:
			v4++
			if len(s.Dests) != 0 {
				t.Errorf("IPv4 mark service got real servers: %+v", s)
			}
		}
	}
	if v6 != 1 || v4 != 1 {
		t.Errorf("rules: %+v", r.Services)
	}
	st, body, _ = c.do("GET", "/virtual/edit?svc=fwm6-5", nil)
	if st != http.StatusOK || !strings.Contains(body, `value="fwmark6" selected`) || !strings.Contains(body, `name="netmask" value="64"`) {
		t.Errorf("edit form of the IPv6 mark service: %d\n%s", st, body)
	}
}
