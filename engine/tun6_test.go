package engine

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

var (
	dip6  = netip.MustParseAddr("2001:db8::2")
	rs4ip = netip.MustParseAddr("10.77.0.11")
)

// tun6Worker has one link of MTU mtu with dip (IPv4) and dip6 and three
// TUN services: TCP [vip6]:80 to rs1v6 (ip6ip6), TCP [vip6]:81 to
// 10.77.0.11 (IPv6 in IPv4), TCP vip:80 to rs1v6 (IPv4 in IPv6).
func tun6Worker(t testing.TB, mtu int) (*worker, *memLink, *vs.Table) {
	t.Helper()
	st := func() *vs.DestState {
		s := &vs.DestState{}
		s.SetMAC(rs1MAC)
		return s
	}
	mk := func(id uint32, addr netip.Addr, port uint16, d *vs.Dest) *vs.Service {
		bits := 128
		if addr.Is4() {
			bits = 32
		}
		svc := &vs.Service{ID: id, Proto: vs.TCP, Addr: addr, Port: port, Netmask: bits, Stats: &vs.ServiceStats{}, Dests: []*vs.Dest{d}}
		sc, err := sched.New("rr", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		return svc
	}
	tbl := vs.NewTable(1, []*vs.Service{
		mk(1, vip6, 80, &vs.Dest{ID: 1, Addr: rs1v6, Port: 80, Method: vs.Tunnel, Weight: 1, State: st()}),
		mk(2, vip6, 81, &vs.Dest{ID: 2, Addr: rs4ip, Port: 81, Method: vs.Tunnel, Weight: 1, State: st()}),
		mk(3, vip, 80, &vs.Dest{ID: 3, Addr: rs1v6, Port: 80, Method: vs.Tunnel, Weight: 1, State: st()}),
	}, nil)
	w, l := newTestWorker()
	w.addrs[0], w.addrs6[0], w.mtus[0] = dip, dip6.As16(), mtu
	return w, l, tbl
}

// tcp6TC is tcp6 with traffic class tc and payload n bytes long.
func tcp6TC(sport, dport uint16, flags, tc uint8, n int) []byte {
	f := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client6, Dst: vip6, Proto: pkt.ProtoTCP,
		SrcPort: sport, DstPort: dport, TCPFlags: flags, Payload: make([]byte, n)}.Build()
	ip := f[pkt.EtherHeaderLen:]
	ip[0], ip[1] = 0x60|tc>>4, tc<<4|ip[1]&0x0f
	return f
}

// checkOuter6 checks an ip6ip6 or IPv4-in-IPv6 frame and returns its
// inner packet.
func checkOuter6(t *testing.T, f []byte, next, tc, hop uint8) []byte {
	t.Helper()
	if pkt.Ether(f).Dst() != rs1MAC || pkt.Ether(f).Src() != dirMAC || binary.BigEndian.Uint16(f[12:]) != pkt.EtherTypeIPv6 {
		t.Fatalf("link header %x", f[:14])
	}
	ip := pkt.IPv6(f[pkt.EtherHeaderLen:])
	if w := binary.BigEndian.Uint32(ip); w != 6<<28|uint32(tc)<<20 {
		t.Errorf("version, traffic class, flow label %#08x, want %#08x", w, 6<<28|uint32(tc)<<20)
	}
	if ip.NextHeader() != next || ip.HopLimit() != hop || ip.Src() != dip6.As16() || ip.Dst() != rs1v6.As16() {
		t.Errorf("outer next header %d hop limit %d %v -> %v", ip.NextHeader(), ip.HopLimit(), netip.AddrFrom16(ip.Src()), netip.AddrFrom16(ip.Dst()))
	}
	inner := f[pkt.EtherHeaderLen+pkt.IPv6HeaderLen:]
	if int(ip.PayloadLen()) != len(inner) {
		t.Errorf("payload length %d, inner packet %d bytes", ip.PayloadLen(), len(inner))
	}
	return inner
}

func TestTunnelIP6IP6(t *testing.T) {
	w, l, tbl := tun6Worker(t, 1500)
	in := tcp6TC(40000, 80, pkt.TCPSyn, 0xb9, 20) // DSCP 46, ECN 01: both copied
	out := run(w, l, tbl, 0, in)
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	inner := checkOuter6(t, out[0], forward.ProtoIPv6, 0xb9, 63)
	// The inner packet is the client's with one hop spent.
	want := append([]byte(nil), in[pkt.EtherHeaderLen:]...)
	want[7]--
	if !bytes.Equal(inner, want) {
		t.Errorf("inner packet changed beyond the hop limit")
	}
	var p pkt.Parsed6
	if p.Decode6(inner, 0, false) != pkt.DecodeOK || !pkt.L4ChecksumValid6(inner, &p) {
		t.Errorf("inner TCP checksum wrong")
	}
	if w.c.forwarded.Load() != 1 {
		t.Errorf("forwarded %d", w.c.forwarded.Load())
	}
	// An established segment goes the same way.
	if out := run(w, l, tbl, 0, tcp6TC(40000, 80, pkt.TCPAck, 0, 0)); len(out) != 1 || pkt.IPv6(out[0][14:]).NextHeader() != forward.ProtoIPv6 {
		t.Errorf("established segment not tunnelled")
	}
}

func TestTunnel6In4(t *testing.T) {
	w, l, tbl := tun6Worker(t, 1500)
	in := tcp6TC(40000, 81, pkt.TCPSyn, 0x2e, 20)
	out := run(w, l, tbl, 0, in)
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstMAC(rs1MAC), pkttest.SrcMAC(dirMAC), pkttest.SrcIP(netip.AddrFrom4(dip)), pkttest.DstIP(rs4ip),
		pkttest.Proto(forward.ProtoIPv6), pkttest.TOS(0x2e), pkttest.DF(false), pkttest.TTL(63), pkttest.ValidChecksums())
	want := append([]byte(nil), in[pkt.EtherHeaderLen:]...)
	want[7]--
	if !bytes.Equal(out[0][pkt.EtherHeaderLen+pkt.IPv4MinHeaderLen:], want) {
		t.Errorf("inner packet changed beyond the hop limit")
	}
}

func TestTunnel4In6(t *testing.T) {
	w, l, tbl := tun6Worker(t, 1500)
	in := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80,
		TCPFlags: pkt.TCPSyn, TOS: 0x2e, DF: true, TTL: 50}.Build()
	out := run(w, l, tbl, 0, in)
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	inner := checkOuter6(t, out[0], pkt.ProtoIPIP, 0x2e, 49)
	want := append([]byte(nil), in[pkt.EtherHeaderLen:]...)
	pkt.IPv4(want).DecTTL()
	if !bytes.Equal(inner, want) {
		t.Errorf("inner packet changed beyond the TTL")
	}
	pkttest.CheckIPv4(t, append(append([]byte(nil), in[:14]...), inner...), pkttest.TTL(49), pkttest.ValidChecksums())
}

// TestTunnel6TooBig: a packet that does not fit the egress MTU less the
// outer header gets Packet Too Big (IPv6 client) or fragmentation needed
// (IPv4 client with DF) carrying that MTU; nothing goes to the real
// server.
func TestTunnel6TooBig(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		mtu  int
	}{
		{"ip6ip6", tcp6TC(40000, 80, pkt.TCPSyn, 0, 1500-40-20-40+1), 1460},
		{"6in4", tcp6TC(40000, 81, pkt.TCPSyn, 0, 1500-40-20-20+1), 1480},
	} {
		w, l, tbl := tun6Worker(t, 1500)
		out := run(w, l, tbl, 0, tc.in)
		if len(out) != 1 {
			t.Fatalf("%s: %d frames out, want Packet Too Big", tc.name, len(out))
		}
		p := decoded6(t, out[0])
		m := out[0][p.L4Off:]
		if p.Proto != pkt.ProtoICMPv6 || m[0] != pkt.ICMPv6PacketTooBig || int(binary.BigEndian.Uint32(m[4:])) != tc.mtu ||
			p.Src != vip6.As16() || p.Dst != client6.As16() || pkt.Ether(out[0]).Dst() != clientMAC {
			t.Errorf("%s: %v -> %v type %d MTU %d, want Packet Too Big with %d", tc.name, netip.AddrFrom16(p.Src), netip.AddrFrom16(p.Dst), m[0], binary.BigEndian.Uint32(m[4:]), tc.mtu)
		}
		if pkt.Fold(pkt.Sum(m[:p.L4Len], pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(p.L4Len)))) != 0xffff {
			t.Errorf("%s: ICMPv6 checksum wrong", tc.name)
		}
		if w.c.drops[ReasonIPv6TooBig].Load() != 1 {
			t.Errorf("%s: ipv6_too_big not counted", tc.name)
		}
		// One byte less fits.
		w, l, tbl = tun6Worker(t, 1500)
		small := tc.in[:len(tc.in)-1]
		small = append([]byte(nil), small...)
		pkt.IPv6(small[14:]).SetPayloadLen(pkt.IPv6(small[14:]).PayloadLen() - 1)
		if out := run(w, l, tbl, 0, small); len(out) != 1 || len(out[0]) > 14+1500 {
			t.Errorf("%s: a packet that fits: %d frames out", tc.name, len(out))
		}
	}
	// IPv4 in IPv6, DF: fragmentation needed with 1460.
	w, l, tbl := tun6Worker(t, 1500)
	big := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 2, DstPort: 80, TCPFlags: pkt.TCPSyn, DF: true, Payload: make([]byte, 1500-40-20-20+1)}.Build()
	out := run(w, l, tbl, 0, big)
	if len(out) != 1 {
		t.Fatalf("4in6: %d frames out, want the ICMP error", len(out))
	}
	pkttest.CheckIPv4(t, out[0], pkttest.DstIP(client), pkttest.SrcIP(vip), pkttest.ICMPType(pkt.ICMPDestUnreachable),
		pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1460), pkttest.ValidChecksums())
	// Without DF it is fragmented to fit, each fragment in IPv6.
	w, l, tbl = tun6Worker(t, 1500)
	nodf := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 3, DstPort: 80, TCPFlags: pkt.TCPSyn, Payload: make([]byte, 1460)}.Build()
	out = run(w, l, tbl, 0, nodf)
	if len(out) != 2 {
		t.Fatalf("4in6 without DF: %d frames out, want 2", len(out))
	}
	for i, f := range out {
		inner := checkOuter6(t, f, pkt.ProtoIPIP, 0, 63)
		if len(f)-14 > 1500 {
			t.Errorf("fragment %d: %d bytes", i, len(f)-14)
		}
		pkttest.CheckIPv4(t, append(append([]byte(nil), nodf[:14]...), inner...), pkttest.ValidChecksums())
	}
}

// TestTunnel6PathMTU: a Packet Too Big from a router about one of our
// ip6ip6 packets lowers the MTU for that real server; the client's next
// packet too big for it gets Packet Too Big with the new MTU less 40.
func TestTunnel6PathMTU(t *testing.T) {
	w, l, tbl := tun6Worker(t, 1500)
	run(w, l, tbl, 0, tcp6TC(40000, 80, pkt.TCPSyn, 0, 0))
	// The router quotes our outer header and what follows.
	quoted := make([]byte, 80)
	binary.BigEndian.PutUint32(quoted, 6<<28)
	binary.BigEndian.PutUint16(quoted[4:], 40)
	quoted[6], quoted[7] = forward.ProtoIPv6, 63
	copy(quoted[8:], dip6.AsSlice())
	copy(quoted[24:], rs1v6.AsSlice())
	router := netip.MustParseAddr("2001:db8::fe")
	ptb := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: router, Dst: dip6, Proto: pkt.ProtoICMPv6,
		ICMPType: pkt.ICMPv6PacketTooBig, Payload: append([]byte{0, 0, 0x05, 0x28}, quoted...)}.Build() // MTU 1320
	if out := run(w, l, tbl, 0, ptb); len(out) != 0 {
		t.Fatalf("%d frames out for the router's Packet Too Big", len(out))
	}
	if got := tbl.Dest(1).State.PathMTU.Load(); got != 1320 {
		t.Fatalf("path MTU %d, want 1320", got)
	}
	if w.c.icmpRelayed.Load() != 1 {
		t.Errorf("icmp_relayed %d, want 1", w.c.icmpRelayed.Load())
	}
	out := run(w, l, tbl, 0, tcp6TC(40000, 80, pkt.TCPAck, 0, 1300-60+1))
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	p := decoded6(t, out[0])
	if m := out[0][p.L4Off:]; m[0] != pkt.ICMPv6PacketTooBig || binary.BigEndian.Uint32(m[4:]) != 1280 {
		t.Errorf("type %d MTU %d, want Packet Too Big with 1280", m[0], binary.BigEndian.Uint32(m[4:]))
	}
	// One not from our address, or about another host, changes nothing.
	copy(quoted[8:], rs2v6.AsSlice())
	other := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: router, Dst: dip6, Proto: pkt.ProtoICMPv6,
		ICMPType: pkt.ICMPv6PacketTooBig, Payload: append([]byte{0, 0, 0x05, 0x00}, quoted...)}.Build()
	run(w, l, tbl, 0, other)
	if got := tbl.Dest(1).State.PathMTU.Load(); got != 1320 {
		t.Errorf("path MTU %d after a foreign error, want 1320", got)
	}
}

// TestTunnel6ICMPToVIP: an ICMPv6 error to the VIP about a TUN
// connection's reply goes to its real server in the tunnel, as
// ip_vs_icmp_xmit_v6 sends it with the connection's transmitter.
func TestTunnel6ICMPToVIP(t *testing.T) {
	w, l, tbl := tun6Worker(t, 1500)
	run(w, l, tbl, 0, tcp6TC(40000, 80, pkt.TCPSyn, 0, 0))
	reply := pkttest.Frame6{SrcMAC: rs1MAC, DstMAC: clientMAC, Src: vip6, Dst: client6, Proto: pkt.ProtoTCP,
		SrcPort: 80, DstPort: 40000, TCPFlags: pkt.TCPSyn | pkt.TCPAck}.Build()
	router := netip.MustParseAddr("2001:db8::fe")
	ptb := pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: router, Dst: vip6, Proto: pkt.ProtoICMPv6,
		ICMPType: pkt.ICMPv6PacketTooBig, Payload: append([]byte{0, 0, 0x05, 0x00}, reply[14:]...)}.Build()
	out := run(w, l, tbl, 0, ptb)
	if len(out) != 1 {
		t.Fatalf("%d frames out", len(out))
	}
	inner := checkOuter6(t, out[0], forward.ProtoIPv6, 0, 63)
	if !bytes.Equal(inner[8:], ptb[14+8:]) || inner[7] != ptb[14+7]-1 {
		t.Errorf("the error changed beyond its hop limit")
	}
	if w.c.icmpRelayed.Load() != 1 {
		t.Errorf("icmp_relayed %d", w.c.icmpRelayed.Load())
	}
}

func TestTunnel6Allocs(t *testing.T) {
	w, l, tbl := tun6Worker(t, 1500)
	v4 := func(flags uint8) []byte {
		return pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 5, DstPort: 80, TCPFlags: flags, Payload: make([]byte, 100)}.Build()
	}
	run(w, l, tbl, 0, tcp6TC(40000, 80, pkt.TCPSyn, 0, 0), tcp6TC(40001, 81, pkt.TCPSyn, 0, 0), v4(pkt.TCPSyn))
	for name, frame := range map[string][]byte{
		"ip6ip6 established": tcp6TC(40000, 80, pkt.TCPAck, 0, 100),
		"6in4 established":   tcp6TC(40001, 81, pkt.TCPAck, 0, 100),
		"4in6 established":   v4(pkt.TCPAck),
		"ip6ip6 too big":     tcp6TC(40000, 80, pkt.TCPAck, 0, 1450),
	} {
		buf := make([]byte, 256+len(frame)+64)
		p := packet{buf: buf, off: 256, n: len(frame)}
		allocs := testing.AllocsPerRun(500, func() {
			clear(buf[:256]) // the headroom the last encapsulation used, virtio header included
			copy(buf[256:], frame)
			p.off, p.n = 256, len(frame)
			w.tx = w.tx[:0]
			w.scr.reset()
			w.icmpTokens = 50
			if sent := w.process(&p, tbl, 1); sent == strings.HasSuffix(name, "too big") {
				for r := range numReasons {
					if n := w.c.drops[r].Load(); n > 0 {
						t.Log(Reason(r), n)
					}
				}
				t.Fatalf("%s: sent %v", name, sent)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", name, allocs)
		}
	}
}

// TestHasTunnel6: the socket filter must pass IPv6 (Packet Too Big about
// our tunnel packets) as soon as a tunnel real server is IPv6, even with
// no IPv6 VIP; IPv6 DR real servers and IPv4 tunnels do not count.
func TestHasTunnel6(t *testing.T) {
	_, _, tbl := tun6Worker(t, 1500)
	if !hasTunnel6(tbl) {
		t.Error("a table with ip6ip6 real servers: hasTunnel6 false")
	}
	if hasTunnel6(testTable6(t)) {
		t.Error("IPv6 DR and NAT66 real servers counted as tunnels")
	}
	_, _, v4 := tunWorker(t, 1500)
	if hasTunnel6(v4) {
		t.Error("an IPIP real server counted as an IPv6 tunnel")
	}
}

// BenchmarkTunnelEstablished: an established TCP segment of 100 bytes
// tunnelled: IPIP (the IPv4 baseline), ip6ip6, IPv6 in IPv4, IPv4 in IPv6.
// The encapsulation moves the frame back into the headroom, so each loop
// clears the headroom's virtio header and copies the frame again.
func BenchmarkTunnelEstablished(b *testing.B) {
	v4 := func(flags uint8) []byte {
		return pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 5, DstPort: 80, TCPFlags: flags, Payload: make([]byte, 100)}.Build()
	}
	for _, bc := range []struct {
		name     string
		v6       bool
		syn, ack []byte
	}{
		{"IPIP", false, v4(pkt.TCPSyn), v4(pkt.TCPAck)},
		{"ip6ip6", true, tcp6TC(40000, 80, pkt.TCPSyn, 0, 0), tcp6TC(40000, 80, pkt.TCPAck, 0, 100)},
		{"6in4", true, tcp6TC(40001, 81, pkt.TCPSyn, 0, 0), tcp6TC(40001, 81, pkt.TCPAck, 0, 100)},
		{"4in6", true, v4(pkt.TCPSyn), v4(pkt.TCPAck)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w, l, tbl := tun6Worker(b, 1500)
			if !bc.v6 {
				w, l, tbl = tunWorker(b, 1500)
				w.addrs[0] = dip
			}
			run(w, l, tbl, 0, bc.syn)
			buf := make([]byte, 256+len(bc.ack))
			p := packet{buf: buf}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.ack)))
			for b.Loop() {
				clear(buf[256-vnetHdrLen : 256])
				copy(buf[256:], bc.ack)
				p.off, p.n = 256, len(bc.ack)
				w.tx = w.tx[:0]
				sinkForwarded = w.process(&p, tbl, 1)
			}
			if !sinkForwarded {
				b.Fatal("not forwarded")
			}
		})
	}
}

// TestTunnel6GSO: an IPv6 GSO super-frame to an ip6ip6 real server is
// segmented in software (forward.Segment6) and each segment tunnelled on
// its own, with complete inner checksums and no virtio GSO left; one
// whose segments do not fit the tunnel gets Packet Too Big with the
// tunnel's MTU.
func TestTunnel6GSO(t *testing.T) {
	w, l, tbl := tun6Worker(t, 1500)
	run(w, l, tbl, 0, tcp6TC(40000, 80, pkt.TCPSyn, 0, 0))
	super := tcp6TC(40000, 80, pkt.TCPAck, 0, 3000)
	pkt.TCP(super[pkt.EtherHeaderLen+pkt.IPv6HeaderLen:]).SetSeq(1000)
	send := func(size uint16) [][]byte {
		vnet := make([]byte, vnetHdrLen)
		vnetHdr(vnet).setGSO(vnetGSOTCPv6, size)
		l.queueVnet(vnet, super)
		w.batch(l.collect(w.rx), tbl, 0)
		return l.takeOut()
	}
	out := send(1000)
	if len(out) != 3 {
		t.Fatalf("%d frames out, want 3 tunnelled segments", len(out))
	}
	for i, f := range out {
		inner := checkOuter6(t, f, forward.ProtoIPv6, 0, 63)
		var p pkt.Parsed6
		if p.Decode6(inner, 0, false) != pkt.DecodeOK || !pkt.L4ChecksumValid6(inner, &p) {
			t.Fatalf("segment %d: inner packet does not decode or its checksum is wrong", i)
		}
		if n := len(inner) - p.L4Off - pkt.TCPMinHeaderLen; n != 1000 {
			t.Errorf("segment %d: %d bytes of payload, want 1000", i, n)
		}
		if seq := pkt.TCP(inner[p.L4Off:]).Seq(); seq != uint32(1000+1000*i) {
			t.Errorf("segment %d: seq %d", i, seq)
		}
	}
	if w.c.split.Load() != 1 || w.c.drops[ReasonSplit].Load() != 0 {
		t.Errorf("split %d split_failed %d", w.c.split.Load(), w.c.drops[ReasonSplit].Load())
	}
	// Segments of 1440 bytes make inner packets of 1500: over the
	// tunnel's 1460.
	out = send(1440)
	if len(out) != 1 {
		t.Fatalf("segments over the tunnel MTU: %d frames out, want the Packet Too Big", len(out))
	}
	p := decoded6(t, out[0])
	if msg := out[0][p.L4Off:]; p.Dst != client6.As16() || msg[0] != pkt.ICMPv6PacketTooBig || binary.BigEndian.Uint32(msg[4:]) != 1460 {
		t.Errorf("answer to %v type %d mtu %d, want Packet Too Big 1460", netip.AddrFrom16(p.Dst), msg[0], binary.BigEndian.Uint32(msg[4:]))
	}
}

// TestTunnel6Reassembled: a fragmented IPv6 datagram to an ip6ip6 real
// server is reassembled (to be scheduled), then sent as the fragments it
// came in, each in its own tunnel packet: the real server's kernel
// reassembles the inner datagram after decapsulation.
func TestTunnel6Reassembled(t *testing.T) {
	w, l, tbl := tun6Worker(t, 1500)
	full := tcp6TC(40000, 80, pkt.TCPSyn, 0, 3000)
	frags := pkttest.Fragments6(full, 0x5eed0001, 1232, 2464)
	var out [][]byte
	for _, f := range frags {
		out = run(w, l, tbl, 0, f)
	}
	if len(out) != 3 {
		t.Fatalf("%d frames out, want 3 tunnelled fragments", len(out))
	}
	var inner [][]byte
	for _, f := range out {
		in := checkOuter6(t, f, forward.ProtoIPv6, 0, 63)
		inner = append(inner, append(make([]byte, pkt.EtherHeaderLen), in...))
	}
	whole, _ := joinFragments(t, inner, 0x5eed0001, 1280)
	want := append([]byte(nil), full...)
	want[pkt.EtherHeaderLen+7]-- // the hop spent
	if !bytes.Equal(whole[pkt.EtherHeaderLen:], want[pkt.EtherHeaderLen:]) {
		t.Errorf("the inner datagram differs from the client's")
	}
	if w.c.frag6Reassembled.Load() != 1 || w.c.split.Load() != 1 {
		t.Errorf("reassembled %d split %d", w.c.frag6Reassembled.Load(), w.c.split.Load())
	}
}
