package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nsup/nsup/spec"
)

// Error is a problem Compile found with the spec on this host (a missing
// bind source, a command not in the rootfs), reported like a spec error.
type Error struct {
	File string
	Pos  spec.Pos
	Path string // field path, e.g. environments.web.mounts[2].source
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Pos.Line, e.Pos.Col, e.Path, e.Msg)
}

// Errors is every problem found, sorted by position; it prints one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Msg < b.Msg
	})
	return es
}
