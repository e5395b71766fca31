package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ExecOptions are nsup exec's.
type ExecOptions struct {
	// Argv is the command; argv[0] is looked up in the process's PATH
	// inside the environment.
	Argv []string
	// Process names the declared process whose environment variables,
	// cwd and user the command gets; "" is the main process.
	Process string
	// TTY gives the command a terminal of its own (a pty), relayed to
	// Stdin and Stdout; Stdin, if a terminal, is in raw mode meanwhile.
	TTY bool
	// Term is the caller's TERM, which the command gets with its
	// terminal (TTY) unless its process's environment sets one.
	Term string
	// Stdin, Stdout and Stderr are handed to the command (without TTY):
	// as they are where PassAsIs says so (a pipe, a socket, /dev/null),
	// else through a pipe that nsup copies (Bridge).
	Stdin, Stdout, Stderr *os.File
	// AnswerWait bounds the wait for init's answer that the command
	// started or could not (0: DefaultAnswerWait), and each wait for init
	// to take the connection and the messages sent to it.
	AnswerWait time.Duration
}

// DefaultAnswerWait is how long nsup exec waits for init to say the
// command started: starting it takes init a fork and an execve, but an
// init that is stopped (a debugger inside, with SYS_PTRACE, or root inside
// holding it so) never answers, and nsup exec would wait for good.
const DefaultAnswerWait = 20 * time.Second

// ExecError is a command that could not be started; Errno says why
// (ENOENT: not found, EACCES: not executable).
type ExecError struct {
	Msg   string
	Errno unix.Errno
}

func (e *ExecError) Error() string { return e.Msg }
func (e *ExecError) Unwrap() error { return e.Errno }

// relayed are the signals nsup exec passes on to the command.
var relayed = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2}

// Exec runs a command inside the running detached environment name of
// dir, through its init (control.go is the protocol; executor/control.go
// serves it), and returns the command's exit status (a shell's: 128+N for
// signal N).
func Exec(ctx context.Context, dir, name string, opts ExecOptions) (int, error) {
	st, err := Inspect(dir, name)
	if err != nil {
		return 1, err
	}
	if !st.Running {
		return 1, fmt.Errorf("environment %q is not running: %s", name, st.Status())
	}
	code, err := execIn(ctx, st, name, opts, opts.TTY)
	var old *oldInitError
	if errors.As(err, &old) {
		// An init of an older nsup, which refused the terminal's request
		// before starting anything: asked again the way it knows, with
		// a host pty reopened read-only sent along.
		code, err = execIn(ctx, st, name, opts, false)
	}
	return code, err
}

// oldInitError is the refusal, by an init of an older nsup, of a request
// for a terminal that it does not know to ask for (AskTerminal).
type oldInitError struct{ ExecError }

// answer is a message from init, with the one fd it brought, else -1.
type answer struct {
	m  ExecMessage
	fd int
}

// execIn is Exec in the running environment st. With ask (and a
// terminal), the request comes without one, and nsup opens and reopens a
// host pty (starting, rootless, the helper that reopens it) only if init
// asks for it: the environment has no devpts of its own.
func execIn(ctx context.Context, st EnvStatus, name string, opts ExecOptions, ask bool) (int, error) {
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 1, err
	}
	msgs := make(chan answer, 2)
	// The reader below may be about to call recvmsg on c when execIn
	// returns: closing c then would let it read whatever socket next gets
	// that fd number (another Exec's, in the same process). So c is shut
	// down first, which ends the reader, and closed once it has.
	readerDone := make(chan struct{})
	started := false
	// received is the master init sends with its answer (Terminal), until
	// it is taken as the command's terminal; else -1.
	received := -1
	defer func() {
		unix.Shutdown(c, unix.SHUT_RDWR)
		if started {
			<-readerDone
			for a := range msgs {
				if a.fd >= 0 {
					unix.Close(a.fd)
				}
			}
		}
		unix.Close(c)
		if received >= 0 {
			unix.Close(received)
		}
	}()
	wait := opts.AnswerWait
	if wait <= 0 {
		wait = DefaultAnswerWait
	}
	// connect(2) waits while init's backlog (16) is full, and sendmsg(2)
	// while its end's queue is: a stopped init accepts and reads nothing,
	// so the 18th nsup exec waited in connect for good, deaf to ^C (a
	// review of the twelfth stop). Both wait as long as the answer may.
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	if err := unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return 1, err
	}
	if err := connectControl(c, st.Dir); err != nil {
		if err == unix.EAGAIN {
			return 1, fmt.Errorf("environment %q: its init did not take the connection within %v (is it stopped?)", name, wait)
		}
		return 1, fmt.Errorf("environment %q: connect to its init: %w", name, err)
	}
	r := ExecRequest{Argv: opts.Argv, Process: opts.Process, TTY: opts.TTY, Term: opts.Term, AskTerminal: ask && opts.TTY}
	if opts.TTY {
		r.Rows, r.Cols = winsize(opts.Stdin, opts.Stdout)
	}
	req, err := json.Marshal(r)
	if err != nil {
		return 1, err
	}
	var master *os.File
	masterFD := -1
	defer func() {
		if master != nil {
			master.Close()
		}
	}()
	var lastOutput func(time.Duration)
	var reopenErr error // why no host pty was sent
	// sendHostPty sends init, with msg, a pty of the host's for an
	// environment without a devpts of its own: reopened through a
	// read-only clone of it alone (root inside cannot chmod the host's
	// node), which root makes and a rootless nsup has a helper make in a
	// user namespace of its own. Without it (a user namespace nsup may
	// not make, say), msg goes alone: init has a devpts (an older init,
	// asked without ask), or refuses and is told why.
	sendHostPty := func(msg []byte) error {
		m, mfd, ro, rerr, err := hostPty()
		if err != nil {
			return fmt.Errorf("a terminal for the command: %w", err)
		}
		var fds []byte
		if rerr != nil {
			reopenErr = rerr
		} else {
			defer unix.Close(ro)
			master, masterFD = m, mfd
			Resize(masterFD, opts.Stdin, opts.Stdout)
			fds = unix.UnixRights(ro)
		}
		return unix.Sendmsg(c, msg, fds, nil, 0)
	}
	switch {
	case opts.TTY && !ask:
		if err := sendHostPty(req); err != nil {
			return 1, err
		}
	case opts.TTY:
		// Init opens the command's pty in the environment's own devpts
		// (its answer brings the master), or asks for a host pty.
		if err := unix.Sendmsg(c, req, nil, nil, 0); err != nil {
			return 1, err
		}
	default:
		var b Bridge
		if err := b.Stdio(opts.Stdin, opts.Stdout, opts.Stderr); err != nil {
			return 1, err
		}
		defer b.End(0)
		fds := unix.UnixRights(int(b.Files[0].Fd()), int(b.Files[1].Fd()), int(b.Files[2].Fd()))
		err = unix.Sendmsg(c, req, fds, nil, 0)
		b.Started() // the environment's ends of the relays: init has its copies
		if err != nil {
			return 1, err
		}
		lastOutput = b.End
	}
	quit := make(chan struct{})
	defer close(quit) // runs before the shutdown above: no send blocks the reader
	started = true
	go func() {
		defer close(readerDone)
		defer close(msgs)
		buf := make([]byte, 4096)
		oob := make([]byte, unix.CmsgSpace(4))
		for {
			n, oobn, _, _, err := unix.Recvmsg(c, buf, oob, unix.MSG_CMSG_CLOEXEC)
			if err == unix.EINTR {
				continue
			}
			a := answer{fd: -1}
			if err == nil && oobn > 0 {
				fds, _ := Rights(oob[:oobn])
				if len(fds) == 1 {
					a.fd, fds = fds[0], nil // with its message
				}
				for _, fd := range fds {
					unix.Close(fd)
				}
			}
			if err != nil || n == 0 || json.Unmarshal(buf[:n], &a.m) != nil {
				if a.fd >= 0 {
					unix.Close(a.fd)
				}
				return
			}
			select {
			case msgs <- a:
			case <-quit:
				if a.fd >= 0 {
					unix.Close(a.fd)
				}
				return
			}
		}
	}()
	// next is init's next answer; an fd that comes with it is received.
	next := func() (ExecMessage, error) {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case a, ok := <-msgs:
			if !ok {
				return ExecMessage{}, fmt.Errorf("environment %q: its init closed the connection", name)
			}
			if received >= 0 {
				unix.Close(received)
			}
			received = a.fd
			return a.m, nil
		case <-ctx.Done():
			return ExecMessage{}, ctx.Err()
		case <-t.C:
			return ExecMessage{}, fmt.Errorf("environment %q: its init did not answer within %v (is it stopped? if it goes on, the command may start then)", name, wait)
		}
	}
	m, err := next()
	if err != nil {
		return 1, err
	}
	if r.AskTerminal && m.SendTerminal && m.Error == "" {
		// No devpts inside: only now a host pty.
		if err := sendHostPty([]byte("{}")); err != nil {
			return 1, err
		}
		if m, err = next(); err != nil {
			return 1, err
		}
	}
	errno := unix.Errno(m.Errno)
	switch {
	case m.Error != "" && r.AskTerminal && !m.AskKnown && (errno == unix.EINVAL || errno == unix.ENOTTY):
		return 1, &oldInitError{ExecError{Msg: m.Error, Errno: errno}}
	case m.Error != "" && reopenErr != nil && opts.TTY && errno == unix.ENOTTY:
		return 1, &ExecError{Msg: m.Error + " (a host pty reopened read-only: " + reopenErr.Error() + ")", Errno: unix.ENOTTY}
	case m.Error != "":
		return 1, &ExecError{Msg: m.Error, Errno: errno}
	case opts.TTY && m.Terminal:
		if err := envMaster(received); err != nil {
			return 1, fmt.Errorf("environment %q: the command's terminal from its init: %w", name, err)
		}
		if master != nil {
			master.Close()
		}
		unix.SetNonblock(received, true)
		master, masterFD, received = os.NewFile(uintptr(received), "ptmx"), received, -1
		Resize(masterFD, opts.Stdin, opts.Stdout)
	case opts.TTY && master == nil:
		return 1, fmt.Errorf("environment %q: its init started the command without a terminal", name)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, relayed...)
	defer signal.Stop(sigs)
	var copied chan struct{}
	if master != nil {
		if restore, err := RawMode(opts.Stdin); err == nil {
			defer restore()
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				Resize(masterFD, opts.Stdin, opts.Stdout)
			}
		}()
		// The input copy ends only with an error: reading the caller's
		// stdin cannot be interrupted without making it non-blocking,
		// which would change it for the caller's shell too.
		go io.Copy(master, opts.Stdin)
		copied = make(chan struct{})
		go func() {
			defer close(copied)
			io.Copy(opts.Stdout, master) // until EIO: no slave is open any more
		}()
	}
	for {
		select {
		case s := <-sigs:
			b, _ := json.Marshal(ExecMessage{Signal: int(s.(syscall.Signal))})
			unix.Sendmsg(c, b, nil, nil, 0)
		case <-ctx.Done():
			return 1, ctx.Err()
		case a, ok := <-msgs:
			if !ok {
				return 1, fmt.Errorf("environment %q ended before the command did", name)
			}
			if a.fd >= 0 {
				unix.Close(a.fd)
			}
			m := a.m
			if m.Status == nil {
				continue
			}
			if lastOutput != nil {
				lastOutput(200 * time.Millisecond)
			}
			if copied != nil {
				// The last output, boundedly: a process the command left
				// behind may hold the terminal open.
				master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				<-copied
			}
			return *m.Status, nil
		}
	}
}
