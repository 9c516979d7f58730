package director_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// v6TunConfig is a dual-stack TUN director whose real servers are reached
// over IPv6 only: TCP [VIP6]:80 and UDP [VIP6]:80 in ip6ip6, TCP
// 10.77.0.100:80 in IPv4-in-IPv6 (an IPv4 service with IPv6 real servers,
// the mixed family the kernel tunnels), all rr. expire_nodest_conn is on:
// the test deletes real servers that still have connection entries, and
// a client port reused by a new connection would otherwise meet one of
// them and be dropped (dest_gone) until it expires, as in the kernel
// (TestIntegrationIPv6TUN, "a client port reused...").
func v6TunConfig(l *lab.Lab) string {
	var b strings.Builder
	b.WriteString("[director]\ninterfaces = [\"d-eth0\"]\n\n[sysctl]\nexpire_nodest_conn = 1\n")
	for _, s := range []struct{ proto, addr string }{
		{"tcp", l.VIP.String() + ":80"},
		{"tcp", "[" + l.VIP6.String() + "]:80"},
		{"udp", "[" + l.VIP6.String() + "]:80"},
	} {
		fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = %q\naddress = %q\nscheduler = \"rr\"\nforward = \"tun\"\n", s.proto, s.addr)
		for _, r := range l.RIPs6 {
			fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = \"[%s]:80\"\n", r)
		}
	}
	return b.String()
}

// TestIntegrationIPv6TUN runs IPv6 tunnelling through a dual-stack tun
// lab whose real servers are prepared by `ulvs realserver up --mode tun`
// with both VIPs, as a user would (this kernel has no ip6_tunnel or sit:
// the userspace decapsulator takes the tunnels): ip6ip6 for the IPv6
// service, IPv4 in IPv6 for the IPv4 one, then IPv6 in IPv4 after
// ulvsadm moves the IPv6 service to the real servers' IPv4 addresses.
func TestIntegrationIPv6TUN(t *testing.T) {
	skipUnprivileged(t)
	cfg := lab.Config{RealServers: 2, IPv6: true, Mode: lab.ModeTUN, BareRealServers: true}
	e := newEnvLab(t, cfg, v6TunConfig)
	stateDir := t.TempDir()
	for i, rs := range e.lab.RS {
		nsOutput(t, rs, filepath.Join(binDir, "ulvs"), "realserver", "up", "--mode", "tun", "--detach",
			"--vip", e.lab.VIP.String()+","+e.lab.VIP6.String(), "--iface", lab.RSIface(i), "--state-dir", stateDir)
		t.Cleanup(func() {
			out, err := exec.Command("ip", "netns", "exec", rs.Name, filepath.Join(binDir, "ulvs"), "realserver", "down", "--state-dir", stateDir).CombinedOutput()
			if err != nil {
				t.Errorf("realserver down in %s: %v\n%s", rs.Name, err, out)
			}
		})
		if a := nsOutput(t, rs, "ip", "-6", "-o", "addr", "show", "dev", "ulvs-tun0"); !strings.Contains(a, e.lab.VIP6.String()+"/128") {
			t.Fatalf("ulvs realserver did not put VIP6 on its TUN device: %s", a)
		}
	}
	e.waitReady6(2)
	e.waitReady(2)

	split := func(t *testing.T, get func(string) (string, error)) {
		t.Helper()
		before := e.snapshot().Engine
		got := map[string]int{}
		for i := range 100 {
			body, err := get("/")
			if err != nil {
				t.Fatalf("request %d: %v\n%s\nulvsd log:\n%s", i, err, e.changedCounters(before), e.logText())
			}
			got[body]++
		}
		if got["rs1"] != 50 || got["rs2"] != 50 {
			t.Errorf("answers %v, want rs1:50 rs2:50", got)
		}
	}
	// getFrom fetches / through VIP6 from the client's port (0: any) over
	// HTTP/1.0 and reads to the real server's FIN before closing, so the
	// server closes first and the client's port is free again at once
	// (no TIME_WAIT on the client's side). It returns the body and the
	// port the connection left from.
	getFrom := func(port int) (string, int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var c net.Conn
		err := e.lab.Client.Do(func() error {
			d := net.Dialer{FallbackDelay: -1, LocalAddr: &net.TCPAddr{IP: e.lab.ClientAddr6.AsSlice(), Port: port}}
			var err error
			c, err = d.DialContext(ctx, "tcp6", "["+e.lab.VIP6.String()+"]:80")
			return err
		})
		if err != nil {
			return "", 0, err
		}
		defer c.Close()
		local := c.LocalAddr().(*net.TCPAddr).Port
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
			return "", local, err
		}
		b, err := io.ReadAll(c)
		if err != nil {
			return "", local, err
		}
		_, body, ok := strings.Cut(string(b), "\r\n\r\n")
		if !ok {
			return "", local, fmt.Errorf("no HTTP answer: %q", b)
		}
		return strings.TrimSpace(body), local, nil
	}
	var ip6ip6Port int // a client port of an ip6ip6 connection, reused below
	t.Run("100 requests over ip6ip6 split 50/50 under rr", func(t *testing.T) {
		split(t, e.get6)
		body, port, err := getFrom(0)
		if err != nil || (body != "rs1" && body != "rs2") {
			t.Fatalf("one more request: %q %v", body, err)
		}
		ip6ip6Port = port
	})
	t.Run("100 IPv4 requests over IPv4-in-IPv6 split 50/50", func(t *testing.T) {
		split(t, func(path string) (string, error) {
			resp, err := e.client().Get("http://" + e.lab.VIP.String() + path)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return strings.TrimSpace(string(b)), err
		})
	})

	t.Run("curl -6 through VIP6, and a 4 MiB download intact", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err == nil {
			out := nsOutput(t, e.lab.Client, "curl", "-6", "-s", "--max-time", "5", "http://["+e.lab.VIP6.String()+"]/")
			if o := strings.TrimSpace(out); o != "rs1" && o != "rs2" {
				t.Errorf("curl -6: %q", out)
			}
		}
		const size = 4 << 20
		resp, err := e.client().Get(fmt.Sprintf("http://[%s]/data?size=%d", e.lab.VIP6, size))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil || n != size {
			t.Fatalf("download: %d bytes, %v", n, err)
		}
		if got := fmt.Sprintf("%x", h.Sum(nil)); got != lab.DataSHA256(size) {
			t.Errorf("download corrupted: sha256 %s", got)
		}
	})

	t.Run("a datagram too big for the tunnel gets Packet Too Big with 1460", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := e.lab.Client.DialContext(ctx, "udp6", "["+e.lab.VIP6.String()+"]:80")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(make([]byte, 1500-40-8)); err != nil { // a 1500-byte IPv6 packet
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			route := nsOutput(t, e.lab.Client, "ip", "-6", "route", "get", e.lab.VIP6.String())
			if strings.Contains(route, "mtu 1460") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the client's route to VIP6 never learnt MTU 1460: %s", route)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := e.snapshot().Engine["drop_ipv6_too_big"]; got == 0 {
			t.Errorf("ipv6_too_big not counted")
		}
	})

	t.Run("ulvsadm -L -n lists the tunnels in ipvsadm's columns", func(t *testing.T) {
		out := e.mustAdm("-L", "-n")
		for _, r := range e.lab.RIPs6 {
			line := regexp.QuoteMeta(fmt.Sprintf("  -> %-28s %-7s 1      ", fmt.Sprintf("[%s]:80", r), "Tunnel"))
			if n := len(regexp.MustCompile(`(?m)^`+line).FindAllString(out, -1)); n != 3 {
				t.Errorf("real server %s listed %d times as a tunnel, want 3 (one per service):\n%s", r, n, out)
			}
		}
		if !strings.Contains(out, "TCP  "+e.lab.VIP.String()+":80 rr\n  -> [") {
			t.Errorf("the IPv4 service does not list its IPv6 real servers:\n%s", out)
		}
		t.Logf("ulvsadm -L -n:\n%s", out)
	})

	t.Run("IPv6 in IPv4: the IPv6 service moved to IPv4 real servers", func(t *testing.T) {
		svc := "[" + e.lab.VIP6.String() + "]:80"
		for i := range e.lab.RIPs {
			e.mustAdm("-a", "-t", svc, "-r", e.lab.RIPs[i].String()+":80", "-i")
			e.mustAdm("-d", "-t", svc, "-r", "["+e.lab.RIPs6[i].String()+"]:80")
		}
		out := e.mustAdm("-L", "-n", "-t", svc)
		for _, r := range e.lab.RIPs {
			if !strings.Contains(out, fmt.Sprintf("  -> %-28s %-7s 1 ", r.String()+":80", "Tunnel")) {
				t.Errorf("-L -n -t %s lacks IPv4 real server %s:\n%s", svc, r, out)
			}
		}
		// New connections go to the IPv4 real servers (the old ones,
		// whose real servers are gone, are expired: expire_nodest_conn).
		deadline := time.Now().Add(10 * time.Second)
		for {
			body, err := e.get6("/")
			if err == nil && (body == "rs1" || body == "rs2") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no answer through IPv6 in IPv4: %q %v\nulvsd log:\n%s", body, err, e.logText())
			}
			time.Sleep(100 * time.Millisecond)
		}
		split(t, e.get6)
		// The client's kernel picks its ports in a walk that other
		// sockets to the same address and port move on (its table is
		// shared by every namespace), so a new connection may reuse the
		// port of an ip6ip6 connection whose entry the director still
		// holds, in FIN_WAIT (a DR or TUN connection closes there: the
		// director sees only the client's side), which conn_reuse_mode
		// 1 does not reschedule. Its real server is gone: without
		// expire_nodest_conn every SYN would be dropped (dest_gone)
		// until the entry expires, 2 minutes later, as the kernel does.
		if ip6ip6Port == 0 {
			t.Skip("no ip6ip6 port recorded")
		}
		before := e.snapshot().Engine
		body, _, err := getFrom(ip6ip6Port)
		if err != nil || (body != "rs1" && body != "rs2") {
			t.Errorf("a request from the reused client port %d: %q %v\n%s", ip6ip6Port, body, err, e.changedCounters(before))
		}
	})

	t.Run("ip6ip6 to a real server behind a router, through the route", func(t *testing.T) {
		// rs1 also holds 2001:db8:99::11 on lo, where no neighbour
		// solicitation finds it: the director reaches it only by a route
		// via rs1's address on the link (rs1 stands in for the router).
		far := "2001:db8:99::11"
		nsOutput(t, e.lab.RS[0], "ip", "-6", "addr", "add", far+"/128", "dev", "lo")
		nsOutput(t, e.lab.Director, "ip", "-6", "route", "add", "2001:db8:99::/64", "via", e.lab.RIPs6[0].String(), "dev", "d-eth0")
		svc := "[" + e.lab.VIP6.String() + "]:80"
		e.mustAdm("-a", "-t", svc, "-r", "["+far+"]:80", "-i")
		for _, r := range e.lab.RIPs {
			e.mustAdm("-d", "-t", svc, "-r", r.String()+":80")
		}
		// The director re-reads its routes every few seconds and the
		// decapsulator its addresses: wait for the first answer.
		deadline := time.Now().Add(20 * time.Second)
		for {
			body, err := e.get6("/")
			if err == nil && body == "rs1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no answer from rs1 through the router: %q %v\nulvsd log:\n%s", body, err, e.logText())
			}
			time.Sleep(200 * time.Millisecond)
		}
		for i := range 20 {
			if body, err := e.get6("/"); err != nil || body != "rs1" {
				t.Fatalf("request %d: %q %v", i, body, err)
			}
		}
		out := e.mustAdm("-L", "-n", "-t", svc)
		if !strings.Contains(out, fmt.Sprintf("  -> %-28s %-7s 1 ", "["+far+"]:80", "Tunnel")) {
			t.Errorf("-L -n lacks the routed real server:\n%s", out)
		}
	})
}

// changedCounters reports, for a failed request, the director's counters
// that moved since before (drops among them) and its connections
// (ulvsadm -L -n -c), so that a flake says where the packets went.
func (e *env) changedCounters(before map[string]uint64) string {
	var b strings.Builder
	b.WriteString("director counters since the requests began:")
	now := e.snapshot().Engine
	keys := make([]string, 0, len(now))
	for k := range now {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if now[k] != before[k] {
			fmt.Fprintf(&b, " %s +%d", k, now[k]-before[k])
		}
	}
	out, err := e.adm("-L", "-n", "-c")
	fmt.Fprintf(&b, "\nulvsadm -L -n -c (%v):\n%s", err, out)
	return b.String()
}
