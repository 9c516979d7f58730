package piranha

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// This file holds lvs.cf as lines that can be edited and written back:
// what Rewrite changes. A line nobody changes is written back byte for
// byte (comments, blank lines, indentation and quoting included); a
// changed or new setting is written as Piranha's GUI writes it,
// "keyword = value" indented like its neighbours.

// docLine is one physical line.
type docLine struct {
	text  string   // as read (no line end), or as rebuilt
	words []string // nil for a blank or comment line
	num   int      // line number as read; 0 for a line Rewrite added
	cr    bool     // as read, the line ended with "\r" (before its "\n", or at the end of the text)
}

func (l *docLine) keyword() string {
	if len(l.words) == 0 {
		return ""
	}
	return l.words[0]
}

// opens reports a "virtual|failover|server NAME {" line.
func (l *docLine) opens() bool {
	return len(l.words) >= 3 && l.words[len(l.words)-1] == "{"
}

func (l *docLine) closes() bool { return l.keyword() == "}" }

// doc is an lvs.cf as lines.
type doc struct {
	lines   []docLine
	bom     bool
	crlf    bool // the first line ends with "\r\n": the lines Rewrite adds do too
	finalNL bool // the text ends with a line end
}

// parseDoc splits data into lines; data must be an lvs.cf Parse takes.
func parseDoc(data []byte) (*doc, error) {
	d := &doc{}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		d.bom, data = true, data[3:]
	}
	d.finalNL = len(data) > 0 && data[len(data)-1] == '\n'
	text := string(data)
	if d.finalNL {
		text = text[:len(text)-1]
	}
	if len(data) == 0 {
		return d, nil
	}
	for i, raw := range strings.Split(text, "\n") {
		cr := strings.HasSuffix(raw, "\r")
		if cr {
			raw = raw[:len(raw)-1]
			d.crlf = d.crlf || i == 0
		}
		l := docLine{text: raw, num: i + 1, cr: cr}
		s := strings.TrimLeft(raw, " \t")
		if s != "" && s[0] != '#' {
			var msg string
			if l.words, _, msg = lexLine(s); msg != "" {
				return nil, fmt.Errorf("line %d: %s", i+1, msg)
			}
		}
		d.lines = append(d.lines, l)
	}
	return d, nil
}

// bytes writes the lines back.
func (d *doc) bytes() []byte {
	var b bytes.Buffer
	if d.bom {
		b.WriteString("\xef\xbb\xbf")
	}
	// Each line read keeps its own ending (a file may mix them, or end
	// in a "\r" without a "\n"); an added line takes the first line's.
	for i, l := range d.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.text)
		if l.cr || (l.num == 0 && d.crlf) {
			b.WriteByte('\r')
		}
	}
	if d.finalNL && len(d.lines) > 0 {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// at returns the index of the line read as num.
func (d *doc) at(num int) int {
	return slices.IndexFunc(d.lines, func(l docLine) bool { return l.num == num })
}

// end returns the index of the "}" closing the block opened at line i.
func (d *doc) end(i int) int {
	depth := 0
	for j := i; j < len(d.lines); j++ {
		switch l := &d.lines[j]; {
		case l.opens():
			depth++
		case l.closes():
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(d.lines) - 1
}

// settings returns the indexes of the lines in [from, to) that set key
// at the level of the range (not inside a nested block).
func (d *doc) settings(from, to int, key string) []int {
	var out []int
	for j := from; j < to; j++ {
		l := &d.lines[j]
		if l.opens() {
			j = d.end(j)
			continue
		}
		if l.keyword() == key {
			out = append(out, j)
		}
	}
	return out
}

// indent is the leading blanks of the settings in [from, to), or def.
func (d *doc) indent(from, to int, def string) string {
	for j := from; j < to; j++ {
		l := &d.lines[j]
		if l.opens() {
			j = d.end(j)
			continue
		}
		if len(l.words) > 0 && !l.closes() {
			return l.text[:len(l.text)-len(strings.TrimLeft(l.text, " \t"))]
		}
	}
	return def
}

// set makes key = value (value already written as lvs.cf words) the
// setting of the range [from, to): the last line that sets it is
// rewritten (lvsconfig.c keeps the last one), or a line is added before
// the range's first nested block, or at its end.
func (d *doc) set(from, to int, key, value, def string) {
	text := key + " = " + value
	if at := d.settings(from, to, key); len(at) > 0 {
		j := at[len(at)-1]
		l := &d.lines[j]
		lead := l.text[:len(l.text)-len(strings.TrimLeft(l.text, " \t"))]
		words, _, _ := lexLine(text)
		*l = docLine{text: lead + text, words: words, num: l.num, cr: l.cr}
		return
	}
	pos := to
	for j := from; j < to; j++ {
		if d.lines[j].opens() {
			pos = j
			break
		}
	}
	// After the last setting before pos: comments and blank lines that
	// lead into the next block stay with it.
	for pos > from && len(d.lines[pos-1].words) == 0 {
		pos--
	}
	d.insert(pos, docLine{text: d.indent(from, to, def) + text})
}

// unset removes every line of the range that sets key.
func (d *doc) unset(from, to int, key string) {
	at := d.settings(from, to, key)
	for i := len(at) - 1; i >= 0; i-- {
		d.lines = slices.Delete(d.lines, at[i], at[i]+1)
	}
}

func (d *doc) insert(pos int, ls ...docLine) {
	for i := range ls {
		if ls[i].words == nil {
			ls[i].words, _, _ = lexLine(strings.TrimLeft(ls[i].text, " \t"))
		}
	}
	d.lines = slices.Insert(d.lines, pos, ls...)
}

// errNoWord reports a value no lvs.cf word can hold.
var errNoWord = fmt.Errorf("no lvs.cf word can hold it: %w", ErrNotExpressible)

// word writes s as one lvs.cf word: bare when it has no blank and does
// not start with a quote, else in the quote character it does not
// contain. A line end, or blanks with both quote characters, cannot be
// written.
func word(s string) (string, error) {
	switch {
	case strings.ContainsAny(s, "\r\n"):
		return "", fmt.Errorf("%q holds a line end: %w", s, errNoWord)
	case s != "" && !strings.ContainsAny(s, " \t") && s[0] != '"' && s[0] != '\'':
		return s, nil
	case !strings.Contains(s, `"`):
		return `"` + s + `"`, nil
	case !strings.Contains(s, "'"):
		return "'" + s + "'", nil
	}
	return "", fmt.Errorf("%q holds blanks and both quote characters: %w", s, errNoWord)
}
