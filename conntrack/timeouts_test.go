package conntrack

import (
	"errors"
	"testing"
	"time"

	"github.com/ulvs/ulvs/vs"
)

func TestDefaultTimeouts(t *testing.T) {
	// tcp_timeouts in ip_vs_proto_tcp.c, udp_timeouts in ip_vs_proto_udp.c.
	want := map[State]uint32{
		StateNone: 2, StateEstablished: 900, StateSynSent: 120, StateSynRecv: 60,
		StateFinWait: 120, StateTimeWait: 120, StateClose: 10, StateCloseWait: 60,
		StateLastAck: 30, StateListen: 120, StateSynAck: 120,
	}
	to := DefaultTimeouts()
	for s, w := range want {
		if to.TCP[s] != w {
			t.Errorf("TCP[%v] = %d, want %d", s, to.TCP[s], w)
		}
	}
	if to.UDP != 300 {
		t.Errorf("UDP = %d, want 300", to.UDP)
	}
	if tcp, fin, udp := to.Get(); tcp != 900 || fin != 120 || udp != 300 {
		t.Errorf("Get() = %d %d %d, want 900 120 300", tcp, fin, udp)
	}
}

func TestTimeoutsSet(t *testing.T) {
	tests := []struct {
		name             string
		tcp, fin, udp    int
		wantErr          bool
		wantES, wantFW   uint32
		wantUDP          uint32
		wantOtherChanged bool
	}{
		{name: "all three", tcp: 7200, fin: 30, udp: 60, wantES: 7200, wantFW: 30, wantUDP: 60},
		{name: "zero keeps", tcp: 0, fin: 0, udp: 0, wantES: 900, wantFW: 120, wantUDP: 300},
		{name: "tcp only", tcp: 1, wantES: 1, wantFW: 120, wantUDP: 300},
		{name: "udp only", udp: 5, wantES: 900, wantFW: 120, wantUDP: 5},
		{name: "max", tcp: MaxTimeout, wantES: MaxTimeout, wantFW: 120, wantUDP: 300},
		{name: "negative tcp", tcp: -1, fin: 30, udp: 60, wantErr: true, wantES: 900, wantFW: 120, wantUDP: 300},
		{name: "udp too big", tcp: 10, fin: 30, udp: MaxTimeout + 1, wantErr: true, wantES: 900, wantFW: 120, wantUDP: 300},
		{name: "negative fin", fin: -5, wantErr: true, wantES: 900, wantFW: 120, wantUDP: 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := DefaultTimeouts()
			err := to.Set(tc.tcp, tc.fin, tc.udp)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Set err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidTimeout) {
				t.Errorf("error %v is not ErrInvalidTimeout", err)
			}
			if to.TCP[StateEstablished] != tc.wantES || to.TCP[StateFinWait] != tc.wantFW || to.UDP != tc.wantUDP {
				t.Errorf("got ES=%d FW=%d UDP=%d, want %d %d %d",
					to.TCP[StateEstablished], to.TCP[StateFinWait], to.UDP, tc.wantES, tc.wantFW, tc.wantUDP)
			}
			// --set touches nothing else (TIME_WAIT is not tcpfin).
			def := DefaultTimeouts()
			for s := range NumTCPStates {
				if State(s) == StateEstablished || State(s) == StateFinWait {
					continue
				}
				if to.TCP[s] != def.TCP[s] {
					t.Errorf("TCP[%v] changed to %d", State(s), to.TCP[s])
				}
			}
		})
	}
}

func TestTimeoutErrorText(t *testing.T) {
	err := DefaultTimeouts().Set(0, 0, -3)
	want := "set udp timeout -3: must be 0..2147483 seconds: invalid timeout"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestSetTimeoutsAppliesFromNextPacket(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	to := DefaultTimeouts()
	tb := New(Config{Timeouts: to})
	if tb.Timeouts() != to {
		t.Fatal("table did not keep the Timeouts pointer")
	}
	c := tb.Insert(key(vs.TCP, 1), 1, d, 0)
	tb.Step(c, Input, TCPSyn, 0, d)
	tb.Step(c, Input, TCPAck, 0, d)
	if got := c.Remaining(0); got != 15*time.Minute {
		t.Fatalf("timeout %v", got)
	}

	nt := tb.Timeouts().Clone()
	if err := nt.Set(3600, 0, 0); err != nil {
		t.Fatal(err)
	}
	if to.TCP[StateEstablished] != 900 {
		t.Fatal("Clone shares storage with the original")
	}
	tb.SetTimeouts(nt)
	if got := c.Remaining(0); got != 15*time.Minute {
		t.Errorf("existing deadline changed to %v before a packet", got)
	}
	tb.Step(c, Input, TCPAck, 1000, d)
	if got := c.Remaining(1000); got != time.Hour {
		t.Errorf("after a packet: timeout %v, want 1h", got)
	}

	tb.SetTimeouts(nil)
	tb.Step(c, Input, TCPAck, 2000, d)
	if got := c.Remaining(2000); got != 15*time.Minute {
		t.Errorf("after SetTimeouts(nil): timeout %v, want the default 15m", got)
	}
}

func TestTimeoutCap(t *testing.T) {
	// Values written directly into the struct are capped so deadlines stay
	// comparable with wraparound arithmetic.
	to := DefaultTimeouts()
	to.UDP = 1 << 31
	if got := to.forState(uint8(vs.UDP), StateUDP); got != Tick(MaxTimeout*1000) {
		t.Errorf("capped UDP timeout = %d ms", got)
	}
	if got := to.forState(uint8(vs.TCP), State(99)); got != Tick(10*1000) {
		t.Errorf("timeout of an unknown TCP state = %d ms, want CLOSE's", got)
	}
}
