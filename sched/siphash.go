package sched

import (
	"encoding/binary"
	"math/bits"
)

// SipHash (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012), as lib/siphash.c implements it. mh needs hsiphash, which on 64-bit
// kernels is SipHash-1-3 (one compression round, three finalization rounds)
// with the 64-bit state, returning the low 32 bits of the result; 32-bit
// kernels run HalfSipHash-1-3 instead, so their mh tables differ, and ulvs
// follows the 64-bit kernels.

// sipKey is a SipHash key, key[0] and key[1] of siphash_key_t (or of a
// 64-bit hsiphash_key_t).
type sipKey [2]uint64

// sipState is v0..v3.
type sipState [4]uint64

func newSipState(k sipKey) sipState {
	return sipState{
		k[0] ^ 0x736f6d6570736575,
		k[1] ^ 0x646f72616e646f6d,
		k[0] ^ 0x6c7967656e657261,
		k[1] ^ 0x7465646279746573,
	}
}

// round is SIPROUND.
func (v *sipState) round() {
	v[0] += v[1]
	v[1] = bits.RotateLeft64(v[1], 13)
	v[1] ^= v[0]
	v[0] = bits.RotateLeft64(v[0], 32)
	v[2] += v[3]
	v[3] = bits.RotateLeft64(v[3], 16)
	v[3] ^= v[2]
	v[0] += v[3]
	v[3] = bits.RotateLeft64(v[3], 21)
	v[3] ^= v[0]
	v[2] += v[1]
	v[1] = bits.RotateLeft64(v[1], 17)
	v[1] ^= v[2]
	v[2] = bits.RotateLeft64(v[2], 32)
}

// compress absorbs one 64-bit message word with c rounds.
func (v *sipState) compress(m uint64, c int) {
	v[3] ^= m
	for range c {
		v.round()
	}
	v[0] ^= m
}

// finish absorbs the last word b (the length in the top byte, the tail
// bytes below) and runs d finalization rounds.
func (v *sipState) finish(b uint64, c, d int) uint64 {
	v.compress(b, c)
	v[2] ^= 0xff
	for range d {
		v.round()
	}
	return v[0] ^ v[1] ^ v[2] ^ v[3]
}

// sipHash is SipHash-c-d of msg under k, the general form: siphash() of
// lib/siphash.c is sipHash(k, msg, 2, 4), and 64-bit hsiphash() is
// uint32(sipHash(k, msg, 1, 3)). Control plane and tests only; the mh hot
// path uses hsipHash1u32.
func sipHash(k sipKey, msg []byte, c, d int) uint64 {
	v := newSipState(k)
	b := uint64(len(msg)) << 56
	for len(msg) >= 8 {
		v.compress(binary.LittleEndian.Uint64(msg), c)
		msg = msg[8:]
	}
	for i, x := range msg {
		b |= uint64(x) << (8 * i)
	}
	return v.finish(b, c, d)
}

// hsipHash1u32 is the 64-bit kernel's hsiphash of the four bytes of x in
// little-endian order, as ip_vs_mh_hashkey computes hsiphash(&v,
// sizeof(v), key) on an x86-64 or arm64 host (and hsiphash_1u32(x, key)
// on any 64-bit host): SipHash-1-3 of a 4-byte message, low 32 bits. It
// does not allocate.
func hsipHash1u32(k sipKey, x uint32) uint32 {
	v := newSipState(k)
	return uint32(v.finish(4<<56|uint64(x), 1, 3))
}
