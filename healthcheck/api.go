package healthcheck

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// Target is what one checker probes: a real server of a virtual service.
// config.Check's ConnectIP and ConnectPort, when set, override Addr and
// Port for the probe itself; logs always name the real server.
type Target struct {
	Addr  netip.Addr
	Port  uint16
	Proto vs.Protocol
	// Virtualhost is the virtual_server's virtualhost, the HTTP Host
	// header when neither the checker nor its url names one.
	Virtualhost string
	// Service is the virtual service the server belongs to; the log
	// lines of MISC_CHECK and PING_CHECK name it, as keepalived's do.
	Service config.ServiceKey
}

// Result is the outcome of one probe.
type Result struct {
	OK bool
	// Err says why a probe failed ("connection refused", "HTTP status
	// 404", "digest mismatch", "exit status 1", "timeout"); "" when OK.
	Err     string
	Latency time.Duration
	// Weight is the weight MISC_CHECK's misc_dynamic asks for (exit code
	// 2..255 gives code-2); -1 when the probe says nothing of weight.
	Weight int
	At     time.Time
}

// Transition is what a checker reports when its verdict on the server
// changes (up to down, down to up) or when misc_dynamic changes the
// weight of a server that stays up.
type Transition struct {
	Up bool
	// Weight is the new dynamic weight, or -1 for "the configured one".
	Weight int
	Result Result
}

// Env is what every checker of a Monitor shares.
type Env struct {
	// Log receives keepalived's log lines; nil discards.
	Log *slog.Logger
	// Slots bounds the probes in flight at once across all checkers
	// (a buffered channel used as a semaphore); nil = unbounded.
	Slots chan struct{}
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// CheckStatus is one checker as `ulvs checks` shows it.
type CheckStatus struct {
	Kind                string // keepalived's block name: TCP_CHECK, HTTP_GET, ...
	Addr                netip.Addr
	Port                uint16
	Up                  bool
	HasRun              bool
	Last                Result
	ConsecutiveFailures int
	LastTransition      time.Time
	Transitions         uint64
}
