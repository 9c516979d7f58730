package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const installUsage = `Usage: ulvs install [--root DIR] [--prefix DIR] [--from DIR] [--names]
                    [--systemd] [--sysv] [--rules-file FILE] [--config FILE]
                    [--unit-dir DIR] [--force]

Copies ulvsd, ulvsadm and ulvs to PREFIX/sbin under ROOT and, when asked:
  --names     ipvsadm, ipvsadm-save and ipvsadm-restore as symlinks to
              ulvsadm (run as ipvsadm-save it is "ulvsadm -S ARGS", as
              ipvsadm-restore "ulvsadm -R" reading stdin)
  --systemd   UNIT_DIR/ulvsd.service (ulvsd -c CONFIG) and ipvsadm.service,
              which restores the rules file into ulvsd at start and saves it
              at stop, as Debian's and RHEL's ipvsadm units do with the kernel
  --sysv      /etc/init.d/ipvsadm (start|stop|save|restart|status), for the
              "service ipvsadm save" habit
Nothing is written outside ROOT (default /). A file that exists with other
contents is refused unless --force. Each file is reported on one line.

Flags:
`

// installOptions are ulvs install's flags. Every path but root is a path
// on the installed system, as the units and scripts name it.
type installOptions struct {
	root, prefix, from      string
	rulesFile, config, unit string
	names, systemd, sysv    bool
	force                   bool
}

// The rules files of the two distribution families' ipvsadm packages.
const (
	debianRules = "/etc/ipvsadm.rules"
	rhelRules   = "/etc/sysconfig/ipvsadm"
)

func installMain(args []string, stdout, stderr io.Writer) int {
	var o installOptions
	fs := flag.NewFlagSet("ulvs install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, installUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.root, "root", "/", "install under `DIR` (a staging root such as DESTDIR)")
	fs.StringVar(&o.prefix, "prefix", "/usr/local", "installation prefix `DIR`; programs go to PREFIX/sbin")
	fs.StringVar(&o.from, "from", "", "take ulvsd, ulvsadm and ulvs from `DIR` (default: the directory of this ulvs)")
	fs.BoolVar(&o.names, "names", false, "also install ipvsadm, ipvsadm-save, ipvsadm-restore as names for ulvsadm")
	fs.BoolVar(&o.systemd, "systemd", false, "also install the systemd units ulvsd.service and ipvsadm.service")
	fs.BoolVar(&o.sysv, "sysv", false, "also install the SysV init script /etc/init.d/ipvsadm")
	fs.StringVar(&o.rulesFile, "rules-file", debianRules, "the ipvsadm rules `FILE` the unit and script restore and save ("+rhelRules+" on RHEL)")
	fs.StringVar(&o.config, "config", "/etc/ulvs/ulvs.toml", "the `FILE` ulvsd.service runs ulvsd with")
	fs.StringVar(&o.unit, "unit-dir", "/etc/systemd/system", "systemd unit `DIR`")
	fs.BoolVar(&o.force, "force", false, "replace files that exist with other contents")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ulvs install: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.from == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "ulvs install: finding this program to copy: %v; give --from DIR\n", err)
			return 1
		}
		o.from = filepath.Dir(exe)
	}
	items, err := o.plan()
	if err != nil {
		fmt.Fprintf(stderr, "ulvs install: %v\n", err)
		return 2
	}
	if err := install(o.root, items, o.force, stdout); err != nil {
		fmt.Fprintf(stderr, "ulvs install: %v\n", err)
		return 1
	}
	return 0
}

// item is one file to install: data with mode, or a symlink to link.
type item struct {
	path string // on the installed system, absolute
	data []byte
	mode fs.FileMode
	link string // symlink target when not ""
}

// plan lists the files o installs, reading the programs to copy.
func (o *installOptions) plan() ([]item, error) {
	for _, p := range []struct{ flag, path string }{
		{"--prefix", o.prefix}, {"--rules-file", o.rulesFile}, {"--config", o.config}, {"--unit-dir", o.unit},
	} {
		if err := checkTargetPath(p.path); err != nil {
			return nil, fmt.Errorf("%s %q: %w", p.flag, p.path, err)
		}
	}
	if o.root == "" {
		return nil, errors.New("--root: empty directory name")
	}
	sbin := filepath.Join(o.prefix, "sbin")
	var items []item
	for _, name := range []string{"ulvsd", "ulvsadm", "ulvs"} {
		src := filepath.Join(o.from, name)
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("reading the program to install: %w (build it with make, or give --from DIR)", err)
		}
		items = append(items, item{path: filepath.Join(sbin, name), data: data, mode: 0o755})
	}
	if o.names {
		for _, name := range []string{"ipvsadm", "ipvsadm-save", "ipvsadm-restore"} {
			items = append(items, item{path: filepath.Join(sbin, name), link: "ulvsadm"})
		}
	}
	ulvsadm := filepath.Join(sbin, "ulvsadm")
	if o.systemd {
		items = append(items,
			item{path: filepath.Join(o.unit, "ulvsd.service"), data: []byte(ulvsdUnit(filepath.Join(sbin, "ulvsd"), o.config)), mode: 0o644},
			item{path: filepath.Join(o.unit, "ipvsadm.service"), data: []byte(ipvsadmUnit(ulvsadm, o.rulesFile)), mode: 0o644})
	}
	if o.sysv {
		items = append(items, item{path: "/etc/init.d/ipvsadm", data: []byte(sysvScript(ulvsadm, o.rulesFile)), mode: 0o755})
	}
	return items, nil
}

// checkTargetPath accepts an absolute, clean path that the units and the
// shell scripts can carry without quoting: none of systemd's specifiers
// (%), variables ($), quotes, backslashes or white space.
func checkTargetPath(p string) error {
	if !filepath.IsAbs(p) {
		return errors.New("not an absolute path")
	}
	if filepath.Clean(p) != p {
		return fmt.Errorf("not a clean path (%s)", filepath.Clean(p))
	}
	if i := strings.IndexAny(p, "%$'\"\\` \t\n;&|<>*?()[]{}#~"); i >= 0 {
		return fmt.Errorf("character %q would need quoting in a unit or script", p[i])
	}
	return nil
}

// install writes items under root. It first checks every one, so a refusal
// writes nothing; then it writes each (a file through a temporary file
// renamed into place) and prints "new", "replaced" or "unchanged" and the
// path on one line.
func install(root string, items []item, force bool, out io.Writer) error {
	states := make([]string, len(items))
	var refused []string
	for i, it := range items {
		st, err := compare(filepath.Join(root, it.path), it)
		if err != nil {
			return err
		}
		if st == "replaced" && !force {
			refused = append(refused, filepath.Join(root, it.path))
		}
		states[i] = st
	}
	if len(refused) > 0 {
		return fmt.Errorf("%s: exists with other contents; nothing installed (--force replaces)", strings.Join(refused, ", "))
	}
	for i, it := range items {
		dst := filepath.Join(root, it.path)
		if states[i] != "unchanged" {
			if err := put(dst, it); err != nil {
				return err
			}
		}
		if it.link != "" {
			fmt.Fprintf(out, "%-9s %s -> %s\n", states[i], dst, it.link)
		} else {
			fmt.Fprintf(out, "%-9s %s\n", states[i], dst)
		}
	}
	return nil
}

// compare tells what installing it at dst does: "new", "unchanged" (the
// same contents and mode, or the same link) or "replaced".
func compare(dst string, it item) (string, error) {
	fi, err := os.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return "new", nil
	}
	if err != nil {
		return "", fmt.Errorf("checking %s: %w", dst, err)
	}
	switch {
	case it.link != "":
		if fi.Mode()&fs.ModeSymlink != 0 {
			if t, err := os.Readlink(dst); err == nil && t == it.link {
				return "unchanged", nil
			}
		}
	case fi.Mode().IsRegular() && fi.Mode().Perm() == it.mode:
		data, err := os.ReadFile(dst)
		if err != nil {
			return "", fmt.Errorf("checking %s: %w", dst, err)
		}
		if bytes.Equal(data, it.data) {
			return "unchanged", nil
		}
	case fi.IsDir():
		return "", fmt.Errorf("%s is a directory", dst)
	}
	return "replaced", nil
}

// put writes it at dst, creating the directories above it: a file goes to
// a temporary file in the same directory first, so dst is never half
// written.
func put(dst string, it item) error {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if it.link != "" {
		tmp := filepath.Join(dir, "."+filepath.Base(dst)+".ulvs-install")
		os.Remove(tmp)
		if err := os.Symlink(it.link, tmp); err != nil {
			return fmt.Errorf("linking %s: %w", dst, err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("linking %s: %w", dst, err)
		}
		return nil
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	_, err = f.Write(it.data)
	if err == nil {
		err = f.Chmod(it.mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}

// saveCommand is the shell command that saves ulvsd's rules to rules as
// ipvsadm-save -n does, through rules.tmp: the file is replaced only by a
// complete save, and a failed save leaves it as it was and fails.
func saveCommand(ulvsadm, rules string) string {
	return fmt.Sprintf("%[1]s -S -n > %[2]s.tmp && mv -f %[2]s.tmp %[2]s || { rm -f %[2]s.tmp; exit 1; }", ulvsadm, rules)
}

// restoreCommand is the shell command that restores rules into ulvsd as
// ipvsadm-restore does; without the file there is nothing to restore.
func restoreCommand(ulvsadm, rules string) string {
	return fmt.Sprintf(`if [ -f %[2]s ]; then %[1]s -R < %[2]s; else echo "no %[2]s: no rules to restore"; fi`, ulvsadm, rules)
}

func ulvsdUnit(ulvsd, config string) string {
	return `# Installed by ulvs install --systemd.
[Unit]
Description=ulvs director (Linux Virtual Server in user space)
Documentation=https://github.com/ulvs/ulvs
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
# On stop ulvsd saves its connection table to the state file, and the
# next start restores it: systemctl restart keeps established connections.
ExecStart=` + ulvsd + ` -c ` + config + ` --state-file /run/ulvs/conns.state
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure

[Install]
WantedBy=multi-user.target
`
}

// ipvsadmUnit is Debian's and RHEL's ipvsadm.service for ulvsd: the rules
// live in ulvsd instead of the kernel, so the unit needs ulvsd (BindsTo,
// After) and starts again with it (WantedBy=ulvsd.service). At stop it
// saves, and clears only after a good save.
func ipvsadmUnit(ulvsadm, rules string) string {
	return `# Installed by ulvs install --systemd.
# The ipvsadm rules, kept in ulvsd instead of the kernel: restored from
# ` + rules + ` at start, saved there at stop (through a .tmp file, so a
# failed save keeps the old file, and then the rules are not cleared).
# The rules file owns ulvsd's whole table, as it owns the kernel's: keep
# virtual services in ` + rules + ` or in ulvs.toml, not in both.
[Unit]
Description=ipvsadm rules in ulvsd (restore at start, save at stop)
Documentation=https://github.com/ulvs/ulvs/blob/main/docs/ulvsadm.md
BindsTo=ulvsd.service
After=ulvsd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c '` + restoreCommand(ulvsadm, rules) + `'
ExecStop=/bin/sh -c '` + saveCommand(ulvsadm, rules) + `'
ExecStop=` + ulvsadm + ` -C

[Install]
WantedBy=multi-user.target ulvsd.service
`
}

// sysvScript is /etc/init.d/ipvsadm in the manner of the ipvsadm
// package's script, driving ulvsd through ulvsadm. ULVSADM and
// IPVSADM_RULES in the environment override the installed paths.
func sysvScript(ulvsadm, rules string) string {
	return `#!/bin/sh
# Installed by ulvs install --sysv: ipvsadm's rules, kept in ulvsd.
### BEGIN INIT INFO
# Provides:          ipvsadm
# Required-Start:    $network $remote_fs ulvsd
# Required-Stop:     $network $remote_fs ulvsd
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: ipvsadm rules in ulvsd (restore at start, save at stop)
### END INIT INFO

ULVSADM=${ULVSADM:-` + ulvsadm + `}
IPVSADM_RULES=${IPVSADM_RULES:-` + rules + `}

save() {
	` + saveCommand(`"$ULVSADM"`, `"$IPVSADM_RULES"`) + `
}

restore() {
	` + restoreCommand(`"$ULVSADM"`, `"$IPVSADM_RULES"`) + `
}

case "$1" in
start)
	restore
	;;
stop)
	save && "$ULVSADM" -C
	;;
save)
	save && echo "saved the rules to $IPVSADM_RULES"
	;;
restart|reload|force-reload)
	"$0" stop && "$0" start
	;;
status)
	"$ULVSADM" -L -n
	;;
*)
	echo "Usage: $0 {start|stop|save|restart|status}" >&2
	exit 2
	;;
esac
`
}
