package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// Idle polling: a worker whose rings are empty looks at them again for a
// while before it sleeps in poll(2), as the kernel's cpuidle haltpoll
// governor has an idle vCPU poll before it halts.
//
// On a virtual machine a worker that sleeps pays, for the next frame, the
// wake-up of its vCPU: the frame arrives in the sender's softirq on the
// other CPU, the wake-up is an IPI to a halted vCPU, which the host must
// schedule again. Traced on this lab's VM (perf sched events, one UDP
// request at a time through DR), that wake-up took about 30 us of the
// request's round trip, where kernel forwarding pays none: it forwards in
// the sender's softirq.
//
// The window adapts as haltpoll's does (drivers/cpuidle/governors/
// haltpoll.c): it starts closed; an idle period longer than the window but
// within the maximum doubles it (from idlePollGrowStart), one longer than
// the maximum halves it (closed again below idlePollGrowStart). So it stays
// open only while frames keep coming at gaps shorter than the maximum (a
// request and its reply, a client's next request), and an idle director
// sleeps as before. While it looks the worker yields the CPU at each turn
// (sched_yield), so a thread or softirq that has work on this CPU, the
// generator of a flood for one, runs first: the look costs only CPU time
// nobody else wanted, as haltpoll's polling does.
const idlePollGrowStart = 50 * time.Microsecond

// idlePoll is one worker's idle polling state; the worker's own.
type idlePoll struct {
	max    time.Duration // the longest window; 0: never poll
	window time.Duration // the current one
}

// adjust moves the window after an idle period of length idle that the
// window did not cover (the worker slept); got says whether it ended with
// frames (else poll timed out).
func (p *idlePoll) adjust(idle time.Duration, got bool) {
	switch {
	case !got || idle > p.max:
		p.window /= 2
		if p.window < idlePollGrowStart {
			p.window = 0
		}
	case idle > p.window:
		p.window = max(p.window*2, idlePollGrowStart)
		p.window = min(p.window, p.max)
	}
}

// spin looks at the worker's rings until frames are there or the window
// has passed since start, yielding the CPU between looks. It returns the
// number of frames collected.
func (w *worker) spin(start time.Time) int {
	for {
		if n := w.collect(); n > 0 {
			return n
		}
		if time.Since(start) >= w.idle.window {
			return 0
		}
		unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
}
