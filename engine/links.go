package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// LinkState says whether the engine forwards on one of its interfaces. The
// zero value is invalid.
type LinkState uint8

// The states of an interface.
const (
	LinkInvalid LinkState = iota
	LinkUp                // sockets open, forwarding
	LinkAbsent            // no interface of that name in the namespace (deleted, renamed, moved away)
	LinkDown              // the interface exists but is administratively down
	LinkBroken            // the interface is up but its sockets failed or could not be opened; retried every second
)

var linkStateNames = [...]string{
	LinkInvalid: "invalid",
	LinkUp:      "up",
	LinkAbsent:  "absent",
	LinkDown:    "down",
	LinkBroken:  "broken",
}

// String returns the state's name as `ulvs stats` prints it.
func (s LinkState) String() string {
	if int(s) < len(linkStateNames) {
		return linkStateNames[s]
	}
	return "unknown"
}

// LinkStatus is the state of one of the engine's interfaces.
type LinkStatus struct {
	Name  string
	State LinkState
	// Since is when State last changed (the engine's start at first).
	Since time.Time
	// Index, MAC and MTU are the interface's while it is up, the last
	// ones seen otherwise.
	Index int
	MAC   [6]byte
	MTU   int
	// Carrier is the interface's lower-layer state (IFF_RUNNING): a veth
	// whose peer is down is up without carrier.
	Carrier bool
	// Losses counts the times the engine stopped forwarding on it.
	Losses uint64
}

// LinkEvent is a change of one interface, as the engine's OnLink hook
// receives it.
type LinkEvent struct {
	LinkStatus
	// Reason says what happened, for logs: "gone", "down", "replaced",
	// "socket error: ...", "back", "mac changed", "mtu changed", ...
	Reason string
}

// linkRetry is how often the link monitor looks again at interfaces that
// are not up, and the least time between two openings of one interface's
// sockets.
const linkRetry = time.Second

// linkSet is what workers forward on: per interface, its rings (one per
// worker; nil while the interface is not up), MAC, MTU and address. It is
// immutable once published; workers adopt a new one between batches.
type linkSet struct {
	ifaces []linkView
	// gen numbers the sets in the order published: a worker that has
	// taken a later one no longer holds what an earlier one dropped.
	gen uint64
}

type linkView struct {
	links []link // one per worker, nil while the interface is not up
	// blocks are the block rings, one per worker, in block mode.
	blocks []*ring
	mac    [6]byte
	mtu    int
	addr   [4]byte
	addr6  [16]byte // the outer source of IPv6 tunnels (tun6.go)
}

// downLink stands for an interface that is not up: it receives nothing,
// is never polled, and refuses to send.
type downLink struct{}

var _ link = downLink{}

// errLinkDown is what a downLink's send returns; the worker counts the
// frames as ReasonLinkDown.
var errLinkDown = errors.New("interface is not up")

func (downLink) collect([]packet) int        { return 0 }
func (downLink) fd() int                     { return -1 }
func (downLink) send([]*packet) (int, error) { return 0, errLinkDown }
func (downLink) release()                    {}
func (downLink) sendRaw([]byte) error        { return errLinkDown }
func (downLink) close() error                { return nil }

// openBlockRings opens one block ring per worker in the fanout group
// fanoutID, after its frame rings: the group's sockets workers to
// 2*workers-1, in worker order (steerFanout). On error it closes what it
// opened.
func openBlockRings(ifindex, workers int, fanoutID uint16, filter []bpf.RawInstruction) ([]*ring, error) {
	var blocks []*ring
	for i := 0; i < workers; i++ {
		b, err := openRing(ringConfig{ifindex: ifindex, fanout: true, join: true, fanoutID: fanoutID, filter: filter, blocks: true})
		if err != nil {
			for _, r := range blocks {
				r.close()
			}
			return nil, fmt.Errorf("open AF_PACKET socket (block ring): %w", err)
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// blockFD is the socket of l's block ring, -1 for a link without one.
func blockFD(l link) int {
	if r, ok := l.(*ring); ok {
		return r.blockFD()
	}
	return -1
}

// linkFault is a worker's report that poll flagged one of its sockets.
type linkFault struct {
	iface  int
	link   link  // the link the worker had; stale reports are ignored
	err    error // the socket's pending error (SO_ERROR), or why none was read
	events int16
}

// faultReason classifies a socket fault: gone is true for the errors
// AF_PACKET reports when its interface went down or away (ENETDOWN from
// packet_notifier on NETDEV_DOWN and NETDEV_UNREGISTER; ENXIO and ENODEV
// from sending on an unbound or vanished device), and why is a short
// text for the log.
func faultReason(err error, events int16) (gone bool, why string) {
	switch {
	case errors.Is(err, unix.ENETDOWN), errors.Is(err, unix.ENXIO), errors.Is(err, unix.ENODEV):
		return true, "socket error: " + err.Error()
	case events&unix.POLLNVAL != 0:
		return false, "socket closed under the worker"
	case err == nil || errors.Is(err, unix.Errno(0)):
		return false, "socket flagged an error without one pending"
	default:
		return false, "socket error: " + err.Error()
	}
}

// adopt makes ls the worker's links, between two batches. Interfaces that
// are not up get a downLink.
func (w *worker) adopt(ls *linkSet) {
	for j := range w.links {
		if j >= len(ls.ifaces) {
			break
		}
		v := &ls.ifaces[j]
		var l link = downLink{}
		if w.index < len(v.links) {
			l = v.links[w.index]
		}
		w.links[j] = l
		if r, ok := l.(*ring); ok {
			// Between two batches: no frame of the old block ring
			// is held.
			r.blk = nil
			if w.index < len(v.blocks) {
				r.blk = v.blocks[w.index]
			}
		}
		if 2*j+1 < len(w.pfd) {
			w.pfd[2*j].Fd, w.pfd[2*j+1].Fd = int32(l.fd()), int32(blockFD(l))
			w.pfd[2*j].Revents, w.pfd[2*j+1].Revents = 0, 0
		}
		w.macs[j], w.mtus[j], w.addrs[j], w.addrs6[j] = v.mac, v.mtu, v.addr, v.addr6
	}
	w.ls = ls
	w.adopted.Store(ls)
}

// checkFaults looks at the revents of the last poll: a socket with an
// error is no longer polled (a dead AF_PACKET socket reports POLLERR for
// ever, which made workers spin) and the engine's link monitor hears of
// it. Only the idle path calls it.
func (w *worker) checkFaults() {
	for i := range w.pfd {
		ev := w.pfd[i].Revents
		if ev&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) == 0 || w.pfd[i].Fd < 0 {
			continue
		}
		var err error = unix.Errno(0)
		if ev&unix.POLLNVAL == 0 {
			v, gerr := unix.GetsockoptInt(int(w.pfd[i].Fd), unix.SOL_SOCKET, unix.SO_ERROR)
			if gerr != nil {
				err = gerr
			} else {
				err = unix.Errno(v)
			}
		}
		w.pfd[i].Fd = -1
		if w.faults != nil {
			select {
			case w.faults <- linkFault{iface: i / 2, link: w.links[i/2], err: err, events: ev}:
			default: // the channel holds one report per socket; never full
			}
		}
	}
}

// publish hands the workers the current interfaces. e.linkMu must be held.
func (e *Engine) publish() *linkSet {
	e.linkGen++
	ls := &linkSet{ifaces: make([]linkView, len(e.ifaces)), gen: e.linkGen}
	for j, ifc := range e.ifaces {
		v := linkView{mac: ifc.mac, mtu: ifc.mtu, addr: ifc.addr, addr6: ifc.addr6, blocks: ifc.blocks}
		for _, r := range ifc.rings {
			v.links = append(v.links, r)
		}
		ls.ifaces[j] = v
	}
	e.links.Store(ls)
	return ls
}

// waitAdopted waits until every worker runs with ls or a later set, so
// that rings left out of it may be closed. Idle workers wake within
// pollTimeout.
func (e *Engine) waitAdopted(ctx context.Context, ls *linkSet) bool {
	for {
		all := true
		for _, w := range e.workers {
			// The monitor and the block rings' controller both
			// publish: a later set counts too.
			if a := w.adopted.Load(); a == nil || a.gen < ls.gen {
				all = false
				break
			}
		}
		if all {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Links returns the state of every interface, in configuration order.
func (e *Engine) Links() []LinkStatus {
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	out := make([]LinkStatus, len(e.ifaces))
	for i, ifc := range e.ifaces {
		out[i] = ifc.status()
	}
	return out
}

func (ifc *iface) status() LinkStatus {
	return LinkStatus{Name: ifc.name, State: ifc.state, Since: ifc.since, Index: ifc.index,
		MAC: ifc.mac, MTU: ifc.mtu, Carrier: ifc.carrier, Losses: ifc.losses}
}

// observed is what the kernel says about an interface name now.
type observed struct {
	present bool
	index   int
	up      bool // IFF_UP
	carrier bool // IFF_RUNNING
	mac     [6]byte
	macOK   bool
	mtu     int
	addr    [4]byte
	addr6   [16]byte
}

// observe reads the interface name from the list all (net.Interfaces of
// the monitor's namespace).
func observe(name string, all []net.Interface) observed {
	i := slices.IndexFunc(all, func(ni net.Interface) bool { return ni.Name == name })
	if i < 0 {
		return observed{}
	}
	ni := &all[i]
	o := observed{present: true, index: ni.Index, up: ni.Flags&net.FlagUp != 0,
		carrier: ni.Flags&net.FlagRunning != 0, mtu: ni.MTU}
	if len(ni.HardwareAddr) == 6 {
		o.mac, o.macOK = [6]byte(ni.HardwareAddr), true
	}
	o.addr = firstIPv4(ni)
	o.addr6 = firstIPv6(ni)
	return o
}

// firstIPv4 returns the interface's first IPv4 address (the outer source
// of IPIP), or zeros.
func firstIPv4(ni *net.Interface) [4]byte {
	var a [4]byte
	addrs, err := ni.Addrs()
	if err != nil {
		return a
	}
	for _, x := range addrs {
		if ipn, ok := x.(*net.IPNet); ok && ipn.IP.To4() != nil {
			copy(a[:], ipn.IP.To4())
			break
		}
	}
	return a
}

// firstIPv6 returns the interface's first global IPv6 address (the outer
// source of IPv6 tunnels: ip6ip6 and IPv4 in IPv6), or zeros. Link-local
// addresses are left out: a tunnel's real server may be routed.
func firstIPv6(ni *net.Interface) [16]byte {
	var a [16]byte
	addrs, err := ni.Addrs()
	if err != nil {
		return a
	}
	for _, x := range addrs {
		ipn, ok := x.(*net.IPNet)
		if !ok || ipn.IP.To4() != nil || len(ipn.IP) != 16 || !ipn.IP.IsGlobalUnicast() {
			continue
		}
		copy(a[:], ipn.IP)
		break
	}
	return a
}

// openRings opens one socket per worker on the interface, in a new fanout
// group, with the filter and fanout program given; with blocks, the
// group's program is steered (steerFanout), ready for the block rings
// that openBlockRings adds in block mode. On error it closes what it
// opened.
func openRings(ifindex int, workers, frames int, filter, fanProg []bpf.RawInstruction, blocks bool) ([]*ring, error) {
	var rings []*ring
	fail := func(err error) ([]*ring, error) {
		for _, r := range rings {
			r.close()
		}
		return nil, err
	}
	for i := 0; i < workers; i++ {
		cfg := ringConfig{ifindex: ifindex, fanout: true, frames: frames, filter: filter}
		if i > 0 {
			cfg.join, cfg.fanoutID = true, rings[0].fanoutID
		}
		r, err := openRing(cfg)
		if err != nil {
			return fail(fmt.Errorf("open AF_PACKET socket: %w", err))
		}
		rings = append(rings, r)
	}
	if blocks {
		rings[0].workers = workers
	}
	// Steer both directions of a flow to the same worker: hash the
	// client's side (see fanoutProgram).
	if err := rings[0].setFanoutProgram(fanProg); err != nil {
		return fail(fmt.Errorf("fanout program: %w", err))
	}
	return rings, nil
}
