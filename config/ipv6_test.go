package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

func TestParseAddrPort(t *testing.T) {
	tests := []struct {
		in       string
		addr     string
		port     uint16
		withPort bool
		msg      string
	}{
		{in: "10.0.0.1:80", addr: "10.0.0.1", port: 80, withPort: true},
		{in: "10.0.0.1", addr: "10.0.0.1"},
		{in: "[2001:db8::1]:80", addr: "2001:db8::1", port: 80, withPort: true},
		{in: "2001:db8::1", addr: "2001:db8::1"},
		{in: "2001:db8::1:80", addr: "2001:db8::1:80"}, // an address, as ipvsadm's inet_pton reads it
		{in: "[2001:db8::1]", msg: "must be"},
		{in: "[fe80::1%eth0]:80", msg: "zone"},
		{in: "[fe80::1]:80", msg: "not a unicast"},
		{in: "[ff02::1]:80", msg: "not a unicast"},
		{in: "[::]:80", msg: "not a unicast"},
		{in: "[::ffff:10.0.0.1]:80", msg: "IPv4-mapped"},
		{in: "[2001:db8::1]:99999", msg: "must be"},
	}
	for _, tt := range tests {
		a, p, wp, msg := ParseAddrPort(tt.in)
		if tt.msg != "" {
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("%q: message %q, want one with %q", tt.in, msg, tt.msg)
			}
			continue
		}
		if msg != "" || a != netip.MustParseAddr(tt.addr) || p != tt.port || wp != tt.withPort {
			t.Errorf("%q: %v %d %v %q", tt.in, a, p, wp, msg)
		}
	}
}

// FuzzParseAddrPort: any text either parses into a unicast address of
// either family or is refused with a message; never both, never a panic.
func FuzzParseAddrPort(f *testing.F) {
	for _, s := range []string{"10.0.0.1:80", "[2001:db8::1]:80", "2001:db8::1", "[fe80::1%eth0]:80", "[::ffff:1.2.3.4]:1", "[", "1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, _, _, msg := ParseAddrPort(s)
		if msg == "" && !Unicast(a) {
			t.Fatalf("%q accepted as %v, which is not unicast", s, a)
		}
		if msg != "" && a.IsValid() {
			t.Fatalf("%q refused (%s) but returned %v", s, msg, a)
		}
	})
}

func TestIPv6MaskBits(t *testing.T) {
	for _, n := range []int{1, 7, 8, 48, 64, 127} {
		if got := MaskBits(IPv6Mask(n), true); got != n {
			t.Errorf("MaskBits(IPv6Mask(%d)) = %d", n, got)
		}
	}
	if IPv6Mask(128).IsValid() || MaskBits(netip.Addr{}, true) != 128 || MaskBits(netip.Addr{}, false) != 32 {
		t.Error("128 is the default, stored as the invalid Addr")
	}
}

func TestCheckFamily(t *testing.T) {
	v6 := Service{Proto: vs.TCP, Addr: netip.MustParseAddr("2001:db8::100"), Port: 80}
	d6 := func(m vs.Method) *Dest { return &Dest{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Method: m} }
	if err := CheckFamily(&v6, true, d6(vs.Route)); err != nil {
		t.Errorf("DR: %v", err)
	}
	if err := CheckFamily(&v6, true, d6(vs.Masq)); err != nil {
		t.Errorf("NAT66: %v", err)
	}
	fnat := v6
	fnat.LocalAddrs = []netip.Addr{netip.MustParseAddr("2001:db8:1::200")}
	if err := CheckFamily(&fnat, true, d6(vs.FullNAT)); err != nil {
		t.Errorf("FULLNAT with IPv6 local addresses: %v", err)
	}
	if err := CheckFamily(&Service{Proto: vs.TCP, Addr: v6.Addr, Port: 80, SynProxy: true}, true, d6(vs.Masq)); err != nil {
		t.Errorf("SYN proxy on an IPv6 service: %v", err)
	}
	// Tunnelling: ip6ip6, and the mixed families the kernel tunnels.
	v4 := Service{Proto: vs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}
	d4 := func(m vs.Method) *Dest { return &Dest{Addr: netip.MustParseAddr("10.0.0.11"), Port: 80, Method: m} }
	for name, err := range map[string]error{
		"ip6ip6":       CheckFamily(&v6, true, d6(vs.Tunnel)),
		"IPv4 in IPv6": CheckFamily(&v4, false, d6(vs.Tunnel)),
		"IPv6 in IPv4": CheckFamily(&v6, true, d4(vs.Tunnel)),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Other methods across families: EINVAL, as the kernel.
	for _, m := range []vs.Method{vs.Route, vs.Masq, vs.FullNAT} {
		if err := CheckFamily(&v4, false, d6(m)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v IPv6 real server in an IPv4 service: %v, want ErrInvalid", m, err)
		}
		if err := CheckFamily(&v6, true, d4(m)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v IPv4 real server in an IPv6 service: %v, want ErrInvalid", m, err)
		}
	}
	// IPv6 firewall-mark services (issue #17): IPv6 real servers, IPv4
	// ones tunnelled; an IPv4 mark service takes IPv6 ones tunnelled
	// only. An IPv6 port-21 service (the FTP rule) is accepted.
	fwm6 := Service{Proto: vs.TCP, FwMark: 3, Addr: FwMark6Addr}
	fwm4 := Service{Proto: vs.TCP, FwMark: 3}
	for name, err := range map[string]error{
		"fwmark v6 DR":      CheckFamily(&fwm6, true, d6(vs.Route)),
		"fwmark v6 NAT66":   CheckFamily(&fwm6, true, d6(vs.Masq)),
		"fwmark v6 ip6ip6":  CheckFamily(&fwm6, true, d6(vs.Tunnel)),
		"fwmark v6, v4 TUN": CheckFamily(&fwm6, true, d4(vs.Tunnel)),
		"fwmark v4, v6 TUN": CheckFamily(&fwm4, false, d6(vs.Tunnel)),
		"ftp":               CheckFamily(&Service{Proto: vs.TCP, Addr: v6.Addr, Port: 21}, true, nil),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckFamily(&fwm6, true, d4(vs.Route)); !errors.Is(err, ErrInvalid) {
		t.Errorf("IPv4 DR real server in an IPv6 mark service: %v, want ErrInvalid", err)
	}
	if err := CheckFamily(&fwm4, false, d6(vs.Masq)); !errors.Is(err, ErrInvalid) {
		t.Errorf("IPv6 NAT real server in an IPv4 mark service: %v, want ErrInvalid", err)
	}
	if !fwm6.IPv6() || fwm4.IPv6() || fwm6.Key() == fwm4.Key() || fwm6.Key().Name() != "FWM 3 IPv6" {
		t.Errorf("the families of mark 3: %v %v, keys %+v %+v", fwm6.IPv6(), fwm4.IPv6(), fwm6.Key(), fwm4.Key())
	}
	nat64 := v6
	nat64.LocalAddrs = []netip.Addr{netip.MustParseAddr("10.0.0.200")}
	nat46 := Service{Proto: vs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, LocalAddrs: fnat.LocalAddrs}
	for name, err := range map[string]error{
		"nat64": CheckFamily(&nat64, true, d6(vs.FullNAT)),
		"nat46": CheckFamily(&nat46, false, nil),
	} {
		if !errors.Is(err, ErrIPv6NotYet) || !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "issue #17") {
			t.Errorf("%s: %v, want ErrIPv6NotYet naming issue #17", name, err)
		}
	}
}
