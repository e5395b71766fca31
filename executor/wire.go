package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The host and nsup's init talk over one socketpair, init's end at fd 3
// (put there by the launcher's child before it executed init). Both ends
// are close-on-exec, so no process of the environment inherits it.
//
//	host → init   a request: a run of consecutive init and proc steps;
//	              Last marks the final one (a detached plan's steps
//	              alternate host, init, host, init: one request per run)
//	init → host   replies, one JSON value each, until one ends the run:
//	              "ok"     the run is done (with the processes init
//	                       started, by name and pid inside)
//	              "error"  step Step failed with Errno (and Detail)
//	              "paused" step Step is paused (a test hook)
//
// Init applies a run and waits for the next request until one is Last;
// EOF instead means nsup died, and init undoes what it started. Then it
// runs the tree. If the last request asks for it (Health), init keeps
// the channel and sends "health" replies as its main process's health
// changes, until a write fails (nsup has gone).
//
// The steps travel with planner.Step's own JSON form, so a step means the
// same thing in a saved plan and on this pipe. The raw stages' steps
// (child, and proc with no init) never travel: the launcher's child runs
// them from a program prepared before the clone (launch.go).

// stageFD is where init finds its end of the socketpair.
const stageFD = 3

// request is what the host sends init.
type request struct {
	Env   string        `json:"env"`
	Steps []indexedStep `json:"steps"`
	// Last is set on the final request: then init takes over.
	Last bool `json:"last,omitempty"`
	// Fail and Pause are the test-only hooks (Options.failAt, pauseAt),
	// nil otherwise.
	Fail  *wireFail `json:"fail,omitempty"`
	Pause *wireFail `json:"pause,omitempty"`
	// ExecPause, on the first request, is the test-only pause of the
	// first nsup exec's command (Options.pauseExec, execpause.go).
	ExecPause *wireFail `json:"execPause,omitempty"`
	// Color says whether init colours the labels of prefixed output (a
	// terminal, no NO_COLOR), ColorBase the colour of this environment's
	// first label, so that labels of one plan differ.
	Color     bool `json:"color,omitempty"`
	ColorBase int  `json:"colorBase,omitempty"`
	// LockFD and ControlFD are the fds of a detached environment's lock
	// and control socket (the Flock and Listen steps), 0 when none.
	LockFD    int `json:"lockFD,omitempty"`
	ControlFD int `json:"controlFD,omitempty"`
	// LogMax bounds the detached environment's log, fds 1 and 2 (the
	// Stdio step's Max): init writes it alone (cappedLog).
	LogMax int64 `json:"logMax,omitempty"`
	// Health, on the last request, asks init to keep the channel open
	// and report the main process's health on it as it changes (a later
	// environment waits for it to be healthy: WaitHealthy).
	Health bool `json:"health,omitempty"`
}

// indexedStep is a step with its index in the environment's step list, so
// that a failure names the step as the plan numbers it.
type indexedStep struct {
	Index int          `json:"index"`
	Step  planner.Step `json:"step"`
}

type wireFail struct {
	Step  int `json:"step"`
	Errno int `json:"errno"`
	// Resume (ExecPause): the FIFO, inside the environment, whose first
	// byte ends the pause.
	Resume string `json:"resume,omitempty"`
}

// reply is one message of the child stage to the host.
type reply struct {
	Kind   string `json:"kind"` // "ok", "exec", "error" or "paused"
	Step   int    `json:"step,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Procs are the processes started so far (with "ok").
	Procs []lifecycle.StateProc `json:"procs,omitempty"`
	// Health is the main process's health (with "health"; Detail says
	// why it is unhealthy).
	Health string `json:"health,omitempty"`
}

const (
	replyOK     = "ok"
	replyError  = "error"
	replyPaused = "paused"
	replyHealth = "health"
)

func send(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// errorReply turns a step's failure into a reply: the errno if the error
// wraps one, and the text when it says more than the errno alone.
func errorReply(index int, err error) reply {
	r := reply{Kind: replyError, Step: index}
	var errno unix.Errno
	if errors.As(err, &errno) {
		r.Errno = int(errno)
		if err == error(errno) {
			return r
		}
	}
	r.Detail = err.Error()
	return r
}

// remoteError is a child stage's failure as the host rebuilds it: its text,
// wrapping the errno so that errors.Is(err, unix.EPERM) works.
type remoteError struct {
	detail string
	errno  unix.Errno
}

func (e *remoteError) Error() string {
	if e.detail != "" {
		return e.detail
	}
	return e.errno.Error()
}

func (e *remoteError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}

func (r reply) err() error {
	if r.Detail == "" && r.Errno != 0 {
		return unix.Errno(r.Errno)
	}
	return &remoteError{detail: r.Detail, errno: unix.Errno(r.Errno)}
}

// StepError is a failed step: its origin in the spec, its number in the
// plan, the call as the plan prints it, and the cause (an errno, wrapped).
type StepError struct {
	Env    string
	Step   int
	Origin string
	Call   string
	Err    error
}

// Error is one line, as planner.Shown writes it: a path the cause names
// (a target the plan wrote where a link of the tree leads) may hold a
// line break, which nsup would print as a line of the tree's choosing.
func (e *StepError) Error() string {
	return planner.Shown(fmt.Sprintf("%s: step %d: %s: %v", e.Origin, e.Step, e.Call, e.Err))
}

func (e *StepError) Unwrap() error { return e.Err }

func stepError(env *planner.Env, index int, err error) error {
	st := env.Steps[index]
	return &StepError{Env: env.Name, Step: index, Origin: st.Origin, Call: planner.FormatOp(st.Op), Err: err}
}
