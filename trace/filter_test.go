package trace

import (
	"errors"
	"net/netip"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// A SYN from the client to the VIP, scheduled to rs1 by NAT, and rs1's
// reply; a health event for rs2.
var (
	synIn = Event{Kind: KindPacket, Proto: "tcp", Src: ap("10.77.0.10:4000"), Dst: ap("10.77.0.100:80"),
		Service: "TCP 10.77.0.100:80", Dest: ap("10.77.1.11:80"), OutSrc: ap("10.77.0.10:4000"), OutDst: ap("10.77.1.11:80")}
	reply = Event{Kind: KindPacket, Proto: "tcp", Src: ap("10.77.1.11:80"), Dst: ap("10.77.0.10:4000"),
		Service: "TCP 10.77.0.100:80", Dest: ap("10.77.1.11:80"), OutSrc: ap("10.77.0.100:80"), OutDst: ap("10.77.0.10:4000")}
	udp    = Event{Kind: KindPacket, Proto: "udp", Src: ap("10.77.0.10:5353"), Dst: ap("10.77.0.100:53"), Service: "none"}
	arp    = Event{Kind: KindPacket, Proto: "arp"}
	health = Event{Kind: KindHealth, Service: "TCP 10.77.0.100:80", Dest: ap("10.77.1.12:80"), Text: "down"}
	vrrp   = Event{Kind: KindVRRP, Addrs: []netip.Addr{netip.MustParseAddr("10.77.0.100")}}
)

func TestFilterMatch(t *testing.T) {
	all := []*Event{&synIn, &reply, &udp, &arp, &health, &vrrp}
	tests := []struct {
		filter string
		want   []*Event
	}{
		{"", all},
		{"tcp", []*Event{&synIn, &reply, &health}},
		{"udp or arp", []*Event{&udp, &arp}},
		{"not tcp", []*Event{&udp, &arp, &vrrp}},
		{"!tcp && !arp", []*Event{&udp, &vrrp}},
		{"host 10.77.1.11", []*Event{&synIn, &reply}},
		{"src host 10.77.1.11", []*Event{&reply}},
		{"dst host 10.77.1.11", []*Event{&synIn}},
		{"host 10.77.0.100", []*Event{&synIn, &reply, &udp, &health, &vrrp}},
		{"net 10.77.1.0/24", []*Event{&synIn, &reply, &health}},
		{"port 53", []*Event{&udp}},
		{"dst port 80", []*Event{&synIn, &health}},
		{"src port 80", []*Event{&reply, &health}},
		{"tcp and (port 4000 or port 53)", []*Event{&synIn, &reply}},
		{"(tcp or udp) and not port 80", []*Event{&udp}},
		{"-t 10.77.0.100:80", []*Event{&synIn, &reply, &health}},
		{"-u 10.77.0.100:53", []*Event{&udp}},
		{"-r 10.77.1.11:80", []*Event{&synIn, &reply}},
		{"-r 10.77.1.12", []*Event{&health}},
		{"-t 10.77.0.100:80 -r 10.77.1.11:80", []*Event{&synIn, &reply}},
		{"ip", []*Event{&synIn, &reply, &udp, &health, &vrrp}},
	}
	for _, tt := range tests {
		f, err := Parse(tt.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.filter, err)
			continue
		}
		var got []*Event
		for _, e := range all {
			if f.Match(e) {
				got = append(got, e)
			}
		}
		if len(got) != len(tt.want) {
			t.Errorf("%q matched %d events, want %d", tt.filter, len(got), len(tt.want))
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q: event %d is %+v, want %+v", tt.filter, i, *got[i], *tt.want[i])
			}
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, s := range []string{
		"host", "host foo", "host fe80::1%eth0", "port 70000", "port x", "(tcp", "tcp)", "tcp and", "or tcp",
		"src tcp", "-t", "-t 10.0.0.1", "-r foo:80", "-f 1", "frobnicate", "not", "net 10.0.0.0/40", "tcp\x00",
	} {
		if _, err := Parse(s); !errors.Is(err, ErrFilter) {
			t.Errorf("Parse(%q) = %v, want ErrFilter", s, err)
		}
	}
}

// FuzzParse: any input parses or fails with ErrFilter, never panics, and a
// filter that parses matches events without panicking and parses again
// from its own text to the same verdicts.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"tcp and port 80", "host 10.0.0.1 or (udp and not dst port 53)", "-t 1.2.3.4:80 -r 5.6.7.8",
		"!(arp||icmp)&&src net 10.0.0.0/8", "((((tcp))))", "not not not tcp"} {
		f.Add(s)
	}
	all := []*Event{&synIn, &reply, &udp, &arp, &health, &vrrp}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrFilter) {
				t.Fatalf("Parse(%q) error %v is not ErrFilter", s, err)
			}
			return
		}
		again, err := Parse(flt.String())
		if err != nil {
			t.Fatalf("Parse(%q) ok but its text %q fails: %v", s, flt.String(), err)
		}
		for _, e := range all {
			if flt.Match(e) != again.Match(e) {
				t.Fatalf("%q and its text %q disagree on %+v", s, flt.String(), *e)
			}
		}
	})
}
