package director

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

// fakeEngine records the tables a Director publishes.
type fakeEngine struct {
	t        *vs.Table
	timeouts *conntrack.Timeouts
}

func (f *fakeEngine) SetTable(t *vs.Table) { f.t = t }
func (f *fakeEngine) Table() *vs.Table {
	if f.t == nil {
		return vs.NewTable(0, nil, nil)
	}
	return f.t
}
func (f *fakeEngine) SetTimeouts(t *conntrack.Timeouts) { f.timeouts = t }
func (f *fakeEngine) Timeouts() *conntrack.Timeouts {
	if f.timeouts == nil {
		return conntrack.DefaultTimeouts()
	}
	return f.timeouts
}

var (
	vipA = netip.MustParseAddr("10.77.0.100")
	rip1 = netip.MustParseAddr("10.77.0.11")
	rip2 = netip.MustParseAddr("10.77.0.12")
	rip3 = netip.MustParseAddr("10.77.0.13")
)

func svc(sched string, dests ...netip.Addr) config.Service {
	s := config.Service{Proto: vs.TCP, Addr: vipA, Port: 80, Scheduler: sched}
	for _, d := range dests {
		s.Dests = append(s.Dests, config.Dest{Addr: d, Port: 80, Method: vs.Route, Weight: 1})
	}
	return s
}

func newTestDirector(t *testing.T) (*Director, *fakeEngine) {
	t.Helper()
	fe := &fakeEngine{}
	d, err := New(Config{Engine: fe})
	if err != nil {
		t.Fatal(err)
	}
	return d, fe
}

// Config changes keep what did not change: dest IDs and live state, and the
// scheduler object itself while its dests are the same.
func TestCompileKeepsState(t *testing.T) {
	d, fe := newTestDirector(t)
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1, rip2)}}); err != nil {
		t.Fatal(err)
	}
	t1 := fe.t
	s1 := t1.Services[0]
	if len(s1.Dests) != 2 || s1.Dests[0].Addr != rip2 {
		t.Fatalf("dests %v: want newest (rs2) first", s1.Dests)
	}
	s1.Dests[0].State.ActiveConns.Store(5)

	// The same rules again: same IDs, same state, same scheduler.
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1, rip2)}}); err != nil {
		t.Fatal(err)
	}
	s2 := fe.t.Services[0]
	if s2.Scheduler != s1.Scheduler || s2.Dests[0].ID != s1.Dests[0].ID || s2.Dests[0].State != s1.Dests[0].State {
		t.Errorf("unchanged service lost its scheduler or dest identity")
	}
	// Adding rs3 builds a new scheduler but keeps the others' state.
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1, rip2, rip3)}}); err != nil {
		t.Fatal(err)
	}
	s3 := fe.t.Services[0]
	if s3.Scheduler == s1.Scheduler || s3.Dests[1].State.ActiveConns.Load() != 5 || s3.Dests[0].Addr != rip3 {
		t.Errorf("after adding rs3: scheduler reused %v, rs2 active %d, head %v",
			s3.Scheduler == s1.Scheduler, s3.Dests[1].State.ActiveConns.Load(), s3.Dests[0].Addr)
	}
	// Removing rs2 while it has connections: it stays addressable, trashed.
	rs2 := s3.Dests[1]
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1, rip3)}}); err != nil {
		t.Fatal(err)
	}
	gone := fe.t.Dest(rs2.ID)
	if gone == nil || !gone.Trashed || gone.State != rs2.State || gone.Available() {
		t.Fatalf("removed dest with connections: %+v", gone)
	}
	rs2.State.ActiveConns.Store(0)
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("rr", rip1, rip3)}}); err != nil {
		t.Fatal(err)
	}
	if fe.t.Dest(rs2.ID) != nil {
		t.Errorf("removed dest without connections is still in the table")
	}
	// An unknown scheduler is refused and nothing changes.
	before := fe.t
	err := d.SetRules(config.Rules{Services: []config.Service{svc("nosuch", rip1)}})
	if err == nil || fe.t != before {
		t.Errorf("unknown scheduler: err %v, table changed %v", err, fe.t != before)
	}
}

// Port groups and sysctl knobs reach the table.
func TestCompileMarksAndKnobs(t *testing.T) {
	d, fe := newTestDirector(t)
	mark := config.Service{Proto: vs.TCP, FwMark: 21, Scheduler: "rr", Persistent: true,
		Dests: []config.Dest{{Addr: rip1, Method: vs.Route, Weight: 1}}}
	marks := []config.Mark{{Mark: 21, Matches: []config.MarkMatch{{
		Proto: vs.TCP, Addr: netip.PrefixFrom(vipA, 32),
		Ports: []config.PortRange{{First: 20, Last: 21}, {First: 10000, Last: 20000}},
	}}}}
	knobs := config.Knobs{ConnReuseMode: 0, ConnReuseSet: true, ExpireNodestConn: true, SloppyTCP: true, Overhead: "total", MHTableSize: 251,
		DropEntry: 1, DropPacket: 2, SecureTCP: 3, AmemThresh: 0, AmemThreshSet: true}
	if err := d.SetConfig(config.Rules{Services: []config.Service{mark}}, marks, knobs); err != nil {
		t.Fatal(err)
	}
	tbl := fe.t
	if s := tbl.Lookup(vs.TCP, vipA.As4(), 15000); s == nil || s.FwMark != 21 || s.Timeout != config.DefaultPersistentTimeout {
		t.Errorf("port 15000 found %+v, want the persistent mark-21 service with the default timeout", s)
	}
	if s := tbl.Lookup(vs.TCP, vipA.As4(), 80); s != nil {
		t.Errorf("port 80 is outside the group but found a service")
	}
	if !tbl.AnswersARP(vipA.As4()) {
		t.Errorf("the group's address is not answered for")
	}
	want := vs.Knobs{ConnReuseMode: 0, ExpireNodestConn: true, SloppyTCP: true,
		DropEntry: 1, DropPacket: 2, SecureTCP: 3, AmemThresh: 0, AmDropRate: vs.DefaultAmDropRate}
	if tbl.Knobs != want {
		t.Errorf("knobs %+v, want %+v", tbl.Knobs, want)
	}
	if p := tbl.Services[0].Params; p.Overhead != vs.OverheadTotal || p.MHTableSize != 251 {
		t.Errorf("scheduler params %+v", p)
	}
	// Defaults when [sysctl] is absent.
	if err := d.SetConfig(config.Rules{Services: []config.Service{mark}}, marks, config.Knobs{}); err != nil {
		t.Fatal(err)
	}
	if fe.t.Knobs != vs.DefaultKnobs() {
		t.Errorf("default knobs %+v", fe.t.Knobs)
	}
	if err := d.SetConfig(config.Rules{}, nil, config.Knobs{Overhead: "bogus"}); err == nil {
		t.Errorf("bad overhead accepted")
	}
}

// TestSchedulerNamesAgree: the names the rules accept (config, and the
// list ulvsadm -h prints) are the schedulers package sched builds, in the
// same order.
func TestSchedulerNamesAgree(t *testing.T) {
	if got, want := config.Schedulers(), sched.Names(); !slices.Equal(got, want) {
		t.Errorf("config.Schedulers() = %v, sched.Names() = %v", got, want)
	}
}
