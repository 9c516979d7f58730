package director

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/vs"
)

// A command naming an IPv6 fwmark service by -6 alone (FwMarkIPv6, no
// Service.Addr), as ulvsadm -Z -f 5 -6 sends it, acts on that service
// everywhere: -Z clears its counters and not those of the IPv4 service of
// the same mark, and the trace of an edit names it "FWM 5 IPv6".
func TestFwMarkIPv6Command(t *testing.T) {
	d, _ := newTestDirector(t)
	mark := func(addr netip.Addr, rip netip.Addr) config.Service {
		return config.Service{Proto: vs.TCP, FwMark: 5, Addr: addr, Scheduler: "rr",
			Dests: []config.Dest{{Addr: rip, Method: vs.Route, Weight: 1}}}
	}
	rip6 := netip.MustParseAddr("2001:db8::11")
	if err := d.SetRules(config.Rules{Services: []config.Service{mark(netip.Addr{}, rip1), mark(config.FwMark6Addr, rip6)}}); err != nil {
		t.Fatal(err)
	}
	k4 := config.ServiceKey{Proto: vs.TCP, FwMark: 5}
	k6 := config.ServiceKey{Proto: vs.TCP, FwMark: 5, Addr: config.FwMark6Addr}
	for _, k := range []config.ServiceKey{k4, k6} {
		d.comp.svcs[k].stats.Conns.Add(3)
	}
	byName := func(name string) bool {
		t.Helper()
		for _, s := range d.Snapshot().Services {
			if s.Key().Name() == name {
				return s.Stats != ctl.Stats{}
			}
		}
		t.Fatalf("no service %s", name)
		return false
	}
	if !byName("FWM 5") || !byName("FWM 5 IPv6") {
		t.Fatal("counters not set")
	}
	if err := d.Apply(config.Command{Op: config.OpZero, HasService: true, Service: config.Service{Proto: vs.TCP, FwMark: 5}, FwMarkIPv6: true}); err != nil {
		t.Fatal(err)
	}
	if !byName("FWM 5") || byName("FWM 5 IPv6") {
		t.Errorf("-Z -f 5 -6: FWM 5 counters set %v (want kept), FWM 5 IPv6 set %v (want cleared)", byName("FWM 5"), byName("FWM 5 IPv6"))
	}

	got, stop := traceEvents(t, d, "-r "+rip6.String())
	defer stop()
	edit := config.Command{Op: config.OpEditDest, HasService: true, Service: config.Service{Proto: vs.TCP, FwMark: 5}, FwMarkIPv6: true,
		Dest: config.Dest{Addr: rip6, Method: vs.Route, Weight: 4}}
	if err := d.Apply(edit); err != nil {
		t.Fatal(err)
	}
	if e := <-got; e.Service != "FWM 5 IPv6" {
		t.Errorf("event %+v, want one of FWM 5 IPv6", e)
	}
}
