// Package nfmarks reads the firewall-mark rules of the network namespace's
// netfilter prerouting chains (iptables' mangle PREROUTING and native nft
// chains hooked at prerouting) and compiles the ones ulvs can express into
// its own mark classifier (config.Mark).
//
// ulvs sees frames through AF_PACKET before netfilter runs, so a rule such
// as
//
//	iptables -t mangle -A PREROUTING -p tcp -d 192.168.56.200 --dport 21 -j MARK --set-mark 21
//
// never marks a packet ulvs sees. This package turns such a rule into the
// equivalent config.MarkMatch (destination and source address or prefix,
// protocol, destination ports, ranges and sets). A rule it cannot express
// (interfaces, conntrack state, negations, masked marks, jumps, verdicts,
// any other match) is refused: it is returned with the reason, never
// silently dropped.
//
// The rules come from `nft -j list ruleset`. On Debian 12 iptables is
// iptables-nft: its rules are nft rules, but the MARK target (and matches
// such as multiport) are xt extensions whose arguments the JSON does not
// show; for those the matching line of `iptables-save -t mangle` is parsed
// instead.
package nfmarks
