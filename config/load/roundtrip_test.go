package load

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ulvs/ulvs/config/tomlfile"
)

// TestConvertToTOML writes what lvs.cf and lvs_dr.conf files say as
// ulvs.toml (tomlfile.MarshalTOML, what `ulvs convert` is to do) and reads
// it back: the services and the health checks must come back the same.
// Seed 001's FTP virtual is made inactive: a fwmark service cannot be
// written to ulvs.toml until its marks are (the TOML reader wants a
// [[fwmark]] for mark 21; TestConvertFwmarkToTOML).
func TestConvertToTOML(t *testing.T) {
	seed, err := os.ReadFile(filepath.Join("..", "piranha", "testdata", "seed001-lab.cf"))
	if err != nil {
		t.Fatal(err)
	}
	web := string(seed)
	ftp := strings.Index(web, "virtual FTP {")
	web = web[:ftp] + strings.Replace(web[ftp:], "active = 1", "active = 0", 1)
	nat, err := os.ReadFile(filepath.Join("..", "lvsdr", "testdata", "howto-nat.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, text string }{{"lvs.cf", web}, {"lvs_nat.conf", string(nat)}} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.name, []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			text, err := tomlfile.MarshalTOML(f)
			if err != nil {
				t.Fatal(err)
			}
			back, err := tomlfile.Parse("ulvs.toml", text)
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			eq := cmpopts.EquateComparable(f.Rules.Services[0].Addr)
			if diff := cmp.Diff(f.Rules, back.Rules, eq, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("rules (-%s +toml):\n%s\n%s", f.Format, diff, text)
			}
			if diff := cmp.Diff(f.Health, back.Health, eq, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("health (-%s +toml):\n%s\n%s", f.Format, diff, text)
			}
			if diff := cmp.Diff(f.Interfaces, back.Interfaces); diff != "" {
				t.Errorf("interfaces (-%s +toml):\n%s", f.Format, diff)
			}
		})
	}
}

// TestConvertFwmarkToTOML: seed 001's FTP virtual (fwmark 21) cannot be
// written as ulvs.toml, which says what is missing: a [[fwmark]] for mark
// 21 (its marks come from iptables rules, which a ulvs.toml does not hold).
func TestConvertFwmarkToTOML(t *testing.T) {
	f, err := File(filepath.Join("..", "piranha", "testdata", "seed001-lab.cf"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tomlfile.MarshalTOML(f)
	if !errors.Is(err, tomlfile.ErrNotExpressible) || !strings.Contains(err.Error(), "no [[fwmark]] classifier defines mark 21") {
		t.Errorf("MarshalTOML: %v, want ErrNotExpressible naming mark 21", err)
	}
}
