// Package vrrp is VRRP for ulvs: versions 2 (RFC 3768) and 3 (RFC 5798,
// IPv4 only) on the wire as keepalived speaks them, the per-instance state
// machine, and a Linux raw-socket transport. The director runs one Router
// per keepalived vrrp_instance and turns its transitions into "this VIP is
// active" (answer ARP, forward) or not, and its GARP events into
// gratuitous ARPs through the arp package. This package does not touch the
// engine, the director or the configuration files: it takes an Instance
// and reports through callbacks.
package vrrp
