package vrrp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// slowChecksum is RFC 1071 written the obvious way, to check the encoder
// against.
func slowChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

var (
	srcA = netip.MustParseAddr("10.77.0.2")
	srcB = netip.MustParseAddr("10.77.0.3")
	vip1 = netip.MustParseAddr("10.77.0.100")
	vip2 = netip.MustParseAddr("10.77.0.101")
)

func TestAppendV2(t *testing.T) {
	// Seed 001's vrrp_instance VI_1: VRID 51, priority 100, advert_int 1,
	// auth PASS 1111, one VIP.
	a := Advert{Version: V2, Type: 1, VRID: 51, Priority: 100, AuthType: AuthPass, Interval: 1,
		Addrs: []netip.Addr{vip1}, AuthData: [8]byte{'1', '1', '1', '1'}}
	b, err := a.Append(nil, srcA, MulticastGroup())
	if err != nil {
		t.Fatal(err)
	}
	// Version 2 type 1, VRID 0x33, prio 0x64, count 1, auth 1, int 1,
	// checksum, 10.77.0.100, "1111\0\0\0\0".
	want := "21336401" + "0101" + "0000" + "0a4d0064" + "3131313100000000"
	zero := append([]byte(nil), b...)
	zero[6], zero[7] = 0, 0
	if got := hex.EncodeToString(zero); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if c := slowChecksum(zero); uint16(b[6])<<8|uint16(b[7]) != c {
		t.Errorf("checksum %02x%02x, want %04x", b[6], b[7], c)
	}
	if !VerifyChecksum(b, V2, netip.Addr{}, netip.Addr{}) {
		t.Error("VerifyChecksum = false")
	}
}

func TestAppendV3Checksum(t *testing.T) {
	a := Advert{Version: V3, Type: 1, VRID: 7, Priority: 200, Interval: 100, Addrs: []netip.Addr{vip1, vip2}}
	b, err := a.Append(nil, srcA, MulticastGroup())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 16 {
		t.Fatalf("len %d, want 16", len(b))
	}
	if b[4] != 0x00 || b[5] != 100 {
		t.Errorf("max adver int bytes %x %x, want 00 64", b[4], b[5])
	}
	// Pseudo-header: src, dst, 0, 112, length 16.
	ph := append(append(append([]byte(nil), srcA.AsSlice()...), MulticastGroup().AsSlice()...), 0, Protocol, 0, 16)
	zero := append([]byte(nil), b...)
	zero[6], zero[7] = 0, 0
	if c := slowChecksum(append(ph, zero...)); uint16(b[6])<<8|uint16(b[7]) != c {
		t.Errorf("checksum %02x%02x, want %04x", b[6], b[7], c)
	}
	if !VerifyChecksum(b, V3, srcA, MulticastGroup()) {
		t.Error("VerifyChecksum = false")
	}
	if VerifyChecksum(b, V3, srcB, MulticastGroup()) {
		t.Error("VerifyChecksum with another source = true; the pseudo-header must count")
	}
}

func TestAppendErrors(t *testing.T) {
	tests := []struct {
		name string
		a    Advert
	}{
		{"version", Advert{Version: 4}},
		{"v2 interval", Advert{Version: V2, Interval: 256}},
		{"v3 interval", Advert{Version: V3, Interval: 4096}},
		{"ipv6 address", Advert{Version: V2, Addrs: []netip.Addr{netip.MustParseAddr("::1")}}},
		{"too many", Advert{Version: V2, Addrs: make([]netip.Addr, 256)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.Append([]byte{9}, srcA, MulticastGroup())
			if !errors.Is(err, ErrEncode) {
				t.Errorf("err = %v, want ErrEncode", err)
			}
			if !bytes.Equal(b, []byte{9}) {
				t.Errorf("b = %x, want the input back", b)
			}
		})
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, a := range []Advert{
		{Version: V2, Type: 1, VRID: 1, Priority: 255, AuthType: AuthNone, Interval: 3, Addrs: []netip.Addr{vip1}},
		{Version: V2, Type: 1, VRID: 51, Priority: 0, AuthType: AuthPass, Interval: 1, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', '2'}},
		{Version: V3, Type: 1, VRID: 200, Priority: 100, Interval: 4095, Addrs: []netip.Addr{vip1, vip2}},
	} {
		b, err := a.Append(nil, srcA, MulticastGroup())
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(%x): %v", b, err)
		}
		a.Checksum = got.Checksum
		if diff := cmp.Diff(a, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	v2, _ := (&Advert{Version: V2, Type: 1, VRID: 1, Priority: 1, Interval: 1, Addrs: []netip.Addr{vip1}}).Append(nil, srcA, MulticastGroup())
	tests := []struct {
		name string
		b    []byte
		want Reason
	}{
		{"empty", nil, ReasonTooShort},
		{"seven bytes", v2[:7], ReasonTooShort},
		{"version 1", append([]byte{0x11}, v2[1:]...), ReasonVersion},
		{"short of auth data", v2[:len(v2)-1], ReasonLength},
		{"one byte long", append(append([]byte(nil), v2...), 0), ReasonLength},
		{"count says 2", append([]byte{v2[0], v2[1], v2[2], 2}, v2[4:]...), ReasonLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.b)
			if got := ReasonOf(err); got != tt.want {
				t.Errorf("reason %v (%v), want %v", got, err, tt.want)
			}
		})
	}
	// Ethernet padding: a 12-byte v3 message padded to 26 bytes.
	v3, _ := (&Advert{Version: V3, Type: 1, VRID: 1, Priority: 1, Interval: 100, Addrs: []netip.Addr{vip1}}).Append(nil, srcA, MulticastGroup())
	if _, err := Parse(append(v3, make([]byte, 14)...)); err != nil {
		t.Errorf("padded to 26 bytes: %v", err)
	}
	if _, err := Parse(append(v3, make([]byte, 13)...)); ReasonOf(err) != ReasonLength {
		t.Errorf("13 bytes of padding: %v, want a length error", err)
	}
}

func TestParseIPv4(t *testing.T) {
	msg := []byte{0x21, 1, 2, 3, 4, 5, 6, 7}
	good := AppendIPv4(nil, srcA, MulticastGroup(), 255, msg)
	p, err := ParseIPv4(good)
	if err != nil {
		t.Fatal(err)
	}
	if p.Src != srcA || p.Dst != MulticastGroup() || p.TTL != 255 || !bytes.Equal(p.Payload, msg) {
		t.Errorf("got %+v", p)
	}
	padded, err := ParseIPv4(append(append([]byte(nil), good...), 0, 0, 0))
	if err != nil || len(padded.Payload) != len(msg) {
		t.Errorf("padding not cut: %v %d", err, len(padded.Payload))
	}
	mut := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	for name, b := range map[string][]byte{
		"short":       good[:19],
		"version 6":   mut(0, 0x65),
		"ihl 4":       mut(0, 0x44),
		"ihl 15":      mut(0, 0x4f),
		"tot too big": mut(3, 200),
		"fragment":    mut(6, 0x20),
		"protocol":    mut(9, 6),
	} {
		if _, err := ParseIPv4(b); ReasonOf(err) != ReasonIPHeader {
			t.Errorf("%s: %v, want an IP header error", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, a := range []Advert{
		{Version: V2, Type: 1, VRID: 51, Priority: 100, AuthType: AuthPass, Interval: 1, Addrs: []netip.Addr{vip1}},
		{Version: V3, Type: 1, VRID: 1, Priority: 255, Interval: 100, Addrs: []netip.Addr{vip1, vip2}},
	} {
		b, _ := a.Append(nil, srcA, MulticastGroup())
		f.Add(AppendIPv4(nil, srcA, MulticastGroup(), 255, b))
	}
	f.Add([]byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := ParseIPv4(b)
		if err != nil {
			if ReasonOf(err) == ReasonNone {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		a, err := Parse(ip.Payload)
		if err != nil {
			if ReasonOf(err) == ReasonNone {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		// Re-encode: the same bytes (up to padding and reserved bits) and
		// a valid checksum.
		out, err := a.Append(nil, ip.Src, ip.Dst)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", a, err)
		}
		if !VerifyChecksum(out, a.Version, ip.Src, ip.Dst) {
			t.Fatalf("re-encoded checksum invalid")
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		received := a.Checksum
		a.Checksum, again.Checksum = 0, 0
		if diff := cmp.Diff(a, again, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		// The received checksum is valid exactly when it equals the one
		// we compute for the same fields (v3's reserved bits aside, which
		// Append writes as zero).
		if a.Version == V2 || ip.Payload[4]&0xf0 == 0 {
			valid := VerifyChecksum(ip.Payload[:a.Len()], a.Version, ip.Src, ip.Dst)
			if same := received == binary16(out[6:]); valid != same {
				t.Fatalf("checksum %04x valid=%v, ours %04x", received, valid, binary16(out[6:]))
			}
		}
	})
}

func binary16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
