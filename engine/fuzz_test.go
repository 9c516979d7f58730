package engine

import (
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/vs"
)

// FuzzProcess feeds arbitrary frames, with arbitrary GSO types and VLAN
// offload status, through the whole per-packet path: nothing may panic and
// every frame must end in exactly one counter, or, split into fragments or
// segments (split), in one forwarded per piece.
func FuzzProcess(f *testing.F) {
	f.Add(tcpFrame(1000, pkt.TCPSyn), uint8(0), false)
	f.Add(tcpFrame(1000, pkt.TCPAck), uint8(vnetGSOTCPv4), true)
	f.Add(pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, vip.As4()), uint8(0), false)
	f.Add(pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, Payload: []byte("p")}.Build(), uint8(0), false)
	f.Add(pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, VLAN: 5, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 80}.Build(), uint8(0), false)
	// A DF segment too big for the egress MTU: answered with an ICMP error.
	f.Add(pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1000, DstPort: 80, TCPFlags: pkt.TCPAck, DF: true, Payload: make([]byte, 1600)}.Build(), uint8(0), false)
	// Frames of odd length go through a table with expire_nodest_conn,
	// where segments without a connection are answered with a reset.
	tbls := [2]*vs.Table{testTable(f), testTable(f)}
	tbls[1].Knobs.ExpireNodestConn = true
	w, _ := newTestWorker()
	f.Fuzz(func(t *testing.T, frame []byte, gso uint8, vlan bool) {
		if len(frame) > 65535 {
			return
		}
		tbl := tbls[len(frame)&1]
		buf := make([]byte, 256+len(frame))
		copy(buf[256:], frame)
		p := packet{buf: buf, off: 256, n: len(frame)}
		p.vnet()[vnetOffGSOType] = gso
		if vlan {
			p.status |= tpStatusVLANValid
			p.vlanTCI = 9
		}
		before, answers, split := total(w), w.c.icmpSent.Load()+w.c.rstSent.Load(), w.c.split.Load()
		w.tx = w.tx[:0]
		sent := w.process(&p, tbl, 1)
		got := total(w) - before
		if w.c.split.Load() != split {
			// Fragmented for the egress MTU (or segmented): each piece
			// is counted as forwarded, the frame itself is not sent.
			if got < 2 || sent {
				t.Fatalf("frame split, ended in %d counters, verdict %v", got, sent)
			}
			return
		}
		if got != 1 {
			t.Fatalf("frame ended in %d counters, want exactly 1", got)
		}
		// Besides the frame itself, the director may have queued its
		// own answers (ICMP errors, resets).
		answered := int(w.c.icmpSent.Load() + w.c.rstSent.Load() - answers)
		if sent != (len(w.tx)-answered == 1) {
			t.Fatalf("verdict %v but %d frames queued, %d of them answers", sent, len(w.tx), answered)
		}
	})
}

// total adds the counters a frame ends in: forwarded, answered (ARP,
// neighbour discovery, echo, a SYN cookie, absorbed by the SYN proxy,
// fragmentation needed), held for reassembly (an IPv6 fragment) or
// dropped.
func total(w *worker) uint64 {
	n := w.c.forwarded.Load() + w.c.arpReply.Load() + w.c.ndReply.Load() + w.c.echoReply.Load() + w.c.synCookies.Load() + w.c.synAbsorbed.Load() + w.c.fragNeeded.Load() + w.c.frag6Queued.Load()
	for i := range w.c.drops {
		n += w.c.drops[i].Load()
	}
	return n
}
