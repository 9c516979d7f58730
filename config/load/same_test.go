package load

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
)

// TestSameModel: a configuration said in keepalived.conf and in ulvs.toml
// is one model: the same rules and, every default resolved, the same
// health checks. Each pair states one service both ways.
func TestSameModel(t *testing.T) {
	const head = "[director]\ninterfaces = [\"eth0\"]\n"
	tests := []struct {
		name, keepalived, toml string
	}{
		{"TCP_CHECK defaults",
			"virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.0.1.1 80 {\n  weight 1\n  TCP_CHECK {\n  }\n }\n}\n",
			head + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nscheduler = \"rr\"\n[[virtual_server.real_server]]\naddress = \"10.0.1.1:80\"\n[[virtual_server.real_server.check]]\ntype = \"tcp\"\n"},
		{"examples/health.toml",
			"virtual_server 10.77.0.100 80 {\n delay_loop 10\n lb_algo rr\n lb_kind DR\n protocol TCP\n sorry_server 10.77.0.13 80\n" +
				" real_server 10.77.0.11 80 {\n  weight 1\n  inhibit_on_failure\n  TCP_CHECK { connect_timeout 3 }\n }\n" +
				" real_server 10.77.0.12 80 {\n  weight 1\n  HTTP_GET {\n   url {\n    path /health\n    status_code 200\n   }\n   connect_timeout 3\n   retry 2\n   delay_before_retry 2\n  }\n }\n}\n",
			""},
		{"every kind's defaults, service settings",
			"virtual_server 10.0.0.1 80 {\n delay_loop 7\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n quorum 2\n hysteresis 1\n alpha\n omega\n virtualhost www.example.com\n" +
				" quorum_up \"/bin/up 'a b'\"\n" +
				" real_server 10.0.1.1 8080 {\n  weight 2\n  notify_down /bin/down\n" +
				"  HTTP_GET {\n   url {\n    path /\n   }\n  }\n  SSL_GET {\n   url {\n    path /s\n    digest 9b3a0c85a887a256d6939da88aabd8cd\n   }\n  }\n" +
				"  MISC_CHECK {\n   misc_path \"/bin/check -x\"\n  }\n  SMTP_CHECK { }\n  DNS_CHECK {\n   type A\n   name example.com\n  }\n" +
				"  UDP_CHECK { }\n  PING_CHECK { }\n }\n}\n",
			head + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nforward = \"nat\"\ndelay_loop = 7\nquorum = 2\nhysteresis = 1\nalpha = true\nomega = true\nvirtualhost = \"www.example.com\"\n" +
				"quorum_up = \"/bin/up 'a b'\"\n" +
				"[[virtual_server.real_server]]\naddress = \"10.0.1.1:8080\"\nweight = 2\nnotify_down = \"/bin/down\"\n" +
				"[[virtual_server.real_server.check]]\ntype = \"http\"\nurl = [{path = \"/\"}]\n" +
				"[[virtual_server.real_server.check]]\ntype = \"ssl\"\nurl = [{path = \"/s\", digest = \"9b3a0c85a887a256d6939da88aabd8cd\"}]\n" +
				"[[virtual_server.real_server.check]]\ntype = \"misc\"\nmisc_path = \"/bin/check -x\"\n" +
				"[[virtual_server.real_server.check]]\ntype = \"smtp\"\n" +
				"[[virtual_server.real_server.check]]\ntype = \"dns\"\ndns_type = \"A\"\ndns_name = \"example.com\"\n" +
				"[[virtual_server.real_server.check]]\ntype = \"udp\"\n" +
				"[[virtual_server.real_server.check]]\ntype = \"ping\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Parse("keepalived.conf", []byte(tt.keepalived))
			if err != nil {
				t.Fatalf("keepalived.conf: %v", err)
			}
			var tomlPath = "ulvs.toml"
			text := []byte(tt.toml)
			if tt.toml == "" {
				tomlPath = "../../examples/health.toml"
				f, err := File(tomlPath)
				if err != nil {
					t.Fatal(err)
				}
				compareModels(t, k, f.Rules, f.Health)
				return
			}
			f, err := Parse(tomlPath, text)
			if err != nil {
				t.Fatalf("ulvs.toml: %v", err)
			}
			compareModels(t, k, f.Rules, f.Health)
		})
	}
}

func compareModels(t *testing.T, k *config.File, rules config.Rules, health []config.VirtualHealth) {
	t.Helper()
	opts := cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmpopts.EquateEmpty()}
	if diff := cmp.Diff(k.Rules, rules, opts); diff != "" {
		t.Errorf("Rules (-keepalived.conf +ulvs.toml):\n%s", diff)
	}
	if diff := cmp.Diff(k.Health, health, opts); diff != "" {
		t.Errorf("Health (-keepalived.conf +ulvs.toml):\n%s", diff)
	}
}
