// Package configtest holds checks the configuration formats' tests share:
// that what a parser returns is a table ipvsadm's edits would build.
package configtest

import (
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
