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
