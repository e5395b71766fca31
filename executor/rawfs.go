package executor

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw steps of the filesystem: paths resolved inside the root, mounts,
// overlays, symlinks; and the loopback link.

//go:norace
//go:nosplit
func rawDoSymlink(p *rawProg, op *rawOp) {
	dir := rawResolveStep(p, op)
	if _, _, e := syscall.RawSyscall6(unix.SYS_SYMLINKAT, uintptr(unsafe.Pointer(op.s[1])), dir, uintptr(unsafe.Pointer(op.s[2])), 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(dir)
}

// rawOpenRoot opens the root s[0] (O_PATH) when the step resolves a path
// inside it, else returns ^0. Opened when first needed after the root's
// own bind or overlay (which drop it: rawDropRoot), the handle is the top
// of its mount stack, the tree the environment will see; the mounts
// inside it that follow do not change that, so the steps after share it.
//
//go:norace
//go:nosplit
func rawOpenRoot(p *rawProg, op *rawOp) uintptr {
	if op.s[0] == nil {
		return ^uintptr(0)
	}
	if p.rootFD != ^uintptr(0) && p.rootOf == uintptr(unsafe.Pointer(op.s[0])) {
		return p.rootFD
	}
	rawDropRoot(p)
	// Without following a symlink, as the root's bind opens it: one put
	// in the root's path after planning would lead elsewhere.
	fd, e := rawOpenat2(atFDCWD, op.s[0], &p.how[rawHowHost])
	if e != 0 {
		rawFailed(p, op.step, partRoot, e)
	}
	p.rootFD, p.rootOf = fd, uintptr(unsafe.Pointer(op.s[0]))
	return fd
}

// rawDropRoot closes the root's handle and the held mounts' fds: a step
// is about to change what the root's path leads to (its bind, its
// overlay, the root switch).
//
//go:norace
//go:nosplit
func rawDropRoot(p *rawProg) {
	rawClose(p.rootFD)
	p.rootFD, p.rootOf = ^uintptr(0), 0
	rawDropHeld(p)
}

//go:norace
//go:nosplit
func rawOpenat2(dirfd uintptr, path *byte, how *unix.OpenHow) (uintptr, syscall.Errno) {
	fd, _, e := syscall.RawSyscall6(unix.SYS_OPENAT2, dirfd, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(how)), unsafe.Sizeof(*how), 0, 0)
	return fd, e
}

// rawResolve resolves rp inside the root (openat2(2) RESOLVE_IN_ROOT:
// every symlink and ".." stays inside it) to an O_PATH fd, making what
// is missing when rp.create says so: folders 0755, the last one an empty
// 0644 file for rawCreateFile, each by name in its parent's resolved fd.
// The same walk as store.OpenInRoot's, which the closure builder uses.
//
//go:norace
//go:nosplit
func rawResolve(p *rawProg, root uintptr, rp *rawPath) (uintptr, syscall.Errno) {
	last := &p.how[rawHowNoFollow]
	if rp.followLast {
		last = &p.how[rawHowFollow]
	}
	fd, e := rawOpenat2(root, rp.full, last)
	if e != syscall.ENOENT || rp.create == rawCreateNone {
		return fd, e
	}
	// Something is missing: walk from the root, one component at a time,
	// crossing no mount where the plan says the path crosses none: a
	// link that a writer of the tree put in the path since would have
	// the folder made in another mount, a host folder bound there
	// (helper-59's review).
	// Beneath a held mount, following no symlink: root inside that left
	// a link in a writable bind's folder (cache -> conf) would have the
	// folder made in another folder of it, bound read-only after
	// (helper-63's review).
	walk := &p.how[rawHowFollow]
	if rp.noXDev {
		walk, last = &p.how[rawHowFollowNoXDev], &p.how[rawHowNoFollowNoXDev]
	} else if rp.noLinks {
		walk, last = &p.how[rawHowFollowNoLinks], &p.how[rawHowNoFollowNoLinks]
	}
	if rp.followLast {
		last = walk
	}
	parent, e := rawOpenat2(root, &dot[0], &p.how[rawHowFollow])
	if e != 0 {
		return 0, e
	}
	n := len(rp.name)
	for i := 0; i < n; i++ {
		how := walk
		if i == n-1 {
			how = last
		}
		name := rawAt(rp.name, i)
		fd, e = rawOpenat2(root, rawAt(rp.prefix, i), how)
		if e == syscall.ENOENT {
			// Made by name in its parent's fd: an empty 0644 file, or a
			// 0755 folder.
			if i == n-1 && rp.create == rawCreateFile {
				fd, _, e = syscall.RawSyscall6(unix.SYS_OPENAT, parent, uintptr(unsafe.Pointer(name)), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644, 0, 0)
				if e == 0 {
					rawClose(fd)
				}
			} else {
				_, _, e = syscall.RawSyscall6(unix.SYS_MKDIRAT, parent, uintptr(unsafe.Pointer(name)), 0o755, 0, 0, 0)
			}
			if e != 0 && e != syscall.EEXIST {
				rawClose(parent)
				return 0, e
			}
			// The entry just made, through its parent's fd: one name, no
			// symlink, nothing to resolve.
			fd, e = rawOpenat2(parent, name, &p.how[rawHowBeneath])
			if e == 0 && (i < n-1 || rp.followLast) {
				_, _, se := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, fd, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0)
				if se == 0 && p.st.Mode&unix.S_IFMT == unix.S_IFLNK {
					// EEXIST above, and a symlink: it points (inside the
					// root) to nothing. Like mkdir -p, do not make its
					// target.
					rawClose(fd)
					e = syscall.ENOENT
				}
			}
		}
		rawClose(parent)
		if e != 0 {
			return 0, e
		}
		parent = fd
	}
	return parent, 0
}

// rawAt is s[i], which the caller knows is there (no bounds check: the
// panic it would call is no nosplit code).
//
//go:norace
//go:nosplit
func rawAt(s []*byte, i int) *byte {
	return *(**byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s)), uintptr(i)*unsafe.Sizeof(s[0])))
}

var dot = [2]byte{'.', 0}

// atFDCWD is AT_FDCWD (-100) as a system call argument.
const atFDCWD = ^uintptr(99)

//go:norace
//go:nosplit
func rawIsLink(p *rawProg, fd uintptr) bool {
	_, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, fd, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0)
	return e == 0 && p.st.Mode&unix.S_IFMT == unix.S_IFLNK
}

var empty = [1]byte{0}

// rawFdPath writes "/proc/self/fd/FD" into b: how an fd is named to a
// call that takes no dirfd (mount(2)); the kernel follows it to the very
// file the fd holds, with no lookup by name.
//
//go:norace
//go:nosplit
func rawFdPath(b *[32]byte, fd uintptr) *byte {
	n := rawPut(b[:], 0, "/proc/self/fd/")
	n = rawPutUint(b[:], n, fd)
	b[n] = 0
	return &b[0]
}

//go:norace
//go:nosplit
func rawPut(b []byte, n int, s string) int {
	for i := 0; i < len(s) && n < len(b)-1; i++ {
		b[n] = s[i]
		n++
	}
	return n
}

//go:norace
//go:nosplit
func rawPutCString(b []byte, n int, s *byte) int {
	for q := s; *q != 0 && n < len(b)-1; q = (*byte)(unsafe.Add(unsafe.Pointer(q), 1)) {
		b[n] = *q
		n++
	}
	return n
}

//go:norace
//go:nosplit
func rawPutUint(b []byte, n int, v uintptr) int {
	var d [20]byte
	k := len(d)
	for {
		k--
		d[k] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for ; k < len(d) && n < len(b)-1; k++ {
		b[n] = d[k]
		n++
	}
	return n
}

// rawDoMount is mount(2) of a step: s[0] the root when a path is inside
// it, s[1] the source, s[2] the fstype, s[3] the data, a[0] the flags;
// flag bits rawMount*. A bind's source is opened first and mounted
// through its fd: inside the root (p[0]), or a host path opened without
// following any symlink, since the planner resolved them all. A target
// inside the root (p[1]) is resolved there, made if missing, refused if
// it is a symlink, and mounted through its fd; else it is s[4].
//
//go:norace
//go:nosplit
func rawDoMount(p *rawProg, op *rawOp) {
	if op.flag&rawMountInRoot == 0 {
		rawDropRoot(p)
	}
	root := ^uintptr(0)
	if op.flag&rawMountBeneath != 0 {
		// The held mount itself, wherever its folder is now: not the
		// path from the root again, which a folder renamed in a shared
		// tree would lead elsewhere.
		if root = rawHeld(p, op.under); root == ^uintptr(0) {
			rawFailed(p, op.step, partRoot, syscall.EBADF)
		}
	} else if op.flag&rawMountSelf == 0 {
		root = rawOpenRoot(p, op)
	}
	source, target := op.s[1], op.s[4]
	src, tgt := ^uintptr(0), ^uintptr(0)
	if op.flag&rawMountBind != 0 {
		var e syscall.Errno
		if op.flag&rawMountSourceAtHeld != 0 {
			src, e = rawDup(root) // the held mount itself (a file's too)
		} else if op.flag&rawMountSourceInRoot != 0 {
			src, e = rawResolve(p, root, &op.p[0])
		} else if op.flag&rawMountHostTree != 0 {
			src, e = rawHostTree(p, op) // the host's clone (hosttree.go)
		} else {
			src, e = rawOpenat2(atFDCWD, op.s[1], &p.how[rawHowHost])
			rawCheckNode(p, op, src, e) // the host's /dev/null is that device (rawdevnode.go)
		}
		if e != 0 {
			rawFailed(p, op.step, partSource, e)
		}
		source = rawFdPath(&p.fdpath[0], src)
		if op.flag&rawMountSelf != 0 {
			rawDoRootBind(p, op, src) // the root bound onto itself
			return
		}
	}
	if op.flag&rawMountInRoot != 0 {
		var e syscall.Errno
		if op.flag&rawMountAtHeld != 0 {
			tgt, e = rawDup(root)
		} else {
			tgt, e = rawResolve(p, root, &op.p[1])
		}
		if e != 0 {
			rawFailed(p, op.step, partTarget, e)
		}
		if rawIsLink(p, tgt) {
			// The mount would cover the link itself, a trap for the reader.
			rawFailed(p, op.step, partLink, syscall.ELOOP)
		}
		target = rawFdPath(&p.fdpath[1], tgt)
	}
	if op.flag&rawMountSourceLink != 0 {
		tree := rawTerminalClone(p, op) // the terminal, checked (rawconsole.go)
		rawConsoleMove(p, op, tree, tgt)
		rawConsoleReopen(p, op, tree)
		return
	}
	if op.flag&(rawMountDetached|rawMountHostTree) != 0 || op.flag&(rawMountHeld|rawMountBind) == rawMountHeld|rawMountBind {
		rawDoDetachedBind(p, op, src, tgt)
		return
	}
	if op.flag&rawMountHeld != 0 {
		pidns := ^uintptr(0)
		if op.flag&rawMountPidNS != 0 {
			pidns = p.pidns
		}
		mnt := rawFsmount(p, op, op.s[2], op.s[1], op.conf, op.a[1], pidns)
		if _, _, e := syscall.RawSyscall6(unix.SYS_MOVE_MOUNT, mnt, uintptr(unsafe.Pointer(&empty[0])), tgt, uintptr(unsafe.Pointer(&empty[0])),
			unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH, 0); e != 0 {
			rawFailed(p, op.step, partCall, e)
		}
		rawClose(tgt)
		rawHold(p, op.slot, mnt)
		return
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(source)), uintptr(unsafe.Pointer(target)),
		uintptr(unsafe.Pointer(op.s[2])), op.a[0], uintptr(unsafe.Pointer(op.s[3])), 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(src)
	rawClose(tgt)
}

// Flag bits of rawMount.
const (
	rawMountBind         = 1 << iota // a bind: the source is opened and mounted through its fd
	rawMountSourceInRoot             // the source is p[0], inside the root
	rawMountInRoot                   // the target is p[1], inside the root
	rawMountSelf                     // the target is the source (the root bound onto itself, s[0] the root: rawDoRootBind)
	rawMountSourceLink               // the console: where the link s[1] leads (the terminal's /dev/pts/N), checked, cloned (rawTerminalClone)
	rawMountDetached                 // a detached clone moved onto the target, its fd kept (Mount.Detached)
	rawMountHeld                     // fsopen(s[2]), fsmount with attributes a[1] (a bind: open_tree of the source), moved onto the target, its fd held in slot slot (Mount.Held)
	rawMountBeneath                  // p[0] and p[1] are below the held mount in slot under, resolved beneath its fd (Mount.Beneath)
	rawMountAtHeld                   // the target is the held mount itself: its fd (a file's cannot be resolved beneath)
	rawMountSourceAtHeld             // so is the source
	rawMountSourceDev                // the source is a host node that must be the character device a[2] (rawCheckNode)
	rawMountPidNS                    // held proc of the pid namespace pidns (rawlate.go)
)

// rawDoDetachedBind binds src onto tgt (both fds) as a detached clone
// of src (open_tree, recursive with MS_REC in a[0]) moved onto tgt, and
// keeps the clone's fd, which refers to the mount made, for the
// MountSetattr step that follows (p.kept) and, rawMountHeld, for the
// steps beneath it (slot op.slot of p.held).
//
//go:norace
//go:nosplit
func rawDoDetachedBind(p *rawProg, op *rawOp, src, tgt uintptr) {
	tree := rawCloneOnto(p, op, src, tgt)
	var e syscall.Errno
	rawClose(tgt)
	if op.flag&rawMountHeld != 0 {
		// Held for the masked and read-only paths below it (a copy
		// where the next step, the setattr, takes and closes its own).
		held := tree
		if op.flag&rawMountDetached != 0 {
			if held, e = rawDup(tree); e != 0 {
				rawFailed(p, op.step, partCall, e)
			}
		}
		rawHold(p, op.slot, held)
		if op.flag&rawMountDetached == 0 {
			return
		}
	}
	rawClose(p.kept)
	p.kept = tree
}

// rawCloneOnto clones the tree of the fd src (recursive with MS_REC in
// a[0]), moves the clone onto the fd tgt and closes src: the bind of a
// detached bind step and of the root's bind onto itself. It returns the
// clone's fd.
//
//go:norace
//go:nosplit
func rawCloneOnto(p *rawProg, op *rawOp, src, tgt uintptr) uintptr {
	flags := uintptr(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if op.a[0]&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	tree, e := src, syscall.Errno(0) // the host's clone (hosttree.go), else one of src
	if op.flag&rawMountHostTree == 0 {
		tree, _, e = syscall.RawSyscall6(unix.SYS_OPEN_TREE, src, uintptr(unsafe.Pointer(&empty[0])), flags, 0, 0, 0)
	}
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if _, _, e = syscall.RawSyscall6(unix.SYS_MOVE_MOUNT, tree, uintptr(unsafe.Pointer(&empty[0])), tgt, uintptr(unsafe.Pointer(&empty[0])),
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if tree != src {
		rawClose(src)
	}
	return tree
}

// rawSetattrKept, the flag of a setattr step: of the mount the previous
// step made, through the fd it kept (p.kept).
const rawSetattrKept = 1

// rawDoSetattr is mount_setattr(2) of a step: of p[0] inside the root
// s[0], through its fd, or of the host path s[1]; with rawSetattrKept,
// of the mount the previous step made.
//
//go:norace
//go:nosplit
func rawDoSetattr(p *rawProg, op *rawOp) {
	var e syscall.Errno
	if op.flag == rawSetattrKept {
		fd := p.kept
		if fd == ^uintptr(0) {
			rawFailed(p, op.step, partCall, syscall.EBADF)
		}
		p.kept = ^uintptr(0)
		_, _, e = syscall.RawSyscall6(unix.SYS_MOUNT_SETATTR, fd, uintptr(unsafe.Pointer(&empty[0])), op.a[0]|unix.AT_EMPTY_PATH, op.a[1], unsafe.Sizeof(unix.MountAttr{}), 0)
		rawClose(fd)
	} else if op.s[0] == nil {
		_, _, e = syscall.RawSyscall6(unix.SYS_MOUNT_SETATTR, atFDCWD, uintptr(unsafe.Pointer(op.s[1])), op.a[0], op.a[1], unsafe.Sizeof(unix.MountAttr{}), 0)
	} else {
		root := rawOpenRoot(p, op)
		fd, re := rawResolve(p, root, &op.p[0])
		if re != 0 {
			rawFailed(p, op.step, partTarget, re)
		}
		_, _, e = syscall.RawSyscall6(unix.SYS_MOUNT_SETATTR, fd, uintptr(unsafe.Pointer(&empty[0])), op.a[0]|unix.AT_EMPTY_PATH, op.a[1], unsafe.Sizeof(unix.MountAttr{}), 0)
		rawClose(fd)
	}
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
}

// rawDoOverlay lays a writable overlay on s[1]: a tmpfs holds the upper
// and work folders (overlayfs wants both on one filesystem), and the
// lower layer is the tree at s[1]. Everything goes through fds: the lower
// folder is opened without following a symlink (as the root's bind
// opens it), the tmpfs is made detached (fsopen, fsmount), its folders
// are made in it, and it is moved onto the lower folder (move_mount), the
// overlay mounted on the tmpfs's root through its fd. A symlink swapped
// into the root's path cannot send a step elsewhere (a folder of the
// host's, where the upper folder would then be made). The upper folder
// takes the lower root's owner and mode, which the merged root shows.
// All three layers are passed as /proc/self/fd paths, so no path needs
// escaping in the options. a[0] is MS_NODEV or 0; flag says userxattr.
//
//go:norace
//go:nosplit
func rawDoOverlay(p *rawProg, op *rawOp) {
	rawDropRoot(p)
	lower, e := rawOpenat2(atFDCWD, op.s[1], &p.how[rawHowHost])
	if e != 0 {
		rawFailed(p, op.step, partLower, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, lower, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0); e != 0 {
		rawFailed(p, op.step, partLower, e)
	}
	uid, gid, mode := uintptr(p.st.Uid), uintptr(p.st.Gid), uintptr(p.st.Mode&0o7777)
	var attr uintptr
	if op.a[0]&unix.MS_NODEV != 0 {
		attr = unix.MOUNT_ATTR_NODEV
	}
	top := rawFsmount(p, op, &tmpfs[0], nil, mode0700Conf, attr, ^uintptr(0))
	upper := rawOverlayDir(p, op, top, &upperName[0])
	work := rawOverlayDir(p, op, top, &workName[0])
	if _, _, e := syscall.RawSyscall6(unix.SYS_FCHOWNAT, upper, uintptr(unsafe.Pointer(&empty[0])), uid, gid, unix.AT_EMPTY_PATH, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_FCHMODAT, atFDCWD, uintptr(unsafe.Pointer(rawFdPath(&p.fdpath[0], upper))), mode, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	// The tmpfs onto the lower folder: overlayfs takes an upper folder of
	// a mount of this mount namespace, not of a detached one.
	if _, _, e := syscall.RawSyscall6(unix.SYS_MOVE_MOUNT, top, uintptr(unsafe.Pointer(&empty[0])), lower, uintptr(unsafe.Pointer(&empty[0])),
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	b := p.data[:]
	n := rawPut(b, 0, "lowerdir=")
	n = rawPutCString(b, n, rawFdPath(&p.fdpath[0], lower))
	n = rawPut(b, n, ",upperdir=")
	n = rawPutCString(b, n, rawFdPath(&p.fdpath[0], upper))
	n = rawPut(b, n, ",workdir=")
	n = rawPutCString(b, n, rawFdPath(&p.fdpath[0], work))
	if op.flag&rawOverlayUserXattr != 0 {
		n = rawPut(b, n, ",userxattr")
	}
	b[n] = 0
	if _, _, e := syscall.RawSyscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(&overlayName[0])), uintptr(unsafe.Pointer(rawFdPath(&p.fdpath[1], top))),
		uintptr(unsafe.Pointer(&overlayName[0])), op.a[0], uintptr(unsafe.Pointer(&b[0])), 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(work)
	rawClose(upper)
	rawClose(top)
	rawClose(lower)
}

var (
	tmpfs       = [6]byte{'t', 'm', 'p', 'f', 's', 0}
	overlayName = [8]byte{'o', 'v', 'e', 'r', 'l', 'a', 'y', 0}
	mode0700    = [5]byte{'0', '7', '0', '0', 0}
	modeKey     = [5]byte{'m', 'o', 'd', 'e', 0}
	sourceKey   = [7]byte{'s', 'o', 'u', 'r', 'c', 'e', 0}
	upperName   = [6]byte{'u', 'p', 'p', 'e', 'r', 0}
	workName    = [5]byte{'w', 'o', 'r', 'k', 0}
)

//go:norace
//go:nosplit
func rawOverlayDir(p *rawProg, op *rawOp, top uintptr, name *byte) uintptr {
	if _, _, e := syscall.RawSyscall6(unix.SYS_MKDIRAT, top, uintptr(unsafe.Pointer(name)), 0o700, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	fd, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, top, uintptr(unsafe.Pointer(name)), unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	return fd
}

// rawDoLinkUp sets IFF_UP on an interface of this network namespace
// (netdevice(7)): its flags read and written back through any socket.
//
//go:norace
//go:nosplit
func rawDoLinkUp(p *rawProg, op *rawOp) {
	s, _, e := syscall.RawSyscall6(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	for i := range p.ifr {
		p.ifr[i] = 0
	}
	rawPutCString(p.ifr[:unix.IFNAMSIZ], 0, op.s[0])
	if _, _, e := syscall.RawSyscall6(unix.SYS_IOCTL, s, unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&p.ifr[0])), 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	*(*uint16)(unsafe.Pointer(&p.ifr[unix.IFNAMSIZ])) |= unix.IFF_UP
	if _, _, e := syscall.RawSyscall6(unix.SYS_IOCTL, s, unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&p.ifr[0])), 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(s)
}

// rawDoEtcFile puts a file of nsup's read-only at p[0] inside the root
// s[0] (planner.EtcFile): a detached tmpfs (fsopen, fsmount), the file s[2]
// written in it (a[0] bytes at s[1]), a clone of that file alone
// (open_tree) made read-only (mount attributes at a[1]) and moved onto
// the target. Nothing is mounted anywhere but there.
//
//go:norace
//go:nosplit
func rawDoEtcFile(p *rawProg, op *rawOp) {
	mnt := rawFsmount(p, op, op.s[3], nil, nil, 0, ^uintptr(0))
	f, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, mnt, uintptr(unsafe.Pointer(op.s[2])), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if n, _, e := syscall.RawSyscall(unix.SYS_WRITE, f, uintptr(unsafe.Pointer(op.s[1])), op.a[0]); e != 0 || n != op.a[0] {
		if e == 0 {
			e = syscall.EIO
		}
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(f)
	tree, _, e := syscall.RawSyscall(unix.SYS_OPEN_TREE, mnt, uintptr(unsafe.Pointer(op.s[2])), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(mnt)
	if _, _, e = syscall.RawSyscall6(unix.SYS_MOUNT_SETATTR, tree, uintptr(unsafe.Pointer(&empty[0])), unix.AT_EMPTY_PATH, op.a[1], unsafe.Sizeof(unix.MountAttr{}), 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	root := rawOpenRoot(p, op)
	dst, e := rawResolve(p, root, &op.p[0])
	if e != 0 {
		rawFailed(p, op.step, partTarget, e)
	}
	if _, _, e = syscall.RawSyscall6(unix.SYS_MOVE_MOUNT, tree, uintptr(unsafe.Pointer(&empty[0])), dst, uintptr(unsafe.Pointer(&empty[0])),
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(dst)
	rawClose(tree)
}
