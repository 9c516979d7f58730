package lab

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Keepalived is a real keepalived (Debian's, VRRP only) running in a lab
// namespace: the peer a ulvs director pairs with in failover lessons and
// tests. Its console log is kept line by line. Safe for concurrent use.
type Keepalived struct {
	cmd  *exec.Cmd
	dir  string
	mu   sync.Mutex
	log  []keepalivedLine
	more chan struct{}
	done chan struct{}
}

type keepalivedLine struct {
	at   time.Time
	text string
}

// StartKeepalived runs `keepalived -n -l -D -P -R -f CONF` in ns with conf
// as its configuration, its files in dir: VRRP only (-P), logging to its
// console, and with -R so that a killed VRRP child is not respawned. Stop
// ends it.
func StartKeepalived(ns NS, dir, conf string) (*Keepalived, error) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		return nil, fmt.Errorf("keepalived is not installed (scripts/setup-host.sh installs it): %w", ErrNotSupported)
	}
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	k := &Keepalived{dir: dir, more: make(chan struct{}, 1), done: make(chan struct{})}
	k.cmd = exec.Command("ip", "netns", "exec", ns.Name, "keepalived", "-n", "-l", "-D", "-P", "-R",
		"-f", path, "-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"))
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	k.cmd.Stdout, k.cmd.Stderr = pw, pw
	if err := k.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start keepalived: %w", err)
	}
	pw.Close()
	go func() {
		defer close(k.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			k.mu.Lock()
			k.log = append(k.log, keepalivedLine{time.Now(), sc.Text()})
			k.mu.Unlock()
			select {
			case k.more <- struct{}{}:
			default:
			}
		}
		_ = k.cmd.Wait()
		pr.Close()
	}()
	return k, nil
}

// Mark returns the number of log lines so far, for Wait.
func (k *Keepalived) Mark() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.log)
}

// Wait returns when the first log line at or after index from that
// contains s was read, or false when none came within timeout.
func (k *Keepalived) Wait(s string, from int, timeout time.Duration) (time.Time, bool) {
	deadline := time.After(timeout)
	for {
		k.mu.Lock()
		for _, l := range k.log[min(from, len(k.log)):] {
			if strings.Contains(l.text, s) {
				k.mu.Unlock()
				return l.at, true
			}
		}
		k.mu.Unlock()
		select {
		case <-k.more:
		case <-k.done:
			k.mu.Lock()
			defer k.mu.Unlock()
			for _, l := range k.log[min(from, len(k.log)):] {
				if strings.Contains(l.text, s) {
					return l.at, true
				}
			}
			return time.Time{}, false
		case <-deadline:
			return time.Time{}, false
		}
	}
}

// Log returns the console log so far.
func (k *Keepalived) Log() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var b strings.Builder
	for _, l := range k.log {
		b.WriteString(l.at.Format("15:04:05.000 "))
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// Stop sends sig to keepalived's VRRP child (from its pid file) and then
// to keepalived itself, and waits for it to end.
func (k *Keepalived) Stop(sig syscall.Signal) {
	if b, err := os.ReadFile(filepath.Join(k.dir, "vrrp.pid")); err == nil {
		var pid int
		if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &pid); err == nil && pid > 1 {
			_ = syscall.Kill(pid, sig)
		}
	}
	if k.cmd.Process != nil {
		_ = k.cmd.Process.Signal(sig)
	}
	select {
	case <-k.done:
	case <-time.After(10 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}
