package realserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/tcx"
)

// TestDecapProgram runs the tcx decapsulation program on frames it must
// decapsulate and on frames it must leave to the userspace decapsulator
// (BPF_PROG_TEST_RUN: no interface needed).
func TestDecapProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: loading a BPF program needs root")
	}
	prog, err := tcx.Load("ulvs_decap", decapProgram([][4]byte{tOther.As4(), tVIP.As4()}, [][4]byte{{127, 0, 0, 1}, tRS.As4()}))
	if err != nil {
		t.Skipf("this kernel takes no tcx program: %v", err)
	}
	defer unix.Close(prog)

	inner := innerUDP(tVIP, "hello")
	// frame is the Ethernet frame of encap, to the all-zero MAC address:
	// the test run's loopback device takes it as the host's.
	frame := func(f []byte) []byte { return f[vnetHdrLen:] }
	plain := frame(encap(vnet{}, tRS, nil, inner))
	withOpts := frame(encap(vnet{}, tRS, []byte{0x94, 0x04, 0, 0, 1, 1, 1, 0}, inner))
	badSum := bytes.Clone(plain)
	badSum[pkt.EtherHeaderLen+10] ^= 0xff
	otherHost := bytes.Clone(plain)
	otherHost[0] = 0x02 // a unicast address not the host's
	short := plain[:pkt.EtherHeaderLen+20+19]
	longLen := bytes.Clone(plain)
	longLen[pkt.EtherHeaderLen+3]++ // the total length beyond the frame (checksum fixed below)
	fixSum(longLen)
	frag := func(mf bool, off int) []byte {
		f := pkttest.Frame{Src: tDirector, Dst: tRS, Proto: pkt.ProtoIPIP, MF: mf, FragOffset: off, Payload: inner}.Build()
		return f
	}
	notVIP := frame(encap(vnet{}, tRS, nil, innerUDP(tClient, "x")))
	notLocal := frame(encap(vnet{}, tDirector, nil, inner))
	sixIn4 := frame(encap(vnet{}, tRS, nil, pkttest.Frame6{Src: tClient6, Dst: tVIP6, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2}.Build()[pkt.EtherHeaderLen:]))
	udp := pkttest.Frame{Src: tClient, Dst: tVIP, Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: 53}.Build()
	padded := append(bytes.Clone(plain), 0, 0, 0, 0, 0, 0)

	for _, tt := range []struct {
		name  string
		frame []byte
		want  int32
	}{
		{"ipip to a vip", plain, tcx.Pass},
		{"ipip to the other vip", frame(encap(vnet{}, tRS, nil, innerUDP(tOther, "x"))), tcx.Pass},
		{"link padding", padded, tcx.Pass},
		{"outer options", withOpts, tcx.Next},
		{"outer checksum wrong", badSum, tcx.Next},
		{"another host's link address", otherHost, tcx.Next},
		{"shorter than both headers", short, tcx.Next},
		{"total length beyond the frame", longLen, tcx.Next},
		{"first fragment", frag(true, 0), tcx.Next},
		{"later fragment", frag(false, 64), tcx.Next},
		{"inner destination not a vip", notVIP, tcx.Next},
		{"outer destination not local", notLocal, tcx.Next},
		{"ipv6 in ipv4", sixIn4, tcx.Next},
		{"plain udp to the vip", udp, tcx.Next},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, out, err := tcx.TestRun(prog, tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("verdict %d, want %d", got, tt.want)
			}
			want := tt.frame
			if tt.want == tcx.Pass {
				// The Ethernet header, then the inner packet (and the padding).
				want = append(bytes.Clone(tt.frame[:pkt.EtherHeaderLen]), tt.frame[pkt.EtherHeaderLen+20:]...)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("frame after the program:\n got %x\nwant %x", out, want)
			}
		})
	}
}

// fixSum recomputes the outer IPv4 header checksum of an Ethernet frame.
func fixSum(f []byte) {
	ip := pkt.IPv4(f[pkt.EtherHeaderLen:])
	ip.ComputeChecksum()
}

// TestIntegrationTUNTCX: with the tcx program (Decap tcx), IPIP to the
// VIP is decapsulated in the kernel (answered, the userspace counters
// still), what the program leaves (outer IP options) still reaches the
// userspace decapsulator once, holding (from a thread in another
// namespace, as ulvs bench does) stops the decapsulation and resuming
// brings the program back, and Down removes it.
func TestIntegrationTUNTCX(t *testing.T) {
	skipUnprivileged(t, "nft")
	tp := newTunTopo(t)
	dir := t.TempDir()
	var s *Server
	if err := tp.rs.do(func() (err error) {
		s, err = Up(context.Background(), Config{Mode: ModeTUN, Decap: DecapTCX, VIPs: []netip.Addr{vip1},
			StateDir: dir, Name: "t" + fmt.Sprint(os.Getpid())})
		return err
	}); errors.Is(err, ErrNotSupported) {
		t.Skipf("no tcx here: %v", err)
	} else if err != nil {
		t.Fatalf("Up: %v", err)
	}
	downed := false
	t.Cleanup(func() {
		if !downed {
			tp.rs.do(func() error { return s.Down(context.Background()) })
		}
	})
	if st := s.State(); st.Decap != DecapTCX || st.Iface != tunRSIf || st.Device != DefaultTunName {
		t.Errorf("state: decap %v iface %q device %q", st.Decap, st.Iface, st.Device)
	}
	programs := func() int {
		t.Helper()
		var n int
		if err := tp.rs.do(func() error {
			ni, err := net.InterfaceByName(tunRSIf)
			if err != nil {
				return err
			}
			n, err = tcx.IngressCount(ni.Index)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := programs(); n != 1 {
		t.Fatalf("%d programs at %s's tcx ingress, want 1", n, tunRSIf)
	}

	const port = 9000
	var pc net.PacketConn
	if err := tp.rs.do(func() (err error) {
		pc, err = net.ListenPacket("udp4", netip.AddrPortFrom(vip1, port).String())
		return err
	}); err != nil {
		t.Fatalf("listen on the VIP: %v", err)
	}
	defer pc.Close()
	go echoUDP(pc)
	raw := tp.rawSender(t)
	var uc *net.UDPConn
	if err := tp.snd.do(func() (err error) {
		uc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.sndAddr, 40000)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	inner := func(payload string) []byte {
		return pkttest.Frame{Src: tp.sndAddr, Dst: vip1, Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: port,
			Payload: []byte(payload)}.Build()[pkt.EtherHeaderLen:]
	}
	withOptions := func(in []byte) []byte {
		return pkttest.Frame{Src: tp.sndAddr, Dst: tp.rsAddr, Proto: pkt.ProtoIPIP, IPOptions: []byte{1, 1, 1, 0},
			Payload: in}.Build()[pkt.EtherHeaderLen:]
	}
	// echo sends payload in the tunnel until the reply comes, and
	// returns how many it sent.
	echo := func(t *testing.T, wrap func([]byte) []byte, payload string) int {
		t.Helper()
		buf := make([]byte, 2048)
		for try := 1; try <= 5; try++ {
			tp.sendRaw(t, raw, wrap(inner(payload)))
			uc.SetReadDeadline(time.Now().Add(time.Second))
			n, from, err := uc.ReadFromUDPAddrPort(buf)
			if err != nil {
				continue
			}
			if from != netip.AddrPortFrom(vip1, port) || string(buf[:n]) != payload {
				t.Fatalf("reply %q from %v, want %q from %v:%d", buf[:n], from, payload, vip1, port)
			}
			return try
		}
		t.Fatalf("no echo reply for %q; decapsulator counters %v", payload, s.Stats())
		return 0
	}
	decapsulated := func() uint64 { return s.Stats()[Decapsulated] }

	echo(t, tp.ipip, "in the kernel")
	if n := decapsulated(); n != 0 {
		t.Errorf("the userspace decapsulator decapsulated %d packets; the program should have", n)
	}
	// Outer options: the program leaves the packet, user space takes it.
	sent := echo(t, withOptions, "in user space")
	for end := time.Now().Add(2 * time.Second); decapsulated() < uint64(sent) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := decapsulated(); n != uint64(sent) {
		t.Errorf("the userspace decapsulator decapsulated %d packets, want %d (each once)", n, sent)
	}

	if err := s.Hold(true); err != nil {
		t.Fatal(err)
	}
	tp.sendRaw(t, raw, tp.ipip(inner("held")))
	uc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, from, err := uc.ReadFromUDPAddrPort(make([]byte, 2048)); err == nil {
		t.Fatalf("a reply (%d bytes from %v) while held", n, from)
	}
	if err := s.Hold(false); err != nil {
		t.Fatal(err)
	}
	if n := programs(); n != 1 {
		t.Errorf("resumed: %d programs attached, want 1", n)
	}
	before := decapsulated()
	echo(t, tp.ipip, "after the hold")
	if n := decapsulated(); n != before {
		t.Errorf("after the hold the userspace decapsulator decapsulated %d packets; the program should have", n-before)
	}

	downed = true
	if err := tp.rs.do(func() error { return s.Down(context.Background()) }); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if n := programs(); n != 0 {
		t.Errorf("after Down: %d programs attached, want 0", n)
	}
}
