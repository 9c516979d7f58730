package tomlfile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// This file finds the line of every key path in the text (indexKeys), for
// error messages: the TOML decoder returns values without positions, so a
// small scanner walks the document's keys and table headers.

// tomlKey writes one key part the way TOML would: bare when it can be,
// quoted otherwise.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyByte(k[i]) {
			return strconv.Quote(k)
		}
	}
	return k
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// lineOf returns the line of field, or of its nearest enclosing key or
// table that has one, or 0.
func lineOf(lines map[string]int, field string) int {
	for field != "" {
		if l, ok := lines[field]; ok {
			return l
		}
		cut := strings.LastIndexAny(field, ".[")
		if cut < 0 {
			break
		}
		field = field[:cut]
	}
	return 0
}

// indexKeys maps every key path of a TOML document to the line that
// defines it, numbering arrays of tables the way the decoder does:
// "virtual_server[1].real_server[0].weight" is the weight of the first
// [[virtual_server.real_server]] under the second [[virtual_server]].
// Elements of inline arrays get indices too. Intermediate tables implied
// by a dotted key or header map to the line that first implied them.
//
// BurntSushi/toml records key positions but does not export them (and
// keeps one per key name, not per array element), so this is a small
// scanner of its own. It runs on text the decoder accepted; on anything
// else it still ends, with partial results.
func indexKeys(data []byte) map[string]int {
	s := &keyScanner{data: data, lines: make(map[string]int), arrays: make(map[string]int)}
	for i, c := range data {
		if c == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	s.document()
	return s.lines
}

type keyScanner struct {
	data     []byte
	i        int
	newlines []int          // offsets of '\n'
	lines    map[string]int // path -> line
	arrays   map[string]int // array-of-tables path -> elements so far
}

// lineAt returns the 1-based line of offset off.
func (s *keyScanner) lineAt(off int) int {
	return sort.SearchInts(s.newlines, off) + 1
}

func (s *keyScanner) record(path string, off int) {
	if _, ok := s.lines[path]; !ok {
		s.lines[path] = s.lineAt(off)
	}
}

func (s *keyScanner) peek(ahead int) byte {
	if s.i+ahead < len(s.data) {
		return s.data[s.i+ahead]
	}
	return 0
}

func (s *keyScanner) eof() bool { return s.i >= len(s.data) }

// skipSpace skips blanks within a line.
func (s *keyScanner) skipSpace() {
	for !s.eof() && (s.data[s.i] == ' ' || s.data[s.i] == '\t') {
		s.i++
	}
}

// skipBlank skips blanks, line ends and comments.
func (s *keyScanner) skipBlank() {
	for !s.eof() {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '#':
			for !s.eof() && s.data[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

func (s *keyScanner) document() {
	table := ""
	for {
		s.skipBlank()
		if s.eof() {
			return
		}
		start := s.i
		if s.data[s.i] == '[' {
			array := s.peek(1) == '['
			s.i++
			if array {
				s.i++
			}
			table = s.header(s.key(), array, start)
			s.skipSpace()
			for !s.eof() && s.data[s.i] == ']' {
				s.i++
			}
		} else {
			s.keyValue(table, start)
		}
		if s.i == start {
			s.i++ // not TOML; make progress anyway
		}
	}
}

// header resolves a [table] or [[array]] header to its indexed path.
func (s *keyScanner) header(parts []string, array bool, off int) string {
	path := ""
	for i, part := range parts {
		if path != "" {
			path += "."
		}
		path += tomlKey(part)
		if array && i == len(parts)-1 {
			n := s.arrays[path]
			s.arrays[path] = n + 1
			path = fmt.Sprintf("%s[%d]", path, n)
		} else if n, ok := s.arrays[path]; ok {
			path = fmt.Sprintf("%s[%d]", path, n-1) // the last element so far
		}
		s.record(path, off)
	}
	return path
}

// keyValue scans "key = value" within table.
func (s *keyScanner) keyValue(table string, start int) {
	parts := s.key()
	if len(parts) == 0 {
		return
	}
	s.skipSpace()
	if s.peek(0) != '=' {
		return
	}
	s.i++
	s.skipSpace()
	path := table
	for _, part := range parts {
		if path != "" {
			path += "."
		}
		path += tomlKey(part)
		s.record(path, start)
	}
	s.value(path)
}

// key scans a dotted key and returns its parts, unquoted.
func (s *keyScanner) key() []string {
	var parts []string
	for {
		s.skipSpace()
		part, ok := s.simpleKey()
		if !ok {
			return parts
		}
		parts = append(parts, part)
		s.skipSpace()
		if s.peek(0) != '.' {
			return parts
		}
		s.i++
	}
}

func (s *keyScanner) simpleKey() (string, bool) {
	switch c := s.peek(0); {
	case c == '"':
		start := s.i
		s.str()
		raw := string(s.data[start:s.i])
		if k, err := strconv.Unquote(raw); err == nil {
			return k, true
		}
		return strings.Trim(raw, `"`), true
	case c == '\'':
		start := s.i
		s.str()
		return strings.Trim(string(s.data[start:s.i]), "'"), true
	case isBareKeyByte(c):
		start := s.i
		for !s.eof() && isBareKeyByte(s.data[s.i]) {
			s.i++
		}
		return string(s.data[start:s.i]), true
	}
	return "", false
}

// str skips a basic, literal or multi-line string starting at s.i.
func (s *keyScanner) str() {
	q := s.data[s.i]
	if s.peek(1) == q && s.peek(2) == q { // multi-line
		s.i += 3
		for !s.eof() {
			c := s.data[s.i]
			if c == '\\' && q == '"' {
				s.i += 2
				continue
			}
			if c == q && s.peek(1) == q && s.peek(2) == q {
				s.i += 3
				for extra := 0; extra < 2 && s.peek(0) == q; extra++ {
					s.i++ // up to two quotes may end the content
				}
				return
			}
			s.i++
		}
		return
	}
	s.i++
	for !s.eof() {
		c := s.data[s.i]
		switch {
		case c == '\\' && q == '"':
			s.i += 2
			continue
		case c == q:
			s.i++
			return
		case c == '\n':
			return
		}
		s.i++
	}
}

// value skips one value, recording the keys of inline tables and the
// elements of arrays under path.
func (s *keyScanner) value(path string) {
	switch c := s.peek(0); c {
	case '"', '\'':
		s.str()
	case '[':
		s.i++
		for n := 0; ; {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.data[s.i] {
			case ']':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			start := s.i
			elem := fmt.Sprintf("%s[%d]", path, n)
			s.record(elem, start)
			s.value(elem)
			n++
			if s.i == start {
				s.i++
			}
		}
	case '{':
		s.i++
		for {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.data[s.i] {
			case '}':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			start := s.i
			s.keyValue(path, start)
			if s.i == start {
				s.i++
			}
		}
	default:
		start := s.i
		s.scalar()
		// A local date followed by a space and a time is one value.
		if s.i-start == 10 && s.data[start+4] == '-' && s.peek(0) == ' ' && s.peek(1) >= '0' && s.peek(1) <= '9' {
			s.i++
			s.scalar()
		}
	}
}

// scalar skips a number, boolean or date-time.
func (s *keyScanner) scalar() {
	for !s.eof() {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n', ',', ']', '}', '#':
			return
		}
		s.i++
	}
}
