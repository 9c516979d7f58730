package web

import (
	"net/url"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// FuzzServiceForm: any form body either gets field errors or makes a
// service the rule table accepts or refuses with a sentinel; never a
// panic. A service id round-trips.
func FuzzServiceForm(f *testing.F) {
	for _, s := range []string{
		"proto=tcp&addr=192.0.2.1&port=80&scheduler=rr",
		"proto=fwmark&fwmark=5&persistent=on&timeout=60&netmask=255.255.255.0",
		"proto=udp&addr=192.0.2.1&port=0&persistent=on&onepacket=on&scheduler=sh&schedflags=sh-port",
		"proto=tcp&addr=%00&port=99999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		svc, _, errs := parseService(v)
		if len(errs) > 0 {
			return
		}
		var r config.Rules
		if err := r.Apply(config.Command{Op: config.OpAddService, Service: svc, HasService: true}); err != nil {
			return
		}
		id := serviceID(svc.Key())
		k, err := parseServiceID(id)
		if err != nil || k != svc.Key() {
			t.Fatalf("id %q reads back as %v, %v; want %v", id, k, err, svc.Key())
		}
		d, _, derrs := parseDest(v, svc.Key())
		if len(derrs) == 0 {
			r.Apply(config.Command{Op: config.OpAddDest, Service: svc, HasService: true, Dest: d})
		}
	})
}

// FuzzServiceID: parseServiceID never panics and what it accepts
// round-trips to the same text.
func FuzzServiceID(f *testing.F) {
	for _, s := range []string{"tcp-192.0.2.1-80", "udp-10.0.0.1-53", "fwm-7", "fwm-01", "tcp--", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseServiceID(s)
		if err != nil {
			return
		}
		if got := serviceID(k); got != s {
			t.Fatalf("%q reads as %v, written back as %q", s, k, got)
		}
	})
}

// FuzzConnFilter: the connection filter never panics.
func FuzzConnFilter(f *testing.F) {
	f.Add("client=10.0.0.0/8&server=192.0.2.11:80&state=ESTABLISHED")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		parseConnFilter(v)
	})
}

// FuzzSimServers: the simulator's server list never panics, and what it
// accepts stays within its bounds.
func FuzzSimServers(f *testing.F) {
	f.Add("A:4 B:3,C:2")
	f.Add("x:65536 y")
	f.Fuzz(func(t *testing.T, s string) {
		servers, msg := parseSimServers(s)
		if msg != "" {
			return
		}
		if len(servers) == 0 || len(servers) > maxSimServers {
			t.Fatalf("%q: %d servers accepted", s, len(servers))
		}
		sim := &simulation{Sched: "wrr"}
		if err := simulate(sim, servers, 20, 3); err != nil {
			t.Fatal(err)
		}
	})
}
