package director_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// v6Config is a dual-stack director: the lab's IPv4 service and an IPv6
// one on VIP6, both rr, with forwarding method fwd.
func v6Config(l *lab.Lab, fwd string) string {
	ifaces := `["d-eth0"]`
	if l.DirectorInsideIface != "" {
		ifaces = `["d-eth0", "d-eth1"]`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[director]\ninterfaces = %s\n\n[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"10.77.0.100:80\"\nscheduler = \"rr\"\nforward = %q\n", ifaces, fwd)
	for _, r := range l.RIPs {
		fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = \"%s:80\"\n", r)
	}
	fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"[%s]:80\"\nscheduler = \"rr\"\nforward = %q\n", l.VIP6, fwd)
	for _, r := range l.RIPs6 {
		fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = \"[%s]:80\"\n", r)
	}
	return b.String()
}

// download6 fetches size bytes of the lab servers' data from VIP6 with c
// and checks their SHA-256.
func (e *env) download6(t *testing.T, c *http.Client, size int) {
	t.Helper()
	e.downloadURL(t, c, fmt.Sprintf("http://[%s]/data?size=%d", e.lab.VIP6, size), size)
}

// downloadURL fetches url, size bytes of the lab servers' data, with c and
// checks their SHA-256.
func (e *env) downloadURL(t *testing.T, c *http.Client, url string, size int) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("download: %v\nulvsd log:\n%s", err, e.logText())
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || n != int64(size) {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != lab.DataSHA256(int64(size)) {
		t.Errorf("download corrupted: sha256 %s", got)
	}
}

// get6 fetches path from VIP6 with a fresh connection.
func (e *env) get6(path string) (string, error) {
	resp, err := e.client().Get("http://[" + e.lab.VIP6.String() + "]" + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// waitReady6 retries until every real server has answered through VIP6
// (each needs its MAC resolved by neighbour discovery first).
func (e *env) waitReady6(want int) {
	e.t.Helper()
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < want {
		body, err := e.get6("/")
		if err == nil {
			seen[body] = true
			continue
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("VIP6 never answered from all %d real servers (saw %v): %v\nulvsd log:\n%s", want, seen, err, e.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkV6Listing checks the IPv6 part of `ulvsadm -L -n` as ipvsadm 1.31
// prints an IPv6 service (no 33-column cut) and its real servers.
func checkV6Listing(t *testing.T, e *env, method string) {
	t.Helper()
	out := e.mustAdm("-L", "-n")
	svc := fmt.Sprintf("TCP  [%s]:80 rr\n", e.lab.VIP6)
	if !strings.Contains(out, svc) {
		t.Errorf("-L -n lacks %q:\n%s", svc, out)
	}
	for _, r := range e.lab.RIPs6 {
		re := regexp.MustCompile(`(?m)^  -> ` + regexp.QuoteMeta(fmt.Sprintf("%-28s", fmt.Sprintf("[%s]:80", r))) + " " +
			regexp.QuoteMeta(fmt.Sprintf("%-7s", method)) + ` 1      \d+ +\d+ +$`)
		if !re.MatchString(out) {
			t.Errorf("-L -n has no line for real server %s like %s:\n%s", r, re, out)
		}
	}
	t.Logf("ulvsadm -L -n:\n%s", out)
}

// TestIntegrationIPv6DR runs a dual-stack DR director; the real servers
// are prepared by `ulvs realserver up --mode dr` with both VIPs, as a user
// would.
func TestIntegrationIPv6DR(t *testing.T) {
	skipUnprivileged(t)
	cfg := lab.Config{RealServers: 2, IPv6: true, BareRealServers: true}
	e := newEnvLab(t, cfg, func(l *lab.Lab) string { return v6Config(l, "dr") })
	stateDir := t.TempDir()
	for _, rs := range e.lab.RS {
		nsOutput(t, rs, filepath.Join(binDir, "ulvs"), "realserver", "up", "--mode", "dr",
			"--vip", e.lab.VIP.String()+","+e.lab.VIP6.String(), "--state-dir", stateDir)
		t.Cleanup(func() {
			out, err := exec.Command("ip", "netns", "exec", rs.Name, filepath.Join(binDir, "ulvs"), "realserver", "down", "--state-dir", stateDir).CombinedOutput()
			if err != nil {
				t.Errorf("realserver down in %s: %v\n%s", rs.Name, err, out)
			}
		})
		if lo := nsOutput(t, rs, "ip", "-6", "-o", "addr", "show", "dev", "lo"); !strings.Contains(lo, e.lab.VIP6.String()+"/128") {
			t.Fatalf("ulvs realserver did not put VIP6 on lo: %s", lo)
		}
	}
	e.waitReady(2)
	e.waitReady6(2)

	t.Run("100 requests over IPv6 split 50/50 under rr", func(t *testing.T) {
		splitRR6(t, e, 100)
	})

	t.Run("the director, not a real server, answers neighbour solicitations for VIP6", func(t *testing.T) {
		mac := nsOutput(t, e.lab.Director, "cat", "/sys/class/net/d-eth0/address")
		neigh := nsOutput(t, e.lab.Client, "ip", "-6", "neigh", "show", e.lab.VIP6.String())
		if !strings.Contains(neigh, "lladdr "+strings.TrimSpace(mac)) {
			t.Errorf("client's neighbour entry for VIP6: %q, want the director's %s", neigh, mac)
		}
	})

	t.Run("curl -6 through VIP6, and a 4 MiB download intact", func(t *testing.T) { curlAndDownload6(t, e) })

	t.Run("ulvsadm -L -n lists the IPv6 service as ipvsadm", func(t *testing.T) {
		checkV6Listing(t, e, "Route")
	})

	t.Run("ulvsadm -L -n -c lists IPv6 connections", func(t *testing.T) {
		out := e.mustAdm("-L", "-n", "-c")
		re := regexp.MustCompile(`(?m)^TCP \d\d:\d\d  \S+ +\[` + regexp.QuoteMeta(e.lab.ClientAddr6.String()) + `\]:\d+ \[` +
			regexp.QuoteMeta(e.lab.VIP6.String()) + `\]:80 \[2001:db8:77::1[12]\]:80$`)
		if !re.MatchString(out) {
			t.Errorf("-L -n -c has no IPv6 connection like %s:\n%s", re, out)
		}
	})
}

// TestIntegrationIPv6NAT runs NAT66 with the veths' offloads on (the
// checksums arrive partial) and off (complete checksums rewritten).
func TestIntegrationIPv6NAT(t *testing.T) {
	skipUnprivileged(t)
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("offloads off %v", off), func(t *testing.T) { testIPv6NAT(t, off) })
	}
}

func testIPv6NAT(t *testing.T, offloadsOff bool) {
	cfg := lab.Config{RealServers: 2, IPv6: true, Mode: lab.ModeNAT, OffloadsOff: offloadsOff}
	e := newEnvLab(t, cfg, func(l *lab.Lab) string { return v6Config(l, "nat") })
	e.waitReady6(2)

	t.Run("100 requests over NAT66 split 50/50 under rr", func(t *testing.T) {
		splitRR6(t, e, 100)
	})

	t.Run("a 4 MiB download through NAT66 arrives intact", func(t *testing.T) { e.download6(t, e.client(), 4<<20) })

	t.Run("persistence with -M 64 keeps a client on one real server", func(t *testing.T) {
		e.mustAdm("-E", "-t", "["+e.lab.VIP6.String()+"]:80", "-s", "rr", "-p", "60", "-M", "64")
		got := map[string]int{}
		for i := range 10 {
			body, err := e.get6("/")
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			got[body]++
		}
		if len(got) != 1 {
			t.Errorf("a persistent client was spread: %v", got)
		}
		out := e.mustAdm("-L", "-n", "-c")
		// The template: the client masked to /64, port 0.
		if !regexp.MustCompile(`(?m)^TCP \d\d:\d\d  NONE +\[2001:db8:77::\]:0 +\[` + regexp.QuoteMeta(e.lab.VIP6.String()) + `\]:80 \[2001:db8:77:1::1[12]\]:80$`).MatchString(out) {
			t.Errorf("-L -n -c shows no /64 template:\n%s", out)
		}
		if l := e.mustAdm("-L", "-n"); !strings.Contains(l, "TCP  ["+e.lab.VIP6.String()+"]:80 rr persistent 60 mask 64\n") {
			t.Errorf("-L -n:\n%s", l)
		}
		e.mustAdm("-E", "-t", "["+e.lab.VIP6.String()+"]:80", "-s", "rr")
	})

	t.Run("ulvsadm -L -n and --stats", func(t *testing.T) {
		checkV6Listing(t, e, "Masq")
		out := e.mustAdm("-L", "-n", "--stats")
		re := regexp.MustCompile(`(?m)^TCP  \[` + regexp.QuoteMeta(e.lab.VIP6.String()) + `\]:80 +(\d+) +(\d+) +(\d+) `)
		m := re.FindStringSubmatch(out)
		if m == nil || m[1] == "0" || m[3] == "0" {
			t.Errorf("--stats shows no IPv6 connections or replies:\n%s", out)
		}
	})
}

// newEnvLab is newEnv with the configuration made from the lab.
func newEnvLab(t *testing.T, cfg lab.Config, config func(*lab.Lab) string) *env {
	return newEnvOpts(t, cfg, "", envOpts{configFor: config})
}

func nsOutput(t *testing.T, ns lab.NS, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v in %s: %v\n%s", name, args, ns.Name, err, out)
	}
	return string(out)
}
