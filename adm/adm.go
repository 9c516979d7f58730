// Package adm is the ulvsadm program: ipvsadm's command line, run against
// the ulvsd daemon over its control socket (package ctl) instead of the
// kernel. It parses arguments with ipvsadm.ParseArgs, sends rule edits,
// prints listings in ipvsadm 1.31's format and exits with ipvsadm's
// statuses. All user-visible text is in messages.go.
//
// cmd/ulvsadm calls Main; tests build a Program with their own streams.
package adm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/ctl"
)

// Main runs ulvsadm with args (without the program name) and returns the
// exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	name := "ulvsadm"
	if len(os.Args) > 0 && os.Args[0] != "" {
		name = os.Args[0]
	}
	name, args = ForName(name, args)
	p := &Program{
		Name:     name,
		Stdin:    os.Stdin,
		Stdout:   stdout,
		Stderr:   stderr,
		Getenv:   os.Getenv,
		Resolver: ipvsadm.SystemResolver{},
		Names:    &SystemNames{},
	}
	return p.Run(args)
}

// ForName maps the name the program was run as (argv[0], a path or a bare
// name) and its arguments to the name shown in messages and the arguments
// ulvsadm runs. Installed under ipvsadm's names (ulvs install --names), it
// behaves as ipvsadm 1.31's tools do: ipvsadm-save is "ipvsadm -S" with
// the given arguments (such as -n), ipvsadm-restore is "ipvsadm -R"
// reading stdin. Messages then say "ipvsadm", as the scripts run ipvsadm.
// Any other name (ulvsadm, ipvsadm, ulvs) runs args unchanged.
func ForName(argv0 string, args []string) (name string, runArgs []string) {
	switch filepath.Base(argv0) {
	case "ipvsadm-save":
		return "ipvsadm", append([]string{"-S"}, args...)
	case "ipvsadm-restore":
		return "ipvsadm", append([]string{"-R"}, args...)
	}
	return argv0, args
}

// Program is one ulvsadm invocation's environment. Fields left nil mean: no
// input, discarded output, no environment, numbers only.
type Program struct {
	Name     string // argv[0], shown in help texts
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Getenv   func(string) string
	Resolver ipvsadm.Resolver // names in arguments
	Names    Names            // names in listings without -n
}

// run is the state of one Run.
type run struct {
	*Program
	out    *bufio.Writer
	socket string
	client *ctl.Client
	json   bool // --json (ext.go)
}

// Run executes args and returns the exit status.
func (p *Program) Run(args []string) int {
	if p.Stdout == nil {
		p.Stdout = io.Discard
	}
	if p.Stderr == nil {
		p.Stderr = io.Discard
	}
	if p.Name == "" {
		p.Name = "ulvsadm"
	}
	r := &run{Program: p, out: bufio.NewWriter(p.Stdout)}
	args, sock, err := extractSocket(args)
	if err != "" {
		fmt.Fprintf(p.Stderr, "%s\n", err)
		return exitCommand
	}
	r.socket = ctl.SocketPath(sock, p.Getenv)
	args, ext := extractExtensions(args)
	var status int
	if ext.save {
		status = r.saveConfig(args, ext)
	} else {
		r.json = ext.json
		status, _ = r.process(args)
	}
	if r.client != nil {
		r.client.Close()
	}
	// A bufio.Writer keeps its first error: this reports any failed write
	// of the run (ulvsadm -S > rules on a full disk), which ipvsadm's
	// printf would have ignored.
	if err := r.out.Flush(); err != nil {
		fmt.Fprintf(p.Stderr, msgOutputFailed, p.Name, err)
		if status == exitOK {
			status = exitList
		}
	}
	return status
}

// extractSocket removes "--socket PATH" and "--socket=PATH" (a ulvs
// addition) from args, up to a "--".
func extractSocket(args []string) (rest []string, socket string, errText string) {
	rest = make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i:]...), socket, ""
		case a == "--socket":
			if i+1 >= len(args) {
				return nil, "", "--socket: missing argument"
			}
			socket = args[i+1]
			i++
		case strings.HasPrefix(a, "--socket="):
			socket = strings.TrimPrefix(a, "--socket=")
		default:
			rest = append(rest, a)
		}
	}
	return rest, socket, ""
}

// connect is ipvs_init: connect to the daemon and ask its version.
func (r *run) connect() bool {
	if r.client != nil {
		return true
	}
	c, err := ctl.Dial(r.socket)
	if err == nil {
		if _, err = c.Info(); err != nil {
			c.Close()
		}
	}
	if err != nil {
		r.out.Flush()
		reason := sysMessage(err)
		if errors.Is(err, ctl.ErrPermission) {
			reason = msgPermission
		}
		initFailure(r.Stderr, reason, r.socket)
		return false
	}
	r.client = c
	return true
}

// process is ipvsadm's process_options for one command line. exit reports
// that ipvsadm would have called exit().
func (r *run) process(args []string) (status int, exit bool) {
	c, err := ipvsadm.ParseArgsWith(args, r.Resolver)
	if err != nil {
		var pe *ipvsadm.ParseError
		if !errors.As(err, &pe) {
			fmt.Fprintf(r.Stderr, "%v\n", err)
			return exitFail, true
		}
		r.out.Flush()
		if pe.TryHelp {
			io.WriteString(r.Stderr, tryHelpLine(r.Name))
			return pe.Status, true
		}
		fmt.Fprintf(r.Stderr, "%s\n", pe.Msg)
		// popt errors return -1 from process_options; fail() exits.
		return pe.Status, pe.Status == exitFail
	}
	return r.execute(&c)
}

// execute runs one parsed command: the second half of process_options.
func (r *run) execute(c *config.Command) (status int, exit bool) {
	switch c.Op {
	case config.OpHelp:
		io.WriteString(r.out, versionLine(r.Name))
		io.WriteString(r.out, usage(r.Name))
		return exitOK, true
	case config.OpVersion:
		io.WriteString(r.out, versionLine(r.Name))
		return exitOK, true
	}
	if r.json && c.Op != config.OpList {
		r.out.Flush()
		fmt.Fprintf(r.Stderr, "%s\n", msgJSONListOnly)
		return exitFail, true
	}
	if c.Op == config.OpRestore {
		return r.restore()
	}
	if !r.connect() {
		return exitFail, true
	}
	switch c.Op {
	case config.OpList, config.OpSave:
		return r.list(c)
	}
	if err := r.client.Apply(*c); err != nil {
		r.out.Flush()
		fmt.Fprintf(r.Stderr, "%s\n", strerror(c.Op, err))
		return exitCommand, false
	}
	return exitOK, false
}

// restore is -R. Unlike ipvsadm's restore_table, which runs each line of
// stdin as it reads it and stops at the first bad one (leaving the lines
// before it applied), it applies nothing unless all of stdin is good:
//
//  1. every line is parsed; every bad one is printed with its number and
//     text;
//  2. the rule edits are tried in order on a copy of the daemon's rules,
//     with the kernel's checks (config.Rules.Apply); the first refusal (a
//     service that already exists, thresholds the wrong way round, ...)
//     is printed with its line;
//  3. only then are the commands run in order, as ipvsadm runs them. A
//     refusal now (another client changed the rules in between) prints
//     its error and the restore goes on, as in ipvsadm; a line that makes
//     ipvsadm exit (-h) ends it; the last command's status is returned.
func (r *run) restore() (int, bool) {
	if r.Stdin == nil {
		return exitOK, false
	}
	lines, err := ipvsadm.ParseRestoreLines(r.Stdin, r.Resolver)
	if err != nil {
		r.out.Flush()
		var bad ipvsadm.RestoreErrors
		if !errors.As(err, &bad) {
			fmt.Fprintf(r.Stderr, "%s -R: %v; nothing applied\n", r.Name, err)
			return exitFail, true
		}
		for _, e := range bad {
			msg := e.Err.Msg
			if e.Err.TryHelp {
				msg = strings.TrimSuffix(tryHelpLine(r.Name), "\n")
			}
			fmt.Fprintf(r.Stderr, msgRestoreLine, r.Name, e.Line, e.Text, msg)
		}
		fmt.Fprintf(r.Stderr, msgRestoreNothing, r.Name, len(bad))
		return bad[0].Err.Status, true
	}
	if status, exit := r.tryRestore(lines); exit {
		return status, true
	}
	status := exitOK
	for i := range lines {
		var exit bool
		status, exit = r.execute(&lines[i].Command)
		if exit {
			return status, true
		}
	}
	return status, false
}

// tryRestore is step 2 of restore: the rule edits of lines applied in
// order to a copy of the daemon's rules. exit reports a refusal (printed).
func (r *run) tryRestore(lines []ipvsadm.RestoreLine) (status int, exit bool) {
	edits := false
	for i := range lines {
		edits = edits || dryRunnable(&lines[i].Command)
	}
	if !edits || r.json {
		return exitOK, false
	}
	if !r.connect() {
		return exitFail, true
	}
	snap, err := r.client.Snapshot()
	if err != nil {
		r.out.Flush()
		fmt.Fprintf(r.Stderr, "%s\n", strerror(config.OpList, err))
		return exitList, true
	}
	var rules config.Rules
	for _, s := range snap.Services {
		svc := s.Service
		svc.Dests = make([]config.Dest, len(s.Dests))
		for i := range s.Dests {
			svc.Dests[i] = s.Dests[i].Dest
		}
		rules.Services = append(rules.Services, svc)
	}
	for i := range lines {
		l := &lines[i]
		if !dryRunnable(&l.Command) {
			continue
		}
		if err := rules.Apply(l.Command); err != nil {
			r.out.Flush()
			fmt.Fprintf(r.Stderr, msgRestoreLine, r.Name, l.Line, l.Text, strerror(l.Command.Op, err))
			fmt.Fprintf(r.Stderr, msgRestoreNothing, r.Name, 1)
			return exitCommand, true
		}
	}
	return exitOK, false
}

// dryRunnable reports whether c changes (or checks) the rules in a way
// config.Rules.Apply can try on a copy.
func dryRunnable(c *config.Command) bool {
	return c.Op.IsRuleEdit() || (c.Op == config.OpZero && c.HasService)
}

// list runs -L/-l/-S.
func (r *run) list(c *config.Command) (int, bool) {
	l := &lister{w: r.out, names: r.Names, f: format{ListOptions: c.List, rule: c.Op == config.OpSave}}
	fail := func(err error) (int, bool) {
		r.out.Flush()
		fmt.Fprintf(r.Stderr, "%s\n", strerror(config.OpList, err))
		return exitList, true
	}
	switch {
	case c.List.Conn:
		conns, err := r.client.Conns()
		if err != nil {
			return fail(err)
		}
		if r.json {
			return r.writeJSON(connsJSON(conns))
		}
		l.conns(conns)
		return exitOK, false
	case c.List.Timeout:
		snap, err := r.client.Snapshot()
		if err != nil {
			return fail(err)
		}
		t := snap.Timeouts
		if r.json {
			var jt jsonTimeouts
			jt.Timeouts.TCP, jt.Timeouts.TCPFin, jt.Timeouts.UDP = t.TCP, t.TCPFin, t.UDP
			return r.writeJSON(jt)
		}
		fmt.Fprintf(r.out, fmtTimeouts, t.TCP, t.TCPFin, t.UDP)
		return exitOK, false
	case c.List.Daemon:
		snap, err := r.client.Snapshot()
		if err != nil {
			return fail(err)
		}
		if r.json {
			return r.writeJSON(daemonsJSON(snap.Daemons))
		}
		for _, d := range snap.Daemons {
			fmt.Fprintf(r.out, fmtDaemon, d.State, d.Interface, d.SyncID, d.MaxLen, d.Group, d.Port, d.TTL)
		}
		return exitOK, false
	}
	snap, err := r.client.Snapshot()
	if err != nil {
		return fail(err)
	}
	if r.json {
		var only *config.ServiceKey
		if c.HasService {
			key := c.Service.Key()
			only = &key
		}
		jl := listingJSON(&snap, only, c.List.NoSort)
		if only != nil && len(jl.Services) == 0 {
			return fail(config.ErrNoService)
		}
		return r.writeJSON(jl)
	}
	if c.HasService && c.Op == config.OpList {
		key := c.Service.Key()
		for i := range snap.Services {
			if snap.Services[i].Key() == key {
				l.title()
				l.service(&snap.Services[i])
				return exitOK, false
			}
		}
		return fail(config.ErrNoService)
	}
	l.listAll(&snap)
	return exitOK, false
}
