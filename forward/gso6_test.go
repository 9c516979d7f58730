package forward

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// TestSegment6 splits IPv6 TCP and UDP_L4 super-frames (with a hop-by-hop
// header, which every segment repeats) and checks each segment: payload
// length, sequence number, flags, UDP length, its piece of the payload and
// a valid checksum over the IPv6 pseudo-header.
func TestSegment6(t *testing.T) {
	payload := make([]byte, 3*1000+500)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	for _, c := range []struct {
		name  string
		proto uint8
		gso   uint8
	}{{"TCPv6", pkt.ProtoTCP, GSOTCPv6}, {"UDP_L4 over IPv6", pkt.ProtoUDP, GSOUDPL4}} {
		t.Run(c.name, func(t *testing.T) {
			frame := pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: c.proto,
				SrcPort: 1000, DstPort: 80, TCPFlags: pkt.TCPAck | pkt.TCPPsh | pkt.TCPFin | pkt.TCPCwr,
				ExtHeaders: []uint8{pkt.ProtoHopByHop}, Payload: payload}.Build()
			l4 := 14 + 48
			if c.proto == pkt.ProtoTCP {
				pkt.TCP(frame[l4:]).SetSeq(0xfffffc00) // wraps within the frame
			}
			var p pkt.Parsed6
			if p.Decode6(frame, 14, true) != pkt.DecodeOK {
				t.Fatal("input does not decode")
			}
			bufs, sizes := newBufs(8, 2048)
			o := Offload{GSOType: c.gso, GSOSize: 1000}
			n, err := Segment6(bufs, sizes, 16, frame, &p, &o)
			if err != nil || n != 4 {
				t.Fatalf("%d segments, %v; want 4", n, err)
			}
			hdr := l4 + 8
			if c.proto == pkt.ProtoTCP {
				hdr = l4 + 20
			}
			var got []byte
			for i := range n {
				f := bufs[i][16 : 16+sizes[i]]
				var s pkt.Parsed6
				if s.Decode6(f, 14, false) != pkt.DecodeOK || !pkt.L4ChecksumValid6(f, &s) {
					t.Fatalf("segment %d does not decode or its checksum is wrong", i)
				}
				want := min(1000, len(payload)-i*1000)
				if len(f) != hdr+want || s.ExtLen != 8 || int(pkt.IPv6(f[14:]).PayloadLen()) != len(f)-14-40 {
					t.Errorf("segment %d: %d bytes, ext %d, payload length %d", i, len(f), s.ExtLen, pkt.IPv6(f[14:]).PayloadLen())
				}
				if c.proto == pkt.ProtoTCP {
					tc := pkt.TCP(f[l4:])
					wantFlags := uint8(pkt.TCPAck)
					if i == 0 {
						wantFlags |= pkt.TCPCwr
					}
					if i == n-1 {
						wantFlags |= pkt.TCPPsh | pkt.TCPFin
					}
					if tc.Seq() != 0xfffffc00+uint32(i*1000) || tc.Flags() != wantFlags {
						t.Errorf("segment %d: seq %#x flags %#x, want %#x %#x", i, tc.Seq(), tc.Flags(), 0xfffffc00+uint32(i*1000), wantFlags)
					}
				} else if u := pkt.UDP(f[l4:]); int(u.Length()) != len(f)-l4 {
					t.Errorf("segment %d: UDP length %d", i, u.Length())
				}
				got = append(got, f[hdr:]...)
			}
			if !bytes.Equal(got, payload) {
				t.Error("the segments' payload differs from the super-frame's")
			}
			// Another GSO type, the wrong protocol, a fragment.
			for _, gt := range []uint8{GSOTCPv4, GSOUDP, GSONone} {
				if _, err := Segment6(bufs, sizes, 16, frame, &p, &Offload{GSOType: gt, GSOSize: 1000}); err != ErrNotGSO {
					t.Errorf("GSO type %d: %v, want ErrNotGSO", gt, err)
				}
			}
			frag := p
			frag.Frag = true
			if _, err := Segment6(bufs, sizes, 16, frame, &frag, &o); err != ErrMalformed {
				t.Errorf("a fragment: %v, want ErrMalformed", err)
			}
			if _, err := Segment6(bufs[:3], sizes, 16, frame, &p, &o); err != ErrTooMany {
				t.Errorf("three buffers: %v, want ErrTooMany", err)
			}
		})
	}
}
