package piranha

import (
	"bytes"
	"strings"
)

// line is one significant line of lvs.cf: its words, as lvsconfig.c's
// tokenizeString splits them.
type line struct {
	num   int
	words []string
	// quoted[i] is the quote character word i was written in, or 0.
	quoted []byte
}

// keyword is the line's first word.
func (l *line) keyword() string { return l.words[0] }

// lexError is a line the tokenizer refuses.
type lexError struct {
	num int
	msg string
}

// lex splits lvs.cf into lines of words the way lvsconfig.c does: lines
// end at '\n' (a '\r' before it is dropped); leading blanks are skipped; a
// line whose first non-blank character is '#' is a comment, and so is a
// blank line. Words are separated by spaces and tabs; a word that starts
// with '"' or '\” runs to the same quote character on the same line and
// loses both quotes (there are no escapes: a quote ends the word even
// after a backslash). A quote left open is an error ("quotation
// mismatch"). A '#' after the first word is an ordinary character, as in
// Piranha.
func lex(data []byte) ([]line, *lexError) {
	var out []line
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for num := 1; len(data) > 0; num++ {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		s := strings.TrimSuffix(string(raw), "\r")
		s = strings.TrimLeft(s, " \t")
		if s == "" || s[0] == '#' {
			continue
		}
		l := line{num: num}
		var msg string
		if l.words, l.quoted, msg = lexLine(s); msg != "" {
			return nil, &lexError{num: num, msg: msg}
		}
		out = append(out, l)
	}
	return out, nil
}

// lexLine splits one line (without its leading blanks, not a comment)
// into words as lex does; msg says why a line is refused.
func lexLine(s string) (words []string, quoted []byte, msg string) {
	for s != "" {
		var q byte
		if s[0] == '"' || s[0] == '\'' {
			q = s[0]
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				return nil, nil, "quotation mismatch: " + string(q) + " is not closed on this line"
			}
			words = append(words, s[1:1+end])
			s = s[2+end:]
		} else {
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			words = append(words, s[:end])
			s = s[end:]
		}
		quoted = append(quoted, q)
		s = strings.TrimLeft(s, " \t")
	}
	return words, quoted, ""
}
