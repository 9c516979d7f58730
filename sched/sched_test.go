package sched

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// Test dests are letters: A is ID 1 at 10.0.0.1, B is ID 2, and so on.
// A list is written newest first, as vs.Service.Dests holds it:
// "C:2 B:3 A:4" is the list after adding A, B, C with weights 4, 3, 2.
// A suffix "^N" sets the upper threshold, "r" makes the dest direct-routed
// (Route) with no MAC resolved yet.

// fixture keeps one live DestState per letter across the steps of a case,
// as vs.DestState survives table rebuilds.
type fixture struct {
	t      *testing.T
	states map[byte]*vs.DestState
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, states: make(map[byte]*vs.DestState)}
}

func (f *fixture) state(letter byte) *vs.DestState {
	s, ok := f.states[letter]
	if !ok {
		s = &vs.DestState{}
		f.states[letter] = s
	}
	return s
}

// service parses a dest list into a fresh Service with fresh Dests.
func (f *fixture) service(list string) *vs.Service {
	f.t.Helper()
	svc := &vs.Service{ID: 1, Proto: vs.TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}
	for _, tok := range strings.Fields(list) {
		letter := tok[0]
		if letter < 'A' || letter > 'Z' || len(tok) < 3 || tok[1] != ':' {
			f.t.Fatalf("bad dest %q", tok)
		}
		d := &vs.Dest{
			ID:     uint32(letter-'A') + 1,
			Addr:   netip.AddrFrom4([4]byte{10, 0, 0, letter - 'A' + 1}),
			Port:   80,
			Method: vs.Masq,
			State:  f.state(letter),
		}
		rest := tok[2:]
		if strings.HasSuffix(rest, "r") {
			d.Method = vs.Route
			rest = strings.TrimSuffix(rest, "r")
		}
		if w, u, ok := strings.Cut(rest, "^"); ok {
			n, err := strconv.ParseUint(u, 10, 32)
			if err != nil {
				f.t.Fatalf("bad threshold in %q", tok)
			}
			d.UThreshold = uint32(n)
			rest = w
		}
		w, err := strconv.Atoi(rest)
		if err != nil {
			f.t.Fatalf("bad weight in %q", tok)
		}
		d.Weight = int32(w)
		svc.Dests = append(svc.Dests, d)
	}
	return svc
}

// overload marks exactly the letters in over as overloaded.
func (f *fixture) overload(over string) {
	for letter, s := range f.states {
		s.Overloaded.Store(strings.IndexByte(over, letter) >= 0)
	}
}

// picks runs n schedules and names the results ("-" for nil).
func picks(s vs.Scheduler, svc *vs.Service, n int) string {
	out := make([]string, n)
	for i := range out {
		d := s.Schedule(svc, vs.Flow{})
		if d == nil {
			out[i] = "-"
			continue
		}
		out[i] = string(rune('A' + d.ID - 1))
	}
	return strings.Join(out, " ")
}

// step is one moment of a scheduler table test.
type step struct {
	dests string // when set, the service's new dest list: New with prev
	over  string // letters overloaded during this step
	want  string // the picks, in order
}

// seqCase is a sequence of steps on one service.
type seqCase struct {
	name string
	// from, when set, is the scheduler the service had before: the first
	// step builds it on the same list and passes it as prev, as a
	// scheduler change (ipvsadm -E -s) does.
	from  string
	steps []step
}

// runSeq runs the cases against scheduler name.
func runSeq(t *testing.T, name string, cases []seqCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var s vs.Scheduler
			var svc *vs.Service
			for i, st := range tc.steps {
				if i == 0 || st.dests != "" {
					svc = f.service(st.dests)
					prev := s
					if i == 0 && tc.from != "" {
						var err error
						prev, err = New(tc.from, svc, nil)
						if err != nil {
							t.Fatalf("New(%q): %v", tc.from, err)
						}
					}
					var err error
					s, err = New(name, svc, prev)
					if err != nil {
						t.Fatalf("step %d: New: %v", i, err)
					}
				}
				f.overload(st.over)
				n := len(strings.Fields(st.want))
				if got := picks(s, svc, n); got != st.want {
					t.Errorf("step %d (dests %q, overloaded %q): got %q, want %q",
						i, st.dests, st.over, got, st.want)
				}
			}
		})
	}
}

// connCase is one table case for a scheduler that reads connection counts
// (lc, wlc, sed, nq, fo, ovf).
type connCase struct {
	name  string
	dests string // newest first, as fixture.service parses it
	// conns sets the counters before the first pick: "A=3/1 B=2" gives A
	// 3 active and 1 inactive connections, B 2 active; others have none.
	conns string
	over  string // letters overloaded
	// want is the picks in order ("-" for nil). Each pick adds one active
	// connection to the dest it chose, as a new TCP connection does (it
	// counts as active from SYN_RECV on since Linux 4.8, ip_vs_proto_tcp.c
	// set_tcp_state), so a sequence shows how the load spreads.
	want string
}

// connCommonCases hold for every connection-count scheduler: nothing to
// pick gives nil.
var connCommonCases = []connCase{
	{name: "empty service gives nil", dests: "", want: "-"},
	{name: "all unavailable gives nil", dests: "C:0 B:1 A:1", over: "AB", want: "- -"},
}

// runConns runs the cases, and connCommonCases, against scheduler name.
func runConns(t *testing.T, name string, cases []connCase) {
	t.Helper()
	for _, tc := range append(cases, connCommonCases...) {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			svc := f.service(tc.dests)
			f.conns(tc.conns)
			f.overload(tc.over)
			s, err := New(name, svc, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got := make([]string, 0, len(tc.want))
			for range strings.Fields(tc.want) {
				d := s.Schedule(svc, vs.Flow{})
				if d == nil {
					got = append(got, "-")
					continue
				}
				got = append(got, string(rune('A'+d.ID-1)))
				d.State.ActiveConns.Add(1)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("dests %q, conns %q, overloaded %q: got %q, want %q",
					tc.dests, tc.conns, tc.over, g, tc.want)
			}
		})
	}
}

// conns parses "A=3/1 B=2" (active/inactive per letter) into the live
// counters of the letters' states.
func (f *fixture) conns(list string) {
	f.t.Helper()
	for _, tok := range strings.Fields(list) {
		if len(tok) < 3 || tok[0] < 'A' || tok[0] > 'Z' || tok[1] != '=' {
			f.t.Fatalf("bad conns %q", tok)
		}
		act, inact, _ := strings.Cut(tok[2:], "/")
		a, err := strconv.ParseInt(act, 10, 32)
		if err != nil {
			f.t.Fatalf("bad active count in %q", tok)
		}
		var in int64
		if inact != "" {
			if in, err = strconv.ParseInt(inact, 10, 32); err != nil {
				f.t.Fatalf("bad inactive count in %q", tok)
			}
		}
		st := f.state(tok[0])
		st.ActiveConns.Store(int32(a))
		st.InactConns.Store(int32(in))
	}
}

func TestNames(t *testing.T) {
	want := []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	// The caller owns the slice.
	Names()[0] = "x"
	if got := Names()[0]; got != "rr" {
		t.Errorf("Names()[0] after caller wrote to a copy = %q, want rr", got)
	}
}

func TestNew(t *testing.T) {
	f := newFixture(t)
	good := f.service("B:1 A:1")
	tests := []struct {
		name    string
		sched   string
		svc     *vs.Service
		wantErr error // nil: success; errAny: any error
	}{
		{name: "rr", sched: "rr", svc: good},
		{name: "wrr", sched: "wrr", svc: good},
		{name: "rr no dests", sched: "rr", svc: &vs.Service{}},
		{name: "unknown", sched: "xyz", svc: good, wantErr: ErrUnknown},
		{name: "empty name", sched: "", svc: good, wantErr: ErrUnknown},
		{name: "case matters", sched: "RR", svc: good, wantErr: ErrUnknown},
		{name: "lc", sched: "lc", svc: good},
		{name: "wlc", sched: "wlc", svc: good},
		{name: "sed", sched: "sed", svc: good},
		{name: "nq", sched: "nq", svc: good},
		{name: "fo", sched: "fo", svc: good},
		{name: "ovf", sched: "ovf", svc: good},
		{name: "wlc no dests", sched: "wlc", svc: &vs.Service{}},
		{name: "lblc", sched: "lblc", svc: good},
		{name: "lblcr", sched: "lblcr", svc: good},
		{name: "dh", sched: "dh", svc: good},
		{name: "sh", sched: "sh", svc: good},
		{name: "mh", sched: "mh", svc: good},
		{name: "twos", sched: "twos", svc: good},
		{name: "mh no dests", sched: "mh", svc: &vs.Service{}},
		{name: "lblc no dests", sched: "lblc", svc: &vs.Service{}},
		{name: "mh table not prime", sched: "mh", svc: &vs.Service{Params: vs.SchedParams{MHTableSize: 4096}}, wantErr: errAny},
		{name: "unknown overhead", sched: "wlc", svc: &vs.Service{Params: vs.SchedParams{Overhead: 9}}, wantErr: errAny},
		{name: "negative expiration", sched: "lblc", svc: &vs.Service{Params: vs.SchedParams{LBLCExpiration: -1}}, wantErr: errAny},
		{name: "wlc nil state", sched: "wlc", svc: &vs.Service{Dests: []*vs.Dest{{ID: 1, Weight: 1}}}, wantErr: errAny},
		{name: "nil service", sched: "rr", svc: nil, wantErr: errAny},
		{name: "nil dest", sched: "wrr", svc: &vs.Service{Dests: []*vs.Dest{nil}}, wantErr: errAny},
		{name: "nil state", sched: "rr", svc: &vs.Service{Dests: []*vs.Dest{{ID: 1, Weight: 1}}}, wantErr: errAny},
		{name: "duplicate ID", sched: "wrr", svc: &vs.Service{Dests: []*vs.Dest{good.Dests[0], good.Dests[0]}}, wantErr: errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.sched, tc.svc, nil)
			switch {
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("New(%q) error %v, want none", tc.sched, err)
				}
				if got := s.Name(); got != tc.sched {
					t.Errorf("Name() = %q, want %q", got, tc.sched)
				}
			case err == nil:
				t.Fatalf("New(%q) = %v, want an error", tc.sched, s)
			case tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Errorf("New(%q) error %v, want %v", tc.sched, err, tc.wantErr)
			case tc.wantErr != errAny && !strings.Contains(err.Error(), strconv.Quote(tc.sched)):
				t.Errorf("New(%q) error %q does not name the scheduler", tc.sched, err)
			}
		})
	}
}

// TestNotImplementedEverywhere checks that every kernel name New does not
// build reports ErrNotImplemented, never ErrUnknown.
func TestNotImplementedEverywhere(t *testing.T) {
	svc := newFixture(t).service("A:1")
	for _, name := range Names() {
		_, err := New(name, svc, nil)
		if implemented[name] {
			if err != nil {
				t.Errorf("New(%q): %v", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrNotImplemented) {
			t.Errorf("New(%q) error %v, want ErrNotImplemented", name, err)
		}
	}
}

// implemented lists the schedulers New builds.
var implemented = map[string]bool{
	"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true,
	"dh": true, "sh": true, "sed": true, "nq": true, "fo": true, "ovf": true,
	"mh": true, "twos": true,
}

var errAny = errors.New("any error")

func TestDiffDests(t *testing.T) {
	tests := []struct {
		name      string
		old, cur  string
		wantStay  int   // stayFrom
		wantCurOf []int // per old dest
		unchanged bool
	}{
		{name: "same", old: "C:1 B:1 A:1", cur: "C:1 B:1 A:1", wantStay: 0, wantCurOf: []int{0, 1, 2}, unchanged: true},
		{name: "weight edit", old: "C:1 B:1 A:1", cur: "C:1 B:2 A:1", wantStay: 0, wantCurOf: []int{0, 1, 2}},
		{name: "threshold edit", old: "B:1 A:1", cur: "B:1^9 A:1", wantStay: 0, wantCurOf: []int{0, 1}},
		{name: "added at head", old: "B:1 A:1", cur: "C:1 B:1 A:1", wantStay: 1, wantCurOf: []int{1, 2}},
		{name: "removed middle", old: "C:1 B:1 A:1", cur: "C:1 A:1", wantStay: 0, wantCurOf: []int{0, -1, 1}},
		{name: "moved to head", old: "C:1 B:1 A:1", cur: "B:1 C:1 A:1", wantStay: 1, wantCurOf: []int{1, -1, 2}},
		{name: "new dest not at head", old: "B:1 A:1", cur: "B:1 C:1 A:1", wantStay: 2, wantCurOf: []int{-1, 2}},
		{name: "all replaced", old: "B:1 A:1", cur: "D:1 C:1", wantStay: 2, wantCurOf: []int{-1, -1}},
		{name: "from empty", old: "", cur: "B:1 A:1", wantStay: 2, wantCurOf: []int{}},
		{name: "to empty", old: "B:1 A:1", cur: "", wantStay: 0, wantCurOf: []int{-1, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dd := diffDests(f.service(tc.old).Dests, f.service(tc.cur).Dests)
			if dd.stayFrom != tc.wantStay {
				t.Errorf("stayFrom = %d, want %d", dd.stayFrom, tc.wantStay)
			}
			if !slices.Equal(dd.curOf, tc.wantCurOf) {
				t.Errorf("curOf = %v, want %v", dd.curOf, tc.wantCurOf)
			}
			if got := dd.unchanged(); got != tc.unchanged {
				t.Errorf("unchanged() = %v, want %v", got, tc.unchanged)
			}
		})
	}
}
