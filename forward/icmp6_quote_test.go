package forward

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// ptbAbout builds a Packet Too Big from a router to the VIP quoting
// quoted (a frame; its IPv6 packet is quoted whole).
func ptbAbout(quoted []byte) []byte {
	body := make([]byte, 4+len(quoted)-pkt.EtherHeaderLen)
	binary.BigEndian.PutUint32(body, 1280)
	copy(body[4:], quoted[pkt.EtherHeaderLen:])
	return pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::100"),
		Proto: pkt.ProtoICMPv6, ICMPType: pkt.ICMPv6PacketTooBig, Payload: body}.Build()
}

// TestICMPv6QuoteExtHeaders: a quote whose packet carries extension
// headers (hop-by-hop, destination options, routing, a first fragment's
// header, an authentication header) is found past them, as the kernel's
// ipv6_find_hdr finds it, and the NAT66 translation rewrites the quoted
// ports where they are; quotes of a later fragment, or cut off in the
// chain, are not taken.
func TestICMPv6QuoteExtHeaders(t *testing.T) {
	vip, client := netip.MustParseAddr("2001:db8::100"), netip.MustParseAddr("2001:db8::10")
	reply := func(ext ...uint8) []byte {
		return pkttest.Frame6{Src: vip, Dst: client, Proto: pkt.ProtoUDP, SrcPort: 80, DstPort: 40000, ExtHeaders: ext,
			Payload: make([]byte, 32)}.Build()
	}
	rip := netip.MustParseAddr("2001:db8:1::5").As16()
	for _, ext := range [][]uint8{nil, {pkt.ProtoHopByHop}, {pkt.ProtoHopByHop, pkt.ProtoDstOpts, pkt.ProtoRouting, pkt.ProtoFragment}} {
		frame := ptbAbout(reply(ext...))
		var p pkt.Parsed6
		if r := p.Decode6(frame, pkt.EtherHeaderLen, false); r != pkt.DecodeOK {
			t.Fatalf("%v: decode %v", ext, r)
		}
		q, ok := ParseICMPv6Error(frame, &p)
		if !ok {
			t.Fatalf("quote with extension headers %v not taken", ext)
		}
		if q.Proto != pkt.ProtoUDP || q.SrcPort != 80 || q.DstPort != 40000 || q.Src != vip.As16() || q.Dst != client.As16() {
			t.Fatalf("%v: quote %+v", ext, q)
		}
		if want := q.Off + pkt.IPv6HeaderLen + 8*len(ext); q.L4 != want {
			t.Fatalf("%v: quoted UDP header at %d, want %d", ext, q.L4, want)
		}
		NATICMPv6(frame, &p, &q, rip, 8080)
		if got := binary.BigEndian.Uint16(frame[q.L4:]); got != 8080 {
			t.Errorf("%v: quoted source port %d after NATICMPv6, want 8080", ext, got)
		}
		if got := binary.BigEndian.Uint16(frame[q.L4+2:]); got != 40000 {
			t.Errorf("%v: quoted destination port %d after NATICMPv6, want 40000", ext, got)
		}
		m := frame[p.L4Off : p.L4Off+p.L4Len]
		if pkt.Fold(pkt.Sum(m, pkt.PseudoHeaderSum6(p.Src, p.Dst, pkt.ProtoICMPv6, uint32(len(m))))) != 0xffff {
			t.Errorf("%v: ICMPv6 checksum wrong after the translation", ext)
		}
	}

	// An authentication header: its length counts 4-byte units less 2
	// (RFC 4302): 24 bytes here.
	q6 := reply(pkt.ProtoDstOpts)
	ah := make([]byte, 24)
	ah[0], ah[1] = pkt.ProtoUDP, 4
	at := pkt.EtherHeaderLen + pkt.IPv6HeaderLen
	q6[at] = pkt.ProtoAH // the destination options now lead to AH
	q6 = append(q6[:at+8], append(ah, q6[at+8:]...)...)
	frame := ptbAbout(q6)
	var p pkt.Parsed6
	if r := p.Decode6(frame, pkt.EtherHeaderLen, false); r != pkt.DecodeOK {
		t.Fatalf("AH: decode %v", r)
	}
	if q, ok := ParseICMPv6Error(frame, &p); !ok || q.SrcPort != 80 || q.L4 != q.Off+pkt.IPv6HeaderLen+8+24 {
		t.Errorf("quote with an authentication header: %+v %v", q, ok)
	}

	// A later fragment (offset 8 bytes) quotes no ports.
	later := reply(pkt.ProtoFragment)
	binary.BigEndian.PutUint16(later[at+2:], 8)
	frame = ptbAbout(later)
	if p.Decode6(frame, pkt.EtherHeaderLen, false) != pkt.DecodeOK {
		t.Fatal("later fragment: no decode")
	}
	if q, ok := ParseICMPv6Error(frame, &p); ok {
		t.Errorf("a quote of a non-first fragment was taken: %+v", q)
	}

	// A chain cut off by the end of the quote.
	cut := reply(pkt.ProtoHopByHop, pkt.ProtoDstOpts)
	cut[at+8+1] = 200 // destination options claiming 1608 bytes
	frame = ptbAbout(cut)
	if p.Decode6(frame, pkt.EtherHeaderLen, false) != pkt.DecodeOK {
		t.Fatal("cut chain: no decode")
	}
	if q, ok := ParseICMPv6Error(frame, &p); ok {
		t.Errorf("a quote whose chain runs past its end was taken: %+v", q)
	}
}
