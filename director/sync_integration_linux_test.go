package director_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// addDirector2 adds a second director namespace to e's lab: PREFIX-director2
// with d-eth0 at 10.77.0.3/24 on the lab's bridge, deleted at cleanup. It
// returns the namespace.
func addDirector2(e *env) lab.NS {
	e.t.Helper()
	ns := lab.NS{Name: e.lab.Prefix + "-director2"}
	e.ip("netns", "add", ns.Name)
	e.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			e.t.Errorf("ip netns del %s: %v: %s", ns.Name, err, out)
		}
	})
	sw := e.lab.Switch.Name
	e.ip("-n", sw, "link", "add", "sw-d2", "type", "veth", "peer", "name", lab.DirectorIface, "netns", ns.Name)
	e.ip("-n", sw, "link", "set", "sw-d2", "master", "br0", "up")
	e.ip("-n", ns.Name, "addr", "add", "10.77.0.3/24", "dev", lab.DirectorIface)
	e.ip("-n", ns.Name, "link", "set", lab.DirectorIface, "up")
	e.ip("-n", ns.Name, "link", "set", "lo", "up")
	return ns
}

// macIn returns the MAC of ifname inside ns.
func macIn(t *testing.T, ns lab.NS, ifname string) string {
	t.Helper()
	var mac string
	if err := ns.Do(func() error {
		ni, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		mac = ni.HardwareAddr.String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// pinVIP makes the client send VIP traffic to mac, whatever gratuitous ARP
// says: both directors answer for the VIP in this test (no VRRP).
func pinVIP(e *env, mac string) {
	e.t.Helper()
	e.ip("-n", e.lab.Client.Name, "neigh", "replace", e.lab.VIP.String(), "lladdr", mac, "dev", "c-eth0", "nud", "permanent")
}

// connStates parses ulvsadm -L -n -c into "client -> state dest" by client
// address and port, for the client's connections to the VIP.
func connStates(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 6 && f[4] == "10.77.0.100:80" && strings.HasPrefix(f[3], "10.77.0.10:") {
			m[f[3]] = f[2] + " " + f[5]
		}
	}
	return m
}

// TestIntegrationSyncTakeover runs two ulvsd directors on the DR lab's
// bridge: the master syncs its connections to the backup, which lists them
// with the master's states and real servers; after kill -9 of the master
// and the client's VIP moved to the backup's MAC, the keep-alive
// connection carries on through the backup to the same real server.
func TestIntegrationSyncTakeover(t *testing.T) {
	conf := fmt.Sprintf(drConfig, realServers("10.77.0.11", "10.77.0.12"))
	e := newEnv(t, lab.Config{RealServers: 2}, conf)
	ns2 := addDirector2(e)
	b := &env{t: t, lab: e.lab, dir: t.TempDir(), cfg: e.cfg, ns: ns2, log: &bytes.Buffer{}}
	b.sock = filepath.Join(b.dir, "ulvsd.sock")
	b.start()
	t.Cleanup(b.stop)
	pinVIP(e, macIn(t, e.lab.Director, lab.DirectorIface))

	b.mustAdm("--start-daemon", "backup", "--mcast-interface", lab.DirectorIface, "--syncid", "7")
	e.mustAdm("--start-daemon", "master", "--mcast-interface", lab.DirectorIface, "--syncid", "7")
	if got, want := e.mustAdm("-L", "--daemon"), "master sync daemon (mcast=d-eth0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"; got != want {
		t.Errorf("master -L --daemon = %q, want %q", got, want)
	}
	if got := b.mustAdm("-L", "--daemon"); !strings.HasPrefix(got, "backup sync daemon (mcast=d-eth0, syncid=7, maxlen=") {
		t.Errorf("backup -L --daemon = %q", got)
	}
	e.waitReady(2)

	// One keep-alive connection, a few short ones.
	ka := e.keepAlive()
	var local string
	var reused bool
	get := func() string {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
			local, reused = ci.Conn.LocalAddr().String(), ci.Reused
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://10.77.0.100/", nil)
		resp, err := ka.Do(req)
		if err != nil {
			t.Fatalf("keep-alive request: %v\nmaster log:\n%s\nbackup log:\n%s", err, e.logText(), b.logText())
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(body))
	}
	first := get()
	for range 3 {
		get()
	}
	kaLocal := local
	count(t, e, e.client(), 4)

	// The backup lists every connection of the master with its state and
	// real server once the messages arrived (a lone entry leaves after 2
	// to 3 s).
	var master, backup map[string]string
	deadline := time.Now().Add(8 * time.Second)
	for {
		master, backup = connStates(e.mustAdm("-L", "-n", "-c")), connStates(b.mustAdm("-L", "-n", "-c"))
		same := len(master) >= 5
		for k, v := range master {
			if backup[k] != v {
				same = false
			}
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup's connections never matched the master's:\nmaster %v\nbackup %v\nbackup log:\n%s", master, backup, b.logText())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := backup[kaLocal]; !strings.HasPrefix(st, "ESTABLISHED ") {
		t.Errorf("keep-alive connection %s on the backup: %q, want ESTABLISHED", kaLocal, st)
	}
	// Synced connections count in ActiveConn and InActConn as the
	// master's do (the oracle's kernel backup shows the same).
	if mt, bt := e.mustAdm("-L", "-n"), b.mustAdm("-L", "-n"); mt != bt {
		t.Errorf("backup's table\n%s\ndiffers from the master's\n%s", bt, mt)
	}

	// Takeover: the master dies, the client's VIP moves to the backup.
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	pinVIP(e, macIn(t, ns2, lab.DirectorIface))
	if got := get(); got != first || !reused || local != kaLocal {
		t.Errorf("after takeover: %q on %s (reused %v), want %q on the same connection %s", got, local, reused, first, kaLocal)
	}
	// Short connections are scheduled by the backup itself.
	if got := count(t, b, b.client(), 2); len(got) == 0 {
		t.Error("backup did not serve new connections")
	}
}
