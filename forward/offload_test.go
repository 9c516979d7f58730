//go:build !race

// Allocation counts are not reliable under the race detector, so this
// file is left out of -race builds.

package forward

import (
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

func TestNoAllocsForward(t *testing.T) {
	tcp := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPAck, Payload: pattern(8000)}.Build()
	var tp pkt.Parsed
	tp.DecodeGSO(tcp)
	icmp := icmpErr(rip, client, 3, 3, 0, quote(reqToRS, 8)).Build()
	var ip pkt.Parsed
	ip.Decode(icmp)
	buf := inHeadroom(tcp, headroom)
	var bp pkt.Parsed
	bp.DecodeGSO(buf[headroom:])
	bufs, sizes := newBufs(8, 1600)
	ebuf := make([]byte, 0, MaxICMPErrorFrame)
	r, v := rip.As4(), vip.As4()
	tests := []struct {
		name string
		fn   func()
	}{
		{"DNAT+SNAT", func() {
			o := Offload{}
			DNAT(tcp, &tp, &o, r, 8080)
			SNAT(tcp, &tp, &o, v, 80)
		}},
		{"ParseICMPError", func() { sinkQuoted, sinkBool = ParseICMPError(icmp, &ip) }},
		{"NATICMP", func() { sinkBool = NATICMP(icmp, &ip, true, v, 80) }},
		{"NATICMPFull", func() { sinkBool = NATICMPFull(icmp, &ip, true, v, 80, r, 1) }},
		{"EncapIPIP", func() {
			p, o := bp, Offload{NeedsCsum: true}
			copy(buf[headroom:], tcp[:14])
			sinkInt = EncapIPIP(buf, headroom, len(tcp), &p, &o, r, v, 1)
		}},
		{"NeedsFragNeeded", func() { sinkBool = NeedsFragNeeded(tcp, &tp, &Offload{GSOType: GSOTCPv4, GSOSize: 1448}, 1480) }},
		{"SegmentTCP4", func() { sinkInt, _ = Segment(bufs, sizes, 0, tcp, &tp, &Offload{GSOType: GSOTCPv4, GSOSize: 1448}) }},
		{"FragmentIPv4", func() { sinkInt, _ = FragmentIPv4(bufs, sizes, 0, tcp, &tp, nil, 1500) }},
		{"PortUnreachable", func() { sinkBytes = PortUnreachable(ebuf, tcp, &tp, dirMAC, v, 1) }},
		{"FragNeeded", func() { sinkBytes = FragNeeded(ebuf, tcp, &tp, 1480, dirMAC, v, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(50, tt.fn); n != 0 {
				t.Errorf("%v allocations, want 0", n)
			}
		})
	}
}
