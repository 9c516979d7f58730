package realserver

import (
	"bytes"
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

// needTCX skips the test where the kernel takes no tcx program at all
// (a trivial one is refused); a refusal of the program under test must
// then fail it.
func needTCX(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: loading a BPF program needs root")
	}
	fd, err := tcx.Load("ulvs_probe", []tcx.Insn{{Code: tcx.MovK, Imm: tcx.Next}, {Code: tcx.Exit}})
	if err != nil {
		t.Skipf("this kernel takes no tcx program: %v", err)
	}
	unix.Close(fd)
}

// TestDecapProgram runs the tcx decapsulation program on frames it must
// decapsulate and on frames it must leave to the userspace decapsulator
// (BPF_PROG_TEST_RUN: no interface needed).
func TestDecapProgram(t *testing.T) {
	needTCX(t)
	prog, err := tcx.Load("ulvs_decap", decapProgram([][4]byte{tOther.As4(), tVIP.As4()},
		outerDsts([][4]byte{tOther.As4(), tVIP.As4()}, [][4]byte{{127, 0, 0, 1}, tRS.As4()})))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(prog)

	inner := innerUDP(tVIP, "hello")
	// frame is the Ethernet frame of encap, to the all-zero MAC address:
	// the test run's loopback device takes it as the host's.
	frame := func(f []byte) []byte { return f[vnetHdrLen:] }
	// edit changes a copy of f's outer header and fixes its checksum.
	edit := func(f []byte, fn func(ip pkt.IPv4)) []byte {
		f = bytes.Clone(f)
		ip := pkt.IPv4(f[pkt.EtherHeaderLen:])
		fn(ip)
		ip.ComputeChecksum()
		return f
	}
	plain := frame(encap(vnet{}, tRS, nil, inner))
	badSum := bytes.Clone(plain)
	badSum[pkt.EtherHeaderLen+10] ^= 0xff
	otherHost := bytes.Clone(plain)
	otherHost[0] = 0x02 // a unicast address not the host's
	frag := func(mf bool, off int) []byte {
		return pkttest.Frame{Src: tDirector, Dst: tRS, Proto: pkt.ProtoIPIP, MF: mf, FragOffset: off, Payload: inner}.Build()
	}
	withInner := func(in []byte) []byte { return frame(encap(vnet{}, tRS, nil, in)) }
	innerEdit := func(fn func(in []byte)) []byte {
		in := bytes.Clone(inner)
		fn(in)
		return withInner(in)
	}
	six := pkttest.Frame6{Src: tClient6, Dst: tVIP6, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2}.Build()[pkt.EtherHeaderLen:]
	arp := bytes.Clone(plain)
	arp[12], arp[13] = 0x08, 0x06

	for _, tt := range []struct {
		name    string
		frame   []byte
		decapsd bool
	}{
		{"ipip to a vip", plain, true},
		{"ipip to the other vip", withInner(innerUDP(tOther, "x")), true},
		{"ipip to a vip, outer destination a vip", frame(encap(vnet{}, tVIP, nil, inner)), true},
		{"don't fragment set", pkttest.Frame{Src: tDirector, Dst: tRS, Proto: pkt.ProtoIPIP, DF: true, Payload: inner}.Build(), true},
		{"link padding", append(bytes.Clone(plain), 0, 0, 0, 0, 0, 0), true},
		{"outer options", frame(encap(vnet{}, tRS, []byte{0x94, 0x04, 0, 0, 1, 1, 1, 0}, inner)), false},
		{"outer checksum wrong", badSum, false},
		{"another host's link address", otherHost, false},
		{"not ipv4", arp, false},
		{"shorter than both headers", plain[:pkt.EtherHeaderLen+20+19], false},
		{"outer total length beyond the frame", edit(plain, func(ip pkt.IPv4) { ip.SetTotalLen(ip.TotalLen() + 1) }), false},
		{"outer total length below both headers", edit(plain, func(ip pkt.IPv4) { ip.SetTotalLen(39) }), false},
		{"inner packet beyond the outer one", edit(append(bytes.Clone(plain), 0, 0, 0, 0), func(ip pkt.IPv4) { ip.SetTotalLen(ip.TotalLen() - 4) }), false},
		{"first fragment", frag(true, 0), false},
		{"later fragment", frag(false, 64), false},
		{"inner destination not a vip", withInner(innerUDP(tClient, "x")), false},
		{"outer destination not local", frame(encap(vnet{}, tDirector, nil, inner)), false},
		{"ipv6 in ipv4", withInner(six), false},
		{"ipv6 inside protocol 4", edit(withInner(six), func(ip pkt.IPv4) { ip[9] = pkt.ProtoIPIP }), false},
		{"inner header length 4 words", innerEdit(func(in []byte) { in[0] = 0x44 }), false},
		{"plain udp to the vip", pkttest.Frame{Src: tClient, Dst: tVIP, Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: 53}.Build(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, out, err := tcx.TestRun(prog, tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			if got != tcx.Next {
				t.Fatalf("verdict %d, want %d (the next program or the stack decides)", got, tcx.Next)
			}
			want := tt.frame
			if tt.decapsd {
				// The Ethernet header, then the inner packet (and the padding).
				want = append(bytes.Clone(tt.frame[:pkt.EtherHeaderLen]), tt.frame[pkt.EtherHeaderLen+20:]...)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("frame after the program:\n got %x\nwant %x", out, want)
			}
		})
	}
}

// TestIntegrationTUNTCX: with the tcx program (Decap tcx), IPIP to the
// VIP is decapsulated in the kernel (answered, the userspace counters
// still), what the program leaves (outer IP options) still reaches the
// userspace decapsulator once, holding (from a thread in another
// namespace, as ulvs bench does) stops the decapsulation and resuming
// brings the program back, and Down removes it.
func TestIntegrationTUNTCX(t *testing.T) {
	skipUnprivileged(t, "nft")
	needTCX(t)
	tp := newTunTopo(t)
	s, down := tp.up(t, DecapTCX, t.TempDir(), "t"+fmt.Sprint(os.Getpid()))
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
		return awaitEcho(t, uc, func(p string) { tp.sendRaw(t, raw, wrap(inner(p))) }, payload, netip.AddrPortFrom(vip1, port), s.Stats)
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
	before := decapsulated()
	echo(t, tp.ipip, "after the hold")
	if n := decapsulated(); n != before {
		t.Errorf("after the hold the userspace decapsulator decapsulated %d packets; the program should have", n-before)
	}

	down()
	if n := programs(); n != 0 {
		t.Errorf("after Down: %d programs attached, want 0", n)
	}
}
