package ulvs_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The dependency rules of STYLE.md section 2: the data-path packages never
// import each other sideways, and the per-packet packages stay free of
// reflection-based encoders.
var forbidden = map[string][]string{
	"pkt":        {"vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab", "reflect", "encoding/json"},
	"vs":         {"sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab"},
	"sched":      {"conntrack", "forward", "engine", "config", "ctl", "director", "reflect", "encoding/json"},
	"conntrack":  {"sched", "forward", "engine", "config", "ctl", "director", "reflect", "encoding/json"},
	"forward":    {"sched", "conntrack", "engine", "config", "ctl", "director", "reflect", "encoding/json"},
	"arp":        {"sched", "conntrack", "forward", "engine", "config", "ctl", "director"},
	"engine":     {"config", "ctl", "director", "adm", "lab"},
	"config":     {"engine", "conntrack", "forward", "ctl", "director"},
	"ctl":        {"engine", "director"},
	"estimator":  {"sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab"},
	"metrics":    {"engine", "director", "conntrack", "forward", "sched"},
	"realserver": {"engine", "director", "conntrack", "forward", "sched", "config", "ctl", "adm", "lab"},
	"bench":      {"director", "adm", "lab"},
}

func TestDependencyRules(t *testing.T) {
	const mod = "github.com/ulvs/ulvs/"
	for pkg, bad := range forbidden {
		// ulvs packages are forbidden transitively, standard ones as direct
		// imports (fmt itself uses reflect).
		deps := list(t, "-deps", "./"+pkg)
		direct := list(t, "-f", "{{join .Imports \"\\n\"}}", "./"+pkg)
		for _, b := range bad {
			if b == "reflect" || strings.Contains(b, "/") {
				if direct[b] {
					t.Errorf("%s imports %s; STYLE.md section 2 forbids it", pkg, b)
				}
				continue
			}
			if deps[mod+b] {
				t.Errorf("%s imports %s (directly or not); STYLE.md section 2 forbids it", pkg, mod+b)
			}
		}
	}
}

func list(t *testing.T, args ...string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	m := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		m[d] = true
	}
	return m
}
