package realserver

import (
	"context"
	"net/netip"
)

// host is the seam between the real server logic and the OS: sysctls,
// addresses, links and nftables in the calling thread's network namespace.
// ipHost (Linux) uses /proc/sys, the net package, `ip` and `nft`; tests use
// a fake. Deleting something that is not there is not an error.
type host interface {
	// readSysctl returns the value of /proc/sys/key without trailing
	// whitespace; a missing key gives an error matching fs.ErrNotExist.
	readSysctl(key string) (string, error)
	writeSysctl(key, value string) error

	// link reports whether the link exists and whether it is up.
	link(name string) (exists, up bool, err error)
	setLinkUp(ctx context.Context, name string, up bool) error
	// addIPIPLink creates an ipip link (`ip link add NAME type ipip`).
	addIPIPLink(ctx context.Context, name string) error
	// addDummyLink creates a dummy link (`ip link add NAME type dummy`).
	addDummyLink(ctx context.Context, name string) error
	delLink(ctx context.Context, name string) error

	// hasAddr reports whether dev carries a (with any prefix length).
	hasAddr(dev string, a netip.Addr) (bool, error)
	// addAddr adds p on dev, with label when it is not empty.
	addAddr(ctx context.Context, dev string, p netip.Prefix, label string) error
	delAddr(ctx context.Context, dev string, p netip.Prefix) error

	// defaultRoute returns the IPv4 default route's gateway and device;
	// dev is empty when there is none.
	defaultRoute(ctx context.Context) (via netip.Addr, dev string, err error)
	// setDefaultRoute replaces the default route by one via via (unless
	// invalid) through dev (unless empty); delDefaultRoute removes it.
	setDefaultRoute(ctx context.Context, via netip.Addr, dev string) error
	delDefaultRoute(ctx context.Context) error

	// defaultIface returns the interface of the IPv4 default route, or
	// the only interface besides lo.
	defaultIface(ctx context.Context) (string, error)

	nftTableExists(ctx context.Context, table string) (bool, error)
	// addNftDropIPIP creates tables ip and ip6 TABLE with input chains
	// dropping the tunnel protocols 4 and 41.
	addNftDropIPIP(ctx context.Context, table string) error
	delNftTable(ctx context.Context, table string) error
}

// nftDropIPIPScript is the nftables tables the userspace decapsulator
// needs: without them the kernel, having no handler for the tunnel
// protocols (no ipip, sit or ip6_tunnel module), answers every IPIP or
// IPv6-in-IPv4 packet with ICMP protocol unreachable and every IPv6
// tunnel packet (next header 4 or 41) with ICMPv6 parameter problem. The
// two tables, ip and ip6, share the name.
func nftDropIPIPScript(table string) string {
	return "table ip " + table + " {\n" +
		"\tchain in {\n" +
		"\t\ttype filter hook input priority 0; policy accept;\n" +
		"\t\tip protocol { 4, 41 } counter drop\n" +
		"\t}\n" +
		"}\n" +
		"table ip6 " + table + " {\n" +
		"\tchain in {\n" +
		"\t\ttype filter hook input priority 0; policy accept;\n" +
		"\t\tmeta l4proto { 4, 41 } counter drop\n" +
		"\t}\n" +
		"}\n"
}
