package healthcheck

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// fakeEditor is the director's edit API over plain Rules.
type fakeEditor struct {
	mu    sync.Mutex
	rules config.Rules
	edits []string
}

func (e *fakeEditor) Apply(c config.Command) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.edits = append(e.edits, fmt.Sprintf("%v %v w%d", c.Op, netip.AddrPortFrom(c.Dest.Addr, c.Dest.Port), c.Dest.Weight))
	r := cloneRules(e.rules)
	if err := r.Apply(c); err != nil {
		return err
	}
	e.rules = r
	return nil
}

func (e *fakeEditor) Rules() config.Rules {
	e.mu.Lock()
	defer e.mu.Unlock()
	return cloneRules(e.rules)
}

func (e *fakeEditor) install(r config.Rules) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = cloneRules(r)
	return nil
}

// dests lists service 0's dests as "addr:port/weight" in table order.
func (e *fakeEditor) dests() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, d := range e.rules.Services[0].Dests {
		out = append(out, fmt.Sprintf("%v/%d", netip.AddrPortFrom(d.Addr, d.Port), d.Weight))
	}
	return strings.Join(out, " ")
}

func cloneRules(r config.Rules) config.Rules {
	out := config.Rules{Services: slices.Clone(r.Services)}
	for i := range out.Services {
		out.Services[i].Dests = slices.Clone(out.Services[i].Dests)
	}
	return out
}

// fakeChecker is a Runner whose verdicts the test sets.
type fakeChecker struct {
	c        config.Check
	t        Target
	onChange func(Transition)
	mu       sync.Mutex
	up       bool
	running  bool
}

func (f *fakeChecker) Run(ctx context.Context) {
	f.mu.Lock()
	f.running = true
	f.mu.Unlock()
	<-ctx.Done()
	f.mu.Lock()
	f.running = false
	f.mu.Unlock()
}

func (f *fakeChecker) Status() CheckStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return CheckStatus{Kind: f.c.Kind.String(), Addr: f.t.Addr, Port: f.t.Port, Up: f.up}
}

func (f *fakeChecker) Up() bool { return f.Status().Up }

func (f *fakeChecker) waitRunning(t *testing.T) {
	t.Helper()
	for i := 0; i < 200; i++ {
		f.mu.Lock()
		running := f.running
		f.mu.Unlock()
		if running {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("checker of %v never ran", f.t.Addr)
}

// set reports a verdict as a real checker would (only changes).
func (f *fakeChecker) set(up bool, weight int) {
	f.mu.Lock()
	changed := f.up != up || weight >= 0
	f.up = up
	f.mu.Unlock()
	if changed {
		f.onChange(Transition{Up: up, Weight: weight})
	}
}

type rig struct {
	t        *testing.T
	ed       *fakeEditor
	log      *logRecorder
	mon      *Monitor
	checkers map[string][]*fakeChecker // by "addr:port", newest last
	created  int
	scripts  chan string
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, ed: &fakeEditor{}, log: &logRecorder{}, checkers: map[string][]*fakeChecker{}, scripts: make(chan string, 16)}
	r.mon = New(Config{
		Editor: r.ed,
		Logger: slog.New(r.log),
		NewChecker: func(c config.Check, tg Target, _ *Env, up bool, onChange func(Transition)) (Runner, error) {
			f := &fakeChecker{c: c, t: tg, up: up, onChange: onChange}
			k := netip.AddrPortFrom(tg.Addr, tg.Port).String()
			r.checkers[k] = append(r.checkers[k], f)
			r.created++
			return f, nil
		},
		RunScript: func(_ context.Context, s config.Script, _ time.Duration) (int, error) {
			r.scripts <- s.Text
			return 0, nil
		},
	})
	return r
}

func (r *rig) load(f *config.File) {
	r.t.Helper()
	if err := r.mon.Load(f, r.ed.install); err != nil {
		r.t.Fatalf("Load: %v", err)
	}
}

// chk returns the newest checker i of server s.
func (r *rig) chk(s string, i int) *fakeChecker {
	r.t.Helper()
	cs := r.checkers[s]
	if len(cs) <= i {
		r.t.Fatalf("no checker %d for %s", i, s)
	}
	return cs[len(cs)-1-i]
}

func (r *rig) wantLog(want ...string) {
	r.t.Helper()
	got := r.log.take()
	if !slices.Equal(got, want) {
		r.t.Errorf("log:\n got %q\nwant %q", got, want)
	}
}

func (r *rig) wantDests(want string) {
	r.t.Helper()
	if got := r.ed.dests(); got != want {
		r.t.Errorf("table dests: got %q, want %q", got, want)
	}
}

func (r *rig) wantScript(want string) {
	r.t.Helper()
	select {
	case got := <-r.scripts:
		if got != want {
			r.t.Errorf("script: got %q, want %q", got, want)
		}
	case <-time.After(2 * time.Second):
		r.t.Errorf("script %q did not run", want)
	}
}

var (
	rs2  = netip.MustParseAddr("10.0.0.12")
	rs3  = netip.MustParseAddr("10.0.0.13")
	tcp1 = config.Check{Kind: config.CheckTCP, ConnectTimeout: time.Second, Retry: 2, DelayBeforeRetry: time.Second, DelayLoop: 2 * time.Second}
)

const vsAName = "[10.0.0.100]:tcp:80"

// file is one NAT service on VIP:80 with rs1 and rs2, weight 1, each with
// the given checks; edit adjusts the health part.
func file(checks []config.Check, edit func(*config.VirtualHealth)) *config.File {
	svc := config.Service{Proto: vs.TCP, Addr: vip, Port: 80, Scheduler: "rr"}
	vh := config.VirtualHealth{Service: svc.Key(), DelayLoop: 2 * time.Second, Quorum: 1}
	for _, a := range []netip.Addr{rs1, rs2} {
		svc.Dests = append(svc.Dests, config.Dest{Addr: a, Port: 80, Method: vs.Masq, Weight: 1})
		vh.Reals = append(vh.Reals, config.RealHealth{Addr: a, Port: 80, Checks: slices.Clone(checks)})
	}
	if edit != nil {
		edit(&vh)
	}
	return &config.File{Rules: config.Rules{Services: []config.Service{svc}}, Health: []config.VirtualHealth{vh}}
}

func TestMonitorRemovesAndAddsBack(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, nil))
	r.wantLog("Gained quorum 1+0=1 <= 2 for VS " + vsAName)
	r.wantDests("10.0.0.11:80/1 10.0.0.12:80/1")

	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.wantLog("Removing service [10.0.0.11]:tcp:80 from VS " + vsAName)
	r.wantDests("10.0.0.12:80/1")

	r.chk("10.0.0.11:80", 0).set(true, -1)
	r.wantLog("Adding service [10.0.0.11]:tcp:80 to VS " + vsAName)
	r.wantDests("10.0.0.12:80/1 10.0.0.11:80/1")
}

func TestMonitorInhibitOnFailure(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) {
		for i := range vh.Reals {
			vh.Reals[i].Inhibit = true
		}
	}))
	r.log.take()
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.wantLog("Disabling service [10.0.0.11]:tcp:80 of VS " + vsAName)
	r.wantDests("10.0.0.11:80/0 10.0.0.12:80/1")
	r.chk("10.0.0.11:80", 0).set(true, -1)
	r.wantLog("Enabling service [10.0.0.11]:tcp:80 of VS " + vsAName)
	r.wantDests("10.0.0.11:80/1 10.0.0.12:80/1")
}

// The oracle's sorry-server run (keepalived-sorry.log): both servers die,
// the sorry server takes over; rs1 returns and the sorry server leaves.
func TestMonitorSorryServer(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) {
		vh.Sorry = &config.SorryServer{Addr: rs3, Port: 80}
	}))
	r.log.take()
	r.chk("10.0.0.12:80", 0).set(false, -1)
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.wantLog(
		"Removing service [10.0.0.12]:tcp:80 from VS "+vsAName,
		"Removing service [10.0.0.11]:tcp:80 from VS "+vsAName,
		"Lost quorum 1-0=1 > 0 for VS "+vsAName,
		"Adding sorry server [10.0.0.13]:tcp:80 to VS "+vsAName,
		"Removing alive servers from the pool for VS "+vsAName,
	)
	r.wantDests("10.0.0.13:80/1")
	r.chk("10.0.0.11:80", 0).set(true, -1)
	r.wantLog(
		"Adding service [10.0.0.11]:tcp:80 to VS "+vsAName,
		"Gained quorum 1+0=1 <= 1 for VS "+vsAName,
		"Removing sorry server [10.0.0.13]:tcp:80 from VS "+vsAName,
		"Adding alive servers to the pool for VS "+vsAName,
	)
	r.wantDests("10.0.0.11:80/1")
}

// The oracle's quorum run: without a sorry server, losing quorum changes
// nothing but the failed server, and runs quorum_down.
func TestMonitorQuorum(t *testing.T) {
	r := newRig(t)
	up, down := config.Script{Argv: []string{"/usr/bin/touch", "/tmp/up"}, Text: "/usr/bin/touch /tmp/up"},
		config.Script{Argv: []string{"/usr/bin/touch", "/tmp/down"}, Text: "/usr/bin/touch /tmp/down"}
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) {
		vh.Quorum, vh.QuorumUp, vh.QuorumDown = 2, up, down
	}))
	r.wantLog("Gained quorum 2+0=2 <= 2 for VS " + vsAName)
	r.wantScript(up.Text)
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.wantLog(
		"Removing service [10.0.0.11]:tcp:80 from VS "+vsAName,
		"Lost quorum 2-0=2 > 1 for VS "+vsAName,
	)
	r.wantScript(down.Text)
	r.wantDests("10.0.0.12:80/1")
	r.chk("10.0.0.11:80", 0).set(true, -1)
	r.wantLog(
		"Adding service [10.0.0.11]:tcp:80 to VS "+vsAName,
		"Gained quorum 2+0=2 <= 2 for VS "+vsAName,
	)
	r.wantScript(up.Text)
}

func TestMonitorHysteresis(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) {
		vh.Quorum, vh.Hysteresis = 2, 1
		for i := range vh.Reals {
			vh.Reals[i].Checks = []config.Check{tcp1}
		}
	}))
	// weight 2 < quorum+hysteresis 3: no quorum at start.
	r.wantLog()
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.wantLog("Removing service [10.0.0.11]:tcp:80 from VS " + vsAName)
}

func TestMonitorSeveralCheckers(t *testing.T) {
	r := newRig(t)
	http := config.Check{Kind: config.CheckHTTP, DelayLoop: time.Second}
	r.load(file([]config.Check{tcp1, http}, nil))
	r.log.take()
	a, b := r.chk("10.0.0.11:80", 1), r.chk("10.0.0.11:80", 0)
	a.set(false, -1)
	b.set(false, -1)
	r.wantLog("Removing service [10.0.0.11]:tcp:80 from VS " + vsAName)
	a.set(true, -1)
	r.wantLog() // still one checker down
	r.wantDests("10.0.0.12:80/1")
	b.set(true, -1)
	r.wantLog("Adding service [10.0.0.11]:tcp:80 to VS " + vsAName)
}

func TestMonitorMiscDynamicWeight(t *testing.T) {
	r := newRig(t)
	misc := config.Check{Kind: config.CheckMisc, MiscDynamic: true, DelayLoop: time.Second}
	r.load(file([]config.Check{misc}, nil))
	r.log.take()
	r.chk("10.0.0.11:80", 0).set(true, 5)
	r.wantLog("Changing weight from 1 to 5 for active service [10.0.0.11]:tcp:80 of VS " + vsAName)
	r.wantDests("10.0.0.11:80/5 10.0.0.12:80/1")
}

func TestMonitorNotifyScripts(t *testing.T) {
	r := newRig(t)
	up := config.Script{Argv: []string{"/bin/up"}, Text: "/bin/up"}
	down := config.Script{Argv: []string{"/bin/down", "rs1"}, Text: "/bin/down rs1"}
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) {
		vh.Reals[0].NotifyUp, vh.Reals[0].NotifyDown = up, down
	}))
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.wantScript(down.Text)
	r.chk("10.0.0.11:80", 0).set(true, -1)
	r.wantScript(up.Text)
}

func TestMonitorAlpha(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) { vh.Alpha = true }))
	r.wantLog()
	r.wantDests("")
	r.chk("10.0.0.12:80", 0).set(true, -1)
	r.wantLog(
		"Adding service [10.0.0.12]:tcp:80 to VS "+vsAName,
		"Gained quorum 1+0=1 <= 1 for VS "+vsAName,
	)
	r.wantDests("10.0.0.12:80/1")
}

// A reload keeps the verdicts and checkers of unchanged servers: a down
// server is not re-added, and nothing flaps.
func TestMonitorReloadKeepsState(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.load(file([]config.Check{tcp1}, nil))
	done := make(chan error)
	go func() { done <- r.mon.Run(ctx) }()
	for _, k := range []string{"10.0.0.11:80", "10.0.0.12:80"} {
		r.chk(k, 0).waitRunning(t)
	}
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.log.take()
	created := r.created

	r.load(file([]config.Check{tcp1}, nil))
	r.wantDests("10.0.0.12:80/1")
	if r.created != created {
		t.Errorf("reload created %d checkers for unchanged servers", r.created-created)
	}
	r.wantLog()

	// rs2's check changes: a new checker replaces the old one, whose
	// late reports are ignored.
	old := r.chk("10.0.0.12:80", 0)
	tcp2 := tcp1
	tcp2.ConnectPort = 8080
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) { vh.Reals[1].Checks = []config.Check{tcp2} }))
	if r.created != created+1 {
		t.Errorf("reload created %d checkers, want 1", r.created-created)
	}
	r.wantLog("Activating healthchecker for service [10.0.0.12]:tcp:80 for VS " + vsAName)
	old.set(false, -1)
	r.wantLog()
	r.wantDests("10.0.0.12:80/1")
	cancel()
	<-done
}

func TestMonitorLeavesHandAddedDests(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, nil))
	svc := r.ed.Rules().Services[0]
	svc.Dests = nil
	if err := r.ed.Apply(config.Command{Op: config.OpAddDest, Service: svc, HasService: true,
		Dest: config.Dest{Addr: rs3, Port: 80, Method: vs.Masq, Weight: 1}}); err != nil {
		t.Fatal(err)
	}
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.wantDests("10.0.0.12:80/1 10.0.0.13:80/1")
}

func TestMonitorStatus(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) {
		vh.Sorry = &config.SorryServer{Addr: rs3, Port: 80}
	}))
	r.chk("10.0.0.11:80", 0).set(false, -1)
	st := r.mon.Status()
	if len(st) != 1 || len(st[0].Reals) != 2 {
		t.Fatalf("Status: %+v", st)
	}
	if st[0].Reals[0].Alive || !st[0].Reals[1].Alive || !st[0].QuorumUp || st[0].Sorry.Addr() != rs3 {
		t.Errorf("Status: %+v", st[0])
	}
	if c := st[0].Reals[0].Checks; len(c) != 1 || c[0].Kind != "TCP_CHECK" || c[0].Up {
		t.Errorf("checks: %+v", c)
	}
}

// omega: a service that goes away (here: ulvsd stops) runs notify_down of
// its alive servers and quorum_down.
func TestMonitorOmega(t *testing.T) {
	r := newRig(t)
	down := config.Script{Argv: []string{"/bin/down"}, Text: "/bin/down"}
	qdown := config.Script{Argv: []string{"/bin/qdown"}, Text: "/bin/qdown"}
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) {
		vh.Omega, vh.QuorumDown = true, qdown
		vh.Reals[0].NotifyDown = down
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.mon.Run(ctx) }()
	r.chk("10.0.0.11:80", 0).waitRunning(t)
	cancel()
	<-done
	got := []string{<-r.scripts, <-r.scripts}
	slices.Sort(got)
	if !slices.Equal(got, []string{"/bin/down", "/bin/qdown"}) {
		t.Errorf("scripts at stop: %q", got)
	}
}

// Configured undoes the checks' verdicts for --save-config: the down
// server is back with its weight, the sorry server is gone, a dest added
// by hand stays.
func TestMonitorConfigured(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, func(vh *config.VirtualHealth) {
		vh.Sorry = &config.SorryServer{Addr: rs3, Port: 80}
	}))
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.chk("10.0.0.12:80", 0).set(false, -1)
	r.wantDests("10.0.0.13:80/1")
	live := r.ed.Rules()
	svc := live.Services[0]
	svc.Dests = nil
	hand := config.Dest{Addr: netip.MustParseAddr("10.0.0.14"), Port: 80, Method: vs.Masq, Weight: 2}
	if err := live.Apply(config.Command{Op: config.OpAddDest, Service: svc, HasService: true, Dest: hand}); err != nil {
		t.Fatal(err)
	}
	if got, want := destsText(r.mon.Configured(live).Services[0].Dests), "10.0.0.11:80/1 10.0.0.12:80/1 10.0.0.14:80/2"; got != want {
		t.Errorf("Configured: %q, want %q", got, want)
	}
}

// destsText writes dests as "ADDR:PORT/WEIGHT ...".
func destsText(ds []config.Dest) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%v/%d", netip.AddrPortFrom(d.Addr, d.Port), d.Weight))
	}
	return strings.Join(s, " ")
}

// TestMonitorConfiguredHandEdits: what the administrator changed by hand
// on servers that are up is kept (a weight edited, a server deleted); the
// servers the checks hold down come back as configured.
func TestMonitorConfiguredHandEdits(t *testing.T) {
	r := newRig(t)
	r.load(file([]config.Check{tcp1}, nil))
	r.chk("10.0.0.12:80", 0).set(false, -1)
	live := r.ed.Rules()
	svc := live.Services[0]
	svc.Dests = nil
	var up config.Dest
	for _, d := range live.Services[0].Dests {
		if d.Addr == netip.MustParseAddr("10.0.0.11") {
			up = d
		}
	}
	up.Weight = 7
	if err := live.Apply(config.Command{Op: config.OpEditDest, Service: svc, HasService: true, Dest: up}); err != nil {
		t.Fatal(err)
	}
	if got, want := destsText(r.mon.Configured(live).Services[0].Dests), "10.0.0.11:80/7 10.0.0.12:80/1"; got != want {
		t.Errorf("Configured after a weight edit: %q, want %q", got, want)
	}
	if err := live.Apply(config.Command{Op: config.OpDelDest, Service: svc, HasService: true, Dest: up}); err != nil {
		t.Fatal(err)
	}
	got := r.mon.Configured(live).Services[0].Dests
	if len(got) != 1 || got[0].Addr != netip.MustParseAddr("10.0.0.12") {
		t.Errorf("Configured after deleting the server that is up: %+v, want the down 10.0.0.12 only", got)
	}
}

// quiesce_server (nanny) holds a failed server at weight 0, as nanny.c.
func TestMonitorQuiesceServer(t *testing.T) {
	r := newRig(t)
	nanny := config.Check{Kind: config.CheckNanny, Send: "quit", Expect: "220", Proto: vs.TCP,
		Timeout: time.Second, Reentry: time.Second, QuiesceServer: true}
	r.load(file([]config.Check{nanny}, nil))
	r.log.take()
	r.chk("10.0.0.11:80", 0).set(false, -1)
	r.wantLog("Disabling service [10.0.0.11]:tcp:80 of VS " + vsAName)
	r.wantDests("10.0.0.11:80/0 10.0.0.12:80/1")
}
