package tomlfile

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// TestIPv6RoundTrip writes IPv6 services as TOML and reads them back:
// addresses in brackets, the persistence granularity as a prefix length.
func TestIPv6RoundTrip(t *testing.T) {
	in := fileHead + `
[[virtual_server]]
protocol = "udp"
address = "[2001:db8::100]:53"
scheduler = "mh"
forward = "nat"
persistence_timeout = 60
persistence_netmask = "/56"
  [[virtual_server.real_server]]
  address = "[2001:db8:1::5]:5353"
  [[virtual_server.real_server]]
  address = "[2001:db8:1::6]:5353"
  weight = 3
`
	f, err := Parse("ulvs.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, f, `address = "[2001:db8::100]:53"`, `persistence_netmask = "56"`, `address = "[2001:db8:1::6]:5353"`)
}

// roundTrip writes f as TOML, checks that the text holds each of wants,
// reads it back and checks that the rules and marks came back the same.
func roundTrip(t *testing.T, f *config.File, wants ...string) {
	t.Helper()
	out, err := MarshalTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range wants {
		if !strings.Contains(string(out), want) {
			t.Errorf("MarshalTOML lacks %s:\n%s", want, out)
		}
	}
	back, err := Parse("ulvs.toml", out)
	if err != nil {
		t.Fatalf("reading back: %v\n%s", err, out)
	}
	if diff := cmp.Diff(f.Rules, back.Rules, fileCmpAddr); diff != "" {
		t.Errorf("round trip changed the rules (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(f.Marks, back.Marks, fileCmpAddr); diff != "" {
		t.Errorf("round trip changed the marks (-first +second):\n%s", diff)
	}
}

// TestIPv6Health: checks of an IPv6 real server, an IPv6 connect_ip and
// sorry server; a sorry server of the other family is refused.
func TestIPv6Health(t *testing.T) {
	in := fileHead + `
[[virtual_server]]
address = "[2001:db8::100]:80"
sorry_server = "[2001:db8::99]:80"
  [[virtual_server.real_server]]
  address = "[2001:db8::11]:80"
    [[virtual_server.real_server.check]]
    type = "http"
    connect_ip = "2001:db8::12"
    url = [{ path = "/", status_code = 200 }]
`
	f, err := Parse("ulvs.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	vh := f.Health[0]
	if vh.Sorry == nil || vh.Sorry.Addr.String() != "2001:db8::99" || vh.Reals[0].Checks[0].ConnectIP.String() != "2001:db8::12" {
		t.Errorf("health: %+v", vh)
	}
	out, err := MarshalTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("ulvs.toml", out); err != nil {
		t.Errorf("written file does not read back: %v\n%s", err, out)
	}
	bad := strings.Replace(in, `sorry_server = "[2001:db8::99]:80"`, `sorry_server = "10.0.0.99:80"`, 1)
	if _, err := Parse("ulvs.toml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "issue #17") {
		t.Errorf("IPv4 sorry server for an IPv6 service: %v", err)
	}
}

// TestIPv6FullNAT reads an IPv6 FULLNAT service with IPv6 local addresses
// and the SYN proxy and writes it back; an IPv4 local address on it is
// refused (NAT64).
func TestIPv6FullNAT(t *testing.T) {
	in := fileHead + `
[[virtual_server]]
address = "[2001:db8::100]:80"
forward = "fullnat"
local_addresses = ["2001:db8:1::200", "2001:db8:1::201"]
synproxy = true
  [[virtual_server.real_server]]
  address = "[2001:db8:1::5]:8080"
`
	f, err := Parse("ulvs.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Rules.Services[0]
	if len(s.LocalAddrs) != 2 || s.LocalAddrs[1] != netip.MustParseAddr("2001:db8:1::201") || s.Dests[0].Method != vs.FullNAT || !s.SynProxy {
		t.Fatalf("service %+v", s)
	}
	out, err := MarshalTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `local_addresses = ["2001:db8:1::200", "2001:db8:1::201"]`) {
		t.Errorf("MarshalTOML:\n%s", out)
	}
	back, err := Parse("ulvs.toml", out)
	if err != nil {
		t.Fatalf("reading back: %v\n%s", err, out)
	}
	if diff := cmp.Diff(f.Rules, back.Rules, fileCmpAddr); diff != "" {
		t.Errorf("round trip changed the rules (-first +second):\n%s", diff)
	}
	_, err = Parse("ulvs.toml", []byte(strings.Replace(in, `"2001:db8:1::201"`, `"10.0.0.1"`, 1)))
	if err == nil || !strings.Contains(err.Error(), "local_addresses[1]: 10.0.0.1 is not of the service's address family (NAT64/NAT46): not supported yet (ulvs issue #17, IPv6)") {
		t.Errorf("IPv4 local address on an IPv6 service: %v", err)
	}
}

// TestIPv6Tunnel: forward = "tun" to IPv6 real servers and across
// families (IPv4 in IPv6, IPv6 in IPv4), written back the same way;
// another method across families is refused.
func TestIPv6Tunnel(t *testing.T) {
	in := fileHead + `
[[virtual_server]]
address = "[2001:db8::100]:80"
forward = "tun"
  [[virtual_server.real_server]]
  address = "2001:db8::5"
  [[virtual_server.real_server]]
  address = "10.0.0.5"
[[virtual_server]]
address = "10.0.0.100:80"
  [[virtual_server.real_server]]
  address = "[2001:db8::6]:80"
  forward = "tun"
`
	f, err := Parse("ulvs.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.Rules.Services); n != 2 || len(f.Rules.Services[0].Dests) != 2 || len(f.Rules.Services[1].Dests) != 1 {
		t.Fatalf("rules: %+v", f.Rules)
	}
	out, err := MarshalTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("ulvs.toml", out)
	if err != nil {
		t.Fatalf("reading back: %v\n%s", err, out)
	}
	if diff := cmp.Diff(f.Rules, back.Rules, fileCmpAddr); diff != "" {
		t.Errorf("round trip changed the rules (-first +second):\n%s", diff)
	}
	dr := strings.Replace(in, "  forward = \"tun\"\n", "  forward = \"dr\"\n", 1)
	if _, err := Parse("ulvs.toml", []byte(dr)); err == nil || !strings.Contains(err.Error(), "only tunnelling") {
		t.Errorf("a DR IPv6 real server in an IPv4 service: %v", err)
	}
}

// TestIPv6FwMarkRoundTrip: IPv4 and IPv6 fwmark services of one mark
// (family = "ipv6", ipvsadm's -f N -6), IPv6 [[fwmark]] matches with a
// source prefix, written back and read again the same.
func TestIPv6FwMarkRoundTrip(t *testing.T) {
	in := fileHead + `
[[fwmark]]
mark = 5
  [[fwmark.match]]
  address = "2001:db8::100"
  ports = [80, 443]
  [[fwmark.match]]
  protocol = "udp"
  address = "2001:db8:1::/120"
  source = "2001:db8:ffff::/48"
  ports = ["8000-8100"]
  [[fwmark.match]]
  address = "10.0.0.1"
  ports = [80]

[[virtual_server]]
fwmark = 5
family = "ipv6"
scheduler = "rr"
persistence_timeout = 300
persistence_netmask = "64"
  [[virtual_server.real_server]]
  address = "2001:db8::11"
  [[virtual_server.real_server]]
  address = "10.0.0.12"
  forward = "tun"

[[virtual_server]]
fwmark = 5
scheduler = "wlc"
  [[virtual_server.real_server]]
  address = "10.0.0.11"
`
	f, err := Parse("ulvs.toml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rules.Services) != 2 || !f.Rules.Services[0].IPv6() || f.Rules.Services[1].IPv6() ||
		f.Rules.Services[0].Key() == f.Rules.Services[1].Key() || f.Rules.Services[0].Netmask != config.IPv6Mask(64) {
		t.Fatalf("services %+v", f.Rules.Services)
	}
	if m := f.Marks[0].Matches[1]; m.Addr != netip.MustParsePrefix("2001:db8:1::/120") || m.Src != netip.MustParsePrefix("2001:db8:ffff::/48") || m.Proto != vs.UDP {
		t.Errorf("IPv6 match %+v", m)
	}
	roundTrip(t, f, `family = "ipv6"`, `address = "2001:db8::100"`, `source = "2001:db8:ffff::/48"`, `persistence_netmask = "64"`)
}
