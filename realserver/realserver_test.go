package realserver

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpNetip = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

var (
	vip1 = netip.MustParseAddr("10.77.0.100")
	vip2 = netip.MustParseAddr("10.77.0.101")
)

func upFake(t *testing.T, f *fakeEnv, cfg Config) *Server {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	s, err := upWith(context.Background(), cfg, f.env())
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	return s
}

func assertNoState(t *testing.T, dir, name string) {
	t.Helper()
	if _, err := os.Stat(StatePath(dir, name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state file %s: got err %v, want it gone", StatePath(dir, name), err)
	}
}

func TestUpDownDR(t *testing.T) {
	tests := []struct {
		name string
		pre  func(h *fakeHost)
		// wantKeys are the sysctls Up records.
		wantKeys  []string
		wantAddrs int
	}{
		{
			name:      "fresh host",
			pre:       func(h *fakeHost) {},
			wantKeys:  []string{"all/arp_ignore", "all/arp_announce", "lo/arp_ignore", "lo/arp_announce"},
			wantAddrs: 2,
		},
		{
			name: "arp_ignore already 1, one VIP already on lo, lo up",
			pre: func(h *fakeHost) {
				h.sysctl[confKey("all", "arp_ignore")] = "1"
				h.links["lo"].up = true
				h.links["lo"].addrs = append(h.links["lo"].addrs, netip.PrefixFrom(vip1, 32))
			},
			wantKeys:  []string{"all/arp_announce", "lo/arp_ignore", "lo/arp_announce"},
			wantAddrs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEnv{h: newFakeHost()}
			tt.pre(f.h)
			before := f.h.snapshot()
			dir := t.TempDir()
			s := upFake(t, f, Config{Mode: ModeDR, VIPs: []netip.Addr{vip1, vip2}, StateDir: dir})

			for _, dev := range []string{"all", "lo"} {
				if got := f.h.sysctl[confKey(dev, "arp_ignore")]; got != "1" {
					t.Errorf("%s arp_ignore: got %s, want 1", dev, got)
				}
				if got := f.h.sysctl[confKey(dev, "arp_announce")]; got != "2" {
					t.Errorf("%s arp_announce: got %s, want 2", dev, got)
				}
			}
			lo := f.h.links["lo"]
			if !lo.up || !slices.Contains(lo.addrs, netip.PrefixFrom(vip1, 32)) || !slices.Contains(lo.addrs, netip.PrefixFrom(vip2, 32)) {
				t.Errorf("lo: up %v addrs %v, want up with both VIPs", lo.up, lo.addrs)
			}
			st, err := ReadState(dir, "testns")
			if err != nil {
				t.Fatalf("state file: %v", err)
			}
			if diff := cmp.Diff(s.State(), *st, cmpNetip); diff != "" {
				t.Errorf("state file differs from Server.State (-server +file):\n%s", diff)
			}
			var keys []string
			addrs := 0
			for _, c := range st.Changes {
				switch c.Kind {
				case ChangeSysctl:
					keys = append(keys, strings.TrimPrefix(c.Key, "net/ipv4/conf/"))
				case ChangeAddr:
					addrs++
				}
			}
			if diff := cmp.Diff(tt.wantKeys, keys); diff != "" {
				t.Errorf("recorded sysctls (-want +got):\n%s", diff)
			}
			if addrs != tt.wantAddrs {
				t.Errorf("recorded addresses: got %d, want %d", addrs, tt.wantAddrs)
			}

			// Down from another process, as `ulvs realserver down`.
			if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
				t.Fatalf("Down: %v", err)
			}
			if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
				t.Errorf("host after down differs from before up (-before +after):\n%s", diff)
			}
			assertNoState(t, dir, "testns")
			// Idempotent.
			if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
				t.Errorf("second Down: %v", err)
			}
		})
	}
}

func TestDownLeavesSysctlChangedSinceUp(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeDR, VIPs: []netip.Addr{vip1}, StateDir: dir})
	f.h.sysctl[confKey("all", "arp_announce")] = "1" // an admin changed it
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if got := f.h.sysctl[confKey("all", "arp_announce")]; got != "1" {
		t.Errorf("all/arp_announce: got %s, want the admin's 1 left alone", got)
	}
	if got := f.h.sysctl[confKey("all", "arp_ignore")]; got != "0" {
		t.Errorf("all/arp_ignore: got %s, want 0 restored", got)
	}
}

func TestUpKernelIPIP(t *testing.T) {
	tests := []struct {
		name        string
		pre         func(h *fakeHost)
		decap       Decap
		wantLinkAdd bool
	}{
		{name: "ipip creates tunl0", pre: func(h *fakeHost) { h.ipip = true }, wantLinkAdd: true},
		{name: "module autoload creates tunl0", pre: func(h *fakeHost) { h.ipip, h.autoload = true, true }, decap: DecapKernel},
		{name: "tunl0 exists, down", pre: func(h *fakeHost) { h.ipip = true; h.addLink(IPIPDevice) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEnv{h: newFakeHost()}
			tt.pre(f.h)
			before := f.h.snapshot()
			dir := t.TempDir()
			s := upFake(t, f, Config{Mode: ModeTUN, VIPs: []netip.Addr{vip1}, StateDir: dir, Decap: tt.decap})
			st := s.State()
			if st.Decap != DecapKernel || st.Device != IPIPDevice || st.Process != nil {
				t.Errorf("state: decap %v device %q process %v, want kernel tunl0 and no process", st.Decap, st.Device, st.Process)
			}
			if got := slices.ContainsFunc(st.Changes, func(c Change) bool { return c.Kind == ChangeLinkAdd }); got != tt.wantLinkAdd {
				t.Errorf("link-add recorded: got %v, want %v", got, tt.wantLinkAdd)
			}
			l := f.h.links[IPIPDevice]
			if l == nil || !l.up || !slices.Contains(l.addrs, netip.PrefixFrom(vip1, 32)) {
				t.Fatalf("tunl0: %+v, want up with the VIP", l)
			}
			for _, k := range []string{confKey("all", "rp_filter"), confKey(IPIPDevice, "rp_filter")} {
				if got := f.h.sysctl[k]; got != "0" {
					t.Errorf("%s: got %s, want 0", k, got)
				}
			}
			if len(f.decaps) != 0 {
				t.Errorf("a userspace decapsulator was started with kernel ipip")
			}
			if err := s.Down(context.Background()); err != nil {
				t.Fatalf("Down: %v", err)
			}
			if !tt.wantLinkAdd && f.h.links[IPIPDevice] != nil && !slices.Contains(before, "link tunl0 up=false addrs=[] labels=map[]") {
				// The module's fallback tunl0 stays while the module is
				// loaded, as in the kernel; it must be back to down and
				// bare, with its sysctls restored.
				if l := f.h.links[IPIPDevice]; l.up || len(l.addrs) != 0 || f.h.sysctl[confKey(IPIPDevice, "rp_filter")] != "1" {
					t.Errorf("tunl0 left %+v rp_filter %s, want down, no addresses, rp_filter 1", l, f.h.sysctl[confKey(IPIPDevice, "rp_filter")])
				}
				f.h.removeLink(IPIPDevice)
			}
			if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
				t.Errorf("host after down (-before +after):\n%s", diff)
			}
			assertNoState(t, dir, "testns")
		})
	}
}

// TestUpTUNAutoTakesTCX: without ipip, auto decapsulates with the tcx
// program and the userspace decapsulator together where the kernel takes
// the program.
func TestUpTUNAutoTakesTCX(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	s := upFake(t, f, Config{Mode: ModeTUN, VIPs: []netip.Addr{vip1}, StateDir: t.TempDir()})
	if st := s.State(); st.Decap != DecapTCX || st.Device != DefaultTunName || st.Process == nil {
		t.Errorf("state: decap %v device %q process %v, want tcx %s and this process", st.Decap, st.Device, st.Process, DefaultTunName)
	}
	if len(f.decaps) != 1 || !f.decaps[0].tcx || !f.decaps[0].armed {
		t.Fatalf("decapsulators: %+v, want one with tcx, armed", f.decaps)
	}
	// eth0's strict reverse-path filter (conf/default is 1) turns loose:
	// the inner packets arrive there.
	if got := f.h.sysctl[confKey("eth0", "rp_filter")]; got != "2" {
		t.Errorf("eth0 rp_filter %s, want 2", got)
	}
	if err := s.Down(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Asked for, the userspace decapsulator comes alone.
	f = &fakeEnv{h: newFakeHost()}
	s = upFake(t, f, Config{Mode: ModeTUN, Decap: DecapUser, VIPs: []netip.Addr{vip1}, StateDir: t.TempDir()})
	if st := s.State(); st.Decap != DecapUser || len(f.decaps) != 1 || f.decaps[0].tcx {
		t.Errorf("decap user: state %v, decapsulators %+v", st.Decap, f.decaps)
	}
	if err := s.Down(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Asked for, tcx fails where the kernel has none.
	f = &fakeEnv{h: newFakeHost(), noTCX: true}
	if _, err := upWith(context.Background(), Config{Mode: ModeTUN, Decap: DecapTCX, VIPs: []netip.Addr{vip1}, StateDir: t.TempDir()}, f.env()); !errors.Is(err, ErrNotSupported) {
		t.Errorf("decap tcx without tcx: got %v, want ErrNotSupported", err)
	}
}

func TestUpTUNAutoFallsBackToUserspace(t *testing.T) {
	f := &fakeEnv{h: newFakeHost(), noTCX: true}
	f.h.sysctl[confKey("all", "rp_filter")] = "1"
	before := f.h.snapshot()
	dir := t.TempDir()
	s := upFake(t, f, Config{Mode: ModeTUN, VIPs: []netip.Addr{vip1, vip2}, StateDir: dir})
	st := s.State()
	if st.Decap != DecapUser || st.Device != DefaultTunName || st.Iface != "eth0" {
		t.Errorf("state: decap %v device %q iface %q, want user %s eth0", st.Decap, st.Device, st.Iface, DefaultTunName)
	}
	if st.Process == nil || st.Process.PID != 100 {
		t.Errorf("process: got %+v, want this process (PID 100)", st.Process)
	}
	if len(f.decaps) != 1 || f.decaps[0].iface != "eth0" {
		t.Fatalf("decapsulators: %+v", f.decaps)
	}
	tun := f.h.links[DefaultTunName]
	if tun == nil || !tun.up || len(tun.addrs) != 2 {
		t.Fatalf("TUN device: %+v, want up with both VIPs", tun)
	}
	if got := f.h.sysctl[confKey(DefaultTunName, "rp_filter")]; got != "2" {
		t.Errorf("TUN rp_filter: got %s, want 2", got)
	}
	if got := f.h.sysctl[confKey("all", "rp_filter")]; got != "1" {
		t.Errorf("all/rp_filter: got %s, want 1 left alone", got)
	}
	if !f.h.nft[NftTable] {
		t.Errorf("nftables table %s missing", NftTable)
	}
	// Down from another process hands over to the decapsulator's process
	// first; here that process is this one, simulated by onStop.
	f.onStop = func(p *Process) {
		if err := s.Down(context.Background()); err != nil {
			t.Errorf("Server.Down: %v", err)
		}
	}
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if len(f.stopped) != 1 || f.stopped[0].PID != 100 {
		t.Errorf("stopped processes: %+v, want PID 100", f.stopped)
	}
	if !f.decaps[0].closed {
		t.Errorf("decapsulator not closed")
	}
	if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
		t.Errorf("host after down (-before +after):\n%s", diff)
	}
	assertNoState(t, dir, "testns")
}

// A decapsulator process that died without cleaning up: Down reverts what
// it left (the TUN device went with the process).
func TestDownAfterProcessDied(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	before := f.h.snapshot()
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeTUN, Decap: DecapUser, VIPs: []netip.Addr{vip1}, StateDir: dir, Iface: "eth1"})
	f.decaps[0].closeFds() // killed: the kernel closes the TUN descriptor
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
		t.Errorf("host after down (-before +after):\n%s", diff)
	}
	assertNoState(t, dir, "testns")
}

func TestDownInDecapProcessRefused(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	dir := t.TempDir()
	s := upFake(t, f, Config{Mode: ModeTUN, Decap: DecapUser, VIPs: []netip.Addr{vip1}, StateDir: dir})
	defer s.Down(context.Background())
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.env()); err == nil {
		t.Errorf("Down in the decapsulator's own process: got nil error")
	}
}

func TestDownOtherNetNSRefused(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeDR, VIPs: []netip.Addr{vip1}, StateDir: dir})
	e := f.otherProcess()
	e.netnsID = func() (uint64, error) { return 999, nil }
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, e); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Errorf("Down in another netns: got %v, want a namespace error", err)
	}
}

func TestUpKernelWithoutIPIP(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	before := f.h.snapshot()
	dir := t.TempDir()
	_, err := upWith(context.Background(), Config{Mode: ModeTUN, Decap: DecapKernel, VIPs: []netip.Addr{vip1}, StateDir: dir}, f.env())
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Up: got %v, want ErrNotSupported", err)
	}
	if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
		t.Errorf("host changed (-before +after):\n%s", diff)
	}
	assertNoState(t, dir, "testns")
}

func TestUpFailureReverts(t *testing.T) {
	for _, op := range []string{"addNftDropIPIP", "addAddr", "setLinkUp", "openDecap", "writeSysctl"} {
		t.Run(op, func(t *testing.T) {
			f := &fakeEnv{h: newFakeHost()}
			before := f.h.snapshot()
			dir := t.TempDir()
			f.h.fail[op] = errors.New("injected")
			_, err := upWith(context.Background(), Config{Mode: ModeTUN, Decap: DecapUser, VIPs: []netip.Addr{vip1}, StateDir: dir}, f.env())
			if err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("Up: got %v, want the injected error", err)
			}
			if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
				t.Errorf("host after failed up (-before +after):\n%s", diff)
			}
			assertNoState(t, dir, "testns")
		})
	}
}

func TestDownFailureKeepsWhatFailed(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	before := f.h.snapshot()
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeDR, VIPs: []netip.Addr{vip1}, StateDir: dir})
	f.h.fail["delAddr"] = errors.New("injected")
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err == nil {
		t.Fatal("Down: got nil, want the injected error")
	}
	st, err := ReadState(dir, "testns")
	if err != nil {
		t.Fatalf("state after failed down: %v", err)
	}
	if len(st.Changes) != 1 || st.Changes[0].Kind != ChangeAddr {
		t.Errorf("changes left: %v, want only the address", st.Changes)
	}
	delete(f.h.fail, "delAddr")
	if err := downWith(context.Background(), DownConfig{StateDir: dir}, f.otherProcess()); err != nil {
		t.Fatalf("second Down: %v", err)
	}
	if diff := cmp.Diff(before, f.h.snapshot()); diff != "" {
		t.Errorf("host after down (-before +after):\n%s", diff)
	}
}

func TestUpTwice(t *testing.T) {
	f := &fakeEnv{h: newFakeHost()}
	dir := t.TempDir()
	upFake(t, f, Config{Mode: ModeDR, VIPs: []netip.Addr{vip1}, StateDir: dir})
	snap := f.h.snapshot()
	_, err := upWith(context.Background(), Config{Mode: ModeDR, VIPs: []netip.Addr{vip2}, StateDir: dir}, f.env())
	if !errors.Is(err, ErrAlreadyUp) {
		t.Errorf("second Up: got %v, want ErrAlreadyUp", err)
	}
	if diff := cmp.Diff(snap, f.h.snapshot()); diff != "" {
		t.Errorf("second Up changed the host:\n%s", diff)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{VIPs: []netip.Addr{vip1}},
		{Mode: ModeDR},
		{Mode: ModeDR, VIPs: []netip.Addr{netip.MustParseAddr("::1")}},
		{Mode: ModeDR, VIPs: []netip.Addr{netip.MustParseAddr("0.0.0.0")}},
		{Mode: ModeDR, VIPs: []netip.Addr{vip1, vip1}},
		{Mode: ModeDR, VIPs: []netip.Addr{vip1}, Name: "../etc"},
		{Mode: ModeTUN, VIPs: []netip.Addr{vip1}, TunName: "a-name-much-too-long"},
		{Mode: ModeTUN, VIPs: []netip.Addr{vip1}, Iface: "eth0 up"},
	}
	for i, c := range bad {
		if err := c.validate(); err == nil {
			t.Errorf("config %d %+v: got nil error", i, c)
		}
	}
	c := Config{Mode: ModeTUN, VIPs: []netip.Addr{vip1}}
	if err := c.validate(); err != nil || c.TunName != DefaultTunName || c.StateDir != DefaultStateDir || c.Logger == nil {
		t.Errorf("defaults: err %v, %+v", err, c)
	}
}
