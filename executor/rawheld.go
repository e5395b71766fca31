package executor

import (
	"fmt"
	"path"
	"strings"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The held mounts of the child stage (Mount.Held, Mount.Beneath): a
// table of one fd per held target, in the program's memory. Its slots
// are given out while the program is prepared, one per target the plan
// holds, so that the copy after the clone only reads and writes them: it
// allocates nothing and compares no path. A step beneath a held mount
// takes that mount's slot, whichever steps came between; the root
// switch (or anything else that drops the root's handle, rawDropRoot)
// closes them all.

// heldMounts is the builder's account of the held mounts.
type heldMounts struct {
	// slot is each held target's index into rawProg.held.
	slot map[string]uintptr
	// live are the targets whose fd is held at this point of the
	// program, and root the root they are inside: a step beneath a
	// target must find it here.
	live map[string]bool
	root string
}

// heldStep checks step op against the held mounts before it is added:
// a step that makes the copy drop the held fds (rawDropRoot: the root
// switch, a mount outside the root, an overlay, a step inside another
// root) ends them here too, and a Mount beneath a target that no
// earlier step left held is refused, whatever the steps between (the
// copy would find no fd there, or another mount's).
func (b *rawBuilder) heldStep(op planner.Op) error {
	h := &b.heldMnts
	keep := false
	switch o := op.(type) {
	case planner.Mount:
		keep = o.InRoot && o.Root == h.root
	case planner.MountSetattr:
		keep = o.ByFD || (o.InRoot && o.Root == h.root)
	case planner.Symlink:
		keep = o.Root == h.root
	case planner.Console:
		keep = o.Root == h.root
	case planner.ReadOnlyTerminal:
		keep = true // a detached clone: no mount of the tree changes
	case planner.EtcFile:
		keep = o.Root == h.root
	case planner.MakeCwd:
		keep = o.Root == h.root
	}
	if !keep {
		clear(h.live)
	}
	beneath := ""
	switch o := op.(type) {
	case planner.Mount:
		beneath = o.Beneath
	case planner.Symlink:
		beneath = o.Beneath
	case planner.Console:
		beneath = o.Beneath
	case planner.MakeCwd:
		beneath = o.Below
	}
	if beneath != "" && !h.live[beneath] {
		return fmt.Errorf("%s: beneath %s, which no earlier step holds: %w", planner.FormatOp(op), beneath, unix.EINVAL)
	}
	return nil
}

// beneathRel is p, a path below the held mount at beneath, as a path
// from that mount's root ("/dev/pts" beneath "/dev": "/pts").
func beneathRel(p, beneath string) string {
	return "/" + strings.TrimPrefix(strings.TrimPrefix(p, beneath), "/")
}

// symlinkOp prepares a Symlink: its folder resolved inside the root, or
// beneath the held mount (the dev's tmpfs) it lies below, through that
// mount's fd, wherever its folder is by then (rawDoSymlink).
func (b *rawBuilder) symlinkOp(op planner.Symlink) (rawOp, error) {
	dir, name := path.Split(path.Clean(op.Link))
	o := rawOp{kind: rawSymlink}
	var err error
	if op.Beneath != "" {
		if !below(op.Link, op.Beneath) || path.Clean(op.Link) == op.Beneath {
			return o, fmt.Errorf("%s: not below %s: %w", planner.FormatOp(op), op.Beneath, unix.EINVAL)
		}
		o.flag, o.under = rawMountBeneath, b.under(op.Beneath)
		dir = beneathRel(dir, op.Beneath)
	} else if o.s[0], err = b.root(op.Root); err != nil {
		return o, err
	}
	if o.p[0], err = inRootPath(dir, "", true); err == nil {
		if o.s[1], err = cstr(op.Target); err == nil {
			o.s[2], err = cstr(name)
		}
	}
	return o, err
}

// consoleOp prepares a Console: the terminal's name in this mount
// namespace, a copy of the host's (readlink of /proc/self/fd/0:
// /dev/pts/N), opened and checked to be fd 0's before it is cloned, made
// read-only and moved onto the target (rawTerminalClone, rawConsoleMove). The target is
// made in the dev mount's tmpfs, beneath its held fd when it is held.
func (b *rawBuilder) consoleOp(op planner.Console) (rawOp, error) {
	o := rawOp{kind: rawMount, flag: rawMountInRoot | rawMountSourceLink}
	o.a[0] = unix.MS_BIND
	o.a[1] = b.pin(unsafe.Pointer(&consoleAttr))
	target := op.Target
	var err error
	if op.Beneath != "" {
		if !below(op.Target, op.Beneath) || op.Target == op.Beneath {
			return o, fmt.Errorf("%s: not below %s: %w", planner.FormatOp(op), op.Beneath, unix.EINVAL)
		}
		o.flag |= rawMountBeneath
		o.under = b.under(op.Beneath)
		target = beneathRel(target, op.Beneath)
	}
	if o.s[0], err = b.root(op.Root); err == nil {
		if o.s[1], err = cstr("/proc/self/fd/0"); err == nil {
			o.p[1], err = inRootPath(target, "file", false)
			o.p[1].noLinks = op.Beneath != ""
		}
	}
	return o, err
}

// under is the slot of the held mount at target, which heldStep found
// held.
func (b *rawBuilder) under(target string) uintptr {
	return b.heldMnts.slot[target]
}

// hold gives the mount at target, inside root, a slot of the program's
// table (the one it had if it was held before: the new fd replaces the
// old) and marks it held from then on.
func (b *rawBuilder) hold(root, target string) uintptr {
	h := &b.heldMnts
	i, ok := h.slot[target]
	if !ok {
		if h.slot == nil {
			h.slot, h.live = map[string]uintptr{}, map[string]bool{}
		}
		i = uintptr(len(b.prog.held))
		h.slot[target] = i
		b.prog.held = append(b.prog.held, ^uintptr(0))
	}
	if h.root != root {
		clear(h.live)
		h.root = root
	}
	h.live[target] = true
	return i
}

// rawHeld is the fd in slot i of the table (^0 when none is held there):
// i was given out by hold, so it is in the table (no bounds check: the
// panic it would call is no nosplit code).
//
//go:norace
//go:nosplit
func rawHeld(p *rawProg, i uintptr) uintptr {
	return *rawHeldSlot(p, i)
}

// rawHold puts fd in slot i, closing the one held there before.
//
//go:norace
//go:nosplit
func rawHold(p *rawProg, i, fd uintptr) {
	s := rawHeldSlot(p, i)
	rawClose(*s)
	*s = fd
}

// rawDropHeld closes every held fd.
//
//go:norace
//go:nosplit
func rawDropHeld(p *rawProg) {
	for i := uintptr(0); i < uintptr(len(p.held)); i++ {
		s := rawHeldSlot(p, i)
		rawClose(*s)
		*s = ^uintptr(0)
	}
}

//go:norace
//go:nosplit
func rawHeldSlot(p *rawProg, i uintptr) *uintptr {
	return (*uintptr)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.held)), i*unsafe.Sizeof(uintptr(0))))
}

// rawResolveStep resolves the step's p[0] (rawResolve) from the held
// mount under (flag rawMountBeneath), wherever its folder is now, or
// else from the root s[0]'s handle; a failure ends the step.
//
//go:norace
//go:nosplit
func rawResolveStep(p *rawProg, op *rawOp) uintptr {
	var root uintptr
	if op.flag&rawMountBeneath != 0 {
		if root = rawHeld(p, op.under); root == ^uintptr(0) {
			rawFailed(p, op.step, partRoot, syscall.EBADF)
		}
	} else {
		root = rawOpenRoot(p, op)
	}
	fd, e := rawResolve(p, root, &op.p[0])
	if e != 0 {
		rawFailed(p, op.step, partTarget, e)
	}
	return fd
}
