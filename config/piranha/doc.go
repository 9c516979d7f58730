// Package piranha reads Red Hat Piranha's lvs.cf (lvs.cf(5), Piranha
// 0.8.6's lvsconfig.c, lvsd.c and nanny.c) into the configuration model
// of package config: the virtual services lvsd would create with ipvsadm
// (File.Rules), the nanny check of every real server (File.Health, kind
// config.CheckNanny), the interfaces of the virtual addresses
// (File.Interfaces), the IPVS timeouts (File.Timeouts), the director pair
// and heartbeat settings (File.Pulse) and warnings.
//
// Parse and Load are the entry points. Host and service names are looked
// up through Options (the system's resolver and /etc/services by
// default). The functions are safe for concurrent use.
//
// # Grammar
//
// As lvsconfig.c: one setting per line, "keyword = value" with the '='
// a word of its own; words are separated by spaces and tabs; a word that
// starts with a double or single quote runs to the same quote on the same
// line (no escapes inside); a line whose first non-blank character is '#'
// is a comment (a '#' later on a line is not). Blocks are "virtual NAME {",
// "server NAME {" and "failover NAME {", with '{' on the same line and '}'
// alone on its line. A setting with too few or too many values, a missing
// '=', an unknown keyword or an unclosed block is an error with the file
// and line, as Piranha refuses them ("unexpected arguments", "unknown
// command", ...). So seed 001's lvs.cf as the article prints it, with
// "<---- ..." notes after the values, is refused at its first note.
//
// # What is read
//
//   - Global: service = lvs (fos is refused; no service means lvs, as in
//     Piranha), network = direct|nat|tunnel (the forwarding method of every
//     real server; Piranha's default, nat, when absent, with a warning),
//     tcp_timeout, tcpfin_timeout, udp_timeout (File.Timeouts, 0 leaving a
//     timeout unchanged as ipvsadm --set does), and for File.Pulse:
//     serial_no, primary, primary_private, backup, backup_private,
//     backup_active, heartbeat, heartbeat_port (a number or a service name),
//     keepalive, deadtime, monitor_links, syncdaemon, syncd_iface, syncd_id,
//     hard_shutdown, active_cmd, inactive_cmd, nat_router = IP DEVICE and
//     nat_nmask. Without primary_private the private addresses are the
//     public ones (lvsconfig.c). debug_level and rsh_command are read and
//     have no effect.
//   - virtual NAME { }: active (a virtual server that is not active = 1
//     is not loaded, and nothing is said, as lvsd starts none), address =
//     IP DEVICE (the device's base name, eth0 for eth0:1, is an
//     interface), vip_nmask, port (a number or a service name; default 80),
//     protocol tcp|udp (default tcp), scheduler (default wlc; Piranha knows
//     rr, wrr, lc, wlc, lblc, lblcr, dh and sh, ulvs takes its other
//     schedulers too), persistent N (ipvsadm -p N when N > 0), pmask (-M,
//     only with persistent; 255.255.255.255 is none, as in lvsconfig.c),
//     fwmark N (a mark service, ipvsadm -f N), sorry_server, send, expect,
//     use_regex, send_program, timeout (default 10), reentry (default 180;
//     0 means 180, as nanny takes it), quiesce_server, load_monitor = none.
//   - server NAME { }: address (an IP or a host name), active (a server
//     that is not active = 1 gets no monitor and no place in the table),
//     weight (default 1, 0..65535), port (a number; default the virtual's).
//
// Every active server of an active virtual gets one nanny check: connect
// to the server's port (also for a fwmark service, whose dests have no
// port under direct routing and tunnels), write send (nanny's escapes
// \\ \r \n \t \' \" decoded), read and compare with expect (a prefix, "*"
// for anything, a regular expression with use_regex), or run send_program
// with %h and %p replaced. On port 80 with neither send, expect nor
// send_program, nanny's own default is used: send "GET / HTTP/1.0\r\n\r\n",
// expect "HTTP". timeout is the interval between checks and the bound of
// each; reentry/timeout consecutive successes bring a failed server back.
// Servers start outside the table until their first good check
// (VirtualHealth.Alpha), as lvsd adds the service empty and nanny adds
// each server. quiesce_server makes a failing server weight 0 instead of
// removing it (RealHealth.Inhibit), which is what nanny.c does with it.
// A sorry_server takes the service's port and the network's method.
//
// # Refused
//
// service = fos, load_monitor uptime, ruptime, rup or any other command
// (nanny's load-average weights are not implemented), IPv6, a virtual
// without an address, two active virtuals for the same service, port 0
// without persistence, timeout 0, send_program without expect, an expect
// that is not a regular expression with use_regex, a backslash escape
// nanny does not know (nanny loops for ever on one), numbers written in
// hex or with a leading zero (Piranha's strtol reads 010 as 8), a pmask or
// netmask that is not contiguous, non-unicast addresses.
//
// # Warned about
//
// A fwmark service: its marks come from iptables rules (seed 001's
// "iptables -t mangle ... -j MARK --set-mark 21"), which ulvs does not
// read yet, so no packet reaches it until the mark is defined in ulvs's
// TOML ([[fwmark]]). Failover: pulse runs in ulvsd (package pulse) when
// backup_active = 1, with monitor_links, active_cmd and inactive_cmd
// (without backup_active they are warned about, as pulse does not use
// them then); file sync (sync) does not run. nat_router's address
// floats with the active director (network = nat only; ignored with a
// warning otherwise). failover blocks (not run with
// service = lvs, as in Piranha), client_monitor, ipvsadm, the shared
// storage settings, failover-service keywords in a virtual block, pmask
// without persistent, send beside send_program, a DR or TUN server port
// that differs from the virtual's (the virtual's is used, as ipvsadm
// does), a second server with the same address and port (dropped), a
// virtual with no active server.
//
// # Where ulvs differs from Piranha
//
//   - A server gets its configured weight at once; nanny starts it at
//     weight/32 and doubles it every 20 s, and turns weight 0 into 1.
//   - A server's default port is the virtual's port wherever the port line
//     is; lvsconfig.c copies the port seen so far when the server block
//     starts.
//   - send and expect lose single quotes too; lvsd strips only double
//     quotes, so nanny sent 'quit' with its quotes.
//   - ulvs answers ARP for the virtual addresses itself and configures no
//     alias (vip_nmask is kept in File.Pulse only).
//   - Regular expressions are Go's (RE2), close to nanny's POSIX ERE.
package piranha
