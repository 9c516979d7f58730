package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/adm"
	"github.com/ulvs/ulvs/lab"
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
	cfgText, err := lab.DemoConfig(o.mode)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, err := lab.Up(ctx, lab.Config{Mode: o.mode, OffloadsOff: o.offloadsOff})
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(); derr != nil {
			err = errors.Join(err, derr)
		} else {
			fmt.Fprintf(stdout, "lab %s removed\n", l.Prefix)
		}
	}()
	if l.DirectorInsideIface != "" {
		fmt.Fprintf(stdout, "lab %s: client %s, director %s on %s and %s on %s, real servers %v behind it, VIP %s (%s mode)\n",
			l.Prefix, l.ClientAddr, l.DIP, l.DirectorIface, l.InsideDIP, l.DirectorInsideIface, l.RIPs, l.VIP, o.mode)
	} else {
		fmt.Fprintf(stdout, "lab %s: client %s, director %s on %s, real servers %v, VIP %s (%s mode)\n",
			l.Prefix, l.ClientAddr, l.DIP, l.DirectorIface, l.RIPs, l.VIP, o.mode)
	}
	if err := l.StartServers(ctx); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "ulvs-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "ulvs.toml")
	sock := filepath.Join(dir, "ulvsd.sock")
	logPath := filepath.Join(dir, "ulvsd.log")
	if err := os.WriteFile(cfgPath, cfgText, 0o644); err != nil {
		return err
	}

	d, err := startDirector(l, self, cfgPath, sock, logPath)
	if err != nil {
		return err
	}
	defer func() {
		if serr := d.stop(5 * time.Second); serr != nil {
			err = errors.Join(err, serr)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ulvsd log:\n%s\n", tail(logPath))
		}
	}()
	if err := d.waitSocket(ctx, sock, 15*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ulvsd runs in %s (pid %d); client %s fetches http://%s/ %d times:\n",
		l.Director.Name, d.cmd.Process.Pid, l.Client.Name, l.VIP, demoRequests)

	failed, seen := runChecks(ctx, l, stdout)
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
	fmt.Fprintf(stdout, "demo ok: %d answers through %s, alternating over the real servers\n", demoRequests, l.VIP)
	return nil
}

// runChecks sends the demo's requests from the client namespace and prints
// one line per answer; it returns how many failed and which servers
// answered.
func runChecks(ctx context.Context, l *lab.Lab, stdout io.Writer) (failed int, seen map[string]bool) {
	seen = map[string]bool{}
	c := l.Client.HTTPClient()
	c.Timeout = 5 * time.Second
	for i := 1; i <= demoRequests && ctx.Err() == nil; i++ {
		body, err := httpGet(ctx, c, "http://"+l.VIP.String()+"/")
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
func startDirector(l *lab.Lab, self, cfgPath, sock, logPath string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command("ip", "netns", "exec", l.Director.Name, self, "ulvsd", "-c", cfgPath, "--socket", sock)
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
