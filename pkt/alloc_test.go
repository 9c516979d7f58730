package pkt_test

import (
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

// Package-level sinks keep benchmark and alloc-test work alive.
var (
	sinkResult pkt.DecodeResult
	sinkU32    uint32
	sinkU16    uint16
	sinkBool   bool
	sinkString string
	sinkBytes  []byte
	sinkAddr   [4]byte
	sinkMAC    [6]byte
)

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not reliable under the race detector")
	}
	tcp := tcpFrame().Build()
	vlanUDP := func() []byte { f := udpFrame(); f.VLAN = 7; return f.Build() }()
	arp := make([]byte, 0)
	arp = append(arp, tcp[:12]...)
	arp = append(arp, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1)
	arp = append(arp, make([]byte, 20)...)
	big := make([]byte, 1500)
	var p pkt.Parsed
	src, dst := client.As4(), vip.As4()

	tests := []struct {
		name string
		fn   func()
	}{
		{"Decode TCP", func() { sinkResult = p.Decode(tcp) }},
		{"Decode VLAN UDP", func() { sinkResult = p.Decode(vlanUDP) }},
		{"Decode ARP", func() { sinkResult = p.Decode(arp) }},
		{"Decode short", func() { sinkResult = p.Decode(tcp[:20]) }},
		{"DecodeGSO", func() { sinkResult = p.DecodeGSO(tcp) }},
		{"DecodeIPv4", func() { sinkResult = p.DecodeIPv4(tcp[14:]) }},
		{"DecodeResult.String", func() { sinkString = pkt.DecodeBadL4.String() }},
		{"Parsed.IP and L4", func() { sinkBytes = p.IP(tcp); sinkBytes = p.L4(tcp) }},
		{"Sum", func() { sinkU32 = pkt.Sum(big, 0) }},
		{"Checksum", func() { sinkU16 = pkt.Checksum(big[:20], 0) }},
		{"PseudoHeaderSum", func() { sinkU32 = pkt.PseudoHeaderSum(src, dst, 6, 40) }},
		{"Update16", func() { sinkU16 = pkt.Update16(1, 2, 3) }},
		{"Update32", func() { sinkU16 = pkt.Update32(1, src, dst) }},
		{"UpdateUDP32", func() { sinkU16 = pkt.UpdateUDP32(1, src, dst) }},
		{"UpdatePartial32", func() { sinkU16 = pkt.UpdatePartial32(1, src, dst) }},
		{"L4ChecksumValid", func() { sinkBool = pkt.L4ChecksumValid(pkt.IPv4(tcp[14:])) }},
		{"CompletePartial", func() { sinkBool = pkt.CompletePartial(big[:100], 20, 16) }},
		{"Ether", func() {
			e := pkt.Ether(tcp)
			sinkMAC = e.Dst()
			e.SetDst(e.Src())
		}},
		{"IPv4 rewrite", func() {
			ip := pkt.IPv4(tcp[14:])
			sinkAddr = ip.Src()
			ip.SetChecksum(pkt.Update32(ip.Checksum(), ip.Dst(), dst))
			ip.SetDst(dst)
			ip.ComputeChecksum()
			ip.DecTTL()
			ip.SetTTL(64)
			sinkBytes = ip.Payload()
		}},
		{"TCP rewrite", func() {
			h := pkt.TCP(tcp[34:])
			h.SetChecksum(pkt.Update16(h.Checksum(), h.DstPort(), 80))
			h.SetDstPort(80)
			sinkBytes = h.Payload()
		}},
		{"ARP", func() {
			a := pkt.ARP(arp[14:])
			a.SetTHA(a.SHA())
			a.SetTPA(a.SPA())
		}},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: got %v allocations per run, want 0", tt.name, n)
		}
	}
}

func TestChecksumOffsets(t *testing.T) {
	// The exported offsets must match what the views write.
	tcp := make(pkt.TCP, pkt.TCPMinHeaderLen)
	tcp.SetChecksum(0xabcd)
	udp := make(pkt.UDP, pkt.UDPHeaderLen)
	udp.SetChecksum(0xabcd)
	if tcp[pkt.TCPChecksumOffset] != 0xab || udp[pkt.UDPChecksumOffset] != 0xab {
		t.Errorf("checksum offsets do not match the views")
	}
}
