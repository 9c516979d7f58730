package synproxy

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

var flow6 = Flow6{Src: netip.MustParseAddr("2001:db8:77::10").As16(), Dst: netip.MustParseAddr("2001:db8:77::100").As16(), SrcPort: 40000, DstPort: 80}

// TestHash6IsSipHash: hash6 is SipHash-2-4 of the 40-byte message.
func TestHash6IsSipHash(t *testing.T) {
	c := NewCookiesKey(0x0706050403020100, 0x0f0e0d0c0b0a0908)
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		var f Flow6
		for i := range f.Src {
			f.Src[i], f.Dst[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		f.SrcPort, f.DstPort = uint16(r.Uint32()), uint16(r.Uint32())
		count := r.Uint32()
		msg := make([]byte, 40)
		copy(msg, f.Src[:])
		copy(msg[16:], f.Dst[:])
		msg[32], msg[33], msg[34], msg[35] = byte(f.SrcPort), byte(f.SrcPort>>8), byte(f.DstPort), byte(f.DstPort>>8)
		msg[36], msg[37], msg[38], msg[39] = byte(count), byte(count>>8), byte(count>>16), byte(count>>24)
		if got, want := c.hash6(&f, count), uint32(sum64(c.k0, c.k1, msg)); got != want {
			t.Fatalf("hash6 = %#x, SipHash = %#x", got, want)
		}
	}
}

// TestCookie6RoundTrip: the options come back with the MSS rounded down
// to Linux's IPv6 table; a cookie does not pass for another address (any
// of the 128 bits), port, ISN or an IPv4 check.
func TestCookie6RoundTrip(t *testing.T) {
	c := NewCookiesKey(9, 10)
	for _, tt := range []struct{ in, want Options }{
		{Options{MSS: 1440, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true, TSVal: 5}, Options{MSS: 1440, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true}},
		{Options{}, Options{MSS: 1220}},
		{Options{MSS: 1460}, Options{MSS: 1440}},
		{Options{MSS: 1430, SACKPerm: true}, Options{MSS: 1420, SACKPerm: true}},
		{Options{MSS: 8940, HasWScale: true, WScale: 200}, Options{MSS: 8940, HasWScale: true, WScale: 14}},
	} {
		for _, isn := range []uint32{0, 0xffffffff, 12345} {
			cookie, kept := c.Make6(flow6, isn, 77, tt.in)
			if kept.MSS != tt.want.MSS {
				t.Errorf("kept MSS %d, want %d", kept.MSS, tt.want.MSS)
			}
			for age := range uint32(MaxAge) {
				if got, ok := c.Check6(flow6, cookie, isn, 77+age); !ok || got != tt.want {
					t.Fatalf("%+v isn %d age %d: got %+v %v, want %+v", tt.in, isn, age, got, ok, tt.want)
				}
			}
			if _, ok := c.Check6(flow6, cookie, isn, 77+MaxAge); ok {
				t.Error("accepted after MaxAge slices")
			}
		}
	}
	cookie, _ := c.Make6(flow6, 1000, 7, Options{MSS: 1440})
	for bit := range 128 {
		other := flow6
		other.Src[bit/8] ^= 0x80 >> (bit % 8)
		if _, ok := c.Check6(other, cookie, 1000, 7); ok {
			t.Fatalf("accepted for the source address with bit %d flipped", bit)
		}
		other = flow6
		other.Dst[bit/8] ^= 0x80 >> (bit % 8)
		if _, ok := c.Check6(other, cookie, 1000, 7); ok {
			t.Fatalf("accepted for the destination address with bit %d flipped", bit)
		}
	}
	other := flow6
	other.DstPort++
	if _, ok := c.Check6(other, cookie, 1000, 7); ok {
		t.Error("accepted for another port")
	}
	if _, ok := c.Check6(flow6, cookie, 1001, 7); ok {
		t.Error("accepted for another client ISN")
	}
}

// TestBuild6: a segment with options, checksum valid, decodable.
func TestBuild6(t *testing.T) {
	var opts [MaxOptions]byte
	o := Options{MSS: 1440, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true, TSVal: 99}
	n := SynAckOptions(opts[:], 1440, &o, 5, OurWScale)
	b := make([]byte, pkt.EtherHeaderLen+60+MaxOptions)
	pkt.Ether(b).SetEtherType(pkt.EtherTypeIPv6)
	l := Build6(b[pkt.EtherHeaderLen:], flow6.Dst, flow6.Src, 80, 40000, 111, 222, pkt.TCPSyn|pkt.TCPAck, 8192, opts[:n])
	var p pkt.Parsed6
	if r := p.Decode6(b[:pkt.EtherHeaderLen+l], pkt.EtherHeaderLen, false); r != pkt.DecodeOK {
		t.Fatalf("decode: %v", r)
	}
	if !pkt.L4ChecksumValid6(b[:pkt.EtherHeaderLen+l], &p) || p.Src != flow6.Dst || p.Dst != flow6.Src || p.SrcPort != 80 || p.DstPort != 40000 ||
		p.TCPFlags != pkt.TCPSyn|pkt.TCPAck || pkt.IPv6(b[pkt.EtherHeaderLen:]).HopLimit() != 64 {
		t.Errorf("segment %+v", p)
	}
	tcp := pkt.TCP(b[p.L4Off:])
	if got := ParseOptions(tcp.Options()); got.MSS != 1440 || got.WScale != OurWScale || !got.SACKPerm || !got.HasTS || got.TSVal != 5 || got.TSEcr != 99 {
		t.Errorf("options %+v", got)
	}
}
