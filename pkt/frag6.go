package pkt

// IPv6 Fragment header (RFC 8200 section 4.5):
//
//	| Next Header |  Reserved  |  Fragment Offset (13) |Res|M|
//	|                     Identification (32)               |
//
// The offset counts 8-byte units of the fragmentable part. A header with
// offset 0 and M clear is an atomic fragment (RFC 6946): the whole packet,
// which Decode6 walks past like any other extension header.

// Frag6HeaderLen is the length of the fragment header.
const Frag6HeaderLen = 8

// Frag6 is a view of an IPv6 fragment header at the start of the slice.
type Frag6 []byte

// NextHeader returns the header that follows in the first fragment (the
// fragmentable part's first header).
func (f Frag6) NextHeader() uint8 { return f[0] }

// Offset returns the fragment's offset in bytes.
func (f Frag6) Offset() int { return int(be16(f[2:]) &^ 7) }

// More reports the M flag: more fragments follow.
func (f Frag6) More() bool { return f[3]&1 != 0 }

// ID returns the identification.
func (f Frag6) ID() uint32 { return be32(f[4:]) }

// Atomic reports an atomic fragment: offset 0 and M clear.
func (f Frag6) Atomic() bool { return be16(f[2:])&0xfff9 == 0 }

// PutFrag6 writes a fragment header to b: next header, offset in bytes (a
// multiple of 8), the M flag and the identification.
func PutFrag6(b []byte, next uint8, offset int, more bool, id uint32) {
	b[0], b[1] = next, 0
	v := uint16(offset) &^ 7
	if more {
		v |= 1
	}
	putBE16(b[2:], v)
	putBE32(b[4:], id)
}
