package engine

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// TestSteerFanout: the steered program sends each frame to the socket the
// plain one would pick among workers, plus the offset of the frame or
// block rings, for hashed frames (RET A) and for worker 0's (RET 0: ARP
// here, which the program returns as a constant).
func TestSteerFanout(t *testing.T) {
	prog := fanoutProgram([][4]byte{vip.As4()})
	arp := make([]byte, pkt.EtherHeaderLen+28)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	frames := [][]byte{arp}
	for port := uint16(40000); port < 40032; port++ {
		frames = append(frames, pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoTCP, SrcPort: port, DstPort: 80, TCPFlags: pkt.TCPSyn}.Build())
	}
	for _, workers := range []int{1, 2, 3} {
		for _, off := range []int{0, workers} {
			steered := steerFanout(prog, workers, off)
			seen := map[uint32]bool{}
			for i, f := range frames {
				want := runFanout(t, prog, f)%uint32(workers) + uint32(off)
				if i == 0 {
					// ARP: not IPv4, the program's constant.
					want = uint32(off)
				}
				got := runFanout(t, steered, f)
				if got != want {
					t.Fatalf("workers %d, offset %d, frame %d: socket %d, want %d", workers, off, i, got, want)
				}
				seen[got] = true
			}
			if len(seen) != workers {
				t.Errorf("workers %d, offset %d: %d sockets used, want %d", workers, off, len(seen), workers)
			}
		}
	}
}

// v3Frame writes a tpacket3_hdr and frame at at in mem: mac is the frame's
// offset from the header, next the next header's (0: last).
func v3Frame(mem []byte, at, next, mac int, frame []byte, wire int, status uint32, vlan uint16) {
	binary.NativeEndian.PutUint32(mem[at+frameNextAt:], uint32(next))
	binary.NativeEndian.PutUint32(mem[at+frameSnapAt:], uint32(len(frame)))
	binary.NativeEndian.PutUint32(mem[at+frameLenAt:], uint32(wire))
	binary.NativeEndian.PutUint32(mem[at+frameStatusAt:], status)
	binary.NativeEndian.PutUint16(mem[at+frameMacAt:], uint16(mac))
	binary.NativeEndian.PutUint32(mem[at+frameVLANAt:], uint32(vlan))
	copy(mem[at+mac:], frame)
}

// v3Block marks block b of mem handed over (or not) with num frames, the
// first at first.
func v3Block(mem []byte, b int, user bool, num, first int) {
	base := b * blockSize
	st := uint32(unix.TP_STATUS_KERNEL)
	if user {
		st = unix.TP_STATUS_USER
	}
	binary.NativeEndian.PutUint32(mem[base+blockStatusAt:], st)
	binary.NativeEndian.PutUint32(mem[base+blockNumAt:], uint32(num))
	binary.NativeEndian.PutUint32(mem[base+blockFirstAt:], uint32(first))
}

// TestCollectBlocks reads a block ring laid out as the kernel lays it out:
// frames handed out in order across blocks and batches, a block given
// back only once its last frame has been handed out and released, an
// empty block skipped, a truncated frame flagged, nothing read from a
// block the kernel still holds, and a block whose offsets make no sense
// ended without reading outside it.
func TestCollectBlocks(t *testing.T) {
	const mac = 156
	r := &ring{v3: true, nframes: 3, mem: make([]byte, 3*blockSize)}
	f1 := pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 1, DstPort: 80}.Build()
	f2 := pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 2, DstPort: 80}.Build()
	f3 := pkttest.Frame{Src: client, Dst: vip, Proto: pkt.ProtoUDP, SrcPort: 3, DstPort: 80}.Build()
	// Block 0: f1, f2 (f2 truncated: 100 bytes on the wire). Block 1:
	// empty. Block 2: f3, still the kernel's.
	v3Block(r.mem, 0, true, 2, 64)
	v3Frame(r.mem, 64, 256, mac, f1, len(f1), unix.TP_STATUS_USER|tpStatusVLANValid, 7)
	v3Frame(r.mem, 64+256, 0, mac, f2, len(f2)+100, unix.TP_STATUS_USER, 0)
	v3Block(r.mem, 1, true, 0, 64)
	v3Block(r.mem, 2, false, 1, 64)
	v3Frame(r.mem, 2*blockSize+64, 0, mac, f3, len(f3), unix.TP_STATUS_USER, 0)

	batch := make([]packet, 1)
	if n := r.collect3(batch); n != 1 {
		t.Fatalf("first collect: %d frames, want 1", n)
	}
	if got := batch[0].frame(); string(got) != string(f1) || batch[0].status&tpStatusVLANValid == 0 || batch[0].vlanTCI != 7 {
		t.Fatalf("first frame: %x status %#x vlan %d", got, batch[0].status, batch[0].vlanTCI)
	}
	r.release3()
	if st := binary.NativeEndian.Uint32(r.mem[blockStatusAt:]); st != unix.TP_STATUS_USER {
		t.Fatalf("block 0 given back with a frame still to read (status %#x)", st)
	}
	batch = make([]packet, 8)
	n := r.collect3(batch)
	if n != 1 || batch[0].n != -1 {
		t.Fatalf("second collect: %d frames (first n %d), want the truncated f2 flagged", n, batch[0].n)
	}
	if len(batch[0].buf) != blockSize-64-256 {
		t.Errorf("the last frame's buffer is %d bytes, want the rest of the block", len(batch[0].buf))
	}
	r.release3()
	for b := 0; b < 2; b++ {
		if st := binary.NativeEndian.Uint32(r.mem[b*blockSize+blockStatusAt:]); st != unix.TP_STATUS_KERNEL {
			t.Errorf("block %d not given back (status %#x)", b, st)
		}
	}
	if r.head != 2 {
		t.Fatalf("head %d, want 2 (the kernel's block)", r.head)
	}
	if n := r.collect3(batch); n != 0 {
		t.Fatalf("read %d frames from a block the kernel holds", n)
	}
	r.release3()
	// The kernel hands block 2 over.
	v3Block(r.mem, 2, true, 1, 64)
	if n := r.collect3(batch); n != 1 || string(batch[0].frame()) != string(f3) {
		t.Fatalf("block 2: %d frames", n)
	}
	if len(batch[0].buf) != blockSize-64 {
		t.Errorf("frame buffer %d bytes", len(batch[0].buf))
	}
	r.release3()
	if r.head != 0 {
		t.Errorf("head %d after the last block, want 0", r.head)
	}

	// A block whose first frame lies outside it gives one frame the
	// worker counts, and is done; one whose chain ends early ends there.
	v3Block(r.mem, 0, true, 3, blockSize-8)
	if n := r.collect3(batch); n != 1 || batch[0].n != -1 || r.head != 1 {
		t.Fatalf("frame outside the block: %d frames (n %d), head %d", n, batch[0].n, r.head)
	}
	r.release3()
	v3Block(r.mem, 1, true, 5, 64)
	v3Frame(r.mem, blockSize+64, 0, mac, f1, len(f1), unix.TP_STATUS_USER, 0)
	if n := r.collect3(batch); n != 1 || string(batch[0].frame()) != string(f1) || r.head != 2 {
		t.Fatalf("chain shorter than the count: %d frames, head %d", n, r.head)
	}
	r.release3()
}
