package forward

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// TestFragmentIPv6 splits a UDP datagram with a hop-by-hop header (the
// unfragmentable part, repeated in every fragment) and a
// destination-options header the caller leaves in the fragmentable part
// (after the fragment header, in the first fragment only).
func TestFragmentIPv6(t *testing.T) {
	frame := pkttest.Frame6{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
		Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, ExtHeaders: []uint8{pkt.ProtoHopByHop, pkt.ProtoDstOpts},
		Payload: bytes.Repeat([]byte("0123456789"), 300)}.Build()
	var p pkt.Parsed6
	if p.Decode6(frame, 14, false) != pkt.DecodeOK {
		t.Fatal("input does not decode")
	}
	bufs, sizes := newBufs(8, 2048)
	const unfrag = 48 // IPv6 header and hop-by-hop
	n, err := FragmentIPv6(bufs, sizes, 16, frame, &p, unfrag, 0x01020304, 1280)
	if err != nil || n != 3 {
		t.Fatalf("%d fragments, %v; want 3", n, err)
	}
	var data []byte
	for i := range n {
		f := bufs[i][16 : 16+sizes[i]]
		ip := pkt.IPv6(f[14:])
		if 40+int(ip.PayloadLen()) != len(f)-14 || len(f)-14 > 1280 {
			t.Errorf("fragment %d: payload length %d in %d bytes", i, ip.PayloadLen(), len(f))
		}
		if ip.NextHeader() != pkt.ProtoHopByHop || f[54] != pkt.ProtoFragment {
			t.Errorf("fragment %d: next headers %d, %d; want hop-by-hop then fragment", i, ip.NextHeader(), f[54])
		}
		fh := pkt.Frag6(f[62:])
		if fh.NextHeader() != pkt.ProtoDstOpts || fh.ID() != 0x01020304 || fh.Offset() != len(data) || fh.More() != (i < n-1) {
			t.Errorf("fragment %d: next %d id %#x offset %d more %v", i, fh.NextHeader(), fh.ID(), fh.Offset(), fh.More())
		}
		if i < n-1 && (len(f)-70)%8 != 0 {
			t.Errorf("fragment %d: %d bytes of data", i, len(f)-70)
		}
		data = append(data, f[70:]...)
	}
	if !bytes.Equal(data, frame[14+unfrag:]) {
		t.Error("the fragments' data differ from the datagram's fragmentable part")
	}
	// A datagram that fits is copied whole; a part that ends inside a
	// header, an MTU with no room for data, too few buffers are errors.
	big, bigSizes := newBufs(1, 4096)
	if n, err := FragmentIPv6(big, bigSizes, 16, frame, &p, unfrag, 1, 9000); n != 1 || err != nil || !bytes.Equal(big[0][16:16+bigSizes[0]], frame) {
		t.Errorf("fitting datagram: %d, %v", n, err)
	}
	for _, c := range []struct {
		unfrag, mtu, bufs int
		want              error
	}{{44, 1280, 8, ErrMalformed}, {64, 1280, 8, ErrMalformed}, {48, 60, 8, ErrMTU6}, {48, 1280, 2, ErrTooMany}} {
		if _, err := FragmentIPv6(bufs[:c.bufs], sizes, 16, frame, &p, c.unfrag, 1, c.mtu); err != c.want {
			t.Errorf("unfrag %d mtu %d bufs %d: %v, want %v", c.unfrag, c.mtu, c.bufs, err, c.want)
		}
	}
}
