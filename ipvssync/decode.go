package ipvssync

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors of Decode. A *DecodeError wraps one of them.
var (
	// ErrTruncated: the message or an entry or option is shorter than its
	// header says.
	ErrTruncated = errors.New("truncated")
	// ErrMalformed: a field has a value the kernel refuses (size mismatch,
	// unknown entry type or version, bad option length, option twice).
	ErrMalformed = errors.New("malformed")
	// ErrNotSupported: a well-formed entry ulvs cannot use (a protocol
	// other than TCP and UDP). Tests may skip on it.
	ErrNotSupported = errors.New("not supported")
)

// DecodeError is a Decode failure: where it happened and why.
type DecodeError struct {
	Entry  int // index of the entry in the message; -1 for the header
	Offset int // byte offset in the message where the problem is
	What   string
	Err    error // ErrTruncated, ErrMalformed or ErrNotSupported
}

func (e *DecodeError) Error() string {
	if e.Entry < 0 {
		return fmt.Sprintf("sync message header at byte %d: %s: %v", e.Offset, e.What, e.Err)
	}
	return fmt.Sprintf("sync entry %d at byte %d: %s: %v", e.Entry, e.Offset, e.What, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

func derr(entry, off int, err error, format string, a ...any) *DecodeError {
	return &DecodeError{Entry: entry, Offset: off, What: fmt.Sprintf(format, a...), Err: err}
}

// Message is a decoded sync message.
type Message struct {
	Version uint8 // 0 or 1
	SyncID  uint8
	// Entries are the entries a backup applies, in message order.
	Entries []Entry
	// Skipped are entries a backup must skip while keeping the rest of
	// the message, as the kernel skips an entry with an unknown mandatory
	// option, an unknown protocol or an impossible state. Each error
	// wraps ErrMalformed or ErrNotSupported.
	Skipped []*DecodeError
}

// Decode parses one sync message (a whole UDP payload), version 1 or 0,
// with the kernel's rules (ip_vs_process_message): the size field must
// equal len(msg); a message whose byte 0 (reserved) is 0, byte 5 (version)
// is 1 and bytes 6-7 (spare) are 0 is v1, anything else is v0. Decode does
// not check the syncid (see Accept).
//
// On an error that makes the kernel drop the rest of the message, Decode
// returns the entries before the bad one in Message.Entries (the kernel has
// applied those) together with a *DecodeError. Decode never panics and
// never keeps msg; the returned Message does not alias it.
func Decode(msg []byte) (Message, error) {
	if len(msg) < HeaderLenV0 {
		return Message{}, derr(-1, 0, ErrTruncated, "%d bytes, need at least %d", len(msg), HeaderLenV0)
	}
	if size := int(binary.BigEndian.Uint16(msg[2:])); size != len(msg) {
		return Message{}, derr(-1, 2, ErrMalformed, "size field %d but message is %d bytes", size, len(msg))
	}
	if len(msg) >= HeaderLenV1 && msg[0] == 0 && msg[5] == protoVerV1 && msg[6] == 0 && msg[7] == 0 {
		return decodeV1(msg)
	}
	return decodeV0(msg)
}

// short returns an error when entry i at off has fewer than need bytes.
func short(msg []byte, i, off, need int) error {
	if off+need <= len(msg) {
		return nil
	}
	return derr(i, off, ErrTruncated, "%d bytes left, an entry needs %d", max(len(msg)-off, 0), need)
}

func decodeV1(msg []byte) (Message, error) {
	m := Message{Version: 1, SyncID: msg[1]}
	n := int(msg[4])
	m.Entries = make([]Entry, 0, n)
	off := HeaderLenV1
	for i := range n {
		if err := short(msg, i, off, EntryLenV4); err != nil {
			return m, err
		}
		verSize := binary.BigEndian.Uint16(msg[off+2:])
		size := int(verSize & sizeMask)
		if off+size > len(msg) {
			return m, derr(i, off, ErrTruncated, "entry size %d runs past the message end", size)
		}
		if v := verSize >> verShift; v != 0 {
			return m, derr(i, off+2, ErrMalformed, "unknown entry version %d", v)
		}
		// Decode in place: an Entry is a few hundred bytes.
		m.Entries = append(m.Entries, Entry{})
		skip, err := decodeEntryV1(&m.Entries[len(m.Entries)-1], msg[off], msg[off:off+size], i, off)
		if err != nil || skip != nil {
			m.Entries = m.Entries[:len(m.Entries)-1]
		}
		if err != nil {
			return m, err
		}
		if skip != nil {
			m.Skipped = append(m.Skipped, skip)
		}
		off += (size + 3) &^ 3
	}
	return m, nil
}

// decodeEntryV1 decodes one v1 entry of type typ into e, which is zero;
// b is exactly the entry's size bytes (possibly fewer than its fixed part,
// which is an error). It returns nil, nil for an entry to apply, a skip
// (the kernel drops this entry only), or an error (the kernel drops the
// rest of the message), following ip_vs_proc_sync_conn.
func decodeEntryV1(e *Entry, typ byte, b []byte, idx, base int) (*DecodeError, error) {
	fixed := EntryLenV4
	switch {
	case typ&typeInet6 != 0:
		fixed = EntryLenV6
	case typ != 0:
		return nil, derr(idx, base, ErrMalformed, "unknown entry type %d", typ)
	}
	if len(b) < fixed {
		return nil, derr(idx, base+2, ErrMalformed, "entry size %d is less than the fixed part %d", len(b), fixed)
	}
	e.Proto = b[1]
	e.Flags = Flags(binary.BigEndian.Uint32(b[4:]))
	e.State = binary.BigEndian.Uint16(b[8:])
	e.CPort = binary.BigEndian.Uint16(b[10:])
	e.VPort = binary.BigEndian.Uint16(b[12:])
	e.DPort = binary.BigEndian.Uint16(b[14:])
	e.FwMark = binary.BigEndian.Uint32(b[16:])
	e.Timeout = binary.BigEndian.Uint32(b[20:])
	if fixed == EntryLenV4 {
		copy(e.CAddr[:], b[24:28])
		copy(e.VAddr[:], b[28:32])
		copy(e.DAddr[:], b[32:36])
	} else {
		e.IPv6 = true
		copy(e.CAddr6[:], b[24:40])
		copy(e.VAddr6[:], b[40:56])
		copy(e.DAddr6[:], b[56:72])
	}

	// Options: type, length (1..255), data. Seen in any order, each at
	// most once.
	var skip *DecodeError
	var seen uint8
	var local4, local6 bool // which local address option came
	for p := fixed; p < len(b); {
		if p+2 > len(b) {
			return nil, derr(idx, base+p, ErrTruncated, "option header cut off")
		}
		typ, l := b[p], int(b[p+1])
		data := p + 2
		if l == 0 || data+l > len(b) {
			return nil, derr(idx, base+p, ErrMalformed, "option %d length %d does not fit the entry", typ, l)
		}
		kind := typ &^ OptFlagParam
		if bit := onceBit(typ); bit != 0 {
			if seen&bit != 0 {
				return nil, derr(idx, base+p, ErrMalformed, "option %d found twice", typ)
			}
			seen |= bit
		}
		switch {
		case kind == OptSeqData:
			if l != SeqOptLen {
				return nil, derr(idx, base+p, ErrMalformed, "sequence option length %d, want %d", l, SeqOptLen)
			}
			e.HasSeq = true
			e.InSeq = readSeq(b[data:], binary.BigEndian)
			e.OutSeq = readSeq(b[data+12:], binary.BigEndian)
		case kind == OptPEData:
			e.PEDataLen = uint8(copy(e.PEData[:], b[data:data+l]))
		case kind == OptPEName:
			if l > MaxPEName {
				return nil, derr(idx, base+p, ErrMalformed, "persistence engine name of %d bytes, at most %d", l, MaxPEName)
			}
			e.PENameLen = uint8(copy(e.PEName[:], b[data:data+l]))
		case typ == OptULVSLocal:
			if l != localOptLen {
				return nil, derr(idx, base+p, ErrMalformed, "local address option length %d, want %d", l, localOptLen)
			}
			e.HasLocal, local4 = true, true
			copy(e.LAddr[:], b[data:data+4])
			e.LPort = binary.BigEndian.Uint16(b[data+4:])
		case typ == OptULVSLocal6:
			if l != local6Len {
				return nil, derr(idx, base+p, ErrMalformed, "IPv6 local address option length %d, want %d", l, local6Len)
			}
			e.HasLocal, local6 = true, true
			copy(e.LAddr6[:], b[data:data+16])
			e.LPort = binary.BigEndian.Uint16(b[data+16:])
		case typ == OptULVSNeigh:
			if l != neighOptLen {
				return nil, derr(idx, base+p, ErrMalformed, "neighbour option length %d, want %d", l, neighOptLen)
			}
			e.HasNeigh = true
			copy(e.NeighMAC[:], b[data:data+6])
			e.NeighLink = b[data+6]
		case typ == OptULVSSynProxy:
			if l != proxyOptLen {
				return nil, derr(idx, base+p, ErrMalformed, "SYN proxy option length %d, want %d", l, proxyOptLen)
			}
			e.HasProxy = true
			e.Proxy = Proxy{TSOff: binary.BigEndian.Uint32(b[data:]), MSS: binary.BigEndian.Uint16(b[data+4:]),
				Opts: b[data+6], ClientWS: b[data+7], ServerWS: b[data+8]}
		case typ&OptFlagParam == 0:
			// Unknown mandatory option: the kernel drops this entry
			// only, after checking the remaining options' framing.
			if skip == nil {
				skip = derr(idx, base+p, ErrMalformed, "unknown mandatory option %d", typ)
			}
		}
		p = data + l
	}
	if skip != nil {
		return skip, nil
	}
	if e.IPv6 && local4 {
		// OptULVSLocal carries an IPv4 local address: FULLNAT from an
		// IPv6 service to IPv4 (NAT64) is refused by the configuration,
		// and an IPv6 connection's local address comes in
		// OptULVSLocal6.
		return derr(idx, base, ErrNotSupported, "IPv6 connection %s -> %s with an IPv4 FULLNAT local address", e.Client(), e.Virtual()), nil
	}
	if !e.IPv6 && local6 {
		return derr(idx, base, ErrNotSupported, "IPv4 connection %s -> %s with an IPv6 FULLNAT local address", e.Client(), e.Virtual()), nil
	}
	if e.PEDataLen == 0 {
		// The kernel looks at the name only together with data.
		e.PENameLen, e.PEName = 0, [MaxPEName]byte{}
	}
	if e.PEDataLen > 0 && e.PENameLen == 0 {
		return derr(idx, base, ErrMalformed, "persistence engine data without a name"), nil
	}
	if s := checkProtoState(e, idx, base); s != nil {
		return s, nil
	}
	return nil, nil
}

// checkProtoState applies the kernel's per-entry checks: connections need
// a protocol the backup knows and a state inside its state table;
// templates are taken with any state.
func checkProtoState(e *Entry, idx, base int) *DecodeError {
	if e.IsTemplate() {
		return nil
	}
	var states uint16
	switch e.Proto {
	case ProtoTCP:
		states = tcpStates
	case ProtoUDP:
		states = udpStates
	default:
		return derr(idx, base+1, ErrNotSupported, "protocol %d", e.Proto)
	}
	if e.State >= states {
		return derr(idx, base, ErrMalformed, "protocol %d has no state %d", e.Proto, e.State)
	}
	return nil
}

// onceBit returns the bit recording an option that may appear only once in
// an entry: the kernel refuses SEQ_DATA, PE_DATA and PE_NAME twice (with or
// without OptFlagParam, which it masks off); ulvs refuses its local
// address (of either family: OptULVSLocal and OptULVSLocal6 count as one),
// SYN proxy and neighbour options twice. Other options may repeat.
func onceBit(typ uint8) uint8 {
	switch kind := typ &^ OptFlagParam; {
	case kind == OptSeqData, kind == OptPEData, kind == OptPEName:
		return 1 << kind
	case typ == OptULVSLocal, typ == OptULVSLocal6:
		return 1 << 4
	case typ == OptULVSSynProxy:
		return 1 << 5
	case typ == OptULVSNeigh:
		return 1 << 6
	}
	return 0
}

func readSeq(b []byte, o binary.ByteOrder) Seq {
	return Seq{InitSeq: o.Uint32(b), Delta: o.Uint32(b[4:]), PreviousDelta: o.Uint32(b[8:])}
}

func decodeV0(msg []byte) (Message, error) {
	m := Message{Version: 0, SyncID: msg[1]}
	n := int(msg[0])
	m.Entries = make([]Entry, 0, n)
	off := HeaderLenV0
	for i := range n {
		if err := short(msg, i, off, EntryLenV0); err != nil {
			return m, err
		}
		b := msg[off:]
		e := Entry{
			Proto: b[1],
			CPort: binary.BigEndian.Uint16(b[2:]),
			VPort: binary.BigEndian.Uint16(b[4:]),
			DPort: binary.BigEndian.Uint16(b[6:]),
			Flags: Flags(binary.BigEndian.Uint16(b[20:])),
			State: binary.BigEndian.Uint16(b[22:]),
		}
		copy(e.CAddr[:], b[8:12])
		copy(e.VAddr[:], b[12:16])
		copy(e.DAddr[:], b[16:20])
		size := EncodedLenV0(&e)
		if off+size > len(msg) {
			return m, derr(i, off+EntryLenV0, ErrTruncated, "sequence options cut off")
		}
		if size > EntryLenV0 {
			e.HasSeq = true
			e.InSeq = readSeq(b[EntryLenV0:], binary.LittleEndian)
			e.OutSeq = readSeq(b[EntryLenV0+12:], binary.LittleEndian)
		}
		if s := checkProtoState(&e, i, off); s != nil {
			m.Skipped = append(m.Skipped, s)
		} else {
			m.Entries = append(m.Entries, e)
		}
		off += size
	}
	return m, nil
}
