package lab

import (
	_ "embed"
	"fmt"
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
