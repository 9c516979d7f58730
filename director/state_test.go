package director

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/ipvssync"
)

func TestStateFileRoundTrip(t *testing.T) {
	var entries []ipvssync.Entry
	for i := range 600 { // several messages
		entries = append(entries, ipvssync.Entry{
			Proto: ipvssync.ProtoTCP, Flags: ipvssync.FlagMasq, State: 1,
			CAddr: [4]byte{10, 77, 0, byte(i)}, VAddr: [4]byte{10, 77, 0, 100}, DAddr: [4]byte{10, 77, 1, 11},
			CPort: uint16(30000 + i), VPort: 80, DPort: 80, Timeout: uint32(1 + i%20),
		})
	}
	entries = append(entries, ipvssync.Entry{
		Proto: ipvssync.ProtoTCP, Flags: ipvssync.FlagFullNAT, State: 1,
		CAddr: [4]byte{10, 77, 0, 10}, VAddr: [4]byte{10, 77, 0, 100}, DAddr: [4]byte{10, 77, 1, 12},
		CPort: 4000, VPort: 80, DPort: 80, Timeout: 900, HasLocal: true, LAddr: [4]byte{10, 77, 1, 200}, LPort: 1025,
	}, ipvssync.Entry{ // an IPv6 connection (ip_vs_sync_v6)
		Proto: ipvssync.ProtoTCP, Flags: ipvssync.FlagDRoute | ipvssync.FlagNoOutput, State: 1, IPv6: true,
		CAddr6: [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 15: 0x10}, VAddr6: [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 14: 1},
		DAddr6: [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 15: 0x11}, CPort: 4001, VPort: 80, DPort: 80, Timeout: 900,
	})
	saved := time.UnixMilli(1_796_000_000_000)
	data, err := encodeState(entries, saved)
	if err != nil {
		t.Fatal(err)
	}
	got, expired, err := decodeState(data, saved)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(entries, got); diff != "" || expired != 0 {
		t.Fatalf("round trip (-want +got), %d expired:\n%s", expired, diff)
	}
	// Ten seconds later: entries with 10 s or less left are gone, the
	// others have ten seconds less.
	got, expired, err = decodeState(data, saved.Add(10*time.Second+500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, en := range entries {
		if en.Timeout > 10 {
			want++
		}
	}
	if len(got) != want || expired != len(entries)-want {
		t.Errorf("10 s later: %d kept, %d expired; want %d and %d", len(got), expired, want, len(entries)-want)
	}
	for _, en := range got {
		if en.Timeout == 0 || en.Timeout > 890 {
			t.Errorf("entry %v: timeout %d after 10 s", en.Client(), en.Timeout)
		}
	}
	for _, bad := range []string{"", "nonsense\n", "ulvs-conns 1 x\n", "ulvs-conns 1 5\n\x00\x00", "ulvs-conns 1 5\n\x00\x00\x00\x10abc"} {
		if _, _, err := decodeState([]byte(bad), saved); err == nil {
			t.Errorf("decodeState(%q) accepted it", bad)
		}
	}
}

// FuzzDecodeState: a state file of any content is refused or read, never
// a crash, and what is read encodes and reads back the same.
func FuzzDecodeState(f *testing.F) {
	saved := time.UnixMilli(1_796_000_000_000)
	good, err := encodeState([]ipvssync.Entry{{
		Proto: ipvssync.ProtoTCP, Flags: ipvssync.FlagMasq, State: 1,
		CAddr: [4]byte{10, 77, 0, 10}, VAddr: [4]byte{10, 77, 0, 100}, DAddr: [4]byte{10, 77, 1, 11},
		CPort: 40000, VPort: 80, DPort: 80, Timeout: 900,
	}}, saved)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("ulvs-conns 1 0\n"))
	f.Add([]byte("ulvs-conns 1 1796000000000\n\x00\x00\x00\x08\x00\x01\x00\x08\x00\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, _, err := decodeState(data, saved)
		if err != nil {
			return
		}
		again, err := encodeState(entries, saved)
		if err != nil {
			t.Fatalf("entries read back do not encode: %v", err)
		}
		got, expired, err := decodeState(again, saved)
		if err != nil || expired != 0 || len(got) != len(entries) {
			t.Fatalf("re-read: %d entries, %d expired, %v; want %d", len(got), expired, err, len(entries))
		}
	})
}
