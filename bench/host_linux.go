package bench

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// HostCosts are what the machine charges for the two things an AF_PACKET
// director does per batch and kernel forwarding never does: a system call,
// and waking a thread. They differ several-fold between machines (a
// virtual machine's system call can cost ten times a bare-metal one, and a
// wake-up of a halted vCPU goes through the host), and the HTTP rows of a
// run, ratios included, move with them; ProbeHost measures them so that a
// report says on what kind of machine it was made.
type HostCosts struct {
	// Syscall is one getppid(2), the cheapest system call: the cost of
	// entering and leaving the kernel.
	Syscall time.Duration `json:"syscall_ns"`
	// PipeOneCPU is a round trip between two threads through two pipes,
	// both threads on one CPU (as `perf bench sched pipe` measures it):
	// two writes, two reads, two context switches.
	PipeOneCPU time.Duration `json:"pipe_round_trip_one_cpu_ns"`
	// PipeAcross is the same round trip with the threads on two CPUs:
	// each write wakes a thread on the other CPU, which may be idle
	// (halted). Zero when the process may use only one CPU.
	PipeAcross time.Duration `json:"pipe_round_trip_across_cpus_ns,omitempty"`
}

// String is the report's line: "a system call 1.13 us, a pipe round trip
// 7.63 us on one CPU and 21.32 us across two".
func (h HostCosts) String() string {
	us := func(d time.Duration) string { return fmt.Sprintf("%.2f us", float64(d)/float64(time.Microsecond)) }
	s := fmt.Sprintf("a system call %s, a pipe round trip %s on one CPU", us(h.Syscall), us(h.PipeOneCPU))
	if h.PipeAcross > 0 {
		s += " and " + us(h.PipeAcross) + " across two"
	}
	return s
}

// ProbeHost measures HostCosts with rounds round trips per pipe test (and
// five times as many system calls), and gives the median of each: a round
// during which the host took a vCPU away says nothing about the machine.
// 10,000 rounds take well under a second where a round trip costs tens of
// microseconds.
func ProbeHost(rounds int) (HostCosts, error) {
	if rounds < 1 {
		return HostCosts{}, errors.New("bench: ProbeHost needs at least one round")
	}
	var h HostCosts
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return h, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for c := 0; c < len(set)*64 && len(cpus) < 2; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return h, errors.New("bench: no CPU in the process's affinity mask")
	}
	h.Syscall = syscallCost(rounds * 5)
	var err error
	if h.PipeOneCPU, err = pipeRoundTrip(cpus[0], cpus[0], rounds); err != nil {
		return h, err
	}
	if len(cpus) > 1 {
		if h.PipeAcross, err = pipeRoundTrip(cpus[0], cpus[1], rounds); err != nil {
			return h, err
		}
	}
	return h, nil
}

// syscallCost times n getppid calls on the calling goroutine's thread,
// in batches of a hundred, and returns the median batch's cost per call:
// a batch during which the vCPU was taken away does not count.
func syscallCost(n int) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const batch = 100
	var per []float64
	for done := 0; done < n; done += batch {
		start := time.Now()
		for i := 0; i < batch; i++ {
			unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		}
		per = append(per, float64(time.Since(start))/batch)
	}
	return time.Duration(Median(per))
}

// pipeRoundTrip times rounds round trips between a thread on CPU a and
// one on CPU b, and returns the median: a writes a byte into one pipe and
// reads the answer from the other; b reads and answers. Both threads are
// pinned, and end with their goroutines still locked to them, so the
// runtime discards them rather than reuse a thread with a narrowed CPU
// mask. Each thread closes the pipe it writes when it stops, so that one
// that fails does not leave the other waiting for a byte.
func pipeRoundTrip(a, b, rounds int) (time.Duration, error) {
	var there, back [2]int
	if err := unix.Pipe2(there[:], unix.O_CLOEXEC); err != nil {
		return 0, fmt.Errorf("pipe2: %w", err)
	}
	if err := unix.Pipe2(back[:], unix.O_CLOEXEC); err != nil {
		unix.Close(there[0])
		unix.Close(there[1])
		return 0, fmt.Errorf("pipe2: %w", err)
	}
	defer unix.Close(there[0])
	defer unix.Close(back[0])
	// A short warm-up first, so that neither thread's first wake-up
	// (page faults, the thread's creation) is timed.
	const warm = 100
	answerer := make(chan error, 1)
	go func() {
		defer unix.Close(back[1])
		answerer <- pinned(b, func() error {
			buf := make([]byte, 1)
			for i := 0; i < warm+rounds; i++ {
				if err := readByte(there[0], buf); err != nil {
					return err
				}
				if _, err := unix.Write(back[1], buf); err != nil {
					return fmt.Errorf("write: %w", err)
				}
			}
			return nil
		})
	}()
	took := make([]float64, 0, rounds)
	asker := make(chan error, 1)
	go func() {
		defer unix.Close(there[1])
		asker <- pinned(a, func() error {
			buf := []byte{1}
			for i := 0; i < warm+rounds; i++ {
				start := time.Now()
				if _, err := unix.Write(there[1], buf); err != nil {
					return fmt.Errorf("write: %w", err)
				}
				if err := readByte(back[0], buf); err != nil {
					return err
				}
				if i >= warm {
					took = append(took, float64(time.Since(start)))
				}
			}
			return nil
		})
	}()
	errAsk, errAnswer := <-asker, <-answerer
	if err := errors.Join(errAsk, errAnswer); err != nil {
		return 0, err
	}
	return time.Duration(Median(took)), nil
}

// pinned runs f on a thread of its own, pinned to cpu. It leaves the
// goroutine locked to that thread, so the runtime ends the thread when
// the goroutine returns.
func pinned(cpu int, f func() error) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity to CPU %d: %w", cpu, err)
	}
	return f()
}

// readByte reads one byte from fd into buf, retrying on EINTR; an end of
// file is an error (the other side gave up).
func readByte(fd int, buf []byte) error {
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return fmt.Errorf("read: %w", err)
		case n == 0:
			return errors.New("read: the other thread closed its pipe")
		}
		return nil
	}
}
