package ipvssync

import (
	"log/slog"
	"net/netip"
	"testing"
	"unsafe"
)

var sinkBytes []byte

// TestAppendNoAllocs: encoding into a buffer with room allocates nothing,
// options and padding included.
func TestAppendNoAllocs(t *testing.T) {
	entries := make([]Entry, 20)
	for i := range entries {
		entries[i] = natEntry()
	}
	entries[3].HasLocal = true
	_ = entries[5].SetPE("sip", []byte("abc"))
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { sinkBytes = AppendMessageV1(buf[:0], 1, entries) }); n != 0 {
		t.Errorf("AppendMessageV1: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { sinkBytes = AppendMessageV0(buf[:0], 1, entries[:3]) }); n != 0 {
		t.Errorf("AppendMessageV0: %v allocations", n)
	}
}

// TestEntrySize keeps an eye on the value type's size: it is copied into
// event queues.
func TestEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(Entry{}); s > 436 { // 352 before the SYN proxy state, 368 before IPv6 and the neighbour, 424 before the IPv6 local address
		t.Errorf("Entry is %d bytes", s)
	}
}

func BenchmarkDecodeV1(b *testing.B) {
	msg := readPcap(b, "testdata/sync-v1.pcap")[0].payload
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBatcherAdd(b *testing.B) {
	bt, err := NewBatcher(BatcherConfig{})
	if err != nil {
		b.Fatal(err)
	}
	e := natEntry()
	b.ReportAllocs()
	for b.Loop() {
		_ = bt.Add(t0, &e)
		for m, ok := bt.Next(t0); ok; m, ok = bt.Next(t0) {
			sinkBytes = m
		}
	}
}

// TestReceiverHandle checks the receive rules without sockets: header
// errors are bad messages whatever the syncid, other syncids are dropped,
// and a message failing part-way delivers the entries before the failure.
func TestReceiverHandle(t *testing.T) {
	good := entryWith(t)
	cut := v1(good, good)
	cut[4] = 3 // a third entry that is not there
	tests := []struct {
		name    string
		syncID  uint8
		msg     []byte
		entries int // delivered; -1: nothing delivered
		want    ReceiverStats
	}{
		{"good", 7, v1(good, good), 2, ReceiverStats{Messages: 1, Entries: 2}},
		{"other syncid", 9, v1(good), -1, ReceiverStats{WrongSyncID: 1}},
		{"header error", 9, []byte{0, 7, 0, 9}, -1, ReceiverStats{BadMessages: 1}},
		{"cut after two", 7, cut, 2, ReceiverStats{Messages: 1, Entries: 2, BadMessages: 1}},
		{"cut before any", 0, func() []byte { b := v1(); b[4] = 1; return b }(), -1, ReceiverStats{BadMessages: 1}},
		{"skipped entry", 0, v1(good, entryWith(t, 5, 1, 0)), 1, ReceiverStats{Messages: 1, Entries: 1, Skipped: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Receiver{syncID: tt.syncID, log: slog.New(slog.DiscardHandler)}
			got := -1
			r.handle(netip.MustParseAddrPort("10.9.0.1:40000"), tt.msg, func(_ netip.AddrPort, m Message) { got = len(m.Entries) })
			if got != tt.entries || r.Stats() != tt.want {
				t.Errorf("delivered %d entries, stats %+v; want %d, %+v", got, r.Stats(), tt.entries, tt.want)
			}
		})
	}
}
