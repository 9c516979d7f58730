// Package lab builds the ulvs network-namespace lab: Linux network
// namespaces in which a director, a client and real servers talk over veth
// pairs joined by bridges, so that ulvs can be tested, demonstrated and
// taught without touching the host's own interfaces. There is one topology
// per LVS forwarding method (Config.Mode).
//
// # Topology
//
// Up builds the lab of DESIGN.md (section "The lab"): every name carries a
// per-run prefix P, because namespace names are global to the machine. The
// default mode, "dr", is the flat lab:
//
//	P-sw        bridge br0; bridge-nf-call-iptables/arptables = 0
//	P-client    c-eth0 10.77.0.10/24
//	P-director  d-eth0 10.77.0.2/24 (the DIP; the VIP is not configured),
//	            ip_forward=0, send_redirects=0
//	P-rsN       rN-eth0 10.77.0.(10+N)/24, VIP 10.77.0.100/32 on lo,
//	            arp_ignore=1, arp_announce=2 (a DR real server)
//
// Each node's veth peer (sw-c, sw-d, sw-rN) sits in P-sw, attached to br0.
//
// "tun" is the same flat network, but the real servers hold no VIP on lo:
// Up runs package realserver in each (mode tun, VIP 10.77.0.100, capture on
// rN-eth0, state /run/ulvs/realserver/P-rsN.json), which puts the VIP on
// its decapsulator's device: the kernel's tunl0 where it has ipip, else a
// TUN device fed by a userspace IPIP decapsulator, with plain IPIP
// decapsulated in the kernel by a tcx program where the kernel has tcx. With
// Config.ExternalDecap the caller does that instead (`ulvs lab up` runs
// `ulvs realserver up` processes). MTUs stay at 1500.
//
// "nat" keeps client and director on br0 and moves the real servers to an
// inside bridge br1 in P-sw:
//
//	P-director  d-eth0 10.77.0.2/24 and d-eth1 10.77.1.1/24 (sw-d1 on br1),
//	            ip_forward=0: ulvsd forwards, not the kernel
//	P-rsN       rN-eth0 10.77.1.(10+N)/24 (sw-rN on br1),
//	            default via 10.77.1.1; no VIP, no ARP sysctls
//
// The client has no route to 10.77.1.0/24, so it reaches the real servers
// only through the VIP. "fullnat" is "nat" without the default route: the
// real servers reach only 10.77.1.0/24, where the director's FULLNAT local
// addresses (LocalAddrs, 10.77.1.200 and .201, answered by ulvsd) are.
//
// Down deletes the namespaces, which deletes the veths and bridges with
// them.
//
// The scale-out lab is another topology (ScaleUp, scale.go): a client, a
// router namespace running BIRD 2 that spreads the VIP over N directors
// by ECMP, the directors announcing it over BGP, and shared DR real
// servers; RunScale (scalerun.go) is `ulvs lab scale`'s demonstration
// (docs/scale-out.md).
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
// busy, /peer answers the name and the address the connection came from) and a UDP echo on port 80. Lab.StartServers runs them inside the
// current process; `ulvs lab up` runs one background process per node.
//
// # Who uses it
//
// Integration tests of the director and the `ulvs lab` subcommands. The
// package needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and the iproute2 `ip`
// tool; ethtool only for Config.OffloadsOff. Tests skip without them.
package lab
