package ipvssync

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// natEntry is the oracle's first v1 entry: 10.0.1.2:41001 -> VIP:80 ->
// 10.0.0.12:8080, NAT, ESTABLISHED, 900 s.
func natEntry() Entry {
	return Entry{
		Proto: ProtoTCP, Flags: FlagMasq, State: TCPEstablished,
		CAddr: [4]byte{10, 0, 1, 2}, VAddr: [4]byte{10, 0, 0, 100}, DAddr: [4]byte{10, 0, 0, 12},
		CPort: 41001, VPort: 80, DPort: 8080, Timeout: 900,
	}
}

const natEntryHex = "00 06 00 24 00 00 00 00 00 01 a0 29 00 50 1f 90 00 00 00 00 00 00 03 84 0a 00 01 02 0a 00 00 64 0a 00 00 0c"

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for _, f := range strings.Fields(s) {
		var v byte
		for _, c := range f {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			default:
				t.Fatalf("bad hex %q", f)
			}
		}
		b = append(b, v)
	}
	return b
}

func TestAppendEntryLayout(t *testing.T) {
	e := natEntry()
	got := AppendMessageV1(nil, 7, []Entry{e})
	want := append(unhexT(t, "00 07 00 2c 01 01 00 00"), unhexT(t, natEntryHex)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
}

// TestOptionsRoundTrip encodes entries with every option, checks the
// option bytes and the 4-byte alignment of the following entry, and
// decodes them back.
func TestOptionsRoundTrip(t *testing.T) {
	seq := natEntry()
	seq.Flags |= FlagInSeq | FlagOutSeq
	seq.HasSeq = true
	seq.InSeq = Seq{InitSeq: 0x01020304, Delta: 5, PreviousDelta: 0xfffffffe}
	seq.OutSeq = Seq{InitSeq: 0xa0b0c0d0, Delta: 7, PreviousDelta: 3}

	pe := natEntry()
	pe.Proto = ProtoUDP
	pe.State = 0
	pe.Flags = FlagTemplate | FlagInactive
	if err := pe.SetPE("sip", []byte("call-1")); err != nil {
		t.Fatal(err)
	}

	local := natEntry()
	local.Flags = FlagFullNAT
	local.HasLocal = true
	local.LAddr = [4]byte{10, 0, 1, 200}
	local.LPort = 5001

	all := seq
	all.PEDataLen, all.PENameLen, all.PEData, all.PEName = pe.PEDataLen, pe.PENameLen, pe.PEData, pe.PEName
	all.HasLocal, all.LAddr, all.LPort = true, local.LAddr, local.LPort

	entries := []Entry{seq, pe, natEntry(), local, all, natEntry()}
	msg := AppendMessageV1(nil, 3, entries)

	// Walk the layout by hand: sizes and alignment.
	wantSizes := []int{36 + 26, 36 + 8 + 5, 36, 36 + 8, 36 + 26 + 8 + 5 + 8, 36}
	off := HeaderLenV1
	for i, ws := range wantSizes {
		if off%4 != 0 {
			t.Fatalf("entry %d at unaligned offset %d", i, off)
		}
		if got := int(binary.BigEndian.Uint16(msg[off+2:])); got != ws {
			t.Errorf("entry %d size %d, want %d", i, got, ws)
		}
		if got := EncodedLenV1(&entries[i]); got != ws {
			t.Errorf("EncodedLenV1(entry %d) = %d, want %d", i, got, ws)
		}
		for p := off + ws; p < off+((ws+3)&^3); p++ {
			if msg[p] != 0 {
				t.Errorf("padding byte %d after entry %d is %#x", p, i, msg[p])
			}
		}
		off += (ws + 3) &^ 3
	}
	if want := off - (((wantSizes[len(wantSizes)-1] + 3) &^ 3) - wantSizes[len(wantSizes)-1]); len(msg) != want {
		t.Errorf("message %d bytes, want %d (no padding after the last entry)", len(msg), want)
	}
	// Option bytes of the first entry: type 1, length 24, in_seq, out_seq big-endian.
	wantSeq := unhexT(t, "01 18 01 02 03 04 00 00 00 05 ff ff ff fe a0 b0 c0 d0 00 00 00 07 00 00 00 03")
	if got := msg[HeaderLenV1+36 : HeaderLenV1+62]; !bytes.Equal(got, wantSeq) {
		t.Errorf("sequence option\n got % x\nwant % x", got, wantSeq)
	}
	// PE options of the second entry: 02 06 "call-1" 03 03 "sip".
	wantPE := append(append(unhexT(t, "02 06"), "call-1"...), append(unhexT(t, "03 03"), "sip"...)...)
	if got := msg[72+36 : 72+36+len(wantPE)]; !bytes.Equal(got, wantPE) {
		t.Errorf("PE options\n got % x\nwant % x", got, wantPE)
	}
	// The local option of the fourth entry: 0x44, 6, address, port.
	at := 72 + 52 + 36 + 36
	if got, want := msg[at:at+8], unhexT(t, "44 06 0a 00 01 c8 13 89"); !bytes.Equal(got, want) {
		t.Errorf("local option\n got % x\nwant % x", got, want)
	}

	m, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.SyncID != 3 || len(m.Skipped) != 0 {
		t.Fatalf("version %d syncid %d skipped %v", m.Version, m.SyncID, m.Skipped)
	}
	if diff := cmp.Diff(entries, m.Entries); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if name, data := m.Entries[1].PE(); name != "sip" || string(data) != "call-1" {
		t.Errorf("PE() = %q, %q", name, data)
	}
	if l, ok := m.Entries[3].Local(); !ok || l.String() != "10.0.1.200:5001" {
		t.Errorf("Local() = %v, %v", l, ok)
	}
}

// TestV0Sequence: v0 carries the 24 sequence bytes after an entry whose
// flags have IN_SEQ/OUT_SEQ, in the kernel's host order (little-endian).
func TestV0Sequence(t *testing.T) {
	e := natEntry()
	e.Timeout = 0
	e.Flags |= FlagOutSeq
	e.HasSeq = true
	e.InSeq = Seq{1, 2, 3}
	e.OutSeq = Seq{0x11223344, 5, 6}
	plain := natEntry()
	plain.Timeout = 0
	msg := AppendMessageV0(nil, 9, []Entry{e, plain})
	if len(msg) != 4+48+24 || msg[0] != 2 || msg[1] != 9 || binary.BigEndian.Uint16(msg[2:]) != 76 {
		t.Fatalf("header % x, %d bytes", msg[:4], len(msg))
	}
	if got, want := msg[4+24+12:4+24+16], []byte{0x44, 0x33, 0x22, 0x11}; !bytes.Equal(got, want) {
		t.Errorf("out_seq.init_seq bytes % x, want % x", got, want)
	}
	m, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Entry{e, plain}, m.Entries); diff != "" || m.Version != 0 {
		t.Errorf("v0 round trip, version %d (-want +got):\n%s", m.Version, diff)
	}
}

func TestCheckV0(t *testing.T) {
	e := natEntry()
	if err := CheckV0(&e); err != nil {
		t.Errorf("plain entry: %v", err)
	}
	e.HasLocal = true
	if err := CheckV0(&e); !errors.Is(err, ErrNotSupported) {
		t.Errorf("entry with local address: %v, want ErrNotSupported", err)
	}
	e = natEntry()
	_ = e.SetPE("sip", []byte{1})
	if err := CheckV0(&e); !errors.Is(err, ErrNotSupported) {
		t.Errorf("entry with PE data: %v, want ErrNotSupported", err)
	}
}

func TestSetPE(t *testing.T) {
	var e Entry
	for _, tt := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"sip", []byte("x"), true},
		{"", nil, true},
		{"", []byte("x"), false},
		{"sip", nil, false},
		{strings.Repeat("n", 17), []byte("x"), false},
		{"sip", make([]byte, 256), false},
	} {
		if err := e.SetPE(tt.name, tt.data); (err == nil) != tt.ok {
			t.Errorf("SetPE(%q, %d bytes) = %v, want ok %v", tt.name, len(tt.data), err, tt.ok)
		}
	}
}

// v1 builds a v1 message from raw entries (each given without padding),
// fixing the header's count and size.
func v1(entries ...[]byte) []byte {
	b := []byte{0, 7, 0, 0, byte(len(entries)), 1, 0, 0}
	for _, e := range entries {
		b = append(b, make([]byte, pad4(len(b)))...)
		b = append(b, e...)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// entryWith returns the NAT entry's 36 bytes plus opts, its size fixed.
func entryWith(t *testing.T, opts ...byte) []byte {
	b := append(unhexT(t, natEntryHex), opts...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func TestDecodeErrors(t *testing.T) {
	good := entryWith(t)
	setSize := func(b []byte, n uint16) []byte { binary.BigEndian.PutUint16(b[2:], n); return b }
	tests := []struct {
		name    string
		msg     []byte
		err     error
		entries int // decoded before the error
		what    string
	}{
		{"empty", nil, ErrTruncated, 0, "0 bytes"},
		{"three bytes", []byte{0, 7, 0}, ErrTruncated, 0, "need at least 4"},
		{"size field too big", setSize(v1(good), 100), ErrMalformed, 0, "size field 100"},
		{"size field too small", setSize(v1(good), 8), ErrMalformed, 0, "size field 8"},
		{"count beyond data", func() []byte { b := v1(good); b[4] = 2; return b }(), ErrTruncated, 1, "entry 1 at byte 44"},
		{"entry size beyond message", v1(setSize(append([]byte{}, good...), 40)), ErrTruncated, 0, "runs past"},
		{"entry version 1", v1(func() []byte { b := append([]byte{}, good...); b[2] |= 0x10; return b }()), ErrMalformed, 0, "version 1"},
		{"entry type 2", v1(func() []byte { b := append([]byte{}, good...); b[0] = 2; return b }()), ErrMalformed, 0, "type 2"},
		{"entry size below fixed part", func() []byte { b := v1(good); binary.BigEndian.PutUint16(b[10:], 30); return b }(), ErrMalformed, 0, "less than the fixed part"},
		{"option header cut", v1(good, entryWith(t, 1)), ErrTruncated, 1, "option header"},
		{"option length zero", v1(entryWith(t, 0x48, 0)), ErrMalformed, 0, "length 0"},
		{"option beyond entry", v1(entryWith(t, 0x48, 4, 1, 2)), ErrMalformed, 0, "does not fit"},
		{"seq option wrong length", v1(entryWith(t, 1, 2, 0, 0)), ErrMalformed, 0, "sequence option length 2"},
		{"seq option twice", v1(entryWith(t, append(append([]byte{1, 24}, make([]byte, 24)...), append([]byte{0x41, 24}, make([]byte, 24)...)...)...)), ErrMalformed, 0, "twice"},
		{"pe name too long", v1(entryWith(t, append([]byte{3, 17}, make([]byte, 17)...)...)), ErrMalformed, 0, "name of 17 bytes"},
		{"local option wrong length", v1(entryWith(t, 0x44, 4, 1, 2, 3, 4)), ErrMalformed, 0, "local address option length 4"},
		{"v0 entry cut", []byte{2, 7, 0, 28, 0, 6, 0, 1, 0, 2, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 1}, ErrTruncated, 1, "entry 1 at byte 28"},
		{"v0 seq options cut", []byte{1, 7, 0, 28, 0, 6, 0, 1, 0, 2, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x04, 0, 0, 1}, ErrTruncated, 0, "sequence options cut off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.msg)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Decode = %v, want %v", err, tt.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.what) {
				t.Errorf("error %q does not say %q", err, tt.what)
			}
			if len(m.Entries) != tt.entries {
				t.Errorf("%d entries decoded before the error, want %d", len(m.Entries), tt.entries)
			}
		})
	}
}

// TestDecodeSkips: entries the kernel drops alone, keeping the rest of the
// message, plus IPv6 entries with ulvs's IPv4 local address option.
func TestDecodeSkips(t *testing.T) {
	v6 := make([]byte, EntryLenV6, EntryLenV6+2+localOptLen)
	v6[0], v6[1] = 1, ProtoTCP
	v6[24], v6[25], v6[39] = 0x20, 0x01, 1 // caddr 2001::1
	v6 = append(v6, OptULVSLocal, localOptLen, 10, 0, 0, 1, 4, 0)
	binary.BigEndian.PutUint16(v6[2:], uint16(len(v6)))
	udpBadState := entryWith(t)
	udpBadState[1], udpBadState[9] = ProtoUDP, 1
	sctp := entryWith(t)
	sctp[1] = 132
	tcpState11 := entryWith(t)
	tcpState11[9] = 11
	tpl := entryWith(t)
	tpl[6] = 0x10 // TEMPLATE: any state is taken
	tpl[9] = 9
	tests := []struct {
		name  string
		entry []byte
		err   error
		what  string
	}{
		{"ipv6 with an IPv4 local address", v6, ErrNotSupported, "IPv6 connection [2001::1]:0"},
		{"unknown mandatory option", entryWith(t, 5, 2, 0, 0), ErrMalformed, "unknown mandatory option 5"},
		{"bare option 4 is mandatory", entryWith(t, 4, 6, 1, 2, 3, 4, 5, 6), ErrMalformed, "unknown mandatory option 4"},
		{"pe data without name", entryWith(t, 2, 1, 9), ErrMalformed, "without a name"},
		{"udp state 1", udpBadState, ErrMalformed, "protocol 17 has no state 1"},
		{"tcp state 11", tcpState11, ErrMalformed, "no state 11"},
		{"sctp", sctp, ErrNotSupported, "protocol 132"},
		{"template state 9 kept", tpl, nil, ""},
		{"unknown optional option kept", entryWith(t, 0x4e, 2, 1, 2, 0x7f, 1, 0), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(v1(entryWith(t), tt.entry, entryWith(t)))
			if err != nil {
				t.Fatal(err)
			}
			if tt.err == nil {
				if len(m.Entries) != 3 || len(m.Skipped) != 0 {
					t.Fatalf("%d entries, skipped %v; want all 3", len(m.Entries), m.Skipped)
				}
				return
			}
			if len(m.Entries) != 2 || len(m.Skipped) != 1 {
				t.Fatalf("%d entries, %d skipped; want 2 and 1", len(m.Entries), len(m.Skipped))
			}
			s := m.Skipped[0]
			if !errors.Is(s, tt.err) || s.Entry != 1 || !strings.Contains(s.Error(), tt.what) {
				t.Errorf("skip %q (entry %d), want %v saying %q", s, s.Entry, tt.err, tt.what)
			}
		})
	}
}

// TestVersionRule: the kernel takes a message as v1 only when reserved is
// 0, version 1 and spare 0; otherwise it is v0.
func TestVersionRule(t *testing.T) {
	msg := v1(entryWith(t))
	msg[6] = 1 // spare != 0: now a v0 message with nr_conns 0
	m, err := Decode(msg)
	if err != nil || m.Version != 0 || len(m.Entries) != 0 {
		t.Errorf("spare=1: version %d, %d entries, %v; want v0 with 0 entries", m.Version, len(m.Entries), err)
	}
}

func TestFlagsString(t *testing.T) {
	for f, want := range map[Flags]string{
		0:                                   "MASQ",
		FlagDRoute | FlagNoOutput:           "DROUTE|NOOUTPUT",
		FlagTemplate | FlagInactive:         "MASQ|INACTIVE|TEMPLATE",
		FlagFullNAT | 0x4000:                "FULLNAT|0x4000",
		FlagTunnel | FlagSeqMask | FlagNFCT: "TUNNEL|OUT_SEQ|IN_SEQ|NFCT",
	} {
		if got := f.String(); got != want {
			t.Errorf("Flags(%#x).String() = %q, want %q", uint32(f), got, want)
		}
	}
}

func TestAccept(t *testing.T) {
	for _, tt := range []struct {
		local, msg uint8
		want       bool
	}{{0, 0, true}, {0, 7, true}, {7, 7, true}, {9, 7, false}, {7, 0, false}} {
		if got := Accept(tt.local, tt.msg); got != tt.want {
			t.Errorf("Accept(%d, %d) = %v, want %v", tt.local, tt.msg, got, tt.want)
		}
	}
}

// TestProxyOption: a SYN proxy connection's entry carries its sequence
// number delta in SEQ_DATA's out_seq (as the kernel's sequence adjustment
// would) and the rest in the optional ulvs option 0x45, which a kernel
// backup skips; the option is refused with a wrong length or twice, and v0
// cannot carry it.
func TestProxyOption(t *testing.T) {
	e := natEntry()
	e.Flags |= FlagOutSeq
	e.HasSeq = true
	e.InSeq = Seq{InitSeq: 1000}
	e.OutSeq = Seq{Delta: 0xfffffff0, PreviousDelta: 0xfffffff0}
	e.HasProxy = true
	e.Proxy = Proxy{TSOff: 0x01020304, MSS: 1460, Opts: 0x1f, ClientWS: 7, ServerWS: 9}
	msg := AppendMessageV1(nil, 1, []Entry{e})
	at := HeaderLenV1 + EntryLenV4 + 2 + SeqOptLen
	if got, want := msg[at:], unhexT(t, "45 09 01 02 03 04 05 b4 1f 07 09"); !bytes.Equal(got, want) {
		t.Errorf("SYN proxy option\n got % x\nwant % x", got, want)
	}
	m, err := Decode(msg)
	if err != nil || len(m.Entries) != 1 {
		t.Fatalf("decode: %v, %d entries", err, len(m.Entries))
	}
	if diff := cmp.Diff(e, m.Entries[0]); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := CheckV0(&e); !errors.Is(err, ErrNotSupported) {
		t.Errorf("v0 with a SYN proxy entry: %v, want ErrNotSupported", err)
	}
	// A wrong length, and the option twice: the message is refused.
	short := append([]byte(nil), msg...)
	short[at+1] = 8
	twice := append(append([]byte(nil), msg...), msg[at:]...)
	binary.BigEndian.PutUint16(twice[HeaderLenV1+2:], uint16(EncodedLenV1(&e)+2+proxyOptLen))
	binary.BigEndian.PutUint16(twice[6:], uint16(len(twice)))
	for name, b := range map[string][]byte{"length 8": short, "twice": twice} {
		if m, err := Decode(b); err == nil && len(m.Skipped) == 0 {
			t.Errorf("%s: decoded %+v, want refused", name, m.Entries)
		}
	}
}
