package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/bench"
	"github.com/ulvs/ulvs/lab"
)

const benchUsage = `Usage: ulvs bench http [--mode dr|nat|fullnat|tun] [--duration D] [--concurrency N]
                      [--rounds N] [--keepalive] [--offloads-off]

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
`

type benchOptions struct {
	mode        string
	duration    time.Duration
	concurrency int
	rounds      int
	keepAlive   bool
	offloadsOff bool
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
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || o.duration <= 0 || o.concurrency <= 0 || o.rounds <= 0 || !lab.ValidMode(o.mode) {
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
	}{
		{"direct", "http://" + l.RIPs[0].String() + "/", direct},
		{"director", "http://" + l.VIP.String() + "/", l.Client},
	}
	var total [2]bench.Result
	for round := 1; round <= o.rounds; round++ {
		for i, tg := range targets {
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
	return nil
}
