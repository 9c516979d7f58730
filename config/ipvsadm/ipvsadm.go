// Package ipvsadm is ipvsadm's language: its command-line grammar
// (ParseArgs turns ipvsadm 1.31 arguments into a config.Command, with
// ipvsadm's defaults, checks, order of checks and message text), the
// ipvsadm-save / ipvsadm -R text (ParseRestore, SplitRestoreLine), and the
// way back (Args, ServiceArgs write a command as ipvsadm-save does).
// ulvsadm parses its command line here; the rule edits it yields are
// performed by config.Rules.Apply.
//
// The files follow ipvsadm.c: options.go its popt table and
// commands_v_options, popt.go libpopt's walk over argv, args.go
// process_options, args_check.go generic_opt_check and tunnel_opt_check,
// values.go parse_service and the other value parsers, cnum.go the C
// library's number and address conversions ipvsadm relies on.
//
// Nothing here touches the network except SystemResolver's name lookups.
// The functions are safe for concurrent use.
package ipvsadm

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// ParseError is a command line ipvsadm rejects, with what it prints.
type ParseError struct {
	// Msg is the line ipvsadm prints on stderr, without the newline. It is
	// empty when TryHelp is set.
	Msg string
	// TryHelp means ipvsadm prints "Try `PROG -h' or 'PROG --help' for more
	// information." (tryhelp_exit).
	TryHelp bool
	// Status is ipvsadm's exit status: 2 for fail(), 255 for the rest.
	Status int
}

func (e *ParseError) Error() string {
	if e.TryHelp {
		return "ipvsadm: bad command line"
	}
	return e.Msg
}

func failf(format string, args ...any) *ParseError {
	return &ParseError{Msg: fmt.Sprintf(format, args...), Status: 2}
}

// Resolver resolves the host and service names ipvsadm accepts in place of
// numbers (gethostbyname, getservbyname).
type Resolver interface {
	// LookupHost returns an IPv4 address for name.
	LookupHost(name string) (netip.Addr, bool)
	// LookupService returns the port of the named service for proto.
	LookupService(name string, proto vs.Protocol) (uint16, bool)
}

// SystemResolver resolves names with the Go resolver (/etc/hosts, DNS and
// /etc/services). The zero value is ready to use.
type SystemResolver struct{}

// LookupHost implements Resolver.
func (SystemResolver) LookupHost(name string) (netip.Addr, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, false
	}
	return addrs[0].Unmap(), true
}

// LookupService implements Resolver.
func (SystemResolver) LookupService(name string, proto vs.Protocol) (uint16, bool) {
	var network string
	switch proto {
	case vs.TCP:
		network = "tcp"
	case vs.UDP:
		network = "udp"
	default:
		return 0, false
	}
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return 0, false // getservbyname does not take numbers
	}
	p, err := net.LookupPort(network, name)
	if err != nil || p < 0 || p > 65535 {
		return 0, false
	}
	return uint16(p), true
}

// ParseArgs parses ipvsadm's arguments (without the program name),
// resolving host and service names with SystemResolver. Errors are
// *ParseError.
func ParseArgs(args []string) (config.Command, error) {
	return ParseArgsWith(args, SystemResolver{})
}

// ParseArgsWith is ParseArgs with the given resolver; nil accepts numbers
// only.
func ParseArgsWith(args []string, r Resolver) (config.Command, error) {
	p := parser{res: r}
	c, perr := p.parse(args)
	if perr != nil {
		return config.Command{}, perr
	}
	return c, nil
}
