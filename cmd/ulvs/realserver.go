package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/realserver"
)

const realserverUsage = `Usage: ulvs realserver COMMAND [options]

Prepare this host (the network namespace ulvs runs in) as an LVS real
server, as the seeds' realserver.sh does, and undo exactly that. Needs root.

Commands:
  up --mode dr|tun --vip ADDR[,ADDR...] [--iface IF] [--name NAME]
     [--decap auto|kernel|user|tcx] [--tun-name DEV] [--gateway GW] [--detach]
  up --mode nat --gateway DIRECTOR_INSIDE_IP [--name NAME]
  up --conf lvs_dr.conf [--net-device DEV] [--name NAME] [--decap ...] [--detach]
       dr:  the VIPs on lo, arp_ignore=1 and arp_announce=2 (all, lo); an
            IPv6 VIP goes on lo as a /128 and needs no sysctl (Linux
            answers neighbour solicitations only for addresses of the
            receiving interface).
       tun: the same ARP settings and IPIP decapsulation: the kernel's
            tunl0 with the VIPs and rp_filter=0 when the kernel has ipip
            and every VIP is IPv4; otherwise a userspace decapsulator
            (capture on --iface, default the default route's interface, of
            IPIP, IPv6 in IPv4, ip6ip6 and IPv4 in IPv6; inner packets
            injected through TUN device --tun-name, default ulvs-tun0, which
            holds the VIPs, IPv6 ones as /128, with rp_filter=2; nftables
            tables ip and ip6 ulvs_decap drop the kernel's unreachable and
            parameter-problem replies to protocols 4 and 41), and where the
            kernel takes a tcx program (6.6 and later) and a VIP is IPv4, an
            eBPF program at --iface's ingress that decapsulates plain IPIP to
            the IPv4 VIPs in the kernel, leaving the decapsulator the rest
            (--decap tcx asks for it and fails without it; --decap user
            leaves it out). It runs in the foreground until SIGTERM/SIGINT,
            then undoes everything; --detach runs it in the background
            instead.
       nat: only the default route via --gateway (the director).
       --gateway: the default route (restored by down).
       --conf: the real-server part of an LVS configure-script file
            (lvs_dr.conf, lvs_tun.conf, lvs_nat.conf), as its rc.lvs did on
            a real server: LVS_TYPE gives the mode, VIP the address,
            SERVER_VIP_DEVICE where it goes (lo, lo:0, dummy0, tunl0),
            SERVER_NET_DEVICE the network device (its ARP sysctls, the
            default route, TUN's capture interface; --net-device overrides
            it where the real servers' device names differ), SERVER_GW the
            default route (VS_NAT: DIRECTOR_INSIDEIP when SERVER_GW is not
            set). Down restores the old default route.
  down [--name NAME]
       stop the decapsulator if one runs, undo every change up recorded.
  status [--name NAME]
       what up changed, the decapsulator process and its counters.

NAME (default: the network namespace's name, or "default") names the state
file /run/ulvs/realserver/NAME.json (--state-dir changes the directory).
`

// readyFDEnv tells a detached child which descriptor reports readiness.
const readyFDEnv = "ULVS_REALSERVER_READY_FD"

type rsOptions struct {
	cfg    realserver.Config
	detach bool
}

func realserverMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, realserverUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "up":
		var o rsOptions
		if o, err = rsParseUp(args[1:], stderr); err != nil {
			break
		}
		if o.detach {
			err = rsDetach(args[1:], o, stdout)
		} else {
			err = rsUp(o, stdout, stderr)
		}
	case "down":
		var name, dir string
		if name, dir, err = rsParseName("down", args[1:], stderr); err == nil {
			log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			err = realserver.Down(context.Background(), realserver.DownConfig{Name: name, StateDir: dir, Logger: log})
		}
	case "status":
		var name, dir string
		if name, dir, err = rsParseName("status", args[1:], stderr); err == nil {
			err = rsStatus(name, dir, stdout)
		}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, realserverUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "ulvs realserver: unknown command %q\n\n%s", args[0], realserverUsage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ulvs realserver %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func rsParseUp(args []string, stderr io.Writer) (rsOptions, error) {
	var o rsOptions
	fs := flag.NewFlagSet("ulvs realserver up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "", "dr, tun or nat")
	decap := fs.String("decap", "auto", "tun: auto, kernel (tunl0), user (userspace decapsulator) or tcx (the decapsulator with the tcx program)")
	fs.Func("vip", "virtual address(es), comma-separated; repeatable (IPv6 in dr mode only)", func(s string) error {
		for _, f := range strings.Split(s, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(f))
			if err != nil {
				return err
			}
			o.cfg.VIPs = append(o.cfg.VIPs, a)
		}
		return nil
	})
	fs.Func("gateway", "the default route's gateway (nat: the director's inside address)", func(s string) error {
		a, err := netip.ParseAddr(s)
		o.cfg.Gateway = a
		return err
	})
	fs.StringVar(&o.cfg.Iface, "iface", "", "tun: interface IPIP arrives on (default: the default route's)")
	fs.StringVar(&o.cfg.TunName, "tun-name", realserver.DefaultTunName, "tun: the decapsulator's TUN device")
	fs.StringVar(&o.cfg.Name, "name", "", "state name (default: the netns name or \"default\")")
	fs.StringVar(&o.cfg.StateDir, "state-dir", realserver.DefaultStateDir, "state directory")
	fs.BoolVar(&o.detach, "detach", false, "tun: run the decapsulator in the background")
	conf := fs.String("conf", "", "an LVS configure-script file (lvs_dr.conf): its real-server part")
	netDev := fs.String("net-device", "", "with --conf: the network device (overrides SERVER_NET_DEVICE)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if *conf != "" {
		if *mode != "" || len(o.cfg.VIPs) > 0 || o.cfg.Gateway.IsValid() {
			return o, errors.New("--conf gives the mode, the VIP and the gateway: leave out --mode, --vip and --gateway")
		}
		if err := rsFromConf(&o.cfg, *conf, stderr); err != nil {
			return o, err
		}
		if *netDev != "" {
			o.cfg.NetDevice = *netDev
		}
	} else if *netDev != "" {
		return o, errors.New("--net-device goes with --conf")
	} else if o.cfg.Mode, err = realserver.ParseMode(*mode); err != nil {
		return o, err
	}
	if o.cfg.Decap, err = realserver.ParseDecap(*decap); err != nil {
		return o, err
	}
	if len(o.cfg.VIPs) == 0 && o.cfg.Mode != realserver.ModeNAT {
		return o, errors.New("--vip is required")
	}
	if o.cfg.Name == "" {
		o.cfg.Name = realserver.DefaultName()
	}
	return o, nil
}

func rsParseName(cmd string, args []string, stderr io.Writer) (name, dir string, err error) {
	fs := flag.NewFlagSet("ulvs realserver "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&name, "name", "", "state name (default: the netns name or \"default\"; status: all)")
	fs.StringVar(&dir, "state-dir", realserver.DefaultStateDir, "state directory")
	if err := fs.Parse(args); err != nil {
		return "", "", err
	}
	if fs.NArg() > 0 {
		return "", "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if name == "" && cmd == "down" {
		name = realserver.DefaultName()
	}
	return name, dir, nil
}

// rsUp runs up in the foreground. Without a userspace decapsulator it
// returns once the host is prepared (the state file remembers the rest);
// with one it runs until a signal, then undoes everything.
func rsUp(o rsOptions, stdout, stderr io.Writer) error {
	ready := readyWriter()
	o.cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	setupCtx, cancel := context.WithTimeout(sigCtx, 30*time.Second)
	s, err := realserver.Up(setupCtx, o.cfg)
	cancel()
	if err != nil {
		if ready != nil {
			fmt.Fprintf(ready, "error: %v\n", err)
			ready.Close()
		}
		return err
	}
	st := s.State()
	fmt.Fprintf(stdout, "real server %s up: mode %s%s%s%s\n", st.Name, st.Mode, describeVIPs(st.VIPs), describeDecap(&st), describeGateway(o.cfg))
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
	}
	if st.Process == nil {
		return nil // nothing runs here; `down` undoes from the state file
	}
	statsPath := filepath.Join(o.cfg.StateDir, st.Name+".stats")
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-sigCtx.Done():
			break loop
		case <-s.Done():
			break loop
		case <-tick.C:
			writeStats(statsPath, s.Stats())
		}
	}
	runErr := s.Err()
	err = s.Down(context.Background())
	os.Remove(statsPath)
	fmt.Fprintf(stderr, "decapsulator counters: %s\n", formatStats(s.Stats()))
	return errors.Join(runErr, err)
}

func describeDecap(st *realserver.State) string {
	switch st.Decap {
	case realserver.DecapKernel:
		return ", kernel ipip device " + st.Device
	case realserver.DecapUser:
		return fmt.Sprintf(", userspace decapsulator on %s -> %s (pid %d)", st.Iface, st.Device, st.Process.PID)
	case realserver.DecapTCX:
		return fmt.Sprintf(", tcx program on %s, userspace decapsulator on %s -> %s for the rest (pid %d)", st.Iface, st.Iface, st.Device, st.Process.PID)
	}
	return ""
}

// describeVIPs is ", VIPs A,B" (nothing for a NAT real server).
func describeVIPs(as []netip.Addr) string {
	if len(as) == 0 {
		return ""
	}
	return ", VIPs " + joinAddrs(as)
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// readyWriter returns the readiness pipe of a detached child, or nil.
func readyWriter() *os.File {
	v := os.Getenv(readyFDEnv)
	if v == "" {
		return nil
	}
	os.Unsetenv(readyFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	return os.NewFile(uintptr(fd), "ready")
}

// rsDetach re-executes `ulvs realserver up` without --detach in a new
// session, its output going to STATE-DIR/NAME.log, and waits until the
// child reports that up succeeded or failed.
func rsDetach(args []string, o rsOptions, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var childArgs []string
	for _, a := range args {
		if a != "--detach" && a != "-detach" && a != "--detach=true" && a != "-detach=true" {
			childArgs = append(childArgs, a)
		}
	}
	// The child must land on the same state name even if defaults differ.
	childArgs = append(childArgs, "--name", o.cfg.Name)
	if err := os.MkdirAll(o.cfg.StateDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(o.cfg.StateDir, o.cfg.Name+".log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := exec.Command(exe, append([]string{"realserver", "up"}, childArgs...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw} // fd 3
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return err
	}
	pw.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	line = strings.TrimSpace(line)
	if line != "ok" {
		<-exited
		if msg, ok := strings.CutPrefix(line, "error: "); ok {
			return fmt.Errorf("%s (log: %s)", msg, logPath)
		}
		return fmt.Errorf("background process failed (log: %s)", logPath)
	}
	fmt.Fprintf(stdout, "real server %s up in the background (pid %d, log %s); stop with: ulvs realserver down --name %s\n",
		o.cfg.Name, cmd.Process.Pid, logPath, o.cfg.Name)
	// Do not wait: the child runs on. Its Wait goroutine dies with us.
	return nil
}

func writeStats(path string, c [realserver.NumVerdicts]uint64) {
	m := map[string]uint64{}
	for v, n := range c {
		if v > 0 {
			m[realserver.Verdict(v).String()] = n
		}
	}
	b, _ := json.Marshal(m)
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, path)
	}
}

func formatStats(c [realserver.NumVerdicts]uint64) string {
	var parts []string
	for v, n := range c {
		if v > 0 && (n > 0 || realserver.Verdict(v) == realserver.Decapsulated) {
			parts = append(parts, fmt.Sprintf("%s %d", realserver.Verdict(v), n))
		}
	}
	return strings.Join(parts, ", ")
}

func rsStatus(name, dir string, stdout io.Writer) error {
	var states []*realserver.State
	if name != "" {
		st, err := realserver.ReadState(dir, name)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stdout, "real server %s: not up\n", name)
			return nil
		}
		if err != nil {
			return err
		}
		states = append(states, st)
	} else {
		var err error
		if states, err = realserver.ListStates(dir); err != nil {
			return err
		}
		if len(states) == 0 {
			fmt.Fprintln(stdout, "no real server is up")
		}
	}
	for _, st := range states {
		fmt.Fprintf(stdout, "%s: mode %s%s", st.Name, st.Mode, describeVIPs(st.VIPs))
		switch st.Decap {
		case realserver.DecapKernel:
			fmt.Fprintf(stdout, ", kernel ipip device %s", st.Device)
		case realserver.DecapUser:
			fmt.Fprintf(stdout, ", userspace decapsulator %s -> %s", st.Iface, st.Device)
		case realserver.DecapTCX:
			fmt.Fprintf(stdout, ", tcx program on %s and userspace decapsulator %s -> %s", st.Iface, st.Iface, st.Device)
		}
		fmt.Fprintf(stdout, ", up since %s\n", st.Created.Format(time.RFC3339))
		if p := st.Process; p != nil {
			state := "running"
			if !p.Running() {
				state = "GONE (run down to clean up)"
			}
			fmt.Fprintf(stdout, "  process %d: %s\n", p.PID, state)
			if b, err := os.ReadFile(filepath.Join(dir, st.Name+".stats")); err == nil {
				fmt.Fprintf(stdout, "  counters: %s\n", strings.TrimSpace(string(b)))
			}
		}
		for _, c := range st.Changes {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
	}
	return nil
}
