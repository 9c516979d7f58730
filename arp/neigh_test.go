package arp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// procNetARP is /proc/net/arp as net/ipv4/arp.c arp_seq_show prints it,
// with one entry of each kind.
const procNetARP = `IP address       HW type     Flags       HW address            Mask     Device
10.77.0.11       0x1         0x2         02:00:00:00:00:0b     *        d-eth0
10.77.0.12       0x1         0x0         00:00:00:00:00:00     *        d-eth0
10.77.0.13       0x1         0x6         02:00:00:00:00:0d     *        d-eth0
10.77.0.14       0x1         0x2         02:00:00:00:00:0e     *        d-eth1
10.77.0.15       0x1         0x2         00:00:00:00:00:00     *        d-eth0
10.77.0.16       0x1         0xc         02:00:00:00:00:10     *        d-eth0
10.77.0.17       0x1         0x2         02:00:00:00:00:11     *
not an address   0x1         0x2         02:00:00:00:00:12     *        d-eth0
10.77.0.19       0x1         zz          02:00:00:00:00:13     *        d-eth0
10.77.0.20       0x1         0x2         02:00:00:00:00       *        d-eth0
10.77.0.21       0x1         0x2         02:00:00:00:00:15:16  *        d-eth0
`

func TestParseNeighbours(t *testing.T) {
	tests := []struct {
		name  string
		iface string
		want  map[netip.Addr][6]byte
	}{
		{
			name:  "one interface",
			iface: "d-eth0",
			want: map[netip.Addr][6]byte{
				netip.MustParseAddr("10.77.0.11"): {2, 0, 0, 0, 0, 0x0b},
				netip.MustParseAddr("10.77.0.13"): {2, 0, 0, 0, 0, 0x0d}, // permanent
			},
		},
		{
			name: "all interfaces",
			want: map[netip.Addr][6]byte{
				netip.MustParseAddr("10.77.0.11"): {2, 0, 0, 0, 0, 0x0b},
				netip.MustParseAddr("10.77.0.13"): {2, 0, 0, 0, 0, 0x0d},
				netip.MustParseAddr("10.77.0.14"): {2, 0, 0, 0, 0, 0x0e},
			},
		},
		{name: "no such interface", iface: "eth9", want: map[netip.Addr][6]byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseNeighbours(strings.NewReader(procNetARP), tt.iface)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseNeighbours(%q) mismatch (-want +got):\n%s", tt.iface, diff)
			}
		})
	}
}

func TestParseNeighboursHeaderOnly(t *testing.T) {
	got := parseNeighbours(strings.NewReader(procNetARP[:strings.IndexByte(procNetARP, '\n')+1]), "")
	if len(got) != 0 {
		t.Errorf("got %v from the header alone, want nothing", got)
	}
}

// TestReadNeighbours reads this host's table: it must not fail, and
// whatever it returns must be complete IPv4 entries.
func TestReadNeighbours(t *testing.T) {
	for addr, mac := range ReadNeighbours("") {
		if !addr.Is4() || mac == ([6]byte{}) {
			t.Errorf("ReadNeighbours returned %v -> %x", addr, mac)
		}
	}
}

func FuzzParseNeighbours(f *testing.F) {
	f.Add(procNetARP, "d-eth0")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, text, iface string) {
		for addr, mac := range parseNeighbours(strings.NewReader(text), iface) {
			if !addr.Is4() || mac == ([6]byte{}) {
				t.Errorf("returned %v -> %x", addr, mac)
			}
		}
	})
}
