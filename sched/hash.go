package sched

import (
	"encoding/binary"
	"net/netip"

	"github.com/ulvs/ulvs/vs"
)

// goldenRatio32 is GOLDEN_RATIO_32 of include/linux/hash.h (Linux 4.7 and
// later; older kernels multiplied by GOLDEN_RATIO_PRIME_32, 0x9e370001).
const goldenRatio32 = 0x61C88647

// hash32 is hash_32 of include/linux/hash.h: the top bits of val times the
// golden ratio. bits must be in 1..32.
func hash32(val uint32, bits uint) uint32 {
	return (val * goldenRatio32) >> (32 - bits)
}

// addrFold is the 32-bit value the IPVS hashing schedulers (dh, sh, mh,
// lblc, lblcr) hash an address by, in host order: ntohl(addr->ip) for IPv4
// and, for IPv6, ntohl of the XOR of the four 32-bit words of the address.
// The zero netip.Addr folds to 0.
func addrFold(a netip.Addr) uint32 {
	if a.Is4() {
		b := a.As4()
		return binary.BigEndian.Uint32(b[:])
	}
	b := a.As16()
	return binary.BigEndian.Uint32(b[0:4]) ^ binary.BigEndian.Uint32(b[4:8]) ^
		binary.BigEndian.Uint32(b[8:12]) ^ binary.BigEndian.Uint32(b[12:16])
}

// protoSCTP is SCTP's IANA protocol number; vs names only TCP and UDP.
const protoSCTP vs.Protocol = 132

// flowPort is the port sh and mh hash with their port flag
// (ip_vs_sh_get_port, ip_vs_mh_get_port): the source port of a TCP, UDP or
// SCTP packet (ports[0] of the transport header; the kernel takes ports[1]
// only for the inverse direction, which a scheduler never sees in ulvs), 0
// for any other protocol.
func flowPort(f *vs.Flow) uint16 {
	switch f.Proto {
	case vs.TCP, vs.UDP, protoSCTP:
		return f.SrcPort
	}
	return 0
}
