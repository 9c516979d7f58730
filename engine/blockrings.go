package engine

import (
	"context"
	"time"
)

// Block rings: the receive side's answer to load, as NAPI is the kernel's.
//
// A frame ring (TPACKET_V2) has the kernel wake the worker for each frame
// that finds it asleep. At low rates that is what gives the least latency;
// under a flood the worker empties its ring faster than frames come and
// sleeps again after one or two, so the sender's CPU issues a wake-up, an
// inter-processor interrupt on a virtual machine, every few frames, and
// the worker pays a poll and a sendmmsg for each one or two. A block ring
// (TPACKET_V3) hands the worker a block of frames at a time, when it is
// full or a millisecond after its first frame: measured on the bench's
// lab, a 64-byte flood then costs ulvsd 16% less CPU per packet at the
// median and loses a quarter as many frames (docs/performance.md, "Block
// rings under load"); but a lone frame waits up to that millisecond.
//
// So with Config.BlockRings each worker keeps its frame ring and, in block
// mode, has a block ring too, in the interface's fanout group, and the
// group's program (steerFanout) sends the frames to one or the other: to
// the frame rings below the rate, to the block rings above it, back to the
// frame rings below half of it. The rate is the engine's received frames
// a second per worker, looked at every blockPeriod. The block rings are
// opened when block mode begins and closed when it ends: an idle one's
// retire timer fires every millisecond.
const blockPeriod = 100 * time.Millisecond

// steerBlocks switches the fanout groups between frame and block rings
// with the receive rate until ctx ends.
func (e *Engine) steerBlocks(ctx context.Context) {
	t := time.NewTicker(blockPeriod)
	defer t.Stop()
	last, at := e.rxFrames(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rx := e.rxFrames()
			rate := float64(rx-last) / now.Sub(at).Seconds() / float64(max(len(e.workers), 1))
			last, at = rx, now
			on := e.blockMode.Load()
			switch {
			case !on && rate >= float64(e.blockRate):
				e.setBlockMode(ctx, true, rate)
			case on && rate < float64(e.blockRate)/2:
				e.setBlockMode(ctx, false, rate)
			case on:
				e.ensureBlocks(ctx) // an interface back since
			}
		}
	}
}

// rxFrames is the frames the workers have received.
func (e *Engine) rxFrames() uint64 {
	var n uint64
	for _, c := range e.counts {
		n += c.rxFrames.Load()
	}
	return n
}

// blockDrain is how long the workers have, after the groups steer away
// from the block rings, to read what the kernel hands over from them (a
// block it holds is handed over blockTimeout after its first frame)
// before the rings are closed.
const blockDrain = 20 * time.Millisecond

// setBlockMode switches to block mode (on) or back to frame rings.
func (e *Engine) setBlockMode(ctx context.Context, on bool, rate float64) {
	e.blockMode.Store(on)
	e.blockSwitches.Add(1)
	e.log.Debug("block rings", "on", on, "frames_per_second_per_worker", int(rate))
	if on {
		e.ensureBlocks(ctx)
		return
	}
	e.linkMu.Lock()
	for _, ifc := range e.ifaces {
		if len(ifc.rings) > 0 {
			if err := ifc.rings[0].setBlockMode(false); err != nil {
				e.log.Error("block rings: steer the fanout group", "interface", ifc.name, "err", err)
			}
		}
	}
	e.linkMu.Unlock()
	select {
	case <-ctx.Done():
		return // Close closes them
	case <-time.After(blockDrain):
	}
	e.linkMu.Lock()
	var old []*ring
	for _, ifc := range e.ifaces {
		old = append(old, ifc.blocks...)
		ifc.blocks = nil
	}
	ls := e.publish()
	e.linkMu.Unlock()
	e.retire(ctx, ls, old)
}

// ensureBlocks gives every interface that is up and has none (it was
// away when block mode began) its block rings, and steers the groups to
// them once every worker polls them. An interface whose rings cannot be
// opened stays on its frame rings; the next tick tries again.
func (e *Engine) ensureBlocks(ctx context.Context) {
	e.linkMu.Lock()
	opened := false
	for _, ifc := range e.ifaces {
		if len(ifc.rings) == 0 || ifc.blocks != nil {
			continue
		}
		blocks, err := openBlockRings(ifc.index, len(e.workers), ifc.rings[0].fanoutID, e.filter)
		if err != nil {
			if !ifc.blocksFailed {
				e.log.Warn("block rings cannot be opened: staying on frame rings", "interface", ifc.name, "err", err)
				ifc.blocksFailed = true
			}
			continue
		}
		ifc.blocks, opened, ifc.blocksFailed = blocks, true, false
	}
	if !opened {
		e.linkMu.Unlock()
		return
	}
	ls := e.publish()
	e.linkMu.Unlock()
	if !e.waitAdopted(ctx, ls) {
		return
	}
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	for _, ifc := range e.ifaces {
		// Only the group the blocks joined: the interface may have been
		// lost and reopened meanwhile.
		if len(ifc.rings) == 0 || len(ifc.blocks) == 0 || ifc.blocks[0].fanoutID != ifc.rings[0].fanoutID {
			continue
		}
		if err := ifc.rings[0].setBlockMode(true); err != nil {
			e.log.Error("block rings: steer the fanout group", "interface", ifc.name, "err", err)
		}
	}
}

// retire closes rings once every worker has adopted ls, which no longer
// has them; if ctx ends first, Close closes them.
func (e *Engine) retire(ctx context.Context, ls *linkSet, old []*ring) {
	if len(old) == 0 {
		return
	}
	if e.waitAdopted(ctx, ls) {
		for _, r := range old {
			r.close()
		}
		return
	}
	e.linkMu.Lock()
	e.retired = append(e.retired, old...)
	e.linkMu.Unlock()
}
