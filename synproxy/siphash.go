package synproxy

import "math/bits"

// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012): the keyed hash Linux uses for its syncookies. sum64 hashes any
// message; sum16 is the same function for the 16-byte messages cookies
// hash, without a loop.

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}

func sipInit(k0, k1 uint64) (uint64, uint64, uint64, uint64) {
	return k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d, k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573
}

func sipFinal(v0, v1, v2, v3 uint64) uint64 {
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

func sipBlock(v0, v1, v2, v3, m uint64) (uint64, uint64, uint64, uint64) {
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	return v0, v1, v2, v3
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// sum64 is SipHash-2-4 of msg under the key (k0, k1), each key half read
// little-endian as the reference does.
func sum64(k0, k1 uint64, msg []byte) uint64 {
	v0, v1, v2, v3 := sipInit(k0, k1)
	n := len(msg)
	for len(msg) >= 8 {
		v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, le64(msg))
		msg = msg[8:]
	}
	last := uint64(n) << 56
	for i, c := range msg {
		last |= uint64(c) << (8 * i)
	}
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, last)
	return sipFinal(v0, v1, v2, v3)
}

// sum16 is sum64 of the 16 bytes m0, m1 (each little-endian).
func sum16(k0, k1, m0, m1 uint64) uint64 {
	v0, v1, v2, v3 := sipInit(k0, k1)
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, m0)
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, m1)
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, 16<<56)
	return sipFinal(v0, v1, v2, v3)
}
