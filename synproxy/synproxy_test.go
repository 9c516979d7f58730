package synproxy

import (
	"math/rand/v2"
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

func TestSipHashVectors(t *testing.T) {
	// The reference implementation's key 00..0f; vectors from the
	// paper's appendix (15-byte message) and vectors.h (empty message).
	k0, k1 := le64([]byte{0, 1, 2, 3, 4, 5, 6, 7}), le64([]byte{8, 9, 10, 11, 12, 13, 14, 15})
	msg := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	if got, want := sum64(k0, k1, msg), uint64(0xa129ca6149be45e5); got != want {
		t.Errorf("15-byte vector: got %#x, want %#x", got, want)
	}
	if got, want := sum64(k0, k1, nil), uint64(0x726fdb47dd0e0e31); got != want {
		t.Errorf("empty vector: got %#x, want %#x", got, want)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := sum16(k0, k1, le64(b[:8]), le64(b[8:])), sum64(k0, k1, b[:]); got != want {
			t.Fatalf("sum16(%x) = %#x, sum64 = %#x", b, got, want)
		}
	}
}

var flow = Flow{Src: [4]byte{10, 77, 0, 10}, Dst: [4]byte{10, 77, 0, 100}, SrcPort: 40000, DstPort: 80}

func TestCookieRoundTrip(t *testing.T) {
	c := NewCookiesKey(1, 2)
	tests := []struct {
		name string
		in   Options
		want Options
	}{
		{"linux", Options{MSS: 1460, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true, TSVal: 5},
			Options{MSS: 1460, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true}},
		{"no options", Options{}, Options{MSS: 536}},
		{"mss rounds down", Options{MSS: 1400}, Options{MSS: 1300}},
		{"jumbo mss", Options{MSS: 8960, SACKPerm: true}, Options{MSS: 1460, SACKPerm: true}},
		{"wscale 0", Options{MSS: 1440, HasWScale: true}, Options{MSS: 1440, HasWScale: true}},
		{"wscale capped", Options{MSS: 536, HasWScale: true, WScale: 200}, Options{MSS: 536, HasWScale: true, WScale: 14}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, isn := range []uint32{0, 1, 0x7fffffff, 0xffffffff} {
				for _, count := range []uint32{0, 1, 255, 256, 0xffff} {
					cookie, _ := c.Make(flow, isn, count, tt.in)
					for age := uint32(0); age < MaxAge; age++ {
						got, ok := c.Check(flow, cookie, isn, count+age)
						if !ok || got != tt.want {
							t.Fatalf("isn %#x count %d age %d: got %+v %v, want %+v", isn, count, age, got, ok, tt.want)
						}
					}
				}
			}
		})
	}
}

func TestCookieExpiry(t *testing.T) {
	c := NewCookiesKey(3, 4)
	cookie, _ := c.Make(flow, 1000, 50, Options{MSS: 1460})
	for _, now := range []uint32{50 + MaxAge, 50 + 100, 49, 50 + 256 + 5} {
		if _, ok := c.Check(flow, cookie, 1000, now); ok {
			t.Errorf("made at slice 50, accepted at %d", now)
		}
	}
}

func TestCookieTampering(t *testing.T) {
	c := NewCookiesKey(5, 6)
	o := Options{MSS: 1460, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true}
	cookie, _ := c.Make(flow, 1000, 7, o)
	other := flow
	other.SrcPort++
	if _, ok := c.Check(other, cookie, 1000, 7); ok {
		t.Error("accepted for another source port")
	}
	other = flow
	other.Src[3]++
	if _, ok := c.Check(other, cookie, 1000, 7); ok {
		t.Error("accepted for another source address")
	}
	if _, ok := c.Check(flow, cookie, 1001, 7); ok {
		t.Error("accepted for another client ISN")
	}
	if _, ok := NewCookiesKey(5, 7).Check(flow, cookie, 1000, 7); ok {
		t.Error("accepted under another key")
	}
	if _, ok := c.Check(flow, cookie, 999, 7); ok {
		t.Error("accepted for the client ISN less one")
	}
	// A change in the low 15 bits or in the time slice is refused (one
	// in the top 9 of the 24 may read as other options), and random
	// cookies almost never pass.
	for _, b := range []int{0, 1, 2, 7, 14, 24, 25, 31} {
		if _, ok := c.Check(flow, cookie^1<<b, 1000, 7); ok {
			t.Errorf("bit %d flipped: accepted", b)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	passed := 0
	const tries = 1 << 20
	for range tries {
		if _, ok := c.Check(flow, r.Uint32(), 1000, 7); ok {
			passed++
		}
	}
	// The expected rate is about 2^-22 (2 of 256 slices, 15 zero bits,
	// then a valid window scale): under one in 2^20 tries on average.
	if passed > 8 {
		t.Errorf("%d of %d random cookies passed", passed, tries)
	}
}

func TestParseOptions(t *testing.T) {
	var b [MaxOptions]byte
	o := Options{MSS: 1460, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true, TSVal: 0x01020304}
	n := SynAckOptions(b[:], 1460, &o, 0xaabbccdd, 9)
	got := ParseOptions(b[:n])
	want := Options{MSS: 1460, HasWScale: true, WScale: 9, SACKPerm: true, HasTS: true, TSVal: 0xaabbccdd, TSEcr: 0x01020304}
	if got != want || n%4 != 0 || n != 20 {
		t.Errorf("SynAckOptions round trip: got %+v (%d bytes), want %+v", got, n, want)
	}
	for _, in := range []Options{{MSS: 536}, {MSS: 1460, SACKPerm: true}, {MSS: 1300, HasWScale: true, WScale: 2}, {MSS: 1440, HasTS: true}} {
		n := SynOptions(b[:], &in, 77)
		want := in
		if in.HasTS {
			want.TSVal = 77
		}
		if got := ParseOptions(b[:n]); got != want || n%4 != 0 {
			t.Errorf("SynOptions(%+v): got %+v (%d bytes)", in, got, n)
		}
	}
	// Broken options: an option running past the end stops the walk.
	if got := ParseOptions([]byte{optMSS, 4, 5, 0xb4, optWScale, 9}); got != (Options{MSS: 1460}) {
		t.Errorf("truncated window scale: got %+v", got)
	}
	if got := ParseOptions([]byte{optNOP, 99, 1}); got != (Options{}) {
		t.Errorf("unknown option past the end: got %+v", got)
	}
	if got := ParseOptions([]byte{optMSS, 3, 0, optSACKPerm, 2}); got.MSS != 0 {
		t.Errorf("MSS of length 3 accepted: %+v", got)
	}
}

// segment builds an IPv4/TCP packet with options opts and a little data,
// returning the packet and its TCP part.
func segment(t *testing.T, seq, ack uint32, flags uint8, win uint16, opts []byte) ([]byte, pkt.TCP) {
	t.Helper()
	b := make([]byte, 100)
	n := Build(b, flow.Src, flow.Dst, flow.SrcPort, flow.DstPort, seq, ack, flags, win, opts, 1)
	ip := pkt.IPv4(b[:n])
	if !pkt.L4ChecksumValid(ip) {
		t.Fatal("Build made a bad checksum")
	}
	return b[:n], pkt.TCP(b[20:n])
}

func sackOpts(edges ...uint32) []byte {
	b := []byte{optNOP, optNOP, optSACK, byte(2 + 4*len(edges))}
	for _, e := range edges {
		b = append(b, byte(e>>24), byte(e>>16), byte(e>>8), byte(e))
	}
	for len(b)%4 != 0 {
		b = append(b, optNOP)
	}
	return b
}

func TestTranslate(t *testing.T) {
	cookie, serverISN := uint32(0xfffffff0), uint32(0x20) // Delta wraps
	c := Conn{}
	c.Opening(&Options{MSS: 1460, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true}, 101, cookie+1, 500, 1000)
	if c.ISN != 100 || c.Cookie() != cookie || c.ClientTSVal() != 1000 {
		t.Fatalf("Opening: %+v", c)
	}
	c.Open(serverISN, &Options{HasWScale: true, WScale: 9, HasTS: true, TSVal: 5000}, 3000)
	if c.Delta != serverISN-cookie || c.TSOff != 2000 || c.ServerWS != 9 {
		t.Fatalf("Open: %+v", c)
	}

	// Client to server: ack and SACK edges up by Delta (wrapping), the
	// timestamp echo up by TSOff, the window as it is (both scale).
	ts := make([]byte, 12)
	TimestampOption(ts, 1234, 3100)
	opts := append(sackOpts(cookie+1, cookie+0x20, 0xfffffffe, 5), ts...)
	pktb, tcp := segment(t, 101, cookie+1, pkt.TCPAck, 300, opts)
	c.ToServer(tcp, false)
	if !pkt.L4ChecksumValid(pkt.IPv4(pktb)) {
		t.Error("ToServer: checksum no longer valid")
	}
	if got, want := tcp.Ack(), serverISN+1; got != want {
		t.Errorf("ToServer ack: got %#x, want %#x", got, want)
	}
	if tcp.Seq() != 101 || tcp.Window() != 300 {
		t.Errorf("ToServer changed seq or window: %d %d", tcp.Seq(), tcp.Window())
	}
	o := tcp.Options()
	for i, want := range []uint32{serverISN + 1, serverISN + 0x20, 0xfffffffe + c.Delta, 5 + c.Delta} {
		if got := be32(o[4+4*i:]); got != want {
			t.Errorf("SACK edge %d: got %#x, want %#x", i, got, want)
		}
	}
	if got := ParseOptions(o); got.TSVal != 1234 || got.TSEcr != 5100 {
		t.Errorf("ToServer timestamps: got %d %d, want 1234 5100", got.TSVal, got.TSEcr)
	}

	// Server to client: seq down by Delta, timestamp value down by
	// TSOff, window from scale 9 to 7; SACK blocks (client bytes) alone.
	TimestampOption(ts, 5100, 1234)
	opts = append(sackOpts(200, 300), ts...)
	pktb, tcp = segment(t, serverISN+1, 101, pkt.TCPAck|pkt.TCPPsh, 1000, opts)
	c.ToClient(tcp, false)
	if !pkt.L4ChecksumValid(pkt.IPv4(pktb)) {
		t.Error("ToClient: checksum no longer valid")
	}
	if got, want := tcp.Seq(), cookie+1; got != want {
		t.Errorf("ToClient seq: got %#x, want %#x", got, want)
	}
	if tcp.Ack() != 101 || tcp.Window() != 4000 {
		t.Errorf("ToClient ack %d window %d, want 101 4000", tcp.Ack(), tcp.Window())
	}
	o = tcp.Options()
	if be32(o[4:]) != 200 || be32(o[8:]) != 300 {
		t.Errorf("ToClient changed SACK blocks: %x", o)
	}
	if got := ParseOptions(o); got.TSVal != 3100 || got.TSEcr != 1234 {
		t.Errorf("ToClient timestamps: got %d %d, want 3100 1234", got.TSVal, got.TSEcr)
	}
}

func TestTranslateOddOptions(t *testing.T) {
	// A SACK option at an odd offset: the checksum update must follow
	// the bytes across word boundaries.
	c := Conn{Delta: 0x12345678, Phase: PhaseOpen, Opts: OptSACK}
	opts := []byte{optNOP, optSACK, 18}
	for _, e := range []uint32{0xfffffff0, 0x10, 0xabcdef01, 0x7fffffff} {
		opts = append(opts, byte(e>>24), byte(e>>16), byte(e>>8), byte(e))
	}
	opts = append(opts, optEnd, 0, 0)
	pktb, tcp := segment(t, 1, 2, pkt.TCPAck, 10, opts)
	c.ToServer(tcp, false)
	if !pkt.L4ChecksumValid(pkt.IPv4(pktb)) {
		t.Error("checksum no longer valid")
	}
	if got := be32(tcp.Options()[3:]); got != uint32(0xfffffff0+0x12345678-1<<32) {
		t.Errorf("first edge %#x", got)
	}
}

func TestTranslatePartial(t *testing.T) {
	// A CHECKSUM_PARTIAL field holds the pseudo-header sum: untouched.
	c := Conn{Delta: 99, Phase: PhaseOpen}
	_, tcp := segment(t, 1, 2, pkt.TCPAck, 10, nil)
	tcp.SetChecksum(0x1234)
	c.ToServer(tcp, true)
	c.ToClient(tcp, true)
	if tcp.Checksum() != 0x1234 || tcp.Ack() != 101 || tcp.Seq() != uint32(1<<32+1-99) {
		t.Errorf("got checksum %#x ack %d seq %d", tcp.Checksum(), tcp.Ack(), tcp.Seq())
	}
}

func TestRescale(t *testing.T) {
	for _, tt := range []struct {
		win      uint16
		from, to uint8
		want     uint16
	}{
		{100, 7, 7, 100}, {100, 9, 7, 400}, {400, 7, 9, 100}, {1, 0, 7, 1}, {0, 0, 7, 0},
		{0xffff, 14, 0, 0xffff}, {3, 7, 0, 384},
	} {
		if got := rescale(tt.win, tt.from, tt.to); got != tt.want {
			t.Errorf("rescale(%d, %d, %d) = %d, want %d", tt.win, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	c := NewCookiesKey(1, 2)
	cn := Conn{Delta: 5, TSOff: 7, Phase: PhaseOpen, Opts: OptSACK | OptTS | OptServerTS}
	opts := append(sackOpts(1, 2), 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2)
	_, tcp := segment(t, 1, 2, pkt.TCPAck, 10, opts)
	var b [MaxOptions]byte
	n := testing.AllocsPerRun(100, func() {
		ck, o := c.Make(flow, 1, 2, Options{MSS: 1460})
		c.Check(flow, ck, 1, 2)
		SynAckOptions(b[:], 1460, &o, 1, 7)
		ParseOptions(b[:])
		cn.ToServer(tcp, false)
		cn.ToClient(tcp, false)
	})
	if n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}
