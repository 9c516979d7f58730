package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/conntrack"
)

// loopCounters are a worker's loop statistics: how its frames arrive and
// leave, to tell a worker that wakes up for every frame from one that
// moves full batches. Only the worker writes them.
type loopCounters struct {
	// batches counts receive calls that returned frames; polls counts
	// the times the worker slept in poll(2) (each a wake-up to pay);
	// txCalls counts TX batches handed to a link (one sendmmsg each
	// unless the kernel refused a frame).
	batches atomic.Uint64
	polls   atomic.Uint64
	txCalls atomic.Uint64
	// spinWins counts the idle polls that found frames (a sleep and
	// its wake-up saved, idlepoll.go).
	spinWins atomic.Uint64
	// ringDrops counts the frames the kernel dropped because the
	// worker's RX rings were full (PACKET_STATISTICS tp_drops), read
	// every ringStatsPeriod; ringStatsAt is when the worker last read
	// them (the worker's own field).
	ringDrops   atomic.Uint64
	ringStatsAt conntrack.Tick
	// blockFrames counts the frames taken from block rings
	// (blockrings.go).
	blockFrames atomic.Uint64
	// tid is the worker's OS thread (it runs locked to it), 0 before it
	// starts; its CPU time is read from /proc.
	tid atomic.Int32
}

// ringStatsPeriod is how often a worker reads its sockets' drop counters.
const ringStatsPeriod = 100 * time.Millisecond

// readRingStats adds the kernel's RX ring drops of the worker's sockets
// to its counters, at most once per ringStatsPeriod. The kernel resets
// the counters on each read.
func (w *worker) readRingStats(now conntrack.Tick) {
	if int64(now.Sub(w.c.loop.ringStatsAt)) < ringStatsPeriod.Milliseconds() {
		return
	}
	w.c.loop.ringStatsAt = now
	for _, l := range w.links {
		r, ok := l.(*ring)
		if !ok || r.closed.Load() {
			continue
		}
		for _, s := range []*ring{r, r.blk} {
			if s == nil {
				continue
			}
			// A block ring's tpacket_stats_v3 starts as tpacket_stats.
			st, err := unix.GetsockoptTpacketStats(s.sock, unix.SOL_PACKET, unix.PACKET_STATISTICS)
			if err == nil && st.Drops > 0 {
				w.c.loop.ringDrops.Add(uint64(st.Drops))
			}
		}
	}
}

// WorkerStats are one worker's loop counters.
type WorkerStats struct {
	// Index is the worker's position in the fanout groups.
	Index int
	// Packets are the frames it received, Batches the receive calls that
	// returned frames (Packets/Batches is the average batch), Polls the
	// times it slept in poll(2), TxCalls its sendmmsg calls, TxFrames
	// the frames those sent.
	Packets, Batches, Polls, TxCalls, TxFrames uint64
	// IdleWins are the times an idle poll (--idle-poll) found frames
	// before the worker would have slept: wake-ups saved.
	IdleWins uint64
	// RingDrops are the frames the kernel dropped because the worker's
	// RX rings were full: the worker did not keep up.
	RingDrops uint64
	// CPU is the CPU time of the worker's thread (user and system), 0
	// when unknown.
	CPU time.Duration
}

// AvgBatch is the average number of frames per non-empty receive.
func (s WorkerStats) AvgBatch() float64 {
	if s.Batches == 0 {
		return 0
	}
	return float64(s.Packets) / float64(s.Batches)
}

// WorkerStats returns each worker's loop counters, in worker order.
func (e *Engine) WorkerStats() []WorkerStats {
	out := make([]WorkerStats, len(e.counts))
	for i, c := range e.counts {
		out[i] = WorkerStats{
			Index:     i,
			Packets:   c.rxFrames.Load(),
			Batches:   c.loop.batches.Load(),
			Polls:     c.loop.polls.Load(),
			TxCalls:   c.loop.txCalls.Load(),
			TxFrames:  c.txFrames.Load(),
			RingDrops: c.loop.ringDrops.Load(),
			IdleWins:  c.loop.spinWins.Load(),
		}
		if tid := c.loop.tid.Load(); tid > 0 {
			out[i].CPU = threadCPU(int(tid))
		}
	}
	return out
}

// threadCPU reads the CPU time a thread of this process has used from
// /proc/self/task/TID/schedstat (its first field, nanoseconds on a CPU);
// 0 when it cannot be read.
func threadCPU(tid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	ns, err := strconv.ParseUint(f[0], 10, 63)
	if err != nil {
		return 0
	}
	return time.Duration(ns)
}
