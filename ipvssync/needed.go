package ipvssync

import (
	"errors"
	"fmt"
	"math/bits"
	"time"
)

// Sysctls are the sync tunables of /proc/sys/net/ipv4/vs/, named as there.
// DefaultSysctls returns the kernel's defaults; the zero value is not
// useful (threshold 0, period 0 syncs only at the 0th packet, which never
// comes).
type Sysctls struct {
	// SyncThreshold and SyncPeriod are the two numbers of sync_threshold
	// (default "3 50"): a connection is synced when its incoming packet
	// count modulo SyncPeriod equals SyncThreshold; with SyncPeriod 0
	// only when the count equals SyncThreshold (once).
	SyncThreshold int
	SyncPeriod    int
	// SyncRefreshPeriod (sync_refresh_period, seconds in /proc, default
	// 0): when set, a connection in an unchanged state is synced again
	// only after this long (or half its timeout, at least 10 s, whichever
	// is shorter), and the packet-count rule applies only through
	// SyncPeriod.
	SyncRefreshPeriod time.Duration
	// SyncRetries (sync_retries, 0..3, default 0): with a refresh period,
	// how many extra syncs are sent inside one refresh period, at least
	// SyncRefreshPeriod/8 apart.
	SyncRetries int
	// SyncPersistMode (sync_persist_mode, default 0): do not sync
	// connections controlled by a persistence template; only the
	// templates are synced.
	SyncPersistMode bool
	// SyncQlenMax (sync_qlen_max): the most messages waiting to be sent;
	// more are dropped. The kernel's default is a 32nd of the free buffer
	// pages (22465 on the oracle's 3 GiB VM); DefaultSysctls uses that
	// value.
	SyncQlenMax int
	// SyncSockSize (sync_sock_size, default 0): SO_SNDBUF of the master's
	// and SO_RCVBUF of the backup's sockets; 0 keeps the system default.
	SyncSockSize int
	// SyncPorts (sync_ports, a power of 2, default 1): the number of
	// sync threads and UDP ports, Port .. Port+SyncPorts-1.
	SyncPorts int
	// SyncVersion (sync_version, 0 or 1, default 1): the message version
	// the master sends. Backups take both.
	SyncVersion int
}

// Kernel constants of the sync daemon's timing (include/net/ip_vs.h).
const (
	// FlushTime is IPVS_SYNC_FLUSH_TIME: a message being filled is sent
	// once it is this old, even if not full.
	FlushTime = 2 * time.Second
	// CheckPeriod is IPVS_SYNC_CHECK_PERIOD: how often the idle master
	// thread looks at the message being filled. Together with FlushTime,
	// a lone entry leaves between 2 and 3 s after it was added (the oracle
	// saw 3.06 s and 3.16 s).
	CheckPeriod = time.Second
	// SendDelay is IPVS_SYNC_SEND_DELAY (HZ/50): the master thread is
	// woken this long after a full message is queued (or at once when 8,
	// IPVS_SYNC_WAKEUP_RATE, are waiting).
	SendDelay = 20 * time.Millisecond
	// DefaultSyncQlenMax is the kernel's sync_qlen_max on the oracle VM.
	DefaultSyncQlenMax = 22465
	maxSyncPorts       = 64 // IPVS_SYNC_PORTS_MAX
	minRefreshDiff     = 10 * time.Second
)

// DefaultSysctls returns the kernel's defaults, as the oracle's transcript
// shows them: sync_threshold "3 50", sync_refresh_period 0,
// sync_retries 0, sync_persist_mode 0, sync_qlen_max 22465,
// sync_sock_size 0, sync_ports 1, sync_version 1.
func DefaultSysctls() Sysctls {
	return Sysctls{
		SyncThreshold: 3, SyncPeriod: 50, SyncQlenMax: DefaultSyncQlenMax,
		SyncPorts: 1, SyncVersion: 1,
	}
}

// Validate refuses values the kernel's sysctl handlers refuse
// (ip_vs_ctl.c): negative threshold or period, a threshold not below a
// non-zero period, sync_retries outside 0..3, sync_ports not a power of 2
// in 1..64, sync_version other than 0 and 1, and negative sizes.
func (s Sysctls) Validate() error {
	var errs []error
	if s.SyncThreshold < 0 || s.SyncPeriod < 0 || (s.SyncPeriod != 0 && s.SyncThreshold >= s.SyncPeriod) {
		errs = append(errs, fmt.Errorf("sync_threshold %d %d: want 0 <= threshold < period, or period 0", s.SyncThreshold, s.SyncPeriod))
	}
	if s.SyncRefreshPeriod < 0 {
		errs = append(errs, fmt.Errorf("sync_refresh_period %v: negative", s.SyncRefreshPeriod))
	}
	if s.SyncRetries < 0 || s.SyncRetries > 3 {
		errs = append(errs, fmt.Errorf("sync_retries %d: want 0..3", s.SyncRetries))
	}
	if s.SyncQlenMax < 0 || s.SyncSockSize < 0 {
		errs = append(errs, fmt.Errorf("sync_qlen_max %d, sync_sock_size %d: negative", s.SyncQlenMax, s.SyncSockSize))
	}
	if s.SyncPorts < 1 || s.SyncPorts > maxSyncPorts || bits.OnesCount(uint(s.SyncPorts)) != 1 {
		errs = append(errs, fmt.Errorf("sync_ports %d: want a power of 2 from 1 to %d", s.SyncPorts, maxSyncPorts))
	}
	if s.SyncVersion != 0 && s.SyncVersion != 1 {
		errs = append(errs, fmt.Errorf("sync_version %d: want 0 or 1", s.SyncVersion))
	}
	return errors.Join(errs...)
}

// Conn is what ShouldSync needs to know about a connection or template.
type Conn struct {
	Proto uint8
	Flags Flags
	State uint16 // the state after this packet
	// Timeout is the connection's current timeout (the state's timeout;
	// a template's persistence timeout).
	Timeout time.Duration
	// InPersistence says a persistence template controls the connection
	// (directly or through its controller); only used with
	// SyncPersistMode.
	InPersistence bool
}

// SyncState is the per-connection memory of the sync decision, the
// kernel's cp->old_state and cp->sync_endtime. The zero value is the state
// of a new connection.
type SyncState struct {
	// OldState is the state at the last sync decision that went through.
	OldState uint16
	// EndTime is when the last synced timeout would end, in milliseconds
	// on the caller's clock, rounded down to a multiple of 4; the low two
	// bits count the retries sent inside the refresh period.
	EndTime int64
}

// ShouldSync is the kernel's decision whether a connection is put into a
// sync message now (ip_vs_sync.c, ip_vs_sync_conn_needed, plus the
// ONE_PACKET and persist-mode checks of ip_vs_sync_conn). pkts is the
// connection's incoming packet count including this packet; for a
// template synced because a connection it controls was synced, pkts is
// the template's own count after adding one (the kernel increments it for
// this). now is the caller's monotonic clock. It returns the decision and
// the connection's new SyncState, which the caller stores whatever the
// decision.
//
// What it does:
//   - ONE_PACKET connections are never synced; with SyncPersistMode,
//     neither are connections under a template.
//   - TCP connections are synced only in ESTABLISHED, FIN_WAIT, CLOSE,
//     CLOSE_WAIT and TIME_WAIT. A change into one of the last four is
//     synced at once (whatever the packet count). A change into
//     ESTABLISHED, and every other packet, goes through the rules below.
//     UDP (one state) and templates always go through them.
//   - With a refresh period: if the connection's timeout would end less
//     than min(refresh, max(timeout/2, 10 s)) away from when the last
//     sync said it would, it is not synced again, except for up to
//     SyncRetries retries, each at least refresh/8 after the last sync.
//   - With SyncPeriod > 0: a connection (not a template) is synced when
//     pkts % SyncPeriod == SyncThreshold: the 3rd, 53rd, 103rd... packet
//     by default. Templates pass this test always. With SyncPeriod 0 and
//     no refresh period: only when pkts == SyncThreshold.
func ShouldSync(s *Sysctls, c Conn, st SyncState, pkts int, now time.Duration) (bool, SyncState) {
	if c.Flags&FlagOnePacket != 0 {
		return false, st
	}
	template := c.Flags&FlagTemplate != 0
	if !template && s.SyncPersistMode && c.InPersistence {
		return false, st
	}
	orig := st.EndTime
	n := (now + c.Timeout).Milliseconds() &^ 3
	force := false
	if !template && c.Proto == ProtoTCP {
		switch c.State {
		case TCPEstablished, TCPFinWait, TCPClose, TCPCloseWait, TCPTimeWait:
		default:
			return false, st
		}
		force = c.State != st.OldState
		if force && c.State != TCPEstablished {
			return true, SyncState{OldState: c.State, EndTime: n}
		}
	}
	refresh := s.SyncRefreshPeriod.Milliseconds()
	if refresh > 0 {
		diff := n - orig
		if diff < 0 {
			diff = -diff
		}
		minDiff := max(c.Timeout/2, minRefreshDiff).Milliseconds()
		if diff < min(refresh, minDiff) {
			retries := orig & 3
			if retries >= int64(s.SyncRetries) {
				return false, st
			}
			if now.Milliseconds() < orig-c.Timeout.Milliseconds()+refresh>>3 {
				return false, st
			}
			n |= retries + 1
		}
	}
	if s.SyncPeriod > 0 {
		if !template && pkts%s.SyncPeriod != s.SyncThreshold {
			return false, st
		}
	} else if refresh == 0 && pkts != s.SyncThreshold {
		return false, st
	}
	return true, SyncState{OldState: c.State, EndTime: n}
}
