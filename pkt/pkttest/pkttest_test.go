package pkttest

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs  []string
	fatal bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.fatal = true
	panic(r)
}

// run calls f with a recorder and returns it after f returns or calls
// Fatalf.
func run(f func(tb testing.TB)) (r *recorder) {
	r = &recorder{}
	defer func() {
		if v := recover(); v != nil && v != r {
			panic(v)
		}
	}()
	f(r)
	return r
}

var (
	mac1 = [6]byte{2, 0, 0, 0, 0, 1}
	mac2 = [6]byte{2, 0, 0, 0, 0, 2}
	a1   = netip.MustParseAddr("10.0.0.1")
	a2   = netip.MustParseAddr("10.0.0.2")
)

func TestBuildTCPBytes(t *testing.T) {
	got := Frame{SrcMAC: mac1, DstMAC: mac2, Src: a1, Dst: a2, Proto: pkt.ProtoTCP,
		SrcPort: 1024, DstPort: 80, TCPFlags: pkt.TCPSyn, Seq: 1, ID: 0x1234, DF: true}.Build()
	// Written out field by field; checksums computed independently with
	// RFC 1071 arithmetic by hand:
	// IPv4: 4500 0028 1234 4000 4006 ---- 0a00 0001 0a00 0002
	//   sum = 4500+0028+1234+4000+4006+0a00+0001+0a00+0002 = eb65, checksum 149a.
	// TCP pseudo: 0a00+0001+0a00+0002+0006+0014 = 141d
	//   header: 0400+0050+0000+0001+0000+0000+5002+ffff+0000+0000 = 0x1_5452
	//   total 0x1_686f -> 6870, checksum 978f.
	want := []byte{
		2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x14, 0x9a, 10, 0, 0, 1, 10, 0, 0, 2,
		0x04, 0x00, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0x97, 0x8f, 0, 0,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("frame:\n got %x\nwant %x", got, want)
	}
}

func TestBuildVLANAndOptions(t *testing.T) {
	b := Frame{OuterVLAN: 5, VLAN: 6, Src: a1, Dst: a2, Proto: pkt.ProtoUDP, IPOptions: []byte{0x94, 4, 0}}.Build()
	if got := b[12:22]; !bytes.Equal(got, []byte{0x88, 0xa8, 0, 5, 0x81, 0, 0, 6, 0x08, 0}) {
		t.Errorf("tags: got %x", got)
	}
	ip := pkt.IPv4(b[22:])
	if ip.HeaderLen() != 24 || !bytes.Equal(ip.Options(), []byte{0x94, 4, 0, 0}) {
		t.Errorf("options: header length %d, options %x", ip.HeaderLen(), ip.Options())
	}
}

func TestBuildPanicsOnMisuse(t *testing.T) {
	for _, f := range []Frame{
		{Src: netip.MustParseAddr("2001:db8::1"), Dst: a2},
		{Src: a1},
		{Src: a1, Dst: a2, IPOptions: make([]byte, 41)},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Build(%+v): did not panic", f)
				}
			}()
			f.Build()
		}()
	}
}

// TestCheckersCatchMismatches makes sure every checker fails when it
// should: a checker that cannot fail is no checker.
func TestCheckersCatchMismatches(t *testing.T) {
	tcp := Frame{SrcMAC: mac1, DstMAC: mac2, VLAN: 3, Src: a1, Dst: a2, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2,
		TCPFlags: pkt.TCPAck, Seq: 5, Ack: 6, TTL: 9, TOS: 4, ID: 7, Payload: []byte("x")}.Build()
	icmp := Frame{Src: a1, Dst: a2, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, ICMPID: 1, ICMPSeq: 2}.Build()
	ipip := Frame{Src: a1, Dst: a2, Proto: pkt.ProtoIPIP, Payload: tcp[18:]}.Build()
	badSum := bytes.Clone(tcp)
	badSum[len(badSum)-1] ^= 1
	arp := ARPFrame(pkt.ARPRequest, mac1, a1.As4(), [6]byte{}, a2.As4())

	tests := []struct {
		name  string
		frame []byte
		arp   bool
		good  Checker
		bad   Checker
	}{
		{"DstMAC", tcp, false, DstMAC(mac2), DstMAC(mac1)},
		{"SrcMAC", tcp, false, SrcMAC(mac1), SrcMAC(mac2)},
		{"VLAN", tcp, false, VLAN(3), VLAN(4)},
		{"VLAN untagged", icmp, false, VLAN(0), VLAN(3)},
		{"VLAN tagged", tcp, false, VLAN(3), VLAN(0)},
		{"SrcIP", tcp, false, SrcIP(a1), SrcIP(a2)},
		{"DstIP", tcp, false, DstIP(a2), DstIP(a1)},
		{"TTL", tcp, false, TTL(9), TTL(64)},
		{"TOS", tcp, false, TOS(4), TOS(0)},
		{"IPID", tcp, false, IPID(7), IPID(8)},
		{"DF", tcp, false, DF(false), DF(true)},
		{"IPLen", tcp, false, IPLen(41), IPLen(40)},
		{"Proto", tcp, false, Proto(pkt.ProtoTCP), Proto(pkt.ProtoUDP)},
		{"SrcPort", tcp, false, SrcPort(1), SrcPort(2)},
		{"DstPort", tcp, false, DstPort(2), DstPort(1)},
		{"TCPFlags", tcp, false, TCPFlags(pkt.TCPAck), TCPFlags(pkt.TCPSyn)},
		{"TCPFlags on ICMP", icmp, false, ICMPType(pkt.ICMPEchoRequest), TCPFlags(0)},
		{"Seq", tcp, false, Seq(5), Seq(6)},
		{"Ack", tcp, false, Ack(6), Ack(5)},
		{"ICMPType", icmp, false, ICMPType(pkt.ICMPEchoRequest), ICMPType(pkt.ICMPEchoReply)},
		{"ICMPCode", icmp, false, ICMPCode(0), ICMPCode(1)},
		{"ICMPID", icmp, false, ICMPID(1), ICMPID(2)},
		{"ICMPSeq", icmp, false, ICMPSeq(2), ICMPSeq(1)},
		{"ICMPMTU", icmp, false, ICMPMTU(2), ICMPMTU(1500)},
		{"ICMPType on TCP", tcp, false, Seq(5), ICMPType(0)},
		{"Payload", tcp, false, Payload([]byte("x")), Payload([]byte("y"))},
		{"ValidChecksums", tcp, false, ValidChecksums(), nil},
		{"ValidChecksums corrupted", badSum, false, SrcPort(1), ValidChecksums()},
		{"IPIP", ipip, false, IPIP(SrcIP(a1), DstPort(2), ValidChecksums()), IPIP(DstPort(3))},
		{"IPIP on TCP", tcp, false, Proto(pkt.ProtoTCP), IPIP()},
		{"MAC inside IPIP", ipip, false, IPIP(), IPIP(DstMAC(mac2))},
		{"ARPOp", arp, true, ARPOp(pkt.ARPRequest), ARPOp(pkt.ARPReply)},
		{"ARPSender", arp, true, ARPSender(mac1, a1), ARPSender(mac1, a2)},
		{"ARPSender MAC", arp, true, ARPSender(mac1, a1), ARPSender(mac2, a1)},
		{"ARPTarget", arp, true, ARPTarget([6]byte{}, a2), ARPTarget([6]byte{}, a1)},
		{"ARPTarget MAC", arp, true, ARPTarget([6]byte{}, a2), ARPTarget(mac1, a2)},
		{"ARP checker on IPv4", tcp, false, SrcPort(1), ARPOp(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := CheckIPv4
			if tt.arp {
				check = CheckARP
			}
			if r := run(func(tb testing.TB) { check(tb, tt.frame, tt.good) }); len(r.errs) != 0 {
				t.Errorf("good checker failed: %q", r.errs)
			}
			if tt.bad == nil {
				return
			}
			if r := run(func(tb testing.TB) { check(tb, tt.frame, tt.bad) }); len(r.errs) == 0 {
				t.Errorf("bad checker passed")
			}
		})
	}
}

func TestCheckFailsOnWrongKind(t *testing.T) {
	tcp := Frame{Src: a1, Dst: a2, Proto: pkt.ProtoTCP}.Build()
	arp := ARPFrame(pkt.ARPReply, mac1, a1.As4(), mac2, a2.As4())
	if r := run(func(tb testing.TB) { CheckIPv4(tb, arp) }); !r.fatal {
		t.Errorf("CheckIPv4 on ARP: want a fatal failure")
	}
	if r := run(func(tb testing.TB) { CheckARP(tb, tcp) }); !r.fatal {
		t.Errorf("CheckARP on IPv4: want a fatal failure")
	}
	if r := run(func(tb testing.TB) { CheckIPv4(tb, tcp[:30]) }); !r.fatal {
		t.Errorf("CheckIPv4 on a truncated frame: want a fatal failure")
	}
	if r := run(func(tb testing.TB) { CheckARP(tb, arp[:20]) }); !r.fatal {
		t.Errorf("CheckARP on a truncated frame: want a fatal failure")
	}
}
