package spec

// The lines of a file that YAML failed on, read as far as the hints need (yamlhints.go): the block mappings and lists open at each line, the flow collections and quoted strings open across lines.

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// srcLine is one line of the file, without its line break.
type srcLine struct {
	text   string
	indent int // leading spaces
}

// splitLines splits data into lines as checkText counts them (a lone \r
// is rare enough in a spec to be left in its line).
func splitLines(data []byte) []srcLine {
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // not a column
	raw := strings.Split(string(data), "\n")
	lines := make([]srcLine, len(raw))
	for i, s := range raw {
		s = strings.TrimSuffix(s, "\r")
		lines[i] = srcLine{text: s, indent: len(s) - len(strings.TrimLeft(s, " "))}
	}
	return lines
}

// col is the column of byte off of line l, as Pos counts them (runes).
func (l srcLine) col(off int) int { return utf8.RuneCountInString(l.text[:off]) + 1 }

// A block is a block mapping or list that a line of the file opened and
// that is still open: one whose entries are at indent.
type block struct {
	indent int
	seq    bool   // a list, else a mapping
	line   int    // its first entry's
	key    string // a mapping's last key
	// open is true when the last entry's value is on the lines below it.
	open    bool
	keyLine int // the last key's line
}

// mark is an opening character: a flow collection's [ or {, a quote.
type mark struct {
	ch   byte // 0: none
	line int
	off  int // byte offset in the line
}

// lexer reads the lines' structure as far as the hints need it: the block
// mappings and lists open at each line, and the flow collections and
// quoted strings open across lines. It reads what yaml.v3 failed on, so
// it guesses where YAML is ambiguous, and a wrong guess only costs a hint.
type lexer struct {
	lines []srcLine
	stack []block
	flow  []mark // open [ and {, innermost last
	quote mark   // an open quoted string
	// badClose and badOpen are the first ] or } that closed the other
	// kind of collection, and what it closed.
	badClose, badOpen mark
	// scalarParent is the indent a block scalar's lines (| or >) exceed,
	// -1 outside one; scalarIndent is that of its first line, which the
	// others have at least (0 before it).
	scalarParent, scalarIndent int
}

func newLexer(lines []srcLine) *lexer { return &lexer{lines: lines, scalarParent: -1} }

// head is what starts a line of block structure: its "- " items and its
// key, in the order written.
type head struct {
	entries []entry
	value   int  // the byte offset of the value
	open    bool // no value on the line: it is on the lines below
	scalar  bool // the value is a block scalar (| or >)
}

type entry struct {
	col int // byte offset
	seq bool
	key string
}

// inBlockScalar reports whether line l is a line of the block scalar
// open before it, and ends that scalar otherwise.
func (lx *lexer) inBlockScalar(l srcLine) bool {
	switch {
	case lx.scalarParent < 0:
		return false
	case strings.TrimSpace(l.text) == "":
		return true
	case lx.scalarIndent == 0 && l.indent > lx.scalarParent:
		lx.scalarIndent = l.indent
		return true
	case lx.scalarIndent > 0 && l.indent >= lx.scalarIndent:
		return true
	}
	lx.scalarParent = -1
	return false
}

// continued reports whether a flow collection or a quoted string is open:
// the next line goes on with it.
func (lx *lexer) continued() bool { return lx.quote.ch != 0 || len(lx.flow) > 0 }

// line reads line n (1-based), the lines before it having been read.
func (lx *lexer) line(n int) {
	l := lx.lines[n-1]
	switch {
	case lx.inBlockScalar(l):
		return
	case lx.continued():
		lx.lex(n, 0, true)
		return
	}
	t := strings.TrimLeft(l.text, " \t")
	if t == "" || t[0] == '#' || t[0] == '%' || strings.HasPrefix(l.text, "---") || strings.HasPrefix(l.text, "...") {
		return
	}
	h := parseHead(l.text, l.indent)
	lx.enter(n, h)
	if h.scalar {
		lx.scalarParent, lx.scalarIndent = h.entries[len(h.entries)-1].col, 0
		return
	}
	lx.lex(n, h.value, true)
}

// parseHead reads the "- " items and the key that start s at byte i.
func parseHead(s string, i int) head {
	var h head
	for i < len(s) && s[i] == '-' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t') {
		h.entries = append(h.entries, entry{col: i, seq: true})
		i++
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	if k, end, ok := keyAt(s, i); ok {
		h.entries = append(h.entries, entry{col: i, key: k})
		for i = end; i < len(s) && (s[i] == ' ' || s[i] == '\t'); i++ {
		}
	}
	h.value = i
	rest := s[i:]
	h.open = len(h.entries) > 0 && (rest == "" || rest[0] == '#')
	h.scalar = len(h.entries) > 0 && rest != "" && (rest[0] == '|' || rest[0] == '>')
	return h
}

// keyAt reads a block mapping's key at byte i of s: a plain or quoted
// scalar followed by ": " (or ":" ending the line). end is the byte after
// the colon.
func keyAt(s string, i int) (key string, end int, ok bool) {
	if i >= len(s) {
		return "", 0, false
	}
	switch c := s[i]; c {
	case '"', '\'':
		j := closingQuote(s, i)
		if j < 0 {
			return "", 0, false
		}
		k := s[i+1 : j]
		for j++; j < len(s) && s[j] == ' '; j++ {
		}
		if j < len(s) && s[j] == ':' && (j+1 == len(s) || s[j+1] == ' ' || s[j+1] == '\t') {
			return k, j + 1, true
		}
		return "", 0, false
	case '[', '{', ']', '}', ',', '#', '&', '*', '!', '|', '>', '%', '@', '`', '?':
		return "", 0, false
	}
	for j := i; j < len(s); j++ {
		switch {
		case s[j] == '#' && (s[j-1] == ' ' || s[j-1] == '\t'):
			return "", 0, false
		case s[j] == ':' && (j+1 == len(s) || s[j+1] == ' ' || s[j+1] == '\t'):
			return strings.TrimRight(s[i:j], " \t"), j + 1, true
		}
	}
	return "", 0, false
}

// closingQuote returns the index of the quote closing the one at s[i] on
// the same line, or -1.
func closingQuote(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case q == '"' && s[j] == '\\':
			j++
		case q == '\'' && s[j] == '\'' && j+1 < len(s) && s[j+1] == '\'':
			j++
		case s[j] == q:
			return j
		}
	}
	return -1
}

// enter updates the open blocks with the entries of line n: blocks more
// indented than its first entry have ended, and each entry is one of the
// block at its indent, or starts a new one.
func (lx *lexer) enter(n int, h head) {
	for k, e := range h.entries {
		if k == 0 {
			for len(lx.stack) > 0 {
				t := &lx.stack[len(lx.stack)-1]
				// A list written at its key's indent ends at the next key.
				if t.indent > e.col || (t.indent == e.col && t.seq && !e.seq) {
					lx.stack = lx.stack[:len(lx.stack)-1]
					continue
				}
				break
			}
		}
		if t := lx.top(); k > 0 || t == nil || t.indent != e.col || t.seq != e.seq {
			lx.stack = append(lx.stack, block{indent: e.col, seq: e.seq, line: n})
		}
		b := lx.top()
		if !e.seq {
			b.key, b.keyLine = e.key, n
		}
		b.open = k == len(h.entries)-1 && h.open
	}
}

func (lx *lexer) top() *block {
	if len(lx.stack) == 0 {
		return nil
	}
	return &lx.stack[len(lx.stack)-1]
}

// maxPath bounds the paths the hints look at: a spec's deepest known
// mapping is a process of a few generations; deeper ones are nothing a
// hint can name, and a path is not worked out for each of them.
const maxPath = 32

// path is where the open block i is in the spec: the keys, and "[]" for
// a list's item, of the blocks it is in. (Each block is in the one below
// it on the stack, under that one's last key: a later key would have
// ended it.) ok is false for a block too deep to say.
func (lx *lexer) path(i int) (p []string, ok bool) {
	if i > maxPath {
		return nil, false
	}
	for _, b := range lx.stack[:i] {
		if b.seq {
			p = append(p, "[]")
		} else {
			p = append(p, b.key)
		}
	}
	return p, true
}

// keysAt is the keys of the open block i, if it is a known mapping; with
// under, of the value of its last key.
func (lx *lexer) keysAt(i int, under bool) []string {
	if under {
		i++
	}
	p, ok := lx.path(i)
	if !ok || i > len(lx.stack) {
		return nil
	}
	return keysAt(p)
}

// lex follows the flow collections and quoted strings of line n from byte
// i; start says whether a token may start there (a quote or a bracket
// opens something only there: "it's" and "a[0]" are plain text).
func (lx *lexer) lex(n, i int, start bool) {
	s := lx.lines[n-1].text
	for i < len(s) {
		c := s[i]
		if q := lx.quote.ch; q != 0 {
			switch {
			case q == '"' && c == '\\':
				i++
			case q == '\'' && c == '\'' && i+1 < len(s) && s[i+1] == '\'':
				i++
			case c == q:
				lx.quote.ch, start = 0, false
			}
			i++
			continue
		}
		flow := len(lx.flow) > 0
		sep := i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t'
		switch {
		case c == ' ' || c == '\t':
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return // a comment
		case (c == '"' || c == '\'') && start:
			lx.quote = mark{c, n, i}
		case (c == '[' || c == '{') && (start || flow):
			lx.flow = append(lx.flow, mark{c, n, i})
			start = true
		case (c == ']' || c == '}') && flow:
			o := lx.flow[len(lx.flow)-1]
			lx.flow = lx.flow[:len(lx.flow)-1]
			if o.ch != opening(c) && lx.badClose.ch == 0 {
				lx.badClose, lx.badOpen = mark{c, n, i}, o
			}
			start = false
		case c == ',' && flow, c == ':' && (sep || flow), (c == '-' || c == '?') && start && sep:
			start = true
		case (c == '&' || c == '!') && start:
			// An anchor or a tag: the token is what follows it.
			for i < len(s) && s[i] != ' ' && s[i] != '\t' {
				i++
			}
			continue
		default:
			start = false
		}
		i++
	}
}

func opening(c byte) byte {
	if c == ']' {
		return '['
	}
	return '{'
}

func closing(c byte) byte {
	if c == '[' {
		return ']'
	}
	return '}'
}

// at is the position of m.
func (lx *lexer) at(m mark) Pos { return Pos{m.line, lx.lines[m.line-1].col(m.off)} }
