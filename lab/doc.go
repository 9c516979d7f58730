// Package lab builds the ulvs network-namespace lab: a flat layer-2 network
// of Linux network namespaces in which a director, a client and real servers
// talk over veth pairs joined by a bridge, so that ulvs can be tested,
// demonstrated and taught without touching the host's own interfaces.
//
// # Topology
//
// Up builds the flat DR lab of DESIGN.md (section "The lab"): every name
// carries a per-run prefix P, because namespace names are global to the
// machine.
//
//	P-sw        bridge br0; bridge-nf-call-iptables/arptables = 0
//	P-client    c-eth0 10.77.0.10/24
//	P-director  d-eth0 10.77.0.2/24 (the DIP; the VIP is not configured),
//	            ip_forward=0, send_redirects=0
//	P-rsN       rN-eth0 10.77.0.(10+N)/24, VIP 10.77.0.100/32 on lo,
//	            arp_ignore=1, arp_announce=2 (a DR real server)
//
// Each node's veth peer (sw-c, sw-d, sw-rN) sits in P-sw, attached to br0.
// Down deletes the namespaces, which deletes the veths with them.
//
// # Namespaces and goroutines
//
// A network namespace belongs to an OS thread, not to a goroutine. NS.Do
// runs a function on a fresh goroutine locked to its thread and switched
// into the namespace; sockets opened there keep the namespace for their whole
// life, whichever goroutine uses them later. Goroutines started inside the
// function, and host name lookups, run in the caller's namespace: pass IP
// literals to NS.DialContext and NS.Listen.
//
// # Servers
//
// Every real server can run Serve: HTTP on TCP port 80 (GET / answers the
// node's name, /data streams deterministic bytes whose digest DataSHA256
// gives, POST /upload answers the body's digest, /hold keeps a connection
// busy) and a UDP echo on port 80. Lab.StartServers runs them inside the
// current process; `ulvs lab up` runs one background process per node.
//
// # Who uses it
//
// Integration tests of the director and the `ulvs lab` subcommands. The
// package needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and the iproute2 `ip`
// tool; ethtool only for Config.OffloadsOff. Tests skip without them.
package lab
