package executor

import (
	"encoding/json"
	"fmt"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// execTerm is the stdio of nsup exec's command (execStdio): the fds
// received, or the three ends of the pty init opened, master and slave
// (else -1), which spawn closes or hands on.
type execTerm struct {
	stdio         [3]int
	master, slave int
}

// execStdio chooses the stdio of the command of req, on the connection
// c, among fds, the fds received (it appends those of a later message,
// which the caller closes too). Without a terminal, the caller's three.
// With one, a pty of the environment's own devpts (opened before mu is
// taken: root inside chooses what /dev/ptmx is, whose open may block,
// and init's loop must go on); else the one nsup exec sent: a host pty
// reopened through a read-only clone of it (root's nsup makes it, a
// rootless one in a user namespace of its own), which root inside cannot
// chmod for every host user. A writable one is refused. An nsup exec
// that asks (AskTerminal) sends none with its request, and is asked for
// it (SendTerminal) only when there is no devpts to open one in: with
// one, it neither opens a host pty nor starts the helper that reopens
// it.
func execStdio(c int, req lifecycle.ExecRequest, fds *[]int) (execTerm, error) {
	t := execTerm{master: -1, slave: -1}
	if len(req.Argv) == 0 {
		return t, fmt.Errorf("no command: %w", unix.EINVAL)
	}
	// With a terminal, none (init opens it) or a host pty (a fallback).
	if n := len(*fds); req.TTY && n > 1 || !req.TTY && n != 3 {
		return t, fmt.Errorf("%d fds received, want 3, or with a terminal 0 or 1: %w", n, unix.EINVAL)
	}
	if !req.TTY {
		t.stdio = [3]int{(*fds)[0], (*fds)[1], (*fds)[2]}
		return t, nil
	}
	m, slave, perr := envPty(req.Rows, req.Cols)
	if perr == nil {
		t.master, t.slave, t.stdio = m, slave, [3]int{slave, slave, slave}
		return t, nil
	}
	if req.AskTerminal && len(*fds) == 0 {
		more, err := askTerminal(c)
		*fds = append(*fds, more...)
		if err != nil {
			return t, err
		}
		if len(more) > 1 {
			return t, fmt.Errorf("%d fds received for the terminal, want 0 or 1: %w", len(more), unix.EINVAL)
		}
	}
	switch len(*fds) {
	case 1:
		fd := (*fds)[0]
		var fs unix.Statfs_t
		if err := unix.Fstatfs(fd, &fs); err != nil || fs.Flags&unix.ST_RDONLY == 0 || !isTerminalFD(fd) {
			return t, fmt.Errorf("no terminal of the environment's own (%v), and the one sent is no terminal on a read-only mount: %w", perr, unix.ENOTTY)
		}
		t.stdio = [3]int{fd, fd, fd}
		return t, nil
	default:
		return t, fmt.Errorf("no terminal of the environment's own (%v; a dev mount gives one: mounts: - {type: dev, target: /dev}), and none sent: %w", perr, unix.ENOTTY)
	}
}

// askTerminal tells nsup exec, on the connection c, that the environment
// has no devpts (SendTerminal), and returns the fds of its next message:
// its host pty reopened read-only, or none (its reopen failed).
func askTerminal(c int) ([]int, error) {
	b, err := json.Marshal(lifecycle.ExecMessage{SendTerminal: true, AskKnown: true})
	if err != nil {
		return nil, err
	}
	if err := unix.Sendmsg(c, b, nil, nil, 0); err != nil {
		return nil, fmt.Errorf("ask nsup exec for a terminal: %w", err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(2*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(c, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return nil, fmt.Errorf("nsup exec sent no terminal within %v: %w", controlWait, err)
		}
		if err != nil {
			return nil, fmt.Errorf("nsup exec's terminal: %w", err)
		}
		fds, ferr := lifecycle.Rights(oob[:oobn])
		var m lifecycle.ExecMessage
		if ferr == nil && (n == 0 || json.Unmarshal(buf[:n], &m) != nil) {
			ferr = fmt.Errorf("nsup exec sent no terminal message: %w", unix.EBADMSG)
		}
		return fds, ferr
	}
}

// isTerminalFD reports whether fd is a terminal.
func isTerminalFD(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// envPty opens, for nsup exec -t, a pty in the environment's own devpts:
// its /dev/ptmx (dev's link to pts/ptmx), else /dev/pts/ptmx (a devpts
// mount of the spec's), opened by init under the environment's root. The
// master must be a devpts's ptmx: a ptmx device node elsewhere (a
// rootfs's /dev/ptmx) opens a pty of the host's devpts for root outside
// a user namespace, whose node root inside could chmod for every host
// user. The master is non-blocking (nsup exec bounds its reads), with the
// window size rows x cols if given; the slave comes by TIOCGPTPEER.
// Runc's console socket does the same: the host's devpts is never handed
// in (lifecycle.Exec checks the master again, and that it is no pty of
// the host's).
func envPty(rows, cols uint16) (master, slave int, err error) {
	for _, p := range []string{"/dev/ptmx", "/dev/pts/ptmx"} {
		m, e := unix.Open(p, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if e != nil {
			err = fmt.Errorf("%s: %w", p, e)
			continue
		}
		var fs unix.Statfs_t
		if unix.Fstatfs(m, &fs) != nil || fs.Type != unix.DEVPTS_SUPER_MAGIC {
			unix.Close(m)
			err = fmt.Errorf("%s is no devpts's ptmx: %w", p, unix.ENOTTY)
			continue
		}
		if e := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); e != nil {
			unix.Close(m)
			return -1, -1, fmt.Errorf("unlockpt %s: %w", p, e)
		}
		if rows > 0 && cols > 0 {
			unix.IoctlSetWinsize(m, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
		}
		s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
		if errno != 0 {
			unix.Close(m)
			return -1, -1, fmt.Errorf("TIOCGPTPEER %s: %w", p, errno)
		}
		return m, int(s), nil
	}
	return -1, -1, err
}

// chownPty gives the pty slave s, of the environment's devpts, to the
// user and group the command's steps switch to, as a login does its
// terminal (runc's exec too): a command not run as root can then open
// its terminal again by name (tty(1)'s, as sudo and ssh's prompts do).
// Best effort: without CAP_CHOWN inside, the slave stays init's, and
// works through the fds all the same.
func chownPty(s int, steps []indexedStep) {
	uid, gid := -1, -1
	for _, is := range steps {
		switch op := is.Step.Op.(type) {
		case planner.Setresuid:
			uid = int(op.UID)
		case planner.Setresgid:
			gid = int(op.GID)
		}
	}
	if uid > 0 || gid > 0 {
		unix.Fchown(s, uid, gid)
	}
}
