package lab

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on a new goroutine locked to its OS thread, with the thread
// switched into the namespace (setns with the fd of /run/netns/NAME), and
// switches the thread back afterwards. Sockets created inside fn stay in the
// namespace; goroutines started by fn do not run in it. If the thread cannot
// be switched back it stays locked, so the Go runtime ends it with the
// goroutine instead of reusing it. A panic in fn is re-raised in the caller.
func (n NS) Do(fn func() error) error {
	target, err := os.Open(n.Path())
	if err != nil {
		return fmt.Errorf("open netns %s: %w", n.Name, err)
	}
	defer target.Close()

	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// "/proc/thread-self/ns/net", not /proc/self: the namespace of this
		// very thread.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("open current netns: %w", err)}
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("setns %s: %w", n.Name, err)}
			return
		}
		var res result
		func() {
			defer func() { res.panic = recover() }()
			res.err = fn()
		}()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			if res.err == nil {
				res.err = fmt.Errorf("setns back from %s: %w", n.Name, err)
			}
			done <- res
			return
		}
		runtime.UnlockOSThread()
		done <- res
	}()
	res := <-done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}
