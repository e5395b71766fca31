package executor

// An overlay root of nsup's cache with root inside mapped to another
// host uid (planner/overlaytree.go): the host's idmap of its clone of the
// tree (planner.IdmapTree), through which the host's uid 0, the cache's
// files' owner, is root inside, and the child's overlay on that clone
// (planner.Overlay.HostTree), which walks no path of the host's.

import (
	"fmt"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// idmapTree performs an IdmapTree step: the host's clone of op.Path (its
// OpenTree step's, still detached: the child, waiting for the host's
// steps, has not moved it yet) idmapped through the child's user
// namespace, whose maps the steps before wrote.
func (r *envRun) idmapTree(op planner.IdmapTree) error {
	if r.child == 0 {
		return fmt.Errorf("an idmap through the child's user namespace before the clone: %w", unix.EINVAL)
	}
	trees := r.trees[op.Path]
	if len(trees) != 1 {
		return fmt.Errorf("an idmap of the host's clone of %s: %d clones of it made (one wanted): %w", op.Path, len(trees), unix.EINVAL)
	}
	ns, err := unix.Open("/proc/"+strconv.Itoa(r.child)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the child's user namespace: %w", err)
	}
	defer unix.Close(ns)
	flags := unix.AT_EMPTY_PATH
	if op.Recursive {
		flags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns)}
	if err := unix.MountSetattr(int(trees[0].Fd()), "", uint(flags), &attr); err != nil {
		// EINVAL: a filesystem of the tree without idmapped mounts
		// (mount_setattr(2)).
		return fmt.Errorf("mount_setattr(MOUNT_ATTR_IDMAP) of the host's clone of %s (its filesystem must support idmapped mounts): %w", op.Path, err)
	}
	return nil
}

// rawOverlayUserXattr (a flag of rawOverlay): the overlay's userxattr
// option.
const rawOverlayUserXattr = 1

// rawDoOverlayTree lays the overlay root on the host's clone of its lower
// folder (planner.Overlay.HostTree: slot a[2] of p.trees, idmapped by the
// host through this user namespace), whose path root inside may not walk.
// overlayfs takes layers of mounts of this mount namespace only (a
// detached one from Linux 6.15 on), so the scratch tmpfs (detached, mode
// 0700, its upper, work and lower folders made in it, the upper one
// given the owner and mode of the tree's root) is moved onto "/", the
// clone onto the tmpfs's lower folder, and the overlay made detached
// (fsopen, its layers by /proc/self/fd paths, fsmount), holding its own
// private copies of its layers. The tmpfs, with the clone on it, then
// leaves "/" (umount2 of its fd's path, MNT_DETACH), and the overlay is
// moved onto "/": the only mount on the old root's "/", as the root's
// own bind is (rawDoRootBind), so that the umount2 of "." after
// pivot_root detaches the old root and every mount below it. (With the
// tmpfs left under the overlay, that umount2 took the tmpfs, the mount
// on top of the old root's "/", and left the host's whole mount tree on
// the environment's root: helper-111 saw it in mountinfo.) The overlay's
// fd is the root's handle (s[0]) from then on, up to the root switch.
//
//go:norace
//go:nosplit
func rawDoOverlayTree(p *rawProg, op *rawOp) {
	rawDropRoot(p)
	tree, e := rawHostTree(p, op)
	if e != 0 {
		rawFailed(p, op.step, partLower, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, tree, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0); e != 0 {
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
	lower := rawOverlayDir(p, op, top, &lowerName[0])
	if _, _, e := syscall.RawSyscall6(unix.SYS_FCHOWNAT, upper, uintptr(unsafe.Pointer(&empty[0])), uid, gid, unix.AT_EMPTY_PATH, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_FCHMODAT, atFDCWD, uintptr(unsafe.Pointer(rawFdPath(&p.fdpath[0], upper))), mode, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawMoveTree(p, op, top, ^uintptr(0))
	rawMoveTree(p, op, tree, lower)
	// The options' pointers were set before the fork (a pointer stored
	// here would be a write barrier, the runtime's: TestRawCallsNoRuntime);
	// their paths are written into the buffers they point at.
	rawFdPath(&p.fdpath[0], tree)
	rawFdPath(&p.fdpath[1], upper)
	rawFdPath(&p.fdpath[2], work)
	conf := p.ovlConf[:6]
	if op.flag&rawOverlayUserXattr != 0 {
		conf = p.ovlConf[:8]
	}
	ovl := rawFsmount(p, op, &overlayName[0], &overlayName[0], conf, attr, ^uintptr(0))
	if _, _, e := syscall.RawSyscall(unix.SYS_UMOUNT2, uintptr(unsafe.Pointer(rawFdPath(&p.fdpath[0], top))), unix.MNT_DETACH, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawMoveTree(p, op, ovl, ^uintptr(0))
	rawClose(lower)
	rawClose(work)
	rawClose(upper)
	rawClose(top)
	rawClose(tree)
	p.rootFD, p.rootOf = ovl, uintptr(unsafe.Pointer(op.s[0]))
}

// overlayTreeConf is rawDoOverlayTree's fsconfig options, key and value
// in turn: the values are p's fdpath buffers, which it fills in the
// child; the last pair is userxattr's flag.
func overlayTreeConf(p *rawProg) [8]*byte {
	return [8]*byte{&lowerdirKey[0], &p.fdpath[0][0], &upperdirKey[0], &p.fdpath[1][0], &workdirKey[0], &p.fdpath[2][0], &userxattrKey[0], nil}
}

var (
	lowerName    = [6]byte{'l', 'o', 'w', 'e', 'r', 0}
	lowerdirKey  = [9]byte{'l', 'o', 'w', 'e', 'r', 'd', 'i', 'r', 0}
	upperdirKey  = [9]byte{'u', 'p', 'p', 'e', 'r', 'd', 'i', 'r', 0}
	workdirKey   = [8]byte{'w', 'o', 'r', 'k', 'd', 'i', 'r', 0}
	userxattrKey = [10]byte{'u', 's', 'e', 'r', 'x', 'a', 't', 't', 'r', 0}
)

// overlayOp prepares an Overlay: see rawDoOverlay, and rawDoOverlayTree
// for one on the host's clone (HostTree).
func (b *rawBuilder) overlayOp(op planner.Overlay) (rawOp, error) {
	if op.Target != op.Lower {
		return rawOp{}, fmt.Errorf("an overlay whose lower layer %s is not its target %s: %w", op.Lower, op.Target, unix.EINVAL)
	}
	o := rawOp{kind: rawOverlay}
	if op.NoDev {
		o.a[0] = unix.MS_NODEV
	}
	if op.UserXattr {
		o.flag = rawOverlayUserXattr
	}
	var err error
	o.s[1], err = cstr(op.Target)
	if op.HostTree && err == nil {
		// The root's handle from then on: the overlay's fd.
		if o.s[0], err = b.root(op.Target); err == nil {
			err = b.hostTree(&o, op.Lower)
		}
	}
	return o, err
}
