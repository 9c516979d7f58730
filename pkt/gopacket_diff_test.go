package pkt_test

// Differential tests against github.com/gopacket/gopacket, the maintained
// fork of google/gopacket: an independent, widely used decoder and
// serializer serves as the slow, obviously right reference the fast views
// are checked against (STYLE.md: fuzz the fast one against a slow one).

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// gopacketView is what gopacket decodes of a frame, layer by layer with
// each layer's own DecodeFromBytes (no parser guessing what follows).
type gopacketView struct {
	ip, tcp, udp bool // which layers decoded
	ipv4         layers.IPv4
	tcpL         layers.TCP
	udpL         layers.UDP
}

func decodeGopacket(frame []byte) *gopacketView {
	v := &gopacketView{}
	var eth layers.Ethernet
	if eth.DecodeFromBytes(frame, gopacket.NilDecodeFeedback) != nil {
		return v
	}
	payload, typ := eth.Payload, eth.EthernetType
	if typ == layers.EthernetTypeDot1Q {
		var tag layers.Dot1Q
		if tag.DecodeFromBytes(payload, gopacket.NilDecodeFeedback) != nil {
			return v
		}
		payload, typ = tag.Payload, tag.Type
	}
	if typ != layers.EthernetTypeIPv4 || v.ipv4.DecodeFromBytes(payload, gopacket.NilDecodeFeedback) != nil {
		return v
	}
	v.ip = true
	if v.ipv4.Flags&layers.IPv4MoreFragments != 0 || v.ipv4.FragOffset != 0 {
		return v
	}
	switch v.ipv4.Protocol {
	case layers.IPProtocolTCP:
		v.tcp = v.tcpL.DecodeFromBytes(v.ipv4.Payload, gopacket.NilDecodeFeedback) == nil
	case layers.IPProtocolUDP:
		v.udp = v.udpL.DecodeFromBytes(v.ipv4.Payload, gopacket.NilDecodeFeedback) == nil
	}
	return v
}

// FuzzDecodeAgainstGopacket: whenever pkt accepts an IPv4 frame with a
// transport header, gopacket decodes the same addresses, protocol, ports
// and flags.
func FuzzDecodeAgainstGopacket(f *testing.F) {
	for _, fr := range []pkttest.Frame{
		{Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn},
		{Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: pkt.TCPAck | pkt.TCPPsh, IPOptions: []byte{1, 1, 1, 0}, Payload: []byte("x")},
		{Proto: pkt.ProtoUDP, SrcPort: 53, DstPort: 5353, Payload: []byte("query"), VLAN: 9},
		{Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, ICMPID: 1, ICMPSeq: 2},
	} {
		fr.Src, fr.Dst = netipAddr("10.77.0.10"), netipAddr("10.77.0.100")
		f.Add(fr.Build())
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var p pkt.Parsed
		if p.Decode(frame) != pkt.DecodeOK || p.EtherType != pkt.EtherTypeIPv4 || p.VLANs > 1 {
			return
		}
		v := decodeGopacket(frame)
		if !v.ip {
			t.Fatalf("pkt decoded IPv4 %v -> %v, gopacket did not", p.Src, p.Dst)
		}
		if [4]byte(v.ipv4.SrcIP.To4()) != p.Src || [4]byte(v.ipv4.DstIP.To4()) != p.Dst || uint8(v.ipv4.Protocol) != p.Proto || int(v.ipv4.Length) != p.IPLen {
			t.Fatalf("IPv4 differs: pkt %v->%v proto %d len %d, gopacket %v->%v proto %d len %d",
				p.Src, p.Dst, p.Proto, p.IPLen, v.ipv4.SrcIP, v.ipv4.DstIP, v.ipv4.Protocol, v.ipv4.Length)
		}
		if p.L4Off == 0 {
			return
		}
		switch p.Proto {
		case pkt.ProtoTCP:
			if !v.tcp {
				return // gopacket also parses TCP options, strictly
			}
			var flags uint8
			for bit, set := range []bool{v.tcpL.FIN, v.tcpL.SYN, v.tcpL.RST, v.tcpL.PSH, v.tcpL.ACK, v.tcpL.URG} {
				if set {
					flags |= 1 << bit
				}
			}
			if uint16(v.tcpL.SrcPort) != p.SrcPort || uint16(v.tcpL.DstPort) != p.DstPort || flags != p.TCPFlags&0x3f {
				t.Fatalf("TCP differs: pkt %d->%d flags %#x, gopacket %d->%d flags %#x",
					p.SrcPort, p.DstPort, p.TCPFlags, v.tcpL.SrcPort, v.tcpL.DstPort, flags)
			}
		case pkt.ProtoUDP:
			if v.udp && (uint16(v.udpL.SrcPort) != p.SrcPort || uint16(v.udpL.DstPort) != p.DstPort) {
				t.Fatalf("UDP ports differ: pkt %d->%d, gopacket %d->%d", p.SrcPort, p.DstPort, v.udpL.SrcPort, v.udpL.DstPort)
			}
		}
	})
}

// Checksums gopacket computes are the ones pkt accepts, and a NAT rewrite
// made with pkt's incremental updates equals gopacket's full recomputation.
func TestChecksumsAgainstGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		src := net.IPv4(10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)))
		dst := net.IPv4(192, 0, 2, byte(r.IntN(256)))
		payload := make([]byte, r.IntN(1400))
		for j := range payload {
			payload[j] = byte(r.Uint32())
		}
		udp := r.IntN(2) == 0
		seq := r.Uint32()
		build := func(dst net.IP, dport uint16) []byte {
			ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: src, DstIP: dst, Id: uint16(i)}
			eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
			buf := gopacket.NewSerializeBuffer()
			opts := gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}
			var err error
			if udp {
				ip.Protocol = layers.IPProtocolUDP
				u := &layers.UDP{SrcPort: 4000, DstPort: layers.UDPPort(dport)}
				u.SetNetworkLayerForChecksum(ip)
				err = gopacket.SerializeLayers(buf, opts, eth, ip, u, gopacket.Payload(payload))
			} else {
				ip.Protocol = layers.IPProtocolTCP
				tc := &layers.TCP{SrcPort: 4000, DstPort: layers.TCPPort(dport), ACK: true, Seq: seq, Window: 1000}
				tc.SetNetworkLayerForChecksum(ip)
				err = gopacket.SerializeLayers(buf, opts, eth, ip, tc, gopacket.Payload(payload))
			}
			if err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}
		frame := build(dst, 80)
		var p pkt.Parsed
		if d := p.Decode(frame); d != pkt.DecodeOK {
			t.Fatalf("decode: %v", d)
		}
		ip := pkt.IPv4(frame[p.L3Off:])
		if !ip.ChecksumValid() || !pkt.L4ChecksumValid(ip) {
			t.Fatalf("pkt rejects gopacket's checksums")
		}
		// DNAT by incremental update, compared with gopacket's rebuild.
		newDst := net.IPv4(10, 77, 1, byte(r.IntN(256)))
		old := ip.Dst()
		ip.SetDst([4]byte(newDst.To4()))
		ip.SetChecksum(pkt.Update32(ip.Checksum(), old, ip.Dst()))
		l4 := frame[p.L4Off:]
		if udp {
			u := pkt.UDP(l4)
			u.SetChecksum(pkt.UpdateUDP16(pkt.UpdateUDP32(u.Checksum(), old, ip.Dst()), u.DstPort(), 8080))
			u.SetDstPort(8080)
		} else {
			tc := pkt.TCP(l4)
			tc.SetChecksum(pkt.Update16(pkt.Update32(tc.Checksum(), old, ip.Dst()), tc.DstPort(), 8080))
			tc.SetDstPort(8080)
		}
		want := build(newDst, 8080)
		if string(frame) != string(want) {
			t.Fatalf("packet %d: incremental DNAT differs from gopacket's rebuild", i)
		}
	}
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
