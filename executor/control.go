package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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

// controlWait bounds each wait of init's on a connection before its
// command starts: for the request (or the status request's answer to go
// out), for the terminal nsup exec sends when asked (SendTerminal), for
// the answer that the command started. A client that connects and sends
// nothing held a thread and fds of init, the environment's PID 1, for
// good. A real nsup exec sends its request right after connecting, and
// its terminal right after it is asked: in between it makes pipes, a pty,
// at most one short-lived helper (ReadOnlyPtyRootless), milliseconds,
// and nothing waits for the user (the terminal is raw, and read, only
// once the command runs). And a connection behind a full backlog (16) of
// idle ones is served within three bounds (controlPending), inside
// nsup exec's own wait for init, 20 s (lifecycle.DefaultAnswerWait).
const controlWait = 5 * time.Second

// controlPending bounds the connections init serves at once before their
// command starts (or their status is sent): more wait in accept(2), then
// in the socket's backlog, as nsup exec's connect is bounded. Unbounded,
// many connections that each take a thread (a blocking recvmsg) and fds
// could reach Go's thread limit, or the fd limit, which ends init's
// accept loop; a command once started frees its slot.
const controlPending = 16

// serve accepts nsup exec's connections on the listening socket fd. An
// accept that fails for want of fds or memory (EMFILE, ENFILE, ENOBUFS,
// ENOMEM) is tried again after a pause, doubled up to a second, as Go's
// net/http server does: it ended the loop, and nsup exec never reached
// the environment again, however many fds its commands later closed.
func (in *initState) serve(fd int) {
	pending := make(chan struct{}, controlPending)
	var pause time.Duration
	for {
		pending <- struct{}{}
		c, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
			pause = 0
			go in.session(c, pending)
		case err == unix.EINTR || err == unix.ECONNABORTED:
			<-pending
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			<-pending
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
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
// report its status. Until the command starts, it holds a slot of
// pending, and each wait on c is bounded (controlWait).
func (in *initState) session(c int, pending chan struct{}) {
	free := func() {
		if pending != nil {
			<-pending
			pending = nil
		}
	}
	// The slot is freed after c is closed: a connection accepted in its
	// place finds this one's client at EOF.
	defer free()
	defer unix.Close(c)
	tv := unix.NsecToTimeval(controlWait.Nanoseconds())
	if unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) != nil ||
		unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv) != nil {
		return
	}
	buf := make([]byte, lifecycle.MaxExecMsg)
	oob := make([]byte, unix.CmsgSpace(3*4))
	var n, oobn int
	var err error
	for {
		// With a timeout set, a signal interrupts the wait (EINTR)
		// instead of restarting it.
		n, oobn, _, _, err = unix.Recvmsg(c, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
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
	// The command runs: relay waits for the client's signals as long as
	// it does, and the slot is another's.
	var none unix.Timeval
	unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &none)
	unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &none)
	free()
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
		// ESRCH, not ENOENT: nsup exec says 127 (command not found)
		// for ENOENT, and a script would take a typo for a missing tool.
		return nil, fmt.Errorf("no process %q in this environment (it has %s): %w", req.Process, strings.Join(names, ", "), unix.ESRCH)
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
