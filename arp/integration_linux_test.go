//go:build linux

package arp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// pair is two network namespaces joined by a veth pair:
//
//	nsA: devA 10.77.250.1/24 macA  <--veth-->  nsB: devB 10.77.250.2/24 macB
type pair struct {
	nsA, nsB   string
	devA, devB string
	macA, macB [6]byte
	ipA, ipB   netip.Addr
}

func skipUnprivileged(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: the ip tool is not installed")
	}
}

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newPair builds the topology; tag keeps names unique across the tests of
// one process (names are global to the machine, so they also carry the PID).
func newPair(t *testing.T, tag string) *pair {
	t.Helper()
	skipUnprivileged(t)
	pid := os.Getpid()
	p := &pair{
		nsA:  fmt.Sprintf("ulvsarp-%d-%s-a", pid, tag),
		nsB:  fmt.Sprintf("ulvsarp-%d-%s-b", pid, tag),
		devA: fmt.Sprintf("ua%s%d", tag, pid), // IFNAMSIZ: at most 15 bytes
		devB: fmt.Sprintf("ub%s%d", tag, pid),
		macA: [6]byte{0x02, 0x77, 0, 0, 0, 0x0a},
		macB: [6]byte{0x02, 0x77, 0, 0, 0, 0x0b},
		ipA:  netip.MustParseAddr("10.77.250.1"),
		ipB:  netip.MustParseAddr("10.77.250.2"),
	}
	for _, ns := range []string{p.nsA, p.nsB} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	}
	ipCmd(t, "link", "add", "name", p.devA, "netns", p.nsA, "address", net.HardwareAddr(p.macA[:]).String(),
		"type", "veth", "peer", "name", p.devB, "netns", p.nsB, "address", net.HardwareAddr(p.macB[:]).String())
	ipCmd(t, "-n", p.nsA, "addr", "add", p.ipA.String()+"/24", "dev", p.devA)
	ipCmd(t, "-n", p.nsB, "addr", "add", p.ipB.String()+"/24", "dev", p.devB)
	ipCmd(t, "-n", p.nsA, "link", "set", p.devA, "up")
	ipCmd(t, "-n", p.nsB, "link", "set", p.devB, "up")
	return p
}

// inNetns runs fn on a locked OS thread inside namespace ns, the way the
// daemon opens its sockets. If the thread cannot return to its original
// namespace it stays locked, so the runtime discards it.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// neighbour returns the MAC and state of addr in namespace ns on dev.
func neighbour(t *testing.T, ns, dev string, addr netip.Addr) (mac, state string) {
	t.Helper()
	var entries []struct {
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	out := ipCmd(t, "-j", "-n", ns, "neigh", "show", "to", addr.String(), "dev", dev)
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("ip -j neigh show: %v\n%s", err, out)
	}
	if len(entries) == 0 {
		return "", ""
	}
	return entries[0].LLAddr, strings.Join(entries[0].State, ",")
}

func TestIntegrationResolver(t *testing.T) {
	p := newPair(t, "r")
	events := make(chan changeEvent, 10)
	var r *Resolver
	err := inNetns(p.nsA, func() error {
		ifi, err := net.InterfaceByName(p.devA)
		if err != nil {
			return err
		}
		r, err = NewResolver(ResolverConfig{
			Interface: ifi,
			Refresh:   100 * time.Millisecond,
			Retry:     50 * time.Millisecond,
			Timeout:   100 * time.Millisecond,
			OnChange: func(a netip.Addr, m [6]byte, ok bool) {
				events <- changeEvent{a, m, ok}
			},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }() // any thread: the socket is in nsA
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	}()

	r.Watch([]netip.Addr{p.ipB})
	expectChange(t, events, changeEvent{p.ipB, p.macB, true})
	expectLookup(t, r, p.ipB, p.macB, true)

	// The real server's MAC changes: the next refresh finds it.
	macC := [6]byte{0x02, 0x77, 0, 0, 0, 0x0c}
	ipCmd(t, "-n", p.nsB, "link", "set", p.devB, "address", net.HardwareAddr(macC[:]).String())
	expectChange(t, events, changeEvent{p.ipB, macC, true})

	// It stops answering: forgotten after FailAfter attempts.
	ipCmd(t, "-n", p.nsB, "addr", "flush", "dev", p.devB)
	expectChange(t, events, changeEvent{p.ipB, macC, false})
	expectLookup(t, r, p.ipB, [6]byte{}, false)
}

// TestIntegrationReadNeighbours checks that the neighbour table read on a
// thread inside a namespace is that namespace's, and seeds a Resolver.
func TestIntegrationReadNeighbours(t *testing.T) {
	p := newPair(t, "n")
	ghost := netip.MustParseAddr("10.77.250.9")
	ghostMAC := [6]byte{0x02, 0x77, 0, 0, 0, 0x09}
	ipCmd(t, "-n", p.nsA, "neigh", "add", ghost.String(), "lladdr", net.HardwareAddr(ghostMAC[:]).String(),
		"dev", p.devA, "nud", "permanent")
	ipCmd(t, "-n", p.nsA, "neigh", "add", "10.77.250.8", "dev", p.devA, "nud", "failed")

	if got := ReadNeighbours(p.devA); len(got) != 0 {
		t.Errorf("ReadNeighbours outside the namespace = %v, want nothing", got)
	}
	var got map[netip.Addr][6]byte
	var r *Resolver
	err := inNetns(p.nsA, func() error {
		got = ReadNeighbours(p.devA)
		ifi, err := net.InterfaceByName(p.devA)
		if err != nil {
			return err
		}
		r, err = NewResolver(ResolverConfig{Interface: ifi})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(got) != 1 || got[ghost] != ghostMAC {
		t.Errorf("ReadNeighbours(%s) in the namespace = %v, want only %v -> %x", p.devA, got, ghost, ghostMAC)
	}
	r.Watch([]netip.Addr{ghost})
	expectLookup(t, r, ghost, ghostMAC, true) // from the seed, before any ARP
}

// TestIntegrationGratuitous sends Gratuitous frames from A and checks how
// B's kernel treats them, which is the reasoning in Gratuitous's doc: the
// request form repairs a FAILED entry and overrides a valid one at once,
// while the reply form with a zero THA is ignored within locktime.
func TestIntegrationGratuitous(t *testing.T) {
	p := newPair(t, "g")
	vipStale := netip.MustParseAddr("10.77.250.100")
	vipFailed := netip.MustParseAddr("10.77.250.101")
	old := "02:77:00:00:00:99"
	// Locktime in USER_HZ; 10 s leaves no doubt about which rule applied.
	setLocktime := func(v int) {
		t.Helper()
		out, err := exec.Command("ip", "netns", "exec", p.nsB, "sh", "-c",
			fmt.Sprintf("echo %d > /proc/sys/net/ipv4/neigh/%s/locktime", v, p.devB)).CombinedOutput()
		if err != nil {
			t.Fatalf("set locktime: %v\n%s", err, out)
		}
	}
	setLocktime(1000)
	ipCmd(t, "-n", p.nsB, "neigh", "replace", vipStale.String(), "lladdr", old, "dev", p.devB, "nud", "stale")
	ipCmd(t, "-n", p.nsB, "neigh", "replace", vipFailed.String(), "dev", p.devB, "nud", "failed")

	var conn *packet.Conn
	err := inNetns(p.nsA, func() error {
		ifi, err := net.InterfaceByName(p.devA)
		if err != nil {
			return err
		}
		conn, err = packet.Listen(ifi, packet.Raw, etherTypeARPForTest, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(frame []byte) {
		t.Helper()
		if _, err := conn.WriteTo(frame, &packet.Addr{HardwareAddr: net.HardwareAddr(bcast[:])}); err != nil {
			t.Fatal(err)
		}
	}
	waitMAC := func(addr netip.Addr, want string) string {
		t.Helper()
		var mac, state string
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if mac, state = neighbour(t, p.nsB, p.devB, addr); mac == want {
				break
			}
		}
		return mac + " " + state
	}
	macA := net.HardwareAddr(p.macA[:]).String()

	// Reply form (THA zero): not gratuitous for Linux, so it cannot
	// override a valid entry within locktime.
	reply := Gratuitous(nil, p.macA, vipStale.As4())
	reply[14+7] = 2 // OPER reply
	send(reply)
	time.Sleep(100 * time.Millisecond)
	if got := waitMAC(vipStale, old); got != old+" STALE" {
		t.Errorf("after a gratuitous reply with THA 0: %s, want %s STALE (ignored)", got, old)
	}

	// Control: the same reply does reach B and is applied once locktime
	// is out of the way.
	setLocktime(0)
	send(reply)
	if got := waitMAC(vipStale, macA); got != macA+" STALE" {
		t.Fatalf("control: after a gratuitous reply with locktime 0: %s, want %s STALE", got, macA)
	}
	setLocktime(1000)
	ipCmd(t, "-n", p.nsB, "neigh", "replace", vipStale.String(), "lladdr", old, "dev", p.devB, "nud", "stale")

	// Request form: overrides at once.
	send(Gratuitous(nil, p.macA, vipStale.As4()))
	if got := waitMAC(vipStale, macA); got != macA+" STALE" {
		t.Errorf("after Gratuitous: %s, want %s STALE", got, macA)
	}

	// A client that ARPed before the director was up holds FAILED.
	if _, state := neighbour(t, p.nsB, p.devB, vipFailed); state != "FAILED" {
		t.Fatalf("setup: %v is %q, want FAILED", vipFailed, state)
	}
	send(Gratuitous(nil, p.macA, vipFailed.As4()))
	if got := waitMAC(vipFailed, macA); got != macA+" STALE" {
		t.Errorf("FAILED entry after Gratuitous: %s, want %s STALE", got, macA)
	}
}

const etherTypeARPForTest = 0x0806
