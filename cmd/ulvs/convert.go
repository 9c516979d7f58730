package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/load"
	"github.com/ulvs/ulvs/config/tomlfile"
)

const convertUsage = `Usage: ulvs convert FILE [-o OUT] [-i IFACE[,IFACE...]]

Reads FILE in any format ulvsd reads (ulvs.toml, keepalived.conf,
Piranha's lvs.cf, the LVS configure script's lvs_dr.conf) and
writes it as ulvs.toml: to standard output, or to OUT (replaced
atomically). The warnings the file gives are printed on standard error.

  -o OUT    write the TOML to OUT instead of standard output
  -i IFACE  the interfaces the director listens on, when FILE names none
            (a keepalived.conf names them in its vrrp_instance blocks) or
            to replace those it names

What ulvs.toml cannot say is refused, never dropped: a keepalived.conf's
fwmark services (their marks come from iptables; ulvs.toml defines marks
in [[fwmark]] tables), for instance. VRRP is carried over: vrrp_instance,
the vrrp_script blocks they track and global_defs lvs_sync_daemon become
[[vrrp_instance]], [[vrrp_script]] and [sync_daemon] tables.
Piranha's pulse settings (primary, backup, heartbeat) and an lvs_dr.conf's
real-server settings are not carried over: ulvs.toml has no room for them.
`

// convertMain is `ulvs convert`.
func convertMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ulvs convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, convertUsage) }
	out := fs.String("o", "", "write the TOML to this file")
	ifaces := fs.String("i", "", "interfaces to listen on, comma-separated")
	// FILE may come before or after the flags.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "ulvs convert: want one FILE (got %d)\n\n%s", len(files), convertUsage)
		return 2
	}
	path := files[0]
	var names []string
	if *ifaces != "" {
		names = strings.Split(*ifaces, ",")
		for _, n := range names {
			if msg := config.CheckIfName(n); msg != "" {
				fmt.Fprintf(stderr, "ulvs convert: -i: %s\n", msg)
				return 2
			}
		}
	}
	data, err := convert(path, names, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ulvs convert: %v\n", err)
		return 1
	}
	if *out == "" {
		if _, err := stdout.Write(data); err != nil {
			fmt.Fprintf(stderr, "ulvs convert: %v\n", err)
			return 1
		}
		return 0
	}
	if err := tomlfile.WriteFileAtomic(*out, data, 0o644); err != nil {
		fmt.Fprintf(stderr, "ulvs convert: %v\n", err)
		return 1
	}
	return 0
}

// convert reads the configuration file at path and returns it as
// ulvs.toml; ifaces, when given, replace the file's interfaces. The file's
// warnings go to stderr.
func convert(path string, ifaces []string, stderr io.Writer) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := load.Parse(path, data)
	if err != nil {
		return nil, err
	}
	for _, w := range f.Warnings {
		fmt.Fprintf(stderr, "ulvs convert: %s\n", w)
	}
	if p := f.Pulse; p != nil && (p.BackupActive || p.Heartbeat) {
		fmt.Fprintf(stderr, "ulvs convert: %s: pulse is not carried over (primary %v, backup %v, heartbeat_port %d, keepalive %v, deadtime %v): ulvs.toml has no room for it\n",
			path, p.Primary, p.Backup, p.HeartbeatPort, p.Keepalive, p.Deadtime)
	}
	if p := f.Pulse; p != nil && p.BackupActive && p.MonitorLinks {
		fmt.Fprintf(stderr, "ulvs convert: %s: monitor_links is not carried over: in ulvs.toml a [[vrrp_instance]] goes to FAULT when its interface (or a track_interface) is down\n", path)
	}
	if p := f.Pulse; p != nil && p.BackupActive && (p.ActiveCmd != "" || p.InactiveCmd != "") {
		fmt.Fprintf(stderr, "ulvs convert: %s: active_cmd %q and inactive_cmd %q are not carried over: in ulvs.toml they are a [[vrrp_instance]]'s notify_master and notify_backup\n", path, p.ActiveCmd, p.InactiveCmd)
	}
	if p := f.Pulse; p != nil && p.NATRouter.IsValid() {
		fmt.Fprintf(stderr, "ulvs convert: %s: nat_router %v is not carried over: in ulvs.toml the real servers' gateway floats as a [[vrrp_instance]]'s virtual_ipaddress_excluded\n",
			path, p.NATRouter.Addr())
	}
	if len(ifaces) > 0 {
		f.Interfaces = ifaces
	}
	if len(f.Interfaces) == 0 {
		return nil, fmt.Errorf("%s names no interface to listen on (a keepalived.conf names them in vrrp_instance blocks): give -i IFACE", path)
	}
	text, err := tomlfile.MarshalTOML(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := readsBack(text); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Converted by ulvs convert from %s (%s).\n", path, f.Format)
	b.Write(text)
	return b.Bytes(), nil
}

// readsBack checks that the TOML text reads back to a File that
// MarshalTOML writes as the same text: the converted file means what the
// model does (the writer's own check; config/load's differential test is
// the thorough one).
func readsBack(text []byte) error {
	g, err := tomlfile.Parse("converted.toml", text)
	if err != nil {
		return fmt.Errorf("ulvs wrote a file it cannot read (a bug): %w", err)
	}
	again, err := tomlfile.MarshalTOML(g)
	if err != nil || !bytes.Equal(again, text) {
		return errors.New("the converted file would not read back the same (a bug): nothing written")
	}
	return nil
}
