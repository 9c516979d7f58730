package vrrp

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/pkt"
)

// The fakes: a clock the simulation moves, and an in-memory LAN that
// delivers every advert to every other live router at the same instant
// (a discrete-event simulation: no sleeps, exact times).

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

type fakeClock struct{ now *time.Time }

func (c fakeClock) Now() time.Time { return *c.now }
func (c fakeClock) After(d time.Duration) <-chan time.Time {
	panic("the simulation drives the Router directly; Run is not used with fakeClock")
}

// errStopped is what Receive of a closed fake returns.
var errStopped = errors.New("vrrp: transport closed")

type lan struct {
	t     *testing.T
	now   time.Time
	nodes []*node
	queue []frame
	// ttl is the TTL frames carry (255 unless a test changes it).
	ttl uint8
}

type frame struct {
	from *node
	pkt  []byte
	dst  netip.Addr
}

type node struct {
	lan     *lan
	r       *Router
	src     netip.Addr
	alive   bool
	log     bytes.Buffer
	trans   []Transition
	garps   []GARP
	garpAt  []time.Time
	notify  [][]string
	sent    []Advert
	sentDst []netip.Addr
}

// fakeTransport puts sent adverts on the lan.
type fakeTransport struct{ n *node }

func (f fakeTransport) Send(msg []byte, dst netip.Addr) error {
	n := f.n
	var frameBytes []byte
	if msg[0]>>4 == 4 {
		// auth_type AH: the whole IPv4 packet (its TTL is covered by the
		// ICV only for unicast, so the lan's TTL goes in as a router's
		// decrement would).
		ip, err := ParseIPv4(msg)
		if err != nil {
			n.lan.t.Fatalf("router sent an unparsable AH packet %x: %v", msg, err)
		}
		frameBytes = append([]byte(nil), msg...)
		pkt.IPv4(frameBytes).SetTTL(n.lan.ttl)
		pkt.IPv4(frameBytes).ComputeChecksum()
		msg = ip.Payload
	}
	parse, build := Parse, AppendIPv4
	if n.src.Is6() {
		parse, build = Parse6, AppendIPv6
	}
	a, err := parse(msg)
	if err != nil {
		n.lan.t.Fatalf("router sent an unparsable advert %x: %v", msg, err)
	}
	if frameBytes == nil {
		frameBytes = build(nil, n.src, dst, n.lan.ttl, msg)
	}
	n.sent = append(n.sent, a)
	n.sentDst = append(n.sentDst, dst)
	n.lan.queue = append(n.lan.queue, frame{n, frameBytes, dst})
	return nil
}
func (f fakeTransport) Receive([]byte) (int, int, error) { return 0, -1, errStopped }
func (f fakeTransport) Source() netip.Addr               { return f.n.src }
func (f fakeTransport) Close() error                     { return nil }

func newLAN(t *testing.T) *lan { return &lan{t: t, now: t0, ttl: TTL} }

// add creates a router for in at src (not started).
func (l *lan) add(in Instance, src netip.Addr) *node {
	l.t.Helper()
	return l.addIn(in, src, nil)
}

// addIn is add for a member of sync group g (nil: none).
func (l *lan) addIn(in Instance, src netip.Addr, g *Group) *node {
	l.t.Helper()
	n := &node{lan: l, src: src}
	r, err := New(Config{Instance: in, Transport: fakeTransport{n}, Clock: fakeClock{&l.now},
		Log:          slog.New(slog.NewTextHandler(&n.log, nil)),
		OnTransition: func(tr Transition) { n.trans = append(n.trans, tr) },
		OnGARP: func(g GARP) {
			n.garps = append(n.garps, g)
			n.garpAt = append(n.garpAt, l.now)
		},
		RunNotify: func(argv []string) { n.notify = append(n.notify, argv) },
		Group:     g,
	})
	if err != nil {
		l.t.Fatal(err)
	}
	n.r = r
	l.nodes = append(l.nodes, n)
	return n
}

func (n *node) start() {
	n.alive = true
	n.r.do(n.r.start)
	n.lan.deliver()
}

// kill stops the node without a word (SIGKILL).
func (n *node) kill() { n.alive = false }

// stop stops it as SIGTERM does (priority-0 advert when master).
func (n *node) stop() {
	n.r.do(n.r.stop)
	n.alive = false
	n.lan.deliver()
}

func (n *node) state() State { return n.r.Status().State }

// lastChange returns when the node last entered state s.
func (n *node) lastChange(s State) time.Time {
	for i := len(n.trans) - 1; i >= 0; i-- {
		if n.trans[i].To == s {
			return n.trans[i].At
		}
	}
	n.lan.t.Fatalf("%v never entered %v; transitions %+v", n.src, s, n.trans)
	return time.Time{}
}

func (l *lan) deliver() {
	for len(l.queue) > 0 {
		f := l.queue[0]
		l.queue = l.queue[1:]
		for _, n := range l.nodes {
			if n == f.from || !n.alive {
				continue
			}
			if !f.dst.IsMulticast() && f.dst != n.src {
				continue
			}
			n.r.do(func(now time.Time) { n.r.receive(now, f.pkt, -1) })
		}
	}
}

// run advances the clock to until, firing every timer on the way.
func (l *lan) run(until time.Time) {
	for {
		l.deliver()
		var next time.Time
		for _, n := range l.nodes {
			if !n.alive {
				continue
			}
			n.r.mu.Lock()
			d := n.r.deadline()
			n.r.mu.Unlock()
			if !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
		if next.IsZero() || next.After(until) {
			l.now = until
			return
		}
		l.now = next
		for _, n := range l.nodes {
			if n.alive {
				n.r.do(n.r.expire)
			}
		}
	}
}

func (l *lan) runFor(d time.Duration) { l.run(l.now.Add(d)) }

func inst(prio uint8, mod ...func(*Instance)) Instance {
	in := Instance{Name: "VI_1", Interface: "eth0", VRID: 51, Priority: prio, AuthType: AuthPass, AuthPass: "1111",
		VIPs: []VIP{{Prefix: netip.PrefixFrom(vip1, 32)}}}
	for _, m := range mod {
		m(&in)
	}
	return in
}

// pair starts a at srcA and b at srcB and runs the lan for 10 s.
func pair(t *testing.T, ttl uint8, a, b Instance) (*lan, *node, *node) {
	l := newLAN(t)
	l.ttl = ttl
	na, nb := l.add(a, srcA), l.add(b, srcB)
	na.start()
	nb.start()
	l.runFor(10 * time.Second)
	return l, na, nb
}

// skew2 is the v2 Skew_Time of a priority.
func skew2(prio int) time.Duration { return time.Duration(256-prio) * time.Second / 256 }

func TestElectionAndFailover(t *testing.T) {
	l, a, b := pair(t, TTL, inst(150), inst(100))
	if a.state() != StateMaster || b.state() != StateBackup {
		t.Fatalf("states %v %v, want MASTER BACKUP", a.state(), b.state())
	}
	// Nobody was master: the higher priority's shorter down interval wins.
	if got, want := a.lastChange(StateMaster).Sub(t0), 3*time.Second+skew2(150); got != want {
		t.Errorf("A master after %v, want 3 s + skew = %v", got, want)
	}
	if st := b.r.Status(); st.MasterAddr != srcA || st.MasterPriority != 150 {
		t.Errorf("B sees master %v prio %d", st.MasterAddr, st.MasterPriority)
	}

	// SIGKILL: B takes over Master_Down_Interval after A's last advert.
	lastAdvert := l.now.Add(-(l.now.Sub(a.lastChange(StateMaster)) % time.Second))
	a.kill()
	l.runFor(10 * time.Second)
	if b.state() != StateMaster {
		t.Fatalf("B is %v after A died", b.state())
	}
	if got, want := b.lastChange(StateMaster).Sub(lastAdvert), 3*time.Second+skew2(100); got != want {
		t.Errorf("B took over %v after A's last advert, want %v", got, want)
	}
	if !strings.Contains(b.r.Status().Reason, "master down timer") {
		t.Errorf("reason %q", b.r.Status().Reason)
	}

	// A returns and preempts after its own down interval, discarding B's
	// lower-priority adverts.
	back := l.now
	a.start()
	l.runFor(10 * time.Second)
	if a.state() != StateMaster || b.state() != StateBackup {
		t.Fatalf("after A returned: %v %v, want MASTER BACKUP", a.state(), b.state())
	}
	if got, want := a.lastChange(StateMaster).Sub(back), 3*time.Second+skew2(150); got != want {
		t.Errorf("A preempted after %v, want %v", got, want)
	}
	if !strings.Contains(a.log.String(), "received lower priority (100) advert from 10.77.0.3 - discarding") {
		t.Errorf("A's log lacks keepalived's discard line:\n%s", a.log.String())
	}
	if !strings.Contains(b.r.Status().Reason, "higher priority advert from 10.77.0.2") {
		t.Errorf("B's reason %q", b.r.Status().Reason)
	}

	// SIGTERM: a priority-0 advert; B takes over after its skew only.
	stopAt := l.now
	a.stop()
	if last := a.sent[len(a.sent)-1]; last.Priority != 0 {
		t.Errorf("A's last advert has priority %d, want 0", last.Priority)
	}
	if a.state() != StateStop {
		t.Errorf("A is %v after stop", a.state())
	}
	l.runFor(5 * time.Second)
	if got, want := b.lastChange(StateMaster).Sub(stopAt), skew2(100); got != want {
		t.Errorf("B took over %v after the priority-0 advert, want the skew %v", got, want)
	}
}

func TestNoPreempt(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst(150, func(in *Instance) { in.NoPreempt = true }), srcA)
	b := l.add(inst(100), srcB)
	b.start()
	l.runFor(5 * time.Second)
	if b.state() != StateMaster {
		t.Fatalf("B is %v", b.state())
	}
	a.start()
	l.runFor(20 * time.Second)
	if a.state() != StateBackup || b.state() != StateMaster {
		t.Errorf("with nopreempt: A %v B %v, want BACKUP MASTER", a.state(), b.state())
	}
}

func TestPreemptDelay(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst(150, func(in *Instance) { in.PreemptDelay = 5 * time.Second }), srcA)
	b := l.add(inst(100), srcB)
	b.start()
	l.runFor(5 * time.Second)
	back := l.now
	a.start()
	l.runFor(4 * time.Second)
	if a.state() != StateBackup {
		t.Fatalf("A preempted during the delay: %v", a.state())
	}
	l.runFor(20 * time.Second)
	if a.state() != StateMaster {
		t.Fatalf("A never preempted: %v", a.state())
	}
	// The first accepted advert starts the delay; adverts are accepted
	// until it ends, then discarded, and the down timer does the rest.
	took := a.lastChange(StateMaster).Sub(back)
	if lo, hi := 5*time.Second+3*time.Second, 5*time.Second+4*time.Second+skew2(150); took < lo || took > hi {
		t.Errorf("A preempted %v after start, want between %v and %v", took, lo, hi)
	}
}

func TestOwnerTakesOverAtOnce(t *testing.T) {
	l := newLAN(t)
	b := l.add(inst(100), srcB)
	o := l.add(inst(255), srcA)
	b.start()
	l.runFor(5 * time.Second)
	at := l.now
	o.start()
	if o.state() != StateMaster || o.lastChange(StateMaster) != at {
		t.Fatalf("owner is %v", o.state())
	}
	if b.state() != StateBackup {
		t.Errorf("B is %v after the owner's advert", b.state())
	}
}

func TestTieHigherAddressWins(t *testing.T) {
	_, lo, hi := pair(t, TTL, inst(100), inst(100))
	if lo.state() != StateBackup || hi.state() != StateMaster {
		t.Errorf("equal priority: %v (10.77.0.2) %v (10.77.0.3), want BACKUP MASTER", lo.state(), hi.state())
	}
	if !strings.Contains(lo.r.Status().Reason, "same priority 100 but higher IP address") {
		t.Errorf("reason %q", lo.r.Status().Reason)
	}
}

func TestInitialStateMaster(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst(100, func(in *Instance) { in.State = StateMaster }), srcA)
	a.start()
	l.runFor(5 * time.Second)
	// keepalived: one advert interval (plus the minimum skew) to hear a
	// master before taking over.
	if got, want := a.lastChange(StateMaster).Sub(t0), time.Second+skew2(255); got != want {
		t.Errorf("state MASTER became master after %v, want %v", got, want)
	}
}

func TestV3Timers(t *testing.T) {
	v3 := func(adv time.Duration) func(*Instance) {
		return func(in *Instance) { in.Version, in.AdvertInt, in.AuthType, in.AuthPass = V3, adv, AuthNone, "" }
	}
	l := newLAN(t)
	a := l.add(inst(200, v3(500*time.Millisecond)), srcA)
	b := l.add(inst(100, v3(2*time.Second)), srcB)
	a.start()
	l.runFor(3 * time.Second)
	if a.state() != StateMaster {
		t.Fatalf("A is %v", a.state())
	}
	// v3: Skew_Time = (256-Priority) * Master_Adver_Interval / 256, in
	// centiseconds on the wire.
	if got, want := a.lastChange(StateMaster).Sub(t0), 1500*time.Millisecond+56*500*time.Millisecond/256; got != want {
		t.Errorf("v3 down interval %v, want %v", got, want)
	}
	if a.sent[0].Interval != 50 {
		t.Errorf("v3 advert interval %d cs, want 50", a.sent[0].Interval)
	}
	b.start()
	l.runFor(3 * time.Second)
	// B learns the master's 0.5 s interval (RFC 5798 6.4.2), logs the
	// mismatch, and its down interval follows the master's.
	if b.state() != StateBackup || b.r.masterAdverInt != 500*time.Millisecond {
		t.Fatalf("B %v, master interval %v", b.state(), b.r.masterAdverInt)
	}
	if !strings.Contains(b.log.String(), "advertisement interval mismatch ours = 200 centi-sec rcv'd=50 centi-sec") {
		t.Errorf("B's log:\n%s", b.log.String())
	}
	last := l.now.Add(-(l.now.Sub(a.lastChange(StateMaster)) % (500 * time.Millisecond)))
	a.kill()
	l.runFor(5 * time.Second)
	if got, want := b.lastChange(StateMaster).Sub(last), 1500*time.Millisecond+156*500*time.Millisecond/256; got != want {
		t.Errorf("B took over %v after A's last advert, want %v", got, want)
	}
}

func TestGARPSchedule(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst(255, func(in *Instance) {
		in.GARP = GARPConfig{Delay: 5 * time.Second, Repeat: 3, Refresh: 10 * time.Second, RefreshRepeat: 2}
		in.ExcludedVIPs = []VIP{{Prefix: netip.PrefixFrom(vip2, 32), Dev: "eth1"}}
	}), srcA)
	a.start()
	l.runFor(26 * time.Second)
	type ev struct {
		at    time.Duration
		count int
		why   string
	}
	var got []ev
	for i, g := range a.garps {
		if len(g.VIPs) != 2 || g.VIPs[1].Dev != "eth1" {
			t.Errorf("GARP %d VIPs %v", i, g.VIPs)
		}
		got = append(got, ev{a.garpAt[i].Sub(t0), g.Count, g.Why})
	}
	want := []ev{{0, 3, "master"}, {5 * time.Second, 3, "master delay"}, {15 * time.Second, 2, "refresh"}, {25 * time.Second, 2, "refresh"}}
	if len(got) != len(want) {
		t.Fatalf("GARPs %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("GARP %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Leaving master cancels the schedule.
	a.stop()
	n := len(a.garps)
	l.runFor(30 * time.Second)
	if len(a.garps) != n {
		t.Errorf("GARPs after leaving master")
	}
}

func TestDefaultGARP(t *testing.T) {
	in, err := inst(100).Validate()
	if err != nil {
		t.Fatal(err)
	}
	if want := (GARPConfig{Delay: 5 * time.Second, Repeat: 5, RefreshRepeat: 1}); in.GARP != want {
		t.Errorf("defaults %+v, want keepalived's %+v", in.GARP, want)
	}
}

func TestNotifyArguments(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst(150, func(in *Instance) {
		in.NotifyMaster = []string{"/bin/nm", "x"}
		in.NotifyBackup = []string{"/bin/nb"}
		in.NotifyStop = []string{"/bin/ns"}
		in.Notify = []string{"/bin/n"}
	}), srcA)
	a.start()
	l.runFor(5 * time.Second)
	a.stop()
	got := []string{}
	for _, argv := range a.notify {
		got = append(got, strings.Join(argv, " "))
	}
	want := []string{"/bin/nb", "/bin/n INSTANCE VI_1 BACKUP 150", "/bin/nm x", "/bin/n INSTANCE VI_1 MASTER 150",
		"/bin/ns", "/bin/n INSTANCE VI_1 STOP 150"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("notify calls\n got %q\nwant %q", got, want)
	}
}

func TestTrackInterfaceAndScripts(t *testing.T) {
	l := newLAN(t)
	chk := Script{Name: "chk", Argv: []string{"true"}, Fall: 2, Rise: 2}
	a := l.add(inst(150, func(in *Instance) {
		in.TrackInterfaces = []TrackInterface{{Name: "eth1"}, {Name: "eth2", Weight: -60}}
		in.TrackScripts = []TrackScript{{Script: chk, Weight: 20, HasWeight: true}}
	}), srcA)
	b := l.add(inst(100), srcB)
	a.start()
	b.start()
	l.runFor(5 * time.Second)
	if a.state() != StateMaster || a.r.Status().EffectivePriority != 150 {
		t.Fatalf("A %v prio %d", a.state(), a.r.Status().EffectivePriority)
	}
	// The script's first success counts at once (keepalived starts it at
	// rise-1): +20.
	a.r.ScriptResult("chk", true)
	if p := a.r.Status().EffectivePriority; p != 170 {
		t.Errorf("priority %d after the script succeeded, want 170", p)
	}
	l.runFor(time.Second)
	if last := a.sent[len(a.sent)-1]; last.Priority != 170 {
		t.Errorf("advert priority %d, want 170", last.Priority)
	}
	// Fall 2: one failure is not enough.
	a.r.ScriptResult("chk", false)
	if p := a.r.Status().EffectivePriority; p != 170 {
		t.Errorf("priority %d after one failure, want 170", p)
	}
	a.r.ScriptResult("chk", false)
	if p := a.r.Status().EffectivePriority; p != 150 {
		t.Errorf("priority %d after two failures, want 150", p)
	}
	// eth2 down: 150-60 = 90 < 100: B preempts after its down interval.
	a.r.SetInterfaceUp("eth2", false)
	l.runFor(6 * time.Second)
	if a.state() != StateBackup || b.state() != StateMaster {
		t.Errorf("after eth2 down: A %v B %v, want BACKUP MASTER", a.state(), b.state())
	}
	a.r.SetInterfaceUp("eth2", true)
	l.runFor(6 * time.Second)
	if a.state() != StateMaster {
		t.Errorf("after eth2 up A is %v", a.state())
	}
	// eth1 (weight 0) down: FAULT at once, with a priority-0 advert.
	a.r.SetInterfaceUp("eth1", false)
	if a.state() != StateFault || a.sent[len(a.sent)-1].Priority != 0 {
		t.Errorf("after eth1 down: %v, last advert prio %d", a.state(), a.sent[len(a.sent)-1].Priority)
	}
	if st := a.r.Status(); len(st.Faults) != 1 || st.Faults[0] != "track_interface eth1 down" {
		t.Errorf("faults %q", st.Faults)
	}
	l.runFor(2 * time.Second)
	if b.state() != StateMaster {
		t.Errorf("B %v while A is in FAULT", b.state())
	}
	n := len(a.sent)
	l.runFor(5 * time.Second)
	if len(a.sent) != n {
		t.Errorf("a FAULT instance sent adverts")
	}
	a.r.SetInterfaceUp("eth1", true)
	if a.state() != StateBackup {
		t.Errorf("after eth1 up: %v, want BACKUP", a.state())
	}
	l.runFor(6 * time.Second)
	if a.state() != StateMaster {
		t.Errorf("A did not preempt after leaving FAULT: %v", a.state())
	}
}

func TestScriptFallRise(t *testing.T) {
	// keepalived's result counter: good when >= rise.
	tests := []struct {
		name       string
		fall, rise int
		results    string
		want       string // good (g) or bad (b) after each result
	}{
		{"defaults", 1, 1, "+-+-", "gbgb"},
		{"first failure from init", 3, 3, "-", "b"},
		{"first success from init", 3, 3, "+", "g"},
		{"fall 3", 3, 1, "+---", "gggb"},
		{"rise 3", 1, 3, "-+++", "bbbg"},
		{"interrupted fall", 2, 2, "+-+-", "gggg"},
		{"fall 2 rise 2", 2, 2, "+--++", "ggbbg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scriptState{track: TrackScript{Script: Script{Fall: tt.fall, Rise: tt.rise}}, result: tt.rise - 1, init: true}
			var got strings.Builder
			for _, c := range tt.results {
				s.apply(c == '+')
				if s.good() {
					got.WriteByte('g')
				} else {
					got.WriteByte('b')
				}
			}
			if got.String() != tt.want {
				t.Errorf("got %s, want %s", got.String(), tt.want)
			}
		})
	}
}

func TestScriptWeightZeroFault(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst(100, func(in *Instance) {
		in.TrackScripts = []TrackScript{{Script: Script{Name: "s", Argv: []string{"x"}}}}
	}), srcA)
	a.start()
	if a.state() != StateFault {
		t.Fatalf("before the script ran: %v, want FAULT", a.state())
	}
	a.r.ScriptResult("s", true)
	if a.state() != StateBackup {
		t.Fatalf("after success: %v", a.state())
	}
	if err := a.r.ScriptResult("nope", true); err == nil {
		t.Error("unknown script accepted")
	}
}

func TestUnicast(t *testing.T) {
	uni := func(peer netip.Addr) func(*Instance) {
		return func(in *Instance) { in.UnicastPeers = []netip.Addr{peer}; in.CheckUnicastSrc = true }
	}
	// TTL 64: unicast adverts may cross routers, so no TTL rule.
	l, a, b := pair(t, 64, inst(150, uni(srcB)), inst(100, uni(srcA)))
	if a.state() != StateMaster || b.state() != StateBackup {
		t.Fatalf("unicast: %v %v", a.state(), b.state())
	}
	for _, d := range a.sentDst {
		if d != srcB {
			t.Fatalf("A sent to %v, want the peer %v", d, srcB)
		}
	}
	// A third router not in the peer list is refused.
	c := l.add(inst(200, uni(srcB)), netip.MustParseAddr("10.77.0.9"))
	c.start()
	l.runFor(10 * time.Second)
	if got := b.r.Status().Counters.Errors[ReasonUnknownPeer]; got == 0 {
		t.Error("advert from an unknown unicast source accepted")
	}
}

func TestOwnInterfaceDown(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst(255), srcA)
	a.r.SetInterfaceUp("eth0", false) // before start: start in FAULT
	a.start()
	if st := a.r.Status(); st.State != StateFault || st.Reason != "init: interface eth0 down" {
		t.Fatalf("state %v reason %q", st.State, st.Reason)
	}
	if len(a.sent) != 0 {
		t.Errorf("a FAULT instance sent %d adverts", len(a.sent))
	}
	a.r.SetInterfaceUp("eth0", true)
	// The owner leaves FAULT straight to MASTER (keepalived's
	// try_up_instance).
	if a.state() != StateMaster {
		t.Errorf("after eth0 up: %v", a.state())
	}
	if got := a.lastChange(StateMaster); got != l.now {
		t.Errorf("master at %v, want at once (%v)", got, l.now)
	}
	// Anyone else goes through BACKUP.
	b := l.add(inst(100), srcB)
	b.r.SetInterfaceUp("eth0", false)
	b.start()
	b.r.SetInterfaceUp("eth0", true)
	if b.state() != StateBackup {
		t.Errorf("non-owner after eth0 up: %v", b.state())
	}
}
