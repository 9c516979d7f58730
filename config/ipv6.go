package config

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ulvs/ulvs/vs"
)

// ErrIPv6NotYet marks a request for an IPv6 feature ulvs does not have yet
// (issue #17): the request is refused, never accepted and ignored. It
// wraps ErrNotSupported.
var ErrIPv6NotYet error = notYet{}

type notYet struct{}

func (notYet) Error() string        { return "not supported yet (ulvs issue #17, IPv6)" }
func (notYet) Is(target error) bool { return target == ErrNotSupported }

// IPv6Mask returns the IPv6 persistence netmask of prefix length bits
// (ipvsadm -M 64 on an IPv6 service); 128 is the default, which a Service
// stores as the invalid Addr.
func IPv6Mask(bits int) netip.Addr {
	if bits >= 128 || bits < 0 {
		return netip.Addr{}
	}
	var b [16]byte
	for i := range bits {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// MaskBits returns the prefix length of a contiguous netmask, IPv4 or
// IPv6; the invalid Addr is a host mask (32 or 128 by v6).
func MaskBits(m netip.Addr, v6 bool) int {
	if !m.IsValid() {
		if v6 {
			return 128
		}
		return 32
	}
	n := 0
	for _, x := range m.AsSlice() {
		for i := 7; i >= 0; i-- {
			if x&(1<<i) == 0 {
				return n
			}
			n++
		}
	}
	return n
}

// FwMark6Addr is the address an IPv6 firewall-mark service holds
// (ipvsadm -f N -6): the kernel keys fwmark services by address family
// and mark, and ulvs tells the families apart by Service.Addr, the
// invalid Addr for an IPv4 fwmark service, :: for an IPv6 one.
var FwMark6Addr = netip.IPv6Unspecified()

// IPv6 reports whether s is an IPv6 service: an IPv6 address, or an IPv6
// firewall-mark service (Addr FwMark6Addr).
func (s *Service) IPv6() bool { return s.Addr.Is6() && !s.Addr.Is4In6() }

// IPv6 reports whether k names an IPv6 service.
func (k ServiceKey) IPv6() bool { return k.Addr.Is6() && !k.Addr.Is4In6() }

// CheckFamily refuses, with ErrIPv6NotYet, what ulvs cannot do with IPv6
// yet, for service s (v6 tells whether it is an IPv6 service; a fwmark
// service is IPv6 with ipvsadm -6) and, when d is not nil, its real server
// d. Mixed families (an IPv4 service with an IPv6 real server or the
// reverse) are accepted for tunnelling only, as the kernel does
// (IPv4 in IPv6, IPv6 in IPv4), and refused with ErrInvalid otherwise.
// Every format and ulvsadm go through it, so nothing IPv6 is accepted and
// silently ignored.
func CheckFamily(s *Service, v6 bool, d *Dest) error {
	for _, a := range s.LocalAddrs {
		// FULLNAT keeps the family (DPVS's NAT64, IPv4 local addresses
		// for an IPv6 service, is not done).
		if a6 := a.Is6() && !a.Is4In6(); a6 != v6 {
			return fmt.Errorf("FULLNAT local address %s in a service of the other address family (NAT64/NAT46): %w", a, ErrIPv6NotYet)
		}
	}
	if d == nil || !d.Addr.IsValid() {
		return nil
	}
	dv6 := d.Addr.Is6() && !d.Addr.Is4In6()
	switch {
	case dv6 != v6 && d.Method != vs.Tunnel:
		// The kernel forwards to a real server of the other family only
		// by tunnelling (ip_vs_genl_set_cmd: -EINVAL otherwise); ipvsadm
		// says "Different address family is allowed only for tunneling
		// servers" before it asks.
		return fmt.Errorf("real server %s in a service of the other address family: only tunnelling (-i, TUN) real servers may be: %w", d.Addr, ErrInvalid)
	case !v6:
		return nil
	}
	return nil
}

// CheckRulesFamily runs CheckFamily over every service and real server of
// r: the director's last check before it compiles a table.
func CheckRulesFamily(r *Rules) error {
	var errs []error
	for i := range r.Services {
		s := &r.Services[i]
		v6 := s.IPv6()
		if err := CheckFamily(s, v6, nil); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", s.Key().Name(), err))
			continue
		}
		for j := range s.Dests {
			if err := CheckFamily(s, v6, &s.Dests[j]); err != nil {
				errs = append(errs, fmt.Errorf("service %s: %w", s.Key().Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}
