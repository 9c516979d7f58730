package lab

import (
	_ "embed"
	"fmt"
)

// dr.toml is a copy of examples/ulvs.toml (go:embed cannot reach outside the
// package directory); a test keeps the two equal.
//
//go:generate cp ../examples/ulvs.toml dr.toml
//go:embed dr.toml
var drConfig []byte

// DemoConfig returns a ulvsd configuration (TOML) for the lab in mode:
// "dr" is LVS-DR with rr over rs1 and rs2 on VIP 10.77.0.100:80, the
// setup of seed 002. The flat lab has no inside network, so other modes
// are not offered yet.
func DemoConfig(mode string) ([]byte, error) {
	switch mode {
	case "dr":
		return append([]byte(nil), drConfig...), nil
	default:
		return nil, fmt.Errorf("lab demo mode %q: want dr (the flat lab has no NAT/TUN network yet)", mode)
	}
}
