package executor

// The host's device nodes nsup binds: a masked file's /dev/null and the
// nodes of a dev mount. They are taken from the host's /dev by their
// path (no symlink followed), and are checked to be the very device
// they name before they are bound, as runc checks its /dev/null since
// CVE-2025-31133: a writer of the host's /dev (root in an environment
// with a writable bind of it may hard-link the host's disk there as
// /dev/null, since a link needs no device access and nodev stops only
// an open) would otherwise have every later environment's masks and
// /dev/null bind that file, and root inside read and write it through
// /proc/keys.

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hostDevNodes are the host's nodes a bind's source is checked against:
// each path and the character device it must be (devices.txt).
var hostDevNodes = map[string]uint64{
	"/dev/null":    unix.Mkdev(1, 3),
	"/dev/zero":    unix.Mkdev(1, 5),
	"/dev/full":    unix.Mkdev(1, 7),
	"/dev/random":  unix.Mkdev(1, 8),
	"/dev/urandom": unix.Mkdev(1, 9),
	"/dev/tty":     unix.Mkdev(5, 0),
}

// devNodeSource marks a bind of one of hostDevNodes (a host path, not
// one inside the root): its source is checked when opened
// (rawCheckNode), the device number in a[2].
func devNodeSource(o *rawOp, source string, inRoot bool) {
	if rdev, ok := hostDevNodes[source]; ok && !inRoot && o.flag&rawMountBind != 0 {
		o.flag |= rawMountSourceDev
		o.a[2] = uintptr(rdev)
	}
}

// rawCheckNode fails the step (partNotDev) when the source src of a
// bind marked rawMountSourceDev, opened with errno e, is not the
// character device a[2].
//
//go:norace
//go:nosplit
func rawCheckNode(p *rawProg, op *rawOp, src uintptr, e syscall.Errno) {
	if e != 0 || op.flag&rawMountSourceDev == 0 {
		return
	}
	_, _, se := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, src, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0)
	if se != 0 {
		rawFailed(p, op.step, partSource, se)
	}
	if p.st.Mode&unix.S_IFMT != unix.S_IFCHR || uint64(p.st.Rdev) != uint64(op.a[2]) {
		rawFailed(p, op.step, partNotDev, syscall.ENODEV)
	}
}
