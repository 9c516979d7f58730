package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stdinWith returns a pipe holding text, as a shell's `echo PW |` gives.
func stdinWith(t *testing.T, text string) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(text)
	w.Close()
	t.Cleanup(func() { r.Close() })
	return r
}

func TestPasswd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "web.passwd")
	var out, errb bytes.Buffer
	if code := passwdMain([]string{"-f", file, "-role", "monitor", "noc"}, stdinWith(t, "monitor-pass\n"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "password of noc (monitor) set in "+file) {
		t.Errorf("output %q", out.String())
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, mode %v; want 0600", err, fi.Mode())
	}
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), "noc:monitor:$2a$12$") || strings.Contains(string(b), "monitor-pass") {
		t.Errorf("file holds %q, want a cost-12 bcrypt hash and no password", b)
	}
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		msg   string
	}{
		{[]string{"-f", file, "bad:name"}, "long-enough\n", 2, "only letters"},
		{[]string{"-f", file, "-role", "root", "x"}, "long-enough\n", 2, "unknown role"},
		{[]string{"-f", file, "x"}, "short\n", 1, "at least 8"},
		{[]string{"-f", file, "x"}, "", 1, "no password"},
		{[]string{"-f", file}, "", 2, "Usage"},
	} {
		errb.Reset()
		if code := passwdMain(tc.args, stdinWith(t, tc.stdin), &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d %q, want %d with %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
	}
}
