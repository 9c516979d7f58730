package vrrp

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// scriptState is a tracked vrrp_script's hysteresis, as keepalived keeps
// it (vrrp_scheduler.c): result runs 0..rise+fall-1 and the script is good
// when result >= rise. It starts at rise-1 ("init": one success is
// enough, one failure makes it bad).
type scriptState struct {
	track  TrackScript
	result int
	init   bool
}

func (s *scriptState) good() bool { return s.result >= s.track.Script.Rise }

// apply folds one run's outcome in and reports whether good() changed or
// the script left init.
func (s *scriptState) apply(ok bool) bool {
	rise, fall := s.track.Script.Rise, s.track.Script.Fall
	before, wasInit := s.good(), s.init
	s.init = false
	if ok {
		switch {
		case s.result < rise-1:
			s.result++
		default:
			s.result = rise + fall - 1
		}
	} else {
		if s.result > rise {
			s.result--
		} else {
			s.result = 0
		}
	}
	return before != s.good() || wasInit
}

// ScriptResult reports one run of a tracked vrrp_script (ok = exit status
// 0). Unknown names are ignored with an error.
func (r *Router) ScriptResult(name string, ok bool) error {
	var err error
	r.do(func(now time.Time) {
		s := r.scripts[name]
		if s == nil {
			err = fmt.Errorf("vrrp_instance %s: no track_script %q", r.in.Name, name)
			return
		}
		if !s.apply(ok) {
			return
		}
		word := "failed"
		if s.good() {
			word = "succeeded"
		}
		r.log.Info(fmt.Sprintf("VRRP_Script(%s) %s", name, word))
		r.reevaluate(now, "track_script "+name+" "+word)
	})
	r.poke()
	return err
}

// computePriority returns the effective priority: the configured one plus
// the weights of tracked interfaces and scripts, kept within 1..254
// (keepalived's total_priority); the owner's 255 never changes.
func (r *Router) computePriority() uint8 {
	if r.in.Priority == PriorityOwner {
		return PriorityOwner
	}
	p := int(r.in.Priority)
	for _, t := range r.in.TrackInterfaces {
		down := r.ifDown[t.Name]
		switch {
		case t.Weight > 0 && !down:
			p += t.Weight
		case t.Weight < 0 && down:
			p += t.Weight
		}
	}
	for _, t := range r.in.TrackScripts {
		s := r.scripts[t.Script.Name]
		if s.init {
			continue
		}
		w := t.weight()
		switch {
		case w > 0 && s.good():
			p += w
		case w < 0 && !s.good():
			p += w
		}
	}
	return uint8(min(max(p, 1), PriorityOwner-1))
}

// faults lists what puts the instance in FAULT: its own interface down, a
// weight-0 tracked interface down, a weight-0 script bad or not yet run.
func (r *Router) faults() []string {
	var f []string
	if r.ifDown[r.in.Interface] {
		f = append(f, "interface "+r.in.Interface+" down")
	}
	for _, t := range r.in.TrackInterfaces {
		if t.Weight == 0 && r.ifDown[t.Name] && t.Name != r.in.Interface {
			f = append(f, "track_interface "+t.Name+" down")
		}
	}
	for _, t := range r.in.TrackScripts {
		s := r.scripts[t.Script.Name]
		if t.weight() != 0 {
			continue
		}
		if s.init {
			f = append(f, "track_script "+t.Script.Name+" not run yet")
		} else if !s.good() {
			f = append(f, "track_script "+t.Script.Name+" failed")
		}
	}
	return f
}

// allFaults is faults plus, in a sync group, the other members' (after
// publishing ours to the group).
func (r *Router) allFaults() []string {
	f := r.faults()
	if g := r.cfg.Group; g != nil {
		f = append(f, g.setFaults(r, f)...)
	}
	return f
}

// reevaluate recomputes the priority and the fault state after an input
// changed, and moves between FAULT and BACKUP, as keepalived's
// vrrp_state_leave_master/leave_fault do.
func (r *Router) reevaluate(now time.Time, why string) {
	old := r.effPrio
	r.effPrio = r.computePriority()
	if old != r.effPrio {
		r.logf("Changing effective priority from %d to %d", old, r.effPrio)
	}
	if !r.started || r.state == StateStop {
		return
	}
	faulty := len(r.allFaults()) > 0
	switch {
	case faulty && r.state == StateMaster:
		r.leaveMaster(now, StateFault, why, true)
	case faulty && r.state != StateFault:
		r.setState(now, StateFault, why)
	case !faulty && r.state == StateFault:
		// keepalived's try_up_instance: the address owner goes straight
		// to MASTER, anyone else to BACKUP with a full down timer.
		r.masterAdverInt = r.in.AdvertInt
		if r.effPrio == PriorityOwner && r.syncMayMaster() {
			r.becomeMaster(now, why+": address owner (priority 255)")
			return
		}
		r.setState(now, StateBackup, why)
		r.downAt = now.Add(r.downInterval())
	}
}

// ScriptRunner runs a vrrp_script program; it returns the exit code (0 =
// success) or an error when the program could not run or timed out.
type ScriptRunner func(ctx context.Context, argv []string, timeout time.Duration) (int, error)

// RunScripts runs every tracked script of the Router every Interval with
// run and reports the results, until ctx ends. Each script has its own
// goroutine; a run that overlaps the next interval delays it.
func (r *Router) RunScripts(ctx context.Context, run ScriptRunner) {
	done := make(chan struct{})
	for _, t := range r.in.TrackScripts {
		go func(s Script) {
			defer func() { done <- struct{}{} }()
			for {
				code, err := run(ctx, s.Argv, s.Timeout)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					r.log.Info(fmt.Sprintf("VRRP_Script(%s): %v", s.Name, err))
				}
				_ = r.ScriptResult(s.Name, err == nil && code == 0)
				select {
				case <-ctx.Done():
					return
				case <-r.clock.After(s.Interval):
				}
			}
		}(t.Script)
	}
	for range r.in.TrackScripts {
		<-done
	}
}

// ExecScript is a ScriptRunner that runs argv without a shell in its own
// process group; on timeout (or when ctx ends) the group gets SIGKILL, and
// the run counts as failed, as keepalived treats a script it had to kill.
func ExecScript(ctx context.Context, argv []string, timeout time.Duration) (int, error) {
	if len(argv) == 0 {
		return -1, errors.New("run vrrp_script: empty command")
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	if ctx.Err() != nil {
		return -1, fmt.Errorf("run %s: timed out after %v", argv[0], timeout)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return 0, nil
}
