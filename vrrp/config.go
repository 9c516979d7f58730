package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// State is a VRRP instance state (RFC 5798 section 6.4, plus keepalived's
// FAULT and STOP). The zero value is invalid.
type State uint8

// The states.
const (
	StateInit   State = iota + 1 // not started yet
	StateBackup                  // another router is master, or none has been seen yet
	StateMaster                  // this router owns the addresses
	StateFault                   // a tracked interface or script failed: no adverts, no addresses
	StateStop                    // stopped (after Run returns)
)

var stateNames = [...]string{"INVALID", "INIT", "BACKUP", "MASTER", "FAULT", "STOP"}

// String returns keepalived's name of the state ("MASTER", "BACKUP", ...),
// the word its notify scripts receive.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE(%d)", uint8(s))
}

// MarshalText returns String(), so that State reads as "MASTER" in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the names MarshalText writes, so that a status read
// back from JSON (ulvs ha) keeps its state.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if i > 0 && n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("vrrp: unknown state %q", b)
}

// VIP is one virtual_ipaddress line of keepalived.conf:
// "ADDR[/LEN] [brd ADDR] [dev IF] [scope SCOPE] [label LABEL]".
type VIP struct {
	// Prefix is the address and its length (/32 when the line has none).
	Prefix netip.Prefix
	// Brd is the broadcast address ("brd"), invalid when not given.
	Brd netip.Addr
	// Dev is the interface ("dev"); "" means the instance's interface.
	Dev string
	// Scope is the address scope ("scope": host, link, global or a
	// number); "" = global.
	Scope string
	// Label is the address label ("label", e.g. eth0:1).
	Label string
}

// Addr returns the virtual address.
func (v VIP) Addr() netip.Addr { return v.Prefix.Addr() }

// String returns the VIP in keepalived's syntax.
func (v VIP) String() string {
	var b strings.Builder
	if v.Prefix.Bits() == 32 {
		b.WriteString(v.Prefix.Addr().String())
	} else {
		b.WriteString(v.Prefix.String())
	}
	if v.Brd.IsValid() {
		b.WriteString(" brd " + v.Brd.String())
	}
	if v.Dev != "" {
		b.WriteString(" dev " + v.Dev)
	}
	if v.Scope != "" {
		b.WriteString(" scope " + v.Scope)
	}
	if v.Label != "" {
		b.WriteString(" label " + v.Label)
	}
	return b.String()
}

// GARPConfig is when a new master sends gratuitous ARPs for its addresses,
// keepalived's garp_master_* options.
type GARPConfig struct {
	// Delay is garp_master_delay: a second burst this long after becoming
	// master (default 5 s; 0 = no second burst).
	Delay time.Duration
	// Repeat is garp_master_repeat: ARPs per address in each burst
	// (default 5).
	Repeat int
	// Refresh is garp_master_refresh: while master, a burst every Refresh
	// after the delayed one (0 = never, the default).
	Refresh time.Duration
	// RefreshRepeat is garp_master_refresh_repeat (default 1).
	RefreshRepeat int
}

// Script is a vrrp_script block: a program run every Interval whose exit
// status (0 = success) is tracked with Fall/Rise hysteresis.
type Script struct {
	Name string
	// Argv is the program and its arguments (no shell).
	Argv []string
	// Interval between runs (default 1 s).
	Interval time.Duration
	// Timeout of one run (default Interval).
	Timeout time.Duration
	// Weight is added to the priority while the script succeeds (> 0) or
	// subtracted while it fails (< 0); 0 puts the instance in FAULT while
	// it fails. Range -253..253.
	Weight int
	// Fall failures in a row make a good script bad; Rise successes in a
	// row make a bad script good (defaults 1).
	Fall, Rise int
}

// TrackScript is one track_script entry: a script, with an optional weight
// overriding the script's ("weight W" after the name).
type TrackScript struct {
	Script Script
	// Weight overrides Script.Weight when HasWeight is set.
	Weight    int
	HasWeight bool
}

func (t TrackScript) weight() int {
	if t.HasWeight {
		return t.Weight
	}
	return t.Script.Weight
}

// TrackInterface is one track_interface entry.
type TrackInterface struct {
	Name string
	// Weight: 0 puts the instance in FAULT while the interface is down;
	// > 0 is added while it is up, < 0 subtracted while it is down.
	Weight int
}

// Instance is a vrrp_instance of keepalived.conf. Zero fields take
// keepalived's defaults in Validate.
type Instance struct {
	// Name is the instance name (VI_1), used in logs and notify arguments.
	Name string
	// State is the initial state, StateMaster or StateBackup (default).
	// As in keepalived, MASTER with a priority below 255 only shortens the
	// first wait to one advert interval; the election decides.
	State State
	// Interface the adverts go out of and come in on.
	Interface string
	// VRID is virtual_router_id, 1..255.
	VRID uint8
	// Priority 1..255 (default 100); 255 = address owner.
	Priority uint8
	// AdvertInt is advert_int (default 1 s): whole seconds in v2, a
	// multiple of 10 ms up to 40.95 s in v3.
	AdvertInt time.Duration
	// Version is vrrp_version (default V2).
	Version Version
	// IPv6 makes the instance run VRRPv3 over IPv6 (RFC 5798: adverts to
	// ff02::12 from the interface's link-local address, hop limit 255):
	// keepalived's native_ipv6, or an instance whose virtual_ipaddress
	// are IPv6. An instance is of one family: its VIPs are of it (its
	// ExcludedVIPs, not advertised, may be of either).
	IPv6 bool
	// AuthType and AuthPass are the authentication block (v2 only):
	// AuthNone, or AuthPass or AuthAH with a password of 1 to 8 bytes
	// (AH: the HMAC-MD5 key of the IPsec authentication header, ah.go).
	AuthType AuthType
	AuthPass string
	// VIPs is virtual_ipaddress: announced in adverts, owned while master.
	VIPs []VIP
	// ExcludedVIPs is virtual_ipaddress_excluded: owned while master, not
	// announced.
	ExcludedVIPs []VIP
	// NoPreempt is nopreempt: a higher-priority backup does not take over
	// from a live master.
	NoPreempt bool
	// PreemptDelay is preempt_delay: how long a higher-priority backup
	// waits after first seeing a lower-priority master before preempting.
	PreemptDelay time.Duration
	// GARP is garp_master_delay/repeat/refresh/refresh_repeat.
	GARP GARPConfig
	// TrackInterfaces is track_interface.
	TrackInterfaces []TrackInterface
	// TrackScripts is track_script.
	TrackScripts []TrackScript
	// NotifyMaster, NotifyBackup, NotifyFault and NotifyStop are the
	// notify_master/backup/fault/stop programs (argv), run with no extra
	// arguments; Notify is run with "INSTANCE" NAME STATE PRIORITY
	// appended.
	NotifyMaster, NotifyBackup, NotifyFault, NotifyStop, Notify []string
	// UnicastSrc is unicast_src_ip (default the interface's primary
	// address); UnicastPeers is unicast_peer: when set, adverts go to each
	// peer instead of 224.0.0.18 and multicast adverts are refused.
	UnicastSrc   netip.Addr
	UnicastPeers []netip.Addr
	// CheckUnicastSrc is check_unicast_src: refuse unicast adverts whose
	// source is not among UnicastPeers.
	CheckUnicastSrc bool
}

// Validate fills keepalived's defaults into a copy of in and checks it.
// Options ulvs does not implement are refused with an error, never
// silently ignored.
func (in Instance) Validate() (Instance, error) {
	fail := func(format string, args ...any) (Instance, error) {
		return in, fmt.Errorf("vrrp_instance %s: %s", in.Name, fmt.Sprintf(format, args...))
	}
	if in.Name == "" {
		return fail("no name")
	}
	switch in.State {
	case 0:
		in.State = StateBackup
	case StateMaster, StateBackup:
	default:
		return fail("state %v: want MASTER or BACKUP", in.State)
	}
	if in.Interface == "" {
		return fail("no interface")
	}
	if in.VRID == 0 {
		return fail("virtual_router_id must be 1..255")
	}
	if in.Priority == 0 {
		in.Priority = 100
	}
	if in.Version == 0 {
		in.Version = V2
	}
	if !in.Version.valid() {
		return fail("vrrp_version %d: want 2 or 3", in.Version)
	}
	if in.AdvertInt == 0 {
		in.AdvertInt = time.Second
	}
	switch in.Version {
	case V2:
		if in.AdvertInt%time.Second != 0 || in.AdvertInt > 255*time.Second || in.AdvertInt < 0 {
			return fail("advert_int %v: VRRPv2 needs whole seconds 1..255", in.AdvertInt)
		}
	case V3:
		if in.AdvertInt%(10*time.Millisecond) != 0 || in.AdvertInt > v3MaxAdverInt*10*time.Millisecond || in.AdvertInt < 0 {
			return fail("advert_int %v: VRRPv3 needs a multiple of 10 ms up to 40.95 s", in.AdvertInt)
		}
	}
	switch in.AuthType {
	case AuthNone:
		if in.AuthPass != "" {
			return fail("auth_pass without auth_type PASS")
		}
	case AuthPass:
		if in.Version != V2 {
			return fail("authentication is not part of VRRPv3 (RFC 5798 section 9); remove it or use vrrp_version 2")
		}
		if in.AuthPass == "" || len(in.AuthPass) > AuthDataLen {
			return fail("auth_pass must be 1..8 bytes, have %d", len(in.AuthPass))
		}
	case AuthAH:
		if in.Version != V2 {
			return fail("authentication is not part of VRRPv3 (RFC 5798 section 9); remove it or use vrrp_version 2")
		}
		if in.AuthPass == "" || len(in.AuthPass) > AuthDataLen {
			return fail("auth_pass must be 1..8 bytes, have %d", len(in.AuthPass))
		}
	default:
		return fail("auth_type %v is not supported", in.AuthType)
	}
	if len(in.VIPs) > MaxAddrs {
		return fail("%d virtual_ipaddress entries, an advert carries at most %d (use virtual_ipaddress_excluded)", len(in.VIPs), MaxAddrs)
	}
	if in.IPv6 && in.Version != V3 {
		return fail("VRRP over IPv6 needs vrrp_version 3 (RFC 5798; VRRPv2 is IPv4 only)")
	}
	family := "IPv4"
	if in.IPv6 {
		family = "IPv6"
	}
	seen := map[netip.Addr]bool{}
	for i, l := range [][]VIP{in.VIPs, in.ExcludedVIPs} {
		for _, v := range l {
			if !v.Prefix.IsValid() || v.Addr().Is4In6() {
				return fail("virtual address %v is not an IPv4 or IPv6 address", v.Prefix)
			}
			if i == 0 && v.Addr().Is6() != in.IPv6 {
				return fail("virtual_ipaddress %v: the instance is %s (one family per instance; put it in another instance or in virtual_ipaddress_excluded)", v.Prefix, family)
			}
			if seen[v.Addr()] {
				return fail("virtual address %v listed twice", v.Addr())
			}
			seen[v.Addr()] = true
		}
	}
	if in.PreemptDelay < 0 || in.PreemptDelay > 1000*time.Second {
		return fail("preempt_delay %v: want 0..1000 s", in.PreemptDelay)
	}
	if in.GARP.Delay < 0 || in.GARP.Refresh < 0 || in.GARP.Repeat < 0 || in.GARP.RefreshRepeat < 0 {
		return fail("garp_master_* values must not be negative")
	}
	if in.GARP == (GARPConfig{}) {
		in.GARP.Delay = 5 * time.Second
	}
	if in.GARP.Repeat == 0 {
		in.GARP.Repeat = 5
	}
	if in.GARP.RefreshRepeat == 0 {
		in.GARP.RefreshRepeat = 1
	}
	owner := in.Priority == PriorityOwner
	names := map[string]bool{}
	for _, t := range in.TrackInterfaces {
		if t.Name == "" || names["if "+t.Name] {
			return fail("track_interface %q empty or listed twice", t.Name)
		}
		names["if "+t.Name] = true
		if t.Weight < -254 || t.Weight > 254 {
			return fail("track_interface %s weight %d: want -254..254", t.Name, t.Weight)
		}
		if owner && t.Weight != 0 {
			return fail("track_interface %s has a weight but priority 255 (address owner) cannot change", t.Name)
		}
	}
	for i, t := range in.TrackScripts {
		s := &in.TrackScripts[i].Script
		if s.Name == "" || names["sc "+s.Name] {
			return fail("track_script %q empty or listed twice", s.Name)
		}
		names["sc "+s.Name] = true
		if len(s.Argv) == 0 {
			return fail("vrrp_script %s has no script", s.Name)
		}
		if s.Interval == 0 {
			s.Interval = time.Second
		}
		if s.Timeout == 0 {
			s.Timeout = s.Interval
		}
		if s.Fall == 0 {
			s.Fall = 1
		}
		if s.Rise == 0 {
			s.Rise = 1
		}
		if s.Interval < 0 || s.Timeout < 0 || s.Fall < 0 || s.Rise < 0 {
			return fail("vrrp_script %s: negative interval, timeout, fall or rise", s.Name)
		}
		if w := t.weight(); w < -253 || w > 253 {
			return fail("track_script %s weight %d: want -253..253", s.Name, w)
		}
		if owner && t.weight() != 0 {
			return fail("track_script %s has a weight but priority 255 (address owner) cannot change", s.Name)
		}
	}
	// keepalived: the source and the peers "MUST be of the same family"
	// as the instance.
	if a := in.UnicastSrc; a.IsValid() && !unicastOf(a, in.IPv6) {
		return fail("unicast_src_ip %v is not a unicast %s address of this host", a, family)
	}
	for _, p := range in.UnicastPeers {
		if !unicastOf(p, in.IPv6) {
			return fail("unicast_peer %v is not a unicast %s address (the instance runs over %s)", p, family, family)
		}
	}
	if in.CheckUnicastSrc && len(in.UnicastPeers) == 0 {
		return fail("check_unicast_src without unicast_peer")
	}
	return in, nil
}

// unicastOf reports whether a is a unicast address of the instance's
// family (IPv6 when v6): not unspecified, multicast, loopback or, for
// IPv4, the broadcast address; no zone (a link-local IPv6 peer is reached
// on the instance's interface).
func unicastOf(a netip.Addr, v6 bool) bool {
	switch {
	case !a.IsValid() || a.Is4In6() || a.Zone() != "" || a.Is6() != v6:
		return false
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback():
		return false
	}
	return a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// advertInterval returns the configured interval in wire units.
func (in *Instance) wireInterval() uint16 {
	if in.Version == V2 {
		return uint16(in.AdvertInt / time.Second)
	}
	return uint16(in.AdvertInt / (10 * time.Millisecond))
}

// authData returns the 8 bytes of the v2 authentication data.
func (in *Instance) authData() [AuthDataLen]byte {
	var a [AuthDataLen]byte
	if in.AuthType == AuthPass {
		copy(a[:], in.AuthPass)
	}
	return a
}

// ahKey returns the HMAC-MD5 key of auth_type AH: auth_pass zero padded
// to 8 bytes, as keepalived keys it.
func (in *Instance) ahKey() [AuthDataLen]byte {
	var k [AuthDataLen]byte
	copy(k[:], in.AuthPass)
	return k
}
