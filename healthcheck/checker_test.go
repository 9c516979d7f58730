package healthcheck

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// logRecorder is a slog handler that keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// take returns the messages logged since the last take.
func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

// scripted is a prober that returns the results it is given, in order.
type scripted struct {
	results []Result
}

func (s *scripted) probe(context.Context) Result {
	if len(s.results) == 0 {
		return Result{Err: "script exhausted"}
	}
	r := s.results[0]
	s.results = s.results[1:]
	return r
}

var (
	rs1  = netip.MustParseAddr("10.0.0.11")
	vip  = netip.MustParseAddr("10.0.0.100")
	vsA  = config.ServiceKey{Proto: vs.TCP, Addr: vip, Port: 80}
	rs1T = Target{Addr: rs1, Port: 80, Proto: vs.TCP, Service: vsA}
)

// step is one probe of a decision-rule test: its result, and what the
// Checker must do with it.
type step struct {
	ok       bool
	err      string
	wantNext time.Duration
	wantLogs []string
	wantUp   bool
	// wantChange is the transition reported, if any.
	wantChange *Transition
}

// runSteps feeds steps to a checker through round and checks each.
func runSteps(t *testing.T, c config.Check, target Target, up bool, p prober, steps []step) {
	t.Helper()
	rec := &logRecorder{}
	var changes []Transition
	ck, err := newChecker(c, target, &Env{Log: newTestLogger(rec)}, up, func(tr Transition) { changes = append(changes, tr) }, p)
	if err != nil {
		t.Fatal(err)
	}
	if sp, ok := p.(*scripted); ok {
		for _, s := range steps {
			sp.results = append(sp.results, Result{OK: s.ok, Err: s.err})
		}
	}
	for i, s := range steps {
		changes = nil
		next, ok := ck.round(context.Background())
		if !ok {
			t.Fatalf("step %d: round stopped", i)
		}
		if next != s.wantNext {
			t.Errorf("step %d: next probe in %v, want %v", i, next, s.wantNext)
		}
		checkStep(t, i, ck, rec, changes, s)
	}
}

func newTestLogger(rec *logRecorder) *slog.Logger { return slog.New(rec) }

// checkStep compares the logs, verdict and transitions of step i.
func checkStep(t *testing.T, i int, ck *Checker, rec *logRecorder, changes []Transition, s step) {
	t.Helper()
	if diff := cmp.Diff(s.wantLogs, rec.take()); diff != "" {
		t.Errorf("step %d: log lines (-want +got):\n%s", i, diff)
	}
	if ck.Up() != s.wantUp {
		t.Errorf("step %d: up = %v, want %v", i, ck.Up(), s.wantUp)
	}
	var want []Transition
	if s.wantChange != nil {
		want = []Transition{*s.wantChange}
	}
	for j := range changes {
		changes[j].Result = Result{} // compare verdicts and weights only
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("step %d: transitions (-want +got):\n%s", i, diff)
	}
}

func down() *Transition          { return &Transition{Up: false, Weight: -1} }
func upW(w int) *Transition      { return &Transition{Up: true, Weight: w} }
func lines(s ...string) []string { return s }

const (
	loop = 10 * time.Second
	dbr  = 1 * time.Second
)

func TestTCPDecisions(t *testing.T) {
	c := config.Check{Kind: config.CheckTCP, Retry: 2, DelayLoop: loop, DelayBeforeRetry: dbr, ConnectTimeout: time.Second}
	const srv = "[10.0.0.11]:tcp:80"
	t.Run("retries then down, retried while down, back at once", func(t *testing.T) {
		runSteps(t, c, rs1T, true, &scripted{}, []step{
			{ok: true, wantNext: loop, wantUp: true, wantLogs: lines("TCP connection to " + srv + " success.")},
			{ok: true, wantNext: loop, wantUp: true},
			{wantNext: dbr, wantUp: true},
			{wantNext: dbr, wantUp: true},
			{wantNext: loop, wantUp: false, wantChange: down(), wantLogs: lines("TCP_CHECK on service " + srv + " failed after 2 retries.")},
			{wantNext: dbr, wantUp: false}, // TCP_CHECK retries a down server too
			{wantNext: dbr, wantUp: false},
			{wantNext: loop, wantUp: false},
			{ok: true, wantNext: loop, wantUp: true, wantChange: upW(-1), wantLogs: lines("TCP connection to " + srv + " success.")},
		})
	})
	t.Run("first check fails: down at once", func(t *testing.T) {
		runSteps(t, c, rs1T, true, &scripted{}, []step{
			{wantNext: loop, wantUp: false, wantChange: down(), wantLogs: lines("TCP_CHECK on service " + srv + " failed.")},
		})
	})
	t.Run("alpha: starts down, first success brings it up", func(t *testing.T) {
		runSteps(t, c, rs1T, false, &scripted{}, []step{
			{ok: true, wantNext: loop, wantUp: true, wantChange: upW(-1), wantLogs: lines("TCP connection to " + srv + " success.")},
		})
	})
	t.Run("alpha: first failure is logged, no transition", func(t *testing.T) {
		runSteps(t, c, rs1T, false, &scripted{}, []step{
			{wantNext: loop, wantUp: false, wantLogs: lines("TCP_CHECK on service " + srv + " failed.")},
		})
	})
	t.Run("retry 0", func(t *testing.T) {
		c := c
		c.Retry = 0
		runSteps(t, c, rs1T, true, &scripted{}, []step{
			{ok: true, wantNext: loop, wantUp: true, wantLogs: lines("TCP connection to " + srv + " success.")},
			{wantNext: loop, wantUp: false, wantChange: down(), wantLogs: lines("TCP_CHECK on service " + srv + " failed.")},
		})
	})
}

func TestUDPAndPingDecisions(t *testing.T) {
	udpT := Target{Addr: rs1, Port: 53, Proto: vs.UDP, Service: config.ServiceKey{Proto: vs.UDP, Addr: vip, Port: 53}}
	for _, tc := range []struct {
		kind                   config.CheckKind
		target                 Target
		success, after, failed string
	}{
		{config.CheckUDP, udpT,
			"UDP connection to [10.0.0.11]:udp:53 success.",
			"UDP_CHECK on service [10.0.0.11]:udp:53 failed after 1 retries.",
			"UDP_CHECK on service [10.0.0.11]:udp:53 failed."},
		{config.CheckPing, rs1T,
			"ICMP connection to [10.0.0.11]:tcp:80 success.",
			"ICMP CHECK on service [10.0.0.11]:tcp:80 of [10.0.0.100]:tcp:80 failed after 1 retries.",
			"ICMP CHECK on service [10.0.0.11]:tcp:80 failed."},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			c := config.Check{Kind: tc.kind, Retry: 1, DelayLoop: loop, DelayBeforeRetry: dbr}
			runSteps(t, c, tc.target, true, &scripted{}, []step{
				{ok: true, wantNext: loop, wantUp: true, wantLogs: lines(tc.success)},
				{wantNext: dbr, wantUp: true},
				{wantNext: loop, wantUp: false, wantChange: down(), wantLogs: lines(tc.after)},
				{wantNext: loop, wantUp: false}, // no retries while down
				{ok: true, wantNext: loop, wantUp: true, wantChange: upW(-1), wantLogs: lines(tc.success)},
			})
			runSteps(t, c, tc.target, true, &scripted{}, []step{
				{wantNext: loop, wantUp: false, wantChange: down(), wantLogs: lines(tc.failed)},
			})
		})
	}
}

func TestHTTPDecisions(t *testing.T) {
	target := Target{Addr: rs1, Port: 8081, Proto: vs.TCP, Service: config.ServiceKey{Proto: vs.TCP, Addr: vip, Port: 8081}}
	const srv = "[10.0.0.11]:tcp:8081"
	hloop, hdbr := 2*time.Second, 3*time.Second
	c := config.Check{Kind: config.CheckHTTP, Retry: 1, DelayLoop: hloop, DelayBeforeRetry: hdbr,
		URLs: []config.URL{{Path: "/health"}}}
	t.Run("as the oracle: down after 1 retry, back after two GETs", func(t *testing.T) {
		runSteps(t, c, target, true, &scripted{}, []step{
			{ok: true, wantNext: hloop, wantUp: true, wantLogs: lines("Remote Web server " + srv + " succeed on service.")},
			{ok: true, wantNext: hloop, wantUp: true},
			{wantNext: hdbr, wantUp: true},
			{wantNext: hdbr, wantUp: false, wantChange: down(), wantLogs: lines("HTTP_CHECK on service " + srv + " failed after 1 retries.")},
			{wantNext: hdbr, wantUp: false},
			{ok: true, wantNext: hloop, wantUp: false, wantLogs: lines("HTTP status code success to " + srv + " url(/health)")},
			{ok: true, wantNext: hloop, wantUp: true, wantChange: upW(-1), wantLogs: lines(
				"HTTP status code success to "+srv+" url(/health)",
				"Remote Web server "+srv+" succeed on service.")},
		})
	})
	t.Run("first GET fails: down at once, logged with the retry count", func(t *testing.T) {
		runSteps(t, c, target, true, &scripted{}, []step{
			{wantNext: hdbr, wantUp: false, wantChange: down(), wantLogs: lines("HTTP_CHECK on service " + srv + " failed after 1 retries.")},
		})
	})
	t.Run("two urls, one per delay_loop; digest wording", func(t *testing.T) {
		c := c
		c.URLs = []config.URL{{Path: "/a"}, {Path: "/b", Digest: "0123456789abcdef0123456789abcdef"}}
		runSteps(t, c, target, true, &scripted{}, []step{
			{ok: true, wantNext: hloop, wantUp: true},
			{ok: true, wantNext: hloop, wantUp: true, wantLogs: lines("Remote Web server " + srv + " succeed on service.")},
			{ok: true, wantNext: hloop, wantUp: true}, // /a
			{wantNext: hdbr, wantUp: true},            // /b fails, retry
			{wantNext: hdbr, wantUp: false, wantChange: down(), wantLogs: lines("HTTP_CHECK on service " + srv + " failed after 1 retries.")},
			{ok: true, wantNext: hloop, wantUp: false, wantLogs: lines("MD5 digest success to " + srv + " url(/b)")},
			{ok: true, wantNext: hloop, wantUp: false, wantLogs: lines("HTTP status code success to " + srv + " url(/a)")},
			{ok: true, wantNext: hloop, wantUp: true, wantChange: upW(-1), wantLogs: lines(
				"MD5 digest success to "+srv+" url(/b)",
				"Remote Web server "+srv+" succeed on service.")},
		})
	})
	t.Run("retry 0", func(t *testing.T) {
		c := c
		c.Retry = 0
		runSteps(t, c, target, true, &scripted{}, []step{
			{ok: true, wantNext: hloop, wantUp: true, wantLogs: lines("Remote Web server " + srv + " succeed on service.")},
			{wantNext: hdbr, wantUp: false, wantChange: down(), wantLogs: lines("HTTP_CHECK on service " + srv + " failed.")},
		})
	})
}

func TestSMTPDecisions(t *testing.T) {
	target := Target{Addr: rs1, Port: 25, Proto: vs.TCP, Service: config.ServiceKey{Proto: vs.TCP, Addr: vip, Port: 25}}
	c := config.Check{Kind: config.CheckSMTP, Retry: 1, DelayLoop: loop, DelayBeforeRetry: dbr}
	const bad = "Error connecting to server [10.0.0.11]:25"
	runSteps(t, c, target, true, &scripted{}, []step{
		// SMTP_CHECK starts each round with a fresh retry count, even the first.
		{err: bad, wantNext: dbr, wantUp: true},
		{err: bad, wantNext: loop, wantUp: false, wantChange: down(), wantLogs: lines("SMTP_CHECK " + bad)},
		{err: bad, wantNext: dbr, wantUp: false},
		{err: bad, wantNext: loop, wantUp: false},
		{ok: true, wantNext: loop, wantUp: true, wantChange: upW(-1), wantLogs: lines("Remote SMTP server [10.0.0.11]:tcp:25 succeed on service.")},
		{ok: true, wantNext: loop, wantUp: true},
	})
}

func TestDNSDecisions(t *testing.T) {
	target := Target{Addr: rs1, Port: 53, Proto: vs.UDP, Service: config.ServiceKey{Proto: vs.UDP, Addr: vip, Port: 53}}
	c := config.Check{Kind: config.CheckDNS, Retry: 1, DelayLoop: loop, DelayBeforeRetry: dbr}
	const to = "read timeout from socket"
	runSteps(t, c, target, true, &scripted{}, []step{
		{err: to, wantNext: loop, wantUp: false, wantChange: down(), wantLogs: lines("DNS_CHECK ([10.0.0.11]:udp:53) " + to)},
		{ok: true, wantNext: loop, wantUp: true, wantChange: upW(-1)}, // keepalived logs no success
		{err: to, wantNext: dbr, wantUp: true},
		{err: to, wantNext: loop, wantUp: false, wantChange: down(), wantLogs: lines("DNS_CHECK ([10.0.0.11]:udp:53) " + to + " after 1 retries")},
		{err: to, wantNext: loop, wantUp: false},
	})
}

func TestNannyDecisions(t *testing.T) {
	c := config.Check{Kind: config.CheckNanny, Timeout: 2 * time.Second, Reentry: 6 * time.Second}
	const iv = 2 * time.Second
	runSteps(t, c, rs1T, false, &scripted{}, []step{
		{ok: true, wantNext: iv, wantUp: true, wantChange: upW(-1), wantLogs: lines("making 10.0.0.11:80 available")},
		{ok: true, wantNext: iv, wantUp: true},
		{wantNext: iv, wantUp: false, wantChange: down(), wantLogs: lines("shutting down 10.0.0.11:80 due to connection failure")},
		{ok: true, wantNext: iv, wantUp: false},
		{ok: true, wantNext: iv, wantUp: false},
		{wantNext: iv, wantUp: false}, // the count starts again
		{ok: true, wantNext: iv, wantUp: false},
		{ok: true, wantNext: iv, wantUp: false},
		{ok: true, wantNext: iv, wantUp: true, wantChange: upW(-1), wantLogs: lines("making 10.0.0.11:80 available")},
	})
}

func TestNewCheckerRefuses(t *testing.T) {
	base := config.Check{DelayLoop: time.Second, ConnectTimeout: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*config.Check)
	}{
		{"invalid kind", func(c *config.Check) { c.Kind = config.CheckInvalid }},
		{"zero delay_loop", func(c *config.Check) { c.Kind = config.CheckTCP; c.DelayLoop = 0 }},
		{"negative retry", func(c *config.Check) { c.Kind = config.CheckTCP; c.Retry = -1 }},
		{"http protocol 0.9", func(c *config.Check) {
			c.Kind = config.CheckHTTP
			c.HTTPProtocol = "0.9"
			c.URLs = []config.URL{{Path: "/"}}
		}},
		{"bad digest", func(c *config.Check) {
			c.Kind = config.CheckHTTP
			c.URLs = []config.URL{{Path: "/", Digest: "xyz"}}
		}},
		{"dns type", func(c *config.Check) { c.Kind = config.CheckDNS; c.DNSType = "SRV" }},
		{"dns label", func(c *config.Check) {
			c.Kind = config.CheckDNS
			c.DNSName = string(make([]byte, 64)) + ".example"
		}},
		{"misc without path", func(c *config.Check) { c.Kind = config.CheckMisc }},
		{"misc unknown user", func(c *config.Check) {
			c.Kind = config.CheckMisc
			c.MiscPath = []string{"/bin/true"}
			c.User = "no-such-user-ulvs"
		}},
		{"nanny bad regex", func(c *config.Check) { c.Kind = config.CheckNanny; c.UseRegex = true; c.Expect = "(" }},
		{"nanny program without expect", func(c *config.Check) { c.Kind = config.CheckNanny; c.SendProgram = "/bin/true" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			if _, err := NewChecker(c, rs1T, nil, true, nil); err == nil {
				t.Errorf("NewChecker accepted %+v", c)
			}
		})
	}
	if _, err := NewChecker(config.Check{Kind: config.CheckTCP, DelayLoop: time.Second}, Target{}, nil, true, nil); err == nil {
		t.Error("NewChecker accepted a target without an address")
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{FormatServer(rs1, 80, vs.TCP), "[10.0.0.11]:tcp:80"},
		{FormatServer(netip.MustParseAddr("2001:db8::1"), 53, vs.UDP), "[2001:db8::1]:udp:53"},
		{FormatVS(vsA), "[10.0.0.100]:tcp:80"},
		{FormatVS(config.ServiceKey{Proto: vs.TCP, FwMark: 21}), "FWM 21"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestRunTiming runs a real TCP checker on a short clock: a stopped
// server is removed after delay_loop + retry × delay_before_retry, and a
// restarted one comes back at the next check.
func TestRunTiming(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	go acceptAndClose(ln)
	c := config.Check{Kind: config.CheckTCP, Retry: 2, DelayLoop: 40 * time.Millisecond,
		DelayBeforeRetry: 10 * time.Millisecond, ConnectTimeout: 200 * time.Millisecond, Warmup: 20 * time.Millisecond}
	target := Target{Addr: addr.Addr(), Port: addr.Port(), Proto: vs.TCP}
	ck, changes := startChecker(t, c, target, &Env{Slots: make(chan struct{}, 1)})
	ln.Close()
	stopped := time.Now()
	tr := waitChange(t, changes)
	if tr.Up {
		t.Fatalf("got %+v, want down", tr)
	}
	// Worst case: a whole delay_loop before the next check, two retries.
	if d := time.Since(stopped); d > 40*time.Millisecond+2*10*time.Millisecond+150*time.Millisecond {
		t.Errorf("removed after %v", d)
	}
	ln2, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Skipf("cannot listen on %v again: %v", addr, err)
	}
	defer ln2.Close()
	go acceptAndClose(ln2)
	if tr := waitChange(t, changes); !tr.Up {
		t.Fatalf("got %+v, want up", tr)
	}
	st := ck.Status()
	if !st.Up || st.Transitions != 2 || st.Kind != "TCP_CHECK" {
		t.Errorf("status %+v", st)
	}
}

// startChecker runs a checker (initially up) until the test ends and
// waits for its first probe; changes receives its transitions.
func startChecker(t *testing.T, c config.Check, target Target, env *Env) (*Checker, <-chan Transition) {
	t.Helper()
	changes := make(chan Transition, 4)
	ck, err := NewChecker(c, target, env, true, func(tr Transition) { changes <- tr })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ck.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, func() bool { return ck.Status().HasRun }, "first probe")
	return ck, changes
}

func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func waitChange(t *testing.T, ch <-chan Transition) Transition {
	t.Helper()
	select {
	case tr := <-ch:
		return tr
	case <-time.After(2 * time.Second):
		t.Fatal("no transition within 2s")
	}
	return Transition{}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 2s", what)
}

// TestSlotsBoundProbes checks that a checker waits for a free slot.
func TestSlotsBoundProbes(t *testing.T) {
	slots := make(chan struct{}, 1)
	slots <- struct{}{} // taken by someone else
	p := &countingProber{}
	c := config.Check{Kind: config.CheckTCP, DelayLoop: 5 * time.Millisecond}
	ck, err := newChecker(c, rs1T, &Env{Slots: slots}, true, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ck.Run(ctx); close(done) }()
	time.Sleep(30 * time.Millisecond)
	if n := p.n.Load(); n != 0 {
		t.Errorf("%d probes ran without a slot", n)
	}
	<-slots
	waitFor(t, func() bool { return p.n.Load() > 0 }, "probe after the slot freed")
	cancel()
	<-done
}

type countingProber struct{ n atomic.Int64 }

func (p *countingProber) probe(context.Context) Result {
	p.n.Add(1)
	return Result{OK: true}
}

// TestRunHTTPRise runs a real HTTP_GET on a short clock: a 404 removes
// the server after its retry, and it returns only after two good GETs.
func TestRunHTTPRise(t *testing.T) {
	var status atomic.Int32
	var gets atomic.Int32
	status.Store(200)
	ln := serveTCP(t, func(c net.Conn) {
		buf := make([]byte, 1024)
		c.Read(buf)
		gets.Add(1)
		fmt.Fprintf(c, "HTTP/1.0 %d X\r\n\r\n", status.Load())
	})
	target := targetOf(t, ln.Addr(), vs.TCP)
	c := config.Check{Kind: config.CheckHTTP, Retry: 1, DelayLoop: 30 * time.Millisecond, DelayBeforeRetry: 10 * time.Millisecond,
		ConnectTimeout: 200 * time.Millisecond, URLs: []config.URL{{Path: "/health"}}}
	rec := &logRecorder{}
	_, changes := startChecker(t, c, target, &Env{Log: newTestLogger(rec)})
	status.Store(404)
	if tr := waitChange(t, changes); tr.Up || tr.Result.Err != "HTTP status 404" {
		t.Fatalf("got %+v, want down on a 404", tr)
	}
	before := gets.Load()
	status.Store(200)
	if tr := waitChange(t, changes); !tr.Up {
		t.Fatalf("got %+v, want up", tr)
	}
	if n := gets.Load() - before; n < 2 {
		t.Errorf("back after %d GETs, want 2", n)
	}
	srv := "[" + target.Addr.String() + "]:tcp:" + strconv.Itoa(int(target.Port))
	want := []string{
		"Remote Web server " + srv + " succeed on service.",
		"HTTP_CHECK on service " + srv + " failed after 1 retries.",
		"HTTP status code success to " + srv + " url(/health)",
		"HTTP status code success to " + srv + " url(/health)",
		"Remote Web server " + srv + " succeed on service.",
	}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}
