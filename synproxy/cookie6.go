package synproxy

import (
	"encoding/binary"

	"github.com/ulvs/ulvs/pkt"
)

// IPv6 cookies (issue #17): the same layout as IPv4's, the flow hashed
// with both 128-bit addresses (as Linux's __cookie_v6_init_sequence and
// DPVS's syn_proxy_cookie_v6_init_sequence hash the IPv6 header's), and
// the MSS kept as an index into Linux's IPv6 table (net/ipv6/syncookies.c
// msstab: 1280, 1480, 1500 and 9000 less the 60 bytes of IPv6 and TCP
// headers).
var mssTable6 = [4]uint16{1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60}

// Flow6 is Flow for an IPv6 client.
type Flow6 struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
}

// hash6 is SipHash-2-4 of the 40 bytes source, destination, ports and
// count.
func (c *Cookies) hash6(f *Flow6, count uint32) uint32 {
	v0, v1, v2, v3 := sipInit(c.k0, c.k1)
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, le64(f.Src[0:8]))
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, le64(f.Src[8:16]))
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, le64(f.Dst[0:8]))
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, le64(f.Dst[8:16]))
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, uint64(f.SrcPort)|uint64(f.DstPort)<<16|uint64(count)<<32)
	v0, v1, v2, v3 = sipBlock(v0, v1, v2, v3, 40<<56)
	return uint32(sipFinal(v0, v1, v2, v3))
}

// Make6 is Make for an IPv6 flow; the MSS is rounded down to the IPv6
// table (1220 when the client sent none or a smaller one).
func (c *Cookies) Make6(f Flow6, isn, count uint32, o Options) (uint32, Options) {
	return makeCookie(&mssTable6, c.hash6(&f, 0), c.hash6(&f, count|1<<31), isn, count, o)
}

// Check6 is Check for an IPv6 flow.
func (c *Cookies) Check6(f Flow6, cookie, isn, count uint32) (Options, bool) {
	v, made, ok := cookieAge(c.hash6(&f, 0), cookie, isn, count)
	if !ok {
		return Options{}, false
	}
	return cookieData(&mssTable6, v-c.hash6(&f, made|1<<31))
}

// Build6 writes into b an IPv6 packet (hop limit 64, no extension
// headers) carrying a TCP segment from src:sport to dst:dport with the
// given numbers, flags, window and options (a multiple of 4 bytes), its
// checksum complete, and returns its length. b must hold 60 bytes plus
// the options.
func Build6(b []byte, src, dst [16]byte, sport, dport uint16, seq, ack uint32, flags uint8, win uint16, opts []byte) int {
	tcpLen := pkt.TCPMinHeaderLen + len(opts)
	total := pkt.IPv6HeaderLen + tcpLen
	clear(b[:total])
	binary.BigEndian.PutUint32(b, 6<<28)
	ip := pkt.IPv6(b[:pkt.IPv6HeaderLen])
	ip.SetPayloadLen(uint16(tcpLen))
	b[6] = pkt.ProtoTCP
	ip.SetHopLimit(64)
	ip.SetSrc(src)
	ip.SetDst(dst)
	t := pkt.TCP(b[pkt.IPv6HeaderLen:total])
	putTCP(t, sport, dport, seq, ack, flags, win, opts)
	t.SetChecksum(pkt.Checksum(t, pkt.PseudoHeaderSum6(src, dst, pkt.ProtoTCP, uint32(tcpLen))))
	return total
}
