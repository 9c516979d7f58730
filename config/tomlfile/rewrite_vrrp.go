package tomlfile

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// RewriteSettings returns the configuration file data with its virtual
// services replaced by want.Rules (ReplaceServices) and the priority and
// advert_int of its [[vrrp_instance]] tables set as want.VRRP says (what
// the web console's Redundancy page edits): a key's line is rewritten in
// place (its comment kept), or added under the table's header. Any other
// change of an instance, or an instance added or removed, is refused with
// ErrNotExpressible. Everything else stays as it was. The result is
// parsed to check that it holds exactly want's rules and instances.
func RewriteSettings(path string, data []byte, want *config.File) ([]byte, error) {
	out, err := ReplaceServices(path, data, want.Rules)
	if err != nil {
		return nil, err
	}
	old, err := Parse(path, out)
	if err != nil {
		return nil, err
	}
	if len(old.VRRP) != len(want.VRRP) {
		return nil, fmt.Errorf("%s: the console adds and removes no [[vrrp_instance]] (%d in the file, %d asked): %w", path, len(old.VRRP), len(want.VRRP), ErrNotExpressible)
	}
	lines := strings.Split(string(out), "\n")
	type insert struct {
		after int
		text  string
	}
	var adds []insert
	keys := indexKeys(out)
	for i, n := range want.VRRP {
		o := old.VRRP[i]
		if !config.SameVRRPBut(o, n, true) {
			return nil, fmt.Errorf("%s: vrrp_instance %s: only its priority and advert_int are written by the console: %w", path, o.Name, ErrNotExpressible)
		}
		for _, kv := range []struct {
			key     string
			changed bool
			value   string
		}{
			{"priority", o.Priority != n.Priority, strconv.Itoa(int(n.Priority))},
			{"advert_int", o.AdvertInt != n.AdvertInt, secondsText(n.AdvertInt)},
		} {
			if !kv.changed {
				continue
			}
			if n.AdvertInt <= 0 || n.AdvertInt%(10*time.Millisecond) != 0 {
				return nil, fmt.Errorf("%s: vrrp_instance %s: advert_int %v: %w", path, o.Name, n.AdvertInt, ErrNotExpressible)
			}
			at, ok := keys[fmt.Sprintf("vrrp_instance[%d].%s", i, kv.key)]
			if !ok {
				head, ok := keys[fmt.Sprintf("vrrp_instance[%d]", i)]
				if !ok || head < 1 || head > len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[head-1]), "[[vrrp_instance]]") {
					return nil, fmt.Errorf("%s: vrrp_instance %s: no [[vrrp_instance]] header to add %s under: %w", path, o.Name, kv.key, ErrNotExpressible)
				}
				adds = append(adds, insert{head, kv.key + " = " + kv.value})
				continue
			}
			l := lines[at-1]
			k, rest, ok := strings.Cut(l, "=")
			if !ok || strings.TrimSpace(k) != kv.key {
				return nil, fmt.Errorf("%s:%d: %s is not written as \"%s = value\" on a line of its own: %w", path, at, kv.key, kv.key, ErrNotExpressible)
			}
			comment := ""
			if c := strings.IndexByte(rest, '#'); c >= 0 {
				comment = " " + rest[c:]
			}
			lines[at-1] = k + "= " + kv.value + comment
		}
	}
	for i := len(adds) - 1; i >= 0; i-- {
		a := adds[i]
		lines = append(lines[:a.after], append([]string{a.text}, lines[a.after:]...)...)
	}
	res := []byte(strings.Join(lines, "\n"))
	back, err := Parse(path, res)
	if err != nil {
		return nil, fmt.Errorf("%s: the rewritten file does not parse (%v): %w", path, err, ErrNotExpressible)
	}
	for i := range want.VRRP {
		if !config.SameVRRPBut(want.VRRP[i], back.VRRP[i], false) {
			return nil, fmt.Errorf("%s: vrrp_instance %s would not read back as asked: %w", path, want.VRRP[i].Name, ErrNotExpressible)
		}
	}
	got, err := MarshalServices(back.Rules)
	wantText, err2 := MarshalServices(want.Rules)
	if err != nil || err2 != nil || string(got) != string(wantText) {
		return nil, fmt.Errorf("%s: the services would not read back as asked: %w", path, ErrNotExpressible)
	}
	return res, nil
}
