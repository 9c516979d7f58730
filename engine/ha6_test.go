package engine

import (
	"log/slog"
	"net/netip"
	"slices"
	"testing"

	"github.com/ulvs/ulvs/ndp"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/vs"
)

// TestIPv6FloatingGateway: an IPv6 floating failover address (a NAT66
// gateway, no VIP) is answered in neighbour discovery on its own link
// while its instance is master here, with the director's MAC, from the
// address itself (a link-local one too); not on another link, not on
// standby.
func TestIPv6FloatingGateway(t *testing.T) {
	for _, gw := range []netip.Addr{netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8:1::254")} {
		tbl := testTable6(t)
		w, l := newTestWorker()
		solicit := pkttest.Solicit6(rs1MAC, rs1v6, gw)
		if out := run(w, l, tbl, 0, solicit); len(out) != 0 {
			t.Errorf("%v: answered before it is a failover address", gw)
		}
		// On link 1 only: the test worker's frames arrive on link 0.
		tbl.SetHA6(nil, map[[16]byte]uint64{gw.As16(): 1 << 1})
		if out := run(w, l, tbl, 0, solicit); len(out) != 0 {
			t.Errorf("%v: answered on a link it is not on", gw)
		}
		tbl.SetHA6([][16]byte{gw.As16()}, map[[16]byte]uint64{gw.As16(): 1})
		if out := run(w, l, tbl, 0, solicit); len(out) != 0 {
			t.Errorf("%v: answered on standby", gw)
		}
		if got := tbl.FloatingAddrs6(); len(got) != 0 {
			t.Errorf("%v: FloatingAddrs6 on standby = %v", gw, got)
		}
		tbl.SetHA6(nil, map[[16]byte]uint64{gw.As16(): 1})
		out := run(w, l, tbl, 0, solicit)
		if len(out) != 1 {
			t.Fatalf("%v: %d frames out for a solicitation of the master's gateway, want 1", gw, len(out))
		}
		f := out[0]
		p := decoded6(t, f)
		if pkt.Ether(f).Dst() != rs1MAC || pkt.Ether(f).Src() != dirMAC || p.Src != gw.As16() || p.Dst != rs1v6.As16() {
			t.Errorf("%v: advert %x %v -> %x %v", gw, pkt.Ether(f).Src(), netip.AddrFrom16(p.Src), pkt.Ether(f).Dst(), netip.AddrFrom16(p.Dst))
		}
		target, mac, ok := ndp.ParseAdvert(f[p.L4Off : p.L4Off+p.L4Len])
		if !ok || target != gw.As16() || mac != dirMAC {
			t.Errorf("%v: advert target %v mac %x ok %v", gw, netip.AddrFrom16(target), mac, ok)
		}
		if got := tbl.FloatingAddrs6(); len(got) != 1 || got[0] != gw {
			t.Errorf("%v: FloatingAddrs6 = %v", gw, got)
		}
		if tbl.IsVIP6(gw.As16()) {
			t.Errorf("%v: a floating address became a VIP", gw)
		}
	}
}

// TestSetTableFanoutVIPs6: the fanout program follows the IPv6 VIPs
// whenever they change, not only when the first one comes: ulvsd installs
// its failover addresses before its rules, so a table with only an IPv6
// floating address (VIP6 not yet a service) comes first, then the one
// with the service; and a second IPv6 VIP must enter the program too.
func TestSetTableFanoutVIPs6(t *testing.T) {
	e := &Engine{log: slog.New(slog.DiscardHandler)}
	first := vs.NewTable(1, nil, nil)
	first.SetHA6([][16]byte{vip6.As16()}, map[[16]byte]uint64{vip6.As16(): 1})
	e.SetTable(first)
	tbl := testTable6(t)
	e.SetTable(tbl)
	if want := fanoutProgram(nil, vip6.As16()); !slices.Equal(e.fanProg, want) {
		t.Errorf("fanout program after the IPv6 service came: not the one for %v", vip6)
	}
	other := netip.MustParseAddr("2001:db8::200")
	two := vs.NewTable(2, append(tbl.Services, &vs.Service{ID: 9, Proto: vs.TCP, Addr: other, Port: 80, Netmask: 128, Stats: &vs.ServiceStats{}}), nil)
	e.SetTable(two)
	if want := fanoutProgram(nil, vip6.As16(), other.As16()); !slices.Equal(e.fanProg, want) {
		t.Errorf("fanout program after a second IPv6 VIP: not the one for both")
	}
}
