package tomlfile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
)

// RewriteSettings returns the configuration file data with its virtual
// services replaced by want.Rules (ReplaceServices), the priority and
// advert_int of its [[vrrp_instance]] tables set as want.VRRP says (what
// the web console's Redundancy page edits), and [director] interfaces and
// [timeouts] as want has them (its Global settings page): a key's line is
// rewritten in place (its comment kept; a timeout of 0 removes it), or
// added under the table's header, or in a new table at the end. Any other
// change of an instance, or an instance added or removed, is refused with
// ErrNotExpressible. The health checks are written as want.Health has
// them (a service it does not name keeps the file's; what a check table
// can say is written, the rest refused by the read-back comparison), in
// the [[virtual_server]] tables ReplaceServices writes. Everything
// else stays as it was. The result is
// parsed to check that it holds exactly want's rules and instances.
func RewriteSettings(path string, data []byte, want *config.File) ([]byte, error) {
	orig, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	health := mergeHealth(orig.Health, want.Health)
	out, err := replaceServices(path, data, want.Rules, health)
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
	// [director] interfaces and [timeouts]: set where they are, added
	// under their table's header, or in a new table at the end.
	var tail []string
	setKey := func(table, key, value string) error {
		if at, ok := keys[table+"."+key]; ok {
			l := lines[at-1]
			k, rest, ok := strings.Cut(l, "=")
			if !ok || strings.TrimSpace(k) != key || (key == "interfaces" && !strings.Contains(rest, "]")) {
				return fmt.Errorf("%s:%d: %s is not written as \"%s = value\" on a line of its own: %w", path, at, key, key, ErrNotExpressible)
			}
			comment := ""
			if c := strings.LastIndexByte(rest, '#'); c >= 0 && !strings.Contains(rest[c:], "\"") {
				comment = " " + rest[c:]
			}
			if value == "" {
				lines[at-1] = "\x00" // removed below
			} else {
				lines[at-1] = k + "= " + value + comment
			}
			return nil
		}
		if value == "" {
			return nil
		}
		if head, ok := keys[table]; ok && head >= 1 && head <= len(lines) && headerIs(lines[head-1], table) {
			adds = append(adds, insert{head, key + " = " + value})
			return nil
		}
		if !slices.Contains(tail, "["+table+"]") {
			tail = append(tail, "", "["+table+"]")
		}
		tail = append(tail, key+" = "+value)
		return nil
	}
	if !slices.Equal(old.Interfaces, want.Interfaces) {
		if len(want.Interfaces) == 0 {
			return nil, fmt.Errorf("%s: [director] interfaces cannot be empty: %w", path, ErrNotExpressible)
		}
		var q []string
		for _, n := range want.Interfaces {
			q = append(q, tomlString(n))
		}
		if err := setKey("director", "interfaces", "["+strings.Join(q, ", ")+"]"); err != nil {
			return nil, err
		}
	}
	for _, t := range []struct {
		key  string
		o, n uint32
	}{{"tcp", old.Timeouts.TCP, want.Timeouts.TCP}, {"tcpfin", old.Timeouts.TCPFin, want.Timeouts.TCPFin}, {"udp", old.Timeouts.UDP, want.Timeouts.UDP}} {
		if t.o == t.n {
			continue
		}
		v := ""
		if t.n != 0 {
			v = strconv.FormatUint(uint64(t.n), 10)
		}
		if err := setKey("timeouts", t.key, v); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(adds, func(a, b insert) int { return a.after - b.after })
	for i := len(adds) - 1; i >= 0; i-- {
		a := adds[i]
		lines = append(lines[:a.after], append([]string{a.text}, lines[a.after:]...)...)
	}
	lines = slices.DeleteFunc(lines, func(l string) bool { return l == "\x00" })
	if len(tail) > 0 {
		for len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		lines = append(append(lines, tail...), "")
	}
	res := []byte(strings.Join(lines, "\n"))
	back, err := Parse(path, res)
	if err != nil {
		return nil, fmt.Errorf("%s: the rewritten file does not parse (%v): %w", path, err, ErrNotExpressible)
	}
	if !slices.Equal(back.Interfaces, want.Interfaces) || back.Timeouts != want.Timeouts {
		return nil, fmt.Errorf("%s: the interfaces and timeouts would read %v %+v, not %v %+v: %w", path, back.Interfaces, back.Timeouts, want.Interfaces, want.Timeouts, ErrNotExpressible)
	}
	for i := range want.VRRP {
		if !config.SameVRRPBut(want.VRRP[i], back.VRRP[i], false) {
			return nil, fmt.Errorf("%s: vrrp_instance %s would not read back as asked: %w", path, want.VRRP[i].Name, ErrNotExpressible)
		}
	}
	if what := config.ChangedHealth(KeepHealth(want.Rules, health), back.Health); what != "" {
		return nil, fmt.Errorf("%s: %s would not read back as asked (a setting its check table does not hold): %w", path, what, ErrNotExpressible)
	}
	got, err := MarshalServices(back.Rules)
	wantText, err2 := MarshalServices(want.Rules)
	if err != nil || err2 != nil || string(got) != string(wantText) {
		return nil, fmt.Errorf("%s: the services would not read back as asked: %w", path, ErrNotExpressible)
	}
	return res, nil
}

// headerIs reports whether line is the header [table], with or without a
// comment after it.
func headerIs(line, table string) bool {
	h, _, _ := strings.Cut(line, "#")
	return strings.TrimSpace(h) == "["+table+"]"
}
