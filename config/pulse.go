package config

import (
	"net/netip"
	"time"
)

// Pulse is what Piranha's lvs.cf says about its two directors and the
// heartbeat between them (pulse(8)): the primary and backup directors,
// whether the backup takes over, how often heartbeats go and when the
// partner is declared dead, and the floating addresses the active director
// holds. It is kept on File.Pulse for the failover code (ulvsd runs
// package pulse from it when BackupActive is set). Piranha's defaults
// (lvsconfig.c, lvsParseConfig) are filled in; an address the file does
// not give is the zero Addr.
type Pulse struct {
	// SerialNo is serial_no: a version number pulse compares between the
	// two directors' copies of the file.
	SerialNo int
	// Primary and Backup are the directors' public addresses; the
	// private ones are the dedicated heartbeat addresses, which default
	// to the public ones (as lvsconfig.c sets them when primary_private
	// is absent). A backup of 0.0.0.0, as the GUI writes it, is none.
	Primary, PrimaryPrivate netip.Addr
	Backup, BackupPrivate   netip.Addr
	// BackupActive is backup_active: the backup director takes over
	// when the primary dies.
	BackupActive bool
	// Heartbeat is heartbeat = 1; HeartbeatPort is heartbeat_port
	// (default 539), Keepalive the time between heartbeats (keepalive,
	// default 2 s) and Deadtime the silence after which the partner is
	// declared dead (deadtime, default 5 s).
	Heartbeat     bool
	HeartbeatPort uint16
	Keepalive     time.Duration
	Deadtime      time.Duration
	// MonitorLinks is monitor_links: a director whose heartbeat
	// addresses' links are down gives up (and refuses) the active role
	// until they are back (with BackupActive only, as pulse).
	MonitorLinks bool
	// SyncDaemon is syncdaemon: the active director runs the IPVS
	// connection sync daemon (ipvsadm --start-daemon) on SyncdIface
	// (syncd_iface, default "eth0") with SyncID (syncd_id, default 0).
	SyncDaemon bool
	SyncdIface string
	SyncID     int
	// HardShutdown is hard_shutdown (default true).
	HardShutdown bool
	// ActiveCmd and InactiveCmd are active_cmd and inactive_cmd: the
	// commands pulse runs when this director becomes active or inactive.
	ActiveCmd, InactiveCmd string
	// NATRouter is nat_router's address with nat_nmask's length (a /32
	// without nat_nmask) and NATRouterDevice its device as written
	// (eth1:1): the real servers' gateway, which the active director of a
	// NAT cluster brings up (ulvsd answers ARP for it there, as for a
	// VIP). Invalid when the file gives none, or its network is not nat.
	NATRouter       netip.Prefix
	NATRouterDevice string
	// VIPs are the floating addresses of the active virtual servers, in
	// file order, each once: what the active director brings up and
	// announces with gratuitous ARP (send_arp).
	VIPs []PulseVIP
}

// PulseVIP is one floating address: a virtual server's address = IP
// DEVICE and vip_nmask.
type PulseVIP struct {
	Addr netip.Addr
	// Device is the device as written, alias included (eth0:1).
	Device string
	// Netmask is vip_nmask; invalid when not given.
	Netmask netip.Addr
}

// PulseInstance is the name a SyncDaemon follows when pulse decides which
// director is active (lvs.cf's syncdaemon), where keepalived's
// lvs_sync_daemon names a vrrp_instance.
const PulseInstance = "pulse"
