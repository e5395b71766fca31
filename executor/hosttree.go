package executor

// The trees of nsup's folders the host clones for the child stage
// (planner.OpenTree) and the child moves in (planner.Mount.HostTree): the
// cache's root trees and the named volumes, in folders (0700) that root
// inside a user namespace mapped to another host uid may not search.

import (
	"fmt"
	"maps"
	"os"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// openTree performs an OpenTree step: the folder opened with no symlink
// in its path (as the child opened it before), cloned detached and made
// private, the clone kept for the child's bind of it (hostTree) and until the environment
// ends.
func (r *envRun) openTree(op planner.OpenTree) error {
	dir, err := unix.Openat2(unix.AT_FDCWD, op.Path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return fmt.Errorf("open %s: %w", op.Path, err)
	}
	defer unix.Close(dir)
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH
	if op.Recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(dir, "", uint(flags))
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", op.Path, err)
	}
	// Private, every mount of it: a clone of a folder on a shared mount
	// (systemd makes the host's "/" shared) is a peer of that mount, and
	// what the child mounts on it (a volume, a tmpfs) would be mounted on
	// the host too, and stay (TestRootHostTreeNotShared). The child, in
	// its user namespace, may not change a tree the host made.
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Propagation: unix.MS_PRIVATE}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("mount_setattr %s private: %w", op.Path, err)
	}
	f := os.NewFile(uintptr(fd), op.Path)
	if r.trees == nil {
		r.trees = hostTrees{}
	}
	r.trees[op.Path] = append(r.trees[op.Path], f)
	r.held = append(r.held, f)
	return nil
}

// hostTrees are the host's clones of nsup's folders, by path, in the
// order of their OpenTree steps.
type hostTrees map[string][]*os.File

// clone is a copy of t for one program's builder, which takes from it.
func (t hostTrees) clone() hostTrees { return maps.Clone(t) }

// hostTree makes o, the bind of source, move the host's next clone of
// source (its slot a[2] of the program's trees, which the child places
// among its own fds: rawPlaceTrees).
func (b *rawBuilder) hostTree(o *rawOp, source string) error {
	fs := b.trees[source]
	if len(fs) == 0 {
		return fmt.Errorf("a bind of the host's clone of %s, which no host step before the clone made: %w", source, unix.EBADF)
	}
	b.trees[source] = fs[1:]
	o.flag |= rawMountHostTree
	o.a[2] = uintptr(len(b.prog.trees))
	b.prog.trees = append(b.prog.trees, fs[0].Fd())
	return nil
}

// rawMountHostTree (a flag of rawMount): the source is the host's clone
// in slot a[2] of p.trees (Mount.HostTree), moved in, not cloned again.
const rawMountHostTree = 1 << 20

// rawPlaceTrees moves the host's clones to fds 10 and above, out of the
// way of the fds the child places at 0 and up (rawPlace).
//
//go:norace
//go:nosplit
func rawPlaceTrees(p *rawProg, step uintptr) {
	for i := range p.trees {
		fd, _, e := syscall.RawSyscall6(unix.SYS_FCNTL, p.trees[i], unix.F_DUPFD_CLOEXEC, 10, 0, 0, 0)
		if e != 0 {
			rawFailed(p, step, partCall, e)
		}
		p.trees[i] = fd
	}
}

// rawHostTree takes the host's clone of a bind's source (its slot then
// empty: the tree is the mount's from now on).
//
//go:norace
//go:nosplit
func rawHostTree(p *rawProg, op *rawOp) (uintptr, syscall.Errno) {
	i := op.a[2]
	if i >= uintptr(len(p.trees)) || p.trees[i] == ^uintptr(0) {
		return ^uintptr(0), syscall.EBADF
	}
	fd := p.trees[i]
	p.trees[i] = ^uintptr(0)
	return fd, 0
}

// rawMoveTree moves the detached tree onto the fd tgt (or, tgt ^0, onto
// "/" of this mount namespace: the root's, whose own path root inside
// may not reach) and returns it: the mount made.
//
//go:norace
//go:nosplit
func rawMoveTree(p *rawProg, op *rawOp, tree, tgt uintptr) uintptr {
	to, path, flags := tgt, &empty[0], uintptr(unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if tgt == ^uintptr(0) {
		to, path, flags = atFDCWD, &slash[0], unix.MOVE_MOUNT_F_EMPTY_PATH
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_MOVE_MOUNT, tree, uintptr(unsafe.Pointer(&empty[0])), to, uintptr(unsafe.Pointer(path)), flags, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	return tree
}

// slash is "/", NUL-terminated.
var slash = [2]byte{'/', 0}
