package director_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationSeed001Piranha runs seed 001's lvs.cf, on the lab's
// addresses (config/piranha/testdata/seed001-lab.cf), as typed but for
// the FTP virtual, which is made inactive (its fwmark needs iptables
// marks, another part of issue 12): the Apache virtual with network =
// direct, rr, send "GET / HTTP/1.0\r\n\r\n" expect "HTTP", timeout 6 and
// reentry 15. nanny adds each server after its first good check, takes a
// stopped one out at its next check and puts it back after
// reentry/timeout = 2 good checks.
func TestIntegrationSeed001Piranha(t *testing.T) {
	skipUnprivileged(t)
	data, err := os.ReadFile(filepath.Join("..", "config", "piranha", "testdata", "seed001-lab.cf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(data)
	ftp := strings.Index(conf, "virtual FTP {")
	if ftp < 0 {
		t.Fatal("seed001-lab.cf has no virtual FTP")
	}
	conf = conf[:ftp] + strings.Replace(conf[ftp:], "active = 1", "active = 0", 1)
	e := newEnvOpts(t, lab.Config{RealServers: 2}, conf, envOpts{noServers: true, file: "lvs.cf"})
	servers := e.startRSServers(t, 80)
	both := []string{`TCP  10\.77\.0\.100:80 rr`, `-> 10\.77\.0\.11:80 +Route +1 `, `-> 10\.77\.0\.12:80 +Route +1 `}
	e.waitTable(t, 15*time.Second, "both servers added by their first check", both...)
	// backup_active = 1 and no backup in this lab: pulse makes the
	// primary active after deadtime (18 s) without a heartbeat.
	started := time.Now()
	e.waitHA(t, "MASTER", 25*time.Second)
	t.Logf("pulse: the primary active %.1f s after both servers were added (deadtime 18 from ulvsd's start, no backup)", time.Since(started).Seconds())
	c := e.client()
	alternate := func(when string) {
		t.Helper()
		var got []string
		for i := 0; i < 4; i++ {
			b, err := e.get(c, "/")
			if err != nil {
				t.Fatalf("%s: request %d: %v\n%s", when, i, err, e.logText())
			}
			got = append(got, b)
		}
		if got[0] == got[1] || got[0] != got[2] || got[1] != got[3] {
			t.Errorf("%s: answers %v, want rs1 and rs2 alternating (scheduler = rr)", when, got)
		}
	}
	alternate("at start")

	killed := time.Now()
	servers[0].kill()
	gone := e.waitTable(t, 20*time.Second, "rs1 shut down", `!-> 10\.77\.0\.11:80 `, `-> 10\.77\.0\.12:80 `)
	t.Logf("nanny (timeout 6): rs1 removed %.1f s after its web server stopped", gone.Sub(killed).Seconds())
	for i := 0; i < 3; i++ {
		if b, err := e.get(c, "/"); err != nil || b != "rs2" {
			t.Fatalf("with rs1 down: %q, %v; want rs2", b, err)
		}
	}
	started = time.Now()
	servers[0].start()
	back := e.waitTable(t, 40*time.Second, "rs1 made available again", both...)
	t.Logf("nanny (timeout 6, reentry 15): rs1 back %.1f s after its web server started", back.Sub(started).Seconds())
	alternate("after rs1 came back")
	if log := e.logText(); !strings.Contains(log, "partner dead: activating lvs") {
		t.Errorf("ulvsd did not log pulse's takeover:\n%s", log)
	}
}

// TestIntegrationSeed004LVSConf runs seed 004's lvs_dr.conf on the lab
// (config/lvsdr/testdata/seed004-lab.conf), its real servers written as
// the lab's addresses (the lab has no names for rs1 and rs2; the services
// telnet and www are still looked up in /etc/services): the www service
// (rr, direct routing) answers from rs1 and rs2 in turn, as seed 002's
// curl loop checks.
func TestIntegrationSeed004LVSConf(t *testing.T) {
	skipUnprivileged(t)
	data, err := os.ReadFile(filepath.Join("..", "config", "lvsdr", "testdata", "seed004-lab.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("rs1:", "10.77.0.11:", "rs2:", "10.77.0.12:").Replace(string(data))
	e := newEnvOpts(t, lab.Config{RealServers: 2}, conf, envOpts{file: "lvs_dr.conf"})
	out := e.mustAdm("-L", "-n")
	for _, want := range []string{"TCP  10.77.0.100:23 rr", "TCP  10.77.0.100:80 rr", "-> 10.77.0.11:80", "-> 10.77.0.12:80"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	c := e.client()
	var got []string
	for i := 0; i < 6; i++ {
		b, err := e.get(c, "/")
		if err != nil {
			t.Fatalf("request %d: %v\n%s", i, err, e.logText())
		}
		got = append(got, b)
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("answers %v: want rs1 and rs2 alternating (rr)", got)
		}
	}
	if !strings.Contains(e.logText(), "no health checks") {
		t.Errorf("ulvsd did not log the no-health-checks warning:\n%s", e.logText())
	}
}
