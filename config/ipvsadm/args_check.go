package ipvsadm

import "github.com/ulvs/ulvs/config"

// genericOptCheck is ipvsadm's generic_opt_check: every option given must
// be allowed with the command (commandOptions), and the ones it needs must
// be there; the first offender, in option order, is the message.
func (p *parser) genericOptCheck() *ParseError {
	row := commandOptions[p.cmd.Op]
	name := p.cmd.Op.String()
	count, last := 0, 0
	for j := range numOpts {
		if !p.has(j) {
			if row[j] == '+' {
				return failf("You need to supply the '%s' option for the '%s' command", optNames[j], name)
			}
			continue
		}
		switch row[j] {
		case 'x':
			return failf("Illegal '%s' option with the '%s' command", optNames[j], name)
		case '1':
			count++
			if count == 1 {
				last = j
				continue
			}
			return failf("The option '%s' conflicts with the '%s' option in the '%s' command", optNames[j], optNames[last], name)
		}
	}
	return nil
}

// tunnelOptCheck is ipvsadm's tunnel_opt_check: the --tun-* options must
// suit the tunnel type (tunnelOptions), and at most one checksum option.
func (p *parser) tunnelOptCheck() *ParseError {
	t := &p.cmd.Tunnel
	typ := t.Type
	if typ == "" {
		typ = config.TunnelIPIP
	}
	row := tunnelOptions[typ]
	count, last := 0, 0
	for j, k := range tunnelOpts {
		if !p.has(k) {
			if row[j] == '+' {
				return failf("You need to supply the '%s' option for the '%s' tunnel type", optNames[k], typ)
			}
			continue
		}
		switch row[j] {
		case 'x':
			return failf("Illegal '%s' option with the '%s' tunnel type", optNames[k], typ)
		case '1':
			count++
			if count == 1 {
				last = k
				continue
			}
			return failf("The option '%s' conflicts with the '%s' option in the '%s' tunnel type", optNames[k], optNames[last], typ)
		}
	}
	switch p.tunCsum {
	case 1:
		t.Csum = config.TunnelNoCsum
	case 2:
		t.Csum = config.TunnelCsum
	case 4:
		t.Csum = config.TunnelRemCsum
	}
	return nil
}
