// Package configtest holds checks the configuration formats' tests share:
// that what a parser returns is a table ipvsadm's edits would build.
package configtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// ReplayRules replays f's services and dests as ipvsadm -A and -a edits
// (config.Command.Validate, then Rules.Apply, in file order) and fails t
// on the first one the kernel's rules refuse, or when the result does not
// have every service.
func ReplayRules(t testing.TB, f *config.File) {
	t.Helper()
	var rules config.Rules
	for _, s := range f.Rules.Services {
		svc := s
		svc.Dests = nil
		add := config.Command{Op: config.OpAddService, Service: svc, HasService: true}
		if err := add.Validate(); err != nil {
			t.Fatalf("service %+v: %v", svc, err)
		}
		if err := rules.Apply(add); err != nil {
			t.Fatalf("service %+v: %v", svc, err)
		}
		for _, d := range s.Dests {
			c := config.Command{Op: config.OpAddDest, Service: svc, HasService: true, Dest: d}
			if err := c.Validate(); err != nil {
				t.Fatalf("service %+v dest %+v: %v", svc, d, err)
			}
			if err := rules.Apply(c); err != nil {
				t.Fatalf("service %+v dest %+v: %v", svc, d, err)
			}
		}
	}
	if len(rules.Services) != len(f.Rules.Services) {
		t.Fatalf("%d services applied, file has %d", len(rules.Services), len(f.Rules.Services))
	}
}

// CheckWarnings wants exactly len(want) warnings in f, in order, each
// ("file:line: msg") starting with its entry of want.
func CheckWarnings(t testing.TB, f *config.File, want []string) {
	t.Helper()
	var got []string
	for _, w := range f.Warnings {
		got = append(got, w.String())
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("warnings:\n got %q\nwant prefixes %q", got, want)
	}
}

// AddFiles adds the text of every file pattern matches to f's seed
// corpus.
func AddFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
}
