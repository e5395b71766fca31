package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/nsup/nsup/planner"
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
	// else through a pipe that nsup copies (bridged).
	Stdin, Stdout, Stderr *os.File
}

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
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 1, err
	}
	// The reader below may be about to call recvmsg on c when Exec
	// returns: closing c then would let it read whatever socket next gets
	// that fd number (another Exec's, in the same process). So c is shut
	// down first, which ends the reader, and closed once it has.
	readerDone := make(chan struct{})
	started := false
	defer func() {
		unix.Shutdown(c, unix.SHUT_RDWR)
		if started {
			<-readerDone
		}
		unix.Close(c)
	}()
	if err := unix.Connect(c, &unix.SockaddrUnix{Name: filepath.Join(st.Dir, planner.ControlFile)}); err != nil {
		return 1, fmt.Errorf("environment %q: connect to its init: %w", name, err)
	}
	req, err := json.Marshal(ExecRequest{Argv: opts.Argv, Process: opts.Process, TTY: opts.TTY, Term: opts.Term})
	if err != nil {
		return 1, err
	}
	var master *os.File
	masterFD := -1
	var lastOutput func(time.Duration)
	if opts.TTY {
		m, mfd, slave, err := OpenPty()
		if err != nil {
			return 1, fmt.Errorf("a terminal for the command: %w", err)
		}
		master, masterFD = m, mfd
		defer master.Close()
		Resize(masterFD, opts.Stdin, opts.Stdout)
		err = unix.Sendmsg(c, req, unix.UnixRights(slave), nil, 0)
		unix.Close(slave)
		if err != nil {
			return 1, err
		}
	} else {
		files, drain, err := bridged(opts.Stdin, opts.Stdout, opts.Stderr)
		if err != nil {
			return 1, err
		}
		defer drain(0)
		fds := unix.UnixRights(int(files[0].Fd()), int(files[1].Fd()), int(files[2].Fd()))
		err = unix.Sendmsg(c, req, fds, nil, 0)
		for i, f := range files {
			if f != [...]*os.File{opts.Stdin, opts.Stdout, opts.Stderr}[i] {
				f.Close() // the environment's end of a relay: init has its copy
			}
		}
		if err != nil {
			return 1, err
		}
		lastOutput = drain
	}
	msgs := make(chan ExecMessage, 2)
	quit := make(chan struct{})
	defer close(quit) // runs before the shutdown above: no send blocks the reader
	started = true
	go func() {
		defer close(readerDone)
		defer close(msgs)
		buf := make([]byte, 4096)
		for {
			n, _, _, _, err := unix.Recvmsg(c, buf, nil, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				return
			}
			var m ExecMessage
			if json.Unmarshal(buf[:n], &m) != nil {
				return
			}
			select {
			case msgs <- m:
			case <-quit:
				return
			}
		}
	}()
	m, ok := <-msgs
	switch {
	case !ok:
		return 1, fmt.Errorf("environment %q: its init closed the connection", name)
	case m.Error != "":
		return 1, &ExecError{Msg: m.Error, Errno: unix.Errno(m.Errno)}
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
		case m, ok := <-msgs:
			if !ok {
				return 1, fmt.Errorf("environment %q ended before the command did", name)
			}
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

// bridged returns the fds to hand to the command without -t: each of
// stdin, stdout and stderr as it is where PassAsIs says so, else through
// a pipe that nsup copies (a stdout and stderr that are one file through
// one). Handed over, the caller's terminal would stay in the environment
// after nsup exec returns, held by any process the command leaves behind
// in a session of its own, which could then read what is typed into the
// caller's shell, or write to it; a file could be opened again for
// writing. drain(d) ends the relays: the output copied until its end, or
// for at most d, the input no more.
func bridged(files ...*os.File) ([]*os.File, func(d time.Duration), error) {
	out := append([]*os.File(nil), files...)
	var keep []*os.File // nsup's ends
	var copies []chan struct{}
	drain := func(d time.Duration) {
		for _, f := range keep {
			if d > 0 {
				f.SetReadDeadline(time.Now().Add(d))
			} else {
				f.Close()
			}
		}
		if d > 0 {
			for _, c := range copies {
				<-c
			}
		}
	}
	for i, f := range files {
		if f == nil {
			continue
		}
		if PassAsIs(f) {
			continue
		}
		if i == 2 && out[1] != files[1] && SameFile(files[1], f) {
			out[2] = out[1]
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			drain(0)
			for _, g := range out[:i] {
				if !slices.Contains(files, g) {
					g.Close()
				}
			}
			return nil, nil, err
		}
		if i == 0 {
			out[0] = r
			keep = append(keep, w)
			go func() {
				io.Copy(w, f)
				w.Close() // the command reads the end of its input
			}()
			continue
		}
		out[i] = w
		keep = append(keep, r)
		done := make(chan struct{})
		copies = append(copies, done)
		go func() {
			defer close(done)
			io.Copy(f, r)
		}()
	}
	return out, drain, nil
}
