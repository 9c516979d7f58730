package conntrack

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/vs"
)

func TestStateString(t *testing.T) {
	want := []string{"NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK", "UDP"}
	for i, w := range want {
		if got := State(i).String(); got != w {
			t.Errorf("State(%d).String() = %q, want %q", i, got, w)
		}
	}
	if got := State(200).String(); got != "State(200)" {
		t.Errorf("State(200).String() = %q", got)
	}
	if NumTCPStates != 11 {
		t.Errorf("NumTCPStates = %d, want 11 (IP_VS_TCP_S_LAST)", NumTCPStates)
	}
}

func TestDirectionString(t *testing.T) {
	for d, w := range map[Direction]string{Input: "INPUT", Output: "OUTPUT", InputOnly: "INPUT_ONLY", 7: "Direction(7)"} {
		if got := d.String(); got != w {
			t.Errorf("%d.String() = %q, want %q", d, got, w)
		}
	}
}

func TestTCPRowPrecedence(t *testing.T) {
	// tcp_state_idx: rst > syn > fin > ack; nothing else counts.
	tests := []struct {
		flags uint8
		row   int
		ok    bool
	}{
		{TCPSyn, rowSyn, true},
		{TCPSyn | TCPAck, rowSyn, true},
		{TCPSyn | TCPFin, rowSyn, true},
		{TCPRst | TCPSyn, rowRst, true},
		{TCPRst | TCPAck, rowRst, true},
		{TCPFin | TCPAck, rowFin, true},
		{TCPFin | TCPPsh | TCPAck, rowFin, true},
		{TCPAck, rowAck, true},
		{TCPPsh | TCPAck, rowAck, true},
		{TCPPsh, 0, false},
		{0, 0, false},
		{0xc0, 0, false}, // ECE|CWR only
	}
	for _, tc := range tests {
		row, ok := tcpRow(tc.flags)
		if row != tc.row || ok != tc.ok {
			t.Errorf("tcpRow(%#x) = %d,%v, want %d,%v", tc.flags, row, ok, tc.row, tc.ok)
		}
	}
}

// walkTimeouts are the kernel's default TCP timeouts per state
// (ip_vs_proto_tcp.c tcp_timeouts), which a walk expects after each step.
var walkTimeouts = map[State]time.Duration{
	StateNone: 2 * time.Second, StateEstablished: 15 * time.Minute, StateSynSent: 2 * time.Minute,
	StateSynRecv: time.Minute, StateFinWait: 2 * time.Minute, StateTimeWait: 2 * time.Minute,
	StateClose: 10 * time.Second, StateCloseWait: time.Minute, StateLastAck: 30 * time.Second,
	StateListen: 2 * time.Minute, StateSynAck: 2 * time.Minute,
}

// walkActive are the states a connection counts as active in
// (ip_vs_proto_tcp.c set_tcp_state: not IP_VS_CONN_F_INACTIVE).
var walkActive = map[State]bool{StateSynSent: true, StateSynRecv: true, StateEstablished: true, StateSynAck: true}

// walkFlags are the segment names a walk uses.
var walkFlags = map[string]uint8{
	"SYN": TCPSyn, "SYNACK": TCPSyn | TCPAck, "ACK": TCPAck, "PSHACK": TCPPsh | TCPAck,
	"FINACK": TCPFin | TCPAck, "RST": TCPRst, "RSTACK": TCPRst | TCPAck, "PSH": TCPPsh,
}

var walkDirs = map[string]Direction{"in": Input, "out": Output, "inonly": InputOnly}

// walkStep is one packet of a walk and the state it must leave.
type walkStep struct {
	dir   Direction
	flags uint8
	state State
	text  string
}

// parseWalk reads "in SYN SYN_RECV, out SYNACK SYN_RECV, ...": each step
// a direction, the segment's flags and the state after it.
func parseWalk(t *testing.T, walk string) []walkStep {
	t.Helper()
	names := map[string]State{}
	for st := StateNone; st <= StateUDP; st++ {
		names[st.String()] = st
	}
	var steps []walkStep
	for _, text := range strings.Split(walk, ", ") {
		f := strings.Fields(text)
		dir, dok := walkDirs[f[0]]
		flags, fok := walkFlags[f[1]]
		st, sok := names[f[2]]
		if len(f) != 3 || !dok || !fok || !sok {
			t.Fatalf("bad walk step %q", text)
		}
		steps = append(steps, walkStep{dir, flags, st, text})
	}
	return steps
}

// TestStepScenarios walks connections through the IPVS TCP state table
// (ip_vs_proto_tcp.c tcp_states, tcp_states_dos off) one packet at a time.
// After Insert a connection is NONE, inactive, 2 s. After each step it
// must be in the named state, counted active exactly in SYN_SENT,
// SYN_RECV, ESTABLISHED and SYNACK, with that state's timeout; DR, TUN and
// Local connections stay FlagNoOutput (the INPUT-ONLY table) until they
// see an output packet.
func TestStepScenarios(t *testing.T) {
	const handshake = "in SYN SYN_RECV, out SYNACK SYN_RECV, in ACK ESTABLISHED"
	tests := []struct {
		name string
		dest uint32
		walk string
	}{
		{"NAT handshake, data, client closes first", idMasq, handshake + ", in PSHACK ESTABLISHED, out PSHACK ESTABLISHED, in FINACK CLOSE_WAIT, out ACK CLOSE_WAIT, out FINACK TIME_WAIT, in ACK TIME_WAIT"},
		{"NAT server closes first", idMasq, handshake + ", out FINACK FIN_WAIT, in ACK FIN_WAIT, in FINACK TIME_WAIT"},
		// INPUT would give CLOSE_WAIT after the FIN; INPUT-ONLY gives FIN_WAIT.
		{"DR uses the INPUT-ONLY table", idRoute, "in SYN SYN_RECV, in ACK ESTABLISHED, in PSHACK ESTABLISHED, in FINACK FIN_WAIT, in ACK FIN_WAIT, in RST CLOSE"},
		{"TUN passes InputOnly explicitly", idTunnel, "inonly SYN SYN_RECV, inonly ACK ESTABLISHED, inonly FINACK FIN_WAIT, inonly FINACK FIN_WAIT"},
		{"DR conn that sees an output packet leaves INPUT-ONLY", idRoute, handshake + ", in FINACK CLOSE_WAIT"},
		{"FULLNAT sees both directions", idFullNAT, "in SYN SYN_RECV, in ACK ESTABLISHED, in FINACK CLOSE_WAIT, out FINACK TIME_WAIT"},
		{"Local method counts as no output", idLocal, "in SYN SYN_RECV"},
		{"SYN retransmits keep SYN_RECV and count once", idMasq, "in SYN SYN_RECV, in SYN SYN_RECV, in SYN SYN_RECV"},
		// A late ACK does not reopen it.
		{"client RST on an established NAT conn", idMasq, "in SYN SYN_RECV, in ACK ESTABLISHED, in RSTACK CLOSE, in ACK CLOSE"},
		{"server refuses with RST in SYN_RECV", idMasq, "in SYN SYN_RECV, out RSTACK CLOSE"},
		{"client RST in SYN_RECV is ignored (INPUT rst sSR -> sSR)", idMasq, "in SYN SYN_RECV, in RST SYN_RECV"},
		{"new SYN on TIME_WAIT reopens the connection", idMasq, "in SYN SYN_RECV, in ACK ESTABLISHED, in FINACK CLOSE_WAIT, out FINACK TIME_WAIT, " + handshake},
		{"segment without RST/SYN/FIN/ACK closes", idMasq, "in SYN SYN_RECV, in ACK ESTABLISHED, in PSH CLOSE"},
		{"ACK first (sloppy pickup) goes straight to ESTABLISHED", idMasq, "in ACK ESTABLISHED"},
		{"SYN from the server side (active FTP) is SYN_SENT", idMasq, "out SYN SYN_SENT, in SYNACK ESTABLISHED"},
		{"CLOSE reopened by a server SYN; server RST in SYN_SENT is ignored", idMasq, "in FINACK CLOSE, out SYN SYN_SENT, out RST SYN_SENT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vt := newFixture(t)
			d := vt.Dest(tc.dest)
			tb := New(Config{Capacity: 64})
			now := Tick(1000)
			k := key(vs.TCP, 1)
			c := tb.Insert(k, 1, d, now)
			if c == nil {
				t.Fatal("Insert returned nil")
			}
			noOutput := tc.dest == idRoute || tc.dest == idTunnel || tc.dest == idLocal
			check := func(what string, want State) {
				t.Helper()
				if c.State != want {
					t.Errorf("%s: state %v, want %v", what, c.State, want)
				}
				var wantCounts counts
				if walkActive[want] {
					wantCounts.active = 1
				} else {
					wantCounts.inact = 1
				}
				if got := countsOf(d); got != wantCounts {
					t.Errorf("%s: counters %+v, want %+v", what, got, wantCounts)
				}
				if got := c.Remaining(now); got != walkTimeouts[want] {
					t.Errorf("%s: timeout %v, want %v", what, got, walkTimeouts[want])
				}
				if got := c.Flags&FlagNoOutput != 0; got != noOutput {
					t.Errorf("%s: FlagNoOutput %v, want %v", what, got, noOutput)
				}
				if got := c.Flags&FlagInactive != 0; got != (wantCounts.inact == 1) {
					t.Errorf("%s: FlagInactive %v, want %v", what, got, !got)
				}
			}
			check("insert", StateNone)
			for i, s := range parseWalk(t, tc.walk) {
				now += 10
				if got := tb.Lookup(k, now, vt); got != c {
					t.Fatalf("step %d: Lookup = %p, want %p", i, got, c)
				}
				tb.Step(c, s.dir, s.flags, now, d)
				noOutput = noOutput && s.dir != Output
				check(fmt.Sprintf("step %d (%s)", i, s.text), s.state)
			}
			if got := d.State.Conns.Load(); got != 1 {
				t.Errorf("Conns = %d, want 1", got)
			}
		})
	}
}

func TestStepUDP(t *testing.T) {
	vt := newFixture(t)
	for _, id := range []uint32{idMasq, idRoute} {
		d := vt.Dest(id)
		tb := New(Config{})
		k := key(vs.UDP, 7)
		now := Tick(5)
		c := tb.Insert(k, 2, d, now)
		if c.State != StateUDP || c.State.String() != "UDP" {
			t.Fatalf("UDP conn state %v", c.State)
		}
		// ipvsadm lists UDP connections under InActConn: the dest's
		// conn_flags carry IP_VS_CONN_F_INACTIVE and UDP never changes
		// state, so nothing ever moves it to ActiveConns.
		for i, dir := range []Direction{Input, Output, Input, Input} {
			now += 1000
			tb.Step(c, dir, TCPSyn|TCPAck, now, d)
			if got := (counts{0, 1}); countsOf(d) != got {
				t.Errorf("dest %d step %d: counters %+v, want %+v", id, i, countsOf(d), got)
			}
			if c.State != StateUDP {
				t.Errorf("dest %d step %d: state %v", id, i, c.State)
			}
			if got := c.Remaining(now); got != 5*time.Minute {
				t.Errorf("dest %d step %d: timeout %v, want 5m", id, i, got)
			}
		}
		tb.Flush(vt)
		if got := countsOf(d); got != (counts{}) {
			t.Errorf("dest %d after flush: %+v", id, got)
		}
	}
}

func TestStepNilDest(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{})
	c := tb.Insert(key(vs.TCP, 1), 1, d, 0)
	// The dest is gone: the state machine runs, counters and the
	// inactive flag stay (set_tcp_state only touches them "if (dest)").
	tb.Step(c, Input, TCPSyn, 1, nil)
	if c.State != StateSynRecv || c.Flags&FlagInactive == 0 {
		t.Errorf("state %v flags %#x", c.State, c.Flags)
	}
	if got := countsOf(d); got != (counts{0, 1}) {
		t.Errorf("counters %+v", got)
	}
	// A dest with another ID counts as gone too.
	tb.Step(c, Input, TCPAck, 2, vt.Dest(idRoute))
	if c.State != StateEstablished || countsOf(vt.Dest(idRoute)) != (counts{}) {
		t.Errorf("state %v, other dest %+v", c.State, countsOf(vt.Dest(idRoute)))
	}
}

// TestStepCountersProperty drives many connections with random packets
// and checks that the dest counters always equal the number of
// connections with and without FlagInactive, and that FlagInactive always
// matches the state (inactive unless SYN_SENT, SYN_RECV, ESTABLISHED,
// SYNACK).
func TestStepCountersProperty(t *testing.T) {
	vt := newFixture(t)
	ids := []uint32{idMasq, idRoute, idFullNAT}
	tb := New(Config{Capacity: 1024})
	var conns []*Conn
	for i := 0; i < 300; i++ {
		c := tb.Insert(key(vs.TCP, i), 1, vt.Dest(ids[i%len(ids)]), 0)
		if c == nil {
			t.Fatal("Insert failed")
		}
		conns = append(conns, c)
	}
	seed := uint64(42)
	rnd := func() uint64 { seed = seed*6364136223846793005 + 1442695040888963407; return seed >> 33 }
	for round := 0; round < 20000; round++ {
		c := conns[rnd()%uint64(len(conns))]
		tb.Step(c, Direction(rnd()%3), uint8(rnd()&0x1f), Tick(round), vt.Dest(c.DestID))
		if got, want := c.Flags&FlagInactive != 0, !c.State.active(); got != want {
			t.Fatalf("round %d: state %v with FlagInactive=%v", round, c.State, got)
		}
	}
	for _, id := range ids {
		var want counts
		for _, c := range conns {
			if c.DestID != id {
				continue
			}
			if c.Flags&FlagInactive != 0 {
				want.inact++
			} else {
				want.active++
			}
		}
		if got := countsOf(vt.Dest(id)); got != want {
			t.Errorf("dest %d: counters %+v, want %+v", id, got, want)
		}
	}
}

func TestNewConnExpected(t *testing.T) {
	tests := []struct {
		name  string
		proto vs.Protocol
		state State
		flags uint16
		mode  int
		want  bool
	}{
		{"TIME_WAIT", vs.TCP, StateTimeWait, FlagInactive, 1, true},
		{"CLOSE", vs.TCP, StateClose, FlagInactive, 1, true},
		{"ESTABLISHED", vs.TCP, StateEstablished, 0, 1, false},
		{"FIN_WAIT mode 1", vs.TCP, StateFinWait, FlagInactive | FlagNoOutput, 1, false},
		{"FIN_WAIT DR mode 3", vs.TCP, StateFinWait, FlagInactive | FlagNoOutput, 3, true},
		{"FIN_WAIT NAT mode 3", vs.TCP, StateFinWait, FlagInactive, 3, false},
		{"mode 0", vs.TCP, StateTimeWait, FlagInactive, 0, false},
		{"UDP", vs.UDP, StateUDP, FlagInactive, 3, false},
		{"template", vs.TCP, StateTimeWait, FlagTemplate, 1, false},
	}
	for _, tc := range tests {
		c := Conn{Key: key(tc.proto, 1), DestID: 1, State: tc.state, Flags: tc.flags}
		if got := c.NewConnExpected(tc.mode); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
