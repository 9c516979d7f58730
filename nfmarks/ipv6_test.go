package nfmarks

import (
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// ip6.json, ip6.iptables-save and ip6.ip6tables-save were captured in a
// fresh namespace after (testdata/README.md):
//
//	iptables -t mangle -A PREROUTING -p tcp -d 10.0.0.1 --dport 80 -j MARK --set-mark 5
//	ip6tables -t mangle -A PREROUTING -p tcp -d 2001:db8:77::100 -m multiport --dports 80,443 -j MARK --set-mark 5
//	ip6tables -t mangle -A PREROUTING -p tcp -s 2001:db8:ffff::/48 -d 2001:db8:77::/120 --dport 8000:8100 -j MARK --set-mark 6
//	ip6tables -t mangle -A PREROUTING -p udp -d 2001:db8:77::100/128 --dport 53 -j MARK --set-xmark 0x7/0xffffffff
//	ip6tables -t mangle -A PREROUTING -p tcp ! -d 2001:db8:77::100 --dport 80 -j MARK --set-mark 8
//	ip6tables -t mangle -A PREROUTING -i eth0 -p tcp -d 2001:db8:77::100 --dport 80 -j MARK --set-mark 8
//	nft add table inet vm
//	nft add chain inet vm pre "{ type filter hook prerouting priority -200; }"
//	nft add rule inet vm pre ip6 daddr 2001:db8:77::200 tcp dport { 80, 443 } meta mark set 9
//	nft add rule inet vm pre ip6 daddr 2001:db8:77::/64 ip6 nexthdr tcp ip6 saddr 2001:db8::/32 meta mark set 10
//	nft add rule inet vm pre meta l4proto udp ip6 daddr 2001:db8:77::300 udp dport 53 meta mark set 11
//	nft add rule inet vm pre ip daddr 10.0.0.2 tcp dport 80 meta mark set 12
//	nft add rule inet vm pre ip6 daddr fe80::1 tcp dport 80 meta mark set 14
//	nft add table ip6 n6
//	nft add chain ip6 n6 pre "{ type filter hook prerouting priority -100; }"
//	nft add rule ip6 n6 pre ip6 daddr 2001:db8:77::400 th dport 5000-5010 meta l4proto { tcp, udp } meta mark set 15
//
// (nft itself refuses a rule matching both ip6 daddr and ip saddr.)
func TestIPv6Rules(t *testing.T) {
	saved := ParseIptablesSave(string(readFile(t, "ip6.iptables-save")))
	saved6 := ParseIp6tablesSave(string(readFile(t, "ip6.ip6tables-save")))
	rules, err := ParseNft(readFile(t, "ip6.json"), saved, saved6)
	if err != nil {
		t.Fatal(err)
	}
	checkRules(t, rules, []outcome{
		{mark: 9, matches: []config.MarkMatch{tcp("2001:db8:77::200/128", port(80, 80), port(443, 443))}},
		{mark: 10, matches: []config.MarkMatch{withSrc(tcp("2001:db8:77::/64"), "2001:db8::/32")}},
		{mark: 11, matches: []config.MarkMatch{udp("2001:db8:77::300/128", port(53, 53))}},
		{mark: 12, matches: []config.MarkMatch{tcp("10.0.0.2/32", port(80, 80))}},
		{refused: "fe80::1 is not a unicast address"},
		{mark: 5, matches: []config.MarkMatch{tcp("10.0.0.1/32", port(80, 80))}},
		{mark: 5, matches: []config.MarkMatch{tcp("2001:db8:77::100/128", port(80, 80), port(443, 443))}},
		{mark: 6, matches: []config.MarkMatch{withSrc(tcp("2001:db8:77::/120", port(8000, 8100)), "2001:db8:ffff::/48")}},
		{mark: 7, matches: []config.MarkMatch{udp("2001:db8:77::100/128", port(53, 53))}},
		{refused: "negated match (! -d)"},
		{refused: "option -i"},
		{mark: 15, matches: []config.MarkMatch{tcp("2001:db8:77::400/128", port(5000, 5010)), udp("2001:db8:77::400/128", port(5000, 5010))}},
	})
	for i, r := range rules[6:11] {
		if r.Chain != "ip6 mangle PREROUTING" {
			t.Errorf("rule %d chain %q", 6+i, r.Chain)
		}
	}
	// Without ip6tables-save the ip6 xt rules are refused, the others
	// stay.
	rules, err = ParseNft(readFile(t, "ip6.json"), saved, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(Refused(rules)); got != 1+5 {
		t.Errorf("without ip6tables-save: %d refused, want 6", got)
	}
	for _, r := range rules[6:11] {
		if r.Used() || r.Reason != "an ip6tables rule (xt extension): ip6tables-save is needed to read its arguments and is not available" {
			t.Errorf("%q: %q", r.Text, r.Reason)
		}
	}
	// A short ip6tables-save reading is not paired.
	rules, err = ParseNft(readFile(t, "ip6.json"), saved, saved6[:2])
	if err != nil {
		t.Fatal(err)
	}
	if r := rules[6]; r.Used() || r.Reason != "an ip6tables rule (xt extension), but ip6tables-save lists 2 rules in mangle PREROUTING where nft holds 5, so its line is not known" {
		t.Errorf("short reading: %q", r.Reason)
	}
}

func TestIPv6Shapes(t *testing.T) {
	rule := func(family, exprs string) string {
		return `{"nftables":[{"chain":{"family":"` + family + `","table":"t","name":"c","hook":"prerouting","prio":0}},` +
			`{"rule":{"family":"` + family + `","table":"t","chain":"c","expr":[` + exprs + `]}}]}`
	}
	const mark = `{"mangle":{"key":{"meta":{"key":"mark"}},"value":5}}`
	match := func(proto, field, right string) string {
		return `{"match":{"op":"==","left":{"payload":{"protocol":"` + proto + `","field":"` + field + `"}},"right":` + right + `}},`
	}
	tests := []struct {
		name, family, exprs string
		want                outcome
	}{
		{"ip6 table", "ip6", match("ip6", "daddr", `"2001:db8::1"`) + mark,
			outcome{mark: 5, matches: []config.MarkMatch{tcp("2001:db8::1/128"), udp("2001:db8::1/128")}}},
		{"ip6 nexthdr udp", "ip6", match("ip6", "daddr", `{"prefix":{"addr":"2001:db8::","len":64}}`) + match("ip6", "nexthdr", `"udp"`) + mark,
			outcome{mark: 5, matches: []config.MarkMatch{udp("2001:db8::/64")}}},
		{"ip daddr in an ip6 table", "ip6", match("ip", "daddr", `"10.0.0.1"`) + mark, outcome{refused: "both ip and ip6"}},
		{"IPv4 address in ip6 daddr", "inet", match("ip6", "daddr", `"10.0.0.1"`) + mark, outcome{refused: "IPv4 10.0.0.1 in an IPv6 (ip6) rule"}},
		{"IPv6 address in ip daddr", "inet", match("ip", "daddr", `"2001:db8::1"`) + mark, outcome{refused: "IPv6 2001:db8::1 in an IPv4 (ip) rule"}},
		{"both families", "inet", match("ip6", "daddr", `"2001:db8::1"`) + match("ip", "saddr", `"10.0.0.1"`) + mark, outcome{refused: "both ip and ip6"}},
		{"ip6 ::/0", "inet", match("ip6", "daddr", `{"prefix":{"addr":"::","len":0}}`) + mark, outcome{refused: "matches every destination"}},
		{"ip6 host bits", "inet", match("ip6", "daddr", `{"prefix":{"addr":"2001:db8::1","len":64}}`) + mark, outcome{refused: "host bits"}},
		{"ip6 multicast", "inet", match("ip6", "daddr", `"ff02::1"`) + mark, outcome{refused: "not a unicast"}},
		{"ip6 set", "inet", match("ip6", "daddr", `{"set":["2001:db8::1","2001:db8::2"]}`) + mark, outcome{refused: "ip6 daddr"}},
		{"ip6 source prefix", "inet", match("ip6", "saddr", `{"prefix":{"addr":"2001:db8:f::","len":48}}`) + match("ip6", "daddr", `"2001:db8::1"`) + match("tcp", "dport", "443") + mark,
			outcome{mark: 5, matches: []config.MarkMatch{withSrc(tcp("2001:db8::1/128", port(443, 443)), "2001:db8:f::/48")}}},
		{"bridge", "bridge", match("ip6", "daddr", `"2001:db8::1"`) + mark, outcome{refused: "ip, ip6 and inet tables only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseNft([]byte(rule(tt.family, tt.exprs)), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkRules(t, rules, []outcome{tt.want})
		})
	}
}

func TestIp6tablesLines(t *testing.T) {
	tests := []struct {
		line string
		want outcome
	}{
		{`-A PREROUTING -d 2001:db8::1/128 -p tcp -m tcp --dport 21 -j MARK --set-mark 0x15`,
			outcome{mark: 21, matches: []config.MarkMatch{tcp("2001:db8::1/128", port(21, 21))}}},
		{`-A PREROUTING -d 2001:db8::/64 -j MARK --set-xmark 0x3/0xffffffff`,
			outcome{mark: 3, matches: []config.MarkMatch{tcp("2001:db8::/64"), udp("2001:db8::/64")}}},
		{`-A PREROUTING -d 10.0.0.1/32 -p tcp -j MARK --set-mark 1`, outcome{refused: "IPv4 10.0.0.1/32 in an IPv6 (ip6) rule"}},
		{`-A PREROUTING -s 10.0.0.0/8 -d 2001:db8::1/128 -p tcp -j MARK --set-mark 1`, outcome{refused: "source: IPv4 10.0.0.0/8"}},
		{`-A PREROUTING -d 2001:db8::1/128 -p ipv6-icmp -j MARK --set-mark 1`, outcome{refused: "protocol ipv6-icmp"}},
		{`-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-mark 1`, outcome{refused: "every destination"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			checkRules(t, ParseIp6tablesSave("*mangle\n"+tt.line+"\nCOMMIT\n"), []outcome{tt.want})
		})
	}
}

// FuzzParseIptablesSave feeds any text to both save parsers: no panic,
// every used rule has a mark and matches whose prefixes are of the
// parser's family, and every refused one a reason.
func FuzzParseIptablesSave(f *testing.F) {
	for _, name := range []string{"seed001.iptables-save", "iptables.iptables-save", "ip6.iptables-save", "ip6.ip6tables-save"} {
		f.Add(string(readFile(f, name)))
	}
	f.Add("*mangle\n-A PREROUTING -s 2001:db8::/32 -d 2001:db8::1/128 -p udp --dport 1:2 -j MARK --set-mark 9\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, v6 := range []bool{false, true} {
			rules := ParseIptablesSave(text)
			if v6 {
				rules = ParseIp6tablesSave(text)
			}
			checkCompiled(t, rules, v6)
		}
	})
}

// FuzzParseNft feeds any bytes to ParseNft, with the saved readings of
// the IPv6 capture: no panic; used rules are consistent.
func FuzzParseNft(f *testing.F) {
	for _, name := range []string{"seed001.json", "iptables.json", "nft.json", "ip6.json"} {
		f.Add(readFile(f, name))
	}
	saved := ParseIptablesSave(string(readFile(f, "ip6.iptables-save")))
	saved6 := ParseIp6tablesSave(string(readFile(f, "ip6.ip6tables-save")))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseNft(data, saved, saved6)
		if err != nil {
			return
		}
		for _, r := range rules {
			checkCompiled(t, []Rule{r}, strings.HasPrefix(r.Chain, "ip6 "))
		}
	})
}

// checkCompiled checks what a parser made of rules: a used rule has a
// mark and at least one match, each with a valid destination prefix of
// the family (v6, for rules of an ip6 chain; an inet chain's rules may
// be either) and a source of the same family if any.
func checkCompiled(t *testing.T, rules []Rule, v6 bool) {
	t.Helper()
	for _, r := range rules {
		if !r.Used() {
			if r.Reason == "" {
				t.Errorf("refused without a reason: %q", r.Text)
			}
			continue
		}
		if r.Mark == 0 || len(r.Matches) == 0 {
			t.Errorf("used rule %q: mark %d, %d matches", r.Text, r.Mark, len(r.Matches))
		}
		for _, m := range r.Matches {
			if !m.Addr.IsValid() || m.Addr != m.Addr.Masked() || m.Addr.Bits() == 0 {
				t.Errorf("rule %q: destination %v", r.Text, m.Addr)
			}
			is6 := m.Addr.Addr().Is6()
			if !strings.HasPrefix(r.Chain, "inet ") && is6 != v6 {
				t.Errorf("rule %q of chain %q: destination %v of the other family", r.Text, r.Chain, m.Addr)
			}
			if m.Src.IsValid() && m.Src.Addr().Is6() != is6 {
				t.Errorf("rule %q: source %v and destination %v of two families", r.Text, m.Src, m.Addr)
			}
		}
	}
}
