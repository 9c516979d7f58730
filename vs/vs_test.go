package vs

import (
	"net/netip"
	"testing"
)

func TestMarkSource(t *testing.T) {
	svc := &Service{ID: 1, FwMark: 7}
	other := &Service{ID: 2, FwMark: 8}
	tbl := NewTableMarks(1, []*Service{svc, other}, nil, []MarkRule{
		{Mark: 7, Proto: TCP, Addr: netip.MustParsePrefix("10.0.0.100/32"), Src: netip.MustParsePrefix("192.168.0.0/16"), Ports: [][2]uint16{{80, 80}}},
		{Mark: 8, Proto: TCP, Addr: netip.MustParsePrefix("10.0.0.100/32"), Ports: [][2]uint16{{80, 80}}},
	})
	vip := [4]byte{10, 0, 0, 100}
	tests := []struct {
		src  [4]byte
		want uint32
	}{
		{[4]byte{192, 168, 0, 0}, 7},
		{[4]byte{192, 168, 255, 255}, 7},
		{[4]byte{192, 169, 0, 0}, 8},
		{[4]byte{192, 167, 255, 255}, 8},
		{[4]byte{0, 0, 0, 0}, 8},
	}
	for _, tt := range tests {
		if got := tbl.MarkFrom(TCP, tt.src, vip, 80); got != tt.want {
			t.Errorf("MarkFrom(%v) = %d, want %d", tt.src, got, tt.want)
		}
		want := other
		if tt.want == 7 {
			want = svc
		}
		if got := tbl.LookupFrom(TCP, tt.src, vip, 80); got != want {
			t.Errorf("LookupFrom(%v) = service %d, want %d", tt.src, got.ID, want.ID)
		}
	}
	// Without a source, the rule that names one does not match.
	if got := tbl.Mark(TCP, vip, 80); got != 8 {
		t.Errorf("Mark without a source = %d, want 8", got)
	}
	if got := tbl.Lookup(TCP, vip, 80); got != other {
		t.Errorf("Lookup without a source = %v, want service 2", got)
	}
	if got := tbl.MarkFrom(TCP, [4]byte{192, 168, 1, 1}, vip, 81); got != 0 {
		t.Errorf("other port: mark %d, want 0", got)
	}
	if !tbl.IsVIP(vip) {
		t.Error("the rules' destination is no VIP")
	}
}

// TestMarks6 builds IPv6 mark rules: a /120 rule's addresses are VIPs
// answered in neighbour discovery, a /64 rule's are VIPs for traffic
// routed here but never claimed (WideVIPs6), and a rule whose mark has
// only an IPv4 service makes no IPv6 VIP; IPv4 and IPv6 services of one
// mark are each found by their family's packets.
func TestMarks6(t *testing.T) {
	v6 := &Service{ID: 1, FwMark: 5, Addr: netip.IPv6Unspecified()}
	v4 := &Service{ID: 2, FwMark: 5}
	only4 := &Service{ID: 3, FwMark: 7}
	tbl := NewTableMarks(1, []*Service{v6, v4, only4}, nil, []MarkRule{
		{Mark: 5, Proto: TCP, Addr: netip.MustParsePrefix("2001:db8::100/120")},
		{Mark: 5, Proto: TCP, Addr: netip.MustParsePrefix("2001:db8:1::/64"), Ports: [][2]uint16{{443, 443}}},
		{Mark: 7, Proto: TCP, Addr: netip.MustParsePrefix("2001:db8:2::1/128")},
		{Mark: 5, Proto: TCP, Addr: netip.MustParsePrefix("10.0.0.1/32")},
	})
	a := func(s string) [16]byte { return netip.MustParseAddr(s).As16() }
	for _, c := range []struct {
		addr         string
		vip, answers bool
	}{
		{"2001:db8::100", true, true},
		{"2001:db8::1ff", true, true},
		{"2001:db8::200", false, false},
		{"2001:db8:1::abcd", true, false},
		{"2001:db8:2::1", false, false},
	} {
		if got := tbl.IsVIP6(a(c.addr)); got != c.vip {
			t.Errorf("IsVIP6(%s) = %v", c.addr, got)
		}
		if got := tbl.AnswersND(a(c.addr)); got != c.answers {
			t.Errorf("AnswersND(%s) = %v", c.addr, got)
		}
	}
	if !tbl.HasIPv6() || !tbl.WideVIPs6() || tbl.NumVIPs6() != 256 {
		t.Errorf("HasIPv6 %v WideVIPs6 %v NumVIPs6 %d", tbl.HasIPv6(), tbl.WideVIPs6(), tbl.NumVIPs6())
	}
	if s := tbl.Lookup6From(TCP, a("2001:db8:ffff::1"), a("2001:db8:1::abcd"), 443); s != v6 {
		t.Errorf("IPv6 packet of mark 5 found %+v", s)
	}
	if s := tbl.Lookup6From(TCP, a("2001:db8:ffff::1"), a("2001:db8:1::abcd"), 80); s != nil {
		t.Errorf("IPv6 port 80 outside the /64 rule's ports found %+v", s)
	}
	if s := tbl.Lookup6From(TCP, a("2001:db8:ffff::1"), a("2001:db8:2::1"), 80); s != nil {
		t.Errorf("mark 7 has an IPv4 service only, an IPv6 packet found %+v", s)
	}
	if s := tbl.Lookup(TCP, [4]byte{10, 0, 0, 1}, 80); s != v4 {
		t.Errorf("IPv4 packet of mark 5 found %+v", s)
	}
	if s := tbl.Lookup6Mark(5, TCP, a("2001:db8:9::1"), 1); s != v6 {
		t.Errorf("Lookup6Mark(5) found %+v", s)
	}
}
