package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ulvs/ulvs/nfmarks"
)

const marksUsage = `Usage: ulvs marks

Lists the firewall-mark rules of this network namespace's prerouting chains
(iptables -t mangle PREROUTING ... -j MARK, and nft chains hooked at
prerouting with meta mark set) as ulvsd reads them: each rule, whether ulvsd
uses it or refuses it and why, and the marks the used ones give, in the
order ulvsd tries them. Run it where ulvsd runs (ip netns exec NS ulvs marks).
`

// marksMain is `ulvs marks`; run reads the rules (nfmarks.Exec outside
// tests).
func marksMain(args []string, stdout, stderr io.Writer, run nfmarks.Runner) int {
	fs := flag.NewFlagSet("ulvs marks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, marksUsage) }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ulvs marks: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	rules, err := nfmarks.Read(context.Background(), run)
	if err != nil {
		fmt.Fprintf(stderr, "ulvs marks: %v\n", err)
		return 1
	}
	if len(rules) == 0 {
		fmt.Fprintln(stdout, "no rules in prerouting chains")
		return 0
	}
	for _, r := range rules {
		fmt.Fprintln(stdout, r.String())
	}
	refused := len(nfmarks.Refused(rules))
	fmt.Fprintf(stdout, "\n%d rules: %d used, %d refused\n", len(rules), len(rules)-refused, refused)
	marks := nfmarks.Marks(rules)
	if len(marks) > 0 {
		fmt.Fprintln(stdout, "marks, in the order ulvsd tries them (the last iptables rule that matches wins):")
	}
	for _, m := range marks {
		for _, mm := range m.Matches {
			ports := "all ports"
			if len(mm.Ports) > 0 {
				var ps []string
				for _, p := range mm.Ports {
					if p.First == p.Last {
						ps = append(ps, fmt.Sprint(p.First))
					} else {
						ps = append(ps, fmt.Sprintf("%d-%d", p.First, p.Last))
					}
				}
				ports = "ports " + strings.Join(ps, ",")
			}
			from := ""
			if mm.Src.IsValid() {
				from = " from " + mm.Src.String()
			}
			fmt.Fprintf(stdout, "  mark %d  %s %s %s%s\n", m.Mark, strings.ToLower(mm.Proto.String()), mm.Addr, ports, from)
		}
	}
	return 0
}
