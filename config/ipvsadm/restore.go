package ipvsadm

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
)

// SplitRestoreLine splits one line of ipvsadm -R input into arguments as
// ipvsadm's config_stream_read does: words separated by blanks, the word
// "ipvsadm" dropped. Unlike ipvsadm, whose comment handling never fires,
// everything from a '#' on is ignored, as its documentation says.
func SplitRestoreLine(line string) []string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	var out []string
	for _, w := range strings.FieldsFunc(line, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n'
	}) {
		if w != "ipvsadm" {
			out = append(out, w)
		}
	}
	return out
}

// RestoreError is a parse error in ipvsadm -R input.
type RestoreError struct {
	Line int    // 1-based
	Text string // the line as read, without its line ending
	Err  *ParseError
}

func (e *RestoreError) Error() string {
	return "line " + strconv.Itoa(e.Line) + ": " + strconv.Quote(e.Text) + ": " + e.Err.Error()
}
func (e *RestoreError) Unwrap() error { return e.Err }

// RestoreErrors is every bad line of an ipvsadm -R input, in order.
type RestoreErrors []*RestoreError

func (e RestoreErrors) Error() string {
	msgs := make([]string, len(e))
	for i, re := range e {
		msgs[i] = re.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap gives errors.As and errors.Is each line's *RestoreError.
func (e RestoreErrors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, re := range e {
		errs[i] = re
	}
	return errs
}

// RestoreLine is one command of ipvsadm -R input and the line it came from.
type RestoreLine struct {
	Line    int    // 1-based
	Text    string // the line as read, without its line ending
	Command config.Command
}

// ParseRestore parses ipvsadm -R / ipvsadm-save text into its commands;
// see ParseRestoreLines.
func ParseRestore(r io.Reader, res Resolver) ([]config.Command, error) {
	lines, err := ParseRestoreLines(r, res)
	if err != nil {
		return nil, err
	}
	cmds := make([]config.Command, len(lines))
	for i := range lines {
		cmds[i] = lines[i].Command
	}
	return cmds, nil
}

// ParseRestoreLines parses ipvsadm -R / ipvsadm-save text: one command per
// line, blank lines and comments skipped. Unlike ipvsadm, which runs each
// line as it reads it and stops at the first bad one (the lines before it
// stay applied), it reads the whole input first: when any line is bad it
// returns no commands and a RestoreErrors naming every bad line, so that
// the caller applies nothing. A line longer than 1 MiB is an error that
// stops the reading.
func ParseRestoreLines(r io.Reader, res Resolver) ([]RestoreLine, error) {
	var lines []RestoreLine
	var bad RestoreErrors
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		args := SplitRestoreLine(text)
		if len(args) == 0 {
			continue
		}
		c, err := ParseArgsWith(args, res)
		switch {
		case err != nil:
			bad = append(bad, &RestoreError{Line: line, Text: text, Err: err.(*ParseError)})
		case c.Op == config.OpRestore:
			bad = append(bad, &RestoreError{Line: line, Text: text, Err: tryHelp})
		default:
			lines = append(lines, RestoreLine{Line: line, Text: text, Command: c})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading line %d: %w", line+1, err)
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return lines, nil
}
