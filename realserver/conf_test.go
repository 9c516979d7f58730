package realserver

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	gw1 = netip.MustParseAddr("10.77.0.1")
	gw0 = netip.MustParseAddr("10.0.0.254")
)

// TestUpDownConfigureScriptDR is what `ulvs realserver up --conf
// lvs_dr.conf` asks of a DR real server: SERVER_VIP_DEVICE=lo:0 (the VIPs
// labelled lo:0), SERVER_NET_DEVICE=eth0 (its ARP sysctls too) and
// SERVER_GW (the default route, replacing the old one until down).
func TestUpDownConfigureScriptDR(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	f.h.defVia, f.h.defDev = gw0, "eth0"
	before := f.h.snapshot()
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeDR, VIPs: []netip.Addr{vip1}, VIPDevice: "lo:0", NetDevice: "eth0", Gateway: gw1, StateDir: dir})

	for _, dev := range []string{"all", "lo", "eth0"} {
		if got := f.h.sysctl[confKey(dev, "arp_ignore")] + f.h.sysctl[confKey(dev, "arp_announce")]; got != "12" {
			t.Errorf("%s arp_ignore, arp_announce: got %q, want 1 and 2", dev, got)
		}
	}
	lo := f.h.links["lo"]
	if got := lo.labels[netip.PrefixFrom(vip1, 32)]; got != "lo:0" {
		t.Errorf("label of %v on lo: got %q, want lo:0", vip1, got)
	}
	if f.h.defVia != gw1 || f.h.defDev != "eth0" {
		t.Errorf("default route: got %s, want via %v dev eth0", routeText(f.h.defVia, f.h.defDev), gw1)
	}
	st, err := ReadState(dir, "testns")
	if err != nil {
		t.Fatal(err)
	}
	var descr []string
	for _, c := range st.Changes {
		if c.Kind != ChangeSysctl {
			descr = append(descr, c.String())
		}
	}
	want := []string{"set link lo up", "added 10.77.0.100/32 on lo (label lo:0)",
		"default route via 10.77.0.1 dev eth0 (was via 10.0.0.254 dev eth0)"}
	if diff := cmp.Diff(want, descr); diff != "" {
		t.Errorf("recorded changes (-want +got):\n%s", diff)
	}
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
		t.Errorf("host after down differs from before up (-before +after):\n%s", diff)
	}
}

func TestUpDummyVIPDevice(t *testing.T) {
	t.Run("created and removed", func(t *testing.T) {
		f := &fakeEnv{h: newFakeHost()}
		f.h.dummy = true
		before := f.h.snapshot()
		dir := t.TempDir()
		upFake(t, f, Config{Mode: ModeDR, VIPs: []netip.Addr{vip1}, VIPDevice: "dummy0", StateDir: dir})
		d := f.h.links["dummy0"]
		if d == nil || !d.up || len(d.addrs) != 1 || d.addrs[0] != netip.PrefixFrom(vip1, 32) {
			t.Fatalf("dummy0: %+v, want up with %v", d, vip1)
		}
		if f.h.sysctl[confKey("dummy0", "arp_ignore")] != "1" {
			t.Errorf("dummy0 arp_ignore not set")
		}
		if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
			t.Errorf("host after down differs (-before +after):\n%s", diff)
		}
	})
	t.Run("no dummy module", func(t *testing.T) {
		f := &fakeEnv{h: newFakeHost()}
		before := f.h.snapshot()
		dir := t.TempDir()
		_, err := upWith(context.Background(), Config{Mode: ModeDR, VIPs: []netip.Addr{vip1}, VIPDevice: "dummy0", StateDir: dir}, f.env())
		if err == nil || !strings.Contains(err.Error(), "dummy module") {
			t.Fatalf("Up: got %v, want an error naming the dummy module", err)
		}
		if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
			t.Errorf("host after the failed up differs (-before +after):\n%s", diff)
		}
		assertNoState(t, dir, "testns")
	})
	t.Run("missing device", func(t *testing.T) {
		f := &fakeEnv{h: newFakeHost()}
		_, err := upWith(context.Background(), Config{Mode: ModeDR, VIPs: []netip.Addr{vip1}, VIPDevice: "eth9", StateDir: t.TempDir()}, f.env())
		if err == nil || !strings.Contains(err.Error(), "eth9 does not exist") {
			t.Fatalf("Up: got %v", err)
		}
	})
}

func TestUpDownNAT(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	before := f.h.snapshot()
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeNAT, Gateway: gw1, NetDevice: "eth0", StateDir: dir})
	if f.h.defVia != gw1 || f.h.defDev != "eth0" {
		t.Errorf("default route: got %s, want via %v dev eth0", routeText(f.h.defVia, f.h.defDev), gw1)
	}
	if f.h.sysctl[confKey("all", "arp_ignore")] != "0" {
		t.Errorf("NAT changed arp_ignore")
	}
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
		t.Errorf("host after down differs (-before +after):\n%s", diff)
	}
}

// TestDownLeavesRouteChangedSinceUp: a default route someone else set
// after up stays.
func TestDownLeavesRouteChangedSinceUp(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	f.h.defVia, f.h.defDev = gw0, "eth0"
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeNAT, Gateway: gw1, StateDir: dir})
	other := netip.MustParseAddr("10.77.0.9")
	f.h.defVia = other
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
		t.Fatal(err)
	}
	if f.h.defVia != other {
		t.Errorf("default route via %v after down, want the later %v kept", f.h.defVia, other)
	}
}

func TestConfigValidateConfigureScript(t *testing.T) {
	bad := []Config{
		{Mode: ModeNAT},
		{Mode: ModeNAT, Gateway: gw1, VIPs: []netip.Addr{vip1}},
		{Mode: ModeNAT, Gateway: gw1, VIPDevice: "lo:0"},
		{Mode: ModeDR, VIPs: []netip.Addr{vip1}, Gateway: netip.MustParseAddr("224.0.0.1")},
		{Mode: ModeDR, VIPs: []netip.Addr{vip1}, VIPDevice: "lo:"},
		{Mode: ModeDR, VIPs: []netip.Addr{vip1}, VIPDevice: "lo:0:1"},
		{Mode: ModeDR, VIPs: []netip.Addr{vip1}, VIPDevice: "lo:a-label-too-long"},
		{Mode: ModeTUN, VIPs: []netip.Addr{vip1}, VIPDevice: "tunl0:1"},
		{Mode: ModeDR, VIPs: []netip.Addr{vip1}, NetDevice: "eth0; reboot"},
	}
	for i, c := range bad {
		if err := c.validate(); err == nil {
			t.Errorf("config %d %+v: got nil error", i, c)
		}
	}
}
