package director

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/tomlfile"
	"github.com/ulvs/ulvs/ctl"
)

// saver is the Director as ulvsd serves it on the control socket, with
// ulvsadm --save-config (ctl.ConfigSaver): the live rules written back to
// a TOML file by the daemon, which runs as root and knows its file.
type saver struct {
	*Director
	cfgPath string  // ulvsd -c FILE; "" when started with -i
	opts    options // what a file written from scratch (-i) holds
	log     *slog.Logger

	mu sync.Mutex // one save at a time
}

var _ ctl.ConfigSaver = (*saver)(nil)

// SaveConfig writes the live rules to path, or to the -c file when path
// is "". With a -c file, the new text is that file as it is on disk now
// with only its virtual services replaced (tomlfile.ReplaceServices):
// [director], [timeouts], [sysctl], [[fwmark]], [metrics] and comments
// stay. Without one (-i), a whole file is written from the daemon's
// settings: its interfaces, socket, workers, table size, live timeouts
// and metrics address. Either way the text is checked to read back as
// the live rules and replaces path atomically.
func (s *saver) SaveConfig(path string) (string, error) {
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
	var data []byte
	if s.cfgPath != "" {
		base, err := os.ReadFile(s.cfgPath)
		if err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
		if data, err = tomlfile.ReplaceServices(s.cfgPath, base, rules); err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
	} else {
		f := s.fresh(rules)
		var err error
		if data, err = tomlfile.MarshalTOML(f); err != nil {
			return "", fmt.Errorf("save-config: %w", err)
		}
		if err := checkReadsBack(target, data, rules); err != nil {
			return "", err
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
