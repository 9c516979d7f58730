package director_test

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// needBins skips t unless every one of bins is installed (in PATH or
// /usr/sbin).
func needBins(t *testing.T, bins ...string) {
	t.Helper()
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + bin); err != nil {
				t.Skipf("integration test: needs %s (scripts/setup-host.sh installs it)", bin)
			}
		}
	}
}

// TestIntegrationFTPIptablesMarks runs seed 001's FTP cluster with the
// port group set the seed's way: the three iptables mangle MARK lines
// typed as written (with the lab's VIP) in the director's namespace, no
// [[fwmark]] table, and `ipvsadm -A -f 21 -s rr -p`. Active and passive
// FTP go through the VIP to the server the persistence template names.
func TestIntegrationFTPIptablesMarks(t *testing.T) {
	skipUnprivileged(t)
	needBins(t, "vsftpd", "iptables", "nft")
	e := newEnvOpts(t, lab.Config{RealServers: 2}, "[director]\ninterfaces = [\"d-eth0\"]\n", envOpts{noServers: true})
	ftpCtx, stopFTP := context.WithCancel(context.Background())
	t.Cleanup(stopFTP)
	if err := e.lab.StartFTP(ftpCtx); err != nil {
		t.Fatalf("start vsftpd: %v", err)
	}
	ctx := context.Background()
	vip := e.lab.VIP.String()

	// The service first: no rule marks for it yet, which ulvsd says.
	e.mustAdm("-A", "-f", "21", "-s", "rr", "-p", "10")
	e.mustAdm("-a", "-f", "21", "-r", "10.77.0.11", "-g", "-w", "1")
	e.mustAdm("-a", "-f", "21", "-r", "10.77.0.12", "-g", "-w", "1")
	e.waitLog("fwmark service with no mark rule", "fwmark=21")

	// Seed 001's lines, and one ulvs cannot express.
	for _, line := range []string{
		"iptables -t mangle -A PREROUTING -p tcp -d " + vip + " --dport 21 -j MARK --set-mark 21",
		"iptables -t mangle -A PREROUTING -p tcp -d " + vip + " --dport 10000:20000 -j MARK --set-mark 21",
		"iptables -t mangle -A PREROUTING -p tcp -d " + vip + " --dport 20 -j MARK --set-mark 21",
		"iptables -t mangle -A PREROUTING -i d-eth0 -p tcp -d " + vip + " --dport 8021 -j MARK --set-mark 22",
	} {
		f := strings.Fields(line)
		if out, err := e.lab.Director.Run(ctx, f[0], f[1:]...); err != nil {
			t.Fatalf("%s: %v %s", line, err, out)
		}
	}
	start := time.Now()
	e.waitLog("iptables/nft marks applied", "rules_used=3", "rules_refused=1", "marks=21")
	t.Logf("marks applied %v after the last iptables line", time.Since(start).Round(time.Millisecond))
	e.waitLog("REFUSED", "--dport 8021", "option -i")

	out, err := e.lab.Director.Run(ctx, binDir+"/ulvs", "marks")
	if err != nil {
		t.Fatalf("ulvs marks: %v %s", err, out)
	}
	for _, want := range []string{"4 rules: 3 used, 1 refused", "mark 21  tcp " + vip + "/32 ports 10000-20000", "REFUSED  ip mangle PREROUTING: -A PREROUTING -d " + vip + "/32 -i d-eth0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ulvs marks lacks %q:\n%s", want, out)
		}
	}

	server := ""
	for i, active := range []bool{false, true, false, true} {
		var tr *lab.FTPTransfer
		var err error
		if active {
			tr, err = lab.FTPRetrieveActive(ctx, e.lab.Client.DialContext, e.lab.Client.Listen, netip.AddrPortFrom(e.lab.VIP, lab.FTPPort), "/whoami.txt")
		} else {
			tr, err = e.lab.FTPRetrieve(ctx, e.lab.VIP, "/whoami.txt")
		}
		if err != nil {
			t.Fatalf("transfer %d (active %v): %v\nulvsd log:\n%s", i, active, err, e.logText())
		}
		got := strings.TrimSpace(string(tr.Data))
		if server == "" {
			server = got
		}
		if got != server || !strings.Contains(tr.Greeting, server) {
			t.Errorf("transfer %d (active %v): data from %s, greeting %q; persistence wants %s for both", i, active, got, tr.Greeting, server)
		}
		if active && (tr.ActiveFrom.Addr() != e.lab.VIP || tr.ActiveFrom.Port() != lab.FTPDataPort) {
			t.Errorf("active transfer %d: data connection from %v, want %s:%d", i, tr.ActiveFrom, vip, lab.FTPDataPort)
		}
		if !active && (tr.Passive.Addr() != e.lab.VIP || tr.Passive.Port() < lab.FTPPassiveMin || tr.Passive.Port() > lab.FTPPassiveMax) {
			t.Errorf("passive transfer %d: PASV answered %v", i, tr.Passive)
		}
	}
	list := e.mustAdm("-L", "-n")
	if !strings.Contains(list, "FWM  21 rr persistent 10") {
		t.Errorf("listing does not show the mark service:\n%s", list)
	}

	// A source match: a later rule (the last match wins) gives one client
	// address mark 23, which no service has, so that client's FTP fails
	// while the first client's still works.
	clientB := netip.MustParseAddr("10.77.0.20")
	if out, err := e.lab.Client.Run(ctx, "ip", "addr", "add", clientB.String()+"/24", "dev", "c-eth0"); err != nil {
		t.Fatalf("add second client address: %v %s", err, out)
	}
	line := "iptables -t mangle -A PREROUTING -p tcp -s " + clientB.String() + " -d " + vip + " --dport 21 -j MARK --set-mark 23"
	if f := strings.Fields(line); len(f) > 0 {
		if out, err := e.lab.Director.Run(ctx, f[0], f[1:]...); err != nil {
			t.Fatalf("%s: %v %s", line, err, out)
		}
	}
	e.waitLog("iptables/nft marks applied", "rules_used=4", "rules_refused=1", "marks=23,21")
	bCtx, cancelB := context.WithTimeout(ctx, 2*time.Second)
	defer cancelB()
	if _, err := lab.FTPRetrieve(bCtx, dialFrom(e.lab.Client, clientB), netip.AddrPortFrom(e.lab.VIP, lab.FTPPort), "/whoami.txt"); err == nil {
		t.Errorf("client %s got through although its packets to port 21 carry mark 23, which no service has", clientB)
	}
	if _, err := e.lab.FTPRetrieve(ctx, e.lab.VIP, "/whoami.txt"); err != nil {
		t.Errorf("the first client, whom the -s rule does not select: %v", err)
	}

	// Deleting the rules takes the marks away again.
	if out, err := e.lab.Director.Run(ctx, "iptables", "-t", "mangle", "-F", "PREROUTING"); err != nil {
		t.Fatalf("iptables -F: %v %s", err, out)
	}
	e.waitLog("iptables/nft marks applied", "rules_used=0", "rules_refused=0")
	shortCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := e.lab.FTPRetrieve(shortCtx, e.lab.VIP, "/whoami.txt"); err == nil {
		t.Errorf("FTP through the VIP still works with the MARK rules flushed")
	}
}
