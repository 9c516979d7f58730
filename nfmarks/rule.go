package nfmarks

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ulvs/ulvs/config"
)

// Rule is one rule of a prerouting chain and what became of it.
type Rule struct {
	// Chain names the chain as nft does: "ip mangle PREROUTING".
	Chain string
	// Text is the rule as iptables-save prints it (for rules iptables
	// made) or as nft would list it (reconstructed from the JSON).
	Text string
	// Mark is the mark the rule sets (0 when it sets none or is refused
	// before the mark was read).
	Mark uint32
	// Matches are what the rule selects when it is used: one per
	// protocol (a rule without a protocol selects TCP and UDP).
	Matches []config.MarkMatch
	// Reason is why the rule is refused; "" means it is used.
	Reason string
}

// Used reports whether the rule was compiled into a mark.
func (r *Rule) Used() bool { return r.Reason == "" }

// String is the rule as `ulvs marks` lists it.
func (r *Rule) String() string {
	if r.Used() {
		return fmt.Sprintf("used     %s: %s", r.Chain, r.Text)
	}
	return fmt.Sprintf("REFUSED  %s: %s\n         %s", r.Chain, r.Text, r.Reason)
}

// Marks compiles the used rules into ulvs's mark classifier. Netfilter runs
// every rule, so a packet ends with the mark of the last rule that selects
// it; ulvs's classifier takes the first match, so the rules are given in
// reverse. Consecutive rules setting the same mark share one config.Mark.
func Marks(rules []Rule) []config.Mark {
	var out []config.Mark
	for _, r := range slices.Backward(rules) {
		if !r.Used() {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Mark == r.Mark {
			out[n-1].Matches = append(out[n-1].Matches, r.Matches...)
			continue
		}
		out = append(out, config.Mark{Mark: r.Mark, Matches: slices.Clone(r.Matches)})
	}
	return out
}

// Refused returns the refused rules.
func Refused(rules []Rule) []Rule {
	var out []Rule
	for _, r := range rules {
		if !r.Used() {
			out = append(out, r)
		}
	}
	return out
}

// selection gathers what a rule selects while it is read.
type selection struct {
	protos  []string // "tcp", "udp"; none means both
	addr    string   // destination address or prefix; "" means any
	src     string   // source address or prefix; "" means any
	ports   []config.PortRange
	portsOf string // the protocol a port match names ("th" for either)
	mark    uint32
	markSet bool
	// fam is the family the rule's addresses must be: "ip" (iptables,
	// an nft ip table or ip daddr/saddr in an inet one) or "ip6"
	// (ip6tables, an ip6 table, ip6 daddr/saddr); "" while an inet
	// rule has named none.
	fam string
}

// compile turns a selection into matches, or a reason for refusing it.
func (s *selection) compile(r *Rule) {
	if !s.markSet {
		r.Reason = "sets no firewall mark (only MARK --set-mark / meta mark set rules are used)"
		return
	}
	if s.mark == 0 {
		r.Reason = "sets mark 0, which no mark service can use"
		return
	}
	r.Mark = s.mark
	protos := s.protos
	if len(protos) == 0 {
		switch s.portsOf {
		case "tcp", "udp":
			protos = []string{s.portsOf}
		case "":
			protos = []string{"tcp", "udp"}
		default:
			r.Reason = "matches ports without naming tcp or udp"
			return
		}
	}
	if s.portsOf == "tcp" || s.portsOf == "udp" {
		if len(protos) != 1 || protos[0] != s.portsOf {
			r.Reason = fmt.Sprintf("matches %s ports of protocol %s", s.portsOf, strings.Join(protos, ","))
			return
		}
	}
	if s.addr == "" {
		r.Reason = "matches every destination address; ulvs needs the VIPs or their subnet (-d / ip daddr)"
		return
	}
	prefix, msg := s.prefix(s.addr)
	if msg != "" {
		r.Reason = "destination: " + msg
		return
	}
	var src netip.Prefix
	if s.src != "" {
		if src, msg = s.prefix(s.src); msg != "" {
			r.Reason = "source: " + msg
			return
		}
	}
	for _, p := range protos {
		proto, ok := config.ParseProto(p)
		if !ok {
			r.Reason = fmt.Sprintf("protocol %s: ulvs balances only tcp and udp", p)
			r.Matches = nil
			return
		}
		r.Matches = append(r.Matches, config.MarkMatch{Proto: proto, Addr: prefix, Src: src, Ports: config.MergePorts(slices.Clone(s.ports))})
	}
}

// prefix parses an address or prefix of the selection's family.
func (s *selection) prefix(text string) (netip.Prefix, string) {
	v6 := strings.Count(text, ":") >= 2
	switch {
	case s.fam == "ip" && v6:
		return netip.Prefix{}, fmt.Sprintf("IPv6 %s in an IPv4 (ip) rule", text)
	case s.fam == "ip6" && !v6:
		return netip.Prefix{}, fmt.Sprintf("IPv4 %s in an IPv6 (ip6) rule", text)
	}
	return config.ParseMarkPrefix(text)
}

// setFamily records that a match names family fam ("ip" or "ip6"): an
// inet rule takes the family of its address matches, which must agree.
func (s *selection) setFamily(fam string) error {
	if s.fam != "" && s.fam != fam {
		return fmt.Errorf("matches both ip and ip6 headers: no packet has both")
	}
	s.fam = fam
	return nil
}
