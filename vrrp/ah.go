package vrrp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ulvs/ulvs/pkt"
)

// VRRPv2 auth_type AH, as keepalived (built with VRRP_AUTH) speaks it
// (vrrp.c vrrp_build_ipsecah, vrrp_update_pkt, vrrp_in_chk_ipsecah; the
// scheme of draft-ietf-vrrp-ipsecah-spec-00 over RFC 2402): the IPv4
// packet has protocol 51 and an IPsec authentication header between the
// IPv4 header and the VRRP message (whose auth type field says 2 and whose
// authentication data is zero):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Header=112 | Payload Len=4 |          Reserved           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        SPI = the sender's IPv4 source address                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Sequence Number (one per advert, starting at 1)        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        ICV: HMAC-MD5-96 (12 bytes)                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The ICV is HMAC-MD5 (RFC 2104) keyed with the 8 bytes of auth_pass (zero
// padded), truncated to 96 bits, over the IPv4 header with its mutable
// fields zeroed (TOS, flags and fragment offset, header checksum, and the
// TTL for unicast adverts only), the AH with the ICV zeroed, and the VRRP
// message. The IP identification is covered, so the sender sets it (never
// 0, which the kernel would fill in).
//
// The sequence number is one counter per instance, shared by sending and
// receiving: a sender increments it before each advert; a receiver accepts
// an advert only if its number is above the counter and then sets the
// counter to it (a replay, or a restarted sender counting from 1 again, is
// dropped as "already processed" until it counts past). A master that
// receives a lower-priority advert sets its counter one past that
// advert's, so a restarted peer's numbers catch up.
const (
	// ProtocolAH is the IP protocol number of the authentication header.
	ProtocolAH = 51
	// AHLen is the length of keepalived's AH (with a 96-bit ICV).
	AHLen = 24
	// AHICVLen is the length of the truncated HMAC-MD5 ICV.
	AHICVLen = 12
	// ahPayloadLen is the AH payload length field: the AH's length in
	// 32-bit words minus 2 (RFC 2402 section 2.2).
	ahPayloadLen = AHLen/4 - 2
	// ahMaxSeq is the highest sequence number keepalived sends.
	ahMaxSeq = 0xfffffffd
)

// AH is a decoded authentication header.
type AH struct {
	NextHeader uint8
	PayloadLen uint8
	SPI        uint32
	Seq        uint32
	ICV        [AHICVLen]byte
}

// ParseAH decodes the authentication header at the start of b.
func ParseAH(b []byte) (AH, error) {
	var h AH
	if len(b) < AHLen {
		return h, perr(ReasonTooShort, "%d bytes, the authentication header needs %d", len(b), AHLen)
	}
	h.NextHeader = b[0]
	h.PayloadLen = b[1]
	h.SPI = binary.BigEndian.Uint32(b[4:])
	h.Seq = binary.BigEndian.Uint32(b[8:])
	copy(h.ICV[:], b[12:AHLen])
	if h.PayloadLen != ahPayloadLen {
		return h, perr(ReasonIPHeader, "authentication header payload length %d, expect %d (HMAC-MD5-96)", h.PayloadLen, ahPayloadLen)
	}
	return h, nil
}

// ahICV returns the ICV of packet p (an IPv4 header of hl bytes, the AH,
// the VRRP message, nothing after) keyed with key. unicast zeroes the TTL
// too, as keepalived does for unicast adverts.
func ahICV(p []byte, hl int, key [AuthDataLen]byte, unicast bool) [AHICVLen]byte {
	var hdr [60 + AHLen]byte
	n := copy(hdr[:hl+AHLen], p)
	h := pkt.IPv4(hdr[:n])
	h.SetTOS(0)
	h.SetFlagsFragOff(0, 0)
	h.SetChecksum(0)
	if unicast {
		h.SetTTL(0)
	}
	clear(hdr[hl+12 : hl+AHLen])
	m := hmac.New(md5.New, key[:])
	m.Write(hdr[:n])
	m.Write(p[hl+AHLen:])
	var icv [AHICVLen]byte
	copy(icv[:], m.Sum(nil))
	return icv
}

// AppendAHPacket appends to b a whole IPv4 packet carrying the VRRP
// message msg under an authentication header, as keepalived sends it:
// TOS 0xc0, the given identification (0 is sent as 1) and TTL, protocol
// 51, SPI = src, sequence number seq, the ICV keyed with key (unicast =
// the TTL is not covered), and the header checksum.
func AppendAHPacket(b []byte, src, dst netip.Addr, ttl uint8, id uint16, seq uint32, key [AuthDataLen]byte, unicast bool, msg []byte) ([]byte, error) {
	if !src.Is4() || !dst.Is4() {
		return b, fmt.Errorf("%w: AH needs IPv4 source and destination, have %v and %v", ErrEncode, src, dst)
	}
	if id == 0 {
		id = 1
	}
	start := len(b)
	b = append(b, make([]byte, 20+AHLen)...)
	h := pkt.IPv4(b[start:])
	h.SetHeaderLen(20)
	h.SetTOS(0xc0)
	h.SetTotalLen(uint16(20 + AHLen + len(msg)))
	h.SetID(id)
	h.SetTTL(ttl)
	h.SetProtocol(ProtocolAH)
	h.SetSrc(src.As4())
	h.SetDst(dst.As4())
	ah := b[start+20:]
	ah[0], ah[1] = Protocol, ahPayloadLen
	s := src.As4()
	copy(ah[4:8], s[:])
	binary.BigEndian.PutUint32(ah[8:], seq)
	b = append(b, msg...)
	icv := ahICV(b[start:], 20, key, unicast)
	copy(b[start+20+12:], icv[:])
	h = pkt.IPv4(b[start:])
	h.ComputeChecksum()
	return b, nil
}

// verifyAH checks the AH of packet p (header length hl, total length cut
// to the IPv4 total length) the way keepalived's vrrp_in_chk_ipsecah
// does, but leaves the sequence number to the caller: the ICV, then the
// SPI against the source address.
func verifyAH(p []byte, hl int, h AH, src netip.Addr, key [AuthDataLen]byte, unicast bool) error {
	icv := ahICV(p, hl, key, unicast)
	if subtle.ConstantTimeCompare(icv[:], h.ICV[:]) != 1 {
		return perr(ReasonAuthFailure, "IPSEC-AH : invalid IPSEC HMAC-MD5 value from %v. Due to fields mutation or bad password !", src)
	}
	if s := src.As4(); h.SPI != binary.BigEndian.Uint32(s[:]) {
		return perr(ReasonAuthFailure, "IPSEC AH : invalid IPSEC SPI value from %v: %#08x", src, h.SPI)
	}
	return nil
}
