package synproxy

import "github.com/ulvs/ulvs/pkt"

// TCP option kinds and lengths (RFC 9293, RFC 7323, RFC 2018).
const (
	optEnd       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optSACKPerm  = 4
	optSACK      = 5
	optTimestamp = 8

	lenMSS       = 4
	lenWScale    = 3
	lenSACKPerm  = 2
	lenTimestamp = 10
)

// Options are the handshake options of a SYN (or SYN-ACK).
type Options struct {
	MSS       uint16 // 0: none sent
	WScale    uint8  // valid with HasWScale
	HasWScale bool
	SACKPerm  bool
	HasTS     bool
	TSVal     uint32 // valid with HasTS
	TSEcr     uint32
}

// ParseOptions reads the options of a TCP header's option bytes. Like the
// kernel's tcp_parse_options it stops at the end-of-list option or at an
// option that runs past the end, keeping what it read before; options of
// the wrong length are skipped. It does not allocate.
func ParseOptions(b []byte) Options {
	var o Options
	for len(b) > 0 {
		kind := b[0]
		if kind == optEnd {
			break
		}
		if kind == optNOP {
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			break
		}
		n := int(b[1])
		if n < 2 || n > len(b) {
			break
		}
		switch {
		case kind == optMSS && n == lenMSS:
			o.MSS = uint16(b[2])<<8 | uint16(b[3])
		case kind == optWScale && n == lenWScale:
			o.HasWScale, o.WScale = true, min(b[2], MaxWScale)
		case kind == optSACKPerm && n == lenSACKPerm:
			o.SACKPerm = true
		case kind == optTimestamp && n == lenTimestamp:
			o.HasTS, o.TSVal, o.TSEcr = true, be32(b[2:]), be32(b[6:])
		}
		b = b[n:]
	}
	return o
}

// MaxOptions is the most option bytes SynAckOptions and SynOptions write.
const MaxOptions = 20

// SynAckOptions writes into b (MaxOptions bytes at least) the options of
// the proxy's SYN-ACK to a client whose SYN had o (as Cookies.Make kept
// it): our MSS, and only what the client offered: SACK-permitted,
// timestamps (tsval ours, echoing the client's), window scale ws. It
// returns the length written, a multiple of 4.
func SynAckOptions(b []byte, mss uint16, o *Options, tsval uint32, ws uint8) int {
	return writeOptions(b, mss, o.SACKPerm, o.HasTS, tsval, o.TSVal, o.HasWScale, ws)
}

// SynOptions writes the options of the proxy's SYN to the real server: the
// client's, as its cookie kept them, with the client's current timestamp.
func SynOptions(b []byte, o *Options, tsval uint32) int {
	return writeOptions(b, o.MSS, o.SACKPerm, o.HasTS, tsval, 0, o.HasWScale, o.WScale)
}

// TimestampOption writes NOP, NOP, timestamp (12 bytes) into b, the only
// option of the ACK the proxy sends to the real server.
func TimestampOption(b []byte, tsval, tsecr uint32) int {
	b[0], b[1], b[2], b[3] = optNOP, optNOP, optTimestamp, lenTimestamp
	putBE32(b[4:], tsval)
	putBE32(b[8:], tsecr)
	return 12
}

// writeOptions lays options out as Linux does: MSS; SACK-permitted and
// timestamps together (or NOP-padded); NOP, window scale.
func writeOptions(b []byte, mss uint16, sack, ts bool, tsval, tsecr uint32, hasWS bool, ws uint8) int {
	n := 0
	if mss != 0 {
		b[0], b[1] = optMSS, lenMSS
		putBE16(b[2:], mss)
		n = 4
	}
	switch {
	case ts:
		if sack {
			b[n], b[n+1] = optSACKPerm, lenSACKPerm
		} else {
			b[n], b[n+1] = optNOP, optNOP
		}
		b[n+2], b[n+3] = optTimestamp, lenTimestamp
		putBE32(b[n+4:], tsval)
		putBE32(b[n+8:], tsecr)
		n += 12
	case sack:
		b[n], b[n+1], b[n+2], b[n+3] = optNOP, optNOP, optSACKPerm, lenSACKPerm
		n += 4
	}
	if hasWS {
		b[n], b[n+1], b[n+2], b[n+3] = optNOP, optWScale, lenWScale, ws
		n += 4
	}
	return n
}

// Build writes an IPv4 packet holding one TCP segment without data into b
// (20 + 20 + len(opts) bytes at least), with complete checksums, and
// returns its length. opts must be a multiple of 4 bytes, at most 40.
func Build(b []byte, src, dst [4]byte, sport, dport uint16, seq, ack uint32, flags uint8, win uint16, opts []byte, id uint16) int {
	const ipLen = 20
	tcpLen := pkt.TCPMinHeaderLen + len(opts)
	total := ipLen + tcpLen
	ip := pkt.IPv4(b[:ipLen])
	clear(b[:total])
	ip.SetHeaderLen(ipLen)
	ip.SetTotalLen(uint16(total))
	ip.SetID(id)
	ip.SetFlagsFragOff(pkt.IPv4FlagDF, 0)
	ip.SetTTL(64)
	ip.SetProtocol(pkt.ProtoTCP)
	ip.SetSrc(src)
	ip.SetDst(dst)
	ip.ComputeChecksum()
	t := pkt.TCP(b[ipLen:total])
	putTCP(t, sport, dport, seq, ack, flags, win, opts)
	t.SetChecksum(pkt.Checksum(t, pkt.PseudoHeaderSum(src, dst, pkt.ProtoTCP, uint16(tcpLen))))
	return total
}

// putTCP writes a TCP header with opts into t (cleared, as long as the
// header), its checksum left 0.
func putTCP(t pkt.TCP, sport, dport uint16, seq, ack uint32, flags uint8, win uint16, opts []byte) {
	t.SetSrcPort(sport)
	t.SetDstPort(dport)
	t.SetSeq(seq)
	t.SetAck(ack)
	t.SetDataOffset(len(t))
	t.SetFlags(flags)
	t.SetWindow(win)
	copy(t[pkt.TCPMinHeaderLen:], opts)
}

func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func putBE16(b []byte, v uint16) {
	_ = b[1]
	b[0], b[1] = byte(v>>8), byte(v)
}

func putBE32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
