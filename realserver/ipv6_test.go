package realserver

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUpDownDRIPv6 prepares a dual-stack DR real server: the IPv6 VIP
// goes on lo as a /128 without a label (Linux answers neighbour
// solicitations only for addresses of the receiving interface, so no
// sysctl is needed for it), the IPv4 one as before; Down undoes both.
func TestUpDownDRIPv6(t *testing.T) {
	vip6 := netip.MustParseAddr("2001:db8:77::100")
	f := &fakeEnv{h: newFakeHost()}
	before := f.h.snapshot()
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeDR, VIPs: []netip.Addr{vip1, vip6}, VIPDevice: "lo:0", StateDir: dir})
	lo := f.h.links["lo"]
	if !slices.Contains(lo.addrs, netip.PrefixFrom(vip6, 128)) || !slices.Contains(lo.addrs, netip.PrefixFrom(vip1, 32)) {
		t.Errorf("lo addresses %v, want %s/32 and %s/128", lo.addrs, vip1, vip6)
	}
	st, err := ReadState(dir, "testns")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Changes {
		if c.Kind == ChangeAddr && c.Addr.Addr().Is6() && c.Label != "" {
			t.Errorf("IPv6 VIP recorded with label %q (labels are IPv4's)", c.Label)
		}
	}
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
		t.Errorf("host after down differs (-before +after):\n%s", diff)
	}
}

// TestUpTUNIPv6: a TUN real server with an IPv6 VIP takes the userspace
// decapsulator even where the kernel has ipip (tunl0 takes IPIP only),
// which gets both VIPs, with the tcx program for the IPv4 one; the IPv6
// one goes on the TUN device as a /128.
// Kernel decapsulation of IPv6 tunnels is refused, and a link-local VIP.
func TestUpTUNIPv6(t *testing.T) {
	vip6 := netip.MustParseAddr("2001:db8:77::100")
	f := &fakeEnv{h: newFakeHost()}
	f.h.ipip = true
	dir := t.TempDir()
	s := upFake(t, f, Config{Mode: ModeTUN, VIPs: []netip.Addr{vip1, vip6}, StateDir: dir})
	if st := s.State(); st.Decap != DecapTCX || st.Device != DefaultTunName {
		t.Errorf("state: decap %v device %q, want the userspace decapsulator with tcx", st.Decap, st.Device)
	}
	if len(f.decaps) != 1 || !slices.Equal(f.decaps[0].vips, []netip.Addr{vip1, vip6}) || !f.decaps[0].tcx {
		t.Fatalf("decapsulators: %+v", f.decaps)
	}
	tun := f.h.links[DefaultTunName]
	if tun == nil || !slices.Contains(tun.addrs, netip.PrefixFrom(vip6, 128)) || !slices.Contains(tun.addrs, netip.PrefixFrom(vip1, 32)) {
		t.Fatalf("TUN device: %+v, want %s/32 and %s/128", tun, vip1, vip6)
	}
	if err := s.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{Mode: ModeTUN, VIPs: []netip.Addr{vip6}, Decap: DecapKernel},
		{Mode: ModeTUN, VIPs: []netip.Addr{vip6}, Decap: DecapTCX},
		{Mode: ModeNAT, VIPs: []netip.Addr{vip6}},
		{Mode: ModeDR, VIPs: []netip.Addr{netip.MustParseAddr("fe80::1")}},
	} {
		c.StateDir = t.TempDir()
		if _, err := upWith(context.Background(), c, (&fakeEnv{h: newFakeHost()}).env()); err == nil {
			t.Errorf("%v %v (decap %v) accepted", c.Mode, c.VIPs, c.Decap)
		}
	}
}
