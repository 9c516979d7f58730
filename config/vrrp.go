package config

import (
	"net/netip"
	"reflect"
	"slices"
	"time"
)

// This file is the failover part of the configuration model: what
// keepalived.conf's vrrp_instance and vrrp_script blocks (and the TOML
// file's [[vrrp_instance]] tables) say. The director runs each instance
// with package vrrp and serves the instance's addresses only while it is
// master.

// VRRPInstance is one vrrp_instance, with keepalived's defaults filled in.
type VRRPInstance struct {
	Name      string
	State     string // "MASTER" or "BACKUP": the state to start in
	Interface string
	VRID      uint8
	Priority  uint8 // 1..255; 255 = the address owner
	AdvertInt time.Duration
	Version   int // 2 (default) or 3
	// NativeIPv6 is keepalived's native_ipv6: the instance runs over
	// IPv6 even without IPv6 virtual_ipaddress entries. An instance
	// whose first virtual_ipaddress is IPv6 runs over IPv6 too (IPv6).
	NativeIPv6 bool

	AuthType string // "" (none), "PASS" or "AH" (IPsec AH, HMAC-MD5-96)
	AuthPass string // at most 8 bytes (AH: the HMAC key)

	// VIPs are virtual_ipaddress lines: the addresses this director
	// serves (answers ARP for, forwards to) only while master. Excluded
	// are virtual_ipaddress_excluded: the same, but not carried in the
	// adverts.
	VIPs     []VRRPAddress
	Excluded []VRRPAddress

	NoPreempt    bool
	PreemptDelay time.Duration

	// UseVMAC is use_vmac: the instance's addresses are answered and
	// announced with the VRRP virtual MAC 00:00:5e:00:01:VRID
	// (00:00:5e:00:02:VRID over IPv6, RFC 5798 section 7.3; ulvs creates
	// no macvlan; its engine answers ARP and neighbour solicitations with
	// the MAC), and its multicast adverts leave from that MAC unless
	// VMACXmitBase (vmac_xmit_base) sends them from the interface's own.
	UseVMAC      bool
	VMACXmitBase bool

	// Gratuitous ARP on becoming master: GARPDelay after the transition a
	// second burst of GARPRepeat (keepalived's garp_master_delay 5 s,
	// garp_master_repeat 5); GARPRefresh (0 = off) repeats them while
	// master, GARPRefreshRepeat at a time.
	GARPDelay         time.Duration
	GARPRepeat        int
	GARPRefresh       time.Duration
	GARPRefreshRepeat int

	TrackInterfaces []VRRPTrackInterface
	TrackScripts    []VRRPTrackScript

	NotifyMaster Script
	NotifyBackup Script
	NotifyFault  Script
	NotifyStop   Script
	Notify       Script // called with INSTANCE NAME STATE PRIORITY appended

	UnicastSrc   netip.Addr
	UnicastPeers []netip.Addr
	// CheckUnicastSrc is check_unicast_src (or global_defs
	// vrrp_check_unicast_src): unicast adverts from an address that is not
	// a unicast_peer are dropped.
	CheckUnicastSrc bool

	// File and Line locate the block, for messages.
	File string
	Line int
}

// VRRPAddress is one virtual_ipaddress line: "10.0.0.100/24 brd
// 10.0.0.255 dev eth0 label eth0:1". Prefix.Bits is 32 when no length is
// given.
type VRRPAddress struct {
	Prefix netip.Prefix
	Brd    netip.Addr
	Dev    string
	Label  string
	Scope  string
}

// VRRPTrackInterface is one track_interface line: the instance goes to
// FAULT when the interface is down (Weight 0), or its priority moves by
// Weight.
type VRRPTrackInterface struct {
	Name   string
	Weight int
}

// VRRPTrackScript is one track_script line naming a vrrp_script, with an
// optional weight that overrides the script's.
type VRRPTrackScript struct {
	Script    VRRPScript
	Weight    int
	HasWeight bool
}

// VRRPScript is a vrrp_script block.
type VRRPScript struct {
	Name     string
	Script   Script
	Interval time.Duration // default 1 s
	Timeout  time.Duration // default: the interval
	Weight   int           // -253..253; 0: FAULT while failing
	Fall     int           // default 1
	Rise     int           // default 1
}

// VRRPSyncGroup is a vrrp_sync_group: instances that change state
// together (one FAULT puts all in FAULT; one MASTER makes all master; a
// member waits for the others before taking over), with notify programs
// of its own (Notify is called with GROUP NAME STATE 0 appended).
type VRRPSyncGroup struct {
	Name    string
	Members []string // vrrp_instance names, at least two

	NotifyMaster Script
	NotifyBackup Script
	NotifyFault  Script
	NotifyStop   Script
	Notify       Script

	// File and Line locate the block, for messages.
	File string
	Line int
}

// CheckSyncGroups checks groups against the instances: every member is a
// defined instance, in one group only, and a group has at least two
// members (keepalived drops a group of one with a log line; ulvs refuses
// it). It returns the index of the first bad group and why, or -1.
func CheckSyncGroups(groups []VRRPSyncGroup, insts []VRRPInstance) (int, string) {
	in := map[string]string{}
	names := map[string]bool{}
	for i, g := range groups {
		if g.Name == "" {
			return i, "a vrrp_sync_group needs a name"
		}
		if names[g.Name] {
			return i, "vrrp_sync_group " + g.Name + " is defined twice"
		}
		names[g.Name] = true
		if len(g.Members) < 2 {
			return i, "vrrp_sync_group " + g.Name + " needs at least two vrrp_instance members in its group { } block"
		}
		for _, m := range g.Members {
			if !slices.ContainsFunc(insts, func(x VRRPInstance) bool { return x.Name == m }) {
				return i, "vrrp_sync_group " + g.Name + ": no vrrp_instance " + m + " is defined"
			}
			if other, ok := in[m]; ok && other == g.Name {
				return i, "vrrp_sync_group " + g.Name + " lists vrrp_instance " + m + " twice"
			} else if ok {
				return i, "vrrp_instance " + m + " is in vrrp_sync_group " + other + " already (an instance belongs to one group)"
			}
			in[m] = g.Name
		}
	}
	return -1, ""
}

// SyncDaemon is keepalived.conf's global_defs lvs_sync_daemon: the IPVS
// connection sync daemon that follows an instance's VRRP state (master
// sends, backup receives), as ipvsadm --start-daemon would start it.
type SyncDaemon struct {
	Interface string     // the multicast interface
	Instance  string     // the vrrp_instance whose state it follows
	SyncID    uint8      // default: the instance's virtual_router_id
	MaxLen    uint16     // 0 = from the interface's MTU
	Port      uint16     // 0 = 8848
	TTL       uint8      // 0 = 1
	Group     netip.Addr // invalid = 224.0.0.81
}

// WithoutPosition returns in with File and Line cleared: instances read
// from two texts compare equal when they say the same.
func (in VRRPInstance) WithoutPosition() VRRPInstance {
	in.File, in.Line = "", 0
	return in
}

// SameVRRPBut reports whether a and b say the same but for their position
// and, when timing is set, their priority and advert interval (what the
// web console edits).
func SameVRRPBut(a, b VRRPInstance, timing bool) bool {
	a, b = a.WithoutPosition(), b.WithoutPosition()
	if timing {
		a.Priority, b.Priority, a.AdvertInt, b.AdvertInt = 0, 0, 0, 0
	}
	return reflect.DeepEqual(a, b)
}

// IPv6 reports whether the instance runs VRRPv3 over IPv6 (RFC 5798:
// adverts to ff02::12, or to its unicast peers, from the interface's
// link-local address or unicast_src_ip), as keepalived decides an
// instance's family: native_ipv6, or an IPv6 first virtual_ipaddress, or,
// without virtual_ipaddress, an IPv6 unicast_src_ip or first unicast_peer
// (each sets keepalived's vrrp->family; CheckVRRP refuses the other
// family beside them).
func (in *VRRPInstance) IPv6() bool {
	switch {
	case in.NativeIPv6:
		return true
	case len(in.VIPs) > 0:
		return in.VIPs[0].Prefix.Addr().Is6()
	case in.UnicastSrc.IsValid():
		return in.UnicastSrc.Is6()
	}
	return len(in.UnicastPeers) > 0 && in.UnicastPeers[0].Is6()
}
