package executor

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// ptyRelay is the terminal of an environment whose plan has an Openpty
// step (nsup's stdin is a terminal): a new pseudo-terminal, whose slave is
// the environment's fds 0, 1 and 2 and its main process's controlling
// terminal, and whose master nsup relays to its own stdin and stdout.
// nsup's terminal is in raw mode meanwhile, so that every key, ^C and ^Z
// included, reaches the environment's terminal, whose own line discipline
// interprets them; its window size follows nsup's (SIGWINCH). The
// caller's terminal itself never reaches the environment: a TIOCSTI
// inside types into the environment's terminal only.
type ptyRelay struct {
	master   *os.File
	masterFD int
	slave    *os.File
	restore  func()
	winch    chan os.Signal
	copied   chan struct{}
	once     sync.Once
}

// openpty performs the Openpty step: the relay runs until the
// environment ends (finish). With op.ReadOnly the peer is reopened
// through a read-only clone, by nsup itself or (op.Helper, rootless) by
// its helper in a user and mount namespace of its own; a reopen that
// fails fails the step: the environment never gets the host's node
// writable.
func (r *envRun) openpty(op planner.Openpty) error {
	if r.child > 0 {
		return fmt.Errorf("openpty after the clone: the child has its fds already: %w", unix.EINVAL)
	}
	m, mfd, s, err := lifecycle.OpenPty()
	if err != nil {
		return err
	}
	if op.ReadOnly {
		ro, err := lifecycle.ReopenPtyReadOnly(s, op.Helper)
		unix.Close(s)
		if err != nil {
			m.Close()
			if op.Helper {
				return fmt.Errorf("refused: the environment's terminal, a node of the host's devpts, could not be reopened read-only (%w): handed in writable, root inside would chmod it for every host user; the helper needs a user namespace of the user's own: without one, run it with stdin not a terminal (< /dev/null), or as root", err)
			}
			return err
		}
		s = ro
	}
	in, out := r.a.std.terminal()
	p := &ptyRelay{master: m, masterFD: mfd, slave: os.NewFile(uintptr(s), "pts"), copied: make(chan struct{})}
	lifecycle.Resize(mfd, in, out)
	if restore, err := lifecycle.RawMode(in); err == nil {
		raw := &r.a.std.raw
		raw.Store(true) // the other environments' lines get "\r\n"
		p.restore = func() {
			raw.Store(false)
			restore()
		}
	}
	p.winch = make(chan os.Signal, 1)
	signal.Notify(p.winch, syscall.SIGWINCH)
	go func() {
		for range p.winch {
			lifecycle.Resize(mfd, in, out)
		}
	}()
	// The input copy ends only with an error (the master closed, or the
	// end of nsup's stdin): a read of a terminal cannot be interrupted
	// without making it non-blocking, for the caller's shell too.
	go io.Copy(m, in)
	go func() {
		defer close(p.copied)
		io.Copy(out, m) // until EIO: no slave is open any more
	}()
	r.pty = p
	return nil
}

// finish ends the relay once the environment has ended: its last output
// is copied (boundedly: a process that escaped it could hold the slave),
// and nsup's terminal is put back as it was.
func (p *ptyRelay) finish() {
	p.once.Do(func() {
		p.slave.Close()
		p.master.SetReadDeadline(time.Now().Add(outputDrain))
		<-p.copied
		signal.Stop(p.winch)
		close(p.winch)
		if p.restore != nil {
			p.restore()
		}
		p.master.Close()
	})
}
