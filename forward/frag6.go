package forward

import (
	"errors"

	"github.com/ulvs/ulvs/pkt"
)

// ErrMTU6 is FragmentIPv6's answer to an MTU that leaves no room for 8
// bytes of data after the unfragmentable part and the fragment header.
var ErrMTU6 = errors.New("forward: MTU leaves no room for an IPv6 fragment's data")

// FragmentIPv6 splits the IPv6 packet in frame (decoded into p; it has no
// fragment header, being a reassembled datagram) into fragments of at
// most mtu bytes of IPv6 packet each (RFC 8200 section 4.5; the kernel's
// ip6_fragment), written as frames to dst[i][offset:offset+sizes[i]] (see
// "Buffers" in gso.go). unfrag is the length of the unfragmentable part:
// the IPv6 header and the extension headers that every fragment repeats
// (ending on a header boundary, within p.ExtLen). Each fragment carries
// the input's link-layer header, that part with a fragment header
// inserted after it (its next header the part's last next header, which
// becomes 44), identification id, its offset and M on all but the last;
// the data of every fragment but the last is a multiple of 8 bytes.
//
// A packet that fits is copied whole into dst[0], without a fragment
// header. Errors: ErrMTU6 (no 8 bytes of data fit), ErrMalformed,
// ErrTooMany, ErrNoRoom. Checksums need nothing: the upper-layer checksum
// covers the reassembled payload and IPv6 has no header checksum. It does
// not allocate.
func FragmentIPv6(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed6, unfrag int, id uint32, mtu int) (int, error) {
	l3 := p.L3Off
	if p.Frag || l3 < 0 || l3+p.IPLen > len(frame) || p.IPLen < pkt.IPv6HeaderLen || offset < 0 ||
		unfrag < pkt.IPv6HeaderLen || unfrag > pkt.IPv6HeaderLen+p.ExtLen || unfrag > p.IPLen {
		return 0, ErrMalformed
	}
	end := l3 + p.IPLen
	if p.IPLen <= mtu {
		return copyWhole(dst, sizes, offset, frame[:end])
	}
	// The next-header byte that will name the fragment header: the fixed
	// header's, or the last unfragmentable extension header's.
	ip := frame[l3:end]
	nh := 6
	for at := pkt.IPv6HeaderLen; at < unfrag; {
		nh = at
		at += (int(ip[at+1]) + 1) * 8
		if at > unfrag {
			return 0, ErrMalformed
		}
	}
	per := (mtu - unfrag - pkt.Frag6HeaderLen) &^ 7
	if per < 8 {
		return 0, ErrMTU6
	}
	data := ip[unfrag:]
	n := (len(data) + per - 1) / per
	if n > len(dst) || n > len(sizes) {
		return 0, ErrTooMany
	}
	next := ip[nh]
	hdrEnd := l3 + unfrag
	for i := 0; i < n; i++ {
		chunk := data[i*per : min((i+1)*per, len(data))]
		size := hdrEnd + pkt.Frag6HeaderLen + len(chunk)
		if offset > len(dst[i]) || size > len(dst[i])-offset {
			return i, ErrNoRoom
		}
		out := dst[i][offset : offset+size]
		copy(out, frame[:hdrEnd])
		out[l3+nh] = pkt.ProtoFragment
		pkt.PutFrag6(out[hdrEnd:], next, i*per, i < n-1, id)
		copy(out[hdrEnd+pkt.Frag6HeaderLen:], chunk)
		pkt.IPv6(out[l3:]).SetPayloadLen(uint16(unfrag - pkt.IPv6HeaderLen + pkt.Frag6HeaderLen + len(chunk)))
		sizes[i] = size
	}
	return n, nil
}

// SegmentSize6 returns the IPv6 length of the segments of a GSO
// super-frame p (decoded from frame) with segment payload gsoSize: its
// headers and gsoSize bytes, at most the frame's own length. The kernel's
// ip6_forward judges a GSO packet by them (skb_gso_validate_network_len).
func SegmentSize6(frame []byte, p *pkt.Parsed6, gsoSize int) int {
	end := l4HeaderEnd(frame, p.L4Off, p.Proto)
	if end == 0 || gsoSize <= 0 {
		return p.IPLen
	}
	return min(end-p.L3Off+gsoSize, p.IPLen)
}
