package web

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// This file edits the settings that live in the configuration file and
// not in the table: Piranha's global settings, redundancy (pulse),
// monitoring scripts (nanny's send/expect) and a virtual server's device,
// timeout, re-entry and quiesce. Each form is checked field by field;
// then FileEditor.Edit writes the file in its own format (keeping
// FILE.bak) and applies it as SIGHUP does.

// FileEditor is the configuration file as the console edits it.
// Implementations must be safe for concurrent use.
type FileEditor interface {
	// File returns the file as it is on disk now, parsed.
	File() (*config.File, error)
	// Edit reads the file, replaces its rules by the live ones, lets edit
	// change the rest, writes it back in its own format (the previous
	// content kept as FILE.bak, both atomically) and reloads it. An
	// error means nothing was written.
	Edit(edit func(*config.File) error) (FileEdit, error)
}

// FileEdit is what a written edit did.
type FileEdit struct {
	Path string
	// AtRestart lists what the file now says that the running daemon
	// keeps until it restarts (its interfaces, ...).
	AtRestart []string
	// Failed lists the parts of the reload that failed (each with why);
	// ReloadErr is a reload that failed as a whole (the running
	// configuration stays as it was).
	Failed    []string
	ReloadErr error
}

// editable says whether the console edits f's settings, and if not why.
func editable(f *config.File, err error) string {
	switch {
	case err != nil:
		return "The configuration file cannot be read: " + err.Error()
	case f == nil:
		return "ulvsd runs without a configuration file (-i): these settings are in none."
	case f.Format != config.FormatPiranha:
		return fmt.Sprintf("%s is a %s file: the console edits these settings in a Piranha lvs.cf; here they are shown read-only: edit the file and reload ulvsd (SIGHUP).", f.Path, formatName(f.Format))
	}
	return ""
}

func formatName(f string) string {
	switch f {
	case "", "toml":
		return "ulvs TOML"
	case "keepalived":
		return "keepalived.conf"
	}
	return f
}

// fileState is the file part of a settings page.
type fileState struct {
	File     *config.File
	ReadOnly string // why the page offers no form; "" when it does
	Form     map[string]string
	Errs     fieldErrors
}

func (s *Server) fileState() *fileState {
	st := &fileState{Form: map[string]string{}, Errs: fieldErrors{}}
	if s.cfg.Files == nil {
		st.ReadOnly = editable(nil, nil)
		return st
	}
	var err error
	st.File, err = s.cfg.Files.File()
	st.ReadOnly = editable(st.File, err)
	return st
}

// applyFile runs an edit through the FileEditor and flashes the outcome
// on the page redirected to; a refusal is shown on the page with the
// form as typed (refused gets the reason).
func (s *Server) applyFile(q *request, what, to string, edit func(*config.File) error, refused func(status int, why string)) {
	if s.cfg.Files == nil {
		refused(http.StatusConflict, "ulvsd runs without a configuration file (-i)")
		return
	}
	res, err := s.cfg.Files.Edit(edit)
	if err != nil {
		s.log.Warn("web: file edit refused", "user", q.sess.user, "what", what, "err", err)
		refused(http.StatusConflict, err.Error())
		return
	}
	s.log.Info("web: file edit", "user", q.sess.user, "what", what, "file", res.Path)
	s.mu.Lock()
	s.flash[q.id] = editMessage(what, res)
	s.mu.Unlock()
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
}

func editMessage(what string, res FileEdit) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s. Saved to %s (the previous file is %s.bak)", what, res.Path, res.Path)
	switch {
	case res.ReloadErr != nil:
		fmt.Fprintf(&b, " but NOT applied: the reload failed (%v); the running configuration stays as it was.", res.ReloadErr)
	case len(res.Failed) > 0:
		fmt.Fprintf(&b, "; applied except: %s.", strings.Join(res.Failed, "; "))
	default:
		b.WriteString(" and applied to the running director.")
	}
	for _, r := range res.AtRestart {
		b.WriteString(" Saved, applies at restart: " + r + ".")
	}
	return b.String()
}

// seconds reads a whole number of seconds in [lo, hi].
func (f *form) seconds(name string, lo, hi uint64) time.Duration {
	if f.str(name) == "" {
		if f.errs[name] == "" {
			f.errs[name] = "required"
		}
		return 0
	}
	return time.Duration(f.uint(name, lo, hi, 0)) * time.Second
}

// maxFileSeconds bounds the times lvs.cf takes (as its parser).
const maxFileSeconds = 1 << 31 / 1000

// device reads an interface name with an optional alias (eth0:1).
func (f *form) device(name string, required bool) string {
	d := f.str(name)
	if d == "" {
		if required && f.errs[name] == "" {
			f.errs[name] = "required: an interface, like eth0 or eth0:1"
		}
		return ""
	}
	base, alias, hasAlias := strings.Cut(d, ":")
	if msg := config.CheckIfName(base); msg != "" {
		f.errs[name] = msg
		return ""
	}
	if hasAlias && (alias == "" || strings.ContainsAny(alias, " \t:/\"'")) {
		f.errs[name] = "an alias is a word after the colon (eth0:1)"
		return ""
	}
	return d
}

var networks = map[string]vs.Method{"direct": vs.Route, "nat": vs.Masq, "tunnel": vs.Tunnel}

// parseGlobalFile reads GLOBAL SETTINGS: primary server address, network
// type and NAT router (address/prefix length and device).
func parseGlobalFile(v url.Values) (func(*config.File) error, map[string]string, fieldErrors) {
	f := newForm(v)
	form := map[string]string{"primary": f.str("primary"), "network": f.str("network"), "nat_router": f.str("nat_router"), "nat_device": f.str("nat_device")}
	primary := f.addr("primary")
	m, ok := networks[form["network"]]
	if !ok && f.errs["network"] == "" {
		f.errs["network"] = "must be direct, nat or tunnel"
	}
	var nat netip.Prefix
	var dev string
	if form["nat_router"] != "" {
		p, err := netip.ParsePrefix(form["nat_router"])
		if err != nil {
			if a, err2 := netip.ParseAddr(form["nat_router"]); err2 == nil {
				p, err = netip.PrefixFrom(a, 32), nil
			}
		}
		switch {
		case err != nil || !p.Addr().Is4():
			f.errs["nat_router"] = "an IPv4 address with its prefix length, like 10.0.1.254/24"
		case !config.Unicast(p.Addr()):
			f.errs["nat_router"] = "must be a unicast address"
		case m != vs.Masq && ok:
			f.errs["nat_router"] = "the NAT router is used with network type nat only: clear it, or choose nat"
		default:
			nat = p
		}
		dev = f.device("nat_device", true)
	} else if form["nat_device"] != "" && f.errs["nat_device"] == "" {
		f.errs["nat_device"] = "a device without a NAT router address"
	}
	if !f.ok() {
		return nil, form, f.errs
	}
	return func(c *config.File) error {
		pu := c.Pulse
		if pu.PrimaryPrivate == pu.Primary {
			pu.PrimaryPrivate = primary
		}
		pu.Primary = primary
		pu.NATRouter, pu.NATRouterDevice = nat, dev
		for i := range c.Rules.Services {
			svc := &c.Rules.Services[i]
			for j := range svc.Dests {
				d := &svc.Dests[j]
				if d.Method != m && m != vs.Masq {
					d.Port = svc.Port // DR and TUN keep the virtual's port
				}
				d.Method = m
			}
		}
		return nil
	}, form, f.errs
}

// parseRedundancy reads REDUNDANCY: backup director, whether it takes
// over, heartbeat, heartbeat interval, dead time and port.
func parseRedundancy(v url.Values) (func(*config.File) error, map[string]string, fieldErrors) {
	f := newForm(v)
	form := map[string]string{"backup": f.str("backup"), "keepalive": f.str("keepalive"), "deadtime": f.str("deadtime"), "heartbeat_port": f.str("heartbeat_port")}
	var backup netip.Addr
	if form["backup"] != "" {
		backup = f.addr("backup")
	}
	active, hb := f.flag("backup_active"), f.flag("heartbeat")
	form["backup_active"], form["heartbeat"] = fmt.Sprint(active), fmt.Sprint(hb)
	keep := f.seconds("keepalive", 1, maxFileSeconds)
	dead := f.seconds("deadtime", 1, maxFileSeconds)
	port := uint16(f.uint("heartbeat_port", 1, 65535, 0))
	if form["heartbeat_port"] == "" && f.errs["heartbeat_port"] == "" {
		f.errs["heartbeat_port"] = "required (pulse's is 539)"
	}
	if f.ok() && dead <= keep {
		f.errs["deadtime"] = "must be longer than the heartbeat interval (else the partner is declared dead between two heartbeats)"
	}
	if active && !backup.IsValid() && f.errs["backup"] == "" {
		f.errs["backup"] = "required when the backup takes over"
	}
	if !f.ok() {
		return nil, form, f.errs
	}
	return func(c *config.File) error {
		pu := c.Pulse
		if pu.BackupPrivate == pu.Backup {
			pu.BackupPrivate = backup
		}
		pu.Backup, pu.BackupActive, pu.Heartbeat = backup, active, hb
		pu.Keepalive, pu.Deadtime, pu.HeartbeatPort = keep, dead, port
		return nil
	}, form, f.errs
}

// nannyOf runs set on every nanny check of the service k in c.
func nannyOf(c *config.File, k config.ServiceKey, set func(vh *config.VirtualHealth, rh *config.RealHealth, ck *config.Check)) error {
	for i := range c.Health {
		vh := &c.Health[i]
		if vh.Service != k {
			continue
		}
		n := 0
		for j := range vh.Reals {
			for l := range vh.Reals[j].Checks {
				if ck := &vh.Reals[j].Checks[l]; ck.Kind == config.CheckNanny {
					set(vh, &vh.Reals[j], ck)
					n++
				}
			}
		}
		if n > 0 {
			return nil
		}
	}
	return fmt.Errorf("virtual server %s has no active real server in the file, so no check to change: add a real server first", k.Name())
}

// parseScripts reads MONITORING SCRIPTS of one virtual server: send,
// expect (nanny's escapes \r \n \t \\), regular expression, send program.
func parseScripts(v url.Values, k config.ServiceKey) (func(*config.File) error, map[string]string, fieldErrors) {
	f := newForm(v)
	form := map[string]string{"send": f.str("send"), "expect": f.str("expect"), "send_program": f.str("send_program")}
	regex := f.flag("use_regex")
	form["use_regex"] = fmt.Sprint(regex)
	text := map[string]string{}
	for _, name := range []string{"send", "expect"} {
		u, err := config.NannyUnescape(form[name])
		if err != nil && f.errs[name] == "" {
			f.errs[name] = err.Error()
		}
		text[name] = u
	}
	prog := form["send_program"]
	switch {
	case prog != "" && text["send"] != "" && f.errs["send"] == "":
		f.errs["send"] = "leave it empty with a send program (nanny ignores send then)"
	case prog != "" && form["expect"] == "" && f.errs["expect"] == "":
		f.errs["expect"] = "required with a send program (its output is compared with it)"
	case prog != "" && !strings.Contains(prog, "%h") && f.errs["send_program"] == "":
		f.errs["send_program"] = "must name the server with %h (nanny replaces it by the server's address)"
	}
	if regex && f.errs["expect"] == "" {
		if _, err := regexp.Compile(text["expect"]); err != nil {
			f.errs["expect"] = "not a regular expression: " + err.Error()
		}
	}
	if !f.ok() {
		return nil, form, f.errs
	}
	return func(c *config.File) error {
		return nannyOf(c, k, func(_ *config.VirtualHealth, _ *config.RealHealth, ck *config.Check) {
			ck.Send, ck.Expect, ck.UseRegex, ck.SendProgram = text["send"], text["expect"], regex, prog
		})
	}, form, f.errs
}

// virtualFileForm is the lvs.cf part of the virtual server form:
// Piranha's device, timeout, re-entry and quiesce server.
type virtualFileForm struct {
	Device, CheckTimeout, Reentry string
	Quiesce                       bool
}

// parseVirtualFile reads it; nil edit when the form has none of it.
func parseVirtualFile(v url.Values, k config.ServiceKey, addr netip.Addr) (func(*config.File) error, virtualFileForm, fieldErrors) {
	f := newForm(v)
	vf := virtualFileForm{Device: f.str("device"), CheckTimeout: f.str("check_timeout"), Reentry: f.str("reentry")}
	if _, ok := v["lvscf"]; !ok {
		return nil, vf, f.errs
	}
	vf.Quiesce = f.flag("quiesce")
	dev := f.device("device", addr.IsValid())
	// The check settings are on the form of a virtual server that has
	// them (lvscf_checks), not on the form that adds one.
	_, checks := v["lvscf_checks"]
	var timeout, reentry time.Duration
	if checks {
		timeout = f.seconds("check_timeout", 1, maxFileSeconds)
		reentry = f.seconds("reentry", 1, maxFileSeconds)
	}
	if !f.ok() {
		return nil, vf, f.errs
	}
	return func(c *config.File) error {
		if addr.IsValid() {
			i := 0
			for i < len(c.Pulse.VIPs) && c.Pulse.VIPs[i].Addr != addr {
				i++
			}
			if i == len(c.Pulse.VIPs) {
				c.Pulse.VIPs = append(c.Pulse.VIPs, config.PulseVIP{Addr: addr})
			}
			c.Pulse.VIPs[i].Device = dev
		}
		if !checks {
			return nil
		}
		return nannyOf(c, k, func(vh *config.VirtualHealth, rh *config.RealHealth, ck *config.Check) {
			vh.DelayLoop, ck.Timeout, ck.Reentry = timeout, timeout, reentry
			ck.QuiesceServer, rh.Inhibit = vf.Quiesce, vf.Quiesce
		})
	}, vf, f.errs
}

// vrrpForm is one VRRP instance's form on the Redundancy page.
type vrrpForm struct {
	Name, Priority, AdvertInt string
	Version                   int
	Errs                      fieldErrors
}

// vrrpForms are the forms of f's VRRP instances (a ulvs TOML file or a
// keepalived.conf; an lvs.cf has none), the one named name replaced by
// form.
func vrrpForms(f *config.File, name string, form *vrrpForm) []vrrpForm {
	if f == nil || f.Format == config.FormatPiranha {
		return nil
	}
	var out []vrrpForm
	for _, in := range f.VRRP {
		vf := vrrpForm{Name: in.Name, Priority: fmt.Sprint(in.Priority), AdvertInt: strconv.FormatFloat(in.AdvertInt.Seconds(), 'f', -1, 64),
			Version: in.Version, Errs: fieldErrors{}}
		if form != nil && in.Name == name {
			vf.Priority, vf.AdvertInt, vf.Errs = form.Priority, form.AdvertInt, form.Errs
		}
		out = append(out, vf)
	}
	return out
}

// parseVRRP reads one VRRP instance's form: priority (1 to 255, 255
// being the address owner) and advert interval (whole seconds from 1 to
// 255 with VRRP version 2; hundredths from 0.01 to 40.95 with version 3).
func parseVRRP(v url.Values, f *config.File) (func(*config.File) error, *vrrpForm) {
	fm := newForm(v)
	vf := &vrrpForm{Name: fm.str("instance"), Priority: fm.str("priority"), AdvertInt: fm.str("advert_int")}
	version := 0
	if f != nil {
		for _, in := range f.VRRP {
			if in.Name == vf.Name {
				version = in.Version
			}
		}
	}
	if version == 0 {
		fm.errs["instance"] = "no such VRRP instance in the file"
	}
	prio := uint8(fm.uint("priority", 1, config.VRRPPriorityOwner, 0))
	if vf.Priority == "" && fm.errs["priority"] == "" {
		fm.errs["priority"] = "required"
	}
	var adv time.Duration
	sec, err := strconv.ParseFloat(vf.AdvertInt, 64)
	switch {
	case fm.errs["advert_int"] != "":
	case err != nil || sec != sec:
		fm.errs["advert_int"] = "seconds, like 1 (or 0.5 with VRRP version 3)"
	case version == 3 && (sec < 0.01 || sec > 40.95):
		fm.errs["advert_int"] = "VRRP version 3: from 0.01 to 40.95 seconds"
	case version == 3:
		adv = time.Duration(math.Round(sec*100)) * 10 * time.Millisecond
		if math.Abs(adv.Seconds()-sec) > 1e-9 {
			fm.errs["advert_int"] = "VRRP version 3: in hundredths of a second"
		}
	case sec < 1 || sec > 255 || sec != math.Trunc(sec):
		fm.errs["advert_int"] = "VRRP version 2: whole seconds from 1 to 255"
	default:
		adv = time.Duration(sec) * time.Second
	}
	vf.Errs = fm.errs
	if !fm.ok() {
		return nil, vf
	}
	return func(c *config.File) error {
		for i := range c.VRRP {
			if c.VRRP[i].Name == vf.Name {
				c.VRRP[i].Priority, c.VRRP[i].AdvertInt = prio, adv
				return nil
			}
		}
		return fmt.Errorf("vrrp_instance %s is no longer in the file", vf.Name)
	}, vf
}

// fileGlobal says whether the Global settings page edits f's timeouts
// (an lvs.cf or a ulvs TOML file) and interfaces (a ulvs TOML file; an
// lvs.cf's are its virtual servers' devices).
func fileGlobal(f *config.File) (timeouts, interfaces bool) {
	if f == nil {
		return false, false
	}
	toml := f.Format == "" || f.Format == "toml"
	return toml || f.Format == config.FormatPiranha, toml
}

// parseFileTimeouts reads the file's timeouts (seconds; 0 or empty:
// none, the running value stays, as ipvsadm --set 0).
func parseFileTimeouts(v url.Values) (func(*config.File) error, map[string]string, fieldErrors) {
	f := newForm(v)
	form := map[string]string{"file_tcp": f.str("file_tcp"), "file_tcpfin": f.str("file_tcpfin"), "file_udp": f.str("file_udp")}
	t := config.Timeouts{
		TCP:    uint32(f.uint("file_tcp", 0, config.MaxTimeout, 0)),
		TCPFin: uint32(f.uint("file_tcpfin", 0, config.MaxTimeout, 0)),
		UDP:    uint32(f.uint("file_udp", 0, config.MaxTimeout, 0)),
	}
	if !f.ok() {
		return nil, form, f.errs
	}
	return func(c *config.File) error { c.Timeouts = t; return nil }, form, f.errs
}

// parseInterfaces reads the interfaces ulvsd listens on (names separated
// by spaces or commas), which apply at its next start.
func parseInterfaces(v url.Values) (func(*config.File) error, map[string]string, fieldErrors) {
	f := newForm(v)
	form := map[string]string{"interfaces": f.str("interfaces")}
	var names []string
	for _, n := range strings.FieldsFunc(form["interfaces"], func(r rune) bool { return r == ',' || r == ' ' }) {
		if msg := config.CheckIfName(n); msg != "" {
			f.errs["interfaces"] = msg
			break
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 && f.errs["interfaces"] == "" {
		f.errs["interfaces"] = "required: at least one interface, like eth0"
	}
	if !f.ok() {
		return nil, form, f.errs
	}
	return func(c *config.File) error { c.Interfaces = names; return nil }, form, f.errs
}
