package director

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/engine"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/vrrp"
	"github.com/ulvs/ulvs/vs"
)

var (
	_ ctl.Director   = (*Director)(nil)
	_ ctl.ConnLister = (*Director)(nil)
)

// SetCheckStatus gives the director the health checks' status, which its
// snapshots carry (ulvs checks, Prometheus).
func (d *Director) SetCheckStatus(f func() []healthcheck.VirtualStatus) {
	d.checks.Store(&f)
}

// SetHAStatus gives the director the failover instances' status, which
// its snapshots carry (ulvs ha, Prometheus).
func (d *Director) SetHAStatus(f func() []vrrp.Status) {
	d.haStatus.Store(&f)
}

// connSource is the part of the engine that lists connections and counts
// frames; the real engine has it, test fakes may not.
type connSource interface {
	Conns(ctx context.Context) ([]conntrack.Conn, conntrack.Tick)
	Templates() ([]conntrack.TemplateInfo, conntrack.Tick)
	Counters() map[string]uint64
}

// conn6Source is the engine's IPv6 connection listing.
type conn6Source interface {
	Conns6(ctx context.Context) ([]conntrack.Conn6, conntrack.Tick)
}

// Conns lists every connection for ipvsadm -L -c.
func (d *Director) Conns() []ctl.ConnStatus {
	src, ok := d.cfg.Engine.(connSource)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conns, now := src.Conns(ctx)
	tbl := d.cfg.Engine.Table()
	out := make([]ctl.ConnStatus, 0, len(conns))
	for _, c := range conns {
		cs := ctl.ConnStatus{
			Proto:   vs.Protocol(c.Key.Proto),
			Client:  netip.AddrPortFrom(netip.AddrFrom4(c.Key.Src), c.Key.SrcPort),
			Virtual: netip.AddrPortFrom(netip.AddrFrom4(c.Key.Dst), c.Key.DstPort),
			State:   c.State.String(),
			Expires: uint32(c.Remaining(now) / time.Second), // truncated, as /proc/net/ip_vs_conn
		}
		if dst := tbl.Dest(c.DestID); dst != nil {
			cs.Dest = netip.AddrPortFrom(dst.Addr, dst.Port)
		}
		out = append(out, cs)
	}
	if src6, ok := d.cfg.Engine.(conn6Source); ok {
		conns6, now := src6.Conns6(ctx)
		for _, c := range conns6 {
			cs := ctl.ConnStatus{
				Proto:   vs.Protocol(c.Key6.Proto),
				Client:  netip.AddrPortFrom(netip.AddrFrom16(c.Key6.Src), c.Key6.SrcPort),
				Virtual: netip.AddrPortFrom(netip.AddrFrom16(c.Key6.Dst), c.Key6.DstPort),
				State:   c.State.String(),
				Expires: uint32(c.Remaining(now) / time.Second),
			}
			if dst := tbl.Dest(c.DestID); dst != nil {
				cs.Dest = netip.AddrPortFrom(dst.Addr, dst.Port)
			}
			out = append(out, cs)
		}
	}
	// Persistence templates, as /proc/net/ip_vs_conn lists them: client
	// port 0, state NONE, protocol IP for a mark service with the mark in
	// the virtual address.
	tmpls, now := src.Templates()
	for _, tp := range tmpls {
		cs := ctl.ConnStatus{
			Proto:   vs.Protocol(tp.Key.Proto),
			Client:  netip.AddrPortFrom(netip.AddrFrom4(tp.Key.Src), 0),
			Virtual: netip.AddrPortFrom(netip.AddrFrom4(tp.Key.Dst), tp.Key.DstPort),
			State:   "NONE",
		}
		if tp.Key.Dst6 != ([16]byte{}) { // an IPv6 service's template
			cs.Client = netip.AddrPortFrom(netip.AddrFrom16(tp.Key.Src6), 0)
			cs.Virtual = netip.AddrPortFrom(netip.AddrFrom16(tp.Key.Dst6), tp.Key.DstPort)
		}
		if ms := tp.Expires.Sub(now); ms > 0 {
			cs.Expires = uint32(ms / 1000)
		}
		if dst := tbl.Dest(tp.DestID); dst != nil {
			port := dst.Port
			if tp.Key.DstPort == 0 {
				port = 0
			}
			cs.Dest = netip.AddrPortFrom(dst.Addr, port)
		}
		out = append(out, cs)
	}
	return out
}

// Snapshot returns the rules with live counters, for ulvsadm listings.
func (d *Director) Snapshot() ctl.Snapshot {
	// The checks' status is read before taking d.mu: the monitor holds
	// its own lock while it edits the table through d.
	var checks []healthcheck.VirtualStatus
	if f := d.checks.Load(); f != nil {
		checks = (*f)()
	}
	var ha []vrrp.Status
	if f := d.haStatus.Load(); f != nil {
		ha = (*f)()
	}
	daemons := d.sync.status()
	bgpSt := d.bgpStatus()
	d.mu.Lock()
	defer d.mu.Unlock()
	tcp, fin, udp := d.cfg.Engine.Timeouts().Get()
	snap := ctl.Snapshot{
		ConnTableSize: d.cfg.ConnTableSize,
		Timeouts:      config.Timeouts{TCP: uint32(tcp), TCPFin: uint32(fin), UDP: uint32(udp)},
		Checks:        checks,
		HA:            ha,
		Daemons:       daemons,
		MarkRules:     d.markStatus,
		BGP:           bgpSt,
	}
	if src, ok := d.cfg.Engine.(connSource); ok {
		snap.Engine = src.Counters()
	}
	if le, ok := d.cfg.Engine.(linkEngine); ok {
		snap.Interfaces = interfaceStatus(le.Links())
	}
	if de, ok := d.cfg.Engine.(defenseEngine); ok {
		s := de.Defense()
		snap.Defense = &ctl.DefenseStatus{DropEntry: s.DropEntry, DropPacket: s.DropPacket, SecureTCP: s.SecureTCP,
			DropEntryOn: s.DropEntryOn, DropRate: s.DropRate, SecureOn: s.SecureOn,
			Conns: s.Conns, Capacity: s.Capacity, Free: s.Free, AmemThresh: s.AmemThresh}
	}
	if we, ok := d.cfg.Engine.(workerEngine); ok {
		snap.Workers = workerStatus(we.WorkerStats())
	}
	for _, rs := range d.rules.Services {
		key := rs.Key()
		ss := ctl.ServiceStatus{Service: rs}
		ss.Service.Dests = nil
		if se := d.comp.svcs[key]; se != nil {
			ss.Stats = stats(se.stats.Load())
			d.addRates(&ss.Stats, &se.stats.Counters)
		}
		for _, rd := range rs.Dests {
			ds := ctl.DestStatus{Dest: rd}
			if de := d.comp.dests[destKey{svc: key, addr: rd.Addr, port: rd.Port}]; de != nil {
				st := de.state
				ds.ActiveConns = st.ActiveConns.Load()
				ds.InactConns = st.InactConns.Load()
				ds.PersistConns = st.PersistConns.Load()
				ds.Resolved = st.HasMAC()
				ds.Stats = stats(st.Load())
				d.addRates(&ds.Stats, &st.Counters)
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

// defenseEngine is the part of the engine that reports its tables' fill
// and defences.
type defenseEngine interface {
	Defense() engine.DefenseStatus
}

// workerEngine is the part of the engine that reports its workers' loops.
type workerEngine interface {
	WorkerStats() []engine.WorkerStats
}

// workerStatus converts the engine's worker counters for the snapshot.
func workerStatus(ws []engine.WorkerStats) []ctl.WorkerStatus {
	out := make([]ctl.WorkerStatus, len(ws))
	for i, w := range ws {
		out[i] = ctl.WorkerStatus{Index: w.Index, Packets: w.Packets, Batches: w.Batches, Polls: w.Polls,
			TxCalls: w.TxCalls, TxFrames: w.TxFrames, RingDrops: w.RingDrops, IdleWins: w.IdleWins, CPUNanos: uint64(w.CPU)}
	}
	return out
}

// linkEngine is the part of the engine that reports its interfaces.
type linkEngine interface {
	Links() []engine.LinkStatus
}

// interfaceStatus converts the engine's link states for the snapshot.
func interfaceStatus(ls []engine.LinkStatus) []ctl.InterfaceStatus {
	out := make([]ctl.InterfaceStatus, 0, len(ls))
	for _, l := range ls {
		st := ctl.InterfaceStatus{Name: l.Name, State: l.State.String(), Since: l.Since.UTC(),
			Index: l.Index, MTU: l.MTU, Carrier: l.Carrier, Losses: l.Losses}
		if l.MAC != ([6]byte{}) {
			st.MAC = net.HardwareAddr(l.MAC[:]).String()
		}
		out = append(out, st)
	}
	return out
}
