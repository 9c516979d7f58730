package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/config"
)

// termGrace is how long a timed-out program has between SIGTERM and
// SIGKILL, as keepalived gives its scripts (check_misc.c: 2 s).
const termGrace = 2 * time.Second

// exitInfo is how a program ended.
type exitInfo struct {
	// Code is the exit status, or -1 when the program was killed by a
	// signal or did not start.
	Code int
	// Signal is the signal that ended it (0 when it exited).
	Signal syscall.Signal
	// TimedOut is set when the program overran its timeout (or its
	// context ended) and ulvs signalled its process group.
	TimedOut bool
}

// RunScript runs a program without a shell (argv; argv[0] looked up in
// PATH when it has no slash), with a timeout, as keepalived runs notify
// and misc scripts: stdin, stdout and stderr are /dev/null, the program
// gets a process group of its own, and on timeout (or when ctx ends) the
// whole group gets SIGTERM, then SIGKILL 2 s later. It returns the exit
// code, or -1 with an error when the program was killed or failed to
// start. A zero timeout means no timeout. The child is always reaped.
func RunScript(ctx context.Context, s config.Script, timeout time.Duration) (code int, err error) {
	ei, err := runProgram(ctx, s.Argv, timeout, runOpts{})
	if err != nil {
		return -1, err
	}
	switch {
	case ei.TimedOut:
		return -1, fmt.Errorf("run %s: timed out after %v", scriptName(s.Argv), timeout)
	case ei.Signal != 0:
		return -1, fmt.Errorf("run %s: killed by signal %d", scriptName(s.Argv), int(ei.Signal))
	}
	return ei.Code, nil
}

func scriptName(argv []string) string {
	if len(argv) == 0 {
		return "(empty)"
	}
	return argv[0]
}

// runOpts are the optional parts of running a program.
type runOpts struct {
	// Stdout, when non-nil, receives the program's standard output (the
	// writer bounds it).
	Stdout io.Writer
	// Cred runs the program as another user (MISC_CHECK's user).
	Cred *syscall.Credential
	// Grace is the time between SIGTERM and SIGKILL; 0 = termGrace.
	Grace time.Duration
}

// runProgram starts argv and waits for it as RunScript describes. The
// error is non-nil only when the program could not be started.
func runProgram(ctx context.Context, argv []string, timeout time.Duration, o runOpts) (exitInfo, error) {
	if len(argv) == 0 {
		return exitInfo{Code: -1}, errors.New("run script: empty command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: o.Cred}
	if o.Stdout != nil {
		cmd.Stdout = o.Stdout
	}
	// A grandchild that keeps the output pipe open must not keep us
	// waiting for ever once the program itself has gone.
	cmd.WaitDelay = termGrace
	if err := cmd.Start(); err != nil {
		return exitInfo{Code: -1}, fmt.Errorf("run %s: %w", argv[0], err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	var killed bool
	select {
	case <-done:
		return exitInfoOf(cmd, false), nil
	case <-expire:
		killed = true
	case <-ctx.Done():
		killed = true
	}
	// Timed out (or shutting down): the whole group, politely first.
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	g := o.Grace
	if g <= 0 {
		g = termGrace
	}
	grace := time.NewTimer(g)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// Whatever the program started must not outlive it (keepalived
	// kills the group once more after a SIGTERM exit).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return exitInfoOf(cmd, killed), nil
}

func exitInfoOf(cmd *exec.Cmd, killed bool) exitInfo {
	ei := exitInfo{Code: -1, TimedOut: killed}
	st := cmd.ProcessState
	if st == nil {
		return ei
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Exited():
			ei.Code = ws.ExitStatus()
		case ws.Signaled():
			ei.Signal = ws.Signal()
		}
	}
	return ei
}
