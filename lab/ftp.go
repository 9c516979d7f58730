package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The lab's FTP service (seed 001, "LVS (DR) 实现负载均衡 FTP"): vsftpd on
// every real server, control on port 21, passive data ports from a fixed
// range that a firewall-mark service groups with 21 (and 20, the active-mode
// data port) under one persistent virtual service.
const (
	// FTPPort is the control port of the lab's FTP servers.
	FTPPort = 21
	// FTPDataPort is the port vsftpd connects from in active mode
	// (connect_from_port_20=YES).
	FTPDataPort = 20
	// FTPPassiveMin and FTPPassiveMax bound the passive data ports
	// (pasv_min_port, pasv_max_port).
	FTPPassiveMin = 10000
	FTPPassiveMax = 20000
	// FTPDataSize is the size of /data.bin on every FTP server; its content
	// is DataReader(FTPDataSize), so its digest is DataSHA256(FTPDataSize).
	FTPDataSize = 1 << 20
)

// ftpUser is the account vsftpd serves anonymous sessions as (and drops
// privileges to): Debian's vsftpd package creates it. vsftpd changes into
// its home directory before anon_root, so the home must exist.
const ftpUser = "ftp"

// ftpStopGrace is how long a vsftpd gets to end after SIGTERM (and then
// after SIGKILL).
const ftpStopGrace = 3 * time.Second

// ftpReadyTimeout bounds the wait for port 21 to accept.
const ftpReadyTimeout = 10 * time.Second

// ftpRuns holds the running FTP servers of each Lab, for StopFTP and
// FTPProcesses to find.
var ftpRuns = struct {
	sync.Mutex
	m map[*Lab]*ftpRun
}{m: map[*Lab]*ftpRun{}}

// ftpRun is one StartFTP's servers.
type ftpRun struct {
	dir   string // temporary: configs, logs, FTP roots
	procs []*ftpProc
	once  sync.Once
	err   error         // of stop
	done  chan struct{} // closed when stop has finished
}

// ftpProc is one vsftpd.
type ftpProc struct {
	Process
	ns     NS
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returned
}

// vsftpdPath finds vsftpd: on PATH, or in /usr/sbin (not on a user's PATH
// on Debian).
func vsftpdPath() (string, error) {
	if p, err := exec.LookPath("vsftpd"); err == nil {
		return p, nil
	}
	const sbin = "/usr/sbin/vsftpd"
	if _, err := os.Stat(sbin); err == nil {
		return sbin, nil
	}
	return "", fmt.Errorf("lab FTP needs vsftpd (scripts/setup-host.sh installs it): %w", ErrNotSupported)
}

// StartFTP starts one vsftpd in every real server's namespace, each
// listening on 0.0.0.0:21 there, and returns once port 21 accepts in every
// namespace. They run until ctx ends, StopFTP or Down. A second call while
// they run is an error.
//
// Each server allows anonymous, read-only download (user "anonymous", any
// or no password) from its own directory holding:
//
//	/whoami.txt   the node's name and a newline, "rs1\n"
//	/data.bin     FTPDataSize bytes of DataReader(FTPDataSize)
//
// Passive mode uses ports FTPPassiveMin..FTPPassiveMax, and the 227 reply
// carries the local address of the control connection (no pasv_address):
// the RIP when a client connected to the RIP, the VIP when a DR director
// passed on a connection to the VIP. The data connection must come from
// the control connection's client address (pasv_promiscuous=NO), which DR
// keeps. Active mode works too, from port FTPDataPort. The greeting is
// "220 ulvs lab rsN", which tells a client whose control connection landed
// where.
//
// The servers are child processes (`ip netns exec NS vsftpd CONF`) whose
// configuration, logs and files live in a temporary directory that StopFTP
// removes; FTPProcesses lists them with their log files. They are killed
// if this process dies. StartFTP needs root and vsftpd; without vsftpd
// (or its "ftp" user) the error matches ErrNotSupported.
func (l *Lab) StartFTP(ctx context.Context) error {
	return l.startFTP(ctx, netip.Addr{})
}

// StartFTP6 is StartFTP over IPv6 (issue #17): each vsftpd listens on
// VIP6 port 21 only (listen_ipv6, listen_address6), which the real
// servers of a dual-stack DR or TUN lab hold; the replies to EPSV (229,
// the port alone) and the data connections of EPRT use the control
// connection's addresses, as RFC 2428 has it. The IPv4 servers of
// StartFTP and these are one or the other.
func (l *Lab) StartFTP6(ctx context.Context) error {
	if !l.VIP6.IsValid() {
		return fmt.Errorf("lab %s: FTP over IPv6 needs a dual-stack lab (Config.IPv6): %w", l.Prefix, ErrNotSupported)
	}
	return l.startFTP(ctx, l.VIP6)
}

// startFTP starts the servers: on IPv4 (every address), or on listen6
// when it is valid.
func (l *Lab) startFTP(ctx context.Context, listen6 netip.Addr) error {
	bin, err := vsftpdPath()
	if err != nil {
		return err
	}
	if u, err := user.Lookup(ftpUser); err != nil {
		return fmt.Errorf("lab FTP needs the user %q that Debian's vsftpd package creates: %w: %v",
			ftpUser, ErrNotSupported, err)
	} else if _, err := os.Stat(u.HomeDir); err != nil {
		return fmt.Errorf("lab FTP: home of user %q: %w", ftpUser, err)
	}

	ftpRuns.Lock()
	defer ftpRuns.Unlock()
	if ftpRuns.m[l] != nil {
		return fmt.Errorf("lab %s: FTP servers already running", l.Prefix)
	}
	dir, err := os.MkdirTemp("", "ulvs-ftp-"+l.Prefix+"-")
	if err != nil {
		return fmt.Errorf("lab %s FTP: %w", l.Prefix, err)
	}
	run := &ftpRun{dir: dir, done: make(chan struct{})}
	fail := func(err error) error {
		if serr := run.stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", serr))
		}
		return fmt.Errorf("lab %s FTP: %w", l.Prefix, err)
	}
	for i, rs := range l.RS {
		node := fmt.Sprintf("rs%d", i+1)
		p, err := startVsftpd(bin, filepath.Join(dir, node), node, rs, listen6)
		if err != nil {
			return fail(err)
		}
		run.procs = append(run.procs, p)
	}
	wctx, cancel := context.WithTimeout(ctx, ftpReadyTimeout)
	defer cancel()
	for i, p := range run.procs {
		if err := waitFTP(wctx, l.RS[i], p, listen6); err != nil {
			return fail(err)
		}
	}
	ftpRuns.m[l] = run
	log := l.logger()
	go func() {
		select {
		case <-ctx.Done():
			if err := l.stopFTPRun(run); err != nil {
				log.Error("lab FTP servers stopped", "err", err)
			}
		case <-run.done:
		}
	}()
	log.Info("lab FTP servers started", "count", len(run.procs), "dir", dir)
	return nil
}

// startVsftpd writes the configuration and files of node into dir and
// starts its vsftpd inside rs, on IPv4 or, when listen6 is valid, on
// listen6.
func startVsftpd(bin, dir, node string, rs NS, listen6 netip.Addr) (*ftpProc, error) {
	root := filepath.Join(dir, "root")   // anon_root
	empty := filepath.Join(dir, "empty") // secure_chroot_dir
	for _, d := range []string{dir, root, empty} {
		// Root-owned and not writable by the ftp user, which vsftpd
		// demands of both chroot targets.
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chmod(d, 0o755); err != nil { // past the umask
			return nil, err
		}
	}
	if err := writeWorldReadable(filepath.Join(root, "whoami.txt"), strings.NewReader(node+"\n")); err != nil {
		return nil, err
	}
	if err := writeWorldReadable(filepath.Join(root, "data.bin"), DataReader(FTPDataSize)); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "vsftpd.log")
	conf := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(conf, []byte(vsftpdConfig(node, root, empty, logPath, listen6)), 0o644); err != nil {
		return nil, err
	}
	// vsftpd appends its protocol log here; its own stderr (a "500 OOPS"
	// at start-up) joins it.
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own copy
	cmd := exec.Command("ip", "netns", "exec", rs.Name, bin, conf)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = ftpSysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start vsftpd in %s: %w", rs, err)
	}
	p := &ftpProc{
		// `ip netns exec` execs vsftpd in its own process: the PID stays,
		// the command line becomes vsftpd's.
		Process: Process{Node: node, PID: cmd.Process.Pid, Args: []string{bin, conf}, Log: logPath},
		ns:      rs,
		cmd:     cmd,
		exited:  make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// writeWorldReadable writes r to a new file at path, mode 0644: vsftpd
// serves anonymous users only world-readable files
// (anon_world_readable_only).
func writeWorldReadable(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(path, 0o644)
	}
	return err
}

// vsftpdConfig returns the configuration of node's vsftpd (vsftpd.conf(5)
// of vsftpd 3.0.3): IPv4, or IPv6 on listen6 when it is valid.
func vsftpdConfig(node, root, empty, logPath string, listen6 netip.Addr) string {
	listen := [][2]string{
		// Standalone, in the foreground, IPv4 on every address of the
		// namespace (the RIP and the VIP on lo).
		{"listen", "YES"},
		{"listen_ipv6", "NO"},
		{"listen_address", "0.0.0.0"},
	}
	if listen6.IsValid() {
		// IPv6 on VIP6 alone: "::" would take IPv4 too (bindv6only is
		// 0), which vsftpd's listen_ipv6 does not refuse.
		listen = [][2]string{{"listen", "NO"}, {"listen_ipv6", "YES"}, {"listen_address6", listen6.String()}}
	}
	kv := append(listen, [][2]string{
		{"listen_port", strconv.Itoa(FTPPort)},
		{"background", "NO"},
		{"ftpd_banner", "ulvs lab " + node},
		// Anonymous read-only download from root; no local users, no PAM.
		{"anonymous_enable", "YES"},
		{"no_anon_password", "YES"},
		{"anon_root", root},
		{"ftp_username", ftpUser},
		{"nopriv_user", ftpUser},
		{"local_enable", "NO"},
		{"write_enable", "NO"},
		{"anon_upload_enable", "NO"},
		{"anon_mkdir_write_enable", "NO"},
		{"session_support", "NO"},
		{"tcp_wrappers", "NO"},
		{"dirmessage_enable", "NO"},
		{"secure_chroot_dir", empty},
		// Passive mode from the fixed range; no pasv_address, so the 227
		// reply names the control connection's local address.
		{"pasv_enable", "YES"},
		{"pasv_min_port", strconv.Itoa(FTPPassiveMin)},
		{"pasv_max_port", strconv.Itoa(FTPPassiveMax)},
		{"pasv_promiscuous", "NO"},
		{"port_enable", "YES"},
		{"connect_from_port_20", "YES"},
		// The sandboxes clone new PID, IPC and network namespaces per
		// session; the lab needs none of them, and nested namespaces are
		// not allowed everywhere the lab runs.
		{"isolate", "NO"},
		{"isolate_network", "NO"},
		{"seccomp_sandbox", "NO"},
		// Log every command and transfer to our file, none to syslog.
		{"syslog_enable", "NO"},
		{"xferlog_enable", "YES"},
		{"xferlog_std_format", "NO"},
		{"dual_log_enable", "NO"},
		{"vsftpd_log_file", logPath},
		{"log_ftp_protocol", "YES"},
	}...)
	var b strings.Builder
	b.WriteString("# ulvs lab FTP server " + node + "\n")
	for _, e := range kv {
		b.WriteString(e[0] + "=" + e[1] + "\n")
	}
	return b.String()
}

// waitFTP waits until port 21 inside rs (of 127.0.0.1, or of listen6)
// greets with 220, or p exits, or ctx ends.
func waitFTP(ctx context.Context, rs NS, p *ftpProc, listen6 netip.Addr) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FTPPort))
	if listen6.IsValid() {
		addr = netip.AddrPortFrom(listen6, FTPPort).String()
	}
	for {
		err := probeFTP(ctx, rs, addr)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("vsftpd of %s exited: %v: %s", p.Node, p.cmd.ProcessState, logTail(p.Log))
		case <-ctx.Done():
			return fmt.Errorf("vsftpd of %s: port %d does not accept: %w: %s", p.Node, FTPPort, err, logTail(p.Log))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// probeFTP connects to addr inside rs, reads the 220 greeting and quits.
func probeFTP(ctx context.Context, rs NS, addr string) error {
	c, err := rs.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	tp := textproto.NewConn(c)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	ftpCmd(tp, "QUIT") // the greeting is all the probe wanted
	return nil
}

// logTail returns the end of a log file, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}

// FTPProcesses returns the vsftpd processes StartFTP started for l, in
// real-server order, with their log files; nil when none run.
func (l *Lab) FTPProcesses() []Process {
	ftpRuns.Lock()
	defer ftpRuns.Unlock()
	run := ftpRuns.m[l]
	if run == nil {
		return nil
	}
	ps := make([]Process, len(run.procs))
	for i, p := range run.procs {
		ps[i] = p.Process
	}
	return ps
}

// StopFTP stops the FTP servers of StartFTP, their sessions included, and
// removes their directory, logs included: read those first. Without
// servers it does nothing. It must run before the lab's namespaces are
// deleted: a process keeps its namespace alive, nameless, until it ends.
func (l *Lab) StopFTP() error {
	ftpRuns.Lock()
	run := ftpRuns.m[l]
	ftpRuns.Unlock()
	if run == nil {
		return nil
	}
	return l.stopFTPRun(run)
}

// stopFTPRun stops run and forgets it, if it is still l's.
func (l *Lab) stopFTPRun(run *ftpRun) error {
	err := run.stop()
	ftpRuns.Lock()
	if ftpRuns.m[l] == run {
		delete(ftpRuns.m, l)
	}
	ftpRuns.Unlock()
	if err != nil {
		return fmt.Errorf("lab %s: stop FTP servers: %w", l.Prefix, err)
	}
	l.logger().Info("lab FTP servers stopped", "prefix", l.Prefix)
	return nil
}

// stop ends every process of run (SIGTERM, then SIGKILL) and removes its
// directory. It runs once; later calls wait for it and return its error.
func (run *ftpRun) stop() error {
	run.once.Do(func() {
		var errs []error
		for _, p := range run.procs {
			if err := p.stop(); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			if err := os.RemoveAll(run.dir); err != nil {
				errs = append(errs, err)
			}
		}
		run.err = errors.Join(errs...)
		close(run.done)
	})
	<-run.done
	return run.err
}

// stop ends p and its sessions. Until cmd.Wait has reaped p the PID cannot
// be reused, so signalling the child by PID is safe.
func (p *ftpProc) stop() error {
	if err := p.stopListener(); err != nil {
		return err
	}
	// Every session process asked the kernel for SIGKILL when its parent
	// dies (vsftpd's vsf_set_die_if_parent_dies); wait until they are
	// gone, so that nothing of p outlives stop. Each is a vsftpd in p's
	// namespace, where only p ran vsftpd.
	for _, sig := range []syscall.Signal{0, syscall.SIGKILL} {
		deadline := time.Now().Add(ftpStopGrace)
		for {
			left, err := nsProcesses(p.ns, "vsftpd")
			if err != nil || len(left) == 0 {
				return err
			}
			if time.Now().After(deadline) {
				if sig == syscall.SIGKILL {
					return fmt.Errorf("vsftpd sessions of %s still run after SIGKILL: pids %v", p.Node, left)
				}
				break
			}
			if sig != 0 {
				for _, pid := range left {
					syscall.Kill(pid, sig)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// stopListener ends the vsftpd process itself: SIGTERM, then SIGKILL.
func (p *ftpProc) stopListener() error {
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("signal vsftpd of %s (pid %d): %w", p.Node, p.PID, err)
		}
		select {
		case <-p.exited:
			return nil
		case <-time.After(ftpStopGrace):
		}
	}
	return fmt.Errorf("vsftpd of %s (pid %d) still runs after SIGKILL", p.Node, p.PID)
}

// FTPTransfer is what one FTP download saw.
type FTPTransfer struct {
	// Greeting is the text of the server's 220 reply ("ulvs lab rs1" from
	// a lab server): which server took the control connection.
	Greeting string
	// Passive is the address and port of the server's 227 reply, which
	// the data connection went to (passive mode).
	Passive netip.AddrPort
	// ActiveFrom is the address and port the server's data connection
	// came from (active mode): the VIP and FTPDataPort through a DR
	// director.
	ActiveFrom netip.AddrPort
	// Data is the file's content.
	Data []byte
}

// FTPGet downloads path from the FTP server at host, port 21, from the
// client namespace, in passive mode; see FTPRetrieve.
func (l *Lab) FTPGet(ctx context.Context, host netip.Addr, path string) ([]byte, error) {
	t, err := l.FTPRetrieve(ctx, host, path)
	if err != nil {
		return nil, err
	}
	return t.Data, nil
}

// FTPRetrieve downloads path from the FTP server at host, port 21, with
// both connections started in the client namespace: anonymous login,
// TYPE I, PASV, a data connection to the address and port of the 227
// reply, RETR path, QUIT. Each call is a new control connection.
func (l *Lab) FTPRetrieve(ctx context.Context, host netip.Addr, path string) (*FTPTransfer, error) {
	return FTPRetrieve(ctx, l.Client.DialContext, netip.AddrPortFrom(host, FTPPort), path)
}

// FTPRetrieve downloads path from the FTP server at server in passive mode,
// opening both connections with dial (NS.DialContext, or a net.Dialer's):
// USER anonymous (PASS when asked), TYPE I, PASV, a data connection to the
// address and port of the 227 reply, RETR path, QUIT. It fails on any
// unexpected reply, and when ctx ends.
func FTPRetrieve(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	server netip.AddrPort, path string) (*FTPTransfer, error) {
	return retrieve(ctx, dial, nil, server, path)
}

// FTPRetrieveActive is FTPRetrieve in active mode: listen (NS.Listen, or
// net.Listen) opens a port on the control connection's local address,
// PORT tells the server, and the server connects to it for RETR path.
func FTPRetrieveActive(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	listen func(network, addr string) (net.Listener, error), server netip.AddrPort, path string) (*FTPTransfer, error) {
	return retrieve(ctx, dial, listen, server, path)
}

// retrieve checks path and runs ftpRetrieve, wrapping its error.
func retrieve(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	listen func(network, addr string) (net.Listener, error), server netip.AddrPort, path string) (*FTPTransfer, error) {
	if path == "" || strings.ContainsAny(path, "\r\n") {
		return nil, fmt.Errorf("ftp retrieve %q: want a path without CR or LF", path)
	}
	t, err := ftpRetrieve(ctx, dial, listen, server, path)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = errors.Join(cerr, err)
		}
		mode := ""
		if listen != nil {
			mode = " (active)"
		}
		return nil, fmt.Errorf("ftp retrieve%s ftp://%s/%s: %w", mode, server, path, err)
	}
	return t, nil
}

// ftpRetrieve downloads path in passive mode, or in active mode when
// listen is set.
func ftpRetrieve(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	listen func(network, addr string) (net.Listener, error), server netip.AddrPort, path string) (*FTPTransfer, error) {
	ctrl, err := dial(ctx, "tcp", server.String())
	if err != nil {
		return nil, err
	}
	defer ctrl.Close()
	// Ending ctx closes both connections, which ends any blocked read.
	var data atomic.Pointer[net.Conn]
	stop := context.AfterFunc(ctx, func() {
		ctrl.Close()
		if d := data.Load(); d != nil {
			(*d).Close()
		}
	})
	defer stop()

	tp := textproto.NewConn(ctrl)
	var t FTPTransfer
	_, t.Greeting, err = tp.ReadResponse(220)
	if err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	code, msg, err := ftpCmd(tp, "USER anonymous")
	if err != nil {
		return nil, err
	}
	switch code {
	case 230: // logged in without a password (vsftpd's no_anon_password)
	case 331:
		if code, msg, err = ftpCmd(tp, "PASS ulvs@lab"); err != nil {
			return nil, err
		}
		if code != 230 {
			return nil, fmt.Errorf("PASS: %d %s", code, msg)
		}
	default:
		return nil, fmt.Errorf("USER anonymous: %d %s", code, msg)
	}
	if code, msg, err = ftpCmd(tp, "TYPE I"); err != nil {
		return nil, err
	} else if code != 200 {
		return nil, fmt.Errorf("TYPE I: %d %s", code, msg)
	}
	var dc net.Conn
	if listen == nil && server.Addr().Is6() && !server.Addr().Is4In6() {
		// IPv6: EPSV (RFC 2428); the 229 reply names the port, the
		// address is the control connection's.
		if code, msg, err = ftpCmd(tp, "EPSV"); err != nil {
			return nil, err
		} else if code != 229 {
			return nil, fmt.Errorf("EPSV: %d %s", code, msg)
		}
		port, err := ParseEPSV(msg)
		if err != nil {
			return nil, err
		}
		t.Passive = netip.AddrPortFrom(server.Addr(), port)
	} else if listen == nil {
		if code, msg, err = ftpCmd(tp, "PASV"); err != nil {
			return nil, err
		} else if code != 227 {
			return nil, fmt.Errorf("PASV: %d %s", code, msg)
		}
		if t.Passive, err = ParsePASV(msg); err != nil {
			return nil, err
		}
	}
	if listen == nil {
		if dc, err = dial(ctx, "tcp", t.Passive.String()); err != nil {
			return nil, fmt.Errorf("data connection: %w", err)
		}
		defer dc.Close()
		data.Store(&dc)
		if ctx.Err() != nil { // ended before the Store: AfterFunc missed dc
			return nil, ctx.Err()
		}
		if code, msg, err = ftpCmd(tp, "RETR "+path); err != nil {
			return nil, err
		} else if code != 150 && code != 125 {
			return nil, fmt.Errorf("RETR %s: %d %s", path, code, msg)
		}
	} else if dc, err = ftpActiveData(ctx, tp, ctrl, listen, path, &t); err != nil {
		return nil, err
	} else {
		defer dc.Close()
		data.Store(&dc)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if t.Data, err = io.ReadAll(dc); err != nil {
		return nil, fmt.Errorf("data connection: %w", err)
	}
	dc.Close()
	if code, msg, err = ftpReply(tp); err != nil {
		return nil, err
	} else if code != 226 && code != 250 {
		return nil, fmt.Errorf("RETR %s: after the data: %d %s", path, code, msg)
	}
	// The transfer is complete; a failed QUIT changes nothing.
	ftpCmd(tp, "QUIT")
	return &t, nil
}

// ftpActiveData sends PORT with a port listen opened on the control
// connection's local address, then RETR path, and accepts the server's
// data connection.
func ftpActiveData(ctx context.Context, tp *textproto.Conn, ctrl net.Conn,
	listen func(network, addr string) (net.Listener, error), path string, t *FTPTransfer) (net.Conn, error) {
	local, err := netip.ParseAddrPort(ctrl.LocalAddr().String())
	if err != nil {
		return nil, fmt.Errorf("active mode: local address %s: %w", ctrl.LocalAddr(), err)
	}
	network := "tcp4"
	if !local.Addr().Unmap().Is4() {
		network = "tcp6"
	}
	ln, err := listen(network, netip.AddrPortFrom(local.Addr().Unmap(), 0).String())
	if err != nil {
		return nil, fmt.Errorf("active mode: listen: %w", err)
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	lp, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		return nil, err
	}
	var port string
	if network == "tcp6" {
		// EPRT |2|address|port| (RFC 2428), as PORT cannot name IPv6.
		port = fmt.Sprintf("EPRT |2|%s|%d|", local.Addr().WithZone(""), lp.Port())
	} else {
		a := local.Addr().Unmap().As4()
		port = fmt.Sprintf("PORT %d,%d,%d,%d,%d,%d", a[0], a[1], a[2], a[3], lp.Port()>>8, lp.Port()&0xff)
	}
	if code, msg, err := ftpCmd(tp, port); err != nil {
		return nil, err
	} else if code != 200 {
		return nil, fmt.Errorf("%s: %d %s", port, code, msg)
	}
	if code, msg, err := ftpCmd(tp, "RETR "+path); err != nil {
		return nil, err
	} else if code != 150 && code != 125 {
		return nil, fmt.Errorf("RETR %s: %d %s", path, code, msg)
	}
	dc, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("active mode: accept the data connection: %w", err)
	}
	if t.ActiveFrom, err = netip.ParseAddrPort(dc.RemoteAddr().String()); err != nil {
		dc.Close()
		return nil, err
	}
	return dc, nil
}

// ftpCmd sends one command line and reads its reply.
func ftpCmd(tp *textproto.Conn, line string) (int, string, error) {
	if err := tp.PrintfLine("%s", line); err != nil {
		return 0, "", fmt.Errorf("send %s: %w", strings.Fields(line)[0], err)
	}
	return ftpReply(tp)
}

// ftpReply reads one reply, single- or multi-line (RFC 959 section 4.2).
func ftpReply(tp *textproto.Conn) (int, string, error) {
	// With expectCode 0 every well-formed reply is returned without
	// error, whatever its code.
	code, msg, err := tp.ReadResponse(0)
	if err != nil {
		return 0, "", fmt.Errorf("read reply: %w", err)
	}
	return code, msg, nil
}

// ParsePASV returns the address and port of a 227 reply's text
// ("Entering Passive Mode (h1,h2,h3,h4,p1,p2)."): the first six
// comma-separated numbers in it (RFC 959 section 4.1.2 does not fix the
// text around them), each 0..255.
func ParsePASV(msg string) (netip.AddrPort, error) {
	for i := 0; i < len(msg); i++ {
		if !isDigit(msg[i]) || (i > 0 && isDigit(msg[i-1])) {
			continue
		}
		if ap, ok := parseSixNumbers(msg[i:]); ok {
			return ap, nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("PASV reply %q: no h1,h2,h3,h4,p1,p2", msg)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseSixNumbers parses "h1,h2,h3,h4,p1,p2" at the start of s.
func parseSixNumbers(s string) (netip.AddrPort, bool) {
	var v [6]byte
	for k := range v {
		if k > 0 {
			if s == "" || s[0] != ',' {
				return netip.AddrPort{}, false
			}
			s = s[1:]
		}
		n, j := 0, 0
		for j < len(s) && j < 3 && isDigit(s[j]) {
			n = n*10 + int(s[j]-'0')
			j++
		}
		if j == 0 || n > 255 || (j < len(s) && isDigit(s[j])) {
			return netip.AddrPort{}, false
		}
		v[k] = byte(n)
		s = s[j:]
	}
	addr := netip.AddrFrom4([4]byte{v[0], v[1], v[2], v[3]})
	return netip.AddrPortFrom(addr, uint16(v[4])<<8|uint16(v[5])), true
}

// ParseEPSV returns the port of a 229 reply's text ("Entering Extended
// Passive Mode (|||port|)", RFC 2428 section 3): after the first "(",
// three times one delimiter (any printable character), the port (1 to
// 65535), the delimiter again and ")". The network address is the control
// connection's.
func ParseEPSV(msg string) (uint16, error) {
	i := strings.IndexByte(msg, '(')
	if i < 0 || i+5 > len(msg) {
		return 0, fmt.Errorf("EPSV reply %q: no (|||port|)", msg)
	}
	s := msg[i+1:]
	d := s[0]
	if d < 33 || d > 126 || s[1] != d || s[2] != d {
		return 0, fmt.Errorf("EPSV reply %q: no (|||port|)", msg)
	}
	s = s[3:]
	n, j := 0, 0
	for j < len(s) && j < 5 && isDigit(s[j]) {
		n = n*10 + int(s[j]-'0')
		j++
	}
	if j == 0 || n == 0 || n > 65535 || j+1 >= len(s) || s[j] != d || s[j+1] != ')' {
		return 0, fmt.Errorf("EPSV reply %q: no (|||port|)", msg)
	}
	return uint16(n), nil
}
