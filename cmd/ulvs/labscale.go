package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// scaleOptions are `ulvs lab scale`'s flags.
type scaleOptions struct {
	name                   string
	directors, realServers int
	flows                  int
	phase, hold            time.Duration
	kill                   string
	scheduler              string
	noSloppy, sync         bool
}

func parseScale(args []string, stderr io.Writer) (scaleOptions, error) {
	var o scaleOptions
	fs := newFlags("scale", stderr)
	fs.StringVar(&o.name, "name", "", "namespace prefix (default: unique per run)")
	fs.IntVar(&o.directors, "directors", 3, "directors behind the router's ECMP route (1..8)")
	fs.IntVar(&o.realServers, "real-servers", 3, "real servers")
	fs.IntVar(&o.flows, "flows", 24, "long-lived downloads")
	fs.DurationVar(&o.phase, "phase", 4*time.Second, "length of each phase: before the kill, after it, after the restart")
	fs.DurationVar(&o.hold, "hold-time", 3*time.Second, "BGP hold time (whole seconds, at least 3)")
	fs.StringVar(&o.kill, "kill", lab.KillSIGKILL, "how the last director goes down: kill (SIGKILL), stop (SIGSTOP: only the hold timer notices) or term (graceful)")
	fs.StringVar(&o.scheduler, "scheduler", "mh", "the directors' scheduler (to compare: rr, sh, ...; mh and sh hash the source port too)")
	fs.BoolVar(&o.noSloppy, "no-sloppy-tcp", false, "turn sloppy_tcp off (to compare: a moved flow's packets are dropped)")
	fs.BoolVar(&o.sync, "sync", false, "run the IPVS connection sync among the directors (a master and a backup daemon on each)")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageErr(stderr, "ulvs lab scale: unexpected argument %q", fs.Arg(0))
	}
	if !slices.Contains([]string{lab.KillSIGKILL, lab.KillSIGSTOP, lab.KillSIGTERM}, o.kill) {
		return o, usageErr(stderr, "ulvs lab scale: --kill %q: want kill, stop or term", o.kill)
	}
	if o.name != "" && !lab.ValidPrefix(o.name) {
		return o, usageErr(stderr, "ulvs lab scale: --name %q: want 1-32 letters, digits, '_', '.' or '-'", o.name)
	}
	if o.flows < 1 || o.flows > 1000 {
		return o, usageErr(stderr, "ulvs lab scale: --flows %d: want 1..1000", o.flows)
	}
	if o.phase < 500*time.Millisecond {
		return o, usageErr(stderr, "ulvs lab scale: --phase %v: want at least 500ms", o.phase)
	}
	return o, nil
}

// labScale runs the scale-out demonstration (lab.RunScale) and prints
// its report.
func labScale(o scaleOptions, stdout io.Writer) error {
	if err := needRoot(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := lab.RunScale(ctx, lab.ScaleRunConfig{
		ScaleConfig: lab.ScaleConfig{Prefix: o.name, Directors: o.directors, RealServers: o.realServers, HoldTime: o.hold},
		Exe:         self, Flows: o.flows, Phase: o.phase, Kill: o.kill, Progress: stdout,
		Scheduler: o.scheduler, NoSloppyTCP: o.noSloppy, Sync: o.sync,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nresult: %d directors, %d long-lived flows; killed director (%s) carried %d; "+
		"route withdrawn in %v (hold time %v); %d reset, %d broken, %d completed; "+
		"on re-adding, %d flows moved (%.2f of them, 1/N = %.2f); new connections %d, failed %d\n",
		rep.Directors, rep.Flows, rep.Kill, rep.OnKilled, rep.Withdraw.Round(time.Millisecond), rep.HoldTime,
		rep.Reset, rep.Broken, rep.Completed, rep.Moved, rep.MovedFraction(), 1/float64(rep.Directors), rep.NewConns, rep.NewConnFails)
	for _, e := range rep.FlowErrors {
		fmt.Fprintf(stdout, "  %s\n", e)
	}
	return nil
}
