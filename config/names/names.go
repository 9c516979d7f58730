// Package names looks up the host and service names that Piranha's lvs.cf
// and the LVS configure script's lvs_dr.conf may use where an address or a
// port goes: host names through the system's resolver (/etc/hosts, DNS),
// service names in a services(5) file (/etc/services), as the C tools'
// gethostbyname and getservbyname do. The formats take a Resolver so that
// tests can give maps instead. Safe for concurrent use.
package names

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Resolver is the look-ups a format makes. A nil field is the system's
// (Fill).
type Resolver struct {
	// LookupHost returns the IPv4 address of a host name.
	LookupHost func(name string) (netip.Addr, error)
	// LookupPort returns the port of a service name for "tcp" or "udp".
	LookupPort func(name, proto string) (uint16, error)
}

// Fill sets the nil look-ups to the system's: SystemHost, and
// DefaultServicesFile read at each look-up.
func (r *Resolver) Fill() {
	if r.LookupHost == nil {
		r.LookupHost = SystemHost
	}
	if r.LookupPort == nil {
		r.LookupPort = func(name, proto string) (uint16, error) {
			s, err := LoadServices(DefaultServicesFile)
			if err != nil {
				return 0, err
			}
			return s.Lookup(name, proto)
		}
	}
}

// SystemHost resolves a host name to its first IPv4 address with the
// system's resolver, waiting at most 10 seconds.
func SystemHost(name string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("no IPv4 address for %s", name)
	}
	return addrs[0].Unmap(), nil
}
