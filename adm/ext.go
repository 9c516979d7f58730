package adm

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ulvs/ulvs/ctl"
)

// extensions are the ulvs-only options, taken out of the command line
// before ipvsadm.ParseArgs sees it (ipvsadm's parser would refuse them).
type extensions struct {
	json     bool   // --json: listings as JSON
	save     bool   // --save-config [FILE]
	saveFile string // its FILE, "" for the daemon's own file
}

// extractExtensions removes --json, --save-config [FILE] and
// --save-config=FILE from args, up to a "--". --save-config takes the next
// argument as FILE unless it starts with '-'.
func extractExtensions(args []string) (rest []string, ext extensions) {
	rest = make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i:]...), ext
		case a == "--json":
			ext.json = true
		case a == "--save-config":
			ext.save = true
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				ext.saveFile = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--save-config="):
			ext.save = true
			ext.saveFile = strings.TrimPrefix(a, "--save-config=")
		default:
			rest = append(rest, a)
		}
	}
	return rest, ext
}

// saveConfig runs --save-config: the daemon writes its live rules to FILE
// (made absolute here, as the daemon's working directory is not ours) or
// to its own file.
func (r *run) saveConfig(args []string, ext extensions) int {
	if len(args) > 0 || ext.json {
		fmt.Fprintf(r.Stderr, "%s\n", msgSaveConfigAlone)
		return exitFail
	}
	path := ext.saveFile
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			fmt.Fprintf(r.Stderr, msgSaveConfigFailed, err)
			return exitCommand
		}
		path = abs
	}
	if !r.connect() {
		return exitFail
	}
	if _, err := r.client.SaveConfig(path); err != nil {
		var re *ctl.RemoteError
		msg := err.Error()
		if errors.As(err, &re) {
			msg = re.Message
		}
		fmt.Fprintf(r.Stderr, msgSaveConfigFailed, msg)
		return exitCommand
	}
	return exitOK
}
