package director

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// TestIPv6Compile: an IPv6 service compiles into the table's IPv6 index
// with a /128 default persistence granularity, or its -M prefix length.
func TestIPv6Compile(t *testing.T) {
	d, fe := newTestDirector(t)
	vip6 := netip.MustParseAddr("2001:db8::100")
	s := config.Service{Proto: vs.TCP, Addr: vip6, Port: 80, Scheduler: "sh",
		Dests: []config.Dest{{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Method: vs.Route, Weight: 1}}}
	p := s
	p.Port, p.Persistent, p.Timeout, p.Netmask = 443, true, 60, config.IPv6Mask(64)
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1), s, p}}); err != nil {
		t.Fatal(err)
	}
	got := fe.t.Lookup6(vs.TCP, vip6.As16(), 80)
	if got == nil || got.Netmask != 128 || len(got.Dests) != 1 {
		t.Fatalf("Lookup6 :80 = %+v", got)
	}
	if got := fe.t.Lookup6(vs.TCP, vip6.As16(), 443); got == nil || got.Netmask != 64 {
		t.Errorf("Lookup6 :443 = %+v, want netmask 64", got)
	}
	if !fe.t.IsVIP6(vip6.As16()) || fe.t.Lookup(vs.TCP, vipA.As4(), 80) == nil {
		t.Error("dual-stack table lost a VIP")
	}
}

// TestIPv6Failover: a vrrp_instance over IPv6 fails IPv6 VIPs over: an
// IPv6 VIP whose instance is backup here is on standby (no neighbour
// answers, its traffic dropped) and served once master. Piranha's pulse
// carries IPv4 only, so IPv6 services beside it are refused.
func TestIPv6Failover(t *testing.T) {
	d, fe := newTestDirector(t)
	vip6 := netip.MustParseAddr("2001:db8::100")
	s := config.Service{Proto: vs.TCP, Addr: vip6, Port: 80, Scheduler: "rr"}
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1), s}}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetHA([]netip.Addr{vip6}, []netip.Addr{vipA, vip6}); err != nil {
		t.Fatal(err)
	}
	if fe.t.IsVIP6(vip6.As16()) || !fe.t.Standby6(vip6.As16()) {
		t.Error("IPv6 VIP of a backup instance is served")
	}
	if err := d.SetHA(nil, []netip.Addr{vipA, vip6}); err != nil {
		t.Fatal(err)
	}
	if !fe.t.IsVIP6(vip6.As16()) || fe.t.Standby6(vip6.As16()) {
		t.Error("IPv6 VIP of a master instance is not served")
	}

	d.SetHAPulse(true)
	err := d.SetHA(nil, []netip.Addr{vipA})
	if !errors.Is(err, config.ErrIPv6NotYet) || !strings.Contains(err.Error(), "pulse") {
		t.Errorf("IPv6 service with pulse: %v, want ErrIPv6NotYet", err)
	}
	// IPv4 alone still works with pulse.
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1)}}); err != nil {
		t.Errorf("IPv4 rules with pulse: %v", err)
	}
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1), s}}); !errors.Is(err, config.ErrIPv6NotYet) {
		t.Errorf("IPv6 rules with pulse: %v", err)
	}
}

// TestIPv6TunnelRules: tunnelling to IPv6 real servers and across
// families compiles; another method across families never reaches a
// table, from any format.
func TestIPv6TunnelRules(t *testing.T) {
	d, fe := newTestDirector(t)
	tun := config.Service{Proto: vs.TCP, Addr: netip.MustParseAddr("2001:db8::100"), Port: 80, Scheduler: "rr",
		Dests: []config.Dest{{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Method: vs.Tunnel, Weight: 1},
			{Addr: rip1, Port: 80, Method: vs.Tunnel, Weight: 1}}}
	mixedTun := svc("rr")
	mixedTun.Dests = []config.Dest{{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Method: vs.Tunnel, Weight: 1}}
	if err := d.SetRules(config.Rules{Services: []config.Service{tun, mixedTun}}); err != nil {
		t.Fatal(err)
	}
	if got := fe.t.Lookup6(vs.TCP, tun.Addr.As16(), 80); got == nil || len(got.Dests) != 2 {
		t.Errorf("ip6ip6 service: %+v", got)
	}
	mixed := svc("rr")
	mixed.Dests = []config.Dest{{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Method: vs.Masq, Weight: 1}}
	if err := d.SetRules(config.Rules{Services: []config.Service{mixed}}); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("NAT across families: %v, want ErrInvalid", err)
	}
}

// TestIPv6MixedWithSync: while a sync daemon runs, a real server of the
// other family is refused (EINVAL), as the kernel does: the sync protocol
// cannot carry its connections.
func TestIPv6MixedWithSync(t *testing.T) {
	fe := newFakeSyncEngine()
	d, err := New(Config{Engine: fe})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr")}}); err != nil {
		t.Fatal(err)
	}
	add := config.Command{Op: config.OpAddDest, HasService: true, Service: svc("rr"),
		Dest: config.Dest{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Method: vs.Tunnel, Weight: 1}}
	if err := d.Apply(daemonCmd(config.OpStartDaemon, "master", "lo")); err != nil {
		t.Skipf("no master socket on lo here: %v", err)
	}
	if err := d.Apply(add); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("mixed-family real server with a sync daemon: %v, want ErrInvalid", err)
	}
	if err := d.Apply(daemonCmd(config.OpStopDaemon, "master", "")); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(add); err != nil {
		t.Errorf("mixed-family real server without a sync daemon: %v", err)
	}
}

// TestIPv6FloatingAddress: an IPv6 failover address that is no IPv6 VIP
// (a NAT66 gateway, fe80::1 on the inside) is answered while its
// instance is master here, on its own interface only (where keepalived
// would add it), not on standby; one on none of ulvsd's interfaces is
// answered nowhere.
func TestIPv6FloatingAddress(t *testing.T) {
	d, fe := newTestDirector(t)
	d.cfg.Interfaces = []string{"eth0", "eth1"}
	vip6 := netip.MustParseAddr("2001:db8::100")
	gw, lost := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8:1::254")
	if err := d.SetRules(config.Rules{Services: []config.Service{{Proto: vs.TCP, Addr: vip6, Port: 80, Scheduler: "rr"}}}); err != nil {
		t.Fatal(err)
	}
	d.SetHALinks6(map[netip.Addr][]string{vip6: {"eth0"}, gw: {"eth1"}, lost: {"eth9"}})
	all := []netip.Addr{vipA, vip6, gw, lost}
	if err := d.SetHA([]netip.Addr{vip6, gw, lost}, all); err != nil {
		t.Fatal(err)
	}
	if fe.t.AnswersND6(gw.As16(), 1) || fe.t.AnswersND6(vip6.As16(), 0) {
		t.Error("a backup answers for its IPv6 failover addresses")
	}
	if err := d.SetHA(nil, all); err != nil {
		t.Fatal(err)
	}
	if !fe.t.AnswersND6(gw.As16(), 1) || fe.t.AnswersND6(gw.As16(), 0) {
		t.Errorf("fe80::1 of eth1: answered on eth1 %v (want true), on eth0 %v (want false)",
			fe.t.AnswersND6(gw.As16(), 1), fe.t.AnswersND6(gw.As16(), 0))
	}
	if !fe.t.AnswersND6(vip6.As16(), 0) || !fe.t.AnswersND6(vip6.As16(), 1) {
		t.Error("an IPv6 VIP is not answered on every interface")
	}
	if fe.t.AnswersND6(lost.As16(), 0) || fe.t.AnswersND6(lost.As16(), 1) {
		t.Error("an address of an interface ulvsd does not run on is answered")
	}
	if got := fe.t.FloatingAddrs6(); len(got) != 1 || got[0] != gw {
		t.Errorf("FloatingAddrs6 = %v, want [%v]", got, gw)
	}
}
