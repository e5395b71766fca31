package spec

// YAML syntax errors explained: where the structure went wrong (a line indented unlike its siblings, a tab, an unclosed quote or bracket) and what was expected, read from the lines themselves (yamllex.go), which yaml.v3's errors (a line, not always that one, and no column) do not say.

import (
	"fmt"
	"slices"
	"strings"
)

// The messages of yaml.v3 the hints explain.
const (
	msgTabToken   = "found character that cannot start any token"
	msgTabIndent  = "found a tab character that violates indentation"
	msgTabSpace   = "found a tab character where an indentation space is expected"
	msgEndQuote   = "found unexpected end of stream"
	msgFlowSeq    = "did not find expected ',' or ']'"
	msgFlowMap    = "did not find expected ',' or '}'"
	msgMappingVal = "mapping values are not allowed in this context"
)

// explain returns the position and message of a YAML syntax error that
// says what went wrong and what was expected, or ok false when the lines
// do not tell. line is yaml.v3's line of the error, problem the offending
// line of a block collection's error (problemLine).
func explain(data []byte, line, problem int, msg string) (Pos, string, bool) {
	lines := splitLines(data)
	if line < 1 || line > len(lines) || problem < 1 || problem > len(lines) {
		return Pos{}, "", false
	}
	switch {
	case msg == msgTabToken || msg == msgTabIndent || msg == msgTabSpace:
		return tabHint(lines, line)
	case msg == msgEndQuote || msg == msgFlowSeq || msg == msgFlowMap:
		return flowHint(lines, msg)
	case blockMessages[msg]:
		return indentHint(lines, problem, false)
	case msg == msgMappingVal:
		return indentHint(lines, line, true)
	}
	return Pos{}, "", false
}

// readTo reads the lines before line n.
func readTo(lines []srcLine, n int) *lexer {
	lx := newLexer(lines)
	for i := 1; i < n; i++ {
		lx.line(i)
	}
	return lx
}

// tabHint explains a tab in the indentation of line n.
func tabHint(lines []srcLine, n int) (Pos, string, bool) {
	lx := readTo(lines, n)
	l := lines[n-1]
	if lx.inBlockScalar(l) || lx.continued() {
		return Pos{}, "", false
	}
	ws := len(l.text) - len(strings.TrimLeft(l.text, " \t"))
	tab := strings.IndexByte(l.text[:ws], '\t')
	if tab < 0 {
		return Pos{}, "", false
	}
	msg := "a tab indents this line, and YAML indents with spaces only: "
	h := parseHead(l.text, ws)
	b := -1
	if len(h.entries) > 0 && !h.entries[0].seq {
		b = lx.keyHome(h.entries[0].key, -1, true)
	}
	switch t := lx.top(); {
	case b >= 0:
		msg += fmt.Sprintf("indent it with %d spaces, as %s are", lx.stack[b].indent, lx.describe(b))
	case t != nil && t.open && !t.seq:
		msg += fmt.Sprintf("indent it with spaces, more than %s at line %d (%s)", t.key, t.keyLine, indented(t.indent))
	default:
		msg += "replace it with spaces"
	}
	return Pos{n, l.col(tab)}, msg, true
}

// flowHint explains a flow collection or a quoted string that is never
// closed, or closed by the wrong bracket: yaml.v3 reports the line of the
// collection that failed (or the last one), not where.
func flowHint(lines []srcLine, msg string) (Pos, string, bool) {
	lx := readTo(lines, len(lines)+1)
	want := byte(0)
	switch msg {
	case msgFlowSeq:
		want = '['
	case msgFlowMap:
		want = '{'
	}
	if o := lx.badOpen; o.ch != 0 && (want == 0 || o.ch == want) {
		if c := lx.badClose; c.line == o.line {
			return lx.at(c), fmt.Sprintf("expected %c to close the %c at column %d, found %c", closing(o.ch), o.ch, lx.at(o).Col, c.ch), true
		}
		return lx.at(o), unclosed(o.ch), true
	}
	if q := lx.quote; q.ch != 0 {
		return lx.at(q), fmt.Sprintf("this quoted string is never closed: expected a closing %c", q.ch), true
	}
	for i := len(lx.flow) - 1; i >= 0; i-- {
		if o := lx.flow[i]; want == 0 || o.ch == want {
			return lx.at(o), unclosed(o.ch), true
		}
	}
	return Pos{}, "", false
}

func unclosed(c byte) string {
	if c == '[' {
		return "this [ is never closed: expected a ] after the list's last item"
	}
	return "this { is never closed: expected a } after the mapping's last entry"
}

// indentHint explains a block collection's error at line n: a "- " item
// or a key indented unlike the blocks above it, or a string left open
// above it. With colon, the error is a ": " where no key may be, which a
// line at the right indent gets for an unquoted ": " in its value.
func indentHint(lines []srcLine, n int, colon bool) (Pos, string, bool) {
	lx := readTo(lines, n)
	l := lines[n-1]
	if q := lx.quote; q.ch != 0 {
		return lx.at(q), fmt.Sprintf("this quoted string is not closed on its line, so it runs on to line %d, where YAML fails: expected a closing %c", n, q.ch), true
	}
	if lx.continued() || lx.inBlockScalar(l) {
		return Pos{}, "", false
	}
	h := parseHead(l.text, l.indent)
	if len(h.entries) == 0 {
		return Pos{}, "", false
	}
	e := h.entries[0]
	at := Pos{n, l.col(e.col)}
	if msg := lx.misindented(e); msg != "" {
		return at, msg, true
	}
	if colon {
		return colonHint(l, n, h)
	}
	return Pos{}, "", false
}

// misindented says how entry e, the first of its line, is indented unlike
// the blocks open above it, and how it should be, or returns "".
func (lx *lexer) misindented(e entry) string {
	what := "key"
	if e.seq {
		what = "list item"
	}
	for _, b := range lx.stack {
		if b.indent == e.col && b.seq == e.seq {
			return "" // where its siblings are
		}
	}
	if t := lx.top(); t != nil && t.open && (e.col > t.indent || e.seq && !t.seq && e.col == t.indent) {
		return "" // the first entry of a value
	}
	// The first entry of an open key's value, not indented under it.
	if t := lx.top(); t != nil && !t.seq && t.open && e.col < t.indent &&
		(e.seq || slices.Contains(lx.keysAt(len(lx.stack)-1, true), e.key)) {
		return fmt.Sprintf("this %s is %s, but it starts the value of %s at line %d, %s: indent it more than %s, such as %d spaces",
			what, indented(e.col), t.key, t.keyLine, indented(t.indent), t.key, t.indent+2)
	}
	var b int
	if e.seq {
		b = lx.itemHome(e.col)
	} else {
		b = lx.keyHome(e.key, e.col, false)
	}
	if b < 0 {
		return ""
	}
	return fmt.Sprintf("this %s is %s, but %s are %s: indent it as they are", what, indented(e.col), lx.describe(b), indented(lx.stack[b].indent))
}

// keyHome is the index of the open mapping key most likely belongs to:
// one of which it is a key (a spec knows the keys of each level), the
// nearest to col (col < 0: the innermost), or with known only none (-1).
func (lx *lexer) keyHome(key string, col int, known bool) int {
	best := -1
	for pass := 0; pass < 2 && best < 0; pass++ {
		if pass == 1 && known {
			break
		}
		for i, b := range lx.stack {
			if b.seq || pass == 0 && !slices.Contains(lx.keysAt(i, false), key) {
				continue
			}
			if best < 0 || col < 0 || distance2(b.indent, col) <= distance2(lx.stack[best].indent, col) {
				best = i
			}
		}
	}
	return best
}

// itemHome is the index of the open list nearest to col, or -1.
func (lx *lexer) itemHome(col int) int {
	best := -1
	for i, b := range lx.stack {
		if b.seq && (best < 0 || distance2(b.indent, col) <= distance2(lx.stack[best].indent, col)) {
			best = i
		}
	}
	return best
}

func distance2(a, b int) int { return (a - b) * (a - b) }

// describe names the entries of open block i, for a message: "the keys
// of environment "web" (from line 4)".
func (lx *lexer) describe(i int) string {
	b := lx.stack[i]
	p, ok := lx.path(i)
	var what string
	switch {
	case !ok:
		what = "the entries"
	case b.seq && len(p) > 0 && p[len(p)-1] != "[]":
		what = "the items of " + p[len(p)-1]
	case b.seq:
		what = "the items of the list"
	case len(p) == 0:
		what = "the top-level keys"
	case len(p) == 1 && p[0] == "environments":
		what = "the environment names"
	case len(p) == 2 && p[0] == "environments":
		what = "the keys of environment " + quote(p[1])
	case p[len(p)-1] == "[]" && slices.Equal(keysAt(p), processKeys):
		what = "the keys of the process"
	case p[len(p)-1] == "[]" && len(p) >= 2:
		what = "the keys of the item of " + p[len(p)-2]
	default:
		what = "the keys of " + p[len(p)-1]
	}
	return fmt.Sprintf("%s (from line %d)", what, b.line)
}

// indented says how far a line is indented.
func indented(n int) string {
	switch n {
	case 0:
		return "not indented"
	case 1:
		return "indented 1 space"
	}
	return fmt.Sprintf("indented %d spaces", n)
}

// colonHint explains a ": " in a plain value, which YAML reads as a key
// where none may be: "hostname: a: b".
func colonHint(l srcLine, n int, h head) (Pos, string, bool) {
	last := h.entries[len(h.entries)-1]
	v := l.text[h.value:]
	if last.seq || v == "" || strings.ContainsRune(`"'[{|>&*!#`, rune(v[0])) {
		return Pos{}, "", false
	}
	if c := strings.Index(v, " #"); c >= 0 {
		v = v[:c]
	}
	i := strings.Index(v+" ", ": ")
	if i < 0 {
		return Pos{}, "", false
	}
	return Pos{n, l.col(h.value + i)}, fmt.Sprintf("a plain value cannot hold \": \": quote the value of %s (%s)", last.key, quote(strings.TrimSpace(v))), true
}
