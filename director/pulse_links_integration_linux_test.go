package director_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// pulseLinksConf is pulseConf with monitor_links and pulse's commands:
// each touches a file in DIR (one directory per director).
var pulseLinksConf = strings.Replace(pulseConf, "network = direct\n",
	"monitor_links = 1\nactive_cmd = \"/usr/bin/touch DIR/active\"\ninactive_cmd = \"/usr/bin/touch DIR/inactive\"\nnetwork = direct\n", 1)

// TestIntegrationPulseMonitorLinks: two ulvsd on an lvs.cf with
// monitor_links = 1. The active primary's public link is taken down (ip
// link set down in its namespace): it gives up the active role at once
// (inactive_cmd runs) and, its heartbeats gone, the backup takes over
// after deadtime and serves through the VIP (active_cmd runs there). The
// link back, the primary fails back (ulvs's fail back) and the backup
// steps down.
func TestIntegrationPulseMonitorLinks(t *testing.T) {
	pd, bd := t.TempDir(), t.TempDir()
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true}, strings.ReplaceAll(pulseLinksConf, "DIR", pd), envOpts{file: "lvs.cf"})
	b := &env{t: t, lab: e.lab, dir: t.TempDir(), ns: e.lab.Backup, log: &bytes.Buffer{}}
	b.cfg = filepath.Join(b.dir, "lvs.cf")
	b.sock = filepath.Join(b.dir, "ulvsd.sock")
	b.writeConfig(strings.ReplaceAll(pulseLinksConf, "DIR", bd))
	b.start()
	t.Cleanup(b.stop)

	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)
	// pulse runs inactive_cmd as it starts, active_cmd when it activates.
	waitCreated(t, filepath.Join(pd, "inactive"))
	waitCreated(t, filepath.Join(pd, "active"))
	waitCreated(t, filepath.Join(bd, "inactive"))
	for _, f := range []string{filepath.Join(pd, "active"), filepath.Join(pd, "inactive"), filepath.Join(bd, "inactive")} {
		os.Remove(f)
	}

	down := time.Now()
	e.ip("-n", e.lab.Director.Name, "link", "set", "d-eth0", "down")
	e.waitHA(t, "FAULT", 5*time.Second)
	st := pulseStatus(t, e)
	if st.Reason != "local link failure" || len(st.Faults) == 0 || !strings.Contains(st.Faults[len(st.Faults)-1], "link down: d-eth0") {
		t.Errorf("primary's ulvs ha with its link down: %+v", st)
	}
	waitCreated(t, filepath.Join(pd, "inactive"))
	b.waitHA(t, "MASTER", 10*time.Second)
	active := time.Since(down)
	b.waitReady(2)
	serving := time.Since(down)
	waitCreated(t, filepath.Join(bd, "active"))
	t.Logf("link down: backup active %.2f s and serving through the VIP %.2f s after the primary's link went down (keepalive 1, deadtime 3)",
		active.Seconds(), serving.Seconds())
	if _, err := os.Stat(filepath.Join(pd, "active")); err == nil {
		t.Errorf("the primary ran active_cmd while its link was down")
	}
	if log := e.logText(); !strings.Contains(log, "Local NIC link failure: Pulse disabled") || !strings.Contains(log, "local link failure") {
		t.Errorf("primary log lacks pulse's link failure:\n%s", log)
	}

	up := time.Now()
	e.ip("-n", e.lab.Director.Name, "link", "set", "d-eth0", "up")
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	back := time.Since(up)
	e.waitReady(2)
	waitCreated(t, filepath.Join(pd, "active"))
	waitCreated(t, filepath.Join(bd, "inactive"))
	t.Logf("link up: primary active again and the backup inactive %.2f s after the link came back", back.Seconds())
	if log := e.logText(); !strings.Contains(log, "Local NIC link(s) restored: Pulse enabled") || !strings.Contains(log, "failing back") {
		t.Errorf("primary log lacks the link's return and the fail back:\n%s", log)
	}
	if log := b.logText(); !strings.Contains(log, "partner dead") || !strings.Contains(log, "partner active") {
		t.Errorf("backup log lacks pulse's reasons:\n%s", log)
	}
}

// waitCreated waits for path to exist (a command ulvsd runs creates it).
func waitCreated(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not created within 10 s", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntegrationPulseReload: SIGHUP with a changed lvs.cf pulse
// configuration (deadtime 3 to 4, monitor_links added) restarts pulse on
// the active primary without a change of role: it stays active ("reload:
// was active") and the backup never activates. A reload whose pulse
// cannot start leaves the running one. The new configuration runs: the
// primary's link taken down, it gives up the VIP.
func TestIntegrationPulseReload(t *testing.T) {
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true}, pulseConf, envOpts{file: "lvs.cf"})
	b := startBackupLVSCF(t, e.lab)
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)

	// Both started at once: the backup may have been active for one
	// keepalive already (docs/ha.md); count from here.
	before := strings.Count(b.logText(), ": activating lvs")
	changed := strings.Replace(pulseConf, "deadtime = 3\n", "deadtime = 4\nmonitor_links = 1\n", 1)
	e.hup(t, changed, 1)
	if !strings.Contains(e.logText(), "reload: pulse restarted") {
		t.Fatalf("primary did not restart pulse:\n%s", e.logText())
	}
	e.waitHA(t, "MASTER", 5*time.Second)
	if st := pulseStatus(t, e); st.Reason != "reload: was active" {
		t.Errorf("primary's ulvs ha after the reload: %+v", st)
	}
	e.waitReady(2)
	// Two keepalives later the backup has heard the new node running.
	time.Sleep(2 * time.Second)
	b.waitHA(t, "BACKUP", time.Second)
	if log := b.logText(); strings.Count(log, ": activating lvs") != before {
		t.Errorf("the backup activated across the primary's reload:\n%s", log)
	}

	// A reload whose pulse cannot start (neither address is here):
	// the running configuration starts again, still active.
	e.hup(t, strings.Replace(changed, "primary = 10.77.0.2\n", "primary = 10.77.0.9\n", 1), 2)
	if !strings.Contains(e.logText(), "the previous pulse configuration runs on") {
		t.Errorf("a bad pulse reload was not reported:\n%s", e.logText())
	}
	e.waitHA(t, "MASTER", 5*time.Second)
	e.waitReady(2)

	e.ip("-n", e.lab.Director.Name, "link", "set", "d-eth0", "down")
	e.waitHA(t, "FAULT", 5*time.Second)
	b.waitHA(t, "MASTER", 10*time.Second)
	b.waitReady(2)
	if strings.Count(b.logText(), ": activating lvs") != before+1 {
		t.Errorf("the backup activated more than once after the reloads:\n%s", b.logText())
	}
}
