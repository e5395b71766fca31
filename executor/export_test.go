package executor

import (
	"context"
	"os"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/executor/store"
	"github.com/nsup/nsup/planner"

	"golang.org/x/sys/unix"
)

// FailAt returns opts with step (plan numbering) of env failing with errno
// instead of being performed.
func FailAt(opts Options, env string, step int, errno unix.Errno) Options {
	opts.failAt = &failPoint{Env: env, Step: step, Errno: errno}
	return opts
}

// OnExit returns opts calling fn with each environment's child's
// resource usage once it is reaped.
func OnExit(opts Options, fn func(env string, ru *unix.Rusage)) Options {
	opts.exited = fn
	return opts
}

// OnStart returns opts calling fn with each environment's child once it
// is set up, while it runs.
func OnStart(opts Options, fn func(env string, pid int)) Options {
	opts.started = fn
	return opts
}

// OpenStdio performs a Stdio step, as Apply's host stage does, and
// returns the files the child would get.
func OpenStdio(op planner.Stdio) ([]*os.File, error) {
	r := &envRun{}
	err := r.openStdio(op)
	return r.stdio, err
}

// Rootfs performs one rootfs step, as Apply's host stage does; the entry
// stays held until release is called.
func Rootfs(ctx context.Context, op planner.Rootfs, idx *planner.Index) (release func(), err error) {
	f, err := store.Rootfs(ctx, op, idx)
	if err != nil {
		return nil, err
	}
	return func() {
		if f != nil {
			f.Close()
		}
	}, nil
}

// PauseAt returns opts with apply stopping for good before step (plan
// numbering) of env, calling paused once it is there: a test kills nsup
// meanwhile.
func PauseAt(opts Options, env string, step int, paused func(env string, step int)) Options {
	opts.pauseAt = &failPoint{Env: env, Step: step}
	opts.paused = paused
	return opts
}

// ResumeFrom makes a pause of a raw stage's step or of the forked
// copy's (PauseAt) end at the first byte written to the FIFO fifo.
func ResumeFrom(opts Options, fifo string) Options {
	if opts.pauseAt != nil {
		opts.pauseAt.Resume = fifo
	}
	return opts
}

// OpenPty opens a pseudo-terminal pair: the master (non-blocking) and
// the slave.
func OpenPty() (*os.File, *os.File, error) {
	m, _, s, err := lifecycle.OpenPty()
	if err != nil {
		return nil, nil, err
	}
	return m, os.NewFile(uintptr(s), "pts"), nil
}

// Down is lifecycle.Down, for the tests of this package that take a
// detached environment down (security_root_test.go).
var Down = lifecycle.Down

// HideArgsUnknown makes nsup's command line and environment not found,
// as where /proc/self/stat cannot be read, until restore is called.
func HideArgsUnknown() (restore func()) {
	was := ownArgs
	ownArgs = func() [2]memArea { return [2]memArea{} }
	return func() { ownArgs = was }
}

// PauseExec returns opts with the first nsup exec's command in env
// paused before step (plan numbering, the named process's proc steps)
// until a byte is written to fifo, a path inside the environment
// (execpause.go).
func PauseExec(opts Options, env string, step int, fifo string) Options {
	opts.pauseExec = &failPoint{Env: env, Step: step, Resume: fifo}
	return opts
}

// ControlPending and ControlWait are init's bounds on the control
// socket's connections before their command starts (control.go).
const ControlPending, ControlWait = controlPending, controlWait

// MakeTeamGroup makes the accounts of a group-write test (makeTeam: a
// group with a member, removed when the test ends) and returns the
// group's gid and name.
func MakeTeamGroup(t *testing.T) (uint32, string) {
	tm := makeTeam(t)
	return tm.dev, tm.devName
}
