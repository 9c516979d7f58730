package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/bench"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/lab"
)

const benchUsage = `Usage: ulvs bench [--quick] [--rounds N] [--duration D] [--http-duration D]
                  [--methods dr,nat,fullnat,tun] [--sizes 64,1500] [--workers N]
                  [--concurrency N] [--no-http] [--json] [--svg FILE] [--offloads-off]
                  [--profile DIR] [--ring-frames N] [--idle-poll D] [--block-rings N]
       ulvs bench http [--mode dr|nat|fullnat|tun] [--duration D] [--concurrency N]
                      [--rounds N] [--keepalive] [--offloads-off] [--synproxy]

ulvs bench (the suite) builds its own labs, one per method with ulvsd
running, and a baseline lab (the nat topology) whose director's kernel
forwards, and measures in one run, in alternating rounds (medians):
  pps64, pps1500   UDP packets/s delivered to the real servers (256 flows,
                   frames of 64 and 1500 bytes, sent by trafgen from the
                   client; counted and dropped by nftables at each real
                   server's interface ingress), and the loss
  http-keepalive   HTTP requests/s over established connections
  http-new         HTTP requests/s with one new TCP connection each
  http-latency     one client, keep-alive: p50/p99 latency (full mode)
through these paths:
  ceiling          the generator's own rate: the director drops the flood at
                   its interface ingress (nothing is forwarded)
  direct           the client to real server 1, no director (dr lab)
  kernel           the baseline director's kernel forwarding (ip_forward=1)
  nft              nftables DNAT on the baseline director (VIP to the real
                   servers, numgen round robin)
  ulvs-METHOD      ulvsd, in the METHOD lab, client to the VIP
It prints a table of medians and ratios (DR and TUN against kernel
forwarding, NAT and FULLNAT against nftables DNAT; HTTP against nftables),
with the targets of issue 14. A packet-rate row is "limit generator" when
nothing was lost (the director kept up with all the generator sent),
"director" when frames were lost. Columns us/op and box/op are the CPU
time of ulvsd and of the whole machine per delivered packet (packet-rate
rows) or per request (HTTP rows), in microseconds. Only ratios within
one run mean anything on a shared machine: the load average is printed.
--quick runs 3 rounds of 1 s, 64-byte frames only (about 2 minutes); the
default runs 5 rounds of 2 s with both sizes and the latency test.
--profile DIR saves a CPU profile of ulvsd (its --pprof, on the
director's loopback) over the first round's window of each packet-rate
test, DIR/ulvs-METHOD-SIZE.pprof.
--workers, --ring-frames, --idle-poll and --block-rings are passed to ulvsd. The generator
runs on this machine and keeps one CPU busy, so ulvsd gets one worker per
CPU but that one (at least 1) unless --workers says otherwise: two workers
sharing the one CPU left cost 29% more CPU per packet than one
(docs/performance.md).

Builds a fresh lab in the given mode (default dr), starts ulvsd with the
mode's demo configuration (rr over rs1 and rs2) and measures HTTP requests
per second from the client namespace in alternating rounds:
  direct    the client fetches http://RIP1/ (rs1, no director; in nat and
            fullnat, where the client has no route to the real servers,
            from the director's namespace instead)
  director  the client fetches http://10.77.0.100/ through ulvsd
and prints each round and the director's throughput as a ratio of the direct
baseline measured in the same run. Without --keepalive every request opens a
new TCP connection, so requests per second are new connections per second;
with it, requests travel over established connections.

--synproxy (nat and fullnat) adds a third kind of round, the director with
the service behind the SYN proxy (docs/synproxy.md; switched on and off with
-E between rounds), and prints its throughput as a ratio of the director's
without it.
`

type benchOptions struct {
	mode        string
	duration    time.Duration
	concurrency int
	rounds      int
	keepAlive   bool
	offloadsOff bool
	synProxy    bool
}

func benchMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return benchSuiteMain(args, stdout, stderr)
	}
	if args[0] != "http" {
		fmt.Fprint(stderr, benchUsage)
		return 2
	}
	fs := flag.NewFlagSet("ulvs bench http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage) }
	var o benchOptions
	fs.StringVar(&o.mode, "mode", lab.ModeDR, "lab mode: dr, nat, fullnat or tun")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of each round")
	fs.IntVar(&o.concurrency, "concurrency", 8, "parallel clients")
	fs.IntVar(&o.rounds, "rounds", 2, "rounds of each kind, alternating")
	fs.BoolVar(&o.keepAlive, "keepalive", false, "reuse connections instead of one per request")
	fs.BoolVar(&o.offloadsOff, "offloads-off", false, "turn veth offloads off in the lab")
	fs.BoolVar(&o.synProxy, "synproxy", false, "also measure the director with the SYN proxy on (nat, fullnat)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || o.duration <= 0 || o.concurrency <= 0 || o.rounds <= 0 || !lab.ValidMode(o.mode) ||
		(o.synProxy && o.mode != lab.ModeNAT && o.mode != lab.ModeFullNAT) {
		fmt.Fprint(stderr, benchUsage)
		return 2
	}
	if err := benchHTTP(o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "ulvs bench: %v\n", err)
		return 1
	}
	return 0
}

func benchSuiteMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ulvs bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage) }
	quick := fs.Bool("quick", false, "3 rounds of 1 s, 64-byte frames, no latency test")
	rounds := fs.Int("rounds", 0, "rounds (default 5, quick 3)")
	dur := fs.Duration("duration", 0, "length of a packet-rate measurement (default 2s, quick 1s)")
	httpDur := fs.Duration("http-duration", 0, "length of an HTTP measurement (default 2s, quick 1s)")
	methods := fs.String("methods", strings.Join(lab.Modes(), ","), "ulvs methods to measure")
	sizes := fs.String("sizes", "", "frame sizes in bytes (default 64,1500; quick 64)")
	workers := fs.Int("workers", 0, "ulvsd --workers (0: one per CPU but the generator's, at least 1)")
	conc := fs.Int("concurrency", 8, "HTTP clients in parallel")
	noHTTP := fs.Bool("no-http", false, "packet rates only")
	jsonOut := fs.Bool("json", false, "print the report as JSON instead of a table")
	svg := fs.String("svg", "", "write a bar chart of the report to `FILE` (SVG)")
	offloadsOff := fs.Bool("offloads-off", false, "turn veth offloads off in the labs")
	ringFrames := fs.Int("ring-frames", 0, "ulvsd --ring-frames (0: its default)")
	idlePoll := fs.String("idle-poll", "", "ulvsd --idle-poll `D` (default: ulvsd's)")
	blockRings := fs.String("block-rings", "", "ulvsd --block-rings `N` (default: ulvsd's)")
	profile := fs.String("profile", "", "save a CPU profile of ulvsd per method and frame size (first round) in `DIR`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o := suiteOptions{quick: *quick, rounds: 5, ppsDur: 2 * time.Second, httpDur: 2 * time.Second, sizes: []int{64, 1500},
		workers: *workers, concurrency: *conc, latency: true, http: !*noHTTP, jsonOut: *jsonOut, svgPath: *svg,
		offloadsOff: *offloadsOff, command: "ulvs bench " + strings.Join(args, " "), profileDir: *profile,
		ringFrames: *ringFrames, idlePoll: *idlePoll, blockRings: *blockRings}
	if o.quick {
		o.rounds, o.ppsDur, o.httpDur, o.sizes, o.latency = 3, time.Second, time.Second, []int{64}, false
	}
	if *rounds != 0 {
		o.rounds = *rounds
	}
	if *dur != 0 {
		o.ppsDur = *dur
	}
	if *httpDur != 0 {
		o.httpDur = *httpDur
	}
	if *sizes != "" {
		o.sizes = nil
		for _, f := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 64 || n > bench.MaxFrame {
				fmt.Fprintf(stderr, "ulvs bench: frame size %q: want a number from 64 to %d\n", f, bench.MaxFrame)
				return 2
			}
			o.sizes = append(o.sizes, n)
		}
	}
	for _, m := range strings.Split(*methods, ",") {
		m = strings.TrimSpace(m)
		if !lab.ValidMode(m) {
			fmt.Fprintf(stderr, "ulvs bench: method %q: want dr, nat, fullnat or tun\n", m)
			return 2
		}
		if !slices.Contains(o.methods, m) {
			o.methods = append(o.methods, m)
		}
	}
	if fs.NArg() > 0 || o.rounds <= 0 || o.ppsDur <= 0 || o.httpDur <= 0 || o.concurrency <= 0 || o.workers < 0 {
		fmt.Fprint(stderr, benchUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := benchSuite(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "ulvs bench: %v\n", err)
		return 1
	}
	return 0
}

func benchHTTP(o benchOptions, stdout, stderr io.Writer) (err error) {
	if err := needRoot(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ld, err := startLabDirector(ctx, o.mode, o.offloadsOff, "ulvs-bench-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ld.close(stderr, err)) }()
	l := ld.lab
	// The director answers once it has resolved the real servers.
	c := l.Client.HTTPClient()
	c.Timeout = time.Second
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := httpGet(ctx, c, "http://"+l.VIP.String()+"/"); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.New("the VIP never answered")
		}
		time.Sleep(100 * time.Millisecond)
	}

	fmt.Fprintf(stdout, "lab %s (%s), %d clients, %v rounds, keep-alive %v, offloads off %v\n",
		l.Prefix, o.mode, o.concurrency, o.duration, o.keepAlive, o.offloadsOff)
	direct := l.DirectNS() // in nat/fullnat the client has no route to the real servers
	targets := []struct {
		name, url string
		ns        lab.NS
		synProxy  bool
	}{
		{"direct", "http://" + l.RIPs[0].String() + "/", direct, false},
		{"director", "http://" + l.VIP.String() + "/", l.Client, false},
	}
	if o.synProxy {
		targets = append(targets, targets[1])
		targets[2].name, targets[2].synProxy = "synproxy", true
	}
	var total [3]bench.Result
	for round := 1; round <= o.rounds; round++ {
		for i, tg := range targets {
			if o.synProxy && i > 0 {
				if err := setSynProxy(ld.sock, l, o.mode, tg.synProxy); err != nil {
					return err
				}
			}
			r, err := bench.HTTP(ctx, bench.HTTPConfig{
				URL: tg.url, Dial: tg.ns.DialContext, Concurrency: o.concurrency,
				Duration: o.duration, KeepAlive: o.keepAlive,
			})
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			fmt.Fprintf(stdout, "round %d %-8s %v %v\n", round, tg.name, r, r.Answers)
			total[i].Requests += r.Requests
			total[i].Errors += r.Errors
			total[i].Elapsed += r.Elapsed
		}
	}
	cmp := bench.Comparison{Name: "http", Baseline: total[0], Director: total[1]}
	fmt.Fprintf(stdout, "direct   %.0f req/s\ndirector %.0f req/s\nratio director/direct = %.2f\n",
		total[0].RequestsPerSecond(), total[1].RequestsPerSecond(), cmp.Ratio())
	if o.synProxy {
		sp := bench.Comparison{Name: "synproxy", Baseline: total[1], Director: total[2]}
		fmt.Fprintf(stdout, "synproxy %.0f req/s\nratio synproxy/director = %.2f\n", total[2].RequestsPerSecond(), sp.Ratio())
	}
	return nil
}

// setSynProxy turns the SYN proxy of the lab's demo service on or off, as
// ulvsadm -E does (with the local addresses again for fullnat: -E resets
// every service parameter it is not given).
func setSynProxy(sock string, l *lab.Lab, mode string, on bool) error {
	args := []string{"-E", "-t", netip.AddrPortFrom(l.VIP, 80).String(), "-s", "rr"}
	if mode == lab.ModeFullNAT {
		var laddrs []string
		for _, a := range l.LocalAddrs {
			laddrs = append(laddrs, a.String())
		}
		args = append(args, "--laddr", strings.Join(laddrs, ","))
	}
	if on {
		args = append(args, "--synproxy")
	}
	cmd, err := ipvsadm.ParseArgs(args)
	if err != nil {
		return fmt.Errorf("ulvsadm %s: %w", strings.Join(args, " "), err)
	}
	c, err := ctl.Dial(sock)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Apply(cmd); err != nil {
		return fmt.Errorf("ulvsadm %s: %w", strings.Join(args, " "), err)
	}
	return nil
}
