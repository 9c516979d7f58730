package tomlfile

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// This file writes the health-check part of the model: the health keys of
// each [[virtual_server]] and [[virtual_server.real_server]], and the
// [[virtual_server.real_server.check]] tables. A setting is written when it
// differs from what config.ResolveHealth would give in its place, so that
// Parse reads back the same model and the file stays short.

// healthOf returns the entry of health for the service k, or nil.
func healthOf(health []config.VirtualHealth, k config.ServiceKey) *config.VirtualHealth {
	for i := range health {
		if health[i].Service == k {
			return &health[i]
		}
	}
	return nil
}

// checkHealthServices reports health entries that name no service of r,
// or a real server the service does not have: the file could not say them.
func checkHealthServices(r config.Rules, health []config.VirtualHealth) error {
	for i := range health {
		vh := &health[i]
		s := r.Find(vh.Service)
		if s == nil {
			return fmt.Errorf("health checks of %s: no such service: %w", vh.Service.Name(), ErrNotExpressible)
		}
		for _, rh := range vh.Reals {
			if !slices.ContainsFunc(s.Dests, func(d config.Dest) bool { return d.Addr == rh.Addr && d.Port == rh.Port }) {
				return fmt.Errorf("health checks of %s: no real server %s: %w",
					vh.Service.Name(), netip.AddrPortFrom(rh.Addr, rh.Port), ErrNotExpressible)
			}
		}
	}
	return nil
}

// keyWriter writes "key = value" lines at one indentation.
type keyWriter struct {
	b      *strings.Builder
	indent string
}

func (w keyWriter) raw(key, value string) {
	w.b.WriteString(w.indent + key + " = " + value + "\n")
}
func (w keyWriter) str(key, v string) { w.raw(key, tomlString(v)) }
func (w keyWriter) seconds(key string, d time.Duration) {
	w.raw(key, secondsText(d))
}
func (w keyWriter) int(key string, n int64) { w.raw(key, strconv.FormatInt(n, 10)) }
func (w keyWriter) flag(key string, on bool) {
	if on {
		w.raw(key, "true")
	}
}
func (w keyWriter) script(key string, s config.Script) {
	switch {
	case s.Text != "":
		w.str(key, s.Text)
	case !s.IsZero():
		w.str(key, config.ScriptText(s.Argv))
	}
}

// writeServiceHealth writes the health keys of a [[virtual_server]].
func writeServiceHealth(b *strings.Builder, vh *config.VirtualHealth) error {
	if vh == nil {
		return nil
	}
	w := keyWriter{b: b}
	if vh.DelayLoop != config.DefaultDelayLoop {
		w.seconds("delay_loop", vh.DelayLoop)
	}
	w.flag("alpha", vh.Alpha)
	w.flag("omega", vh.Omega)
	if vh.Quorum != config.DefaultQuorum {
		w.int("quorum", int64(vh.Quorum))
	}
	if vh.Hysteresis != 0 {
		w.int("hysteresis", int64(vh.Hysteresis))
	}
	w.script("quorum_up", vh.QuorumUp)
	w.script("quorum_down", vh.QuorumDown)
	if vh.Virtualhost != "" {
		w.str("virtualhost", vh.Virtualhost)
	}
	w.flag("ha_suspend", vh.HASuspend)
	if s := vh.Sorry; s != nil {
		if !s.Addr.Is4() && !s.Addr.Is6() {
			return fmt.Errorf("sorry server %s: %w (no address)", s.Addr, ErrNotExpressible)
		}
		addr := s.Addr.String()
		if s.Port != 0 {
			addr = netip.AddrPortFrom(s.Addr, s.Port).String()
		}
		w.str("sorry_server", addr)
		if s.Method != 0 {
			fwd, ok := tomlForward[s.Method]
			if !ok {
				return fmt.Errorf("sorry server forwarding method %s: %w", s.Method, ErrNotExpressible)
			}
			w.str("sorry_server_method", fwd)
		}
		w.flag("sorry_server_inhibit", s.Inhibit)
	}
	return nil
}

// writeRealHealth writes the health keys and checks of the real server d
// of the service whose health is vh.
func writeRealHealth(b *strings.Builder, vh *config.VirtualHealth, d *config.Dest) error {
	if vh == nil {
		return nil
	}
	i := slices.IndexFunc(vh.Reals, func(rh config.RealHealth) bool { return rh.Addr == d.Addr && rh.Port == d.Port })
	if i < 0 {
		return nil
	}
	rh := &vh.Reals[i]
	w := keyWriter{b: b, indent: "  "}
	w.flag("inhibit_on_failure", rh.Inhibit)
	w.script("notify_up", rh.NotifyUp)
	w.script("notify_down", rh.NotifyDown)
	for j := range rh.Checks {
		if err := writeCheck(b, vh, rh, &rh.Checks[j]); err != nil {
			return fmt.Errorf("check %d: %w", j, err)
		}
	}
	return nil
}

// defaultsFor returns the check ResolveHealth makes of a check of c's kind
// that gives only c's delay_loop, under vh.
func defaultsFor(vh *config.VirtualHealth, c *config.Check) config.Check {
	def := config.NewCheck(c.Kind)
	def.DelayLoop = c.DelayLoop
	tmp := config.VirtualHealth{Service: vh.Service, DelayLoop: vh.DelayLoop, Virtualhost: vh.Virtualhost,
		Reals: []config.RealHealth{{Checks: []config.Check{def}}}}
	config.ResolveHealth(&tmp, nil)
	return tmp.Reals[0].Checks[0]
}

// writeCheck writes one [[virtual_server.real_server.check]] table of
// the real server rh.
func writeCheck(b *strings.Builder, vh *config.VirtualHealth, rh *config.RealHealth, c *config.Check) error {
	name := c.Kind.TOMLName()
	if name == "" {
		return fmt.Errorf("check kind %d: %w", c.Kind, ErrNotExpressible)
	}
	for _, a := range []netip.Addr{c.ConnectIP, c.BindTo} {
		if a.IsValid() && a.Zone() != "" {
			return fmt.Errorf("address %s: %w (an address with a zone)", a, ErrNotExpressible)
		}
	}
	if c.Kind == config.CheckUDP && c.MinReplyLength > c.MaxReplyLength {
		// keepalived.conf only warns that such a check always fails.
		return fmt.Errorf("UDP check min_reply_length %d > max_reply_length %d (a check that always fails): %w",
			c.MinReplyLength, c.MaxReplyLength, ErrNotExpressible)
	}
	b.WriteString("\n    [[virtual_server.real_server.check]]\n")
	w := keyWriter{b: b, indent: "    "}
	w.str("type", name)
	def := defaultsFor(vh, c)
	keys := checkKeys(c.Kind)
	has := func(key string) bool { return slices.Contains(keys, key) }
	if c.ConnectIP.IsValid() && c.ConnectIP != rh.Addr {
		w.str("connect_ip", c.ConnectIP.String())
	}
	if c.ConnectPort != 0 && c.ConnectPort != rh.Port {
		w.int("connect_port", int64(c.ConnectPort))
	}
	if c.BindTo.IsValid() {
		w.str("bindto", c.BindTo.String())
	}
	if c.BindPort != 0 {
		w.int("bind_port", int64(c.BindPort))
	}
	if c.BindIf != "" {
		w.str("bind_if", c.BindIf)
	}
	if c.FwMark != 0 {
		w.int("fwmark", int64(c.FwMark))
	}
	if has("connect_timeout") && c.ConnectTimeout != def.ConnectTimeout {
		w.seconds("connect_timeout", c.ConnectTimeout)
	}
	if has("retry") && c.Retry != def.Retry {
		w.int("retry", int64(c.Retry))
	}
	if has("delay_before_retry") && c.DelayBeforeRetry != def.DelayBeforeRetry {
		w.seconds("delay_before_retry", c.DelayBeforeRetry)
	}
	if c.DelayLoop != vh.DelayLoop {
		w.seconds("delay_loop", c.DelayLoop)
	}
	if c.Warmup != def.Warmup {
		w.seconds("warmup", c.Warmup)
	}
	writeCheckKind(w, c, &def)
	return nil
}

// writeCheckKind writes the settings only some kinds of check have.
func writeCheckKind(w keyWriter, c, def *config.Check) {
	if len(c.URLs) > 0 {
		w.b.WriteString(w.indent + "url = [\n")
		for _, u := range c.URLs {
			w.b.WriteString(w.indent + "  { path = " + tomlString(u.Path))
			if u.Digest != "" {
				w.b.WriteString(", digest = " + tomlString(u.Digest))
			}
			if !slices.Equal(u.StatusCodes, []config.StatusRange{{First: config.DefaultStatusFirst, Last: config.DefaultStatusLast}}) && len(u.StatusCodes) > 0 {
				w.b.WriteString(", status_code = [")
				for i, r := range u.StatusCodes {
					if i > 0 {
						w.b.WriteString(", ")
					}
					if r.First == r.Last {
						w.b.WriteString(strconv.Itoa(r.First))
					} else {
						fmt.Fprintf(w.b, "\"%d-%d\"", r.First, r.Last)
					}
				}
				w.b.WriteString("]")
			}
			if u.Virtualhost != "" {
				w.b.WriteString(", virtualhost = " + tomlString(u.Virtualhost))
			}
			w.b.WriteString(" },\n")
		}
		w.b.WriteString(w.indent + "]\n")
	}
	if c.Virtualhost != def.Virtualhost {
		w.str("virtualhost", c.Virtualhost)
	}
	w.flag("enable_sni", c.EnableSNI)
	if c.HTTPProtocol != def.HTTPProtocol {
		w.str("http_protocol", c.HTTPProtocol)
	}
	if len(c.MiscPath) > 0 {
		w.str("misc_path", config.ScriptText(c.MiscPath))
	}
	if c.MiscTimeout != def.MiscTimeout {
		w.seconds("misc_timeout", c.MiscTimeout)
	}
	w.flag("misc_dynamic", c.MiscDynamic)
	if c.User != "" {
		w.str("user", c.User)
	}
	if c.HeloName != def.HeloName {
		w.str("helo_name", c.HeloName)
	}
	if c.DNSType != def.DNSType {
		w.str("dns_type", c.DNSType)
	}
	if c.DNSName != def.DNSName {
		w.str("dns_name", c.DNSName)
	}
	if len(c.Payload) > 0 {
		w.str("payload", hex.EncodeToString(c.Payload))
	}
	w.flag("require_reply", c.RequireReply)
	if c.MinReplyLength != 0 {
		w.int("min_reply_length", int64(c.MinReplyLength))
	}
	if c.MaxReplyLength != def.MaxReplyLength {
		w.int("max_reply_length", int64(c.MaxReplyLength))
	}
	if c.Kind != config.CheckNanny {
		return
	}
	for _, kv := range [][2]string{{"send", c.Send}, {"expect", c.Expect}, {"send_program", c.SendProgram}} {
		if kv[1] != "" {
			w.str(kv[0], kv[1])
		}
	}
	w.flag("use_regex", c.UseRegex)
	w.seconds("timeout", c.Timeout)
	w.seconds("reentry", c.Reentry)
	w.flag("quiesce_server", c.QuiesceServer)
}
