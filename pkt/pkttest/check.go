package pkttest

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

// Checker checks one property of a decoded frame and reports a mismatch
// with t.Errorf. frame is what CheckIPv4 or CheckARP was given (or, inside
// IPIP, the inner IPv4 packet) and p its decoding.
type Checker func(t testing.TB, frame []byte, p *pkt.Parsed)

// CheckIPv4 decodes frame as an Ethernet/IPv4 frame, fails the test at once
// if it does not decode with pkt.DecodeOK, and runs checks.
func CheckIPv4(t testing.TB, frame []byte, checks ...Checker) {
	t.Helper()
	var p pkt.Parsed
	if r := p.Decode(frame); r != pkt.DecodeOK {
		t.Fatalf("decode IPv4 frame: got %v, want OK", r)
	}
	if p.EtherType != pkt.EtherTypeIPv4 {
		t.Fatalf("EtherType: got %#04x, want %#04x", p.EtherType, pkt.EtherTypeIPv4)
	}
	for _, c := range checks {
		c(t, frame, &p)
	}
}

// CheckARP decodes frame as an Ethernet/IPv4 ARP frame, fails the test at
// once if it does not decode with pkt.DecodeOK, and runs checks.
func CheckARP(t testing.TB, frame []byte, checks ...Checker) {
	t.Helper()
	var p pkt.Parsed
	if r := p.Decode(frame); r != pkt.DecodeOK {
		t.Fatalf("decode ARP frame: got %v, want OK", r)
	}
	if p.EtherType != pkt.EtherTypeARP {
		t.Fatalf("EtherType: got %#04x, want %#04x", p.EtherType, pkt.EtherTypeARP)
	}
	for _, c := range checks {
		c(t, frame, &p)
	}
}

func ether(t testing.TB, frame []byte, p *pkt.Parsed) (pkt.Ether, bool) {
	t.Helper()
	if p.L3Off < pkt.EtherHeaderLen {
		t.Errorf("no Ethernet header (an IPIP inner packet?)")
		return nil, false
	}
	return pkt.Ether(frame), true
}

// DstMAC checks the Ethernet destination address.
func DstMAC(want [6]byte) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if e, ok := ether(t, frame, p); ok && e.Dst() != want {
			t.Errorf("destination MAC: got %x, want %x", e.Dst(), want)
		}
	}
}

// SrcMAC checks the Ethernet source address.
func SrcMAC(want [6]byte) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if e, ok := ether(t, frame, p); ok && e.Src() != want {
			t.Errorf("source MAC: got %x, want %x", e.Src(), want)
		}
	}
}

// VLAN checks the innermost VLAN ID; 0 checks that the frame is untagged.
func VLAN(want uint16) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if want == 0 && p.VLANs != 0 {
			t.Errorf("VLAN: got %d tags (ID %d), want untagged", p.VLANs, p.VLANID)
		} else if want != 0 && (p.VLANs == 0 || p.VLANID != want) {
			t.Errorf("VLAN: got %d tags, ID %d, want ID %d", p.VLANs, p.VLANID, want)
		}
	}
}

// SrcIP checks the IPv4 source address.
func SrcIP(want netip.Addr) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if got := netip.AddrFrom4(p.Src); got != want {
			t.Errorf("source IP: got %v, want %v", got, want)
		}
	}
}

// DstIP checks the IPv4 destination address.
func DstIP(want netip.Addr) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if got := netip.AddrFrom4(p.Dst); got != want {
			t.Errorf("destination IP: got %v, want %v", got, want)
		}
	}
}

// TTL checks the IPv4 time to live.
func TTL(want uint8) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if got := p.IP(frame).TTL(); got != want {
			t.Errorf("TTL: got %d, want %d", got, want)
		}
	}
}

// TOS checks the IPv4 type of service byte.
func TOS(want uint8) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if got := p.IP(frame).TOS(); got != want {
			t.Errorf("TOS: got %#02x, want %#02x", got, want)
		}
	}
}

// IPID checks the IPv4 identification field.
func IPID(want uint16) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if got := p.IP(frame).ID(); got != want {
			t.Errorf("IP ID: got %d, want %d", got, want)
		}
	}
}

// DF checks the IPv4 don't-fragment flag.
func DF(want bool) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if got := p.IP(frame).DF(); got != want {
			t.Errorf("DF: got %v, want %v", got, want)
		}
	}
}

// IPLen checks the IPv4 total length.
func IPLen(want int) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if p.IPLen != want {
			t.Errorf("IPv4 total length: got %d, want %d", p.IPLen, want)
		}
	}
}

// Proto checks the IPv4 protocol.
func Proto(want uint8) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if p.Proto != want {
			t.Errorf("protocol: got %d, want %d", p.Proto, want)
		}
	}
}

// SrcPort checks the TCP/UDP source port (the echo ID for ICMP echo).
func SrcPort(want uint16) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if p.SrcPort != want {
			t.Errorf("source port: got %d, want %d", p.SrcPort, want)
		}
	}
}

// DstPort checks the TCP/UDP destination port.
func DstPort(want uint16) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if p.DstPort != want {
			t.Errorf("destination port: got %d, want %d", p.DstPort, want)
		}
	}
}

func tcp(t testing.TB, frame []byte, p *pkt.Parsed) (pkt.TCP, bool) {
	t.Helper()
	if p.Proto != pkt.ProtoTCP || p.L4Off == 0 {
		t.Errorf("not a TCP packet with a header (protocol %d, L4 offset %d)", p.Proto, p.L4Off)
		return nil, false
	}
	return pkt.TCP(p.L4(frame)), true
}

// TCPFlags checks the TCP flag byte.
func TCPFlags(want uint8) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if _, ok := tcp(t, frame, p); ok && p.TCPFlags != want {
			t.Errorf("TCP flags: got %#02x, want %#02x", p.TCPFlags, want)
		}
	}
}

// Seq checks the TCP sequence number.
func Seq(want uint32) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if h, ok := tcp(t, frame, p); ok && h.Seq() != want {
			t.Errorf("TCP seq: got %d, want %d", h.Seq(), want)
		}
	}
}

// Ack checks the TCP acknowledgment number.
func Ack(want uint32) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if h, ok := tcp(t, frame, p); ok && h.Ack() != want {
			t.Errorf("TCP ack: got %d, want %d", h.Ack(), want)
		}
	}
}

func icmp(t testing.TB, frame []byte, p *pkt.Parsed) (pkt.ICMPv4, bool) {
	t.Helper()
	if p.Proto != pkt.ProtoICMP || p.L4Off == 0 {
		t.Errorf("not an ICMP packet with a header (protocol %d, L4 offset %d)", p.Proto, p.L4Off)
		return nil, false
	}
	return pkt.ICMPv4(p.L4(frame)), true
}

// ICMPType checks the ICMP type.
func ICMPType(want uint8) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if _, ok := icmp(t, frame, p); ok && p.ICMPType != want {
			t.Errorf("ICMP type: got %d, want %d", p.ICMPType, want)
		}
	}
}

// ICMPCode checks the ICMP code.
func ICMPCode(want uint8) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if _, ok := icmp(t, frame, p); ok && p.ICMPCode != want {
			t.Errorf("ICMP code: got %d, want %d", p.ICMPCode, want)
		}
	}
}

// ICMPID checks the echo identifier.
func ICMPID(want uint16) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if i, ok := icmp(t, frame, p); ok && i.ID() != want {
			t.Errorf("ICMP echo ID: got %d, want %d", i.ID(), want)
		}
	}
}

// ICMPSeq checks the echo sequence number.
func ICMPSeq(want uint16) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if i, ok := icmp(t, frame, p); ok && i.Seq() != want {
			t.Errorf("ICMP echo seq: got %d, want %d", i.Seq(), want)
		}
	}
}

// ICMPMTU checks the next-hop MTU of a fragmentation-needed message.
func ICMPMTU(want uint16) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if i, ok := icmp(t, frame, p); ok && i.MTU() != want {
			t.Errorf("ICMP next-hop MTU: got %d, want %d", i.MTU(), want)
		}
	}
}

// Payload checks the L4 payload: the data after the TCP, UDP or ICMP
// header, or the whole IP payload for other protocols and non-first
// fragments.
func Payload(want []byte) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		var got []byte
		switch l4 := p.L4(frame); {
		case p.L4Off == 0 || p.Proto == pkt.ProtoIPIP:
			got = p.IP(frame).Payload()
		case p.Proto == pkt.ProtoTCP:
			got = pkt.TCP(l4).Payload()
		case p.Proto == pkt.ProtoUDP:
			got = pkt.UDP(l4).Payload()
		case p.Proto == pkt.ProtoICMP:
			got = pkt.ICMPv4(l4).Payload()
		}
		if !bytes.Equal(got, want) {
			t.Errorf("payload: got %x, want %x", got, want)
		}
	}
}

// ValidChecksums checks the IPv4 header checksum and, for a TCP, UDP or
// ICMP packet that is not a fragment, the L4 checksum.
func ValidChecksums() Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		ip := p.IP(frame)
		if !ip.ChecksumValid() {
			t.Errorf("IPv4 header checksum %#04x is wrong", ip.Checksum())
		}
		if p.Frag != 0 {
			return
		}
		switch p.Proto {
		case pkt.ProtoTCP, pkt.ProtoUDP, pkt.ProtoICMP:
			if !pkt.L4ChecksumValid(ip) {
				t.Errorf("protocol %d checksum is wrong", p.Proto)
			}
		}
	}
}

// IPIP checks that the packet is IPv4-in-IPv4 and runs checks on the inner
// packet, decoded with pkt.Parsed.DecodeIPv4 (MAC and VLAN checkers do
// not apply there).
func IPIP(checks ...Checker) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if p.Proto != pkt.ProtoIPIP || p.L4Off == 0 {
			t.Errorf("not an IPIP packet (protocol %d)", p.Proto)
			return
		}
		inner := p.L4(frame)
		var ip pkt.Parsed
		if r := ip.DecodeIPv4(inner); r != pkt.DecodeOK {
			t.Errorf("decode inner IPv4 packet: got %v, want OK", r)
			return
		}
		for _, c := range checks {
			c(t, inner, &ip)
		}
	}
}

func arp(t testing.TB, frame []byte, p *pkt.Parsed) (pkt.ARP, bool) {
	t.Helper()
	if p.EtherType != pkt.EtherTypeARP {
		t.Errorf("not an ARP frame (EtherType %#04x)", p.EtherType)
		return nil, false
	}
	return pkt.ARP(frame[p.L3Off:]), true
}

// ARPOp checks the ARP opcode.
func ARPOp(want uint16) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		if a, ok := arp(t, frame, p); ok && a.Op() != want {
			t.Errorf("ARP op: got %d, want %d", a.Op(), want)
		}
	}
}

// ARPSender checks the ARP sender hardware and protocol addresses.
func ARPSender(mac [6]byte, ip netip.Addr) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		a, ok := arp(t, frame, p)
		if !ok {
			return
		}
		if a.SHA() != mac {
			t.Errorf("ARP sender MAC: got %x, want %x", a.SHA(), mac)
		}
		if got := netip.AddrFrom4(a.SPA()); got != ip {
			t.Errorf("ARP sender IP: got %v, want %v", got, ip)
		}
	}
}

// ARPTarget checks the ARP target hardware and protocol addresses.
func ARPTarget(mac [6]byte, ip netip.Addr) Checker {
	return func(t testing.TB, frame []byte, p *pkt.Parsed) {
		t.Helper()
		a, ok := arp(t, frame, p)
		if !ok {
			return
		}
		if a.THA() != mac {
			t.Errorf("ARP target MAC: got %x, want %x", a.THA(), mac)
		}
		if got := netip.AddrFrom4(a.TPA()); got != ip {
			t.Errorf("ARP target IP: got %v, want %v", got, ip)
		}
	}
}
