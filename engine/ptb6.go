package engine

import (
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
)

// replyTooBig6 is the MTU check of a NAT66 real server's reply on its way
// to the client through link (the connection's client link): a reply
// larger than the link's MTU (for a reassembled datagram, its largest
// fragment) is answered to the real server with Packet Too Big carrying
// that MTU, quoting the reply as the real server sent it, and dropped
// (ipv6_too_big), so that the real server lowers its path MTU to the
// client. The kernel director does the same: ip6_forward checks the MTU
// (ip6_pkt_too_big, frag_max_size included) before the FORWARD hook
// where IPVS translates the reply (ip_vs_out), and icmpv6_send answers
// the untranslated packet's source. It sends the error from the
// director's own address, which the engine does not have for IPv6: ulvs
// sends it from the address the reply was for, the client's (the real
// server matches a Packet Too Big to its socket by the packet it quotes,
// whatever its source). A GSO super-frame is judged by its segments
// (skb_gso_validate_network_len); a reply with one hop left is left to
// the hop-limit check. It reports whether it answered.
func (w *worker) replyTooBig6(p *packet, frame []byte, link int) bool {
	ps := &w.parsed6
	if link >= len(w.links) {
		return false
	}
	mtu := w.mtus[link]
	if w.wireSize6(p, frame) <= mtu || pkt.IPv6(frame[ps.L3Off:]).HopLimit() <= 1 {
		return false
	}
	if w.icmpAllowed() {
		w.icmpError(p, frame, func(buf []byte) []byte {
			return forward.PacketTooBig6(buf, frame, ps, mtu, w.macs[p.in])
		})
	}
	w.drop(ReasonIPv6TooBig)
	return true
}

// wireSize6 is the size of the largest packet p puts on the wire, which
// the egress MTU must take: a GSO super-frame's segments (as the IPv4
// path judges them, tooBig), a reassembled datagram's largest fragment
// (size6), else the packet.
func (w *worker) wireSize6(p *packet, frame []byte) int {
	if v := p.vnet(); v.gsoType() != vnetGSONone {
		return forward.SegmentSize6(frame, &w.parsed6, int(v.gsoSize()))
	}
	return w.size6()
}
