package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config/tomlfile"
	"github.com/ulvs/ulvs/lab"
)

// The dual-stack, BFD and warm-up variants of the scale lab's files: the
// directors' ulvs.toml parses with what was asked for, and BIRD's
// configuration has the IPv6 channel and kernel protocol and BFD.
func TestScaleLabFiles(t *testing.T) {
	s := &lab.Scale{Prefix: "t", HoldTime: 9 * time.Second, BFD: true,
		DIPs: []netip.Addr{netip.MustParseAddr("10.77.0.2")}, DIPs6: []netip.Addr{netip.MustParseAddr("2001:db8:77::2")},
		RIPs: []netip.Addr{netip.MustParseAddr("10.77.0.11")}, RIPs6: []netip.Addr{netip.MustParseAddr("2001:db8:77::11")}}
	f, err := tomlfile.Parse("d1.toml", []byte(s.ScaleDirectorConfig(0, lab.ScaleDirectorOptions{Socket: "/run/x.sock", Warmup: 5 * time.Second})))
	if err != nil {
		t.Fatal(err)
	}
	if f.BGP == nil || f.BGP.Warmup != 5*time.Second || len(f.BGP.Peers) != 1 || !f.BGP.Peers[0].BFD {
		t.Fatalf("[bgp] %+v", f.BGP)
	}
	v6 := false
	for _, svc := range f.Rules.Services {
		if svc.Addr == lab.ScaleVIP6 && len(svc.Dests) == 1 && svc.Dests[0].Addr == s.RIPs6[0] {
			v6 = true
		}
	}
	if !v6 {
		t.Errorf("no IPv6 service to %v: %+v", s.RIPs6, f.Rules.Services)
	}
	if flags := strings.Join(s.ScaleBGPFlags(0), " "); !strings.Contains(flags, "bfd:65000@10.77.0.1") {
		t.Errorf("flags %s", flags)
	}
	bird := s.BIRDConfig()
	for _, want := range []string{"protocol bfd {", "bfd on;", "\tipv6 {\n\t\timport all;", "merge paths on;\n\tipv6 {"} {
		if !strings.Contains(bird, want) {
			t.Errorf("bird.conf lacks %q:\n%s", want, bird)
		}
	}
}
