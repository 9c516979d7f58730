package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/adm"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/lab"
	"github.com/ulvs/ulvs/vs"
)

// demoRequests is the seed's check: for i in {1..6}; do curl VIP; done.
const demoRequests = 6

// labDemo builds a fresh lab, runs ulvsd in its director namespace with the
// example configuration, sends the seed's six requests from the client,
// prints `ulvsadm -L -n`, and tears everything down: on success, failure,
// Ctrl-C or SIGTERM alike.
func labDemo(o demoOptions, stdout, stderr io.Writer) (err error) {
	if err := needRoot(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ld *labDirector
	if o.ipv6 {
		ld, err = startLabDirectorWith(ctx, lab.Config{Mode: o.mode, OffloadsOff: o.offloadsOff, IPv6: true}, lab.DemoConfig6, "ulvs-demo-")
	} else {
		ld, err = startLabDirector(ctx, o.mode, o.offloadsOff, "ulvs-demo-")
	}
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, ld.close(stderr, err))
		if err == nil {
			fmt.Fprintf(stdout, "lab %s removed\n", ld.lab.Prefix)
		}
	}()
	l, d, sock := ld.lab, ld.d, ld.sock
	// The story's addresses: IPv4, or the dual-stack lab's IPv6 ones.
	client, dip, insideDIP, rips, vip := l.ClientAddr, l.DIP, l.InsideDIP, l.RIPs, l.VIP
	if o.ipv6 {
		client, dip, insideDIP, rips, vip = l.ClientAddr6, l.DIP6, l.InsideDIP6, l.RIPs6, l.VIP6
	}
	if l.DirectorInsideIface != "" {
		fmt.Fprintf(stdout, "lab %s: client %s, director %s on %s and %s on %s, real servers %v behind it, VIP %s (%s mode)\n",
			l.Prefix, client, dip, l.DirectorIface, insideDIP, l.DirectorInsideIface, rips, vip, o.mode)
	} else {
		fmt.Fprintf(stdout, "lab %s: client %s, director %s on %s, real servers %v, VIP %s (%s mode)\n",
			l.Prefix, client, dip, l.DirectorIface, rips, vip, o.mode)
	}
	url := "http://" + urlHost(vip) + "/"
	fmt.Fprintf(stdout, "ulvsd runs in %s (pid %d); client %s fetches %s %d times:\n",
		l.Director.Name, d.cmd.Process.Pid, l.Client.Name, url, demoRequests)

	failed, seen := runChecks(ctx, l, url, stdout)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if code := adm.Main([]string{"-L", "-n", "--socket", sock}, stdout, stderr); code != 0 {
		return fmt.Errorf("ulvsadm -L -n exited %d", code)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests through the VIP failed", failed, demoRequests)
	}
	var missing []string
	for i := 1; i <= 2 && i <= len(l.RS); i++ {
		if name := fmt.Sprintf("rs%d", i); !seen[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("round robin never reached %s", strings.Join(missing, ", "))
	}
	fmt.Fprintf(stdout, "demo ok: %d answers through %s, alternating over the real servers\n", demoRequests, vip)
	return nil
}

// labDirector is a fresh lab of one mode with ulvsd running in its director
// namespace on the mode's demo configuration: what the demo and the
// benchmark share.
type labDirector struct {
	lab     *lab.Lab
	dir     string // temp dir: config, socket, log
	sock    string
	logPath string
	d       *child
}

// startLabDirector builds the lab, starts its servers and ulvsd, and waits
// for the control socket. On error everything made so far is undone.
func startLabDirector(ctx context.Context, mode string, offloadsOff bool, tmpPrefix string) (_ *labDirector, err error) {
	cfgText, err := lab.DemoConfig(mode)
	if err != nil {
		return nil, err
	}
	return startLabDirectorConfig(ctx, mode, cfgText, offloadsOff, tmpPrefix)
}

// startLabDirectorConfig is startLabDirector with ulvsd's configuration
// text and extra ulvsd arguments.
func startLabDirectorConfig(ctx context.Context, mode string, cfgText []byte, offloadsOff bool, tmpPrefix string, ulvsdArgs ...string) (_ *labDirector, err error) {
	cfgFor := func(*lab.Lab) ([]byte, error) { return cfgText, nil }
	return startLabDirectorWith(ctx, lab.Config{Mode: mode, OffloadsOff: offloadsOff}, cfgFor, tmpPrefix, ulvsdArgs...)
}

// startLabDirectorWith builds the lab of cfg and runs ulvsd on the
// configuration cfgFor writes for it (the IPv6 demo's needs the built
// lab's addresses).
func startLabDirectorWith(ctx context.Context, cfg lab.Config, cfgFor func(*lab.Lab) ([]byte, error), tmpPrefix string, ulvsdArgs ...string) (_ *labDirector, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	ld := &labDirector{}
	defer func() {
		if err != nil {
			err = errors.Join(err, ld.close(nil))
		}
	}()
	if ld.lab, err = lab.Up(ctx, cfg); err != nil {
		return nil, err
	}
	cfgText, err := cfgFor(ld.lab)
	if err != nil {
		return nil, err
	}
	if err := ld.lab.StartServers(ctx); err != nil {
		return nil, err
	}
	if ld.dir, err = os.MkdirTemp("", tmpPrefix); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(ld.dir, "ulvs.toml")
	ld.sock = filepath.Join(ld.dir, "ulvsd.sock")
	ld.logPath = filepath.Join(ld.dir, "ulvsd.log")
	if err := os.WriteFile(cfgPath, cfgText, 0o644); err != nil {
		return nil, err
	}
	if ld.d, err = startDirector(ld.lab, self, cfgPath, ld.sock, ld.logPath, ulvsdArgs...); err != nil {
		return nil, err
	}
	if err := ld.d.waitSocket(ctx, ld.sock, 15*time.Second); err != nil {
		return nil, err
	}
	if err := waitResolved(ctx, ld.sock, 10*time.Second); err != nil {
		return nil, err
	}
	return ld, nil
}

// waitResolved waits until the director knows the MAC of every DR real
// server: until then it gives them no connections, and a first request
// would meet ICMP port unreachable (no real server available).
func waitResolved(ctx context.Context, sock string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pending := ""
		c, err := ctl.Dial(sock)
		if err == nil {
			var snap ctl.Snapshot
			snap, err = c.Snapshot()
			c.Close()
			for _, s := range snap.Services {
				for _, d := range s.Dests {
					if d.Method == vs.Route && !d.Resolved {
						pending = d.Addr.String()
					}
				}
			}
		}
		if err == nil && pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("real server %s not resolved", pending)
			}
			return fmt.Errorf("ulvsd did not resolve its real servers within %v: %w", timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// close stops ulvsd (printing its log to stderr, if given, when failed is
// set), removes the lab and the temp dir.
func (ld *labDirector) close(stderr io.Writer, failed ...error) error {
	var errs []error
	if ld.d != nil {
		if err := ld.d.stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
		if stderr != nil && (len(errs) > 0 || errors.Join(failed...) != nil) {
			fmt.Fprintf(stderr, "ulvsd log:\n%s\n", tail(ld.logPath))
		}
	}
	if ld.lab != nil {
		if err := ld.lab.Down(); err != nil {
			errs = append(errs, err)
		}
	}
	if ld.dir != "" {
		os.RemoveAll(ld.dir)
	}
	return errors.Join(errs...)
}

// urlHost is a as a URL's host: an IPv6 address in brackets.
func urlHost(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// runChecks sends the demo's requests for url from the client namespace
// and prints one line per answer; it returns how many failed and which
// servers answered.
func runChecks(ctx context.Context, l *lab.Lab, url string, stdout io.Writer) (failed int, seen map[string]bool) {
	seen = map[string]bool{}
	c := l.Client.HTTPClient()
	c.Timeout = 5 * time.Second
	for i := 1; i <= demoRequests && ctx.Err() == nil; i++ {
		body, err := httpGet(ctx, c, url)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%d: error: %v\n", i, err)
			continue
		}
		name := strings.TrimSpace(body)
		seen[name] = true
		fmt.Fprintf(stdout, "%d: %s\n", i, name)
	}
	return failed, seen
}

// child is the director process the demo runs.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd.Wait returned
	err    error         // cmd.Wait's result, set before exited closes
}

// startDirector runs `ip netns exec DIRECTOR self ulvsd -c cfg --socket
// sock` in its own process group, output to logPath.
func startDirector(l *lab.Lab, self, cfgPath, sock, logPath string, extra ...string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	args := append([]string{"netns", "exec", l.Director.Name, self, "ulvsd", "-c", cfgPath, "--socket", sock}, extra...)
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a terminal's Ctrl-C reaches only us, and we
	// stop the director in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ulvsd: %w", err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// waitSocket waits until the control socket accepts a connection.
func (c *child) waitSocket(ctx context.Context, sock string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("ulvsd exited before its control socket accepted: %v", c.err)
		case <-ctx.Done():
			return fmt.Errorf("ulvsd control socket %s did not accept within %v: %w", sock, timeout, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the director by its PID: SIGTERM, then SIGKILL after grace.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return nil
	case <-time.After(grace):
	}
	c.cmd.Process.Kill()
	<-c.exited
	return fmt.Errorf("ulvsd (pid %d) ignored SIGTERM for %v and was killed", c.cmd.Process.Pid, grace)
}
