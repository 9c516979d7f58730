// Package config is the director's configuration model, the one every
// file format and the admin tool produce: the virtual-server rules an
// administrator states (Rules, Service, Dest; fwmark classifiers Mark; the
// IPVS sysctls Knobs; Timeouts), the health checks beside them
// (VirtualHealth, Check, SorryServer; health.go), and File, the whole of a
// loaded configuration. Command is one ipvsadm-style edit; Rules.Apply
// performs it with the kernel's checks and errors (the sentinels ErrNoService,
// ErrDestExists, ...), and is the path every rule change takes.
//
// The formats live in rooms of their own and translate into this model:
// config/ipvsadm (ipvsadm's argument grammar and restore text),
// config/tomlfile (ulvs.toml), config/keepalived (keepalived.conf),
// config/piranha (Piranha's lvs.cf, whose director pair and heartbeat are
// Pulse, pulse.go), config/lvsdr (the LVS configure script's lvs_dr.conf),
// and config/load picks one by a file's content. Checks every format shares
// (scheduler and method names, port ranges, netmasks, interface names)
// are here (validate.go), so a value means the same in every file.
//
// Nothing here touches the network or the engine: callers get plain values
// and decide what to apply. The functions are safe for concurrent use; the
// values they return belong to the caller.
package config
