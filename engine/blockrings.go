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
// sleeps again after one or two, so the sender's CPU pays a wake-up, an
// inter-processor interrupt on a virtual machine, every few frames, and
// the worker a poll and a sendmmsg for each one or two. A block ring
// (TPACKET_V3) hands the worker a block of frames at a time, when it is
// full or a millisecond after its first frame: measured on the bench's
// lab, a 64-byte flood then costs the machine a quarter less CPU per
// packet and nothing is lost (docs/performance.md, "Block rings under
// load"); but a lone frame waits up to that millisecond.
//
// So with Config.BlockRings each worker has both, in the interface's
// fanout group, and the group's program (steerFanout) sends the frames to
// one or the other: to the frame rings below the rate, to the block rings
// above it, back to the frame rings below half of it. The rate is the
// engine's received frames a second per worker, looked at every
// blockPeriod.
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
				e.setBlockMode(true, rate)
			case on && rate < float64(e.blockRate)/2:
				e.setBlockMode(false, rate)
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

// setBlockMode steers every interface's fanout group to its block rings
// (on) or its frame rings.
func (e *Engine) setBlockMode(on bool, rate float64) {
	e.blockMode.Store(on)
	e.blockSwitches.Add(1)
	e.log.Debug("block rings", "on", on, "frames_per_second_per_worker", int(rate))
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	for _, ifc := range e.ifaces {
		if len(ifc.rings) == 0 {
			continue
		}
		if err := ifc.rings[0].setBlockMode(on); err != nil {
			e.log.Error("block rings: steer the fanout group", "interface", ifc.name, "err", err)
		}
	}
}
