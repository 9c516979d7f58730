package engine

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// runFanout runs the fanout program on an IPv4 or IPv6 packet as the
// kernel does (from the network header). The x/net VM lacks the protocol
// extension, so its load becomes a constant 0x0800: IPv6 has branched off
// before it.
func runFanout(t *testing.T, prog []bpf.RawInstruction, frame []byte) uint32 {
	t.Helper()
	var insns []bpf.Instruction
	for _, ri := range prog {
		in := ri.Disassemble()
		if _, ok := in.(bpf.LoadExtension); ok {
			in = bpf.LoadConstant{Dst: bpf.RegA, Val: 0x0800}
		}
		insns = append(insns, in)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	out, err := vm.Run(frame[pkt.EtherHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	return uint32(out)
}

func TestFanoutHashesClientSide(t *testing.T) {
	prog := fanoutProgram([][4]byte{vip.As4(), {10, 77, 0, 101}})
	rip := netip.MustParseAddr("10.77.1.11")
	seen := map[uint32]bool{}
	for port := uint16(40000); port < 40064; port++ {
		in := pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: port, DstPort: 80, TCPFlags: pkt.TCPSyn, IPOptions: []byte{1, 1, 1, 0}}.Build()
		reply := pkttest.Frame{Src: rip, Dst: client, Proto: pkt.ProtoTCP, SrcPort: 8080, DstPort: port, TCPFlags: pkt.TCPSyn | pkt.TCPAck}.Build()
		hi, hr := runFanout(t, prog, in), runFanout(t, prog, reply)
		if hi != hr {
			t.Fatalf("port %d: inbound hashes to %d, its reply to %d", port, hi, hr)
		}
		seen[hi%2] = true
	}
	if !seen[0] || !seen[1] {
		t.Errorf("64 flows of one client all went to one of two workers")
	}
	// A UDP reply to a FULLNAT local address hashes on that side too.
	a := pkttest.Frame{Src: client, Dst: netip.MustParseAddr("10.77.0.101"), Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53}.Build()
	b := pkttest.Frame{Src: rip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 53, DstPort: 5000}.Build()
	if runFanout(t, prog, a) != runFanout(t, prog, b) {
		t.Errorf("UDP directions disagree")
	}
	if len(fanoutProgram(make([][4]byte, 500))) == 0 {
		t.Errorf("no program for many VIPs")
	}
}

// fanoutHash must be exactly what the program computes, or FULLNAT's
// local ports would send replies to the wrong worker.
func TestFanoutHashMatchesProgram(t *testing.T) {
	prog := fanoutProgram([][4]byte{vip.As4()})
	lip := netip.MustParseAddr("10.77.1.200")
	rip := netip.MustParseAddr("10.77.1.11")
	for _, port := range []uint16{1024, 1025, 4242, 65535} {
		reply := pkttest.Frame{Src: rip, Dst: lip, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: port}.Build()
		if got, want := runFanout(t, prog, reply), fanoutHash(lip.As4(), port); got != want {
			t.Errorf("port %d: program %d, fanoutHash %d", port, got, want)
		}
	}
}

// ICMP errors about a flow hash like the flow, in both directions.
func TestFanoutICMP(t *testing.T) {
	prog := fanoutProgram([][4]byte{vip.As4()})
	rip := netip.MustParseAddr("10.77.1.11")
	for port := uint16(40000); port < 40016; port++ {
		in := pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: port, DstPort: 80}.Build()
		// From the real server: it quotes client:port -> RIP.
		toRS := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: rip, Proto: pkt.ProtoUDP, SrcPort: port, DstPort: 8080}.Build()
		var p pkt.Parsed
		p.Decode(toRS)
		fromRS := forward.PortUnreachable(nil, toRS, &p, rsNATMAC, rip.As4(), 1)
		// From the client side: it quotes VIP -> client:port.
		toClient := pkttest.Frame{SrcMAC: dirMAC, DstMAC: clientMAC, Src: vip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 80, DstPort: port}.Build()
		p.Decode(toClient)
		toVIP := forward.PortUnreachable(nil, toClient, &p, clientMAC, client.As4(), 1)
		h := runFanout(t, prog, in)
		if got := runFanout(t, prog, fromRS); got != h {
			t.Fatalf("port %d: flow hashes to %d, the real server's ICMP error to %d", port, h, got)
		}
		if got := runFanout(t, prog, toVIP); got != h {
			t.Fatalf("port %d: flow hashes to %d, the client's ICMP error to %d", port, h, got)
		}
	}
}

// A router's ICMP error about one of our IPIP packets hashes like the
// client's flow inside it.
func TestFanoutICMPAboutIPIP(t *testing.T) {
	prog := fanoutProgram([][4]byte{vip.As4()})
	w, l, tbl := tunWorker(t, 1500)
	for port := uint16(50000); port < 50008; port++ {
		in := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: port, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build()
		out := run(w, l, tbl, 0, append([]byte(nil), in...))
		var tp pkt.Parsed
		tp.Decode(out[0])
		icmp := forward.FragNeeded(nil, out[0], &tp, 1400, clientMAC, [4]byte{10, 77, 0, 254}, 1)
		if a, b := runFanout(t, prog, in), runFanout(t, prog, icmp); a != b {
			t.Fatalf("port %d: flow hashes to %d, the router's error about its tunnel packet to %d", port, a, b)
		}
	}
}

func TestFilterPassesICMPToOwnAddress(t *testing.T) {
	own := [4]byte{10, 77, 0, 2}
	icmp := pkttest.Frame{Src: netip.MustParseAddr("10.77.0.254"), Dst: netip.AddrFrom4(own), Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPDestUnreachable, ICMPCode: pkt.ICMPFragNeeded}.Build()
	tcp := pkttest.Frame{Src: client, Dst: netip.AddrFrom4(own), Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 22}.Build()
	prog := filterProgramICMP([][4]byte{vip.As4()}, false, [][4]byte{own})
	if !runFilter(t, prog, icmp) {
		t.Errorf("ICMP to our own address dropped")
	}
	if runFilter(t, prog, tcp) {
		t.Errorf("TCP to our own address passed")
	}
}

// TestFanoutIPv6 checks that both directions of a NAT66 connection hash
// to one worker, that a client's flows spread, and that neighbour
// discovery and extension headers go to worker 0.
func TestFanoutIPv6(t *testing.T) {
	vips6 := [][16]byte{netip.MustParseAddr("2001:db8::1:100").As16(), vip6.As16()}
	prog := fanoutProgram([][4]byte{vip.As4()}, vips6...)
	seen := map[uint32]bool{}
	for port := uint16(40000); port < 40064; port++ {
		in := pkttest.Frame6{Src: client6, Dst: vip6, Proto: pkt.ProtoTCP, SrcPort: port, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build()
		reply := pkttest.Frame6{Src: natRS6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: port, TCPFlags: pkt.TCPAck}.Build()
		hi, hr := runFanout(t, prog, in), runFanout(t, prog, reply)
		if hi != hr {
			t.Fatalf("port %d: inbound hashes to %d, its reply to %d", port, hi, hr)
		}
		seen[hi%2] = true
	}
	if !seen[0] || !seen[1] {
		t.Errorf("64 IPv6 flows of one client all went to one of two workers")
	}
	udpIn := pkttest.Frame6{Src: client6, Dst: vip6, Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 53}.Build()
	udpOut := pkttest.Frame6{Src: natRS6, Dst: client6, Proto: pkt.ProtoUDP, SrcPort: 53, DstPort: 5353}.Build()
	if runFanout(t, prog, udpIn) != runFanout(t, prog, udpOut) {
		t.Error("UDP directions disagree")
	}
	for name, f := range map[string][]byte{
		"solicitation": pkttest.Solicit6(clientMAC, client6, vip6),
		"fragment":     pkttest.Frame6{Src: client6, Dst: vip6, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 53, ExtHeaders: []uint8{pkt.ProtoFragment}}.Build(),
	} {
		if got := runFanout(t, prog, f); got != 0 {
			t.Errorf("%s hashed to %d, want worker 0", name, got)
		}
	}
	// IPv4 is unchanged by the IPv6 part.
	v4 := pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build()
	if runFanout(t, prog, v4) != runFanout(t, fanoutProgram([][4]byte{vip.As4()}), v4) {
		t.Error("IPv4 hashes differently with IPv6 VIPs")
	}
	if len(fanoutProgram(nil, make([][16]byte, 100)...)) == 0 {
		t.Error("no program for many IPv6 VIPs")
	}
}

// ext6h is an IPv6 extension header for withExt6: its kind and its
// bytes, the length byte set (the next header is filled in).
type ext6h struct {
	kind uint8
	b    []byte
}

// ext6 builds an extension header of kind and total length n (a multiple
// of 8, or of 4 for AH); a fragment header is a first fragment's.
func ext6(kind uint8, n int) ext6h {
	h := make([]byte, n)
	switch kind {
	case pkt.ProtoAH:
		h[1] = byte(n/4 - 2)
	case pkt.ProtoFragment:
		h[3] = 1 // offset 0, more fragments
	default:
		h[1] = byte(n/8 - 1)
	}
	return ext6h{kind, h}
}

// withExt6 returns the IPv6 frame with the extension headers inserted
// after its fixed header, in order, with the next header fields and the
// payload length made to match.
func withExt6(frame []byte, hdrs ...ext6h) []byte {
	ip := frame[pkt.EtherHeaderLen:]
	out := append([]byte(nil), frame[:pkt.EtherHeaderLen+40]...)
	for i, h := range hdrs {
		next := ip[6]
		if i+1 < len(hdrs) {
			next = hdrs[i+1].kind
		}
		out = append(out, next)
		out = append(out, h.b[1:]...)
	}
	out = append(out, ip[40:]...)
	oip := out[pkt.EtherHeaderLen:]
	if len(hdrs) > 0 {
		oip[6] = hdrs[0].kind
	}
	binary.BigEndian.PutUint16(oip[4:], uint16(len(oip)-40))
	return out
}

// TestFanoutIPv6ExtHeaders: packets with the extension headers the data
// path skips, and ICMPv6 errors whose quoted packet carries them, reach
// the worker of the flow (the hash of the client's address and port, as
// the worker's own fanoutHash computes it), not worker 0, where the
// flow's connection is not.
func TestFanoutIPv6ExtHeaders(t *testing.T) {
	prog := fanoutProgram([][4]byte{vip.As4()}, netip.MustParseAddr("2001:db8::1:100").As16(), vip6.As16())
	ptb := func(src, dst netip.Addr, quoted []byte, outer ...ext6h) []byte {
		body := make([]byte, 4+len(quoted)-pkt.EtherHeaderLen)
		binary.BigEndian.PutUint32(body, 1280)
		copy(body[4:], quoted[pkt.EtherHeaderLen:])
		f := pkttest.Frame6{Src: src, Dst: dst, Proto: pkt.ProtoICMPv6, ICMPType: pkt.ICMPv6PacketTooBig, Payload: body}.Build()
		return withExt6(f, outer...)
	}
	router := netip.MustParseAddr("2001:db8::1")
	c16 := client6.As16()
	c := [4]byte(c16[12:])
	for port := uint16(40000); port < 40016; port++ {
		want := fanoutHash(c, port)
		in := pkttest.Frame6{Src: client6, Dst: vip6, Proto: pkt.ProtoTCP, SrcPort: port, DstPort: 80, TCPFlags: pkt.TCPAck}.Build()
		reply := pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: port, TCPFlags: pkt.TCPAck}.Build()
		natReply := pkttest.Frame6{Src: natRS6, Dst: client6, Proto: pkt.ProtoUDP, SrcPort: 53, DstPort: port}.Build()
		quoteExt := []ext6h{ext6(pkt.ProtoHopByHop, 16), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoRouting, 24),
			ext6(pkt.ProtoFragment, 8), ext6(pkt.ProtoAH, 24)}
		for name, f := range map[string][]byte{
			"plain":                            in,
			"hop-by-hop, options, routing":     withExt6(in, ext6(pkt.ProtoHopByHop, 16), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoRouting, 24)),
			"a NAT66 reply with options":       withExt6(natReply, ext6(pkt.ProtoDstOpts, 32)),
			"8 headers":                        withExt6(in, ext6(pkt.ProtoHopByHop, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoRouting, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8)),
			"error to the VIP":                 ptb(router, vip6, reply),
			"error to the VIP, quote with 5":   ptb(router, vip6, withExt6(reply, quoteExt...)),
			"error to the VIP, both with some": ptb(router, vip6, withExt6(reply, ext6(pkt.ProtoDstOpts, 16)), ext6(pkt.ProtoHopByHop, 8)),
			"error to a NAT66 client's side":   ptb(router, natRS6, withExt6(in, ext6(pkt.ProtoAH, 16))),
		} {
			if got := runFanout(t, prog, f); got != want {
				t.Errorf("port %d, %s: hashed to %#x, want %#x (the flow's)", port, name, got, want)
			}
		}
		for name, f := range map[string][]byte{
			"9 headers":                  withExt6(in, ext6(pkt.ProtoHopByHop, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoRouting, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8), ext6(pkt.ProtoDstOpts, 8)),
			"AH outside a quote":         withExt6(in, ext6(pkt.ProtoAH, 16)),
			"a fragment outside a quote": withExt6(in, ext6(pkt.ProtoFragment, 8)),
			"a quote cut in its headers": ptb(router, vip6, withExt6(reply, ext6(pkt.ProtoDstOpts, 8))[:pkt.EtherHeaderLen+44]),
			"an error quoting ICMPv6":    ptb(router, vip6, pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoICMPv6, ICMPType: 129}.Build()),
			"an echo request to the VIP": pkttest.Frame6{Src: client6, Dst: vip6, Proto: pkt.ProtoICMPv6, ICMPType: 128}.Build(),
		} {
			if got := runFanout(t, prog, f); got != 0 {
				t.Errorf("port %d, %s: hashed to %#x, want worker 0", port, name, got)
			}
		}
	}
	// The widest program still assembles: its jumps stay in reach.
	var vips [][4]byte
	for i := range 100 {
		vips = append(vips, [4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	if len(fanoutProgram(vips, make([][16]byte, maxFanoutVIPs6)...)) == 0 {
		t.Error("no program for 100 IPv4 and 8 IPv6 VIPs")
	}
}

// FuzzFanout6 runs the fanout program over arbitrary IPv6 packets and
// checks it against the data path's own reading of them: a TCP or UDP
// packet the decoder takes (not a fragment), and an ICMPv6 error whose
// quote forward.ParseICMPv6Error takes, must hash as the worker's
// fanoutHash of its client's side, or its connection is on another
// worker. Packets the data path does not take may go anywhere.
func FuzzFanout6(f *testing.F) {
	reply := pkttest.Frame6{Src: vip6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 40000, TCPFlags: pkt.TCPAck}.Build()
	body := append(make([]byte, 4), withExt6(reply, ext6(pkt.ProtoDstOpts, 16), ext6(pkt.ProtoAH, 24))[pkt.EtherHeaderLen:]...)
	ptb := pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::1"), Dst: vip6, Proto: pkt.ProtoICMPv6, ICMPType: pkt.ICMPv6PacketTooBig, Payload: body}.Build()
	f.Add(withExt6(ptb, ext6(pkt.ProtoHopByHop, 8))[pkt.EtherHeaderLen:])
	f.Add(withExt6(pkttest.Frame6{Src: client6, Dst: vip6, Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 53}.Build(),
		ext6(pkt.ProtoHopByHop, 16), ext6(pkt.ProtoRouting, 24))[pkt.EtherHeaderLen:])
	f.Add(pkttest.Frame6{Src: natRS6, Dst: client6, Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 1000, TCPFlags: pkt.TCPAck}.Build()[pkt.EtherHeaderLen:])
	vips6 := [][16]byte{netip.MustParseAddr("2001:db8::1:100").As16(), vip6.As16()}
	prog := fanoutProgram([][4]byte{vip.As4()}, vips6...)
	isVIP := func(a [16]byte) bool { return a == vips6[0] || a == vips6[1] }
	f.Fuzz(func(t *testing.T, ip []byte) {
		if len(ip) < 40 || len(ip) > 9000 {
			return
		}
		ip[0] = 0x60 | ip[0]&0x0f
		frame := append(append(make([]byte, 12), 0x86, 0xdd), ip...)
		var p pkt.Parsed6
		if p.Decode6(frame, pkt.EtherHeaderLen, false) != pkt.DecodeOK || p.L4Off == 0 || p.Frag {
			return
		}
		var addr [16]byte
		var port uint16
		switch p.Proto {
		case pkt.ProtoTCP, pkt.ProtoUDP:
			addr, port = p.Dst, p.DstPort
			if isVIP(p.Dst) {
				addr, port = p.Src, p.SrcPort
			}
		case pkt.ProtoICMPv6:
			q, ok := forward.ParseICMPv6Error(frame, &p)
			if !ok {
				return
			}
			addr, port = q.Src, q.SrcPort
			if isVIP(p.Dst) {
				addr, port = q.Dst, q.DstPort
			}
		default:
			return
		}
		if got, want := runFanout(t, prog, frame), fanoutHash([4]byte(addr[12:]), port); got != want {
			t.Fatalf("the program hashed to %#x, the data path's flow is %#x's", got, want)
		}
	})
}

// withOptions4 returns the IPv4 packet ip (from its header) with n bytes
// of options (NOPs, n a multiple of 4) after its header, its length
// fields and header checksum made to match.
func withOptions4(ip []byte, n int) []byte {
	hl := int(ip[0]&0x0f) * 4
	out := append(append(append([]byte(nil), ip[:hl]...), bytes.Repeat([]byte{1}, n)...), ip[hl:]...)
	h := pkt.IPv4(out)
	out[0] = 0x40 | byte((hl+n)/4)
	binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	h.SetChecksum(0)
	h.SetChecksum(pkt.Checksum(out[:hl+n], 0))
	return out
}

// FuzzFanout4 is FuzzFanout6 for IPv4: a TCP or UDP packet the decoder
// takes (not a fragment: the kernel reassembles before the fanout), and
// an ICMP error whose quote forward.ParseICMPError takes (options in the
// quoted headers, an error about an IPIP packet), hash as the worker's
// fanoutHash of the flow's client side.
func FuzzFanout4(f *testing.F) {
	// A client's error about a reply whose header carries options.
	reply := pkttest.Frame{SrcMAC: dirMAC, DstMAC: clientMAC, Src: vip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 80, DstPort: 40000}.Build()
	reply = append(reply[:pkt.EtherHeaderLen:pkt.EtherHeaderLen], withOptions4(reply[pkt.EtherHeaderLen:], 8)...)
	var p pkt.Parsed
	if p.Decode(reply) != pkt.DecodeOK {
		f.Fatal("the reply with options does not decode")
	}
	f.Add(forward.PortUnreachable(nil, reply, &p, clientMAC, client.As4(), 1)[pkt.EtherHeaderLen:])
	f.Add(pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1000, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build()[pkt.EtherHeaderLen:])
	vips := [][4]byte{vip.As4(), {10, 77, 0, 101}}
	prog := fanoutProgram(vips)
	isVIP := func(a [4]byte) bool { return a == vips[0] || a == vips[1] }
	f.Fuzz(func(t *testing.T, ip []byte) {
		if len(ip) < 20 || len(ip) > 9000 {
			return
		}
		frame := append(append(make([]byte, 12), 0x08, 0x00), ip...)
		var p pkt.Parsed
		if p.Decode(frame) != pkt.DecodeOK || p.L4Off == 0 || p.Frag != 0 {
			return
		}
		var addr [4]byte
		var port uint16
		switch p.Proto {
		case pkt.ProtoTCP, pkt.ProtoUDP:
			addr, port = p.Dst, p.DstPort
			if isVIP(p.Dst) {
				addr, port = p.Src, p.SrcPort
			}
		case pkt.ProtoICMP:
			q, ok := forward.ParseICMPError(frame, &p)
			if !ok {
				return
			}
			switch {
			case isVIP(p.Dst):
				addr, port = q.Dst, q.DstPort
			default:
				addr, port = q.Src, q.SrcPort // IPIP: the client's packet inside
			}
		default:
			return
		}
		if got, want := runFanout(t, prog, frame), fanoutHash(addr, port); got != want {
			t.Fatalf("the program hashed to %#x, the data path's flow is %#x's", got, want)
		}
	})
}
