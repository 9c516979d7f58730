package lab

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		n       int
		wantErr bool
	}{
		{"two", "t1", 2, false},
		{"max", "t1", MaxRealServers, false},
		{"zero", "t1", 0, true},
		{"too many", "t1", MaxRealServers + 1, true},
		{"empty prefix", "", 2, true},
		{"dash", "a-b", 2, false},
		{"dash first", "-a", 2, true},
		{"slash", "a/b", 2, true},
		{"space", "a b", 2, true},
		{"dot start", ".a", 2, true},
		{"long", strings.Repeat("a", 33), 2, true},
		{"32 bytes", strings.Repeat("a", 32), 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.prefix, tt.n)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%q, %d): got error %v, want error %v", tt.prefix, tt.n, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(l.RS) != tt.n || len(l.RIPs) != tt.n {
				t.Errorf("got %d RS and %d RIPs, want %d", len(l.RS), len(l.RIPs), tt.n)
			}
			last := l.RIPs[len(l.RIPs)-1]
			if !last.Less(l.VIP) {
				t.Errorf("last RIP %s is not below the VIP %s", last, l.VIP)
			}
		})
	}
	l, _ := New("p", 2)
	for _, c := range []struct{ node, want string }{
		{"sw", "p-sw"}, {"client", "p-client"}, {"director", "p-director"}, {"rs1", "p-rs1"}, {"rs2", "p-rs2"},
	} {
		if got, ok := l.Node(c.node); !ok || got.Name != c.want {
			t.Errorf("Node(%q): got %q, %v; want %q", c.node, got.Name, ok, c.want)
		}
	}
	for _, bad := range []string{"rs3", "rs0", "", "p-client", "host"} {
		if got, ok := l.Node(bad); ok {
			t.Errorf("Node(%q): got %q, want none", bad, got.Name)
		}
	}
	if l.RIPs[0].String() != "10.77.0.11" || l.RIPs[1].String() != "10.77.0.12" {
		t.Errorf("RIPs: got %v, want [10.77.0.11 10.77.0.12]", l.RIPs)
	}
}

func TestUniquePrefix(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		p := UniquePrefix()
		if !ValidPrefix(p) {
			t.Fatalf("UniquePrefix %q is not a valid prefix", p)
		}
		seen[p] = true
	}
	if len(seen) < 15 {
		t.Errorf("UniquePrefix repeats: %d distinct of 20", len(seen))
	}
}

func TestStateRoundTrip(t *testing.T) {
	l, err := New("rt", 3)
	if err != nil {
		t.Fatal(err)
	}
	st := &State{Lab: l, Processes: []Process{
		{Node: "rs1", PID: 4242, Args: []string{"/usr/bin/ulvs", "lab", "serve", "--name", "rs1"}, Log: "/run/x.log"},
	}}
	path := StatePath(filepath.Join(t.TempDir(), "sub"), "rt")
	if err := WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Lab.Prefix != "rt" || len(got.Lab.RS) != 3 || got.Lab.RS[2].Name != "rt-rs3" ||
		got.Lab.VIP != VIP || got.Lab.RIPs[2].String() != "10.77.0.13" || got.Lab.DirectorIface != "d-eth0" {
		t.Errorf("lab after round trip: %+v", got.Lab)
	}
	if len(got.Processes) != 1 || got.Processes[0].PID != 4242 || got.Processes[0].Args[3] != "--name" {
		t.Errorf("processes after round trip: %+v", got.Processes)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"director": "rt-director"`) {
		t.Errorf("namespaces are not plain strings in the file:\n%s", b)
	}
}

func TestReadStateRejects(t *testing.T) {
	good := `{"lab":{"prefix":"p","switch":"p-sw","client":"p-client","director":"p-director",
"rs":["p-rs1"],"vip":"10.77.0.100","dip":"10.77.0.2","rips":["10.77.0.11"],"client_addr":"10.77.0.10",
"director_iface":"d-eth0"}%s}`
	tests := []struct {
		name    string
		text    string
		wantErr bool
	}{
		{"good", strings.Replace(good, "%s", "", 1), false},
		{"good with process", strings.Replace(good, "%s", `,"processes":[{"node":"rs1","pid":7,"args":["x"]}]`, 1), false},
		{"foreign namespace", strings.Replace(strings.Replace(good, "%s", "", 1), `"p-client"`, `"host"`, 1), true},
		{"bad prefix", strings.Replace(strings.Replace(good, "%s", "", 1), `"prefix":"p"`, `"prefix":"../x"`, 1), true},
		{"unknown field", strings.Replace(good, "%s", `,"extra":1`, 1), true},
		{"zero pid", strings.Replace(good, "%s", `,"processes":[{"node":"rs1","pid":0,"args":["x"]}]`, 1), true},
		{"no args", strings.Replace(good, "%s", `,"processes":[{"node":"rs1","pid":9}]`, 1), true},
		{"rips short", strings.Replace(strings.Replace(good, "%s", "", 1), `"rips":["10.77.0.11"]`, `"rips":[]`, 1), true},
		{"backup", strings.Replace(good, "}%s", `,"backup":"p-director2","backup_dip":"10.77.0.3"}`, 1), false},
		{"foreign backup", strings.Replace(good, "}%s", `,"backup":"host","backup_dip":"10.77.0.3"}`, 1), true},
		{"no lab", `{}`, true},
		{"not json", `lab`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.json")
			os.WriteFile(path, []byte(tt.text), 0o644)
			_, err := ReadState(path)
			if (err != nil) != tt.wantErr {
				t.Errorf("ReadState: got error %v, want error %v", err, tt.wantErr)
			}
		})
	}
	if _, err := ReadState(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want not-exist", err)
	}
}

func TestProcessStop(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("needs sleep")
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer cmd.Process.Kill()

	other := Process{Node: "x", PID: cmd.Process.Pid, Args: []string{sleep, "31"}}
	if other.Running() {
		t.Error("Running with other args: got true")
	}
	if err := other.Stop(time.Second); err != nil {
		t.Errorf("Stop with other args: %v", err)
	}
	select {
	case <-exited:
		t.Fatal("Stop killed a process whose command line does not match")
	case <-time.After(100 * time.Millisecond):
	}

	p := Process{Node: "x", PID: cmd.Process.Pid, Args: []string{sleep, "30"}}
	if !p.Running() {
		t.Fatal("Running: got false for the live process")
	}
	if err := p.Stop(2 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not end the process")
	}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("Stop of an ended process: %v", err)
	}
}

func TestDemoConfig(t *testing.T) {
	b, err := DemoConfig("dr")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Director struct {
			Interfaces []string `toml:"interfaces"`
			Socket     string   `toml:"socket"`
			Workers    int      `toml:"workers"`
		} `toml:"director"`
		VirtualServer []struct {
			Protocol   string `toml:"protocol"`
			Address    string `toml:"address"`
			Scheduler  string `toml:"scheduler"`
			Forward    string `toml:"forward"`
			RealServer []struct {
				Address string `toml:"address"`
				Weight  int    `toml:"weight"`
			} `toml:"real_server"`
		} `toml:"virtual_server"`
	}
	md, err := toml.Decode(string(b), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Errorf("keys this test does not know: %v", und)
	}
	if len(cfg.Director.Interfaces) != 1 || cfg.Director.Interfaces[0] != DirectorIface {
		t.Errorf("interfaces: got %v, want [%s]", cfg.Director.Interfaces, DirectorIface)
	}
	if len(cfg.VirtualServer) != 1 {
		t.Fatalf("virtual servers: got %d, want 1", len(cfg.VirtualServer))
	}
	vs := cfg.VirtualServer[0]
	if vs.Address != "10.77.0.100:80" || vs.Forward != "dr" || vs.Scheduler != "rr" || vs.Protocol != "tcp" {
		t.Errorf("virtual server: %+v", vs)
	}
	if len(vs.RealServer) != 2 || vs.RealServer[0].Address != "10.77.0.11:80" || vs.RealServer[1].Address != "10.77.0.12:80" {
		t.Errorf("real servers: %+v", vs.RealServer)
	}
	// dr.toml is a copy of examples/ulvs.toml (go:embed cannot reach it).
	if orig, err := os.ReadFile("../examples/ulvs.toml"); err == nil && string(orig) != string(b) {
		t.Error("lab/dr.toml differs from examples/ulvs.toml: run go generate ./lab")
	}
	if _, err := DemoConfig("ipip"); err == nil {
		t.Error(`DemoConfig("ipip"): got nil error`)
	}
}
