package adm

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/vs"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fakeDirector is an in-process daemon: config.Rules plus counters the test
// sets per dest address.
type fakeDirector struct {
	mu       sync.Mutex
	rules    config.Rules
	timeouts config.Timeouts
	dest     map[netip.Addr]ctl.DestStatus // counters by dest address
	svcStats ctl.Stats
	conns    []ctl.ConnStatus
	own      string   // the daemon's config file for --save-config; "" like ulvsd -i
	saved    []string // files --save-config wrote
	daemons  []ctl.DaemonStatus
}

// daemon starts or stops a fake sync daemon with the kernel's checks and
// defaults (ip_vs_ctl.c, ip_vs_sync.c).
func (d *fakeDirector) daemon(c config.Command) error {
	i := slices.IndexFunc(d.daemons, func(s ctl.DaemonStatus) bool { return s.State == c.Daemon.State })
	if c.Op == config.OpStopDaemon {
		if i < 0 {
			return config.ErrNoDaemon
		}
		d.daemons = slices.Delete(d.daemons, i, i+1)
		return nil
	}
	if i >= 0 {
		return config.ErrDaemonRunning
	}
	o := c.Daemon
	st := ctl.DaemonStatus{State: o.State, Interface: o.McastIfn, SyncID: o.SyncID, MaxLen: int(o.SyncMaxLen),
		Group: o.McastGroup, Port: o.McastPort, TTL: o.McastTTL}
	if st.MaxLen == 0 {
		st.MaxLen = 1472
	}
	if !st.Group.IsValid() {
		st.Group = netip.MustParseAddr("224.0.0.81")
	}
	st.Port = cmp.Or(st.Port, 8848)
	st.TTL = cmp.Or(st.TTL, 1)
	d.daemons = append(d.daemons, st)
	slices.SortFunc(d.daemons, func(a, b ctl.DaemonStatus) int { return strings.Compare(b.State, a.State) })
	return nil
}

func (d *fakeDirector) SaveConfig(path string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if path == "" {
		path = d.own
	}
	if path == "" {
		return "", ctl.ErrNoConfigFile
	}
	d.saved = append(d.saved, path)
	return path, nil
}

func (d *fakeDirector) Apply(c config.Command) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch c.Op {
	case config.OpSetTimeout:
		if c.Timeouts.TCP != 0 {
			d.timeouts.TCP = c.Timeouts.TCP
		}
		if c.Timeouts.TCPFin != 0 {
			d.timeouts.TCPFin = c.Timeouts.TCPFin
		}
		if c.Timeouts.UDP != 0 {
			d.timeouts.UDP = c.Timeouts.UDP
		}
		return nil
	case config.OpStartDaemon, config.OpStopDaemon:
		return d.daemon(c)
	case config.OpZero:
		if err := d.rules.Apply(c); err != nil {
			return err
		}
		d.svcStats = ctl.Stats{}
		for a, ds := range d.dest {
			ds.Stats = ctl.Stats{}
			d.dest[a] = ds
		}
		return nil
	}
	return d.rules.Apply(c)
}

func (d *fakeDirector) Snapshot() ctl.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := ctl.Snapshot{Timeouts: d.timeouts, Daemons: d.daemons}
	for _, svc := range d.rules.Services {
		ss := ctl.ServiceStatus{Service: svc, Stats: d.svcStats}
		ss.Service.Dests = nil
		for _, dst := range svc.Dests {
			ds := d.dest[dst.Addr]
			ds.Dest = dst
			ss.Dests = append(ss.Dests, ds)
		}
		s.Services = append(s.Services, ss)
	}
	return s
}

func (d *fakeDirector) Conns() []ctl.ConnStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns
}

// fakeNames stands in for DNS and /etc/services.
type fakeNames struct{}

func (fakeNames) HostName(a netip.Addr) (string, bool) {
	switch a.String() {
	case "10.77.0.100":
		return "vip.lab.example", true
	case "10.77.0.11":
		return "rs1", true
	case "10.77.0.12":
		return "a-very-long-real-server-host-name.lab.example.org", true
	}
	return "", false
}

func (fakeNames) ServiceName(port uint16, p vs.Protocol) (string, bool) {
	switch {
	case port == 80 && p == vs.TCP:
		return "http", true
	case port == 53:
		return "domain", true
	}
	return "", false
}

type fakeResolver struct{}

func (fakeResolver) LookupHost(name string) (netip.Addr, bool) {
	if name == "rs1" {
		return netip.MustParseAddr("10.77.0.11"), true
	}
	return netip.Addr{}, false
}

func (fakeResolver) LookupService(name string, p vs.Protocol) (uint16, bool) {
	if name == "http" && p == vs.TCP {
		return 80, true
	}
	return 0, false
}

func startDaemon(t *testing.T, d *fakeDirector) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ulvsd.sock")
	ln, err := ctl.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Serve(ctx, ln, d, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock
}

type result struct {
	stdout, stderr string
	status         int
}

func runAdm(sock, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	p := &Program{
		Name:     "ulvsadm",
		Stdin:    strings.NewReader(stdin),
		Stdout:   &out,
		Stderr:   &errb,
		Getenv:   func(k string) string { return map[string]string{ctl.EnvSocket: sock}[k] },
		Resolver: fakeResolver{},
		Names:    fakeNames{},
	}
	st := p.Run(args)
	return result{out.String(), errb.String(), st}
}

// seedNAT, seedTUN, seedDR are the three setups of seed 002 (ipvsadm -ln
// listings of NAT, TUN and DR), with the counters its listings show.
var (
	seedNAT = []string{
		"-A -t 172.25.254.100:80 -s rr",
		"-a -t 172.25.254.100:80 -r 172.25.7.3:80 -m",
		"-a -t 172.25.254.100:80 -r 172.25.7.4:80 -m",
	}
	seedTUN = []string{
		"-A -t 172.25.7.100:80 -s rr",
		"-a -t 172.25.7.100:80 -r 172.25.7.3:80 -i",
		"-a -t 172.25.7.100:80 -r 172.25.7.4:80 -i",
	}
	// daemons start both sync daemons as the oracle transcript does.
	daemons = []string{
		"--start-daemon backup --mcast-interface sync0 --syncid 7",
		"--start-daemon master --mcast-interface sync0 --syncid 7",
	}
	seedDR = []string{
		"-A -t 172.25.7.200:80 -s rr",
		"-a -t 172.25.7.200:80 -r 172.25.7.3:80 -g",
		"-a -t 172.25.7.200:80 -r 172.25.7.4:80 -g",
	}
	lab = []string{
		"-A -t 10.77.0.100:80 -s wrr -p 60 -M 255.255.255.0",
		"-a -t 10.77.0.100:80 -r 10.77.0.12:80 -g -w 2",
		"-a -t 10.77.0.100:80 -r 10.77.0.11:80 -g -w 1 -x 100 -y 10",
		"-A -u 10.77.0.100:53 -s sh -b sh-port",
		"-a -u 10.77.0.100:53 -r 10.77.0.11:5353 -m",
		"-A -t 10.77.0.9:443 -s lc",
		"-a -t 10.77.0.9:443 -r 10.77.1.5 -i -w 0",
		"-A -f 7 -s wlc -p",
		"-a -f 7 -r 10.77.0.11 -g",
		"-A -t 200.1.1.1:80 -s rr",
		"-A -u 10.77.0.100:1000 -s rr -o",
	}
	// v6lab is an IPv6 lab: DR and NAT66 services, a persistent one
	// with a /64 granularity, an address long enough to pass ipvsadm's
	// IPv4 column widths.
	v6lab = []string{
		"-A -t [2001:db8::100]:80 -s wrr",
		"-a -t [2001:db8::100]:80 -r [2001:db8::1]:80 -g -w 2",
		"-a -t [2001:db8::100]:80 -r [2001:db8::2]:8080 -m -w 1 -x 100 -y 10",
		"-A -u [2001:db8::100]:53 -s sh -p 300 -M 64",
		"-a -u [2001:db8::100]:53 -r [2001:db8:0:1::22]:5353 -m",
		"-A -t [2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:443 -s lc",
		"-a -t [2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:443 -r [2001:db8:aaaa:bbbb:cccc:dddd:eeee:1]:443 -g",
		"-A -t 10.77.0.100:80 -s rr",
	}
	// v6tun is IPv6 tunnelling: ip6ip6, IPv6 in IPv4 and IPv4 in IPv6.
	v6tun = []string{
		"-A -t [2001:db8::100]:80 -s rr",
		"-a -t [2001:db8::100]:80 -r [2001:db8::1]:80 -i",
		"-a -t [2001:db8::100]:80 -r 10.77.0.11:80 -i -w 2",
		"-A -t 10.77.0.100:80 -s wlc",
		"-a -t 10.77.0.100:80 -r [2001:db8:aaaa:bbbb:cccc:dddd:eeee:1]:80 -i",
		"-a -t 10.77.0.100:80 -r 10.77.0.12:80 -i",
	}
	// v6fwm are IPv4 and IPv6 firewall-mark services sharing mark 5 (the
	// kernel keys them by address family and mark), mark 3 IPv6 only,
	// and an IPv6 address service: DR, NAT66, ip6ip6 and IPv4 in IPv6.
	v6fwm = []string{
		"-A -f 5 -6 -s rr -p 300 -M 64",
		"-a -f 5 -6 -r [2001:db8::11]:80 -g",
		"-a -f 5 -6 -r [2001:db8::12]:8080 -m -w 2",
		"-a -f 5 -6 -r [2001:db8:aaaa:bbbb:cccc:dddd:eeee:1]:0 -i",
		"-a -f 5 -6 -r 10.77.0.13:80 -i",
		"-A -f 5 -s wlc",
		"-a -f 5 -r 10.77.0.11:80 -g",
		"-A -f 3 -6 -s sh -p 60",
		"-a -f 3 -6 -r [2001:db8::11]:0 -g",
		"-A -t [2001:db8::100]:80 -s rr",
	}
)

func counters(active, inact int32) ctl.DestStatus {
	return ctl.DestStatus{ActiveConns: active, InactConns: inact}
}

func TestGolden(t *testing.T) {
	bigStats := ctl.Stats{Conns: 1234, InPkts: 123456789, OutPkts: 99999999, InBytes: 12345678901, OutBytes: 123456789012345,
		CPS: 5, InPPS: 1000, OutPPS: 900, InBPS: 1234567890, OutBPS: 98765}
	// conn is one connection of the lab's VIP 10.77.0.100:80 from the
	// client 10.77.0.10; proto 0 is a persistence template.
	conn := func(proto vs.Protocol, clientPort uint16, rs, state string, expires uint32) ctl.ConnStatus {
		return ctl.ConnStatus{Proto: proto, Client: netip.AddrPortFrom(netip.MustParseAddr("10.77.0.10"), clientPort),
			Virtual: netip.MustParseAddrPort("10.77.0.100:80"), Dest: netip.MustParseAddrPort(rs + ":80"), State: state, Expires: expires}
	}
	conn6 := func(proto vs.Protocol, clientPort uint16, rs, state string, expires uint32) ctl.ConnStatus {
		return ctl.ConnStatus{Proto: proto, Client: netip.AddrPortFrom(netip.MustParseAddr("2001:db8:ffff::10"), clientPort),
			Virtual: netip.MustParseAddrPort("[2001:db8::100]:80"), Dest: netip.AddrPortFrom(netip.MustParseAddr(rs), 80), State: state, Expires: expires}
	}
	tests := []struct {
		name    string
		setup   []string
		dests   map[string]ctl.DestStatus
		stats   ctl.Stats
		conns   []ctl.ConnStatus
		stdin   string
		args    string
		noSock  bool
		envSock bool
	}{
		{name: "seed002-nat", setup: seedNAT, args: "-ln"},
		{name: "seed002-nat-counters", setup: seedNAT, args: "-ln",
			dests: map[string]ctl.DestStatus{"172.25.7.3": counters(0, 3), "172.25.7.4": counters(0, 3)}},
		{name: "seed002-tun", setup: seedTUN, args: "-ln",
			dests: map[string]ctl.DestStatus{"172.25.7.3": counters(0, 15), "172.25.7.4": counters(0, 15)}},
		{name: "seed002-dr", setup: seedDR, args: "-ln",
			dests: map[string]ctl.DestStatus{"172.25.7.3": counters(0, 121), "172.25.7.4": counters(0, 122)}},
		{name: "list-empty", args: "-L -n"},
		{name: "no-arguments", setup: seedDR, args: ""},
		{name: "list-sorted", setup: lab, args: "-L -n",
			dests: map[string]ctl.DestStatus{"10.77.0.11": counters(3, 4), "10.77.0.12": counters(-1, 70000)}},
		{name: "list-nosort", setup: lab, args: "-L -n --nosort"},
		{name: "list-names", setup: lab, args: "-L"},
		{name: "list-one-service", setup: lab, args: "-L -n -t 10.77.0.100:80"},
		{name: "list-one-service-missing", setup: lab, args: "-L -n -t 10.77.0.100:81"},
		{name: "list-stats", setup: lab, args: "-L -n --stats", stats: bigStats,
			dests: map[string]ctl.DestStatus{"10.77.0.11": {Stats: bigStats}}},
		{name: "list-stats-exact", setup: lab, args: "-L -n --stats --exact", stats: bigStats,
			dests: map[string]ctl.DestStatus{"10.77.0.11": {Stats: bigStats}}},
		{name: "list-rate", setup: lab, args: "-L -n --rate", stats: bigStats,
			dests: map[string]ctl.DestStatus{"10.77.0.11": {Stats: bigStats}}},
		{name: "list-thresholds", setup: lab, args: "-L -n --thresholds"},
		{name: "list-persistent-conn", setup: lab, args: "-L -n --persistent-conn",
			dests: map[string]ctl.DestStatus{"10.77.0.11": {PersistConns: 5, ActiveConns: 1}}},
		{name: "list-tun-info", setup: lab, args: "-L -n --tun-info"},
		{name: "list-timeout", setup: []string{"--set 900 120 300", "--set 30 0 60"}, args: "-L --timeout"},
		{name: "list-daemon-none", args: "-L --daemon"},
		{name: "list-daemon", setup: daemons, args: "-L --daemon"},
		{name: "list-daemon-options", setup: []string{"--start-daemon backup --mcast-interface eth1 --syncid 9 --sync-maxlen 1400 --mcast-group 239.1.2.3 --mcast-port 9000 --mcast-ttl 3"},
			args: "-L -n --daemon"},
		{name: "stop-daemon", setup: daemons, args: "--stop-daemon master"},
		{name: "list-conns", args: "-L -n -c", conns: []ctl.ConnStatus{conn(vs.TCP, 40000, "10.77.0.11", "ESTABLISHED", 899),
			conn(vs.TCP, 40002, "10.77.0.12", "FIN_WAIT", 61), conn(0, 0, "10.77.0.11", "NONE", 6000)}},
		{name: "list-conns-names", args: "-L -c", conns: []ctl.ConnStatus{conn(vs.TCP, 40000, "10.77.0.11", "ESTABLISHED", 899)}},
		{name: "save-numeric", setup: lab, args: "-S -n"},
		{name: "save-names", setup: lab, args: "-S"},
		{name: "restore", stdin: "-A -t 10.77.0.100:80 -s rr\n\n-a -t 10.77.0.100:80 -r 10.77.0.11 -m -w 3\n" +
			"-e -t 10.77.0.100:80 -r rs1:http -m\nipvsadm -a -t 10.77.0.100:80 -r 10.77.0.12 -g\n-L -n\n", args: "-R"},
		{name: "err-restore-refused", stdin: "-A -t 10.77.0.100:80 -s rr\n\n-a -t 10.77.0.100:80 -r 10.77.0.11 -m -w 3\n" +
			"-a -t 10.77.0.100:80 -r 10.77.0.11 -m -w 3\n-a -t 10.77.0.100:80 -r rs1:http -m\n" +
			"ipvsadm -a -t 10.77.0.100:80 -r 10.77.0.12 -g\n", args: "-R"},
		{name: "restore-then-list", setup: []string{"-C"}, stdin: "-A -t 10.77.0.100:80 -s rr\n-L -n\n-a -t 10.77.0.100:80 -r 10.77.0.11 -w 2\n-L -n\n", args: "-R"},
		{name: "err-restore-bad-lines", setup: lab, stdin: "-C\n-A -t 10.77.0.100:80 -s rr\n-L -n\n-a -t 10.77.0.100:80 -r 10.77.0.11 -w bad\n" +
			"# a comment\n-a -t 10.77.0.100:80 -r 10.77.0.12 -g\r\n-R\n-A -t 10.77.0.101:80 -s fancy\n", args: "-R"},
		{name: "err-service-exists", setup: seedNAT, args: "-A -t 172.25.254.100:80 -s wlc"},
		{name: "err-service-not-defined", args: "-a -t 10.0.0.1:80 -r 10.0.0.2"},
		{name: "err-dest-exists", setup: seedNAT, args: "-a -t 172.25.254.100:80 -r 172.25.7.3:80 -m"},
		{name: "err-no-such-destination", setup: seedNAT, args: "-d -t 172.25.254.100:80 -r 172.25.7.9:80"},
		{name: "err-no-such-service", args: "-D -t 10.0.0.1:80"},
		{name: "err-edit-no-such-service", args: "-E -t 10.0.0.1:80 -s rr"},
		{name: "err-zero-no-such-service", args: "-Z -t 10.0.0.1:80"},
		{name: "err-scheduler", args: "-A -t 10.0.0.1:80 -s fancy"},
		{name: "err-range", setup: seedNAT, args: "-a -t 172.25.254.100:80 -r 172.25.7.9 -m -y 5"},
		{name: "err-not-unicast", setup: seedNAT, args: "-a -t 172.25.254.100:80 -r 224.0.0.1 -m"},
		{name: "ipv6-list", setup: v6lab, args: "-L -n"},
		{name: "ipv6-list-stats", setup: v6lab, args: "-L -n --stats", stats: bigStats},
		{name: "ipv6-list-rate", setup: v6lab, args: "-L -n --rate"},
		{name: "ipv6-list-thresholds", setup: v6lab, args: "-L -n --thresholds"},
		{name: "ipv6-list-persistent", setup: v6lab, args: "-L -n --persistent-conn"},
		{name: "ipv6-list-one", setup: v6lab, args: "-L -n -u [2001:db8::100]:53"},
		{name: "ipv6-save", setup: v6lab, args: "-S -n"},
		{name: "ipv6-json", setup: v6lab, args: "-L -n --json"},
		{name: "ipv6-conns", args: "-L -n -c", conns: []ctl.ConnStatus{conn6(vs.TCP, 40000, "2001:db8::1", "ESTABLISHED", 899),
			conn6(vs.UDP, 5353, "2001:db8:0:1::22", "UDP", 61)}},
		{name: "ipv6-restore", stdin: "-A -t [2001:db8::100]:80 -s sh -b sh-port\n-a -t [2001:db8::100]:80 -r [2001:db8::1]:80 -g -w 2\n" +
			"-A -u [2001:db8::100]:53 -s rr -p 60 -M 48\n-a -u [2001:db8::100]:53 -r [2001:db8::2]:5353 -m\n-S -n\n", args: "-R"},
		{name: "ipv6-edit-delete", setup: v6lab, args: "-d -t [2001:db8::100]:80 -r [2001:db8::2]:8080"},
		{name: "err-ipv6-netmask", args: "-A -t [2001:db8::1]:80 -p -M 129"},
		{name: "ipv6-fullnat-save", setup: []string{"-A -t [2001:db8::100]:80 -s rr --laddr 2001:db8:1::200,2001:db8:1::201",
			"-a -t [2001:db8::100]:80 -r [2001:db8:1::3]:8080 --fullnat", "-a -t [2001:db8::100]:80 -r [2001:db8:1::4]:8080 --fullnat -w 2"}, args: "-S -n"},
		{name: "ipv6-fullnat-list", setup: []string{"-A -t [2001:db8::100]:80 -s rr --laddr 2001:db8:1::200",
			"-a -t [2001:db8::100]:80 -r [2001:db8:1::3]:8080 --fullnat"}, args: "-L -n"},
		{name: "err-ipv6-laddr-nat64", args: "-A -t [2001:db8::100]:80 -s rr --laddr 10.0.1.200"},
		{name: "ipv6-tun", setup: v6lab, args: "-a -t [2001:db8::100]:80 -r [2001:db8::3]:80 -i"},
		{name: "ipv6-tun-list", setup: v6tun, args: "-L -n"},
		{name: "ipv6-tun-list-stats", setup: v6tun, args: "-L -n --stats"},
		{name: "ipv6-tun-save", setup: v6tun, args: "-S -n"},
		{name: "ipv6-tun-json", setup: v6tun, args: "-L -n --json"},
		{name: "ipv6-tun-info", setup: v6tun, args: "-L -n --tun-info"},
		{name: "ipv6-tun-conns", args: "-L -n -c", conns: []ctl.ConnStatus{
			{Proto: vs.TCP, Client: netip.MustParseAddrPort("10.77.0.10:40000"), Virtual: netip.MustParseAddrPort("10.77.0.100:80"),
				Dest: netip.MustParseAddrPort("[2001:db8:77::11]:80"), State: "ESTABLISHED", Expires: 899},
			{Proto: vs.TCP, Client: netip.MustParseAddrPort("[2001:db8:77::10]:40001"), Virtual: netip.MustParseAddrPort("[2001:db8:77::100]:80"),
				Dest: netip.MustParseAddrPort("10.77.0.12:80"), State: "FIN_WAIT", Expires: 101}}},
		{name: "ipv6-mixed-tun", setup: lab, args: "-a -t 10.77.0.100:80 -r [2001:db8::1]:80 -i"},
		{name: "err-ipv6-mixed-dr", setup: v6lab, args: "-a -t [2001:db8::100]:80 -r 10.77.0.11:80 -g"},
		{name: "err-ipv6-tun-gue", setup: v6lab, args: "-a -t [2001:db8::100]:80 -r [2001:db8::3]:80 -i --tun-type gue --tun-port 6080"},
		{name: "err-ipv6-mixed-nat", setup: lab, args: "-a -t 10.77.0.100:80 -r [2001:db8::1]:80 -m"},
		{name: "ipv6-fwmark-add", args: "-A -f 5 -6 -s rr -p 300 -M 64"},
		{name: "ipv6-fwmark-list", setup: v6fwm, args: "-L -n", stats: bigStats},
		{name: "ipv6-fwmark-list-stats", setup: v6fwm, args: "-L -n --stats", stats: bigStats},
		{name: "ipv6-fwmark-list-rate", setup: v6fwm, args: "-L -n --rate", stats: bigStats},
		{name: "ipv6-fwmark-list-one", setup: v6fwm, args: "-L -n -f 5 -6"},
		{name: "ipv6-fwmark-list-one-v4", setup: v6fwm, args: "-L -n -f 5"},
		{name: "ipv6-fwmark-save", setup: v6fwm, args: "-S -n"},
		{name: "ipv6-fwmark-json", setup: v6fwm, args: "-L -n --json"},
		{name: "ipv6-fwmark-restore", stdin: "-A -f 5 -6 -s rr\n-A -f 5 -s rr\n-a -f 5 -6 -r [2001:db8::11]:80 -g\n" +
			"-a -f 5 -r 10.77.0.11:80 -g\n-D -f 5\n-E -f 5 -6 -s wlc -p 60 -M 48\n-e -f 5 -6 -r [2001:db8::11]:80 -i -w 3\n-S -n\n-D -f 5 -6\n-L -n\n", args: "-R"},
		{name: "err-ipv6-fwmark-mixed-dr", setup: v6fwm, args: "-a -f 5 -6 -r 10.77.0.14:80 -g"},
		{name: "err-ipv6-fwmark-v4-dest", setup: v6fwm, args: "-a -f 5 -r [2001:db8::14]:80 -m"},
		{name: "err-ipv6-fwmark-exists", setup: v6fwm, args: "-A -f 5 -6 -s wlc"},
		{name: "ipv6-synproxy-save", setup: []string{"-A -t [2001:db8::1]:80 -s rr --synproxy", "-a -t [2001:db8::1]:80 -r [2001:db8::2]:8080 -m",
			"-A -t [2001:db8::1]:443 -s rr --laddr 2001:db8:1::200 --synproxy", "-a -t [2001:db8::1]:443 -r [2001:db8:1::3]:443 --fullnat"}, args: "-S -n"},
		{name: "err-ipv6-synproxy-dr", setup: []string{"-A -t [2001:db8::1]:80 -s rr --synproxy"}, args: "-a -t [2001:db8::1]:80 -r [2001:db8::2]:80 -g"},
		{name: "ipv6-ftp", setup: []string{"-A -t [2001:db8::1]:21 -s rr -p 300", "-a -t [2001:db8::1]:21 -r [2001:db8::11]:21 -g"}, args: "-L -n"},
		{name: "err-ipv6-laddr", args: "-A -t 10.0.0.1:80 -s rr --laddr 2001:db8::5"},
		{name: "err-stop-daemon", args: "--stop-daemon master"},
		{name: "err-weight", args: "-a -t 10.0.0.1:80 -r 10.0.0.2 -w 2147483648"},
		{name: "weight-int-max", setup: []string{"-A -t 10.0.0.1:80 -s wrr", "-a -t 10.0.0.1:80 -r 10.0.0.2 -w 2147483647",
			"-a -t 10.0.0.1:80 -r 10.0.0.3 -w 70000"}, args: "-S -n"},
		{name: "err-vip", args: "-A -t 10.0.0.1.5:80"},
		{name: "err-tryhelp", args: "-n -L"},
		{name: "err-unknown-option", args: "-L --bogus"},
		{name: "err-missing-argument", args: "-A -t"},
		{name: "err-option-check", args: "-A -t 10.0.0.1:80 -r 10.0.0.2"},
		{name: "synproxy-save", setup: []string{"-A -t 10.0.0.1:80 -s rr --synproxy", "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m",
			"-A -t 10.0.0.1:443 -s wlc --laddr 10.0.1.200 --synproxy", "-a -t 10.0.0.1:443 -r 10.0.0.3 --fullnat"}, args: "-S -n"},
		{name: "synproxy-list", setup: []string{"-A -t 10.0.0.1:80 -s rr --synproxy", "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m"}, args: "-L -n"},
		{name: "synproxy-restore", stdin: "-A -t 10.0.0.1:80 -s rr --synproxy\n-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m\n-S -n\n", args: "-R"},
		{name: "err-synproxy-dr", setup: []string{"-A -t 10.0.0.1:80 -s rr --synproxy"}, args: "-a -t 10.0.0.1:80 -r 10.0.0.2 -g"},
		{name: "err-synproxy-tun", setup: []string{"-A -t 10.0.0.1:80 -s rr --synproxy"}, args: "-a -t 10.0.0.1:80 -r 10.0.0.2 -i"},
		{name: "err-synproxy-edit", setup: []string{"-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.0.0.2 -g"},
			args: "-E -t 10.0.0.1:80 -s rr --synproxy"},
		{name: "err-synproxy-udp", args: "-A -u 10.0.0.1:53 -s rr --synproxy"},
		{name: "err-synproxy-dest-option", args: "-a -t 10.0.0.1:80 -r 10.0.0.2 -m --synproxy"},
		{name: "err-unexpected", args: "-L foo"},
		{name: "json-list", setup: lab, args: "-L -n --json", stats: bigStats,
			dests: map[string]ctl.DestStatus{"10.77.0.11": {Stats: bigStats, ActiveConns: 3, InactConns: 4, PersistConns: 1},
				"10.77.0.12": counters(-1, 70000)}},
		{name: "json-list-names-ignored", setup: seedDR, args: "--json -L --rate",
			dests: map[string]ctl.DestStatus{"172.25.7.3": counters(0, 121), "172.25.7.4": counters(0, 122)}},
		{name: "json-list-nosort", setup: seedDR, args: "-L -n --nosort --json"},
		{name: "json-list-one-service", setup: lab, args: "-L -n --json -t 10.77.0.100:80"},
		{name: "json-list-one-service-missing", setup: lab, args: "-L -n --json -t 10.77.0.100:81"},
		{name: "json-list-empty", args: "-L -n --json"},
		{name: "json-conns", args: "-L -n -c --json", conns: []ctl.ConnStatus{conn(vs.TCP, 40000, "10.77.0.11", "ESTABLISHED", 899),
			conn(0, 0, "10.77.0.11", "", 6000)}},
		{name: "json-conns-empty", args: "-L -c --json"},
		{name: "json-timeout", setup: []string{"--set 900 120 300"}, args: "-L --timeout --json"},
		{name: "json-daemon-none", args: "-L --daemon --json"},
		{name: "json-daemon", setup: daemons, args: "-L --daemon --json"},
		{name: "err-json-save", setup: seedDR, args: "-S --json"},
		{name: "err-json-edit", args: "--json -A -t 10.0.0.1:80"},
		{name: "save-config-no-file", args: "--save-config"},
		{name: "save-config-named", args: "--save-config /etc/ulvs/saved.toml"},
		{name: "err-save-config-extra", args: "--save-config -L"},
		{name: "help", args: "-h"},
		{name: "version", args: "--version"},
		{name: "err-start-daemon", setup: daemons, args: "--start-daemon master --mcast-interface sync0"},
		{name: "no-daemon", args: "-L -n", noSock: true},
		{name: "set-and-zero", setup: seedNAT, args: "-Z", stats: bigStats},
		{name: "clear-then-list", setup: append(append([]string{}, lab...), "-C"), args: "-Ln"},
		{name: "edit-service-and-dest", setup: append(append([]string{}, seedNAT...),
			"-E -t 172.25.254.100:80 -s wlc -p", "-e -t 172.25.254.100:80 -r 172.25.7.4:80 -m -w 5"), args: "-ln"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDirector{dest: map[netip.Addr]ctl.DestStatus{}, svcStats: tt.stats, conns: tt.conns}
			for a, s := range tt.dests {
				d.dest[netip.MustParseAddr(a)] = s
			}
			sock := startDaemon(t, d)
			for _, s := range tt.setup {
				if r := runAdm(sock, "", strings.Fields(s)...); r.status != 0 {
					t.Fatalf("setup %q: status %d, %q", s, r.status, r.stderr)
				}
			}
			if tt.noSock {
				sock = filepath.Join(t.TempDir(), "missing.sock")
			}
			r := runAdm(sock, tt.stdin, strings.Fields(tt.args)...)
			got := fmt.Sprintf("$ ulvsadm %s\n%s-- stderr --\n%s-- exit %d --\n", tt.args, r.stdout, r.stderr, r.status)
			got = strings.ReplaceAll(got, sock, "SOCKET")
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./adm -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n--- got ---\n%s--- want ---\n%s", golden, got, want)
			}
		})
	}
}

// TestSeedListings checks the seed 002 listings word by word: the seed's
// web page squeezed the spaces, so the goldens' column widths come from
// ipvsadm.c, and only the words are compared with the seed here.
func TestSeedListings(t *testing.T) {
	const head = "IP Virtual Server version 1.2.1 (size=4096) Prot LocalAddress:Port Scheduler Flags -> RemoteAddress:Port Forward Weight ActiveConn InActConn "
	seeds := map[string]string{
		"seed002-nat-counters": head + "TCP 172.25.254.100:80 rr -> 172.25.7.3:80 Masq 1 0 3 -> 172.25.7.4:80 Masq 1 0 3",
		"seed002-tun":          head + "TCP 172.25.7.100:80 rr -> 172.25.7.3:80 Tunnel 1 0 15 -> 172.25.7.4:80 Tunnel 1 0 15",
		"seed002-dr":           head + "TCP 172.25.7.200:80 rr -> 172.25.7.3:80 Route 1 0 121 -> 172.25.7.4:80 Route 1 0 122",
	}
	for name, seed := range seeds {
		golden, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		out := string(golden)
		out = out[strings.IndexByte(out, '\n')+1 : strings.Index(out, "-- stderr --")]
		if got, want := strings.Fields(out), strings.Fields(seed); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: words %q, seed has %q", name, got, want)
		}
	}
}

func TestSocketFlag(t *testing.T) {
	d := &fakeDirector{dest: map[netip.Addr]ctl.DestStatus{}}
	sock := startDaemon(t, d)
	var out, errb bytes.Buffer
	p := &Program{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "/nonexistent/ulvs.sock" }}
	if st := p.Run([]string{"-A", "--socket", sock, "-t", "10.0.0.1:80"}); st != 0 {
		t.Fatalf("--socket PATH: status %d, %s", st, errb.String())
	}
	if st := p.Run([]string{"--socket=" + sock, "-Ln"}); st != 0 || !strings.Contains(out.String(), "TCP  10.0.0.1:80 wlc") {
		t.Fatalf("--socket=PATH: status %d, %q %q", st, out.String(), errb.String())
	}
	errb.Reset()
	if st := p.Run([]string{"-Ln"}); st != exitFail || !strings.Contains(errb.String(), "/nonexistent/ulvs.sock") {
		t.Errorf("ULVS_SOCKET: status %d, %q", st, errb.String())
	}
	if st := p.Run([]string{"-Ln", "--socket"}); st != exitCommand {
		t.Errorf("--socket without a path: status %d", st)
	}
}

func TestMsortMatchesStableOrder(t *testing.T) {
	in := []int{5, 3, 9, 1, 3, 7, 0, 2, 8, 6, 4, 3}
	got := append([]int(nil), in...)
	msort(got, func(a, b *int) int { return *a - *b })
	for i := 1; i < len(got); i++ {
		if got[i-1] > got[i] {
			t.Fatalf("msort = %v, not sorted", got)
		}
	}
}

func TestCmpAddrWraps(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("200.0.0.1")
	// 0x0a000001 - 0xc8000001 wraps to a positive C int, so libipvs sorts
	// 200.0.0.1 first.
	if cmpAddr(a, b) <= 0 {
		t.Errorf("cmpAddr(%v, %v) = %d, want > 0 (C int wrap)", a, b, cmpAddr(a, b))
	}
	if cmpAddr(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")) >= 0 {
		t.Error("cmpAddr(10.0.0.1, 10.0.0.2) >= 0")
	}
}

func TestParseServices(t *testing.T) {
	m := parseServices(strings.NewReader("# comment\nhttp 80/tcp www # WorldWideWeb\nhttp 80/udp\nwww-alt 80/tcp\nbad line\n"))
	if got := m[servKey{"tcp", 80}]; got != "http" {
		t.Errorf("tcp/80 = %q, want http (first entry wins)", got)
	}
	if _, ok := m[servKey{"sctp", 80}]; ok {
		t.Error("sctp/80 found")
	}
}

func TestRefusedPeer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ulvsd.sock")
	ln, err := ctl.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &ctl.Server{Director: &fakeDirector{}, Authorize: func(uid uint32) error {
		return fmt.Errorf("%w: uid %d", ctl.ErrPermission, uid)
	}}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	r := runAdm(sock, "", "-L", "-n")
	want := "Can't initialize ipvs: Permission denied (you must be root)\n"
	if r.status != exitFail || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("refused peer: status %d, stderr %q, want %d and %q", r.status, r.stderr, exitFail, want)
	}
}
