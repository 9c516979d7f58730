package adm

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/ctl"
)

func TestForName(t *testing.T) {
	tests := []struct {
		argv0    string
		args     []string
		wantName string
		wantArgs []string
	}{
		{"ulvsadm", []string{"-L", "-n"}, "ulvsadm", []string{"-L", "-n"}},
		{"/usr/local/sbin/ipvsadm", []string{"-ln"}, "/usr/local/sbin/ipvsadm", []string{"-ln"}},
		{"ipvsadm-save", nil, "ipvsadm", []string{"-S"}},
		{"/usr/sbin/ipvsadm-save", []string{"-n"}, "ipvsadm", []string{"-S", "-n"}},
		{"./ipvsadm-restore", nil, "ipvsadm", []string{"-R"}},
		{"ipvsadm-restore", []string{"--socket", "/x"}, "ipvsadm", []string{"-R", "--socket", "/x"}},
		{"ipvsadm-saver", []string{"-n"}, "ipvsadm-saver", []string{"-n"}},
	}
	for _, tt := range tests {
		name, args := ForName(tt.argv0, tt.args)
		if name != tt.wantName || !slices.Equal(args, tt.wantArgs) {
			t.Errorf("ForName(%q, %q) = %q, %q; want %q, %q", tt.argv0, tt.args, name, args, tt.wantName, tt.wantArgs)
		}
	}
}

// TestNamesSaveRestore runs ipvsadm-save and ipvsadm-restore as ForName
// dispatches them, against the fake daemon: the saved text is what
// `ulvsadm -S -n` prints, and restoring it after -C rebuilds the table.
func TestNamesSaveRestore(t *testing.T) {
	d := &fakeDirector{dest: map[netip.Addr]ctl.DestStatus{}}
	sock := startDaemon(t, d)
	for _, s := range seedDR {
		if r := runAdm(sock, "", strings.Fields(s)...); r.status != 0 {
			t.Fatalf("setup %q: status %d, %q", s, r.status, r.stderr)
		}
	}
	runAs := func(argv0, stdin string, args ...string) result {
		_, args = ForName(argv0, args)
		return runAdm(sock, stdin, args...)
	}
	want := runAdm(sock, "", "-S", "-n")
	saved := runAs("/usr/local/sbin/ipvsadm-save", "", "-n")
	if saved.status != 0 || saved.stderr != "" || saved.stdout != want.stdout {
		t.Fatalf("ipvsadm-save -n: status %d, stderr %q, stdout %q; want stdout %q", saved.status, saved.stderr, saved.stdout, want.stdout)
	}
	if !strings.Contains(saved.stdout, "-a -t 172.25.7.200:80 -r 172.25.7.3:80 -g -w 1") {
		t.Fatalf("ipvsadm-save -n printed %q", saved.stdout)
	}
	if r := runAdm(sock, "", "-C"); r.status != 0 {
		t.Fatalf("-C: status %d, %q", r.status, r.stderr)
	}
	if r := runAs("ipvsadm-restore", saved.stdout); r.status != 0 || r.stderr != "" {
		t.Fatalf("ipvsadm-restore: status %d, %q", r.status, r.stderr)
	}
	if again := runAs("ipvsadm-save", "", "-n"); again.stdout != saved.stdout {
		t.Fatalf("after restore ipvsadm-save -n = %q, want %q", again.stdout, saved.stdout)
	}
}
