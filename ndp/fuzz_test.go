package ndp

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

// FuzzND feeds arbitrary frames to the solicitation check and the
// in-place advertisement, and arbitrary messages to ParseAdvert: no
// panic, and an advertisement made from a solicitation decodes, with a
// right checksum.
func FuzzND(f *testing.F) {
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	f.Add(pkttest.Solicit6(mac, netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::100")))
	f.Add(pkttest.Solicit6(mac, netip.IPv6Unspecified(), netip.MustParseAddr("2001:db8::100")))
	var b [FrameLen]byte
	Unsolicited(b[:], mac, netip.MustParseAddr("2001:db8::100").As16())
	f.Add(b[:])
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > pkt.EtherHeaderLen {
			ParseAdvert(frame[pkt.EtherHeaderLen:])
		}
		var p pkt.Parsed6
		if p.Decode6(frame, pkt.EtherHeaderLen, false) != pkt.DecodeOK {
			return
		}
		if _, ok := IsSolicit(frame, &p); !ok {
			return
		}
		buf := make([]byte, len(frame), len(frame)+64)
		copy(buf, frame)
		n := MakeAdvert(buf, &p, mac)
		if n == 0 {
			t.Fatal("no advertisement room with 64 bytes spare")
		}
		var q pkt.Parsed6
		if r := q.Decode6(buf[:n], pkt.EtherHeaderLen, false); r != pkt.DecodeOK {
			t.Fatalf("advertisement does not decode: %v", r)
		}
		msg := buf[q.L4Off : q.L4Off+q.L4Len]
		if pkt.Fold(pkt.Sum(msg, pkt.PseudoHeaderSum6(q.Src, q.Dst, pkt.ProtoICMPv6, uint32(len(msg))))) != 0xffff {
			t.Fatal("advertisement checksum wrong")
		}
		if _, m, ok := ParseAdvert(msg); !ok || m != mac {
			t.Fatal("advertisement does not parse back")
		}
	})
}
