package conntrack

import (
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

// step is one packet of a scenario and what must hold after it.
type step struct {
	dir       Direction
	flags     uint8
	state     State
	active    int32
	inact     int32
	timeout   time.Duration
	noOutput  bool
	startFlag bool // the step is Insert itself: dir and flags unused
}

func TestStepScenarios(t *testing.T) {
	const (
		SYN    = TCPSyn
		SYNACK = TCPSyn | TCPAck
		ACK    = TCPAck
		PSHACK = TCPPsh | TCPAck
		FINACK = TCPFin | TCPAck
		RST    = TCPRst
		RSTACK = TCPRst | TCPAck
	)
	ins := step{startFlag: true, state: StateNone, inact: 1, timeout: 2 * time.Second}
	insDR := ins
	insDR.noOutput = true
	tests := []struct {
		name  string
		dest  uint32
		steps []step
	}{
		{
			name: "NAT handshake, data, client closes first",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Output, flags: SYNACK, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Input, flags: PSHACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Output, flags: PSHACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Input, flags: FINACK, state: StateCloseWait, inact: 1, timeout: time.Minute},
				{dir: Output, flags: ACK, state: StateCloseWait, inact: 1, timeout: time.Minute},
				{dir: Output, flags: FINACK, state: StateTimeWait, inact: 1, timeout: 2 * time.Minute},
				{dir: Input, flags: ACK, state: StateTimeWait, inact: 1, timeout: 2 * time.Minute},
			},
		},
		{
			name: "NAT server closes first",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Output, flags: SYNACK, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Output, flags: FINACK, state: StateFinWait, inact: 1, timeout: 2 * time.Minute},
				{dir: Input, flags: ACK, state: StateFinWait, inact: 1, timeout: 2 * time.Minute},
				{dir: Input, flags: FINACK, state: StateTimeWait, inact: 1, timeout: 2 * time.Minute},
			},
		},
		{
			name: "DR uses the INPUT-ONLY table",
			dest: idRoute,
			steps: []step{
				insDR,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute, noOutput: true},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute, noOutput: true},
				{dir: Input, flags: PSHACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute, noOutput: true},
				// INPUT would give CLOSE_WAIT; INPUT-ONLY gives FIN_WAIT.
				{dir: Input, flags: FINACK, state: StateFinWait, inact: 1, timeout: 2 * time.Minute, noOutput: true},
				{dir: Input, flags: ACK, state: StateFinWait, inact: 1, timeout: 2 * time.Minute, noOutput: true},
				{dir: Input, flags: RST, state: StateClose, inact: 1, timeout: 10 * time.Second, noOutput: true},
			},
		},
		{
			name: "TUN passes InputOnly explicitly",
			dest: idTunnel,
			steps: []step{
				insDR,
				{dir: InputOnly, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute, noOutput: true},
				{dir: InputOnly, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute, noOutput: true},
				{dir: InputOnly, flags: FINACK, state: StateFinWait, inact: 1, timeout: 2 * time.Minute, noOutput: true},
				{dir: InputOnly, flags: FINACK, state: StateFinWait, inact: 1, timeout: 2 * time.Minute, noOutput: true},
			},
		},
		{
			name: "DR conn that sees an output packet leaves INPUT-ONLY",
			dest: idRoute,
			steps: []step{
				insDR,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute, noOutput: true},
				{dir: Output, flags: SYNACK, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Input, flags: FINACK, state: StateCloseWait, inact: 1, timeout: time.Minute},
			},
		},
		{
			name: "FULLNAT sees both directions",
			dest: idFullNAT,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Input, flags: FINACK, state: StateCloseWait, inact: 1, timeout: time.Minute},
				{dir: Output, flags: FINACK, state: StateTimeWait, inact: 1, timeout: 2 * time.Minute},
			},
		},
		{
			name: "Local method counts as no output",
			dest: idLocal,
			steps: []step{
				insDR,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute, noOutput: true},
			},
		},
		{
			name: "SYN retransmits keep SYN_RECV and count once",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
			},
		},
		{
			name: "client RST on an established NAT conn",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Input, flags: RSTACK, state: StateClose, inact: 1, timeout: 10 * time.Second},
				// A late ACK does not reopen it.
				{dir: Input, flags: ACK, state: StateClose, inact: 1, timeout: 10 * time.Second},
			},
		},
		{
			name: "server refuses with RST in SYN_RECV",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Output, flags: RSTACK, state: StateClose, inact: 1, timeout: 10 * time.Second},
			},
		},
		{
			name: "client RST in SYN_RECV is ignored (INPUT rst sSR -> sSR)",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: RST, state: StateSynRecv, active: 1, timeout: time.Minute},
			},
		},
		{
			name: "new SYN on TIME_WAIT reopens the connection",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Input, flags: FINACK, state: StateCloseWait, inact: 1, timeout: time.Minute},
				{dir: Output, flags: FINACK, state: StateTimeWait, inact: 1, timeout: 2 * time.Minute},
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Output, flags: SYNACK, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
			},
		},
		{
			name: "segment without RST/SYN/FIN/ACK closes",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: SYN, state: StateSynRecv, active: 1, timeout: time.Minute},
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
				{dir: Input, flags: TCPPsh, state: StateClose, inact: 1, timeout: 10 * time.Second},
			},
		},
		{
			name: "ACK first (sloppy pickup) goes straight to ESTABLISHED",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: ACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
			},
		},
		{
			name: "SYN from the server side (active FTP) is SYN_SENT",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Output, flags: SYN, state: StateSynSent, active: 1, timeout: 2 * time.Minute},
				{dir: Input, flags: SYNACK, state: StateEstablished, active: 1, timeout: 15 * time.Minute},
			},
		},
		{
			name: "CLOSE reopened by a server SYN; server RST in SYN_SENT is ignored",
			dest: idMasq,
			steps: []step{
				ins,
				{dir: Input, flags: FINACK, state: StateClose, inact: 1, timeout: 10 * time.Second},
				{dir: Output, flags: SYN, state: StateSynSent, active: 1, timeout: 2 * time.Minute},
				{dir: Output, flags: RST, state: StateSynSent, active: 1, timeout: 2 * time.Minute},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vt := newFixture(t)
			d := vt.Dest(tc.dest)
			tb := New(Config{Capacity: 64})
			now := Tick(1000)
			k := key(vs.TCP, 1)
			var c *Conn
			for i, s := range tc.steps {
				if s.startFlag {
					c = tb.Insert(k, 1, d, now)
					if c == nil {
						t.Fatal("Insert returned nil")
					}
				} else {
					if got := tb.Lookup(k, now, vt); got != c {
						t.Fatalf("step %d: Lookup = %p, want %p", i, got, c)
					}
					tb.Step(c, s.dir, s.flags, now, d)
				}
				if c.State != s.state {
					t.Errorf("step %d (%v %#x): state %v, want %v", i, s.dir, s.flags, c.State, s.state)
				}
				if got, want := countsOf(d), (counts{s.active, s.inact}); got != want {
					t.Errorf("step %d (%v %#x): counters %+v, want %+v", i, s.dir, s.flags, got, want)
				}
				if got := c.Remaining(now); got != s.timeout {
					t.Errorf("step %d (%v %#x): timeout %v, want %v", i, s.dir, s.flags, got, s.timeout)
				}
				if got := c.Flags&FlagNoOutput != 0; got != s.noOutput {
					t.Errorf("step %d: FlagNoOutput %v, want %v", i, got, s.noOutput)
				}
				if got, want := c.Flags&FlagInactive != 0, s.inact == 1; got != want {
					t.Errorf("step %d: FlagInactive %v, want %v", i, got, want)
				}
				now += 10
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
