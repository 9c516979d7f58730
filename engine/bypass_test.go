package engine

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

func TestBypassRuleset(t *testing.T) {
	svc := func(proto vs.Protocol, addr string, port uint16) *vs.Service {
		return &vs.Service{Proto: proto, Addr: netip.MustParseAddr(addr), Port: port}
	}
	tbl := &vs.Table{Services: []*vs.Service{
		svc(vs.UDP, "10.77.0.100", 9),
		svc(vs.TCP, "10.77.0.100", 80),
		svc(vs.TCP, "10.77.0.100", 80), // twice: listed once
		svc(vs.TCP, "10.77.0.101", 0),  // every port
		svc(vs.TCP, "2001:db8::1", 80), // IPv6: not in the ip table
		{Proto: vs.TCP, FwMark: 7},     // mark service: no address
	}}
	got := bypassRuleset([]string{"d-eth0", "d-eth1"}, bypassServices(tbl))
	want := `add table netdev ulvs_bypass
delete table netdev ulvs_bypass
table netdev ulvs_bypass {
	set svc { type ipv4_addr . inet_proto . inet_service; elements = { 10.77.0.100 . tcp . 80, 10.77.0.100 . udp . 9 } }
	set vip { type ipv4_addr . inet_proto; elements = { 10.77.0.101 . tcp } }
	chain in0 {
		type filter hook ingress device "d-eth0" priority 0; policy accept;
		ip daddr . meta l4proto . th dport @svc drop
		ip daddr . meta l4proto @vip drop
	}
	chain in1 {
		type filter hook ingress device "d-eth1" priority 0; policy accept;
		ip daddr . meta l4proto . th dport @svc drop
		ip daddr . meta l4proto @vip drop
	}
}
`
	if got != want {
		t.Errorf("ruleset:\n%s\nwant:\n%s", got, want)
	}
	// Nothing to drop: the script only removes the table.
	for _, text := range []string{bypassRuleset(nil, bypassServices(tbl)), bypassRuleset([]string{"d-eth0"}, nil)} {
		if strings.Contains(text, "chain") || !strings.HasSuffix(text, "delete table netdev ulvs_bypass\n") {
			t.Errorf("empty ruleset:\n%s", text)
		}
	}
}
