package director

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad file stops ulvsd before it touches the network, with one line that
// names the file, line and field, and a non-zero exit.
func TestMainBadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, want string
		code             int
	}{
		{
			name: "bad weight",
			file: "[director]\ninterfaces = [\"eth0\"]\n\n[[virtual_server]]\naddress = \"10.0.0.1:80\"\n\n[[virtual_server.real_server]]\naddress = \"10.0.0.2:80\"\nweight = -3\n",
			want: "bad.toml:9: virtual_server[0].real_server[0].weight",
			code: 1,
		},
		{
			name: "syntax error",
			file: "[director\ninterfaces = [\"eth0\"]\n",
			want: "bad.toml:1:",
			code: 1,
		},
		{
			name: "unknown key",
			file: "[director]\ninterfaces = [\"eth0\"]\nworkerz = 2\n",
			want: "bad.toml:3: director.workerz",
			code: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.toml")
			if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			code := run([]string{"-c", path, "--socket", filepath.Join(dir, "s.sock")}, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			out := stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, tt.want) {
				t.Errorf("stderr = %q, want one line containing %q", out, tt.want)
			}
		})
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"extra"}, {"-c"}, {"--bogus"}} {
		var stderr bytes.Buffer
		if code := run(args, &stderr); code != 2 {
			t.Errorf("ulvsd %q: exit %d, want 2 (stderr %q)", args, code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-c", "/nonexistent/ulvs.toml"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "/nonexistent/ulvs.toml") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr.String())
	}
}
