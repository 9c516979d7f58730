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
