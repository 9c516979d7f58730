package lab

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/realserver"
)

// checkGone fails if anything of lab l survived Down: a namespace, or a
// realserver state file named after a real server.
func checkGone(t *testing.T, l *Lab) {
	t.Helper()
	for _, n := range l.Namespaces() {
		if n.Exists() {
			t.Errorf("namespace %s left behind", n)
		}
	}
	if left := existingNamespaces(l.Prefix); len(left) != 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
	for _, rs := range l.RS {
		if _, err := os.Stat(realserver.StatePath(realserver.DefaultStateDir, rs.Name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("realserver state of %s left behind (%v)", rs, err)
		}
	}
}

// ipOut runs ip with args in n and returns its output with runs of
// whitespace folded to one space.
func ipOut(t *testing.T, n NS, args ...string) string {
	t.Helper()
	out, err := n.Run(context.Background(), "ip", args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// getName fetches http://addr/ from n and returns the body.
func getName(ctx context.Context, n NS, addr netip.Addr) (string, error) {
	c := n.HTTPClient()
	c.Timeout = 5 * time.Second
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr.String()+"/", nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// upDown builds a lab of mode, runs check on it with the servers started,
// then takes it down and checks that nothing is left.
func upDown(t *testing.T, mode string, check func(t *testing.T, l *Lab)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Up(ctx, Config{Mode: mode})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	downed := false
	defer func() {
		if !downed {
			l.Down()
		}
	}()
	if l.Mode != mode {
		t.Errorf("mode: got %q, want %q", l.Mode, mode)
	}
	for _, c := range []struct {
		ns        NS
		key, want string
	}{
		{l.Director, "net/ipv4/ip_forward", "0"},
		{l.Director, "net/ipv4/conf/all/send_redirects", "0"},
	} {
		if got := readSysctl(t, c.ns, c.key); got != c.want {
			t.Errorf("%s %s: got %s, want %s", c.ns, c.key, got, c.want)
		}
	}
	if err := l.StartServers(ctx); err != nil {
		t.Fatal(err)
	}
	// Every real server answers from the node that reaches it directly.
	for i, rip := range l.RIPs {
		got, err := getName(ctx, l.DirectNS(), rip)
		if want := "rs" + string(rune('1'+i)) + "\n"; err != nil || got != want {
			t.Errorf("GET %s from %s: got %q, %v; want %q", rip, l.DirectNS(), got, err, want)
		}
	}
	check(t, l)
	if err := l.Down(); err != nil {
		t.Fatalf("Down: %v", err)
	}
	downed = true
	checkGone(t, l)
}

func TestIntegrationModeNAT(t *testing.T) {
	skipUnprivileged(t)
	upDown(t, ModeNAT, func(t *testing.T, l *Lab) {
		if got := ipOut(t, l.Director, "-4", "-o", "addr", "show", "dev", "d-eth1"); !strings.Contains(got, "inet 10.77.1.1/24") {
			t.Errorf("director d-eth1: %s", got)
		}
		if got := ipOut(t, l.RS[1], "route", "show", "default"); !strings.HasPrefix(got, "default via 10.77.1.1 dev r2-eth0") {
			t.Errorf("rs2 default route: got %q, want via 10.77.1.1", got)
		}
		// NAT real servers hold no VIP and keep the ARP defaults.
		if got := ipOut(t, l.RS[0], "-4", "-o", "addr", "show"); strings.Contains(got, l.VIP.String()) {
			t.Errorf("rs1 holds the VIP: %s", got)
		}
		if got := readSysctl(t, l.RS[0], "net/ipv4/conf/all/arp_ignore"); got != "0" {
			t.Errorf("rs1 arp_ignore: got %s, want 0", got)
		}
		// The client has no route to the inside network.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		c, err := l.Client.DialContext(ctx, "tcp4", "10.77.1.11:80")
		if err == nil {
			c.Close()
			t.Error("the client reached 10.77.1.11 directly")
		} else if !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("client dial 10.77.1.11: got %v, want network unreachable", err)
		}
		// The director and the real servers share the inside bridge only.
		if out := ipOut(t, l.Switch, "-o", "link", "show", "master", "br1"); !strings.Contains(out, "sw-d1") ||
			!strings.Contains(out, "sw-r1") || strings.Contains(out, "sw-c") {
			t.Errorf("br1 ports: %s", out)
		}
	})
}

func TestIntegrationModeFullNAT(t *testing.T) {
	skipUnprivileged(t)
	upDown(t, ModeFullNAT, func(t *testing.T, l *Lab) {
		for _, rs := range l.RS {
			if got := ipOut(t, rs, "-4", "route", "show"); strings.Contains(got, "via") || strings.Contains(got, "default") {
				t.Errorf("%s routes: got %q, want only its subnet", rs, got)
			}
		}
		// A real server cannot reach the client: replies must go to the
		// director's local addresses on its own subnet.
		if _, err := l.RS[0].Run(context.Background(), "ip", "route", "get", l.ClientAddr.String()); err == nil {
			t.Error("rs1 has a route to the client")
		}
		if got := ipOut(t, l.RS[0], "route", "get", l.LocalAddrs[0].String()); !strings.Contains(got, "dev r1-eth0") ||
			strings.Contains(got, "via") {
			t.Errorf("rs1 route to %s: got %q, want on-link via r1-eth0", l.LocalAddrs[0], got)
		}
		// Nothing holds the local addresses: ulvsd answers for them.
		for _, n := range l.Namespaces() {
			if got := ipOut(t, n, "-4", "-o", "addr", "show"); strings.Contains(got, "10.77.1.20") {
				t.Errorf("%s holds a local address: %s", n, got)
			}
		}
	})
}

func TestIntegrationModeTUN(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("the userspace decapsulator needs nft")
	}
	upDown(t, ModeTUN, func(t *testing.T, l *Lab) {
		ds := l.Decapsulators()
		if len(ds) != len(l.RS) {
			t.Fatalf("decapsulators: got %d, want %d", len(ds), len(l.RS))
		}
		for i, d := range ds {
			if d.Name != l.RS[i].Name || d.Device == "" || d.Mode != realserver.ModeTUN {
				t.Errorf("rs%d decapsulator: %+v", i+1, d)
			}
			if (d.Decap == realserver.DecapUser || d.Decap == realserver.DecapTCX) && (d.Process == nil || d.Process.PID != os.Getpid() || d.Iface != RSIface(i)) {
				t.Errorf("rs%d userspace decapsulator: process %+v, iface %q", i+1, d.Process, d.Iface)
			}
			if got := ipOut(t, l.RS[i], "-4", "-o", "addr", "show", "dev", d.Device); !strings.Contains(got, "inet 10.77.0.100/32") {
				t.Errorf("rs%d %s: want the VIP: %s", i+1, d.Device, got)
			}
			if got := ipOut(t, l.RS[i], "-4", "-o", "addr", "show", "dev", "lo"); strings.Contains(got, l.VIP.String()) {
				t.Errorf("rs%d holds the VIP on lo: %s", i+1, got)
			}
			if _, err := os.Stat(realserver.StatePath(realserver.DefaultStateDir, l.RS[i].Name)); err != nil {
				t.Errorf("rs%d realserver state: %v", i+1, err)
			}
		}
		if mtu := ipOut(t, l.RS[0], "-o", "link", "show", "r1-eth0"); !strings.Contains(mtu, "mtu 1500") {
			t.Errorf("rs1 r1-eth0: want mtu 1500: %s", mtu)
		}
		ipipToClient(t, l)
	})
}

// ipipToClient plays a TUN director by hand: from the director namespace it
// sends rs1 an IPIP packet whose inner packet is a UDP datagram from the
// client to VIP:80. rs1 must decapsulate it, its UDP echo must answer, and
// the answer must reach the client from the VIP directly.
func ipipToClient(t *testing.T, l *Lab) {
	t.Helper()
	pc, err := l.Client.ListenPacket("udp4", l.ClientAddr.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	inner := udpPacket(l.ClientAddr, l.VIP, port, ServerPort, []byte("tun"))
	err = l.Director.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_IPIP)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		// The kernel adds the outer header: DIP -> RIP, protocol 4.
		return unix.Sendto(fd, inner, 0, &unix.SockaddrInet4{Addr: l.RIPs[0].As4()})
	})
	if err != nil {
		t.Fatalf("send IPIP from the director: %v", err)
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("client: no answer to the IPIP-carried datagram: %v", err)
	}
	if got, want := from.String(), l.VIP.String()+":80"; got != want || string(buf[:n]) != "rs1\ntun" {
		t.Errorf("client got %q from %s; want %q from %s", buf[:n], got, "rs1\ntun", want)
	}
}

// udpPacket builds an IPv4/UDP packet (UDP checksum 0: none).
func udpPacket(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 28+len(payload))
	b[0], b[8], b[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}
