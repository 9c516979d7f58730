package keepalived

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// checkKinds are the checker blocks ulvs runs.
var checkKinds = map[string]config.CheckKind{
	"TCP_CHECK":  config.CheckTCP,
	"HTTP_GET":   config.CheckHTTP,
	"SSL_GET":    config.CheckSSL,
	"MISC_CHECK": config.CheckMisc,
	"SMTP_CHECK": config.CheckSMTP,
	"DNS_CHECK":  config.CheckDNS,
	"UDP_CHECK":  config.CheckUDP,
	"PING_CHECK": config.CheckPing,
}

// HTTP status codes a url's status_code may name (check_http.c).
const (
	httpStatusMin = 100
	httpStatusMax = 599
)

// dnsTypes are check_dns.c's DNS_TYPE labels.
var dnsTypes = []string{"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY"}

// connOpts are a checker's connection keywords; unset fields take the
// real server's.
type connOpts struct {
	ip       netip.Addr
	port     uint16
	bindTo   netip.Addr
	bindPort uint16
	bindIf   string
	fwmark   uint32
	timeout  time.Duration // config.Unset: inherited
	node     *Node         // the host block, for SMTP_CHECK host entries
}

func (c *connOpts) isSet() bool {
	return c.ip.IsValid() || c.port != 0 || c.bindTo.IsValid() || c.bindPort != 0 ||
		c.bindIf != "" || c.fwmark != 0 || c.timeout != config.Unset
}

// checkSpec is one checker block as written.
type checkSpec struct {
	node   *Node
	check  config.Check // the kind-specific fields, from config.NewCheck
	conn   connOpts
	hosts  []connOpts    // SMTP_CHECK host { } blocks
	timing config.Timing // the checker's own (its ConnectTimeout is conn's)
	alpha  optBool
	urls   []*Node
}

// checker reads a checker block.
func (p *parser) checker(kind config.CheckKind, n *Node) *checkSpec {
	if !p.needBlock(n) {
		return nil
	}
	if len(n.Args()) > 0 {
		p.errorf(n, "takes no value before its block (got %s)", strings.Join(n.Args(), " "))
		return nil
	}
	ck := &checkSpec{node: n, check: config.NewCheck(kind), conn: connOpts{timeout: config.Unset}, timing: config.UnsetTiming()}
	for _, c := range n.Children {
		if p.err != nil {
			return nil
		}
		if p.checkerCommon(ck, &ck.conn, c) {
			continue
		}
		if !p.checkerKeyword(ck, c) {
			p.unknown(c, kind.String())
		}
	}
	if p.err != nil {
		return nil
	}
	p.finishChecker(ck)
	if p.err != nil {
		return nil
	}
	return ck
}

// checkerCommon reads the keywords every checker has (connection ones
// except in MISC_CHECK); conn is the checker's or an SMTP host's.
func (p *parser) checkerCommon(ck *checkSpec, conn *connOpts, c *Node) bool {
	kw := c.Keyword()
	if kw == "connect_timeout" && ck.check.Kind != config.CheckMisc {
		p.timer(c, 1, maxConnectTimeoutUS, &conn.timeout)
		return true
	}
	if kw != "connect_timeout" && p.timingKeyword(&ck.timing, c, 0) {
		return true
	}
	switch kw {
	case "nb_get_retry":
		if v, ok := p.uint(c, 0, math.MaxUint32); ok {
			ck.timing.Retry = int(v)
			if k := ck.check.Kind; k == config.CheckHTTP || k == config.CheckSSL {
				p.warnf(c, "nb_get_retry is deprecated - please use 'retry' (as keepalived says)")
			} else {
				retry, _ := config.KindDefaults(k)
				p.warnf(c, "nb_get_retry is deprecated - please use 'retry'; keepalived 2.2.7 ignores it in %s (keeping retry %d), ulvs applies it", k, retry)
			}
		}
		return true
	case "alpha":
		if b, ok := p.flag(c); ok {
			ck.alpha = optBool{b, true}
		}
		return true
	case "log_all_failures":
		if _, ok := p.flag(c); ok {
			p.warnf(c, "log_all_failures is not supported by ulvs (ignored): ulvs logs each state change")
		}
		return true
	}
	if ck.check.Kind == config.CheckMisc {
		return false
	}
	switch kw {
	case "connect_ip", "bindto":
		s, ok := p.arg(c)
		if !ok {
			return true
		}
		parse := parseIPv4 // bindto: IPv4, like the TOML file's
		if kw == "connect_ip" {
			parse = parseAddr // IPv4 or IPv6: the checkers dial either
		}
		a, msg := parse(s)
		if msg == "" && !config.Unicast(a) {
			// The TOML file refuses it too: a check cannot dial it or
			// bind to it.
			msg = fmt.Sprintf("%s is not a unicast address", a)
		}
		if msg != "" {
			p.errorf(c, "%s", msg)
		} else if kw == "connect_ip" {
			conn.ip = a
		} else {
			conn.bindTo = a
		}
	case "connect_port", "bind_port":
		if v, ok := p.uint(c, 1, 65535); ok {
			if ck.check.Kind == config.CheckPing {
				p.warnf(c, "%s has no effect in PING_CHECK (ignored, as keepalived does)", kw)
				return true
			}
			if kw == "connect_port" {
				conn.port = uint16(v)
			} else {
				conn.bindPort = uint16(v)
			}
		}
	case "bind_if":
		if s, ok := p.arg(c); ok {
			if len(s) > config.MaxIfName {
				p.errorf(c, "interface name %q is too long", s)
			}
			conn.bindIf = s
		}
	case "fwmark":
		if v, ok := p.uint(c, 0, math.MaxUint32); ok {
			conn.fwmark = uint32(v)
		}
	default:
		return false
	}
	return true
}

// checkerKeyword reads the keywords of one checker kind.
func (p *parser) checkerKeyword(ck *checkSpec, c *Node) bool {
	chk := &ck.check
	kw := c.Keyword()
	switch chk.Kind {
	case config.CheckHTTP, config.CheckSSL:
		switch kw {
		case "url":
			if p.needBlock(c) {
				ck.urls = append(ck.urls, c)
			}
		case "virtualhost":
			chk.Virtualhost, _ = p.arg(c)
		case "http_protocol":
			if s, ok := p.arg(c); ok {
				switch s {
				case "1.0", "1.1", "1.0C":
					chk.HTTPProtocol = s
				case "1.0c":
					chk.HTTPProtocol = "1.0C"
				default:
					p.errorf(c, "%q is not 1.0, 1.0C or 1.1", s)
				}
			}
		case "enable_sni":
			chk.EnableSNI, _ = p.flag(c)
		case "fast_recovery":
			if b, ok := p.flag(c); ok && b {
				p.errorf(c, "fast_recovery is not supported by ulvs")
			}
		default:
			return false
		}
	case config.CheckMisc:
		switch kw {
		case "misc_path":
			p.miscPath(chk, c)
		case "misc_timeout":
			if v, ok := p.uint(c, 0, math.MaxUint32/1_000_000); ok {
				chk.MiscTimeout = time.Duration(v) * time.Second
			}
		case "misc_dynamic":
			chk.MiscDynamic = p.bare(c)
		case "user":
			if len(c.Args()) > 1 {
				p.errorf(c, "a group for the script (%s) is not supported by ulvs", c.Args()[1])
				return true
			}
			chk.User, _ = p.arg(c)
		default:
			return false
		}
	case config.CheckSMTP:
		switch kw {
		case "helo_name":
			chk.HeloName, _ = p.arg(c)
		case "host":
			p.smtpHost(ck, c)
		default:
			return false
		}
	case config.CheckDNS:
		switch kw {
		case "type":
			if s, ok := p.arg(c); ok {
				t := strings.ToUpper(s)
				if !slices.Contains(dnsTypes, t) {
					p.errorf(c, "%q is not a DNS type (%s)", s, strings.Join(dnsTypes, " "))
				}
				chk.DNSType = t
			}
		case "name":
			if s, ok := p.arg(c); ok {
				if s == "" {
					s = config.DefaultDNSName // "" is the root, as keepalived's default
				}
				if chk.DNSName != "" {
					p.errorf(c, "given twice")
				} else if (s[0] == '.' && s != ".") || strings.Contains(s, "..") {
					p.errorf(c, "DNS name %q has an empty label", s)
				}
				chk.DNSName = s
			}
		default:
			return false
		}
	case config.CheckUDP:
		switch kw {
		case "payload":
			if p.noBlock(c) {
				b, msg := parseHex(strings.Join(c.Args(), " "))
				if msg != "" {
					p.errorf(c, "%s", msg)
				}
				chk.Payload = b
			}
		case "require_reply":
			if p.noBlock(c) {
				if len(c.Args()) > 0 {
					p.errorf(c, "matching the reply's content is not supported by ulvs (require_reply without data checks only that a reply comes)")
				}
				chk.RequireReply = true
			}
		case "min_reply_length":
			if v, ok := p.uint(c, 0, math.MaxUint16); ok {
				chk.MinReplyLength = int(v)
			}
		case "max_reply_length":
			if v, ok := p.uint(c, 0, math.MaxUint16); ok {
				chk.MaxReplyLength = int(v)
			}
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// miscPath reads misc_path as keepalived: the line re-read with quotes and
// escapes, its second word the command (program and arguments).
func (p *parser) miscPath(chk *config.Check, c *Node) {
	if !p.noBlock(c) {
		return
	}
	words, ok := p.splitLine(c, "needs a program")
	if !ok {
		return
	}
	if len(words) > 2 {
		p.errorf(c, "keepalived runs only the first word and drops %q: quote the program with its arguments: misc_path \"%s\"",
			strings.Join(words[2:], " "), strings.Join(words[1:], " "))
		return
	}
	if s, ok := p.parseScript(c, words[1]); ok {
		chk.MiscPath = s.Argv
	}
}

// smtpHost reads a (deprecated) SMTP_CHECK host { } block: one more
// checker with its own connection keywords.
func (p *parser) smtpHost(ck *checkSpec, n *Node) {
	if !p.needBlock(n) {
		return
	}
	h := connOpts{node: n, timeout: config.Unset}
	for _, c := range n.Children {
		if p.err != nil {
			return
		}
		if !p.checkerCommon(ck, &h, c) {
			p.unknown(c, "SMTP_CHECK host")
		}
	}
	p.warnf(n, "The SMTP_CHECK host block is deprecated. Please define additional checkers. (as keepalived says)")
	ck.hosts = append(ck.hosts, h)
}

// finishChecker checks what a whole checker block needs. Defaults are
// ResolveHealth's (config/resolve.go).
func (p *parser) finishChecker(ck *checkSpec) {
	chk := &ck.check
	n := ck.node
	switch chk.Kind {
	case config.CheckHTTP, config.CheckSSL:
		if len(ck.urls) == 0 {
			p.errorf(n, "%s needs at least one url { path ... } block", chk.Kind)
			return
		}
		for _, u := range ck.urls {
			url, ok := p.url(u)
			if !ok {
				return
			}
			chk.URLs = append(chk.URLs, url)
		}
	case config.CheckMisc:
		if len(chk.MiscPath) == 0 {
			p.errorf(n, "MISC_CHECK needs misc_path")
		}
	case config.CheckUDP:
		maxLen := chk.MaxReplyLength
		if maxLen == config.Unset {
			maxLen = config.DefaultMaxReplyLength
		}
		if chk.RequireReply && chk.MinReplyLength > maxLen {
			p.warnf(n, "UDP_CHECK min_reply_length %d > max_reply_length %d - will always fail (as keepalived says)", chk.MinReplyLength, maxLen)
		}
	}
}

// url reads an HTTP_GET/SSL_GET url block.
func (p *parser) url(n *Node) (config.URL, bool) {
	var u config.URL
	for _, c := range n.Children {
		switch kw := c.Keyword(); kw {
		case "path":
			if s, ok := p.arg(c); ok {
				u.Path = s
			}
		case "digest":
			s, ok := p.arg(c)
			if !ok {
				return u, false
			}
			if u.Digest != "" {
				p.errorf(c, "digest given twice in one url")
				return u, false
			}
			if len(s) != 32 || !isHexString(s) {
				p.errorf(c, "%q is not an MD5 digest (32 hex digits, as genhash prints it)", s)
				return u, false
			}
			u.Digest = strings.ToLower(s)
		case "status_code":
			if !p.noBlock(c) {
				return u, false
			}
			if len(c.Args()) == 0 {
				p.errorf(c, "needs codes or ranges (200 or 200-299)")
				return u, false
			}
			for _, a := range c.Args() {
				r, msg := parseStatusRange(a)
				if msg != "" {
					p.errorf(c, "%s", msg)
					return u, false
				}
				u.StatusCodes = append(u.StatusCodes, r)
			}
		case "virtualhost":
			u.Virtualhost, _ = p.arg(c)
		case "regex", "regex_no_match", "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset":
			p.errorf(c, "%s is not supported by ulvs", kw)
		default:
			p.unknown(c, "url")
		}
		if p.err != nil {
			return u, false
		}
	}
	if u.Path == "" {
		p.errorf(n, "url needs a path")
		return u, false
	}
	if len(u.StatusCodes) > 0 {
		u.StatusCodes = config.MergeStatus(u.StatusCodes)
	}
	return u, true
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// parseStatusRange reads 200 or 200-299 (codes 100..599).
func parseStatusRange(s string) (config.StatusRange, string) {
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	lo, m1 := parseUint(a, httpStatusMin, httpStatusMax)
	hi, m2 := parseUint(b, httpStatusMin, httpStatusMax)
	if m1 != "" || m2 != "" || lo > hi {
		return config.StatusRange{}, fmt.Sprintf("%q is not an HTTP status code or range of codes in [%d, %d]", s, httpStatusMin, httpStatusMax)
	}
	return config.StatusRange{First: int(lo), Last: int(hi)}, ""
}

// needsPort are the kinds that connect to a port.
func needsPort(k config.CheckKind) bool {
	return k != config.CheckMisc && k != config.CheckPing
}

// checks turns a checker of real server rs (dest d of a service of v)
// into its Checks: what the block says, timings it does not give left
// config.Unset for ResolveHealth (the real_server's and virtual_server's
// config.Timing, then the kind's defaults). SMTP_CHECK host blocks make
// one Check each.
func (p *parser) checks(ck *checkSpec, v *virtualServer, rs *realServer, d config.Dest) ([]config.Check, bool) {
	if ck.alpha.or(rs.alpha.or(v.alpha)) != v.alpha {
		p.errorf(ck.node, "alpha on a real_server or checker that differs from its virtual_server's is not supported by ulvs: set alpha in the virtual_server")
		return nil, false
	}
	conns := []connOpts{ck.conn}
	if len(ck.hosts) > 0 {
		if ck.conn.isSet() {
			conns = append(conns, ck.hosts...)
		} else {
			conns = ck.hosts
		}
	}
	var out []config.Check
	for _, co := range conns {
		c := ck.check
		c.URLs = slices.Clone(c.URLs)
		c.MiscPath = slices.Clone(c.MiscPath)
		c.Payload = slices.Clone(c.Payload)
		c.Retry, c.DelayLoop, c.DelayBeforeRetry, c.Warmup = ck.timing.Retry, ck.timing.DelayLoop, ck.timing.DelayBeforeRetry, ck.timing.Warmup
		if c.Kind == config.CheckMisc {
			if c.User == "" {
				c.User = p.file.Global.ScriptUser
			}
			out = append(out, c)
			continue
		}
		if c.Kind == config.CheckHTTP || c.Kind == config.CheckSSL {
			// check_http.c: the url's, the checker's, the real server's,
			// the virtual server's (ResolveHealth's).
			c.Virtualhost = cmp.Or(c.Virtualhost, rs.virtualhost)
		}
		if co.port == 0 && d.Port == 0 && needsPort(c.Kind) {
			where := ck.node
			if co.node != nil {
				where = co.node
			}
			p.errorf(where, "%s needs connect_port: real server %s has no port (fwmark service)", c.Kind, d.Addr)
			return nil, false
		}
		c.ConnectIP, c.ConnectPort = co.ip, co.port
		c.BindTo, c.BindPort, c.BindIf, c.FwMark = co.bindTo, co.bindPort, co.bindIf, co.fwmark
		c.ConnectTimeout = co.timeout
		out = append(out, c)
	}
	return out, true
}
