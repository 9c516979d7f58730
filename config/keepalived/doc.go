// Package keepalived reads keepalived.conf, as keepalived 2.2.7 reads it,
// into the configuration model of package config: the virtual services
// and real servers ipvsadm would create (File.Rules), their health checks
// with every default resolved (File.Health), global_defs (File.Global),
// the failover instances (File.VRRP, vrrp.go) with the interfaces they
// run on (File.Interfaces), global_defs' lvs_sync_daemon (File.Sync) and
// the warnings keepalived would log (File.Warnings).
//
// Parse and Load are the entry points; ReadTree gives the statement tree
// itself, for code that interprets blocks Parse does not run. The
// functions are safe for concurrent use; nothing is kept between calls.
//
// # Grammar
//
// As keepalived's lib/parser.c: a statement is a line of words; '!' or
// '#' outside double quotes starts a comment anywhere in a line (also
// right after a value, as in "61.164.122.8#note"), and "\#", "\!" stand
// for the characters. A double-quoted string is one word. '{' and '}'
// open and close blocks wherever they stand: "name { value }" on one line,
// or '{' alone on the next line. "include PATTERN" (and includer,
// includem, includew, includeb, includea) reads the files a glob matches,
// {a,b} alternatives included, relative to the including file's
// directory, in sorted order, anywhere in the file (also inside a block);
// a plain name that does not exist is an error, a pattern that matches
// nothing a warning. Scripts (notify_up/down, quorum_up/down, misc_path)
// are re-read with quotes and backslash escapes and then split again into
// the program and its arguments, as keepalived's notify_script_init.
// Timers are seconds with up to six decimal places.
//
// # What is read
//
//   - global_defs: router_id, script_user, enable_script_security and
//     lvs_timeouts (File.Timeouts); every other keyword is listed in
//     Global.Others and warned about.
//   - virtual_server IP [PORT], virtual_server fwmark N and
//     virtual_server group NAME with virtual_server_group NAME { IP PORT;
//     IP-N PORT; IP-IP PORT; IP/LEN PORT; fwmark N [inet] }, of IPv4 or
//     IPv6 (2001:db8::100-10f: the end in hexadecimal replaces the last
//     16 bits, keepalived's inet_stor), expanded to one service per
//     address and per mark, each with all the real servers. A group of
//     both families takes only a virtual server of no family (no
//     ip_family, no family-bound persistence_granularity, no sorry server
//     that is not tunnelled), as keepalived's validate_check_config.
//   - In virtual_server: lb_algo/lvs_sched, lb_kind/lvs_method (NAT, DR,
//     TUN [type ipip] [nocsum]), protocol, persistence_timeout [N],
//     persistence_granularity, ops, flag-1..3, sh-port, sh-fallback,
//     mh-port, mh-fallback, hashed (warned: no effect), ha_suspend,
//     virtualhost, alpha, omega, quorum, hysteresis, quorum_up,
//     quorum_down, weight (the real servers' default), inhibit_on_failure,
//     sorry_server IP [PORT], sorry_server_inhibit,
//     sorry_server_lvs_method, ip_family inet, and the checker timers
//     delay_loop, connect_timeout, retry, delay_before_retry, warmup that
//     real servers and checkers inherit.
//   - In real_server IP [PORT]: weight, lvs_method, uthreshold, lthreshold,
//     inhibit_on_failure [BOOL], alpha [BOOL], notify_up, notify_down,
//     virtualhost, the checker timers, and the checkers.
//   - Checkers TCP_CHECK, HTTP_GET and SSL_GET (url { path digest
//     status_code virtualhost }, virtualhost, http_protocol, enable_sni),
//     MISC_CHECK (misc_path, misc_timeout, misc_dynamic, user),
//     SMTP_CHECK (helo_name, and the deprecated host { } blocks, each one
//     more check), DNS_CHECK (type, name), UDP_CHECK (payload,
//     require_reply, min_reply_length, max_reply_length) and PING_CHECK,
//     with connect_ip, connect_port, bindto, bind_port, bind_if, fwmark,
//     connect_timeout, retry (and nb_get_retry), delay_before_retry,
//     warmup, delay_loop, alpha.
//   - vrrp_instance: state, interface, virtual_router_id, priority,
//     advert_int, version, authentication (auth_type PASS, auth_pass),
//     virtual_ipaddress and virtual_ipaddress_excluded (ADDR[/LEN] [brd
//     ADDR] [dev IF] [scope S] [label L]), nopreempt, preempt,
//     preempt_delay, garp_master_delay/repeat/refresh/refresh_repeat,
//     track_interface and track_script (NAME [weight N]), notify_master,
//     notify_backup, notify_fault, notify_stop, notify, unicast_src_ip,
//     unicast_peer, check_unicast_src; vrrp_script (script, interval,
//     timeout, weight, fall, rise), wherever in the file it is; global_defs
//     vrrp_version, vrrp_garp_master_*, vrrp_check_unicast_src and
//     lvs_sync_daemon IF INSTANCE [id N] [maxlen N] [port N] [ttl N]
//     [group ADDR] (or inst INSTANCE). Defaults are keepalived's
//     (vrrp_data.c alloc_vrrp): BACKUP, priority 100, advert_int 1 s,
//     version 2, garp_master_delay 5 s and repeat 5, refresh off and
//     refresh_repeat 1; a vrrp_script runs every second, times out after
//     its interval, with fall and rise 1; the sync id is the instance's
//     virtual_router_id. The rules of package vrrp's Instance.Validate are
//     checked here (config.CheckVRRP), so that a wrong instance is refused
//     with its line.
//
// Defaults are keepalived 2.2.7's (check_data.c alloc_vs/alloc_rs,
// check_api.c queue_checker, check_*.c, validate_check_config): delay_loop
// 60 s, connect_timeout 5 s, retry 1 (MISC_CHECK 0, DNS_CHECK 3),
// delay_before_retry 1 s (HTTP_GET and SSL_GET 3 s, DNS_CHECK the delay
// loop), warmup the delay loop, misc_timeout the virtual server's delay
// loop, quorum 1, weight 1, persistence_timeout 360 s, status codes
// 200-299, http_protocol 1.0, SMTP helo smtpchecker.keepalived.org, DNS
// type SOA and name ".", UDP max_reply_length 255. A checker's setting
// wins over its real server's, which wins over its virtual server's. The
// check's ConnectIP and ConnectPort are resolved to the real server's when
// not set. Every default is applied by config.ResolveHealth, the one
// place that decides them for every format: this package passes it each
// real_server's timers over its virtual_server's (config.Timing). The
// corrections keepalived makes with a log line are made the
// same way, with a warning: no protocol (UDP), no scheduler (wlc), no
// forwarding method (NAT), a port-less service (persistence 360 s), ops on
// a non-UDP service (cleared), ha_suspend with fwmarks (cleared), a real
// server port that differs under DR or TUN (the service's), a duplicate
// real server (dropped), quorum above the real servers' total weight and
// hysteresis not below quorum (lowered), a virtual server without real
// servers (dropped).
//
// # Errors and warnings
//
// A wrong value (a bad address, a number out of range, an unknown
// lb_kind or scheduler, a value given to a block keyword or the reverse)
// is a *config.Error with the file and line, and Parse fails: keepalived
// logs these and goes on without the setting, ulvs does not start with a
// setting silently dropped. An unknown keyword is a warning, as
// keepalived warns; its block, if any, is skipped.
//
// IPv6 virtual and real servers are read (virtual_server 2001:db8::100 80,
// ip_family inet6, persistence_granularity as a prefix length), and so
// are IPv6 fwmark services: ip_family inet6 on a fwmark virtual_server,
// or the family keepalived infers from its real servers, fwmark N inet6
// in a group, a group's fwmark without family under an IPv6 virtual
// server. Mixed families other than TUN are refused (docs/ipv6.md).
// syn_proxy works on an IPv6 virtual_server as on an IPv4 one. A vrrp_instance with native_ipv6 or IPv6 virtual_ipaddress
// entries runs VRRPv3 over IPv6 (version 3 required, one family per
// instance's advertised addresses; unicast_src_ip and unicast_peer of its
// family, global or link-local, and use_vmac work on it as on an IPv4
// instance; an IPv6 unicast_src_ip or unicast_peer makes an instance
// without virtual_ipaddress IPv6, as keepalived's family rule does).
//
// Refused with an error, because ulvs cannot do what keepalived would:
// IPv6 bindto, protocol SCTP, TUN
// types gue and gre and tunnel checksums, persistence_engine, BFD_CHECK,
// FILE_CHECK, the SSL block (client certificates), HTTP regex keywords,
// fast_recovery, require_reply with reply data, scripts run as another
// user (notify/quorum scripts with a user, MISC_CHECK user with a group,
// script_user with a group), alpha set on a real server or checker
// differently from its virtual server (the model keeps alpha per
// service), conditional configuration (@id lines), parameter definitions
// ($NAME=) and ~SEQ/~LST, a fwmark service's port-less check without
// connect_port, non-unicast real or sorry server addresses, lthreshold
// above uthreshold (the kernel refuses it), more than 4096 services; of
// VRRP: authentication with VRRPv3, the VMAC and ipvlan keywords other than
// use_vmac and vmac_xmit_base,
// vrrp_sync_group, track_process, track_file, track_bfd and their
// top-level blocks, garp_group, weight reverse, vrrp_script user and
// init_fail, vrrp_strict, a multicast group other than 224.0.0.18, and
// the vrrp_instance keywords listed in vrrpRefused.
//
// Warned about and not acted on: the global_defs keywords ulvs does not
// use, smtp_alert, snmp_name, log_all_failures, hashed, the vrrp_instance
// keywords that change nothing ulvs does (debug, promote_secondaries,
// accept, ...), static_ipaddress,
// static_routes, static_rules, bfd_instance, net_namespace and the other
// process-level top-level keywords. A fwmark service gets a warning too:
// ulvs classifies packets itself, from the director's iptables/nft MARK
// rules (which ulvsd reads) or a [[fwmark]] table in ulvs's TOML.
//
// # Where ulvs differs from keepalived
//
//   - Wrong values stop the parse (see above) instead of being logged and
//     skipped; keepalived's order-dependent checks (sh-port before
//     lb_algo sh) are made on the whole block.
//   - nb_get_retry is accepted in every checker as retry, with a warning;
//     keepalived 2.2.7 knows it only in HTTP_GET and SSL_GET and ignores it
//     (unknown keyword) elsewhere, so seed 001's TCP_CHECK with
//     nb_get_retry 3 runs with retry 3 here and retry 1 under keepalived.
//   - An SMTP_CHECK host block without connect_timeout takes the
//     inherited one (real_server, virtual_server, 5 s); keepalived 2.2.7
//     allocates the host's options zeroed and leaves its timeout 0.
//   - A virtual server whose real servers all have weight 0 gets quorum 1,
//     with a warning; keepalived lowers quorum to 0 and hysteresis to
//     4294967295, and the service never gains quorum.
//   - An empty program name in a script (a first word of two quotes) and
//     a NUL byte in a script's word are errors; keepalived takes the first
//     and fails to run it, and cuts the word at the second.
//   - Values are held to the rules every ulvs format shares (package
//     config): a virtual address must be unicast (not 0.0.0.0/8,
//     multicast or broadcast; keepalived passes any to the kernel), and a
//     persistence_granularity netmask contiguous (keepalived and the
//     kernel take 255.0.255.0).
//   - A checker's default port is the real server's port after keepalived's
//     corrections (keepalived copies the port before correcting it, so a
//     checker of a real server written without a port would connect to
//     port 0).
//   - A block opened after an unknown keyword is skipped (keepalived reads
//     its contents as keywords of the enclosing block).
//   - Weights and thresholds keep ipvsadm 1.31's bounds (weight 0..65535,
//     thresholds up to 2^31-1); an unterminated quote, a missing '}' and an
//     extra '}' are errors.
//   - Health holds one entry per expanded service: the services of a
//     virtual_server group each carry their own copy of the checks, where
//     keepalived runs one checker per real server for the whole group.
//   - Rules lists every real server with its weight: alpha's "start down"
//     is left to the health checker, which reads VirtualHealth.Alpha.
package keepalived
