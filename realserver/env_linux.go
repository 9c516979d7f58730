package realserver

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns` keeps its namespaces.
const netnsDir = "/run/netns"

func osEnv() env {
	return env{
		h: ipHost{},
		openDecap: func(iface, tun string, vips []netip.Addr, withTCX bool) (decapRunner, error) {
			return openDecap(iface, tun, vips, withTCX)
		},
		netnsID:     netnsID,
		netnsName:   netnsName,
		self:        func() (*Process, error) { return processInfo(os.Getpid()) },
		stopProcess: stopProcess,
	}
}

func (d *decapsulator) statsRef() *Stats        { return &d.stats }
func (d *decapsulator) doneCh() <-chan struct{} { return d.done }
func (d *decapsulator) runErr() error           { return d.err }

// arm puts the tcx program to work (it is attached held, so that nothing
// is decapsulated before the VIPs are up) and keeps log for the loop.
func (d *decapsulator) arm(log *slog.Logger) error {
	d.log = log
	if d.tcx != nil {
		return d.tcx.hold(false)
	}
	return nil
}

// hold swaps the capture sockets' filter for one that rejects every frame
// and the tcx program for one that leaves every frame alone (on), or puts
// ipipFilter and the program back (off).
func (d *decapsulator) hold(on bool) error {
	prog := ipipFilter()
	if on {
		prog = []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	for _, fd := range []int{d.capFd, d.capFd6} {
		if fd < 0 {
			continue
		}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			return fmt.Errorf("capture socket: %w", os.NewSyscallError("setsockopt SO_ATTACH_FILTER", err))
		}
	}
	if d.tcx != nil {
		return d.tcx.hold(on)
	}
	return nil
}

// netnsID returns the inode of the calling thread's network namespace.
func netnsID() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("network namespace: %w", os.NewSyscallError("stat", err))
	}
	return st.Ino, nil
}

// netnsName returns the name under /run/netns of the calling thread's
// network namespace (what `ip netns identify` prints), or "default".
func netnsName() string {
	var self unix.Stat_t
	if unix.Stat("/proc/thread-self/ns/net", &self) != nil {
		return defaultName
	}
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return defaultName
	}
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Stat(filepath.Join(netnsDir, e.Name()), &st) == nil &&
			st.Ino == self.Ino && st.Dev == self.Dev && nameRE.MatchString(e.Name()) {
			return e.Name()
		}
	}
	return defaultName
}

// processInfo reads a process's start time and command line from /proc.
func processInfo(pid int) (*Process, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	start, err := parseStartTime(stat)
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	cmd, err := os.ReadFile(dir + "/cmdline")
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	var args []string
	if len(cmd) > 0 {
		args = strings.Split(string(bytes.TrimSuffix(cmd, []byte{0})), "\x00")
	}
	return &Process{PID: pid, StartTime: start, Cmdline: args}, nil
}

// parseStartTime returns field 22 (starttime) of /proc/PID/stat. Field 2,
// the command name in parentheses, may hold spaces and parentheses, so
// fields are counted from the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	const idx = 22 - 3 // f[0] is field 3
	if len(f) <= idx {
		return 0, errors.New("malformed /proc stat")
	}
	return strconv.ParseUint(f[idx], 10, 64)
}

// stopProcess sends SIGTERM to p if it still runs and waits for it to exit,
// then SIGKILL after timeout.
func stopProcess(p *Process, timeout time.Duration, log *slog.Logger) error {
	if !p.Running() {
		log.Info("decapsulator process already gone", "pid", p.PID)
		return nil
	}
	log.Info("stopping decapsulator process", "pid", p.PID)
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal decapsulator process %d: %w", p.PID, err)
	}
	if waitGone(p, timeout) {
		return nil
	}
	log.Warn("decapsulator process ignored SIGTERM: killing it", "pid", p.PID)
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill decapsulator process %d: %w", p.PID, err)
	}
	if !waitGone(p, 5*time.Second) {
		return fmt.Errorf("decapsulator process %d does not exit", p.PID)
	}
	return nil
}

func waitGone(p *Process, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for p.Running() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// DefaultName is the state name Up and Down use when none is given: the
// name of the calling thread's network namespace under /run/netns, or
// "default".
func DefaultName() string { return netnsName() }
