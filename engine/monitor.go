package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// watchLinks is the link monitor: it follows the engine's interfaces
// through netlink link and address events, the workers' socket faults and
// a one-second look at interfaces that are not up. When an interface goes
// away or down it takes the interface's sockets from the workers and
// closes them; when an interface of that name is up again it opens new
// sockets on it, hands them to the workers and sends gratuitous ARP. MAC,
// MTU and address changes reach the workers the same way.
//
// It runs on a locked OS thread inside the engine's network namespace
// (the one New ran in), so the sockets it opens and the interfaces it
// reads are that namespace's (DESIGN.md, "Network namespaces and Go").
// The thread is never unlocked: if it had to join the namespace, it dies
// with the goroutine.
func (e *Engine) watchLinks(ctx context.Context) {
	runtime.LockOSThread()
	m := &monitor{e: e, canOpen: true}
	if err := e.enterNamespace(); err != nil {
		e.log.Error("interface monitor cannot enter the director's network namespace: lost interfaces will not be reopened", "err", err)
		m.canOpen = false
	}
	events := make(chan nlEvent, 64)
	nl, err := openLinkWatch()
	if err != nil {
		e.log.Warn("no netlink link events: checking the interfaces every second", "err", err)
		m.pollAll = true
	} else {
		defer nl.Close()
		go readLinkEvents(ctx, nl, events)
	}
	tick := time.NewTicker(linkRetry)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			m.resync(ctx, func(ifc *iface) bool { return ev.all || ev.matches(ifc) })
		case f := <-e.faults:
			m.fault(ctx, f)
		case now := <-tick.C:
			m.resync(ctx, func(ifc *iface) bool { return m.pollAll || ifc.state != LinkUp })
			m.announceDue(now)
		}
	}
}

// monitor is the link monitor's state; only its goroutine uses it.
type monitor struct {
	e       *Engine
	canOpen bool // false when the namespace could not be entered
	pollAll bool // no netlink events: look at every interface each tick
}

// fault handles a worker's report that a socket failed.
func (m *monitor) fault(ctx context.Context, f linkFault) {
	e := m.e
	if f.iface >= len(e.ifaces) {
		return
	}
	ifc := e.ifaces[f.iface]
	e.linkMu.Lock()
	current := slices.ContainsFunc(ifc.rings, func(r *ring) bool { return link(r) == f.link })
	e.linkMu.Unlock()
	if !current {
		return // about sockets already replaced
	}
	_, why := faultReason(f.err, f.events)
	ifc.fault = why
	m.resync(ctx, func(x *iface) bool { return x == ifc })
}

// resync compares the interfaces pick selects with the kernel's view and
// acts on the difference.
func (m *monitor) resync(ctx context.Context, pick func(*iface) bool) {
	e := m.e
	var all []net.Interface
	read := false
	for _, ifc := range e.ifaces {
		if !pick(ifc) {
			continue
		}
		if !read {
			var err error
			if all, err = net.Interfaces(); err != nil {
				e.log.Debug("read interfaces", "err", err)
				return // try again at the next event or tick
			}
			read = true
		}
		m.reconcile(ctx, ifc, observe(ifc.name, all))
	}
}

// reconcile brings one interface's sockets in line with o.
func (m *monitor) reconcile(ctx context.Context, ifc *iface, o observed) {
	e := m.e
	now := time.Now()
	if ifc.state == LinkUp {
		var why string
		switch {
		case !o.present:
			why = "gone"
		case !o.up:
			why = "down"
		case o.index != ifc.index:
			why = "replaced"
		case ifc.fault != "":
			why = ifc.fault
		}
		if why != "" {
			m.lose(ctx, ifc, o, why, now)
		}
	}
	ifc.fault = ""
	if ifc.state != LinkUp {
		if o.present && o.up && m.canOpen && now.Sub(ifc.openedAt) >= linkRetry && m.open(ifc, o, now) {
			return
		}
		m.setState(ifc, o, now)
		return
	}
	// Up and still up: follow MAC, MTU, address and carrier changes.
	var changed []string
	e.linkMu.Lock()
	if o.macOK && o.mac != ifc.mac {
		ifc.mac = o.mac
		changed = append(changed, "mac changed")
	}
	if o.mtu != ifc.mtu {
		ifc.mtu = o.mtu
		changed = append(changed, "mtu changed")
	}
	if o.addr != ifc.addr || o.addr6 != ifc.addr6 {
		ifc.addr, ifc.addr6 = o.addr, o.addr6
		changed = append(changed, "address changed")
	}
	carrierBack := o.carrier && !ifc.carrier
	if o.carrier != ifc.carrier {
		ifc.carrier = o.carrier
		if o.carrier {
			changed = append(changed, "carrier back")
		} else {
			changed = append(changed, "no carrier")
		}
	}
	if len(changed) > 0 {
		e.publish()
	}
	st := ifc.status()
	e.linkMu.Unlock()
	if len(changed) == 0 {
		return
	}
	if slices.Contains(changed, "address changed") {
		e.refilter() // the filter passes ICMP to our addresses (TUN)
	}
	why := strings.Join(changed, ", ")
	e.log.Info("interface changed", "interface", ifc.name, "change", why,
		"mac", net.HardwareAddr(st.MAC[:]).String(), "mtu", st.MTU, "carrier", st.Carrier)
	if slices.Contains(changed, "mac changed") || carrierBack {
		m.scheduleAnnounce(ifc, now)
	}
	e.notify(LinkEvent{LinkStatus: st, Reason: why})
}

// setState records why an interface that is not up is not up.
func (m *monitor) setState(ifc *iface, o observed, now time.Time) {
	e := m.e
	want := LinkBroken
	switch {
	case !o.present:
		want = LinkAbsent
	case !o.up:
		want = LinkDown
	}
	if want == ifc.state {
		return
	}
	e.linkMu.Lock()
	ifc.state, ifc.since = want, now
	ifc.carrier = o.carrier
	st := ifc.status()
	e.linkMu.Unlock()
	e.log.Info("interface state", "interface", ifc.name, "state", want.String())
	e.notify(LinkEvent{LinkStatus: st, Reason: want.String()})
}

// lose takes an interface's sockets from the workers and closes them.
func (m *monitor) lose(ctx context.Context, ifc *iface, o observed, why string, now time.Time) {
	e := m.e
	e.linkMu.Lock()
	old := slices.Concat(ifc.rings, ifc.blocks)
	ifc.rings, ifc.blocks = nil, nil
	ifc.state, ifc.since, ifc.lostAt = LinkBroken, now, now
	switch {
	case !o.present:
		ifc.state = LinkAbsent
	case !o.up:
		ifc.state = LinkDown
	}
	ifc.losses++
	ls := e.publish()
	st := ifc.status()
	e.linkMu.Unlock()
	e.log.Warn("interface lost: not forwarding on it until it returns", "interface", ifc.name,
		"reason", why, "state", st.State.String())
	if e.waitAdopted(ctx, ls) {
		for _, r := range old {
			r.close()
		}
	} else {
		e.linkMu.Lock()
		e.retired = append(e.retired, old...)
		e.linkMu.Unlock()
	}
	e.notify(LinkEvent{LinkStatus: st, Reason: why})
}

// open opens new sockets on an interface that is up again and hands them
// to the workers. It reports whether the interface is up now.
func (m *monitor) open(ifc *iface, o observed, now time.Time) bool {
	e := m.e
	ifc.openedAt = now
	if !o.macOK {
		if !ifc.openFailed {
			e.log.Warn("interface has no Ethernet address: not forwarding on it", "interface", ifc.name)
			ifc.openFailed = true
		}
		return false
	}
	vmacs := e.vmacsNow() // before linkMu: e.mu comes first
	ipv6 := e.hasIPv6Now()
	e.linkMu.Lock()
	filter, fanProg := e.filter, e.fanProg
	e.linkMu.Unlock()
	rings, err := openRings(o.index, len(e.workers), e.ringFrames, filter, fanProg, e.blockRate > 0)
	if err != nil {
		if !ifc.openFailed {
			e.log.Warn("interface is back but its sockets could not be opened: retrying every second",
				"interface", ifc.name, "err", err)
			ifc.openFailed = true
		}
		return false
	}
	ifc.openFailed = false
	e.linkMu.Lock()
	// The table may have changed while the sockets opened: give them the
	// filter and fanout program in force now.
	if !slices.Equal(filter, e.filter) {
		for _, r := range rings {
			if err := r.setFilter(e.filter); err != nil {
				e.log.Error("update socket filter", "interface", ifc.name, "err", err)
			}
		}
	}
	if !slices.Equal(fanProg, e.fanProg) {
		if err := rings[0].setFanoutProgram(e.fanProg); err != nil {
			e.log.Error("update fanout program", "interface", ifc.name, "err", err)
		}
	}
	if ipv6 {
		if err := rings[0].joinAllMulti(o.index); err != nil {
			e.log.Error("IPv6 VIPs: cannot receive solicitations sent to multicast groups", "interface", ifc.name, "err", err)
		}
	}
	if len(vmacs) > 0 {
		for _, m := range vmacs {
			if err := rings[0].joinUnicast(o.index, m); err != nil {
				e.log.Error("use_vmac: cannot add the virtual MAC to the interface", "interface", ifc.name, "err", err)
			}
		}
	}
	down := now.Sub(ifc.lostAt)
	newAddr := o.addr != ifc.addr || o.addr6 != ifc.addr6
	ifc.rings = rings
	ifc.index, ifc.mac, ifc.mtu, ifc.addr, ifc.carrier = o.index, o.mac, o.mtu, o.addr, o.carrier
	ifc.addr6 = o.addr6
	ifc.state, ifc.since = LinkUp, now
	e.publish()
	st := ifc.status()
	e.linkMu.Unlock()
	if newAddr {
		e.refilter()
	}
	e.log.Info("interface back: forwarding on it again", "interface", ifc.name, "index", st.Index,
		"mac", net.HardwareAddr(st.MAC[:]).String(), "mtu", st.MTU, "after", down.Round(time.Millisecond).String())
	m.scheduleAnnounce(ifc, now)
	e.notify(LinkEvent{LinkStatus: st, Reason: "back"})
	return true
}

// announceRepeats are when gratuitous ARP (for the VIPs, the FULLNAT local
// addresses and the interface's address) goes out after an interface
// comes back or changes MAC: at once, then as announceAgain does at
// start, because Linux ignores a neighbour update within a second
// (locktime) of the last and a client that asked meanwhile holds a FAILED
// entry for about three.
var announceRepeats = [...]time.Duration{0, time.Second, 3 * time.Second}

func (m *monitor) scheduleAnnounce(ifc *iface, now time.Time) {
	ifc.announceAt = ifc.announceAt[:0]
	for _, d := range announceRepeats {
		ifc.announceAt = append(ifc.announceAt, now.Add(d))
	}
	m.announceDue(now)
}

// announceDue sends the gratuitous ARP that is due.
func (m *monitor) announceDue(now time.Time) {
	e := m.e
	for _, ifc := range e.ifaces {
		if len(ifc.announceAt) == 0 || ifc.announceAt[0].After(now) {
			continue
		}
		for len(ifc.announceAt) > 0 && !ifc.announceAt[0].After(now) {
			ifc.announceAt = ifc.announceAt[1:]
		}
		e.mu.Lock()
		addrs := slices.Clone(e.ann)
		e.mu.Unlock()
		e.linkMu.Lock()
		// The interface's own address too, as arp_notify would: NAT real
		// servers route through it and hold its old MAC otherwise.
		if ifc.addr != ([4]byte{}) && !slices.Contains(addrs, ifc.addr) {
			addrs = append(addrs, ifc.addr)
		}
		e.announceOn(ifc, addrs)
		e.linkMu.Unlock()
	}
}

// notify calls the OnLink hook.
func (e *Engine) notify(ev LinkEvent) {
	if e.onLink != nil {
		e.onLink(ev)
	}
}

// enterNamespace moves the calling (locked) thread into the namespace New
// ran in, unless it is there already.
func (e *Engine) enterNamespace() error {
	if e.nsFD < 0 {
		return errors.New("the namespace of New is unknown (no /proc/thread-self/ns/net)")
	}
	var want, have unix.Stat_t
	if err := unix.Fstat(e.nsFD, &want); err != nil {
		return fmt.Errorf("stat namespace: %w", err)
	}
	if err := unix.Stat("/proc/thread-self/ns/net", &have); err == nil && have.Dev == want.Dev && have.Ino == want.Ino {
		return nil
	}
	if err := unix.Setns(e.nsFD, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	return nil
}
