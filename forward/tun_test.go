package forward

import (
	"bytes"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

const headroom = 64

// inHeadroom copies frame into a buffer after headroom bytes.
func inHeadroom(frame []byte, room int) []byte {
	buf := make([]byte, room+len(frame))
	copy(buf[room:], frame)
	return buf
}

func TestEncapIPIP(t *testing.T) {
	tests := []struct {
		name    string
		f       pkttest.Frame
		partial bool
	}{
		{"TCP DF, TOS with ECN", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPSyn, DF: true, TOS: 0x2b, TTL: 37, ID: 9}, false},
		{"UDP without DF", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 5000, DstPort: 53, Payload: []byte("query"), TTL: 1}, false},
		{"VLAN-tagged, IP options", pkttest.Frame{VLAN: 5, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPAck, IPOptions: []byte{1, 1, 1, 0}, Payload: []byte("abc")}, false},
		{"pending TCP checksum", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck | pkt.TCPPsh, DF: true, Payload: pattern(1000)}, true},
		{"pending UDP checksum", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 40000, DstPort: 53, Payload: pattern(31)}, true},
		{"fragment", pkttest.Frame{Proto: pkt.ProtoUDP, MF: true, FragOffset: 64, Payload: pattern(40)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.SrcMAC, f.DstMAC, f.Src, f.Dst = clientMAC, dirMAC, client, vip
			frame := f.Build()
			var o Offload
			if tt.partial {
				o = makePartial(t, frame)
			}
			orig := append([]byte(nil), frame...)
			buf := inHeadroom(frame, headroom)
			p := decode(t, buf[headroom:])
			wantStart := o.CsumStart + IPIPOverhead
			// The MACs are the caller's (DR's) business; set them after.
			newOff := EncapIPIP(buf, headroom, len(frame), &p, &o, dip.As4(), rip.As4(), 0x1234)
			if newOff != headroom-IPIPOverhead {
				t.Fatalf("EncapIPIP: got %d, want %d", newOff, headroom-IPIPOverhead)
			}
			out := buf[newOff:]
			if got := decode(t, out); got != p {
				t.Errorf("Parsed after EncapIPIP:\n got %+v\nwant %+v (a fresh decode)", p, got)
			}
			if !bytes.Equal(out[:p.L3Off], orig[:p.L3Off]) {
				t.Errorf("link-layer header: got %x, want %x", out[:p.L3Off], orig[:p.L3Off])
			}
			if !bytes.Equal(out[p.L3Off+IPIPOverhead:], orig[p.L3Off:]) {
				t.Errorf("inner packet changed")
			}
			ttl := f.TTL
			if ttl == 0 {
				ttl = 64
			}
			checks := []pkttest.Checker{pkttest.SrcIP(client), pkttest.DstIP(vip), pkttest.TTL(ttl), pkttest.TOS(f.TOS), pkttest.DF(f.DF)}
			if tt.partial {
				if !o.NeedsCsum || o.CsumStart != wantStart {
					t.Fatalf("offload: got %+v, want CsumStart %d", o, wantStart)
				}
				if !CompleteChecksum(out, &p, &o) {
					t.Fatal("CompleteChecksum failed")
				}
			}
			if f.FragOffset == 0 {
				checks = append(checks, pkttest.ValidChecksums(), pkttest.Payload(f.Payload))
			}
			pkttest.CheckIPv4(t, out, pkttest.SrcMAC(clientMAC), pkttest.DstMAC(dirMAC), pkttest.VLAN(f.VLAN),
				pkttest.SrcIP(dip), pkttest.DstIP(rip), pkttest.Proto(pkt.ProtoIPIP), pkttest.TOS(f.TOS),
				pkttest.TTL(ttl), pkttest.DF(f.DF), pkttest.IPID(0x1234), pkttest.IPLen(len(orig)-p.L3Off+IPIPOverhead),
				pkttest.ValidChecksums(), pkttest.IPIP(checks...))
			if ip := p.IP(out); ip.MF() || ip.FragOffset() != 0 || ip.HeaderLen() != 20 {
				t.Errorf("outer header: MF %v offset %d IHL %d", ip.MF(), ip.FragOffset(), ip.HeaderLen())
			}
		})
	}
}

func TestEncapIPIPRefuses(t *testing.T) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build()
	tests := []struct {
		name string
		room int
		o    Offload
	}{
		{"19 bytes of headroom", IPIPOverhead - 1, Offload{}},
		{"no headroom", 0, Offload{}},
		{"GSO frame", headroom, Offload{NeedsCsum: true, GSOType: GSOTCPv4, GSOSize: 1448}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := inHeadroom(frame, tt.room)
			orig := append([]byte(nil), buf...)
			p := decode(t, buf[tt.room:])
			pp, oo := p, tt.o
			if got := EncapIPIP(buf, tt.room, len(frame), &p, &tt.o, dip.As4(), rip.As4(), 1); got != -1 {
				t.Errorf("got %d, want -1", got)
			}
			if !bytes.Equal(buf, orig) || p != pp || tt.o != oo {
				t.Errorf("refused encapsulation changed its arguments")
			}
		})
	}
	arp := pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, vip.As4())
	buf := inHeadroom(arp, headroom)
	p := decode(t, buf[headroom:])
	if got := EncapIPIP(buf, headroom, len(arp), &p, &Offload{}, dip.As4(), rip.As4(), 1); got != -1 {
		t.Errorf("ARP: got %d, want -1", got)
	}
}

func TestNeedsFragNeeded(t *testing.T) {
	tcp := func(df bool, n int) []byte {
		return pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPAck, DF: df, Payload: make([]byte, n)}.Build()
	}
	mtu, ok := TunnelMTU(1500)
	if mtu != 1480 || !ok {
		t.Fatalf("TunnelMTU(1500) = %d, %v", mtu, ok)
	}
	if _, ok := TunnelMTU(87); ok {
		t.Errorf("TunnelMTU(87) accepted an inner MTU of 67")
	}
	tests := []struct {
		name  string
		frame []byte
		o     Offload
		want  bool
	}{
		{"fits exactly", tcp(true, 1440), Offload{}, false},
		{"one byte over, DF", tcp(true, 1441), Offload{}, true},
		{"over without DF", tcp(false, 1460), Offload{}, false},
		{"GSO, segments fit", tcp(true, 20000), Offload{GSOType: GSOTCPv4, GSOSize: 1440}, false},
		{"GSO, segments too big", tcp(true, 20000), Offload{GSOType: GSOTCPv4, GSOSize: 1448}, true},
		{"GSO without DF", tcp(false, 20000), Offload{GSOType: GSOTCPv4, GSOSize: 1448}, false},
		{"GSO, one short segment", tcp(true, 100), Offload{GSOType: GSOTCPv4, GSOSize: 1448}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := decode(t, tt.frame)
			if got := NeedsFragNeeded(tt.frame, &p, &tt.o, mtu); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTUNPipeline runs the TUN path for a GSO frame: segment into
// buffers with headroom, then encapsulate each segment.
func TestTUNPipeline(t *testing.T) {
	f := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 40000, DstPort: 80, TCPFlags: pkt.TCPAck, DF: true, Payload: pattern(5000)}
	frame := f.Build()
	o := makePartial(t, frame)
	o.GSOType, o.GSOSize = GSOTCPv4, 1440
	p := decode(t, frame)
	if NeedsFragNeeded(frame, &p, &o, 1480) {
		t.Fatal("segments of 1480 bytes do not fit 1480")
	}
	bufs, sizes := newBufs(8, headroom+1500)
	n, err := Segment(bufs, sizes, headroom, frame, &p, &o)
	if err != nil || n != 4 {
		t.Fatalf("Segment: %d, %v", n, err)
	}
	var payload []byte
	for i := 0; i < n; i++ {
		sp := decode(t, bufs[i][headroom:headroom+sizes[i]])
		var so Offload
		off := EncapIPIP(bufs[i], headroom, sizes[i], &sp, &so, dip.As4(), rip.As4(), uint16(i))
		if off < 0 {
			t.Fatalf("segment %d: EncapIPIP refused", i)
		}
		out := bufs[i][off : headroom+sizes[i]]
		if len(out)-pkt.EtherHeaderLen > 1500 {
			t.Errorf("segment %d: %d bytes of IP, MTU 1500", i, len(out)-pkt.EtherHeaderLen)
		}
		pkttest.CheckIPv4(t, out, pkttest.ValidChecksums(), pkttest.DF(true), pkttest.IPIP(pkttest.ValidChecksums()))
		payload = append(payload, pkt.TCP(out[sp.L4Off+20:]).Payload()...)
	}
	if !bytes.Equal(payload, f.Payload) {
		t.Errorf("tunnelled payload differs")
	}
}

func BenchmarkEncapIPIP(b *testing.B) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 80, TCPFlags: pkt.TCPAck, Payload: make([]byte, 1400)}.Build()
	buf := inHeadroom(frame, headroom)
	var p0 pkt.Parsed
	p0.Decode(buf[headroom:])
	d, r := dip.As4(), rip.As4()
	b.ReportAllocs()
	for b.Loop() {
		p, o := p0, Offload{}
		copy(buf[headroom:], frame[:pkt.EtherHeaderLen])
		sinkInt = EncapIPIP(buf, headroom, len(frame), &p, &o, d, r, 1)
	}
}
