package lifecycle

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The read-only reopen of nsup exec -t's pty for a rootless nsup, which
// can clone no mount of the host's mount namespace (open_tree's clone
// needs CAP_SYS_ADMIN over it): nsup runs again as a short-lived helper
// in a user and mount namespace of its own (the caller's uid and gid
// mapped to 0, setgroups denied), where it may, and which it drops as it
// exits. The clone it makes is detached: no mount of any namespace
// changes, and the fd it sends back pins it.

// PtyReopenArgv are the arguments that make nsup the helper: fd 3 is the
// pty slave, fd 4 the socket its reopen goes back through.
var PtyReopenArgv = []string{"nsup", "__nsup_ptyro"}

// ptyReopenFDs are the helper's pty slave and socket.
const ptyReopenSlave, ptyReopenSock = 3, 4

// IsPtyReopener reports whether this process is nsup started as the
// helper of ReadOnlyPtyRootless: its arguments are PtyReopenArgv, fd 3 a
// character device and fd 4 a socket. Typing the arguments by hand does
// not make one: the fds are missing.
func IsPtyReopener() bool {
	if len(os.Args) != len(PtyReopenArgv) || os.Args[1] != PtyReopenArgv[1] {
		return false
	}
	var a, b unix.Stat_t
	return unix.Fstat(ptyReopenSlave, &a) == nil && a.Mode&unix.S_IFMT == unix.S_IFCHR &&
		unix.Fstat(ptyReopenSock, &b) == nil && b.Mode&unix.S_IFMT == unix.S_IFSOCK
}

// RunPtyReopener is the helper: it reopens its fd 3 read-only
// (ReadOnlyPty, in its own mount namespace), sends the reopened fd
// through fd 4 and returns the exit status. Its errors go to stderr
// (nsup's, which the caller reads back).
func RunPtyReopener(stderr io.Writer) int {
	fd, err := ReadOnlyPty(ptyReopenSlave)
	if err == nil {
		err = unix.Sendmsg(ptyReopenSock, []byte{'k'}, unix.UnixRights(fd), nil, 0)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// ReadOnlyPtyRootless is ReadOnlyPty for an unprivileged caller: it
// starts the helper (nsup's binary again, PtyReopenArgv) in a new user
// and mount namespace, gives it the pty slave s, and returns the fd the
// helper reopened s through, once the helper has ended.
func ReadOnlyPtyRootless(s int) (int, error) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	mine, theirs := os.NewFile(uintptr(sp[0]), "ptyro"), os.NewFile(uintptr(sp[1]), "ptyro")
	defer mine.Close()
	slave, err := unix.FcntlInt(uintptr(s), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		theirs.Close()
		return -1, err
	}
	var stderr bytes.Buffer
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: append([]string{}, PtyReopenArgv...), Env: []string{}, Dir: "/", Stderr: &stderr,
		ExtraFiles: []*os.File{os.NewFile(uintptr(slave), "pts"), theirs}}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		Pdeathsig:   unix.SIGKILL,
	}
	err = cmd.Start()
	for _, f := range cmd.ExtraFiles {
		f.Close() // the helper has its copies: its end's close ends the read below
	}
	if err != nil {
		return -1, fmt.Errorf("the terminal's reopen: %w", err)
	}
	fd := -1
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	for {
		_, oobn, _, _, rerr := unix.Recvmsg(int(mine.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if rerr == unix.EINTR {
			continue
		}
		if rerr == nil && oobn > 0 {
			if fds, e := Rights(oob[:oobn]); len(fds) == 1 && e == nil {
				fd = fds[0]
			} else {
				for _, f := range fds {
					unix.Close(f)
				}
			}
		}
		break
	}
	werr := cmd.Wait()
	if fd < 0 || werr != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		msg := strings.TrimSpace(stderr.String())
		switch {
		case msg == "" && werr != nil:
			msg = werr.Error()
		case msg == "":
			msg = "the helper sent no fd"
		}
		return -1, fmt.Errorf("the terminal's reopen, in a user namespace of nsup's: %s: %w", msg, unix.ENOTTY)
	}
	if !sameNode(s, fd) {
		unix.Close(fd)
		return -1, fmt.Errorf("the terminal's reopen is not the terminal: %w", unix.ENOTTY)
	}
	// On a read-only mount, as init checks the terminal nsup exec sends
	// (helper-114's review: the helper's word was taken for it).
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Flags&unix.ST_RDONLY == 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("the terminal's reopen is not on a read-only mount: %w", unix.ENOTTY)
	}
	return fd, nil
}

// ReopenPtyReadOnly opens the pty slave s again through a read-only clone
// of it alone: made by nsup itself (ReadOnlyPty, root), or with helper by
// nsup's helper in a user and mount namespace of its own
// (ReadOnlyPtyRootless).
func ReopenPtyReadOnly(s int, helper bool) (int, error) {
	if helper {
		return ReadOnlyPtyRootless(s)
	}
	return ReadOnlyPty(s)
}

// hostPty opens a pty of the host's for nsup exec -t's command, for an
// environment without a devpts of its own, and its slave again through a
// read-only clone of it alone: ReadOnlyPty as root, else the helper's
// ReadOnlyPtyRootless. It returns the master (non-blocking, its fd mfd)
// and the reopened slave ro; if the reopen failed, reopenErr says why
// and nothing is left open.
func hostPty() (master *os.File, mfd, ro int, reopenErr, err error) {
	master, mfd, slave, err := OpenPty()
	if err != nil {
		return nil, -1, -1, nil, err
	}
	ro, reopenErr = ReopenPtyReadOnly(slave, os.Geteuid() != 0)
	unix.Close(slave)
	if reopenErr != nil {
		master.Close()
		return nil, -1, -1, reopenErr, nil
	}
	return master, mfd, ro, nil, nil
}
