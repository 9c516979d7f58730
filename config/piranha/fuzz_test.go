package piranha

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/configtest"
)

// FuzzParse feeds arbitrary text to Parse: it must not panic, a failure
// must be a *config.Error, and a success must give rules that ipvsadm's
// edits accept in order and one health entry per service naming its
// dests, each with one nanny check whose timing is set.
func FuzzParse(f *testing.F) {
	configtest.AddFiles(f, "testdata/*.cf")
	f.Add(virtualWith("fwmark = 3\nprotocol = udp\npersistent = 5\npmask = 255.255.0.0\nsorry_server = 10.0.0.9\n", "port = 99\nweight = 0\n"))
	f.Add("network = nat\nnat_router = 1.2.3.4 e:1\nnat_nmask = 255.255.255.0\nfailover x {\n}\n")
	f.Fuzz(func(t *testing.T, text string) {
		file, err := Parse("f.cf", []byte(text), testOpts())
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v, want *config.Error", err, err)
			}
			return
		}
		configtest.ReplayRules(t, file)
		if len(file.Health) != len(file.Rules.Services) {
			t.Fatalf("%d health entries for %d services", len(file.Health), len(file.Rules.Services))
		}
		for i, vh := range file.Health {
			s := file.Rules.Services[i]
			if vh.Service != s.Key() || len(vh.Reals) != len(s.Dests) {
				t.Fatalf("health %d does not match service %+v", i, s)
			}
			for j, r := range vh.Reals {
				if r.Addr != s.Dests[j].Addr || r.Port != s.Dests[j].Port || len(r.Checks) != 1 {
					t.Fatalf("real %+v does not match dest %+v", r, s.Dests[j])
				}
				c := r.Checks[0]
				if c.Kind != config.CheckNanny || c.Timeout <= 0 || c.Reentry <= 0 || c.ConnectPort == 0 && r.Port == 0 {
					t.Fatalf("check %+v", c)
				}
			}
		}
		for _, name := range file.Interfaces {
			if msg := config.CheckIfName(name); msg != "" {
				t.Fatalf("interface %q: %s", name, msg)
			}
		}
		if file.Pulse == nil || file.Pulse.Primary.IsValid() && !file.Pulse.Primary.Is4() || file.Pulse.NATRouter.IsValid() && file.Pulse.NATRouter.Addr() == (netip.Addr{}) {
			t.Fatalf("pulse %+v", file.Pulse)
		}
	})
}
