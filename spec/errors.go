package spec

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Error is one problem of a spec, at the YAML node that caused it.
type Error struct {
	File string // the file name as given to Parse or ParseBytes
	Pos  Pos
	// Path is the field, such as environments.dev.mounts[1].target; it is
	// empty for problems of the file as a whole (YAML syntax, encoding).
	Path string
	Msg  string // lowercase, no trailing period
}

// Error formats e as FILE:LINE:COL: field.path: message, on one line.
func (e *Error) Error() string {
	file, path, msg := oneLine.Replace(e.File), oneLine.Replace(e.Path), oneLine.Replace(e.Msg)
	if e.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", file, e.Pos.Line, e.Pos.Col, msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", file, e.Pos.Line, e.Pos.Col, path, msg)
}

// oneLine writes a line break that a message quotes (a host path's: a
// folder or a symlink's target named "x\n# box: ...") as an escape, as
// planner.Shown writes it: each error is one line, and nsup shows the
// lines of an error each escaped (shownLines), its line breaks kept.
// Before helper-124's review a repository's symlink to such a name gave
// nsup plan's refusal of a create: true bind through it a line of the
// repository's choosing, passing for an error or a note of nsup's.
var oneLine = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\v", `\v`, "\f", `\f`, "\u0085", `\u0085`, "\u2028", `\u2028`, "\u2029", `\u2029`)

// Errors is every problem found in a spec, sorted by position. Parse and
// ParseBytes return it (as a value, never empty) when a spec is invalid, so a
// caller gets the list with
//
//	var errs spec.Errors
//	if errors.As(err, &errs) {
//		for _, e := range errs { … e.Pos, e.Path, e.Msg … }
//	}
//
// Errors that are not about the spec's content (the file cannot be opened
// or read) are returned as they come from package os, not as Errors.
type Errors []*Error

// Error prints one error per line, without a header or a final newline.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a single *Error in the list.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// Sorted orders es by line, column, then text, and drops exact repeats: a
// rule reached twice through different paths must not print twice. (The
// planner reports what it finds on the host through Errors too.)
func (es Errors) Sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Error() < b.Error()
	})
	out := es[:0]
	for i, e := range es {
		if i > 0 && e.Error() == es[i-1].Error() {
			continue
		}
		out = append(out, e)
	}
	return out
}

// maxQuoted bounds how much of a user's value is echoed in a message: a
// hostile 1 MiB string must not come back as a 1 MiB error line.
const maxQuoted = 64

// quote returns s as a Go string literal, shortened to maxQuoted runes. Every
// value taken from the file goes through it, so a message is always a
// single line, whatever the value holds (newlines, control characters).
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxQuoted {
		r := []rune(s)
		s = string(r[:maxQuoted]) + "…"
	}
	return strconv.Quote(s)
}

// lazyRegexp compiles a pattern on first use: nsup starts twice per
// environment (the second time as the child stage, which never parses a
// spec), and compiling every pattern at start-up would cost both.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
