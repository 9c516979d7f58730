package director

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/keepalived"
	"github.com/ulvs/ulvs/config/load"
	"github.com/ulvs/ulvs/config/piranha"
	"github.com/ulvs/ulvs/config/tomlfile"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/web"
)

// saver is the Director as ulvsd serves it on the control socket, with
// ulvsadm --save-config (ctl.ConfigSaver): the live rules written back to
// a TOML file by the daemon, which runs as root and knows its file.
type saver struct {
	*Director
	cfgPath string  // ulvsd -c FILE; "" when started with -i
	opts    options // what a file written from scratch (-i) holds
	log     *slog.Logger
	// configured maps the live rules back to what the administrator
	// configured (healthcheck.Monitor.Configured), so that a server the
	// checks hold down is saved; nil saves the live rules as they are.
	configured func(config.Rules) config.Rules
	// reload applies the -c file to the running daemon as SIGHUP does
	// (reloadFile); nil in tests that have no daemon.
	reload func() ([]string, error)

	mu sync.Mutex // one save at a time
}

var _ ctl.ConfigSaver = (*saver)(nil)

// SaveConfig writes the live rules (with the health checks' verdicts
// undone: servers the checks removed or hold at weight 0 are saved as
// configured, a sorry server standing in is not saved) to path, or to the -c file when path
// is "". With a -c file, the new text is that file as it is on disk now
// with only its virtual services replaced (tomlfile.ReplaceServices):
// [director], [timeouts], [sysctl], [[fwmark]], [metrics] and comments
// stay, and so do the health checks of the services and real servers the
// rules still have. An lvs.cf is rewritten as an lvs.cf
// (piranha.Rewrite), a keepalived.conf in keepalived's syntax
// (keepalived.Rewrite): only the lines that change, and whatever the
// format cannot hold is refused, naming it ("NOT saved"). Without a file
// (-i), a whole file is written from the daemon's settings: its
// interfaces, socket, workers, table size, live timeouts and metrics
// address. An lvs_dr.conf is never overwritten; saved to a new file, the
// rules keep the -c file's health checks. Either way the text is checked
// to read back as the live rules and replaces path atomically.
func (s *saver) SaveConfig(path string) (string, error) {
	return s.save(path, false)
}

// SaveWithBackup is SaveConfig to the -c file that first keeps the
// file's previous content as FILE.bak (written atomically too, with the
// file's mode), as the web console saves every edit; then the file is
// reloaded as SIGHUP does, so that the health checks' configuration is
// the file's.
func (s *saver) SaveWithBackup() (string, error) {
	path, err := s.save("", true)
	if err == nil && s.reload != nil {
		// The health checks take the saved file as their configuration
		// (a weight edited on a checked server is then the configured
		// one, not undone at the check's next verdict).
		if notes, err := s.reload(); err != nil || len(notes) > 0 {
			s.log.Error("reload after the console's save", "file", path, "err", err, "failed", notes)
		}
	}
	return path, err
}

func (s *saver) save(path string, backup bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	target := path
	if target == "" {
		target = s.cfgPath
	}
	if target == "" {
		return "", ctl.ErrNoConfigFile
	}
	rules := s.Rules()
	if s.configured != nil {
		rules = s.configured(rules)
	}
	var data []byte
	var base []byte
	if s.cfgPath != "" {
		var err error
		if base, err = os.ReadFile(s.cfgPath); err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
	}
	switch format := load.Detect(base); {
	case s.cfgPath != "" && format == load.TOML:
		var err error
		if data, err = tomlfile.ReplaceServices(s.cfgPath, base, rules); err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
	case s.cfgPath != "" && target == s.cfgPath && format == load.Piranha:
		old, err := load.Parse(s.cfgPath, base)
		if err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
		old.Rules, old.Health = rules, tomlfile.KeepHealth(rules, old.Health)
		if data, err = piranha.Rewrite(s.cfgPath, base, old, piranha.Options{}); err != nil {
			return "", fmt.Errorf("save-config: NOT saved: %w", err)
		}
	case s.cfgPath != "" && target == s.cfgPath && format == load.Keepalived:
		old, err := load.Parse(s.cfgPath, base)
		if err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
		old.Rules = rules
		if data, err = keepalived.Rewrite(s.cfgPath, base, old, keepalived.Options{}); err != nil {
			return "", fmt.Errorf("save-config: NOT saved: %w", err)
		}
	case s.cfgPath != "" && target == s.cfgPath:
		// Written back in its own format: ulvs.toml, lvs.cf and
		// keepalived.conf; an lvs_dr.conf is not.
		return "", fmt.Errorf("save-config: %s is a %s file, which ulvs does not write back: name a TOML file (ulvsadm --save-config FILE.toml)", s.cfgPath, format)
	default:
		// A whole file from the daemon's settings, with the health
		// checks of the -c file (another format) when there is one.
		f := s.fresh(rules)
		if s.cfgPath != "" {
			old, err := load.Parse(s.cfgPath, base)
			if err != nil {
				return "", fmt.Errorf("save-config: %w", err)
			}
			f.Marks, f.Health = old.Marks, tomlfile.KeepHealth(rules, old.Health)
		}
		var err error
		if data, err = tomlfile.MarshalTOML(f); err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
		if err := checkReadsBack(target, data, rules); err != nil {
			return "", err
		}
	}
	if backup {
		if err := keepBackup(target, data); err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
	}
	if err := tomlfile.WriteFileAtomic(target, data, 0o644); err != nil {
		return "", fmt.Errorf("save-config: %w", err)
	}
	s.log.Info("configuration saved", "file", target, "services", len(rules.Services))
	return target, nil
}

// fresh is the File a daemon started with -i would be started from.
func (s *saver) fresh(rules config.Rules) *config.File {
	return &config.File{
		Interfaces:    s.opts.interfaces,
		Socket:        s.opts.socket,
		Workers:       s.opts.workers,
		ConnTableSize: s.opts.connTableSize,
		Timeouts:      s.Snapshot().Timeouts,
		Metrics:       config.Metrics{Listen: s.opts.metrics},
		Web:           s.opts.web,
		Rules:         rules,
	}
}

// checkReadsBack parses data as path and compares its services with
// rules, in the writer's canonical form.
func checkReadsBack(path string, data []byte, rules config.Rules) error {
	f, err := tomlfile.Parse(path, data)
	if err != nil {
		return fmt.Errorf("save-config: the live rules do not make a valid file: %w", err)
	}
	want, err := tomlfile.MarshalServices(rules)
	if err != nil {
		return fmt.Errorf("save-config: %w", err)
	}
	got, err := tomlfile.MarshalServices(f.Rules)
	if err != nil || string(got) != string(want) {
		return fmt.Errorf("save-config: %s does not read back as the live rules", path)
	}
	return nil
}

// keepBackup copies path's present content to path.bak before data
// replaces it; nothing when path does not exist yet or already holds data.
func keepBackup(path string, data []byte) error {
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && bytes.Equal(old, data)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	perm := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	return tomlfile.WriteFileAtomic(path+".bak", old, perm)
}

// File returns the -c file as it is on disk now (web.FileEditor).
func (s *saver) File() (*config.File, error) {
	if s.cfgPath == "" {
		return nil, ctl.ErrNoConfigFile
	}
	return load.File(s.cfgPath)
}

// Edit changes the -c file's settings (web.FileEditor): the file is read
// now, its rules replaced by the live ones (as a save writes them),
// edit changes the rest, and the result is written in the file's own
// format (an lvs.cf by piranha.Rewrite, a keepalived.conf by
// keepalived.Rewrite, a ulvs TOML file by tomlfile.RewriteSettings; each
// refuses what it cannot write, naming it), FILE.bak keeping the previous
// content, both atomically. Then
// the file is applied as SIGHUP applies it (reloadFile). What the
// running daemon keeps until a restart (its interfaces, socket, workers,
// table size, metrics and console addresses, state file) is listed in
// the result; so are the parts of the reload that failed.
func (s *saver) Edit(edit func(*config.File) error) (web.FileEdit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfgPath == "" {
		return web.FileEdit{}, ctl.ErrNoConfigFile
	}
	base, err := os.ReadFile(s.cfgPath)
	if err != nil {
		return web.FileEdit{}, err
	}
	want, err := load.Parse(s.cfgPath, base)
	if err != nil {
		return web.FileEdit{}, err
	}
	rules := s.Rules()
	if s.configured != nil {
		rules = s.configured(rules)
	}
	want.Rules, want.Health = rules, tomlfile.KeepHealth(rules, want.Health)
	if err := edit(want); err != nil {
		return web.FileEdit{}, err
	}
	var data []byte
	switch format := load.Detect(base); format {
	case load.Piranha:
		data, err = piranha.Rewrite(s.cfgPath, base, want, piranha.Options{})
	case load.Keepalived:
		data, err = keepalived.Rewrite(s.cfgPath, base, want, keepalived.Options{})
	case load.TOML:
		data, err = tomlfile.RewriteSettings(s.cfgPath, base, want)
	default:
		err = fmt.Errorf("%s is a %s file, which the console does not write (edit the file and reload ulvsd with SIGHUP)", s.cfgPath, format)
	}
	if err != nil {
		return web.FileEdit{}, err
	}
	if err := keepBackup(s.cfgPath, data); err != nil {
		return web.FileEdit{}, err
	}
	if err := tomlfile.WriteFileAtomic(s.cfgPath, data, 0o644); err != nil {
		return web.FileEdit{}, err
	}
	s.log.Info("configuration file edited", "file", s.cfgPath)
	res := web.FileEdit{Path: s.cfgPath}
	if s.reload != nil {
		res.Failed, res.ReloadErr = s.reload()
	}
	before, err1 := load.Parse(s.cfgPath, base)
	after, err2 := load.Parse(s.cfgPath, data)
	if err1 == nil && err2 == nil {
		res.AtRestart = s.atRestart(before, after)
	}
	return res, nil
}

// atRestart lists what the edit changed in the file (before, after) that
// the running daemon keeps until it restarts.
func (s *saver) atRestart(before, after *config.File) []string {
	o := s.opts
	var out []string
	differ := func(what string, now, was, file any) {
		if fmt.Sprint(was) != fmt.Sprint(file) && fmt.Sprint(now) != fmt.Sprint(file) {
			out = append(out, fmt.Sprintf("%s: ulvsd runs with %v; the file's %v applies when ulvsd restarts (unless its command line overrides it)", what, now, file))
		}
	}
	sorted := func(s []string) string {
		s = slices.Clone(s)
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	differ("interfaces", sorted(o.interfaces), sorted(before.Interfaces), sorted(after.Interfaces))
	differ("workers", o.workers, before.Workers, after.Workers)
	differ("connection table size", o.connTableSize, before.ConnTableSize, after.ConnTableSize)
	differ("control socket", o.socket, before.Socket, after.Socket)
	differ("metrics address", o.metrics, before.Metrics.Listen, after.Metrics.Listen)
	differ("state file", o.stateFile, before.StateFile, after.StateFile)
	return out
}
