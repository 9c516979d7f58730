package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestIPv6Forms adds an IPv6 virtual server and a real server through the
// forms, shows them, and shows the director's refusal of an IPv6 tunnel.
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
	st, body := c.post("/real/save", url.Values{"svc": {id}, "addr": {"2001:db8::12"}, "weight": {"1"}, "method": {"tun"}})
	if st == http.StatusSeeOther || !strings.Contains(body, "issue #17") {
		t.Errorf("IPv6 tunnel through the form: %d, want the director's refusal naming issue #17\n%s", st, body)
	}
	r := e.d.rules
	if len(r.Services) != 1 || len(r.Services[0].Dests) != 1 || r.Services[0].Dests[0].Addr.String() != "2001:db8::11" {
		t.Errorf("rules after the forms: %+v", r.Services)
	}
}
