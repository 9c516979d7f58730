package healthcheck

import (
	"net/netip"

	"github.com/ulvs/ulvs/config"
)

// VirtualStatus is one checked virtual service as `ulvs checks` shows it.
type VirtualStatus struct {
	Service  config.ServiceKey
	QuorumUp bool
	// SorryActive: the sorry server is in the pool.
	SorryActive bool
	Sorry       netip.AddrPort // invalid when none is configured
	Reals       []RealStatus
}

// RealStatus is one real server of a checked service.
type RealStatus struct {
	Addr    netip.Addr
	Port    uint16
	Alive   bool
	Weight  int32 // effective: configured or misc_dynamic's
	Inhibit bool
	Checks  []CheckStatus
}

// Status returns every checked service, its servers and their checkers,
// in configuration order.
func (m *Monitor) Status() []VirtualStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]VirtualStatus, 0, len(m.vss))
	for _, v := range m.vss {
		vs := VirtualStatus{Service: v.svc.Key(), QuorumUp: v.quorumUp, SorryActive: v.sorryOn}
		if s := v.health.Sorry; s != nil {
			vs.Sorry = netip.AddrPortFrom(s.Addr, s.Port)
		}
		for _, r := range v.rss {
			rs := RealStatus{Addr: r.dest.Addr, Port: r.dest.Port, Alive: r.alive, Weight: r.weight, Inhibit: r.health.Inhibit}
			for _, c := range r.chks {
				rs.Checks = append(rs.Checks, c.r.Status())
			}
			vs.Reals = append(vs.Reals, rs)
		}
		out = append(out, vs)
	}
	return out
}
