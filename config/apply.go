package config

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ulvs/ulvs/vs"
)

// Apply performs the rule edit c on r, with the checks and errors of the
// kernel's do_ip_vs_set_ctl (net/netfilter/ipvs/ip_vs_ctl.c): a missing
// service is ErrNoService, adding an existing one ErrServiceExists, an
// unknown scheduler ErrSchedulerNotFound, an existing dest ErrDestExists, a
// missing one ErrNoDest, thresholds the wrong way round ErrRange. Errors wrap
// the sentinels; on error r is unchanged.
//
// -E and -e replace every parameter, as in the kernel: the service keeps
// its dests, the dest its identity. -Z only checks that the named service
// exists and --set is accepted (counters and timeouts live in the daemon).
// Other ops return ErrNotRuleEdit.
func (r *Rules) Apply(c Command) error {
	switch c.Op {
	case OpClear:
		r.Services = nil
		return nil
	case OpSetTimeout:
		return nil
	case OpZero:
		if !c.HasService {
			return nil
		}
	case OpAddService, OpEditService, OpDelService, OpAddDest, OpEditDest, OpDelDest:
	case OpStartDaemon, OpStopDaemon:
		// The sync daemons are no rules: the director runs them.
		return fmt.Errorf("%v: %w", c.Op, ErrNotRuleEdit)
	default:
		return fmt.Errorf("%v: %w", c.Op, ErrNotRuleEdit)
	}
	if !c.HasService {
		return fmt.Errorf("%v: no service given: %w", c.Op, ErrInvalid)
	}
	c.Normalize()
	key := c.Service.Key()
	what := fmt.Sprintf("%v %s", c.Op, key.Name())
	if key.Proto != vs.TCP && key.Proto != vs.UDP {
		return fmt.Errorf("%s: %w", what, ErrProtocol)
	}
	v6 := key.IPv6()
	if err := CheckFamily(&c.Service, v6, destOf(&c)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	i := r.find(key)
	if c.Op == OpAddService {
		if i >= 0 {
			return fmt.Errorf("%s: %w", what, ErrServiceExists)
		}
	} else if i < 0 {
		return fmt.Errorf("%s: %w", what, ErrNoService)
	}

	switch c.Op {
	case OpAddService, OpEditService:
		if err := checkServiceParams(&c); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		s := c.Service
		s.SchedFlags = slices.Clone(s.SchedFlags)
		s.LocalAddrs = slices.Clone(s.LocalAddrs)
		if c.Op == OpAddService {
			s.Dests = nil
			r.Services = append(r.Services, s)
			return nil
		}
		old := &r.Services[i]
		if s.SynProxy && slices.ContainsFunc(old.Dests, func(d Dest) bool { return !SynProxyMethod(d.Method) }) {
			return fmt.Errorf("%s: %w", what, ErrSynProxyMethod)
		}
		s.Dests = old.Dests
		*old = s
		return nil
	case OpDelService:
		r.Services = slices.Delete(r.Services, i, i+1)
		return nil
	case OpZero:
		return nil
	}

	// Dest edits.
	svc := &r.Services[i]
	d := c.Dest
	what = fmt.Sprintf("%s dest %s", what, netip.AddrPortFrom(d.Addr, d.Port))
	if c.Op != OpDelDest {
		if d.Weight < 0 || d.LThreshold > d.UThreshold {
			return fmt.Errorf("%s: %w", what, ErrRange)
		}
		if c.Tunnel.Type != "" && c.Tunnel.Type != TunnelIPIP {
			return fmt.Errorf("%s: %s tunnels: %w", what, c.Tunnel.Type, ErrNotSupported)
		}
		switch d.Method {
		case vs.Masq, vs.Tunnel, vs.Route, vs.FullNAT:
		default:
			return fmt.Errorf("%s: method %v: %w", what, d.Method, ErrInvalid)
		}
	}
	if c.Op != OpDelDest && svc.SynProxy && !SynProxyMethod(d.Method) {
		return fmt.Errorf("%s: %v: %w", what, d.Method, ErrSynProxyMethod)
	}
	j := slices.IndexFunc(svc.Dests, func(x Dest) bool { return x.Addr == d.Addr && x.Port == d.Port })
	switch c.Op {
	case OpAddDest:
		if j >= 0 {
			return fmt.Errorf("%s: %w", what, ErrDestExists)
		}
		if !Unicast(d.Addr) {
			return fmt.Errorf("%s: address not unicast: %w", what, ErrInvalid)
		}
		svc.Dests = append(slices.Clip(svc.Dests), d)
	case OpEditDest:
		if j < 0 {
			return fmt.Errorf("%s: %w", what, ErrNoDest)
		}
		svc.Dests[j] = d
	case OpDelDest:
		if j < 0 {
			return fmt.Errorf("%s: %w", what, ErrNoDest)
		}
		svc.Dests = slices.Delete(slices.Clip(svc.Dests), j, j+1)
	}
	return nil
}

// destOf returns the dest of a dest edit, nil for a service edit.
func destOf(c *Command) *Dest {
	switch c.Op {
	case OpAddDest, OpEditDest:
		return &c.Dest
	}
	return nil
}

// SynProxyMethod reports whether a SYN proxy service may have real servers
// of method m: NAT and FULLNAT, whose replies pass the director.
func SynProxyMethod(m vs.Method) bool { return m == vs.Masq || m == vs.FullNAT }

// Find returns the service with key k, or nil.
func (r *Rules) Find(k ServiceKey) *Service {
	if i := r.find(k); i >= 0 {
		return &r.Services[i]
	}
	return nil
}

func (r *Rules) find(k ServiceKey) int {
	return slices.IndexFunc(r.Services, func(s Service) bool { return s.Key() == k })
}

// checkServiceParams checks what ip_vs_add_service and ip_vs_edit_service
// check: the scheduler and persistence engine exist.
func checkServiceParams(c *Command) error {
	sched := c.Service.Scheduler
	if sched == "" {
		sched = DefaultScheduler
	}
	if !KnownScheduler(sched) || c.PersistenceEngine != "" {
		return ErrSchedulerNotFound
	}
	return nil
}

// Unicast reports whether a is a real server address the kernel accepts
// (ip_vs_new_dest: inet_addr_type must be RTN_UNICAST or RTN_LOCAL): an
// IPv4 address neither 0.0.0.0/8, multicast nor the broadcast address;
// an IPv6 address neither unspecified, loopback, multicast, link-local
// nor IPv4-mapped. The file formats hold virtual addresses to it too
// (ulvs answers ARP or neighbour solicitations for them).
func Unicast(a netip.Addr) bool {
	if a.Is6() {
		return !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() && !a.IsLinkLocalUnicast() && !a.Is4In6() && a.Zone() == ""
	}
	if !a.Is4() || a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	b := a.As4()
	return b != [4]byte{255, 255, 255, 255} && b[0] != 0
}

// Name returns the service as Rules.Apply's errors and the file formats
// name it: "TCP 10.0.0.1:80", "UDP ...", "FWM 5", "FWM 5 IPv6" (as
// ipvsadm -L names an IPv6 fwmark service).
func (k ServiceKey) Name() string {
	if k.FwMark != 0 {
		if k.IPv6() {
			return fmt.Sprintf("FWM %d IPv6", k.FwMark)
		}
		return fmt.Sprintf("FWM %d", k.FwMark)
	}
	proto := "TCP"
	switch k.Proto {
	case vs.UDP:
		proto = "UDP"
	case ProtoSCTP:
		proto = "SCTP"
	case vs.TCP:
	default:
		proto = fmt.Sprintf("proto %d", uint8(k.Proto))
	}
	return proto + " " + netip.AddrPortFrom(k.Addr, k.Port).String()
}
