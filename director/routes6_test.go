package director

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

func TestReadRoutes6(t *testing.T) {
	in := `20010db8007700000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   d-eth0
20010db8009900000000000000000000 40 00000000000000000000000000000000 00 20010db8007700000000000000000011 00000400 00000001 00000000 00000003   d-eth0
20010db8009900000000000000000000 38 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003   d-eth1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003   d-eth1
20010db8000100000000000000000000 40 00000000000000000000000000000000 00 20010db8007700000000000000000001 00000400 00000001 00000000 00000003   eth9
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   d-eth0
zz 40 00 00 00 00 00 00 00 d-eth0
`
	got := readRoutes6(strings.NewReader(in), []string{"d-eth0", "d-eth1"})
	want := []route6{
		{netip.MustParsePrefix("2001:db8:77::/64"), 0, netip.Addr{}},
		{netip.MustParsePrefix("2001:db8:99::/64"), 0, netip.MustParseAddr("2001:db8:77::11")},
		{netip.MustParsePrefix("2001:db8:99::/56"), 1, netip.MustParseAddr("fe80::1")},
		{netip.MustParsePrefix("ff00::/8"), 0, netip.Addr{}},
		{netip.MustParsePrefix("::/0"), 1, netip.MustParseAddr("fe80::1")},
	}
	if len(got) != len(want) {
		t.Fatalf("routes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("route %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestTunnel6ViaRouter: an IPv6 tunnel real server off the director's
// links is reached through its route's router: the router's interface,
// the router's MAC once resolved (and again when it changes), the router
// watched for resolution; an on-link one and a DR one are not.
func TestTunnel6ViaRouter(t *testing.T) {
	d, fe := newTestDirector(t)
	d.comp.ifacePrefixes = [][]netip.Prefix{{netip.MustParsePrefix("2001:db8:77::/64")}, {netip.MustParsePrefix("2001:db8:88::/64")}}
	router := netip.MustParseAddr("2001:db8:88::1")
	d.comp.routes6 = []route6{{netip.MustParsePrefix("2001:db8:99::/64"), 1, router}}
	far, near := netip.MustParseAddr("2001:db8:99::11"), netip.MustParseAddr("2001:db8:77::12")
	s := config.Service{Proto: vs.TCP, Addr: netip.MustParseAddr("2001:db8:77::100"), Port: 80, Scheduler: "rr",
		Dests: []config.Dest{{Addr: far, Port: 80, Method: vs.Tunnel, Weight: 1}, {Addr: near, Port: 80, Method: vs.Tunnel, Weight: 1}}}
	if err := d.SetRules(config.Rules{Services: []config.Service{s}}); err != nil {
		t.Fatal(err)
	}
	dest := func(a netip.Addr) *vs.Dest {
		for _, x := range fe.t.Lookup6(vs.TCP, s.Addr.As16(), 80).Dests {
			if x.Addr == a {
				return x
			}
		}
		t.Fatalf("no dest %v", a)
		return nil
	}
	if got := dest(far); got.Iface != 1 || got.State.HasMAC() {
		t.Fatalf("far real server: iface %d, MAC known %v before the router resolved", got.Iface, got.State.HasMAC())
	}
	if got := d.comp.viaRouters(); len(got) != 1 || got[0] != (via6{router, 1}) {
		t.Errorf("routers to resolve %v", got)
	}
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	d.macChanged(router, mac, true)
	if got, ok := dest(far).State.MAC(); !ok || got != mac {
		t.Errorf("far real server's MAC %x %v, want the router's", got, ok)
	}
	if dest(near).State.HasMAC() || dest(near).Iface != 0 {
		t.Errorf("the on-link real server took the router's MAC or interface")
	}
	d.macChanged(router, mac, false)
	if dest(far).State.HasMAC() {
		t.Error("the router's loss left its MAC on the real server")
	}
	// A DR real server off-link is not routed (the kernel's DR needs it
	// on the link).
	s.Dests = []config.Dest{{Addr: far, Port: 80, Method: vs.Route, Weight: 1}}
	if err := d.SetRules(config.Rules{Services: []config.Service{s}}); err != nil {
		t.Fatal(err)
	}
	if len(d.comp.viaRouters()) != 0 {
		t.Error("a DR real server is resolved through a router")
	}
}
