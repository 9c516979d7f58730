package director

import (
	"context"
	"flag"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ulvs/ulvs/bgp"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/vs"
)

var vipB = netip.MustParseAddr("10.77.0.101")

// weighted returns s with the weights of its dests set, in order.
func weighted(s config.Service, w ...int32) config.Service {
	s.Dests = slices.Clone(s.Dests)
	for i := range w {
		s.Dests[i].Weight = w[i]
	}
	return s
}

func at(s config.Service, addr netip.Addr, port uint16) config.Service {
	s.Addr, s.Port = addr, port
	return s
}

func TestBGPDecide(t *testing.T) {
	two := svc("mh", rip1, rip2)
	twoB := at(two, vipB, 80)
	tests := []struct {
		name string
		in   bgpInput
		want map[netip.Addr]string // announced: "yes", else a piece of the reason
	}{
		{
			name: "every service has an alive server",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{two, at(two, vipA, 443), at(two, vipB, 80)}}, quorum: 1},
			want: map[netip.Addr]string{vipA: "yes", vipB: "yes"},
		},
		{
			name: "one service of an address without alive server withdraws the address",
			in: bgpInput{rules: config.Rules{Services: []config.Service{two, weighted(at(two, vipA, 443), 0, 0), at(two, vipB, 80)}},
				quorum: 1},
			want: map[netip.Addr]string{vipA: "no quorum: TCP 10.77.0.100:443 has alive weight 0 < 1", vipB: "yes"},
		},
		{
			name: "real servers not resolved by ARP are not alive",
			in: bgpInput{rules: config.Rules{Services: []config.Service{two}}, quorum: 1,
				unresolved: map[destKey]bool{{svc: two.Key(), addr: rip1, port: 80}: true, {svc: two.Key(), addr: rip2, port: 80}: true}},
			want: map[netip.Addr]string{vipA: "alive weight 0 < 1 (2 real servers with weight not resolved by ARP yet)"},
		},
		{
			name: "one resolved is enough",
			in: bgpInput{rules: config.Rules{Services: []config.Service{two}}, quorum: 1,
				unresolved: map[destKey]bool{{svc: two.Key(), addr: rip1, port: 80}: true}},
			want: map[netip.Addr]string{vipA: "yes"},
		},
		{
			name: "service without dests",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{svc("rr")}}, quorum: 1},
			want: map[netip.Addr]string{vipA: "alive weight 0 < 1"},
		},
		{
			name: "quorum is a total weight, as keepalived's",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{weighted(two, 2, 0), at(weighted(two, 2, 1), vipB, 80)}}, quorum: 3},
			want: map[netip.Addr]string{vipA: "alive weight 2 < 3", vipB: "yes"},
		},
		{
			name: "negative weight counts for nothing",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{weighted(two, -5, 1)}}, quorum: 1},
			want: map[netip.Addr]string{vipA: "yes"},
		},
		{
			name: "health checks lost quorum (sorry server in the pool)",
			in: bgpInput{rules: config.Rules{Services: []config.Service{two, at(two, vipB, 80)}}, quorum: 1,
				checks: []healthcheck.VirtualStatus{{Service: two.Key(), QuorumUp: false}, {Service: twoB.Key(), QuorumUp: true}}},
			want: map[netip.Addr]string{vipA: "health checks of TCP 10.77.0.100:80 lost quorum", vipB: "yes"},
		},
		{
			name: "drained",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{two}}, quorum: 1, drained: true},
			want: map[netip.Addr]string{vipA: "drained"},
		},
		{
			name: "stopping beats drained",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{two}}, quorum: 1, drained: true, stopping: true},
			want: map[netip.Addr]string{vipA: "stopping"},
		},
		{
			name: "interface down",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{two}}, quorum: 1, linksDown: []string{"eth1"}},
			want: map[netip.Addr]string{vipA: "interface eth1 is not up"},
		},
		{
			name: "failover backup",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{two, at(two, vipB, 80)}}, quorum: 1, standby: []netip.Addr{vipB}},
			want: map[netip.Addr]string{vipA: "yes", vipB: "failover instance is not master"},
		},
		{
			name: "fwmark services have no address",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{{FwMark: 1, Proto: vs.TCP, Dests: two.Dests}}}, quorum: 1},
			want: map[netip.Addr]string{},
		},
		{
			name: "IPv6 address is announced as a /128",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{at(two, netip.MustParseAddr("2001:db8::1"), 80)}}, quorum: 1},
			want: map[netip.Addr]string{netip.MustParseAddr("2001:db8::1"): "yes"},
		},
		{
			name: "held (warm-up)",
			in:   bgpInput{rules: config.Rules{Services: []config.Service{two}}, quorum: 1, held: "warming up"},
			want: map[netip.Addr]string{vipA: "withdrawn: warming up"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bgpDecide(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d addresses %v, want %d", len(got), got, len(tt.want))
			}
			if !slices.IsSortedFunc(got, func(a, b ctl.BGPAddressStatus) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) }) {
				t.Errorf("not sorted: %v", got)
			}
			for _, a := range got {
				want, ok := tt.want[a.Prefix.Addr()]
				switch {
				case !ok:
					t.Errorf("unexpected address %v", a.Prefix)
				case a.Prefix.Bits() != a.Prefix.Addr().BitLen():
					t.Errorf("%v: not a host prefix", a.Prefix)
				case want == "yes" && !a.Announced:
					t.Errorf("%v not announced (%s), want announced", a.Prefix, a.Reason)
				case want != "yes" && (a.Announced || !strings.Contains(a.Reason, want)):
					t.Errorf("%v: announced %v reason %q, want withdrawn for %q", a.Prefix, a.Announced, a.Reason, want)
				}
			}
		})
	}
}

// fakeSpeaker records what the manager asks to announce.
type fakeSpeaker struct {
	mu      sync.Mutex
	now     []netip.Prefix
	history [][]netip.Prefix
	stopped bool
	// configs are the configurations Reconfigure got, and what was
	// announced when it was called.
	configs       []config.BGP
	atReconfigure [][]netip.Prefix
}

func (f *fakeSpeaker) Reconfigure(b config.BGP) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configs = append(f.configs, b)
	f.atReconfigure = append(f.atReconfigure, slices.Clone(f.now))
	return nil
}

func (f *fakeSpeaker) SetAnnounced(p []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(p, f.now) {
		f.history = append(f.history, slices.Clone(p))
	}
	f.now = slices.Clone(p)
	return nil
}
func (f *fakeSpeaker) Peers() []bgp.PeerStatus   { return nil }
func (f *fakeSpeaker) Announced() []netip.Prefix { return f.announced() }
func (f *fakeSpeaker) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	return nil
}
func (f *fakeSpeaker) announced() []netip.Prefix {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.now)
}

// A sequence of edits, a drain and a shutdown, checked after each step:
// the announcements follow the quorum of the live rules.
func TestBGPManagerSequence(t *testing.T) {
	d, _ := newTestDirector(t)
	fs := &fakeSpeaker{}
	var down []string
	m := newBGPManager(fs, config.BGP{Quorum: 1}, d, func() []string { return down }, d.log)
	pa, pb := netip.PrefixFrom(vipA, 32), netip.PrefixFrom(vipB, 32)
	steps := []struct {
		name string
		do   func() error
		want []netip.Prefix
	}{
		{"empty table", func() error { return nil }, nil},
		{"two services", func() error {
			return d.SetRules(config.Rules{Services: []config.Service{svc("mh", rip1, rip2), at(svc("mh", rip3), vipB, 80)}})
		}, []netip.Prefix{pa, pb}},
		{"the only server of B quiesced", func() error {
			return d.Apply(config.Command{Op: config.OpEditDest, HasService: true, Service: at(svc("mh"), vipB, 80),
				Dest: config.Dest{Addr: rip3, Port: 80, Method: vs.Route, Weight: 0}})
		}, []netip.Prefix{pa}},
		{"one of A's two removed", func() error {
			return d.Apply(config.Command{Op: config.OpDelDest, HasService: true, Service: svc("mh"), Dest: config.Dest{Addr: rip1, Port: 80}})
		}, []netip.Prefix{pa}},
		{"B back", func() error {
			return d.Apply(config.Command{Op: config.OpEditDest, HasService: true, Service: at(svc("mh"), vipB, 80),
				Dest: config.Dest{Addr: rip3, Port: 80, Method: vs.Route, Weight: 5}})
		}, []netip.Prefix{pa, pb}},
		{"drain", func() error { return d.BGPDrain(true) }, nil},
		{"edit while drained", func() error {
			return d.Apply(config.Command{Op: config.OpEditDest, HasService: true, Service: svc("mh"),
				Dest: config.Dest{Addr: rip2, Port: 80, Method: vs.Route, Weight: 3}})
		}, nil},
		{"undrain", func() error { return d.BGPDrain(false) }, []netip.Prefix{pa, pb}},
		{"interface down", func() error { down = []string{"eth0"}; return nil }, nil},
		{"interface up", func() error { down = nil; return nil }, []netip.Prefix{pa, pb}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		m.update()
		if got := fs.announced(); !slices.Equal(got, st.want) {
			t.Fatalf("after %s: announced %v, want %v", st.name, got, st.want)
		}
		snap := d.Snapshot()
		if snap.BGP == nil || len(bgpAnnounced(snap.BGP.Addresses)) != len(st.want) {
			t.Fatalf("after %s: snapshot BGP %+v", st.name, snap.BGP)
		}
	}
	m.shutdown(0)
	if got := fs.announced(); len(got) != 0 || !fs.stopped {
		t.Fatalf("after shutdown: announced %v, stopped %v", got, fs.stopped)
	}
	if !d.Snapshot().BGP.Stopping {
		t.Error("snapshot does not say stopping")
	}
}

func TestBGPDrainWithoutBGP(t *testing.T) {
	d, _ := newTestDirector(t)
	if err := d.BGPDrain(true); err == nil || !strings.Contains(err.Error(), "no [bgp] configured") {
		t.Fatalf("BGPDrain without a speaker: %v", err)
	}
	if d.Snapshot().BGP != nil {
		t.Error("snapshot has BGP without a speaker")
	}
}

func TestBGPFlags(t *testing.T) {
	fileWithBGP := &config.File{Path: "ulvs.toml", BGP: &config.BGP{LocalAS: 1}}
	tests := []struct {
		name string
		args []string
		file *config.File
		want string // error text; "" for success
	}{
		{"none", nil, nil, ""},
		{"file's", nil, fileWithBGP, ""},
		{"quick start", []string{"--bgp-as", "65001", "--bgp-router-id", "10.0.0.2", "--bgp-peer", "65000@10.0.0.1,passive:65002@10.0.1.1:1179", "--bgp-hold-time", "9s"}, nil, ""},
		{"both", []string{"--bgp-as", "65001", "--bgp-router-id", "10.0.0.2", "--bgp-peer", "65000@10.0.0.1"}, fileWithBGP, "use one or the other"},
		{"peer without as", []string{"--bgp-peer", "65000@10.0.0.1"}, nil, "need --bgp-as"},
		{"no router id", []string{"--bgp-as", "65001", "--bgp-peer", "65000@10.0.0.1"}, nil, "--bgp-router-id: required"},
		{"no peer", []string{"--bgp-as", "65001", "--bgp-router-id", "10.0.0.2"}, nil, "--bgp-peer: required"},
		{"ibgp", []string{"--bgp-as", "65000", "--bgp-router-id", "10.0.0.2", "--bgp-peer", "65000@10.0.0.1"}, nil, "eBGP only"},
		{"hold time", []string{"--bgp-as", "65001", "--bgp-router-id", "10.0.0.2", "--bgp-peer", "65000@10.0.0.1", "--bgp-hold-time", "2s"}, nil, "--bgp-hold-time: must be 0 or between 3"},
		{"v6 router id", []string{"--bgp-as", "65001", "--bgp-router-id", "::1", "--bgp-peer", "65000@10.0.0.1"}, nil, "--bgp-router-id: must be an IPv4 address"},
		{"v6 peer, next hop, warm-up", []string{"--bgp-as", "65001", "--bgp-router-id", "10.0.0.2", "--bgp-peer", "bfd:65000@[2001:db8::1]:179",
			"--bgp-next-hop6", "2001:db8::2", "--bgp-warmup", "10s"}, nil, ""},
		{"link-local next hop", []string{"--bgp-as", "65001", "--bgp-router-id", "10.0.0.2", "--bgp-peer", "65000@10.0.0.1", "--bgp-next-hop6", "fe80::1"}, nil, "--bgp-next-hop6: must be a global unicast"},
		{"warm-up without as", []string{"--bgp-warmup", "1s"}, nil, "need --bgp-as"},
		{"as too big", []string{"--bgp-as", "4294967296", "--bgp-router-id", "10.0.0.2", "--bgp-peer", "65000@10.0.0.1"}, nil, "must be from 1 to 4294967295"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("ulvsd", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			bf := addBGPFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			b, err := bf.config(tt.file)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			case tt.want == "" && tt.name == "v6 peer, next hop, warm-up":
				if b == nil || len(b.Peers) != 1 || b.Peers[0].Address != netip.MustParseAddr("2001:db8::1") || !b.Peers[0].BFD ||
					b.Peers[0].BFDInterval != config.DefaultBFDInterval || b.NextHop6 != netip.MustParseAddr("2001:db8::2") || b.Warmup != 10*time.Second {
					t.Fatalf("config %+v", b)
				}
			case tt.want == "" && tt.name == "quick start":
				if b == nil || len(b.Peers) != 2 || !b.Peers[1].Passive || b.Peers[1].Port != 1179 || b.HoldTime != 9*time.Second {
					t.Fatalf("config %+v", b)
				}
			}
		})
	}
	fs := flag.NewFlagSet("ulvsd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addBGPFlags(fs)
	if err := fs.Parse([]string{"--bgp-peer", "nonsense"}); err == nil {
		t.Error("--bgp-peer nonsense accepted")
	}
}

// A reload that the running speaker can take is applied at once without
// a withdrawal; one that needs a new speaker (a new router id) withdraws
// everything first, and announces again after the restart.
func TestBGPManagerReconfigure(t *testing.T) {
	d, _ := newTestDirector(t)
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("mh", rip1)}}); err != nil {
		t.Fatal(err)
	}
	fs := &fakeSpeaker{}
	base := config.BGP{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.2"), Quorum: 1, ShutdownDelay: 50 * time.Millisecond,
		Peers: []config.BGPPeer{{Address: netip.MustParseAddr("10.0.0.1"), AS: 65000}}}
	m := newBGPManager(fs, base, d, nil, d.log)
	pa := []netip.Prefix{netip.PrefixFrom(vipA, 32)}
	if got := fs.announced(); !slices.Equal(got, pa) {
		t.Fatalf("announced %v, want %v", got, pa)
	}
	// A second peer: applied to the running speaker, nothing withdrawn.
	more := base
	more.Peers = append(slices.Clone(base.Peers), config.BGPPeer{Address: netip.MustParseAddr("10.0.1.1"), AS: 65000})
	m.reconfigure(more)
	if len(fs.configs) != 1 || !slices.Equal(fs.atReconfigure[0], pa) || len(fs.history) != 1 {
		t.Fatalf("peer added: reconfigured %d times, announced then %v, history %v", len(fs.configs), fs.atReconfigure, fs.history)
	}
	// A quorum the service no longer reaches: the manager's own setting.
	high := more
	high.Quorum = 2
	m.reconfigure(high)
	if got := fs.announced(); len(got) != 0 {
		t.Fatalf("quorum 2 with one server: announced %v", got)
	}
	// A new router id: withdrawn before the speaker restarts.
	newID := more
	newID.RouterID = netip.MustParseAddr("10.0.0.3")
	m.reconfigure(high) // back to a known state (no change)
	m.reconfigure(more)
	m.reconfigure(newID)
	if got := fs.announced(); len(got) != 0 {
		t.Fatalf("restarting: announced %v, want nothing", got)
	}
	if st := d.Snapshot().BGP; st == nil || len(st.Addresses) != 1 || !strings.Contains(st.Addresses[0].Reason, "restarts") {
		t.Fatalf("restarting: status %+v", st)
	}
	m.wg.Wait()
	fs.mu.Lock()
	last, before := fs.configs[len(fs.configs)-1], fs.atReconfigure[len(fs.configs)-1]
	fs.mu.Unlock()
	if last.RouterID != newID.RouterID || len(before) != 0 {
		t.Fatalf("restart: speaker got router id %v with %v announced, want %v with nothing", last.RouterID, before, newID.RouterID)
	}
	if got := fs.announced(); !slices.Equal(got, pa) {
		t.Fatalf("after the restart: announced %v, want %v", got, pa)
	}
	if m.config().RouterID != newID.RouterID {
		t.Errorf("manager's router id %v", m.config().RouterID)
	}
}

// The warm-up holds announcements back until its time elapses, or until
// the connection sync has created connections and then none for a
// second.
func TestBGPWarmup(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	var w warmup
	if why, over := w.check(t0, 0, false); !over || why != "" {
		t.Fatalf("no warm-up: %q %v", why, over)
	}
	// Without sync: the full time.
	w.start(t0, 10*time.Second)
	if why, over := w.check(t0.Add(9*time.Second), 0, false); over || !strings.Contains(why, "no backup sync daemon") {
		t.Fatalf("9 s of 10 without sync: %q %v", why, over)
	}
	if why, over := w.check(t0.Add(10*time.Second), 0, false); !over || !strings.Contains(why, "time elapsed") {
		t.Fatalf("10 s of 10: %q %v", why, over)
	}
	if why, over := w.check(t0.Add(11*time.Second), 0, false); !over || why != "" {
		t.Fatalf("after: %q %v", why, over)
	}
	// With sync: not over while nothing arrived, nor while connections
	// keep being created; over a second after the last.
	w.start(t0, 10*time.Second)
	steps := []struct {
		at      time.Duration
		created uint64
		over    bool
	}{
		{0, 5, false},               // first reading (counted before the start)
		{2 * time.Second, 5, false}, // nothing arrived yet: wait
		{2200 * time.Millisecond, 40, false},
		{2400 * time.Millisecond, 90, false},
		{3 * time.Second, 91, false},
		{3900 * time.Millisecond, 91, false}, // quiet for 0.9 s
		{4 * time.Second, 91, true},          // quiet for 1 s
	}
	for _, st := range steps {
		why, over := w.check(t0.Add(st.at), st.created, true)
		if over != st.over {
			t.Fatalf("at %v, created %d: over %v (%q), want %v", st.at, st.created, over, why, st.over)
		}
		if over && !strings.Contains(why, "connection sync created no connection") {
			t.Errorf("reason %q", why)
		}
	}
}

// The manager holds back its announcements during the warm-up and says
// why.
func TestBGPManagerWarmup(t *testing.T) {
	d, _ := newTestDirector(t)
	if err := d.SetRules(config.Rules{Services: []config.Service{svc("mh", rip1)}}); err != nil {
		t.Fatal(err)
	}
	fs := &fakeSpeaker{}
	m := newBGPManagerWarm(fs, config.BGP{Quorum: 1}, d, nil, d.log, time.Hour)
	if got := fs.announced(); len(got) != 0 {
		t.Fatalf("warming up: announced %v", got)
	}
	st := d.Snapshot().BGP
	if st == nil || st.Warmup == "" || len(st.Addresses) != 1 || !strings.Contains(st.Addresses[0].Reason, "warming up") {
		t.Fatalf("warming up: status %+v", st)
	}
	m.mu.Lock()
	m.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	m.mu.Unlock()
	m.update()
	if got := fs.announced(); len(got) != 1 {
		t.Fatalf("after the warm-up: announced %v", got)
	}
	if d.Snapshot().BGP.Warmup != "" {
		t.Error("status still says warming up")
	}
}
