package director_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// pulseNATConf is an lvs.cf for a NAT director pair with a private
// heartbeat network (the lab's inside network), the real servers' gateway
// as nat_router and the connection sync daemon.
const pulseNATConf = `serial_no = 3
primary = 10.77.0.2
primary_private = 10.77.1.1
service = lvs
backup_active = 1
backup = 10.77.0.3
backup_private = 10.77.1.2
heartbeat = 1
heartbeat_port = 539
keepalive = 1
deadtime = 3
network = nat
nat_router = 10.77.1.254 d-eth1:1
nat_nmask = 255.255.255.0
syncdaemon = 1
syncd_iface = d-eth0
syncd_id = 7
virtual web {
     active = 1
     address = 10.77.0.100 d-eth0:1
     vip_nmask = 255.255.255.0
     port = 80
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     scheduler = rr
     protocol = tcp
     timeout = 2
     reentry = 4
     server rs1 {
         address = 10.77.1.11
         active = 1
         weight = 1
     }
     server rs2 {
         address = 10.77.1.12
         active = 1
         weight = 1
     }
}
`

// dropHeartbeats makes ns drop pulse heartbeats from src (an nftables
// input rule), as a failed network would.
func dropHeartbeats(t *testing.T, ns lab.NS, src string) {
	t.Helper()
	script := "table ip hbcut {\n\tchain in {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr " + src + " udp dport 539 drop\n\t}\n}\n"
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
}

// TestIntegrationPulseNATPrivate: two ulvsd run a NAT lvs.cf with a
// private heartbeat network, nat_router and syncdaemon. The public
// heartbeat path fails: the backup still hears the primary over the
// private one and stays inactive past deadtime. The primary is then
// killed: the backup takes over the VIP and the real servers' gateway
// (nat_router), and a keep-alive connection opened through the primary
// carries on through the backup (synced), never reset.
func TestIntegrationPulseNATPrivate(t *testing.T) {
	o := envOpts{file: "lvs.cf", args: []string{"-i", "d-eth0,d-eth1"}}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, Mode: lab.ModeNAT}, pulseNATConf, o)
	routeViaFloatingGateway(t, e.lab)
	b := e.startBackup(t, "lvs.cf", pulseNATConf, o.args)
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)

	// The keep-alive connection, through the primary.
	ka := e.keepAlive()
	var conns int
	get := func() error {
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
			if !ci.Reused {
				conns++
			}
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://10.77.0.100/", nil)
		resp, err := ka.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body) // read to the end, or the connection is not reused
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}

	// The public heartbeat path fails; the private one carries on.
	dropHeartbeats(t, e.lab.Backup, "10.77.0.2")
	time.Sleep(5 * time.Second) // deadtime 3 and more; the sync entry reaches the backup too
	if st := pulseStatus(t, b); st.State.String() != "BACKUP" {
		t.Fatalf("backup took over with the private heartbeat path alive: %+v\n%s", st, b.logText())
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	t.Logf("connections before the kill: %d", conns)

	killed := time.Now()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	b.waitHA(t, "MASTER", 8*time.Second)
	b.waitReady(2)
	t.Logf("primary killed: the backup served through the VIP and the nat_router %.2f s later", time.Since(killed).Seconds())
	for i := 0; i < 5; i++ {
		if err := get(); err != nil {
			t.Fatalf("keep-alive request %d through the backup: %v", i, err)
		}
	}
	if conns != 1 {
		t.Errorf("the keep-alive client opened %d connections, want 1 (synced, never reset)", conns)
	}
}
