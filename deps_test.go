package ulvs_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The dependency rules of STYLE.md section 2: the data-path packages never
// import each other sideways, the per-packet packages stay free of
// reflection-based encoders, the file formats only translate into the
// config model, and the control plane (healthcheck) reaches the table only
// through the director's edit API. ulvs packages (named without the module
// prefix) are forbidden transitively; standard ones ("reflect",
// "encoding/...") as direct imports.
var forbidden = map[string][]string{
	"pkt":        {"vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab", "reflect", "encoding/json", "healthcheck"},
	"vs":         {"sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab", "healthcheck"},
	"sched":      {"conntrack", "forward", "engine", "config", "ctl", "director", "reflect", "encoding/json", "healthcheck"},
	"conntrack":  {"sched", "forward", "engine", "config", "ctl", "director", "reflect", "encoding/json", "healthcheck"},
	"forward":    {"sched", "conntrack", "engine", "config", "ctl", "director", "reflect", "encoding/json", "healthcheck"},
	"synproxy":   {"vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "reflect", "encoding/json", "healthcheck"},
	"arp":        {"sched", "conntrack", "forward", "engine", "config", "ctl", "director", "healthcheck"},
	"ndp":        {"vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "healthcheck"},
	"engine":     {"config", "ctl", "director", "adm", "lab", "healthcheck"},
	"config":     {"engine", "conntrack", "forward", "sched", "arp", "ctl", "director", "adm", "lab", "metrics", "healthcheck", "config/ipvsadm", "config/tomlfile", "config/load"},
	"ctl":        {"engine", "director", "bgp"},
	"estimator":  {"sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab"},
	"metrics":    {"engine", "director", "conntrack", "forward", "sched"},
	"realserver": {"engine", "director", "conntrack", "forward", "sched", "config", "ctl", "adm", "lab"},
	"bench":      {"director", "adm", "lab"},
	"trace":      {"vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab", "healthcheck", "pkt"},
	"tcx":        {"pkt", "vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab", "healthcheck", "realserver"},
	"nfmarks":    {"engine", "conntrack", "forward", "sched", "arp", "ctl", "director", "adm", "lab", "healthcheck"},

	// The lab builds namespaces for the tests of packages below ctl (vrrp,
	// ipvssync): it must not reach back up to them through ctl.
	"lab": {"ctl", "director", "adm"},

	// The BGP speaker decides nothing and touches no data path; ctl (above)
	// stays free of it so that ulvsadm does not carry GoBGP.
	"bgp": {"engine", "director", "conntrack", "forward", "sched", "arp", "ctl", "adm", "lab", "healthcheck"},

	// The file formats translate text into the config model and nothing
	// else: they import config and vs only among ulvs packages. Each new
	// format (config/keepalived, Piranha's) gets the same line. config/load
	// dispatches to the file formats, so it may import them.
	"config/ipvsadm":    formatForbidden,
	"config/tomlfile":   formatForbidden,
	"config/keepalived": formatForbidden,
	"config/piranha":    formatForbidden,
	"config/lvsdr":      formatForbidden,
	"config/names":      formatForbidden,
	"config/load": {"engine", "conntrack", "forward", "sched", "arp", "pkt", "ctl", "director", "adm", "lab", "metrics",
		"healthcheck", "estimator", "realserver", "bench", "config/ipvsadm"},

	// The control plane stands beside the data path: health checks change
	// the table only through the director's edit API (an interface the
	// director implements), so they import config and vs and nothing of
	// the data path, the daemon or the tools.
	// (pkt stays allowed: PING_CHECK may build its ICMP with it.)
	"healthcheck": {"engine", "director", "conntrack", "forward", "sched", "arp", "ctl", "adm", "lab", "metrics",
		"estimator", "realserver", "bench", "config/ipvsadm", "config/tomlfile", "config/load"},

	// The web console is control plane too: it edits the table only
	// through the director's edit API (an interface the director
	// implements) and reads its snapshots (ctl's types, adm's listing).
	// sched only for its simulator page, on a service of its own.
	"web": {"engine", "director", "conntrack", "forward", "arp", "lab", "metrics", "estimator",
		"realserver", "bench", "ipvssync", "pulse", "nfmarks", "config/load", "config/keepalived", "config/piranha", "config/lvsdr"},

	// The failover protocols (VRRP, Piranha's pulse, IPVS connection sync) are wire formats
	// and state machines: the director drives them and applies what they
	// decide; they know nothing of the table, the daemon or the formats.
	"vrrp": {"vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab",
		"metrics", "healthcheck", "estimator", "realserver", "bench", "ipvssync", "pulse"},
	"ipvssync": {"vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab",
		"metrics", "healthcheck", "estimator", "realserver", "bench", "vrrp", "pulse"},
	// The failover state machines' time source stands below them all.
	"clock": {"vs", "sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab",
		"metrics", "healthcheck", "estimator", "realserver", "bench", "vrrp", "pulse", "ipvssync", "pkt"},
	"pulse": {"sched", "conntrack", "forward", "arp", "engine", "config", "ctl", "director", "adm", "lab",
		"metrics", "healthcheck", "estimator", "realserver", "bench", "vrrp", "ipvssync"},
}

// formatForbidden is what a file-format package (config/*) must not
// import: anything of ulvs but config and vs, and no other format.
var formatForbidden = []string{
	"engine", "conntrack", "forward", "sched", "arp", "pkt", "ctl", "director", "adm", "lab", "metrics", "healthcheck",
	"estimator", "realserver", "bench", "config/ipvsadm", "config/tomlfile", "config/keepalived", "config/load",
	"config/piranha", "config/lvsdr",
}

func TestDependencyRules(t *testing.T) {
	const mod = "github.com/ulvs/ulvs/"
	for pkg, bad := range forbidden {
		// ulvs packages are forbidden transitively, standard ones as direct
		// imports (fmt itself uses reflect).
		deps := list(t, "-deps", "./"+pkg)
		direct := list(t, "-f", "{{join .Imports \"\\n\"}}", "./"+pkg)
		for _, b := range bad {
			if b == pkg {
				continue // rules shared by several packages name each of them
			}
			if b == "reflect" || strings.HasPrefix(b, "encoding/") {
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

// TestPackageDocs: every package has exactly one package doc comment (in
// one of its non-test files), and it starts the way godoc expects:
// "Package name ..." or, for a main package, "Command name ...".
func TestPackageDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{.Name}}\t{{join .GoFiles \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		path, dir, name, files := f[0], f[1], f[2], strings.Fields(f[3])
		var docs []string
		for _, file := range files {
			fset := token.NewFileSet()
			af, err := parser.ParseFile(fset, filepath.Join(dir, file), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if af.Doc != nil {
				docs = append(docs, file)
				want := "Package " + name + " "
				if name == "main" {
					want = "Command "
				}
				if text := af.Doc.Text(); !strings.HasPrefix(text, want) {
					t.Errorf("%s: %s: package doc starts %q, want %q", path, file, firstLine(text), want+"...")
				}
			}
		}
		if len(docs) != 1 {
			t.Errorf("%s: %d package doc comments (%v), want exactly one", path, len(docs), docs)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
