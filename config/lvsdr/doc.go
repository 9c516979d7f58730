// Package lvsdr reads the files of Joseph Mack's LVS configure script
// (configure-lvs, configure.pl; the LVS-HOWTO's "Configure tools"):
// lvs_dr.conf, lvs_nat.conf and lvs_tun.conf, from which the script
// wrote an rc.lvs_* script that ran ipvsadm on the director and set up
// the real servers.
//
// ParseConf returns a Conf: the director's part as the configuration
// model (Conf.File: the services and dests ipvsadm would add, the
// interfaces), the director's own addresses (Conf.Director) and the real
// servers' part (Conf.RealServer, for `ulvs realserver`). Parse returns
// the File alone, for config/load. Host names go through Options'
// resolver, service names through /etc/services (package config/names),
// as the script does. Safe for concurrent use.
//
// # Format
//
// One NAME=value per line, leading blanks allowed; '#' starts a comment
// anywhere on a line; values are words separated by white space.
//
//   - LVS_TYPE=VS_DR|VS_NAT|VS_TUN (required): the forwarding method of
//     every real server.
//   - INITIAL_STATE=on|off: off adds the real servers with weight 0, for
//     mon to bring in (warned: ulvs runs no mon).
//   - VIP=DEVICE ADDRESS [NETMASK [BROADCAST]] (required), like
//     VIP=eth0:110 lvs 255.255.255.255 lvs: ADDRESS (or host name) is
//     every service's address; DEVICE's base name (eth0) an interface.
//   - DIRECTOR_INSIDEIP=DEVICE ADDRESS [NETWORK [NETMASK [BROADCAST]]]:
//     the director's inside address; its device is an interface too.
//   - DIRECTOR_DEFAULT_GW=HOST.
//   - SERVICE=PROTO PORT [SCHEDULER] [ppc [-t SECONDS]] REALSERVER...:
//     PROTO t (TCP) or u (UDP); PORT a number (0: every port, with ppc)
//     or a service name for that protocol; SCHEDULER any ulvs scheduler
//     (default wlc, ipvsadm's); ppc makes the service persistent (360 s,
//     or -t's seconds); each REALSERVER is HOST[:PORT][,WEIGHT], the port
//     a number or name (default the service's), the weight 0..65535
//     (default 1). Repeatable, one service per line.
//   - SERVER_VIP_DEVICE (or the older SERVER_LVS_DEVICE), SERVER_NET_DEVICE,
//     SERVER_DEFAULT_GW (or SERVER_GW): the real servers' VIP device
//     (lo:0, dummy0, tunl0), network device and default gateway, which
//     `ulvs realserver up --conf FILE` applies on a real server.
//
// # Refused
//
// A line that is not NAME=value, an unknown NAME, a setting given twice
// (SERVICE aside), a missing LVS_TYPE, VIP or SERVICE, fwmark services (f;
// write them in ulvs's TOML), unknown protocols, names that do not
// resolve, IPv6, non-unicast servers, port 0 without ppc, a service or a
// real server given twice, weights and timeouts out of range.
//
// # Warned about
//
// The health checks: the script left them to mon, which ulvs does not run,
// so the file gives none and a failed real server stays. INITIAL_STATE=off.
// VS_NAT: ulvsd configures no address, so DIRECTOR_INSIDEIP must already
// be on its device (rc.lvs_nat would add it), and without
// DIRECTOR_INSIDEIP the real servers must route through the director
// otherwise. A DR or TUN real server with a port of its own (the
// service's is used, as ipvsadm -g/-i does). DR and TUN without
// SERVER_VIP_DEVICE.
//
// # Where ulvs differs from the script
//
// The script configured the director (VIP alias, ip_forward, routes) and
// checked connectivity with fping; ulvsd configures nothing on the host
// and answers ARP for the VIP itself. The script's 2.2-kernel ipchains
// rules have no equivalent (ulvs rewrites NAT replies itself).
package lvsdr
