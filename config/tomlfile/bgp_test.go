package tomlfile

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/config"
)

const bgpHead = "[bgp]\nlocal_as = 65001\nrouter_id = \"10.0.0.2\"\n"

// bgpParseTests are [bgp] tables (after fileHead, whose two lines put
// [bgp] on line 3) with the BGP they give or the error they get. FuzzParse
// takes them as seeds.
var bgpParseTests = []struct {
	name, text string
	want       *config.BGP // nil with err
	err        string
}{
	{
		name: "minimal",
		text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		want: &config.BGP{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.2"), HoldTime: 90 * time.Second,
			Quorum: 1, ShutdownDelay: 2 * time.Second,
			Peers: []config.BGPPeer{{Address: netip.MustParseAddr("10.0.0.1"), AS: 65000}}},
	},
	{
		name: "full",
		text: bgpHead + "hold_time = 9\nnext_hop = \"10.0.0.3\"\nquorum = 3\nshutdown_delay = 0.5\nlisten_port = 1179\n" +
			"[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 4200000000\nport = 1790\n" +
			"[[bgp.peer]]\naddress = \"10.0.1.1\"\nas = 65000\npassive = true\n",
		want: &config.BGP{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.2"), HoldTime: 9 * time.Second,
			NextHop: netip.MustParseAddr("10.0.0.3"), Quorum: 3, ShutdownDelay: 500 * time.Millisecond, ListenPort: 1179,
			Peers: []config.BGPPeer{
				{Address: netip.MustParseAddr("10.0.0.1"), AS: 4200000000, Port: 1790},
				{Address: netip.MustParseAddr("10.0.1.1"), AS: 65000, Passive: true},
			}},
	},
	{
		name: "hold time zero",
		text: bgpHead + "hold_time = 0\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		want: &config.BGP{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.2"), Quorum: 1, ShutdownDelay: 2 * time.Second,
			Peers: []config.BGPPeer{{Address: netip.MustParseAddr("10.0.0.1"), AS: 65000}}},
	},
	{name: "no local as", text: "[bgp]\nrouter_id = \"10.0.0.2\"\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:3: bgp.local_as: required"},
	{name: "no router id", text: "[bgp]\nlocal_as = 1\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:3: bgp.router_id: required"},
	{name: "no peer", text: bgpHead, err: "fuzz.toml:3: bgp.peer: required: at least one [[bgp.peer]]"},
	{name: "hold time 2", text: bgpHead + "hold_time = 2\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:6: bgp.hold_time: must be 0 or between 3 and 65535 seconds"},
	{name: "hold time too big", text: bgpHead + "hold_time = 65536\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:6: bgp.hold_time: must be between 0 and 65535"},
	{name: "router id v6", text: "[bgp]\nlocal_as = 65001\nrouter_id = \"2001:db8::1\"\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:5: bgp.router_id: must be an IPv4 address (got \"2001:db8::1\")"},
	{
		name: "IPv6 peer, next hop, warm-up, BFD",
		text: bgpHead + "next_hop6 = \"2001:db8::2\"\nwarmup = 10\n[[bgp.peer]]\naddress = \"2001:db8::1\"\nas = 65000\nbfd = true\n" +
			"[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\nbfd = true\nbfd_interval = 0.05\nbfd_multiplier = 5\n",
		want: &config.BGP{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.2"), HoldTime: 90 * time.Second,
			NextHop6: netip.MustParseAddr("2001:db8::2"), Warmup: 10 * time.Second, Quorum: 1, ShutdownDelay: 2 * time.Second,
			Peers: []config.BGPPeer{
				{Address: netip.MustParseAddr("2001:db8::1"), AS: 65000, BFD: true, BFDInterval: 300 * time.Millisecond, BFDMultiplier: 3},
				{Address: netip.MustParseAddr("10.0.0.1"), AS: 65000, BFD: true, BFDInterval: 50 * time.Millisecond, BFDMultiplier: 5},
			}},
	},
	{name: "peer link-local", text: bgpHead + "[[bgp.peer]]\naddress = \"fe80::1\"\nas = 65000\n",
		err: "fuzz.toml:7: bgp.peer[0].address: must be a global unicast IPv6 address"},
	{name: "next hop v6", text: bgpHead + "next_hop = \"::1\"\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:6: bgp.next_hop: must be an IPv4 address"},
	{name: "next hop6 v4", text: bgpHead + "next_hop6 = \"10.0.0.2\"\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:6: bgp.next_hop6: must be an IPv6 address"},
	{name: "bfd interval without bfd", text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\nbfd_interval = 1\n",
		err: "fuzz.toml:9: bgp.peer[0].bfd_interval: needs bfd = true"},
	{name: "bfd interval too short", text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\nbfd = true\nbfd_interval = 0.001\n",
		err: "fuzz.toml:10: bgp.peer[0].bfd_interval: must be between 0.01 and 60 seconds"},
	{name: "warmup too long", text: bgpHead + "warmup = 3601\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:6: bgp.warmup: must be between 0 and 1800 seconds"},
	{name: "peer bad address", text: bgpHead + "[[bgp.peer]]\naddress = \"router\"\nas = 65000\n",
		err: "fuzz.toml:7: bgp.peer[0].address: must be an IPv4 or IPv6 address (got \"router\")"},
	{name: "peer no as", text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\n",
		err: "fuzz.toml:6: bgp.peer[0].as: required"},
	{name: "peer as zero", text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 0\n",
		err: "fuzz.toml:8: bgp.peer[0].as: must be between 1 and 4294967295"},
	{name: "ibgp", text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65001\n",
		err: "fuzz.toml:8: bgp.peer[0].as: is the local AS 65001: ulvs speaks eBGP only"},
	{name: "duplicate peer", text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65002\n",
		err: "fuzz.toml:10: bgp.peer[1].address: duplicate of peer[0]"},
	{name: "unknown key", text: bgpHead + "holdtime = 9\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:6: bgp.holdtime: unknown key (did you mean \"hold_time\"?)"},
	{name: "unknown peer key", text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\nremote_as = 65000\n",
		err: "fuzz.toml:6: bgp.peer[0].as: required"},
	{name: "port zero", text: bgpHead + "[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\nport = 0\n",
		err: "fuzz.toml:9: bgp.peer[0].port: must be between 1 and 65535"},
	{name: "quorum zero", text: bgpHead + "quorum = 0\n[[bgp.peer]]\naddress = \"10.0.0.1\"\nas = 65000\n",
		err: "fuzz.toml:6: bgp.quorum: must be between 1 and 4294967295"},
	{name: "peer not a table", text: bgpHead + "peer = 3\n", err: "fuzz.toml:6: bgp.peer: must be an array of tables"},
}

func TestParseBGP(t *testing.T) {
	for _, tt := range bgpParseTests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("fuzz.toml", []byte(fileHead+tt.text))
			if tt.want == nil {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("got error %v, want one starting %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, f.BGP, fileCmpAddr); diff != "" {
				t.Errorf("BGP (-want +got):\n%s", diff)
			}
			assertMarshalRoundTrip(t, f)
		})
	}
}

// checkBGP verifies what every accepted [bgp] holds.
func checkBGP(b *config.BGP) error {
	if b == nil {
		return nil
	}
	if field, msg := config.CheckBGP(b); msg != "" {
		return fmt.Errorf("bgp.%s: %s", field, msg)
	}
	if msg := config.CheckBGPHoldTime(b.HoldTime); msg != "" || b.Quorum == 0 || b.ShutdownDelay < 0 || b.ShutdownDelay > config.MaxBGPShutdownDelay {
		return fmt.Errorf("bgp: hold time %v quorum %d shutdown delay %v", b.HoldTime, b.Quorum, b.ShutdownDelay)
	}
	for _, a := range append([]netip.Addr{b.RouterID}, b.NextHop) {
		if a.IsValid() && config.CheckBGPAddr(a, a.String()) != "" {
			return fmt.Errorf("bgp: address %v", a)
		}
	}
	if b.NextHop6.IsValid() && config.CheckBGPAddr6(b.NextHop6, b.NextHop6.String()) != "" {
		return fmt.Errorf("bgp: next_hop6 %v", b.NextHop6)
	}
	if b.Warmup < 0 || b.Warmup > config.MaxBGPWarmup {
		return fmt.Errorf("bgp: warmup %v", b.Warmup)
	}
	for _, p := range b.Peers {
		if p.BFD != (p.BFDInterval != 0) || p.BFD && (config.CheckBFDInterval(p.BFDInterval) != "" || p.BFDMultiplier == 0) {
			return fmt.Errorf("bgp: peer BFD %+v", p)
		}
		if config.CheckBGPPeerAddr(p.Address, p.Address.String()) != "" || p.AS == 0 {
			return fmt.Errorf("bgp: peer %+v", p)
		}
	}
	return nil
}

func TestParseBGPPeerFlag(t *testing.T) {
	tests := []struct {
		in   string
		want config.BGPPeer
		err  string
	}{
		{in: "65000@10.0.0.1", want: config.BGPPeer{AS: 65000, Address: netip.MustParseAddr("10.0.0.1")}},
		{in: "passive:65000@10.0.0.1:1179", want: config.BGPPeer{AS: 65000, Address: netip.MustParseAddr("10.0.0.1"), Port: 1179, Passive: true}},
		{in: "10.0.0.1", err: "want AS@ADDRESS[:PORT]"},
		{in: "0@10.0.0.1", err: "AS must be a number"},
		{in: "65000@10.0.0.1:0", err: "port must be a number"},
		{in: "65000@10.0.0.1:", err: "empty port"},
		{in: "65000@2001:db8::1", want: config.BGPPeer{AS: 65000, Address: netip.MustParseAddr("2001:db8::1")}},
		{in: "bfd:passive:65000@[2001:db8::1]:179", want: config.BGPPeer{AS: 65000, Address: netip.MustParseAddr("2001:db8::1"), Port: 179,
			Passive: true, BFD: true, BFDInterval: config.DefaultBFDInterval, BFDMultiplier: config.DefaultBFDMultiplier}},
		{in: "65000@fe80::1", err: "must be a global unicast IPv6 address"},
		{in: "65000@", err: "must be an IPv4 or IPv6 address"},
	}
	for _, tt := range tests {
		got, err := config.ParseBGPPeer(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseBGPPeer(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseBGPPeer(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseBGPPeer(f *testing.F) {
	for _, s := range []string{"65000@10.0.0.1", "passive:65000@10.0.0.1:1179", "1@[::1]:2", "bfd:1@[2001:db8::1]:2", "x@y:z:w", "@:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := config.ParseBGPPeer(s)
		if err != nil {
			return
		}
		if p.AS == 0 || config.CheckBGPPeerAddr(p.Address, s) != "" {
			t.Fatalf("ParseBGPPeer(%q) accepted %+v", s, p)
		}
		again, err := config.ParseBGPPeer(bgpPeerFlag(p))
		if err != nil || again != p {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", s, again, err, p)
		}
	})
}

// bgpPeerFlag writes p as --bgp-peer takes it.
func bgpPeerFlag(p config.BGPPeer) string {
	s := fmt.Sprintf("%d@%v", p.AS, p.Address)
	if p.Port != 0 {
		s = fmt.Sprintf("%d@%v", p.AS, netip.AddrPortFrom(p.Address, p.Port))
	}
	if p.Passive {
		s = "passive:" + s
	}
	if p.BFD {
		s = "bfd:" + s
	}
	return s
}
