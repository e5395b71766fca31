package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The host's side of depends_on: {ENV: healthy}: the WaitHealthy step.

// NotHealthyError is the failure of a WaitHealthy step: the environment
// waited for is unhealthy, has ended, or is still starting at the
// step's bound. Apply -d records the waiting environment as not started
// (and those after it that need it) and starts the others.
type NotHealthyError struct {
	Env string // the environment waited for
	Msg string
}

func (e *NotHealthyError) Error() string { return e.Msg }

// Unwrap is EAGAIN: what was waited for did not happen.
func (e *NotHealthyError) Unwrap() error { return unix.EAGAIN }

// waitHealthy waits until environment op.Env's init reports its main
// process healthy (releasing it first, detached: op.Release).
func (r *envRun) waitHealthy(ctx context.Context, i int, op planner.WaitHealthy) error {
	if op.StateDir != "" {
		return waitRunningHealthy(ctx, op)
	}
	o, ok := r.a.runs[op.Env]
	switch {
	case !ok || o.child == 0:
		return fmt.Errorf("environment %s is not running: %w", op.Env, unix.ESRCH)
	case !o.watched:
		return fmt.Errorf("environment %s does not report its health: %w", op.Env, unix.EINVAL)
	}
	if op.Release && o.release != nil {
		// Its last steps (the end of its parent-death signal, which apply
		// -d holds back until every environment is up): its init's loop,
		// which runs the healthcheck, starts then.
		if err := o.releaseNow(); err != nil {
			return &releaseError{env: op.Env, by: r.env.Name, step: i, err: err}
		}
	}
	bound := time.Duration(op.TimeoutMs) * time.Millisecond
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	for {
		h, why, ended, changed := o.healthNow()
		switch {
		case h == lifecycle.HealthHealthy:
			return nil
		case h == lifecycle.HealthUnhealthy:
			return &NotHealthyError{op.Env, fmt.Sprintf("%s is unhealthy: %s", op.Env, lifecycle.Printable(why))}
		case ended:
			return &NotHealthyError{op.Env, fmt.Sprintf("%s has ended before it was healthy", op.Env)}
		}
		select {
		case <-changed:
		case <-o.reaped:
			// Foreground: its child has ended; the channel's end follows.
			if h, _, _, _ := o.healthNow(); h != lifecycle.HealthHealthy {
				return &NotHealthyError{op.Env, fmt.Sprintf("%s has ended (exit status %d) before it was healthy", op.Env, o.waitStatus())}
			}
		case <-deadline.C:
			return &NotHealthyError{op.Env, fmt.Sprintf("%s is still starting after %v", op.Env, bound)}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// releaseNow releases r, detached: its held last steps (planner's
// Env.HeldFrom) are made, unless they were already. The error is theirs.
func (r *envRun) releaseNow() error {
	if r.released {
		return nil
	}
	r.release <- struct{}{}
	err := <-r.setup
	r.released = err == nil
	return err
}

// releaseListed, for environment i of p, recorded as not started (an
// environment it waits for was not healthy, or one it needs was not
// started), releases the environments whose last steps the plan lists
// among i's (planner's ReleasedAmong): they are made where the plan lists
// them, whether or not i's own steps go on (found by helper-81's review:
// they were made with the others' at the end, after later environments'
// steps).
func (a *applier) releaseListed(p *planner.Plan, i int) error {
	for _, o := range p.ReleasedAmong(i) {
		if r := a.runs[p.Environments[o].Name]; r != nil && r.release != nil {
			if err := r.releaseNow(); err != nil {
				return err
			}
		}
	}
	return nil
}

// releaseError is the failure of environment env's release (its last
// steps), done early by step step of environment by, which waits for
// env's health: env's failure, reported as env's (its step, origin and
// call, found by a review: it was reported as by's wait step, wrapping
// it), not as by's step; Apply rolls back as it would for a failure of
// env's own setup.
type releaseError struct {
	env, by string
	step    int
	err     error
}

func (e *releaseError) Error() string {
	return fmt.Sprintf("%v (released early, as %s's step %d waited for %s to be healthy)", e.err, e.by, e.step, e.env)
}

func (e *releaseError) Unwrap() error { return e.err }

// failed is the index of the environment whose failure err is, found
// in the setup of environment i: an earlier one's whose release failed
// (releaseError), else i.
func failed(p *planner.Plan, i int, err error) int {
	var re *releaseError
	if errors.As(err, &re) {
		for k := range p.Environments[:i] {
			if p.Environments[k].Name == re.env {
				return k
			}
		}
	}
	return i
}

// healthPoll is how often a running environment's init is asked.
const healthPoll = 100 * time.Millisecond

// waitRunningHealthy is waitHealthy for an environment that runs already,
// detached, recorded in op.StateDir: its init says how its main process
// is, asked until it is healthy, unhealthy or gone, or op's bound.
func waitRunningHealthy(ctx context.Context, op planner.WaitHealthy) error {
	bound := time.Duration(op.TimeoutMs) * time.Millisecond
	deadline := time.Now().Add(bound)
	for {
		es, err := lifecycle.Inspect(filepath.Dir(op.StateDir), op.Env)
		if err != nil || !es.Running {
			return &NotHealthyError{op.Env, fmt.Sprintf("%s, planned as running, is not (%s)", op.Env, statusText(es, err))}
		}
		sr, err := lifecycle.Status(es)
		if err != nil {
			return &NotHealthyError{op.Env, fmt.Sprintf("%s: %v", op.Env, err)}
		}
		for _, p := range sr.Processes {
			if p.Name != op.Process {
				continue
			}
			switch p.Health {
			case lifecycle.HealthHealthy:
				return nil
			case lifecycle.HealthUnhealthy:
				return &NotHealthyError{op.Env, fmt.Sprintf("%s is unhealthy: %s", op.Env, lifecycle.Printable(p.HealthLog))}
			case "":
				return &NotHealthyError{op.Env, fmt.Sprintf("%s's process %s reports no health (it runs with another spec?)", op.Env, op.Process)}
			}
		}
		if time.Now().After(deadline) {
			return &NotHealthyError{op.Env, fmt.Sprintf("%s is still starting after %v", op.Env, bound)}
		}
		select {
		case <-time.After(healthPoll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func statusText(es lifecycle.EnvStatus, err error) string {
	if err != nil {
		return err.Error()
	}
	return es.Status()
}
