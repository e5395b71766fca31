package executor

import (
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The root's own bind, whose fd is the root's handle up to the root
// switch, the working folder, and the helpers of the mounts' steps.

// rawDoRootBind binds the root's folder (src, opened without a symlink)
// onto itself as a detached clone (open_tree, recursive with MS_REC in
// a[0]) moved onto it, and keeps the clone's fd as the root's handle
// (rawOpenRoot) for every step after, up to the root switch: the steps
// inside the root, the root's mount_setattr and the chdir before
// pivot_root. Found by helper-52's review: each opened the root's path
// again, and the setattrs followed symlinks in it, so another environment
// that may write the folder above the root renamed the root away and put
// a symlink in its place (to /dev, any mount), and the root kept no nodev.
//
//go:norace
//go:nosplit
func rawDoRootBind(p *rawProg, op *rawOp, src uintptr) {
	var tree uintptr
	if op.flag&rawMountHostTree != 0 {
		// The host's clone (planner.OpenTree), onto "/": root inside may
		// not reach the root's path (hosttree.go).
		tree = rawMoveTree(p, op, src, ^uintptr(0))
	} else {
		tree = rawCloneOnto(p, op, src, src)
	}
	rawDropRoot(p)
	p.rootFD, p.rootOf = tree, uintptr(unsafe.Pointer(op.s[0]))
}

// rawDoChdir is chdir(2) of a step, made as fchdir(2) of the root's
// handle when s[1] is the root it was kept for, else of the folder
// opened with openat2(2) (how a[0]): the root's path before the root
// switch without any symlink, as the root's bind opens it; a working
// folder without a magic link (/proc/self/fd/N, /proc/PID/cwd), which
// could lead out of the tree, to a folder an fd still open here holds
// (the CVE-2024-21626 class: the working folder stays through execve).
//
//go:norace
//go:nosplit
func rawDoChdir(p *rawProg, op *rawOp) {
	if op.s[1] != nil && p.rootFD != ^uintptr(0) && p.rootOf == uintptr(unsafe.Pointer(op.s[1])) {
		// The root's handle, kept since its bind (rawDoRootBind): not
		// its path again.
		if _, _, e := syscall.RawSyscall(unix.SYS_FCHDIR, p.rootFD, 0, 0); e != 0 {
			rawFailed(p, op.step, partCall, e)
		}
		return
	}
	fd, e := rawOpenat2(atFDCWD, op.s[0], &p.how[op.a[0]])
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	_, _, e = syscall.RawSyscall(unix.SYS_FCHDIR, fd, 0, 0)
	rawClose(fd)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
}

// fsmountAttr is fsmount(2)'s attributes for mount(2)'s flags f, false
// where one has none.
func fsmountAttr(f uintptr) (uintptr, bool) {
	var attr uintptr
	for _, x := range []struct{ flag, attr uintptr }{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME}, {unix.MS_RELATIME, unix.MOUNT_ATTR_RELATIME},
		{unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME}, {unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	} {
		if f&x.flag != 0 {
			attr |= x.attr
			f &^= x.flag
		}
	}
	return attr, f == 0
}

// below says whether the path p is dir or lies below it.
func below(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// rawDup is a copy of fd (close-on-exec).
//
//go:norace
//go:nosplit
func rawDup(fd uintptr) (uintptr, syscall.Errno) {
	n, _, e := syscall.RawSyscall(unix.SYS_FCNTL, fd, unix.F_DUPFD_CLOEXEC, 0)
	return n, e
}
