package pkt_test

import (
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// TestBuildDecodeRoundTrip builds frames with pkttest and checks that
// Decode and the views read back every field that went in.
func TestBuildDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		frame  pkttest.Frame
		checks []pkttest.Checker
	}{
		{
			name: "TCP all fields",
			frame: pkttest.Frame{SrcMAC: macA, DstMAC: macB, VLAN: 42, Src: client, Dst: vip, Proto: pkt.ProtoTCP,
				SrcPort: 1, DstPort: 65535, TCPFlags: pkt.TCPFin | pkt.TCPAck, Seq: 0xffffffff, Ack: 7,
				TTL: 1, TOS: 0x10, ID: 999, DF: true, Payload: []byte("abc")},
			checks: []pkttest.Checker{
				pkttest.SrcMAC(macA), pkttest.DstMAC(macB), pkttest.VLAN(42),
				pkttest.SrcIP(client), pkttest.DstIP(vip), pkttest.Proto(pkt.ProtoTCP), pkttest.TTL(1), pkttest.TOS(0x10),
				pkttest.IPID(999), pkttest.DF(true), pkttest.IPLen(43), pkttest.SrcPort(1), pkttest.DstPort(65535),
				pkttest.TCPFlags(pkt.TCPFin | pkt.TCPAck), pkttest.Seq(0xffffffff), pkttest.Ack(7),
				pkttest.Payload([]byte("abc")), pkttest.ValidChecksums(),
			},
		},
		{
			name: "UDP in QinQ with options",
			frame: pkttest.Frame{SrcMAC: macB, DstMAC: macA, OuterVLAN: 10, VLAN: 20, Src: vip, Dst: client, Proto: pkt.ProtoUDP,
				SrcPort: 53, DstPort: 5353, Payload: []byte("answer"), IPOptions: []byte{0x94, 0x04}},
			checks: []pkttest.Checker{
				pkttest.SrcMAC(macB), pkttest.DstMAC(macA), pkttest.VLAN(20), pkttest.SrcIP(vip), pkttest.DstIP(client),
				pkttest.TTL(64), pkttest.DF(false), pkttest.IPLen(38), pkttest.SrcPort(53), pkttest.DstPort(5353),
				pkttest.Payload([]byte("answer")), pkttest.ValidChecksums(),
			},
		},
		{
			name: "ICMP echo reply",
			frame: pkttest.Frame{Src: vip, Dst: client, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoReply,
				ICMPID: 4242, ICMPSeq: 17, Payload: []byte("0123456789")},
			checks: []pkttest.Checker{
				pkttest.VLAN(0), pkttest.ICMPType(pkt.ICMPEchoReply), pkttest.ICMPCode(0), pkttest.ICMPID(4242),
				pkttest.ICMPSeq(17), pkttest.SrcPort(4242), pkttest.DstPort(0), pkttest.Payload([]byte("0123456789")),
				pkttest.ValidChecksums(),
			},
		},
		{
			name: "ICMP fragmentation needed",
			frame: pkttest.Frame{Src: vip, Dst: client, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPDestUnreachable,
				ICMPCode: pkt.ICMPFragNeeded, ICMPSeq: 1480, Payload: make([]byte, 28)},
			checks: []pkttest.Checker{
				pkttest.ICMPType(pkt.ICMPDestUnreachable), pkttest.ICMPCode(pkt.ICMPFragNeeded), pkttest.ICMPMTU(1480),
				pkttest.ValidChecksums(),
			},
		},
		{
			name: "IPIP around TCP",
			frame: pkttest.Frame{Src: vip, Dst: rip, Proto: pkt.ProtoIPIP, DF: true,
				Payload: tcpFrame().Build()[pkt.EtherHeaderLen:]},
			checks: []pkttest.Checker{
				pkttest.SrcIP(vip), pkttest.DstIP(rip), pkttest.Proto(pkt.ProtoIPIP), pkttest.ValidChecksums(),
				pkttest.IPIP(pkttest.SrcIP(client), pkttest.DstIP(vip), pkttest.DstPort(80),
					pkttest.TCPFlags(pkt.TCPSyn), pkttest.Seq(1000), pkttest.ValidChecksums()),
			},
		},
		{
			name:  "non-first fragment",
			frame: pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoUDP, FragOffset: 1480, Payload: []byte("tail")},
			checks: []pkttest.Checker{
				pkttest.Proto(pkt.ProtoUDP), pkttest.SrcPort(0), pkttest.Payload([]byte("tail")), pkttest.ValidChecksums(),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkttest.CheckIPv4(t, tt.frame.Build(), tt.checks...)
		})
	}
}

func TestARPFrameRoundTrip(t *testing.T) {
	req := pkttest.ARPFrame(pkt.ARPRequest, macA, client.As4(), [6]byte{}, vip.As4())
	if len(req) != pkt.EtherMinFrameLen {
		t.Errorf("length: got %d, want %d", len(req), pkt.EtherMinFrameLen)
	}
	pkttest.CheckARP(t, req, pkttest.DstMAC(pkt.EtherBroadcast), pkttest.SrcMAC(macA), pkttest.ARPOp(pkt.ARPRequest),
		pkttest.ARPSender(macA, client), pkttest.ARPTarget([6]byte{}, vip))
	rep := pkttest.ARPFrame(pkt.ARPReply, macB, vip.As4(), macA, client.As4())
	pkttest.CheckARP(t, rep, pkttest.DstMAC(macA), pkttest.SrcMAC(macB), pkttest.ARPOp(pkt.ARPReply),
		pkttest.ARPSender(macB, vip), pkttest.ARPTarget(macA, client))
}
