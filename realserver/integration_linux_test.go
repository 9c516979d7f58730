package realserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// skipUnprivileged skips integration tests under -short, without root or
// without the tools they need.
func skipUnprivileged(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("integration test: needs %s", tool)
		}
	}
}

// testNS is a network namespace made for one test and deleted after it.
type testNS struct{ name string }

var nsCounter atomic.Int32

func newNS(t *testing.T, tag string) testNS {
	t.Helper()
	n := testNS{fmt.Sprintf("ulvsrs-%d-%d-%s", os.Getpid(), nsCounter.Add(1), tag)}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "ermission") {
			t.Skipf("cannot create a network namespace: %s", out)
		}
		t.Fatalf("ip netns add %s: %v: %s", n.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	return n
}

// do runs fn on a locked thread switched into the namespace.
func (n testNS) do(fn func() error) error {
	target, err := os.Open(filepath.Join("/run/netns", n.name))
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return // the thread stays locked and dies with the goroutine
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// ip runs `ip -n NS args...`.
func (n testNS) ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", n.name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (n testNS) sysctl(t *testing.T, key string) string {
	t.Helper()
	var v string
	if err := n.do(func() error {
		b, err := os.ReadFile("/proc/sys/" + key)
		v = strings.TrimSpace(string(b))
		return err
	}); err != nil {
		t.Fatalf("read %s in %s: %v", key, n.name, err)
	}
	return v
}

func (n testNS) setSysctl(t *testing.T, key, v string) {
	t.Helper()
	if err := n.do(func() error { return os.WriteFile("/proc/sys/"+key, []byte(v), 0) }); err != nil {
		t.Fatalf("write %s in %s: %v", key, n.name, err)
	}
}

// hostSnapshot is what a real server's up/down may touch.
func hostSnapshot(t *testing.T, n testNS, devs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, dev := range append([]string{"all", "lo"}, devs...) {
		for _, k := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			fmt.Fprintf(&b, "%s/%s=%s\n", dev, k, n.sysctl(t, confKey(dev, k)))
		}
	}
	// -br: no qdisc (bringing lo up attaches noqueue for good).
	b.WriteString(n.ip(t, "-br", "-4", "addr", "show"))
	b.WriteString(n.ip(t, "-br", "link", "show"))
	out, err := exec.Command("ip", "netns", "exec", n.name, "nft", "list", "ruleset").CombinedOutput()
	if err == nil {
		b.Write(out)
	}
	return b.String()
}

func TestIntegrationDR(t *testing.T) {
	skipUnprivileged(t)
	tests := []struct {
		name string
		pre  func(t *testing.T, n testNS)
	}{
		{name: "fresh namespace", pre: func(*testing.T, testNS) {}},
		{name: "arp_ignore already 1, a VIP already on lo", pre: func(t *testing.T, n testNS) {
			n.setSysctl(t, "net/ipv4/conf/all/arp_ignore", "1")
			n.ip(t, "link", "set", "lo", "up")
			n.ip(t, "addr", "add", vip2.String()+"/32", "dev", "lo")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNS(t, "dr")
			tt.pre(t, n)
			before := hostSnapshot(t, n)
			dir := t.TempDir()
			var s *Server
			if err := n.do(func() (err error) {
				s, err = Up(context.Background(), Config{Mode: ModeDR, VIPs: []netip.Addr{vip1, vip2}, StateDir: dir})
				return err
			}); err != nil {
				t.Fatalf("Up: %v", err)
			}
			if got := s.State().Name; got != n.name {
				t.Errorf("default name: got %q, want the netns name %q", got, n.name)
			}
			for _, dev := range []string{"all", "lo"} {
				if got := n.sysctl(t, confKey(dev, "arp_ignore")); got != "1" {
					t.Errorf("%s/arp_ignore: got %s, want 1", dev, got)
				}
				if got := n.sysctl(t, confKey(dev, "arp_announce")); got != "2" {
					t.Errorf("%s/arp_announce: got %s, want 2", dev, got)
				}
			}
			addrs := n.ip(t, "-4", "-o", "addr", "show", "dev", "lo")
			for _, v := range []netip.Addr{vip1, vip2} {
				if !strings.Contains(addrs, v.String()+"/32") {
					t.Errorf("lo lacks %v: %s", v, addrs)
				}
			}
			if err := n.do(func() error { return Down(context.Background(), DownConfig{StateDir: dir}) }); err != nil {
				t.Fatalf("Down: %v", err)
			}
			after := hostSnapshot(t, n)
			// Setting lo up for the first time makes the kernel add
			// 127.0.0.1/8, which stays; Up did not add it, Down keeps it.
			after = strings.Replace(after, "lo               DOWN           127.0.0.1/8 \n", "", 1)
			if after != before {
				t.Errorf("namespace after down differs:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			assertNoState(t, dir, n.name)
			if err := n.do(func() error { return Down(context.Background(), DownConfig{StateDir: dir}) }); err != nil {
				t.Errorf("second Down: %v", err)
			}
		})
	}
}

// tunTopo is a sender and a real server joined by a veth pair.
type tunTopo struct {
	snd, rs         testNS
	sndAddr, rsAddr netip.Addr
	sndMAC, rsMAC   [6]byte
	sndIfi          int
}

const (
	tunSndIf = "s0"
	tunRSIf  = "r0"
)

func newTunTopo(t *testing.T) *tunTopo {
	tp := &tunTopo{
		snd: newNS(t, "snd"), rs: newNS(t, "rs"),
		sndAddr: netip.MustParseAddr("10.201.0.1"), rsAddr: netip.MustParseAddr("10.201.0.2"),
	}
	out, err := exec.Command("ip", "link", "add", tunSndIf, "netns", tp.snd.name, "type", "veth",
		"peer", "name", tunRSIf, "netns", tp.rs.name).CombinedOutput()
	if err != nil {
		t.Fatalf("veth: %v: %s", err, out)
	}
	for _, x := range []struct {
		n   testNS
		dev string
		a   netip.Addr
	}{{tp.snd, tunSndIf, tp.sndAddr}, {tp.rs, tunRSIf, tp.rsAddr}} {
		x.n.ip(t, "link", "set", "lo", "up")
		x.n.ip(t, "addr", "add", x.a.String()+"/24", "dev", x.dev)
		x.n.ip(t, "link", "set", x.dev, "up")
	}
	// Wait for carrier, so snapshots taken now and after the test agree.
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if f := strings.Fields(tp.rs.ip(t, "-br", "link", "show", tunRSIf)); len(f) > 1 && f[1] == "UP" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%s has no carrier", tunRSIf)
		}
	}
	for _, x := range []struct {
		n   testNS
		dev string
		mac *[6]byte
	}{{tp.snd, tunSndIf, &tp.sndMAC}, {tp.rs, tunRSIf, &tp.rsMAC}} {
		if err := x.n.do(func() error {
			ifi, err := net.InterfaceByName(x.dev)
			if err != nil {
				return err
			}
			*x.mac = [6]byte(ifi.HardwareAddr)
			if x.dev == tunSndIf {
				tp.sndIfi = ifi.Index
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return tp
}

// up brings a TUN real server with VIP vip1 and decapsulation decap up in
// the real server's namespace. down takes it down (the test fails if that
// fails); the test's cleanup does it otherwise.
func (tp *tunTopo) up(t *testing.T, decap Decap, dir, name string) (s *Server, down func()) {
	t.Helper()
	if err := tp.rs.do(func() (err error) {
		s, err = Up(context.Background(), Config{Mode: ModeTUN, Decap: decap, VIPs: []netip.Addr{vip1},
			StateDir: dir, Name: name})
		return err
	}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	downed := false
	t.Cleanup(func() {
		if !downed {
			tp.rs.do(func() error { return s.Down(context.Background()) })
		}
	})
	return s, func() {
		t.Helper()
		downed = true
		if err := tp.rs.do(func() error { return s.Down(context.Background()) }); err != nil {
			t.Fatalf("Down: %v", err)
		}
	}
}

// echoUDP sends every datagram pc receives back to its sender, until pc
// is closed.
func echoUDP(pc net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from)
	}
}

// ipip returns outer(sender -> RS, IPIP) + inner as an IP packet.
func (tp *tunTopo) ipip(inner []byte) []byte {
	return pkttest.Frame{Src: tp.sndAddr, Dst: tp.rsAddr, Proto: pkt.ProtoIPIP, Payload: inner}.Build()[pkt.EtherHeaderLen:]
}

// rawSender opens an IPPROTO_RAW socket in the sender namespace.
func (tp *tunTopo) rawSender(t *testing.T) int {
	var fd int
	if err := tp.snd.do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		return err
	}); err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func (tp *tunTopo) sendRaw(t *testing.T, fd int, ip []byte) {
	t.Helper()
	if err := unix.Sendto(fd, ip, 0, &unix.SockaddrInet4{Addr: tp.rsAddr.As4()}); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func TestIntegrationTUNUserspace(t *testing.T) {
	skipUnprivileged(t, "nft")
	tp := newTunTopo(t)
	before := hostSnapshot(t, tp.rs)
	dir := t.TempDir()
	name := "t" + fmt.Sprint(os.Getpid())
	s, down := tp.up(t, DecapUser, dir, name)
	if st := s.State(); st.Iface != tunRSIf || st.Device != DefaultTunName || st.Process == nil {
		t.Errorf("state: iface %q device %q process %v", st.Iface, st.Device, st.Process)
	}

	// Servers on the VIP in the real server's namespace.
	const udpPort, tcpPort = 9000, 9001
	var pc net.PacketConn
	var ln net.Listener
	if err := tp.rs.do(func() (err error) {
		if pc, err = net.ListenPacket("udp4", netip.AddrPortFrom(vip1, udpPort).String()); err != nil {
			return err
		}
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(vip1, tcpPort).String())
		return err
	}); err != nil {
		t.Fatalf("listen on the VIP: %v", err)
	}
	defer pc.Close()
	defer ln.Close()
	go echoUDP(pc)

	// The sender: a raw socket to send IPIP, a UDP socket for the echo
	// replies (they come from the VIP straight to the sender's address),
	// and a raw ICMP socket to catch protocol-unreachable replies.
	raw := tp.rawSender(t)
	var uc *net.UDPConn
	var icmpFd int
	if err := tp.snd.do(func() (err error) {
		if icmpFd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP); err != nil {
			return err
		}
		uc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.sndAddr, 40000)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	defer unix.Close(icmpFd)

	echo := func(t *testing.T, send func(payload string), payload string) {
		t.Helper()
		awaitEcho(t, uc, send, payload, netip.AddrPortFrom(vip1, udpPort), s.Stats)
	}
	udpInner := func(payload string) []byte {
		return pkttest.Frame{Src: tp.sndAddr, Dst: vip1, Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: udpPort,
			Payload: []byte(payload)}.Build()[pkt.EtherHeaderLen:]
	}

	t.Run("UDP echo", func(t *testing.T) {
		echo(t, func(p string) { tp.sendRaw(t, raw, tp.ipip(udpInner(p))) }, "ping through the tunnel")
	})

	t.Run("held, nothing is decapsulated; resumed, it is again", func(t *testing.T) {
		if err := s.Hold(true); err != nil {
			t.Fatal(err)
		}
		// The decapsulator counts a frame after writing it to the TUN
		// device, so the echo before may be answered before it is
		// counted: wait for the counters to settle.
		before := s.Stats()
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			now := s.Stats()
			if now == before {
				break
			}
			before = now
		}
		for i := 0; i < 3; i++ {
			tp.sendRaw(t, raw, tp.ipip(udpInner("held")))
		}
		uc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, from, err := uc.ReadFromUDPAddrPort(make([]byte, 2048)); err == nil {
			t.Fatalf("a reply (%d bytes from %v) while the decapsulator was held", n, from)
		}
		if after := s.Stats(); after != before {
			t.Errorf("counters moved while held: %v -> %v", before, after)
		}
		if err := s.Hold(false); err != nil {
			t.Fatal(err)
		}
		echo(t, func(p string) { tp.sendRaw(t, raw, tp.ipip(udpInner(p))) }, "ping after the hold")
	})

	t.Run("UDP CHECKSUM_PARTIAL via vnet header", func(t *testing.T) {
		// An AF_PACKET socket with PACKET_VNET_HDR sends the frame as
		// CHECKSUM_PARTIAL: the inner UDP checksum field holds only the
		// pseudo-header sum and csum_start points at the inner UDP header
		// from the Ethernet header. The payload is small, so a csum_start
		// not moved back by the decapsulator lies past the end of the
		// inner packet and the TUN device rejects it.
		var fd int
		if err := tp.snd.do(func() (err error) {
			if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
				return err
			}
			return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1)
		}); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		send := func(p string) {
			inner := udpInner(p)
			ip := pkt.IPv4(inner)
			pkt.UDP(inner[20:]).SetChecksum(pkt.Fold(pkt.PseudoHeaderSum(ip.Src(), ip.Dst(), pkt.ProtoUDP, uint16(len(inner)-20))))
			outer := pkttest.Frame{SrcMAC: tp.sndMAC, DstMAC: tp.rsMAC, Src: tp.sndAddr, Dst: tp.rsAddr,
				Proto: pkt.ProtoIPIP, Payload: inner}.Build()
			v := vnet{flags: vnetFlagNeedsCsum, start: 14 + 20 + 20, csumOff: pkt.UDPChecksumOffset}.bytes()
			to := &unix.SockaddrLinklayer{Ifindex: tp.sndIfi, Protocol: htons(unix.ETH_P_IP), Halen: 6}
			copy(to.Addr[:], tp.rsMAC[:])
			if err := unix.Sendto(fd, append(v, outer...), 0, to); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		writeErrs := s.Stats()[DropWrite]
		echo(t, send, "partial")
		if got := s.Stats()[DropWrite]; got != writeErrs {
			t.Errorf("TUN write errors: %d -> %d", writeErrs, got)
		}
	})

	t.Run("TCP SYN gets a SYN-ACK from the VIP", func(t *testing.T) {
		var rfd int
		if err := tp.snd.do(func() (err error) {
			rfd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(rfd)
		unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
		const isn = 1000
		syn := pkttest.Frame{Src: tp.sndAddr, Dst: vip1, Proto: pkt.ProtoTCP, SrcPort: 40001, DstPort: tcpPort,
			TCPFlags: pkt.TCPSyn, Seq: isn}.Build()[pkt.EtherHeaderLen:]
		buf := make([]byte, 2048)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			tp.sendRaw(t, raw, tp.ipip(syn))
			for end := time.Now().Add(time.Second); time.Now().Before(end); {
				n, _, err := unix.Recvfrom(rfd, buf, 0)
				if err != nil {
					break
				}
				ip := pkt.IPv4(buf[:n])
				if n < 40 || ip.Src() != vip1.As4() {
					continue
				}
				tcp := pkt.TCP(ip[ip.HeaderLen():])
				if tcp.DstPort() == 40001 && tcp.Flags()&(pkt.TCPSyn|pkt.TCPAck) == pkt.TCPSyn|pkt.TCPAck && tcp.Ack() == isn+1 {
					return
				}
			}
		}
		t.Fatalf("no SYN-ACK from %v; decapsulator counters %v", vip1, s.Stats())
	})

	t.Run("inner packet to another address is dropped", func(t *testing.T) {
		other := netip.MustParseAddr("10.202.0.99")
		before := s.Stats()[DropNotVIP]
		tp.sendRaw(t, raw, tp.ipip(pkttest.Frame{Src: tp.sndAddr, Dst: other, Proto: pkt.ProtoUDP,
			SrcPort: 40000, DstPort: udpPort}.Build()[pkt.EtherHeaderLen:]))
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if s.Stats()[DropNotVIP] > before {
				return
			}
		}
		t.Errorf("inner-dst-not-vip counter did not move: %v", s.Stats())
	})

	t.Run("no protocol-unreachable", func(t *testing.T) {
		buf := make([]byte, 2048)
		unix.SetNonblock(icmpFd, true)
		for {
			n, _, err := unix.Recvfrom(icmpFd, buf, 0)
			if err != nil {
				break
			}
			ip := pkt.IPv4(buf[:n])
			if n >= 28 && ip.Protocol() == pkt.ProtoICMP {
				icmp := ip[ip.HeaderLen():]
				if icmp[0] == 3 && icmp[1] == 2 {
					t.Errorf("the real server sent ICMP protocol-unreachable: %x", buf[:n])
				}
			}
		}
	})

	if c := s.Stats(); c[Decapsulated] < 3 {
		t.Errorf("decapsulated: %d, want at least 3 (%v)", c[Decapsulated], c)
	}
	down()
	pc.Close()
	ln.Close()
	if after := hostSnapshot(t, tp.rs); after != before {
		t.Errorf("real server after down differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	assertNoState(t, dir, name)
}

// helperEnv makes the test binary run TestHelperDecapProcess as a
// decapsulator process: "STATEDIR,NAME,IFACE,VIP".
const helperEnv = "ULVS_REALSERVER_TEST_HELPER"

// TestHelperDecapProcess is not a test: it is the decapsulator process of
// TestIntegrationTUNDownFromAnotherProcess, started through `ip netns exec`.
func TestHelperDecapProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process only")
	}
	f := strings.Split(spec, ",")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	s, err := Up(context.Background(), Config{Mode: ModeTUN, Decap: DecapUser, StateDir: f[0], Name: f[1], Iface: f[2],
		VIPs: []netip.Addr{netip.MustParseAddr(f[3])}})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	<-ctx.Done()
	if err := s.Down(context.Background()); err != nil {
		fmt.Println("down error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestIntegrationTUNDownFromAnotherProcess(t *testing.T) {
	skipUnprivileged(t, "nft")
	tp := newTunTopo(t)
	before := hostSnapshot(t, tp.rs)
	dir := t.TempDir()
	name := "x" + fmt.Sprint(os.Getpid())
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", tp.rs.name, exe, "-test.run=^TestHelperDecapProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join([]string{dir, name, tunRSIf, vip1.String()}, ","))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group we made
			<-exited
		}
	})
	// The test binary prints its own lines (=== RUN with -v) first.
	sc := bufio.NewScanner(out)
	var lines []string
	for sc.Scan() && sc.Text() != "ready" {
		lines = append(lines, sc.Text())
	}
	if sc.Text() != "ready" {
		t.Fatalf("helper did not get ready: %q", lines)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	st, err := ReadState(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Process == nil || !st.Process.Running() {
		t.Fatalf("state names no running process: %+v", st.Process)
	}
	if !strings.Contains(tp.rs.ip(t, "-o", "link", "show"), DefaultTunName) {
		t.Errorf("no TUN device while the helper runs")
	}
	// A Down from the wrong namespace is refused.
	if err := tp.snd.do(func() error { return Down(context.Background(), DownConfig{StateDir: dir, Name: name}) }); err == nil {
		t.Errorf("Down from another namespace: got nil error")
	}
	if err := tp.rs.do(func() error { return Down(context.Background(), DownConfig{StateDir: dir, Name: name}) }); err != nil {
		t.Fatalf("Down: %v", err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("helper exit: %v", waitErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("helper still running after Down")
	}
	if _, err := ReadState(dir, name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state after down: %v", err)
	}
	if after := hostSnapshot(t, tp.rs); after != before {
		t.Errorf("real server after down differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// awaitEcho sends payload with send until uc gets it back from want, up to
// five times a second apart, and returns how many it sent; stats gives
// the decapsulator's counters for the failure message.
func awaitEcho(t *testing.T, uc *net.UDPConn, send func(payload string), payload string, want netip.AddrPort, stats func() [NumVerdicts]uint64) int {
	t.Helper()
	buf := make([]byte, 2048)
	for try := 1; try <= 5; try++ {
		send(payload)
		uc.SetReadDeadline(time.Now().Add(time.Second))
		n, from, err := uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			continue
		}
		if from != want || string(buf[:n]) != payload {
			t.Fatalf("reply %q from %v, want %q from %v", buf[:n], from, payload, want)
		}
		return try
	}
	t.Fatalf("no echo reply for %q; decapsulator counters %v", payload, stats())
	return 0
}
