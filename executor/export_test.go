package executor

import (
	"os"

	"golang.org/x/sys/unix"
)

// FailAt returns opts with step (plan numbering) of env failing with errno
// instead of being performed.
func FailAt(opts Options, env string, step int, errno unix.Errno) Options {
	opts.failAt = &failPoint{Env: env, Step: step, Errno: errno}
	return opts
}

// OnExit returns opts calling fn with each environment's child's end.
func OnExit(opts Options, fn func(env string, ps *os.ProcessState)) Options {
	opts.exited = fn
	return opts
}

// OnStart returns opts calling fn with each environment's child once it
// is set up, while it runs.
func OnStart(opts Options, fn func(env string, pid int)) Options {
	opts.started = fn
	return opts
}
