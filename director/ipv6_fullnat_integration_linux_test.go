package director_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// v6FullNATConfig is a dual-stack FULLNAT director: the lab's IPv4
// service through lab.LocalAddrs and an IPv6 one on VIP6 through
// lab.LocalAddrs6, both rr.
func v6FullNATConfig(l *lab.Lab) string {
	quote := func(as []netip.Addr) string {
		var q []string
		for _, a := range as {
			q = append(q, fmt.Sprintf("%q", a.String()))
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	var b strings.Builder
	b.WriteString("[director]\ninterfaces = [\"d-eth0\", \"d-eth1\"]\n")
	fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"%s:80\"\nscheduler = \"rr\"\nforward = \"fullnat\"\nlocal_addresses = %s\n", l.VIP, quote(l.LocalAddrs))
	for _, r := range l.RIPs {
		fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = \"%s:80\"\n", r)
	}
	fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"[%s]:80\"\nscheduler = \"rr\"\nforward = \"fullnat\"\nlocal_addresses = %s\n", l.VIP6, quote(l.LocalAddrs6))
	for _, r := range l.RIPs6 {
		fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = \"[%s]:80\"\n", r)
	}
	return b.String()
}

// TestIntegrationIPv6FullNAT runs FULLNAT with IPv6 local addresses, the
// veths' offloads on (partial checksums) and off: the real servers, which
// have no route beyond their own network, see a local address as the
// source and answer it; the director answers their neighbour
// solicitations for it.
func TestIntegrationIPv6FullNAT(t *testing.T) {
	skipUnprivileged(t)
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("offloads off %v", off), func(t *testing.T) { testIPv6FullNAT(t, off) })
	}
}

func testIPv6FullNAT(t *testing.T, offloadsOff bool) {
	cfg := lab.Config{RealServers: 2, IPv6: true, Mode: lab.ModeFullNAT, OffloadsOff: offloadsOff}
	e := newEnvLab(t, cfg, func(l *lab.Lab) string {
		// And UDP on the same VIP6, real servers and local addresses.
		tcp := v6FullNATConfig(l)
		i := strings.LastIndex(tcp, "\n[[virtual_server]]\n")
		return tcp + strings.Replace(tcp[i:], "protocol = \"tcp\"", "protocol = \"udp\"", 1)
	})
	if len(e.lab.LocalAddrs6) != 2 {
		t.Fatalf("lab local addresses %v", e.lab.LocalAddrs6)
	}
	e.waitReady6(2)

	t.Run("100 requests split 50/50 under rr", func(t *testing.T) {
		splitRR6(t, e, 100)
	})

	t.Run("the real servers see a local address, never the client", func(t *testing.T) {
		servers, sources := map[string]int{}, map[netip.Addr]int{}
		for i := range 20 {
			body, err := e.get6("/peer")
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			name, peer, _ := strings.Cut(body, " ")
			ap, err := netip.ParseAddrPort(peer)
			if err != nil {
				t.Fatalf("peer %q: %v", body, err)
			}
			if !slices.Contains(e.lab.LocalAddrs6, ap.Addr()) {
				t.Errorf("%s saw the connection from %s, not a local address %v", name, ap, e.lab.LocalAddrs6)
			}
			servers[name]++
			sources[ap.Addr()]++
		}
		if servers["rs1"] != 10 || servers["rs2"] != 10 {
			t.Errorf("answers %v, want rs1:10 rs2:10", servers)
		}
		t.Logf("sources seen by the real servers: %v", sources)
	})

	t.Run("curl -6 and a 4 MiB download intact", func(t *testing.T) { curlAndDownload6(t, e) })

	t.Run("UDP over IPv6 FULLNAT, both ways", func(t *testing.T) {
		seen := map[string]bool{}
		for i := range 4 {
			msg := fmt.Sprintf("ping %d", i)
			reply, err := udpAsk6(e.lab, netip.AddrPortFrom(e.lab.VIP6, 80).String(), msg)
			if err != nil {
				t.Fatalf("datagram %d: %v\nulvsd log:\n%s", i, err, e.logText())
			}
			name, rest, _ := strings.Cut(reply, "\n")
			if rest != msg {
				t.Errorf("reply %q does not echo %q", reply, msg)
			}
			seen[name] = true
		}
		if !seen["rs1"] || !seen["rs2"] {
			t.Errorf("datagrams from four sockets reached %v, want both real servers", seen)
		}
	})

	t.Run("the director answers neighbour solicitations for the local addresses", func(t *testing.T) {
		mac := strings.TrimSpace(nsOutput(t, e.lab.Director, "cat", "/sys/class/net/"+e.lab.DirectorInsideIface+"/address"))
		found := 0
		for _, rs := range e.lab.RS {
			for _, a := range e.lab.LocalAddrs6 {
				neigh := nsOutput(t, rs, "ip", "-6", "neigh", "show", a.String())
				if neigh == "" {
					continue
				}
				found++
				if !strings.Contains(neigh, "lladdr "+mac) {
					t.Errorf("%s's neighbour entry for %s: %q, want the director's %s", rs.Name, a, neigh, mac)
				}
			}
		}
		if found == 0 {
			t.Error("no real server has a neighbour entry for a local address")
		}
	})

	t.Run("ulvsadm -L -n and -S -n", func(t *testing.T) {
		checkV6Listing(t, e, "FullNat")
		save := e.mustAdm("-S", "-n")
		want := fmt.Sprintf("-A -t [%s]:80 -s rr --laddr %s,%s\n", e.lab.VIP6, e.lab.LocalAddrs6[0], e.lab.LocalAddrs6[1])
		if !strings.Contains(save, want) || !strings.Contains(save, fmt.Sprintf("-a -t [%s]:80 -r [%s]:80 --fullnat -w 1\n", e.lab.VIP6, e.lab.RIPs6[0])) {
			t.Errorf("-S -n lacks %q or the --fullnat real server:\n%s", want, save)
		}
	})
}

// curlAndDownload6 fetches / from VIP6 with curl -6 (when curl is
// installed) and downloads 4 MiB through it, checking the SHA-256.
func curlAndDownload6(t *testing.T, e *env) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err == nil {
		out := nsOutput(t, e.lab.Client, "curl", "-6", "-s", "--max-time", "5", "http://["+e.lab.VIP6.String()+"]/")
		if o := strings.TrimSpace(out); o != "rs1" && o != "rs2" {
			t.Errorf("curl -6: %q", out)
		}
	}
	e.download6(t, e.client(), 4<<20)
}

// splitRR6 makes n requests to VIP6, each on a new connection, and checks
// that rr split them evenly over the lab's two real servers.
func splitRR6(t *testing.T, e *env, n int) {
	t.Helper()
	got := map[string]int{}
	for i := range n {
		body, err := e.get6("/")
		if err != nil {
			t.Fatalf("request %d: %v\nulvsd log:\n%s", i, err, e.logText())
		}
		got[body]++
	}
	if got["rs1"] != n/2 || got["rs2"] != n/2 {
		t.Errorf("answers %v, want rs1:%d rs2:%d", got, n/2, n/2)
	}
}

// udpAsk6 sends one datagram to addr from a new IPv6 socket in the client
// namespace and returns the answer, trying three times.
func udpAsk6(l *lab.Lab, addr, msg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for range 3 {
		var c net.Conn
		if c, err = l.Client.DialContext(ctx, "udp6", addr); err != nil {
			return "", err
		}
		c.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 2048)
		var n int
		if _, err = c.Write([]byte(msg)); err == nil {
			n, err = c.Read(buf)
		}
		c.Close()
		if err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", err
}
