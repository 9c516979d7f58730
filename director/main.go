package director

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/load"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/engine"
)

const usage = `Usage: ulvsd -c FILE [--socket PATH]
       ulvsd -i IFACE[,IFACE...] [--socket PATH]

ulvsd is the ulvs director: it forwards traffic for the virtual services of
FILE (TOML), or starts empty on the given interfaces for ulvsadm to fill, as
ipvsadm fills the kernel's table. SIGHUP reloads FILE and applies only the
difference; SIGTERM stops.

Options:
`

// Main runs the ulvsd daemon with args (without the program name) and
// returns the process exit code.
func Main(args []string) int {
	return run(args, os.Stderr)
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("ulvsd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	cfgPath := fs.String("c", "", "configuration `file` (TOML)")
	ifaces := fs.String("i", "", "comma-separated `interfaces` (when no -c file, or to override the file's)")
	socket := fs.String("socket", "", "control socket `path` (default $ULVS_SOCKET, the file's, or "+ctl.DefaultSocket+")")
	workers := fs.Int("workers", 0, "RX workers per interface (0: one per CPU)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on `host:port` (default: the file's [metrics] listen, else off)")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ulvsd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var file *config.File
	if *cfgPath != "" {
		f, err := load.File(*cfgPath)
		if err != nil {
			fmt.Fprintf(stderr, "ulvsd: %v\n", err)
			return 1
		}
		file = f
		warnHealth(log, f)
	} else if *ifaces == "" {
		fmt.Fprintln(stderr, "ulvsd: need -c FILE or -i IFACE")
		fs.Usage()
		return 2
	}
	opts := options{workers: *workers, metrics: *metricsAddr}
	switch {
	case *ifaces != "":
		opts.interfaces = strings.Split(*ifaces, ",")
	case file != nil:
		opts.interfaces = file.Interfaces
	}
	opts.socket = *socket
	if opts.socket == "" {
		opts.socket = os.Getenv("ULVS_SOCKET")
	}
	if opts.socket == "" && file != nil {
		opts.socket = file.Socket
	}
	if opts.socket == "" {
		opts.socket = ctl.DefaultSocket
	}
	if file != nil {
		opts.connTableSize = file.ConnTableSize
		if opts.metrics == "" {
			opts.metrics = file.Metrics.Listen
		}
		if opts.workers == 0 {
			opts.workers = file.Workers
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, opts, *cfgPath, file, log); err != nil {
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		return 1
	}
	return 0
}

type options struct {
	interfaces    []string
	socket        string
	workers       int
	connTableSize int
	metrics       string // Prometheus endpoint address (metrics.go); "" is off
}

// serve runs the daemon until ctx is done.
func serve(ctx context.Context, o options, cfgPath string, file *config.File, log *slog.Logger) error {
	checkHost(log)
	timeouts := conntrack.DefaultTimeouts()
	if file != nil {
		if err := timeouts.Set(int(file.Timeouts.TCP), int(file.Timeouts.TCPFin), int(file.Timeouts.UDP)); err != nil {
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
	}
	eng, err := engine.New(engine.Config{
		Interfaces:    o.interfaces,
		Workers:       o.workers,
		ConnTableSize: o.connTableSize,
		Timeouts:      timeouts,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	size := o.connTableSize
	if size == 0 {
		size = 4096
	}
	dir, err := New(Config{
		Engine:        eng,
		Interfaces:    o.interfaces,
		ConnTableSize: size,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	if file != nil {
		if err := dir.SetConfig(file.Rules, file.Marks, file.Knobs); err != nil {
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
	}
	ln, err := ctl.Listen(o.socket)
	if err != nil {
		return err
	}
	defer os.Remove(o.socket)
	var mln net.Listener
	if o.metrics != "" {
		if mln, err = listenMetrics(o.metrics); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 4)
	go func() { done <- eng.Run(ctx) }()
	go func() { done <- dir.Run(ctx) }()
	go func() { done <- ctl.Serve(ctx, ln, &saver{Director: dir, cfgPath: cfgPath, opts: o, log: log}, log) }()
	go announceAgain(ctx, eng)
	go dir.runRates(ctx)
	running := 3
	if mln != nil {
		running++
		go func() { done <- serveMetrics(ctx, mln, dir, log) }()
	}
	log.Info("ulvsd running", "interfaces", strings.Join(o.interfaces, ","), "socket", o.socket, "services", len(dir.Rules().Services))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var firstErr error
	for running > 0 {
		select {
		case <-hup:
			if cfgPath == "" {
				log.Info("SIGHUP ignored: no configuration file")
				continue
			}
			reload(cfgPath, dir, log)
		case err := <-done:
			running--
			if err != nil && !errors.Is(err, context.Canceled) && firstErr == nil {
				firstErr = err
				log.Error("stopping", "err", err)
			}
			cancel()
		case <-ctx.Done():
			// wait for the goroutines above
			for ; running > 0; running-- {
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) && firstErr == nil {
					firstErr = err
				}
			}
		}
	}
	log.Info("ulvsd stopped")
	return firstErr
}

// reload applies the file's current content; on any error the running
// configuration stays as it was.
func reload(path string, dir *Director, log *slog.Logger) {
	f, err := load.File(path)
	if err != nil {
		log.Error("reload failed, keeping the running configuration", "err", err)
		return
	}
	warnHealth(log, f)
	if err := dir.SetConfig(f.Rules, f.Marks, f.Knobs); err != nil {
		log.Error("reload failed, keeping the running configuration", "file", path, "err", err)
		return
	}
	if err := dir.SetTimeouts(f.Timeouts); err != nil {
		log.Error("reload: timeouts", "file", path, "err", err)
	}
	log.Info("reloaded", "file", path, "services", len(f.Rules.Services))
}

// checkHost warns about kernel settings that break a director (DESIGN.md):
// a forwarding kernel forwards un-NATed replies and sends ICMP redirects.
func checkHost(log *slog.Logger) {
	for _, k := range []string{"net/ipv4/ip_forward", "net/ipv4/conf/all/send_redirects"} {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err == nil && strings.TrimSpace(string(b)) != "0" {
			log.Warn("kernel setting should be 0 on a ulvs director", "sysctl", strings.ReplaceAll(k, "/", "."))
		}
	}
}

// warnHealth says, loudly, that the file's health checks are not run:
// the healthcheck package's monitor is not wired into ulvsd yet, so every
// real server stays in the table as configured.
func warnHealth(log *slog.Logger, f *config.File) {
	if len(f.Health) > 0 {
		log.Warn("the file configures health checks, which this ulvsd does not run yet: real servers stay in the table whatever their health",
			"file", f.Path, "services_with_checks", len(f.Health))
	}
}
