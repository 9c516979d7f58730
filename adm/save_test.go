package adm

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
)

// TestSaveClearRestore is what ipvsadm users do across reboots:
// `ipvsadm -S -n > rules; ipvsadm -C; ipvsadm -R < rules`. The restored
// table must equal the saved one exactly, and saving it again must give
// the same text.
func TestSaveClearRestore(t *testing.T) {
	d := &fakeDirector{dest: map[netip.Addr]ctl.DestStatus{}}
	sock := startDaemon(t, d)
	fullnat := []string{ // ulvs's --laddr and --fullnat
		"-A -t 10.77.0.200:80 -s rr --laddr 10.77.1.200,10.77.1.201",
		"-a -t 10.77.0.200:80 -r 10.77.1.11:8080 --fullnat -w 3",
	}
	for _, s := range append(append(append(append([]string{}, lab...), seedNAT...), seedTUN...), fullnat...) {
		if r := runAdm(sock, "", strings.Fields(s)...); r.status != 0 {
			t.Fatalf("setup %q: status %d, %q", s, r.status, r.stderr)
		}
	}
	before := d.rules
	saved := runAdm(sock, "", "-S", "-n")
	if saved.status != 0 || saved.stderr != "" {
		t.Fatalf("-S -n: status %d, %q", saved.status, saved.stderr)
	}
	if r := runAdm(sock, "", "-C"); r.status != 0 {
		t.Fatalf("-C: status %d, %q", r.status, r.stderr)
	}
	if n := len(d.rules.Services); n != 0 {
		t.Fatalf("after -C: %d services", n)
	}
	if r := runAdm(sock, saved.stdout, "-R"); r.status != 0 || r.stderr != "" {
		t.Fatalf("-R: status %d, %q", r.status, r.stderr)
	}
	// -S prints services in listing order, so compare as sets: same
	// services, each with the same dests in the same order.
	key := func(s config.Service) string {
		return netip.AddrPortFrom(s.Addr, s.Port).String() + s.Proto.String() + string(rune(s.FwMark))
	}
	want := map[string]config.Service{}
	for _, s := range before.Services {
		// ipvsadm's -S prints "-a SVC -r DEST -FWD -w WEIGHT" and never
		// -x/-y (print_service_entry, FMT_RULE): thresholds do not
		// survive -S | -R, in ipvsadm as in ulvsadm.
		s.Dests = append([]config.Dest(nil), s.Dests...)
		for i := range s.Dests {
			s.Dests[i].UThreshold, s.Dests[i].LThreshold = 0, 0
		}
		want[key(s)] = s
	}
	if len(d.rules.Services) != len(want) {
		t.Fatalf("restored %d services, want %d", len(d.rules.Services), len(want))
	}
	for _, s := range d.rules.Services {
		w := want[key(s)]
		// -S lists dests sorted; -R adds them in that order.
		if diff := cmp.Diff(w, s, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
			cmp.Transformer("sortDests", sortedDests)); diff != "" {
			t.Errorf("service %s after -S|-C|-R (-want +got):\n%s", key(s), diff)
		}
	}
	again := runAdm(sock, "", "-S", "-n")
	if again.stdout != saved.stdout {
		t.Errorf("-S after restore differs:\n--- first ---\n%s--- again ---\n%s", saved.stdout, again.stdout)
	}
}

func sortedDests(ds []config.Dest) []config.Dest {
	out := append([]config.Dest(nil), ds...)
	msort(out, func(a, b *config.Dest) int {
		if r := cmpAddr(a.Addr, b.Addr); r != 0 {
			return r
		}
		return int(a.Port) - int(b.Port)
	})
	return out
}

// TestSaveConfigRelativePath: ulvsadm sends an absolute path, since the
// daemon writes the file from its own working directory.
func TestSaveConfigRelativePath(t *testing.T) {
	d := &fakeDirector{dest: map[netip.Addr]ctl.DestStatus{}}
	sock := startDaemon(t, d)
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	for _, args := range [][]string{{"--save-config", "rules.toml"}, {"--save-config=sub/r.toml"}} {
		if r := runAdm(sock, "", args...); r.status != 0 {
			t.Fatalf("%v: status %d, %q", args, r.status, r.stderr)
		}
	}
	want := []string{filepath.Join(dir, "rules.toml"), filepath.Join(dir, "sub/r.toml")}
	if diff := cmp.Diff(want, d.saved); diff != "" {
		t.Errorf("saved paths (-want +got):\n%s", diff)
	}
}

func TestExtractExtensions(t *testing.T) {
	tests := []struct {
		args []string
		rest []string
		ext  extensions
	}{
		{[]string{"-L", "--json", "-n"}, []string{"-L", "-n"}, extensions{json: true}},
		{[]string{"--save-config"}, []string{}, extensions{save: true}},
		{[]string{"--save-config", "/x.toml"}, []string{}, extensions{save: true, saveFile: "/x.toml"}},
		{[]string{"--save-config", "-n"}, []string{"-n"}, extensions{save: true}},
		{[]string{"-A", "--", "--json"}, []string{"-A", "--", "--json"}, extensions{}},
	}
	for _, tt := range tests {
		rest, ext := extractExtensions(tt.args)
		if !cmp.Equal(rest, tt.rest) || ext != tt.ext {
			t.Errorf("extractExtensions(%q) = %q, %+v; want %q, %+v", tt.args, rest, ext, tt.rest, tt.ext)
		}
	}
}

// TestRestoreBadLineAppliesNothing: ulvsadm -R reads all of its input
// before it applies any of it; a bad line anywhere leaves the daemon's
// rules as they were (ipvsadm would have applied the lines before it).
func TestRestoreBadLineAppliesNothing(t *testing.T) {
	d := &fakeDirector{dest: map[netip.Addr]ctl.DestStatus{}}
	sock := startDaemon(t, d)
	setup(t, sock, lab)
	before := runAdm(sock, "", "-S", "-n").stdout
	in := "-C\n-A -t 10.77.0.1:80 -s rr\n-a -t 10.77.0.1:80 -r 10.77.0.2 -g\n-a -t 10.77.0.1:80 -r 10.77.0.3 -x 5 -y 9\n"
	r := runAdm(sock, in, "-R")
	if r.status == 0 || !strings.Contains(r.stderr, "line 4:") {
		t.Fatalf("-R with a bad line 4: status %d, stderr %q", r.status, r.stderr)
	}
	if after := runAdm(sock, "", "-S", "-n").stdout; after != before {
		t.Errorf("a refused -R changed the rules:\n--- before ---\n%s--- after ---\n%s", before, after)
	}
}

// failingWriter accepts room bytes, then fails every write with ENOSPC.
type failingWriter struct {
	room int
	got  []byte
}

func (w *failingWriter) Write(b []byte) (int, error) {
	if len(b) > w.room {
		n := w.room
		w.got = append(w.got, b[:n]...)
		w.room = 0
		return n, syscall.ENOSPC
	}
	w.room -= len(b)
	w.got = append(w.got, b...)
	return len(b), nil
}

// TestSaveToFullDisk: ulvsadm -S whose standard output fills the disk
// says so and exits 1 (ipvsadm ignores the error and exits 0 with a
// truncated file). Writing through the shell's redirection cannot be
// atomic; docs/ulvsadm.md says to write a new file and rename it, or use
// --save-config.
func TestSaveToFullDisk(t *testing.T) {
	d := &fakeDirector{dest: map[netip.Addr]ctl.DestStatus{}}
	sock := startDaemon(t, d)
	setup(t, sock, lab)
	var errb bytes.Buffer
	w := &failingWriter{room: 100}
	p := &Program{Name: "ulvsadm", Stdout: w, Stderr: &errb,
		Getenv: func(k string) string { return map[string]string{ctl.EnvSocket: sock}[k] }}
	if st := p.Run([]string{"-S", "-n"}); st != 1 {
		t.Errorf("-S onto a full disk: exit %d, want 1", st)
	}
	if want := "ulvsadm: writing standard output: no space left on device\n"; errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}

// setup runs each of lines as one ulvsadm command against sock, failing
// the test on the first that does not succeed.
func setup(t *testing.T, sock string, lines []string) {
	t.Helper()
	for _, s := range lines {
		if r := runAdm(sock, "", strings.Fields(s)...); r.status != 0 {
			t.Fatalf("setup %q: status %d, %q", s, r.status, r.stderr)
		}
	}
}
