package director_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationSYNFloodDefended is scripts/reliability.sh's SYN flood in
// short: hping3 floods a NAT director whose tables hold 1536 connections
// with spoofed SYNs for a few seconds. The tables stop at their bound and
// count the refusals, the defences (mode 1) switch on, and once the flood
// stops drop_entry clears embryonic entries until there is room again and
// new clients are served. Skipped without hping3 (scripts/setup-host.sh
// installs it).
func TestIntegrationSYNFloodDefended(t *testing.T) {
	skipUnprivileged(t)
	if testing.Short() {
		t.Skip("floods for seconds")
	}
	hping, err := exec.LookPath("hping3")
	if err != nil {
		t.Skip("needs hping3 (scripts/setup-host.sh installs it)")
	}
	cfg, err := lab.DemoConfig(lab.ModeNAT)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(cfg), "workers = 0", "workers = 2\nconn_table_size = 1024", 1) +
		"\n[sysctl]\ndrop_entry = 1\ndrop_packet = 1\nsecure_tcp = 1\namemthresh = 256\n"
	e := newEnv(t, lab.Config{Mode: lab.ModeNAT, RealServers: 2}, conf)
	e.waitReady(2)
	if d := e.snapshot().Defense; d == nil || d.Capacity != 1536 {
		t.Fatalf("defence status %+v, want capacity 1536 (2 workers x 3/4 of 1024)", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	// hping3 runs until the context ends it; its exit status says nothing.
	e.lab.Client.Run(ctx, hping, "-S", "-p", "80", "--flood", "--rand-source", "10.77.0.100")

	snap := e.snapshot()
	d := snap.Defense
	if d.Conns > d.Capacity {
		t.Errorf("%d connections in tables of %d", d.Conns, d.Capacity)
	}
	refused := snap.Engine["drop_conn_table_full"] + snap.Engine["drop_drop_packet"]
	if refused == 0 || snap.Engine["defense_secure_tcp_on"] == 0 {
		t.Errorf("after the flood: refused %d (table full or drop_packet), secure_tcp switched on %d times; want both > 0\n%v",
			refused, snap.Engine["defense_secure_tcp_on"], snap.Engine)
	}
	// The flood is over: drop_entry makes room, the ladder steps down,
	// new connections are served again.
	c := e.client()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := e.get(c, "/"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new connection served within 90 s of the flood; defence %+v", *e.snapshot().Defense)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := e.snapshot().Engine["defense_drop_entry"]; got == 0 {
		t.Errorf("drop_entry removed nothing")
	}
}
