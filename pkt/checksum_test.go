package pkt_test

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

// slowFold is RFC 1071 section 4.1 written for clarity: add big-endian
// 16-bit words one at a time, folding the carry after every addition.
func slowFold(b []byte, initial uint32) uint16 {
	s := initial
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	for i := 0; i < len(b); i += 2 {
		w := uint32(b[i]) << 8
		if i+1 < len(b) {
			w |= uint32(b[i+1])
		}
		s += w
		for s > 0xffff {
			s = s&0xffff + s>>16
		}
	}
	return uint16(s)
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestChecksumKnownVectors(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		initial  uint32
		wantFold uint16
	}{
		// RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2.
		{name: "RFC 1071 example", data: "0001f203f4f5f6f7", wantFold: 0xddf2},
		{name: "empty", data: "", wantFold: 0},
		{name: "empty with initial", data: "", initial: 0x1_2345, wantFold: 0x2346},
		{name: "odd byte pads right", data: "ab", wantFold: 0xab00},
		{name: "three bytes", data: "0102ab", wantFold: 0xac02},
		{name: "carry wraps", data: "ffffffff0001", wantFold: 0x0001},
		{name: "all ones", data: "ffffffffffffffffffffffffffffffffffffffff", wantFold: 0xffff},
		// IPv4 header with its checksum b861 in place sums to ffff.
		{name: "valid IPv4 header", data: "45000073000040004011b861c0a80001c0a800c7", wantFold: 0xffff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.data)
			if got := pkt.Fold(pkt.Sum(b, tt.initial)); got != tt.wantFold {
				t.Errorf("Fold(Sum): got %#04x, want %#04x", got, tt.wantFold)
			}
			if got := pkt.Checksum(b, tt.initial); got != ^tt.wantFold {
				t.Errorf("Checksum: got %#04x, want %#04x", got, ^tt.wantFold)
			}
		})
	}
}

func TestIPv4HeaderChecksumVector(t *testing.T) {
	h := pkt.IPv4(mustHex(t, "450000730000400040110000c0a80001c0a800c7"))
	h.ComputeChecksum()
	if got := h.Checksum(); got != 0xb861 {
		t.Errorf("ComputeChecksum: got %#04x, want 0xb861", got)
	}
	if !h.ChecksumValid() {
		t.Errorf("ChecksumValid: got false after ComputeChecksum")
	}
	h.SetTTL(63)
	if h.ChecksumValid() {
		t.Errorf("ChecksumValid: got true after changing TTL")
	}
}

func TestSumAgainstSlow(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2100)
	for i := range 3000 {
		n := i % len(buf)
		if i >= 1000 {
			n = r.IntN(len(buf))
		}
		off := r.IntN(8) // unaligned starts
		if off+n > len(buf) {
			n = len(buf) - off
		}
		b := buf[off : off+n]
		for j := range b {
			b[j] = byte(r.Uint32())
			if i%7 == 0 {
				b[j] = 0xff // long carry chains
			}
		}
		initial := r.Uint32()
		if i%5 == 0 {
			initial = 0
		}
		if got, want := pkt.Fold(pkt.Sum(b, initial)), slowFold(b, initial); got != want {
			t.Fatalf("len %d off %d initial %#x: Fold(Sum) got %#04x, slow got %#04x", n, off, initial, got, want)
		}
	}
}

func TestSumChains(t *testing.T) {
	b := make([]byte, 301)
	for i := range b {
		b[i] = byte(i * 7)
	}
	whole := pkt.Fold(pkt.Sum(b, 0))
	for split := 0; split <= len(b); split += 2 {
		if got := pkt.Fold(pkt.Sum(b[split:], pkt.Sum(b[:split], 0))); got != whole {
			t.Fatalf("split at %d: got %#04x, want %#04x", split, got, whole)
		}
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		in   uint32
		want uint16
	}{
		{0, 0}, {0xffff, 0xffff}, {0x10000, 1}, {0x1fffe, 0xffff}, {0xffffffff, 0xffff}, {0x12345678, 0x68ac},
	}
	for _, tt := range tests {
		if got := pkt.Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%#x): got %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	src, dst := [4]byte{192, 168, 0, 1}, [4]byte{10, 0, 0, 200}
	ph := []byte{192, 168, 0, 1, 10, 0, 0, 200, 0, pkt.ProtoTCP, 0x05, 0xdc}
	if got, want := pkt.Fold(pkt.PseudoHeaderSum(src, dst, pkt.ProtoTCP, 1500)), slowFold(ph, 0); got != want {
		t.Errorf("PseudoHeaderSum: got %#04x, want %#04x", got, want)
	}
}

// checkUpdate applies a change at pos (even) in b to a buffer whose
// checksum field is at csum, and compares the incremental result with a
// full recompute.
func checkUpdate(t testing.TB, data []byte, pos int, newWord []byte) {
	t.Helper()
	// Field at offset 0, data after it.
	b := make([]byte, 2+len(data))
	copy(b[2:], data)
	pos = 2 + pos&^1
	if pos+len(newWord) > len(b) || len(newWord) != 2 && len(newWord) != 4 {
		return
	}
	check := pkt.Checksum(b, 0)
	b[0], b[1] = byte(check>>8), byte(check)

	old := bytes.Clone(b[pos : pos+len(newWord)])
	copy(b[pos:], newWord)
	var inc uint16
	if len(newWord) == 2 {
		inc = pkt.Update16(check, uint16(old[0])<<8|uint16(old[1]), uint16(newWord[0])<<8|uint16(newWord[1]))
	} else {
		inc = pkt.Update32(check, [4]byte(old), [4]byte(newWord))
	}
	b[0], b[1] = 0, 0
	full := pkt.Checksum(b, 0)
	if inc != full {
		// RFC 1624 equation 3 differs from a recompute only in the
		// representation of zero: data summing to 0 (all zero).
		if pkt.Fold(pkt.Sum(b, 0)) != 0 || inc != 0 || full != 0xffff {
			t.Fatalf("data %x: incremental %#04x, full recompute %#04x", b[2:], inc, full)
		}
	}
	b[0], b[1] = byte(inc>>8), byte(inc)
	if f := pkt.Fold(pkt.Sum(b, 0)); f != 0xffff && f != 0 {
		t.Fatalf("data %x with incremental checksum %#04x: folded sum %#04x, want 0xffff", b[2:], inc, f)
	}
}

func TestUpdateAgainstRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		data := make([]byte, 2+r.IntN(60))
		for j := range data {
			data[j] = byte(r.Uint32())
			if i%3 == 0 {
				data[j] = 0
			}
		}
		w := make([]byte, 2+2*r.IntN(2))
		for j := range w {
			w[j] = byte(r.Uint32())
			if i%5 == 0 {
				w[j] = 0xff * byte(j%2)
			}
		}
		checkUpdate(t, data, r.IntN(len(data)), w)
	}
	// Corner cases: to and from all zeros and all ones.
	checkUpdate(t, []byte{0, 0, 0, 0}, 0, []byte{0xff, 0xff})
	checkUpdate(t, []byte{0xff, 0xff, 0, 0}, 0, []byte{0, 0})
	checkUpdate(t, []byte{0x12, 0x34, 0, 0}, 0, []byte{0, 0, 0, 0})
}

func FuzzUpdate(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 0x73, 0, 0, 0x40, 0}, 2, []byte{0xc0, 0xa8})
	f.Add([]byte{0, 0, 0, 0}, 0, []byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xff, 0xff}, 0, []byte{0, 0})
	f.Fuzz(func(t *testing.T, data []byte, pos int, newWord []byte) {
		if len(data) == 0 || pos < 0 {
			return
		}
		checkUpdate(t, data, pos%len(data), newWord)
	})
}

func FuzzSum(f *testing.F) {
	f.Add([]byte{1, 2, 3}, uint32(0))
	f.Add(bytes.Repeat([]byte{0xff}, 67), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, b []byte, initial uint32) {
		if got, want := pkt.Fold(pkt.Sum(b, initial)), slowFold(b, initial); got != want {
			t.Fatalf("Fold(Sum) got %#04x, slow got %#04x", got, want)
		}
	})
}

func TestUpdateUDP(t *testing.T) {
	tests := []struct {
		name            string
		check, old, new uint16
		want            uint16
	}{
		{name: "no checksum stays none", check: 0, old: 1, new: 2, want: 0},
		{name: "zero result sent as ffff", check: 0xffff, old: 0, new: 0, want: 0xffff},
		{name: "ordinary", check: 0x1234, old: 1, new: 2, want: pkt.Update16(0x1234, 1, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pkt.UpdateUDP16(tt.check, tt.old, tt.new); got != tt.want {
				t.Errorf("UpdateUDP16: got %#04x, want %#04x", got, tt.want)
			}
		})
	}
	if got := pkt.UpdateUDP32(0, [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}); got != 0 {
		t.Errorf("UpdateUDP32 with no checksum: got %#04x, want 0", got)
	}
	if got := pkt.UpdateUDP32(0xffff, [4]byte{}, [4]byte{}); got != 0xffff {
		t.Errorf("UpdateUDP32 zero result: got %#04x, want 0xffff", got)
	}
}

func TestUpdatePartial(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		var src, dst, nsrc [4]byte
		for i := range 4 {
			src[i], dst[i], nsrc[i] = byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())
		}
		sport := uint16(r.Uint32())
		n := uint16(20 + r.IntN(40))
		partial := pkt.Fold(pkt.PseudoHeaderSum(src, dst, pkt.ProtoTCP, n))
		got := pkt.UpdatePartial32(partial, src, nsrc)
		if want := pkt.Fold(pkt.PseudoHeaderSum(nsrc, dst, pkt.ProtoTCP, n)); got != want && !(got^want == 0xffff && (got == 0 || want == 0)) {
			t.Fatalf("UpdatePartial32: got %#04x, want %#04x", got, want)
		}
		got16 := pkt.UpdatePartial16(partial, n, n+4)
		if want := pkt.Fold(pkt.PseudoHeaderSum(src, dst, pkt.ProtoTCP, n+4)); got16 != want && !(got16^want == 0xffff && (got16 == 0 || want == 0)) {
			t.Fatalf("UpdatePartial16: got %#04x, want %#04x", got16, want)
		}

		// A partial frame completed in software after an address change
		// carries a valid checksum.
		seg := make([]byte, n)
		for i := range seg {
			seg[i] = byte(r.Uint32())
		}
		tcp := pkt.TCP(seg)
		tcp.SetDataOffset(20)
		tcp.SetSrcPort(sport)
		tcp.SetChecksum(partial)
		tcp.SetChecksum(pkt.UpdatePartial32(tcp.Checksum(), src, nsrc))
		if !pkt.CompletePartial(seg, 0, pkt.TCPChecksumOffset) {
			t.Fatal("CompletePartial: got false")
		}
		if f := pkt.Fold(pkt.Sum(seg, pkt.PseudoHeaderSum(nsrc, dst, pkt.ProtoTCP, n))); f != 0xffff {
			t.Fatalf("completed checksum does not verify: folded sum %#04x", f)
		}
	}
}

func TestCompletePartialBounds(t *testing.T) {
	b := make([]byte, 28)
	tests := []struct {
		name          string
		start, offset int
		want          bool
	}{
		{name: "udp field", start: 20, offset: pkt.UDPChecksumOffset, want: true},
		{name: "field past end", start: 20, offset: 7},
		{name: "start past end", start: 29, offset: 0},
		{name: "negative start", start: -1, offset: 6},
		{name: "negative offset", start: 20, offset: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pkt.CompletePartial(b, tt.start, tt.offset); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// A computed checksum of 0 is written as 0xffff.
	z := []byte{0xff, 0xff, 0, 0, 0, 0, 0, 0}
	if pkt.Checksum(z, 0) != 0 {
		t.Fatal("test data does not checksum to 0")
	}
	pkt.CompletePartial(z, 0, pkt.UDPChecksumOffset)
	if got := pkt.UDP(z).Checksum(); got != 0xffff {
		t.Errorf("data checksumming to 0: field got %#04x, want 0xffff", got)
	}
}
