package keepalived

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ulvs/ulvs/config"
)

// Node is one statement of a keepalived.conf: a line of words and, when a
// '{' follows it, the block of statements it opens. Blocks nest as in the
// file; includes are already read in, so a node's File may be an included
// file.
type Node struct {
	// Words are the keyword and its arguments, split as keepalived's
	// alloc_strvec splits them: at white space, a "quoted string" being
	// one word without its quotes.
	Words []string
	// Raw is the statement's text with comments removed; keywords that
	// keepalived re-reads with quotes and escapes (scripts) use it.
	Raw string
	// File and Line locate the statement (Line is 1-based).
	File string
	Line int
	// HasBlock reports whether a { } block followed the words (it may be
	// empty); Children are its statements.
	HasBlock bool
	Children []*Node

	// seq is the statement's position in the whole stream (includes read
	// in), which orders warnings.
	seq int
}

// Keyword returns the statement's first word.
func (n *Node) Keyword() string { return n.Words[0] }

// Args returns the words after the keyword.
func (n *Node) Args() []string { return n.Words[1:] }

// Tree is a keepalived.conf read into statements, includes expanded.
type Tree struct {
	Nodes []*Node
	// Warnings are problems of the reading itself (an include glob that
	// matched nothing).
	Warnings []config.Warning
	// warnSeq are the stream positions of Warnings.
	warnSeq []int
}

// Limits of the reader. keepalived has no include depth limit; ulvs stops
// at an include loop and at unreasonably deep nesting.
const (
	maxIncludeDepth = 32
	maxBlockDepth   = 64
)

// ReadTree reads keepalived.conf text into its statements, with includes
// (globs relative to the including file's directory) read through
// opts.ReadFile and opts.Glob. It only checks the syntax: braces, quotes,
// includes. Parse interprets the tree; the VRRP code can walk the same
// tree for the blocks Parse does not run. A returned error is a
// *config.Error. data is not retained.
func ReadTree(path string, data []byte, opts Options) (*Tree, error) {
	r := &treeReader{opts: opts.withDefaults()}
	r.readFile(path, data, 0, nil)
	if r.err != nil {
		return nil, r.err
	}
	b := treeBuilder{}
	for i, it := range r.items {
		if err := b.add(it, i); err != nil {
			return nil, err
		}
	}
	if err := b.finish(); err != nil {
		return nil, err
	}
	return &Tree{Nodes: b.top, Warnings: r.warnings, warnSeq: r.warnSeq}, nil
}

// item is one unit of the statement stream: a text segment or a brace.
type item struct {
	text  string // the segment, or "{" / "}"
	brace bool
	file  string
	line  int
}

type treeReader struct {
	opts     Options
	items    []item
	warnings []config.Warning
	warnSeq  []int
	err      *config.Error
}

func (r *treeReader) fail(file string, line int, format string, args ...any) {
	if r.err == nil {
		r.err = &config.Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
}

// readFile splits one file into items. stack holds the files that include
// it, for loop detection.
func (r *treeReader) readFile(path string, data []byte, depth int, stack []string) {
	stack = append(stack, filepath.Clean(path))
	text := strings.TrimPrefix(string(data), "\ufeff") // a UTF-8 byte order mark
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if r.err != nil {
			return
		}
		lineNo := i + 1
		line = strings.TrimRight(line, "\r")
		text, msg := decomment(line)
		if msg != "" {
			r.fail(path, lineNo, "%s", msg)
			return
		}
		if text == "" {
			continue
		}
		if pattern, ok := includeTarget(text); ok {
			r.include(path, lineNo, pattern, depth, stack)
			continue
		}
		switch text[0] {
		case '@':
			r.fail(path, lineNo, "conditional configuration (a line starting with '@') is not supported by ulvs")
			return
		case '$':
			r.fail(path, lineNo, "parameter definitions and substitution ($NAME) are not supported by ulvs")
			return
		case '~':
			r.fail(path, lineNo, "~SEQ and ~LST lines are not supported by ulvs")
			return
		}
		for _, seg := range splitBraces(text) {
			r.items = append(r.items, item{text: seg, brace: seg == "{" || seg == "}", file: path, line: lineNo})
		}
	}
}

// include reads the files an include line names: pattern is a glob (with
// {a,b} alternatives, as keepalived's GLOB_BRACE) relative to the
// directory of the including file.
func (r *treeReader) include(from string, line int, pattern string, depth int, stack []string) {
	if depth+1 > maxIncludeDepth {
		r.fail(from, line, "include %s: includes nested more than %d deep", pattern, maxIncludeDepth)
		return
	}
	var files []string
	alts := expandBraces(pattern)
	for _, p := range alts {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(from), p)
		}
		if len(alts) == 1 && !hasGlobMeta(p) {
			// A plain file name: it must exist.
			files = append(files, p)
			continue
		}
		matches, err := r.opts.Glob(p)
		if err != nil {
			r.fail(from, line, "include %s: %v", pattern, err)
			return
		}
		if len(matches) == 0 {
			r.warnings = append(r.warnings, config.Warning{File: from, Line: line,
				Msg: fmt.Sprintf("include %s: no file matches %s", pattern, p)})
			r.warnSeq = append(r.warnSeq, len(r.items))
		}
		slices.Sort(matches)
		files = append(files, matches...)
	}
	for _, f := range files {
		if slices.Contains(stack, filepath.Clean(f)) {
			r.fail(from, line, "include %s: %s includes itself", pattern, f)
			return
		}
		data, err := r.opts.ReadFile(f)
		if err != nil {
			r.fail(from, line, "include %s: %v", pattern, err)
			return
		}
		r.readFile(f, data, depth+1, stack)
		if r.err != nil {
			return
		}
	}
}

// decomment removes a comment ('!' or '#' outside double quotes, anywhere
// in the line, as keepalived's decomment) and the white space around the
// text; "\#" and "\!" outside quotes stand for the characters themselves.
// msg is non-empty for an unterminated quote.
func decomment(line string) (text, msg string) {
	var b strings.Builder
	quote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && i+1 < len(line):
			if !quote && (line[i+1] == '#' || line[i+1] == '!') {
				b.WriteByte(line[i+1])
			} else {
				b.WriteByte(c)
				b.WriteByte(line[i+1])
			}
			i++
			continue
		case !quote && (c == '!' || c == '#'):
			return strings.Trim(b.String(), " \t\f\v"), ""
		}
		b.WriteByte(c)
	}
	text = strings.Trim(b.String(), " \t\f\v")
	if quote {
		return "", fmt.Sprintf("unterminated quote in %q", text)
	}
	return text, ""
}

// includeTarget reports whether text is an include line (include,
// includer, includem, includew, includeb, includea, as keepalived's
// is_include) and returns the file pattern.
func includeTarget(text string) (string, bool) {
	rest, ok := strings.CutPrefix(text, "include")
	if !ok || rest == "" {
		return "", false
	}
	if strings.ContainsRune("rmwba", rune(rest[0])) && len(rest) > 1 {
		rest = rest[1:]
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	return strings.TrimLeft(rest, " \t"), true
}

// splitBraces splits a line at every '{' and '}' outside double quotes:
// "name { value }" is the segments "name", "{", "value", "}" (keepalived's
// read_line does the same, one brace at a time).
func splitBraces(text string) []string {
	var out []string
	start := 0
	quote := false
	flush := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" {
			out = append(out, s)
		}
	}
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"':
			quote = !quote
		case !quote && (c == '{' || c == '}'):
			flush(i)
			out = append(out, string(c))
			start = i + 1
		}
	}
	flush(len(text))
	return out
}

// splitWords splits a segment into words as keepalived's alloc_strvec_r:
// white space separates words, and a double-quoted string is one word
// without its quotes (no escapes).
func splitWords(s string) ([]string, string) {
	var words []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return words, ""
		}
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, fmt.Sprintf("unmatched quote in %q", s)
			}
			words = append(words, s[i+1:i+1+end])
			i += end + 2
			continue
		}
		j := i
		for j < len(s) && !isSpace(s[j]) && s[j] != '"' {
			j++
		}
		words = append(words, s[i:j])
		i = j
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\f' || c == '\n' || c == '\r' || c == '\v'
}

func hasGlobMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// expandBraces expands {a,b} alternatives as glob(3)'s GLOB_BRACE does;
// a brace without a comma is kept literally.
func expandBraces(p string) []string {
	depth, open := 0, -1
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth > 0 {
				continue
			}
			alts := splitAlternatives(p[open+1 : i])
			if len(alts) < 2 {
				open = -1
				continue
			}
			var out []string
			for _, a := range alts {
				out = append(out, expandBraces(p[:open]+a+p[i+1:])...)
			}
			return out
		}
	}
	return []string{p}
}

// splitAlternatives splits the inside of a brace pair at its top-level
// commas.
func splitAlternatives(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// treeBuilder turns the item stream into nested nodes.
type treeBuilder struct {
	top   []*Node
	stack []*Node // open blocks
	last  *Node   // the statement just read, which a '{' may open
}

func (b *treeBuilder) add(it item, seq int) error {
	switch {
	case it.text == "{":
		if b.last == nil || b.last.HasBlock {
			return &config.Error{File: it.file, Line: it.line, Msg: "unexpected '{': no keyword before it opens a block"}
		}
		if len(b.stack) >= maxBlockDepth {
			return &config.Error{File: it.file, Line: it.line, Msg: fmt.Sprintf("blocks nested more than %d deep", maxBlockDepth)}
		}
		b.last.HasBlock = true
		b.stack = append(b.stack, b.last)
		b.last = nil
	case it.text == "}":
		if len(b.stack) == 0 {
			return &config.Error{File: it.file, Line: it.line, Msg: "extra '}': no block is open"}
		}
		b.stack = b.stack[:len(b.stack)-1]
		b.last = nil
	default:
		words, msg := splitWords(it.text)
		if msg != "" {
			return &config.Error{File: it.file, Line: it.line, Msg: msg}
		}
		if len(words) == 0 {
			return nil
		}
		n := &Node{Words: words, Raw: it.text, File: it.file, Line: it.line, seq: seq}
		if len(b.stack) == 0 {
			b.top = append(b.top, n)
		} else {
			parent := b.stack[len(b.stack)-1]
			parent.Children = append(parent.Children, n)
		}
		b.last = n
	}
	return nil
}

func (b *treeBuilder) finish() error {
	if len(b.stack) > 0 {
		n := b.stack[len(b.stack)-1]
		return &config.Error{File: n.File, Line: n.Line, Msg: fmt.Sprintf("%s: block not closed: '}' missing", n.Keyword())}
	}
	return nil
}

// withDefaults fills the production file access in for nil functions.
func (o Options) withDefaults() Options {
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Glob == nil {
		o.Glob = filepath.Glob
	}
	return o
}
