package executor

import (
	"fmt"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

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
