package engine

import (
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
)

// rstFor returns the numbers and flags of the reset that answers a TCP
// segment with flags, sequence number seq, acknowledgement number ack and
// dataLen bytes of data (RFC 793, "Reset Generation"): <SEQ=SEG.ACK>
// <CTL=RST> for a segment with ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
// <CTL=RST,ACK>, SYN and FIN counting one each. Shared by IPv4
// (resetNoConn) and IPv6 (resetNoConn6).
func rstFor(flags uint8, seq, ack uint32, dataLen int) (rseq, rack uint32, rflags uint8) {
	if flags&pkt.TCPAck != 0 {
		return ack, 0, pkt.TCPRst
	}
	rack = seq + uint32(max(dataLen, 0))
	if flags&pkt.TCPSyn != 0 {
		rack++
	}
	if flags&pkt.TCPFin != 0 {
		rack++
	}
	return 0, rack, pkt.TCPRst | pkt.TCPAck
}

// resetNoConn6 is resetNoConn for IPv6: the client's segment (in w.parsed6)
// that belongs to no connection and opens none becomes, in place, the
// reset that answers it, from the VIP, and is queued back out of its link.
// A segment with RST is never answered.
func (w *worker) resetNoConn6(p *packet, frame []byte) {
	ps := &w.parsed6
	if ps.TCPFlags&pkt.TCPRst != 0 || ps.Proto != pkt.ProtoTCP || ps.L4Off == 0 {
		return
	}
	t := pkt.TCP(frame[ps.L4Off:])
	seq, ack, flags := rstFor(ps.TCPFlags, t.Seq(), t.Ack(), ps.L4Len-t.DataOffset())
	n := forward.Reset6(frame, ps, w.macs[p.in], seq, ack, flags)
	if n == 0 {
		return
	}
	p.n = n
	p.out = p.in
	p.vnet().clear()
	w.c.rstSent.Add(1)
	w.transmit(p)
}
