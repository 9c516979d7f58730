package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/config/tomlfile"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/convert")

const (
	kaTestdata      = "../../config/keepalived/testdata/"
	piranhaTestdata = "../../config/piranha/testdata/"
	lvsdrTestdata   = "../../config/lvsdr/testdata/"
)

// TestConvertGolden converts files of the format tests and compares
// standard output and standard error with testdata/convert/NAME.toml and
// NAME.stderr (go test -update rewrites them).
func TestConvertGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"seed001", []string{kaTestdata + "seed001.conf"}, 0},
		{"web-http", []string{kaTestdata + "web-http.conf", "-i", "eth0"}, 0},
		{"checks", []string{"-i", "eth0", kaTestdata + "checks.conf"}, 0},
		{"ka-sorry", []string{kaTestdata + "ka-sorry.conf", "-i", "d-eth0,d-eth1"}, 0},
		{"include", []string{kaTestdata + "include/keepalived.conf"}, 0},
		{"vrrp-track", []string{kaTestdata + "vrrp-track.conf"}, 0},
		{"vrrp-unicast", []string{kaTestdata + "vrrp-unicast.conf"}, 0},
		{"vrrp-sync-group", []string{kaTestdata + "vrrp-sync-group.conf"}, 0},
		{"health-toml", []string{"../../examples/health.toml"}, 0},
		{"piranha-web-nat", []string{piranhaTestdata + "web-nat.cf"}, 0},
		{"piranha-pulse-links", []string{piranhaTestdata + "pulse-links.cf"}, 0},
		{"lvsdr-howto-nat", []string{lvsdrTestdata + "howto-nat.conf"}, 0},
		{"group6", []string{kaTestdata + "group6.conf", "-i", "eth0"}, 0},
		{"piranha-fwmark", []string{piranhaTestdata + "seed001-lab.cf"}, 1},
		{"fwmark6", []string{"testdata/convert/fwmark6.toml.in"}, 0},
		{"fwmark6-keepalived", []string{kaTestdata + "fwmark6.conf", "-i", "eth0"}, 1},
		// Errors.
		{"fwmark-group", []string{kaTestdata + "group.conf", "-i", "eth0"}, 1},
		{"no-interface", []string{kaTestdata + "ka-base.conf"}, 1},
		{"missing-file", []string{"testdata/convert/no-such.conf"}, 1},
		{"unknown-format", []string{"testdata/convert/prose.txt"}, 1},
		{"bad-value", []string{"testdata/convert/bad-weight.conf", "-i", "eth0"}, 1},
		{"two-files", []string{kaTestdata + "seed001.conf", kaTestdata + "web-http.conf"}, 2},
		{"no-file", nil, 2},
		{"bad-interface", []string{kaTestdata + "seed001.conf", "-i", "eth0,a/b"}, 2},
		{"bad-flag", []string{"-x", kaTestdata + "seed001.conf"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"convert"}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, &stderr)
			}
			if tt.code != 0 && stdout.Len() > 0 {
				t.Errorf("stdout on failure:\n%s", &stdout)
			}
			golden(t, filepath.Join("testdata", "convert", tt.name+".stderr"), stderr.Bytes())
			if tt.code == 0 {
				golden(t, filepath.Join("testdata", "convert", tt.name+".toml"), stdout.Bytes())
				if _, err := tomlfile.Parse("out.toml", stdout.Bytes()); err != nil {
					t.Errorf("the output does not parse: %v", err)
				}
			}
		})
	}
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestConvertOutputFile: -o writes the file (replacing one that is there)
// and nothing to standard output; a directory that does not exist is an
// error and leaves nothing behind.
func TestConvertOutputFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ulvs.toml")
	if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"convert", "-o", out, kaTestdata + "seed001.conf"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, &stderr)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout with -o:\n%s", &stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "convert", "seed001.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("-o wrote:\n%s\nwant testdata/convert/seed001.toml:\n%s", data, want)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of the replaced file: %v %v, want it kept (0600)", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left in the directory: %v", entries)
	}

	stderr.Reset()
	bad := filepath.Join(dir, "no-such-dir", "ulvs.toml")
	if code := run([]string{"convert", "-o", bad, kaTestdata + "seed001.conf"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code %d for -o in a missing directory, want 1", code)
	}
	if !strings.Contains(stderr.String(), "ulvs convert: ") || !strings.Contains(stderr.String(), "no-such-dir") {
		t.Errorf("stderr %q, want the failed write named", &stderr)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("%s: %v, want it absent", bad, err)
	}
}
