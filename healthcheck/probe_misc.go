package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/config"
)

// miscProber is MISC_CHECK: run misc_path (no shell) with misc_timeout
// (0: the delay_loop) and judge its exit code. The Checker reads last to
// apply keepalived's rules (exit 0 up, 1 down, 2..255 a weight with
// misc_dynamic, a timeout or a signal down).
type miscProber struct {
	argv    []string
	timeout time.Duration
	cred    *syscall.Credential
	dynamic bool
	last    exitInfo
}

func newMiscProber(c *config.Check) (*miscProber, error) {
	if len(c.MiscPath) == 0 || c.MiscPath[0] == "" {
		return nil, errors.New("no misc_path")
	}
	p := &miscProber{argv: c.MiscPath, timeout: c.MiscTimeout, dynamic: c.MiscDynamic}
	if p.timeout <= 0 {
		p.timeout = c.DelayLoop
	}
	if c.User != "" {
		cred, err := lookupCred(c.User)
		if err != nil {
			return nil, err
		}
		p.cred = cred
	}
	return p, nil
}

// lookupCred resolves a user name (or number) to the uid and gid a
// script runs with.
func lookupCred(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("script user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("script user %q: uid %q gid %q are not numbers", name, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// exit is how the last run ended.
func (p *miscProber) exit() exitInfo { return p.last }

func (p *miscProber) probe(ctx context.Context) Result {
	ei, err := runProgram(ctx, p.argv, p.timeout, runOpts{Cred: p.cred})
	if err != nil {
		// keepalived's forked child exits 127 when exec fails.
		p.last = exitInfo{Code: 127}
		return Result{Err: err.Error(), Weight: -1}
	}
	p.last = ei
	switch {
	case ei.TimedOut:
		return Result{Err: "timeout", Weight: -1}
	case ei.Signal != 0:
		return Result{Err: fmt.Sprintf("killed by signal %d", int(ei.Signal)), Weight: -1}
	case ei.Code == 0:
		return Result{OK: true, Weight: -1}
	}
	if p.dynamic && ei.Code >= 2 && ei.Code <= 255 {
		return Result{OK: true, Weight: ei.Code - 2}
	}
	return Result{Err: fmt.Sprintf("exit status %d", ei.Code), Weight: -1}
}
