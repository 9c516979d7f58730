package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// Editor is the director's edit API: the one way the monitor changes the
// table, the same path ulvsadm's requests take. *director.Director
// implements it.
type Editor interface {
	Apply(c config.Command) error
	Rules() config.Rules
}

// Runner is a running checker: what NewChecker returns, and what tests
// replace with fakes.
type Runner interface {
	Run(ctx context.Context)
	Status() CheckStatus
	Up() bool
}

// CheckerFunc builds a checker; NewChecker's signature.
type CheckerFunc func(c config.Check, t Target, env *Env, up bool, onChange func(Transition)) (Runner, error)

// ScriptFunc runs a notify or quorum script; RunScript's signature.
type ScriptFunc func(ctx context.Context, s config.Script, timeout time.Duration) (int, error)

// Config configures a Monitor.
type Config struct {
	Editor Editor
	// Logger receives keepalived's log lines; nil discards.
	Logger *slog.Logger
	// MaxProbes bounds the probes in flight at once (default 256).
	MaxProbes int
	// ScriptTimeout bounds notify and quorum scripts (default 30 s).
	ScriptTimeout time.Duration
	// NewChecker and RunScript are the seams to the network and the OS;
	// nil means the real ones.
	NewChecker CheckerFunc
	RunScript  ScriptFunc
}

// Monitor runs the checks of a configuration and keeps the table in step
// with their verdicts, as keepalived's checker process does: a server whose
// checkers are all up is in its service's pool with its weight; a failed
// one leaves the pool (or stays with weight 0 under inhibit_on_failure);
// when the alive weight falls below quorum the sorry server takes over.
// Safe for concurrent use.
type Monitor struct {
	cfg Config
	log *slog.Logger
	env *Env

	mu      sync.Mutex
	ctx     context.Context // set by Run; nil before
	vss     []*vsState
	scripts sync.WaitGroup
}

// vsState is one virtual service with checks.
type vsState struct {
	svc      config.Service // as configured (Dests: the configured ones)
	health   config.VirtualHealth
	quorumUp bool
	sorryOn  bool // the sorry server is in the pool ("alive")
	rss      []*rsState
}

// rsState is one real server of a checked service.
type rsState struct {
	vs     *vsState
	dest   config.Dest // as configured
	health config.RealHealth
	alive  bool
	weight int32 // effective weight: configured, or misc_dynamic's
	failed int   // checkers currently down (keepalived's num_failed_checkers)
	chks   []*chk
}

// chk is one checker of a real server.
type chk struct {
	rs     *rsState // nil once the checker is retired
	r      Runner
	up     bool
	cancel context.CancelFunc
}

// New returns a Monitor with nothing to check.
func New(cfg Config) *Monitor {
	if cfg.MaxProbes <= 0 {
		cfg.MaxProbes = 256
	}
	if cfg.ScriptTimeout <= 0 {
		cfg.ScriptTimeout = 30 * time.Second
	}
	if cfg.NewChecker == nil {
		cfg.NewChecker = newRunner
	}
	if cfg.RunScript == nil {
		cfg.RunScript = RunScript
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{
		cfg: cfg,
		log: log,
		env: &Env{Log: log, Slots: make(chan struct{}, cfg.MaxProbes)},
	}
}

// Load takes a (re)loaded configuration: it works out the table the
// checks' current verdicts give for f.Rules and hands it to install (the
// director's SetConfig). Servers whose checks did not change keep their
// state and their running checkers, so a reload neither flaps them nor
// re-adds one that is down; new servers start up (down with alpha).
// When install fails nothing changes and its error is returned.
func (m *Monitor) Load(f *config.File, install func(config.Rules) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	old := m.vss
	var next []*vsState
	carried := map[*chk]*rsState{}
	var fresh []*chk
	for _, vh := range f.Health {
		i := slices.IndexFunc(f.Rules.Services, func(s config.Service) bool { return s.Key() == vh.Service })
		if i < 0 {
			return fmt.Errorf("health checks for %s: no such virtual server", FormatVS(vh.Service))
		}
		svc := f.Rules.Services[i]
		nv := &vsState{svc: svc, health: vh}
		if ov := findVS(old, vh.Service); ov != nil {
			nv.quorumUp, nv.sorryOn = ov.quorumUp, ov.sorryOn
		}
		for _, d := range svc.Dests {
			rh := realHealth(&vh, d.Addr, d.Port)
			// Piranha's quiesce_server: nanny sets a failed server's
			// weight to 0 instead of removing it (nanny.c).
			for _, ck := range rh.Checks {
				rh.Inhibit = rh.Inhibit || ck.QuiesceServer
			}
			nr := &rsState{vs: nv, dest: d, health: rh, weight: d.Weight}
			if or := findRS(old, vh.Service, d.Addr, d.Port); or != nil && reflect.DeepEqual(or.health.Checks, rh.Checks) {
				nr.alive, nr.failed = or.alive, or.failed
				if or.weight != or.dest.Weight {
					nr.weight = or.weight // a misc_dynamic weight stays
				}
				for _, c := range or.chks {
					carried[c] = nr
					nr.chks = append(nr.chks, c)
				}
			} else {
				nr.alive = !vh.Alpha || len(rh.Checks) == 0
				for _, ck := range rh.Checks {
					c := &chk{up: nr.alive}
					t := Target{Addr: d.Addr, Port: d.Port, Proto: svc.Proto, Virtualhost: vh.Virtualhost, Service: vh.Service}
					r, err := m.cfg.NewChecker(ck, t, m.env, nr.alive, m.onChange(c))
					if err != nil {
						return fmt.Errorf("%s of %s in VS %s: %w", ck.Kind, FormatServer(d.Addr, d.Port, svc.Proto), FormatVS(vh.Service), err)
					}
					c.r = r
					nr.chks = append(nr.chks, c)
					fresh = append(fresh, c)
				}
				if !nr.alive {
					nr.failed = len(nr.chks)
				}
			}
			nv.rss = append(nv.rss, nr)
		}
		next = append(next, nv)
	}

	// The quorum of every service, as keepalived's init_service_vs does
	// at start and after a reload; this may switch a sorry server in.
	for _, v := range next {
		m.updateQuorum(v, true, false)
	}
	eff := effectiveRules(f.Rules, next)
	if err := install(eff); err != nil {
		return err
	}

	// Committed: retire the checkers of servers that went, move the
	// carried ones, start the new ones. A service that went away runs its
	// down scripts under omega, as keepalived's clear_service_vs.
	for _, ov := range old {
		if findVS(next, ov.svc.Key()) == nil {
			m.omega(ov)
		}
		for _, or := range ov.rss {
			for _, c := range or.chks {
				if nr, ok := carried[c]; ok {
					c.rs = nr
					continue
				}
				c.rs = nil
				if c.cancel != nil {
					c.cancel()
				}
			}
		}
	}
	m.vss = next
	for _, c := range fresh {
		c.rs = c.rsOf(next)
		if m.ctx != nil {
			m.start(c)
		}
	}
	return nil
}

// rsOf finds the server a fresh checker belongs to.
func (c *chk) rsOf(vss []*vsState) *rsState {
	for _, v := range vss {
		for _, r := range v.rss {
			if slices.Contains(r.chks, c) {
				return r
			}
		}
	}
	return nil
}

// Run starts the checkers and runs them until ctx is done.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	for _, v := range m.vss {
		for _, r := range v.rss {
			for _, c := range r.chks {
				m.start(c)
			}
		}
	}
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	for _, v := range m.vss {
		m.omega(v)
		for _, r := range v.rss {
			for _, c := range r.chks {
				c.rs = nil
			}
		}
	}
	m.mu.Unlock()
	m.scripts.Wait()
	return ctx.Err()
}

// omega runs, for a service with omega that is going away (a reload
// dropped it, or ulvsd is stopping), the notify_down script of every alive
// server and quorum_down if it had quorum, as keepalived does in omega mode.
// m.mu must be held.
func (m *Monitor) omega(v *vsState) {
	if !v.health.Omega {
		return
	}
	for _, r := range v.rss {
		if r.alive {
			m.script(r.health.NotifyDown)
		}
	}
	if v.quorumUp {
		m.script(v.health.QuorumDown)
	}
}

// start runs c in its own goroutine. m.mu must be held and m.ctx set.
func (m *Monitor) start(c *chk) {
	if c.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	c.cancel = cancel
	r := c.rs
	m.log.Info(fmt.Sprintf("Activating healthchecker for service %s for VS %s",
		FormatServer(r.dest.Addr, r.dest.Port, r.vs.svc.Proto), FormatVS(r.vs.svc.Key())))
	go c.r.Run(ctx)
}

// onChange returns the callback for one checker's transitions.
func (m *Monitor) onChange(c *chk) func(Transition) {
	return func(t Transition) { m.transition(c, t) }
}

// transition folds one checker's verdict into its server, as keepalived's
// update_svr_checker_state: a server goes down with its first failed
// checker and comes back when its last one recovers.
func (m *Monitor) transition(c *chk, t Transition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := c.rs
	if r == nil {
		return // retired by a reload or stopped
	}
	if t.Weight >= 0 && t.Up {
		m.setWeight(r, int32(t.Weight))
	}
	if c.up == t.Up {
		return
	}
	c.up = t.Up
	if t.Up {
		if r.failed > 0 {
			r.failed--
		}
		if r.failed == 0 {
			m.setAlive(r, true)
		}
	} else {
		r.failed++
		if r.failed == 1 {
			m.setAlive(r, false)
		}
	}
}

// setAlive is keepalived's perform_svr_state.
func (m *Monitor) setAlive(r *rsState, alive bool) {
	if r.alive == alive {
		return
	}
	v := r.vs
	verb, prep := "Removing", "from"
	switch {
	case alive && r.health.Inhibit:
		verb, prep = "Enabling", "of"
	case alive:
		verb, prep = "Adding", "to"
	case r.health.Inhibit:
		verb, prep = "Disabling", "of"
	}
	m.log.Info(fmt.Sprintf("%s service %s %s VS %s", verb,
		FormatServer(r.dest.Addr, r.dest.Port, v.svc.Proto), prep, FormatVS(v.svc.Key())))
	r.alive = alive
	m.sync(v)
	if alive {
		m.script(r.health.NotifyUp)
	} else {
		m.script(r.health.NotifyDown)
	}
	m.updateQuorum(v, false, true)
}

// setWeight is keepalived's update_svr_wgt for misc_dynamic.
func (m *Monitor) setWeight(r *rsState, w int32) {
	if r.weight == w {
		return
	}
	state := ""
	if !r.alive {
		state = "in"
	}
	m.log.Info(fmt.Sprintf("Changing weight from %d to %d for %sactive service %s of VS %s", r.weight, w, state,
		FormatServer(r.dest.Addr, r.dest.Port, r.vs.svc.Proto), FormatVS(r.vs.svc.Key())))
	r.weight = w
	m.sync(r.vs)
	m.updateQuorum(r.vs, false, true)
}

// aliveWeight is keepalived's weigh_live_realservers.
func (v *vsState) aliveWeight() int64 {
	var sum int64
	for _, r := range v.rss {
		if r.alive && r.weight > 0 {
			sum += int64(r.weight)
		}
	}
	return sum
}

// updateQuorum is keepalived's update_quorum_state. With apply it brings
// the table in line at once; at load the caller installs the whole table.
func (m *Monitor) updateQuorum(v *vsState, init, apply bool) {
	h := v.health
	sum := v.aliveWeight()
	q, hy := int64(h.Quorum), int64(h.Hysteresis)
	threshold := q + hy
	if v.quorumUp {
		threshold = q - hy
	}
	vsName := FormatVS(v.svc.Key())
	switch {
	case !v.quorumUp && sum >= threshold:
		v.quorumUp = true
		m.log.Info(fmt.Sprintf("Gained quorum %d+%d=%d <= %d for VS %s", q, hy, threshold, sum, vsName))
		if v.sorryOn {
			s := h.Sorry
			verb := "Removing"
			if s.Inhibit {
				verb = "Disabling"
			}
			m.log.Info(fmt.Sprintf("%s sorry server %s from VS %s", verb, FormatServer(s.Addr, s.Port, v.svc.Proto), vsName))
			v.sorryOn = false
			m.log.Info("Adding alive servers to the pool for VS " + vsName)
		}
		m.script(h.QuorumUp)
	case (v.quorumUp && (sum == 0 || sum < threshold)) || (init && !v.quorumUp && h.Sorry != nil && !v.sorryOn):
		v.quorumUp = false
		what := "Lost quorum"
		if init {
			what = "Starting with quorum down"
		}
		m.log.Info(fmt.Sprintf("%s %d-%d=%d > %d for VS %s", what, q, hy, threshold, sum, vsName))
		if s := h.Sorry; s != nil && !v.sorryOn {
			verb := "Adding"
			if s.Inhibit {
				verb = "Enabling"
			}
			m.log.Info(fmt.Sprintf("%s sorry server %s to VS %s", verb, FormatServer(s.Addr, s.Port, v.svc.Proto), vsName))
			m.log.Info("Removing alive servers from the pool for VS " + vsName)
			v.sorryOn = true
		}
		m.script(h.QuorumDown)
	default:
		return
	}
	if apply {
		m.sync(v)
	}
}

// script runs s in the background, bounded by the script timeout.
func (m *Monitor) script(s config.Script) {
	if s.IsZero() {
		return
	}
	m.scripts.Add(1)
	go func() {
		defer m.scripts.Done()
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ScriptTimeout)
		defer cancel()
		code, err := m.cfg.RunScript(ctx, s, m.cfg.ScriptTimeout)
		switch {
		case err != nil:
			m.log.Warn("script failed", "script", s.Text, "err", err)
		case code != 0:
			m.log.Warn("script exited with an error", "script", s.Text, "status", code)
		}
	}()
}

// pool is the list of dests the verdicts put in v's pool, in configured
// order, the sorry server last.
func (v *vsState) pool() []config.Dest {
	var out []config.Dest
	for _, r := range v.rss {
		d := r.dest
		switch {
		case r.alive && !v.sorryOn:
			d.Weight = r.weight
		case r.health.Inhibit:
			d.Weight = 0
		default:
			continue
		}
		out = append(out, d)
	}
	if s := v.health.Sorry; s != nil && (v.sorryOn || s.Inhibit) {
		if !slices.ContainsFunc(out, func(d config.Dest) bool { return d.Addr == s.Addr && d.Port == s.Port }) {
			d := config.Dest{Addr: s.Addr, Port: s.Port, Method: sorryMethod(v), Weight: 1}
			if !v.sorryOn {
				d.Weight = 0
			}
			out = append(out, d)
		}
	}
	return out
}

// managed reports whether addr:port is a dest the checks of v decide.
func (v *vsState) managed(a netip.Addr, port uint16) bool {
	for _, r := range v.rss {
		if r.dest.Addr == a && r.dest.Port == port {
			return true
		}
	}
	s := v.health.Sorry
	return s != nil && s.Addr == a && s.Port == port
}

func sorryMethod(v *vsState) vs.Method {
	if m := v.health.Sorry.Method; m != 0 {
		return m
	}
	if len(v.svc.Dests) > 0 {
		return v.svc.Dests[0].Method
	}
	return vs.Route
}

// effectiveRules is rules with every checked service's dests replaced by
// its pool.
func effectiveRules(rules config.Rules, vss []*vsState) config.Rules {
	out := config.Rules{Services: slices.Clone(rules.Services)}
	for i := range out.Services {
		if v := findVS(vss, out.Services[i].Key()); v != nil {
			out.Services[i].Dests = v.pool()
		}
	}
	return out
}

// sync brings the live table's dests of v in line with its pool through
// the edit API: adds, weight edits and deletes of the dests the checks
// manage; dests someone added by hand are left alone. An edit that fails
// (someone deleted the service by hand) is logged, as keepalived logs a
// failed ipvs command.
func (m *Monitor) sync(v *vsState) {
	live := m.cfg.Editor.Rules()
	i := slices.IndexFunc(live.Services, func(s config.Service) bool { return s.Key() == v.svc.Key() })
	if i < 0 {
		m.log.Warn("virtual server not in the table; checks cannot change it", "vs", FormatVS(v.svc.Key()))
		return
	}
	have := live.Services[i].Dests
	want := v.pool()
	svc := v.svc
	svc.Dests = nil
	apply := func(op config.Op, d config.Dest) {
		err := m.cfg.Editor.Apply(config.Command{Op: op, Service: svc, HasService: true, Dest: d})
		if err != nil && !errors.Is(err, config.ErrDestExists) {
			m.log.Warn("table edit failed", "op", op.String(), "vs", FormatVS(svc.Key()),
				"server", netip.AddrPortFrom(d.Addr, d.Port).String(), "err", err)
		}
	}
	for _, h := range have {
		if !v.managed(h.Addr, h.Port) {
			continue
		}
		if !slices.ContainsFunc(want, func(w config.Dest) bool { return w.Addr == h.Addr && w.Port == h.Port }) {
			apply(config.OpDelDest, h)
		}
	}
	for _, w := range want {
		j := slices.IndexFunc(have, func(h config.Dest) bool { return h.Addr == w.Addr && h.Port == w.Port })
		switch {
		case j < 0:
			apply(config.OpAddDest, w)
		case have[j] != w:
			apply(config.OpEditDest, w)
		}
	}
}

// Configured returns live with the checks' verdicts undone in every
// checked service: a server the checks hold down (removed, or at weight
// 0) is put back as the configuration has it, a sorry server standing in
// is left out, a weight the checks set (misc_dynamic) is the configured
// one. What the administrator changed by hand stays: a weight edited
// (ulvsadm -e, the web console) on a server that is up, a checked server
// deleted while up (ulvsadm -d), dests added (ulvsadm -a). --save-config
// and the console write this, so that a server that happens to be down
// when the file is saved is not lost from it, and an edit is not lost
// either.
func (m *Monitor) Configured(live config.Rules) config.Rules {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := config.Rules{Services: slices.Clone(live.Services)}
	for i := range out.Services {
		s := &out.Services[i]
		v := findVS(m.vss, s.Key())
		if v == nil {
			continue
		}
		var dests []config.Dest
		for _, r := range v.rss {
			j := slices.IndexFunc(s.Dests, func(d config.Dest) bool { return d.Addr == r.dest.Addr && d.Port == r.dest.Port })
			switch {
			case j >= 0 && r.alive:
				d := s.Dests[j]
				if d.Weight == r.weight {
					d.Weight = r.dest.Weight // the checks' weight, or unchanged
				}
				dests = append(dests, d)
			case j >= 0:
				d := s.Dests[j] // held at weight 0 by its checks
				d.Weight = r.dest.Weight
				dests = append(dests, d)
			case !r.alive:
				dests = append(dests, r.dest) // removed by its checks
			}
			// up and not in the table: deleted by hand
		}
		for _, d := range s.Dests {
			if !v.managed(d.Addr, d.Port) {
				dests = append(dests, d)
			}
		}
		s.Dests = dests
	}
	return out
}

func findVS(vss []*vsState, k config.ServiceKey) *vsState {
	for _, v := range vss {
		if v.svc.Key() == k {
			return v
		}
	}
	return nil
}

func findRS(vss []*vsState, k config.ServiceKey, a netip.Addr, port uint16) *rsState {
	if v := findVS(vss, k); v != nil {
		for _, r := range v.rss {
			if r.dest.Addr == a && r.dest.Port == port {
				return r
			}
		}
	}
	return nil
}

func realHealth(vh *config.VirtualHealth, a netip.Addr, port uint16) config.RealHealth {
	for _, rh := range vh.Reals {
		if rh.Addr == a && rh.Port == port {
			return rh
		}
	}
	return config.RealHealth{Addr: a, Port: port}
}
