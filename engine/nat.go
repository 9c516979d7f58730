package engine

import (
	"sync/atomic"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vs"
)

// offload reads p's virtio_net_hdr in forward's terms.
func (w *worker) offload(p *packet) forward.Offload {
	h := p.vnet()
	return forward.Offload{
		NeedsCsum:  h.flags()&vnetFlagNeedsCsum != 0,
		CsumStart:  h.csumStart(),
		CsumOffset: h.csumOffset(),
		GSOType:    h.gsoType(),
		GSOSize:    h.gsoSize(),
		HdrLen:     h.hdrLen(),
	}
}

// setOffload writes o back into p's virtio_net_hdr.
func (w *worker) setOffload(p *packet, o *forward.Offload) {
	h := p.vnet()
	h.setCsumStart(o.CsumStart)
	h.setCsumOffset(o.CsumOffset)
	h.setHdrLen(o.HdrLen)
	h.setGSO(o.GSOType, o.GSOSize)
	if o.NeedsCsum {
		h[vnetOffFlags] |= vnetFlagNeedsCsum
	} else {
		h[vnetOffFlags] &^= vnetFlagNeedsCsum
	}
}

// neighMap maps next-hop addresses to MACs; replaced whole, never changed.
type neighMap map[[4]byte][6]byte

// neighbours is the engine's next-hop table, filled by the control plane's
// ARP resolver as the engine asks for addresses.
type neighbours struct {
	m   atomic.Pointer[neighMap]
	req chan [4]byte
}

func newNeighbours() *neighbours {
	n := &neighbours{req: make(chan [4]byte, 1024)}
	empty := neighMap{}
	n.m.Store(&empty)
	return n
}

// SetNeighbour records (ok) or forgets the MAC of a next-hop address.
// Control plane; it copies the map.
func (e *Engine) SetNeighbour(addr [4]byte, mac [6]byte, ok bool) {
	e.neighMu.Lock()
	defer e.neighMu.Unlock()
	old := *e.neigh.m.Load()
	if cur, had := old[addr]; (ok && had && cur == mac) || (!ok && !had) {
		return
	}
	m := make(neighMap, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if ok {
		m[addr] = mac
	} else {
		delete(m, addr)
	}
	e.neigh.m.Store(&m)
}

// NeighbourRequests delivers the next-hop addresses the data path needs
// MACs for; the control plane resolves them and calls SetNeighbour.
func (e *Engine) NeighbourRequests() <-chan [4]byte { return e.neigh.req }

// neighbour returns the MAC of a next hop.
func (w *worker) neighbour(hop [4]byte) ([6]byte, bool) {
	mac, ok := (*w.neigh.m.Load())[hop]
	return mac, ok
}

// wantNeighbour asks the control plane to resolve the next hop towards
// client, unless it is known or was asked for within the last second.
func (w *worker) wantNeighbour(tbl *vs.Table, client [4]byte, now conntrack.Tick) {
	_, hop, ok := tbl.NextHop(client)
	if !ok {
		return
	}
	if _, known := w.neighbour(hop); known {
		return
	}
	slot := &w.asked[hop[3]%uint8(len(w.asked))]
	if slot.addr == hop && now.Sub(slot.at) < 1000 {
		return
	}
	slot.addr, slot.at = hop, now
	select {
	case w.neigh.req <- hop:
	default: // the control plane is behind; a later packet asks again
	}
}

// askNeighbour asks the control plane to resolve hop, at most once a
// second per address.
func (w *worker) askNeighbour(hop [4]byte) {
	slot := &w.asked[hop[3]%uint8(len(w.asked))]
	if slot.addr == hop && w.now.Sub(slot.at) < 1000 {
		return
	}
	slot.addr, slot.at = hop, w.now
	select {
	case w.neigh.req <- hop:
	default:
	}
}

// asked remembers a recent resolution request.
type asked struct {
	addr [4]byte
	at   conntrack.Tick
}

// Unresolved replies wait, like the kernel's neighbour queue (unres_qlen),
// for their next hop's MAC: a NAT connection's first reply usually comes
// back before ARP for the client has finished.
const (
	pendingSlots = 16
	pendingMax   = 2048 // larger frames are not queued
	pendingWait  = 1000 // ms
)

type pendingFrame struct {
	buf  [pendingMax]byte
	n    int
	out  uint8
	hop  [4]byte
	at   conntrack.Tick
	used bool
}

// queueUnresolved copies p, with a completed checksum, to wait for hop's MAC.
func (w *worker) queueUnresolved(p *packet, out int, hop [4]byte, now conntrack.Tick) bool {
	frame := p.frame()
	if len(frame) > pendingMax || p.vnet().gsoType() != vnetGSONone {
		return w.drop(ReasonUnresolved)
	}
	for i := range w.pending {
		q := &w.pending[i]
		if q.used {
			continue
		}
		h := p.vnet()
		copy(q.buf[:], frame)
		if h.flags()&vnetFlagNeedsCsum != 0 && !pkt.CompletePartial(q.buf[:len(frame)], int(h.csumStart()), int(h.csumOffset())) {
			return w.drop(ReasonMalformed)
		}
		q.n, q.out, q.hop, q.at, q.used = len(frame), uint8(out), hop, now, true
		w.npending++
		return false
	}
	return w.drop(ReasonUnresolved)
}

// flushPending sends the queued replies whose next hop is now resolved and
// drops those that waited too long.
func (w *worker) flushPending(now conntrack.Tick) {
	if w.npending == 0 {
		return
	}
	for i := range w.pending {
		q := &w.pending[i]
		if !q.used {
			continue
		}
		mac, ok := w.neighbour(q.hop)
		switch {
		case ok:
			eth := pkt.Ether(q.buf[:q.n])
			eth.SetDst(mac)
			eth.SetSrc(w.macs[q.out])
			if err := w.links[q.out].sendRaw(q.buf[:q.n]); err != nil {
				w.c.drops[ReasonTxError].Add(1)
			} else {
				w.c.forwarded.Add(1)
				w.c.txFrames.Add(1)
			}
		case now.Sub(q.at) > pendingWait:
			w.c.drops[ReasonUnresolved].Add(1)
		default:
			continue
		}
		q.used = false
		w.npending--
	}
}

// destPort is the port a connection to d reaches: the dest's own, or the
// packet's when the dest has none (mark and port-zero services).
func destPort(d *vs.Dest, ps *pkt.Parsed) uint16 {
	if d.Port != 0 {
		return d.Port
	}
	return ps.DstPort
}

// fanoutHash is the hash fanoutProgram computes for an address and port,
// in the same 32-bit arithmetic; the kernel takes it modulo the number of
// sockets in the group.
func fanoutHash(addr [4]byte, port uint16) uint32 {
	a := uint32(addr[0])<<24 | uint32(addr[1])<<16 | uint32(addr[2])<<8 | uint32(addr[3])
	return ((a ^ uint32(port)) * 0x9e3779b1) >> 16
}

// localPort picks the FULLNAT local address and port for a new connection
// to rip:rport: a local address of svc in turn, and a port whose replies
// the fanout program hashes to this worker, not in use by another of this
// worker's connections to the same real server (only this worker can own
// such a reply key). It reports false when none is free.
func (w *worker) localPort(svc *vs.Service, rip [4]byte, rport uint16, proto uint8) (conntrack.Key, bool) {
	const first, last = 1024, 65535
	n := len(svc.LocalAddrs)
	if n == 0 {
		return conntrack.Key{}, false
	}
	for range n {
		w.lipNext++
		lip := svc.LocalAddrs[w.lipNext%n]
		for range last - first + 1 {
			w.lport++
			if w.lport < first {
				w.lport = first
			}
			if w.nworkers > 1 && int(fanoutHash(lip, w.lport)%uint32(w.nworkers)) != w.index {
				continue
			}
			out := conntrack.Key{Src: rip, SrcPort: rport, Dst: lip, DstPort: w.lport, Proto: proto}
			if !w.ct.OutInUse(out) {
				return out, true
			}
		}
	}
	return conntrack.Key{}, false
}
