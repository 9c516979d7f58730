package load

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ulvs/ulvs/config"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Format
	}{
		{"empty", "", TOML},
		{"comments only", "# nothing yet\n\n   # still nothing\n", TOML},
		{"table header", "# ulvs\n[director]\ninterfaces = [\"eth0\"]\n", TOML},
		{"array of tables", "[[virtual_server]]\n", TOML},
		{"key = value first", "title = \"x\"\n", TOML},
		{"dotted key", "director.interfaces = [\"eth0\"]\n", TOML},
		{"quoted key", "\"director\" . socket=\"/x\"\n", TOML},
		{"byte order mark", "\xef\xbb\xbf[director]\n", TOML},
		{"global_defs", "global_defs {\n  router_id LVS_1\n}\n", Keepalived},
		{"virtual_server", "virtual_server 10.0.0.1 80 {\n  lb_algo rr\n}\n", Keepalived},
		{"vrrp_instance", "vrrp_instance VI_1 {\n", Keepalived},
		{"brace on next line", "virtual_server 10.0.0.1 80\n{\n", Keepalived},
		{"bang comment", "! Configuration File for keepalived\nglobal_defs {\n", Keepalived},
		{"hash then block", "# keepalived\n\nvrrp_script chk {\n", Keepalived},
		{"definition", "$VIP=10.0.0.1\n", Keepalived},
		{"include", "include /etc/keepalived/conf.d/*.conf\n", Keepalived},
		{"unknown block keyword", "my_block {\n", Keepalived},
		{"shell script", "#!/bin/sh\nipvsadm -A -t 10.0.0.1:80\n", Unknown},
		{"lvs.cf", "serial_no = 1\n", Piranha},
		{"lvs.cf comment first", "# lvs.cf\n\nprimary = 10.0.0.1\n", Piranha},
		{"lvs.cf glued equals", "network=direct\n", Piranha},
		{"lvs.cf virtual first", "virtual web {\n", Piranha},
		{"lvs.cf failover first", "failover ftp {\n", Piranha},
		{"keepalived virtual_server is not lvs.cf", "virtual_server 10.0.0.1 80 {\n", Keepalived},
		{"TOML key like no lvs.cf keyword", "title = 1\n", TOML},
		{"lvs_dr.conf", "#lvs_dr.conf (C) Joseph Mack\n\n  LVS_TYPE=VS_DR\n", LVSConf},
		{"lvs_dr.conf VIP first", "VIP=eth0:110 lvs 255.255.255.255 lvs\n", LVSConf},
		{"lower-case vip is TOML", "vip = \"x\"\n", TOML},
		{"prose", "hello world\n", Unknown},
		{"json", "{\"a\": 1}\n", Unknown},
		{"bad toml header", "director]\n", Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect([]byte(tt.text)); got != tt.want {
				t.Errorf("Detect(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("toml", func(t *testing.T) {
		f, err := File(filepath.Join("..", "..", "examples", "ulvs.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Format != "toml" || len(f.Rules.Services) == 0 {
			t.Errorf("Format = %q, %d services; want toml and the example's services", f.Format, len(f.Rules.Services))
		}
	})
	t.Run("keepalived", func(t *testing.T) {
		f, err := File(write("keepalived.conf", "! Configuration File for keepalived\nvirtual_server 10.0.0.100 80 {\n  lb_kind DR\n  real_server 10.0.0.11 80 {\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Format != "keepalived" || len(f.Rules.Services) != 1 || len(f.Health) != 1 {
			t.Errorf("Format = %q, %d services, %d checked; want keepalived, 1, 1", f.Format, len(f.Rules.Services), len(f.Health))
		}
	})
	t.Run("piranha", func(t *testing.T) {
		f, err := File(filepath.Join("..", "piranha", "testdata", "seed001.cf"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Format != "piranha" || len(f.Rules.Services) != 2 || len(f.Health) != 2 || f.Pulse == nil {
			t.Errorf("Format = %q, %d services, %d checked, pulse %v; want piranha, 2, 2, set", f.Format, len(f.Rules.Services), len(f.Health), f.Pulse)
		}
	})
	t.Run("lvsdr", func(t *testing.T) {
		f, err := File(write("lvs_dr.conf", "#lvs_dr.conf\nLVS_TYPE=VS_DR\nINITIAL_STATE=on\nVIP=eth0:110 10.0.0.100 255.255.255.255 10.0.0.100\nSERVICE=t 80 rr 10.0.0.11 10.0.0.12:80,2\nSERVER_VIP_DEVICE=lo:0\n"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Format != "lvsdr" || len(f.Rules.Services) != 1 || len(f.Rules.Services[0].Dests) != 2 || f.Interfaces[0] != "eth0" {
			t.Errorf("Format = %q, services %+v, interfaces %v", f.Format, f.Rules.Services, f.Interfaces)
		}
	})
	errTests := []struct {
		name, text, want string
	}{
		{"neither", "#!/bin/sh\nipvsadm -C\n",
			`x.conf:2: not a ulvs TOML file, keepalived.conf, Piranha lvs.cf nor LVS configure lvs_dr.conf (it starts with "ipvsadm -C")`},
		{"long first line", "this line is much longer than forty bytes, so it is cut\n",
			`x.conf:1: not a ulvs TOML file, keepalived.conf, Piranha lvs.cf nor LVS configure lvs_dr.conf (it starts with "this line is much longer than forty byte...")`},
		{"lvs.cf errors are the Piranha parser's", "serial_no = 1\nnetwork = dr\n",
			`x.conf:2: network: invalid argument "dr": direct, nat or tunnel`},
		{"lvs_dr.conf errors are the configure parser's", "LVS_TYPE=VS_DR\nVIP=eth0\n",
			`x.conf:2: VIP: takes DEVICE ADDRESS [NETMASK [BROADCAST]] (got "eth0")`},
		{"keepalived errors are the keepalived parser's", "! keepalived\nvirtual_server 10.0.0.300 80 {\n}\n",
			"x.conf:2: virtual_server: \"10.0.0.300\" is not an IP address"},
		{"toml errors are the TOML parser's", "[director]\ninterfaces = []\n",
			"x.conf:2: director.interfaces: must name at least one interface"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := File(write("x.conf", tt.text))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("File: %v, want a *config.Error", err)
			}
			ce.File = filepath.Base(ce.File)
			if got := ce.Error(); got != tt.want {
				t.Errorf("File error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
	if _, err := File(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("File(missing) = %v, want ErrNotExist", err)
	}
}
