package engine

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"

	"github.com/ulvs/ulvs/arp"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ndp"
	"github.com/ulvs/ulvs/synproxy"
	"github.com/ulvs/ulvs/vs"
)

const (
	// batchSize is how many frames one RX or TX call moves at most.
	batchSize = 64
	// pollTimeout bounds how long an idle worker sleeps, so it sweeps its
	// connection table even without traffic.
	pollTimeout = 100 * time.Millisecond
	// sweepPeriod is how long the incremental sweep takes to walk a whole
	// connection table, so expired entries leave the counters promptly.
	sweepPeriod = time.Second
	// minSweep is the smallest slice of the table worth a sweep call.
	minSweep = 64
)

// Config configures an Engine. The zero value of each field means its
// default.
type Config struct {
	// Interfaces the director receives and transmits on.
	Interfaces []string
	// Workers per interface; 0 means runtime.NumCPU().
	Workers int
	// ConnTableSize is the number of connection slots per worker.
	ConnTableSize int
	// RingFrames is the number of slots of each RX ring (one per worker
	// and interface), each 68 KiB; 0 means 256 (17 MiB a ring). A deeper
	// ring rides out longer pauses of its worker (docs/performance.md).
	RingFrames int
	// IdlePoll is the longest a worker whose rings are empty keeps
	// looking at them before it sleeps (idlepoll.go); 0 means it sleeps
	// at once.
	IdlePoll time.Duration
	// BlockRings is the receive rate, in frames a second per worker,
	// above which the workers read their frames from block rings
	// (TPACKET_V3: handed over a block at a time, when it is full or a
	// millisecond after its first frame) instead of frame rings (each
	// frame at once); they go back below half of it (blockrings.go).
	// 0 means never: no block ring is opened.
	BlockRings int
	// Timeouts are the connection state timeouts; nil means the kernel's.
	Timeouts *conntrack.Timeouts
	Logger   *slog.Logger
	// OnLink, if set, hears every change of an interface: lost (deleted,
	// renamed, down, socket failure), back, new MAC or MTU, carrier. It
	// is called from the engine's link monitor, a goroutine locked to an
	// OS thread in the engine's network namespace, so it may open sockets
	// on the interface; while it runs no other interface change is
	// handled.
	OnLink func(LinkEvent)
}

// Engine is the data path. Create it with New, start it with Run.
type Engine struct {
	log      *slog.Logger
	table    atomic.Pointer[vs.Table]
	timeouts atomic.Pointer[conntrack.Timeouts]
	ifaces   []*iface
	workers  []*worker
	// ringFrames is Config.RingFrames (0: the default).
	ringFrames int
	// blockRate is Config.BlockRings; blockMode says the fanout groups
	// steer to the block rings, blockSwitches counts the changes.
	blockRate     int
	blockMode     atomic.Bool
	blockSwitches atomic.Uint64
	// linkGen numbers the published link sets (linkMu).
	linkGen uint64
	counts  []*counters

	mu   sync.Mutex // guards vips, wide, rips, lips, tun and ann
	vips [][4]byte
	// vips6 are the IPv6 VIPs, sorted: the socket filter passes IPv6
	// when there are any, and new ones are announced.
	vips6 [][16]byte
	// lips6 are the IPv6 FULLNAT local addresses, sorted: new ones are
	// announced as new IPv6 VIPs are (fullnat6.go).
	lips6 [][16]byte
	// float6 are the IPv6 floating failover addresses answered now (a
	// NAT66 gateway of an instance that is master here), sorted: new
	// ones are announced. floats6: the table has some, answered or not,
	// so the sockets see IPv6 (their solicitations) even with no IPv6
	// VIP.
	float6  [][16]byte
	floats6 bool
	// ann are the addresses gratuitous ARP announces: the VIPs, FULLNAT
	// local addresses and failover addresses this director answers ARP
	// for now (not those it is a failover backup for).
	ann  [][4]byte
	wide bool
	rips [][4]byte
	lips [][4]byte
	tun  bool
	tun6 bool // some tunnel real server is IPv6 (hasTunnel6)
	// wide6: an IPv6 mark rule wider than the VIP list (vs.WideVIPs6):
	// the filter passes all IPv6 and the fanout program sends it all to
	// worker 0, which cannot tell the client's side without the list.
	wide6 bool
	// vmacs are the table's VRRP virtual MACs (use_vmac): the filter
	// passes frames sent to them and the sockets join them.
	vmacs [][6]byte

	// templates are the persistence templates all workers share.
	templates *conntrack.Templates

	neigh   *neighbours
	neighMu sync.Mutex // serialises SetNeighbour

	// linkMu guards the interfaces' rings and status, retired, and the
	// socket filter and fanout program new sockets get. links is what
	// the workers forward on (links.go); the link monitor (monitor.go)
	// replaces it when an interface goes or comes back.
	linkMu   sync.Mutex
	filter   []bpf.RawInstruction
	fanProg  []bpf.RawInstruction
	retired  []*ring // taken from the workers but not yet closed
	links    atomic.Pointer[linkSet]
	faults   chan linkFault
	onLink   func(LinkEvent)
	nsFD     int // the network namespace of New, or -1
	monitors sync.WaitGroup

	// bypassKick wakes runBypass (bypass.go) when the services or the
	// interfaces changed.
	bypassKick chan struct{}
	// bypassForce makes runBypass apply its table even if unchanged: an
	// interface came back, and a netdev chain does not follow a device
	// that was deleted and made again.
	bypassForce atomic.Bool

	// defense is the defence ladder's state (defense.go).
	defense defenseState

	// syncMaster and syncBackup are the running connection sync sides,
	// nil when not running (engine/sync.go, engine/inbox.go).
	syncMaster atomic.Pointer[syncMaster]
	syncBackup atomic.Pointer[syncBackup]

	// trace is the running trace, nil when nobody traces (trace.go).
	trace atomic.Pointer[tracer]
}

// iface is one interface the engine serves. The link monitor changes it
// under Engine.linkMu; fields below the blank line are the monitor's own.
type iface struct {
	name  string
	index int
	mac   [6]byte
	addr  [4]byte  // first IPv4 address: the outer source of IPIP
	addr6 [16]byte // first global IPv6 address: the outer source of IPv6 tunnels
	mtu   int
	rings []*ring // one per worker; nil while the interface is not up
	// blocks are the workers' block rings, in rings' fanout group, while
	// the engine is in block mode (blockrings.go); nil otherwise.
	blocks []*ring
	// blocksFailed: opening them failed, said once in the log.
	blocksFailed bool
	state        LinkState
	since        time.Time
	carrier      bool
	losses       uint64

	fault      string      // a worker reported a socket fault: why
	lostAt     time.Time   // when the sockets were last taken away
	openedAt   time.Time   // the last attempt to open the sockets
	openFailed bool        // that attempt failed and was logged
	announceAt []time.Time // gratuitous ARP still to send
}

// New opens the engine's sockets. It must run on a thread inside the
// network namespace that holds cfg.Interfaces.
func New(cfg Config) (*Engine, error) {
	if len(cfg.Interfaces) == 0 {
		return nil, errors.New("engine: no interface configured")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{log: log, templates: conntrack.NewTemplates(), neigh: newNeighbours(), ringFrames: cfg.RingFrames,
		blockRate:  max(cfg.BlockRings, 0),
		bypassKick: make(chan struct{}, 1)}
	e.table.Store(vs.NewTable(0, nil, nil))
	if cfg.Timeouts == nil {
		cfg.Timeouts = conntrack.DefaultTimeouts()
	}
	e.timeouts.Store(cfg.Timeouts)
	e.filter, e.fanProg = filterProgram(nil, false), fanoutProgram(nil)
	e.nsFD = -1
	if fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		e.nsFD = fd
	}
	now := time.Now()
	for _, name := range cfg.Interfaces {
		ni, err := net.InterfaceByName(name)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("engine: interface %s: %w", name, err)
		}
		if len(ni.HardwareAddr) != 6 {
			e.Close()
			return nil, fmt.Errorf("engine: interface %s has no Ethernet address", name)
		}
		ifc := &iface{name: name, index: ni.Index, mtu: ni.MTU, addr: firstIPv4(ni), addr6: firstIPv6(ni),
			state: LinkUp, since: now, carrier: ni.Flags&net.FlagRunning != 0}
		copy(ifc.mac[:], ni.HardwareAddr)
		e.ifaces = append(e.ifaces, ifc)
		rings, err := openRings(ni.Index, cfg.Workers, e.ringFrames, e.filter, e.fanProg, e.blockRate > 0)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("engine: %s: %w", name, err)
		}
		ifc.rings = rings
	}
	// One report per socket fits: a worker stops polling a socket once it
	// reported it.
	e.faults = make(chan linkFault, cfg.Workers*len(e.ifaces))
	e.onLink = cfg.OnLink
	ls := e.publish()
	// Worker i owns socket i of every interface's fanout group.
	for i := 0; i < cfg.Workers; i++ {
		var links []link
		var macs [][6]byte
		for _, ifc := range e.ifaces {
			links = append(links, ifc.rings[i])
			macs = append(macs, ifc.mac)
		}
		c := &counters{}
		e.counts = append(e.counts, c)
		w := newWorkerLinks(links, macs, c, cfg, e.templates)
		w.neigh = e.neigh
		for j, ifc := range e.ifaces {
			w.addrs[j], w.addrs6[j], w.mtus[j] = ifc.addr, ifc.addr6, ifc.mtu
		}
		w.index, w.nworkers = i, cfg.Workers
		w.ls, w.faults = ls, e.faults
		w.adopted.Store(ls)
		e.workers = append(e.workers, w)
	}
	if cfg.Workers > 1 {
		// IPv6 datagrams reassembled by worker 0 go to their flow's
		// worker (frag6box.go).
		boxes := make([]*frag6Box, cfg.Workers)
		for i := range boxes {
			boxes[i] = &frag6Box{}
		}
		for _, w := range e.workers {
			w.boxes = boxes
		}
	}
	// Persistence templates are bounded by the connection tables' room:
	// every template starts with a connection.
	usable := 0
	for _, w := range e.workers {
		usable += w.ct.Usable()
	}
	e.templates.SetMax(usable)
	return e, nil
}

func newWorker(l link, mac [6]byte, c *counters, cfg Config, tmpls *conntrack.Templates) *worker {
	return newWorkerLinks([]link{l}, [][6]byte{mac}, c, cfg, tmpls)
}

// newWorkerLinks makes a worker over one link per interface, in the
// engine's interface order.
func newWorkerLinks(links []link, macs [][6]byte, c *counters, cfg Config, tmpls *conntrack.Templates) *worker {
	if tmpls == nil {
		tmpls = conntrack.NewTemplates()
	}
	w := &worker{
		links:    links,
		macs:     macs,
		tmpls:    tmpls,
		ct:       conntrack.New(conntrack.Config{Capacity: cfg.ConnTableSize, Timeouts: cfg.Timeouts, Templates: tmpls}),
		timeouts: cfg.Timeouts,
		rx:       make([]packet, batchSize),
		connReq:  make(chan chan<- connCopy),
		conn6Req: make(chan chan<- conn6Copy),
		tx:       make([]*packet, 0, batchSize),
		txLink:   make([]*packet, 0, batchSize),
		c:        c,
		idle:     idlePoll{max: cfg.IdlePoll},
	}
	// Two poll entries per link, in link order: its socket and its block
	// ring's; -1 is never polled.
	for _, l := range links {
		fd := l.fd()
		w.pfd = append(w.pfd, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR},
			unix.PollFd{Fd: int32(blockFD(l)), Events: unix.POLLIN | unix.POLLERR})
		w.blocks = w.blocks || fd >= 0
	}
	w.pickFn, w.checkFn = w.pick, w.checkTemplate
	w.sp.cookies = synproxy.NewCookies()
	w.neigh = newNeighbours()
	w.nworkers = 1
	w.scr = newScratch()
	w.icmpTokens = 50
	w.c.room.Store(int64(w.ct.Usable()))
	w.publishFill()
	w.addrs = make([][4]byte, len(links))
	w.addrs6 = make([][16]byte, len(links))
	w.mtus = make([]int, len(links))
	for i := range w.mtus {
		w.mtus[i] = 1500
	}
	return w
}

// SetTable publishes t to the workers, updates the socket filters to t's
// VIPs and announces new VIPs with gratuitous ARP.
func (e *Engine) SetTable(t *vs.Table) {
	e.table.Store(t)
	e.kickBypass()
	e.updateDefense(false)
	var vips [][4]byte
	for _, a := range t.VIPs() {
		if a.Is4() {
			vips = append(vips, a.As4())
		}
	}
	var vips6 [][16]byte
	for _, a := range t.VIPs6() {
		vips6 = append(vips6, a.As16())
	}
	slices.SortFunc(vips6, func(a, b [16]byte) int { return slices.Compare(a[:], b[:]) })
	slices.SortFunc(vips, func(a, b [4]byte) int { return slices.Compare(a[:], b[:]) })
	lips := t.LocalAddrs()
	slices.SortFunc(lips, func(a, b [4]byte) int { return slices.Compare(a[:], b[:]) })
	rips := natSources(t)
	ann := announceable(t, vips, lips)
	vmacs := t.VMACs()
	e.mu.Lock()
	old, oldWide, oldRIPs, oldLIPs, oldTun, oldAnn, oldVMACs := e.vips, e.wide, e.rips, e.lips, e.tun, e.ann, e.vmacs
	e.vips, e.wide, e.rips, e.lips, e.tun, e.ann, e.vmacs = vips, t.WideVIPs(), rips, lips, hasTunnel(t), ann, vmacs
	oldV6, oldL6, oldTun6, oldWide6, oldF6, oldIPv6 := e.vips6, e.lips6, e.tun6, e.wide6, e.float6, e.ipv6Locked()
	e.vips6, e.lips6, e.tun6, e.wide6 = vips6, sortedLocal6(t), hasTunnel6(t), t.WideVIPs6()
	e.float6, e.floats6 = nil, t.HasFloating6()
	for _, a := range t.FloatingAddrs6() {
		e.float6 = append(e.float6, a.As16())
	}
	newIPv6, newTun6, newWide6 := e.ipv6Locked(), e.tun6, e.wide6
	e.mu.Unlock()
	tun := hasTunnel(t)
	if !slices.Equal(old, vips) || oldWide != t.WideVIPs() || !slices.Equal(oldRIPs, rips) || !slices.Equal(oldLIPs, lips) || oldTun != tun ||
		!slices.Equal(oldVMACs, vmacs) || oldIPv6 != newIPv6 || !slices.Equal(oldV6, vips6) || oldTun6 != newTun6 || oldWide6 != newWide6 {
		// The fanout program compares destinations with each IPv6 VIP.
		e.refilter()
	}
	var added6 [][16]byte
	for _, v := range vips6 {
		if !slices.Contains(oldV6, v) && t.AnswersND(v) { // not on standby
			added6 = append(added6, v)
		}
	}
	added6 = append(added6, newLocal6(oldL6, e.lips6)...)
	// Floating addresses this director became master for.
	added6 = append(added6, newLocal6(oldF6, e.float6)...)
	e.announce6(added6)
	// New addresses, and addresses this director became master for.
	var added [][4]byte
	for _, v := range ann {
		if !slices.Contains(oldAnn, v) {
			added = append(added, v)
		}
	}
	e.announce(added)
}

// announceable returns the addresses t answers ARP for, sorted: vips,
// lips and the failover addresses, less those on standby.
func announceable(t *vs.Table, vips, lips [][4]byte) [][4]byte {
	var out [][4]byte
	for _, a := range append(append(slices.Clone(vips), lips...), t.FloatingAddrs()...) {
		if t.AnswersARP(a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b [4]byte) int { return slices.Compare(a[:], b[:]) })
	return out
}

// refilter builds the socket filter and fanout program from the table's
// addresses and gives them to every socket, and to those opened later.
//
// The socket filter passes traffic to VIPs and to FULLNAT local addresses;
// the fanout program hashes the client side of VIP traffic only, so
// replies to a local address hash on the local address. ICMP to our own
// interface addresses matters only with TUN dests: routers report problems
// with our IPIP packets there.
func (e *Engine) refilter() {
	e.bypassForce.Store(true)
	e.kickBypass()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	var own [][4]byte
	if e.tun {
		for _, ifc := range e.ifaces {
			own = append(own, ifc.addr)
		}
	}
	// IPv6 passes with IPv6 VIPs, and with IPv6 tunnel real servers
	// (their Packet Too Big comes to our IPv6 address: tun6.go).
	prog := filterProgramAll(append(slices.Clone(e.vips), e.lips...), e.wide, own, e.vmacs, e.ipv6Locked() || e.tun6, e.rips...)
	fan6 := e.vips6
	if e.wide6 {
		fan6 = nil // all IPv6 to worker 0
	}
	fan := fanoutProgram(e.vips, fan6...)
	e.filter, e.fanProg = prog, fan
	for _, ifc := range e.ifaces {
		e.joinVMACs(ifc)
		e.joinAllMulti(ifc)
		for _, r := range slices.Concat(ifc.rings, ifc.blocks) {
			if err := r.setFilter(prog); err != nil {
				e.log.Error("update socket filter", "interface", ifc.name, "err", err)
			}
		}
		if len(ifc.rings) > 0 {
			if err := ifc.rings[0].setFanoutProgram(fan); err != nil {
				e.log.Error("update fanout program", "interface", ifc.name, "err", err)
			}
		}
	}
}

// joinVMACs makes the interface accept frames sent to the virtual MACs
// (PACKET_MR_UNICAST on its first socket: a NIC with a unicast filter
// adds them; veth accepts every frame anyway). Memberships go with the
// socket, so an interface whose sockets are reopened joins again.
// e.mu and e.linkMu must be held.
func (e *Engine) joinVMACs(ifc *iface) {
	if len(ifc.rings) == 0 {
		return
	}
	for _, m := range e.vmacs {
		if err := ifc.rings[0].joinUnicast(ifc.index, m); err != nil {
			e.log.Error("use_vmac: cannot add the virtual MAC to the interface", "interface", ifc.name, "mac", net.HardwareAddr(m[:]).String(), "err", err)
		}
	}
}

// vmacsNow returns the virtual MACs in force; it takes e.mu.
func (e *Engine) vmacsNow() [][6]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.vmacs
}

// hasIPv6Now reports whether the table in force has IPv6 VIPs or
// floating failover addresses (ipv6Locked).
func (e *Engine) hasIPv6Now() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ipv6Locked()
}

// ipv6Locked reports whether the table has IPv6 traffic for the
// director: IPv6 VIPs, an IPv6 mark rule wider than the VIP list, or
// IPv6 floating failover addresses (a NAT66 gateway), on standby or not.
// The sockets then take IPv6 and multicast. e.mu must be held.
func (e *Engine) ipv6Locked() bool { return len(e.vips6) > 0 || e.wide6 || e.floats6 }

// SendFrame sends one complete Ethernet frame on the interface named
// ifname (a VRRP advert from the virtual MAC, for use_vmac). It fails
// while the interface is not up.
func (e *Engine) SendFrame(ifname string, frame []byte) error {
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	for _, ifc := range e.ifaces {
		if ifc.name != ifname {
			continue
		}
		if len(ifc.rings) == 0 {
			return fmt.Errorf("engine: interface %s is not up", ifname)
		}
		return ifc.rings[0].sendRaw(frame)
	}
	return fmt.Errorf("engine: %s is not one of the engine's interfaces", ifname)
}

// hasTunnel reports whether any dest of t uses IPIP.
func hasTunnel(t *vs.Table) bool {
	for _, d := range t.DestByID {
		if d != nil && d.Method == vs.Tunnel {
			return true
		}
	}
	return false
}

// natSources lists, sorted, the addresses of NAT real servers, whose
// replies the socket filter must let through.
func natSources(t *vs.Table) [][4]byte {
	var out [][4]byte
	for _, d := range t.DestByID {
		if d != nil && d.Method == vs.Masq && d.Addr.Is4() {
			a := d.Addr.As4()
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b [4]byte) int { return slices.Compare(a[:], b[:]) })
	return out
}

// SetTimeouts hands new connection timeouts to every worker; t must not be
// modified afterwards. Workers pick it up at their next batch.
func (e *Engine) SetTimeouts(t *conntrack.Timeouts) { e.timeouts.Store(t) }

// Timeouts returns the timeouts in force.
func (e *Engine) Timeouts() *conntrack.Timeouts { return e.timeouts.Load() }

// Table returns the table the workers use now.
func (e *Engine) Table() *vs.Table { return e.table.Load() }

// Announce sends gratuitous ARP for every VIP (and FULLNAT local and
// failover address) this director answers for, on every interface, as at
// start, so neighbours drop stale or FAILED entries.
func (e *Engine) Announce() {
	e.mu.Lock()
	ann := slices.Clone(e.ann)
	e.mu.Unlock()
	e.announce(ann)
}

// AnnounceAddrs sends gratuitous ARP for those of addrs this director
// answers ARP for now, on every interface: a failover instance that has
// just become master announces its addresses (keepalived's garp_master_*).
// IPv6 addresses that are service VIPs served here, and IPv6 floating
// addresses answered here, get an unsolicited neighbour advertisement
// instead (keepalived's vrrp_ndisc), on the links they are answered on.
func (e *Engine) AnnounceAddrs(addrs []netip.Addr) {
	tbl := e.table.Load()
	e.mu.Lock()
	var out [][4]byte
	var out6 [][16]byte
	for _, a := range addrs {
		switch {
		case a.Is4() && slices.Contains(e.ann, a.As4()):
			out = append(out, a.As4())
		case a.Is6() && tbl != nil && (tbl.AnswersND(a.As16()) || slices.Contains(e.float6, a.As16())):
			out6 = append(out6, a.As16())
		}
	}
	e.mu.Unlock()
	e.announce(out)
	e.announce6(out6)
}

func (e *Engine) announce(vips [][4]byte) {
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	for _, ifc := range e.ifaces {
		e.announceOn(ifc, vips)
	}
}

// joinAllMulti makes ifc pass multicast frames when the table has IPv6
// VIPs (their solicitations go to solicited-node groups). Repeated joins
// only raise the device's count; closing the socket drops them. e.mu and
// e.linkMu must be held.
func (e *Engine) joinAllMulti(ifc *iface) {
	if !e.ipv6Locked() || len(ifc.rings) == 0 {
		return
	}
	if err := ifc.rings[0].joinAllMulti(ifc.index); err != nil {
		e.log.Error("IPv6 VIPs: cannot receive solicitations sent to multicast groups", "interface", ifc.name, "err", err)
	}
}

// announce6 sends an unsolicited neighbour advertisement for each of
// vips6 on every interface it is answered on (VIPs and local addresses:
// all; a floating address: its own): the IPv6 counterpart of gratuitous
// ARP. An address of a use_vmac instance is announced from its virtual
// MAC, the target link-layer address too (keepalived's vrrp_ndisc sends
// them from its macvlan).
func (e *Engine) announce6(vips6 [][16]byte) {
	if len(vips6) == 0 {
		return
	}
	tbl := e.table.Load()
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	var buf [ndp.FrameLen]byte
	for i, ifc := range e.ifaces {
		if len(ifc.rings) == 0 {
			continue
		}
		for _, v := range vips6 {
			if tbl != nil && !tbl.AnswersND6(v, i) {
				continue
			}
			mac := ifc.mac
			if tbl != nil {
				if vmac, ok := tbl.NDMAC(v); ok {
					mac = vmac
				}
			}
			n := ndp.Unsolicited(buf[:], mac, v)
			if err := ifc.rings[0].sendRaw(buf[:n]); err != nil {
				e.log.Warn("unsolicited neighbour advertisement", "interface", ifc.name, "vip", netip.AddrFrom16(v), "err", err)
			}
		}
	}
}

// announceOn sends gratuitous ARP for vips on one interface, if it is up.
// e.linkMu must be held.
func (e *Engine) announceOn(ifc *iface, vips [][4]byte) {
	if len(ifc.rings) == 0 {
		return
	}
	tbl := e.table.Load()
	for _, v := range vips {
		mac := ifc.mac
		if tbl != nil {
			if vmac, ok := tbl.ARPMAC(v); ok {
				mac = vmac // use_vmac: announce the VRRP virtual MAC
			}
		}
		frame := arp.Gratuitous(nil, mac, v)
		if err := ifc.rings[0].sendRaw(frame); err != nil {
			e.log.Warn("gratuitous ARP", "interface", ifc.name, "vip", fmt.Sprint(v), "err", err)
		}
	}
}

// Run runs the workers until ctx is done.
func (e *Engine) Run(ctx context.Context) error {
	reserveProcs(len(e.workers))
	errc := make(chan error, len(e.workers))
	for _, w := range e.workers {
		go func() { errc <- w.run(ctx, e) }()
	}
	go e.sweepTemplates(ctx)
	if e.blockRate > 0 && len(e.ifaces) > 0 {
		e.monitors.Add(1)
		go func() {
			defer e.monitors.Done()
			e.steerBlocks(ctx)
		}()
	}
	go e.defend(ctx.Done())
	e.monitors.Add(1)
	go func() {
		defer e.monitors.Done()
		e.runBypass(ctx)
	}()
	e.kickBypass()
	if len(e.ifaces) > 0 {
		e.monitors.Add(1)
		go func() {
			defer e.monitors.Done()
			e.watchLinks(ctx)
		}()
	}
	var first error
	for range e.workers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	e.monitors.Wait()
	return first
}

// reserveProcs raises GOMAXPROCS so that the workers, which hold their Ps
// through raw system calls (rawPoll), leave as many Ps as there are CPUs to
// every other goroutine. It never lowers it.
func reserveProcs(workers int) {
	if want := workers + runtime.NumCPU(); runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
}

// sweepTemplates expires persistence templates once a second; their
// lookups happen only for new connections, so lazy expiry alone would keep
// PersistConns counted long after a client left.
func (e *Engine) sweepTemplates(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.templates.Sweep(tick(), e.table.Load())
		}
	}
}

// Templates lists the persistence templates and the tick their expiry
// compares with (ipvsadm -L -c).
func (e *Engine) Templates() ([]conntrack.TemplateInfo, conntrack.Tick) {
	return e.templates.List(), tick()
}

// Close closes the sockets. Call it after Run returned.
func (e *Engine) Close() error {
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	var errs []error
	for _, ifc := range e.ifaces {
		for _, r := range slices.Concat(ifc.rings, ifc.blocks) {
			errs = append(errs, r.close())
		}
	}
	for _, r := range e.retired {
		errs = append(errs, r.close())
	}
	e.retired = nil
	if e.nsFD >= 0 {
		unix.Close(e.nsFD)
		e.nsFD = -1
	}
	return errors.Join(errs...)
}

// Stats sums the workers' counters.
func (e *Engine) Stats() Stats {
	s := Stats{Drops: make(map[Reason]uint64)}
	for _, c := range e.counts {
		s.RxFrames += c.rxFrames.Load()
		s.RxBytes += c.rxBytes.Load()
		s.TxFrames += c.txFrames.Load()
		s.TxBytes += c.txBytes.Load()
		s.Forwarded += c.forwarded.Load()
		s.ARPReplies += c.arpReply.Load()
		s.NDReplies += c.ndReply.Load()
		s.EchoReplies += c.echoReply.Load()
		s.NewConns += c.newConns.Load()
		s.FragNeeded += c.fragNeeded.Load()
		s.Split += c.split.Load()
		s.ICMPSent += c.icmpSent.Load()
		s.ICMPRelayed += c.icmpRelayed.Load()
		s.Frag6Queued += c.frag6Queued.Load()
		s.Frag6Reassembled += c.frag6Reassembled.Load()
		s.Frag6Timeouts += c.frag6Timeouts.Load()
		s.Frag6Lent += c.frag6Lent.Load()
		s.Frag6BoxFull += c.frag6BoxFull.Load()
		s.SynCookies += c.synCookies.Load()
		s.SynAbsorbed += c.synAbsorbed.Load()
		s.SynAckValid += c.synAckValid.Load()
		s.SynAckInvalid += c.synAckInvalid.Load()
		s.SynOpened += c.synOpened.Load()
		s.SynQueued += c.synQueued.Load()
		s.SynRetries += c.synRetries.Load()
		s.DropEntries += c.dropEntry.Load()
		s.NodestExpired += c.nodestExpired.Load()
		s.RSTSent += c.rstSent.Load()
		s.Conns += int(c.conns.Load())
		for _, r := range Reasons() {
			if v := c.drops[r].Load(); v > 0 {
				s.Drops[r] += v
			}
		}
	}
	return s
}

// epoch is the zero of conntrack ticks for this process.
var epoch = time.Now()

func tick() conntrack.Tick { return conntrack.Tick(time.Since(epoch).Milliseconds()) }

// run is the worker loop: receive a batch, run each frame to completion,
// flush the TX batch, hand the slots back, sweep a little.
func (w *worker) run(ctx context.Context, e *Engine) error {
	// One thread per worker: its CPU time is the worker's (ulvs stats),
	// and the scheduler never moves the loop between threads.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w.c.loop.tid.Store(int32(unix.Gettid()))
	for ctx.Err() == nil {
		if ls := e.links.Load(); ls != w.ls {
			w.adopt(ls)
		}
		n, err := w.recv(pollTimeout)
		if err != nil {
			return err
		}
		if t := e.timeouts.Load(); t != w.timeouts {
			w.timeouts = t
			w.ct.SetTimeouts(t)
		}
		tbl := e.table.Load()
		if tbl != w.nodestTbl {
			w.expireNodest(tbl)
		}
		now := tick()
		w.tr = e.traceRing(w.index) // nil unless someone traces (trace.go)
		if w.master = e.syncMaster.Load(); w.master != nil {
			w.syncNow = syncClock()
		}
		w.batch(n, tbl, now)
		w.drainFrag6(tbl, now) // frag6box.go
		if b := e.syncBackup.Load(); b != nil {
			w.drainInbox(b, tbl, now)
		}
		w.flushPending(now)
		w.proxyRetry(tbl, now) // engine/synproxy.go
		w.sweep(now, tbl)
		w.defend(&e.defense, tbl, now)
		w.readRingStats(now)
		w.stats.flush() // what the steps after the batch counted and did not send
		select {
		case reply := <-w.connReq:
			reply <- w.copyConns()
		case reply := <-w.conn6Req:
			reply <- w.copyConns6()
		default:
		}
	}
	return nil
}

// connCopy is a worker's copy of its table: the live entries, their reply
// keys in the same order (conntrack.Table.Out: a connection holds none
// itself) and, when the worker has proxied connections, each entry's SYN
// proxy state at the same index (PhaseNone for the others).
type connCopy struct {
	conns []conntrack.Conn
	outs  []conntrack.Key
	proxy []synproxy.Conn
}

// copyConns copies the live entries of the worker's table.
func (w *worker) copyConns() connCopy {
	out := connCopy{conns: make([]conntrack.Conn, 0, w.ct.Len()), outs: make([]conntrack.Key, 0, w.ct.Len())}
	if w.sp.conns != nil {
		out.proxy = make([]synproxy.Conn, 0, w.ct.Len())
	}
	w.ct.Range(func(c *conntrack.Conn) bool {
		out.conns = append(out.conns, *c)
		out.outs = append(out.outs, w.ct.Out(c))
		if out.proxy != nil {
			var sp synproxy.Conn
			if p := w.proxyConn(c); p != nil {
				sp = *p
			}
			out.proxy = append(out.proxy, sp)
		}
		return true
	})
	return out
}

// conn6Copy is connCopy for the IPv6 table (an IPv6 connection holds its
// reply key itself).
type conn6Copy struct {
	conns []conntrack.Conn6
	proxy []synproxy.Conn
}

// copyConns6 copies the live entries of the worker's IPv6 table.
func (w *worker) copyConns6() conn6Copy {
	if w.ct6 == nil {
		return conn6Copy{}
	}
	out := conn6Copy{conns: make([]conntrack.Conn6, 0, w.ct6.Len())}
	if w.sp.conns6 != nil {
		out.proxy = make([]synproxy.Conn, 0, w.ct6.Len())
	}
	w.ct6.Range(func(c *conntrack.Conn6) bool {
		out.conns = append(out.conns, *c)
		if out.proxy != nil {
			var sp synproxy.Conn
			if p := w.proxyConn6(c); p != nil {
				sp = *p
			}
			out.proxy = append(out.proxy, sp)
		}
		return true
	})
	return out
}

// Conns6 is Conns for the IPv6 connections.
func (e *Engine) Conns6(ctx context.Context) ([]conntrack.Conn6, conntrack.Tick) {
	cp, now := e.copies6(ctx)
	return cp.conns, now
}

// copies6 is copies for the IPv6 connections: each with its SYN proxy
// state (proxy is nil when no worker has proxied IPv6 connections).
func (e *Engine) copies6(ctx context.Context) (conn6Copy, conntrack.Tick) {
	var out conn6Copy
	gather(ctx, e, func(w *worker) chan chan<- conn6Copy { return w.conn6Req }, func(cs conn6Copy) {
		out.proxy = appendProxy(out.proxy, len(out.conns), cs.proxy, len(cs.conns))
		out.conns = append(out.conns, cs.conns...)
	})
	return out, tick()
}

// Conns returns a copy of every worker's connection table and the tick
// the copies can be compared with (ipvsadm -L -c). Each worker answers
// between two batches, within its poll timeout when idle; a worker that
// does not answer before ctx is done is left out.
func (e *Engine) Conns(ctx context.Context) ([]conntrack.Conn, conntrack.Tick) {
	cp, now := e.copies(ctx)
	return cp.conns, now
}

// copies is Conns with each connection's reply key and SYN proxy state
// (proxy is nil when no worker has proxied connections).
func (e *Engine) copies(ctx context.Context) (connCopy, conntrack.Tick) {
	var out connCopy
	gather(ctx, e, func(w *worker) chan chan<- connCopy { return w.connReq }, func(cs connCopy) {
		out.proxy = appendProxy(out.proxy, len(out.conns), cs.proxy, len(cs.conns))
		out.conns = append(out.conns, cs.conns...)
		out.outs = append(out.outs, cs.outs...)
	})
	return out, tick()
}

// appendProxy appends a worker's SYN proxy states (add, for its n
// connections; nil when it has none proxied) to out, the states of the
// have connections gathered so far (nil while none was proxied).
func appendProxy(out []synproxy.Conn, have int, add []synproxy.Conn, n int) []synproxy.Conn {
	switch {
	case add == nil && out == nil:
		return nil
	case out == nil:
		out = make([]synproxy.Conn, have, have+n)
	case add == nil:
		add = make([]synproxy.Conn, n)
	}
	return append(out, add...)
}

// gather asks every worker, through the request channel req picks, for a
// copy of its entries and hands each answer to add; a worker that does
// not answer before ctx is done is left out.
func gather[T any](ctx context.Context, e *Engine, req func(*worker) chan chan<- T, add func(T)) {
	for _, w := range e.workers {
		reply := make(chan T, 1)
		select {
		case req(w) <- reply:
		case <-ctx.Done():
			return
		}
		select {
		case cs := <-reply:
			add(cs)
		case <-ctx.Done():
			return
		}
	}
}

// Counters returns the engine's counters by name, for reports: frames and
// bytes in and out, answers, new connections and each drop reason.
func (e *Engine) Counters() map[string]uint64 {
	s := e.Stats()
	m := map[string]uint64{
		"rx_frames":    s.RxFrames,
		"rx_bytes":     s.RxBytes,
		"tx_frames":    s.TxFrames,
		"tx_bytes":     s.TxBytes,
		"forwarded":    s.Forwarded,
		"arp_replies":  s.ARPReplies,
		"nd_replies":   s.NDReplies,
		"echo_replies": s.EchoReplies,
		"new_conns":    s.NewConns,
		"frag_needed":  s.FragNeeded,
		"split":        s.Split,
		"icmp_sent":    s.ICMPSent,
		"icmp_relayed": s.ICMPRelayed,

		"ipv6_frags_queued":   s.Frag6Queued,
		"ipv6_reassembled":    s.Frag6Reassembled,
		"ipv6_reasm_timeouts": s.Frag6Timeouts,
		"ipv6_reasm_handed":   s.Frag6Lent,
		"ipv6_reasm_box_full": s.Frag6BoxFull,

		"synproxy_cookies_sent": s.SynCookies,
		"synproxy_absorbed":     s.SynAbsorbed,
		"synproxy_acks_valid":   s.SynAckValid,
		"synproxy_acks_invalid": s.SynAckInvalid,
		"synproxy_opened":       s.SynOpened,
		"synproxy_queued":       s.SynQueued,
		"synproxy_syn_retries":  s.SynRetries,
		// The defence ladder (defense.go): connections drop_entry
		// removed, switches to the secure_tcp state table, persistence
		// templates refused at their bound.
		"defense_drop_entry":    s.DropEntries,
		"defense_secure_tcp_on": e.defense.secureOnCount.Load(),
		// Connections expired when their real server was removed
		// (expire_nodest_conn), resets sent for segments that belong
		// to no connection.
		"expire_nodest_conns": s.NodestExpired,
		"rst_sent":            s.RSTSent,
	}
	if e.templates != nil {
		m["persist_templates_refused"] = e.templates.Refused()
	}
	if e.blockRate > 0 {
		// Odd switches: the workers read their block rings now.
		m["rx_block_switches"] = e.blockSwitches.Load()
		var frames uint64
		for _, c := range e.counts {
			frames += c.loop.blockFrames.Load()
		}
		m["rx_block_frames"] = frames
	}
	for _, r := range Reasons() {
		m["drop_"+r.String()] = s.Drops[r]
	}
	return m
}

// sweep expires connections incrementally, walking the whole table once per
// sweepPeriod whatever the traffic.
func (w *worker) sweep(now conntrack.Tick, tbl *vs.Table) {
	elapsed := int64(now.Sub(w.lastSweep))
	if elapsed < 0 {
		w.lastSweep = now
		return
	}
	budget := int64(w.ct.Cap()) * elapsed / sweepPeriod.Milliseconds()
	if budget < minSweep {
		return
	}
	w.ct.Sweep(now, int(min(budget, int64(w.ct.Cap()))), tbl)
	if w.ct6 != nil {
		w.ct6.Sweep(now, int(min(budget, int64(w.ct6.Cap()))), tbl)
	}
	w.lastSweep = now
}

// recv collects the frames ready on the worker's links, starting with a
// different link each time so none starves; when none is ready it waits up
// to timeout for any of them.
func (w *worker) recv(timeout time.Duration) (int, error) {
	n := w.collect()
	if n > 0 || !w.blocks {
		if n > 0 {
			w.c.loop.batches.Add(1)
		}
		return n, nil
	}
	var idleStart time.Time
	if w.idle.max > 0 {
		idleStart = time.Now()
		if w.idle.window > 0 {
			if n = w.spin(idleStart); n > 0 { // idlepoll.go
				w.c.loop.spinWins.Add(1)
				w.c.loop.batches.Add(1)
				return n, nil
			}
		}
	}
	// With every link down all entries are -1 and poll just sleeps.
	w.c.loop.polls.Add(1)
	deadline := time.Now().Add(timeout)
	for {
		k, err := rawPoll(w.pfd, timeout)
		if err == unix.EINTR {
			// The runtime interrupts the poll with a signal to
			// preempt the worker or to stop the world (rawPoll):
			// yield, which lets it, and wait out the rest.
			runtime.Gosched()
			if timeout = time.Until(deadline); timeout > 0 {
				continue
			}
			break
		}
		if err != nil {
			return 0, &OpError{Op: "poll", Err: err}
		}
		if k > 0 {
			w.checkFaults()
		}
		break
	}
	n = w.collect()
	if n > 0 {
		w.c.loop.batches.Add(1)
	}
	if w.idle.max > 0 {
		w.idle.adjust(time.Since(idleStart), n > 0)
	}
	return n, nil
}

func (w *worker) collect() int {
	n := 0
	k := len(w.links)
	w.next = (w.next + 1) % k
	for j := 0; j < k && n < len(w.rx); j++ {
		i := (w.next + j) % k
		got := w.links[i].collect(w.rx[n:])
		if r, ok := w.links[i].(*ring); ok && r.lastBlk > 0 {
			w.c.loop.blockFrames.Add(uint64(r.lastBlk))
		}
		for m := n; m < n+got; m++ {
			w.rx[m].in = uint8(i)
			w.rx[m].out = uint8(i)
		}
		n += got
	}
	return n
}

// batch processes the n frames of the last recv and flushes the result,
// one sendmmsg per egress link.
func (w *worker) batch(n int, tbl *vs.Table, now conntrack.Tick) {
	w.tx = w.tx[:0]
	w.now = now
	for i := 0; i < n; i++ {
		if w.tr != nil {
			w.processTraced(&w.rx[i], tbl, now) // trace.go
			continue
		}
		w.process(&w.rx[i], tbl, now)
	}
	w.flushTX()
	for _, l := range w.links {
		l.release()
	}
}

// flushTX transmits the queued frames, one sendmmsg per egress link, and
// makes the scratch buffers free again. Ring slots stay held until the
// batch's release.
func (w *worker) flushTX() {
	// The counters first: a frame on the wire has been counted
	// (ipvsadm --stats read right after a reply arrives sees its request).
	w.stats.flush()
	for li, l := range w.links {
		if len(w.tx) == 0 {
			break
		}
		out := w.txLink[:0]
		for _, p := range w.tx {
			if int(p.out) == li {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			continue
		}
		sent, err := l.send(out)
		w.c.loop.txCalls.Add(1)
		w.c.txFrames.Add(uint64(sent))
		if failed := len(out) - sent; failed > 0 {
			r := ReasonTxError
			if err == errLinkDown {
				r = ReasonLinkDown
			}
			w.c.drops[r].Add(uint64(failed))
		}
		for _, p := range out[:sent] {
			w.c.txBytes.Add(uint64(p.n))
		}
		w.txLink = out[:0]
	}
	w.tx = w.tx[:0]
	w.scr.reset()
	if w.frag6 != nil {
		w.frag6.release()
	}
}
