package forward

import (
	"bytes"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + i>>8)
	}
	return b
}

func TestSegmentTCP4(t *testing.T) {
	tcpOpts := []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 8}
	tests := []struct {
		name     string
		f        pkttest.Frame
		opts     []byte
		mss      int
		gsoType  uint8
		wantSegs int
	}{
		{"three segments, FIN PSH CWR", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 80, DstPort: 40000, Seq: 0xfffffff0, Ack: 5, ID: 0xfffe, DF: true, TOS: 0x02,
			TCPFlags: pkt.TCPAck | pkt.TCPPsh | pkt.TCPFin | pkt.TCPCwr | pkt.TCPEce, Payload: pattern(4000)}, tcpOpts, 1448, GSOTCPv4 | GSOECN, 3},
		{"exact multiple", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: pkt.TCPAck, Payload: pattern(2896)}, nil, 1448, GSOTCPv4, 2},
		{"IP options, VLAN, odd MSS", pkttest.Frame{VLAN: 12, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: pkt.TCPAck | pkt.TCPPsh, IPOptions: []byte{1, 1, 1, 1}, Payload: pattern(1001)}, nil, 333, GSOTCPv4, 4},
		{"no payload", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: pkt.TCPAck | pkt.TCPFin}, nil, 1448, GSOTCPv4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.SrcMAC, f.DstMAC, f.Src, f.Dst = rsMAC, dirMAC, rip, client
			frame := buildNAT(t, f, tt.opts)
			o := makePartial(t, frame)
			o.GSOType, o.GSOSize = tt.gsoType, uint16(tt.mss)
			orig := append([]byte(nil), frame...)
			p := decode(t, frame)
			bufs, sizes := newBufs(8, 1600)
			n, err := Segment(bufs, sizes, 20, frame, &p, &o)
			if err != nil || n != tt.wantSegs {
				t.Fatalf("Segment: got %d, %v, want %d segments", n, err, tt.wantSegs)
			}
			if !bytes.Equal(frame, orig) {
				t.Errorf("input frame changed")
			}
			in := pkt.TCP(frame[p.L4Off:])
			var payload []byte
			for i := 0; i < n; i++ {
				seg := bufs[i][20 : 20+sizes[i]]
				flags := f.TCPFlags
				if i < n-1 {
					flags &^= pkt.TCPFin | pkt.TCPPsh
				}
				if i > 0 {
					flags &^= pkt.TCPCwr
				}
				plen := min(tt.mss, len(f.Payload)-i*tt.mss)
				pkttest.CheckIPv4(t, seg, pkttest.ValidChecksums(), pkttest.SrcIP(rip), pkttest.DstIP(client),
					pkttest.IPID(f.ID+uint16(i)), pkttest.DF(f.DF), pkttest.TOS(f.TOS), pkttest.TCPFlags(flags),
					pkttest.Seq(f.Seq+uint32(i*tt.mss)), pkttest.Ack(f.Ack), pkttest.VLAN(f.VLAN),
					pkttest.IPLen(p.L4Off-p.L3Off+in.DataOffset()+plen))
				sp := decode(t, seg)
				tcp := pkt.TCP(sp.L4(seg))
				if !bytes.Equal(tcp.Options(), in.Options()) || !bytes.Equal(sp.IP(seg).Options(), p.IP(frame).Options()) {
					t.Errorf("segment %d: options not copied", i)
				}
				payload = append(payload, tcp.Payload()...)
			}
			if !bytes.Equal(payload, f.Payload) {
				t.Errorf("segment payloads do not add up to the original")
			}
		})
	}
}

func TestSegmentUDP4(t *testing.T) {
	f := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 4433, DstPort: 443, ID: 100, Payload: pattern(3500)}
	frame := f.Build()
	o := makePartial(t, frame)
	o.GSOType, o.GSOSize = GSOUDPL4, 1200
	p := decode(t, frame)
	bufs, sizes := newBufs(4, 1600)
	n, err := Segment(bufs, sizes, 0, frame, &p, &o)
	if err != nil || n != 3 {
		t.Fatalf("Segment: %d, %v", n, err)
	}
	for i := 0; i < n; i++ {
		seg := bufs[i][:sizes[i]]
		end := min((i+1)*1200, 3500)
		pkttest.CheckIPv4(t, seg, pkttest.ValidChecksums(), pkttest.IPID(100+uint16(i)), pkttest.SrcPort(4433), pkttest.DstPort(443),
			pkttest.Payload(f.Payload[i*1200:end]), pkttest.IPLen(28+end-i*1200))
	}
}

func TestSegmentUFO(t *testing.T) {
	f := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 7, DstPort: 53, ID: 42, DF: true, Payload: pattern(4000)}
	want := f.Build()
	frame := f.Build()
	o := makePartial(t, frame)
	o.GSOType, o.GSOSize = GSOUDP, 1475 // rounded down to 1472
	p := decode(t, frame)
	bufs, sizes := newBufs(4, 1600)
	n, err := Segment(bufs, sizes, 0, frame, &p, &o)
	if err != nil || n != 3 {
		t.Fatalf("Segment: %d, %v", n, err)
	}
	for i := 0; i < n; i++ {
		fp := decode(t, bufs[i][:sizes[i]])
		if got := len(fp.IP(bufs[i][:sizes[i]]).Payload()); i < n-1 && got != 1472 {
			t.Errorf("fragment %d: %d data bytes, want 1472", i, got)
		}
	}
	wp := decode(t, want)
	if got := reassemble(t, bufs, sizes, n); !bytes.Equal(got, wp.IP(want).Payload()) {
		t.Errorf("reassembled datagram (with its completed checksum) differs")
	}
}

func TestSegmentErrors(t *testing.T) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, Payload: pattern(5000)}.Build()
	p := decode(t, frame)
	tests := []struct {
		name  string
		o     Offload
		nbufs int
		size  int
		want  error
	}{
		{"not GSO", Offload{}, 8, 1600, ErrNotGSO},
		{"TCPv6", Offload{GSOType: GSOTCPv4 + 3, GSOSize: 1000}, 8, 1600, ErrNotGSO},
		{"UDP type on TCP", Offload{GSOType: GSOUDPL4, GSOSize: 1000}, 8, 1600, ErrNotGSO},
		{"GSO size 0", Offload{GSOType: GSOTCPv4}, 8, 1600, ErrMalformed},
		{"too few buffers", Offload{GSOType: GSOTCPv4, GSOSize: 1000}, 4, 1600, ErrTooMany},
		{"buffers too small", Offload{GSOType: GSOTCPv4, GSOSize: 1000}, 8, 1000, ErrNoRoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bufs, sizes := newBufs(tt.nbufs, tt.size)
			if _, err := Segment(bufs, sizes, 0, frame, &p, &tt.o); err != tt.want {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzSegment: the segments of any TCP or UDP super-frame carry its
// payload in order, each with valid checksums and at most mss bytes.
func FuzzSegment(f *testing.F) {
	f.Add(4000, 1448, false, uint32(1))
	f.Add(0, 1, true, uint32(0))
	f.Add(1, 65000, false, uint32(0xffffffff))
	f.Add(9000, 536, true, uint32(7))
	f.Fuzz(func(t *testing.T, size, mss int, udp bool, seq uint32) {
		if size < 0 || size > 20000 || mss <= 0 || mss > 0xffff {
			return
		}
		fr := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, Seq: seq, TCPFlags: pkt.TCPAck | pkt.TCPFin, Payload: pattern(size)}
		typ := uint8(GSOTCPv4)
		if udp {
			fr.Proto, typ = pkt.ProtoUDP, GSOUDPL4
		}
		frame := fr.Build()
		o := makePartial(t, frame)
		o.GSOType, o.GSOSize = typ, uint16(mss)
		p := decode(t, frame)
		bufs, sizes := newBufs(64, 2000)
		n, err := Segment(bufs, sizes, 0, frame, &p, &o)
		hdr := p.L4Off + 20
		if udp {
			hdr = p.L4Off + 8
		}
		need := max(1, (size+mss-1)/mss)
		switch {
		case hdr-p.L3Off+mss > 0xffff:
			if err != ErrMalformed {
				t.Fatalf("oversized segments: got %v", err)
			}
			return
		case need > 64:
			if err != ErrTooMany {
				t.Fatalf("%d segments: got %v", need, err)
			}
			return
		case hdr+min(mss, size) > 2000:
			if err != ErrNoRoom {
				t.Fatalf("big segments: got %v", err)
			}
			return
		case err != nil || n != need:
			t.Fatalf("got %d, %v, want %d", n, err, need)
		}
		var payload []byte
		for i := 0; i < n; i++ {
			seg := bufs[i][:sizes[i]]
			pkttest.CheckIPv4(t, seg, pkttest.ValidChecksums())
			sp := decode(t, seg)
			var pl []byte
			if udp {
				pl = pkt.UDP(sp.L4(seg)).Payload()
			} else {
				pl = pkt.TCP(sp.L4(seg)).Payload()
				if got := pkt.TCP(sp.L4(seg)).Seq(); got != seq+uint32(len(payload)) {
					t.Fatalf("segment %d: seq %d, want %d", i, got, seq+uint32(len(payload)))
				}
				if fin := sp.TCPFlags&pkt.TCPFin != 0; fin != (i == n-1) {
					t.Fatalf("segment %d: FIN %v", i, fin)
				}
			}
			if len(pl) > mss {
				t.Fatalf("segment %d: %d bytes > mss %d", i, len(pl), mss)
			}
			payload = append(payload, pl...)
		}
		if !bytes.Equal(payload, fr.Payload) {
			t.Fatal("payload differs")
		}
	})
}

func BenchmarkSegmentTCP4(b *testing.B) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: pkt.TCPAck, Payload: pattern(64000)}.Build()
	var p pkt.Parsed
	p.DecodeGSO(frame)
	o := Offload{NeedsCsum: true, GSOType: GSOTCPv4, GSOSize: 1448}
	bufs, sizes := newBufs(48, 1600)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		n, err := SegmentTCP4(bufs, sizes, 0, frame, &p, &o)
		if err != nil {
			b.Fatal(err)
		}
		sinkInt = n
	}
}
