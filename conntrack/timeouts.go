package conntrack

import (
	"errors"
	"strconv"
)

// MaxTimeout is the largest timeout in seconds: the kernel's INT_MAX/HZ at
// HZ=1000 (ip_vs_set_timeout). It also keeps every deadline within half the
// Tick range, which wraparound-safe comparison needs.
const MaxTimeout = (1<<31 - 1) / 1000

// ErrInvalidTimeout is returned, wrapped, for a timeout below zero or above
// MaxTimeout; ipvsadm reports it as "Invalid argument".
var ErrInvalidTimeout = errors.New("invalid timeout")

// Timeouts are the idle timeouts, in seconds, of each connection state.
//
// A Timeouts given to a Table (Config.Timeouts, SetTimeouts) is shared with
// the table's worker and must not be modified afterwards: to change
// timeouts, modify a Clone and hand that to SetTimeouts. The zero value
// times every connection out at once; start from DefaultTimeouts.
type Timeouts struct {
	// TCP is indexed by State (StateNone..StateSynAck).
	TCP [NumTCPStates]uint32
	// UDP is the timeout of every UDP connection.
	UDP uint32
}

// DefaultTimeouts returns the kernel's defaults: tcp_timeouts in
// ip_vs_proto_tcp.c and udp_timeouts in ip_vs_proto_udp.c (what
// ipvsadm -L --timeout shows on a fresh host: 900 120 300).
func DefaultTimeouts() *Timeouts {
	return &Timeouts{
		TCP: [NumTCPStates]uint32{
			StateNone:        2,
			StateEstablished: 15 * 60,
			StateSynSent:     2 * 60,
			StateSynRecv:     1 * 60,
			StateFinWait:     2 * 60,
			StateTimeWait:    2 * 60,
			StateClose:       10,
			StateCloseWait:   60,
			StateLastAck:     30,
			StateListen:      2 * 60,
			StateSynAck:      120,
		},
		UDP: 5 * 60,
	}
}

// Clone returns a copy of t.
func (t *Timeouts) Clone() *Timeouts {
	c := *t
	return &c
}

type timeoutError struct {
	name  string
	value int
}

func (e *timeoutError) Error() string {
	return "set " + e.name + " timeout " + strconv.Itoa(e.value) +
		": must be 0.." + strconv.Itoa(MaxTimeout) + " seconds: " + ErrInvalidTimeout.Error()
}

func (e *timeoutError) Unwrap() error { return ErrInvalidTimeout }

// Set applies ipvsadm --set tcp tcpfin udp the way ip_vs_set_timeout
// (ip_vs_ctl.c) does: tcp sets the ESTABLISHED timeout, tcpfin the FIN_WAIT
// timeout and udp the UDP timeout; a zero leaves that value unchanged. All
// three are checked before any is applied.
func (t *Timeouts) Set(tcp, tcpfin, udp int) error {
	for _, v := range [...]struct {
		name  string
		value int
	}{{"tcp", tcp}, {"tcpfin", tcpfin}, {"udp", udp}} {
		if v.value < 0 || v.value > MaxTimeout {
			return &timeoutError{v.name, v.value}
		}
	}
	if tcp != 0 {
		t.TCP[StateEstablished] = uint32(tcp)
	}
	if tcpfin != 0 {
		t.TCP[StateFinWait] = uint32(tcpfin)
	}
	if udp != 0 {
		t.UDP = uint32(udp)
	}
	return nil
}

// Get returns what ipvsadm -L --timeout prints, as __ip_vs_get_timeouts
// (ip_vs_ctl.c) reads it: the ESTABLISHED, FIN_WAIT and UDP timeouts.
func (t *Timeouts) Get() (tcp, tcpfin, udp int) {
	return int(t.TCP[StateEstablished]), int(t.TCP[StateFinWait]), int(t.UDP)
}

// ticks converts a timeout in seconds to a Tick interval, capped at
// MaxTimeout so a deadline never lies more than half the Tick range ahead.
func ticks(sec uint32) Tick {
	if sec > MaxTimeout {
		sec = MaxTimeout
	}
	return Tick(sec * 1000)
}

// forState returns the timeout of a connection in state s of protocol
// proto: UDP's for anything that is not TCP.
func (t *Timeouts) forState(proto uint8, s State) Tick {
	if proto != protoTCP {
		return ticks(t.UDP)
	}
	if int(s) >= NumTCPStates {
		return ticks(t.TCP[StateClose])
	}
	return ticks(t.TCP[s])
}
