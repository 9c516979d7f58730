package tomlfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	out, err := MarshalTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`address = "[2001:db8::100]:53"`, `persistence_netmask = "56"`, `address = "[2001:db8:1::6]:5353"`} {
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
}
