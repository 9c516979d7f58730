package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/ulvs/ulvs/realserver"
)

// ErrNotSupported is returned where the lab needs something this host lacks
// (Linux, the `ip` tool). Tests skip on it.
var ErrNotSupported = errors.New("not supported on this host")

// The lab's fixed addressing: 10.77.0.0/24 outside (every mode), and
// 10.77.1.0/24 inside, between the director and the real servers, in the
// nat and fullnat modes.
var (
	// VIP is the virtual service address. The director answers ARP for
	// it itself; a DR real server holds it on lo, a TUN real server on
	// its decapsulator's device, NAT and FULLNAT real servers not at all.
	VIP = netip.MustParseAddr("10.77.0.100")
	// DIP is the director's address on d-eth0.
	DIP = netip.MustParseAddr("10.77.0.2")
	// ClientAddr is the client's address on c-eth0.
	ClientAddr = netip.MustParseAddr("10.77.0.10")
	// InsideDIP is the director's address on d-eth1 in the nat and
	// fullnat modes: the NAT real servers' default gateway.
	InsideDIP = netip.MustParseAddr("10.77.1.1")
	// BackupDIP and BackupInsideDIP are the second director's addresses
	// (Config.Backup) on d-eth0 and d-eth1.
	BackupDIP       = netip.MustParseAddr("10.77.0.3")
	BackupInsideDIP = netip.MustParseAddr("10.77.1.2")
	// FloatingGateway is the NAT real servers' default gateway in a nat
	// lab with a backup director: no node's address, but the one a
	// failover instance moves between the two (virtual_ipaddress_excluded
	// `10.77.1.254/24 dev d-eth1`, or an instance on d-eth1), answered by
	// the director that is master.
	FloatingGateway = netip.MustParseAddr("10.77.1.254")
	// LocalAddrs are the FULLNAT local addresses of the fullnat demo
	// config (its local_addresses): the director SNATs clients to them on
	// the inside network. Nothing in the lab configures them; ulvsd
	// answers ARP for them as it does for a VIP. The lab never gives a
	// node an address in 10.77.1.200-10.77.1.254, so more may be taken
	// from there.
	LocalAddrs = []netip.Addr{netip.MustParseAddr("10.77.1.200"), netip.MustParseAddr("10.77.1.201")}
	// LocalAddrs6 are the IPv6 FULLNAT local addresses of a dual-stack
	// fullnat lab, on the inside network, answered by ulvsd as well.
	LocalAddrs6 = []netip.Addr{netip.MustParseAddr("2001:db8:77:1::200"), netip.MustParseAddr("2001:db8:77:1::201")}
)

// The dual-stack lab's IPv6 addressing (Config.IPv6): 2001:db8:77::/64
// outside, 2001:db8:77:1::/64 inside (nat mode), the same host numbers as
// IPv4 (::10 the client, ::2 the director, ::100 the VIP, ::11.. the real
// servers, ::1 the director inside).
var (
	VIP6        = netip.MustParseAddr("2001:db8:77::100")
	DIP6        = netip.MustParseAddr("2001:db8:77::2")
	ClientAddr6 = netip.MustParseAddr("2001:db8:77::10")
	InsideDIP6  = netip.MustParseAddr("2001:db8:77:1::1")
	// BackupDIP6 is the second director's IPv6 address on d-eth0 in a
	// dual-stack dr lab with Config.Backup (its VRRPv3 adverts leave from
	// its link-local address).
	BackupDIP6 = netip.MustParseAddr("2001:db8:77::3")
	// BackupInsideDIP6 is the second director's IPv6 address on d-eth1
	// in a dual-stack nat lab with Config.Backup.
	BackupInsideDIP6 = netip.MustParseAddr("2001:db8:77:1::2")
	// FloatingGateway6 is the NAT66 real servers' default gateway in a
	// dual-stack nat lab with a backup director: the link-local address
	// of a VRRPv3 instance on d-eth1 (RFC 5798 5.2.9: an IPv6 virtual
	// router's first address is link-local; keepalived users take
	// fe80::1), answered by the director that is master.
	FloatingGateway6 = netip.MustParseAddr("fe80::1")
)

// prefixBits6 is the IPv6 prefix length of the lab's networks.
const prefixBits6 = 64

// The lab's modes, one per LVS forwarding method (Config.Mode).
const (
	// ModeDR is the flat lab: client, director and real servers on one
	// bridge, each real server with the VIP on lo, arp_ignore=1 and
	// arp_announce=2.
	ModeDR = "dr"
	// ModeNAT adds an inside bridge br1: the director's d-eth1 and the
	// real servers at 10.77.1.(10+N), whose default route is the
	// director's InsideDIP. The client cannot reach them directly.
	ModeNAT = "nat"
	// ModeFullNAT is ModeNAT without the default route: the real servers
	// reach only their own subnet, where the director's LocalAddrs are.
	ModeFullNAT = "fullnat"
	// ModeTUN is the flat lab with real servers that decapsulate IPIP
	// (package realserver): the VIP on the decapsulator's device, no VIP
	// on lo. MTUs stay at 1500, so full-size DF packets do not fit once
	// encapsulated.
	ModeTUN = "tun"
)

// Modes lists the lab's modes, the default first.
func Modes() []string { return []string{ModeDR, ModeNAT, ModeFullNAT, ModeTUN} }

// ValidMode reports whether m is one of Modes.
func ValidMode(m string) bool {
	switch m {
	case ModeDR, ModeNAT, ModeFullNAT, ModeTUN:
		return true
	}
	return false
}

// hasInside reports whether mode puts the real servers behind the director
// on an inside network.
func hasInside(mode string) bool { return mode == ModeNAT || mode == ModeFullNAT }

// prefixBits is the lab subnet's prefix length.
const prefixBits = 24

// MaxRealServers bounds Config.RealServers: rsN gets 10.77.0.(10+N) or
// 10.77.1.(10+N), which must stay below the VIP and the LocalAddrs.
const MaxRealServers = 89

// DirectorIface is the director's (outside) interface name inside its
// namespace.
const DirectorIface = "d-eth0"

// DirectorInsideIface is the director's interface on the inside network
// (nat and fullnat modes).
const DirectorInsideIface = "d-eth1"

// Config says what Up builds. The zero value is a lab with a unique prefix
// and two real servers.
type Config struct {
	// Prefix starts every namespace name ("P-client", ...). Empty means
	// "ulvs" + the process id + random hex, unique per run. Letters,
	// digits, '_', '.' and '-' (not first), at most 32 bytes.
	Prefix string
	// RealServers is the number of real servers, rs1..rsN; 0 means 2.
	RealServers int
	// Mode is one of Modes: "dr" (empty means dr), "nat", "fullnat" or
	// "tun". It decides the topology; see the package doc.
	Mode string
	// OffloadsOff turns off checksum offload, TSO, GSO and GRO on every
	// veth end (ethtool -K IF tx off tso off gso off gro off).
	OffloadsOff bool
	// ExternalDecap leaves the real servers of a tun lab without IPIP
	// decapsulation: the caller runs `ulvs realserver up --mode tun` in
	// each itself, as `ulvs lab up` does so that the decapsulators outlive
	// it. Otherwise Up runs them in this process until Down.
	ExternalDecap bool
	// BareRealServers leaves the real servers unprepared: no VIP on lo,
	// no ARP sysctls, no default route, no IPIP decapsulation. The caller
	// prepares them itself, as a test of `ulvs realserver up --conf`
	// does.
	BareRealServers bool
	// Backup adds a second director, "director2" (BackupDIP, and
	// BackupInsideDIP in the nat and fullnat modes; BackupDIP6 and, nat,
	// BackupInsideDIP6 in a dual-stack dr or nat lab), on the same
	// networks with the same interface names: the other half of a
	// failover pair. The nat lab's real servers then route through
	// FloatingGateway (and FloatingGateway6), which the pair's failover
	// instance must carry, instead of the first director's InsideDIP.
	Backup bool
	// IPv6 makes the lab dual-stack (every mode): every node
	// gets its IPv6 address too (without duplicate address detection, so
	// it is usable at once), DR real servers VIP6/128 on lo, TUN real
	// servers VIP6 on their decapsulator's device, NAT real servers a
	// default IPv6 route through InsideDIP6, and StartServers listens on
	// IPv6 as well. Without it IPv6 is disabled in every namespace.
	IPv6 bool
	// Logger receives one line per step; nil discards.
	Logger *slog.Logger
}

// Lab is a built lab. Its exported fields describe it and are what a state
// file records; they must not be changed. Lab is safe for concurrent use.
type Lab struct {
	Prefix   string `json:"prefix"`
	Switch   NS     `json:"switch"`
	Client   NS     `json:"client"`
	Director NS     `json:"director"`
	// RS[i] is real server rs(i+1), with address RIPs[i].
	RS            []NS         `json:"rs"`
	VIP           netip.Addr   `json:"vip"`
	DIP           netip.Addr   `json:"dip"`
	RIPs          []netip.Addr `json:"rips"`
	ClientAddr    netip.Addr   `json:"client_addr"`
	DirectorIface string       `json:"director_iface"`
	// Mode is the lab's mode; a state file from before modes existed
	// reads as dr.
	Mode string `json:"mode,omitempty"`
	// DirectorInsideIface and InsideDIP are the director's inside
	// interface and address in the nat and fullnat modes; empty and
	// invalid otherwise. RIPs are then inside addresses.
	DirectorInsideIface string     `json:"director_inside_iface,omitempty"`
	InsideDIP           netip.Addr `json:"inside_dip,omitzero"`
	// LocalAddrs are the FULLNAT local addresses (fullnat mode only).
	LocalAddrs []netip.Addr `json:"local_addrs,omitempty"`
	// Backup is the second director of Config.Backup (Name "" when
	// there is none), with its addresses.
	Backup          NS         `json:"backup,omitzero"`
	BackupDIP       netip.Addr `json:"backup_dip,omitzero"`
	BackupInsideDIP netip.Addr `json:"backup_inside_dip,omitzero"`
	// VIP6, DIP6, ClientAddr6, InsideDIP6 and RIPs6 are the IPv6
	// addresses of a dual-stack lab (Config.IPv6); invalid and empty
	// otherwise.
	VIP6        netip.Addr   `json:"vip6,omitzero"`
	DIP6        netip.Addr   `json:"dip6,omitzero"`
	ClientAddr6 netip.Addr   `json:"client_addr6,omitzero"`
	InsideDIP6  netip.Addr   `json:"inside_dip6,omitzero"`
	RIPs6       []netip.Addr `json:"rips6,omitempty"`
	// LocalAddrs6 are the IPv6 FULLNAT local addresses (a dual-stack
	// fullnat lab).
	LocalAddrs6 []netip.Addr `json:"local_addrs6,omitempty"`
	BackupDIP6  netip.Addr   `json:"backup_dip6,omitzero"`
	// BackupInsideDIP6 is the backup's inside IPv6 address (a dual-stack
	// nat lab with a backup).
	BackupInsideDIP6 netip.Addr `json:"backup_inside_dip6,omitzero"`
	// Gateway and Gateway6 are the NAT real servers' default gateways
	// when they are not InsideDIP and InsideDIP6: FloatingGateway and
	// FloatingGateway6 in a nat lab with a backup director.
	Gateway  netip.Addr `json:"gateway,omitzero"`
	Gateway6 netip.Addr `json:"gateway6,omitzero"`

	log *slog.Logger

	mu         sync.Mutex
	stopServer context.CancelFunc // nil when no in-process servers run
	servers    sync.WaitGroup
	decaps     []decap // in-process TUN decapsulators (tun mode)
}

// decap is a real server's in-process IPIP decapsulation.
type decap struct {
	rs  NS
	srv *realserver.Server
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)

// ValidPrefix reports whether p can start the lab's namespace names.
func ValidPrefix(p string) bool { return prefixRE.MatchString(p) }

// UniquePrefix returns "ulvs" + the process id + 4 random hex digits.
func UniquePrefix() string {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return "ulvs" + strconv.Itoa(os.Getpid()) + hex.EncodeToString(b[:])
}

// New describes the DR lab that Up would build with prefix and n real
// servers, without building anything. It is how a later process addresses
// a lab that another one built.
func New(prefix string, n int) (*Lab, error) {
	return NewMode(prefix, n, ModeDR)
}

// NewMode is New for a lab of any mode ("" means dr).
func NewMode(prefix string, n int, mode string) (*Lab, error) {
	if mode == "" {
		mode = ModeDR
	}
	if !ValidMode(mode) {
		return nil, fmt.Errorf("lab mode %q: want one of %v", mode, Modes())
	}
	if !ValidPrefix(prefix) {
		return nil, fmt.Errorf("lab prefix %q: want 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit", prefix)
	}
	if n < 1 || n > MaxRealServers {
		return nil, fmt.Errorf("lab real servers %d: want 1..%d", n, MaxRealServers)
	}
	l := &Lab{
		Prefix:        prefix,
		Switch:        NS{prefix + "-sw"},
		Client:        NS{prefix + "-client"},
		Director:      NS{prefix + "-director"},
		VIP:           VIP,
		DIP:           DIP,
		ClientAddr:    ClientAddr,
		DirectorIface: DirectorIface,
		Mode:          mode,
		log:           slog.New(slog.DiscardHandler),
	}
	var subnet byte // third octet of the real servers' network
	if hasInside(mode) {
		l.DirectorInsideIface = DirectorInsideIface
		l.InsideDIP = InsideDIP
		subnet = 1
	}
	if mode == ModeFullNAT {
		l.LocalAddrs = slices.Clone(LocalAddrs)
	}
	for i := 1; i <= n; i++ {
		l.RS = append(l.RS, NS{fmt.Sprintf("%s-rs%d", prefix, i)})
		l.RIPs = append(l.RIPs, netip.AddrFrom4([4]byte{10, 77, subnet, byte(10 + i)}))
	}
	return l, nil
}

// DirectNS returns the node from which the real servers' RIPs are reachable
// without the director's help: the client on the flat lab (dr, tun), the
// director when the real servers sit on the inside network (nat, fullnat).
func (l *Lab) DirectNS() NS {
	if hasInside(l.Mode) {
		return l.Director
	}
	return l.Client
}

// logger returns the lab's logger; a Lab decoded from a state file has none.
func (l *Lab) logger() *slog.Logger {
	if l.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.log
}

// Namespaces returns every namespace of the lab in the order Up creates
// them: switch, client, director, rs1..rsN.
func (l *Lab) Namespaces() []NS {
	out := append([]NS{l.Switch, l.Client, l.Director}, l.RS...)
	if l.Backup.Name != "" {
		out = append(out, l.Backup)
	}
	return out
}

// Node returns the namespace of a node by its short name: "sw", "client",
// "director" or "rsN".
func (l *Lab) Node(name string) (NS, bool) {
	for _, n := range l.Namespaces() {
		if n.Name == l.Prefix+"-"+name {
			return n, true
		}
	}
	return NS{}, false
}

// Up builds the lab of cfg. If any step fails it deletes the namespaces it
// created and returns the error; it never deletes a namespace it did not
// create (a prefix already in use fails at the first `ip netns add`).
func Up(ctx context.Context, cfg Config) (*Lab, error) {
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("lab needs the iproute2 ip tool: %w", ErrNotSupported)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = UniquePrefix()
	}
	if cfg.RealServers == 0 {
		cfg.RealServers = 2
	}
	l, err := NewMode(cfg.Prefix, cfg.RealServers, cfg.Mode)
	if err != nil {
		return nil, err
	}
	if cfg.Logger != nil {
		l.log = cfg.Logger
	}
	if err := l.extend(cfg.Backup, cfg.IPv6); err != nil {
		return nil, err
	}
	b := builder{ctx: ctx, l: l, bare: cfg.BareRealServers}
	err = b.build(cfg.OffloadsOff)
	if err == nil && l.Mode == ModeTUN && !cfg.ExternalDecap && !cfg.BareRealServers {
		err = l.startDecap(ctx)
	}
	if err != nil {
		l.stopDecap()
		if derr := deleteNamespaces(b.created); derr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", derr))
		}
		l.removeDecapStates()
		return nil, fmt.Errorf("lab %s up: %w", l.Prefix, err)
	}
	l.log.Info("lab up", "prefix", l.Prefix, "mode", l.Mode, "real_servers", len(l.RS))
	return l, nil
}

// builder runs Up's steps, remembering what it created.
type builder struct {
	ctx     context.Context
	l       *Lab
	created []NS
	bare    bool // Config.BareRealServers
}

// link is one veth pair: node end (in the node's namespace) and switch end.
type link struct {
	ns       NS
	ifname   string
	swname   string
	bridge   string // br0 (outside) or br1 (inside)
	addr     netip.Addr
	addr6    netip.Addr // dual-stack lab: the IPv6 address too
	loopback bool       // also put the VIP on lo (a DR real server)
}

func (b *builder) ip(args ...string) error {
	_, err := runCmd(b.ctx, "ip", args...)
	return err
}

func (b *builder) build(offloadsOff bool) error {
	l := b.l
	inside := hasInside(l.Mode)
	links := []link{
		{ns: l.Client, ifname: "c-eth0", swname: "sw-c", bridge: "br0", addr: l.ClientAddr, addr6: l.ClientAddr6},
		{ns: l.Director, ifname: l.DirectorIface, swname: "sw-d", bridge: "br0", addr: l.DIP, addr6: l.DIP6},
	}
	bridges := []string{"br0"}
	rsBridge := "br0"
	if inside {
		links = append(links, link{ns: l.Director, ifname: l.DirectorInsideIface, swname: "sw-d1",
			bridge: "br1", addr: l.InsideDIP, addr6: l.InsideDIP6})
		bridges = append(bridges, "br1")
		rsBridge = "br1"
	}
	if l.Backup.Name != "" {
		links = append(links, link{ns: l.Backup, ifname: l.DirectorIface, swname: "sw-d2", bridge: "br0", addr: l.BackupDIP, addr6: l.BackupDIP6})
		if inside {
			links = append(links, link{ns: l.Backup, ifname: l.DirectorInsideIface, swname: "sw-d21",
				bridge: "br1", addr: l.BackupInsideDIP, addr6: l.BackupInsideDIP6})
		}
	}
	for i, rs := range l.RS {
		k := link{ns: rs, ifname: RSIface(i), swname: fmt.Sprintf("sw-r%d", i+1),
			bridge: rsBridge, addr: l.RIPs[i], loopback: l.Mode == ModeDR && !b.bare}
		if i < len(l.RIPs6) {
			k.addr6 = l.RIPs6[i]
		}
		links = append(links, k)
	}
	ipv6 := l.VIP6.IsValid()

	for _, n := range l.Namespaces() {
		if err := b.ip("netns", "add", n.Name); err != nil {
			return err
		}
		b.created = append(b.created, n)
		if err := b.ip("-n", n.Name, "link", "set", "lo", "up"); err != nil {
			return err
		}
		// Before any veth arrives, so new interfaces inherit "default".
		// IPv6 is off: the lab is IPv4, and without router solicitations
		// and MLD reports every frame on the bridge is one a lesson explains.
		if ipv6 {
			// Dual-stack: IPv6 on, addresses usable at once (no DAD),
			// no router advertisements taken, and no forwarding (the
			// director must not forward what it does not own).
			if err := n.setSysctls(required,
				"net/ipv6/conf/all/disable_ipv6", "0",
				"net/ipv6/conf/default/disable_ipv6", "0",
				"net/ipv6/conf/all/accept_dad", "0",
				"net/ipv6/conf/default/accept_dad", "0",
				"net/ipv6/conf/all/accept_ra", "0",
				"net/ipv6/conf/default/accept_ra", "0",
				"net/ipv6/conf/all/forwarding", "0"); err != nil {
				return err
			}
		} else if err := n.setSysctls(optional,
			"net/ipv6/conf/all/disable_ipv6", "1",
			"net/ipv6/conf/default/disable_ipv6", "1"); err != nil {
			return err
		}
		l.log.Debug("namespace added", "netns", n.Name)
	}

	// The switch: without these, Debian's br_netfilter sends bridged
	// frames through the iptables of the new namespace.
	if err := l.Switch.setSysctls(optional,
		"net/bridge/bridge-nf-call-iptables", "0",
		"net/bridge/bridge-nf-call-arptables", "0"); err != nil {
		return err
	}
	for _, br := range bridges {
		if err := b.ip("-n", l.Switch.Name, "link", "add", br, "type", "bridge"); err != nil {
			return err
		}
		if err := b.ip("-n", l.Switch.Name, "link", "set", br, "up"); err != nil {
			return err
		}
	}

	// The director must neither forward nor send redirects (DESIGN.md,
	// "Host facts"); it does not own the VIP.
	for _, d := range []NS{l.Director, l.Backup} {
		if d.Name == "" {
			continue
		}
		if err := d.setSysctls(required,
			"net/ipv4/ip_forward", "0",
			"net/ipv4/conf/all/send_redirects", "0",
			"net/ipv4/conf/default/send_redirects", "0"); err != nil {
			return err
		}
	}
	// DR real servers: never answer or announce ARP for the VIP on lo
	// (seed 001/002 realserver.sh). TUN real servers get the same from
	// package realserver; NAT ones hold no VIP.
	for _, rs := range l.RS {
		if l.Mode != ModeDR || b.bare {
			break
		}
		if err := rs.setSysctls(required,
			"net/ipv4/conf/all/arp_ignore", "1",
			"net/ipv4/conf/all/arp_announce", "2",
			"net/ipv4/conf/lo/arp_ignore", "1",
			"net/ipv4/conf/lo/arp_announce", "2"); err != nil {
			return err
		}
	}

	sw := l.Switch.Name
	for _, k := range links {
		// Created from inside the switch namespace with the peer placed
		// straight into the node's: nothing ever appears in the root
		// namespace.
		if err := b.ip("-n", sw, "link", "add", k.swname, "type", "veth",
			"peer", "name", k.ifname, "netns", k.ns.Name); err != nil {
			return err
		}
		if err := b.ip("-n", sw, "link", "set", k.swname, "master", k.bridge, "up"); err != nil {
			return err
		}
		if err := b.ip("-n", k.ns.Name, "addr", "add",
			netip.PrefixFrom(k.addr, prefixBits).String(), "dev", k.ifname); err != nil {
			return err
		}
		if err := b.ip("-n", k.ns.Name, "link", "set", k.ifname, "up"); err != nil {
			return err
		}
		if k.loopback {
			if err := b.ip("-n", k.ns.Name, "addr", "add",
				netip.PrefixFrom(l.VIP, 32).String(), "dev", "lo"); err != nil {
				return err
			}
		}
		if k.addr6.IsValid() {
			if err := b.ip("-n", k.ns.Name, "-6", "addr", "add",
				netip.PrefixFrom(k.addr6, prefixBits6).String(), "dev", k.ifname, "nodad"); err != nil {
				return err
			}
			// A DR real server holds VIP6 on lo. Linux answers a
			// neighbour solicitation only for an address of the
			// interface it arrives on (ndisc_recv_ns), so unlike ARP
			// nothing like arp_ignore is needed to keep it quiet.
			if k.loopback {
				if err := b.ip("-n", k.ns.Name, "-6", "addr", "add",
					netip.PrefixFrom(l.VIP6, 128).String(), "dev", "lo"); err != nil {
					return err
				}
			}
		}
		if offloadsOff {
			for _, end := range []struct {
				ns     NS
				ifname string
			}{{k.ns, k.ifname}, {l.Switch, k.swname}} {
				if _, err := end.ns.Run(b.ctx, "ethtool", "-K", end.ifname,
					"tx", "off", "tso", "off", "gso", "off", "gro", "off"); err != nil {
					return err
				}
			}
		}
		l.log.Debug("link up", "netns", k.ns.Name, "if", k.ifname, "addr", k.addr)
	}
	// NAT real servers answer through the director (seed 002:
	// GATEWAY=DIP). FULLNAT ones need no route beyond their own subnet:
	// their peers are the director's local addresses on it.
	// With a backup director they route through the pair's floating
	// gateways instead (Lab.Gateway, Gateway6).
	if l.Mode == ModeNAT && !b.bare {
		gw, gw6 := l.InsideDIP, l.InsideDIP6
		if l.Gateway.IsValid() {
			gw = l.Gateway
		}
		if l.Gateway6.IsValid() {
			gw6 = l.Gateway6
		}
		for i, rs := range l.RS {
			if err := b.ip("-n", rs.Name, "route", "add", "default", "via", gw.String()); err != nil {
				return err
			}
			if ipv6 {
				// A link-local gateway needs its interface.
				if err := b.ip("-n", rs.Name, "-6", "route", "add", "default", "via", gw6.String(), "dev", RSIface(i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// RSIface returns the interface name of real server i (0-based) inside its
// namespace: r1-eth0, r2-eth0, ...
func RSIface(i int) string { return fmt.Sprintf("r%d-eth0", i+1) }

type need bool

const (
	required need = true
	optional need = false // skipped when the key does not exist
)

// setSysctls writes key/value pairs ("net/ipv4/ip_forward", "0") under
// /proc/sys from a thread inside the namespace: /proc/sys/net shows the
// network namespace of the thread that opens it.
func (n NS) setSysctls(nd need, kv ...string) error {
	return n.Do(func() error {
		for i := 0; i+1 < len(kv); i += 2 {
			p := filepath.Join("/proc/sys", kv[i])
			err := os.WriteFile(p, []byte(kv[i+1]), 0)
			if errors.Is(err, os.ErrNotExist) && nd == optional {
				continue
			}
			if err != nil {
				return fmt.Errorf("sysctl %s=%s in netns %s: %w", kv[i], kv[i+1], n.Name, err)
			}
		}
		return nil
	})
}

// Down stops the in-process servers and deletes the lab's namespaces (which
// deletes their veths). Namespaces already gone are skipped, so Down is
// idempotent, and it works on a Lab from New or a state file too. A socket
// still open in a namespace keeps that namespace (nameless) and its veth
// alive until it is closed: close what NS.Listen and NS.DialContext gave
// before Down.
func (l *Lab) Down() error {
	l.stopServers()
	// Deleting the namespaces would take the decapsulators' devices and
	// nftables tables anyway: a failed revert is only worth a warning.
	if err := l.stopDecap(); err != nil {
		l.logger().Warn("lab decapsulators", "prefix", l.Prefix, "err", err)
	}
	// A running vsftpd would keep a deleted namespace alive, nameless.
	ftpErr := l.StopFTP()
	ns := l.Namespaces()
	for i, j := 0, len(ns)-1; i < j; i, j = i+1, j-1 {
		ns[i], ns[j] = ns[j], ns[i]
	}
	if err := deleteNamespaces(ns); err != nil {
		return fmt.Errorf("lab %s down: %w", l.Prefix, errors.Join(ftpErr, err))
	}
	l.removeDecapStates()
	if ftpErr != nil {
		return fmt.Errorf("lab %s down: %w", l.Prefix, ftpErr)
	}
	l.logger().Info("lab down", "prefix", l.Prefix)
	return nil
}

// Exists reports whether namespace n exists.
func (n NS) Exists() bool {
	_, err := os.Stat(n.Path())
	return err == nil
}

// deleteNamespaces deletes each existing namespace of list, in order, and
// returns every failure.
func deleteNamespaces(list []NS) error {
	var errs []error
	for _, n := range list {
		if !n.Exists() {
			continue
		}
		// A fresh context: cleanup must run even when the caller's
		// context is what ended the work.
		if _, err := runCmd(context.Background(), "ip", "netns", "del", n.Name); err != nil && n.Exists() {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// extend gives l, built by NewMode, its second director (backup) and its
// IPv6 addresses (ipv6), as Up builds them.
func (l *Lab) extend(backup, ipv6 bool) error {
	if backup {
		l.Backup, l.BackupDIP = NS{l.Prefix + "-director2"}, BackupDIP
		if hasInside(l.Mode) {
			l.BackupInsideDIP = BackupInsideDIP
		}
		if l.Mode == ModeNAT {
			l.Gateway = FloatingGateway
		}
	}
	if ipv6 {
		return dualStack(l, backup)
	}
	return nil
}

// dualStack gives l, built by NewMode, its IPv6 addresses (Config.IPv6);
// backup: with a second director.
func dualStack(l *Lab, backup bool) error {
	if backup && l.Mode != ModeDR && l.Mode != ModeNAT {
		return fmt.Errorf("a dual-stack %s lab with a backup director: only dr and nat (ulvs issue #17): %w", l.Mode, ErrNotSupported)
	}
	if backup {
		l.BackupDIP6 = BackupDIP6
		if l.Mode == ModeNAT {
			l.BackupInsideDIP6, l.Gateway6 = BackupInsideDIP6, FloatingGateway6
		}
	}
	l.VIP6, l.DIP6, l.ClientAddr6 = VIP6, DIP6, ClientAddr6
	net := [8]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x77}
	if hasInside(l.Mode) {
		l.InsideDIP6 = InsideDIP6
		net[7] = 1
	}
	if l.Mode == ModeFullNAT {
		l.LocalAddrs6 = slices.Clone(LocalAddrs6)
	}
	for i := range l.RIPs {
		var a [16]byte
		copy(a[:], net[:])
		a[15] = byte(0x11 + i)
		l.RIPs6 = append(l.RIPs6, netip.AddrFrom16(a))
	}
	return nil
}
