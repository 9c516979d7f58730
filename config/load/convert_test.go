package load_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/keepalived"
	"github.com/ulvs/ulvs/config/tomlfile"
)

// This file is the differential test of the formats: a keepalived.conf
// converted to ulvs.toml (what `ulvs convert` does) must mean the same
// rules, health checks, timeouts, failover instances and sync daemon when
// the TOML is read back; what the
// TOML cannot say must make MarshalTOML fail with ErrNotExpressible.

const kaTestdata = "../keepalived/testdata"

// convertInterface is the interface a keepalived.conf without a
// vrrp_instance gets, as `ulvs convert -i eth0` gives it: the TOML file
// must name one.
const convertInterface = "eth0"

// converted parses the keepalived.conf f (already parsed) through
// MarshalTOML and tomlfile.Parse and reports the first difference. It
// returns MarshalTOML's error when the file is not expressible.
func converted(t *testing.T, f *config.File) error {
	t.Helper()
	if len(f.Interfaces) == 0 {
		f.Interfaces = []string{convertInterface}
	}
	out, err := tomlfile.MarshalTOML(f)
	if err != nil {
		if !errors.Is(err, tomlfile.ErrNotExpressible) {
			t.Fatalf("MarshalTOML: %v, want nil or ErrNotExpressible", err)
		}
		return err
	}
	g, err := tomlfile.Parse("converted.toml", out)
	if err != nil {
		t.Fatalf("the converted file does not parse: %v\n%s", err, out)
	}
	opts := []cmp.Option{
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmpopts.EquateEmpty(),
		// Where an instance was read from: the keepalived.conf, then
		// the converted file.
		cmpopts.IgnoreFields(config.VRRPInstance{}, "File", "Line"),
	}
	for _, part := range []struct {
		name       string
		from, back any
	}{
		{"Rules", f.Rules, g.Rules},
		{"Health", f.Health, g.Health},
		{"Timeouts", f.Timeouts, g.Timeouts},
		{"Interfaces", f.Interfaces, g.Interfaces},
		{"VRRP", f.VRRP, g.VRRP},
		{"Sync", f.Sync, g.Sync},
	} {
		if part.name != "VRRP" && reflect.DeepEqual(part.from, part.back) {
			continue // the common case, without cmp's cost on 4096 services
		}
		if diff := cmp.Diff(part.from, part.back, opts...); diff != "" {
			t.Errorf("%s differ after conversion (-keepalived.conf +ulvs.toml):\n%s\nulvs.toml:\n%s", part.name, diff, out)
		}
	}
	return nil
}

// TestConvertKeepalived: every keepalived.conf of the keepalived tests
// converts to a TOML file that means the same, or is refused for what the
// TOML cannot say.
func TestConvertKeepalived(t *testing.T) {
	notExpressible := map[string]string{
		// fwmark 5 and 9 come from iptables marks; the TOML has its own
		// [[fwmark]] classifiers, which keepalived.conf does not describe.
		"group.conf":   "fwmark 5",
		"fwmark6.conf": "fwmark 5",
	}
	files, err := filepath.Glob(filepath.Join(kaTestdata, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(kaTestdata, "include", "keepalived.conf"))
	if len(files) < 9 {
		t.Fatalf("only %d test files found: %q", len(files), files)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			f, err := keepalived.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			err = converted(t, f)
			want, refused := notExpressible[filepath.Base(name)]
			switch {
			case refused && err == nil:
				t.Errorf("MarshalTOML converted it; want ErrNotExpressible about %q", want)
			case refused && !strings.Contains(err.Error(), want):
				t.Errorf("MarshalTOML: %v; want it about %q", err, want)
			case !refused && err != nil:
				t.Errorf("MarshalTOML: %v", err)
			}
		})
	}
}

// TestConvertFuzzCorpus: the inputs FuzzParse of config/keepalived found,
// converted the same way.
func TestConvertFuzzCorpus(t *testing.T) {
	dir := filepath.Join(kaTestdata, "fuzz", "FuzzParse")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			text := corpusString(t, data)
			f, err := keepalived.Parse("fuzz.conf", []byte(text), keepalived.Options{})
			if err != nil {
				return // refused by the keepalived parser: nothing to convert
			}
			if err := converted(t, f); err != nil {
				t.Logf("not expressible: %v", err)
			}
		})
	}
}

// FuzzConvert converts whatever keepalived.conf the parser accepts.
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(kaTestdata, "*.conf"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, text string) {
		kf, err := keepalived.Parse("fuzz.conf", []byte(text), keepalived.Options{
			ReadFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
			Glob:     func(string) ([]string, error) { return nil, nil },
		})
		if err != nil {
			return
		}
		converted(t, kf) // ErrNotExpressible is fine; anything else fails
	})
}

// corpusString reads a "go test fuzz v1" file holding one string.
func corpusString(t *testing.T, data []byte) string {
	t.Helper()
	header, body, ok := strings.Cut(string(data), "\n")
	body = strings.TrimSpace(body)
	if !ok || header != "go test fuzz v1" || !strings.HasPrefix(body, "string(") || !strings.HasSuffix(body, ")") {
		t.Fatalf("not a fuzz corpus file of one string: %q", data)
	}
	s, err := strconv.Unquote(body[len("string(") : len(body)-1])
	if err != nil {
		t.Fatalf("corpus string: %v", err)
	}
	return s
}
