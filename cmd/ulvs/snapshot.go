package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ulvs/ulvs/ctl"
)

// snapshotCommand is the shape of the commands that print a part of the
// running director's snapshot (stats, checks, ha): their own flags, then
// --socket, no arguments, one snapshot read over the control socket.
type snapshotCommand struct {
	name  string // "ulvs stats"
	usage string
	// flags adds the command's own flags.
	flags func(fs *flag.FlagSet)
	// print writes the snapshot's part as text; asJSON (when the command
	// has --json) writes it as JSON instead.
	print  func(w io.Writer, snap *ctl.Snapshot)
	asJSON func(snap *ctl.Snapshot) any
}

// run parses args, reads one snapshot and prints it; it returns the exit
// code.
func (c snapshotCommand) run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, c.usage) }
	socket := fs.String("socket", "", "control socket (default $ULVS_SOCKET or "+ctl.DefaultSocket+")")
	var jsonOut *bool
	if c.asJSON != nil {
		jsonOut = fs.Bool("json", false, "print JSON")
	}
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, c.usage)
		return 2
	}
	path := ctl.SocketPath(*socket, os.Getenv)
	cl, err := ctl.Dial(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v (is ulvsd running with --socket %s?)\n", c.name, err, path)
		return 1
	}
	defer cl.Close()
	snap, err := cl.Snapshot()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return 1
	}
	if jsonOut != nil && *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c.asJSON(&snap)); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	c.print(stdout, &snap)
	return 0
}
