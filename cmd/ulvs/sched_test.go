package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runSchedCmd runs ulvs sched with args and returns stdout, stderr and the
// exit code.
func runSchedCmd(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(append([]string{"sched"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// picksOf returns the scheduler's picks from ulvs sched output, space
// separated.
func picksOf(out string) string {
	var picks []string
	for _, line := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(line, ": ")
		if !ok || line == "" || line[0] < '0' || line[0] > '9' {
			continue
		}
		name, _, _ := strings.Cut(rest, "\t")
		picks = append(picks, name)
	}
	return strings.Join(picks, " ")
}

func TestSchedCommand(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantPicks string
		wantOut   []string // lines the output must contain
	}{
		{
			// The example. ipvsadm adds A, B, C in that order,
			// so the kernel walks C B A; the first wrr pass is the
			// cw = 1 one (see sched/wrr_test.go).
			name:      "wrr A:4 B:3 C:2",
			args:      []string{"-s", "wrr", "-r", "A:4", "-r", "B:3", "-r", "C:2", "-n", "18"},
			wantPicks: "C B A A B A C B A C B A A B A C B A",
			wantOut:   []string{"1: C\n", "18: A\n", "A     weight 4     picks 8", "B     weight 3     picks 6", "C     weight 2     picks 4"},
		},
		{
			// rr starts at the head of the list: the last -r.
			name:      "rr starts with the newest",
			args:      []string{"-s", "rr", "-r", "A", "-r", "B", "-r", "C", "-n", "4"},
			wantPicks: "C B A C",
		},
		{
			// Without --conns every wlc pick sees idle dests: the
			// newest wins each time.
			name:      "wlc without --conns",
			args:      []string{"-s", "wlc", "-r", "A", "-r", "B", "-n", "3"},
			wantPicks: "B B B",
		},
		{
			// With --conns each pick is an active connection: B, A,
			// then B again (tie, the newest first).
			name:      "wlc with --conns",
			args:      []string{"-s", "wlc", "-r", "A", "-r", "B", "-n", "4", "--conns"},
			wantPicks: "B A B A",
		},
		{
			// sched/sh_test.go: 203.0.113.x there; here clients
			// 10.0.0.1..4 (list C B A, weights 2 3 4).
			name:    "sh with clients prints the flows",
			args:    []string{"-s", "sh", "-r", "A:4", "-r", "B:3", "-r", "C:2", "-n", "2", "--clients", "2"},
			wantOut: []string{"1: ", "\t10.0.0.1:1024 -> 198.51.100.1:80\n", "\t10.0.0.2:1025 -> 198.51.100.2:80\n"},
		},
		{
			name:      "mh with all weights 0 picks none",
			args:      []string{"-s", "mh", "-r", "A:0", "-n", "2"},
			wantPicks: "- -",
			wantOut:   []string{"none", "picks 2"},
		},
		{
			name:      "addresses as servers",
			args:      []string{"-s", "rr", "-r", "10.9.0.1", "-r", "10.9.0.2:3", "-n", "2"},
			wantPicks: "10.9.0.2 10.9.0.1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runSchedCmd(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if tc.wantPicks != "" {
				if got := picksOf(out); got != tc.wantPicks {
					t.Errorf("picks %q, want %q\n%s", got, tc.wantPicks, out)
				}
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestSchedHashingIsStable checks that a hashing scheduler gives the same
// picks for the same clients run after run (the tables come from the dest
// list alone), and that --clients cycles: pick k+N repeats pick k.
func TestSchedHashingIsStable(t *testing.T) {
	for _, s := range []string{"dh", "sh", "mh"} {
		args := []string{"-s", s, "-r", "A:1", "-r", "B:2", "-r", "C:3", "-n", "20", "--clients", "10"}
		out1, _, _ := runSchedCmd(args...)
		out2, _, _ := runSchedCmd(args...)
		if out1 != out2 {
			t.Errorf("%s: two runs differ", s)
		}
		picks := strings.Fields(picksOf(out1))
		for k := range 10 {
			if picks[k] != picks[k+10] {
				t.Errorf("%s: pick %d %s, pick %d %s, want the same client's dest", s, k+1, picks[k], k+11, picks[k+10])
			}
		}
	}
}

func TestSchedFlowsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flows")
	// Two lines with the same destination address: lblc keeps it on one
	// dest; the third, another address, goes to wlc's pick.
	data := "# client -> destination\n10.1.1.1:5000 198.51.100.9:80\n10.1.1.2 198.51.100.9\n\n10.1.1.3:7 198.51.100.10:8080 # other\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runSchedCmd("-s", "lblc", "-r", "A", "-r", "B", "--flows", path, "-n", "3", "--conns")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got, want := picksOf(out), "B B A"; got != want {
		t.Errorf("picks %q, want %q\n%s", got, want, out)
	}
	for _, w := range []string{"10.1.1.1:5000 -> 198.51.100.9:80", "10.1.1.2:0 -> 198.51.100.9:80", "10.1.1.3:7 -> 198.51.100.10:8080"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestSchedCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("10.0.0.1 10.0.0.2 10.0.0.3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no servers", []string{"-s", "rr"}, 2, "no real servers"},
		{"unknown scheduler", []string{"-s", "xyz", "-r", "A"}, 2, `unknown scheduler`},
		{"bad weight", []string{"-r", "A:x"}, 2, "weight must be 0..65535"},
		{"weight too big", []string{"-r", "A:65536"}, 2, "weight must be 0..65535"},
		{"duplicate server", []string{"-r", "A", "-r", "A:2"}, 2, "given twice"},
		{"bad -b", []string{"-r", "A", "-b", "sh-fast"}, 2, "unknown scheduler flag"},
		{"negative -n", []string{"-r", "A", "-n", "-1"}, 2, "-n -1"},
		{"clients and flows", []string{"-r", "A", "--clients", "2", "--flows", bad}, 2, "exclude each other"},
		{"bad flows file", []string{"-r", "A", "--flows", bad}, 2, "want SRC[:PORT]"},
		{"missing flows file", []string{"-r", "A", "--flows", filepath.Join(dir, "none")}, 2, "no such file"},
		{"mh table not prime", []string{"-s", "mh", "-r", "A", "--mh-size", "4096"}, 1, "not a prime"},
		{"unknown flag", []string{"--frob"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"-r", "A", "now"}, 2, "Usage: ulvs sched"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runSchedCmd(tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, errOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.wantErr)
			}
		})
	}
	if out, _, code := runSchedCmd("-h"); code != 0 || out != "" {
		t.Errorf("-h: exit %d, stdout %q; want 0 and the usage on stderr", code, out)
	}
}
