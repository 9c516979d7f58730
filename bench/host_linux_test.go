package bench

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestProbeHost(t *testing.T) {
	if testing.Short() {
		t.Skip("pins threads and times pipe round trips")
	}
	h, err := ProbeHost(200)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", h)
	if h.Syscall <= 0 || h.PipeOneCPU <= 0 {
		t.Errorf("ProbeHost = %+v: a system call and a round trip cannot be free", h)
	}
	// A round trip is two writes and two reads at least.
	if h.PipeOneCPU < 2*h.Syscall {
		t.Errorf("round trip on one CPU %v shorter than two system calls (%v each)", h.PipeOneCPU, h.Syscall)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() > 1 && h.PipeAcross <= 0 {
		t.Errorf("%d CPUs allowed but no round trip across two: %+v", set.Count(), h)
	}
	if set.Count() == 1 && h.PipeAcross != 0 {
		t.Errorf("one CPU allowed but a round trip across two: %+v", h)
	}
	// The caller's thread keeps its CPU mask: the pinned threads were
	// the probe's own.
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil {
		t.Fatal(err)
	}
	if after != set {
		t.Errorf("the probe changed the calling thread's CPU mask")
	}
	if _, err := ProbeHost(0); err == nil {
		t.Error("ProbeHost(0) did not fail")
	}
}

func TestHostCostsString(t *testing.T) {
	h := HostCosts{Syscall: 956 * time.Nanosecond, PipeOneCPU: 13167 * time.Nanosecond, PipeAcross: 21172 * time.Nanosecond}
	if got, want := h.String(), "a system call 0.96 us, a pipe round trip 13.17 us on one CPU and 21.17 us across two"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	h.PipeAcross = 0
	if got := h.String(); strings.Contains(got, "across") {
		t.Errorf("String() = %q with no round trip across CPUs", got)
	}
}
