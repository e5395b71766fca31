package planner

// Where the processes write: straight to nsup's stdout and stderr, or, when several write to one place, through init, each line prefixed.

import "github.com/nsup/nsup/spec"

// prefixes decides where the processes write, before any is planned. One
// process alone writes straight to nsup's stdout and stderr: its fds are
// passed through, nothing copies them (a detached environment's log is
// written by init alone, the Stdio step's Max, prefixed or not). When more than one process writes to one place (several in the
// foreground plan, or several in one detached environment's log), each
// line is prefixed with "ENV/PROCESS | ", by init (or by nsup for an
// init: false environment): prefixed says which environments do that.
func (c *compiler) prefixes(envs []*spec.Environment) {
	count := func(e *spec.Environment) int {
		n := 0
		walkProcs(e.Process, func(*spec.Process, string) { n++ })
		return n
	}
	total := 0
	for _, e := range envs {
		total += count(e)
	}
	c.prefixed = map[string]bool{}
	for _, e := range envs {
		c.prefixed[e.Name] = total > 1
		if c.opts.Detach || e.Name == c.terminalEnv {
			// Its own log, or its own pty (the one named, with what it
			// joins planned along): only its own processes share it.
			c.prefixed[e.Name] = count(e) > 1
		}
	}
}

// label is the output label of a process of environment e, or "" when
// its lines are not prefixed.
func (ec *envCompiler) label(process string) string {
	if !ec.prefixed[ec.e.Name] {
		return ""
	}
	return ec.e.Name + "/" + process
}
