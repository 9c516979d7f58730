package keepalived

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// This file writes the checker settings the web console edits (its
// Monitoring scripts page): connect_timeout, connect_port, delay_loop,
// retry, delay_before_retry, the first url's path, status_code and digest,
// misc_path and misc_timeout, each on its own line inside the checker's
// block. Any other change of a checker, or a checker added or removed, is
// refused with ErrNotExpressible, naming it.

// checkers writes the checks of want.Health that differ from the file's.
func (w *kwriter) checkers() error {
	for _, vh := range w.want.Health {
		old := healthFor(w.p.file, vh.Service)
		if old == nil {
			continue // a new virtual_server block has no checkers (Rewrite)
		}
		o, n := *old, vh
		o.Reals, n.Reals = nil, nil
		if !reflect.DeepEqual(o, n) {
			return fmt.Errorf("%s: only checker settings are written by the console, not the virtual_server's health settings (delay_loop, quorum, alpha, ...): %w", vh.Service.Name(), ErrNotExpressible)
		}
		for _, rh := range vh.Reals {
			i := slices.IndexFunc(old.Reals, func(r config.RealHealth) bool { return r.Addr == rh.Addr && r.Port == rh.Port })
			if i < 0 {
				continue // a new real_server block has no checkers (Rewrite)
			}
			if reflect.DeepEqual(old.Reals[i], rh) {
				continue
			}
			if err := w.realChecks(vh.Service, old.Reals[i], rh); err != nil {
				return err
			}
		}
	}
	return nil
}

// realChecks writes the changed checks of one real server.
func (w *kwriter) realChecks(k config.ServiceKey, old, want config.RealHealth) error {
	ap := netip.AddrPortFrom(want.Addr, want.Port)
	where := fmt.Sprintf("real server %s of %s", ap, k.Name())
	o, n := old, want
	o.Checks, n.Checks = nil, nil
	if !reflect.DeepEqual(o, n) {
		return fmt.Errorf("%s: only its checkers' settings are written by the console (not inhibit_on_failure or notify scripts): %w", where, ErrNotExpressible)
	}
	if len(old.Checks) != len(want.Checks) {
		return fmt.Errorf("%s: the console adds and removes no checker (%d in the file, %d asked): %w", where, len(old.Checks), len(want.Checks), ErrNotExpressible)
	}
	rs := w.realServer(k, ap)
	if rs == nil || len(rs.dests) != 1 {
		return fmt.Errorf("%s: its real_server block is not its own (a virtual_server_group or a duplicate), which the console does not rewrite: %w", where, ErrNotExpressible)
	}
	// Each checker block makes one check, but an SMTP_CHECK with host
	// blocks makes one per host.
	j := 0
	for _, ck := range rs.checks {
		count := 1
		if len(ck.hosts) > 0 {
			count = len(ck.hosts)
			if ck.conn.isSet() {
				count++
			}
		}
		for c := j; c < j+count; c++ {
			if reflect.DeepEqual(old.Checks[c], want.Checks[c]) {
				continue
			}
			if count > 1 {
				return fmt.Errorf("%s: %s at %s:%d has host blocks, which the console does not rewrite: %w", where, ck.check.Kind, ck.node.File, ck.node.Line, ErrNotExpressible)
			}
			if err := w.checker(where, ck, old.Checks[c], want.Checks[c]); err != nil {
				return err
			}
		}
		j += count
	}
	return nil
}

// realServer is the real_server block of the service k whose dest is ap.
func (w *kwriter) realServer(k config.ServiceKey, ap netip.AddrPort) *realServer {
	for _, v := range w.p.virtuals {
		if !slices.Contains(v.keys, k) {
			continue
		}
		for _, rs := range v.reals {
			if slices.Contains(rs.dests, ap) {
				return rs
			}
		}
	}
	return nil
}

// seconds writes a duration as keepalived's timers read it (seconds, with
// a fraction when needed).
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// quoted writes s as one word of a keepalived.conf line.
func quoted(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// checker writes the changes of one checker block.
func (w *kwriter) checker(where string, ck *checkSpec, old, want config.Check) error {
	where = fmt.Sprintf("%s: %s at %s:%d", where, ck.check.Kind, ck.node.File, ck.node.Line)
	if !reflect.DeepEqual(config.CheckWithoutEdits(old), config.CheckWithoutEdits(want)) {
		return fmt.Errorf("%s: only connect_timeout, connect_port, delay_loop, retry, delay_before_retry, the first url's path, status_code and digest, misc_path and misc_timeout are written by the console: %w", where, ErrNotExpressible)
	}
	start, end, err := w.span(ck.node)
	if err != nil {
		return err
	}
	misc := want.Kind == config.CheckMisc
	if old.ConnectTimeout != want.ConnectTimeout && !misc {
		if err := w.set(start, end, []string{"connect_timeout"}, seconds(want.ConnectTimeout)); err != nil {
			return err
		}
	}
	if old.ConnectPort != want.ConnectPort {
		if misc || want.ConnectPort == 0 {
			return fmt.Errorf("%s: connect_port %d: %w", where, want.ConnectPort, ErrNotExpressible)
		}
		if err := w.set(start, end, []string{"connect_port"}, strconv.Itoa(int(want.ConnectPort))); err != nil {
			return err
		}
	}
	if old.DelayLoop != want.DelayLoop {
		if err := w.set(start, end, []string{"delay_loop"}, seconds(want.DelayLoop)); err != nil {
			return err
		}
	}
	if old.Retry != want.Retry {
		if err := w.unset(start, end, []string{"nb_get_retry"}); err != nil {
			return err
		}
		if err := w.set(start, end, []string{"retry"}, strconv.Itoa(want.Retry)); err != nil {
			return err
		}
	}
	if old.DelayBeforeRetry != want.DelayBeforeRetry {
		if err := w.set(start, end, []string{"delay_before_retry"}, seconds(want.DelayBeforeRetry)); err != nil {
			return err
		}
	}
	if !slices.Equal(old.MiscPath, want.MiscPath) {
		if len(want.MiscPath) == 0 {
			return fmt.Errorf("%s: misc_path cannot be empty: %w", where, ErrNotExpressible)
		}
		if err := w.set(start, end, []string{"misc_path"}, quoted(config.ScriptText(want.MiscPath))); err != nil {
			return err
		}
	}
	if old.MiscTimeout != want.MiscTimeout {
		if want.MiscTimeout%time.Second != 0 {
			return fmt.Errorf("%s: misc_timeout %v is not whole seconds: %w", where, want.MiscTimeout, ErrNotExpressible)
		}
		if err := w.set(start, end, []string{"misc_timeout"}, strconv.Itoa(int(want.MiscTimeout/time.Second))); err != nil {
			return err
		}
	}
	if len(want.URLs) > 0 && !reflect.DeepEqual(old.URLs[0], want.URLs[0]) {
		if len(ck.urls) == 0 {
			return fmt.Errorf("%s: no url block: %w", where, ErrNotExpressible)
		}
		return w.url(ck.urls[0], old.URLs[0], want.URLs[0])
	}
	return nil
}

// defaultStatus is what a url without status_code accepts.
var defaultStatus = []config.StatusRange{{First: config.DefaultStatusFirst, Last: config.DefaultStatusLast}}

// url writes the path, status_code and digest of a url block.
func (w *kwriter) url(n *Node, old, want config.URL) error {
	start, end, err := w.span(n)
	if err != nil {
		return err
	}
	if old.Path != want.Path {
		if want.Path == "" || strings.ContainsFunc(want.Path, func(r rune) bool {
			return r <= ' ' || r == '"' || r == '\\' || r == '#' || r == '!' || r == '{' || r == '}'
		}) {
			return fmt.Errorf("url at %s:%d: path %q: %w", n.File, n.Line, want.Path, ErrNotExpressible)
		}
		if err := w.set(start, end, []string{"path"}, want.Path); err != nil {
			return err
		}
	}
	if !slices.Equal(old.StatusCodes, want.StatusCodes) {
		if len(want.StatusCodes) == 0 || slices.Equal(want.StatusCodes, defaultStatus) {
			err = w.unset(start, end, []string{"status_code"})
		} else {
			err = w.set(start, end, []string{"status_code"}, config.StatusText(want.StatusCodes))
		}
		if err != nil {
			return err
		}
	}
	if old.Digest != want.Digest {
		if want.Digest == "" {
			err = w.unset(start, end, []string{"digest"})
		} else {
			err = w.set(start, end, []string{"digest"}, want.Digest)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
