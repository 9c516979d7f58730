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
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/bench"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/lab"
)

const benchUsage = `Usage: ulvs bench http [--mode dr|nat|fullnat|tun] [--duration D] [--concurrency N]
                      [--rounds N] [--keepalive] [--offloads-off] [--synproxy]

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
	if len(args) == 0 || args[0] != "http" {
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
