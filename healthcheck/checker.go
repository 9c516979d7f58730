package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// This file is the per-checker half of the package: one Checker probes one
// real server on its own timer and decides, as keepalived 2.2.7's checker
// threads do (check_tcp.c, check_http.c, check_misc.c, check_smtp.c,
// check_dns.c, check_udp.c, check_ping.c), when the server is up or down.
// The decision rules differ by kind in small ways that users see in their
// logs and timings, so each kind keeps keepalived's own rule:
//
//   - every checker but SMTP_CHECK starts with its retry counter full, so
//     a server whose very first check fails is down at once, without
//     retries (check_data.c sets retry_it = retry at start);
//   - TCP_CHECK retries (delay_before_retry apart) even while the server
//     is down; UDP_CHECK and PING_CHECK retry only while it is up;
//   - HTTP_GET/SSL_GET checks one url per delay_loop, and a server that
//     was down comes back only after the failed url and then every url
//     succeeded: two GETs one delay_loop apart for a single url;
//   - MISC_CHECK schedules from the start of the previous run and logs
//     its own lines; SMTP_CHECK starts every round with a fresh retry
//     counter;
//   - Piranha's nanny drops a server on its first failed check and
//     readmits it after reentry seconds of successes.

// prober is one kind of probe. probe runs one attempt against the server
// and says whether it passed; the Checker owns timing and verdicts. A
// prober is used by one goroutine at a time.
type prober interface {
	probe(ctx context.Context) Result
}

// Checker is one checker of one real server. Create it with NewChecker,
// run it with Run (one goroutine); Status and Up are safe for concurrent
// use.
type Checker struct {
	cfg      config.Check
	target   Target
	log      *slog.Logger
	slots    chan struct{}
	now      func() time.Time
	onChange func(Transition)
	p        prober
	rng      *rand.Rand

	name   string // keepalived's FMT_CHK: [10.0.0.11]:tcp:80
	vsName string // keepalived's FMT_VS

	// Decision state, owned by the Run goroutine.
	up       bool
	hasRun   bool
	retryIt  int
	retrying bool // SMTP_CHECK: this round is a retry
	// HTTP_GET: the url to check next and the url that failed (-1: none).
	urlIt     int
	failedURL int
	// MISC_CHECK: the last exit code seen (keepalived's last_exit_code)
	// and the dynamic weight in force (-1: the configured one).
	lastExit  int
	curWeight int
	// Nanny: consecutive successes and the number needed to readmit.
	nannyCount  int
	nannyThresh int

	mu sync.Mutex
	st CheckStatus
}

// NewChecker prepares one checker of one real server. up is the initial
// verdict (keepalived starts every server up unless the service has
// alpha). onChange is called from the Run goroutine on each verdict
// change and on each misc_dynamic weight change of a server that stays
// up; it must not block for long. A configuration the checker cannot run
// is an error, never silently ignored.
func NewChecker(c config.Check, t Target, env *Env, up bool, onChange func(Transition)) (*Checker, error) {
	if !t.Addr.IsValid() {
		return nil, fmt.Errorf("%v checker: no real server address", c.Kind)
	}
	if c.Retry < 0 {
		return nil, fmt.Errorf("%v checker of %s: negative retry %d", c.Kind, FormatServer(t.Addr, t.Port, t.Proto), c.Retry)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = config.DefaultConnectTimeout
	}
	if c.DelayBeforeRetry < 0 || c.Warmup < 0 {
		return nil, fmt.Errorf("%v checker of %s: negative delay", c.Kind, FormatServer(t.Addr, t.Port, t.Proto))
	}
	p, err := newProber(&c, t)
	if err != nil {
		return nil, fmt.Errorf("%v checker of %s: %w", c.Kind, FormatServer(t.Addr, t.Port, t.Proto), err)
	}
	return newChecker(c, t, env, up, onChange, p)
}

// newChecker is NewChecker with the prober given: the seam tests use to
// drive the decision rules with scripted results.
func newChecker(c config.Check, t Target, env *Env, up bool, onChange func(Transition), p prober) (*Checker, error) {
	if c.Kind == config.CheckNanny {
		if nannyInterval(&c) <= 0 {
			return nil, fmt.Errorf("NANNY checker of %s: timeout and delay_loop are both zero", FormatServer(t.Addr, t.Port, t.Proto))
		}
	} else if c.DelayLoop <= 0 {
		return nil, fmt.Errorf("%v checker of %s: delay_loop must be positive", c.Kind, FormatServer(t.Addr, t.Port, t.Proto))
	}
	if env == nil {
		env = &Env{}
	}
	ck := &Checker{
		cfg:       c,
		target:    t,
		log:       env.Log,
		slots:     env.Slots,
		now:       env.Now,
		onChange:  onChange,
		p:         p,
		rng:       rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		name:      FormatServer(t.Addr, t.Port, t.Proto),
		vsName:    FormatVS(t.Service),
		up:        up,
		retryIt:   c.Retry, // one failure is enough at start (check_data.c)
		failedURL: -1,
		curWeight: -1,
	}
	if ck.log == nil {
		ck.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if ck.now == nil {
		ck.now = time.Now
	}
	if ck.onChange == nil {
		ck.onChange = func(Transition) {}
	}
	if c.Kind == config.CheckNanny {
		iv := nannyInterval(&c)
		ck.nannyThresh = int(c.Reentry / iv)
		ck.nannyCount = ck.nannyThresh
	}
	ck.st = CheckStatus{Kind: c.Kind.String(), Addr: t.Addr, Port: t.Port, Up: up, Last: Result{Weight: -1}}
	return ck, nil
}

// newProber builds the probe of c's kind, checking what it needs.
func newProber(c *config.Check, t Target) (prober, error) {
	switch c.Kind {
	case config.CheckTCP:
		return newTCPProber(c, t), nil
	case config.CheckHTTP, config.CheckSSL:
		return newHTTPProber(c, t)
	case config.CheckMisc:
		return newMiscProber(c)
	case config.CheckSMTP:
		return newSMTPProber(c, t), nil
	case config.CheckDNS:
		return newDNSProber(c, t)
	case config.CheckUDP:
		return newUDPProber(c, t), nil
	case config.CheckPing:
		return newPingProber(c, t), nil
	case config.CheckNanny:
		return newNannyProber(c, t)
	}
	return nil, fmt.Errorf("unsupported checker kind %d", c.Kind)
}

// Up reports the checker's current verdict.
func (c *Checker) Up() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Up
}

// Status returns the checker as `ulvs checks` shows it.
func (c *Checker) Status() CheckStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Run probes until ctx is done: first after a random delay in [0,
// Warmup], then every DelayLoop (DelayBeforeRetry while retrying).
func (c *Checker) Run(ctx context.Context) {
	t := time.NewTimer(c.firstDelay())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, ok := c.round(ctx)
		if !ok {
			return
		}
		t.Reset(next)
	}
}

// firstDelay spreads checkers in time as keepalived does: a random delay
// up to the warmup (which defaults to delay_loop).
func (c *Checker) firstDelay() time.Duration {
	w := c.cfg.Warmup
	if w <= 0 {
		return 0
	}
	return time.Duration(c.rng.Int64N(int64(w) + 1))
}

// round runs one probe and applies the kind's decision rule. It returns
// the delay until the next probe, and false when ctx ended meanwhile.
func (c *Checker) round(ctx context.Context) (time.Duration, bool) {
	if c.cfg.Kind == config.CheckSMTP && !c.retrying {
		c.retryIt = 0 // smtp_start_check_thread
	}
	if c.slots != nil {
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return 0, false
		}
	}
	start := c.now()
	var res Result
	hp, isHTTP := c.p.(*httpProber)
	switch {
	case isHTTP && len(c.cfg.URLs) == 0:
		res = Result{OK: true} // keepalived: no url, the server is up unchecked
	case isHTTP:
		hp.next = c.urlIt
		res = c.p.probe(ctx)
	default:
		res = c.p.probe(ctx)
	}
	if c.slots != nil {
		<-c.slots
	}
	if ctx.Err() != nil {
		return 0, false // shutting down: not a verdict on the server
	}
	res.At = c.now()
	res.Latency = res.At.Sub(start)
	if res.OK {
		res.Err = ""
	}
	if c.cfg.Kind != config.CheckMisc {
		res.Weight = -1
	}
	c.record(res)

	var next time.Duration
	switch c.cfg.Kind {
	case config.CheckTCP:
		next = c.afterSimple(res, true, tcpLines)
	case config.CheckUDP:
		next = c.afterSimple(res, false, udpLines)
	case config.CheckPing:
		next = c.afterSimple(res, false, pingLines)
	case config.CheckHTTP, config.CheckSSL:
		next = c.afterHTTP(res)
	case config.CheckMisc:
		next = c.afterMisc(res)
		// MISC_CHECK counts from the start of the previous run.
		next -= res.At.Sub(start)
		if next <= 0 {
			next = time.Microsecond
		}
	case config.CheckSMTP:
		next = c.afterSMTP(res)
	case config.CheckDNS:
		next = c.afterDNS(res)
	case config.CheckNanny:
		next = c.afterNanny(res)
	default:
		next = c.cfg.DelayLoop
	}
	c.mu.Lock()
	c.st.HasRun = c.hasRun
	c.mu.Unlock()
	return next, true
}

// record keeps the last result for Status.
func (c *Checker) record(res Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Last = res
	if res.OK {
		c.st.ConsecutiveFailures = 0
	} else {
		c.st.ConsecutiveFailures++
	}
}

// logf logs one of keepalived's lines, the message being exactly its text.
func (c *Checker) logf(format string, args ...any) {
	c.log.Info(fmt.Sprintf(format, args...))
}

// setState is keepalived's update_svr_checker_state: the checker has run,
// and a changed verdict is reported.
func (c *Checker) setState(up bool, res Result) {
	c.hasRun = true
	if c.up == up {
		c.mu.Lock()
		c.st.HasRun = true
		c.mu.Unlock()
		return
	}
	c.up = up
	w := -1
	if up {
		w = c.curWeight
	}
	c.mu.Lock()
	c.st.Up = up
	c.st.HasRun = true
	c.st.LastTransition = res.At
	c.st.Transitions++
	c.mu.Unlock()
	c.onChange(Transition{Up: up, Weight: w, Result: res})
}

// simpleLines are the log lines of the checkers that share keepalived's
// simple epilog (TCP, UDP, ICMP).
type simpleLines struct {
	success       string // "%s": the server
	failedRetries string // "%s", ["%s" VS,] "%d"
	failed        string // "%s"
	namesVS       bool   // failedRetries names the virtual service too
}

var (
	tcpLines = simpleLines{
		success:       "TCP connection to %s success.",
		failedRetries: "TCP_CHECK on service %s failed after %d retries.",
		failed:        "TCP_CHECK on service %s failed.",
	}
	udpLines = simpleLines{
		success:       "UDP connection to %s success.",
		failedRetries: "UDP_CHECK on service %s failed after %d retries.",
		failed:        "UDP_CHECK on service %s failed.",
	}
	pingLines = simpleLines{
		success:       "ICMP connection to %s success.",
		failedRetries: "ICMP CHECK on service %s of %s failed after %d retries.",
		failed:        "ICMP CHECK on service %s failed.",
		namesVS:       true,
	}
)

// afterSimple is tcp_epilog (retryWhileDown) and udp_epilog/icmp_epilog
// (retries only while up).
func (c *Checker) afterSimple(res Result, retryWhileDown bool, l simpleLines) time.Duration {
	next := c.cfg.DelayLoop
	var decide bool
	if retryWhileDown {
		decide = res.OK || c.retryIt >= c.cfg.Retry
	} else {
		decide = res.OK || ((c.up || !c.hasRun) && c.retryIt >= c.cfg.Retry)
	}
	switch {
	case decide:
		c.retryIt = 0
		if res.OK && (!c.up || !c.hasRun) {
			c.logf(l.success, c.name)
			c.setState(true, res)
		} else if !res.OK && (c.up || !c.hasRun) {
			switch {
			case c.cfg.Retry > 0 && c.hasRun && l.namesVS:
				c.logf(l.failedRetries, c.name, c.vsName, c.cfg.Retry)
			case c.cfg.Retry > 0 && c.hasRun:
				c.logf(l.failedRetries, c.name, c.cfg.Retry)
			default:
				c.logf(l.failed, c.name)
			}
			c.setState(false, res)
		}
	case retryWhileDown || c.up:
		next = c.cfg.DelayBeforeRetry
		c.retryIt++
	}
	c.hasRun = true
	return next
}

// afterHTTP is check_http.c's http_handle_response, timeout_epilog and
// epilog: one url per round, retries on the url that fails, and a server
// that is down returns after its failed url and then all urls pass.
func (c *Checker) afterHTTP(res Result) time.Duration {
	const (
		methodNew = iota
		methodRetry
		methodFailed
	)
	var method int
	if res.OK {
		if !c.up && len(c.cfg.URLs) > 0 {
			u := c.cfg.URLs[c.urlIt]
			what := "HTTP status code"
			if u.Digest != "" {
				what = "MD5 digest"
			}
			c.logf("%s success to %s url(%s)", what, c.name, u.Path)
		}
		method = methodNew
	} else if c.up || !c.hasRun {
		c.hasRun = true
		method = methodRetry
	} else {
		method = methodFailed
	}

	switch method {
	case methodNew:
		c.urlIt++
		if c.urlIt >= len(c.cfg.URLs) {
			c.urlIt = -1
		}
		c.retryIt = 0
	case methodRetry:
		c.retryIt++
	}

	switch {
	case method == methodNew && c.urlIt == -1 && c.failedURL == -1:
		if !c.up || !c.hasRun {
			c.logf("Remote Web server %s succeed on service.", c.name)
			c.setState(true, res)
		}
		c.urlIt = 0
		c.retryIt = 0
	case method == methodRetry && c.retryIt > c.cfg.Retry:
		if c.up || !c.hasRun {
			if c.hasRun && c.cfg.Retry > 0 {
				c.logf("HTTP_CHECK on service %s failed after %d retries.", c.name, c.retryIt-1)
			} else {
				c.logf("HTTP_CHECK on service %s failed.", c.name)
			}
			c.setState(false, res)
		}
		c.failedURL = c.urlIt
	case method == methodNew && c.failedURL != -1:
		c.failedURL = -1
		c.urlIt = 0
		c.retryIt = 0
	}
	if c.urlIt < 0 {
		c.urlIt = 0
	}

	switch {
	case method == methodNew:
		if !c.hasRun {
			c.retryIt = c.cfg.Retry
		}
		return c.cfg.DelayLoop
	case c.failedURL != -1:
		return max(c.cfg.DelayBeforeRetry, c.cfg.DelayLoop)
	}
	return c.cfg.DelayBeforeRetry
}

// afterMisc is check_misc.c's misc_check_child_thread.
func (c *Checker) afterMisc(res Result) time.Duration {
	var ei exitInfo
	if mp, ok := c.p.(interface{ exit() exitInfo }); ok {
		ei = mp.exit()
	} else if res.OK {
		ei.Code = 0
	} else {
		ei.Code = 1
	}
	exited := ei.Signal == 0 && ei.Code >= 0
	var exitType, reason string
	var reasonCode int
	success := false
	weightChanged := false
	switch {
	case exited && (ei.Code == 0 || (c.cfg.MiscDynamic && ei.Code >= 2 && ei.Code <= 255)):
		if ei.Code != c.lastExit {
			w := -1
			if ei.Code != 0 {
				w = ei.Code - 2
			}
			weightChanged = w != c.curWeight
			c.curWeight = w
			c.lastExit = ei.Code
		}
		if !c.up || !c.hasRun {
			exitType = "succeeded"
			success = true
		}
		c.retryIt = 0
	case c.up || !c.hasRun:
		switch {
		case exited:
			exitType, reason, reasonCode = "failed", "exited with status", ei.Code
		case ei.TimedOut && (ei.Signal == sigTERM || ei.Signal == sigKILL):
			exitType = "timed out"
		default:
			exitType, reason, reasonCode = "failed", "due to signal", int(ei.Signal)
		}
		if c.retryIt < c.cfg.Retry {
			c.retryIt++
			exitType = "" // a retry follows; keepalived says nothing
		} else {
			c.retryIt = 0
			c.curWeight = -1
			if exited {
				c.lastExit = ei.Code
			}
		}
	}
	res.Weight = c.curWeight
	if exitType != "" {
		var msg string
		if !success {
			switch {
			case c.cfg.Retry == 0:
				msg = " with retry disabled"
			case c.retryIt == 1:
				msg = fmt.Sprintf(", will do %d %s", c.cfg.Retry, plural(c.cfg.Retry, "retry", "retries"))
			case c.retryIt > 1:
				msg = fmt.Sprintf(" on retry %d/%d", c.retryIt-1, c.cfg.Retry)
			default:
				msg = fmt.Sprintf(" after %d %s", c.cfg.Retry, plural(c.cfg.Retry, "retry", "retries"))
			}
		}
		prog := ""
		if len(c.cfg.MiscPath) > 0 {
			prog = c.cfg.MiscPath[0]
		}
		if reason != "" {
			c.logf("Misc check for [%s VS %s] by [%s] %s%s (%s %d).", c.name, c.vsName, prog, exitType, msg, reason, reasonCode)
		} else {
			c.logf("Misc check for [%s VS %s] by [%s] %s%s.", c.name, c.vsName, prog, exitType, msg)
		}
		wasUp := c.up
		c.setState(success, res)
		if !success || !wasUp {
			// A new verdict carries the weight itself.
			weightChanged = false
		}
	}
	if weightChanged && c.up {
		// Not a verdict change: Status's transition count stays.
		c.onChange(Transition{Up: true, Weight: c.curWeight, Result: res})
	}
	c.hasRun = true
	if c.retryIt > 0 {
		return c.cfg.DelayBeforeRetry
	}
	return c.cfg.DelayLoop
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// afterSMTP is check_smtp.c's smtp_final.
func (c *Checker) afterSMTP(res Result) time.Duration {
	if !res.OK {
		if (c.up || !c.hasRun) && c.retryIt >= c.cfg.Retry {
			c.logf("SMTP_CHECK %s", res.Err)
		}
		c.retryIt++
		if c.retryIt <= c.cfg.Retry {
			c.retrying = true
			return c.cfg.DelayBeforeRetry
		}
		if c.up || !c.hasRun {
			c.setState(false, res)
		}
		c.retrying = false
		return c.cfg.DelayLoop
	}
	c.retryIt = 0
	if !c.up || !c.hasRun {
		c.logf("Remote SMTP server %s succeed on service.", c.name)
		c.setState(true, res)
	}
	c.hasRun = true
	c.retrying = false
	return c.cfg.DelayLoop
}

// afterDNS is check_dns.c's dns_final. keepalived logs nothing when a DNS
// server comes up.
func (c *Checker) afterDNS(res Result) time.Duration {
	if !res.OK {
		if c.up || !c.hasRun {
			if c.retryIt >= c.cfg.Retry {
				msg := res.Err
				if c.hasRun {
					msg += fmt.Sprintf(" after %d retries", c.cfg.Retry)
				}
				c.logf("DNS_CHECK (%s) %s", c.name, msg)
			}
			if c.retryIt < c.cfg.Retry {
				c.retryIt++
				c.hasRun = true
				return c.cfg.DelayBeforeRetry
			}
			c.setState(false, res)
		}
	} else if !c.up || !c.hasRun {
		c.setState(true, res)
	}
	c.retryIt = 0
	return c.cfg.DelayLoop
}

// nannyInterval is nanny's -t: the time between checks and the I/O
// timeout of each, which Piranha's pulse sets from lvs.cf's timeout.
func nannyInterval(c *config.Check) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return c.DelayLoop
}

// afterNanny is nanny.c's run loop: a server that fails one check while
// active is shut down; an inactive one is made available after
// reentry/interval consecutive successes (at once the first time).
func (c *Checker) afterNanny(res Result) time.Duration {
	if res.OK {
		c.nannyCount++
	}
	addr := c.cfg.ConnectIP
	if !addr.IsValid() {
		addr = c.target.Addr
	}
	port := c.cfg.ConnectPort
	if port == 0 {
		port = c.target.Port
	}
	switch {
	case res.OK && !c.up && c.nannyCount >= c.nannyThresh:
		c.logf("making %s:%d available", addr, port)
		c.setState(true, res)
	case !res.OK && c.up:
		c.nannyCount = 0
		c.logf("shutting down %s:%d due to connection failure", addr, port)
		c.setState(false, res)
	case !res.OK:
		c.nannyCount = 0
	}
	c.hasRun = true
	return nannyInterval(&c.cfg)
}

// FormatServer formats a real server as keepalived's logs do
// (inet_sockaddrtotrio): "[10.0.0.11]:tcp:80".
func FormatServer(addr netip.Addr, port uint16, proto vs.Protocol) string {
	return fmt.Sprintf("[%s]:%s:%d", addr.String(), protoName(proto), port)
}

// FormatVS formats a virtual service as keepalived's logs do (format_vs):
// "[10.0.0.100]:tcp:80", or "FWM 21" for a firewall-mark service.
func FormatVS(k config.ServiceKey) string {
	if k.FwMark != 0 {
		return fmt.Sprintf("FWM %d", k.FwMark)
	}
	return FormatServer(k.Addr, k.Port, k.Proto)
}

func protoName(p vs.Protocol) string {
	switch p {
	case vs.TCP:
		return "tcp"
	case vs.UDP:
		return "udp"
	case 132:
		return "sctp"
	case 0:
		return "none"
	}
	return "?"
}

// errString says why an I/O step failed in a few words
// ("connection refused", "timeout").
func errString(err error) string {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "timeout"
	}
	var en errnoError
	if errors.As(err, &en) {
		return en.Error()
	}
	return err.Error()
}
