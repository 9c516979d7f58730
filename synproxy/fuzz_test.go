package synproxy

import (
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

// FuzzOptions feeds arbitrary option bytes to the parser and to both
// translations: no panic, the checksum stays right, and translating to the
// server and back (with the inverse delta) restores every byte.
func FuzzOptions(f *testing.F) {
	f.Add([]byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}, uint32(0x12345678), uint32(99), []byte("GET /"))
	f.Add([]byte{1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, uint32(0x12345678), uint32(99), []byte("GET /"))
	f.Add([]byte{1, 5, 18, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0}, uint32(0x12345678), uint32(99), []byte("GET /"))
	f.Add([]byte{8, 10, 1, 2, 3}, uint32(0x12345678), uint32(99), []byte("GET /"))
	f.Add([]byte{3, 0}, uint32(0x12345678), uint32(99), []byte("GET /"))
	f.Fuzz(func(t *testing.T, opts []byte, delta, tsoff uint32, data []byte) {
		ParseOptions(opts)
		if len(opts) > 40 {
			opts = opts[:40]
		}
		padded := make([]byte, (len(opts)+3)&^3)
		copy(padded, opts)
		b := make([]byte, 40+len(padded)+len(data))
		n := Build(b, flow.Src, flow.Dst, 1, 2, 3, 4, pkt.TCPAck, 5, padded, 6)
		n += copy(b[n:], data)
		ip := pkt.IPv4(b[:n])
		ip.SetTotalLen(uint16(n))
		ip.ComputeChecksum()
		tcp := pkt.TCP(b[20:n])
		tcp.SetChecksum(0)
		tcp.SetChecksum(pkt.Checksum(tcp, pkt.PseudoHeaderSum(flow.Src, flow.Dst, pkt.ProtoTCP, uint16(len(tcp)))))
		orig := append([]byte(nil), b[:n]...)
		c := Conn{Delta: delta, TSOff: tsoff, Phase: PhaseOpen, Opts: OptSACK | OptTS | OptServerTS}
		c.ToServer(tcp, false)
		if !pkt.L4ChecksumValid(ip) {
			t.Fatalf("ToServer broke the checksum of % x", orig)
		}
		inv := Conn{Delta: -delta, TSOff: -tsoff, Phase: PhaseOpen, Opts: c.Opts}
		inv.ToServer(tcp, false)
		if string(b[:n]) != string(orig) {
			t.Fatalf("ToServer and back:\n got % x\nwant % x", b[:n], orig)
		}
		c.ToClient(tcp, false)
		if !pkt.L4ChecksumValid(ip) {
			t.Fatalf("ToClient broke the checksum of % x", orig)
		}
	})
}
