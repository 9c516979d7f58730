package ipvssync

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)

func newBatcher(t *testing.T, cfg BatcherConfig) *Batcher {
	t.Helper()
	b, err := NewBatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBatcherOracle replays the entries of every oracle message, added
// within the flush time: the Batcher gives the kernel's message, byte for
// byte, once it is 2 s old, and not before.
func TestBatcherOracle(t *testing.T) {
	for _, p := range []string{"testdata/sync-v1.pcap", "testdata/sync-v0.pcap", "testdata/run1/sync-v1.pcap", "testdata/run1/sync-v0.pcap"} {
		for i, c := range readPcap(t, p) {
			m, err := Decode(c.payload)
			if err != nil {
				t.Fatal(err)
			}
			b := newBatcher(t, BatcherConfig{SyncID: m.SyncID, V0: m.Version == 0})
			for j := range m.Entries {
				if err := b.Add(t0.Add(time.Duration(j)*10*time.Millisecond), &m.Entries[j]); err != nil {
					t.Fatal(err)
				}
			}
			if msg, ok := b.Next(t0.Add(FlushTime - time.Millisecond)); ok {
				t.Fatalf("%s msg %d: sent %d bytes before the flush time", p, i, len(msg))
			}
			msg, ok := b.Next(t0.Add(FlushTime))
			if !ok || !bytes.Equal(msg, c.payload) {
				t.Errorf("%s msg %d: batcher gave %v\n% x\nwant\n% x", p, i, ok, msg, c.payload)
			}
			if _, ok := b.Next(t0.Add(time.Hour)); ok {
				t.Errorf("%s msg %d: a second message", p, i)
			}
		}
	}
}

// addN adds n copies of e at t0 and returns the messages Next hands out
// at t0 (full ones) and then at t0+FlushTime (the rest).
func addN(t *testing.T, b *Batcher, e Entry, n int) (full, late [][]byte) {
	t.Helper()
	for range n {
		if err := b.Add(t0, &e); err != nil {
			t.Fatal(err)
		}
	}
	for m, ok := b.Next(t0); ok; m, ok = b.Next(t0) {
		full = append(full, m)
	}
	for m, ok := b.Next(t0.Add(FlushTime)); ok; m, ok = b.Next(t0.Add(FlushTime)) {
		late = append(late, m)
	}
	return full, late
}

func TestBatcherFit(t *testing.T) {
	pe := natEntry()
	_ = pe.SetPE("sip", []byte("abcd")) // 36 + 6 + 5 = 47 bytes, 48 with padding
	tests := []struct {
		name      string
		cfg       BatcherConfig
		e         Entry
		n         int
		wantFull  []int // sizes of the messages queued as full
		wantLate  []int // sizes flushed by age
		wantCount []int // entries per message, full then late
	}{
		// 8 + 40*36 = 1448 <= 1472 < 1484.
		{"40 entries fill 1472", BatcherConfig{}, natEntry(), 41, []int{1448}, []int{44}, []int{40, 1}},
		{"exactly full stays", BatcherConfig{MaxLen: 8 + 3*36}, natEntry(), 3, nil, []int{116}, []int{3}},
		// 8 + 47 = 55, then pad 1 + 47 = 103 > 100.
		{"padding counts", BatcherConfig{MaxLen: 100}, pe, 2, []int{55}, []int{55}, []int{1, 1}},
		{"entry larger than maxlen", BatcherConfig{MaxLen: 20}, natEntry(), 2, []int{44}, []int{44}, []int{1, 1}},
		{"255 entries at most", BatcherConfig{MaxLen: MaxMaxLen}, natEntry(), 256, []int{8 + 255*36}, []int{44}, []int{255, 1}},
		// v0: 4 + 61*24 = 1468 <= 1472.
		{"v0 61 entries", BatcherConfig{V0: true}, natEntry(), 62, []int{1468}, []int{28}, []int{61, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full, late := addN(t, newBatcher(t, tt.cfg), tt.e, tt.n)
			var sizes []int
			for _, m := range full {
				sizes = append(sizes, len(m))
			}
			var lsizes []int
			var counts []int
			for _, m := range append(append([][]byte{}, full...), late...) {
				d, err := Decode(m)
				if err != nil {
					t.Fatal(err)
				}
				counts = append(counts, len(d.Entries))
			}
			for _, m := range late {
				lsizes = append(lsizes, len(m))
			}
			if !slices.Equal(sizes, tt.wantFull) || !slices.Equal(lsizes, tt.wantLate) || !slices.Equal(counts, tt.wantCount) {
				t.Errorf("full %v late %v counts %v; want %v %v %v", sizes, lsizes, counts, tt.wantFull, tt.wantLate, tt.wantCount)
			}
		})
	}
}

func TestBatcherQueueLimit(t *testing.T) {
	b := newBatcher(t, BatcherConfig{MaxLen: 44, QlenMax: 1})
	e := natEntry()
	for range 4 { // each entry fills a message: 3 pushes, 1 kept, 2 dropped
		if err := b.Add(t0, &e); err != nil {
			t.Fatal(err)
		}
	}
	s := b.Stats()
	if s.Dropped != 2 || s.Queued != 1 || s.Entries != 4 {
		t.Errorf("stats %+v, want 2 dropped, 1 queued, 4 entries", s)
	}
}

func TestBatcherV0Refuses(t *testing.T) {
	b := newBatcher(t, BatcherConfig{V0: true})
	e := natEntry()
	e.HasLocal = true
	if err := b.Add(t0, &e); !errors.Is(err, ErrNotSupported) {
		t.Errorf("v0 Add of a FULLNAT entry: %v, want ErrNotSupported", err)
	}
	if s := b.Stats(); s.Entries != 0 {
		t.Errorf("refused entry counted: %+v", s)
	}
}

func TestBatcherVersionSwitch(t *testing.T) {
	b := newBatcher(t, BatcherConfig{SyncID: 4})
	e := natEntry()
	_ = b.Add(t0, &e)
	b.SetV0(true)
	_ = b.Add(t0, &e)
	m1, ok1 := b.Next(t0)
	m2, ok2 := b.Next(t0.Add(FlushTime))
	d1, err1 := Decode(m1)
	d2, err2 := Decode(m2)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || d1.Version != 1 || d2.Version != 0 || d2.SyncID != 4 {
		t.Errorf("after SetV0: %v %v %v %v, versions %d %d", ok1, ok2, err1, err2, d1.Version, d2.Version)
	}
}

func TestNewBatcherRefuses(t *testing.T) {
	for _, cfg := range []BatcherConfig{{MaxLen: -1}, {MaxLen: MaxMaxLen + 1}, {FlushAfter: -time.Second}, {QlenMax: -1}} {
		if _, err := NewBatcher(cfg); err == nil {
			t.Errorf("NewBatcher(%+v) accepted", cfg)
		}
	}
}
