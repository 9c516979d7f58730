package director_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/synproxy"
)

// TestIntegrationSynProxy runs the NAT and FULLNAT demos with the SYN
// proxy on: requests split by rr, a 20 MiB download and a 4 MiB upload
// arrive intact
// through the proxy (cookies, then the real server's side opened and every
// segment translated), and a burst of SYNs from random spoofed sources,
// with ACKs carrying bad cookies, leaves no connection in the table and
// reaches no real server.
func TestIntegrationSynProxy(t *testing.T) {
	for _, mode := range []string{lab.ModeNAT, lab.ModeFullNAT} {
		t.Run(mode, func(t *testing.T) {
			skipUnprivileged(t)
			base, err := lab.DemoConfig(mode)
			if err != nil {
				t.Fatal(err)
			}
			cfg := strings.Replace(string(base), "scheduler = \"rr\"\n", "scheduler = \"rr\"\nsynproxy = true\n", 1)
			e := newEnv(t, lab.Config{RealServers: 2, Mode: mode}, cfg)
			e.waitReady(2)
			if out := e.mustAdm("-S", "-n"); !strings.Contains(out, "--synproxy") {
				t.Fatalf("-S does not show the SYN proxy:\n%s", out)
			}

			got := count(t, e, e.client(), 20)
			if got["rs1"] != 10 || got["rs2"] != 10 {
				t.Errorf("answers = %v, want rs1:10 rs2:10", got)
			}
			const size = 20 << 20
			resp, err := e.client().Get(fmt.Sprintf("http://10.77.0.100/data?size=%d", size))
			if err != nil {
				t.Fatalf("download: %v\nulvsd log:\n%s", err, e.logText())
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != lab.DataSHA256(size) {
				t.Fatalf("download: got %d bytes (%v), sha256 %x", n, err, h.Sum(nil))
			}
			// And the other way: the client's data through the translation.
			up := e.client()
			up.Timeout = 60 * time.Second
			resp, err = up.Post("http://10.77.0.100/upload", "application/octet-stream", lab.DataReader(4<<20))
			if err != nil {
				t.Fatalf("upload: %v\nulvsd log:\n%s", err, e.logText())
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.TrimSpace(string(body)) != lab.DataSHA256(4<<20) {
				t.Fatalf("server saw sha256 %q, want %s", body, lab.DataSHA256(4<<20))
			}
			eng := e.snapshot().Engine
			if eng["synproxy_cookies_sent"] < 22 || eng["synproxy_acks_valid"] < 22 || eng["synproxy_opened"] < 22 {
				t.Errorf("proxy counters after 22 connections: %v", proxyCounters(eng))
			}

			// The flood: SYNs from random sources, and ACKs with made-up
			// cookies, to the VIP.
			before := make([]int, len(e.lab.RS))
			for i, rs := range e.lab.RS {
				before[i] = inSegs(t, rs)
			}
			const flood = 2000
			// In bursts of 50: a burst of thousands overflows the
			// kernel's backlog between the veths, not the director.
			frames := e.spoofed(flood)
			for len(frames) > 0 {
				n := min(50, len(frames))
				e.sendRaw(frames[:n])
				frames = frames[n:]
				time.Sleep(2 * time.Millisecond)
			}
			// Wait until the director has read them all (its counters
			// stand still), then look.
			last := uint64(0)
			waitFor(t, 20*time.Second, "the director's counters to settle after the flood", func() bool {
				time.Sleep(200 * time.Millisecond)
				m := e.snapshot().Engine
				now := m["synproxy_cookies_sent"] + m["synproxy_acks_invalid"]
				settled := now == last
				last = now
				return settled
			})
			after := e.snapshot().Engine
			if got := after["synproxy_cookies_sent"] - eng["synproxy_cookies_sent"]; got < flood/2 {
				t.Errorf("%d of %d spoofed SYNs answered with a cookie", got, flood)
			}
			if after["synproxy_acks_invalid"] == eng["synproxy_acks_invalid"] || after["drop_synproxy_bad_ack"] == 0 {
				t.Errorf("ACKs with bad cookies not counted: %v", proxyCounters(after))
			}
			if after["synproxy_opened"] != eng["synproxy_opened"] || after["synproxy_acks_valid"] != eng["synproxy_acks_valid"] {
				t.Errorf("the flood opened connections: %v, before %v", proxyCounters(after), proxyCounters(eng))
			}
			conns := e.mustAdm("-L", "-n", "-c")
			if strings.Contains(conns, "198.18.") {
				t.Errorf("spoofed sources in the connection table:\n%s", conns)
			}
			for i, rs := range e.lab.RS {
				if d := inSegs(t, rs) - before[i]; d != 0 {
					t.Errorf("%s received %d TCP segments during the flood, want 0", rs, d)
				}
			}
			t.Logf("after %d spoofed SYNs and %d bad ACKs: %v", flood, flood/4, proxyCounters(after))

			// Still serving.
			if body, err := e.get(e.client(), "/"); err != nil || (body != "rs1" && body != "rs2") {
				t.Errorf("after the flood: %q, %v", body, err)
			}
		})
	}
}

func proxyCounters(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		if strings.Contains(k, "synproxy") {
			out[k] = v
		}
	}
	return out
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inSegs reads the TCP segments ns's kernel received (/proc/net/snmp,
// Tcp InSegs; per network namespace).
func inSegs(t *testing.T, ns lab.NS) int { return snmpCounter(t, ns, "Tcp", "InSegs") }

// snmpCounter reads counter name of group (Ip, Tcp, ...) from ns's
// /proc/net/snmp.
func snmpCounter(t *testing.T, ns lab.NS, group, name string) int {
	t.Helper()
	out, err := ns.Run(context.Background(), "cat", "/proc/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != group+":" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == name && i < len(f) {
				v, err := strconv.Atoi(f[i])
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
	}
	t.Fatalf("no %s %s in %s's /proc/net/snmp", group, name, ns)
	return 0
}

// spoofed builds n SYNs to the VIP from random sources in 198.18.0.0/15
// (the benchmarking range, routed nowhere here) with random ports and
// sequence numbers, and n/4 ACKs with random cookies, as Ethernet frames
// to the director's MAC.
func (e *env) spoofed(n int) [][]byte {
	mac := e.directorMAC()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 15))
	vip := e.lab.VIP.As4()
	opts := []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 7} // MSS 1460, window scale 7
	var frames [][]byte
	for i := range n + n/4 {
		f := make([]byte, 14+60)
		copy(f[0:6], mac)
		copy(f[6:12], []byte{2, 0, 0, 0, 0, 0x98})
		f[12], f[13] = 0x08, 0x00
		src := [4]byte{198, 18 + byte(r.IntN(2)), byte(r.IntN(256)), byte(1 + r.IntN(254))}
		flags, ack := uint8(pkt.TCPSyn), uint32(0)
		if i >= n {
			flags, ack = pkt.TCPAck, r.Uint32()
		}
		l := synproxy.Build(f[14:], src, vip, uint16(1024+r.IntN(60000)), 80, r.Uint32(), ack, flags, 64240, opts, uint16(i))
		frames = append(frames, f[:14+l])
	}
	return frames
}

// directorMAC is the MAC of the director's interface on the clients' side.
func (e *env) directorMAC() net.HardwareAddr {
	var mac net.HardwareAddr
	err := e.lab.Director.Do(func() error {
		ifi, err := net.InterfaceByName(e.lab.DirectorIface)
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return mac
}

// TestIntegrationSynProxyFlood compares the NAT demo without and with the
// SYN proxy under hping3 --flood --rand-source while a client fetches / in
// a loop. It runs only with ULVS_FLOOD set to the flood's length (say 3s):
// a flood at the generator's full rate is no CI test on a shared machine.
// With the proxy, at least 90% of the client's requests must succeed and
// the connection table must hold no more entries than the client opened.
func TestIntegrationSynProxyFlood(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("ULVS_FLOOD"))
	if err != nil || d <= 0 {
		t.Skip("set ULVS_FLOOD to the flood's length (e.g. 3s) to run it")
	}
	if _, err := exec.LookPath("hping3"); err != nil {
		t.Skip("needs hping3 (scripts/setup-host.sh installs it)")
	}
	for _, proxy := range []bool{false, true} {
		t.Run(fmt.Sprintf("synproxy=%v", proxy), func(t *testing.T) {
			skipUnprivileged(t)
			base, err := lab.DemoConfig(lab.ModeNAT)
			if err != nil {
				t.Fatal(err)
			}
			cfg := string(base)
			if proxy {
				cfg = strings.Replace(cfg, "scheduler = \"rr\"\n", "scheduler = \"rr\"\nsynproxy = true\n", 1)
			}
			e := newEnv(t, lab.Config{RealServers: 2, Mode: lab.ModeNAT}, cfg)
			e.waitReady(2)
			before := [2]int{inSegs(t, e.lab.RS[0]), inSegs(t, e.lab.RS[1])}
			ready := strings.Count(e.mustAdm("-L", "-n", "-c"), "TCP ") // waitReady's
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			flood := exec.CommandContext(ctx, "ip", "netns", "exec", e.lab.Client.Name,
				"hping3", "--flood", "--rand-source", "-q", "-S", "-p", "80", e.lab.VIP.String())
			if err := flood.Start(); err != nil {
				t.Fatal(err)
			}
			ok, failed := 0, 0
			c := e.client()
			c.Timeout = 2 * time.Second
			for ctx.Err() == nil {
				if _, err := e.get(c, "/"); err == nil {
					ok++
				} else {
					failed++
				}
			}
			flood.Wait()
			eng := e.snapshot().Engine
			table := strings.Count(e.mustAdm("-L", "-n", "-c"), "TCP ")
			segs := [2]int{inSegs(t, e.lab.RS[0]) - before[0], inSegs(t, e.lab.RS[1]) - before[1]}
			t.Logf("%v of hping3 --flood --rand-source: client %d ok, %d failed; %d frames in, %d new connections, "+
				"%d in the table, real servers received %d and %d segments; %v",
				d, ok, failed, eng["rx_frames"], eng["new_conns"], table, segs[0], segs[1], proxyCounters(eng))
			if proxy {
				if ok*10 < (ok+failed)*9 {
					t.Errorf("client success %d of %d, want at least 90%%", ok, ok+failed)
				}
				if table > ready+ok+failed {
					t.Errorf("%d connections in the table after %d client requests (and %d before)", table, ok+failed, ready)
				}
			}
		})
	}
}
