package keepalived

import "testing"

// TestSynProxy: DPVS's keepalived keyword syn_proxy puts a NAT service
// behind the director's SYN proxy.
func TestSynProxy(t *testing.T) {
	f, err := parseString(t, "virtual_server 10.0.0.100 80 {\nlb_algo rr\nlb_kind NAT\nprotocol TCP\nsyn_proxy\n"+
		"real_server 10.0.1.1 80 {\n}\n}\nvirtual_server 10.0.0.100 81 {\nlb_algo rr\nlb_kind NAT\nprotocol TCP\n"+
		"real_server 10.0.1.1 81 {\n}\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Rules.Services; len(s) != 2 || !s[0].SynProxy || s[1].SynProxy {
		t.Errorf("services %+v, want the first behind the SYN proxy only", s)
	}
}

// TestSynProxyIPv6: syn_proxy on an IPv6 virtual_server (ip_family inet6).
func TestSynProxyIPv6(t *testing.T) {
	f, err := parseString(t, "virtual_server 2001:db8::100 80 {\nlb_algo rr\nlb_kind NAT\nprotocol TCP\nip_family inet6\nsyn_proxy\n"+
		"real_server 2001:db8:1::1 80 {\n}\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Rules.Services; len(s) != 1 || !s[0].SynProxy || !s[0].Addr.Is6() {
		t.Errorf("services %+v, want the IPv6 one behind the SYN proxy", s)
	}
}
