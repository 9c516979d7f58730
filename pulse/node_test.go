package pulse

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	primaryAddr = netip.MustParseAddr("10.0.0.1")
	backupAddr  = netip.MustParseAddr("10.0.0.2")
)

// wire is a fake Transport: what a node sends is queued for the partner.
type wire struct {
	from  netip.Addr
	to    *simNode
	sim   *sim
	fails bool
}

func (w *wire) Send(msg []byte) error {
	if w.fails {
		return errors.New("network down")
	}
	if w.to != nil && w.to.up && !w.to.cut {
		w.sim.queue = append(w.sim.queue, delivery{to: w.to, d: datagram{append([]byte(nil), msg...), w.from}})
	}
	return nil
}
func (w *wire) Receive([]byte) (int, netip.Addr, error) { return 0, netip.Addr{}, errors.New("unused") }
func (w *wire) Close() error                            { return nil }

type delivery struct {
	to *simNode
	d  datagram
}

type simNode struct {
	name string
	n    *Node
	up   bool
	// cut: its network is down (a failed link without a private
	// heartbeat path): it neither sends nor hears heartbeats.
	cut bool
	log []string // "active@3s partner dead"
}

// sim runs nodes on a virtual clock, calling the Node's handlers directly
// in time order; a datagram arrives at once.
type sim struct {
	now   time.Time
	t0    time.Time
	queue []delivery
	nodes []*simNode
}

func newSim() *sim {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &sim{now: t0, t0: t0}
}

func (s *sim) Now() time.Time                       { return s.now }
func (s *sim) After(time.Duration) <-chan time.Time { return nil }

func (s *sim) add(t *testing.T, name string, role Role, failBack bool) *simNode {
	sn := &simNode{name: name}
	self, partner := primaryAddr, backupAddr
	if role == Backup {
		self, partner = backupAddr, primaryAddr
	}
	w := &wire{from: self, sim: s}
	n, err := New(Config{Role: role, Partner: partner, BackupActive: true, Keepalive: time.Second,
		Deadtime: 3 * time.Second, FailBack: failBack, MonitorLinks: true, Transport: w, Clock: s,
		OnTransition: func(tr Transition) {
			state := "inactive"
			if tr.Active {
				state = "active"
			}
			sn.log = append(sn.log, fmt.Sprintf("%s@%v %s", state, tr.At.Sub(s.t0), tr.Reason))
		}})
	if err != nil {
		t.Fatal(err)
	}
	sn.n = n
	s.nodes = append(s.nodes, sn)
	for _, o := range s.nodes {
		if o != sn {
			o.n.cfg.Transport.(*wire).to = sn
			w.to = o
		}
	}
	return sn
}

func (s *sim) start(sn *simNode) {
	sn.up = true
	sn.n.do(sn.n.start)
}

// link tells sn that its monitored links went down or came back, as
// Run does on SetLinksUp; cut also stops its heartbeats both ways.
func (s *sim) link(sn *simNode, up, cut bool) {
	sn.n.SetLinksUp(up, "eth0")
	<-sn.n.linkEv
	sn.n.do(sn.n.applyLinks)
	sn.cut = cut
	sn.n.cfg.Transport.(*wire).fails = cut
}

// kill stops a node dead (kill -9): no more heartbeats.
func (s *sim) kill(sn *simNode) { sn.up = false; sn.n.st.Active = false }

// run advances the clock to until, processing deliveries and timers.
func (s *sim) run(until time.Duration) {
	end := s.t0.Add(until)
	for {
		if len(s.queue) > 0 {
			d := s.queue[0]
			s.queue = s.queue[1:]
			if d.to.up {
				d.to.n.do(func(now time.Time) { d.to.n.receive(now, d.d) })
			}
			continue
		}
		// Every node due at the earliest instant ticks before any of
		// their datagrams arrives: heartbeats sent at once cross.
		var due []*simNode
		var at time.Time
		for _, sn := range s.nodes {
			if !sn.up {
				continue
			}
			t := sn.n.sendAt
			if sn.n.needAt.Before(t) {
				t = sn.n.needAt
			}
			switch {
			case len(due) == 0 || t.Before(at):
				due, at = []*simNode{sn}, t
			case t.Equal(at):
				due = append(due, sn)
			}
		}
		if len(due) == 0 || at.After(end) {
			s.now = end
			return
		}
		s.now = at
		for _, sn := range due {
			sn.n.do(sn.n.tick)
		}
	}
}

func TestNode(t *testing.T) {
	for _, tc := range []struct {
		name        string
		failBack    bool
		script      func(s *sim, p, b *simNode)
		wantPrimary string
		wantBackup  string
	}{{
		name: "primary alone becomes active after deadtime",
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(10 * time.Second)
		},
		wantPrimary: "active@3s partner dead",
	}, {
		name: "primary active, backup started later stays inactive",
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(5 * time.Second)
			s.start(b)
			s.run(20 * time.Second)
		},
		wantPrimary: "active@3s partner dead",
	}, {
		name: "both start at once: both take over on stopped, the backup steps down",
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.start(b)
			s.run(10 * time.Second)
		},
		// At 1 s each hears the other's stopped; at 2 s the backup hears
		// running and steps down.
		wantPrimary: "active@1s backup inactive",
		wantBackup:  "active@1s primary inactive; inactive@2s partner active",
	}, {
		name: "backup takes over after deadtime when the primary dies",
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(5 * time.Second)
			s.start(b)
			s.run(10 * time.Second)
			s.kill(p) // last heartbeat at 10 s
			s.run(20 * time.Second)
		},
		wantPrimary: "active@3s partner dead",
		wantBackup:  "active@13s partner dead",
	}, {
		name: "primary returns without fail-back: stays inactive, as pulse",
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(5 * time.Second)
			s.start(b)
			s.run(10 * time.Second)
			s.kill(p)
			s.run(20 * time.Second)
			s.start(p)
			s.run(40 * time.Second)
		},
		wantPrimary: "active@3s partner dead",
		wantBackup:  "active@13s partner dead",
	}, {
		name:     "primary returns with fail-back: it takes over, the backup steps down",
		failBack: true,
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(5 * time.Second)
			s.start(b)
			s.run(10 * time.Second)
			s.kill(p)
			s.run(20 * time.Second)
			s.start(p)
			s.run(40 * time.Second)
		},
		wantPrimary: "active@3s partner dead; active@21s backup active: failing back",
		wantBackup:  "active@13s partner dead; inactive@22s partner active",
	}, {
		name:     "monitor_links: the active primary's link fails, heartbeats go on over the private network",
		failBack: true,
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(5 * time.Second)
			s.start(b)
			s.run(10 * time.Second)
			s.link(p, false, false)
			s.run(20 * time.Second)
			s.link(p, true, false)
			s.run(40 * time.Second)
		},
		// The backup hears the primary's next heartbeat, stopped, and
		// takes over; the primary, link back, fails back on the backup's
		// next running heartbeat.
		wantPrimary: "active@3s partner dead; inactive@10s local link failure; active@21s backup active: failing back",
		wantBackup:  "active@11s primary inactive; inactive@22s partner active",
	}, {
		name:     "monitor_links: the active primary's only link fails: the backup takes over after deadtime, the primary never does while it is down",
		failBack: true,
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(5 * time.Second)
			s.start(b)
			s.run(10 * time.Second)
			s.link(p, false, true)
			s.run(30 * time.Second)
			s.link(p, true, false)
			s.run(40 * time.Second)
		},
		wantPrimary: "active@3s partner dead; inactive@10s local link failure; active@31s backup active: failing back",
		wantBackup:  "active@13s partner dead; inactive@32s partner active",
	}, {
		name: "monitor_links without fail-back: the primary stays inactive when its link is back, as pulse",
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(5 * time.Second)
			s.start(b)
			s.run(10 * time.Second)
			s.link(p, false, false)
			s.run(20 * time.Second)
			s.link(p, true, false)
			s.run(40 * time.Second)
		},
		wantPrimary: "active@3s partner dead; inactive@10s local link failure",
		wantBackup:  "active@11s primary inactive",
	}, {
		name: "monitor_links: a backup whose link is down does not take over",
		script: func(s *sim, p, b *simNode) {
			s.start(p)
			s.run(5 * time.Second)
			s.start(b)
			s.run(10 * time.Second)
			s.link(b, false, false)
			s.kill(p)
			s.run(20 * time.Second)
			s.link(b, true, false)
			s.run(30 * time.Second)
		},
		// Link back, the backup waits for a heartbeat or deadtime again.
		wantPrimary: "active@3s partner dead",
		wantBackup:  "active@23s partner dead",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim()
			p := s.add(t, "primary", Primary, tc.failBack)
			b := s.add(t, "backup", Backup, tc.failBack)
			tc.script(s, p, b)
			if got := strings.Join(p.log, "; "); got != tc.wantPrimary {
				t.Errorf("primary: %q, want %q", got, tc.wantPrimary)
			}
			if got := strings.Join(b.log, "; "); got != tc.wantBackup {
				t.Errorf("backup: %q, want %q", got, tc.wantBackup)
			}
		})
	}
}

// Without monitor_links a link failure changes nothing (pulse's
// check_links returns true).
func TestNodeLinksNotMonitored(t *testing.T) {
	s := newSim()
	p := s.add(t, "primary", Primary, false)
	p.n.cfg.MonitorLinks = false
	s.start(p)
	s.run(5 * time.Second)
	s.link(p, false, false)
	s.run(10 * time.Second)
	if st := p.n.Status(); !st.Active || st.LinkFailed || strings.Join(p.log, "; ") != "active@3s partner dead" {
		t.Fatalf("status %+v, log %q: want active, no link failure", st, p.log)
	}
}

// Status shows the failed link while it is down.
func TestNodeLinkStatus(t *testing.T) {
	s := newSim()
	p := s.add(t, "primary", Primary, false)
	s.start(p)
	s.run(5 * time.Second)
	s.link(p, false, true)
	if st := p.n.Status(); st.Active || !st.LinkFailed || st.LinkDown != "eth0" || st.Reason != "local link failure" {
		t.Fatalf("link down: status %+v", st)
	}
	s.link(p, true, false)
	if st := p.n.Status(); st.LinkFailed || st.LinkDown != "" {
		t.Fatalf("link back: status %+v", st)
	}
}

func TestNodeReceive(t *testing.T) {
	s := newSim()
	p := s.add(t, "primary", Primary, false)
	s.start(p)
	for _, d := range []datagram{
		{Encode(Running), netip.MustParseAddr("10.9.9.9")},
		{[]byte{1, 2, 3}, backupAddr},
		{Encode(FOSRunning), backupAddr},
		{Encode(Hold), backupAddr},
	} {
		p.n.do(func(now time.Time) { p.n.receive(now, d) })
	}
	st := p.n.Status()
	want := Counters{Received: 1, Ignored: 1, Bad: 2}
	if st.Counters != want || !strings.Contains(st.LastError, "failover services") || st.PartnerState != Hold || st.Active {
		t.Fatalf("status %+v, want counters %+v, a fos error, partner hold, inactive", st, want)
	}
}

func TestNew(t *testing.T) {
	w := &wire{}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Keepalive: time.Second, Deadtime: time.Second}, "no transport"},
		{Config{Transport: w, Deadtime: time.Second}, "must be positive"},
		{Config{Transport: w, Role: Backup, Partner: primaryAddr, Keepalive: time.Second, Deadtime: time.Second}, "backup_active = 0"},
		{Config{Transport: w, BackupActive: true, Keepalive: time.Second, Deadtime: time.Second}, "no partner"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// A reloaded node that was active starts active without a transition:
// its first heartbeat says running, and the inactive backup stays so.
func TestNodeStartActive(t *testing.T) {
	s := newSim()
	p := s.add(t, "primary", Primary, true)
	b := s.add(t, "backup", Backup, true)
	p.n.cfg.StartActive = true
	s.start(p)
	s.start(b)
	s.run(20 * time.Second)
	if st := p.n.Status(); !st.Active || st.Reason != "reload: was active" || len(p.log) != 0 {
		t.Errorf("primary: status %+v, log %q; want active since the start, no transition", st, p.log)
	}
	if len(b.log) != 0 || b.n.Status().Active {
		t.Errorf("backup: log %q, want never active", b.log)
	}
}
