package nfmarks

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ulvs/ulvs/config"
)

// The JSON of `nft -j list ruleset` (libnftables-json(5)), as far as this
// package reads it.
type (
	nftRuleset struct {
		Nftables []nftObject `json:"nftables"`
	}
	nftObject struct {
		Chain *nftChain `json:"chain"`
		Rule  *nftRule  `json:"rule"`
	}
	nftChain struct {
		Family string `json:"family"`
		Table  string `json:"table"`
		Name   string `json:"name"`
		Hook   string `json:"hook"`
		Prio   int    `json:"prio"`
	}
	nftRule struct {
		Family string                       `json:"family"`
		Table  string                       `json:"table"`
		Chain  string                       `json:"chain"`
		Expr   []map[string]json.RawMessage `json:"expr"`
	}
	nftMatch struct {
		Op    string          `json:"op"`
		Left  json.RawMessage `json:"left"`
		Right json.RawMessage `json:"right"`
	}
	nftOperand struct {
		Payload *struct {
			Protocol string `json:"protocol"`
			Field    string `json:"field"`
		} `json:"payload"`
		Meta *struct {
			Key string `json:"key"`
		} `json:"meta"`
	}
	nftMangle struct {
		Key   nftOperand      `json:"key"`
		Value json.RawMessage `json:"value"`
	}
)

// ParseNft reads the rules of every base chain hooked at prerouting in the
// ip, ip6 and inet families from `nft -j list ruleset` output: chains by
// priority (the order netfilter runs them), rules in chain order. Rules
// of ip6 tables, and inet rules matching ip6 addresses, mark IPv6
// packets (for IPv6 fwmark services, issue #17).
//
// Rules iptables-nft made hold xt expressions whose arguments the JSON
// leaves out. iptablesSave, the rules ParseIptablesSave read (nil when
// iptables-save is not available), stands in for them: iptables-save
// lists the rules of ip mangle PREROUTING in the same order, so the n-th
// rule of that chain is the n-th line, provided it lists as many rules as
// the chain holds (otherwise the xt rules are refused). ip6tablesSave
// (ParseIp6tablesSave) does the same for ip6 mangle PREROUTING.
func ParseNft(data []byte, iptablesSave, ip6tablesSave []Rule) ([]Rule, error) {
	var rs nftRuleset
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("decode nft JSON: %w", err)
	}
	type chainRules struct {
		chain nftChain
		rules []Rule
	}
	var chains []*chainRules
	byName := map[string]*chainRules{}
	var other []Rule // prerouting chains of other families
	for _, o := range rs.Nftables {
		if c := o.Chain; c != nil && c.Hook == "prerouting" {
			cr := &chainRules{chain: *c}
			byName[chainName(c.Family, c.Table, c.Name)] = cr
			chains = append(chains, cr)
		}
	}
	// iptables-save's lines pair with the chain's rules only when it
	// lists as many as nft holds; so do ip6tables-save's.
	xts := map[string]*xtSave{
		"ip":  {tool: "iptables-save", rules: iptablesSave},
		"ip6": {tool: "ip6tables-save", rules: ip6tablesSave},
	}
	for _, o := range rs.Nftables {
		if ru := o.Rule; ru != nil && xts[ru.Family] != nil && ru.Table == "mangle" && ru.Chain == "PREROUTING" {
			xts[ru.Family].count++
		}
	}
	for _, o := range rs.Nftables {
		ru := o.Rule
		if ru == nil {
			continue
		}
		name := chainName(ru.Family, ru.Table, ru.Chain)
		cr := byName[name]
		if cr == nil {
			continue // not a prerouting base chain (a user chain is refused where it is jumped to)
		}
		if ru.Family != "ip" && ru.Family != "ip6" && ru.Family != "inet" {
			other = append(other, Rule{Chain: name, Text: nftText(ru.Expr), Reason: "family " + ru.Family + ": ulvs reads ip, ip6 and inet tables only"})
			continue
		}
		r := nftRule1(name, ru.Family, ru.Expr)
		if usesXT(ru.Expr) {
			n := len(cr.rules)
			x := xts[ru.Family]
			switch {
			case x == nil || ru.Table != "mangle" || ru.Chain != "PREROUTING":
				r.Reason = "xt (iptables) extension outside ip or ip6 mangle PREROUTING: its arguments are not readable"
			case x.rules != nil && len(x.rules) == x.count:
				r = x.rules[n]
			case x.rules == nil:
				r.Reason = fmt.Sprintf("an %s rule (xt extension): %s is needed to read its arguments and is not available", strings.TrimSuffix(x.tool, "-save"), x.tool)
			default:
				r.Reason = fmt.Sprintf("an %s rule (xt extension), but %s lists %d rules in mangle PREROUTING where nft holds %d, so its line is not known",
					strings.TrimSuffix(x.tool, "-save"), x.tool, len(x.rules), x.count)
			}
		}
		cr.rules = append(cr.rules, r)
	}
	slices.SortStableFunc(chains, func(a, b *chainRules) int { return cmp.Compare(a.chain.Prio, b.chain.Prio) })
	var out []Rule
	for _, c := range chains {
		out = append(out, c.rules...)
	}
	return append(out, other...), nil
}

// xtSave is iptables-save's or ip6tables-save's reading, to pair with the
// xt rules of its family's mangle PREROUTING chain.
type xtSave struct {
	tool  string
	rules []Rule
	count int // the chain's rules in nft
}

func chainName(family, table, chain string) string {
	return family + " " + table + " " + chain
}

func usesXT(exprs []map[string]json.RawMessage) bool {
	return slices.ContainsFunc(exprs, func(e map[string]json.RawMessage) bool { _, ok := e["xt"]; return ok })
}

// nftRule1 compiles one native nft rule of a table of family (ip, ip6 or
// inet).
func nftRule1(chain, family string, exprs []map[string]json.RawMessage) Rule {
	r := Rule{Chain: chain, Text: nftText(exprs)}
	var s selection
	if family != "inet" {
		s.fam = family
	}
	for _, e := range exprs {
		if len(e) != 1 {
			r.Reason = "an expression with several keys: " + exprText(e)
			return r
		}
		var err error
		switch {
		case e["counter"] != nil:
		case e["match"] != nil:
			err = s.nftMatch(e["match"])
		case e["mangle"] != nil:
			err = s.nftMangle(e["mangle"])
		case verdict(e) != "":
			err = fmt.Errorf("verdict %s: ulvs uses only rules that set a mark and go on", verdict(e))
		default:
			err = fmt.Errorf("%s: ulvs expresses ip/ip6 daddr and saddr, tcp/udp dport, protocol and meta mark set only", exprText(e))
		}
		if err != nil {
			r.Reason = err.Error()
			return r
		}
	}
	s.compile(&r)
	return r
}

// verdict returns an expression's verdict as nft prints it ("accept",
// "jump chain"), or "".
func verdict(e map[string]json.RawMessage) string {
	for _, v := range []string{"accept", "drop", "continue", "return", "queue"} {
		if e[v] != nil {
			return v
		}
	}
	for _, v := range []string{"jump", "goto"} {
		var target struct {
			Target string `json:"target"`
		}
		if raw := e[v]; raw != nil && json.Unmarshal(raw, &target) == nil {
			return v + " " + target.Target
		}
	}
	return ""
}

// nftMatch reads one match expression.
func (s *selection) nftMatch(raw json.RawMessage) error {
	var m nftMatch
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("match %s: %w", raw, err)
	}
	var left nftOperand
	if err := json.Unmarshal(m.Left, &left); err != nil {
		return fmt.Errorf("match %s: %w", raw, err)
	}
	if m.Op != "==" && m.Op != "in" {
		return fmt.Errorf("match with operator %q (%s): ulvs cannot express it", m.Op, raw)
	}
	ipHeader := left.Payload != nil && (left.Payload.Protocol == "ip" || left.Payload.Protocol == "ip6")
	switch {
	case ipHeader && (left.Payload.Field == "daddr" || left.Payload.Field == "saddr"):
		if err := s.setFamily(left.Payload.Protocol); err != nil {
			return err
		}
		dst := &s.addr
		if left.Payload.Field == "saddr" {
			dst = &s.src
		}
		return s.nftAddr(dst, left.Payload.Protocol+" "+left.Payload.Field, m.Right)
	case left.Payload != nil && left.Payload.Field == "dport" && slices.Contains([]string{"tcp", "udp", "th"}, left.Payload.Protocol):
		s.portsOf = left.Payload.Protocol
		return s.nftPorts(m.Right)
	case ipHeader && (left.Payload.Field == "protocol" || left.Payload.Field == "nexthdr"):
		// ip6 nexthdr is the header after the fixed one; ulvs matches
		// the transport protocol after any extension headers, as
		// meta l4proto does.
		if err := s.setFamily(left.Payload.Protocol); err != nil {
			return err
		}
		return s.nftProtos(m.Right)
	case left.Meta != nil && left.Meta.Key == "l4proto":
		return s.nftProtos(m.Right)
	}
	return fmt.Errorf("match on %s: ulvs expresses ip/ip6 daddr and saddr, tcp/udp dport and protocol only", m.Left)
}

// nftAddr reads an address or {"prefix": {"addr", "len"}} into *dst.
func (s *selection) nftAddr(dst *string, field string, raw json.RawMessage) error {
	var a string
	if json.Unmarshal(raw, &a) == nil {
		*dst = a
		return nil
	}
	var p struct {
		Prefix *struct {
			Addr string `json:"addr"`
			Len  int    `json:"len"`
		} `json:"prefix"`
	}
	if json.Unmarshal(raw, &p) != nil || p.Prefix == nil {
		return fmt.Errorf("%s %s: ulvs expresses one address or prefix only", field, raw)
	}
	*dst = fmt.Sprintf("%s/%d", p.Prefix.Addr, p.Prefix.Len)
	return nil
}

// nftPorts reads a port, {"range": [a, b]} or {"set": [...]} of those.
func (s *selection) nftPorts(raw json.RawMessage) error {
	var set struct {
		Set []json.RawMessage `json:"set"`
	}
	elems := []json.RawMessage{raw}
	if json.Unmarshal(raw, &set) == nil && set.Set != nil {
		elems = set.Set
	}
	for _, e := range elems {
		var p uint16
		if json.Unmarshal(e, &p) == nil && p != 0 {
			s.ports = append(s.ports, config.PortRange{First: p, Last: p})
			continue
		}
		var rg struct {
			Range []uint16 `json:"range"`
		}
		if json.Unmarshal(e, &rg) != nil || len(rg.Range) != 2 || rg.Range[0] == 0 || rg.Range[0] > rg.Range[1] {
			return fmt.Errorf("dport %s: ulvs expresses ports, ranges and sets of them only", e)
		}
		s.ports = append(s.ports, config.PortRange{First: rg.Range[0], Last: rg.Range[1]})
	}
	return nil
}

// nftProtos reads "tcp", "udp" or a set of them.
func (s *selection) nftProtos(raw json.RawMessage) error {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		s.protos = []string{one}
		return nil
	}
	var set struct {
		Set []string `json:"set"`
	}
	if json.Unmarshal(raw, &set) != nil || len(set.Set) == 0 {
		return fmt.Errorf("protocol %s: ulvs expresses tcp and udp by name only", raw)
	}
	s.protos = set.Set
	return nil
}

// nftMangle reads "meta mark set N".
func (s *selection) nftMangle(raw json.RawMessage) error {
	var m nftMangle
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("mangle %s: %w", raw, err)
	}
	if m.Key.Meta == nil || m.Key.Meta.Key != "mark" {
		return fmt.Errorf("mangle %s: sets something other than the packet mark", raw)
	}
	var v uint32
	if err := json.Unmarshal(m.Value, &v); err != nil {
		return fmt.Errorf("meta mark set %s: ulvs sets whole constant marks only", m.Value)
	}
	s.mark, s.markSet = v, true
	return nil
}

// nftText renders a rule's expressions for listings: the usual ones as
// nft prints them, any other as its JSON.
func nftText(exprs []map[string]json.RawMessage) string {
	parts := make([]string, 0, len(exprs))
	for _, e := range exprs {
		parts = append(parts, exprText(e))
	}
	return strings.Join(parts, " ")
}

func exprText(e map[string]json.RawMessage) string {
	if raw, ok := e["match"]; ok && len(e) == 1 {
		var m nftMatch
		var left nftOperand
		if json.Unmarshal(raw, &m) == nil && json.Unmarshal(m.Left, &left) == nil {
			op := ""
			if m.Op != "==" && m.Op != "in" {
				op = m.Op + " "
			}
			switch {
			case left.Payload != nil:
				return fmt.Sprintf("%s %s %s%s", left.Payload.Protocol, left.Payload.Field, op, valueText(m.Right))
			case left.Meta != nil:
				return fmt.Sprintf("meta %s %s%s", left.Meta.Key, op, valueText(m.Right))
			}
		}
	}
	if raw, ok := e["mangle"]; ok && len(e) == 1 {
		var m nftMangle
		if json.Unmarshal(raw, &m) == nil && m.Key.Meta != nil {
			return fmt.Sprintf("meta %s set %s", m.Key.Meta.Key, valueText(m.Value))
		}
	}
	if _, ok := e["counter"]; ok && len(e) == 1 {
		return "counter"
	}
	if v := verdict(e); v != "" && len(e) == 1 {
		return v
	}
	b, _ := json.Marshal(e)
	return string(b)
}

// valueText renders a right-hand side: scalars plainly, prefixes, ranges
// and sets in nft's syntax, anything else as JSON.
func valueText(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	return anyText(v)
}

func anyText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case map[string]any:
		if p, ok := v["prefix"].(map[string]any); ok {
			return fmt.Sprintf("%v/%v", p["addr"], p["len"])
		}
		if r, ok := v["range"].([]any); ok && len(r) == 2 {
			return anyText(r[0]) + "-" + anyText(r[1])
		}
		if s, ok := v["set"].([]any); ok {
			parts := make([]string, len(s))
			for i, e := range s {
				parts[i] = anyText(e)
			}
			return "{ " + strings.Join(parts, ", ") + " }"
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
