package forward

import "github.com/ulvs/ulvs/pkt"

// FragmentIPv4 splits the IPv4 packet in frame (decoded into p) into
// fragments that fit a path of MTU mtu (RFC 791 section 3.2,
// "Fragmentation"; the kernel's ip_do_fragment), written as frames to
// dst[i][offset:offset+sizes[i]] (see "Buffers" in gso.go). Every
// fragment carries the input's link-layer header and an IPv4 header with
// the same identification, its fragment offset (plus the input's own
// offset, when the input is itself a fragment), MF on all but the last
// (the last keeps the input's MF), and a full header checksum. The data
// of every fragment but the last is a multiple of 8 bytes. The first
// fragment carries all IPv4 options; later ones only those whose copied
// flag is set, the others overwritten with no-operation options so the
// header keeps its length (ip_options_fragment).
//
// A packet that fits is copied whole into dst[0]. A pending checksum
// (o.NeedsCsum; o may be nil) is completed in frame first, since no
// fragment can carry it; a GSO frame is refused with ErrGSO (Segment
// it). A packet that does not fit with DF set gets ErrDF: answer it with
// FragNeeded. Other errors: ErrMTU (mtu < 68), ErrMalformed, ErrTooMany,
// ErrNoRoom. For TUN, encapsulate first and fragment the outer packet, as
// the kernel does (its outer header copies DF, so a DF packet never gets
// here). It does not allocate.
func FragmentIPv4(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed, o *Offload, mtu int) (int, error) {
	if p.EtherType != pkt.EtherTypeIPv4 || p.L3Off+p.IPLen > len(frame) || p.IPLen < pkt.IPv4MinHeaderLen || offset < 0 {
		return 0, ErrMalformed
	}
	if o != nil {
		if o.IsGSO() {
			return 0, ErrGSO
		}
		if !CompleteChecksum(frame, p, o) {
			return 0, ErrMalformed
		}
	}
	if mtu < minTunnelMTU {
		return 0, ErrMTU
	}
	if p.IPLen <= mtu {
		return copyWhole(dst, sizes, offset, frame[:p.L3Off+p.IPLen])
	}
	ip := pkt.IPv4(frame[p.L3Off:])
	if ip.DF() {
		return 0, ErrDF
	}
	hl := ip.HeaderLen()
	return fragment(dst, sizes, offset, frame, p, (mtu-hl)&^7)
}

// copyWhole copies frame, a packet that fits, to dst[0] at offset.
func copyWhole(dst [][]byte, sizes []int, offset int, frame []byte) (int, error) {
	if len(dst) < 1 || len(sizes) < 1 {
		return 0, ErrTooMany
	}
	if offset > len(dst[0]) || len(frame) > len(dst[0])-offset {
		return 0, ErrNoRoom
	}
	sizes[0] = copy(dst[0][offset:], frame)
	return 1, nil
}

// fragment splits the IP payload of frame into fragments of per bytes of
// data (a multiple of 8, the last shorter), clearing DF.
func fragment(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed, per int) (int, error) {
	ip := pkt.IPv4(frame[p.L3Off:])
	hl := ip.HeaderLen()
	end := p.L3Off + p.IPLen
	if per < 8 || hl > p.IPLen {
		return 0, ErrMalformed
	}
	data := frame[p.L3Off+hl : end]
	n := (len(data) + per - 1) / per
	if n == 0 {
		n = 1
	}
	if n > len(dst) || n > len(sizes) {
		return 0, ErrTooMany
	}
	base := ip.FragOffset()
	if base+len(data) > 0xffff {
		return 0, ErrMalformed
	}
	lastMF := ip.MF()
	hdrEnd := p.L3Off + hl
	for i := 0; i < n; i++ {
		chunk := data
		if len(chunk) > per {
			chunk = chunk[:per]
		}
		data = data[len(chunk):]
		size := hdrEnd + len(chunk)
		if offset > len(dst[i]) || size > len(dst[i])-offset {
			return i, ErrNoRoom
		}
		out := dst[i][offset : offset+size]
		copy(out, frame[:hdrEnd])
		copy(out[hdrEnd:], chunk)
		fh := pkt.IPv4(out[p.L3Off:])
		if i > 0 {
			dropUncopiedOptions(fh[pkt.IPv4MinHeaderLen:hl])
		}
		var flags uint8
		if i < n-1 || lastMF {
			flags = pkt.IPv4FlagMF
		}
		fh.SetFlagsFragOff(flags, base+i*per)
		fh.SetTotalLen(uint16(hl + len(chunk)))
		fh.ComputeChecksum()
		sizes[i] = size
	}
	return n, nil
}

// IPv4 option types with a meaning here (RFC 791 section 3.1): the high
// bit of an option type is its "copied" flag.
const (
	ipoptEnd    = 0
	ipoptNop    = 1
	ipoptCopied = 0x80
)

// dropUncopiedOptions overwrites the options without the copied flag with
// no-operation options, as ip_options_fragment does for fragments after
// the first. A malformed option list is left as it is from there on.
func dropUncopiedOptions(opts []byte) {
	for len(opts) > 0 {
		switch opts[0] {
		case ipoptEnd:
			return
		case ipoptNop:
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 {
			return
		}
		l := int(opts[1])
		if l < 2 || l > len(opts) {
			return
		}
		if opts[0]&ipoptCopied == 0 {
			for i := range opts[:l] {
				opts[i] = ipoptNop
			}
		}
		opts = opts[l:]
	}
}
