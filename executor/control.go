package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// Init's side of the control protocol (lifecycle/control.go has the
// protocol and its messages; lifecycle.Exec is the client, nsup exec): a
// detached environment's init serves nsup exec on STATEDIR/ENV/control.sock,
// starting each command as a child of its own, which it reaps like any
// other.

// execSession is one command started for nsup exec.
type execSession struct {
	pid  int
	done chan int // its status, once
	// master is the master of the command's pty in the environment's
	// devpts (envPty), sent with the answer that it started; else -1.
	master int
	ended  bool // under initState.mu
}

// end is called by init's loop, with mu held, when the process is reaped.
func (s *execSession) end(st int) {
	s.ended = true
	s.done <- st
}

// serve accepts nsup exec's connections on the listening socket fd.
func (in *initState) serve(fd int) {
	for {
		c, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
			go in.session(c)
		case err == unix.EINTR || err == unix.ECONNABORTED:
		default:
			return
		}
	}
}

func sendMsg(c int, m lifecycle.ExecMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return unix.Sendmsg(c, b, nil, nil, 0)
}

// session serves one connection: start the command, relay signals to it,
// report its status.
func (in *initState) session(c int) {
	defer unix.Close(c)
	buf := make([]byte, lifecycle.MaxExecMsg)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := unix.Recvmsg(c, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil || n == 0 {
		return
	}
	fds, err := lifecycle.Rights(oob[:oobn])
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	var req lifecycle.ExecRequest
	if err == nil {
		err = json.Unmarshal(buf[:n], &req)
	}
	if err == nil && req.Status {
		in.mu.Lock()
		st := in.status()
		in.mu.Unlock()
		if b, err := json.Marshal(st); err == nil {
			unix.Sendmsg(c, b, nil, nil, 0)
		}
		return
	}
	var s *execSession
	var t execTerm
	if err == nil {
		t, err = execStdio(c, req, &fds)
	}
	if err == nil {
		s, err = in.spawn(req, t)
	}
	if err != nil {
		m := lifecycle.ExecMessage{Error: err.Error(), AskKnown: req.AskTerminal}
		var errno unix.Errno
		if errors.As(err, &errno) {
			m.Errno = int(errno)
		}
		sendMsg(c, m)
		return
	}
	for _, fd := range fds {
		unix.Close(fd) // the command has its copies
	}
	fds = nil
	if s.master >= 0 {
		b, _ := json.Marshal(lifecycle.ExecMessage{Pid: s.pid, Terminal: true, AskKnown: req.AskTerminal})
		unix.Sendmsg(c, b, unix.UnixRights(s.master), nil, 0)
		unix.Close(s.master)
	} else {
		sendMsg(c, lifecycle.ExecMessage{Pid: s.pid, AskKnown: req.AskTerminal})
	}
	relayed := make(chan struct{})
	go func() {
		in.relay(c, s)
		close(relayed)
	}()
	st := <-s.done
	sendMsg(c, lifecycle.ExecMessage{Status: &st})
	unix.Shutdown(c, unix.SHUT_RDWR) // ends relay's recvmsg
	// Only then close c: a relay still to call recvmsg on a closed c
	// would read the next connection given that fd number.
	<-relayed
}

// relay forwards the client's signals to the command's process group
// until the command ends; a client that goes away first takes the
// command along.
func (in *initState) relay(c int, s *execSession) {
	buf := make([]byte, 4096)
	for {
		n, _, _, _, err := unix.Recvmsg(c, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		var m lifecycle.ExecMessage
		gone := err != nil || n == 0 || json.Unmarshal(buf[:n], &m) != nil
		in.mu.Lock()
		if !s.ended {
			// The process is not reaped yet, so its pid (its process
			// group's, as a session leader) cannot have been reused.
			switch {
			case gone:
				unix.Kill(-s.pid, unix.SIGKILL)
			case m.Signal > 0 && m.Signal < 65:
				unix.Kill(-s.pid, unix.Signal(m.Signal))
			}
		}
		in.mu.Unlock()
		if gone {
			return
		}
	}
}

// spawn starts the command of req as the process named in req would
// start: its environment variables, cwd, uid and gid, looked up in its
// PATH; in a session of its own; dying with init; with the stdio of t
// (execStdio), whose pty, if init opened one, it closes or hands on. It
// is registered with init's loop before the loop can reap it (mu is held
// from the lookup of the process on).
func (in *initState) spawn(req lifecycle.ExecRequest, t execTerm) (*execSession, error) {
	master, ptySlave, stdio := t.master, t.slave, t.stdio
	if ptySlave >= 0 {
		defer unix.Close(ptySlave) // the command has its copy
	}
	started := false
	defer func() {
		if !started && master >= 0 {
			unix.Close(master)
		}
	}()
	in.mu.Lock()
	defer in.mu.Unlock()
	// The main process may be between two runs (restart): the command
	// starts as it would.
	if in.main == nil || in.mainDone || in.stopping {
		return nil, fmt.Errorf("the environment is stopping: %w", unix.ESRCH)
	}
	name := req.Process
	if name == "" {
		name = in.main.name
	}
	procs, ok := in.spawns[name]
	if !ok {
		var names []string
		for _, p := range in.procs {
			names = append(names, p.name)
		}
		return nil, fmt.Errorf("no process %q in this environment (it has %s): %w", req.Process, strings.Join(names, ", "), unix.ENOENT)
	}
	steps, err := execSteps(procs, req.Argv, "", req.TTY, req.Term)
	if err != nil {
		return nil, err
	}
	if ptySlave >= 0 {
		chownPty(ptySlave, steps)
	}
	// As the named process starts (its limits, credentials, cwd), in a
	// session of its own; from this thread, which has the environment's
	// capabilities, no_new_privs, filter and keyring, as every thread of
	// init has.
	prog, err := procProg(steps, stdio, nil, in.execPause)
	in.execPause = nil // the first command only
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Argv[0], err)
	}
	pid, err := in.sys.Spawn(prog)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Argv[0], err)
	}
	s := &execSession{pid: pid, done: make(chan int, 1), master: master}
	started = true
	if in.execs == nil {
		in.execs = map[int]*execSession{}
	}
	in.execs[pid] = s
	in.woken() // init's loop may be waiting for a restart, with no child
	return s, nil
}

// execSteps are the proc steps of nsup exec's command (or of a
// healthcheck): the named process's own (its limits, ids, parent-death
// signal, working directory), in a session of its own (with the received
// terminal as its controlling terminal for tty), ending in the execve of
// argv: path if the plan found it, else looked up in the process's PATH
// from its working directory.
func execSteps(procs []indexedStep, argv []string, path string, tty bool, term string) ([]indexedStep, error) {
	var out []indexedStep
	cwd := "/"
	for _, is := range procs {
		if c, ok := is.Step.Op.(planner.Chdir); ok {
			cwd = c.Path
		}
	}
	for _, is := range procs {
		switch op := is.Step.Op.(type) {
		case planner.Setsid, planner.Setctty:
			continue // added below, as the command needs them
		case planner.Setresgid:
			out = append(out, indexedStep{Index: is.Index, Step: planner.Step{Stage: planner.Proc, Op: planner.Setsid{}}})
			if tty {
				out = append(out, indexedStep{Index: is.Index, Step: planner.Step{Stage: planner.Proc, Op: planner.Setctty{}}})
			}
		case planner.Execve:
			p := path
			if p == "" {
				var err error
				if p, err = lookPath(argv, op.Env, cwd); err != nil {
					return nil, err
				}
			}
			op.Path, op.Argv, op.Output = p, argv, ""
			// The caller's TERM with its terminal, unless the process
			// sets one.
			if tty && term != "" && !slices.ContainsFunc(op.Env, func(kv string) bool { return strings.HasPrefix(kv, "TERM=") }) {
				op.Env = append(slices.Clone(op.Env), "TERM="+term)
			}
			is.Step.Op = op
		}
		out = append(out, is)
	}
	return out, nil
}
