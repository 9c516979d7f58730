package lab

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config/tomlfile"
	"github.com/ulvs/ulvs/vs"
)

func TestNewMode(t *testing.T) {
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	tests := []struct {
		mode        string
		wantMode    string
		rips        []netip.Addr
		insideIface string
		insideDIP   netip.Addr
		local       []netip.Addr
		direct      string // DirectNS
	}{
		{"", ModeDR, addrs("10.77.0.11", "10.77.0.12"), "", netip.Addr{}, nil, "p-client"},
		{ModeDR, ModeDR, addrs("10.77.0.11", "10.77.0.12"), "", netip.Addr{}, nil, "p-client"},
		{ModeTUN, ModeTUN, addrs("10.77.0.11", "10.77.0.12"), "", netip.Addr{}, nil, "p-client"},
		{ModeNAT, ModeNAT, addrs("10.77.1.11", "10.77.1.12"), "d-eth1", InsideDIP, nil, "p-director"},
		{ModeFullNAT, ModeFullNAT, addrs("10.77.1.11", "10.77.1.12"), "d-eth1", InsideDIP,
			addrs("10.77.1.200", "10.77.1.201"), "p-director"},
	}
	for _, tt := range tests {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			l, err := NewMode("p", 2, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if l.Mode != tt.wantMode || !slices.Equal(l.RIPs, tt.rips) || l.DirectorInsideIface != tt.insideIface ||
				l.InsideDIP != tt.insideDIP || !slices.Equal(l.LocalAddrs, tt.local) {
				t.Errorf("got mode %q, RIPs %v, inside %q %v, local %v; want %q, %v, %q %v, %v",
					l.Mode, l.RIPs, l.DirectorInsideIface, l.InsideDIP, l.LocalAddrs,
					tt.wantMode, tt.rips, tt.insideIface, tt.insideDIP, tt.local)
			}
			if l.VIP != VIP || l.DIP != DIP || l.ClientAddr != ClientAddr || l.DirectorIface != "d-eth0" {
				t.Errorf("outside addressing changed: %+v", l)
			}
			if got := l.DirectNS().Name; got != tt.direct {
				t.Errorf("DirectNS: got %s, want %s", got, tt.direct)
			}
			if got := len(l.Namespaces()); got != 5 {
				t.Errorf("namespaces: got %d, want 5", got)
			}
		})
	}
	// The highest real server stays below the local addresses.
	l, err := NewMode("p", MaxRealServers, ModeFullNAT)
	if err != nil {
		t.Fatal(err)
	}
	if last := l.RIPs[len(l.RIPs)-1]; !last.Less(l.LocalAddrs[0]) || !last.Less(LocalAddrs[0]) {
		t.Errorf("last RIP %s is not below the local addresses %v", last, l.LocalAddrs)
	}
	for _, bad := range []string{"DR", "masq", "ipip", "fullnat "} {
		if _, err := NewMode("p", 2, bad); err == nil {
			t.Errorf("NewMode(%q): got nil error", bad)
		}
		if ValidMode(bad) {
			t.Errorf("ValidMode(%q): got true", bad)
		}
	}
	for _, m := range Modes() {
		if !ValidMode(m) {
			t.Errorf("ValidMode(%q): got false", m)
		}
	}
	if Modes()[0] != ModeDR {
		t.Errorf("Modes()[0]: got %q, want the default dr", Modes()[0])
	}
	if got := RSIface(11); got != "r12-eth0" {
		t.Errorf("RSIface(11): got %q", got)
	}
}

func TestDecapConfig(t *testing.T) {
	l, err := NewMode("pt", 2, ModeTUN)
	if err != nil {
		t.Fatal(err)
	}
	c := l.DecapConfig(1)
	if c.Mode.String() != "tun" || !slices.Equal(c.VIPs, []netip.Addr{VIP}) || c.Iface != "r2-eth0" ||
		c.Name != "pt-rs2" || c.Decap.String() != "auto" {
		t.Errorf("DecapConfig(1): %+v", c)
	}
}

func TestStateModes(t *testing.T) {
	for _, mode := range Modes() {
		l, err := NewMode("sm", 2, mode)
		if err != nil {
			t.Fatal(err)
		}
		path := StatePath(t.TempDir(), "sm")
		if err := WriteState(path, &State{Lab: l}); err != nil {
			t.Fatal(err)
		}
		got, err := ReadState(path)
		if err != nil {
			t.Fatalf("mode %s: %v", mode, err)
		}
		if got.Lab.Mode != mode || !slices.Equal(got.Lab.RIPs, l.RIPs) || got.Lab.InsideDIP != l.InsideDIP ||
			got.Lab.DirectorInsideIface != l.DirectorInsideIface || !slices.Equal(got.Lab.LocalAddrs, l.LocalAddrs) {
			t.Errorf("mode %s after round trip: %+v", mode, got.Lab)
		}
	}

	// A state file from before modes reads as a DR lab; inconsistent
	// inside fields and unknown modes are rejected.
	base := `{"lab":{"prefix":"p","switch":"p-sw","client":"p-client","director":"p-director",
"rs":["p-rs1"],"vip":"10.77.0.100","dip":"10.77.0.2","rips":["10.77.0.11"],"client_addr":"10.77.0.10",
"director_iface":"d-eth0"%s}}`
	tests := []struct {
		name     string
		extra    string
		wantErr  bool
		wantMode string
	}{
		{"no mode", ``, false, ModeDR},
		{"nat", `,"mode":"nat","director_inside_iface":"d-eth1","inside_dip":"10.77.1.1"`, false, ModeNAT},
		{"nat without inside", `,"mode":"nat"`, true, ""},
		{"dr with inside", `,"mode":"dr","director_inside_iface":"d-eth1","inside_dip":"10.77.1.1"`, true, ""},
		{"nat wrong inside dip", `,"mode":"nat","director_inside_iface":"d-eth1","inside_dip":"10.77.1.2"`, true, ""},
		{"unknown mode", `,"mode":"ipip"`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.json")
			if err := os.WriteFile(path, []byte(strings.Replace(base, "%s", tt.extra, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := ReadState(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReadState: got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && st.Lab.Mode != tt.wantMode {
				t.Errorf("mode: got %q, want %q", st.Lab.Mode, tt.wantMode)
			}
		})
	}
}

// TestDemoConfigModes parses each mode's demo config with the director's
// parser and checks it against the lab of that mode.
func TestDemoConfigModes(t *testing.T) {
	examples := map[string]string{
		ModeDR: "ulvs.toml", ModeNAT: "nat.toml", ModeFullNAT: "fullnat.toml", ModeTUN: "tun.toml",
	}
	methods := map[string]vs.Method{ModeDR: vs.Route, ModeNAT: vs.Masq, ModeFullNAT: vs.FullNAT, ModeTUN: vs.Tunnel}
	for _, mode := range Modes() {
		t.Run(mode, func(t *testing.T) {
			b, err := DemoConfig(mode)
			if err != nil {
				t.Fatal(err)
			}
			// Each is a copy of an example (go:embed cannot reach them).
			if orig, err := os.ReadFile(filepath.Join("..", "examples", examples[mode])); err != nil {
				t.Errorf("read the original: %v", err)
			} else if string(orig) != string(b) {
				t.Errorf("the %s demo config differs from examples/%s: run go generate ./lab", mode, examples[mode])
			}
			l, err := NewMode("p", 2, mode)
			if err != nil {
				t.Fatal(err)
			}
			checkDemoConfig(t, l, b, l.VIP, l.LocalAddrs, l.RIPs, methods[mode])
		})
	}
}

// checkDemoConfig parses demo config b with the director's parser and
// checks it against lab l: its interfaces, one TCP service on vip:80 rr
// through locals, real servers rips:80 of method m, weight 1.
func checkDemoConfig(t *testing.T, l *Lab, b []byte, vip netip.Addr, locals, rips []netip.Addr, m vs.Method) {
	t.Helper()
	f, err := tomlfile.Parse("demo.toml", b)
	if err != nil {
		t.Fatalf("tomlfile.Parse: %v\n%s", err, b)
	}
	wantIfaces := []string{l.DirectorIface}
	if l.DirectorInsideIface != "" {
		wantIfaces = append(wantIfaces, l.DirectorInsideIface)
	}
	if !slices.Equal(f.Interfaces, wantIfaces) {
		t.Errorf("interfaces: got %v, want %v", f.Interfaces, wantIfaces)
	}
	if len(f.Rules.Services) != 1 {
		t.Fatalf("services: got %d, want 1", len(f.Rules.Services))
	}
	svc := f.Rules.Services[0]
	if svc.Addr != vip || svc.Port != ServerPort || svc.Proto != vs.TCP || svc.Scheduler != "rr" {
		t.Errorf("service: %+v", svc)
	}
	if !slices.Equal(svc.LocalAddrs, locals) {
		t.Errorf("local addresses: got %v, want %v", svc.LocalAddrs, locals)
	}
	var got []netip.Addr
	for _, d := range svc.Dests {
		got = append(got, d.Addr)
		if d.Method != m || d.Port != ServerPort || d.Weight != 1 {
			t.Errorf("real server %+v: want method %v, port %d, weight 1", d, m, ServerPort)
		}
	}
	if !slices.Equal(got, rips) {
		t.Errorf("real servers: got %v, want the lab's %v", got, rips)
	}
}

// TestDemoConfig6 parses the IPv6 demo's config of each mode with the
// director's parser and checks it against the dual-stack lab of that mode:
// one service on VIP6, rr, the mode's method to rs1 and rs2's IPv6
// addresses, FULLNAT through LocalAddrs6.
func TestDemoConfig6(t *testing.T) {
	methods := map[string]vs.Method{ModeDR: vs.Route, ModeNAT: vs.Masq, ModeFullNAT: vs.FullNAT, ModeTUN: vs.Tunnel}
	for _, mode := range Modes() {
		t.Run(mode, func(t *testing.T) {
			l, err := NewMode("p", 2, mode)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DemoConfig6(l); err == nil {
				t.Error("DemoConfig6 of an IPv4-only lab: no error")
			}
			if err := dualStack(l, false); err != nil {
				t.Fatal(err)
			}
			b, err := DemoConfig6(l)
			if err != nil {
				t.Fatal(err)
			}
			if !l.VIP6.Is6() {
				t.Fatalf("VIP6 %v", l.VIP6)
			}
			checkDemoConfig(t, l, b, l.VIP6, l.LocalAddrs6, l.RIPs6, methods[mode])
		})
	}
}

// TestBackupPair: a lab with a backup director gets director2 with its
// addresses; a nat one routes its real servers through the floating
// gateways (fe80::1 for NAT66 when dual-stack); a dual-stack fullnat or
// tun lab with a backup is refused.
func TestBackupPair(t *testing.T) {
	l, err := NewMode("bp", 2, ModeNAT)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.extend(true, true); err != nil {
		t.Fatal(err)
	}
	if l.Backup.Name != "bp-director2" || l.BackupDIP != BackupDIP || l.BackupInsideDIP != BackupInsideDIP ||
		l.BackupDIP6 != BackupDIP6 || l.BackupInsideDIP6 != BackupInsideDIP6 {
		t.Errorf("backup director: %+v %v %v %v %v", l.Backup, l.BackupDIP, l.BackupInsideDIP, l.BackupDIP6, l.BackupInsideDIP6)
	}
	if l.Gateway != FloatingGateway || l.Gateway6 != FloatingGateway6 || !l.Gateway6.IsLinkLocalUnicast() {
		t.Errorf("gateways %v %v, want %v %v", l.Gateway, l.Gateway6, FloatingGateway, FloatingGateway6)
	}
	if n, ok := l.Node("director2"); !ok || n != l.Backup {
		t.Errorf("Node(director2) = %v, %v", n, ok)
	}
	// Without a backup the nat lab's real servers route through the
	// director's own inside addresses (Gateway invalid).
	one, _ := NewMode("bp", 2, ModeNAT)
	if err := one.extend(false, true); err != nil || one.Gateway.IsValid() || one.Gateway6.IsValid() || one.BackupInsideDIP6.IsValid() {
		t.Errorf("nat lab without a backup: %v, gateways %v %v", err, one.Gateway, one.Gateway6)
	}
	dr, _ := NewMode("bp", 2, ModeDR)
	if err := dr.extend(true, true); err != nil || dr.Gateway.IsValid() || dr.BackupDIP6 != BackupDIP6 {
		t.Errorf("dr lab with a backup: %v, gateway %v, backup %v", err, dr.Gateway, dr.BackupDIP6)
	}
	for _, mode := range []string{ModeFullNAT, ModeTUN} {
		l, _ := NewMode("bp", 2, mode)
		if err := l.extend(true, true); !errors.Is(err, ErrNotSupported) {
			t.Errorf("dual-stack %s lab with a backup: %v, want ErrNotSupported", mode, err)
		}
	}
}
