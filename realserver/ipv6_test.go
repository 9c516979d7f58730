package realserver

import (
	"context"
	"net/netip"
	"slices"
	"strings"
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

// TestIPv6VIPRefusedOutsideDR: TUN needs ip6ip6 decapsulation, which is
// not there yet; the refusal names the issue.
func TestIPv6VIPRefusedOutsideDR(t *testing.T) {
	for _, c := range []Config{
		{Mode: ModeTUN, VIPs: []netip.Addr{netip.MustParseAddr("2001:db8::100")}},
		{Mode: ModeDR, VIPs: []netip.Addr{netip.MustParseAddr("fe80::1")}},
	} {
		c.StateDir = t.TempDir()
		_, err := upWith(context.Background(), c, (&fakeEnv{h: newFakeHost()}).env())
		if err == nil {
			t.Errorf("%v %v accepted", c.Mode, c.VIPs)
			continue
		}
		if c.Mode == ModeTUN && !strings.Contains(err.Error(), "issue #17") {
			t.Errorf("refusal does not say why: %v", err)
		}
	}
}
