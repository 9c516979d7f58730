package vrrp

import (
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// SyncGroup is keepalived's vrrp_sync_group: instances that change state
// together, so that (say) the outside VIP and the inside gateway address
// of a NAT director are always owned by the same director.
type SyncGroup struct {
	Name string
	// Members are the instances' names (group { VI_1 VI_2 }), at least
	// two; an instance belongs to at most one group.
	Members []string
	// NotifyMaster, NotifyBackup, NotifyFault and NotifyStop run on the
	// group's transitions with no arguments; Notify with "GROUP" NAME
	// STATE 0 appended (keepalived gives a group priority 0).
	NotifyMaster, NotifyBackup, NotifyFault, NotifyStop, Notify []string
}

// Validate checks the group.
func (g SyncGroup) Validate() error {
	if g.Name == "" {
		return fmt.Errorf("vrrp_sync_group: no name")
	}
	if len(g.Members) < 2 {
		return fmt.Errorf("vrrp_sync_group %s: %d member(s); a group needs at least two instances", g.Name, len(g.Members))
	}
	seen := map[string]bool{}
	for _, m := range g.Members {
		if m == "" || seen[m] {
			return fmt.Errorf("vrrp_sync_group %s: member %q empty or listed twice", g.Name, m)
		}
		seen[m] = true
	}
	return nil
}

// GroupStatus is what `ulvs ha` shows for a sync group.
type GroupStatus struct {
	Name           string
	State          State
	Members        []string
	LastTransition time.Time
	Reason         string
}

// Group runs a SyncGroup over its members' Routers, with keepalived's
// semantics (vrrp_sync.c):
//
//   - A member whose master down timer runs out becomes master only if
//     every other member wants to as well (its own timer ran out, or it
//     is master), or the group is already MASTER; otherwise it stays
//     BACKUP and rearms its timer ("prefer backup state to avoid
//     thrashing").
//   - A member becoming MASTER takes the group to MASTER: every other
//     member becomes master at once.
//   - A master member going BACKUP (a higher-priority advert) takes the
//     group to BACKUP: every other master steps down (without a
//     priority-0 advert, as keepalived).
//   - A member entering FAULT takes the group to FAULT: masters leave
//     master with a priority-0 advert, backups enter FAULT; all stay in
//     FAULT until no member has a fault of its own, then all enter BACKUP.
//
// Instance notify programs run for each member's own transitions; the
// group's run on the group's. Create the Group with NewGroup and pass it in
// each member's Config before New. Safe for concurrent use.
type Group struct {
	cfg       SyncGroup
	log       *slog.Logger
	runNotify func(argv []string)

	mu         sync.Mutex
	state      State
	members    []*Router
	want       map[*Router]bool     // wants MASTER (timer ran out, or master)
	faults     map[*Router][]string // each member's own faults
	stopped    map[*Router]bool
	lastChange time.Time
	reason     string
}

// NewGroup checks cfg and returns the group in INIT. log receives the
// group's log lines (nil discards); runNotify runs its notify programs
// (nil: os/exec, not waited for).
func NewGroup(cfg SyncGroup, log *slog.Logger, runNotify func(argv []string)) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g := &Group{cfg: cfg, log: log, runNotify: runNotify, state: StateInit,
		want: map[*Router]bool{}, faults: map[*Router][]string{}, stopped: map[*Router]bool{}}
	if g.runNotify == nil {
		g.runNotify = g.execNotify
	}
	return g, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.cfg.Name }

// join adds r (from New).
func (g *Group) join(r *Router) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !slices.Contains(g.cfg.Members, r.in.Name) {
		return fmt.Errorf("vrrp_instance %s is not a member of vrrp_sync_group %s", r.in.Name, g.cfg.Name)
	}
	for _, m := range g.members {
		if m.in.Name == r.in.Name {
			return fmt.Errorf("vrrp_sync_group %s: instance %s joined twice", g.cfg.Name, r.in.Name)
		}
	}
	g.members = append(g.members, r)
	return nil
}

// Missing returns the members no Router has joined yet (a director checks
// it is empty before running).
func (g *Group) Missing() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, n := range g.cfg.Members {
		if !slices.ContainsFunc(g.members, func(r *Router) bool { return r.in.Name == n }) {
			out = append(out, n)
		}
	}
	return out
}

// Status returns a snapshot of the group.
func (g *Group) Status() GroupStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return GroupStatus{Name: g.cfg.Name, State: g.state, Members: slices.Clone(g.cfg.Members),
		LastTransition: g.lastChange, Reason: g.reason}
}

func (g *Group) logf(format string, args ...any) {
	g.log.Info("VRRP_Group(" + g.cfg.Name + ") " + fmt.Sprintf(format, args...))
}

// The calls below run with the member's lock held (lock order: Router.mu,
// then Group.mu; never the reverse). What they return must run after the
// member's lock is released (Router.pending).

// setFaults records r's own faults and returns the other members' (as
// "sync group NAME: MEMBER in FAULT (why)").
func (g *Group) setFaults(r *Router, own []string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(own) == 0 {
		delete(g.faults, r)
	} else {
		g.faults[r] = own
		g.want[r] = false
	}
	var out []string
	for _, m := range g.members {
		if f := g.faults[m]; m != r && len(f) > 0 {
			out = append(out, fmt.Sprintf("sync group %s: %s in FAULT (%s)", g.cfg.Name, m.in.Name, f[0]))
		}
	}
	return out
}

// mayMaster records that r wants to be master and reports whether it may:
// the group is MASTER, or every other member wants to be too.
func (g *Group) mayMaster(r *Router) (ok bool, waitingFor string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.want[r] = true
	if g.state == StateMaster {
		return true, ""
	}
	for _, m := range g.members {
		if m != r && !g.want[m] {
			return false, m.in.Name
		}
	}
	return true, ""
}

// setWant records whether r wants to be master (false when it accepts
// another router as master).
func (g *Group) setWant(r *Router, want bool) {
	g.mu.Lock()
	g.want[r] = want
	g.mu.Unlock()
}

// changed is told of each member transition and returns the group's
// consequences: commands to the other members and the group's notifies.
func (g *Group) changed(r *Router, from, to State, now time.Time) []func() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.want[r] = to == StateMaster
	name := r.in.Name
	var gs State
	var cmd func(m *Router, now time.Time)
	switch to {
	case StateMaster:
		if g.state != StateMaster {
			gs = StateMaster
			cmd = func(m *Router, now time.Time) { m.syncMaster(now, g.cfg.Name, name) }
		}
	case StateBackup:
		switch {
		case from == StateMaster && g.state != StateBackup:
			gs = StateBackup
			cmd = func(m *Router, now time.Time) { m.syncBackup(now, g.cfg.Name, name) }
		case from == StateFault && g.state == StateFault && len(g.faults) == 0:
			gs = StateBackup
			cmd = func(m *Router, now time.Time) { m.reevaluate(now, "sync group "+g.cfg.Name+" leaving FAULT") }
		case g.state == StateInit:
			gs = StateBackup
		}
	case StateFault:
		if g.state != StateFault {
			gs = StateFault
			cmd = func(m *Router, now time.Time) { m.reevaluate(now, "sync group "+g.cfg.Name+": "+name+" in FAULT") }
		}
	case StateStop:
		g.stopped[r] = true
		if len(g.stopped) == len(g.members) {
			gs = StateStop
		}
	}
	if gs == 0 {
		return nil
	}
	why := fmt.Sprintf("%s entered %s", name, to)
	g.state, g.lastChange, g.reason = gs, now, why
	switch gs {
	case StateMaster:
		g.logf("Syncing instances to MASTER state")
	case StateBackup:
		g.logf("Syncing instances to BACKUP state")
	case StateFault:
		g.logf("Syncing instances to FAULT state")
	case StateStop:
		g.logf("all instances stopped")
	}
	var out []func()
	if cmd != nil {
		for _, m := range g.members {
			if m == r {
				continue
			}
			m := m
			out = append(out, func() {
				m.do(func(now time.Time) {
					if m.started && m.state != StateStop {
						cmd(m, now)
					}
				})
				m.poke()
			})
		}
	}
	return append(out, g.notifies(gs)...)
}

func (g *Group) notifies(s State) []func() {
	prog := notifyFor(s, g.cfg.NotifyMaster, g.cfg.NotifyBackup, g.cfg.NotifyFault, g.cfg.NotifyStop)
	var out []func()
	run := g.runNotify
	if len(prog) > 0 {
		argv := slices.Clone(prog)
		out = append(out, func() { run(argv) })
	}
	if len(g.cfg.Notify) > 0 {
		argv := append(slices.Clone(g.cfg.Notify), "GROUP", g.cfg.Name, s.String(), "0")
		out = append(out, func() { run(argv) })
	}
	return out
}

func (g *Group) execNotify(argv []string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		g.logf("notify %s: %v", strings.Join(argv, " "), err)
		return
	}
	go cmd.Wait()
}

// syncMaster is the group's order to become master because member took
// the group to MASTER (keepalived's vrrp_sync_master).
func (r *Router) syncMaster(now time.Time, group, member string) {
	if r.state == StateBackup {
		r.becomeMaster(now, "sync group "+group+": "+member+" became MASTER")
	}
}

// syncBackup is the group's order to step down because member did
// (vrrp_sync_backup): no priority-0 advert.
func (r *Router) syncBackup(now time.Time, group, member string) {
	if r.state == StateMaster {
		r.leaveMaster(now, StateBackup, "sync group "+group+": "+member+" left MASTER", false)
	}
}
