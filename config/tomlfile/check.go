package tomlfile

import (
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// This file parses one [[virtual_server.real_server.check]] table into a
// config.Check. Keys are named as keepalived.conf names them inside the
// checker's block (the DNS query type is dns_type, its name dns_name);
// type = "tcp", "http", ... names the block (config.CheckKindByTOMLName).

// Keys of check tables, by what they configure.
var (
	checkConnKeys   = []string{"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark", "connect_timeout"}
	checkTimingKeys = []string{"retry", "delay_before_retry", "delay_loop", "warmup"}
	checkHTTPKeys   = []string{"url", "virtualhost", "http_protocol"}
	// A nanny check's connect_port is lvs.cf's server port where the dest
	// has none of its own (a fwmark service under DR or TUN).
	checkNannyKeys = []string{"connect_port", "delay_loop", "warmup", "send", "expect", "use_regex", "send_program", "timeout", "reentry", "quiesce_server"}
)

// checkKeys returns the keys a check of kind k takes, type included.
func checkKeys(k config.CheckKind) []string {
	keys := []string{"type"}
	switch k {
	case config.CheckTCP:
		keys = append(keys, checkConnKeys...)
	case config.CheckHTTP:
		keys = append(append(keys, checkConnKeys...), checkHTTPKeys...)
	case config.CheckSSL:
		keys = append(append(append(keys, checkConnKeys...), checkHTTPKeys...), "enable_sni")
	case config.CheckMisc:
		keys = append(keys, "misc_path", "misc_timeout", "misc_dynamic", "user")
	case config.CheckSMTP:
		keys = append(append(keys, checkConnKeys...), "helo_name")
	case config.CheckDNS:
		keys = append(append(keys, checkConnKeys...), "dns_type", "dns_name")
	case config.CheckUDP:
		keys = append(append(keys, checkConnKeys...), "payload", "require_reply", "min_reply_length", "max_reply_length")
	case config.CheckPing:
		keys = append(keys, "connect_ip", "bindto", "bind_if", "fwmark", "connect_timeout")
	case config.CheckNanny:
		return append(keys, checkNannyKeys...)
	}
	return append(keys, checkTimingKeys...)
}

// checkKindNames lists the TOML type names for messages.
func checkKindNames() string {
	var names []string
	for k := config.CheckTCP; k.TOMLName() != ""; k++ {
		names = append(names, strconv.Quote(k.TOMLName()))
	}
	return strings.Join(names, ", ")
}

// kindsTaking names the check types that take key, for a message.
func kindsTaking(key string) []string {
	var kinds []string
	for k := config.CheckTCP; k.TOMLName() != ""; k++ {
		if slices.Contains(checkKeys(k), key) {
			kinds = append(kinds, k.TOMLName())
		}
	}
	return kinds
}

// dnsTypes are the query types DNS_CHECK knows (check_dns.c).
var dnsTypes = []string{"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY"}

// check parses one check table at path.
func (p *fileParser) check(path string, m map[string]any) (config.Check, bool) {
	var all []string
	for k := config.CheckTCP; k.TOMLName() != ""; k++ {
		all = append(all, checkKeys(k)...)
	}
	t := p.table(path, m, all...)
	defer t.done()
	name, set := t.string("type")
	if !set {
		if _, present := m["type"]; !present {
			p.errorf(path+".type", "required: the kind of check (%s)", checkKindNames())
		}
		return config.Check{}, false
	}
	kind, known := config.CheckKindByTOMLName(strings.ToLower(name))
	if !known {
		hint := ""
		if slices.Contains(dnsTypes, strings.ToUpper(name)) {
			hint = "; a DNS check's query type is dns_type"
		}
		p.errorf(path+".type", "unknown check type %q (want one of %s%s)", name, checkKindNames(), hint)
		return config.Check{}, false
	}
	ok := true
	keys := checkKeys(kind)
	for key := range m {
		if slices.Contains(all, key) && !slices.Contains(keys, key) {
			p.errorf(t.field(key), "does not apply to a %s check (only to %s)", kind.TOMLName(), strings.Join(kindsTaking(key), ", "))
			ok = false
		}
	}
	c := config.NewCheck(kind)
	ok = p.checkConn(t, &c) && ok
	ok = p.checkTiming(t, &c) && ok
	switch kind {
	case config.CheckHTTP, config.CheckSSL:
		ok = p.checkHTTP(path, t, &c) && ok
	case config.CheckMisc:
		ok = p.checkMisc(path, t, &c) && ok
	case config.CheckSMTP:
		if s, set := t.string("helo_name"); set {
			c.HeloName = s
			if s == "" {
				p.errorf(t.field("helo_name"), "must not be empty")
				ok = false
			}
		}
	case config.CheckDNS:
		ok = p.checkDNS(t, &c) && ok
	case config.CheckUDP:
		ok = p.checkUDP(path, t, &c) && ok
	case config.CheckNanny:
		ok = p.checkNanny(path, t, &c) && ok
	}
	return c, ok
}

// checkConn parses where a check connects from and to.
func (p *fileParser) checkConn(t *tomlTable, c *config.Check) bool {
	var ok1, ok2 bool
	c.ConnectIP, ok1 = p.checkAddr(t, "connect_ip")
	// bindto stays IPv4: its family must match the target's, which is
	// known only once the check is resolved against its real server.
	c.BindTo, ok2 = p.ipv4(t, "bindto")
	ok := ok1 && ok2
	for _, pk := range []struct {
		key string
		to  *uint16
	}{{"connect_port", &c.ConnectPort}, {"bind_port", &c.BindPort}} {
		if _, present := t.m[pk.key]; present {
			n, nok := t.int(pk.key, 1, math.MaxUint16)
			*pk.to, ok = uint16(n), ok && nok
		}
	}
	if s, set := t.string("bind_if"); set {
		if msg := config.CheckIfName(s); msg != "" {
			p.errorf(t.field("bind_if"), "%s", msg)
			ok = false
		}
		c.BindIf = s
	}
	fw, fok := t.uint32("fwmark", math.MaxUint32)
	c.FwMark = fw
	if d, set := t.seconds("connect_timeout", healthMinDuration, healthMaxConnect); set {
		c.ConnectTimeout = d
	}
	return ok && fok
}

// checkTiming parses retry, delay_before_retry, delay_loop and warmup;
// those absent stay config.Unset for ResolveHealth.
func (p *fileParser) checkTiming(t *tomlTable, c *config.Check) bool {
	ok := true
	if _, present := t.m["retry"]; present {
		n, nok := t.int("retry", 0, math.MaxInt32)
		c.Retry, ok = int(n), nok
	}
	if d, set := t.seconds("delay_before_retry", 0, healthMaxDuration); set {
		c.DelayBeforeRetry = d
	}
	if d, set := t.seconds("delay_loop", healthMinDuration, healthMaxDuration); set {
		c.DelayLoop = d
	}
	if d, set := t.seconds("warmup", 0, healthMaxDuration); set {
		c.Warmup = d
	}
	return ok
}

// checkHTTP parses HTTP_GET and SSL_GET settings and their urls.
func (p *fileParser) checkHTTP(path string, t *tomlTable, c *config.Check) bool {
	ok := true
	if s, set := t.string("virtualhost"); set {
		c.Virtualhost = s
	}
	if s, set := t.string("http_protocol"); set {
		switch v := strings.ToUpper(s); v {
		case "1.0", "1.0C", "1.1":
			c.HTTPProtocol = v
		default:
			p.errorf(t.field("http_protocol"), "must be \"1.0\", \"1.0C\" or \"1.1\" (got %q)", s)
			ok = false
		}
	}
	c.EnableSNI = t.bool("enable_sni")
	urls := t.tables("url")
	if len(urls) == 0 {
		if _, present := t.m["url"]; !present {
			p.errorf(path+".url", "required: at least one url = {path = \"/...\"} to fetch")
		}
		return false
	}
	for i, um := range urls {
		u, uok := p.url(fmt.Sprintf("%s.url[%d]", path, i), um)
		c.URLs = append(c.URLs, u)
		ok = ok && uok
	}
	return ok
}

// url parses one url of an HTTP check.
func (p *fileParser) url(path string, m map[string]any) (config.URL, bool) {
	t := p.table(path, m, "path", "digest", "status_code", "virtualhost")
	defer t.done()
	var u config.URL
	ok := true
	if s, set := t.string("path"); set && s != "" {
		u.Path = s
	} else {
		if set || !hasAny(m, []string{"path"}) {
			p.errorf(path+".path", "required: the path to fetch, like \"/health\"")
		}
		ok = false
	}
	if s, set := t.string("digest"); set {
		if b, err := hex.DecodeString(s); err != nil || len(b) != 16 {
			p.errorf(t.field("digest"), "must be an MD5 digest, 32 hex digits as genhash prints it (got %q)", s)
			ok = false
		}
		u.Digest = strings.ToLower(s)
	}
	if v, present := m["status_code"]; present {
		codes, cok := p.statusCodes(t.field("status_code"), v)
		u.StatusCodes, ok = codes, ok && cok
	}
	if s, set := t.string("virtualhost"); set {
		u.Virtualhost = s
	}
	return u, ok
}

// statusCodes parses status_code: a code, a "first-last" range, or an
// array of them, each within HTTP's 100-599 as keepalived takes them.
func (p *fileParser) statusCodes(field string, v any) ([]config.StatusRange, bool) {
	elems, isArr := v.([]any)
	if !isArr {
		elems = []any{v}
	} else if len(elems) == 0 {
		p.errorf(field, "must name at least one status code (leave it out for 200-299)")
		return nil, false
	}
	var out []config.StatusRange
	for i, e := range elems {
		elem := field
		if isArr {
			elem = fmt.Sprintf("%s[%d]", field, i)
		}
		var r config.StatusRange
		switch e := e.(type) {
		case int64:
			r = config.StatusRange{First: int(e), Last: int(e)}
		case string:
			a, b, isRange := strings.Cut(e, "-")
			first, err1 := strconv.Atoi(a)
			last, err2 := first, error(nil)
			if isRange {
				last, err2 = strconv.Atoi(b)
			}
			if err1 != nil || err2 != nil {
				p.errorf(elem, "must be a status code or a range like \"200-299\" (got %q)", e)
				return nil, false
			}
			r = config.StatusRange{First: first, Last: last}
		default:
			p.errorf(elem, "must be a status code or a range like \"200-299\" (got %s)", tomlValueText(e))
			return nil, false
		}
		if r.First < 100 || r.Last > 599 || r.First > r.Last {
			p.errorf(elem, "must be status codes from 100 to 599, the first not above the last (got %v)", e)
			return nil, false
		}
		out = append(out, r)
	}
	return out, true
}

// checkMisc parses MISC_CHECK's program and settings.
func (p *fileParser) checkMisc(path string, t *tomlTable, c *config.Check) bool {
	ok := true
	sc, sok := p.script(t, "misc_path")
	switch {
	case !sok:
		ok = false
	case sc.IsZero():
		p.errorf(path+".misc_path", "required: the program to run and its arguments")
		ok = false
	default:
		c.MiscPath = sc.Argv
	}
	if d, set := t.seconds("misc_timeout", 0, healthMaxDuration); set {
		c.MiscTimeout = d
	}
	c.MiscDynamic = t.bool("misc_dynamic")
	if s, set := t.string("user"); set {
		if s == "" {
			p.errorf(t.field("user"), "must not be empty")
			ok = false
		}
		c.User = s
	}
	return ok
}

// checkDNS parses DNS_CHECK's query.
func (p *fileParser) checkDNS(t *tomlTable, c *config.Check) bool {
	ok := true
	if s, set := t.string("dns_type"); set {
		if v := strings.ToUpper(s); slices.Contains(dnsTypes, v) {
			c.DNSType = v
		} else {
			p.errorf(t.field("dns_type"), "unknown DNS query type %q (want one of %s)", s, strings.Join(dnsTypes, " "))
			ok = false
		}
	}
	if s, set := t.string("dns_name"); set {
		// check_dns.c refuses empty labels: a leading '.' (but ".") or "..".
		if s == "" || s[0] == '.' && s != "." || strings.Contains(s, "..") {
			p.errorf(t.field("dns_name"), "DNS name %q has an empty label", s)
			ok = false
		}
		c.DNSName = s
	}
	return ok
}

// checkUDP parses UDP_CHECK's payload and reply rules.
func (p *fileParser) checkUDP(path string, t *tomlTable, c *config.Check) bool {
	ok := true
	if s, set := t.string("payload"); set {
		b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil || len(b) == 0 {
			p.errorf(t.field("payload"), "must be the bytes to send in hex, like \"0a0b0c\" (got %q)", s)
			ok = false
		}
		c.Payload = b
	}
	c.RequireReply = t.bool("require_reply")
	lo, lok := t.int("min_reply_length", 0, math.MaxUint16)
	c.MinReplyLength = int(lo)
	if _, present := t.m["max_reply_length"]; present {
		hi, hok := t.int("max_reply_length", 0, math.MaxUint16)
		c.MaxReplyLength, ok = int(hi), ok && hok
	}
	hi := c.MaxReplyLength
	if hi == config.Unset {
		hi = config.DefaultMaxReplyLength
	}
	if lok && ok && int(lo) > hi {
		p.errorf(path+".min_reply_length", "must not exceed max_reply_length (%d), or the check always fails (got %d)", hi, lo)
		ok = false
	}
	return ok && lok
}

// checkNanny parses Piranha's nanny settings.
func (p *fileParser) checkNanny(path string, t *tomlTable, c *config.Check) bool {
	ok := true
	c.Send, _ = t.string("send")
	c.Expect, _ = t.string("expect")
	c.SendProgram, _ = t.string("send_program")
	c.UseRegex = t.bool("use_regex")
	c.QuiesceServer = t.bool("quiesce_server")
	if c.UseRegex {
		if _, err := regexp.Compile(c.Expect); err != nil {
			p.errorf(t.field("expect"), "not a regular expression: %v", err)
			ok = false
		}
	}
	for _, d := range []struct {
		key  string
		to   *time.Duration
		what string
	}{
		{"timeout", &c.Timeout, "seconds of failure before the server is declared down"},
		{"reentry", &c.Reentry, "seconds of success before a down server comes back"},
	} {
		v, set := t.seconds(d.key, 0, healthMaxDuration)
		if !set {
			if _, present := t.m[d.key]; !present {
				p.errorf(path+"."+d.key, "required for a nanny check: the %s (Piranha's %s)", d.what, d.key)
			}
			ok = false
			continue
		}
		*d.to = v
	}
	return ok
}
