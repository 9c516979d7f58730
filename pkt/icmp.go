package pkt

// ICMPv4 message (RFC 792). Every message starts with Type, Code and
// Checksum; the next 32 bits depend on the type. Echo and echo reply:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Identifier          |        Sequence Number        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Data ...
//	+-+-+-+-+-
//
// Destination unreachable and time exceeded quote the offending packet;
// for "fragmentation needed" (type 3, code 4) RFC 1191 puts the next-hop
// MTU in the low 16 bits of the second word:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           unused = 0          |         Next-Hop MTU          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Internet Header + 64 bits of Original Data Datagram      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The checksum covers the whole ICMP message, with no pseudo-header.

// ICMPv4HeaderLen is the size of the ICMP header including the
// type-specific second word; Payload starts after it.
const ICMPv4HeaderLen = 8

// ICMPv4 types (RFC 792).
const (
	ICMPEchoReply       = 0
	ICMPDestUnreachable = 3
	ICMPSourceQuench    = 4
	ICMPRedirect        = 5
	ICMPEchoRequest     = 8
	ICMPTimeExceeded    = 11
	ICMPParamProblem    = 12
)

// ICMPv4 destination-unreachable codes (RFC 792, RFC 1191 for code 4).
const (
	ICMPNetUnreachable   = 0
	ICMPHostUnreachable  = 1
	ICMPProtoUnreachable = 2
	ICMPPortUnreachable  = 3
	ICMPFragNeeded       = 4 // fragmentation needed and DF set
)

// Byte offsets inside an ICMPv4 message.
const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpID       = 4 // echo
	icmpSeq      = 6 // echo
	icmpMTU      = 6 // destination unreachable, code ICMPFragNeeded
	icmpPayload  = ICMPv4HeaderLen
)

// ICMPIsError reports whether an ICMP type is an error message that quotes
// an offending packet (the set of the kernel's icmp_is_err: destination
// unreachable, source quench, redirect, time exceeded, parameter problem).
// IPVS relates only destination unreachable, source quench and time
// exceeded to connections (ip_vs_core.c, ip_vs_in_icmp).
func ICMPIsError(typ uint8) bool {
	switch typ {
	case ICMPDestUnreachable, ICMPSourceQuench, ICMPRedirect, ICMPTimeExceeded, ICMPParamProblem:
		return true
	}
	return false
}

// ICMPv4 is a view of an ICMPv4 message. It aliases the frame; see the
// package doc. The slice must hold at least ICMPv4HeaderLen bytes.
type ICMPv4 []byte

// Type returns the message type.
func (i ICMPv4) Type() uint8 { return i[icmpType] }

// Code returns the message code.
func (i ICMPv4) Code() uint8 { return i[icmpCode] }

// Checksum returns the checksum field.
func (i ICMPv4) Checksum() uint16 { return be16(i[icmpChecksum:]) }

// ID returns the identifier of an echo or echo reply.
func (i ICMPv4) ID() uint16 { return be16(i[icmpID:]) }

// Seq returns the sequence number of an echo or echo reply.
func (i ICMPv4) Seq() uint16 { return be16(i[icmpSeq:]) }

// MTU returns the next-hop MTU of a fragmentation-needed message.
func (i ICMPv4) MTU() uint16 { return be16(i[icmpMTU:]) }

// Payload returns the bytes after the 8-byte header: echo data, or the
// quoted packet of an error. The result aliases i.
func (i ICMPv4) Payload() []byte {
	if len(i) < icmpPayload {
		return nil
	}
	return i[icmpPayload:]
}

// SetType sets the message type. It does not update the checksum.
func (i ICMPv4) SetType(t uint8) { i[icmpType] = t }

// SetCode sets the message code. It does not update the checksum.
func (i ICMPv4) SetCode(c uint8) { i[icmpCode] = c }

// SetChecksum sets the checksum field.
func (i ICMPv4) SetChecksum(c uint16) { putBE16(i[icmpChecksum:], c) }

// SetID sets the echo identifier. It does not update the checksum.
func (i ICMPv4) SetID(id uint16) { putBE16(i[icmpID:], id) }

// SetSeq sets the echo sequence number. It does not update the checksum.
func (i ICMPv4) SetSeq(s uint16) { putBE16(i[icmpSeq:], s) }

// SetMTU sets the next-hop MTU of a fragmentation-needed message and
// zeroes the unused half-word. It does not update the checksum.
func (i ICMPv4) SetMTU(mtu uint16) {
	putBE16(i[icmpID:], 0)
	putBE16(i[icmpMTU:], mtu)
}

// ComputeChecksum recomputes the checksum over the whole slice; slice the
// view to the ICMP message first (Parsed.L4 does).
func (i ICMPv4) ComputeChecksum() {
	i.SetChecksum(0)
	i.SetChecksum(Checksum(i, 0))
}
