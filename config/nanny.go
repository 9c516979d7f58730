package config

import (
	"errors"
	"strings"
)

// The names File.Format takes for the formats the console and the saver
// write back in their own syntax.
const (
	FormatPiranha    = "piranha"
	FormatKeepalived = "keepalived"
)

// NannyUnescape is nanny's convert_str for send and expect strings: \\, \r,
// \n, \t, \' and \" stand for the character. A backslash before anything
// else is refused with the reason: nanny's loop never gets past one. A
// string of one byte is left as it is, as nanny leaves it.
func NannyUnescape(s string) (string, error) {
	if len(s) <= 1 || !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("ends with a backslash (escape what?)")
		}
		switch e := s[i+1]; e {
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		default:
			return "", errors.New("unknown escape \\" + string(e) + " (nanny knows \\\\ \\r \\n \\t \\' \\\" and hangs on others)")
		}
		i++
	}
	return b.String(), nil
}

// NannyEscape is the inverse of NannyUnescape: nanny's escapes for a
// backslash, a carriage return, a line feed and a tab, as send and expect
// are written in lvs.cf and typed in Piranha's GUI.
func NannyEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\r", `\r`, "\n", `\n`, "\t", `\t`).Replace(s)
}
