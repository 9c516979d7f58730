package ipvssync

import (
	"encoding/binary"
	"fmt"
	"time"
)

// BatcherConfig configures a Batcher. Zero fields take the kernel's
// defaults.
type BatcherConfig struct {
	SyncID uint8
	// V0 sends version 0 messages (sync_version 0); the default is v1.
	V0 bool
	// MaxLen is the largest message, --sync-maxlen; 0 means
	// DefaultMaxLen (1472). Values above MaxMaxLen are refused.
	MaxLen int
	// FlushAfter is the age at which a message being filled is handed
	// out by Next; 0 means FlushTime (2 s).
	FlushAfter time.Duration
	// QlenMax is sync_qlen_max, the most full messages waiting for Next;
	// 0 means DefaultSyncQlenMax. Messages beyond it are dropped, counted.
	QlenMax int
}

// BatcherStats counts what a Batcher did.
type BatcherStats struct {
	Entries  uint64 // entries added
	Messages uint64 // messages handed out by Next
	Dropped  uint64 // full messages dropped because QlenMax were waiting
	Queued   int    // full messages waiting now
}

// Batcher packs entries into sync messages the way the kernel's master
// does (ip_vs_sync.c, ip_vs_sync_conn and sync_thread_master): entries go
// into the message being filled; when the next entry would not fit in
// MaxLen (or the message has 255 entries, or the version changed) the
// message is queued and a new one started; Next hands out queued messages
// first, then the message being filled once it is FlushAfter old. An
// entry larger than MaxLen gets a message of its own.
//
// It is pure: the caller passes the time, and drives the sending (call
// Next after each Add, or within SendDelay, and every CheckPeriod). A
// Batcher is not safe for concurrent use; the zero value is not usable,
// use NewBatcher.
type Batcher struct {
	cfg      BatcherConfig
	cur      []byte // message being filled; nil when none
	curV0    bool
	curFirst time.Time
	queue    [][]byte
	stats    BatcherStats
}

// NewBatcher returns a Batcher for cfg.
func NewBatcher(cfg BatcherConfig) (*Batcher, error) {
	if cfg.MaxLen == 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	if cfg.MaxLen < 0 || cfg.MaxLen > MaxMaxLen {
		return nil, fmt.Errorf("sync maxlen %d: want 1..%d", cfg.MaxLen, MaxMaxLen)
	}
	if cfg.FlushAfter == 0 {
		cfg.FlushAfter = FlushTime
	}
	if cfg.QlenMax == 0 {
		cfg.QlenMax = DefaultSyncQlenMax
	}
	if cfg.FlushAfter < 0 || cfg.QlenMax < 0 {
		return nil, fmt.Errorf("sync batcher: negative flush time %v or queue length %d", cfg.FlushAfter, cfg.QlenMax)
	}
	return &Batcher{cfg: cfg}, nil
}

// SetV0 switches the version of the messages to come, as writing
// sync_version does; the message being filled is queued first if it is of
// the other version.
func (b *Batcher) SetV0(v0 bool) {
	b.cfg.V0 = v0
	if b.cur != nil && b.curV0 != v0 {
		b.push()
	}
}

// Add puts e into the message being filled at time now. It refuses (with
// an error wrapping ErrNotSupported) an entry a v0 message cannot carry
// (see CheckV0).
func (b *Batcher) Add(now time.Time, e *Entry) error {
	hdr, n, pad := HeaderLenV1, EncodedLenV1(e), 0
	if b.cfg.V0 {
		if err := CheckV0(e); err != nil {
			return err
		}
		hdr, n = HeaderLenV0, EncodedLenV0(e)
	}
	if b.cur != nil {
		if !b.cfg.V0 {
			pad = pad4(len(b.cur))
		}
		if len(b.cur)+pad+n > cap(b.cur) || b.count() == maxEntries {
			b.push()
			pad = 0
		}
	}
	if b.cur == nil {
		b.cur = make([]byte, hdr, max(hdr+n, b.cfg.MaxLen))
		b.curV0 = b.cfg.V0
		b.curFirst = now
		if b.curV0 {
			b.cur[1] = b.cfg.SyncID
		} else {
			b.cur[1], b.cur[5] = b.cfg.SyncID, protoVerV1
		}
	}
	if b.curV0 {
		b.cur = appendEntryV0(b.cur, e)
		b.cur[0]++
	} else {
		b.cur = append(b.cur, make([]byte, pad)...)
		b.cur = appendEntryV1(b.cur, e)
		b.cur[4]++
	}
	binary.BigEndian.PutUint16(b.cur[2:], uint16(len(b.cur)))
	b.stats.Entries++
	return nil
}

// count returns the entries in the message being filled.
func (b *Batcher) count() int {
	if b.curV0 {
		return int(b.cur[0])
	}
	return int(b.cur[4])
}

// push queues the message being filled, or drops it when QlenMax
// messages are waiting (sb_queue_tail).
func (b *Batcher) push() {
	if len(b.queue) < b.cfg.QlenMax {
		b.queue = append(b.queue, b.cur)
	} else {
		b.stats.Dropped++
	}
	b.cur = nil
}

// Next returns the next message to send at time now: the oldest queued
// one, else the message being filled if it is at least FlushAfter old
// (next_sync_buff). The caller owns the returned bytes. ok is false when
// there is nothing to send yet.
func (b *Batcher) Next(now time.Time) (msg []byte, ok bool) {
	if len(b.queue) > 0 {
		msg = b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
	} else if b.cur != nil && now.Sub(b.curFirst) >= b.cfg.FlushAfter {
		msg, b.cur = b.cur, nil
	} else {
		return nil, false
	}
	b.stats.Messages++
	return msg, true
}

// Stats returns the counters.
func (b *Batcher) Stats() BatcherStats {
	s := b.stats
	s.Queued = len(b.queue)
	return s
}
