package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// This file builds the scale-out lab (docs/scale-out.md): a client, a
// router running BIRD 2 that spreads the VIP's flows over N directors by
// ECMP, the directors (each announcing the VIP's /32 over BGP) and shared
// DR real servers:
//
//	P-client    c-eth0 10.78.0.10/24, default via 10.78.0.1
//	P-router    r-c0 10.78.0.1/24 (to the client); bridge br0 10.77.0.1/24
//	            (to the directors and real servers); ip_forward=1,
//	            fib_multipath_hash_policy=3 with fields 0x37 (the 5-tuple:
//	            the flows of one client spread), rp_filter=0; BIRD: AS 65000, one passive
//	            session per director, `merge paths` into the kernel table
//	P-dK        d-eth0 10.77.0.(1+K)/24 (K = 1..N, on br0), ip_forward=0;
//	            ulvsd runs here, AS 65001
//	P-rsI       rI-eth0 10.77.0.(10+I)/24 (on br0), ScaleVIP on lo,
//	            arp_ignore=1, arp_announce=2, default via 10.77.0.1
//
// The VIP is on no subnet: the router reaches it only through the
// directors' announcements.
//
// Dual-stack (ScaleConfig.IPv6) adds 2001:db8:78::/64 for the client
// side (::1 the router, ::10 the client), 2001:db8:77::/64 on br0 (::1
// the router, ::(1+K) director K, ::(10+I) real server I) and
// ScaleVIP6 on the real servers' lo; the directors announce its /128
// over their IPv4 sessions (MP-BGP), and BIRD installs it with one next
// hop per director (fib_multipath_hash_policy=3, the 5-tuple, for IPv6 too).

// The scale lab's addresses and AS numbers.
var (
	ScaleVIP        = netip.MustParseAddr("10.79.0.100")
	ScaleClientAddr = netip.MustParseAddr("10.78.0.10")
	ScaleRouterOut  = netip.MustParseAddr("10.78.0.1")
	ScaleRouterIn   = netip.MustParseAddr("10.77.0.1")

	ScaleVIP6        = netip.MustParseAddr("2001:db8:79::100")
	ScaleClientAddr6 = netip.MustParseAddr("2001:db8:78::10")
	ScaleRouterOut6  = netip.MustParseAddr("2001:db8:78::1")
	ScaleRouterIn6   = netip.MustParseAddr("2001:db8:77::1")
)

const (
	ScaleRouterAS   = 65000
	ScaleDirectorAS = 65001
	// ScaleDirectorIface is every director's interface.
	ScaleDirectorIface = "d-eth0"
	// ScaleFloodPort is the UDP service of the packet-rate measurement
	// (the discard port: the real servers' kernels drop what arrives).
	ScaleFloodPort = 9
	// MaxScaleDirectors bounds ScaleConfig.Directors (addresses .2 to .9).
	MaxScaleDirectors = 8
)

// ScaleConfig says what ScaleUp builds.
type ScaleConfig struct {
	// Prefix starts every namespace name; "" means UniquePrefix().
	Prefix string
	// Directors is N, 1..MaxScaleDirectors; 0 means 3.
	Directors int
	// RealServers is 1..MaxRealServers; 0 means 3.
	RealServers int
	// HoldTime is the BGP hold time BIRD offers (the lower of the two
	// sides' wins); 0 means 3 s, BIRD's least.
	HoldTime time.Duration
	// Resilient makes the router's route to the VIP use a resilient
	// next-hop group (Linux 5.13+): BIRD exports into table
	// ScaleBIRDTable and the lab mirrors its next hops into the group
	// (ip nexthop ... type resilient), so that a director joining or
	// leaving moves only its own share of the flows. BIRD 2.0.12 cannot
	// install nexthop objects itself.
	Resilient bool
	// IPv6 makes the lab dual-stack: the directors also balance
	// ScaleVIP6 (DR) and announce its /128, BIRD installs it.
	IPv6 bool
	// BFD runs BFD between BIRD and every director (BIRD's protocol bfd,
	// `bfd on` in its sessions; bfd = true in the directors' peers).
	BFD    bool
	Logger *slog.Logger
}

// ScaleBIRDTable is the kernel table BIRD exports to with
// ScaleConfig.Resilient.
const ScaleBIRDTable = 100

// Scale is a built scale-out lab. Safe for concurrent use.
type Scale struct {
	Prefix    string
	Client    NS
	Router    NS
	Directors []NS
	DIPs      []netip.Addr
	RS        []NS
	RIPs      []netip.Addr
	HoldTime  time.Duration
	Resilient bool
	// DIPs6 and RIPs6 are the IPv6 addresses of a dual-stack lab.
	DIPs6 []netip.Addr
	RIPs6 []netip.Addr
	BFD   bool
	// Dir holds BIRD's configuration, socket and log.
	Dir string

	log        *slog.Logger
	mu         sync.Mutex
	bird       *exec.Cmd
	stopMirror context.CancelFunc // Resilient's mirror; nil when none
	mirrorDone chan struct{}
}

// Namespaces returns every namespace of the lab.
func (s *Scale) Namespaces() []NS {
	out := []NS{s.Router, s.Client}
	out = append(out, s.Directors...)
	return append(out, s.RS...)
}

// ScaleUp builds the scale-out lab and starts BIRD in its router; the
// directors are the caller's to start (ScaleDirectorConfig). On failure
// it deletes what it created.
func ScaleUp(ctx context.Context, cfg ScaleConfig) (*Scale, error) {
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("lab needs the iproute2 ip tool: %w", ErrNotSupported)
	}
	if _, err := exec.LookPath("bird"); err != nil {
		return nil, fmt.Errorf("the scale lab needs BIRD 2 (Debian's bird2, scripts/setup-host.sh): %w", ErrNotSupported)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = UniquePrefix()
	}
	if !ValidPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("lab prefix %q: want 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit", cfg.Prefix)
	}
	if cfg.Directors == 0 {
		cfg.Directors = 3
	}
	if cfg.RealServers == 0 {
		cfg.RealServers = 3
	}
	if cfg.HoldTime == 0 {
		cfg.HoldTime = 3 * time.Second
	}
	switch {
	case cfg.Directors < 1 || cfg.Directors > MaxScaleDirectors:
		return nil, fmt.Errorf("scale lab directors %d: want 1..%d", cfg.Directors, MaxScaleDirectors)
	case cfg.RealServers < 1 || cfg.RealServers > MaxRealServers:
		return nil, fmt.Errorf("scale lab real servers %d: want 1..%d", cfg.RealServers, MaxRealServers)
	case cfg.HoldTime < 3*time.Second || cfg.HoldTime%time.Second != 0:
		return nil, fmt.Errorf("scale lab hold time %v: want whole seconds, at least 3", cfg.HoldTime)
	}
	s := &Scale{Prefix: cfg.Prefix, Client: NS{cfg.Prefix + "-client"}, Router: NS{cfg.Prefix + "-router"},
		HoldTime: cfg.HoldTime, Resilient: cfg.Resilient, BFD: cfg.BFD, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for k := 1; k <= cfg.Directors; k++ {
		s.Directors = append(s.Directors, NS{fmt.Sprintf("%s-d%d", cfg.Prefix, k)})
		s.DIPs = append(s.DIPs, netip.AddrFrom4([4]byte{10, 77, 0, byte(1 + k)}))
		if cfg.IPv6 {
			s.DIPs6 = append(s.DIPs6, addr6(ScaleRouterIn6, 1+k))
		}
	}
	for i := 1; i <= cfg.RealServers; i++ {
		s.RS = append(s.RS, NS{fmt.Sprintf("%s-rs%d", cfg.Prefix, i)})
		s.RIPs = append(s.RIPs, netip.AddrFrom4([4]byte{10, 77, 0, byte(10 + i)}))
		if cfg.IPv6 {
			s.RIPs6 = append(s.RIPs6, addr6(ScaleRouterIn6, 10+i))
		}
	}
	b := &builder{ctx: ctx}
	err := s.build(b)
	if err == nil {
		err = s.startBIRD(ctx)
	}
	if err == nil && s.Resilient {
		s.startMirror()
	}
	if err != nil {
		if derr := deleteNamespaces(b.created); derr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", derr))
		}
		if s.Dir != "" {
			os.RemoveAll(s.Dir)
		}
		return nil, fmt.Errorf("scale lab %s up: %w", s.Prefix, err)
	}
	s.log.Info("scale lab up", "prefix", s.Prefix, "directors", len(s.Directors), "real_servers", len(s.RS))
	return s, nil
}

func (s *Scale) build(b *builder) error {
	for _, n := range s.Namespaces() {
		if err := b.ip("netns", "add", n.Name); err != nil {
			return err
		}
		b.created = append(b.created, n)
		if err := b.ip("-n", n.Name, "link", "set", "lo", "up"); err != nil {
			return err
		}
		if s.IPv6() {
			// As the dual-stack lab (lab.go): addresses usable at
			// once, no router advertisements taken.
			if err := n.setSysctls(required,
				"net/ipv6/conf/all/disable_ipv6", "0", "net/ipv6/conf/default/disable_ipv6", "0",
				"net/ipv6/conf/all/accept_dad", "0", "net/ipv6/conf/default/accept_dad", "0",
				"net/ipv6/conf/all/accept_ra", "0", "net/ipv6/conf/default/accept_ra", "0"); err != nil {
				return err
			}
		} else if err := n.setSysctls(optional, "net/ipv6/conf/all/disable_ipv6", "1", "net/ipv6/conf/default/disable_ipv6", "1"); err != nil {
			return err
		}
	}
	if s.IPv6() {
		if err := s.Router.setSysctls(required, "net/ipv6/conf/all/forwarding", "1",
			"net/ipv6/fib_multipath_hash_policy", "3", "net/ipv6/fib_multipath_hash_fields", "0x0037"); err != nil {
			return err
		}
	}
	r := s.Router.Name
	if err := s.Router.setSysctls(optional, "net/bridge/bridge-nf-call-iptables", "0", "net/bridge/bridge-nf-call-arptables", "0"); err != nil {
		return err
	}
	if err := s.Router.setSysctls(required,
		"net/ipv4/ip_forward", "1",
		// The 5-tuple hash of a hardware router (policy 3, fields
		// 0x37: addresses, protocol, ports), not policy 1: policy 1
		// takes the packet's own hash when it has one (skb->l4_hash,
		// fib_multipath_hash in net/ipv4/route.c), and a packet
		// from the client's socket carries across the veth the
		// socket's random hash, which TCP changes on a timeout or a
		// duplicate segment (sk_rethink_txhash): flows would move
		// between directors with no route change, and `ip route get`
		// could not tell where a flow goes.
		"net/ipv4/fib_multipath_hash_policy", "3",
		"net/ipv4/fib_multipath_hash_fields", "0x0037",
		"net/ipv4/conf/all/rp_filter", "0",
		"net/ipv4/conf/default/rp_filter", "0",
		"net/ipv4/conf/all/send_redirects", "0",
		"net/ipv4/conf/default/send_redirects", "0"); err != nil {
		return err
	}
	steps := [][]string{
		{"-n", r, "link", "add", "br0", "type", "bridge"},
		{"-n", r, "addr", "add", netip.PrefixFrom(ScaleRouterIn, prefixBits).String(), "dev", "br0"},
		{"-n", r, "link", "set", "br0", "up"},
		{"-n", r, "link", "add", "r-c0", "type", "veth", "peer", "name", "c-eth0", "netns", s.Client.Name},
		{"-n", r, "addr", "add", netip.PrefixFrom(ScaleRouterOut, prefixBits).String(), "dev", "r-c0"},
		{"-n", r, "link", "set", "r-c0", "up"},
		{"-n", s.Client.Name, "addr", "add", netip.PrefixFrom(ScaleClientAddr, prefixBits).String(), "dev", "c-eth0"},
		{"-n", s.Client.Name, "link", "set", "c-eth0", "up"},
		{"-n", s.Client.Name, "route", "add", "default", "via", ScaleRouterOut.String()},
	}
	if s.IPv6() {
		steps = append(steps,
			[]string{"-n", r, "-6", "addr", "add", netip.PrefixFrom(ScaleRouterIn6, 64).String(), "dev", "br0", "nodad"},
			[]string{"-n", r, "-6", "addr", "add", netip.PrefixFrom(ScaleRouterOut6, 64).String(), "dev", "r-c0", "nodad"},
			[]string{"-n", s.Client.Name, "-6", "addr", "add", netip.PrefixFrom(ScaleClientAddr6, 64).String(), "dev", "c-eth0", "nodad"},
			[]string{"-n", s.Client.Name, "-6", "route", "add", "default", "via", ScaleRouterOut6.String()})
	}
	for _, st := range steps {
		if err := b.ip(st...); err != nil {
			return err
		}
	}
	for k, d := range s.Directors {
		if err := d.setSysctls(required, "net/ipv4/ip_forward", "0",
			"net/ipv4/conf/all/send_redirects", "0", "net/ipv4/conf/default/send_redirects", "0"); err != nil {
			return err
		}
		if err := s.attach(b, d, fmt.Sprintf("br-d%d", k+1), ScaleDirectorIface, s.DIPs[k]); err != nil {
			return err
		}
		if s.IPv6() {
			if err := d.setSysctls(required, "net/ipv6/conf/all/forwarding", "0"); err != nil {
				return err
			}
			if err := b.ip("-n", d.Name, "-6", "addr", "add", netip.PrefixFrom(s.DIPs6[k], 64).String(), "dev", ScaleDirectorIface, "nodad"); err != nil {
				return err
			}
		}
	}
	for i, rs := range s.RS {
		if err := rs.setSysctls(required,
			"net/ipv4/conf/all/arp_ignore", "1", "net/ipv4/conf/all/arp_announce", "2",
			"net/ipv4/conf/lo/arp_ignore", "1", "net/ipv4/conf/lo/arp_announce", "2"); err != nil {
			return err
		}
		if err := s.attach(b, rs, fmt.Sprintf("br-r%d", i+1), RSIface(i), s.RIPs[i]); err != nil {
			return err
		}
		for _, st := range [][]string{
			{"-n", rs.Name, "addr", "add", netip.PrefixFrom(ScaleVIP, 32).String(), "dev", "lo"},
			{"-n", rs.Name, "route", "add", "default", "via", ScaleRouterIn.String()},
		} {
			if err := b.ip(st...); err != nil {
				return err
			}
		}
		if !s.IPv6() {
			continue
		}
		// Linux answers a neighbour solicitation only for an address
		// of the interface it arrives on: VIP6 on lo stays quiet.
		for _, st := range [][]string{
			{"-n", rs.Name, "-6", "addr", "add", netip.PrefixFrom(s.RIPs6[i], 64).String(), "dev", RSIface(i), "nodad"},
			{"-n", rs.Name, "-6", "addr", "add", netip.PrefixFrom(ScaleVIP6, 128).String(), "dev", "lo"},
			{"-n", rs.Name, "-6", "route", "add", "default", "via", ScaleRouterIn6.String()},
		} {
			if err := b.ip(st...); err != nil {
				return err
			}
		}
	}
	return nil
}

// IPv6 says whether the lab is dual-stack.
func (s *Scale) IPv6() bool { return len(s.DIPs6) > 0 }

// addr6 is base with its last byte set to n.
func addr6(base netip.Addr, n int) netip.Addr {
	b := base.As16()
	b[15] = byte(n)
	return netip.AddrFrom16(b)
}

// attach joins node n to the router's br0 with a veth pair: swname on the
// router's side, ifname with addr on n's.
func (s *Scale) attach(b *builder, n NS, swname, ifname string, addr netip.Addr) error {
	r := s.Router.Name
	for _, st := range [][]string{
		{"-n", r, "link", "add", swname, "type", "veth", "peer", "name", ifname, "netns", n.Name},
		{"-n", r, "link", "set", swname, "master", "br0", "up"},
		{"-n", n.Name, "addr", "add", netip.PrefixFrom(addr, prefixBits).String(), "dev", ifname},
		{"-n", n.Name, "link", "set", ifname, "up"},
	} {
		if err := b.ip(st...); err != nil {
			return err
		}
	}
	return nil
}

// BIRDConfig returns the router's bird.conf: a passive eBGP session per
// director, whose routes go to the kernel's main table, equal ones merged
// into one multipath route.
func (s *Scale) BIRDConfig() string {
	kernelTable := ""
	if s.Resilient {
		kernelTable = fmt.Sprintf("\n\tkernel table %d;\t# mirrored into a resilient next-hop group", ScaleBIRDTable)
	}
	kernel6, channel6, bfdProto, bfdOn := "", "", "", ""
	if s.IPv6() {
		kernel6 = `
# The same for the IPv6 routes (the directors' /128s, learned over the
# IPv4 sessions with an IPv6 next hop on br0).
protocol kernel {
	merge paths on;
	ipv6 {
		import none;
		export all;
	};
}
`
		channel6 = `
	ipv6 {
		import all;
		export none;
	};`
	}
	if s.BFD {
		bfdProto = `
# BFD with every director (single hop, RFC 5881): a director that stops
# answering is down in about a second, well before the hold time.
protocol bfd {
	interface "br0" {
		min rx interval 100 ms;
		min tx interval 100 ms;
		multiplier 3;
	};
}
`
		bfdOn = "\n\tbfd on;"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# BIRD 2 of the ulvs scale lab %s (router namespace %s).
log "%s" all;
router id %v;

protocol device {
}

# ECMP: the routes to the VIP from every director with an equal path are
# merged into one multipath route of the kernel's main table.
protocol kernel {
	merge paths on;%s
	ipv4 {
		import none;
		export all;
	};
}
%s%s
template bgp director {
	local %v as %d;
	passive on;%s
	# After an error (a hold timer expiry), accept the director again
	# within a second instead of BIRD's default 60 s or more.
	error wait time 1, 5;
	hold time %d;
	keepalive time %d;
	ipv4 {
		import all;
		export none;
	};%s
}
`, s.Prefix, s.Router.Name, filepath.Join(s.Dir, "bird.log"), ScaleRouterIn, kernelTable, kernel6, bfdProto, ScaleRouterIn, ScaleRouterAS, bfdOn,
		s.HoldTime/time.Second, max(1, s.HoldTime/time.Second/3), channel6)
	for k, dip := range s.DIPs {
		fmt.Fprintf(&b, "\nprotocol bgp d%d from director {\n\tneighbor %v as %d;\n}\n", k+1, dip, ScaleDirectorAS)
	}
	if s.IPv6() {
		// IPv6 sessions too, for directors that add the router's IPv6
		// address as a peer (the lab's directors peer over IPv4 only).
		fmt.Fprintf(&b, `
template bgp director6 {
	local %v as %d;
	passive on;
	error wait time 1, 5;
	hold time %d;
	keepalive time %d;%s
	ipv6 {
		import all;
		export none;
	};
}
`, ScaleRouterIn6, ScaleRouterAS, s.HoldTime/time.Second, max(1, s.HoldTime/time.Second/3), bfdOn)
		for k, dip := range s.DIPs6 {
			fmt.Fprintf(&b, "\nprotocol bgp d%dv6 from director6 {\n\tneighbor %v as %d;\n}\n", k+1, dip, ScaleDirectorAS)
		}
	}
	return b.String()
}

// BIRDSocket is the control socket of the router's BIRD (birdc -s).
func (s *Scale) BIRDSocket() string { return filepath.Join(s.Dir, "bird.ctl") }

func (s *Scale) startBIRD(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "ulvs-scale-"+s.Prefix+"-")
	if err != nil {
		return err
	}
	s.Dir = dir
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(s.BIRDConfig()), 0o644); err != nil {
		return err
	}
	// -f: in the foreground, so that this process owns it and stops it
	// by its pid; its own socket and pid file, never the system's.
	cmd := exec.Command("ip", "netns", "exec", s.Router.Name, "bird", "-f", "-c", conf,
		"-s", s.BIRDSocket(), "-P", filepath.Join(dir, "bird.pid"))
	out, err := os.Create(filepath.Join(dir, "bird.out"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start bird: %w", err)
	}
	out.Close()
	s.mu.Lock()
	s.bird = cmd
	s.mu.Unlock()
	// Ready when its socket answers.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := s.Birdc(ctx, "show", "status"); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "bird.out"))
			return fmt.Errorf("bird did not start: %v: %s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Birdc runs a birdc command against the router's BIRD.
func (s *Scale) Birdc(ctx context.Context, args ...string) ([]byte, error) {
	return runCmd(ctx, "birdc", append([]string{"-s", s.BIRDSocket()}, args...)...)
}

// Nexthops returns the next hops of the router's kernel route to the VIP,
// as `ip route` shows them (none when there is no route).
func (s *Scale) Nexthops(ctx context.Context) ([]netip.Addr, error) {
	return s.nexthopsIn(ctx, "main")
}

// Nexthops6 is Nexthops for ScaleVIP6's /128 (a dual-stack lab).
func (s *Scale) Nexthops6(ctx context.Context) ([]netip.Addr, error) {
	return s.nexthopsFor(ctx, "-6", "main", netip.PrefixFrom(ScaleVIP6, 128))
}

func (s *Scale) nexthopsIn(ctx context.Context, table string) ([]netip.Addr, error) {
	return s.nexthopsFor(ctx, "-4", table, netip.PrefixFrom(ScaleVIP, 32))
}

func (s *Scale) nexthopsFor(ctx context.Context, family, table string, p netip.Prefix) ([]netip.Addr, error) {
	out, err := s.Router.Run(ctx, "ip", family, "route", "show", "table", table, p.String())
	if err != nil {
		return nil, err
	}
	var hops []netip.Addr
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "via" {
			if a, err := netip.ParseAddr(f[i+1]); err == nil {
				hops = append(hops, a)
			}
		}
	}
	return hops, nil
}

// ScaleDirectorConfig returns the ulvs.toml of director k (0-based): DR
// over every real server with the mh scheduler hashing the source port
// too (mh-port), sloppy_tcp so that a flow moved here by the router
// continues, and [bgp] towards the router (unless o.BGPFlags: then
// ScaleBGPFlags are ulvsd's flags for the same).
func (s *Scale) ScaleDirectorConfig(k int, o ScaleDirectorOptions) string {
	socket, scheduler, noSloppy := o.Socket, o.Scheduler, o.NoSloppyTCP
	if scheduler == "" {
		scheduler = "mh"
	}
	flags := ""
	if scheduler == "mh" {
		flags = `sched_flags = ["mh-port"]` + "\n"
	} else if scheduler == "sh" {
		flags = `sched_flags = ["sh-port"]` + "\n"
	}
	sloppy := 1
	if noSloppy {
		sloppy = 0
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# ulvs scale lab %s, director d%d.
[director]
interfaces = [%q]
socket = %q
workers = 1

[sysctl]
# A flow the router moves here after an ECMP change arrives without SYN:
# pick its real server by hash (mh gives the same answer on every
# director) instead of dropping it.
sloppy_tcp = %d
`, s.Prefix, k+1, ScaleDirectorIface, socket, sloppy)
	if !o.BGPFlags {
		warmup := ""
		if o.Warmup > 0 {
			warmup = fmt.Sprintf("warmup = %v\n", o.Warmup.Seconds())
		}
		fmt.Fprintf(&b, `
[bgp]
local_as = %d
router_id = %q
hold_time = %d
shutdown_delay = 1
%s
[[bgp.peer]]
address = %q
as = %d
`, ScaleDirectorAS, s.DIPs[k].String(), s.HoldTime/time.Second, warmup, ScaleRouterIn.String(), ScaleRouterAS)
		if s.BFD {
			b.WriteString("bfd = true\n")
		}
	}
	fmt.Fprintf(&b, `
[[virtual_server]]
protocol = "tcp"
address = "%v:%d"
scheduler = %q
%sforward = "dr"
`, ScaleVIP, ServerPort, scheduler, flags)
	for _, rip := range s.RIPs {
		fmt.Fprintf(&b, "\n  [[virtual_server.real_server]]\n  address = \"%v:%d\"\n  weight = 1\n", rip, ServerPort)
	}
	if s.IPv6() {
		fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"%v\"\nscheduler = %q\n%sforward = \"dr\"\n",
			netip.AddrPortFrom(ScaleVIP6, ServerPort), scheduler, flags)
		for _, rip := range s.RIPs6 {
			fmt.Fprintf(&b, "\n  [[virtual_server.real_server]]\n  address = \"%v\"\n  weight = 1\n", netip.AddrPortFrom(rip, ServerPort))
		}
	}
	// UDP to the discard port: the packet-rate measurement's flood.
	fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"udp\"\naddress = \"%v:%d\"\nscheduler = %q\n%sforward = \"dr\"\n",
		ScaleVIP, ScaleFloodPort, scheduler, flags)
	for _, rip := range s.RIPs {
		fmt.Fprintf(&b, "\n  [[virtual_server.real_server]]\n  address = \"%v:%d\"\n  weight = 1\n", rip, ScaleFloodPort)
	}
	return b.String()
}

// ScaleDirectorOptions vary ScaleDirectorConfig.
type ScaleDirectorOptions struct {
	Socket string
	// Scheduler "" means mh; NoSloppyTCP turns sloppy_tcp off (both for
	// comparison runs: what breaks without them).
	Scheduler   string
	NoSloppyTCP bool
	// BGPFlags leaves [bgp] out of the file: ulvsd gets ScaleBGPFlags.
	BGPFlags bool
	// Warmup is [bgp] warmup (0: none).
	Warmup time.Duration
}

// ScaleBGPFlags are ulvsd's quick-start flags for director k's BGP, the
// same as the [bgp] table ScaleDirectorConfig writes.
func (s *Scale) ScaleBGPFlags(k int) []string {
	peer := fmt.Sprintf("%d@%v", ScaleRouterAS, ScaleRouterIn)
	if s.BFD {
		peer = "bfd:" + peer
	}
	return []string{"--bgp-as", strconv.Itoa(ScaleDirectorAS), "--bgp-router-id", s.DIPs[k].String(),
		"--bgp-peer", peer,
		"--bgp-hold-time", s.HoldTime.String(), "--bgp-shutdown-delay", "1s"}
}

// Down stops BIRD and deletes the namespaces and BIRD's directory. The
// directors must be stopped first (a process in a namespace keeps it).
func (s *Scale) Down() error {
	s.mu.Lock()
	cmd := s.bird
	s.bird = nil
	stopMirror, mirrorDone := s.stopMirror, s.mirrorDone
	s.stopMirror = nil
	s.mu.Unlock()
	if stopMirror != nil {
		stopMirror()
		<-mirrorDone
	}
	var errs []error
	if cmd != nil && cmd.Process != nil {
		// `ip netns exec` execs bird, so the pid is bird's own.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	ns := s.Namespaces()
	for i, j := 0, len(ns)-1; i < j; i, j = i+1, j-1 {
		ns[i], ns[j] = ns[j], ns[i]
	}
	if err := deleteNamespaces(ns); err != nil {
		errs = append(errs, err)
	}
	if s.Dir != "" {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("scale lab %s down: %w", s.Prefix, errors.Join(errs...))
	}
	s.log.Info("scale lab down", "prefix", s.Prefix)
	return nil
}

// StartServers runs the lab's HTTP servers (Serve) in each real server,
// named rs1..rsN, until ctx ends (on IPv6 too in a dual-stack lab). It
// returns once they listen.
func (s *Scale) StartServers(ctx context.Context) error {
	for i, rs := range s.RS {
		name := fmt.Sprintf("rs%d", i+1)
		if err := s.serve(ctx, rs, name, "4", netip.IPv4Unspecified()); err != nil {
			return err
		}
		if s.IPv6() {
			if err := s.serve(ctx, rs, name, "6", netip.IPv6Unspecified()); err != nil {
				return err
			}
		}
	}
	return nil
}

// serve runs Serve in rs on unspec's ServerPort, TCP and UDP of family
// ("4" or "6").
func (s *Scale) serve(ctx context.Context, rs NS, name, family string, unspec netip.Addr) error {
	addr := netip.AddrPortFrom(unspec, ServerPort).String()
	ln, err := rs.Listen("tcp"+family, addr)
	if err != nil {
		return err
	}
	pc, err := rs.ListenPacket("udp"+family, addr)
	if err != nil {
		ln.Close()
		return err
	}
	go func() {
		if err := Serve(ctx, name, ln, pc); err != nil && ctx.Err() == nil {
			s.log.Error("scale lab server stopped", "server", name, "err", err)
		}
	}()
	return nil
}

// startMirror keeps the main table's route to the VIP on a resilient
// next-hop group holding the next hops of BIRD's route in table
// ScaleBIRDTable, until Down.
func (s *Scale) startMirror() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.mu.Lock()
	s.stopMirror, s.mirrorDone = cancel, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		var have []netip.Addr
		for sleep(ctx, 10*time.Millisecond) {
			want, err := s.nexthopsIn(ctx, strconv.Itoa(ScaleBIRDTable))
			if err != nil || slices.Equal(want, have) {
				continue
			}
			if err := s.mirror(ctx, want); err != nil {
				s.log.Error("scale lab: resilient group", "err", err)
				continue
			}
			have = want
		}
	}()
}

// mirror makes the VIP's route use a resilient group of hops (nexthop
// ids 10+last octet, group id 1): replacing the group keeps the buckets
// of the hops that stay.
func (s *Scale) mirror(ctx context.Context, hops []netip.Addr) error {
	r := s.Router
	if len(hops) == 0 {
		_, err := r.Run(ctx, "ip", "route", "del", netip.PrefixFrom(ScaleVIP, 32).String())
		r.Run(ctx, "ip", "nexthop", "del", "id", "1")
		return err
	}
	var ids []string
	for _, h := range hops {
		id := strconv.Itoa(10 + int(h.As4()[3]))
		if _, err := r.Run(ctx, "ip", "nexthop", "replace", "id", id, "via", h.String(), "dev", "br0"); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if _, err := r.Run(ctx, "ip", "nexthop", "replace", "id", "1", "group", strings.Join(ids, "/"),
		"type", "resilient", "buckets", "128", "idle_timer", "0", "unbalanced_timer", "1"); err != nil {
		return err
	}
	_, err := r.Run(ctx, "ip", "route", "replace", netip.PrefixFrom(ScaleVIP, 32).String(), "nhid", "1")
	return err
}
