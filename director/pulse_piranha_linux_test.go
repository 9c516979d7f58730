package director_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// piranhaPulse is Piranha's own pulse running in a lab namespace with
// --norun: it exchanges heartbeats and decides, but starts no lvsd.
type piranhaPulse struct {
	t   *testing.T
	cmd *exec.Cmd
	mu  sync.Mutex
	buf bytes.Buffer
}

// startPiranhaPulse runs the Piranha pulse binary ULVS_PIRANHA_PULSE names
// on pulseConf in ns, or skips the test.
func startPiranhaPulse(t *testing.T, ns lab.NS) *piranhaPulse {
	t.Helper()
	bin := os.Getenv("ULVS_PIRANHA_PULSE")
	if bin == "" {
		t.Skip("ULVS_PIRANHA_PULSE (a Piranha pulse binary) is not set")
	}
	cf := filepath.Join(t.TempDir(), "lvs.cf")
	if err := os.WriteFile(cf, []byte(pulseConf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &piranhaPulse{t: t}
	w := &lockedWriter{mu: &p.mu, w: &p.buf}
	p.cmd = exec.Command("ip", "netns", "exec", ns.Name, bin, "-c", cf, "--nodaemon", "--norun", "--verbose")
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(syscall.SIGTERM) })
	return p
}

func (p *piranhaPulse) stop(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	p.cmd.Wait()
	p.cmd = nil
	p.t.Logf("Piranha pulse's log:\n%s", p.log())
}

func (p *piranhaPulse) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// wait waits for pulse to log what and returns how long it took.
func (p *piranhaPulse) wait(what string, limit time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	for !strings.Contains(p.log(), what) {
		if time.Since(start) > limit {
			p.t.Fatalf("pulse did not log %q within %v:\n%s", what, limit, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestIntegrationPulseWithPiranha pairs ulvs with Piranha's own pulse
// (when ULVS_PIRANHA_PULSE is set), each way round.
func TestIntegrationPulseWithPiranha(t *testing.T) {
	// ulvs primary, pulse backup: pulse stays inactive beside it, takes
	// over when ulvs is killed, and steps down when ulvs fails back.
	t.Run("ulvs primary", func(t *testing.T) {
		e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true}, pulseConf, envOpts{file: "lvs.cf"})
		e.waitHA(t, "MASTER", 10*time.Second)
		p := startPiranhaPulse(t, e.lab.Backup)
		p.wait("STARTING PULSE AS BACKUP", 5*time.Second)
		time.Sleep(4 * time.Second) // more than deadtime
		if l := p.log(); strings.Contains(l, "activating lvs") || strings.Contains(l, "Incompatible") {
			t.Fatalf("pulse became active beside an active ulvs primary:\n%s", l)
		}
		if st := pulseStatus(t, e); st.Counters.AdvertsReceived == 0 || len(st.Faults) > 0 {
			t.Fatalf("ulvs hears no good heartbeat from pulse: %+v", st)
		}
		e.daemon.Process.Kill()
		e.daemon.Wait()
		e.daemon = nil
		took := p.wait("partner dead: activating lvs", 8*time.Second)
		t.Logf("Piranha pulse took over %.2f s after ulvs was killed (deadtime 3)", took.Seconds())
		e.start()
		e.waitHA(t, "MASTER", 10*time.Second)
		back := p.wait("partner active: deactivating LVS", 5*time.Second)
		t.Logf("ulvs failed back and Piranha pulse stepped down %.2f s after ulvsd restarted", back.Seconds())
	})
	// pulse primary, ulvs backup: ulvs stays BACKUP beside the active
	// pulse, takes over when pulse is killed; pulse restarted stays
	// inactive (pulse does not fail back), ulvs stays active.
	t.Run("pulse primary", func(t *testing.T) {
		l, err := lab.Up(t.Context(), lab.Config{RealServers: 2, Backup: true})
		if err != nil {
			t.Fatalf("lab up: %v", err)
		}
		t.Cleanup(func() { l.Down() })
		p := startPiranhaPulse(t, l.Director)
		p.wait("partner dead: activating lvs", 8*time.Second)
		b := startBackupLVSCF(t, l)
		b.waitHA(t, "BACKUP", 10*time.Second)
		time.Sleep(4 * time.Second)
		if st := pulseStatus(t, b); st.State.String() != "BACKUP" || st.MasterAddr.String() != "10.77.0.2" {
			t.Fatalf("ulvs backup beside an active pulse: %+v", st)
		}
		killed := time.Now()
		p.stop(syscall.SIGKILL)
		b.waitHA(t, "MASTER", 8*time.Second)
		t.Logf("ulvs took over %.2f s after Piranha pulse was killed (deadtime 3)", time.Since(killed).Seconds())
		p = startPiranhaPulse(t, l.Director)
		p.wait("STARTING PULSE AS MASTER", 5*time.Second)
		time.Sleep(4 * time.Second)
		if strings.Contains(p.log(), "activating lvs") {
			t.Fatalf("restarted pulse became active:\n%s", p.log())
		}
		if st := pulseStatus(t, b); st.State.String() != "MASTER" {
			t.Fatalf("ulvs backup after pulse restarted: %+v", st)
		}
		t.Logf("restarted Piranha pulse stays inactive beside the active ulvs backup (pulse does not fail back)")
	})
}
