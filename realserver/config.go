package realserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Mode is the LVS forwarding method the real server is prepared for. The
// zero value is invalid.
type Mode uint8

const (
	modeInvalid Mode = iota
	ModeDR           // direct routing (ipvsadm -g): VIP on lo
	ModeTUN          // IP tunneling (ipvsadm -i): VIP behind an IPIP decapsulator
	ModeNAT          // masquerading (ipvsadm -m): no VIP, the director as default gateway
)

var modeNames = [...]string{modeInvalid: "invalid", ModeDR: "dr", ModeTUN: "tun", ModeNAT: "nat"}

// String returns "dr", "tun" or "nat".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// ParseMode parses "dr", "tun" or "nat" (also "route"/"g", "tunnel"/"i"
// and "masq"/"m", the words and letters ipvsadm uses).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "dr", "route", "g", "gatewaying":
		return ModeDR, nil
	case "tun", "tunnel", "i", "ipip":
		return ModeTUN, nil
	case "nat", "masq", "m", "masquerading":
		return ModeNAT, nil
	}
	return modeInvalid, fmt.Errorf("unknown mode %q (want dr, tun or nat)", s)
}

// MarshalText returns the mode's name.
func (m Mode) MarshalText() ([]byte, error) {
	if m == modeInvalid || int(m) >= len(modeNames) {
		return nil, fmt.Errorf("invalid mode %d", m)
	}
	return []byte(m.String()), nil
}

// UnmarshalText parses a mode name.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	*m = v
	return err
}

// Decap chooses how a TUN real server decapsulates IPIP. The zero value,
// DecapAuto, uses the kernel's ipip device when the kernel has one and
// every VIP is IPv4; otherwise the userspace decapsulator, with the tcx
// program where the kernel takes it.
type Decap uint8

const (
	DecapAuto   Decap = iota
	DecapKernel       // the kernel's ipip device (tunl0); fails without the module
	DecapUser         // the userspace decapsulator alone, even if the kernel has ipip
	// DecapTCX is the userspace decapsulator with a tcx program that
	// decapsulates IPIP to the IPv4 VIPs in the kernel, leaving it only
	// the rest (IPv6 tunnels, outer fragments and options, GSO
	// super-frames); fails where the kernel takes no tcx program (before
	// 6.6) or there is no IPv4 VIP.
	DecapTCX
)

var decapNames = [...]string{DecapAuto: "auto", DecapKernel: "kernel", DecapUser: "user", DecapTCX: "tcx"}

// String returns "auto", "kernel", "user" or "tcx".
func (d Decap) String() string {
	if int(d) < len(decapNames) {
		return decapNames[d]
	}
	return fmt.Sprintf("Decap(%d)", d)
}

// ParseDecap parses "auto", "kernel", "user" or "tcx".
func ParseDecap(s string) (Decap, error) {
	for i, n := range decapNames {
		if s == n {
			return Decap(i), nil
		}
	}
	return DecapAuto, fmt.Errorf("unknown decapsulation %q (want auto, kernel, user or tcx)", s)
}

// MarshalText returns the name.
func (d Decap) MarshalText() ([]byte, error) {
	if int(d) >= len(decapNames) {
		return nil, fmt.Errorf("invalid decapsulation %d", d)
	}
	return []byte(d.String()), nil
}

// UnmarshalText parses a name.
func (d *Decap) UnmarshalText(b []byte) error {
	v, err := ParseDecap(string(b))
	*d = v
	return err
}

// Defaults.
const (
	// DefaultStateDir holds one state file per prepared real server.
	DefaultStateDir = "/run/ulvs/realserver"
	// DefaultTunName is the TUN device of the userspace decapsulator.
	DefaultTunName = "ulvs-tun0"
	// IPIPDevice is the kernel's fallback IPIP device, as the seeds use it.
	IPIPDevice = "tunl0"
	// NftTable is the nftables table (family ip) that drops IPIP in the
	// input hook while the userspace decapsulator runs.
	NftTable = "ulvs_decap"
	// defaultName names the state when the host is not in a named netns.
	defaultName = "default"
)

// Config describes a real server. The zero value is not valid: Mode is
// required, and VIPs for DR and TUN (NAT takes none, but a Gateway).
type Config struct {
	Mode Mode
	// VIPs are the virtual IPv4 addresses the director forwards to this
	// host.
	VIPs []netip.Addr
	// VIPDevice is where a DR real server holds the VIPs (the configure
	// script's SERVER_VIP_DEVICE): empty means lo; an alias such as lo:0
	// puts the addresses on lo labelled lo:0; another device (dummy0) is
	// used if it exists and created as a dummy link if its name starts
	// with "dummy". For TUN, tunl0 (or empty) is the default; any other
	// name is the userspace decapsulator's TUN device (TunName).
	VIPDevice string
	// NetDevice is the real server's network device (SERVER_NET_DEVICE):
	// it gets arp_ignore/arp_announce too (DR, TUN), carries the default
	// route to Gateway, and is TUN's capture interface when Iface is empty.
	NetDevice string
	// Gateway, when valid, becomes the default route (SERVER_GW, or for
	// NAT the director's inside address), through NetDevice if given.
	// Down restores the default route that was there before.
	Gateway netip.Addr
	// Decap chooses the IPIP decapsulation of ModeTUN (ignored for DR).
	Decap Decap
	// Iface is the interface IPIP arrives on, for the userspace
	// decapsulator. Empty: the interface of the default route, or the only
	// interface besides lo.
	Iface string
	// TunName is the userspace decapsulator's TUN device; empty means
	// DefaultTunName.
	TunName string
	// Name names the state file. Empty: the name of the network namespace
	// the caller is in (as `ip netns identify` finds it), or "default".
	Name string
	// StateDir is where state files live; empty means DefaultStateDir.
	StateDir string
	// Logger receives what Up and Down change; nil discards.
	Logger *slog.Logger
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// ifnameRE: Linux interface names are at most 15 bytes, no '/', no spaces.
var ifnameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$`)

// ErrNotSupported is returned where the host lacks what a choice needs
// (e.g. DecapKernel without the ipip module, or a non-Linux OS).
var ErrNotSupported = errors.New("not supported on this host")

// ErrAlreadyUp is returned by Up when a state file of the same name exists.
var ErrAlreadyUp = errors.New("real server already set up (run down first)")

// validate checks c and fills defaults except Name and Iface, which need
// the host.
func (c *Config) validate() error {
	if c.Mode != ModeDR && c.Mode != ModeTUN && c.Mode != ModeNAT {
		return fmt.Errorf("mode: want dr, tun or nat")
	}
	if c.Mode == ModeNAT {
		if len(c.VIPs) > 0 {
			return errors.New("nat: a NAT real server holds no VIP (the director rewrites the destination)")
		}
		if !c.Gateway.IsValid() {
			return errors.New("nat: the real server needs the director as its default gateway (SERVER_GW or DIRECTOR_INSIDEIP)")
		}
	} else if len(c.VIPs) == 0 {
		return errors.New("no VIP given")
	}
	if c.Gateway.IsValid() && (!c.Gateway.Is4() || !c.Gateway.IsGlobalUnicast()) {
		return fmt.Errorf("gateway %v: not a unicast IPv4 address", c.Gateway)
	}
	if c.VIPDevice != "" {
		if c.Mode == ModeNAT {
			return errors.New("nat: a NAT real server holds no VIP, so no VIP device")
		}
		base, label, hasLabel := strings.Cut(c.VIPDevice, ":")
		if !ifnameRE.MatchString(base) || hasLabel && (label == "" || len(c.VIPDevice) > 15 || strings.ContainsAny(label, ": /")) {
			return fmt.Errorf("VIP device %q: not an interface name or DEV:LABEL alias (at most 15 bytes)", c.VIPDevice)
		}
		if hasLabel && c.Mode == ModeTUN {
			return fmt.Errorf("VIP device %q: an alias is for DR (lo:0); TUN holds the VIPs on tunl0 or its decapsulator's device", c.VIPDevice)
		}
	}
	if c.NetDevice != "" && !ifnameRE.MatchString(c.NetDevice) {
		return fmt.Errorf("network device %q: not an interface name", c.NetDevice)
	}
	seen := map[netip.Addr]bool{}
	for _, v := range c.VIPs {
		switch {
		case v.Is6() && !v.Is4In6() && c.Mode == ModeTUN && c.Decap == DecapKernel:
			return fmt.Errorf("VIP %v: kernel decapsulation of IPv6 tunnels (ip6_tunnel, sit) is not supported by ulvs realserver; use the userspace decapsulator (--decap user, or auto)", v)
		case v.Is6() && !v.Is4In6():
			if v.IsUnspecified() || v.IsLoopback() || v.IsMulticast() || v.IsLinkLocalUnicast() || v.Zone() != "" {
				return fmt.Errorf("VIP %v: not a global unicast address", v)
			}
		case !v.Is4():
			return fmt.Errorf("VIP %v: not an IPv4 or IPv6 address", v)
		case v.IsUnspecified() || v.IsLoopback() || v.IsMulticast() || v == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			return fmt.Errorf("VIP %v: not a unicast address", v)
		}
		if seen[v] {
			return fmt.Errorf("VIP %v given twice", v)
		}
		seen[v] = true
	}
	c.VIPs = slices.Clone(c.VIPs)
	if c.Decap > DecapTCX {
		return fmt.Errorf("invalid decapsulation %d", c.Decap)
	}
	if c.Mode == ModeTUN && c.Decap == DecapTCX && !slices.ContainsFunc(c.VIPs, netip.Addr.Is4) {
		return fmt.Errorf("decapsulation tcx takes IPIP to IPv4 VIPs, and no VIP is IPv4; use auto or user")
	}
	if c.TunName == "" {
		c.TunName = DefaultTunName
	}
	if !ifnameRE.MatchString(c.TunName) {
		return fmt.Errorf("TUN device name %q: not a valid interface name", c.TunName)
	}
	if c.Iface != "" && !ifnameRE.MatchString(c.Iface) {
		return fmt.Errorf("interface name %q: not valid", c.Iface)
	}
	if c.Name != "" && !nameRE.MatchString(c.Name) {
		return fmt.Errorf("name %q: want letters, digits, '_', '.', '-' (at most 64)", c.Name)
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
