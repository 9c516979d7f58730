// Package load reads a configuration file in whichever format ulvs knows
// and returns the one model every format produces, a *config.File: it
// recognises the format by the file's content (Detect), not by its name,
// and hands the text to that format's parser (config/tomlfile for
// ulvs.toml, config/keepalived for keepalived.conf, config/piranha for
// Piranha's lvs.cf, config/lvsdr for the LVS configure script's
// lvs_dr.conf, lvs_nat.conf and lvs_tun.conf).
//
// ulvsd -c and its SIGHUP reload call File. Nothing here touches the
// network or the engine; the functions are safe for concurrent use.
package load

import (
	"fmt"
	"os"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/keepalived"
	"github.com/ulvs/ulvs/config/lvsdr"
	"github.com/ulvs/ulvs/config/piranha"
	"github.com/ulvs/ulvs/config/tomlfile"
)

// File reads the configuration file at path, detects its format and
// parses it. The File's Format names the format ("toml", "keepalived",
// "piranha", "lvsdr"); host and service names in the last two are looked
// up with the system's resolver and /etc/services. A problem in
// the file is a *config.Error, one line with the file name and, where it
// has one, the line number.
func File(path string) (*config.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is File for text already read; path is used in errors and
// File.Path only. data is not retained.
func Parse(path string, data []byte) (*config.File, error) {
	format, line := detect(data)
	var (
		f   *config.File
		err error
	)
	switch format {
	case TOML:
		f, err = tomlfile.Parse(path, data)
	case Keepalived:
		f, err = keepalived.Parse(path, data, keepalived.Options{})
	case Piranha:
		f, err = piranha.Parse(path, data, piranha.Options{})
	case LVSConf:
		f, err = lvsdr.Parse(path, data, lvsdr.Options{})
	default:
		return nil, &config.Error{File: path, Line: line.num,
			Msg: fmt.Sprintf("not a ulvs TOML file, keepalived.conf, Piranha lvs.cf nor LVS configure lvs_dr.conf (it starts with %q)", line.text)}
	}
	if err != nil {
		return nil, err
	}
	f.Format = format.String()
	return f, nil
}
