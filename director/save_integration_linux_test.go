package director_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

// daemon is one ulvsd process in the lab's director namespace.
type daemon struct {
	t    *testing.T
	lab  *lab.Lab
	sock string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
}

func startDaemon(t *testing.T, l *lab.Lab, sock string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, lab: l, sock: sock}
	argv := append([]string{"netns", "exec", l.Director.Name, filepath.Join(binDir, "ulvsd"), "--socket", sock}, args...)
	d.cmd = exec.Command("ip", argv...)
	w := &lockedWriter{mu: &d.mu, w: &d.log}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start ulvsd: %v", err)
	}
	t.Cleanup(d.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := d.adm("-L", "-n"); err == nil {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("ulvsd %v did not come up; log:\n%s", args, d.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Errorf("ulvsd exited with %v after SIGTERM; log:\n%s", err, d.logText())
		}
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-done
		d.t.Errorf("ulvsd did not stop on SIGTERM")
	}
	d.cmd = nil
}

func (d *daemon) adm(args ...string) (string, error) {
	out, err := exec.Command(filepath.Join(binDir, "ulvsadm"), append([]string{"--socket", d.sock}, args...)...).CombinedOutput()
	return string(out), err
}

func (d *daemon) mustAdm(args ...string) string {
	d.t.Helper()
	out, err := d.adm(args...)
	if err != nil {
		d.t.Fatalf("ulvsadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// conns sums the ActiveConn and InActConn columns of an -ln listing.
func conns(listing string) (active, inact int) {
	sc := bufio.NewScanner(strings.NewReader(listing))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 6 && f[0] == "->" && f[2] == "Route" {
			var a, i int
			fmt.Sscan(f[4], &a)
			fmt.Sscan(f[5], &i)
			active += a
			inact += i
		}
	}
	return active, inact
}

// seedDR is seed 002's DR command sequence (ipvsadm -A/-a ... -g), and
// the listing ipvsadm printed for it before any traffic.
var (
	seedDR = []string{
		"-A -t 172.25.7.200:80 -s rr",
		"-a -t 172.25.7.200:80 -r 172.25.7.3:80 -g",
		"-a -t 172.25.7.200:80 -r 172.25.7.4:80 -g",
	}
	seedDRListing = "IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
		"TCP  172.25.7.200:80 rr\n" +
		"  -> 172.25.7.3:80                Route   1      0          0         \n" +
		"  -> 172.25.7.4:80                Route   1      0          0         \n"
)

// TestIntegrationAdmSurface drives ulvsd -i d-eth0 with ulvsadm alone, as
// an ipvsadm user would drive the kernel: seed 002's DR rules listed byte
// for byte, the same rules on the lab's addresses carrying traffic while
// repeated listings watch ActiveConn and InActConn move, rates, --json
// and /metrics, and --save-config to a file a restarted ulvsd loads back
// to the same rules.
func TestIntegrationAdmSurface(t *testing.T) {
	skipUnprivileged(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := lab.Up(ctx, lab.Config{RealServers: 2})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	srvCtx, stopServers := context.WithCancel(context.Background())
	t.Cleanup(stopServers)
	if err := l.StartServers(srvCtx); err != nil {
		t.Fatalf("start servers: %v", err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "ulvsd.sock")
	d := startDaemon(t, l, sock, "-i", l.DirectorIface, "--metrics", "127.0.0.1:9100")

	t.Run("seed 002 DR rules list as ipvsadm does", func(t *testing.T) {
		for _, c := range seedDR {
			d.mustAdm(strings.Fields(c)...)
		}
		if got := d.mustAdm("-ln"); got != seedDRListing {
			t.Errorf("ulvsadm -ln:\n%q\nwant:\n%q", got, seedDRListing)
		}
		d.mustAdm("-C")
		if got := d.mustAdm("-ln"); strings.Contains(got, "172.25.7") {
			t.Errorf("after -C:\n%s", got)
		}
	})

	// The same sequence on the lab's VIP and real servers.
	for _, c := range []string{
		"-A -t 10.77.0.100:80 -s rr",
		"-a -t 10.77.0.100:80 -r 10.77.0.11:80 -g",
		"-a -t 10.77.0.100:80 -r 10.77.0.12:80 -g",
	} {
		d.mustAdm(strings.Fields(c)...)
	}
	client := l.Client.HTTPClient()
	client.Timeout = 10 * time.Second
	get := func(c *http.Client) error {
		resp, err := c.Get("http://10.77.0.100/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for get(client) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("VIP never answered; ulvsd log:\n%s", d.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}

	t.Run("ActiveConn and InActConn move across listings", func(t *testing.T) {
		const open = 4
		var held []*http.Transport
		for i := 0; i < open; i++ {
			tr := &http.Transport{DialContext: l.Client.DialContext, MaxConnsPerHost: 1, IdleConnTimeout: time.Minute}
			held = append(held, tr)
			if err := get(&http.Client{Transport: tr, Timeout: 10 * time.Second}); err != nil {
				t.Fatal(err)
			}
		}
		_, inact0 := conns(d.mustAdm("-ln"))
		var watch []string // the (active, inact) of each listing, like watch ipvsadm -ln
		sawOpen := false
		deadline := time.Now().Add(10 * time.Second)
		for !sawOpen && time.Now().Before(deadline) {
			a, i := conns(d.mustAdm("-ln"))
			watch = append(watch, fmt.Sprintf("%d/%d", a, i))
			sawOpen = a == open
			time.Sleep(100 * time.Millisecond)
		}
		if !sawOpen {
			t.Fatalf("ActiveConn never reached %d with %d open connections: %v\n%s", open, open, watch, d.mustAdm("-ln"))
		}
		for _, tr := range held {
			tr.CloseIdleConnections()
		}
		closed := false
		deadline = time.Now().Add(10 * time.Second)
		for !closed && time.Now().Before(deadline) {
			a, i := conns(d.mustAdm("-ln"))
			watch = append(watch, fmt.Sprintf("%d/%d", a, i))
			closed = a == 0 && i >= inact0+open
			time.Sleep(100 * time.Millisecond)
		}
		if !closed {
			t.Errorf("closed connections did not move from ActiveConn to InActConn: %v\n%s", watch, d.mustAdm("-ln"))
		}
		t.Logf("active/inactive across listings: %v", watch)
	})

	t.Run("rates, --json and /metrics see the traffic", func(t *testing.T) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					get(client)
				}
			}
		}()
		defer func() { close(stop); wg.Wait() }()
		deadline := time.Now().Add(10 * time.Second) // the estimator ticks every 2 s
		var rate string
		for time.Now().Before(deadline) {
			rate = d.mustAdm("-ln", "--rate")
			f := strings.Fields(rate[strings.Index(rate, "TCP  10.77.0.100:80"):])
			if len(f) > 3 && f[2] != "0" && f[3] != "0" {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if f := strings.Fields(rate[strings.Index(rate, "TCP  10.77.0.100:80"):]); len(f) < 7 || f[2] == "0" || f[3] == "0" {
			t.Errorf("no CPS/InPPS for the service under load:\n%s", rate)
		}
		var doc struct {
			Services []struct {
				Address string `json:"address"`
				Stats   struct {
					Conns uint64 `json:"conns"`
				} `json:"stats"`
				Rates struct {
					CPS uint64 `json:"cps"`
				} `json:"rates"`
				Dests []struct {
					Address string `json:"address"`
				} `json:"dests"`
			} `json:"services"`
		}
		if err := json.Unmarshal([]byte(d.mustAdm("-L", "--json")), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Services) != 1 || doc.Services[0].Address != "10.77.0.100" || doc.Services[0].Stats.Conns == 0 ||
			doc.Services[0].Rates.CPS == 0 || len(doc.Services[0].Dests) != 2 {
			t.Errorf("--json: %+v", doc)
		}
		mc := &http.Client{Transport: &http.Transport{DialContext: l.Director.DialContext}, Timeout: 5 * time.Second}
		resp, err := mc.Get("http://127.0.0.1:9100/metrics")
		if err != nil {
			t.Fatalf("scrape: %v; log:\n%s", err, d.logText())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`ulvs_ipvs_backend_weight{local_address="10.77.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.77.0.11",remote_port="80"} 1`,
			"ulvs_ipvs_connections_total ",
			"ulvs_engine_rx_frames_total ",
		} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})

	t.Run("--save-config writes a file a restarted ulvsd loads", func(t *testing.T) {
		if out, err := d.adm("--save-config"); err == nil || !strings.Contains(out, "-c") {
			t.Errorf("--save-config without a file on ulvsd -i: %v, %q", err, out)
		}
		d.mustAdm("-e", "-t", "10.77.0.100:80", "-r", "10.77.0.12:80", "-g", "-w", "3")
		saved := filepath.Join(dir, "saved.toml")
		d.mustAdm("--save-config", saved)
		rules := d.mustAdm("-S", "-n")
		listing := zeroCounters(d.mustAdm("-ln"))
		d.stop()
		os.Remove(sock)
		d2 := startDaemon(t, l, sock, "-c", saved)
		if got := d2.mustAdm("-S", "-n"); got != rules {
			t.Errorf("restarted from the saved file, -S -n:\n%s\nwant:\n%s", got, rules)
		}
		if got := zeroCounters(d2.mustAdm("-ln")); got != listing {
			t.Errorf("restarted from the saved file, -ln:\n%s\nwant:\n%s", got, listing)
		}
		// And with -c, --save-config rewrites that file in place.
		d2.mustAdm("-d", "-t", "10.77.0.100:80", "-r", "10.77.0.11:80")
		d2.mustAdm("--save-config")
		text, _ := os.ReadFile(saved)
		if strings.Contains(string(text), "10.77.0.11") || !strings.Contains(string(text), "10.77.0.12:80") {
			t.Errorf("saved file after -d:\n%s", text)
		}
	})
}

// zeroCounters blanks the ActiveConn and InActConn columns, which a
// restart resets.
func zeroCounters(listing string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(listing, "\n") {
		if strings.HasPrefix(line, "  -> ") && len(line) > 49 && !strings.Contains(line, "RemoteAddress") {
			line = line[:49] + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}
