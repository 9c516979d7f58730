package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/bench"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
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
	noSloppy, sync, addNew bool
	resilient, ipv6, bfd   bool
	pps, warmup            time.Duration
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
	fs.DurationVar(&o.pps, "pps", 0, "after the demonstration, measure the packet rate through 1, 2, ... N directors (the others drained) for this long each (trafgen)")
	fs.BoolVar(&o.resilient, "resilient", false, "the router's route uses a resilient next-hop group mirrored from BIRD's (a joining or leaving director moves only its share)")
	fs.BoolVar(&o.addNew, "add-new", false, "start the last director only once the flows run, and count the flows that move to it")
	fs.BoolVar(&o.sync, "sync", false, "run the IPVS connection sync among the directors (a master and a backup daemon on each)")
	fs.DurationVar(&o.warmup, "warmup", 0, "the directors' [bgp] warmup: a started director announces only after it (or once the sync brought the others' connections)")
	fs.BoolVar(&o.ipv6, "ipv6", false, "dual-stack lab: the directors also balance an IPv6 VIP and announce its /128 (the demonstration's flows stay IPv4)")
	fs.BoolVar(&o.bfd, "bfd", false, "BFD between the router's BIRD and every director")
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
	var after func(context.Context, *lab.Scale, []string) error
	if o.pps > 0 {
		after = func(ctx context.Context, s *lab.Scale, socks []string) error {
			_, err := scalePPS(ctx, s, socks, o.pps, stdout)
			return err
		}
	}
	rep, err := lab.RunScale(ctx, lab.ScaleRunConfig{
		After: after,
		ScaleConfig: lab.ScaleConfig{Prefix: o.name, Directors: o.directors, RealServers: o.realServers, HoldTime: o.hold, Resilient: o.resilient,
			IPv6: o.ipv6, BFD: o.bfd},
		Exe: self, Control: scaleControl{}, Flows: o.flows, Phase: o.phase, Kill: o.kill, Progress: stdout,
		Scheduler: o.scheduler, NoSloppyTCP: o.noSloppy, Sync: o.sync, AddNew: o.addNew, Warmup: o.warmup,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nresult: %d directors, %d long-lived flows; killed director (%s) carried %d; "+
		"route withdrawn in %v (hold time %v); %d reset, %d broken, %d completed; "+
		"on re-adding, %d flows moved (%.2f of them, 1/N = %.2f); new connections %d, failed %d\n",
		rep.Directors, rep.Flows, rep.Kill, rep.OnKilled, rep.Withdraw.Round(time.Millisecond), rep.HoldTime,
		rep.Reset, rep.Broken, rep.Completed, rep.Moved, rep.MovedFraction(), 1/float64(rep.Directors), rep.NewConns, rep.NewConnFails)
	if o.addNew {
		fmt.Fprintf(stdout, "on adding a new director: %d flows changed director (%.2f), the router's own choice moved %d of them; "+
			"of %d sampled client ports the router moved %.3f\n", rep.AddedMoved, float64(rep.AddedMoved)/float64(rep.Flows),
			rep.RouterMoved, lab.RouterSample, rep.RouterShare)
	}
	for _, e := range rep.FlowErrors {
		fmt.Fprintf(stdout, "  %s\n", e)
	}
	return nil
}

// ppsRow is the packet rate through the scale lab with some directors
// announcing the VIP.
type ppsRow struct {
	directors          int
	offered, delivered float64 // packets/s the client sent, the real servers received
	dirCPU             float64 // the announcing directors' workers, in cores
}

// scalePPS floods the VIP's UDP discard service from the client with
// trafgen (256 flows, 64-byte frames) for dur with 1, 2, ... N directors
// announcing (the others drained), and prints what the real servers
// received.
func scalePPS(ctx context.Context, s *lab.Scale, socks []string, dur time.Duration, w io.Writer) ([]ppsRow, error) {
	if _, err := exec.LookPath("trafgen"); err != nil {
		return nil, fmt.Errorf("--pps needs trafgen (netsniff-ng; scripts/setup-host.sh): %w", err)
	}
	clientMAC, err := macOf(s.Client, "c-eth0")
	if err != nil {
		return nil, err
	}
	routerMAC, err := macOf(s.Router, "r-c0")
	if err != nil {
		return nil, err
	}
	f := bench.UDPFlood{SrcMAC: clientMAC, DstMAC: routerMAC, Src: lab.ScaleClientAddr, Dst: lab.ScaleVIP,
		SrcPort: floodSport, DstPort: lab.ScaleFloodPort, Flows: floodFlows, FrameLen: 64}
	text, err := f.TrafgenConfig()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(s.Dir, "flood.cfg")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return nil, err
	}
	drain := func(n int) error {
		for k, sock := range socks {
			cl, err := ctl.Dial(sock)
			if err != nil {
				return err
			}
			err = cl.BGPDrain(k >= n)
			cl.Close()
			if err != nil {
				return err
			}
		}
		return s.WaitNexthops(ctx, n, 15*time.Second)
	}
	defer drain(len(socks))
	var rows []ppsRow
	for n := 1; n <= len(socks); n++ {
		if err := drain(n); err != nil {
			return rows, err
		}
		row, err := scaleFlood(ctx, s, socks[:n], cfg, dur)
		if err != nil {
			return rows, err
		}
		row.directors = n
		rows = append(rows, row)
		fmt.Fprintf(w, "packet rate with %d director(s) announcing: offered %.0f pps, delivered %.0f pps (%.2f of offered), directors' workers %.2f cores\n",
			n, row.offered, row.delivered, row.delivered/max(row.offered, 1), row.dirCPU)
	}
	return rows, nil
}

// scaleFlood runs trafgen for dur (after a second to settle) and measures.
func scaleFlood(ctx context.Context, s *lab.Scale, socks []string, cfg string, dur time.Duration) (ppsRow, error) {
	args := append([]string{"netns", "exec", s.Client.Name, "trafgen"}, bench.TrafgenArgs("c-eth0", cfg)...)
	gen, err := startGenerator(filepath.Join(s.Dir, "trafgen.log"), args)
	if err != nil {
		return ppsRow{}, err
	}
	defer gen.stop()
	if !sleepCtx(ctx, time.Second) {
		return ppsRow{}, ctx.Err()
	}
	read := func() (tx, rx uint64, cpu float64, t time.Time, err error) {
		if tx, err = txPackets(s.Client, "c-eth0"); err != nil {
			return
		}
		for i, rs := range s.RS {
			var n uint64
			if n, err = rxPackets(rs, lab.RSIface(i)); err != nil {
				return
			}
			rx += n
		}
		for _, sock := range socks {
			cl, e := ctl.Dial(sock)
			if e != nil {
				err = e
				return
			}
			snap, e := cl.Snapshot()
			cl.Close()
			if e != nil {
				err = e
				return
			}
			for _, ws := range snap.Workers {
				cpu += float64(ws.CPUNanos) / 1e9
			}
		}
		return tx, rx, cpu, time.Now(), nil
	}
	tx0, rx0, cpu0, t0, err := read()
	if err != nil {
		return ppsRow{}, err
	}
	select {
	case <-time.After(dur):
	case <-gen.exited:
		return ppsRow{}, gen.failed()
	case <-ctx.Done():
		return ppsRow{}, ctx.Err()
	}
	tx1, rx1, cpu1, t1, err := read()
	if err != nil {
		return ppsRow{}, err
	}
	dt := t1.Sub(t0).Seconds()
	return ppsRow{offered: float64(tx1-tx0) / dt, delivered: float64(rx1-rx0) / dt, dirCPU: (cpu1 - cpu0) / dt}, nil
}

// rxPackets reads an interface's received-packet counter in ns.
func rxPackets(ns lab.NS, dev string) (uint64, error) {
	rx, _, err := devPackets(ns, dev)
	return rx, err
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// scaleControl is the scale run's client of each director's control
// socket (lab.ScaleControl).
type scaleControl struct{}

func (scaleControl) Ping(sock string) error {
	cl, err := ctl.Dial(sock)
	if err != nil {
		return err
	}
	return cl.Close()
}

func (scaleControl) Established(sock string, client netip.Addr) ([]uint16, error) {
	cl, err := ctl.Dial(sock)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	conns, err := cl.Conns()
	if err != nil {
		return nil, err
	}
	var ports []uint16
	for _, c := range conns {
		if c.Client.Addr() == client && c.State == "ESTABLISHED" {
			ports = append(ports, c.Client.Port())
		}
	}
	return ports, nil
}

func (scaleControl) StartSync(sock, ifname string) error {
	cl, err := ctl.Dial(sock)
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, state := range []string{"master", "backup"} {
		if err := cl.Apply(config.Command{Op: config.OpStartDaemon,
			Daemon: config.DaemonOptions{State: state, McastIfn: ifname}}); err != nil {
			return fmt.Errorf("start-daemon %s: %w", state, err)
		}
	}
	return nil
}
