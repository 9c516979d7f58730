package lvsdr

import (
	"errors"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/configtest"
)

// FuzzParse feeds arbitrary text to ParseConf: no panic, a failure is a
// *config.Error, and a success gives rules ipvsadm's edits accept, valid
// interfaces, and real-server addresses that are the dests'.
func FuzzParse(f *testing.F) {
	configtest.AddFiles(f, "testdata/*.conf")
	f.Add("LVS_TYPE=VS_NAT\nINITIAL_STATE=off\nVIP=e:1 1.2.3.4\nSERVICE=u 0 lc ppc -t 9 rs1:53,4 rs2\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseConf("f.conf", []byte(text), testOpts(t, nil))
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v, want *config.Error", err, err)
			}
			return
		}
		configtest.ReplayRules(t, c.File)
		if len(c.File.Interfaces) == 0 {
			t.Fatal("no interface")
		}
		for _, name := range c.File.Interfaces {
			if msg := config.CheckIfName(name); msg != "" {
				t.Fatalf("interface %q: %s", name, msg)
			}
		}
		n := 0
		for _, s := range c.File.Rules.Services {
			if s.Addr != c.Director.VIP || len(s.Dests) == 0 {
				t.Fatalf("service %+v", s)
			}
			n += len(s.Dests)
		}
		if len(c.RealServer.Servers) == 0 || len(c.RealServer.Servers) > n {
			t.Fatalf("real servers %v for %d dests", c.RealServer.Servers, n)
		}
	})
}
