package forward

import "github.com/ulvs/ulvs/pkt"

// Software segmentation of GSO super-frames, for the paths that cannot
// hand a super-frame to the kernel with its virtio_net_hdr: TUN (IPIP
// cannot be described in a virtio_net_hdr) and anything that must be
// fragmented. It does what the kernel's skb_gso_segment does on
// transmit: inet_gso_segment (net/ipv4/af_inet.c) for the IPv4 header,
// tcp_gso_segment (net/ipv4/tcp_offload.c), __udp_gso_segment and
// udp4_ufo_fragment (net/ipv4/udp_offload.c) for the L4 part.
//
// # Buffers
//
// Output goes to caller-owned buffers, in the batch shape of
// wireguard-go's tun.Device: piece i is written to dst[i][offset:] and its
// length stored in sizes[i]; offset leaves headroom in each buffer (for
// EncapIPIP's outer header). Each piece is a complete Ethernet frame with
// the input's link-layer header and complete checksums: send it with a
// zero Offload. The input frame is only read (except that a pending
// checksum is completed in place before fragmenting). Nothing allocates.

// Segment splits the GSO super-frame in frame (decoded with
// Parsed.DecodeGSO into p, described by o) into dst, choosing by
// o.GSOType: SegmentTCP4 for GSOTCPv4, SegmentUDP4 for GSOUDPL4, and IP
// fragmentation for GSOUDP (UFO). It returns the number of frames written,
// or ErrNotGSO for a frame that is not GSO or of another type (an IPv6
// frame: Segment6).
func Segment(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed, o *Offload) (int, error) {
	switch o.GSOType &^ GSOECN {
	case GSOTCPv4:
		return SegmentTCP4(dst, sizes, offset, frame, p, o)
	case GSOUDPL4:
		return SegmentUDP4(dst, sizes, offset, frame, p, o)
	case GSOUDP:
		return segmentUFO(dst, sizes, offset, frame, p, o)
	}
	return 0, ErrNotGSO
}

// SegmentTCP4 splits a TCPv4 GSO super-frame into frames carrying at most
// o.GSOSize payload bytes each, as tcp_gso_segment and inet_gso_segment
// do: every frame gets a copy of the link-layer, IPv4 (options included)
// and TCP (options included) headers; the IPv4 total length is the
// segment's, the identification increments by one per segment from the
// super-frame's, the sequence number advances by the payload before it,
// FIN and PSH stay only on the last segment and CWR only on the first;
// the IPv4 and TCP checksums are computed in full (whatever the
// super-frame's checksum field held). A super-frame without payload
// becomes one frame. Errors: ErrNotGSO (not a TCPv4 GSO frame),
// ErrMalformed (headers do not fit, GSOSize 0, a fragment), ErrTooMany
// (fewer buffers than segments: nothing useful was written), ErrNoRoom (a
// buffer too small).
func SegmentTCP4(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed, o *Offload) (int, error) {
	if o.GSOType&^GSOECN != GSOTCPv4 || p.Proto != pkt.ProtoTCP {
		return 0, ErrNotGSO
	}
	return segmentL4(dst, sizes, offset, frame, p, o)
}

// SegmentUDP4 splits a UDP_L4 (USO) super-frame into independent UDP
// datagrams of at most o.GSOSize payload bytes each, as __udp_gso_segment
// does: each gets the headers, its own UDP length and a full UDP checksum
// (0 sent as 0xffff), and the IPv4 identification increments per
// datagram. Errors are SegmentTCP4's.
func SegmentUDP4(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed, o *Offload) (int, error) {
	if o.GSOType&^GSOECN != GSOUDPL4 || p.Proto != pkt.ProtoUDP {
		return 0, ErrNotGSO
	}
	return segmentL4(dst, sizes, offset, frame, p, o)
}

// segmentL4 does SegmentTCP4 and SegmentUDP4.
func segmentL4(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed, o *Offload) (int, error) {
	if p.Frag != 0 {
		return 0, ErrMalformed
	}
	return splitL4(dst, sizes, offset, frame, l4Packet{l3: p.L3Off, l4: p.L4Off, end: p.L3Off + p.IPLen, proto: p.Proto}, int(o.GSOSize))
}

// l4Packet is the TCP or UDP packet splitL4 splits, IPv4 or IPv6: the
// frame offsets of its IP header, its TCP or UDP header and its end.
type l4Packet struct {
	l3, l4, end int
	proto       uint8
	v6          bool
}

// splitL4 splits the payload of the TCP or UDP packet q into segments of
// at most mss bytes, each with a copy of every header before it (link
// layer, IP with its options or extension headers, TCP or UDP), for
// SegmentTCP4, SegmentUDP4 and Segment6: the IPv4 total length,
// identification (one more per segment) and header checksum, or the IPv6
// payload length; TCP sequence numbers, FIN and PSH on the last segment
// only, CWR on the first only; the UDP length; full TCP and UDP checksums
// (a UDP checksum of 0 sent as 0xffff).
func splitL4(dst [][]byte, sizes []int, offset int, frame []byte, q l4Packet, mss int) (int, error) {
	end := q.end
	if q.l4 == 0 || mss == 0 || end > len(frame) || offset < 0 {
		return 0, ErrMalformed
	}
	hdrEnd := l4HeaderEnd(frame, q.l4, q.proto)
	if hdrEnd == 0 || hdrEnd > end || hdrEnd-q.l3+mss > 0xffff {
		return 0, ErrMalformed
	}
	payload := frame[hdrEnd:end]
	nseg := (len(payload) + mss - 1) / mss
	if nseg == 0 {
		nseg = 1
	}
	if nseg > len(dst) || nseg > len(sizes) {
		return 0, ErrTooMany
	}
	var id uint16
	if !q.v6 {
		id = pkt.IPv4(frame[q.l3:]).ID()
	}
	var seq uint32
	var flags uint8
	if q.proto == pkt.ProtoTCP {
		t := pkt.TCP(frame[q.l4:])
		seq, flags = t.Seq(), t.Flags()
	}
	for i := 0; i < nseg; i++ {
		seg := payload
		if len(seg) > mss {
			seg = seg[:mss]
		}
		payload = payload[len(seg):]
		n := hdrEnd + len(seg)
		if offset > len(dst[i]) || n > len(dst[i])-offset {
			return i, ErrNoRoom
		}
		out := dst[i][offset : offset+n]
		copy(out, frame[:hdrEnd])
		copy(out[hdrEnd:], seg)
		l4 := out[q.l4:]
		var sum uint32
		if q.v6 {
			ip := pkt.IPv6(out[q.l3:])
			ip.SetPayloadLen(uint16(n - q.l3 - pkt.IPv6HeaderLen))
			sum = pkt.PseudoHeaderSum6(ip.Src(), ip.Dst(), q.proto, uint32(len(l4)))
		} else {
			ip := pkt.IPv4(out[q.l3:])
			ip.SetTotalLen(uint16(n - q.l3))
			ip.SetID(id + uint16(i))
			ip.ComputeChecksum()
			sum = pkt.PseudoHeaderSum(ip.Src(), ip.Dst(), q.proto, uint16(len(l4)))
		}
		if q.proto == pkt.ProtoTCP {
			t := pkt.TCP(l4)
			f := flags
			if i != nseg-1 {
				f &^= pkt.TCPFin | pkt.TCPPsh
			}
			if i != 0 {
				f &^= pkt.TCPCwr
			}
			t.SetFlags(f)
			t.SetSeq(seq + uint32(i*mss))
			t.SetChecksum(0)
			t.SetChecksum(pkt.Checksum(l4, sum))
		} else {
			u := pkt.UDP(l4)
			u.SetLength(uint16(len(l4)))
			u.SetChecksum(0)
			c := pkt.Checksum(l4, sum)
			if c == 0 {
				c = 0xffff
			}
			u.SetChecksum(c)
		}
		sizes[i] = n
	}
	return nseg, nil
}

// Segment6 splits an IPv6 GSO super-frame (decoded with Decode6, gso set,
// into p; described by o) into dst as the kernel's ipv6_gso_segment with
// tcp6_gso_segment (GSOTCPv6) or __udp_gso_segment (GSOUDPL4) does: every
// segment carries the link-layer header, the IPv6 header with the
// extension headers before the TCP or UDP header, and that header; its
// payload length is its own; TCP sequence numbers and flags and the UDP
// length are SegmentTCP4's and SegmentUDP4's, with full checksums over
// the IPv6 pseudo-header. Errors: ErrNotGSO (another GSO type, or not TCP
// or UDP as it names), ErrMalformed (a fragment, headers that do not fit,
// GSOSize 0), ErrTooMany, ErrNoRoom. It does not allocate.
func Segment6(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed6, o *Offload) (int, error) {
	switch o.GSOType &^ GSOECN {
	case GSOTCPv6:
		if p.Proto != pkt.ProtoTCP {
			return 0, ErrNotGSO
		}
	case GSOUDPL4:
		if p.Proto != pkt.ProtoUDP {
			return 0, ErrNotGSO
		}
	default:
		return 0, ErrNotGSO
	}
	if p.Frag {
		return 0, ErrMalformed
	}
	return splitL4(dst, sizes, offset, frame, l4Packet{l3: p.L3Off, l4: p.L4Off, end: p.L3Off + p.IPLen, proto: p.Proto, v6: true}, int(o.GSOSize))
}

// segmentUFO turns a UFO super-frame (one UDP datagram larger than the
// MTU) into IPv4 fragments of at most o.GSOSize payload bytes (rounded
// down to a multiple of 8), as udp4_ufo_fragment and inet_gso_segment do:
// the UDP checksum is completed over the whole datagram first, then the
// datagram is fragmented with one identification, whatever DF says.
func segmentUFO(dst [][]byte, sizes []int, offset int, frame []byte, p *pkt.Parsed, o *Offload) (int, error) {
	if p.Proto != pkt.ProtoUDP || p.L4Off == 0 || p.Frag != 0 || p.L3Off+p.IPLen > len(frame) {
		return 0, ErrMalformed
	}
	per := int(o.GSOSize) &^ 7
	if per == 0 {
		return 0, ErrMalformed
	}
	l4 := frame[p.L4Off : p.L3Off+p.IPLen]
	u := pkt.UDP(l4)
	if int(u.Length()) != len(l4) {
		return 0, ErrMalformed
	}
	u.SetChecksum(0)
	c := pkt.Checksum(l4, pkt.PseudoHeaderSum(p.Src, p.Dst, pkt.ProtoUDP, uint16(len(l4))))
	if c == 0 {
		c = 0xffff
	}
	u.SetChecksum(c)
	o.NeedsCsum = false
	return fragment(dst, sizes, offset, frame, p, per)
}
