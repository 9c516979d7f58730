package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ParseScript splits a configured command line into a Script the way
// keepalived 2.2.7 does for notify scripts and misc_path
// (lib/notify.c set_script_params_array: SplitWords on the script's
// text). Text keeps the string as given.
//
// An empty command and an empty program name (a first word of just two
// quotes, which keepalived takes and then fails to run) are errors, as
// are SplitWords' errors.
func ParseScript(text string) (Script, error) {
	argv, err := SplitWords(text)
	if err != nil {
		return Script{}, fmt.Errorf("script %q: %w", text, err)
	}
	if len(argv) == 0 {
		return Script{}, errors.New("empty script: name a program")
	}
	if argv[0] == "" {
		return Script{}, fmt.Errorf("script %q: the program name is empty", text)
	}
	return Script{Argv: argv, Text: text}, nil
}

// SplitWords splits text into words the way keepalived 2.2.7 does
// (lib/parser.c, alloc_strvec_quoted_escaped), which it uses both for a
// script's command line and for the configuration line that names the
// script: words are separated by white space; double or single quotes
// group text with white space into one word (and may be joined to
// unquoted text, as in a shell); a backslash escapes the next character,
// inside quotes too, with C's escapes (\n, \t, \a, \b, \f, \r, \v, \E for
// ESC, \cX for control-X, \NNN octal, \xHH hex; \x takes every hex digit
// that follows and keeps the low 8 bits, as keepalived does).
//
// An unterminated quote, a trailing backslash and a NUL byte in a word
// (which keepalived would silently cut the word at) are errors. Blank
// text gives no words and no error.
func SplitWords(text string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(text) && isScriptSpace(text[i]) {
			i++
		}
		if i == len(text) {
			return words, nil
		}
		var word []byte
		var quote byte
	word:
		for i < len(text) {
			c := text[i]
			switch {
			case c == '\\':
				b, n, err := scriptEscape(text[i+1:])
				if err != nil {
					return nil, err
				}
				word = append(word, b)
				i += 1 + n
				continue
			case quote != 0 && c == quote:
				quote = 0
			case quote != 0:
				word = append(word, c)
			case c == '"' || c == '\'':
				quote = c
			case isScriptSpace(c):
				break word
			default:
				word = append(word, c)
			}
			i++
		}
		if quote != 0 {
			return nil, fmt.Errorf("missing terminating %c", quote)
		}
		if bytes.IndexByte(word, 0) >= 0 {
			return nil, errors.New("a word contains a NUL byte")
		}
		words = append(words, string(word))
	}
}

// isScriptSpace is keepalived's WHITE_SPACE_STR.
func isScriptSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\f' || c == '\n' || c == '\r' || c == '\v'
}

// scriptEscape decodes the escape after a backslash at the start of s: the
// byte it stands for and how many bytes of s it used.
func scriptEscape(s string) (byte, int, error) {
	if s == "" {
		return 0, 0, errors.New("a backslash ends it (escape what?)")
	}
	switch c := s[0]; {
	case c == 'x' && len(s) > 1 && hexDigit(s[1]) >= 0:
		var b byte
		n := 1
		for n < len(s) && hexDigit(s[n]) >= 0 {
			b = b<<4 | byte(hexDigit(s[n])) // keepalived keeps the low 8 bits
			n++
		}
		return b, n, nil
	case c == 'c' && len(s) > 1:
		return s[1] & 0x1f, 2, nil
	case c >= '0' && c <= '7':
		b, n := c-'0', 1
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			b = b<<3 | (s[n] - '0')
			n++
		}
		return b, n, nil
	}
	return cEscape(s[0]), 1, nil
}

// cEscape is the byte a one-letter C escape stands for; any other
// character (\" \' \\ ...) stands for itself.
func cEscape(c byte) byte {
	switch c {
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'E':
		return 0x1b
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	}
	return c
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// ScriptText writes argv as a command line ParseScript splits back into
// argv: words that need it are double-quoted, with '"' and '\' escaped and
// bytes outside printable ASCII written as three-digit octal escapes. It
// is how a format writes a check's MiscPath, which keeps only argv.
func ScriptText(argv []string) string {
	var b strings.Builder
	for i, w := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if w != "" && !strings.ContainsFunc(w, func(r rune) bool {
			return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"'\`, r)
		}) {
			b.WriteString(w)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(w); j++ {
			switch c := w[j]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < ' ' || c >= 0x7f:
				fmt.Fprintf(&b, "\\%03o", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}
