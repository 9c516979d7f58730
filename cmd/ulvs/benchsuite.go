package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/bench"
	"github.com/ulvs/ulvs/lab"
)

// The packet-rate flood: UDP to this port, which every real server drops
// (and counts) at its interface's ingress, before any socket.
const (
	floodPort  = 9
	floodFlows = 256
	floodSport = 20000
)

// suiteOptions configure `ulvs bench` (the whole suite).
type suiteOptions struct {
	quick       bool
	rounds      int
	ppsDur      time.Duration
	httpDur     time.Duration
	methods     []string
	sizes       []int
	workers     int
	concurrency int
	latency     bool // the one-client keep-alive latency test
	http        bool
	jsonOut     bool
	svgPath     string
	offloadsOff bool
	command     string
	// ringFrames is ulvsd's --ring-frames (0: not given).
	ringFrames int
	// idlePoll is ulvsd's --idle-poll ("": not given).
	idlePoll string
	// blockRings is ulvsd's --block-rings ("": not given).
	blockRings string
	// profileDir, when set, receives a CPU profile of ulvsd per method
	// and packet-rate test, taken over the first round's window.
	profileDir string
}

// benchLab is one lab of the suite: a mode's lab with ulvsd running, or
// (ld nil) the baseline lab where the director's kernel forwards.
type benchLab struct {
	name      string
	l         *lab.Lab
	ld        *labDirector
	clientMAC net.HardwareAddr
	dirMAC    net.HardwareAddr
	rs1MAC    net.HardwareAddr
	// state is the baseline lab's nftables state: "" (plain forwarding),
	// "nft" (DNAT) or "drop" (ingress drop).
	state string
}

// suitePath is one way through a lab that the suite measures.
type suitePath struct {
	name   string
	bl     *benchLab
	dst    netip.Addr // flood destination
	dstMAC net.HardwareAddr
	url    string // "" for none (HTTP not measured)
	state  string // the baseline lab state it needs
	// baseline and target by test kind ("pps" for every frame size):
	// the path the ratio compares with and the ratio issue 14 asks for.
	baseline map[string]string
	target   map[string]float64
}

// suite runs the whole benchmark.
type suite struct {
	o      suiteOptions
	dir    string // temp dir: trafgen configurations
	labs   []*benchLab
	paths  []*suitePath
	rep    *bench.Report
	values map[string]*sample // "test path"
	log    io.Writer
}

// sample collects a row's per-round figures.
type sample struct {
	vals, offered, loss, p50, p99 []float64
	errs                          int
	// ulvsd's CPU in cores, and ulvsd's and the machine's CPU time
	// per operation in microseconds: per delivered packet in the
	// packet-rate tests, per request in the HTTP tests.
	dirCPU, perOp, boxPerOp []float64
}

func benchSuite(ctx context.Context, o suiteOptions, stdout, stderr io.Writer) (err error) {
	if err := needRoot(); err != nil {
		return err
	}
	if _, err := exec.LookPath("trafgen"); err != nil {
		return errors.New("trafgen (netsniff-ng) not found: scripts/setup-host.sh installs it")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return errors.New("nft (nftables) not found: scripts/setup-host.sh installs it")
	}
	s := &suite{o: o, values: map[string]*sample{}, log: stderr}
	s.rep = &bench.Report{
		Command: o.command, Date: time.Now().UTC(), Machine: machine(), Kernel: kernelRelease(),
		CPUs: runtime.NumCPU(), Workers: o.workers, Rounds: o.rounds,
		Duration:   fmt.Sprintf("%v packets, %v HTTP", o.ppsDur, o.httpDur),
		LoadBefore: loadavg(),
	}
	if s.rep.Workers == 0 {
		s.rep.Workers = benchWorkers(runtime.NumCPU())
		s.o.workers = s.rep.Workers
	}
	// What a system call and a wake-up cost here, measured before the
	// labs exist: the HTTP rows move with them from machine to machine.
	if h, err := bench.ProbeHost(10000); err != nil {
		s.rep.Notes = append(s.rep.Notes, "the host's system call and wake-up costs were not measured: "+err.Error())
	} else {
		s.rep.Host = &h
		s.logf("host: %s", h)
	}
	if s.dir, err = os.MkdirTemp("", "ulvs-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(s.dir)
	defer func() { err = errors.Join(err, s.close(stderr, err)) }()
	if err := s.build(ctx); err != nil {
		return err
	}
	if err := s.run(ctx); err != nil {
		return err
	}
	s.rep.LoadAfter = loadavg()
	s.finish()
	if o.svgPath != "" {
		f, err := os.Create(o.svgPath)
		if err != nil {
			return err
		}
		err = errors.Join(s.rep.WriteSVG(f), f.Close())
		if err != nil {
			return err
		}
	}
	if o.jsonOut {
		return s.rep.WriteJSON(stdout)
	}
	return s.rep.WriteTable(stdout)
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "ulvs bench: "+format+"\n", args...)
}

// benchWorkers is ulvsd's worker count when --workers is not given: one
// per CPU but the one the generator keeps busy (trafgen sends from one
// process as fast as it can), at least one. With one worker per CPU on 2
// CPUs, both workers ran on the CPU trafgen left and took turns on it,
// each waking for a few frames at a time: 29% more of ulvsd's CPU per
// packet than one worker (medians of eight runs), and lower rates in
// every packet-rate and keep-alive row (docs/performance.md, "One worker
// or two, on the idle machine").
func benchWorkers(cpus int) int {
	return max(1, cpus-1)
}

// build brings up the baseline lab and one lab per method, with the
// real servers' counters.
func (s *suite) build(ctx context.Context) error {
	s.logf("building the baseline lab (kernel forwarding, nftables DNAT)")
	base, err := s.buildBase(ctx)
	if err != nil {
		return err
	}
	var ulvsArgs []string
	if s.o.workers > 0 {
		ulvsArgs = append(ulvsArgs, "--workers", strconv.Itoa(s.o.workers))
	}
	if s.o.profileDir != "" {
		ulvsArgs = append(ulvsArgs, "--pprof", pprofAddr)
	}
	if s.o.ringFrames > 0 {
		ulvsArgs = append(ulvsArgs, "--ring-frames", strconv.Itoa(s.o.ringFrames))
	}
	if s.o.blockRings != "" {
		ulvsArgs = append(ulvsArgs, "--block-rings", s.o.blockRings)
	}
	if s.o.idlePoll != "" {
		ulvsArgs = append(ulvsArgs, "--idle-poll", s.o.idlePoll)
	}
	byMode := map[string]*benchLab{}
	for _, m := range s.o.methods {
		s.logf("building the %s lab and starting ulvsd", m)
		ld, err := startLabDirectorConfig(ctx, m, benchConfig(m), s.o.offloadsOff, "ulvs-bench-", ulvsArgs...)
		if err != nil {
			return fmt.Errorf("%s lab: %w", m, err)
		}
		bl := &benchLab{name: m, l: ld.lab, ld: ld}
		s.labs = append(s.labs, bl)
		if err := s.prepare(ctx, bl); err != nil {
			return fmt.Errorf("%s lab: %w", m, err)
		}
		byMode[m] = bl
	}
	// Wait for each VIP to answer (the director resolves its real
	// servers first).
	for _, bl := range s.labs {
		if bl.ld == nil {
			continue
		}
		if err := waitHTTP(ctx, bl.l.Client, "http://"+bl.l.VIP.String()+"/"); err != nil {
			return fmt.Errorf("%s lab: %w", bl.name, err)
		}
	}
	kernelRel := func(b string) map[string]string {
		return map[string]string{"pps": b, "http-keepalive": "nft", "http-new": "nft", "http-latency": "direct"}
	}
	s.paths = append(s.paths,
		&suitePath{name: "ceiling", bl: base, dst: base.l.RIPs[0], dstMAC: base.dirMAC, state: "drop"},
	)
	if dr := byMode[lab.ModeDR]; dr != nil {
		s.paths = append(s.paths, &suitePath{name: "direct", bl: dr, dst: dr.l.RIPs[0], dstMAC: dr.rs1MAC,
			url: "http://" + dr.l.RIPs[0].String() + "/"})
	}
	s.paths = append(s.paths,
		&suitePath{name: "kernel", bl: base, dst: base.l.RIPs[0], dstMAC: base.dirMAC,
			url: "http://" + base.l.RIPs[0].String() + "/", baseline: map[string]string{"http-latency": "direct"}},
		&suitePath{name: "nft", bl: base, dst: base.l.VIP, dstMAC: base.dirMAC, state: "nft",
			url: "http://" + base.l.VIP.String() + "/", baseline: map[string]string{"pps": "kernel",
				"http-keepalive": "kernel", "http-new": "kernel", "http-latency": "direct"}},
	)
	for _, m := range s.o.methods {
		bl := byMode[m]
		b, t := "kernel", 1.0
		switch m {
		case lab.ModeDR:
			t = 1.3
		case lab.ModeNAT, lab.ModeFullNAT:
			b, t = "nft", 1.2
		}
		s.paths = append(s.paths, &suitePath{name: "ulvs-" + m, bl: bl, dst: bl.l.VIP, dstMAC: bl.dirMAC,
			url: "http://" + bl.l.VIP.String() + "/", baseline: kernelRel(b),
			target: map[string]float64{"pps": t, "http-keepalive": 1, "http-new": 1}})
	}
	return nil
}

// buildBase builds the baseline lab: the nat topology with the director's
// kernel forwarding (ip_forward=1), the VIP on its outside interface for
// nftables DNAT, and a route from the client to the inside network.
func (s *suite) buildBase(ctx context.Context) (*benchLab, error) {
	l, err := lab.Up(ctx, lab.Config{Mode: lab.ModeNAT, OffloadsOff: s.o.offloadsOff})
	if err != nil {
		return nil, err
	}
	bl := &benchLab{name: "baseline", l: l}
	s.labs = append(s.labs, bl)
	if err := l.StartServers(ctx); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"-n", l.Director.Name, "addr", "add", l.VIP.String() + "/32", "dev", l.DirectorIface},
		{"-n", l.Client.Name, "route", "add", "10.77.1.0/24", "via", l.DIP.String()},
	}
	for _, st := range steps {
		if out, err := exec.CommandContext(ctx, "ip", st...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(st, " "), err, out)
		}
	}
	if _, err := l.Director.Run(ctx, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx, bl); err != nil {
		return nil, err
	}
	// The kernel path: the client reaches the real servers through the
	// director, which resolves them on the way.
	for _, rip := range l.RIPs {
		if err := waitHTTP(ctx, l.Client, "http://"+rip.String()+"/"); err != nil {
			return nil, fmt.Errorf("baseline lab: through the kernel: %w", err)
		}
	}
	return bl, nil
}

// prepare learns a lab's MACs and loads the real servers' counting drop.
func (s *suite) prepare(ctx context.Context, bl *benchLab) error {
	l := bl.l
	var err error
	if bl.clientMAC, err = macOf(l.Client, "c-eth0"); err != nil {
		return err
	}
	if bl.dirMAC, err = macOf(l.Director, l.DirectorIface); err != nil {
		return err
	}
	if bl.rs1MAC, err = macOf(l.RS[0], lab.RSIface(0)); err != nil {
		return err
	}
	for i, rs := range l.RS {
		if err := nftLoad(ctx, rs, rsRuleset(lab.RSIface(i))); err != nil {
			return err
		}
	}
	return nil
}

// rsRuleset drops and counts the flood at a real server's interface
// ingress: plain UDP to floodPort, and IPIP whose inner UDP goes there
// (first fragments counted, later ones dropped).
func rsRuleset(dev string) string {
	return fmt.Sprintf(`table netdev ulvsbench {
	counter delivered { }
	chain in {
		type filter hook ingress device %q priority -500; policy accept;
		udp dport %d counter name "delivered" drop
		ip protocol 4 ip frag-off & 0x1fff != 0 drop
		ip protocol 4 @th,176,16 %d counter name "delivered" drop
	}
}
`, dev, floodPort, floodPort)
}

// baseState puts the baseline lab's director in state: "" forwards
// plainly, "nft" adds the DNAT table, "drop" drops the flood at ingress
// (the generator's ceiling).
func (s *suite) baseState(ctx context.Context, bl *benchLab, state string) error {
	if bl.state == state {
		return nil
	}
	d := bl.l.Director
	for _, t := range [][]string{{"ip", "ulvsbench_nat"}, {"netdev", "ulvsbench_drop"}} {
		if _, err := d.Run(ctx, "nft", "list", "table", t[0], t[1]); err != nil {
			continue // absent
		}
		if out, err := d.Run(ctx, "nft", "delete", "table", t[0], t[1]); err != nil {
			return fmt.Errorf("nft delete table %s %s: %v: %s", t[0], t[1], err, out)
		}
	}
	switch state {
	case "nft":
		rips := bl.l.RIPs
		rs := fmt.Sprintf("numgen inc mod 2 map { 0 : %s, 1 : %s }", rips[0], rips[1%len(rips)])
		if err := nftLoad(ctx, d, fmt.Sprintf(`table ip ulvsbench_nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr %s udp dport %d dnat to %s
		ip daddr %s tcp dport %d dnat to %s
	}
}
`, bl.l.VIP, floodPort, rs, bl.l.VIP, lab.ServerPort, rs)); err != nil {
			return err
		}
	case "drop":
		if err := nftLoad(ctx, d, fmt.Sprintf(`table netdev ulvsbench_drop {
	chain in {
		type filter hook ingress device %q priority -500; policy accept;
		udp dport %d drop
	}
}
`, bl.l.DirectorIface, floodPort)); err != nil {
			return err
		}
	}
	bl.state = state
	return nil
}

// nftLoad loads a ruleset in ns.
func nftLoad(ctx context.Context, ns lab.NS, ruleset string) error {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f in %s: %v: %s", ns.Name, err, out)
	}
	return nil
}

// macOf returns the MAC of interface dev in ns.
func macOf(ns lab.NS, dev string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", dev, ns.Name, err)
	}
	return mac, nil
}

// benchConfig is ulvsd's configuration for a method's lab: the demo's
// HTTP service and the flood's UDP service, both rr over the real
// servers.
func benchConfig(mode string) []byte {
	l, _ := lab.NewMode("x", 2, mode)
	method := map[string]string{lab.ModeDR: "dr", lab.ModeNAT: "nat", lab.ModeFullNAT: "fullnat", lab.ModeTUN: "tun"}[mode]
	ifaces := `["d-eth0"]`
	if l.DirectorInsideIface != "" {
		ifaces = `["d-eth0", "d-eth1"]`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# ulvs bench, %s lab\n[director]\ninterfaces = %s\n", mode, ifaces)
	for _, svc := range []struct {
		proto string
		port  int
	}{{"tcp", lab.ServerPort}, {"udp", floodPort}} {
		fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = %q\naddress = \"%s:%d\"\nscheduler = \"rr\"\nforward = %q\n",
			svc.proto, l.VIP, svc.port, method)
		if mode == lab.ModeFullNAT {
			var la []string
			for _, a := range lab.LocalAddrs {
				la = append(la, strconv.Quote(a.String()))
			}
			fmt.Fprintf(&b, "local_addresses = [%s]\n", strings.Join(la, ", "))
		}
		for _, rip := range l.RIPs {
			fmt.Fprintf(&b, "\n  [[virtual_server.real_server]]\n  address = \"%s:%d\"\n  weight = 1\n", rip, svc.port)
		}
	}
	return []byte(b.String())
}

// waitHTTP waits until url answers from ns.
func waitHTTP(ctx context.Context, ns lab.NS, url string) error {
	c := ns.HTTPClient()
	c.Timeout = time.Second
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := httpGet(ctx, c, url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s never answered: %w", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tests lists the suite's tests in order.
func (s *suite) tests() []string {
	var out []string
	for _, sz := range s.o.sizes {
		out = append(out, fmt.Sprintf("pps%d", sz))
	}
	if s.o.http {
		out = append(out, "http-keepalive", "http-new")
		if s.o.latency {
			out = append(out, "http-latency")
		}
	}
	return out
}

// run measures every test through every path, round after round; within
// a round the paths alternate, starting one further each round.
func (s *suite) run(ctx context.Context) error {
	for round := 0; round < s.o.rounds; round++ {
		for _, test := range s.tests() {
			var paths []*suitePath
			for _, p := range s.paths {
				if strings.HasPrefix(test, "pps") || (p.url != "" && p.name != "ceiling") {
					paths = append(paths, p)
				}
			}
			for k := range paths {
				p := paths[(k+round)%len(paths)]
				if err := s.measure(ctx, round, test, p); err != nil {
					return fmt.Errorf("round %d, %s through %s: %w", round+1, test, p.name, err)
				}
			}
		}
	}
	return nil
}

func (s *suite) measure(ctx context.Context, round int, test string, p *suitePath) error {
	if p.bl.ld == nil {
		if err := s.baseState(ctx, p.bl, p.state); err != nil {
			return err
		}
	}
	key := test + " " + p.name
	sm := s.values[key]
	if sm == nil {
		sm = &sample{}
		s.values[key] = sm
	}
	if size, ok := strings.CutPrefix(test, "pps"); ok {
		n, _ := strconv.Atoi(size)
		r, err := s.flood(ctx, round, p, n)
		if err != nil {
			return err
		}
		v := r.delivered
		if p.name == "ceiling" {
			v = r.offered // nothing is delivered: the director drops all
		}
		sm.vals = append(sm.vals, v)
		sm.offered = append(sm.offered, r.offered)
		sm.loss = append(sm.loss, r.loss())
		if r.boxCPU >= 0 && v > 0 {
			sm.boxPerOp = append(sm.boxPerOp, 1e6*r.boxCPU/v)
		}
		if r.dirCPU >= 0 {
			sm.dirCPU = append(sm.dirCPU, r.dirCPU)
			if r.delivered > 0 && p.name != "direct" {
				sm.perOp = append(sm.perOp, 1e6*r.dirCPU/r.delivered)
			}
		}
		s.logf("round %d %-8s %-13s offered %8.0f pps, delivered %8.0f pps, loss %5.1f%%, machine cpu %s, ulvsd cpu %s %s",
			round+1, test, p.name, r.offered, r.delivered, 100*r.loss(), cpuText(r.boxCPU), cpuText(r.dirCPU), r.workers)
		return nil
	}
	cfg := bench.HTTPConfig{URL: p.url, Dial: p.bl.l.Client.DialContext, Concurrency: s.o.concurrency, Duration: s.o.httpDur}
	switch test {
	case "http-keepalive":
		cfg.KeepAlive = true
	case "http-latency":
		cfg.KeepAlive, cfg.Concurrency = true, 1
	}
	dir0, box0 := s.cpuTimes(p)
	snap0 := s.snapshot(p)
	t0 := time.Now()
	r, err := bench.HTTP(ctx, cfg)
	if err != nil {
		return err
	}
	dir1, box1 := s.cpuTimes(p)
	snap1 := s.snapshot(p)
	dt := time.Since(t0).Seconds()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	sm.vals = append(sm.vals, r.RequestsPerSecond())
	sm.p50 = append(sm.p50, float64(r.P50))
	sm.p99 = append(sm.p99, float64(r.P99))
	sm.errs += r.Errors
	// The CPU per request: over the whole call, which also opens and
	// closes the connections (the same for every path).
	cpu := ""
	perRequest := func(seconds float64) float64 { return 1e6 * seconds / float64(r.Requests) }
	if box0 >= 0 && box1 >= 0 && r.Requests > 0 {
		v := perRequest(box1 - box0)
		sm.boxPerOp = append(sm.boxPerOp, v)
		cpu = fmt.Sprintf(", machine cpu %s (%.1f us/request)", cpuText((box1-box0)/dt), v)
	}
	if dir0 >= 0 && dir1 >= 0 {
		sm.dirCPU = append(sm.dirCPU, (dir1-dir0)/dt)
		cpu += fmt.Sprintf(", ulvsd cpu %s", cpuText((dir1-dir0)/dt))
		if r.Requests > 0 && p.name != "direct" {
			v := perRequest(dir1 - dir0)
			sm.perOp = append(sm.perOp, v)
			cpu += fmt.Sprintf(" (%.1f us/request)", v)
		}
	}
	if b := blockShare(snap0, snap1); b != "" {
		cpu += ", " + b
	}
	s.logf("round %d %-8s %-13s %v%s", round+1, test, p.name, r, cpu)
	return nil
}

func cpuText(c float64) string {
	if c < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*c)
}

// finish turns the samples into the report's rows.
func (s *suite) finish() {
	for _, test := range s.tests() {
		for _, p := range s.paths {
			sm := s.values[test+" "+p.name]
			if sm == nil {
				continue
			}
			kind := test
			if strings.HasPrefix(test, "pps") {
				kind = "pps"
			}
			row := bench.Row{Test: test, Path: p.name, Values: sm.vals, Median: bench.Median(sm.vals),
				Baseline: p.baseline[kind], Target: p.target[kind]}
			if strings.HasPrefix(test, "pps") {
				row.Unit = "pps"
				row.Offered = bench.Median(sm.offered)
				row.Loss = bench.Median(sm.loss)
				switch {
				case p.name == "ceiling":
					row.Limit = "generator"
				case row.Loss > 0.01:
					row.Limit = "director"
				default:
					row.Limit = "generator"
				}
				if len(sm.dirCPU) > 0 {
					row.DirectorCPU = bench.Median(sm.dirCPU)
				}
				row.CPUPerPacket = bench.Median(sm.perOp)
				row.BoxCPUPerPacket = bench.Median(sm.boxPerOp)
			} else {
				row.Unit = "req/s"
				row.P50 = time.Duration(bench.Median(sm.p50))
				row.P99 = time.Duration(bench.Median(sm.p99))
				row.Errors = sm.errs
				if len(sm.dirCPU) > 0 {
					row.DirectorCPU = bench.Median(sm.dirCPU)
				}
				row.CPUPerRequest = bench.Median(sm.perOp)
				row.BoxCPUPerRequest = bench.Median(sm.boxPerOp)
			}
			s.rep.Rows = append(s.rep.Rows, row)
		}
	}
	s.rep.Finish()
	for _, row := range s.rep.Rows {
		if row.Unit == "pps" && row.Path != "ceiling" && row.Limit == "generator" {
			if c := s.rep.Row(row.Test, "ceiling"); c != nil && c.Median > 0 && row.Median >= 0.9*c.Median {
				s.rep.Notes = append(s.rep.Notes, fmt.Sprintf("%s through %s: %.0f pps is within 10%% of the generator's ceiling (%.0f): the generator, not the path, is the limit",
					row.Test, row.Path, row.Median, c.Median))
			}
		}
	}
}

// close stops every ulvsd and removes every lab.
func (s *suite) close(stderr io.Writer, failed error) error {
	var errs []error
	for _, bl := range s.labs {
		if bl.ld != nil {
			errs = append(errs, bl.ld.close(stderr, failed))
			continue
		}
		errs = append(errs, bl.l.Down())
	}
	return errors.Join(errs...)
}

// machine describes the CPU.
func machine() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
