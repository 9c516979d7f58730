package ipvssync

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ipv6Entries are the entries testdata/sync_v6_layout.c lays out by the
// kernel's struct ip_vs_sync_v6.
func ipv6Entries() []Entry {
	a := func(s string) [16]byte { return netip.MustParseAddr(s).As16() }
	return []Entry{
		{Proto: ProtoTCP, Flags: FlagDRoute | FlagNoOutput, State: TCPEstablished, IPv6: true,
			CAddr6: a("2001:db8:77::2"), VAddr6: a("2001:db8:77::100"), DAddr6: a("2001:db8:77::11"),
			CPort: 41001, VPort: 80, DPort: 80, Timeout: 900},
		{Proto: ProtoUDP, Flags: FlagMasq, IPv6: true,
			CAddr6: a("2001:db8:77::2"), VAddr6: a("2001:db8:77::100"), DAddr6: a("2001:db8:77:1::12"),
			CPort: 5353, VPort: 53, DPort: 5300, FwMark: 5, Timeout: 300},
		{Proto: ProtoTCP, Flags: FlagDRoute | FlagInactive | FlagTemplate, State: TemplateAssured, IPv6: true,
			CAddr6: a("2001:db8:77::"), VAddr6: a("2001:db8:77::100"), DAddr6: a("2001:db8:77::12"),
			VPort: 443, DPort: 443, Timeout: 360},
		{Proto: ProtoTCP, Flags: FlagMasq | FlagSeqMask, State: TCPFinWait, IPv6: true,
			CAddr6: a("fe80::1:2"), VAddr6: a("2001:db8::1"), DAddr6: a("2001:db8::ffff:a"),
			CPort: 1, VPort: 21, DPort: 21, Timeout: 120,
			HasSeq: true, InSeq: Seq{0x01020304, 5, 6}, OutSeq: Seq{0xa0b0c0d0, 0xfffffff0, 7}},
	}
}

func readLayoutHex(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/sync-v6-layout.hex")
	if err != nil {
		t.Fatal(err)
	}
	return unhexT(t, string(b))
}

// TestIPv6KernelLayout: IPv6 entries encode byte for byte as the C
// rendering of the kernel's struct ip_vs_sync_v6 lays them out
// (testdata/sync_v6_layout.c, its output kept in sync-v6-layout.hex:
// the IPVS sync oracle holds no IPv6 recording), and that message decodes
// to the same entries.
func TestIPv6KernelLayout(t *testing.T) {
	want := readLayoutHex(t)
	entries := ipv6Entries()
	if got := AppendMessageV1(nil, 7, entries); !bytes.Equal(got, want) {
		t.Fatalf("encoded\n% x\nkernel layout\n% x", got, want)
	}
	m, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.SyncID != 7 || len(m.Skipped) != 0 {
		t.Fatalf("version %d syncid %d skipped %v", m.Version, m.SyncID, m.Skipped)
	}
	if diff := cmp.Diff(entries, m.Entries); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
	if got := m.Entries[0].String(); !strings.Contains(got, "[2001:db8:77::2]:41001 -> [2001:db8:77::100]:80 -> [2001:db8:77::11]:80") {
		t.Errorf("String: %s", got)
	}
	for i := range entries {
		if n := EncodedLenV1(&entries[i]); i < 3 && n != EntryLenV6 || i == 3 && n != EntryLenV6+2+SeqOptLen {
			t.Errorf("entry %d: EncodedLenV1 %d", i, n)
		}
	}
}

// TestIPv6LayoutProgram rebuilds the vectors with a C compiler, when one
// is installed, from testdata/sync_v6_layout.c.
func TestIPv6LayoutProgram(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	bin := filepath.Join(t.TempDir(), "layout")
	if out, err := exec.Command(cc, "-Wall", "-o", bin, "testdata/sync_v6_layout.c").CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := unhexT(t, string(out)), readLayoutHex(t); !bytes.Equal(got, want) {
		t.Fatalf("the C program prints\n% x\nsync-v6-layout.hex holds\n% x", got, want)
	}
}

// TestIPv6Mixed: IPv4 and IPv6 entries in one message, each on a 4-byte
// boundary; v0 refuses IPv6 entries (the kernel's v0 sender leaves them
// out); an IPv6 entry whose size is below the IPv6 fixed part ends the
// message, as the kernel drops the rest.
func TestIPv6Mixed(t *testing.T) {
	v6 := ipv6Entries()
	entries := []Entry{natEntry(), v6[3], natEntry(), v6[0]}
	msg := AppendMessageV1(nil, 1, entries)
	m, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(entries, m.Entries); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if err := CheckV0(&v6[0]); !errors.Is(err, ErrNotSupported) {
		t.Errorf("CheckV0 of an IPv6 entry: %v, want ErrNotSupported", err)
	}
	b, _ := NewBatcher(BatcherConfig{V0: true})
	if err := b.Add(t0, &v6[0]); !errors.Is(err, ErrNotSupported) {
		t.Errorf("v0 Add of an IPv6 entry: %v", err)
	}

	short := AppendMessageV1(nil, 1, []Entry{natEntry(), v6[0]})
	off := HeaderLenV1 + EntryLenV4
	short[off+3] = EntryLenV4 // size 36: above the IPv4 part, below IPv6's 72
	m, err = Decode(short)
	if !errors.Is(err, ErrMalformed) || len(m.Entries) != 1 {
		t.Errorf("IPv6 entry of 36 bytes: %d entries, %v; want 1 and ErrMalformed", len(m.Entries), err)
	}
	// Entry type 3: the STYPE_F_INET6 bit is what the kernel tests.
	typ3 := AppendMessageV1(nil, 1, []Entry{v6[0]})
	typ3[HeaderLenV1] = 3
	if m, err := Decode(typ3); err != nil || len(m.Entries) != 1 || !m.Entries[0].IPv6 {
		t.Errorf("type 3: %v %v", m.Entries, err)
	}
	// The neighbour option of a NAT66 connection round-trips, after the
	// sequence option, and is refused twice and in v0.
	nb := v6[3]
	nb.HasNeigh, nb.NeighMAC, nb.NeighLink = true, [6]byte{2, 0, 0, 0, 0, 0x10}, 1
	msg = AppendMessageV1(nil, 1, []Entry{nb, v6[0]})
	if m, err := Decode(msg); err != nil || len(m.Entries) != 2 || !cmp.Equal(m.Entries[0], nb) {
		t.Errorf("neighbour option: %v %v", m.Entries, err)
	}
	if EncodedLenV1(&nb) != EntryLenV6+2+SeqOptLen+2+neighOptLen || CheckV0(&nb) == nil {
		t.Errorf("neighbour option: length %d, CheckV0 %v", EncodedLenV1(&nb), CheckV0(&nb))
	}
	twice := AppendMessageV1(nil, 1, []Entry{nb})
	twice = append(twice, OptULVSNeigh, neighOptLen, 1, 2, 3, 4, 5, 6, 7)
	binary.BigEndian.PutUint16(twice[HeaderLenV1+2:], uint16(len(twice)-HeaderLenV1))
	binary.BigEndian.PutUint16(twice[2:], uint16(len(twice)))
	if _, err := Decode(twice); !errors.Is(err, ErrMalformed) {
		t.Errorf("neighbour option twice: %v", err)
	}
	// An IPv6 FULLNAT connection's local address and port: option 0x46,
	// 18 bytes, after the sequence option and with the SYN proxy option
	// (a proxied IPv6 FULLNAT connection); it round-trips, is refused
	// twice (or beside 0x44) and in v0.
	fn := v6[3]
	fn.Flags = FlagFullNAT | FlagOutSeq
	fn.HasLocal, fn.LAddr6, fn.LPort = true, netip.MustParseAddr("2001:db8:ff::5").As16(), 50001
	fn.HasProxy, fn.Proxy = true, Proxy{TSOff: 7, MSS: 1440, Opts: 31, ClientWS: 7, ServerWS: 9}
	msg = AppendMessageV1(nil, 1, []Entry{fn, v6[0]})
	if m, err := Decode(msg); err != nil || len(m.Entries) != 2 || !cmp.Equal(m.Entries[0], fn) {
		t.Errorf("IPv6 local option: %v %v", m.Entries, err)
	}
	if l, ok := fn.Local(); !ok || l.String() != "[2001:db8:ff::5]:50001" {
		t.Errorf("Local() = %v %v", l, ok)
	}
	if n := EncodedLenV1(&fn); n != EntryLenV6+2+SeqOptLen+2+18+2+proxyOptLen || CheckV0(&fn) == nil {
		t.Errorf("IPv6 local option: length %d, CheckV0 %v", n, CheckV0(&fn))
	}
	at := HeaderLenV1 + EntryLenV6 + 2 + SeqOptLen
	if msg[at] != 0x46 || msg[at+1] != 18 || msg[at+2] != 0x20 || msg[at+19] != 0x51 {
		t.Errorf("IPv6 local option bytes: % x", msg[at:at+20])
	}
	for _, extra := range [][]byte{
		append([]byte{OptULVSLocal6, 18}, make([]byte, 18)...),
		{OptULVSLocal, localOptLen, 10, 0, 0, 1, 4, 0},
	} {
		twice := AppendMessageV1(nil, 1, []Entry{fn})
		twice = append(twice, extra...)
		binary.BigEndian.PutUint16(twice[HeaderLenV1+2:], uint16(len(twice)-HeaderLenV1))
		binary.BigEndian.PutUint16(twice[2:], uint16(len(twice)))
		if _, err := Decode(twice); !errors.Is(err, ErrMalformed) {
			t.Errorf("local option %#x after 0x46: %v", extra[0], err)
		}
	}
	short = AppendMessageV1(nil, 1, []Entry{fn})
	short[at+1] = 17
	if _, err := Decode(short); !errors.Is(err, ErrMalformed) {
		t.Errorf("IPv6 local option of 17 bytes: %v", err)
	}
	// 0x46 on an IPv4 entry is skipped, as 0x44 on an IPv6 one.
	v4 := Entry{Proto: ProtoTCP, Flags: FlagFullNAT, State: TCPEstablished, CPort: 1, VPort: 80, DPort: 80}
	raw := AppendMessageV1(nil, 1, []Entry{v4})
	raw = append(raw, OptULVSLocal6, 18)
	raw = append(raw, make([]byte, 18)...)
	binary.BigEndian.PutUint16(raw[HeaderLenV1+2:], uint16(len(raw)-HeaderLenV1))
	binary.BigEndian.PutUint16(raw[2:], uint16(len(raw)))
	if m, err := Decode(raw); err != nil || len(m.Entries) != 0 || len(m.Skipped) != 1 || !errors.Is(m.Skipped[0], ErrNotSupported) {
		t.Errorf("IPv4 entry with an IPv6 local address: %v, skipped %v, %v", m.Entries, m.Skipped, err)
	}
	// The ulvs local address option 0x44 is IPv4: refused on an IPv6 entry.
	raw = AppendMessageV1(nil, 1, []Entry{v6[0]})
	raw = append(raw, OptULVSLocal, localOptLen, 10, 0, 0, 1, 4, 0) // 80 bytes: the next entry stays aligned
	binary.BigEndian.PutUint16(raw[HeaderLenV1+2:], uint16(len(raw)-HeaderLenV1))
	raw = append(raw, AppendMessageV1(nil, 1, []Entry{v6[1]})[HeaderLenV1:]...)
	raw[4] = 2 // nr_conns
	binary.BigEndian.PutUint16(raw[2:], uint16(len(raw)))
	m, err = Decode(raw)
	if err != nil || len(m.Entries) != 1 || len(m.Skipped) != 1 || !errors.Is(m.Skipped[0], ErrNotSupported) {
		t.Errorf("IPv6 entry with an IPv4 local address: %d entries, skipped %v, %v", len(m.Entries), m.Skipped, err)
	}
}

// FuzzEntryV6: any IPv6 entry built from the fuzzer's bytes encodes into
// a message that decodes to the same entry (or is skipped for the
// kernel's reasons), and re-encodes to the same bytes.
func FuzzEntryV6(f *testing.F) {
	for _, e := range ipv6Entries() {
		f.Add(AppendMessageV1(nil, 0, []Entry{e})[HeaderLenV1:])
	}
	fn := ipv6Entries()[3]
	fn.Flags |= FlagFullNAT
	fn.HasLocal, fn.LAddr6, fn.LPort = true, fn.VAddr6, 1024
	seed := AppendMessageV1(nil, 0, []Entry{fn})[HeaderLenV1:]
	seed[0] = 1 | 4 | 8 // sequence, local and SYN proxy options below
	f.Add(seed)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) < EntryLenV6 {
			return
		}
		e := Entry{IPv6: true, Proto: raw[1], Flags: Flags(uint32(raw[4])<<24 | uint32(raw[5])<<16 | uint32(raw[6])<<8 | uint32(raw[7])),
			State: uint16(raw[8])<<8 | uint16(raw[9]), CPort: uint16(raw[10])<<8 | uint16(raw[11]),
			VPort: uint16(raw[12]) << 8, DPort: uint16(raw[15]), FwMark: uint32(raw[16]), Timeout: uint32(raw[20])}
		copy(e.CAddr6[:], raw[24:])
		copy(e.VAddr6[:], raw[40:])
		copy(e.DAddr6[:], raw[56:])
		if raw[0]&2 != 0 {
			e.HasNeigh, e.NeighLink = true, raw[3]
			copy(e.NeighMAC[:], raw[56:])
		}
		if raw[0]&4 != 0 {
			e.HasLocal, e.LPort = true, uint16(raw[13])<<8|uint16(raw[14])
			copy(e.LAddr6[:], raw[40:])
		}
		if raw[0]&8 != 0 {
			e.HasProxy, e.Proxy = true, Proxy{TSOff: uint32(raw[17]), MSS: uint16(raw[18]), Opts: raw[19], ClientWS: raw[21], ServerWS: raw[22]}
		}
		if raw[0]&1 != 0 {
			e.HasSeq = true
			e.InSeq = Seq{uint32(raw[2]), uint32(raw[3]), 1}
		}
		if len(raw) > EntryLenV6 && raw[EntryLenV6]%2 == 0 {
			n := int(raw[EntryLenV6]) % MaxPEName
			_ = e.SetPE(strings.Repeat("p", n+1), raw[EntryLenV6:])
		}
		msg := AppendMessageV1(nil, 9, []Entry{e, e})
		m, err := Decode(msg)
		if err != nil {
			t.Fatalf("%v\n% x", err, msg)
		}
		if len(m.Skipped) == 2 {
			return // a protocol or state the kernel skips
		}
		if len(m.Entries) != 2 || len(m.Skipped) != 0 {
			t.Fatalf("%d entries, skipped %v", len(m.Entries), m.Skipped)
		}
		if diff := cmp.Diff(e, m.Entries[1]); diff != "" {
			t.Fatalf("(-sent +decoded):\n%s", diff)
		}
		if enc := AppendMessageV1(nil, 9, m.Entries); !bytes.Equal(enc, msg) {
			t.Fatalf("not a fixed point")
		}
	})
}
