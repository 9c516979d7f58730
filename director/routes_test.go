package director

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

func TestReadRoutes(t *testing.T) {
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
d-eth0	00000000	FE004D0A	0003	0	0	0	00000000	0	0	0
d-eth0	00004D0A	00000000	0001	0	0	0	00FFFFFF	0	0	0
d-eth1	00014D0A	00000000	0001	0	0	0	00FFFFFF	0	0	0
lo	0000007F	00000000	0001	0	0	0	000000FF	0	0	0
bad
`
	got := readRoutes(strings.NewReader(table), []string{"d-eth0", "d-eth1"})
	want := []vs.IPRoute{
		{Prefix: netip.MustParsePrefix("10.77.0.0/24"), Iface: 0},
		{Prefix: netip.MustParsePrefix("10.77.1.0/24"), Iface: 1},
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Iface: 0, Gateway: [4]byte{10, 77, 0, 254}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("route %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	tbl := vs.NewTable(1, nil, nil)
	tbl.Routes = got
	if i, hop, ok := tbl.NextHop([4]byte{10, 77, 1, 11}); !ok || i != 1 || hop != [4]byte{10, 77, 1, 11} {
		t.Errorf("on-link next hop: %d %v %v", i, hop, ok)
	}
	if i, hop, ok := tbl.NextHop([4]byte{192, 0, 2, 1}); !ok || i != 0 || hop != [4]byte{10, 77, 0, 254} {
		t.Errorf("default route next hop: %d %v %v", i, hop, ok)
	}
}
