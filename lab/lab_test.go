package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// skipUnprivileged skips integration tests under -short, without root or
// without the ip tool.
func skipUnprivileged(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("integration test: needs the ip tool (iproute2)")
	}
}

// upLab builds a lab and tears it down with the test.
func upLab(t *testing.T, cfg Config) *Lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Up(ctx, cfg)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("Down: %v", err)
		}
	})
	return l
}

func readSysctl(t *testing.T, n NS, key string) string {
	t.Helper()
	var v string
	err := n.Do(func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", key))
		v = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		t.Fatalf("read %s in %s: %v", key, n, err)
	}
	return v
}

func TestIntegrationUpDown(t *testing.T) {
	skipUnprivileged(t)
	ctx := context.Background()
	l, err := Up(ctx, Config{RealServers: 3})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	downed := false
	defer func() {
		if !downed {
			l.Down()
		}
	}()
	if got := len(l.Namespaces()); got != 6 {
		t.Errorf("namespaces: got %d, want 6", got)
	}
	for _, n := range l.Namespaces() {
		if !n.Exists() {
			t.Errorf("namespace %s does not exist", n)
		}
		if !strings.HasPrefix(n.Name, l.Prefix+"-") {
			t.Errorf("namespace %s lacks prefix %s", n, l.Prefix)
		}
	}
	for _, c := range []struct {
		ns        NS
		key, want string
	}{
		{l.Director, "net/ipv4/ip_forward", "0"},
		{l.Director, "net/ipv4/conf/all/send_redirects", "0"},
		{l.RS[2], "net/ipv4/conf/all/arp_ignore", "1"},
		{l.RS[2], "net/ipv4/conf/all/arp_announce", "2"},
	} {
		if got := readSysctl(t, c.ns, c.key); got != c.want {
			t.Errorf("%s %s: got %s, want %s", c.ns, c.key, got, c.want)
		}
	}
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err == nil {
		if got := readSysctl(t, l.Switch, "net/bridge/bridge-nf-call-iptables"); got != "0" {
			t.Errorf("switch bridge-nf-call-iptables: got %s, want 0", got)
		}
	}
	// The VIP sits on the real servers' lo, not on the director.
	out, err := l.RS[2].Run(ctx, "ip", "-4", "-o", "addr", "show")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lo    inet 10.77.0.100/32", "r3-eth0    inet 10.77.0.13/24"} {
		if !strings.Contains(strings.Join(strings.Fields(string(out)), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("rs3 addresses lack %q:\n%s", want, out)
		}
	}
	out, err = l.Director.Run(ctx, "ip", "-4", "-o", "addr", "show")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "10.77.0.100") || !strings.Contains(string(out), "10.77.0.2/24") {
		t.Errorf("director addresses: want the DIP and no VIP:\n%s", out)
	}

	if err := l.Down(); err != nil {
		t.Fatalf("Down: %v", err)
	}
	downed = true
	for _, n := range l.Namespaces() {
		if n.Exists() {
			t.Errorf("namespace %s left behind", n)
		}
	}
	if left := existingNamespaces(l.Prefix); len(left) != 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
	if err := l.Down(); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

func TestIntegrationServersDirect(t *testing.T) {
	skipUnprivileged(t)
	l := upLab(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := l.StartServers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.StartServers(ctx); err == nil {
		t.Error("second StartServers: got nil error, want one")
	}
	c := l.Client.HTTPClient()
	get := func(url string) (string, http.Header) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
		}
		return string(b), resp.Header
	}
	for i, rip := range l.RIPs {
		want := "rs" + string(rune('1'+i)) + "\n"
		if got, _ := get("http://" + rip.String() + "/"); got != want {
			t.Errorf("GET %s/: got %q, want %q", rip, got, want)
		}
	}

	const size = 300_000
	body, h := get("http://10.77.0.12/data?size=300000")
	sum := sha256.Sum256([]byte(body))
	if len(body) != size || hex.EncodeToString(sum[:]) != DataSHA256(size) {
		t.Errorf("GET /data: %d bytes, sha256 %x; want %d bytes, %s", len(body), sum, size, DataSHA256(size))
	}
	if got := h.Get("X-Real-Server"); got != "rs2" {
		t.Errorf("X-Real-Server: got %q, want rs2", got)
	}

	req, _ := http.NewRequestWithContext(ctx, "POST", "http://10.77.0.11/upload", DataReader(size))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := strings.TrimSpace(string(b)); got != DataSHA256(size) {
		t.Errorf("POST /upload: got %q, want %s", got, DataSHA256(size))
	}

	// Keep-alive: two requests over one connection.
	ka := &http.Client{Transport: &http.Transport{DialContext: l.Client.DialContext}}
	reused := false
	for range 2 {
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", "http://10.77.0.11/", nil)
		resp, err := ka.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if !reused {
		t.Error("keep-alive: second request did not reuse the connection")
	}

	// UDP echo from the client namespace.
	uc, err := l.Client.DialContext(ctx, "udp4", "10.77.0.12:80")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := uc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := uc.Read(buf)
	if err != nil || string(buf[:n]) != "rs2\nping" {
		t.Errorf("udp echo: got %q, %v; want %q", buf[:n], err, "rs2\nping")
	}

	// Down stops the servers: the listeners' sockets are closed.
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationTwoLabs(t *testing.T) {
	skipUnprivileged(t)
	a := upLab(t, Config{RealServers: 1})
	b := upLab(t, Config{RealServers: 1})
	if a.Prefix == b.Prefix {
		t.Fatalf("both labs have prefix %s", a.Prefix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, l := range []*Lab{a, b} {
		if err := l.StartServers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []*Lab{a, b} {
		resp, err := l.Client.HTTPClient().Get("http://10.77.0.11/")
		if err != nil {
			t.Fatalf("lab %s: %v", l.Prefix, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "rs1\n" {
			t.Errorf("lab %s: got %q, want rs1", l.Prefix, got)
		}
	}
	// A used prefix fails, and the failed Up deletes nothing of the
	// lab that owns it.
	if _, err := Up(ctx, Config{Prefix: a.Prefix, RealServers: 1}); err == nil {
		t.Fatal("Up with a prefix in use: got nil error")
	}
	for _, n := range a.Namespaces() {
		if !n.Exists() {
			t.Errorf("failed Up deleted %s of the lab using the prefix", n)
		}
	}
}

func TestIntegrationOffloadsOff(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("needs ethtool")
	}
	l := upLab(t, Config{RealServers: 1, OffloadsOff: true})
	for _, c := range []struct {
		ns     NS
		ifname string
	}{{l.Director, "d-eth0"}, {l.Switch, "sw-r1"}} {
		out, err := c.ns.Run(context.Background(), "ethtool", "-k", c.ifname)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"tx-checksumming: off", "tcp-segmentation-offload: off",
			"generic-segmentation-offload: off", "generic-receive-offload: off"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s %s: lacks %q", c.ns, c.ifname, want)
			}
		}
	}
}

func TestIntegrationRemoveFromState(t *testing.T) {
	skipUnprivileged(t)
	ctx := context.Background()
	l, err := Up(ctx, Config{RealServers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down()

	// A background process inside rs1, as `ulvs lab up` starts them.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("needs sleep")
	}
	cmd := exec.Command("ip", "netns", "exec", l.RS[0].Name, sleep, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p := Process{Node: "rs1", PID: cmd.Process.Pid, Args: []string{sleep, "60"}}
	deadline := time.Now().Add(5 * time.Second)
	for !p.Running() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // until ip netns exec has exec'd sleep
	}
	if !p.Running() {
		t.Fatal("background process did not start")
	}

	dir := t.TempDir()
	if err := WriteState(StatePath(dir, l.Prefix), &State{Lab: l, Processes: []Process{p}}); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dir, l.Prefix); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("recorded process still runs after Remove")
	}
	for _, n := range l.Namespaces() {
		if n.Exists() {
			t.Errorf("namespace %s left behind", n)
		}
	}
	if _, err := os.Stat(StatePath(dir, l.Prefix)); !os.IsNotExist(err) {
		t.Errorf("state file: got %v, want it removed", err)
	}
	if err := Remove(dir, l.Prefix); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestIntegrationRemoveWithoutState(t *testing.T) {
	skipUnprivileged(t)
	l, err := Up(context.Background(), Config{RealServers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down()
	if err := Remove(t.TempDir(), l.Prefix); err != nil {
		t.Fatal(err)
	}
	if left := existingNamespaces(l.Prefix); len(left) != 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}

func TestIntegrationDoListen(t *testing.T) {
	skipUnprivileged(t)
	l := upLab(t, Config{RealServers: 1})
	// A listener on the DIP exists only in the director namespace.
	ln, err := l.Director.Listen("tcp4", "10.77.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := net.Listen("tcp4", "10.77.0.2:0"); err == nil {
		t.Error("root namespace could bind the DIP: the lab leaked into it")
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := l.Client.DialContext(context.Background(), "tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	if string(b) != "hi" {
		t.Errorf("got %q, want hi", b)
	}
}

// TestIntegrationDRByHand plays the director with a static neighbour entry:
// the client sends frames for the VIP straight to rs1's MAC, as a DR
// director would, and rs1 must answer from the VIP, over TCP and UDP.
func TestIntegrationDRByHand(t *testing.T) {
	skipUnprivileged(t)
	l := upLab(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.StartServers(ctx); err != nil {
		t.Fatal(err)
	}
	var mac string
	if err := l.RS[0].Do(func() error {
		ifi, err := net.InterfaceByName("r1-eth0")
		if err == nil {
			mac = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Client.Run(ctx, "ip", "neigh", "replace", l.VIP.String(), "lladdr", mac, "dev", "c-eth0", "nud", "permanent"); err != nil {
		t.Fatal(err)
	}
	vip := l.VIP.String()
	resp, err := l.Client.HTTPClient().Get("http://" + vip + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "rs1\n" {
		t.Errorf("GET VIP: got %q, want rs1", b)
	}
	// A connected UDP socket accepts only answers from the VIP.
	uc, err := l.Client.DialContext(ctx, "udp4", net.JoinHostPort(vip, "80"))
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(3 * time.Second))
	uc.Write([]byte("dr"))
	buf := make([]byte, 64)
	n, err := uc.Read(buf)
	if err != nil || string(buf[:n]) != "rs1\ndr" {
		t.Errorf("UDP echo through the VIP: got %q, %v; want %q", buf[:n], err, "rs1\ndr")
	}
}
