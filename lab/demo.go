package lab

import (
	_ "embed"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The demo configs are copies of the examples (go:embed cannot reach
// outside the package directory); a test keeps each equal to its original.
//
//go:generate cp ../examples/ulvs.toml dr.toml
//go:generate cp ../examples/nat.toml nat.toml
//go:generate cp ../examples/fullnat.toml fullnat.toml
//go:generate cp ../examples/tun.toml tun.toml
var (
	//go:embed dr.toml
	drConfig []byte
	//go:embed nat.toml
	natConfig []byte
	//go:embed fullnat.toml
	fullnatConfig []byte
	//go:embed tun.toml
	tunConfig []byte
)

// DemoConfig returns a ulvsd configuration (TOML) for the lab in mode, each
// balancing VIP 10.77.0.100:80 round-robin over rs1 and rs2 as seed 002
// does: "dr" (examples/ulvs.toml) and "tun" (examples/tun.toml) on the flat
// lab, "nat" (examples/nat.toml) and "fullnat" (examples/fullnat.toml, with
// local_addresses = LocalAddrs) with the director on d-eth0 and d-eth1.
func DemoConfig(mode string) ([]byte, error) {
	var b []byte
	switch mode {
	case ModeDR:
		b = drConfig
	case ModeNAT:
		b = natConfig
	case ModeFullNAT:
		b = fullnatConfig
	case ModeTUN:
		b = tunConfig
	default:
		return nil, fmt.Errorf("lab demo mode %q: want one of %v", mode, Modes())
	}
	return append([]byte(nil), b...), nil
}

// DemoConfig6 returns the IPv6 demo's ulvsd configuration (TOML) for the
// dual-stack lab l (Config.IPv6): the story of DemoConfig told over IPv6,
// VIP6 port 80 balanced round-robin over rs1 and rs2's IPv6 addresses
// (RIPs6) with the lab's method: DR, NAT66, FULLNAT through LocalAddrs6
// (fnat66), or TUN (ip6ip6).
func DemoConfig6(l *Lab) ([]byte, error) {
	if !l.VIP6.IsValid() || len(l.RIPs6) < 2 {
		return nil, fmt.Errorf("lab %s is not dual-stack (lab up --ipv6)", l.Prefix)
	}
	forward := map[string]string{ModeDR: "dr", ModeNAT: "nat", ModeFullNAT: "fullnat", ModeTUN: "tun"}[l.Mode]
	if forward == "" {
		return nil, fmt.Errorf("lab demo mode %q: want one of %v", l.Mode, Modes())
	}
	var b strings.Builder
	b.WriteString("# ulvs lab demo --ipv6: written by lab.DemoConfig6.\n[director]\n")
	if l.DirectorInsideIface != "" {
		fmt.Fprintf(&b, "interfaces = [%q, %q]\n", l.DirectorIface, l.DirectorInsideIface)
	} else {
		fmt.Fprintf(&b, "interfaces = [%q]\n", l.DirectorIface)
	}
	fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"tcp\"\naddress = %q\nscheduler = \"rr\"\nforward = %q\n",
		netip.AddrPortFrom(l.VIP6, 80).String(), forward)
	if l.Mode == ModeFullNAT {
		var q []string
		for _, a := range l.LocalAddrs6 {
			q = append(q, strconv.Quote(a.String()))
		}
		fmt.Fprintf(&b, "local_addresses = [%s]\n", strings.Join(q, ", "))
	}
	for _, r := range l.RIPs6[:2] {
		fmt.Fprintf(&b, "\n  [[virtual_server.real_server]]\n  address = %q\n  weight = 1\n", netip.AddrPortFrom(r, 80).String())
	}
	return []byte(b.String()), nil
}
