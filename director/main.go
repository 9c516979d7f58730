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
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/load"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/engine"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/nfmarks"
)

const usage = `Usage: ulvsd -c FILE [--socket PATH]
       ulvsd -i IFACE[,IFACE...] [--socket PATH]

ulvsd is the ulvs director: it forwards traffic for the virtual services of
FILE (ulvs.toml, keepalived.conf, Piranha's lvs.cf or the LVS configure
script's lvs_dr.conf, told apart by content), or starts empty on the given interfaces for ulvsadm to fill, as
ipvsadm fills the kernel's table. SIGHUP reloads FILE and applies only the
difference; SIGTERM stops (with --state-file, after saving the connection
table there for the next ulvsd, which restores it at start).

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
	cfgPath := fs.String("c", "", "configuration `file` (TOML, keepalived.conf, lvs.cf or lvs_dr.conf)")
	ifaces := fs.String("i", "", "comma-separated `interfaces` (when no -c file, or to override the file's)")
	socket := fs.String("socket", "", "control socket `path` (default $ULVS_SOCKET, the file's, or "+ctl.DefaultSocket+")")
	workers := fs.Int("workers", 0, "RX workers per interface (0: one per CPU)")
	webAddr := fs.String("web", "", "serve the web console on `host:port` (a bare port: on 127.0.0.1; default: the file's [web] listen, else off; docs/web.md)")
	webUsers := fs.String("web-users", "", "the web console's password `file` (default: the file's [web] users, else "+config.DefaultWebUsers+"; a keepalived.conf or lvs.cf has no [web])")
	metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on `host:port` (default: the file's [metrics] listen, else off)")
	exitOnLoss := fs.Bool("exit-on-interface-loss", false, "exit with status 1 when an interface is deleted, renamed away or set down,\ninstead of waiting for it to return (default: the file's [director] exit_on_interface_loss)")
	iptMarks := fs.Bool("iptables-marks", true, "read the firewall marks of iptables' mangle PREROUTING and nft prerouting rules\nand balance fwmark services by them (false: only the file's [[fwmark]] tables;\nthe file's [director] iptables_marks = false also turns this off)")
	stateFile := fs.String("state-file", "", "save the connection table to `path` on SIGTERM and restore it from there at start,\nso a restart keeps established connections (default: the file's [director] state_file, else off)")
	ringFrames := fs.Int("ring-frames", 0, "slots of each RX ring, 68 KiB each (0: 256; from 16 to 8192): more ride out longer pauses of a worker")
	idlePoll := fs.Duration("idle-poll", 0, "how long a worker whose rings are empty keeps looking at them, yielding the CPU, before it sleeps\n(the longest window; it adapts to the gaps between frames as the kernel's haltpoll; 0: sleep at once;\nup to 1ms; docs/performance.md)")
	blockRings := fs.Int("block-rings", defaultBlockRings, "the receive rate, in frames a second per worker, above which the workers take frames from block rings\n(TPACKET_V3: a block at a time, when full or 1 ms after its first frame: less CPU per frame under load,\nup to 1 ms more latency) until it falls below half of it; 0: frame rings only (docs/performance.md)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler (net/http/pprof) on `host:port`, a loopback address only")
	bgpFlags := addBGPFlags(fs)
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
	if *ringFrames != 0 && (*ringFrames < 16 || *ringFrames > 8192) {
		fmt.Fprintf(stderr, "ulvsd: --ring-frames %d: want 16 to 8192 (or 0 for the default, 256)\n", *ringFrames)
		return 2
	}
	if *blockRings < 0 {
		fmt.Fprintf(stderr, "ulvsd: --block-rings %d: want 0 (off) or a rate in frames a second per worker\n", *blockRings)
		return 2
	}
	if *idlePoll < 0 || *idlePoll > time.Millisecond {
		fmt.Fprintf(stderr, "ulvsd: --idle-poll %v: want 0 to 1ms\n", *idlePoll)
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
	} else if *ifaces == "" {
		fmt.Fprintln(stderr, "ulvsd: need -c FILE or -i IFACE")
		fs.Usage()
		return 2
	}
	bgpCfg, err := bgpFlags.config(file)
	if err != nil {
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		return 2
	}
	opts := options{bgp: bgpCfg, bgpFromFlags: bgpFlags.as != 0, workers: *workers, metrics: *metricsAddr, web: config.Web{Listen: *webAddr}, exitOnLoss: *exitOnLoss, iptablesMarks: *iptMarks, stateFile: *stateFile, pprof: *pprofAddr, ringFrames: *ringFrames, idlePoll: *idlePoll, blockRings: *blockRings}
	switch {
	case *ifaces != "":
		opts.interfaces = strings.Split(*ifaces, ",")
	case file != nil:
		opts.interfaces = file.Interfaces
	}
	if len(opts.interfaces) == 0 {
		// A keepalived.conf names its interface in a vrrp_instance; one
		// without any needs -i.
		fmt.Fprintf(stderr, "ulvsd: %s names no interface to listen on (keepalived.conf: a vrrp_instance's interface); give -i IFACE\n", *cfgPath)
		return 2
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
		if opts.web.Listen == "" {
			opts.web = file.Web
		} else {
			// --web overrides the address only: TLS and users stay the file's.
			opts.web.Cert, opts.web.Key, opts.web.Users = file.Web.Cert, file.Web.Key, file.Web.Users
		}
		if opts.workers == 0 {
			opts.workers = file.Workers
		}
		opts.exitOnLoss = opts.exitOnLoss || file.ExitOnInterfaceLoss
		if opts.stateFile == "" {
			opts.stateFile = file.StateFile
		}
		opts.iptablesMarks = opts.iptablesMarks && !file.NoIptablesMarks
	}
	if *webUsers != "" {
		opts.web.Users = *webUsers
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
	// web is the web console (web.go); Listen "" is off.
	web        config.Web
	pprof      string        // profiler address (pprof.go); "" is off
	ringFrames int           // engine.Config.RingFrames
	idlePoll   time.Duration // engine.Config.IdlePoll
	blockRings int           // engine.Config.BlockRings
	// exitOnLoss ends the daemon when an interface is lost.
	exitOnLoss bool
	// iptablesMarks compiles the namespace's iptables/nft MARK rules
	// into the mark classifier (nfmarks.go).
	iptablesMarks bool
	// stateFile is where the connection table is saved on SIGTERM and
	// restored from at start (state.go); "" is off.
	stateFile string
	// bgp announces the virtual addresses (bgp.go); nil is off.
	bgp *config.BGP
	// bgpFromFlags: bgp came from --bgp-* flags, not the file.
	bgpFromFlags bool
	// readMarks reads them; nil is nfmarks.Read with the nft and
	// iptables-save commands (tests replace it).
	readMarks func(context.Context) ([]nfmarks.Rule, error)
}

// serve runs the daemon until ctx is done.
func serve(ctx context.Context, o options, cfgPath string, file *config.File, log *slog.Logger) error {
	checkHost(log)
	if o.pprof != "" {
		ln, err := listenPprof(o.pprof)
		if err != nil {
			return err
		}
		defer ln.Close()
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			if err := servePprof(pctx, ln, log); err != nil {
				log.Error("pprof", "err", err)
			}
		}()
	}
	timeouts := conntrack.DefaultTimeouts()
	if file != nil {
		if err := timeouts.Set(int(file.Timeouts.TCP), int(file.Timeouts.TCPFin), int(file.Timeouts.UDP)); err != nil {
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
	}
	// Interface changes reach the director (ARP clients, prefixes,
	// routes) and, with exitOnLoss, end the daemon. The engine reports
	// them only once Run started, after dir is set.
	var dir *Director
	var ha *haManager
	lost := make(chan engine.LinkEvent, 1)
	onLink := func(ev engine.LinkEvent) {
		dir.LinkChanged(ev)
		// A vrrp_instance's interface (or track_interface) going down
		// puts it in FAULT, coming back lets it out.
		ha.linkChanged(ev.Name, ev.State == engine.LinkUp)
		if o.exitOnLoss && ev.State != engine.LinkUp {
			select {
			case lost <- ev:
			default:
			}
		}
	}
	eng, err := engine.New(engine.Config{
		Interfaces:    o.interfaces,
		Workers:       o.workers,
		ConnTableSize: o.connTableSize,
		RingFrames:    o.ringFrames,
		IdlePoll:      o.idlePoll,
		BlockRings:    o.blockRings,
		Timeouts:      timeouts,
		Logger:        log,
		OnLink:        onLink,
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	size := o.connTableSize
	if size == 0 {
		size = 4096
	}
	dir, err = New(Config{
		Engine:        eng,
		Interfaces:    o.interfaces,
		ConnTableSize: size,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	// The checker, like keepalived's, changes the table only through the
	// director's edit API; a file (re)load goes through it so that the
	// servers it holds down stay down.
	mon := healthcheck.New(healthcheck.Config{Editor: dir.HealthEditor(), Logger: log})
	dir.SetCheckStatus(mon.Status)
	// Failover first: the addresses of every vrrp_instance are on standby
	// from the first table on, until the instance is master here.
	// With a file, the failover manager always runs, so that a reload can
	// add instances to a director that had none.
	if file != nil {
		if ha, err = newHA(dir, eng.AnnounceAddrs, eng.SendFrame, file.VRRP, file.VRRPSyncGroups, file.Pulse, log); err != nil {
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
		ha.warnUnwatched(o.interfaces)
		if err := ha.checkPulseLinks(o.interfaces); err != nil {
			ha.close()
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
		ha.linksDown = func() []string {
			var down []string
			for _, l := range eng.Links() {
				if l.State != engine.LinkUp {
					down = append(down, l.Name)
				}
			}
			return down
		}
		dir.SetHAStatus(ha.Status)
		// keepalived's lvs_sync_daemon follows its instance: master sends,
		// backup receives.
		ha.onRole = func(instance string, master bool) {
			if !dir.syncFollows(instance) {
				return
			}
			if err := dir.SetSyncRole(master); err != nil {
				log.Error("lvs_sync_daemon: role change", "vrrp_instance", instance, "master", master, "err", err)
			}
		}
	}
	// The iptables/nft marks are read before the file's services go in,
	// so that a fwmark service is warned about only when no rule marks
	// for it.
	var marks *markWatcher
	if o.iptablesMarks {
		read := o.readMarks
		if read == nil {
			read = func(ctx context.Context) ([]nfmarks.Rule, error) { return nfmarks.Read(ctx, nil) }
		}
		marks = &markWatcher{dir: dir, read: read, log: log}
		marks.once(ctx)
	} else {
		log.Info("iptables/nft marks are not read (iptables_marks = false or -iptables-marks=false): fwmark services use the file's [[fwmark]] tables only")
	}
	if file != nil {
		logWarnings(file, log)
		if err := mon.Load(file, installer(dir, file)); err != nil {
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
		if file.Sync != nil {
			// lvs_sync_daemon starts as backup; the VRRP instance it
			// follows switches it (SetSyncRole).
			if err := dir.ConfigureSync(file.Sync); err != nil {
				return fmt.Errorf("%s: lvs_sync_daemon: %w", cfgPath, err)
			}
		}
	}
	ln, err := ctl.Listen(o.socket)
	if err != nil {
		return err
	}
	defer os.Remove(o.socket)
	bgpr := &bgpRunner{dir: dir, eng: eng, log: log, fromFlags: o.bgpFromFlags}
	bgpReloadCheck := func(f *config.File) { bgpr.reload(f.BGP) }
	sv := &saver{Director: dir, cfgPath: cfgPath, opts: o, log: log, configured: mon.Configured,
		reload: func() ([]string, error) { return reloadFile(cfgPath, dir, mon, ha, log, bgpReloadCheck) }}
	var console *webConsole
	if o.web.Listen != "" {
		if console, err = newWebConsole(o.web, sv, cfgPath, log); err != nil {
			return err
		}
	}
	var mln net.Listener
	if o.metrics != "" {
		if mln, err = listenMetrics(o.metrics); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The engine stops after the others, once its table is saved.
	engCtx, engCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer engCancel()
	done := make(chan error, 4)
	go func() { done <- eng.Run(engCtx) }()
	if o.stateFile != "" {
		loadState(o.stateFile, eng, log)
	}
	go func() { done <- dir.Run(ctx) }()
	go func() { done <- mon.Run(ctx) }()
	go func() {
		done <- ctl.Serve(ctx, ln, sv, log)
	}()
	go announceAgain(ctx, eng)
	go dir.runRates(ctx)
	if marks != nil {
		go marks.run(ctx, NetfilterMarksInterval)
	}
	running := 4
	if ha != nil {
		running++
		go func() { done <- ha.Run(ctx) }()
	}
	if console != nil {
		running++
		go func() { done <- console.serve(ctx) }()
	}
	if mln != nil {
		running++
		go func() { done <- serveMetrics(ctx, mln, dir, log) }()
	}
	if err := bgpr.start(ctx, o.bgp); err != nil {
		cancel()
		engCancel()
		for ; running > 0; running-- {
			<-done
		}
		return err
	}
	log.Info("ulvsd running", "interfaces", strings.Join(o.interfaces, ","), "socket", o.socket, "services", len(dir.Rules().Services))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var firstErr error
	for running > 0 {
		select {
		case ev := <-lost:
			if firstErr == nil {
				firstErr = fmt.Errorf("interface %s lost (%s) and exit on interface loss is set", ev.Name, ev.Reason)
			}
			log.Error("exiting: an interface is lost and exit on interface loss is set", "interface", ev.Name, "reason", ev.Reason)
			cancel()
		case <-hup:
			if cfgPath == "" {
				log.Info("SIGHUP ignored: no configuration file")
				continue
			}
			reload(cfgPath, dir, mon, ha, log, bgpReloadCheck)
		case err := <-done:
			running--
			if err != nil && !errors.Is(err, context.Canceled) && firstErr == nil {
				firstErr = err
				log.Error("stopping", "err", err)
			}
			cancel()
		case <-ctx.Done():
			// Withdraw first and keep forwarding while the routers
			// move the flows to the other directors.
			bgpr.shutdown()
			if o.stateFile != "" {
				saveState(o.stateFile, eng, log)
			}
			engCancel()
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
func reload(path string, dir *Director, mon *healthcheck.Monitor, ha *haManager, log *slog.Logger, check func(*config.File)) {
	if _, err := reloadFile(path, dir, mon, ha, log, check); err != nil {
		log.Error("reload failed, keeping the running configuration", "file", path, "err", err)
	}
}

// reloadFile is SIGHUP's reload, also run after the web console wrote
// the file: it applies the file's rules, health checks, failover, timeouts
// and sync daemon, and returns the parts that failed to apply (each also
// logged) as notes; an error means the file's rules were not applied and
// the running configuration stays. check, when not nil, sees the loaded
// file first (it applies the file's [bgp] to the speaker).
func reloadFile(path string, dir *Director, mon *healthcheck.Monitor, ha *haManager, log *slog.Logger, check func(*config.File)) ([]string, error) {
	f, err := load.File(path)
	if err != nil {
		return nil, err
	}
	if check != nil {
		check(f)
	}
	logWarnings(f, log)
	var notes []string
	note := func(what string, err error) {
		log.Error("reload: "+what, "file", path, "err", err)
		notes = append(notes, what+": "+err.Error())
	}
	if err := ha.Reload(f.VRRP, f.VRRPSyncGroups, f.Pulse); err != nil {
		note("failover", err)
	}
	if err := mon.Load(f, installer(dir, f)); err != nil {
		return notes, err
	}
	if err := dir.SetTimeouts(f.Timeouts); err != nil {
		note("timeouts", err)
	}
	if changed, err := dir.reloadSync(f.Sync); err != nil {
		note("lvs_sync_daemon", err)
	} else if changed && f.Sync != nil && ha.isMaster(f.Sync.Instance) {
		if err := dir.SetSyncRole(true); err != nil {
			note("lvs_sync_daemon", err)
		}
		log.Info("reload: lvs_sync_daemon changed, restarted as master (its vrrp_instance is master)")
	} else if changed {
		log.Info("reload: lvs_sync_daemon changed, restarted as backup")
	}
	log.Info("reloaded", "file", path, "services", len(f.Rules.Services))
	return notes, nil
}

// installer returns the function the health-check monitor installs a
// file's rules with (the checks' verdicts applied): the director's
// SetConfig with the file's marks and knobs.
func installer(dir *Director, f *config.File) func(config.Rules) error {
	return func(r config.Rules) error { return dir.SetConfig(r, f.Marks, f.Knobs) }
}

// logWarnings logs what the file asked for that ulvsd does not act on.
func logWarnings(f *config.File, log *slog.Logger) {
	for _, w := range f.Warnings {
		log.Warn(w.String())
	}
	if len(f.VRRP) == 0 && f.Pulse == nil {
		return
	}
	for _, vh := range f.Health {
		if vh.HASuspend {
			// keepalived suspends these checks while its instance is
			// backup; ulvs keeps running them.
			log.Warn("ha_suspend is not run by ulvs: the checks of this virtual server keep running while this director is a failover backup",
				"file", f.Path, "vs", healthcheck.FormatVS(vh.Service))
		}
	}
}

// defaultBlockRings is --block-rings' default: above 100,000 frames a
// second a worker's frame ring costs it and the senders a wake-up every
// frame or two, where a block ring costs far less; the bench's HTTP
// tests stay below it, a packet flood goes above (docs/performance.md).
const defaultBlockRings = 100000

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
