package director_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/engine"
	"github.com/ulvs/ulvs/lab"
	"golang.org/x/sys/unix"
)

var binDir string

// TestMain builds ulvsd and ulvsadm once for the integration tests.
func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if testing.Short() || os.Geteuid() != 0 {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "ulvs-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/ulvs/ulvs/cmd/ulvsd", "github.com/ulvs/ulvs/cmd/ulvsadm", "github.com/ulvs/ulvs/cmd/ulvs")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building binaries:", err)
			return 1
		}
		binDir = dir
		return m.Run()
	}()
	os.Exit(code)
}

func skipUnprivileged(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root for network namespaces and AF_PACKET")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("integration test: needs the ip tool (iproute2)")
	}
}

// env is one lab with a running director.
type env struct {
	t      *testing.T
	lab    *lab.Lab
	dir    string // temp dir: config, socket, logs
	cfg    string
	sock   string
	daemon *exec.Cmd
	args   []string // more ulvsd arguments
	ns     lab.NS   // where ulvsd runs; zero: the lab's director
	log    *bytes.Buffer
	logMu  sync.Mutex
}

const drConfig = `[director]
interfaces = ["d-eth0"]

[[virtual_server]]
protocol = "tcp"
address = "10.77.0.100:80"
scheduler = "rr"
forward = "dr"
%s`

func realServers(rips ...string) string {
	var b strings.Builder
	for _, r := range rips {
		fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = %q\nweight = 1\n", r+":80")
	}
	return b.String()
}

// envOpts vary newEnvOpts: noServers leaves the real servers' web
// servers to the test; file names the configuration file (default
// ulvs.toml).
type envOpts struct {
	noServers bool
	file      string
	args      []string // more ulvsd arguments
	// configFor, when set, makes the configuration from the lab once it
	// is up (its addresses), in place of config.
	configFor func(*lab.Lab) string
}

func newEnv(t *testing.T, cfg lab.Config, config string) *env {
	return newEnvOpts(t, cfg, config, envOpts{})
}

// newNATDemo starts the nat lab with two real servers and ulvsd on the
// mode's demo configuration, with args added to ulvsd's, and waits until
// both real servers are resolved.
func newNATDemo(t *testing.T, args ...string) *env {
	t.Helper()
	skipUnprivileged(t)
	cfg, err := lab.DemoConfig(lab.ModeNAT)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOpts(t, lab.Config{Mode: lab.ModeNAT, RealServers: 2}, string(cfg), envOpts{args: args})
	e.waitReady(2)
	return e
}

func newEnvOpts(t *testing.T, cfg lab.Config, config string, o envOpts) *env {
	skipUnprivileged(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	if !o.noServers {
		srvCtx, stopServers := context.WithCancel(context.Background())
		t.Cleanup(stopServers)
		if err := l.StartServers(srvCtx); err != nil {
			t.Fatalf("start servers: %v", err)
		}
	}
	e := &env{t: t, lab: l, dir: t.TempDir(), log: &bytes.Buffer{}, args: o.args}
	if o.file == "" {
		o.file = "ulvs.toml"
	}
	e.cfg = filepath.Join(e.dir, o.file)
	e.sock = filepath.Join(e.dir, "ulvsd.sock")
	if o.configFor != nil {
		config = o.configFor(l)
	}
	e.writeConfig(config)
	e.start()
	t.Cleanup(e.stop)
	return e
}

// dialFrom returns a dial function that connects from src in ns.
func dialFrom(ns lab.NS, src netip.Addr) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() error {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

func (e *env) writeConfig(c string) {
	if err := os.WriteFile(e.cfg, []byte(c), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// start runs ulvsd in the director namespace and waits for its socket.
func (e *env) start() {
	e.t.Helper()
	ns := e.ns
	if ns.Name == "" {
		ns = e.lab.Director
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name,
		filepath.Join(binDir, "ulvsd"), "-c", e.cfg, "--socket", e.sock}, e.args...)...)
	w := &lockedWriter{mu: &e.logMu, w: e.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start ulvsd: %v", err)
	}
	e.daemon = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.adm("-L", "-n"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("ulvsd did not come up; log:\n%s", e.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) stop() {
	if e.daemon == nil || e.daemon.Process == nil {
		return
	}
	e.daemon.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- e.daemon.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			e.t.Errorf("ulvsd exited with %v after SIGTERM; log:\n%s", err, e.logText())
		}
	case <-time.After(10 * time.Second):
		e.daemon.Process.Kill()
		<-done
		e.t.Errorf("ulvsd did not stop on SIGTERM")
	}
	e.daemon = nil
}

func (e *env) logText() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// adm runs ulvsadm against the director.
func (e *env) adm(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "ulvsadm"), append([]string{"--socket", e.sock}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *env) mustAdm(args ...string) string {
	e.t.Helper()
	out, err := e.adm(args...)
	if err != nil {
		e.t.Fatalf("ulvsadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// get fetches path from the VIP with a fresh connection and returns the body.
func (e *env) get(client *http.Client, path string) (string, error) {
	resp, err := client.Get("http://10.77.0.100" + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// waitReady retries until every real server has answered through the VIP:
// the director takes a real server only once it has resolved its MAC, so
// until then the rotation skips it.
func (e *env) waitReady(want int) {
	e.t.Helper()
	c := e.client()
	seen := map[string]bool{}
	deadline := time.Now().Add(15 * time.Second)
	for len(seen) < want {
		body, err := e.get(c, "/")
		if err == nil {
			seen[body] = true
			continue
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("VIP never answered from all %d real servers (saw %v): %v\nulvsd log:\n%s", want, seen, err, e.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// client returns an HTTP client in the client namespace, one TCP connection
// per request (like curl in a loop).
func (e *env) client() *http.Client {
	c := e.lab.Client.HTTPClient()
	c.Timeout = 10 * time.Second
	return c
}

// keepAlive is a client whose requests share one long-lived TCP connection.
func (e *env) keepAlive() *http.Client {
	tr := &http.Transport{
		DialContext:     e.lab.Client.DialContext,
		MaxConnsPerHost: 1,
		IdleConnTimeout: time.Minute,
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func count(t *testing.T, e *env, c *http.Client, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		body, err := e.get(c, "/")
		if err != nil {
			t.Fatalf("request %d: %v\nulvsd log:\n%s", i, err, e.logText())
		}
		got[body]++
	}
	return got
}

// TestIntegrationDR drives the seed's DR setup end to end: requests through
// the VIP alternate, a large download arrives intact, connections keep their
// real server across weight changes and reloads, and a restarted director
// resumes service.
func TestIntegrationDR(t *testing.T) {
	e := newEnv(t, lab.Config{RealServers: 3}, fmt.Sprintf(drConfig, realServers("10.77.0.11", "10.77.0.12")))
	e.waitReady(2)

	t.Run("200 requests split 100/100 under rr", func(t *testing.T) {
		got := count(t, e, e.client(), 200)
		if got["rs1"] != 100 || got["rs2"] != 100 || len(got) != 2 {
			t.Errorf("answers = %v, want rs1:100 rs2:100", got)
		}
	})

	t.Run("10 MiB download arrives intact", func(t *testing.T) {
		const size = 10 << 20
		resp, err := e.client().Get(fmt.Sprintf("http://10.77.0.100/data?size=%d", size))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
		if n != size || hex.EncodeToString(h.Sum(nil)) != lab.DataSHA256(size) {
			t.Errorf("got %d bytes sha256 %x, want %d bytes sha256 %s", n, h.Sum(nil), size, lab.DataSHA256(size))
		}
	})

	t.Run("long-lived connection stays while new ones rotate", func(t *testing.T) {
		ka := e.keepAlive()
		first, err := e.get(ka, "/")
		if err != nil {
			t.Fatal(err)
		}
		fresh := e.client()
		seen := map[string]int{}
		for i := 0; i < 10; i++ {
			again, err := e.get(ka, "/")
			if err != nil {
				t.Fatal(err)
			}
			if again != first {
				t.Fatalf("long-lived connection moved from %s to %s", first, again)
			}
			b, err := e.get(fresh, "/")
			if err != nil {
				t.Fatal(err)
			}
			seen[b]++
		}
		if seen["rs1"] != 5 || seen["rs2"] != 5 {
			t.Errorf("new connections = %v, want 5 each", seen)
		}
	})

	t.Run("weight 0 quiesces rs1 but keeps its open connection", func(t *testing.T) {
		ka := e.keepAlive()
		// Open a connection that lands on rs1.
		var on string
		for i := 0; i < 4 && on != "rs1"; i++ {
			ka.Transport.(*http.Transport).CloseIdleConnections()
			b, err := e.get(ka, "/")
			if err != nil {
				t.Fatal(err)
			}
			on = b
		}
		if on != "rs1" {
			t.Fatalf("could not get a connection to rs1")
		}
		e.mustAdm("-e", "-t", "10.77.0.100:80", "-r", "10.77.0.11:80", "-g", "-w", "0")
		got := count(t, e, e.client(), 20)
		if got["rs2"] != 20 {
			t.Errorf("with rs1 at weight 0 new connections went to %v, want all 20 to rs2", got)
		}
		for i := 0; i < 5; i++ {
			b, err := e.get(ka, "/")
			if err != nil || b != "rs1" {
				t.Fatalf("open connection to quiesced rs1: %q, %v", b, err)
			}
		}
		list := e.mustAdm("-L", "-n")
		quiesced := false
		for _, line := range strings.Split(list, "\n") {
			f := strings.Fields(line)
			if len(f) == 6 && f[1] == "10.77.0.11:80" && strings.HasPrefix(line, "  -> 10.77.0.11:80                Route   0      ") {
				var active int
				fmt.Sscan(f[4], &active)
				quiesced = active >= 1
			}
		}
		if !quiesced {
			t.Errorf("listing does not show rs1 quiesced with its open connection active:\n%s", list)
		}
		e.mustAdm("-e", "-t", "10.77.0.100:80", "-r", "10.77.0.11:80", "-g", "-w", "1")
	})

	t.Run("SIGHUP adding rs3 drops no open connection", func(t *testing.T) {
		var open []*http.Client
		var where []string
		for i := 0; i < 2; i++ {
			ka := e.keepAlive()
			b, err := e.get(ka, "/")
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, ka)
			where = append(where, b)
		}
		e.writeConfig(fmt.Sprintf(drConfig, realServers("10.77.0.11", "10.77.0.12", "10.77.0.13")))
		if err := e.daemon.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(e.mustAdm("-L", "-n"), "10.77.0.13:80") {
			if time.Now().After(deadline) {
				t.Fatalf("reload did not add rs3; log:\n%s", e.logText())
			}
			time.Sleep(50 * time.Millisecond)
		}
		for i, ka := range open {
			for j := 0; j < 3; j++ {
				b, err := e.get(ka, "/")
				if err != nil || b != where[i] {
					t.Fatalf("open connection %d to %s after reload: %q, %v", i, where[i], b, err)
				}
			}
		}
		// rs3 takes its share once resolved.
		deadline = time.Now().Add(10 * time.Second)
		for {
			got := count(t, e, e.client(), 6)
			if got["rs3"] > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rs3 never answered after reload: %v", got)
			}
		}
	})

	t.Run("listing shows live counters", func(t *testing.T) {
		out := e.mustAdm("-L", "-n")
		if !strings.HasPrefix(out, "IP Virtual Server version 1.2.1 (size=") || !strings.Contains(out, "TCP  10.77.0.100:80 rr") {
			t.Errorf("unexpected listing:\n%s", out)
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		inact := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 6 && f[0] == "->" && f[2] == "Route" {
				var n int
				fmt.Sscan(f[5], &n)
				inact += n
			}
		}
		if inact == 0 {
			t.Errorf("no InActConn counted after hundreds of closed connections:\n%s", out)
		}
	})

	t.Run("connection listing and engine counters", func(t *testing.T) {
		ka := e.keepAlive()
		if _, err := e.get(ka, "/"); err != nil {
			t.Fatal(err)
		}
		out := e.mustAdm("-L", "-n", "-c")
		if !strings.Contains(out, "TCP ") || !strings.Contains(out, "ESTABLISHED") || !strings.Contains(out, "10.77.0.10:") {
			t.Errorf("-L -n -c does not list the open connection:\n%s", out)
		}
		snap := e.snapshot()
		for _, k := range []string{"rx_frames", "tx_frames", "forwarded", "arp_replies", "new_conns"} {
			if snap.Engine[k] == 0 {
				t.Errorf("engine counter %s is 0 after traffic: %v", k, snap.Engine)
			}
		}
	})

	t.Run("malformed frames are counted and dropped", func(t *testing.T) {
		before := e.snapshot().Engine["drop_malformed"]
		frames := e.malformedFrames()
		e.sendRaw(frames)
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := e.snapshot().Engine["drop_malformed"] - before
			if got >= uint64(len(frames)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("drop_malformed grew by %d, want %d", got, len(frames))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := e.get(e.client(), "/"); err != nil {
			t.Fatalf("director stopped serving after malformed frames: %v", err)
		}
	})

	t.Run("ingress bypass keeps service frames from the director's stack", func(t *testing.T) {
		list := func() (string, error) {
			out, err := e.lab.Director.Run(context.Background(), "nft", "list", "table", "netdev", "ulvs_bypass")
			return string(out), err
		}
		tcx := func() int {
			t.Helper()
			var n int
			if err := e.lab.Director.Do(func() (err error) {
				n, err = engine.TCXIngressPrograms("d-eth0")
				return err
			}); err != nil {
				t.Fatalf("tcx query: %v", err)
			}
			return n
		}
		// A kernel with tcx (6.6 and later) gets the program, one
		// without the nftables table.
		if out, err := list(); err == nil {
			if !strings.Contains(out, "10.77.0.100 . tcp . 80") || !strings.Contains(out, `device "d-eth0"`) {
				t.Errorf("bypass table without the service or the interface:\n%s", out)
			}
			if n := tcx(); n != 0 {
				t.Errorf("both the nftables table and %d tcx programs", n)
			}
		} else if n := tcx(); n != 1 {
			t.Fatalf("no bypass: no nftables table (%v) and %d tcx programs on d-eth0", err, n)
		}
		// Without the bypass every frame to the VIP fails the
		// director's route lookup and counts as an InAddrErrors.
		before := snmpCounter(t, e.lab.Director, "Ip", "InAddrErrors")
		count(t, e, e.client(), 50)
		if d := snmpCounter(t, e.lab.Director, "Ip", "InAddrErrors") - before; d > 10 {
			t.Errorf("the director's IP stack saw %d frames it cannot route during 50 requests", d)
		}
		e.stop()
		if out, err := list(); err == nil {
			t.Errorf("bypass table left after ulvsd stopped:\n%s", out)
		}
		if n := tcx(); n != 0 {
			t.Errorf("%d tcx programs left on d-eth0 after ulvsd stopped", n)
		}
		os.Remove(e.sock)
		e.start()
		e.waitReady(3)
	})

	t.Run("killed director restarts from its config", func(t *testing.T) {
		e.daemon.Process.Kill()
		e.daemon.Wait()
		e.daemon = nil
		c := e.client()
		c.Timeout = 500 * time.Millisecond
		if _, err := e.get(c, "/"); err == nil {
			t.Fatalf("VIP answered with the director down")
		}
		os.Remove(e.sock)
		e.start()
		e.waitReady(3)
		got := count(t, e, e.client(), 30)
		if got["rs1"] != 10 || got["rs2"] != 10 || got["rs3"] != 10 {
			t.Errorf("after restart answers = %v, want 10 each", got)
		}
	})
}

func (e *env) snapshot() ctl.Snapshot {
	e.t.Helper()
	c, err := ctl.Dial(e.sock)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	snap, err := c.Snapshot()
	if err != nil {
		e.t.Fatal(err)
	}
	return snap
}

// malformedFrames builds frames to the director's MAC and the VIP (so the
// socket filter passes them) that the decoder must reject.
func (e *env) malformedFrames() [][]byte {
	mac := e.directorMAC()
	vip := e.lab.VIP.As4()
	ipv4 := func(mut func(h []byte)) []byte {
		f := make([]byte, 14+40)
		copy(f[0:6], mac)
		copy(f[6:12], []byte{2, 0, 0, 0, 0, 0x99})
		f[12], f[13] = 0x08, 0x00
		h := f[14:]
		h[0] = 0x45
		h[2], h[3] = 0, 40
		h[8] = 64
		h[9] = 6
		copy(h[12:16], e.lab.ClientAddr.AsSlice())
		copy(h[16:20], vip[:])
		mut(h)
		return f
	}
	return [][]byte{
		ipv4(func(h []byte) { h[0] = 0x43 }),                  // IHL below 5
		ipv4(func(h []byte) { h[0] = 0x65 }),                  // version 6 in an IPv4 frame
		ipv4(func(h []byte) { h[2], h[3] = 0x05, 0xdc }),      // total length beyond the frame
		ipv4(func(h []byte) { h[20+12] = 0x10 }),              // TCP data offset 4 bytes
		ipv4(func(h []byte) { h[2], h[3] = 0, 24; h[9] = 6 }), // TCP header cut short
	}
}

// sendRaw transmits frames from the client namespace with a packet socket.
func (e *env) sendRaw(frames [][]byte) {
	err := e.lab.Client.Do(func() error {
		ifi, err := net.InterfaceByName("c-eth0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		for _, f := range frames {
			if err := unix.Sendto(fd, f, 0, sa); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("send raw frames: %v", err)
	}
}

// TestIntegrationDROffloadsOff repeats the download with veth offloads off:
// checksums must be right either way.
func TestIntegrationDROffloadsOff(t *testing.T) {
	e := newEnv(t, lab.Config{RealServers: 2, OffloadsOff: true}, fmt.Sprintf(drConfig, realServers("10.77.0.11", "10.77.0.12")))
	e.waitReady(2)
	const size = 10 << 20
	for i := 0; i < 2; i++ {
		resp, err := e.client().Get(fmt.Sprintf("http://10.77.0.100/data?size=%d", size))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != lab.DataSHA256(size) {
			t.Fatalf("download %d: %d bytes, %v", i, n, err)
		}
	}
	got := count(t, e, e.client(), 10)
	if got["rs1"] != 5 || got["rs2"] != 5 {
		t.Errorf("answers = %v, want 5 each", got)
	}
	var _ net.Conn
}

// TestIntegrationPersistence: with -p 60 one client's 20 connections all
// land on one real server, and a second client's on the other (rr).
func TestIntegrationPersistence(t *testing.T) {
	e := newEnv(t, lab.Config{RealServers: 2}, `[director]
interfaces = ["d-eth0"]

[[virtual_server]]
protocol = "tcp"
address = "10.77.0.100:80"
scheduler = "rr"
forward = "dr"
persistence_timeout = 60
`+realServers("10.77.0.11", "10.77.0.12"))
	e.waitReady(1)
	clientB := netip.MustParseAddr("10.77.0.20")
	if out, err := e.lab.Client.Run(context.Background(), "ip", "addr", "add", clientB.String()+"/24", "dev", "c-eth0"); err != nil {
		t.Fatalf("add second client address: %v %s", err, out)
	}
	from := func(src netip.Addr) *http.Client {
		return &http.Client{Transport: &http.Transport{DialContext: dialFrom(e.lab.Client, src), DisableKeepAlives: true}, Timeout: 10 * time.Second}
	}
	a := count(t, e, from(e.lab.ClientAddr), 20)
	b := count(t, e, from(clientB), 20)
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("client A answers %v, client B answers %v: want each on one real server", a, b)
	}
	for sa := range a {
		if _, same := b[sa]; same {
			t.Errorf("both clients on %s; rr should give the second client's template the other server", sa)
		}
	}
	list := e.mustAdm("-L", "-n", "-c")
	if strings.Count(list, "NONE") < 2 {
		t.Errorf("-L -n -c does not show the two templates:\n%s", list)
	}
	snap := e.snapshot()
	var persist int32
	for _, d := range snap.Services[0].Dests {
		persist += d.PersistConns
	}
	if persist != 2 {
		t.Errorf("PersistConns total %d, want 2 templates", persist)
	}
}

// TestIntegrationFTPPortGroup runs the seed 001 FTP cluster from
// examples/ftp.toml: mark 21 groups ports 21, 20 and 10000-20000 into one
// persistent service, so a client's control connection and its passive
// data connections reach the same real server through the VIP.
func TestIntegrationFTPPortGroup(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("vsftpd"); err != nil {
		if _, err := os.Stat("/usr/sbin/vsftpd"); err != nil {
			t.Skip("integration test: needs vsftpd (scripts/setup-host.sh installs it)")
		}
	}
	cfg, err := os.ReadFile("../examples/ftp.toml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, lab.Config{RealServers: 2}, string(cfg))
	ftpCtx, stopFTP := context.WithCancel(context.Background())
	t.Cleanup(stopFTP)
	if err := e.lab.StartFTP(ftpCtx); err != nil {
		t.Fatalf("start vsftpd: %v", err)
	}
	ctx := context.Background()
	vip := e.lab.VIP
	var first *lab.FTPTransfer
	deadline := time.Now().Add(15 * time.Second)
	for {
		tr, err := e.lab.FTPRetrieve(ctx, vip, "/whoami.txt")
		if err == nil {
			first = tr
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FTP through the VIP never worked: %v\nulvsd log:\n%s", err, e.logText())
		}
		time.Sleep(200 * time.Millisecond)
	}
	server := strings.TrimSpace(string(first.Data))
	if !strings.Contains(first.Greeting, server) {
		t.Errorf("control connection greeted by %q but the data came from %s", first.Greeting, server)
	}
	if first.Passive.Addr() != vip || first.Passive.Port() < 10000 || first.Passive.Port() > 20000 {
		t.Errorf("PASV answered %v, want the VIP and a port in 10000-20000", first.Passive)
	}
	for i := 0; i < 5; i++ {
		tr, err := e.lab.FTPRetrieve(ctx, vip, "/data.bin")
		if err != nil {
			t.Fatalf("download %d: %v", i, err)
		}
		sum := sha256.Sum256(tr.Data)
		if hex.EncodeToString(sum[:]) != lab.DataSHA256(lab.FTPDataSize) {
			t.Fatalf("download %d: %d bytes with the wrong sha256", i, len(tr.Data))
		}
		if !strings.Contains(tr.Greeting, server) {
			t.Errorf("download %d: control connection went to %q, persistence wants %s", i, tr.Greeting, server)
		}
	}
	// A second client gets its own template: rr gives it the other server.
	clientB := netip.MustParseAddr("10.77.0.20")
	if out, err := e.lab.Client.Run(ctx, "ip", "addr", "add", clientB.String()+"/24", "dev", "c-eth0"); err != nil {
		t.Fatalf("add second client address: %v %s", err, out)
	}
	tr, err := lab.FTPRetrieve(ctx, dialFrom(e.lab.Client, clientB), netip.AddrPortFrom(vip, lab.FTPPort), "/whoami.txt")
	if err != nil {
		t.Fatalf("second client: %v", err)
	}
	if other := strings.TrimSpace(string(tr.Data)); other == server || !strings.Contains(tr.Greeting, other) {
		t.Errorf("second client: data from %s, greeting %q; want the other server for both", other, tr.Greeting)
	}
	out := e.mustAdm("-L", "-n")
	if !strings.Contains(out, "FWM  21 rr persistent 10") {
		t.Errorf("listing does not show the mark service:\n%s", out)
	}
}
