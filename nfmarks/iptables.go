package nfmarks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
)

// ParseIptablesSave reads the rules of the mangle table's PREROUTING chain
// from `iptables-save -t mangle` output, in order. Other tables and chains
// are skipped: only mangle PREROUTING runs before routing for packets the
// director receives.
func ParseIptablesSave(text string) []Rule {
	return parseSave(text, false)
}

// ParseIp6tablesSave is ParseIptablesSave for `ip6tables-save -t mangle`:
// its rules mark IPv6 packets, for IPv6 fwmark services (ipvsadm -f N
// -6; issue #17).
func ParseIp6tablesSave(text string) []Rule {
	return parseSave(text, true)
}

func parseSave(text string, v6 bool) []Rule {
	var out []Rule
	table := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case table == "mangle" && strings.HasPrefix(line, "-A PREROUTING "):
			out = append(out, iptablesRule(line, v6))
		}
	}
	return out
}

// iptablesRule compiles one "-A PREROUTING ..." line of iptables-save, or
// of ip6tables-save when v6.
func iptablesRule(line string, v6 bool) Rule {
	r := Rule{Chain: "ip mangle PREROUTING", Text: line}
	host := "/32"
	if v6 {
		r.Chain, host = "ip6 mangle PREROUTING", "/128"
	}
	words, err := splitWords(strings.TrimPrefix(line, "-A PREROUTING "))
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	s := selection{fam: "ip"}
	if v6 {
		s.fam = "ip6"
	}
	next := func(i *int) (string, bool) {
		*i++
		if *i >= len(words) {
			return "", false
		}
		return words[*i], true
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		arg, ok := "", true
		switch w {
		case "!":
			r.Reason = "negated match (!" + restOf(words, i) + "): ulvs cannot express negations"
			return r
		case "-d", "--destination":
			arg, ok = next(&i)
			s.addr = strings.TrimSuffix(arg, host)
		case "-p", "--protocol":
			arg, ok = next(&i)
			s.protos = []string{arg}
		case "-m", "--match":
			arg, ok = next(&i)
			if arg != "tcp" && arg != "udp" && arg != "multiport" && arg != "comment" {
				r.Reason = fmt.Sprintf("match -m %s: ulvs expresses destination address, protocol and destination ports only", arg)
				return r
			}
		case "--comment":
			_, ok = next(&i)
		case "--dport", "--destination-port", "--dports", "--destination-ports":
			arg, ok = next(&i)
			if !ok {
				break
			}
			for _, p := range strings.Split(arg, ",") {
				pr, msg := config.ParsePortRange(p)
				if msg != "" {
					r.Reason = fmt.Sprintf("%s %s: %s", w, arg, msg)
					return r
				}
				s.ports = append(s.ports, pr)
			}
			if len(s.protos) == 1 {
				s.portsOf = s.protos[0]
			}
		case "-j", "--jump":
			arg, ok = next(&i)
			if arg != "MARK" {
				r.Reason = fmt.Sprintf("target -j %s: only -j MARK --set-mark sets a mark ulvs can use", arg)
				return r
			}
		case "--set-xmark", "--set-mark":
			arg, ok = next(&i)
			if !ok {
				break
			}
			v, mask, hasMask := strings.Cut(arg, "/")
			mark, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				r.Reason = fmt.Sprintf("%s %s: not a mark number", w, arg)
				return r
			}
			if hasMask {
				if m, err := strconv.ParseUint(mask, 0, 32); err != nil || m != 0xffffffff {
					r.Reason = fmt.Sprintf("%s %s: a partial mask keeps bits of an earlier mark; ulvs sets whole marks only", w, arg)
					return r
				}
			}
			s.mark, s.markSet = uint32(mark), true
		case "-s", "--source":
			arg, ok = next(&i)
			s.src = strings.TrimSuffix(arg, host)
		default:
			r.Reason = fmt.Sprintf("option %s: ulvs expresses destination address, protocol and destination ports only", w)
			return r
		}
		if !ok {
			r.Reason = fmt.Sprintf("option %s without its argument", w)
			return r
		}
	}
	s.compile(&r)
	return r
}

// restOf is the word after i, for messages.
func restOf(words []string, i int) string {
	if i+1 < len(words) {
		return " " + words[i+1]
	}
	return ""
}

// splitWords splits an iptables-save line into words, honouring the
// double quotes iptables-save puts around comments.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			quoted, in = !quoted, true
		case !quoted && (c == ' ' || c == '\t'):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}
