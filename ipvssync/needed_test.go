package ipvssync

import (
	"testing"
	"time"
)

const (
	tcpTimeout = 900 * time.Second
	finTimeout = 120 * time.Second
)

func tcpConn(state uint16) Conn {
	return Conn{Proto: ProtoTCP, State: state, Timeout: tcpTimeout}
}

// TestShouldSync follows ip_vs_sync_conn_needed branch by branch.
func TestShouldSync(t *testing.T) {
	def := DefaultSysctls()
	noPeriod := def
	noPeriod.SyncPeriod = 0
	persist := def
	persist.SyncPersistMode = true
	refresh := def
	refresh.SyncPeriod = 0
	refresh.SyncRefreshPeriod = 30 * time.Second
	retry := refresh
	retry.SyncRetries = 2
	now := 1000 * time.Second
	endAt := func(d time.Duration) int64 { return d.Milliseconds() &^ 3 }
	tpl := Conn{Proto: ProtoTCP, Flags: FlagTemplate, State: TemplateAssured, Timeout: 60 * time.Second}
	udp := Conn{Proto: ProtoUDP, Flags: FlagInactive, Timeout: 300 * time.Second}

	tests := []struct {
		name  string
		s     Sysctls
		c     Conn
		st    SyncState
		pkts  int
		now   time.Duration
		want  bool
		after SyncState
	}{
		{"SYN_RECV is never synced", def, tcpConn(TCPSynRecv), SyncState{}, 3, now, false, SyncState{}},
		{"ESTABLISHED at the 3rd packet", def, tcpConn(TCPEstablished), SyncState{}, 3, now, true,
			SyncState{TCPEstablished, endAt(now + tcpTimeout)}},
		{"ESTABLISHED change at the 2nd packet waits", def, tcpConn(TCPEstablished), SyncState{}, 2, now, false, SyncState{}},
		{"ESTABLISHED 4th packet", def, tcpConn(TCPEstablished), SyncState{OldState: TCPEstablished}, 4, now, false,
			SyncState{OldState: TCPEstablished}},
		{"ESTABLISHED 53rd packet", def, tcpConn(TCPEstablished), SyncState{OldState: TCPEstablished}, 53, now, true,
			SyncState{TCPEstablished, endAt(now + tcpTimeout)}},
		{"FIN_WAIT change is forced", def, Conn{Proto: ProtoTCP, State: TCPFinWait, Timeout: finTimeout},
			SyncState{OldState: TCPEstablished}, 7, now, true, SyncState{TCPFinWait, endAt(now + finTimeout)}},
		{"FIN_WAIT again is not", def, Conn{Proto: ProtoTCP, State: TCPFinWait, Timeout: finTimeout},
			SyncState{OldState: TCPFinWait}, 8, now, false, SyncState{OldState: TCPFinWait}},
		{"TIME_WAIT change", def, tcpConn(TCPTimeWait), SyncState{OldState: TCPFinWait}, 9, now, true,
			SyncState{TCPTimeWait, endAt(now + tcpTimeout)}},
		{"CLOSE_WAIT change", def, tcpConn(TCPCloseWait), SyncState{OldState: TCPEstablished}, 100, now, true,
			SyncState{TCPCloseWait, endAt(now + tcpTimeout)}},
		{"CLOSE change", def, tcpConn(TCPClose), SyncState{OldState: TCPSynRecv}, 2, now, true,
			SyncState{TCPClose, endAt(now + tcpTimeout)}},
		{"LAST_ACK never", def, tcpConn(TCPLastAck), SyncState{OldState: TCPCloseWait}, 3, now, false,
			SyncState{OldState: TCPCloseWait}},
		{"UDP 3rd", def, udp, SyncState{}, 3, now, true, SyncState{0, endAt(now + 300*time.Second)}},
		{"UDP 4th", def, udp, SyncState{}, 4, now, false, SyncState{}},
		{"UDP 103rd", def, udp, SyncState{}, 103, now, true, SyncState{0, endAt(now + 300*time.Second)}},
		{"template any count", def, tpl, SyncState{}, 1, now, true, SyncState{TemplateAssured, endAt(now + time.Minute)}},
		{"template period 0 needs the threshold", noPeriod, tpl, SyncState{}, 4, now, false, SyncState{}},
		{"template period 0 at the threshold", noPeriod, tpl, SyncState{}, 3, now, true, SyncState{TemplateAssured, endAt(now + time.Minute)}},
		{"period 0: 53rd packet is not synced", noPeriod, tcpConn(TCPEstablished), SyncState{OldState: TCPEstablished}, 53, now, false,
			SyncState{OldState: TCPEstablished}},
		{"ONE_PACKET", def, Conn{Proto: ProtoUDP, Flags: FlagOnePacket}, SyncState{}, 3, now, false, SyncState{}},
		{"persist mode skips controlled conns", persist, Conn{Proto: ProtoTCP, State: TCPFinWait, InPersistence: true},
			SyncState{OldState: TCPEstablished}, 3, now, false, SyncState{OldState: TCPEstablished}},
		{"persist mode syncs templates", persist, Conn{Proto: ProtoTCP, Flags: FlagTemplate, Timeout: time.Minute, InPersistence: true},
			SyncState{}, 1, now, true, SyncState{0, endAt(now + time.Minute)}},
		// Refresh: any packet count, but not again within the period.
		{"refresh: first sync at any packet", refresh, udp, SyncState{}, 17, now, true, SyncState{0, endAt(now + 300*time.Second)}},
		{"refresh: 10 s later not again", refresh, udp, SyncState{EndTime: endAt(now + 300*time.Second)}, 18, now + 10*time.Second, false,
			SyncState{EndTime: endAt(now + 300*time.Second)}},
		{"refresh: 30 s later again", refresh, udp, SyncState{EndTime: endAt(now + 300*time.Second)}, 19, now + 30*time.Second, true,
			SyncState{0, endAt(now + 330*time.Second)}},
		// Half the timeout (min 10 s) caps the refresh period: a 12 s
		// timeout re-syncs after 10 s.
		{"refresh: capped by max(timeout/2, 10 s)", refresh, Conn{Proto: ProtoUDP, Timeout: 12 * time.Second},
			SyncState{EndTime: endAt(now + 12*time.Second)}, 5, now + 10*time.Second, true, SyncState{0, endAt(now + 22*time.Second)}},
		// Retries: inside the period, after refresh/8 = 3.75 s, count in the low bits.
		{"retry too early", retry, udp, SyncState{EndTime: endAt(now + 300*time.Second)}, 5, now + 3*time.Second, false,
			SyncState{EndTime: endAt(now + 300*time.Second)}},
		{"retry 1", retry, udp, SyncState{EndTime: endAt(now + 300*time.Second)}, 5, now + 4*time.Second, true,
			SyncState{0, endAt(now+304*time.Second) | 1}},
		{"retry 2", retry, udp, SyncState{EndTime: endAt(now+300*time.Second) | 1}, 5, now + 5*time.Second, true,
			SyncState{0, endAt(now+305*time.Second) | 2}},
		{"no retry 3", retry, udp, SyncState{EndTime: endAt(now+300*time.Second) | 2}, 5, now + 6*time.Second, false,
			SyncState{EndTime: endAt(now+300*time.Second) | 2}},
		{"refresh with a period: the count still rules", func() Sysctls { s := refresh; s.SyncPeriod = 50; return s }(), udp,
			SyncState{}, 4, now, false, SyncState{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, after := ShouldSync(&tt.s, tt.c, tt.st, tt.pkts, tt.now)
			if got != tt.want || after != tt.after {
				t.Errorf("ShouldSync = %v, %+v; want %v, %+v", got, after, tt.want, tt.after)
			}
		})
	}
}

// TestShouldSyncHTTPConnection replays the life of a short NAT HTTP
// connection as the oracle saw it (packets from the client, the state after
// each): one entry in ESTABLISHED at the 3rd packet, then FIN_WAIT and
// TIME_WAIT at their changes.
func TestShouldSyncHTTPConnection(t *testing.T) {
	s := DefaultSysctls()
	steps := []struct {
		state uint16
		want  bool
	}{
		{TCPSynRecv, false},     // SYN
		{TCPEstablished, false}, // ACK: ESTABLISHED but only the 2nd packet
		{TCPEstablished, true},  // request: 3rd packet
		{TCPEstablished, false}, // ACK of the response
		{TCPFinWait, true},      // client's FIN
		{TCPTimeWait, true},     // last ACK
		{TCPTimeWait, false},    // a retransmission
	}
	var st SyncState
	var ok bool
	for i, step := range steps {
		ok, st = ShouldSync(&s, tcpConn(step.state), st, i+1, time.Duration(i)*time.Millisecond)
		if ok != step.want {
			t.Errorf("packet %d (state %d): synced %v, want %v", i+1, step.state, ok, step.want)
		}
	}
}

func TestSysctlsValidate(t *testing.T) {
	if err := DefaultSysctls().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := []func(*Sysctls){
		func(s *Sysctls) { s.SyncThreshold = 50 },
		func(s *Sysctls) { s.SyncThreshold = -1 },
		func(s *Sysctls) { s.SyncPeriod = -1 },
		func(s *Sysctls) { s.SyncRetries = 4 },
		func(s *Sysctls) { s.SyncPorts = 3 },
		func(s *Sysctls) { s.SyncPorts = 128 },
		func(s *Sysctls) { s.SyncPorts = 0 },
		func(s *Sysctls) { s.SyncVersion = 2 },
		func(s *Sysctls) { s.SyncSockSize = -1 },
		func(s *Sysctls) { s.SyncRefreshPeriod = -time.Second },
	}
	for i, f := range bad {
		s := DefaultSysctls()
		f(&s)
		if s.Validate() == nil {
			t.Errorf("case %d: %+v accepted", i, s)
		}
	}
	good := DefaultSysctls()
	good.SyncThreshold, good.SyncPeriod, good.SyncPorts = 100, 0, 64
	if err := good.Validate(); err != nil {
		t.Errorf("threshold 100 period 0, 64 ports: %v", err)
	}
}
