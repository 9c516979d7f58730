package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/lab"
)

const labUsage = `Usage: ulvs lab COMMAND [options]

The lab is a set of network namespaces on this machine, joined by veth pairs
to a bridge: P-client (10.77.0.10), P-director (10.77.0.2 on d-eth0, no
VIP) and real servers P-rs1.., each answering HTTP and UDP on port 80 with
its name. The VIP is 10.77.0.100. --mode picks the topology of one LVS
forwarding method:
  dr       (default) one bridge; real servers 10.77.0.11.. with the VIP on
           lo, arp_ignore=1, arp_announce=2
  tun      one bridge; real servers 10.77.0.11.. run "ulvs realserver up
           --mode tun" (IPIP decapsulation, the VIP on its device)
  nat      the real servers 10.77.1.11.. on an inside bridge with the
           director's d-eth1 10.77.1.1, their default gateway; the client
           cannot reach them directly
  fullnat  like nat without the default route; the director's local
           addresses 10.77.1.200, 10.77.1.201 are on their subnet
The root namespace's interfaces are never touched. Needs root.

Commands:
  up   [--name P] [--mode M] [--real-servers N] [--offloads-off] [--ipv6]
       [--backup]
         build lab P (default "ulvs") and start a server in each real server;
         --ipv6: dual-stack (docs/ipv6.md); --backup: a second director,
         director2 (10.77.0.3; nat: 10.77.1.2 inside, and the real servers
         route through the floating gateway 10.77.1.254, and fe80::1 with
         --ipv6, that the pair's vrrp_instance carries: docs/ha.md)
  down [--name P]
         stop lab P's servers and delete its namespaces
  exec [--name P] NODE CMD [ARG...]
         run CMD inside NODE: client, director, director2, sw, rs1, rs2, ...
  demo [--mode M] [--offloads-off] [--ipv6]
         a fresh lab, ulvsd with the mode's example config (examples/*.toml),
         six requests from the client to http://10.77.0.100/, ulvsadm -L -n,
         then teardown; --ipv6: a dual-stack lab, the same over IPv6 to
         http://[2001:db8:77::100]/ (DR, NAT66, FULLNAT or ip6ip6)
  scale [--directors N] [--kill kill|stop|term] [--flows F] [--phase D]
         scale-out (docs/scale-out.md): a fresh lab of its own, a client, a
         router running BIRD 2 that spreads the VIP 10.79.0.100 over N
         ulvsd directors by ECMP (each announcing it over BGP), shared DR
         real servers; long-lived downloads and new connections while the
         last director is killed and started again; then teardown
  trace [--mode M] [--write FILE.pcapng]
         seed 003's exercises, NAT, TUN and DR (or only M), as guided runs:
         a fresh lab, ulvsd, and the director's trace of one HTTP request
         (and of a SYN to a port with no service), line by line; --write
         saves each run's frames as FILE-MODE.pcapng

Example (the seed's DR workflow):
  ulvs lab up
  ulvs lab exec director ulvs ulvsd -i d-eth0 --socket /run/ulvs/lab.sock &
  ulvs ulvsadm -A -t 10.77.0.100:80 -s rr --socket /run/ulvs/lab.sock
  ulvs ulvsadm -a -t 10.77.0.100:80 -r 10.77.0.11:80 -g --socket /run/ulvs/lab.sock
  ulvs ulvsadm -a -t 10.77.0.100:80 -r 10.77.0.12:80 -g --socket /run/ulvs/lab.sock
  for i in 1 2 3 4 5 6; do ulvs lab exec client curl -s 10.77.0.100; done
  ulvs lab down
`

// defaultLabName is the prefix of the lab that up, down and exec use
// without --name.
const defaultLabName = "ulvs"

func labMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "up":
		var o upOptions
		if o, err = parseUp(args[1:], stderr); err == nil {
			err = labUp(o, stdout)
		}
	case "down":
		var name string
		if name, err = parseDown(args[1:], stderr); err == nil {
			err = labDown(name, stdout)
		}
	case "exec":
		var o execOptions
		if o, err = parseExec(args[1:], stderr); err == nil {
			return labExec(o, stderr)
		}
	case "serve":
		var o serveOptions
		if o, err = parseServe(args[1:], stderr); err == nil {
			err = labServe(o, stderr)
		}
	case "demo":
		var o demoOptions
		if o, err = parseDemo(args[1:], stderr); err == nil {
			err = labDemo(o, stdout, stderr)
		}
	case "scale":
		var o scaleOptions
		if o, err = parseScale(args[1:], stderr); err == nil {
			err = labScale(o, stdout)
		}
	case "trace":
		var mode, write string
		if mode, write, err = parseLabTrace(args[1:], stderr); err == nil {
			err = labTraceStep(mode, write, stdout, stderr)
		}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, labUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "ulvs lab: unknown command %q\n\n%s", args[0], labUsage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "ulvs lab %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks command-line mistakes (exit code 2); the flag set has
// already printed what was wrong.
var errUsage = errors.New("usage")

// newFlags returns a flag set that reports to stderr and prints the lab
// usage for -h.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ulvs lab "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, labUsage)
	}
	return fs
}

// parseFlags parses args and maps every failure but -h to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func usageErr(stderr io.Writer, format string, a ...any) error {
	fmt.Fprintf(stderr, format+"\n", a...)
	return errUsage
}

func checkName(stderr io.Writer, name string) error {
	if !lab.ValidPrefix(name) {
		return usageErr(stderr, "ulvs lab: --name %q: want 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
	return nil
}

type upOptions struct {
	name        string
	mode        string
	realServers int
	offloadsOff bool
	ipv6        bool
	backup      bool
}

// modeFlag registers --mode on fs: one of lab.Modes. Without the flag
// *mode keeps its value (lab.Config reads "" as dr).
func modeFlag(fs *flag.FlagSet, mode *string) {
	fs.Func("mode", "lab `mode`: "+strings.Join(lab.Modes(), ", ")+" (default dr)", func(s string) error {
		if !lab.ValidMode(s) {
			return fmt.Errorf("want one of %s", strings.Join(lab.Modes(), ", "))
		}
		*mode = s
		return nil
	})
}

func parseUp(args []string, stderr io.Writer) (upOptions, error) {
	var o upOptions
	fs := newFlags("up", stderr)
	fs.StringVar(&o.name, "name", defaultLabName, "lab `prefix`")
	modeFlag(fs, &o.mode)
	fs.IntVar(&o.realServers, "real-servers", 2, "number of real servers")
	fs.BoolVar(&o.offloadsOff, "offloads-off", false, "turn off veth checksum/TSO/GSO/GRO offloads")
	fs.BoolVar(&o.ipv6, "ipv6", false, "dual-stack lab (every mode): IPv6 addresses too (docs/ipv6.md)")
	fs.BoolVar(&o.backup, "backup", false, "a second director, director2, for a failover pair (nat: the real servers route through floating gateways; docs/ha.md)")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageErr(stderr, "ulvs lab up: unexpected argument %q", fs.Arg(0))
	}
	if o.realServers < 1 || o.realServers > lab.MaxRealServers {
		return o, usageErr(stderr, "ulvs lab up: --real-servers %d: want 1..%d", o.realServers, lab.MaxRealServers)
	}
	return o, checkName(stderr, o.name)
}

func parseDown(args []string, stderr io.Writer) (string, error) {
	fs := newFlags("down", stderr)
	name := fs.String("name", defaultLabName, "lab `prefix`")
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", usageErr(stderr, "ulvs lab down: unexpected argument %q", fs.Arg(0))
	}
	return *name, checkName(stderr, *name)
}

type execOptions struct {
	name string
	node string
	cmd  []string
}

var nodeRE = regexp.MustCompile(`^(sw|client|director2?|rs[1-9][0-9]*)$`)

func parseExec(args []string, stderr io.Writer) (execOptions, error) {
	var o execOptions
	fs := newFlags("exec", stderr)
	fs.StringVar(&o.name, "name", defaultLabName, "lab `prefix`")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() < 2 {
		return o, usageErr(stderr, "ulvs lab exec: want NODE CMD [ARG...]")
	}
	o.node, o.cmd = fs.Arg(0), fs.Args()[1:]
	if !nodeRE.MatchString(o.node) {
		return o, usageErr(stderr, "ulvs lab exec: node %q: want client, director, director2, sw or rsN", o.node)
	}
	return o, checkName(stderr, o.name)
}

type serveOptions struct {
	name string // the server's name, rsN
	lab  string // the lab it belongs to; only marks the command line
	addr string
	ipv6 bool // also listen on IPv6
}

func parseServe(args []string, stderr io.Writer) (serveOptions, error) {
	var o serveOptions
	fs := newFlags("serve", stderr)
	fs.StringVar(&o.name, "name", "", "server `name` it answers with")
	fs.StringVar(&o.lab, "lab", "", "lab `prefix` (only marks the process)")
	fs.StringVar(&o.addr, "addr", ":80", "TCP and UDP listen `address`")
	fs.BoolVar(&o.ipv6, "ipv6", false, "also listen on IPv6 ([::] and the --addr port)")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageErr(stderr, "ulvs lab serve: unexpected argument %q", fs.Arg(0))
	}
	if o.name == "" {
		return o, usageErr(stderr, "ulvs lab serve: --name is required")
	}
	return o, nil
}

type demoOptions struct {
	mode        string
	offloadsOff bool
	ipv6        bool // the story over IPv6, in a dual-stack lab
}

func parseDemo(args []string, stderr io.Writer) (demoOptions, error) {
	var o demoOptions
	fs := newFlags("demo", stderr)
	o.mode = lab.ModeDR
	modeFlag(fs, &o.mode)
	fs.BoolVar(&o.offloadsOff, "offloads-off", false, "turn off veth offloads")
	fs.BoolVar(&o.ipv6, "ipv6", false, "the demo over IPv6: a dual-stack lab, the service on its IPv6 VIP (DR, NAT66, FULLNAT fnat66 or ip6ip6 by --mode)")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageErr(stderr, "ulvs lab demo: unexpected argument %q", fs.Arg(0))
	}
	if _, err := lab.DemoConfig(o.mode); err != nil {
		return o, usageErr(stderr, "ulvs lab demo: %v", err)
	}
	return o, nil
}

// needRoot fails early with a plain message instead of a failed `ip`.
func needRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("the lab creates network namespaces: run as root")
	}
	return nil
}

func labUp(o upOptions, stdout io.Writer) error {
	if err := needRoot(); err != nil {
		return err
	}
	statePath := lab.StatePath(lab.StateDir, o.name)
	if _, err := os.Stat(statePath); err == nil {
		return fmt.Errorf("lab %s is up already (%s); remove it with: ulvs lab down --name %s", o.name, statePath, o.name)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// A tun lab's decapsulators must outlive this process: they run as
	// `ulvs realserver up` processes, recorded with the servers.
	l, err := lab.Up(ctx, lab.Config{Prefix: o.name, Mode: o.mode, RealServers: o.realServers,
		OffloadsOff: o.offloadsOff, ExternalDecap: true, IPv6: o.ipv6, Backup: o.backup})
	if err != nil {
		if errors.Is(err, lab.ErrNotSupported) {
			err = fmt.Errorf("%w (install iproute2: scripts/setup-host.sh)", err)
		}
		return err
	}
	st := &lab.State{Lab: l}
	ok := false
	defer func() {
		if !ok {
			for _, p := range st.Processes {
				p.Stop(2 * time.Second)
			}
			l.Down()
		}
	}()
	for i := range l.RS {
		p, err := startServer(l, i, self)
		if err != nil {
			return err
		}
		st.Processes = append(st.Processes, p)
	}
	if err := waitServers(ctx, l, st.Processes); err != nil {
		return err
	}
	if l.Mode == lab.ModeTUN {
		for i := range l.RS {
			p, err := startDecap(ctx, l, i, self)
			if err != nil {
				return err
			}
			st.Processes = append(st.Processes, p)
		}
	}
	if err := lab.WriteState(statePath, st); err != nil {
		return err
	}
	ok = true
	printLab(stdout, st)
	return nil
}

// startServer starts `ulvs lab serve` inside real server i, detached (its
// own session) with output to a log file next to the state file.
func startServer(l *lab.Lab, i int, self string) (lab.Process, error) {
	name := fmt.Sprintf("rs%d", i+1)
	args := []string{self, "lab", "serve", "--name", name, "--lab", l.Prefix}
	if l.VIP6.IsValid() {
		args = append(args, "--ipv6")
	}
	logPath := filepath.Join(lab.StateDir, l.Prefix+"-"+name+".log")
	if err := os.MkdirAll(lab.StateDir, 0o755); err != nil {
		return lab.Process{}, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return lab.Process{}, err
	}
	defer f.Close()
	// `ip netns exec` execs the command in place, so the PID it starts
	// with is the server's PID and its cmdline becomes args.
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.RS[i].Name}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return lab.Process{}, fmt.Errorf("start server %s: %w", name, err)
	}
	p := lab.Process{Node: name, PID: cmd.Process.Pid, Args: args, Log: logPath}
	// Reap it if it dies while we still run; after we exit, init does.
	go cmd.Wait()
	return p, nil
}

// startDecap starts `ulvs realserver up --mode tun` inside real server i,
// detached like startServer, and waits until it reports that the real
// server is prepared (the readiness pipe of `ulvs realserver up --detach`).
// SIGTERM makes it undo its changes and exit.
func startDecap(ctx context.Context, l *lab.Lab, i int, self string) (lab.Process, error) {
	node := fmt.Sprintf("rs%d", i+1)
	cfg := l.DecapConfig(i)
	args := []string{self, "realserver", "up", "--mode", cfg.Mode.String(), "--vip", joinAddrs(cfg.VIPs),
		"--iface", cfg.Iface, "--decap", cfg.Decap.String(), "--name", cfg.Name}
	logPath := filepath.Join(lab.StateDir, l.Prefix+"-"+node+"-realserver.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return lab.Process{}, err
	}
	defer f.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return lab.Process{}, err
	}
	defer pr.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.RS[i].Name}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.ExtraFiles = []*os.File{pw} // fd 3, kept across ip's exec
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return lab.Process{}, fmt.Errorf("start decapsulator %s: %w", node, err)
	}
	p := lab.Process{Node: node, PID: cmd.Process.Pid, Args: args, Log: logPath}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(pr).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s == "ok" {
			return p, nil
		}
		<-exited
		return p, fmt.Errorf("realserver up in %s: %s; log: %s", node, strings.TrimPrefix(s, "error: "), tail(logPath))
	case <-time.After(30 * time.Second):
		p.Stop(2 * time.Second)
		return p, fmt.Errorf("realserver up in %s did not report within 30s; log: %s", node, tail(logPath))
	case <-ctx.Done():
		p.Stop(2 * time.Second)
		return p, context.Cause(ctx)
	}
}

// waitServers waits until every real server answers HTTP with its name
// from the node that reaches it directly (the client on a flat lab, the
// director with an inside network), which checks the lab end to end.
func waitServers(ctx context.Context, l *lab.Lab, procs []lab.Process) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := l.DirectNS().HTTPClient()
	c.Timeout = time.Second
	for i, rip := range l.RIPs {
		want := fmt.Sprintf("rs%d\n", i+1)
		for {
			got, err := httpGet(ctx, c, "http://"+rip.String()+"/")
			if err == nil && got == want {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("server rs%d at %s did not answer (last: %q, %v); log: %s",
					i+1, rip, got, err, tail(procs[i].Log))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func httpGet(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %s", resp.Status)
	}
	return string(b), err
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func printLab(w io.Writer, st *lab.State) {
	l := st.Lab
	name := l.Prefix
	fmt.Fprintf(w, "lab %s is up, mode %s (state: %s)\n", name, l.Mode, lab.StatePath(lab.StateDir, name))
	inside := l.DirectorInsideIface != ""
	if inside {
		fmt.Fprintf(w, "  %-8s %-22s br0 (outside), br1 (inside)\n", "sw", l.Switch.Name)
	} else {
		fmt.Fprintf(w, "  %-8s %-22s br0\n", "sw", l.Switch.Name)
	}
	fmt.Fprintf(w, "  %-8s %-22s c-eth0 %s/24\n", "client", l.Client.Name, l.ClientAddr)
	ifaces := l.DirectorIface
	if inside {
		ifaces += "," + l.DirectorInsideIface
		fmt.Fprintf(w, "  %-8s %-22s %s %s/24, %s %s/24 (no VIP: ulvsd answers for %s)\n", "director", l.Director.Name,
			l.DirectorIface, l.DIP, l.DirectorInsideIface, l.InsideDIP, l.VIP)
	} else {
		fmt.Fprintf(w, "  %-8s %-22s %s %s/24 (no VIP: ulvsd answers for %s)\n", "director", l.Director.Name, l.DirectorIface, l.DIP, l.VIP)
	}
	if l.Backup.Name != "" {
		if inside {
			fmt.Fprintf(w, "  %-8s %-22s %s %s/24, %s %s/24 (the backup of a failover pair)\n", "director2", l.Backup.Name,
				l.DirectorIface, l.BackupDIP, l.DirectorInsideIface, l.BackupInsideDIP)
		} else {
			fmt.Fprintf(w, "  %-8s %-22s %s %s/24 (the backup of a failover pair)\n", "director2", l.Backup.Name, l.DirectorIface, l.BackupDIP)
		}
	}
	if len(l.LocalAddrs) > 0 {
		fmt.Fprintf(w, "  %-8s %-22s %s (ulvsd answers for them on %s)\n", "local", "", joinAddrs(l.LocalAddrs), l.DirectorInsideIface)
	}
	for i, rs := range l.RS {
		node := fmt.Sprintf("rs%d", i+1)
		var role string
		switch l.Mode {
		case lab.ModeNAT:
			role = "default via " + l.InsideDIP.String()
			if l.Gateway.IsValid() {
				role = "default via " + l.Gateway.String() + " (floating: the failover instance's)"
			}
		case lab.ModeFullNAT:
			role = "no route beyond its subnet"
		case lab.ModeTUN:
			role = fmt.Sprintf("VIP %s on the IPIP decapsulator's device", l.VIP)
		default:
			role = fmt.Sprintf("VIP %s/32 on lo", l.VIP)
		}
		fmt.Fprintf(w, "  %-8s %-22s %s %s/24, %s, HTTP+UDP :80", node, rs.Name, lab.RSIface(i), l.RIPs[i], role)
		for _, p := range st.Processes {
			if p.Node == node {
				fmt.Fprintf(w, " (pid %d)", p.PID)
			}
		}
		fmt.Fprintln(w)
	}
	n := ""
	if name != defaultLabName {
		n = " --name " + name
	}
	sock := "/run/ulvs/" + name + ".sock"
	method := map[string]string{lab.ModeDR: "-g", lab.ModeTUN: "-i", lab.ModeNAT: "-m", lab.ModeFullNAT: "--fullnat"}[l.Mode]
	if l.VIP6.IsValid() {
		rips6 := make([]string, len(l.RIPs6))
		for i, a := range l.RIPs6 {
			rips6[i] = a.String()
		}
		fmt.Fprintf(w, "  IPv6: client %s, director %s, VIP %s, real servers %s (docs/ipv6.md)\n",
			l.ClientAddr6, l.DIP6, l.VIP6, strings.Join(rips6, " "))
		if l.BackupDIP6.IsValid() {
			fmt.Fprintf(w, "  IPv6: director2 %s", l.BackupDIP6)
			if l.BackupInsideDIP6.IsValid() {
				fmt.Fprintf(w, ", %s inside", l.BackupInsideDIP6)
			}
			fmt.Fprintln(w)
		}
		if l.Gateway6.IsValid() {
			fmt.Fprintf(w, "  IPv6: the real servers route through %s (floating: a VRRPv3 instance on %s carries it)\n",
				l.Gateway6, l.DirectorInsideIface)
		}
		if len(l.LocalAddrs6) > 0 {
			fmt.Fprintf(w, "  IPv6 local addresses %s (ulvsd answers for them on %s)\n", joinAddrs(l.LocalAddrs6), l.DirectorInsideIface)
		}
	}
	fmt.Fprintf(w, "Next:\n")
	if l.Mode == lab.ModeFullNAT {
		// ulvsadm cannot set local addresses: the example config does.
		fmt.Fprintf(w, "  ulvs lab exec%[1]s director ulvs ulvsd -c examples/fullnat.toml --socket %[2]s &\n", n, sock)
	} else {
		fmt.Fprintf(w, `  ulvs lab exec%[1]s director ulvs ulvsd -i %[2]s --socket %[3]s &
  ulvs ulvsadm -A -t %[4]s:80 -s rr --socket %[3]s
  ulvs ulvsadm -a -t %[4]s:80 -r %[5]s:80 %[6]s --socket %[3]s
`, n, ifaces, sock, l.VIP, l.RIPs[0], method)
	}
	if l.VIP6.IsValid() {
		fmt.Fprintf(w, `  ulvs ulvsadm -A -t [%[2]s]:80 -s rr --socket %[1]s
  ulvs ulvsadm -a -t [%[2]s]:80 -r [%[3]s]:80 %[4]s --socket %[1]s
  ulvs lab exec%[5]s client curl -6 -s http://[%[2]s]/
`, sock, l.VIP6, l.RIPs6[0], method, n)
	}
	if l.Backup.Name != "" {
		fmt.Fprintf(w, "  (a failover pair: ulvsd in director and director2, each with a keepalived.conf whose vrrp_instance carries the VIPs and, nat, the floating gateways: docs/ha.md)\n")
	}
	fmt.Fprintf(w, `  ulvs lab exec%[1]s client curl -s http://%[2]s/
  ulvs lab down%[1]s
`, n, l.VIP)
}

func labDown(name string, stdout io.Writer) error {
	if err := needRoot(); err != nil {
		return err
	}
	if err := lab.Remove(lab.StateDir, name); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lab %s is down\n", name)
	return nil
}

// labExec runs a command in a lab node with stdio passed through and
// returns its exit code (128+N when a signal N ended it).
func labExec(o execOptions, stderr io.Writer) int {
	ns := lab.NS{Name: o.name + "-" + o.node}
	if !ns.Exists() {
		fmt.Fprintf(stderr, "ulvs lab exec: lab %s has no node %s (namespace %s); is it up? ulvs lab up --name %s\n",
			o.name, o.node, ns.Name, o.name)
		return 1
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, o.cmd...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Forward what a script or supervisor sends us (kill PID, SIGHUP to
	// reload ulvsd). SIGINT and SIGQUIT from a terminal reach the child
	// directly (same process group), so they are only kept from ending
	// us before the child.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, os.Interrupt, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "ulvs lab exec: %v\n", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s != os.Interrupt && s != syscall.SIGQUIT {
					cmd.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	return exitCode(err, stderr)
}

// exitCode maps a child's end to our exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintf(stderr, "ulvs lab exec: %v\n", err)
	return 1
}

// labServe runs the real-server servers in the current namespace until
// SIGTERM or SIGINT: what `ulvs lab up` starts in each real server.
func labServe(o serveOptions, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp4", o.addr)
	if err != nil {
		return err
	}
	pc, err := lc.ListenPacket(ctx, "udp4", o.addr)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(stderr, "ulvs lab serve: %s on tcp %s and udp %s\n", o.name, ln.Addr(), pc.LocalAddr())
	if !o.ipv6 {
		return lab.Serve(ctx, o.name, ln, pc)
	}
	_, port, err := net.SplitHostPort(o.addr)
	if err != nil {
		return err
	}
	ln6, err := lc.Listen(ctx, "tcp6", net.JoinHostPort("::", port))
	if err != nil {
		return err
	}
	pc6, err := lc.ListenPacket(ctx, "udp6", net.JoinHostPort("::", port))
	if err != nil {
		ln6.Close()
		return err
	}
	fmt.Fprintf(stderr, "ulvs lab serve: %s on tcp %s and udp %s\n", o.name, ln6.Addr(), pc6.LocalAddr())
	errc := make(chan error, 1)
	go func() { errc <- lab.Serve(ctx, o.name, ln6, pc6) }()
	return errors.Join(lab.Serve(ctx, o.name, ln, pc), <-errc)
}

// parseLabTrace parses `ulvs lab trace [--mode M] [--write FILE]`; no
// mode means nat, tun and dr in turn.
func parseLabTrace(args []string, stderr io.Writer) (mode, write string, err error) {
	fs := newFlags("trace", stderr)
	fs.StringVar(&mode, "mode", "", "one mode: nat, tun or dr (default all three)")
	fs.StringVar(&write, "write", "", "write each run's frames to FILE-MODE.pcapng")
	if err := parseFlags(fs, args); err != nil {
		return "", "", err
	}
	if fs.NArg() > 0 {
		return "", "", usageErr(stderr, "ulvs lab trace: unexpected argument %q", fs.Arg(0))
	}
	switch mode {
	case "", lab.ModeNAT, lab.ModeTUN, lab.ModeDR:
	default:
		return "", "", usageErr(stderr, "ulvs lab trace --mode %q: want nat, tun or dr (seed 003's exercises)", mode)
	}
	return mode, write, nil
}
