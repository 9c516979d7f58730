package director

import (
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/vs"
)

var _ ctl.Director = (*Director)(nil)

// Snapshot returns the rules with live counters, for ulvsadm listings.
func (d *Director) Snapshot() ctl.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	tcp, fin, udp := d.cfg.Engine.Timeouts().Get()
	snap := ctl.Snapshot{
		ConnTableSize: d.cfg.ConnTableSize,
		Timeouts:      config.Timeouts{TCP: uint32(tcp), TCPFin: uint32(fin), UDP: uint32(udp)},
	}
	for _, rs := range d.rules.Services {
		key := rs.Key()
		ss := ctl.ServiceStatus{Service: rs}
		ss.Service.Dests = nil
		if se := d.comp.svcs[key]; se != nil {
			ss.Stats = stats(se.stats.Load())
		}
		for _, rd := range rs.Dests {
			ds := ctl.DestStatus{Dest: rd}
			if de := d.comp.dests[destKey{svc: key, addr: rd.Addr, port: rd.Port}]; de != nil {
				st := de.state
				ds.ActiveConns = st.ActiveConns.Load()
				ds.InactConns = st.InactConns.Load()
				ds.PersistConns = st.PersistConns.Load()
				ds.Stats = stats(st.Load())
			}
			ss.Dests = append(ss.Dests, ds)
		}
		snap.Services = append(snap.Services, ss)
	}
	return snap
}

func stats(v vs.CounterValues) ctl.Stats {
	return ctl.Stats{Conns: v.Conns, InPkts: v.InPkts, OutPkts: v.OutPkts, InBytes: v.InBytes, OutBytes: v.OutBytes}
}
