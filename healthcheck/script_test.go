package healthcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
)

func TestRunScript(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		argv     []string
		wantCode int
		wantErr  bool
	}{
		{"exit 0", []string{"true"}, 0, false}, // found in PATH
		{"exit 3", []string{"/bin/sh", "-c", "exit 3"}, 3, false},
		{"arguments are not split again", []string{"/bin/sh", "-c", `test "$0" = "a b"`, "a b"}, 0, false},
		{"no shell: metacharacters are plain text", []string{"/bin/echo", "$(false)", ";", "exit", "1"}, 0, false},
		{"killed by a signal", []string{"/bin/sh", "-c", "kill -9 $$"}, -1, true},
		{"missing program", []string{"/nonexistent/ulvs-script"}, -1, true},
		{"empty", nil, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := RunScript(ctx, config.Script{Argv: tc.argv}, time.Second)
			if code != tc.wantCode || (err != nil) != tc.wantErr {
				t.Errorf("got %d, %v; want %d, error %v", code, err, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// TestRunScriptTimeoutKillsGroup runs a script that starts a background
// child and sleeps: on timeout both must be gone.
func TestRunScriptTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := config.Script{Argv: []string{"/bin/sh", "-c", "sleep 30 & echo $! > " + pidFile + "; sleep 30"}}
	start := time.Now()
	code, err := RunScript(context.Background(), script, 100*time.Millisecond)
	if code != -1 || err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %d, %v; want -1 and a timeout", code, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v: SIGTERM did not end it", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return true
		}
		// Killed but not yet reaped by its new parent counts as gone.
		st, rerr := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return rerr == nil && strings.Contains(string(st), ") Z ")
	}, "background child killed")
}

func TestRunProgramIgnoringTERMIsKilled(t *testing.T) {
	argv := []string{"/bin/sh", "-c", "trap '' TERM; sleep 30"}
	const grace = 100 * time.Millisecond
	start := time.Now()
	ei, err := runProgram(context.Background(), argv, 100*time.Millisecond, runOpts{Grace: grace})
	if err != nil || !ei.TimedOut || ei.Signal != syscall.SIGKILL {
		t.Errorf("got %+v, %v; want killed by SIGKILL after the timeout", ei, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > time.Second {
		t.Errorf("took %v, want SIGKILL %v after the timeout", d, grace)
	}
}

func TestRunScriptContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel) // a daemon shutting down
	code, err := RunScript(ctx, config.Script{Argv: []string{"sleep", "30"}}, 0)
	if code != -1 || err == nil {
		t.Errorf("got %d, %v; want -1 and an error", code, err)
	}
}

// miscScript returns a MISC_CHECK whose exit code is read from a file the
// test writes between probes.
func miscScript(t *testing.T) (argv []string, set func(code int)) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "code")
	set = func(code int) {
		if err := os.WriteFile(f, []byte(strconv.Itoa(code)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set(0)
	return []string{"/bin/sh", "-c", `exit $(cat "$0")`, f}, set
}

// codeProber wraps a real miscProber and sets the exit code before each
// probe.
type codeProber struct {
	*miscProber
	set   func(int)
	codes []int
}

func (p *codeProber) probe(ctx context.Context) Result {
	p.set(p.codes[0])
	p.codes = p.codes[1:]
	return p.miscProber.probe(ctx)
}

func TestMiscDecisions(t *testing.T) {
	const who = "Misc check for [[10.0.0.11]:tcp:80 VS [10.0.0.100]:tcp:80] by [/bin/sh] "
	type mstep struct {
		code int
		step
	}
	run := func(t *testing.T, c config.Check, steps []mstep) {
		t.Helper()
		argv, set := miscScript(t)
		c.Kind = config.CheckMisc
		c.MiscPath = argv
		c.DelayLoop = loop
		c.DelayBeforeRetry = dbr
		mp, err := newMiscProber(&c)
		if err != nil {
			t.Fatal(err)
		}
		cp := &codeProber{miscProber: mp, set: set}
		var ss []step
		for _, s := range steps {
			cp.codes = append(cp.codes, s.code)
			ss = append(ss, s.step)
		}
		runStepsMisc(t, c, cp, ss)
	}
	t.Run("not dynamic", func(t *testing.T) {
		run(t, config.Check{}, []mstep{
			{0, step{wantUp: true, wantLogs: lines(who + "succeeded.")}},
			{0, step{wantUp: true}},
			{1, step{wantUp: false, wantChange: down(), wantLogs: lines(who + "failed with retry disabled (exited with status 1).")}},
			{2, step{wantUp: false}},
			{0, step{wantUp: true, wantChange: upW(-1), wantLogs: lines(who + "succeeded.")}},
			{5, step{wantUp: false, wantChange: down(), wantLogs: lines(who + "failed with retry disabled (exited with status 5).")}},
		})
	})
	t.Run("misc_dynamic", func(t *testing.T) {
		run(t, config.Check{MiscDynamic: true}, []mstep{
			{0, step{wantUp: true, wantLogs: lines(who + "succeeded.")}},
			{2, step{wantUp: true, wantChange: upW(0)}},
			{5, step{wantUp: true, wantChange: upW(3)}},
			{5, step{wantUp: true}},
			{0, step{wantUp: true, wantChange: upW(-1)}},
			{1, step{wantUp: false, wantChange: down(), wantLogs: lines(who + "failed with retry disabled (exited with status 1).")}},
			{7, step{wantUp: true, wantChange: upW(5), wantLogs: lines(who + "succeeded.")}},
		})
	})
	t.Run("first run with a weight", func(t *testing.T) {
		run(t, config.Check{MiscDynamic: true}, []mstep{
			{12, step{wantUp: true, wantChange: upW(10), wantLogs: lines(who + "succeeded.")}},
		})
	})
	t.Run("retries", func(t *testing.T) {
		run(t, config.Check{Retry: 2}, []mstep{
			// The first failure is final, as for every keepalived checker.
			{1, step{wantUp: false, wantChange: down(), wantLogs: lines(who + "failed after 2 retries (exited with status 1).")}},
			{0, step{wantUp: true, wantChange: upW(-1), wantLogs: lines(who + "succeeded.")}},
			{1, step{wantUp: true}},
			{1, step{wantUp: true}},
			{1, step{wantUp: false, wantChange: down(), wantLogs: lines(who + "failed after 2 retries (exited with status 1).")}},
		})
	})
	t.Run("timeout", func(t *testing.T) {
		c := config.Check{Kind: config.CheckMisc, MiscPath: []string{"/bin/sh", "-c", "sleep 5"}, MiscTimeout: 50 * time.Millisecond,
			DelayLoop: loop, Retry: 1}
		mp, err := newMiscProber(&c)
		if err != nil {
			t.Fatal(err)
		}
		runStepsMisc(t, c, mp, []step{
			{wantUp: false, wantChange: down(), wantLogs: lines(who + "timed out after 1 retry.")},
		})
	})
}

// runStepsMisc is runSteps for MISC_CHECK, whose next delay counts from
// the start of the run: only its bound is checked.
func runStepsMisc(t *testing.T, c config.Check, p prober, steps []step) {
	t.Helper()
	for i := range steps {
		steps[i].wantNext = -1
	}
	rec := &logRecorder{}
	var changes []Transition
	ck, err := newChecker(c, rs1T, &Env{Log: newTestLogger(rec)}, true, func(tr Transition) { changes = append(changes, tr) }, p)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		changes = nil
		next, ok := ck.round(context.Background())
		if !ok || next <= 0 || next > loop {
			t.Fatalf("step %d: next %v, ok %v", i, next, ok)
		}
		checkStep(t, i, ck, rec, changes, s)
	}
}
