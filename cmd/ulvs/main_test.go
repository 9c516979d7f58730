package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// TestMain lets the test binary stand in for the ulvs binary: `ulvs lab up`
// starts os.Executable() as `... lab serve` (and `... realserver up` in a
// tun lab) and the demo as `... ulvsd`, which here is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "lab" || os.Args[1] == "ulvsd" || os.Args[1] == "realserver") {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no args", nil, 2, "", "Usage: ulvs COMMAND"},
		{"help", []string{"help"}, 0, "Usage: ulvs COMMAND", ""},
		{"help lab", []string{"help", "lab"}, 0, "Usage: ulvs lab COMMAND", ""},
		{"lab help", []string{"lab", "help"}, 0, "Usage: ulvs lab COMMAND", ""},
		{"unknown", []string{"frob"}, 2, "", `unknown command "frob"`},
		{"lab no args", []string{"lab"}, 2, "", "Usage: ulvs lab COMMAND"},
		{"lab unknown", []string{"lab", "sideways"}, 2, "", `unknown command "sideways"`},
		{"lab up bad flag", []string{"lab", "up", "--nope"}, 2, "", "flag provided but not defined"},
		{"lab up -h", []string{"lab", "up", "-h"}, 0, "", "Usage: ulvs lab COMMAND"},
		{"lab demo bad mode", []string{"lab", "demo", "--mode", "ipip"}, 2, "", `"ipip" for flag -mode`},
		{"lab exec no cmd", []string{"lab", "exec", "client"}, 2, "", "want NODE CMD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.wantCode, errb.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.wantErr)
			}
		})
	}
}

func TestParseUp(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    upOptions
		wantErr error
	}{
		{"defaults", nil, upOptions{name: "ulvs", realServers: 2}, nil},
		{"all", []string{"--name", "t1", "--real-servers", "4", "--offloads-off"}, upOptions{name: "t1", realServers: 4, offloadsOff: true}, nil},
		{"single dash", []string{"-name=t2", "-real-servers=1"}, upOptions{name: "t2", realServers: 1}, nil},
		{"zero servers", []string{"--real-servers", "0"}, upOptions{}, errUsage},
		{"too many servers", []string{"--real-servers", "90"}, upOptions{}, errUsage},
		{"bad name", []string{"--name", "a/b"}, upOptions{}, errUsage},
		{"empty name", []string{"--name", ""}, upOptions{}, errUsage},
		{"extra arg", []string{"now"}, upOptions{}, errUsage},
		{"help", []string{"-h"}, upOptions{}, flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUp(tt.args, io.Discard)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("error: got %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseExec(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    execOptions
		wantErr bool
	}{
		{"client curl", []string{"client", "curl", "-s", "10.77.0.100"},
			execOptions{name: "ulvs", node: "client", cmd: []string{"curl", "-s", "10.77.0.100"}}, false},
		{"named", []string{"--name", "x", "rs12", "ip", "addr"},
			execOptions{name: "x", node: "rs12", cmd: []string{"ip", "addr"}}, false},
		// Flags after NODE belong to the command.
		{"command flags", []string{"director", "ulvs", "ulvsd", "--name", "y"},
			execOptions{name: "ulvs", node: "director", cmd: []string{"ulvs", "ulvsd", "--name", "y"}}, false},
		{"switch", []string{"sw", "bridge", "link"}, execOptions{name: "ulvs", node: "sw", cmd: []string{"bridge", "link"}}, false},
		{"rs0", []string{"rs0", "true"}, execOptions{}, true},
		{"host", []string{"host", "true"}, execOptions{}, true},
		{"prefixed node", []string{"ulvs-client", "true"}, execOptions{}, true},
		{"no command", []string{"client"}, execOptions{}, true},
		{"nothing", nil, execOptions{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExec(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseOthers(t *testing.T) {
	if name, err := parseDown(nil, io.Discard); err != nil || name != "ulvs" {
		t.Errorf("parseDown(): got %q, %v; want ulvs", name, err)
	}
	if name, err := parseDown([]string{"--name", "abc"}, io.Discard); err != nil || name != "abc" {
		t.Errorf("parseDown(--name abc): got %q, %v", name, err)
	}
	if _, err := parseDown([]string{"abc"}, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("parseDown(abc): got %v, want a usage error", err)
	}
	if o, err := parseServe([]string{"--name", "rs1", "--lab", "p"}, io.Discard); err != nil || o != (serveOptions{name: "rs1", lab: "p", addr: ":80"}) {
		t.Errorf("parseServe: got %+v, %v", o, err)
	}
	if _, err := parseServe(nil, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("parseServe without --name: got %v, want a usage error", err)
	}
	if o, err := parseDemo(nil, io.Discard); err != nil || o != (demoOptions{mode: "dr"}) {
		t.Errorf("parseDemo: got %+v, %v", o, err)
	}
	if o, err := parseDemo([]string{"--offloads-off"}, io.Discard); err != nil || !o.offloadsOff {
		t.Errorf("parseDemo --offloads-off: got %+v, %v", o, err)
	}
	if o, err := parseDemo([]string{"--ipv6", "--mode", "nat"}, io.Discard); err != nil || o != (demoOptions{mode: "nat", ipv6: true}) {
		t.Errorf("parseDemo --ipv6 --mode nat: got %+v, %v", o, err)
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		script string
		want   int
	}{{"exit 0", 0}, {"exit 3", 3}, {"kill -TERM $$", 143}, {"kill -KILL $$", 137}} {
		err := exec.Command("sh", "-c", c.script).Run()
		if got := exitCode(err, io.Discard); got != c.want {
			t.Errorf("%q: got %d, want %d", c.script, got, c.want)
		}
	}
	if got := exitCode(errors.New("start failed"), io.Discard); got != 1 {
		t.Errorf("non-exit error: got %d, want 1", got)
	}
}

func skipUnprivileged(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("integration test: needs the ip tool")
	}
}

// demoModes are the demo's modes and the forwarding method ulvsadm -L -n
// shows for each.
var demoModes = []struct{ mode, forward string }{
	{"dr", "Route"}, {"nat", "Masq"}, {"fullnat", "FullNat"}, {"tun", "Tunnel"},
}

// TestIntegrationDemo runs `ulvs lab demo`: the seed's six requests through
// a real ulvsd must alternate, and nothing of the lab may stay behind.
func TestIntegrationDemo(t *testing.T) {
	skipUnprivileged(t)
	for _, tc := range demoModes {
		t.Run(tc.mode, func(t *testing.T) {
			out := runDemo(t, "--mode", tc.mode)
			for _, want := range []string{"1: rs", "6: rs", "TCP  10.77.0.100:80 rr", " " + tc.forward + " ", "demo ok"} {
				if !strings.Contains(out, want) {
					t.Errorf("demo output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestIntegrationDemoIPv6 runs `ulvs lab demo --ipv6` in each mode: the
// six requests to the IPv6 VIP through a real ulvsd (DR, NAT66, FULLNAT
// with IPv6 local addresses, ip6ip6) must alternate, ulvsadm -L -n must
// list the IPv6 service as ipvsadm does, and nothing of the lab may stay
// behind.
func TestIntegrationDemoIPv6(t *testing.T) {
	skipUnprivileged(t)
	for _, tc := range demoModes {
		t.Run(tc.mode, func(t *testing.T) {
			out := runDemo(t, "--ipv6", "--mode", tc.mode)
			for _, want := range []string{"fetches http://[2001:db8:77::100]/ 6 times", "1: rs", "6: rs",
				"TCP  [2001:db8:77::100]:80 rr", "  -> [2001:db8:77:", " " + tc.forward + " ", "demo ok: 6 answers through 2001:db8:77::100"} {
				if !strings.Contains(out, want) {
					t.Errorf("demo output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "10.77.0.100") {
				t.Errorf("the IPv6 demo shows the IPv4 VIP:\n%s", out)
			}
		})
	}
}

// runDemo runs `ulvs lab demo ARGS...`, which must succeed and leave none
// of its namespaces behind, and returns its output.
func runDemo(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"lab", "demo"}, args...), &out, &errb); code != 0 {
		t.Errorf("lab demo %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	// The demo's prefix is lab.UniquePrefix(): "ulvs" and our PID.
	mine := "ulvs" + strconv.Itoa(os.Getpid())
	for n := range labNamespaces(t) {
		if strings.HasPrefix(n, mine) {
			t.Errorf("demo left namespace %s behind", n)
		}
	}
	return out.String()
}

// labNamespaces lists the named network namespaces.
func labNamespaces(t *testing.T) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		m[e.Name()] = true
	}
	return m
}

// TestIntegrationLabCLI drives `ulvs lab up`, `exec` and `down` as a user
// would, with this test binary standing in for ulvs.
func TestIntegrationLabCLI(t *testing.T) {
	skipUnprivileged(t)
	name := "t" + lab.UniquePrefix()
	t.Cleanup(func() { lab.Remove(lab.StateDir, name) })

	var out, errb bytes.Buffer
	if code := run([]string{"lab", "up", "--name", name, "--real-servers", "2"}, &out, &errb); code != 0 {
		t.Fatalf("lab up: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), name+"-director") {
		t.Errorf("lab up output lacks the director namespace:\n%s", out.String())
	}
	st, err := lab.ReadState(lab.StatePath(lab.StateDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Processes) != 2 {
		t.Fatalf("state: %d processes, want 2", len(st.Processes))
	}
	for _, p := range st.Processes {
		if !p.Running() {
			t.Errorf("server %s (pid %d) is not running", p.Node, p.PID)
		}
	}
	if code := run([]string{"lab", "up", "--name", name}, io.Discard, io.Discard); code == 0 {
		t.Error("second lab up with the same name: exit 0, want failure")
	}

	// The background servers answer from the client namespace.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := st.Lab.Client.HTTPClient()
	for i, want := range []string{"rs1\n", "rs2\n"} {
		got, err := httpGet(ctx, c, "http://"+st.Lab.RIPs[i].String()+"/")
		if err != nil || got != want {
			t.Errorf("GET %s: got %q, %v; want %q", st.Lab.RIPs[i], got, err, want)
		}
	}
	// exec keeps the command's exit code.
	if code := run([]string{"lab", "exec", "--name", name, "client", "sh", "-c", "exit 5"}, io.Discard, io.Discard); code != 5 {
		t.Errorf("lab exec exit 5: got %d", code)
	}
	if code := run([]string{"lab", "exec", "--name", name, "rs9", "true"}, io.Discard, io.Discard); code == 0 {
		t.Error("lab exec in a missing node: exit 0")
	}

	if code := run([]string{"lab", "down", "--name", name}, io.Discard, &errb); code != 0 {
		t.Fatalf("lab down: exit %d: %s", code, errb.String())
	}
	for _, p := range st.Processes {
		if p.Running() {
			t.Errorf("server %s (pid %d) survived lab down", p.Node, p.PID)
		}
	}
	for _, n := range st.Lab.Namespaces() {
		if n.Exists() {
			t.Errorf("namespace %s survived lab down", n)
		}
	}
	if code := run([]string{"lab", "down", "--name", name}, io.Discard, io.Discard); code != 0 {
		t.Errorf("second lab down: exit %d", code)
	}
}
