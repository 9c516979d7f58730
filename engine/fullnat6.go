package engine

import (
	"slices"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/vs"
)

// FULLNAT with IPv6 (issue #17), as DPVS does it: the client's packet
// leaves with a local IPv6 address and port of the director as its
// source (and the real server as its destination), so the real server
// answers the director whatever its routes; the reply is found by its
// key (real server -> local address and port) in the IPv6 table and goes
// back from the VIP to the client. Checksums are updated over the IPv6
// pseudo-header for both addresses and ports (forward.SNAT6, DNAT6). The
// local addresses are answered for in neighbour discovery and announced
// like the IPv6 VIPs. IPv4 ulvs adds no TOA option, so IPv6 does not
// either: real servers see the local address, as with IPv4. NAT64 (IPv4
// local addresses for an IPv6 service, which DPVS has) is refused by the
// configuration.

// insertOut6 adds the connection key to d, a NAT66 or FULLNAT real
// server, with the key of its replies; it returns nil and why not when it
// cannot (ReasonUnsupported for another method).
func (w *worker) insertOut6(key conntrack.Key6, svc *vs.Service, d *vs.Dest, now conntrack.Tick) (*conntrack.Conn6, Reason) {
	switch d.Method {
	case vs.Masq:
		ps := &w.parsed6
		out := conntrack.Key6{Src: d.Addr.As16(), SrcPort: destPort6(d, ps), Dst: ps.Src, DstPort: ps.SrcPort, Proto: ps.Proto}
		if c := w.ct6.InsertNAT(key, out, svc.ID, d, now); c != nil {
			return c, 0
		}
		return nil, ReasonTableFull
	case vs.FullNAT:
		return w.insertFullNAT6(key, svc, d, now)
	}
	return nil, ReasonUnsupported
}

// insertFullNAT6 adds the FULLNAT connection key to d: a free local
// address and port (localPort6) makes its reply key. The reason is
// ReasonNoLocalPort or ReasonTableFull when it returns nil.
func (w *worker) insertFullNAT6(key conntrack.Key6, svc *vs.Service, d *vs.Dest, now conntrack.Tick) (*conntrack.Conn6, Reason) {
	out, ok := w.localPort6(svc, d.Addr.As16(), destPort6(d, &w.parsed6), key.Proto)
	if !ok {
		return nil, ReasonNoLocalPort
	}
	c := w.ct6.InsertNAT(key, out, svc.ID, d, now)
	if c == nil {
		return nil, ReasonTableFull
	}
	return c, 0
}

// localPort6 is localPort for IPv6: a local address of svc in turn and a
// port whose replies the fanout program hashes to this worker (it hashes
// an IPv6 reply on the last 32 bits of its destination and the
// destination port; any port when all IPv6 goes to worker 0), not the
// reply key of another of this worker's connections.
func (w *worker) localPort6(svc *vs.Service, rip [16]byte, rport uint16, proto uint8) (conntrack.Key6, bool) {
	const first, last = 1024, 65535
	n := len(svc.LocalAddrs6)
	for range n {
		w.lipNext++
		lip := svc.LocalAddrs6[w.lipNext%n]
		for range last - first + 1 {
			w.lport++
			if w.lport < first {
				w.lport = first
			}
			if w.nworkers > 1 && !w.all6On0 && int(fanoutHash([4]byte(lip[12:]), w.lport)%uint32(w.nworkers)) != w.index {
				continue
			}
			out := conntrack.Key6{Src: rip, SrcPort: rport, Dst: lip, DstPort: w.lport, Proto: proto}
			if !w.ct6.OutInUse(out) {
				return out, true
			}
		}
	}
	return conntrack.Key6{}, false
}

// sortedLocal6 returns t's IPv6 local addresses, sorted. Control plane.
func sortedLocal6(t *vs.Table) [][16]byte {
	var out [][16]byte
	for _, a := range t.LocalAddrs6() {
		out = append(out, a.As16())
	}
	slices.SortFunc(out, func(a, b [16]byte) int { return slices.Compare(a[:], b[:]) })
	return out
}

// newLocal6 returns the addresses of now not in old: those to announce.
func newLocal6(old, now [][16]byte) [][16]byte {
	var out [][16]byte
	for _, a := range now {
		if !slices.Contains(old, a) {
			out = append(out, a)
		}
	}
	return out
}
