package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/web"
)

const passwdUsage = `Usage: ulvs passwd [-f FILE] [-role admin|monitor] USER

Sets the web console password of USER (adding USER if new), as
piranha-passwd sets Piranha's. The password is read from the terminal
(twice, not echoed), or as one line from standard input when that is not a
terminal. FILE (default ` + config.DefaultWebUsers + `, or [web] users)
holds name:role:bcrypt-hash lines and is written with mode 0600. Role admin
may edit; monitor may only look. See docs/web.md.

Options:
`

// passwdMain is `ulvs passwd`.
func passwdMain(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ulvs passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, passwdUsage); fs.PrintDefaults() }
	file := fs.String("f", config.DefaultWebUsers, "password `file`")
	roleName := fs.String("role", "admin", "`role`: admin (view and edit) or monitor (view only)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	name := fs.Arg(0)
	role, err := web.ParseRole(*roleName)
	if err != nil {
		fmt.Fprintf(stderr, "ulvs passwd: %v\n", err)
		return 2
	}
	if msg := web.CheckUserName(name); msg != "" {
		fmt.Fprintf(stderr, "ulvs passwd: %s\n", msg)
		return 2
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ulvs passwd: %v\n", err)
		return 1
	}
	if err := web.SetPassword(*file, name, role, pw); err != nil {
		fmt.Fprintf(stderr, "ulvs passwd: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "password of %s (%s) set in %s\n", name, role, *file)
	return 0
}

// readPassword reads the password: twice without echo from a terminal,
// else one line.
func readPassword(in *os.File, prompt io.Writer) (string, error) {
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil { // not a terminal
		line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	r := bufio.NewReader(in)
	ask := func(p string) (string, error) {
		fmt.Fprint(prompt, p)
		line, err := r.ReadString('\n')
		fmt.Fprintln(prompt)
		return strings.TrimRight(line, "\r\n"), err
	}
	a, err := ask("New password: ")
	if err != nil {
		return "", err
	}
	b, err := ask("Again: ")
	if err != nil {
		return "", err
	}
	if a != b {
		return "", fmt.Errorf("the passwords differ; nothing changed")
	}
	return a, nil
}
