package planner

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nsup/nsup/internal/textsafe"
)

// fileName is a path of a rootfs's listing as the plan shows it: as it
// is, or quoted when it holds a space, a quote, a backslash or a
// textsafe.Hidden rune. A folder of the spec's may name its files
// anything: a newline would forge a line of the plan, a terminal escape
// hide the lines after it, a zero-width space make two names look alike.
func fileName(s string) string {
	for _, r := range s {
		if r == ' ' || r == '"' || r == '\\' || textsafe.Hidden(r) {
			return q(s)
		}
	}
	return s
}

// Shown is a line of text as nsup shows it (a note of the plan, an
// error): each textsafe.Hidden rune (a control character, a terminal
// escape's ESC, a newline, a bidirectional override, a zero-width or
// other space that shows as something else) or byte that is not UTF-8
// written as Go escapes it, but tabs. A note or an error quotes host
// paths and values of the spec's, which may hold any byte: a newline
// would forge a line, an escape hide the lines after it.
func Shown(s string) string {
	if strings.IndexFunc(s, hiddenInLine) < 0 {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[0])
		case hiddenInLine(r):
			b.WriteString(escapedRune(r))
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// hiddenInLine is textsafe.Hidden but for a tab, which a line shows.
func hiddenInLine(r rune) bool { return r != '\t' && textsafe.Hidden(r) }

// escapedRune is r as a Go string literal escapes it in ASCII (\n, \x1b,
// \u200b), so that a U+FFFD of the text, which strconv would print, is
// told from the \xNN of a byte that is not UTF-8.
func escapedRune(r rune) string {
	e := strconv.QuoteRuneToASCII(r)
	return e[1 : len(e)-1]
}
