package vrrp

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var vip2sync = netip.MustParseAddr("10.77.1.1")

// director is one side of a sync-group pair: VI_1 (VRID 51, eth0) and
// VI_2 (VRID 52, eth1) in group VG_1, both sending from src.
type director struct {
	g        *Group
	vi1, vi2 *node
	notify   []string // the group's notify calls
}

func addDirector(t *testing.T, l *lan, src netip.Addr, prio uint8, mod ...func(*Instance)) *director {
	t.Helper()
	d := &director{}
	g, err := NewGroup(SyncGroup{Name: "VG_1", Members: []string{"VI_1", "VI_2"},
		NotifyFault: []string{"/bin/gf"}, Notify: []string{"/bin/gn"}}, nil,
		func(argv []string) { d.notify = append(d.notify, strings.Join(argv, " ")) })
	if err != nil {
		t.Fatal(err)
	}
	d.g = g
	d.vi1 = l.addIn(inst(prio, mod...), src, g)
	d.vi2 = l.addIn(inst(prio, append(slices.Clone(mod), func(in *Instance) {
		in.Name, in.VRID, in.Interface = "VI_2", 52, "eth1"
		in.VIPs = []VIP{{Prefix: netip.PrefixFrom(vip2sync, 32)}}
	})...), src, g)
	return d
}

func (d *director) start() { d.vi1.start(); d.vi2.start() }

func (d *director) states() [3]State {
	return [3]State{d.vi1.state(), d.vi2.state(), d.g.Status().State}
}

func wantStates(t *testing.T, name string, d *director, s State) {
	t.Helper()
	if got := d.states(); got != [3]State{s, s, s} {
		t.Fatalf("%s: VI_1, VI_2, group: %v, want all %v", name, got, s)
	}
}

func TestSyncGroupElection(t *testing.T) {
	l := newLAN(t)
	a := addDirector(t, l, srcA, 150)
	b := addDirector(t, l, srcB, 100)
	a.start()
	b.start()
	l.runFor(10 * time.Second)
	wantStates(t, "a", a, StateMaster)
	wantStates(t, "b", b, StateBackup)
	// Both members became master at the same instant: the first whose
	// timer ran out waited for the other, then the group moved together.
	if m1, m2 := a.vi1.lastChange(StateMaster), a.vi2.lastChange(StateMaster); m1 != m2 {
		t.Errorf("VI_1 master at %v, VI_2 at %v: want together", m1, m2)
	}
	if st := a.vi2.r.Status(); st.SyncGroup != "VG_1" {
		t.Errorf("status sync group %q", st.SyncGroup)
	}
}

// TestSyncGroupFault: one member's interface fails; the whole group goes
// to FAULT (its other master sends a priority-0 advert), the peer's group
// takes over together, and the group comes back when the interface does.
func TestSyncGroupFault(t *testing.T) {
	l := newLAN(t)
	a := addDirector(t, l, srcA, 150)
	b := addDirector(t, l, srcB, 100)
	a.start()
	b.start()
	l.runFor(10 * time.Second)
	sentZero := a.vi1.r.Status().Counters.PriorityZeroSent

	a.vi2.r.SetInterfaceUp("eth1", false)
	wantStates(t, "a after eth1 down", a, StateFault)
	if got := a.vi1.r.Status().Counters.PriorityZeroSent; got != sentZero+1 {
		t.Errorf("VI_1 priority-0 adverts: %d, want %d (it left MASTER for the group's FAULT)", got, sentZero+1)
	}
	st := a.vi1.r.Status()
	if len(st.Faults) != 1 || !strings.Contains(st.Faults[0], "sync group VG_1: VI_2 in FAULT (interface eth1 down)") {
		t.Errorf("VI_1 faults %q", st.Faults)
	}
	if !slices.Contains(a.notify, "/bin/gf") || !slices.Contains(a.notify, "/bin/gn GROUP VG_1 FAULT 0") {
		t.Errorf("group notify calls %q", a.notify)
	}
	l.runFor(5 * time.Second)
	wantStates(t, "b after a's fault", b, StateMaster)

	a.vi2.r.SetInterfaceUp("eth1", true)
	if got := a.states(); got != [3]State{StateBackup, StateBackup, StateBackup} {
		t.Fatalf("a after eth1 up: %v, want all BACKUP", got)
	}
	l.runFor(10 * time.Second)
	wantStates(t, "a preempts again", a, StateMaster)
	wantStates(t, "b steps down", b, StateBackup)
	// b's members stepped down together: VI_1 (or VI_2) saw a's higher
	// priority, the other followed at the same instant.
	if b1, b2 := b.vi1.lastChange(StateBackup), b.vi2.lastChange(StateBackup); b1 != b2 {
		t.Errorf("b's VI_1 backup at %v, VI_2 at %v: want together", b1, b2)
	}
}

// TestSyncGroupPrefersBackup: a's VI_2 dies silently while its VI_1 keeps
// advertising. b's VI_2 wants MASTER but b's VI_1 still sees a master, so
// the group stays BACKUP (keepalived: "prefer backup state to avoid
// thrashing") and says so.
func TestSyncGroupPrefersBackup(t *testing.T) {
	l := newLAN(t)
	a := addDirector(t, l, srcA, 150)
	b := addDirector(t, l, srcB, 100)
	a.start()
	b.start()
	l.runFor(10 * time.Second)
	a.vi2.kill()
	l.runFor(20 * time.Second)
	wantStates(t, "b", b, StateBackup)
	if !strings.Contains(b.vi2.log.String(), "sync group VG_1: waiting for VI_1 to want MASTER too") {
		t.Errorf("b's VI_2 did not log the wait:\n%s", b.vi2.log.String())
	}
	// a's VI_1 dies too: now both of b's members want MASTER.
	a.vi1.kill()
	l.runFor(10 * time.Second)
	wantStates(t, "b after a died", b, StateMaster)
}

func TestSyncGroupValidate(t *testing.T) {
	for _, g := range []SyncGroup{
		{Members: []string{"A", "B"}},
		{Name: "G", Members: []string{"A"}},
		{Name: "G", Members: []string{"A", "A"}},
	} {
		if err := g.Validate(); err == nil {
			t.Errorf("%+v: got nil error", g)
		}
	}
	g, err := NewGroup(SyncGroup{Name: "G", Members: []string{"VI_1", "VI_3"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := newLAN(t)
	l.addIn(inst(100), srcA, g)
	if got := g.Missing(); !slices.Equal(got, []string{"VI_3"}) {
		t.Errorf("missing %v", got)
	}
	_, err = New(Config{Instance: inst(100, func(in *Instance) { in.Name = "VI_9" }), Transport: fakeTransport{&node{lan: l, src: srcA}}, Group: g})
	if err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Errorf("non-member joined: %v", err)
	}
}

// TestResumeAndRetire: a reload replaces a master's Router; the old one
// retires without a priority-0 advert and the new one is master at once,
// so the backup never takes over.
func TestResumeAndRetire(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst(150), srcA)
	b := l.add(inst(100), srcB)
	a.start()
	b.start()
	l.runFor(10 * time.Second)
	if a.state() != StateMaster {
		t.Fatalf("a: %v", a.state())
	}
	a.r.Retire()
	a.stop()
	if got := a.r.Status().Counters.PriorityZeroSent; got != 0 {
		t.Errorf("retired master sent %d priority-0 adverts", got)
	}
	a2 := l.addIn(inst(150, func(in *Instance) { in.GARP.Repeat = 2 }), srcA, nil)
	a2.r.cfg.ResumeMaster = true
	a2.start()
	if a2.state() != StateMaster || a2.r.Status().Reason != "reload: was MASTER" {
		t.Fatalf("new router: %v (%s)", a2.state(), a2.r.Status().Reason)
	}
	l.runFor(10 * time.Second)
	if b.state() != StateBackup || len(b.trans) != 1 {
		t.Errorf("b: %v, transitions %+v: want BACKUP throughout", b.state(), b.trans)
	}
}
