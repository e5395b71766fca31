package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The host and the child stage talk over one socketpair, the child's end
// at fd 3 (exec.Cmd.ExtraFiles). Both ends are close-on-exec, so no
// process of the environment inherits it.
//
//	host → child  one request: the environment's child and init steps
//	child → host  replies, one JSON value each, until one ends setup:
//	              "ok"    setup done (init: the whole tree is started)
//	              "exec"  the next call is the main process's execve: a
//	                      following EOF (the close-on-exec fd went away)
//	                      means it succeeded
//	              "error" step Step failed with Errno (and Detail)
//
// The steps travel with planner.Step's own JSON form, so a step means the
// same thing in a saved plan and on this pipe.

// stageFD is where the child stage finds its end of the socketpair.
const stageFD = 3

// request is what the host sends the child stage.
type request struct {
	Env   string        `json:"env"`
	Steps []indexedStep `json:"steps"`
	// Fail is the test-only failure hook (Options.failAt), nil otherwise.
	Fail *wireFail `json:"fail,omitempty"`
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
}

// reply is one message of the child stage to the host.
type reply struct {
	Kind   string `json:"kind"` // "ok", "exec" or "error"
	Step   int    `json:"step,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Detail string `json:"detail,omitempty"`
}

const (
	replyOK    = "ok"
	replyExec  = "exec"
	replyError = "error"
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

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: step %d: %s: %v", e.Origin, e.Step, e.Call, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

func stepError(env *planner.Env, index int, err error) error {
	st := env.Steps[index]
	return &StepError{Env: env.Name, Step: index, Origin: st.Origin, Call: planner.FormatOp(st.Op), Err: err}
}
