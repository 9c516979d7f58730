package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ulvs/ulvs/pkt"
)

// The VRRP advertisement, RFC 3768 section 5.1 (version 2) and RFC 5798
// section 5.1 (version 3, IPv4):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	v2: |   Auth Type   |   Adver Int   |          Checksum         |
//	v3: |(rsvd) |     Max Adver Int     |          Checksum         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         IP Address (1)                        |
//	|                            ...                                |
//	|                         IP Address (n)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	v2 only: |                 Authentication Data (1)              |
//	         |                 Authentication Data (2)              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The v2 checksum covers the VRRP message (authentication data included);
// the v3 checksum adds the IPv4 pseudo-header (source, destination, zero,
// protocol 112, VRRP length), as keepalived computes it.
//
// VRRPv3 over IPv6 (RFC 5798 section 5.1.2, keepalived's native_ipv6 or
// IPv6 virtual_ipaddress) has the same 8-byte header followed by 16-byte
// IPv6 addresses, and its checksum adds the IPv6 pseudo-header (RFC 8200
// section 8.1: source, destination, 32-bit length, next header 112). It
// goes to ff02::12 from the interface's link-local address with hop limit
// 255. There is no VRRPv2 over IPv6.
const (
	// Protocol is VRRP's IP protocol number.
	Protocol = 112
	// TTL is the IPv4 TTL every advertisement carries and every multicast
	// advertisement must arrive with (RFC 3768 section 7.1, RFC 5798 7.1).
	TTL = 255
	// HeaderLen is the fixed part of the message.
	HeaderLen = 8
	// AuthDataLen is the v2 authentication data after the addresses.
	AuthDataLen = 8
	// TypeAdvertisement is the only VRRP packet type.
	TypeAdvertisement = 1
	// PriorityOwner is the priority of the router that owns the addresses.
	PriorityOwner = 255
	// PriorityStop is the priority of the advertisement a master sends
	// when it stops being master.
	PriorityStop = 0
	// MaxAddrs is the most addresses the 8-bit count field can announce.
	MaxAddrs = 255
	// v3MaxAdverInt is the largest v3 interval (12 bits, centiseconds).
	v3MaxAdverInt = 0x0fff

	offVersType = 0
	offVRID     = 1
	offPriority = 2
	offCount    = 3
	offAuthType = 4 // v2
	offAdverInt = 4 // v2: byte 5; v3: 12 bits of bytes 4-5
	offChecksum = 6
)

// MulticastGroup returns the IPv4 group advertisements are sent to,
// 224.0.0.18.
func MulticastGroup() netip.Addr { return netip.AddrFrom4([4]byte{224, 0, 0, 18}) }

// MulticastGroup6 returns the IPv6 group advertisements are sent to,
// ff02::12 (RFC 5798 section 5.1.2.2).
func MulticastGroup6() netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x12})
}

// Version is the VRRP protocol version. The zero value is invalid.
type Version uint8

// The versions ulvs speaks.
const (
	V2 Version = 2 // RFC 3768
	V3 Version = 3 // RFC 5798
)

func (v Version) valid() bool { return v == V2 || v == V3 }

// AuthType is a VRRPv2 authentication type (RFC 3768 section 5.3.6, and
// RFC 2338's type 1 simple password, which keepalived's auth_type PASS
// still sends).
type AuthType uint8

// The v2 authentication types.
const (
	AuthNone AuthType = 0
	AuthPass AuthType = 1
	AuthAH   AuthType = 2
)

func (a AuthType) String() string {
	switch a {
	case AuthNone:
		return "NONE"
	case AuthPass:
		return "PASS"
	case AuthAH:
		return "AH"
	}
	return fmt.Sprintf("auth type %d", uint8(a))
}

// Advert is a decoded VRRP advertisement. Addrs is a fresh slice owned by
// the Advert.
type Advert struct {
	Version  Version
	Type     uint8
	VRID     uint8
	Priority uint8
	// AuthType is the v2 authentication type (zero in v3).
	AuthType AuthType
	// Interval is the advertisement interval as the wire carries it: whole
	// seconds in v2, centiseconds (12 bits) in v3.
	Interval uint16
	// Checksum is the checksum field as received (Append computes it).
	Checksum uint16
	Addrs    []netip.Addr
	// AuthData is the v2 authentication data (the PASS password, zero
	// padded); zero in v3.
	AuthData [AuthDataLen]byte
}

// Len returns the length of the encoded message.
func (a *Advert) Len() int {
	n := HeaderLen
	for _, ip := range a.Addrs {
		n += len(ip.AsSlice())
	}
	if a.Version == V2 {
		n += AuthDataLen
	}
	return n
}

// ErrEncode is returned by Append for an advertisement that cannot be
// encoded (callers build them from validated configuration).
var ErrEncode = errors.New("vrrp: cannot encode advertisement")

// Append encodes a as a VRRP message after b and returns the extended
// slice. The checksum is computed: over the message in v2, with the IPv4
// pseudo-header of src and dst in v3, or the IPv6 one when src and dst
// are IPv6 (src and dst are unused in v2). An IPv6 advert is v3 and
// carries IPv6 addresses only. a.Checksum is ignored; a.Type is written
// as it is (TypeAdvertisement).
func (a *Advert) Append(b []byte, src, dst netip.Addr) ([]byte, error) {
	if !a.Version.valid() {
		return b, fmt.Errorf("%w: version %d", ErrEncode, a.Version)
	}
	if len(a.Addrs) > MaxAddrs {
		return b, fmt.Errorf("%w: %d addresses (at most %d)", ErrEncode, len(a.Addrs), MaxAddrs)
	}
	if a.Version == V2 && a.Interval > 0xff {
		return b, fmt.Errorf("%w: v2 interval %d s does not fit 8 bits", ErrEncode, a.Interval)
	}
	if a.Version == V3 && a.Interval > v3MaxAdverInt {
		return b, fmt.Errorf("%w: v3 interval %d cs does not fit 12 bits", ErrEncode, a.Interval)
	}
	v6 := src.Is6() && !src.Is4In6()
	if a.Version == V3 && !(src.Is4() && dst.Is4() || v6 && dst.Is6() && !dst.Is4In6()) {
		return b, fmt.Errorf("%w: v3 checksum needs source and destination of one family, have %v and %v", ErrEncode, src, dst)
	}
	if a.Version == V2 && v6 {
		return b, fmt.Errorf("%w: VRRPv2 has no IPv6 (source %v)", ErrEncode, src)
	}
	if a.Type > 0x0f {
		return b, fmt.Errorf("%w: type %d does not fit 4 bits", ErrEncode, a.Type)
	}
	start := len(b)
	b = append(b, uint8(a.Version)<<4|a.Type, a.VRID, a.Priority, uint8(len(a.Addrs)))
	if a.Version == V2 {
		b = append(b, uint8(a.AuthType), uint8(a.Interval))
	} else {
		b = binary.BigEndian.AppendUint16(b, a.Interval&v3MaxAdverInt)
	}
	b = append(b, 0, 0)
	for _, ip := range a.Addrs {
		switch {
		case v6 && ip.Is6() && !ip.Is4In6():
			v := ip.As16()
			b = append(b, v[:]...)
		case !v6 && ip.Is4():
			v := ip.As4()
			b = append(b, v[:]...)
		default:
			return b[:start], fmt.Errorf("%w: %v is not an address of the advert's family (source %v)", ErrEncode, ip, src)
		}
	}
	if a.Version == V2 {
		b = append(b, a.AuthData[:]...)
	}
	msg := b[start:]
	binary.BigEndian.PutUint16(msg[offChecksum:], checksum(msg, a.Version, src, dst))
	return b, nil
}

// checksum returns the checksum of msg (whose checksum field must be zero
// or, when verifying, the received value: then the result is 0 for a valid
// message).
func checksum(msg []byte, v Version, src, dst netip.Addr) uint16 {
	var initial uint32
	switch {
	case v == V3 && src.Is4():
		initial = pkt.PseudoHeaderSum(src.As4(), dst.As4(), Protocol, uint16(len(msg)))
	case v == V3:
		initial = pkt.PseudoHeaderSum6(src.As16(), dst.As16(), Protocol, uint32(len(msg)))
	}
	return pkt.Checksum(msg, initial)
}

// Reason says why a received packet was not accepted, or what was odd
// about an accepted one. Each has a counter (Counters) and a log line.
// The zero value is "no problem".
type Reason uint8

// The reasons, in the order the receive rules check them (RFC 3768
// section 7.1, RFC 5798 section 7.1, keepalived's vrrp_check_packet).
const (
	ReasonNone             Reason = iota
	ReasonIPHeader                // not a well-formed IPv4 VRRP packet
	ReasonTooShort                // shorter than the fixed VRRP header
	ReasonUnknownVRID             // another virtual router (ignored)
	ReasonLength                  // length does not match the address count
	ReasonTTL                     // multicast advert with TTL != 255
	ReasonVersion                 // not our VRRP version
	ReasonInvalidAuthType         // v2 auth type not 0, 1 or 2
	ReasonAuthTypeMismatch        // v2 auth type not ours
	ReasonAuthFailure             // v2 password differs, or bad AH ICV or SPI
	ReasonAHReplay                // AH sequence number already processed
	ReasonIntervalMismatch        // v2 advert interval not ours (dropped)
	ReasonType                    // not an advertisement
	ReasonChecksum                // bad checksum
	ReasonCastMismatch            // multicast when unicast peers are set, or the reverse
	ReasonUnknownPeer             // unicast source not among unicast_peer
	ReasonAddrCount               // address count differs (logged, accepted)
	ReasonAddrList                // a configured VIP is missing (logged, accepted)
	ReasonOwnAddress              // equal-priority advert from our own address
	reasonCount
)

var reasonNames = [...]string{
	ReasonNone:             "ok",
	ReasonIPHeader:         "bad IPv4 header",
	ReasonTooShort:         "packet too short",
	ReasonUnknownVRID:      "unknown VRID",
	ReasonLength:           "length mismatch",
	ReasonTTL:              "invalid TTL",
	ReasonVersion:          "wrong version",
	ReasonInvalidAuthType:  "invalid auth type",
	ReasonAuthTypeMismatch: "auth type mismatch",
	ReasonAuthFailure:      "auth failure",
	ReasonAHReplay:         "AH sequence number replayed",
	ReasonIntervalMismatch: "advert interval mismatch",
	ReasonType:             "invalid packet type",
	ReasonChecksum:         "bad checksum",
	ReasonCastMismatch:     "unicast/multicast mismatch",
	ReasonUnknownPeer:      "unknown unicast peer",
	ReasonAddrCount:        "address count mismatch",
	ReasonAddrList:         "address list mismatch",
	ReasonOwnAddress:       "advert from our own address",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason %d", uint8(r))
}

// PacketError is a received packet that failed a receive rule.
type PacketError struct {
	Reason Reason
	Detail string
}

func (e *PacketError) Error() string {
	if e.Detail == "" {
		return "vrrp: " + e.Reason.String()
	}
	return "vrrp: " + e.Reason.String() + ": " + e.Detail
}

func perr(r Reason, format string, args ...any) error {
	return &PacketError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Reason of a *PacketError in err's chain, or
// ReasonNone.
func ReasonOf(err error) Reason {
	var pe *PacketError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return ReasonNone
}

// Parse decodes a VRRP message (the IPv4 payload). It checks only what
// decoding needs: the fixed header is present, the version is 2 or 3, and
// the length is exactly what the address count says (Ethernet padding
// excepted, as keepalived allows). It does not verify the checksum (see
// VerifyChecksum) nor any per-instance rule. The Advert owns its data.
func Parse(msg []byte) (Advert, error) { return parse(msg, false) }

// Parse6 is Parse for the payload of an IPv6 packet: a VRRPv3 message
// with 16-byte addresses (version 2 is refused: it has no IPv6). IPv6
// frames are at least as long as any VRRP header needs, so no Ethernet
// padding is allowed for.
func Parse6(msg []byte) (Advert, error) { return parse(msg, true) }

func parse(msg []byte, v6 bool) (Advert, error) {
	var a Advert
	if len(msg) < HeaderLen {
		return a, perr(ReasonTooShort, "%d bytes, the header needs %d", len(msg), HeaderLen)
	}
	a.Version = Version(msg[offVersType] >> 4)
	a.Type = msg[offVersType] & 0x0f
	a.VRID = msg[offVRID]
	a.Priority = msg[offPriority]
	count := int(msg[offCount])
	a.Checksum = binary.BigEndian.Uint16(msg[offChecksum:])
	switch a.Version {
	case V2:
		a.AuthType = AuthType(msg[offAuthType])
		a.Interval = uint16(msg[offAdverInt+1])
	case V3:
		a.Interval = binary.BigEndian.Uint16(msg[offAdverInt:]) & v3MaxAdverInt
	default:
		return a, perr(ReasonVersion, "version %d", a.Version)
	}
	if v6 && a.Version != V3 {
		return a, perr(ReasonVersion, "version %d over IPv6", a.Version)
	}
	a.Addrs = nil
	alen := 4
	if v6 {
		alen = 16
	}
	want := HeaderLen + alen*count
	if a.Version == V2 {
		want += AuthDataLen
	}
	if len(msg) != want && (v6 || !isPadding(len(msg), want)) {
		long := "short"
		if len(msg) > want {
			long = "long"
		}
		return a, perr(ReasonLength, "too %s, length %d and expect %d", long, len(msg), want)
	}
	if count > 0 {
		a.Addrs = make([]netip.Addr, count)
		for i := range a.Addrs {
			if v6 {
				a.Addrs[i] = netip.AddrFrom16([16]byte(msg[HeaderLen+16*i:]))
			} else {
				a.Addrs[i] = netip.AddrFrom4([4]byte(msg[HeaderLen+4*i:]))
			}
		}
	}
	if a.Version == V2 {
		copy(a.AuthData[:], msg[HeaderLen+4*count:])
	}
	return a, nil
}

// isPadding reports whether got bytes for a message of want bytes are
// Ethernet padding: a frame is at least 60 bytes, so a short IPv4 packet
// (20-byte header) arrives padded to 46 bytes, or less by 4-byte VLAN tags
// (keepalived's rule, vrrp.c).
func isPadding(got, want int) bool {
	const minPayload = 60 - 14 - 20 // ETH_ZLEN - ETH_HLEN - IPv4 header
	return want < minPayload && got > want && got <= minPayload && (minPayload-got)%4 == 0
}

// VerifyChecksum reports whether msg (a whole VRRP message, no padding)
// of version v carries a valid checksum; src and dst are the IPv4
// addresses of the packet (used by v3 only).
func VerifyChecksum(msg []byte, v Version, src, dst netip.Addr) bool {
	if v == V3 && !(src.Is4() && dst.Is4() || src.Is6() && dst.Is6()) {
		return false
	}
	return checksum(msg, v, src, dst) == 0
}

// IPv4Packet is what a received IPv4 packet says about a VRRP message.
type IPv4Packet struct {
	Src, Dst netip.Addr
	TTL      uint8
	Protocol uint8
	// HeaderLen is the IPv4 header's length.
	HeaderLen int
	// AH is the authentication header when Protocol is ProtocolAH.
	AH AH
	// Packet is the whole packet, cut to the IPv4 total length.
	Packet []byte
	// Payload is the VRRP message, a sub-slice of the packet (valid as
	// long as the packet's buffer).
	Payload []byte
}

// ParseIPv4 decodes the IPv4 header of a raw-socket packet and returns
// the VRRP payload. The total length must fit the received bytes (bytes
// past it are Ethernet padding and are cut off); fragments and protocols
// other than 112 and 51 are refused. Protocol 51 (auth_type AH) must carry
// an authentication header whose next header is 112 (its ICV is not
// checked here); Payload is then the VRRP message after it.
func ParseIPv4(b []byte) (IPv4Packet, error) {
	var p IPv4Packet
	if len(b) < 20 {
		return p, perr(ReasonIPHeader, "%d bytes, shorter than an IPv4 header", len(b))
	}
	h := pkt.IPv4(b)
	if h.Version() != 4 {
		return p, perr(ReasonIPHeader, "IP version %d", h.Version())
	}
	hl := h.HeaderLen()
	tot := int(h.TotalLen())
	if hl < 20 || hl > len(b) {
		return p, perr(ReasonIPHeader, "header length %d of %d bytes", hl, len(b))
	}
	if tot < hl || tot > len(b) {
		return p, perr(ReasonIPHeader, "total length %d, received %d", tot, len(b))
	}
	if h.IsFragment() {
		return p, perr(ReasonIPHeader, "fragment")
	}
	p.Src = netip.AddrFrom4(h.Src())
	p.Dst = netip.AddrFrom4(h.Dst())
	p.TTL = h.TTL()
	p.Protocol = h.Protocol()
	p.HeaderLen = hl
	p.Packet = b[:tot]
	p.Payload = b[hl:tot]
	switch p.Protocol {
	case Protocol:
	case ProtocolAH:
		ah, err := ParseAH(p.Payload)
		if err != nil {
			return p, err
		}
		if ah.NextHeader != Protocol {
			return p, perr(ReasonIPHeader, "authentication header for protocol %d", ah.NextHeader)
		}
		p.AH = ah
		p.Payload = p.Payload[AHLen:]
	default:
		return p, perr(ReasonIPHeader, "protocol %d", p.Protocol)
	}
	return p, nil
}

// AppendIPv4 appends an IPv4 packet (20-byte header: TOS 0xc0 as
// keepalived sends, the given TTL, protocol 112, header checksum) around
// payload to b. The in-memory transports of tests and ParseIPv4's fuzz
// target use it; the Linux transport lets the kernel build the header.
func AppendIPv4(b []byte, src, dst netip.Addr, ttl uint8, payload []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, 20)...)
	h := pkt.IPv4(b[start:])
	h.SetHeaderLen(20)
	h.SetTOS(0xc0)
	h.SetTotalLen(uint16(20 + len(payload)))
	h.SetTTL(ttl)
	h.SetProtocol(Protocol)
	h.SetSrc(src.As4())
	h.SetDst(dst.As4())
	h.ComputeChecksum()
	return append(b, payload...)
}

// IPv6 packets. A raw IPv6 socket hands over the payload only (the kernel
// strips the IPv6 header); the Linux transport rebuilds a fixed header
// from what the socket reports (source, destination, hop limit) so that
// the receive rules see one packet shape per family.

// IPv6HeaderLen is the fixed IPv6 header.
const IPv6HeaderLen = 40

// ParseIPv6 decodes a fixed IPv6 header (no extension headers: the
// transport's rebuilt one, or a test's) around a VRRP message. It returns
// the packet as an IPv4Packet whose addresses are IPv6 and whose TTL is
// the hop limit. The payload length must fit the bytes; the next header
// must be 112.
func ParseIPv6(b []byte) (IPv4Packet, error) {
	var p IPv4Packet
	if len(b) < IPv6HeaderLen {
		return p, perr(ReasonIPHeader, "%d bytes, shorter than an IPv6 header", len(b))
	}
	if b[0]>>4 != 6 {
		return p, perr(ReasonIPHeader, "IP version %d", b[0]>>4)
	}
	tot := IPv6HeaderLen + int(binary.BigEndian.Uint16(b[4:]))
	if tot > len(b) {
		return p, perr(ReasonIPHeader, "payload length %d, received %d", tot-IPv6HeaderLen, len(b)-IPv6HeaderLen)
	}
	p.Protocol = b[6]
	if p.Protocol != Protocol {
		return p, perr(ReasonIPHeader, "next header %d", p.Protocol)
	}
	p.TTL = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	p.HeaderLen = IPv6HeaderLen
	p.Packet = b[:tot]
	p.Payload = b[IPv6HeaderLen:tot]
	return p, nil
}

// AppendIPv6 appends an IPv6 packet (fixed header, traffic class 0xc0 as
// keepalived sets, next header 112, the given hop limit) around payload
// to b.
func AppendIPv6(b []byte, src, dst netip.Addr, hopLimit uint8, payload []byte) []byte {
	b = append(b, 0x6c, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	b = append(b, Protocol, hopLimit)
	s, d := src.As16(), dst.As16()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	return append(b, payload...)
}
