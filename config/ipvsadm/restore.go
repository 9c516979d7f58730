package ipvsadm

import (
	"bufio"
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
	Line int // 1-based
	Err  *ParseError
}

func (e *RestoreError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Err.Error() }
func (e *RestoreError) Unwrap() error { return e.Err }

// ParseRestore parses ipvsadm -R / ipvsadm-save text: one command per
// line, blank lines skipped. The first bad line stops it with a
// *RestoreError.
func ParseRestore(r io.Reader, res Resolver) ([]config.Command, error) {
	var cmds []config.Command
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		args := SplitRestoreLine(sc.Text())
		if len(args) == 0 {
			continue
		}
		c, err := ParseArgsWith(args, res)
		if err != nil {
			return cmds, &RestoreError{Line: line, Err: err.(*ParseError)}
		}
		if c.Op == config.OpRestore {
			return cmds, &RestoreError{Line: line, Err: tryHelp}
		}
		cmds = append(cmds, c)
	}
	return cmds, sc.Err()
}
