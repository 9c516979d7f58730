package ipvssync

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ulvs/ulvs/lab"
	"golang.org/x/sys/unix"
)

// syncPair builds two namespaces, master and backup, joined by a veth
// pair named sync0 on both sides (10.9.0.1/24 and 10.9.0.2/24), like the
// oracle's sync link. Everything is deleted in t.Cleanup.
func syncPair(t *testing.T) (master, backup lab.NS) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip tool")
	}
	prefix := lab.UniquePrefix()
	master, backup = lab.NS{Name: prefix + "-m"}, lab.NS{Name: prefix + "-b"}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []lab.NS{master, backup} {
		run("netns", "add", ns.Name)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns.Name, err, out)
			}
		})
	}
	run("-n", master.Name, "link", "add", "sync0", "type", "veth", "peer", "name", "sync0", "netns", backup.Name)
	for i, ns := range []lab.NS{master, backup} {
		run("-n", ns.Name, "addr", "add", []string{"10.9.0.1/24", "10.9.0.2/24"}[i], "dev", "sync0")
		run("-n", ns.Name, "link", "set", "sync0", "up")
		run("-n", ns.Name, "link", "set", "lo", "up")
	}
	for _, ns := range []lab.NS{master, backup} {
		if err := ns.WaitQueue("sync0", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return master, backup
}

type delivery struct {
	from netip.AddrPort
	m    Message
}

// startReceiver opens a Receiver in ns and runs it until the test ends;
// deliveries arrive on the returned channel.
func startReceiver(t *testing.T, ns lab.NS, cfg ReceiverConfig) (*Receiver, <-chan delivery) {
	t.Helper()
	var r *Receiver
	if err := ns.Do(func() error {
		var err error
		r, err = NewReceiver(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan delivery, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx, func(from netip.AddrPort, m Message) { ch <- delivery{from, m} }); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait() // Run must return after cancel
	})
	return r, ch
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIntegrationSyncOverVeth sends the oracle's messages from a master
// namespace to three backups in another (syncid 7, 9 and 0) over the
// multicast group, and checks delivery, the sender address, the syncid
// rule and the drop counters.
func TestIntegrationSyncOverVeth(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces")
	}
	master, backup := syncPair(t)
	r7, ch7 := startReceiver(t, backup, ReceiverConfig{Interface: "sync0", SyncID: 7})
	r9, ch9 := startReceiver(t, backup, ReceiverConfig{Interface: "sync0", SyncID: 9})
	r0, ch0 := startReceiver(t, backup, ReceiverConfig{Interface: "sync0"})
	if r7.MaxLen() != 1472 {
		t.Errorf("receiver maxlen %d, want 1472 for MTU 1500", r7.MaxLen())
	}

	// A raw socket in the backup sees the IP header of what arrives.
	var raw int
	if err := backup.Do(func() error {
		var err error
		raw, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(raw)
	if err := unix.SetsockoptTimeval(raw, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}); err != nil {
		t.Fatal(err)
	}

	var s *Sender
	if err := master.Do(func() error {
		var err error
		s, err = NewSender(SenderConfig{Interface: "sync0"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if a := s.LocalAddr().Addr(); a != netip.MustParseAddr("10.9.0.1") {
		t.Errorf("sender bound to %s, want the interface's 10.9.0.1", a)
	}

	var msgs [][]byte
	for _, p := range []string{"testdata/sync-v1.pcap", "testdata/sync-v0.pcap"} {
		for _, c := range readPcap(t, p) {
			msgs = append(msgs, c.payload)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	queue := make(chan []byte, len(msgs)+1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, queue) }()
	for _, m := range msgs {
		queue <- m
	}
	queue <- []byte{0, 7, 0, 99} // garbage: size field 99 on 4 bytes

	for name, ch := range map[string]<-chan delivery{"syncid 7": ch7, "syncid 0": ch0} {
		for i, raw := range msgs {
			select {
			case d := <-ch:
				want, _ := Decode(raw)
				if d.from != s.LocalAddr() {
					t.Errorf("%s msg %d from %s, want %s", name, i, d.from, s.LocalAddr())
				}
				if diff := cmp.Diff(want, d.m); diff != "" {
					t.Errorf("%s msg %d (-sent +received):\n%s", name, i, diff)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: msg %d not delivered", name, i)
			}
		}
	}
	waitFor(t, func() bool { return r9.Stats().WrongSyncID == uint64(len(msgs)) && r9.Stats().BadMessages == 1 })
	select {
	case d := <-ch9:
		t.Errorf("backup with syncid 9 got a message of syncid %d", d.m.SyncID)
	default:
	}
	waitFor(t, func() bool { return r7.Stats().BadMessages == 1 && r0.Stats().BadMessages == 1 })
	entries := uint64(0)
	for _, raw := range msgs {
		m, _ := Decode(raw)
		entries += uint64(len(m.Entries))
	}
	for name, r := range map[string]*Receiver{"7": r7, "0": r0} {
		want := ReceiverStats{Messages: uint64(len(msgs)), Entries: entries, BadMessages: 1}
		if got := r.Stats(); got != want {
			t.Errorf("receiver %s stats %+v, want %+v", name, got, want)
		}
	}

	checkIPHeader(t, raw)

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Sender.Run: %v", err)
	}
	if st := s.Stats(); st.Sent != uint64(len(msgs)+1) || st.Failed != 0 {
		t.Errorf("sender stats %+v", st)
	}
	if err := s.Send(msgs[0]); err == nil {
		t.Error("Send after Run ended: no error")
	}
}

// TestIntegrationTruncated: a message longer than the backup's maxlen is
// dropped and counted, as the kernel's fixed-size receive buffer makes it.
func TestIntegrationTruncated(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces")
	}
	master, backup := syncPair(t)
	r, ch := startReceiver(t, backup, ReceiverConfig{Interface: "sync0", MaxLen: 1024})
	var s *Sender
	if err := master.Do(func() error {
		var err error
		s, err = NewSender(SenderConfig{Interface: "sync0", TTL: 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := make([]Entry, 40)
	for i := range big {
		big[i] = natEntry()
	}
	if err := s.Send(AppendMessageV1(nil, 1, big)); err != nil { // 1448 bytes
		t.Fatal(err)
	}
	if err := s.Send(AppendMessageV1(nil, 1, big[:2])); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ch:
		if len(d.m.Entries) != 2 {
			t.Errorf("delivered %d entries, want the small message's 2", len(d.m.Entries))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("small message not delivered")
	}
	if st := r.Stats(); st.Truncated != 1 || st.Messages != 1 {
		t.Errorf("stats %+v, want 1 truncated, 1 delivered", st)
	}
}

func TestSocketConfigErrors(t *testing.T) {
	for _, cfg := range []SenderConfig{
		{},
		{Interface: "sync0", Group: netip.MustParseAddr("10.0.0.1")},
		{Interface: "sync0", Group: netip.MustParseAddr("ff02::1")},
	} {
		if _, err := NewSender(cfg); err == nil {
			t.Errorf("NewSender(%+v) accepted", cfg)
		}
	}
	if _, err := NewReceiver(ReceiverConfig{Interface: "sync0", MaxLen: MaxMaxLen + 1}); err == nil {
		t.Error("NewReceiver with maxlen 65508 accepted")
	}
	if _, err := NewSender(SenderConfig{Interface: "no-such-if-42"}); err == nil || errors.Is(err, ErrNotSupported) {
		t.Errorf("NewSender on a missing interface: %v", err)
	}
}

// checkIPHeader reads the first sync datagram a raw socket saw and checks
// its IP header as the oracle recorded the kernel's: to 224.0.0.81:8848,
// TTL 1, DF clear.
func checkIPHeader(t *testing.T, raw int) {
	t.Helper()
	buf := make([]byte, 2048)
	for {
		n, _, err := unix.Recvfrom(raw, buf, 0)
		if err != nil {
			t.Fatalf("raw socket: %v", err)
		}
		ip := buf[:n]
		ihl := int(ip[0]&0x0f) * 4
		if n < ihl+8 || binary.BigEndian.Uint16(ip[ihl+2:]) != DefaultPort {
			continue
		}
		if dst := netip.AddrFrom4([4]byte(ip[16:20])); dst != DefaultGroup() {
			t.Errorf("sent to %s, want %s", dst, DefaultGroup())
		}
		if ip[8] != 1 {
			t.Errorf("TTL %d, want 1", ip[8])
		}
		if df := binary.BigEndian.Uint16(ip[6:]) & 0x4000; df != 0 {
			t.Error("DF set; the kernel sends with IP_PMTUDISC_DONT")
		}
		return
	}
}
