package config

import (
	"slices"
	"time"
)

// This file holds the defaults of the health-check model and the one
// function that applies them, ResolveHealth, so that a check means the
// same whichever file it came from: every format (TOML, keepalived.conf,
// lvs.cf) builds its checks with NewCheck, fills in what the file says,
// and calls ResolveHealth once per virtual service.

// Unset marks a timing setting that a block of the file did not give
// (Timing's fields, and a Check's ConnectTimeout, Retry, DelayBeforeRetry,
// DelayLoop, Warmup and MaxReplyLength between NewCheck and
// ResolveHealth).
const Unset = -1

// Checker defaults keepalived 2.2.7 applies beyond those in health.go:
// keepalived/check/check_api.c queue_checker (retry 1, delay_before_retry
// 1 s for every kind), check_http.c (HTTP_GET, SSL_GET: delay_before_retry
// 3 s), check_misc.c (MISC_CHECK: retry 0), check_dns.c (DNS_CHECK: retry
// 3, delay_before_retry 0, which means the checker's delay_loop),
// check_data.c (quorum 1), check_udp.c (max_reply_length 255),
// check_smtp.h (helo_name), check_dns.c (type SOA).
const (
	DefaultRetry            = 1
	DefaultDelayBeforeRetry = 1 * time.Second
	DefaultHTTPDelayRetry   = 3 * time.Second // HTTP_GET, SSL_GET
	DefaultDNSRetry         = 3
	DefaultQuorum           = 1
	DefaultMaxReplyLength   = 255 // UDP_CHECK: UINT8_MAX
	DefaultHeloName         = "smtpchecker.keepalived.org"
	DefaultHTTPProtocol     = "1.0"
	DefaultDNSType          = "SOA"
	DefaultDNSName          = "."
	DefaultStatusFirst      = 200 // HTTP_DEFAULT_STATUS_CODE_MIN
	DefaultStatusLast       = 299 // HTTP_DEFAULT_STATUS_CODE_MAX
)

// Timing is what a virtual_server or real_server block of keepalived.conf
// may set for every checker under it: keepalived 2.2 takes a checker's
// connect_timeout, retry, delay_before_retry, delay_loop and warmup from
// the checker, else its real_server, else its virtual_server, else the
// checker kind's default. Each field is Unset when the block does not give
// it. The TOML file sets these per check only (and delay_loop per service:
// VirtualHealth.DelayLoop), so it passes no Timing.
type Timing struct {
	ConnectTimeout   time.Duration
	Retry            int
	DelayBeforeRetry time.Duration
	DelayLoop        time.Duration
	Warmup           time.Duration
}

// UnsetTiming returns a Timing that sets nothing.
func UnsetTiming() Timing {
	return Timing{ConnectTimeout: Unset, Retry: Unset, DelayBeforeRetry: Unset, DelayLoop: Unset, Warmup: Unset}
}

// Or returns t with each Unset field taken from parent: a real_server's
// Timing over its virtual_server's.
func (t Timing) Or(parent Timing) Timing {
	pick := func(a, b time.Duration) time.Duration {
		if a == Unset {
			return b
		}
		return a
	}
	if t.Retry == Unset {
		t.Retry = parent.Retry
	}
	t.ConnectTimeout = pick(t.ConnectTimeout, parent.ConnectTimeout)
	t.DelayBeforeRetry = pick(t.DelayBeforeRetry, parent.DelayBeforeRetry)
	t.DelayLoop = pick(t.DelayLoop, parent.DelayLoop)
	t.Warmup = pick(t.Warmup, parent.Warmup)
	return t
}

// NewCheck returns a check of kind k with its inheritable settings Unset,
// for a parser to fill in with what the file says before ResolveHealth.
func NewCheck(k CheckKind) Check {
	return Check{
		Kind:             k,
		ConnectTimeout:   Unset,
		Retry:            Unset,
		DelayBeforeRetry: Unset,
		DelayLoop:        Unset,
		Warmup:           Unset,
		MaxReplyLength:   Unset,
	}
}

// ResolveHealth fills in every default of vh the way keepalived 2.2.7
// does, so that the model is complete:
//
//   - the service: DelayLoop 0 becomes DefaultDelayLoop (60 s), Quorum 0
//     becomes 1; a sorry server without a port gets the service's (not for
//     a fwmark service);
//   - each check of real server i, for each timing field left Unset: the
//     value inherited[i] gives (the real_server's Timing Or the
//     virtual_server's; inherited may be nil or shorter than vh.Reals),
//     else for DelayLoop the service's, for ConnectTimeout 5 s, for Retry
//     and DelayBeforeRetry the kind's default (DelayBeforeRetry 0 meaning
//     the check's DelayLoop, as DNS_CHECK has it), for Warmup the check's
//     DelayLoop;
//   - where a check connects (every kind but MISC_CHECK and nanny):
//     ConnectIP invalid becomes the real server's address and ConnectPort
//     0 its port (keepalived's checker starts from the real server's
//     address; a real server without a port, of a fwmark service, leaves
//     ConnectPort 0 for the format to refuse);
//   - fields only some kinds have: MiscTimeout 0 becomes the service's
//     DelayLoop (check_misc.c), HTTPProtocol "1.0", an HTTP URL without
//     status codes 200-299, Virtualhost "" the service's, HeloName
//     keepalived's, DNSType "SOA", DNSName ".", MaxReplyLength 255, and a
//     nanny's Proto 0 the service's (lvs.cf sets it for a fwmark
//     service, whose key says TCP while the check may be UDP).
//
// Settings a kind does not use are left zero: ConnectTimeout of MISC_CHECK
// and nanny checks (no connection of their own, and ConnectIP and
// ConnectPort stay as given), ConnectPort and BindPort of PING_CHECK
// (keepalived takes and ignores them), Retry and
// DelayBeforeRetry of nanny checks (Piranha's Timeout and Reentry instead).
// Nanny's Timeout and Reentry have no default here: lvs.cf and the TOML
// file must give them. ResolveHealth is idempotent.
func ResolveHealth(vh *VirtualHealth, inherited []Timing) {
	if vh.DelayLoop <= 0 {
		vh.DelayLoop = DefaultDelayLoop
	}
	if vh.Quorum == 0 {
		vh.Quorum = DefaultQuorum
	}
	if s := vh.Sorry; s != nil && s.Port == 0 && vh.Service.FwMark == 0 {
		s.Port = vh.Service.Port
	}
	for i := range vh.Reals {
		up := UnsetTiming()
		if i < len(inherited) {
			up = inherited[i]
		}
		rh := &vh.Reals[i]
		for j := range rh.Checks {
			rh.Checks[j].resolve(vh, rh, up)
		}
	}
}

// KindDefaults returns the retry and delay_before_retry keepalived 2.2.7
// gives a checker of kind k that neither it nor its real_server and
// virtual_server blocks set (check_api.c queue_checker, and the kinds'
// own in check_http.c, check_misc.c, check_dns.c). A delayBeforeRetry of
// 0 means the checker's delay_loop. Nanny checks have neither: 0, 0.
func KindDefaults(k CheckKind) (retry int, delayBeforeRetry time.Duration) {
	switch k {
	case CheckHTTP, CheckSSL:
		return DefaultRetry, DefaultHTTPDelayRetry
	case CheckMisc:
		return 0, DefaultDelayBeforeRetry
	case CheckDNS:
		return DefaultDNSRetry, 0
	case CheckNanny:
		return 0, 0
	}
	return DefaultRetry, DefaultDelayBeforeRetry
}

// connects reports whether checks of kind k open a connection of their
// own, to ConnectIP (and ConnectPort, but for PING_CHECK).
func (k CheckKind) connects() bool {
	switch k {
	case CheckTCP, CheckHTTP, CheckSSL, CheckSMTP, CheckDNS, CheckUDP, CheckPing:
		return true
	}
	return false
}

// resolve applies ResolveHealth's rules to one check of real server rh.
func (c *Check) resolve(vh *VirtualHealth, rh *RealHealth, up Timing) {
	inherit := func(own, fromBlocks, last time.Duration) time.Duration {
		switch {
		case own != Unset:
			return own
		case fromBlocks != Unset:
			return fromBlocks
		}
		return last
	}
	c.DelayLoop = inherit(c.DelayLoop, up.DelayLoop, vh.DelayLoop)
	c.Warmup = inherit(c.Warmup, up.Warmup, c.DelayLoop)

	retry, delay := KindDefaults(c.Kind)
	if delay == 0 {
		delay = c.DelayLoop
	}
	if c.Kind == CheckNanny {
		c.Retry, c.DelayBeforeRetry = 0, 0
	} else {
		if c.Retry == Unset {
			c.Retry = up.Retry
			if c.Retry == Unset {
				c.Retry = retry
			}
		}
		c.DelayBeforeRetry = inherit(c.DelayBeforeRetry, up.DelayBeforeRetry, delay)
	}
	if c.Kind.connects() {
		c.ConnectTimeout = inherit(c.ConnectTimeout, up.ConnectTimeout, DefaultConnectTimeout)
		if !c.ConnectIP.IsValid() {
			c.ConnectIP = rh.Addr
		}
		if c.ConnectPort == 0 {
			c.ConnectPort = rh.Port
		}
		if c.Kind == CheckPing {
			c.ConnectPort, c.BindPort = 0, 0
		}
	} else {
		c.ConnectTimeout = 0
	}

	switch c.Kind {
	case CheckHTTP, CheckSSL:
		if c.HTTPProtocol == "" {
			c.HTTPProtocol = DefaultHTTPProtocol
		}
		if c.Virtualhost == "" {
			c.Virtualhost = vh.Virtualhost
		}
		for k := range c.URLs {
			if len(c.URLs[k].StatusCodes) == 0 {
				c.URLs[k].StatusCodes = []StatusRange{{First: DefaultStatusFirst, Last: DefaultStatusLast}}
			}
			c.URLs[k].StatusCodes = MergeStatus(c.URLs[k].StatusCodes)
		}
	case CheckMisc:
		if c.MiscTimeout == 0 {
			c.MiscTimeout = vh.DelayLoop
		}
	case CheckSMTP:
		if c.HeloName == "" {
			c.HeloName = DefaultHeloName
		}
	case CheckDNS:
		if c.DNSType == "" {
			c.DNSType = DefaultDNSType
		}
		if c.DNSName == "" {
			c.DNSName = DefaultDNSName
		}
	case CheckUDP:
		if c.MaxReplyLength == Unset {
			c.MaxReplyLength = DefaultMaxReplyLength
		}
	case CheckNanny:
		if c.Proto == 0 {
			c.Proto = vh.Service.Proto
		}
	}
	if c.MaxReplyLength == Unset {
		c.MaxReplyLength = 0
	}
}

// MergeStatus sorts status-code ranges and merges overlapping and adjacent
// ones: the set keepalived's status_code bitmap holds, so that the same
// codes always read as the same ranges whichever file named them. It
// reorders rs in place and returns it shortened.
func MergeStatus(rs []StatusRange) []StatusRange {
	if len(rs) == 0 {
		return rs
	}
	slices.SortFunc(rs, func(a, b StatusRange) int { return a.First - b.First })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.First <= last.Last+1 {
			last.Last = max(last.Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}
