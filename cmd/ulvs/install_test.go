package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
)

// fakePrograms writes stand-ins for the three programs into a directory
// and returns it; each has its own contents.
func fakePrograms(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"ulvsd", "ulvsadm", "ulvs"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho "+name+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runInstall(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(append([]string{"install"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// tree lists every file and link under root as "path mode" or
// "path -> target", relative to root.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			got = append(got, "/"+rel+" -> "+target)
			return err
		}
		fi, err := d.Info()
		got = append(got, "/"+rel+" "+fi.Mode().Perm().String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestInstallEverything(t *testing.T) {
	from := fakePrograms(t)
	root := t.TempDir()
	args := []string{"--root", root, "--from", from, "--names", "--systemd", "--sysv"}
	out, errText, code := runInstall(args...)
	if code != 0 || errText != "" {
		t.Fatalf("exit %d, stderr %q", code, errText)
	}
	wantTree := []string{
		"/etc/init.d/ipvsadm -rwxr-xr-x",
		"/etc/systemd/system/ipvsadm.service -rw-r--r--",
		"/etc/systemd/system/ulvsd.service -rw-r--r--",
		"/usr/local/sbin/ipvsadm -> ulvsadm",
		"/usr/local/sbin/ipvsadm-restore -> ulvsadm",
		"/usr/local/sbin/ipvsadm-save -> ulvsadm",
		"/usr/local/sbin/ulvs -rwxr-xr-x",
		"/usr/local/sbin/ulvsadm -rwxr-xr-x",
		"/usr/local/sbin/ulvsd -rwxr-xr-x",
	}
	if got := tree(t, root); !slices.Equal(got, wantTree) {
		t.Fatalf("installed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantTree, "\n"))
	}
	lines := func(state string) string {
		var b strings.Builder
		for _, p := range []string{"usr/local/sbin/ulvsd", "usr/local/sbin/ulvsadm", "usr/local/sbin/ulvs"} {
			b.WriteString(state + strings.Repeat(" ", 10-len(state)) + filepath.Join(root, p) + "\n")
		}
		for _, n := range []string{"ipvsadm", "ipvsadm-save", "ipvsadm-restore"} {
			b.WriteString(state + strings.Repeat(" ", 10-len(state)) + filepath.Join(root, "usr/local/sbin", n) + " -> ulvsadm\n")
		}
		for _, p := range []string{"etc/systemd/system/ulvsd.service", "etc/systemd/system/ipvsadm.service", "etc/init.d/ipvsadm"} {
			b.WriteString(state + strings.Repeat(" ", 10-len(state)) + filepath.Join(root, p) + "\n")
		}
		return b.String()
	}
	if out != lines("new") {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, lines("new"))
	}
	for _, name := range []string{"ulvsd", "ulvsadm", "ulvs"} {
		got, err := os.ReadFile(filepath.Join(root, "usr/local/sbin", name))
		if err != nil || string(got) != "#!/bin/sh\necho "+name+"\n" {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	for _, g := range []struct{ installed, golden string }{
		{"etc/systemd/system/ulvsd.service", "ulvsd.service"},
		{"etc/systemd/system/ipvsadm.service", "ipvsadm.service"},
		{"etc/init.d/ipvsadm", "ipvsadm.init"},
	} {
		got, err := os.ReadFile(filepath.Join(root, g.installed))
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, filepath.Join("testdata/install", g.golden), got)
	}

	// Again: the same files, nothing written.
	out, errText, code = runInstall(args...)
	if code != 0 || errText != "" || out != lines("unchanged") {
		t.Errorf("second install: exit %d, stderr %q, stdout:\n%s", code, errText, out)
	}
}

func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestInstallProgramsOnly(t *testing.T) {
	from := fakePrograms(t)
	root := t.TempDir()
	if _, errText, code := runInstall("--root", root, "--from", from, "--prefix", "/opt/ulvs"); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errText)
	}
	want := []string{
		"/opt/ulvs/sbin/ulvs -rwxr-xr-x",
		"/opt/ulvs/sbin/ulvsadm -rwxr-xr-x",
		"/opt/ulvs/sbin/ulvsd -rwxr-xr-x",
	}
	if got := tree(t, root); !slices.Equal(got, want) {
		t.Fatalf("installed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestInstallRefusesDifferentFile changes one installed file and removes
// another: a second install refuses and writes nothing, not even the
// missing file; with --force it replaces the changed file.
func TestInstallRefusesDifferentFile(t *testing.T) {
	from := fakePrograms(t)
	root := t.TempDir()
	args := []string{"--root", root, "--from", from, "--names", "--systemd"}
	if _, errText, code := runInstall(args...); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errText)
	}
	unit := filepath.Join(root, "etc/systemd/system/ulvsd.service")
	if err := os.WriteFile(unit, []byte("[Service]\nExecStart=/bin/mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "usr/local/sbin/ipvsadm")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/sbin/ipvsadm.real", filepath.Join(root, "usr/local/sbin/ipvsadm-save")+".x"); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(root, "usr/local/sbin/ipvsadm-save")+".x", filepath.Join(root, "usr/local/sbin/ipvsadm-save"))

	out, errText, code := runInstall(args...)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{unit, filepath.Join(root, "usr/local/sbin/ipvsadm-save"), "--force"} {
		if !strings.Contains(errText, want) {
			t.Errorf("stderr %q does not name %q", errText, want)
		}
	}
	if _, err := os.Lstat(link); err == nil {
		t.Errorf("%s installed despite the refusal", link)
	}
	if got, _ := os.ReadFile(unit); string(got) != "[Service]\nExecStart=/bin/mine\n" {
		t.Errorf("the changed unit was overwritten: %q", got)
	}

	out, errText, code = runInstall(append(args, "--force")...)
	if code != 0 || errText != "" {
		t.Fatalf("--force: exit %d, stderr %q", code, errText)
	}
	for _, want := range []string{"replaced  " + unit + "\n", "new       " + link + " -> ulvsadm\n",
		"replaced  " + filepath.Join(root, "usr/local/sbin/ipvsadm-save") + " -> ulvsadm\n",
		"unchanged " + filepath.Join(root, "usr/local/sbin/ulvsd") + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--force stdout lacks %q:\n%s", want, out)
		}
	}
	if got, _ := os.ReadFile(unit); !bytes.Contains(got, []byte("ExecStart=/usr/local/sbin/ulvsd -c /etc/ulvs/ulvs.toml --state-file /run/ulvs/conns.state\n")) {
		t.Errorf("--force did not replace the unit: %q", got)
	}
	if got, _ := os.Readlink(filepath.Join(root, "usr/local/sbin/ipvsadm-save")); got != "ulvsadm" {
		t.Errorf("ipvsadm-save -> %q after --force", got)
	}
	// No temporary files are left behind.
	for _, p := range tree(t, root) {
		if strings.Contains(p, "/.") {
			t.Errorf("left behind: %s", p)
		}
	}
}

func TestInstallErrors(t *testing.T) {
	from := fakePrograms(t)
	root := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"relative prefix", []string{"--prefix", "usr/local"}, 2, `--prefix "usr/local": not an absolute path`},
		{"unclean prefix", []string{"--prefix", "/usr/local/"}, 2, "not a clean path (/usr/local)"},
		{"space in rules", []string{"--rules-file", "/etc/my rules"}, 2, `character ' ' would need quoting`},
		{"percent in config", []string{"--config", "/etc/ulvs/%i.toml"}, 2, `character '%' would need quoting`},
		{"missing programs", []string{"--from", root}, 2, "ulvsd: no such file or directory (build it with make, or give --from DIR)"},
		{"argument", []string{"extra"}, 2, `unexpected argument "extra"`},
		{"unknown flag", []string{"--systemd=maybe"}, 2, "invalid boolean value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--root", root, "--from", from}, tt.args...)
			out, errText, code := runInstall(args...)
			if code != tt.code || !strings.Contains(errText, tt.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errText, tt.code, tt.want)
			}
		})
	}
	if got := tree(t, root); len(got) != 0 {
		t.Errorf("errors installed %q", got)
	}
}

// rulesDirector is a control-socket daemon holding only rules.
type rulesDirector struct {
	mu    sync.Mutex
	rules config.Rules
}

func (d *rulesDirector) Apply(c config.Command) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rules.Apply(c)
}

func (d *rulesDirector) Snapshot() ctl.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s ctl.Snapshot
	for _, svc := range d.rules.Services {
		ss := ctl.ServiceStatus{Service: svc}
		ss.Service.Dests = nil
		for _, dst := range svc.Dests {
			ss.Dests = append(ss.Dests, ctl.DestStatus{Dest: dst})
		}
		s.Services = append(s.Services, ss)
	}
	return s
}

func (d *rulesDirector) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.rules.Services)
}

// TestInstalledNames builds ulvsadm, installs it with ipvsadm's names, the
// units and the init script, and runs them against a daemon on a control
// socket: ipvsadm-restore, ipvsadm-save -n and ipvsadm as ipvsadm 1.31's
// tools; ipvsadm.service's ExecStop and ExecStart commands as systemd
// runs them; /etc/init.d/ipvsadm save|stop|start.
func TestInstalledNames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ulvsadm")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build ulvsadm")
	}
	from := fakePrograms(t)
	os.Remove(filepath.Join(from, "ulvsadm"))
	if out, err := exec.Command(gobin, "build", "-o", filepath.Join(from, "ulvsadm"), "../ulvsadm").CombinedOutput(); err != nil {
		t.Fatalf("go build ulvsadm: %v\n%s", err, out)
	}
	root := t.TempDir()
	if _, errText, code := runInstall("--root", root, "--from", from, "--names", "--systemd", "--sysv"); code != 0 {
		t.Fatalf("install: exit %d, %q", code, errText)
	}
	sbin := filepath.Join(root, "usr/local/sbin")

	d := &rulesDirector{}
	sock := filepath.Join(t.TempDir(), "ulvsd.sock")
	ln, err := ctl.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Serve(ctx, ln, d, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	env := append(os.Environ(), ctl.EnvSocket+"="+sock)
	sh := func(stdin string, extraEnv []string, name string, args ...string) (string, string, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(slices.Clone(env), extraEnv...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	rules := "-A -t 10.77.0.100:80 -s rr\n-a -t 10.77.0.100:80 -r 10.77.0.11:80 -g -w 1\n-a -t 10.77.0.100:80 -r 10.77.0.12:80 -g -w 1\n"
	if _, errText, err := sh(rules, nil, filepath.Join(sbin, "ipvsadm-restore")); err != nil || errText != "" {
		t.Fatalf("ipvsadm-restore: %v, %q", err, errText)
	}
	saved, errText, err := sh("", nil, filepath.Join(sbin, "ipvsadm-save"), "-n")
	if err != nil || errText != "" || saved != rules {
		t.Fatalf("ipvsadm-save -n: %v, %q, printed %q; want %q", err, errText, saved, rules)
	}
	list, _, err := sh("", nil, filepath.Join(sbin, "ipvsadm"), "-L", "-n")
	if err != nil || !strings.Contains(list, "TCP  10.77.0.100:80 rr\n") || !strings.Contains(list, "  -> 10.77.0.12:80") {
		t.Fatalf("ipvsadm -L -n: %v, %q", err, list)
	}
	// ipvsadm.service, as systemd runs it, with the installed ulvsadm and
	// a rules file of the test's.
	ulvsadm := filepath.Join(sbin, "ulvsadm")
	rulesFile := filepath.Join(t.TempDir(), "ipvsadm.rules")
	execLines := func(unit, key string) [][]string {
		var cmds [][]string
		for _, l := range strings.Split(unit, "\n") {
			v, ok := strings.CutPrefix(l, key+"=")
			if !ok {
				continue
			}
			if s, ok := strings.CutPrefix(v, "/bin/sh -c '"); ok {
				cmds = append(cmds, []string{"/bin/sh", "-c", strings.TrimSuffix(s, "'")})
			} else {
				cmds = append(cmds, strings.Fields(v))
			}
		}
		return cmds
	}
	// systemd runs the commands in order and stops at the first failure.
	systemd := func(unit, key string) error {
		for _, c := range execLines(unit, key) {
			if _, errText, err := sh("", nil, c[0], c[1:]...); err != nil {
				return fmt.Errorf("%q: %w: %s", c, err, errText)
			}
		}
		return nil
	}
	unit := ipvsadmUnit(ulvsadm, rulesFile)
	if n := len(execLines(unit, "ExecStop")); n != 2 {
		t.Fatalf("%d ExecStop lines", n)
	}
	if err := systemd(unit, "ExecStart"); err != nil { // no rules file yet
		t.Fatalf("ExecStart without %s: %v", rulesFile, err)
	}
	if err := systemd(unit, "ExecStop"); err != nil {
		t.Fatalf("ExecStop: %v", err)
	}
	if got, _ := os.ReadFile(rulesFile); string(got) != rules {
		t.Fatalf("ExecStop saved %q, want %q", got, rules)
	}
	if n := d.count(); n != 0 {
		t.Fatalf("ExecStop left %d services", n)
	}
	if err := systemd(unit, "ExecStart"); err != nil {
		t.Fatalf("ExecStart: %v", err)
	}
	if n := d.count(); n != 1 {
		t.Fatalf("ExecStart restored %d services, want 1", n)
	}
	// A save that cannot write fails, and the rules are not cleared.
	bad := ipvsadmUnit(ulvsadm, filepath.Join(t.TempDir(), "missing-dir", "rules"))
	if err := systemd(bad, "ExecStop"); err == nil {
		t.Fatal("ExecStop into a missing directory succeeded")
	}
	if n := d.count(); n != 1 {
		t.Fatalf("a failed save cleared the rules: %d services", n)
	}

	// The init script: save, stop (save and clear), start (restore).
	initScript := filepath.Join(root, "etc/init.d/ipvsadm")
	initEnv := []string{"ULVSADM=" + ulvsadm, "IPVSADM_RULES=" + rulesFile}
	if err := os.Remove(rulesFile); err != nil {
		t.Fatal(err)
	}
	if out, errText, err := sh("", initEnv, initScript, "save"); err != nil || out != "saved the rules to "+rulesFile+"\n" {
		t.Fatalf("ipvsadm save: %v, %q, %q", err, out, errText)
	}
	if got, _ := os.ReadFile(rulesFile); string(got) != rules {
		t.Fatalf("ipvsadm save wrote %q", got)
	}
	if _, errText, err := sh("", initEnv, initScript, "stop"); err != nil || d.count() != 0 {
		t.Fatalf("ipvsadm stop: %v, %q, %d services left", err, errText, d.count())
	}
	if _, errText, err := sh("", initEnv, initScript, "start"); err != nil || d.count() != 1 {
		t.Fatalf("ipvsadm start: %v, %q, %d services", err, errText, d.count())
	}
	if out, _, err := sh("", initEnv, initScript, "status"); err != nil || !strings.Contains(out, "TCP  10.77.0.100:80 rr") {
		t.Fatalf("ipvsadm status: %v, %q", err, out)
	}
	// Saving without a daemon fails and keeps the file whole.
	deadEnv := append(slices.Clone(initEnv), ctl.EnvSocket+"="+filepath.Join(t.TempDir(), "none.sock"))
	if _, _, err := sh("", deadEnv, initScript, "save"); err == nil {
		t.Fatal("ipvsadm save without a daemon succeeded")
	}
	if got, _ := os.ReadFile(rulesFile); string(got) != rules {
		t.Fatalf("a failed save changed the file to %q", got)
	}
	if _, err := os.Stat(rulesFile + ".tmp"); err == nil {
		t.Fatal("a failed save left the .tmp file")
	}
	if _, _, err := sh("", initEnv, initScript, "bogus"); err == nil {
		t.Fatal("ipvsadm bogus succeeded")
	}
}
