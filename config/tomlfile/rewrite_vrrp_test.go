package tomlfile

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
)

// TestRewriteSettings: the Redundancy page's priority and advert_int
// written into [[vrrp_instance]] tables (a key rewritten in place with
// its comment, a missing one added under the header), everything else
// kept; any other change of an instance refused.
func TestRewriteSettings(t *testing.T) {
	data, err := os.ReadFile("testdata/file-vrrp.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "priority = 100\n", "priority = 100 # the master\n", 1)
	f, err := Parse("f.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	same, err := RewriteSettings("f.toml", []byte(text), f)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := ReplaceServices("f.toml", []byte(text), f.Rules)
	if err != nil {
		t.Fatal(err)
	}
	if string(same) != string(saved) {
		t.Errorf("unchanged settings change the file beyond what a save of the rules writes:\n%s", same)
	}
	f.VRRP[0].Priority, f.VRRP[0].AdvertInt = 120, 3*time.Second
	f.VRRP[1].Priority = 50
	out, err := RewriteSettings("f.toml", []byte(text), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"priority = 120 # the master\nadvert_int = 3\n", "[[vrrp_instance]]\npriority = 50\nname = \"VI_2\"\n", "[[vrrp_script]]\nname = \"chk_load\"\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("written file lacks %q:\n%s", want, out)
		}
	}
	back, err := Parse("f.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	if back.VRRP[0].Priority != 120 || back.VRRP[0].AdvertInt != 3*time.Second || back.VRRP[1].Priority != 50 {
		t.Errorf("read back: %+v", back.VRRP)
	}
	f.VRRP[1].VRID = 9
	if _, err := RewriteSettings("f.toml", []byte(text), f); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "only its priority and advert_int") {
		t.Errorf("a changed virtual_router_id: %v", err)
	}
	f.VRRP = f.VRRP[:1]
	if _, err := RewriteSettings("f.toml", []byte(text), f); !errors.Is(err, ErrNotExpressible) {
		t.Errorf("an instance removed: %v", err)
	}
}

// FuzzRewriteSettings: any file Parse takes is rewritten with its own
// settings (and a priority changed) into a file that reads back as asked,
// or refused; never a panic, never a file that reads otherwise.
func FuzzRewriteSettings(f *testing.F) {
	files, _ := filepath.Glob("testdata/file-*.toml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data), uint8(7))
	}
	f.Fuzz(func(t *testing.T, text string, prio uint8) {
		file, err := Parse("f.toml", []byte(text))
		if err != nil {
			return
		}
		for i := range file.VRRP {
			file.VRRP[i].Priority = prio
		}
		file.Timeouts.TCPFin = uint32(prio) * 3
		file.Interfaces = append(file.Interfaces, "x"+strconv.Itoa(int(prio)))
		// The Monitoring scripts page's checker edits.
		for i := range file.Health {
			for j := range file.Health[i].Reals {
				for k := range file.Health[i].Reals[j].Checks {
					c := &file.Health[i].Reals[j].Checks[k]
					if c.Kind == config.CheckNanny {
						continue // nanny has no retry (its own form edits it)
					}
					c.Retry, c.DelayBeforeRetry = int(prio%5), time.Duration(prio)*time.Millisecond
					if len(c.URLs) > 0 {
						c.URLs[0].Path = "/p" + strconv.Itoa(int(prio))
					}
				}
			}
		}
		out, err := RewriteSettings("f.toml", []byte(text), file)
		if err != nil {
			return // refused, with the reason
		}
		back, err := Parse("f.toml", out)
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, out)
		}
		for i := range back.VRRP {
			if back.VRRP[i].Priority != prio {
				t.Fatalf("priority %d read back as %d", prio, back.VRRP[i].Priority)
			}
		}
		if back.Timeouts != file.Timeouts || strings.Join(back.Interfaces, ",") != strings.Join(file.Interfaces, ",") {
			t.Fatalf("read back as %v %+v, want %v %+v", back.Interfaces, back.Timeouts, file.Interfaces, file.Timeouts)
		}
		if diff := cmp.Diff(KeepHealth(file.Rules, file.Health), back.Health, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("health (-want +written):\n%s", diff)
		}
	})
}

// TestRewriteSettingsGlobal: the Global settings page's interfaces and
// timeouts, in a file with a [timeouts] table (set in place, a 0 removes
// the key) and in one without (a new table at the end).
func TestRewriteSettingsGlobal(t *testing.T) {
	for _, tt := range []struct {
		file string
		has  []string
	}{
		{"testdata/file-vrrp.toml", []string{"[director]\ninterfaces = [\"eth0\", \"eth2\"]\n", "\n[timeouts]\ntcp = 600\nudp = 30\n"}},
		{"testdata/file-full.toml", []string{"interfaces = [\"eth0\", \"eth2\"]", "tcp = 600\n"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse("f.toml", data)
			if err != nil {
				t.Fatal(err)
			}
			f.Interfaces = []string{"eth0", "eth2"}
			f.Timeouts.TCP, f.Timeouts.UDP, f.Timeouts.TCPFin = 600, 30, 0
			out, err := RewriteSettings("f.toml", data, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.has {
				if !strings.Contains(string(out), want) {
					t.Errorf("written file lacks %q:\n%s", want, out)
				}
			}
			back, err := Parse("f.toml", out)
			if err != nil {
				t.Fatal(err)
			}
			if back.Timeouts != f.Timeouts || strings.Join(back.Interfaces, ",") != "eth0,eth2" {
				t.Errorf("read back: %v %+v", back.Interfaces, back.Timeouts)
			}
		})
	}
	inline, err := os.ReadFile("testdata/file-inline.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("f.toml", inline)
	if err != nil {
		t.Fatal(err)
	}
	f.Timeouts.TCP = 11
	if _, err := RewriteSettings("f.toml", inline, f); !errors.Is(err, ErrNotExpressible) {
		t.Errorf("timeouts in an inline table: %v, want a refusal", err)
	}
}

// TestRewriteSettingsChecks: the Monitoring scripts page's checker
// settings are written into the [[virtual_server.real_server.check]]
// tables and read back as asked; the comments outside the service tables
// stay; what a check table cannot say is refused.
func TestRewriteSettingsChecks(t *testing.T) {
	data, err := os.ReadFile("testdata/file-health.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := "# kept comment\n" + string(data)
	f, err := Parse("f.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tcp := &f.Health[0].Reals[0].Checks[0]
	tcp.ConnectTimeout, tcp.Retry, tcp.ConnectPort = 2*time.Second, 3, 8081
	h := &f.Health[0].Reals[0].Checks[1]
	h.URLs[0].Path, h.URLs[0].Digest, h.URLs[0].StatusCodes = "/ok", "", []config.StatusRange{{First: 204, Last: 204}}
	m := &f.Health[0].Reals[1].Checks[1]
	m.MiscPath, m.MiscTimeout = []string{"/usr/local/bin/probe", "two words"}, 9*time.Second
	out, err := RewriteSettings("f.toml", []byte(text), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# kept comment\n", "connect_timeout = 2\n", "connect_port = 8081\n", "retry = 3\n", `{ path = "/ok", status_code = [204] }`,
		`misc_path = "/usr/local/bin/probe \"two words\""`, "misc_timeout = 9\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("written file lacks %q:\n%s", want, out)
		}
	}
	back, err := Parse("f.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.Health, back.Health, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("(-want +written):\n%s", diff)
	}
	// A setting a check table does not hold (a nanny check's retry) is
	// refused, not dropped.
	for i := range back.Health {
		for j := range back.Health[i].Reals {
			for k := range back.Health[i].Reals[j].Checks {
				if c := &back.Health[i].Reals[j].Checks[k]; c.Kind == config.CheckNanny {
					c.Retry = 4
				}
			}
		}
	}
	if _, err := RewriteSettings("f.toml", out, back); !errors.Is(err, ErrNotExpressible) || !strings.Contains(err.Error(), "would not read back") {
		t.Errorf("a nanny check's retry: %v", err)
	}
	// A check of a kind the file cannot name is refused, the file not written.
	f.Health[0].Reals[0].Checks[0].Kind = config.CheckInvalid
	if _, err := RewriteSettings("f.toml", []byte(text), f); !errors.Is(err, ErrNotExpressible) {
		t.Errorf("an invalid check kind: %v", err)
	}
}
