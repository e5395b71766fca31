package planner

// Where in the spec an error or a step points: at the value it is about, not at the mapping around it.

import (
	"strings"

	"github.com/nsup/nsup/spec"
)

// closureAt is where the closure path that err names ("closure PATH:
// …", closureFollowing) is written; the closure's list for a file of
// closure.packages, which no item names.
func closureAt(r spec.Rootfs, err error) spec.Pos {
	for _, p := range r.Closure {
		if strings.HasPrefix(err.Error(), "closure "+p.Value+": ") {
			return p.Pos
		}
	}
	return r.ClosurePos
}

// commandAt is where the program of p's command is written, or of its
// healthcheck's when field is that (lookPath); p where it is not known.
func commandAt(p *spec.Process, field string) spec.Pos {
	at := p.CommandPos
	if strings.HasSuffix(field, ".healthcheck") && p.Healthcheck != nil {
		at = p.Healthcheck.CommandPos
	}
	if len(at) == 0 {
		return p.Pos
	}
	return at[0]
}

// cwdAt is where p's working directory is written: its cwd, else its
// environment's, else p (the default, /).
func cwdAt(e *spec.Environment, p *spec.Process) spec.Pos {
	switch {
	case p.Cwd != nil:
		return p.Cwd.Pos
	case e.Cwd != nil:
		return e.Cwd.Pos
	}
	return p.Pos
}

// timeAt is where the offset that the write of t can be refused for is
// written: the one set, or the time mapping when both are (one write
// takes both).
func timeAt(t *spec.Time) spec.Pos {
	switch {
	case t.MonotonicPos.Line == 0 && t.BoottimePos.Line != 0:
		return t.BoottimePos
	case t.BoottimePos.Line == 0 && t.MonotonicPos.Line != 0:
		return t.MonotonicPos
	}
	return t.Pos
}
