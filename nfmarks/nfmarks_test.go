package nfmarks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// nft.json was captured after these commands in a fresh namespace:
//
//	nft add table ip mangle
//	nft add chain ip mangle prerouting "{ type filter hook prerouting priority mangle; }"
//	nft add rule ip mangle prerouting ip daddr 192.168.56.200 tcp dport 21 meta mark set 21
//	nft add rule ip mangle prerouting ip daddr 192.168.56.0/24 tcp dport { 20, 10000-20000 } meta mark set 21
//	nft add rule ip mangle prerouting ip protocol udp ip daddr 10.0.0.1 udp dport 53 mark set 0x22
//	nft add rule ip mangle prerouting ip daddr 10.0.0.2 meta l4proto tcp th dport 80 meta mark set 23
//	nft add rule ip mangle prerouting iifname eth0 tcp dport 80 meta mark set 24
//	nft add rule ip mangle prerouting ip daddr != 10.0.0.3 tcp dport 80 meta mark set 25
//	nft add rule ip mangle prerouting ip daddr 10.0.0.4 tcp dport 80 meta mark set mark or 0x10
//	nft add rule ip mangle prerouting ip daddr 10.0.0.5 tcp dport 80 counter meta mark set 26
//	nft add table inet other
//	nft add chain inet other pre "{ type filter hook prerouting priority -150; }"
//	nft add rule inet other pre ip daddr 10.0.0.6 tcp dport 8080 meta mark set 27

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tcp(addr string, ports ...config.PortRange) config.MarkMatch {
	return config.MarkMatch{Proto: vs.TCP, Addr: netip.MustParsePrefix(addr), Ports: ports}
}

func udp(addr string, ports ...config.PortRange) config.MarkMatch {
	return config.MarkMatch{Proto: vs.UDP, Addr: netip.MustParsePrefix(addr), Ports: ports}
}

func withSrc(m config.MarkMatch, src string) config.MarkMatch {
	m.Src = netip.MustParsePrefix(src)
	return m
}

func port(a, b uint16) config.PortRange { return config.PortRange{First: a, Last: b} }

// outcome is a rule's fate in a table: the mark and matches it gives, or
// a fragment of the reason it is refused.
type outcome struct {
	mark    uint32
	matches []config.MarkMatch
	refused string
}

func checkRules(t *testing.T, got []Rule, want []outcome) {
	t.Helper()
	if len(got) != len(want) {
		for _, r := range got {
			t.Log(r.String())
		}
		t.Fatalf("%d rules, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if w.refused != "" {
			if r.Used() || !strings.Contains(strings.ToLower(r.Reason), strings.ToLower(w.refused)) {
				t.Errorf("rule %d %q: reason %q, want it refused with %q", i, r.Text, r.Reason, w.refused)
			}
			continue
		}
		if !r.Used() || r.Mark != w.mark || !reflect.DeepEqual(r.Matches, w.matches) {
			t.Errorf("rule %d %q: mark %d %v (refused: %q), want mark %d %v", i, r.Text, r.Mark, r.Matches, r.Reason, w.mark, w.matches)
		}
	}
}

var seed001 = []outcome{
	{mark: 21, matches: []config.MarkMatch{tcp("192.168.56.200/32", port(21, 21))}},
	{mark: 21, matches: []config.MarkMatch{tcp("192.168.56.200/32", port(10000, 20000))}},
	{mark: 21, matches: []config.MarkMatch{tcp("192.168.56.200/32", port(20, 20))}},
}

func TestSeed001(t *testing.T) {
	saved := ParseIptablesSave(string(readFile(t, "seed001.iptables-save")))
	checkRules(t, saved, seed001)
	rules, err := ParseNft(readFile(t, "seed001.json"), saved, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRules(t, rules, seed001)
	if rules[0].Text != "-A PREROUTING -d 192.168.56.200/32 -p tcp -m tcp --dport 21 -j MARK --set-xmark 0x15/0xffffffff" {
		t.Errorf("text %q", rules[0].Text)
	}
	want := []config.Mark{{Mark: 21, Matches: []config.MarkMatch{
		tcp("192.168.56.200/32", port(20, 20)),
		tcp("192.168.56.200/32", port(10000, 20000)),
		tcp("192.168.56.200/32", port(21, 21)),
	}}}
	if got := Marks(rules); !reflect.DeepEqual(got, want) {
		t.Errorf("Marks = %v, want %v", got, want)
	}

	// An iptables-save that lists fewer rules than nft holds cannot be
	// paired with them.
	rules, err = ParseNft(readFile(t, "seed001.json"), saved[:2], nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRules(t, rules, []outcome{{refused: "lists 2 rules"}, {refused: "lists 2 rules"}, {refused: "lists 2 rules"}})

	// Without iptables-save the xt rules are refused, not dropped.
	rules, err = ParseNft(readFile(t, "seed001.json"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRules(t, rules, []outcome{{refused: "iptables-save is needed"}, {refused: "iptables-save is needed"}, {refused: "iptables-save is needed"}})
	if len(Marks(rules)) != 0 || len(Refused(rules)) != 3 {
		t.Errorf("Marks %v, Refused %d", Marks(rules), len(Refused(rules)))
	}
}

func TestIptables(t *testing.T) {
	want := append(seed001[:3:3],
		outcome{mark: 5, matches: []config.MarkMatch{withSrc(udp("10.1.0.0/16", port(53, 53), port(60, 70)), "10.0.0.0/8")}},
		outcome{refused: "option -i"},
		outcome{refused: "negated match (! -d)"},
		outcome{refused: "partial mask"},
		outcome{refused: "match -m conntrack"},
		outcome{mark: 11, matches: []config.MarkMatch{tcp("1.2.3.5/32"), udp("1.2.3.5/32")}},
		outcome{refused: "MYCH"},
		outcome{refused: "accept"},
		outcome{mark: 12, matches: []config.MarkMatch{udp("1.2.3.7/32", port(53, 53))}},
		outcome{mark: 14, matches: []config.MarkMatch{tcp("1.2.3.9/32", port(8000, 8010))}},
		outcome{mark: 15, matches: []config.MarkMatch{tcp("1.2.3.10/32", port(80, 80), port(443, 443))}},
	)
	saved := ParseIptablesSave(string(readFile(t, "iptables.iptables-save")))
	checkRules(t, saved, want)

	// The native chain (priority -200) runs before iptables' (-150).
	native := outcome{mark: 27, matches: []config.MarkMatch{tcp("10.0.0.6/32", port(8080, 8080))}}
	rules, err := ParseNft(readFile(t, "iptables.json"), saved, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRules(t, rules, append([]outcome{native}, want...))
	marks := Marks(rules)
	if len(marks) != 7 || marks[0].Mark != 15 || marks[6].Mark != 27 {
		t.Errorf("Marks = %v, want 15 first (the last rule wins) and 27 last", marks)
	}
}

func TestNft(t *testing.T) {
	rules, err := ParseNft(readFile(t, "nft.json"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRules(t, rules, []outcome{
		{mark: 21, matches: []config.MarkMatch{tcp("192.168.56.200/32", port(21, 21))}},
		{mark: 21, matches: []config.MarkMatch{tcp("192.168.56.0/24", port(20, 20), port(10000, 20000))}},
		{mark: 34, matches: []config.MarkMatch{udp("10.0.0.1/32", port(53, 53))}},
		{mark: 23, matches: []config.MarkMatch{tcp("10.0.0.2/32", port(80, 80))}},
		{refused: `"iifname"`},
		{refused: `operator "!="`},
		{refused: "whole constant marks"},
		{mark: 26, matches: []config.MarkMatch{tcp("10.0.0.5/32", port(80, 80))}},
		{mark: 27, matches: []config.MarkMatch{tcp("10.0.0.6/32", port(8080, 8080))}},
	})
	if got, want := rules[1].Text, "ip daddr 192.168.56.0/24 tcp dport { 20, 10000-20000 } meta mark set 21"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if got, want := rules[6].Text, `ip daddr 10.0.0.4 tcp dport 80 meta mark set {"|":[{"meta":{"key":"mark"}},16]}`; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
}

func TestNftShapes(t *testing.T) {
	rule := func(exprs string) string {
		return `{"nftables":[{"chain":{"family":"ip","table":"t","name":"c","hook":"prerouting","prio":0}},` +
			`{"rule":{"family":"ip","table":"t","chain":"c","expr":[` + exprs + `]}}]}`
	}
	const daddr = `{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.0.0.1"}},`
	const mark = `{"mangle":{"key":{"meta":{"key":"mark"}},"value":5}}`
	tests := []struct {
		name, exprs string
		want        outcome
	}{
		{"proto set", daddr + `{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":{"set":["tcp","udp"]}}},` + mark,
			outcome{mark: 5, matches: []config.MarkMatch{tcp("10.0.0.1/32"), udp("10.0.0.1/32")}}},
		{"th dport with two protocols", daddr + `{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":{"set":["tcp","udp"]}}},` +
			`{"match":{"op":"==","left":{"payload":{"protocol":"th","field":"dport"}},"right":53}},` + mark,
			outcome{mark: 5, matches: []config.MarkMatch{tcp("10.0.0.1/32", port(53, 53)), udp("10.0.0.1/32", port(53, 53))}}},
		{"no protocol", daddr + mark, outcome{mark: 5, matches: []config.MarkMatch{tcp("10.0.0.1/32"), udp("10.0.0.1/32")}}},
		{"icmp", daddr + `{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"protocol"}},"right":"icmp"}},` + mark,
			outcome{refused: "protocol icmp"}},
		{"udp ports on tcp", daddr + `{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":"tcp"}},` +
			`{"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"dport"}},"right":53}},` + mark,
			outcome{refused: "matches udp ports of protocol tcp"}},
		{"th without protocol", daddr + `{"match":{"op":"==","left":{"payload":{"protocol":"th","field":"dport"}},"right":53}},` + mark,
			outcome{refused: "without naming tcp or udp"}},
		{"saddr", `{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.0.0.2"}},` + daddr + mark,
			outcome{mark: 5, matches: []config.MarkMatch{withSrc(tcp("10.0.0.1/32"), "10.0.0.2/32"), withSrc(udp("10.0.0.1/32"), "10.0.0.2/32")}}},
		{"saddr prefix", `{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.9.0.0","len":16}}}},` + daddr + mark,
			outcome{mark: 5, matches: []config.MarkMatch{withSrc(tcp("10.0.0.1/32"), "10.9.0.0/16"), withSrc(udp("10.0.0.1/32"), "10.9.0.0/16")}}},
		{"jump", daddr + `{"jump":{"target":"x"}}`, outcome{refused: `verdict jump x`}},
		{"accept only", daddr + `{"accept":null}`, outcome{refused: "verdict accept"}},
		{"no mark", daddr + `{"counter":{"packets":0,"bytes":0}}`, outcome{refused: "sets no firewall mark"}},
		{"mark 0", daddr + `{"mangle":{"key":{"meta":{"key":"mark"}},"value":0}}`, outcome{refused: "mark 0"}},
		{"ct mark", daddr + `{"mangle":{"key":{"ct":{"key":"mark"}},"value":5}}`, outcome{refused: "other than the packet mark"}},
		{"set of addresses", `{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"set":["10.0.0.1","10.0.0.2"]}}},` + mark,
			outcome{refused: "one address or prefix"}},
		{"ipv6 address", `{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"::1"}},` + mark,
			outcome{refused: "IPv6"}},
		{"port 0", daddr + `{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":0}},` + mark,
			outcome{refused: "dport 0"}},
		{"backwards range", daddr + `{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":{"range":[9,3]}}},` + mark,
			outcome{refused: "dport"}},
		{"xt elsewhere", daddr + `{"xt":{"type":"target","name":"MARK"}}`, outcome{refused: "outside ip or ip6 mangle PREROUTING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseNft([]byte(rule(tt.exprs)), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkRules(t, rules, []outcome{tt.want})
		})
	}
	for _, bad := range []string{"", "{", `{"nftables":[{"rule":{"expr":7}}]}`} {
		if _, err := ParseNft([]byte(bad), nil, nil); err == nil {
			t.Errorf("ParseNft(%q) = nil error", bad)
		}
	}
}

func TestIptablesLines(t *testing.T) {
	tests := []struct {
		line string
		want outcome
	}{
		{`-A PREROUTING -d 10.0.0.1/32 -p tcp -m comment --comment "ftp \"data\"" -m tcp --dport 20 -j MARK --set-mark 0x15`,
			outcome{mark: 21, matches: []config.MarkMatch{tcp("10.0.0.1/32", port(20, 20))}}},
		{`-A PREROUTING -d 10.0.0.0/24 -j MARK --set-xmark 0x3/0xffffffff`,
			outcome{mark: 3, matches: []config.MarkMatch{tcp("10.0.0.0/24"), udp("10.0.0.0/24")}}},
		{`-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-mark 1`, outcome{refused: "every destination"}},
		{`-A PREROUTING -s 10.0.0.1/8 -d 10.0.0.1/32 -p tcp --dport 80 -j MARK --set-mark 1`, outcome{refused: "source: 10.0.0.1/8 has host bits set"}},
		{`-A PREROUTING -s 10.0.0.0/8 -d 10.0.0.1/32 -p tcp --dport 80 -j MARK --set-mark 1`,
			outcome{mark: 1, matches: []config.MarkMatch{withSrc(tcp("10.0.0.1/32", port(80, 80)), "10.0.0.0/8")}}},
		{`-A PREROUTING -d 10.0.0.1/32 -p tcp --dport 0:10 -j MARK --set-mark 1`, outcome{refused: "--dport 0:10"}},
		{`-A PREROUTING -d 10.0.0.1/32 -p tcp --dport 80 -j MARK --set-mark x`, outcome{refused: "not a mark number"}},
		{`-A PREROUTING -d 10.0.0.1/32 -p tcp --dport 80 -j MARK --set-mark`, outcome{refused: "without its argument"}},
		{`-A PREROUTING -d 10.0.0.1/32 -m comment --comment "open`, outcome{refused: "unterminated quote"}},
		{`-A PREROUTING -d 10.0.0.1/32 -p sctp -j MARK --set-mark 1`, outcome{refused: "protocol sctp"}},
		{`-A PREROUTING -d 10.0.0.1/32 -p tcp -j CONNMARK --restore-mark`, outcome{refused: "-j CONNMARK"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			checkRules(t, ParseIptablesSave("*mangle\n"+tt.line+"\nCOMMIT\n*nat\n-A PREROUTING -d 1.1.1.1/32 -j MARK --set-mark 9\n"), []outcome{tt.want})
		})
	}
}

func TestRead(t *testing.T) {
	files := map[string]string{"nft": "seed001.json", "iptables-save": "seed001.iptables-save"}
	var calls []string
	run := func(_ context.Context, name string, args ...string) ([]byte, error) {
		calls = append(calls, name+" "+strings.Join(args, " "))
		f, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("%s: %w", name, exec.ErrNotFound)
		}
		return readFile(t, f), nil
	}
	rules, err := Read(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	checkRules(t, rules, seed001)
	if want := []string{"nft -j list ruleset", "iptables-save -t mangle", "ip6tables-save -t mangle"}; !reflect.DeepEqual(calls, want) {
		t.Errorf("ran %q, want %q", calls, want)
	}

	delete(files, "iptables-save")
	if rules, err = Read(context.Background(), run); err != nil || len(Refused(rules)) != 3 {
		t.Errorf("without iptables-save: %d refused, err %v; want 3 refused", len(Refused(rules)), err)
	}
	delete(files, "nft")
	if _, err := Read(context.Background(), run); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("without nft: err %v, want ErrNotFound", err)
	}
}
