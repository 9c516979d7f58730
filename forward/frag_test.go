package forward

import (
	"bytes"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// newBufs returns n buffers of size bytes.
func newBufs(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

// reassemble checks that the n fragments in bufs (frames of sizes bytes)
// are valid, share one ID and cover their data without gaps, the last
// without MF, and returns the reassembled IP payload.
func reassemble(t testing.TB, bufs [][]byte, sizes []int, n int) []byte {
	t.Helper()
	var data []byte
	var id uint16
	for i := 0; i < n; i++ {
		frame := bufs[i][:sizes[i]]
		var p pkt.Parsed
		if r := p.Decode(frame); r != pkt.DecodeOK {
			t.Fatalf("fragment %d: decode %v", i, r)
		}
		ip := p.IP(frame)
		if !ip.ChecksumValid() {
			t.Errorf("fragment %d: bad header checksum", i)
		}
		if i == 0 {
			id = ip.ID()
		} else if ip.ID() != id {
			t.Errorf("fragment %d: ID %d, want %d", i, ip.ID(), id)
		}
		if ip.FragOffset() != len(data) {
			t.Fatalf("fragment %d: offset %d, want %d", i, ip.FragOffset(), len(data))
		}
		if want := i < n-1; ip.MF() != want {
			t.Errorf("fragment %d: MF %v, want %v", i, ip.MF(), want)
		}
		if i < n-1 && len(ip.Payload())%8 != 0 {
			t.Errorf("fragment %d: data length %d not a multiple of 8", i, len(ip.Payload()))
		}
		data = append(data, ip.Payload()...)
	}
	return data
}

func TestFragmentIPv4(t *testing.T) {
	// Option list: a copied option (type 0x88, stream ID, length 4),
	// a non-copied one (type 0x07-class, record route style, length 7),
	// a NOP and the end of the list.
	opts := []byte{0x88, 4, 0x12, 0x34, 0x07, 7, 4, 0, 0, 0, 0, 1, 0}
	tests := []struct {
		name      string
		f         pkttest.Frame
		mtu       int
		wantN     int
		wantErr   error
		laterOpts []byte // options of fragments after the first
	}{
		{"fits", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, Payload: make([]byte, 100)}, 1500, 1, nil, nil},
		{"UDP 3000 over 1500", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, ID: 77, Payload: bytes.Repeat([]byte("abcdefg"), 428)}, 1500, 3, nil, nil},
		{"odd MTU", pkttest.Frame{Proto: pkt.ProtoTCP, SrcPort: 1, DstPort: 2, Payload: bytes.Repeat([]byte{1, 2, 3}, 333)}, 577, 2, nil, nil},
		{"IP options", pkttest.Frame{Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, IPOptions: opts, Payload: bytes.Repeat([]byte{9}, 1000)}, 576, 2, nil,
			[]byte{0x88, 4, 0x12, 0x34, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}},
		{"VLAN, minimum MTU", pkttest.Frame{VLAN: 3, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, Payload: make([]byte, 200)}, 68, 5, nil, nil},
		{"DF", pkttest.Frame{Proto: pkt.ProtoTCP, DF: true, SrcPort: 1, DstPort: 2, Payload: make([]byte, 1600)}, 1500, 0, ErrDF, nil},
		{"MTU too small", pkttest.Frame{Proto: pkt.ProtoUDP, Payload: make([]byte, 100)}, 67, 0, ErrMTU, nil},
		{"too many pieces", pkttest.Frame{Proto: pkt.ProtoUDP, Payload: make([]byte, 9000)}, 576, 0, ErrTooMany, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.SrcMAC, f.DstMAC, f.Src, f.Dst = clientMAC, dirMAC, client, vip
			frame := f.Build()
			orig := append([]byte(nil), frame...)
			p := decode(t, frame)
			bufs, sizes := newBufs(8, 2048)
			n, err := FragmentIPv4(bufs, sizes, 32, frame, &p, &Offload{}, tt.mtu)
			if err != tt.wantErr || n != tt.wantN {
				t.Fatalf("FragmentIPv4: got %d, %v, want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !bytes.Equal(frame, orig) {
				t.Errorf("input frame changed")
			}
			shifted := make([][]byte, n)
			for i := 0; i < n; i++ {
				shifted[i] = bufs[i][32:]
				if ipLen := sizes[i] - p.L3Off; ipLen > tt.mtu {
					t.Errorf("fragment %d: %d bytes, MTU %d", i, ipLen, tt.mtu)
				}
				if !bytes.Equal(shifted[i][:p.L3Off], frame[:p.L3Off]) {
					t.Errorf("fragment %d: link-layer header differs", i)
				}
				fp := decode(t, shifted[i][:sizes[i]])
				ip := fp.IP(shifted[i][:sizes[i]])
				if ip.ID() != f.ID || ip.TTL() != 64 || ip.Src() != client.As4() || ip.Dst() != vip.As4() {
					t.Errorf("fragment %d: header fields changed", i)
				}
				if i > 0 && tt.laterOpts != nil && !bytes.Equal(ip.Options(), tt.laterOpts) {
					t.Errorf("fragment %d options: got %x, want %x", i, ip.Options(), tt.laterOpts)
				}
				if i == 0 && !bytes.Equal(ip.Options(), pkt.IPv4(frame[p.L3Off:]).Options()) {
					t.Errorf("first fragment options: got %x", ip.Options())
				}
			}
			if n == 1 {
				if !bytes.Equal(shifted[0][:sizes[0]], frame) {
					t.Errorf("fitting packet not copied as is")
				}
				return
			}
			if got := reassemble(t, shifted, sizes, n); !bytes.Equal(got, p.IP(frame).Payload()) {
				t.Errorf("reassembled payload differs")
			}
		})
	}
}

func TestFragmentIPv4Partial(t *testing.T) {
	f := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: 5, DstPort: 80, TCPFlags: pkt.TCPAck, Payload: bytes.Repeat([]byte("xyz"), 700)}
	frame := f.Build()
	want := f.Build()
	o := makePartial(t, frame)
	p := decode(t, frame)
	bufs, sizes := newBufs(4, 1600)
	n, err := FragmentIPv4(bufs, sizes, 0, frame, &p, &o, 1000)
	if err != nil || n != 3 {
		t.Fatalf("FragmentIPv4: %d, %v", n, err)
	}
	if o.NeedsCsum {
		t.Errorf("NeedsCsum still set")
	}
	wp := decode(t, want)
	if got := reassemble(t, bufs, sizes, n); !bytes.Equal(got, wp.IP(want).Payload()) {
		t.Errorf("reassembled TCP segment lacks the completed checksum")
	}
	gso := Offload{GSOType: GSOTCPv4, GSOSize: 1000}
	if _, err := FragmentIPv4(bufs, sizes, 0, frame, &p, &gso, 1000); err != ErrGSO {
		t.Errorf("GSO frame: got %v, want ErrGSO", err)
	}
}

func TestFragmentOfFragment(t *testing.T) {
	// A fragment (offset 800, MF set) that is fragmented again keeps its
	// place and its MF on the last piece.
	f := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, MF: true, FragOffset: 800, ID: 5, Payload: bytes.Repeat([]byte{7}, 1200)}
	frame := f.Build()
	p := decode(t, frame)
	bufs, sizes := newBufs(4, 1600)
	n, err := FragmentIPv4(bufs, sizes, 0, frame, &p, nil, 620)
	if err != nil || n != 2 {
		t.Fatalf("got %d, %v", n, err)
	}
	off := 800
	for i := 0; i < n; i++ {
		fp := decode(t, bufs[i][:sizes[i]])
		ip := fp.IP(bufs[i][:sizes[i]])
		if ip.FragOffset() != off || !ip.MF() || ip.ID() != 5 {
			t.Errorf("piece %d: offset %d MF %v ID %d, want %d true 5", i, ip.FragOffset(), ip.MF(), ip.ID(), off)
		}
		off += len(ip.Payload())
	}
	if off != 2000 {
		t.Errorf("pieces end at %d, want 2000", off)
	}
}

func TestFragmentNoRoom(t *testing.T) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, Payload: make([]byte, 3000)}.Build()
	p := decode(t, frame)
	bufs, sizes := newBufs(4, 1000)
	if _, err := FragmentIPv4(bufs, sizes, 0, frame, &p, nil, 1500); err != ErrNoRoom {
		t.Errorf("got %v, want ErrNoRoom", err)
	}
	if _, err := FragmentIPv4(bufs, sizes, 2000, frame, &p, nil, 1500); err != ErrNoRoom {
		t.Errorf("offset past the buffer: got %v, want ErrNoRoom", err)
	}
}

// wellFormedOptions returns a copy of b made into IPv4 options the decoder
// accepts (RFC 791 section 3.1): the type bytes stay, and every length byte
// of a multi-byte option is clamped to at least 2 and to what is left of b,
// so the fuzzer explores option types, copied flags and lengths instead of
// spending its inputs on headers that Decode rightly refuses (DecodeBadOptions)
// and the engine never hands to FragmentIPv4.
func wellFormedOptions(b []byte) []byte {
	o := append([]byte(nil), b...)
	for i := 0; i < len(o); {
		switch o[i] {
		case 0:
			return o
		case 1:
			i++
			continue
		}
		if i+1 == len(o) {
			o[i] = 1 // no room for a length byte: a no-operation instead
			break
		}
		l := max(int(o[i+1]), 2)
		l = min(l, len(o)-i)
		o[i+1] = byte(l)
		i += l
	}
	return o
}

// FuzzFragmentIPv4: the fragments of any packet reassemble to it. The
// option bytes are made well formed first (wellFormedOptions); malformed
// options are Decode's to refuse (DecodeBadOptions, pkt/decode_test.go).
func FuzzFragmentIPv4(f *testing.F) {
	f.Add(3000, 1500, []byte{1, 1, 1, 0}, uint16(1))
	f.Add(100, 68, []byte{}, uint16(0))
	f.Add(9000, 1280, []byte{0x83, 7, 4, 1, 2, 3, 4, 0x44, 4, 5, 0}, uint16(0xffff))
	f.Fuzz(func(t *testing.T, size, mtu int, opts []byte, id uint16) {
		if size < 0 || size > 16000 || len(opts) > 40 || mtu < 0 || mtu > 9000 {
			return
		}
		opts = wellFormedOptions(opts)
		fr := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, ID: id, IPOptions: opts, Payload: make([]byte, size)}
		for i := range fr.Payload {
			fr.Payload[i] = byte(i * 7)
		}
		frame := fr.Build()
		p := decode(t, frame)
		bufs, sizes := newBufs(300, 9100)
		n, err := FragmentIPv4(bufs, sizes, 0, frame, &p, nil, mtu)
		switch {
		case mtu < 68:
			if err != ErrMTU {
				t.Fatalf("mtu %d: got %v", mtu, err)
			}
			return
		case err != nil:
			t.Fatalf("FragmentIPv4(%d bytes, mtu %d): %v", p.IPLen, mtu, err)
		}
		for i := 0; i < n; i++ {
			if sizes[i]-p.L3Off > mtu && n > 1 {
				t.Fatalf("fragment %d too big", i)
			}
		}
		if n == 1 {
			if !bytes.Equal(bufs[0][:sizes[0]], frame) {
				t.Fatal("single piece differs")
			}
			return
		}
		if got := reassemble(t, bufs, sizes, n); !bytes.Equal(got, p.IP(frame).Payload()) {
			t.Fatal("reassembly differs")
		}
	})
}

func BenchmarkFragmentIPv4(b *testing.B) {
	frame := pkttest.Frame{SrcMAC: clientMAC, DstMAC: dirMAC, Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 2, Payload: make([]byte, 8000)}.Build()
	var p pkt.Parsed
	p.Decode(frame)
	bufs, sizes := newBufs(8, 1600)
	b.ReportAllocs()
	for b.Loop() {
		n, err := FragmentIPv4(bufs, sizes, 0, frame, &p, nil, 1500)
		if err != nil {
			b.Fatal(err)
		}
		sinkInt = n
	}
}
