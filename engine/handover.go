package engine

import (
	"context"
	"errors"
	"time"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ipvssync"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

// This file hands the connection table from one ulvsd to the next across
// a restart: the old process lists its connections and persistence
// templates as connection sync entries (Handover), the new one takes them
// in through the sync backup's inboxes (TakeOver), so each lands in the
// table of the worker that owns its flow and keeps its real server and
// its remaining timeout.

// Handover lists every live connection and persistence template, IPv4
// and IPv6, as a connection sync entry with its remaining timeout
// (rounded up to whole seconds), for TakeOver in the next process. Connections whose real
// server is gone are left out, as are templates of fwmark services (the
// sync protocol carries none) and SYN proxy connections still opening
// (their handshake needs the old process's cookie key and queue); open
// proxied connections carry their translation state (proxySync), FULLNAT
// ones their local address and port (IPv4 and IPv6). The workers must be
// running.
func (e *Engine) Handover(ctx context.Context) []ipvssync.Entry {
	cp, now := e.copies(ctx)
	conns := cp.conns
	tbl := e.table.Load()
	out := make([]ipvssync.Entry, 0, len(conns))
	remaining := func(ms int32) uint32 { return uint32((int64(ms) + 999) / 1000) }
	for _, tp := range e.templates.List() {
		d := tbl.Dest(tp.DestID)
		left := tp.Expires.Sub(now)
		if d == nil || tp.Key.Proto == 0 || left <= 0 && tp.Controls == 0 {
			continue
		}
		if (tp.Key.Dst6 != [16]byte{}) != (d.Addr.Is6() && !d.Addr.Is4In6()) {
			continue // a tunnel real server of the other family: no entry holds both (#17)
		}
		if left <= 0 {
			left = 1000
		}
		en := ipvssync.Entry{
			Proto: tp.Key.Proto, Flags: methodFlags(d.Method) | ipvssync.FlagInactive | ipvssync.FlagTemplate,
			State: ipvssync.TemplateAssured, VPort: tp.Key.DstPort, DPort: d.Port, Timeout: remaining(left),
		}
		if d.Addr.Is6() {
			en.IPv6, en.CAddr6, en.VAddr6, en.DAddr6 = true, tp.Key.Src6, tp.Key.Dst6, d.Addr.As16()
		} else {
			en.CAddr, en.VAddr, en.DAddr = tp.Key.Src, tp.Key.Dst, d.Addr.As4()
		}
		out = append(out, en)
	}
	for i := range conns {
		c := &conns[i]
		d := tbl.Dest(c.DestID)
		left := c.Expires.Sub(now)
		if d == nil || left <= 0 || !d.Addr.Is4() { // IPv6 tunnel real servers of IPv4 services: not handed over yet (#17)
			continue
		}
		en := ipvssync.Entry{
			Proto: c.Key.Proto, Flags: methodFlags(d.Method) | ipvssync.Flags(c.Flags&(conntrack.FlagNoOutput|conntrack.FlagInactive)),
			State: wireState(c.State), CAddr: c.Key.Src, VAddr: c.Key.Dst, DAddr: d.Addr.As4(),
			CPort: c.Key.SrcPort, VPort: c.Key.DstPort, DPort: destPortOf(d, c.Key.DstPort),
			Timeout: remaining(left),
		}
		if svc := tbl.Service(c.SvcID); svc != nil {
			en.FwMark = svc.FwMark
		}
		if d.Method == vs.FullNAT {
			en.HasLocal, en.LAddr, en.LPort = true, cp.outs[i].Dst, cp.outs[i].DstPort
		}
		if cp.proxy != nil && !proxyEntry(&en, &cp.proxy[i]) {
			continue
		}
		out = append(out, en)
	}
	cp6, now6 := e.copies6(ctx)
	for i := range cp6.conns {
		c := &cp6.conns[i]
		d := tbl.Dest(c.DestID)
		left := c.Expires.Sub(now6)
		if d == nil || left <= 0 || !d.Addr.Is6() {
			continue
		}
		en := ipvssync.Entry{
			Proto: c.Key.Proto, Flags: methodFlags(d.Method) | ipvssync.Flags(c.Flags&(conntrack.FlagNoOutput|conntrack.FlagInactive)),
			State: wireState(c.State), IPv6: true, CAddr6: c.Key6.Src, VAddr6: c.Key6.Dst, DAddr6: d.Addr.As16(),
			CPort: c.Key6.SrcPort, VPort: c.Key6.DstPort, DPort: destPortOf(d, c.Key6.DstPort),
			Timeout: remaining(left),
		}
		if svc := tbl.Service(c.SvcID); svc != nil {
			en.FwMark = svc.FwMark // TakeOver finds an IPv6 fwmark service by it
		}
		en.HasNeigh, en.NeighMAC, en.NeighLink = neigh6(c, d)
		if d.Method == vs.FullNAT {
			en.HasLocal, en.LAddr6, en.LPort = true, c.Out6.Dst, c.Out6.DstPort
		}
		if cp6.proxy != nil && !proxyEntry(&en, &cp6.proxy[i]) {
			continue
		}
		out = append(out, en)
	}
	return out
}

// proxyEntry puts the translation state of open proxied connection sp
// into en; it reports false for a connection still opening, whose
// handshake state is the old process's alone (left out).
func proxyEntry(en *ipvssync.Entry, sp *synproxy.Conn) bool {
	switch sp.Phase {
	case synproxy.PhaseOpening:
		return false
	case synproxy.PhaseOpen:
		var fl ipvssync.Flags
		fl, en.InSeq, en.OutSeq, en.Proxy = proxySync(sp)
		en.Flags |= fl
		en.HasSeq, en.HasProxy = true, true
	}
	return true
}

// ErrSyncBackupRunning is returned by TakeOver while a connection sync
// backup runs: both would share the workers' inboxes.
var ErrSyncBackupRunning = errors.New("a connection sync backup is running")

// TakeOver inserts the entries of a previous process's Handover into the
// workers' tables, each in the table of the worker that owns its flow,
// with the connection sync backup's rules (the rules in force must name
// the entries' services and real servers; entries that match none are
// counted, not inserted). The workers must be running; TakeOver waits
// until they have applied every entry (and counted it) or ctx is done.
func (e *Engine) TakeOver(ctx context.Context, entries []ipvssync.Entry) (SyncBackupStats, error) {
	if e.syncBackup.Load() != nil {
		return SyncBackupStats{}, ErrSyncBackupRunning
	}
	// The packet count starts at the kernel's sync threshold, as for a
	// synced connection; the inboxes hold every entry at once.
	sink := e.StartSyncBackup(ipvssync.DefaultSysctls().SyncThreshold, len(entries)+1)
	defer e.StopSyncBackup()
	const perMessage = 255
	for len(entries) > 0 {
		n := min(len(entries), perMessage)
		sink.Deliver(ipvssync.Message{Entries: entries[:n]})
		entries = entries[n:]
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		// Through when every worker has applied all it was given, not
		// only taken it: its counts come with the insertion.
		through := true
		for _, q := range sink.b.inboxes {
			if q.done.Load() != q.tail.Load() {
				through = false
			}
		}
		if through {
			return sink.Stats(), nil
		}
		select {
		case <-ctx.Done():
			return sink.Stats(), ctx.Err()
		case <-tick.C:
		}
	}
}
