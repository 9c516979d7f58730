package forward

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

var (
	clientMAC = [6]byte{0x02, 0, 0, 0, 0, 0x10}
	dirMAC    = [6]byte{0x02, 0, 0, 0, 0, 0x02}
	rsMAC     = [6]byte{0x02, 0, 0, 0, 0, 0x11}
	client    = netip.MustParseAddr("10.77.0.10")
	vip       = netip.MustParseAddr("10.77.0.100")
)

func TestDR(t *testing.T) {
	tests := []struct {
		name string
		in   pkttest.Frame
	}{
		{"TCP SYN", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn}},
		{"TCP data with options and TTL 1", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck | pkt.TCPPsh, TTL: 1, IPOptions: []byte{1, 1, 1, 0}, Payload: []byte("GET / HTTP/1.1\r\n\r\n")}},
		{"UDP", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 5353, DstPort: 53, Payload: []byte("query")}},
		{"VLAN-tagged TCP", pkttest.Frame{VLAN: 7, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPSyn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.in
			f.SrcMAC, f.DstMAC, f.Src, f.Dst = clientMAC, dirMAC, client, vip
			in := f.Build()
			out := append([]byte(nil), in...)
			DR(out, rsMAC, dirMAC)
			if got := pkt.Ether(out).Dst(); got != rsMAC {
				t.Errorf("dst MAC = %x, want %x", got, rsMAC)
			}
			if got := pkt.Ether(out).Src(); got != dirMAC {
				t.Errorf("src MAC = %x, want %x", got, dirMAC)
			}
			// ip_vs_dr_xmit leaves everything past the MACs alone: no TTL
			// decrement, checksums as they came.
			if !bytes.Equal(out[12:], in[12:]) {
				t.Errorf("bytes after the MACs changed")
			}
			var p pkt.Parsed
			if r := p.Decode(out); r != pkt.DecodeOK {
				t.Fatalf("output does not decode: %v", r)
			}
			ip := pkt.IPv4(out[p.L3Off:])
			if !ip.ChecksumValid() || !pkt.L4ChecksumValid(ip) {
				t.Errorf("checksums invalid after DR")
			}
		})
	}
}

func TestEchoReply(t *testing.T) {
	tests := []struct {
		name string
		in   pkttest.Frame
		want bool
	}{
		{"echo request", pkttest.Frame{Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, ICMPID: 9, ICMPSeq: 3, Payload: []byte("abcdefgh")}, true},
		{"odd-length payload", pkttest.Frame{Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, ICMPID: 1, ICMPSeq: 1, Payload: []byte("abc")}, true},
		{"echo reply is not answered", pkttest.Frame{Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoReply, ICMPID: 1}, false},
		{"TCP is not an echo", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: pkt.TCPSyn}, false},
		{"fragmented echo", pkttest.Frame{Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, MF: true, Payload: []byte("x")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.in
			f.SrcMAC, f.DstMAC, f.Src, f.Dst, f.TTL = clientMAC, dirMAC, client, vip, 50
			in := f.Build()
			out := append([]byte(nil), in...)
			var p pkt.Parsed
			if r := p.Decode(out); r != pkt.DecodeOK {
				t.Fatalf("input does not decode: %v", r)
			}
			if got := EchoReply(out, &p, dirMAC); got != tt.want {
				t.Fatalf("EchoReply = %v, want %v", got, tt.want)
			}
			if !tt.want {
				if !bytes.Equal(out, in) {
					t.Errorf("frame changed although not answered")
				}
				return
			}
			var q pkt.Parsed
			if r := q.Decode(out); r != pkt.DecodeOK {
				t.Fatalf("reply does not decode: %v", r)
			}
			ip := pkt.IPv4(out[q.L3Off:])
			switch {
			case pkt.Ether(out).Dst() != clientMAC || pkt.Ether(out).Src() != dirMAC:
				t.Errorf("MACs not swapped")
			case q.Src != vip.As4() || q.Dst != client.As4():
				t.Errorf("addresses %v -> %v, want VIP -> client", q.Src, q.Dst)
			case q.ICMPType != pkt.ICMPEchoReply || ip.TTL() != 64:
				t.Errorf("type %d TTL %d, want 0 and 64", q.ICMPType, ip.TTL())
			case !ip.ChecksumValid() || !pkt.L4ChecksumValid(ip):
				t.Errorf("checksums invalid")
			case !bytes.Equal(out[q.L4Off+4:], in[p.L4Off+4:]):
				t.Errorf("identifier, sequence or data changed")
			}
		})
	}
}

func TestAllocs(t *testing.T) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoICMP, ICMPType: pkt.ICMPEchoRequest, Payload: []byte("x")}.Build()
	buf := make([]byte, len(frame))
	var p pkt.Parsed
	if n := testing.AllocsPerRun(100, func() {
		copy(buf, frame)
		p.Decode(buf)
		EchoReply(buf, &p, dirMAC)
		DR(buf, rsMAC, dirMAC)
	}); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

func BenchmarkDR(b *testing.B) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPAck}.Build()
	b.ReportAllocs()
	for b.Loop() {
		DR(frame, rsMAC, dirMAC)
	}
}
