package executor

// The console (planner.Console): the environment's terminal, the pty nsup
// opened on the host (the child's fd 0), bound at the dev mount's
// /dev/console. The fd itself cannot be bound: its mount is one of the
// host's mount namespace, which the child left (open_tree and a bind of
// it say EINVAL). Its name in the child's namespace, /dev/pts/N, is
// therefore opened, following no link, and that fd is checked to be fd
// 0's very terminal (the same inode of the same devpts) before it is
// cloned (open_tree), made read-only, and moved onto the target: what is
// bound is the file checked, whatever the name leads to after. fds 0, 1
// and 2 that are the terminal are then reopened through that bind. Before
// (helper-95), the name was handed to mount(2), which resolved it again,
// in the runc CVE-2025-52565 way: a mount over /dev/pts/N in the child's
// namespace between the readlink and the mount bound that instead
// (TestRootConsoleSwapped). Read-only: the node is the host devpts's, and
// root inside made it 0666 for every host user (chmod /dev/console, or
// of its fd 0, which was on the host's devpts mount, writable).
//
// Without a dev mount, planner.ReadOnlyTerminal does the same but the
// move: the clone is made only to reopen fds 0, 1 and 2 through it, in
// the child's new mount namespace, rootless too (the host's unprivileged
// nsup can clone no mount; rootless, root inside made the user's node
// 0666 for every host user).

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// consoleAttr are the console's mount attributes: read-only, no suid, no
// exec (a device: nodev would keep it from opening).
var consoleAttr = unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC}

// terminalOp prepares a ReadOnlyTerminal: the terminal's name in the
// child's new mount namespace, a copy of the host's (the link
// /proc/self/fd/0), opened, checked to be fd 0's, cloned and made
// read-only, the fds reopened through the clone (rawTerminalClone,
// rawConsoleReopen), as a Console does without its move onto a target.
func (b *rawBuilder) terminalOp() (rawOp, error) {
	o := rawOp{kind: rawTerminal}
	o.a[1] = b.pin(unsafe.Pointer(&consoleAttr))
	var err error
	o.s[1], err = cstr("/proc/self/fd/0")
	return o, err
}

// rawConsoleMove binds the terminal, fd 0, onto the target fd tgt
// (closed here): its clone tree (rawTerminalClone) moved onto tgt. (One
// call deep under rawDoMount, as the clone is: the child's stack is
// nosplit's.)
//
//go:norace
//go:nosplit
func rawConsoleMove(p *rawProg, op *rawOp, tree, tgt uintptr) {
	if _, _, e := syscall.RawSyscall6(unix.SYS_MOVE_MOUNT, tree, uintptr(unsafe.Pointer(&empty[0])), tgt, uintptr(unsafe.Pointer(&empty[0])),
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(tgt)
}

// rawTerminalClone clones the terminal, fd 0: its name (the link s[1],
// /proc/self/fd/0, which must lead to /dev/pts/N) opened with no symlink
// followed, checked against fd 0, cloned (open_tree) and made read-only
// (attributes at a[1]). It returns the clone's fd. fd 0 itself cannot be
// cloned: its mount is the host's namespace's (EINVAL).
//
//go:norace
//go:nosplit
func rawTerminalClone(p *rawProg, op *rawOp) uintptr {
	b := &p.fdpath[0]
	n, _, e := syscall.RawSyscall6(unix.SYS_READLINKAT, atFDCWD, uintptr(unsafe.Pointer(op.s[1])), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)-1), 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partSource, e)
	}
	b[n] = 0
	if n < 10 || b[0] != '/' || b[1] != 'd' || b[2] != 'e' || b[3] != 'v' || b[4] != '/' || b[5] != 'p' || b[6] != 't' || b[7] != 's' || b[8] != '/' {
		rawFailed(p, op.step, partSource, syscall.ENOTTY)
	}
	src, e := rawOpenat2(atFDCWD, &b[0], &p.how[rawHowHost])
	if e != 0 {
		rawFailed(p, op.step, partSource, e)
	}
	if _, _, e = syscall.RawSyscall6(unix.SYS_NEWFSTATAT, 0, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0); e != 0 {
		rawFailed(p, op.step, partSource, e)
	}
	dev, ino, rdev := p.st.Dev, p.st.Ino, p.st.Rdev
	if _, _, e = syscall.RawSyscall6(unix.SYS_NEWFSTATAT, src, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0); e != 0 {
		rawFailed(p, op.step, partSource, e)
	}
	if p.st.Mode&unix.S_IFMT != unix.S_IFCHR || p.st.Dev != dev || p.st.Ino != ino || p.st.Rdev != rdev {
		rawFailed(p, op.step, partNotDev, syscall.ENOTTY)
	}
	tree, _, e := syscall.RawSyscall6(unix.SYS_OPEN_TREE, src, uintptr(unsafe.Pointer(&empty[0])), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(src)
	if _, _, e = syscall.RawSyscall6(unix.SYS_MOUNT_SETATTR, tree, uintptr(unsafe.Pointer(&empty[0])), unix.AT_EMPTY_PATH, op.a[1], unsafe.Sizeof(unix.MountAttr{}), 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	return tree
}

// rawConsoleReopen puts the terminal, reopened through its read-only
// clone or bind tree (closed here), in place of each of fds 0, 1 and 2 that is
// it: they were the file nsup opened on the host's devpts mount,
// writable (root inside's chmod 666 /proc/self/fd/0 made the node every
// host user's).
//
//go:norace
//go:nosplit
func rawConsoleReopen(p *rawProg, op *rawOp, tree uintptr) {
	ro, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(rawFdPath(&p.fdpath[1], tree))), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(tree)
	if _, _, e = syscall.RawSyscall6(unix.SYS_NEWFSTATAT, ro, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	dev, ino := p.st.Dev, p.st.Ino
	for fd := uintptr(0); fd < 3; fd++ {
		_, _, e = syscall.RawSyscall6(unix.SYS_NEWFSTATAT, fd, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0)
		if e == 0 && p.st.Mode&unix.S_IFMT == unix.S_IFCHR && p.st.Dev == dev && p.st.Ino == ino {
			if _, _, e = syscall.RawSyscall(unix.SYS_DUP3, ro, fd, 0); e != 0 {
				rawFailed(p, op.step, partCall, e)
			}
		}
	}
	rawClose(ro)
}
