package keepalived

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/configtest"
)

// FuzzParse feeds arbitrary text to Parse: it must not panic, a failure
// must be a *config.Error, and a success must give rules that ipvsadm's
// edits accept in order (config.Command.Validate and Rules.Apply) and
// health entries that name those services and dests.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.conf")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	for _, s := range []string{
		"virtual_server_group G {\n10.0.0.1-3 80\nfwmark 4\n}\nvirtual_server group G {\nprotocol UDP\nops\nreal_server 10.1.0.1 { }\n}",
		"virtual_server 1.2.3.4 { real_server 10.0.0.1 { SMTP_CHECK { host { } host { connect_port 25 } } } }",
		"include *.conf\n@x y\n$A=b\n\"\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, conf string) {
		file, err := Parse("f.conf", []byte(conf), mapFS(map[string]string{"a.conf": "virtual_server 1.1.1.1 1 { }"}))
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v, want *config.Error", err, err)
			}
			return
		}
		configtest.ReplayRules(t, file)
		checkHealth(t, file)
	})
}

// checkHealth checks that every health entry refers to the rules and has
// its defaults resolved.
func checkHealth(t *testing.T, file *config.File) {
	t.Helper()
	for _, vh := range file.Health {
		svc := file.Rules.Find(vh.Service)
		if svc == nil {
			t.Fatalf("health for %+v: no such service", vh.Service)
		}
		if vh.DelayLoop <= 0 || len(vh.Reals) != len(svc.Dests) {
			t.Fatalf("health %+v of service %+v", vh, svc)
		}
		for i, rh := range vh.Reals {
			if rh.Addr != svc.Dests[i].Addr || rh.Port != svc.Dests[i].Port {
				t.Fatalf("real %v:%d, dest %+v", rh.Addr, rh.Port, svc.Dests[i])
			}
			for _, c := range rh.Checks {
				if c.Kind == config.CheckInvalid || c.DelayLoop <= 0 || c.Retry < 0 || c.DelayBeforeRetry < 0 || c.Warmup < 0 {
					t.Fatalf("check %+v", c)
				}
				if c.Kind != config.CheckMisc && (c.ConnectTimeout <= 0 || !c.ConnectIP.IsValid()) {
					t.Fatalf("check %+v", c)
				}
				if c.Kind == config.CheckMisc && (len(c.MiscPath) == 0 || c.MiscTimeout <= 0) {
					t.Fatalf("check %+v", c)
				}
			}
		}
	}
}
