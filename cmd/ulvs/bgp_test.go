package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/ctl"
)

func TestPrintBGP(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	st := &ctl.BGPStatus{LocalAS: 65001, RouterID: netip.MustParseAddr("10.77.0.2"), Quorum: 1, Drained: true,
		Peers: []ctl.BGPPeerStatus{
			{Address: netip.MustParseAddr("10.77.0.1"), AS: 65000, State: "established", HoldTime: 9, Since: now.Add(-90 * time.Second), UpdatesSent: 2, UpdatesReceived: 1},
			{Address: netip.MustParseAddr("10.77.1.1"), AS: 65002, State: "active", Flops: 3},
		},
		Addresses: []ctl.BGPAddressStatus{
			{Prefix: netip.MustParsePrefix("10.79.0.100/32"), Reason: "withdrawn: drained (ulvs bgp undrain announces again)"},
		},
	}
	var b bytes.Buffer
	printBGP(&b, st, now)
	want := `BGP AS 65001, router id 10.77.0.2, quorum 1: drained (routes withdrawn; ulvs bgp undrain)

PEER       AS     STATE        HOLD  SINCE      UPDATES OUT/IN  FLOPS
10.77.0.1  65000  established  9s    1m30s ago  2/1             0
10.77.1.1  65002  active       -     -          0/0             3

PREFIX          ANNOUNCED  WHY
10.79.0.100/32  no         withdrawn: drained (ulvs bgp undrain announces again)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// BFD and a warm-up.
	st.Drained, st.Warmup = false, "warming up until 00:00:10.0 UTC at most"
	st.Peers[0].BFD = "up"
	st.Addresses = []ctl.BGPAddressStatus{{Prefix: netip.MustParsePrefix("2001:db8:79::100/128"), Reason: "withdrawn: warming up"}}
	b.Reset()
	printBGP(&b, st, now)
	want = `BGP AS 65001, router id 10.77.0.2, quorum 1: warming up until 00:00:10.0 UTC at most (routes withdrawn)

PEER       AS     STATE        HOLD  SINCE      UPDATES OUT/IN  FLOPS  BFD
10.77.0.1  65000  established  9s    1m30s ago  2/1             0      up
10.77.1.1  65002  active       -     -          0/0             3      off

PREFIX                ANNOUNCED  WHY
2001:db8:79::100/128  no         withdrawn: warming up
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	printBGP(&b, nil, now)
	if !strings.Contains(b.String(), "no BGP configured") {
		t.Errorf("without BGP: %q", b.String())
	}
}

func TestBGPUsage(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		code    int
		wantErr string
	}{
		{nil, 2, "Usage: ulvs bgp status"},
		{[]string{"flap"}, 2, `unknown command "flap"`},
		{[]string{"drain", "now"}, 2, "Usage: ulvs bgp status"},
		{[]string{"drain", "--socket", "/nonexistent/ulvsd.sock"}, 1, "is ulvsd running"},
		{[]string{"status", "--socket", "/nonexistent/ulvsd.sock"}, 1, "is ulvsd running"},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"bgp"}, tt.args...), &out, &errb); code != tt.code || !strings.Contains(errb.String(), tt.wantErr) {
			t.Errorf("ulvs bgp %v: exit %d, stderr %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.wantErr)
		}
	}
}
