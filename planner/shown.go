package planner

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fileName is a path of a rootfs's listing as the plan shows it: as it
// is, or quoted when it holds a space, a quote, a backslash or a
// character that is not graphic. A folder of the spec's may name its
// files anything: a newline would forge a line of the plan, a terminal
// escape hide the lines after it.
func fileName(s string) string {
	for _, r := range s {
		if r == ' ' || r == '"' || r == '\\' || r == utf8.RuneError || !unicode.IsGraphic(r) {
			return q(s)
		}
	}
	return s
}

// Shown is a line of text as nsup shows it (a note of the plan, an
// error): each character that is not graphic (a control character, a
// terminal escape's ESC, a newline, a bidirectional override) or not
// UTF-8 written as Go escapes it, but spaces and tabs. A note or an
// error quotes host paths and values of the spec's, which may hold any
// byte: a newline would forge a line, an escape hide the lines after it.
func Shown(s string) string {
	ok := true
	for _, r := range s {
		if r != ' ' && r != '\t' && (r == utf8.RuneError || !unicode.IsGraphic(r)) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[0])
		case r != ' ' && r != '\t' && !unicode.IsGraphic(r):
			e := strconv.QuoteRune(r)
			b.WriteString(e[1 : len(e)-1])
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}
