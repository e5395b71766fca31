package planner

// A mount at the point where an earlier mount of the spec's lands (the
// same target, or one that lands there through the root's links), or
// below an earlier bind of a file. Mounts stack as runc stacks them: a
// later mount at an earlier one's point is made on top of it and covers
// it whole (TestRootSameTargetStacked; a tmpfs twice, a bind over a
// tmpfs, proc twice, a file bound over a file: each applies, the last
// one is seen). What the later mount is made on is then the earlier
// one's root, not the root tree's path: a folder (a tmpfs, a kernel
// filesystem, a folder's bind, a volume) or what the earlier bind binds
// (a file, a device, a socket). targetKindFits looked at the root tree
// only, so a file bound where an earlier tmpfs was mounted (a dir root
// without that path: apply's mkdir made a folder, and the bind's
// move_mount failed with EINVAL), a folder bound over a file's bind
// (EINVAL), a tmpfs over it (ENOTDIR), planned and failed at apply
// (helper-139's survey). Docker and compose refuse any two mounts at one
// point ("Duplicate mount point"); nsup keeps the stacking it has
// documented and tested, and refuses only the stacks apply could not
// make, at the later mount, naming the earlier one's line.

import (
	"fmt"
	"os"
	"slices"

	"github.com/nsup/nsup/spec"
)

// stackedKindFits checks the ith mount against the earlier mount it lands
// on or below, where the plan's view of the mounts (landings: viewMounts)
// says one does. It refuses the mount where that one leaves a folder and
// the mount binds a file, leaves a file (or another non-folder) and the
// mount needs a folder, or is a bind of a non-folder above its target
// that parent (nestedMounts, by the targets as written) does not name
// (targetKindFits says so for that one). It says whether an earlier
// mount is at the ith mount's own point: then the root tree's kind
// there does not matter (that mount covers it), and targetKindFits
// looks no further.
func (ec *envCompiler) stackedKindFits(i int, parent []int) bool {
	e := ec.e
	m := e.Mounts[i]
	land := ec.landings()
	at := land[i]
	shown := m.Target
	if at != m.Target {
		shown = fmt.Sprintf("%s (it lands at %s, through the links on its way)", m.Target, at)
	}
	// The mount on top at the point the ith lands on, or above it: the
	// last earlier one whose point holds it (mountedView's which).
	k := i - 1
	for ; k >= 0 && !within(at, land[k]); k-- {
	}
	if k < 0 {
		return false
	}
	b := e.Mounts[k]
	field := ec.mountField(i) + ".target"
	if slices.ContainsFunc(ec.errs, func(err *spec.Error) bool { return err.Path == field }) {
		// Refused already (linkedBelowBind: through a link of a dir
		// root that another environment may write): one error a target.
		return land[k] == at
	}
	earlier := fmt.Sprintf("%s (line %d)", ec.mountField(k), b.Pos.Line)
	bf, known := ec.leftAt(k)
	if land[k] != at {
		if known && bf != nil && k != parent[i] {
			ec.errorf(m.Pos, field, "%s lies below %s, where %s, the bind of %s, leaves %s, not a folder: apply could not reach the target (ENOTDIR); mount at another target, or bind a folder at %s", shown, land[k], earlier, b.Source, kindOf(bf), land[k])
		}
		return false
	}
	if !known {
		return true // the earlier bind's own error, or create: true's
	}
	src := fileSource(m)
	why := "drop one of the two (at one point, the later mount covers the earlier whole)"
	switch {
	case src != nil && bf == nil:
		ec.errorf(m.Pos, field, "%s is where %s, a %s, is mounted before it and leaves a folder, and the bind of %s, %s, needs a file there: apply's mount would fail (EINVAL); bind it at another target, or %s", shown, earlier, ec.leftName(b), m.Source, kindOf(src), why)
	case src == nil && bf != nil:
		errno := "ENOTDIR"
		if m.Type == spec.MountBind {
			errno = "EINVAL"
		}
		ec.errorf(m.Pos, field, "%s is where %s, the bind of %s, is mounted before it and leaves %s, and %s needs a folder there: apply's mount would fail (%s); mount at another target, or %s", shown, earlier, b.Source, kindOf(bf), mountKind(m), errno, why)
	}
	return true
}

// leftAt is what the kth mount leaves at its point: nil for a folder (a
// tmpfs, a kernel filesystem, a folder's bind, a volume or a folder
// create: true makes), else what a bind binds (a file, a device...);
// known is false for a bind whose source the plan cannot stat (its own
// error says so).
func (ec *envCompiler) leftAt(k int) (left os.FileInfo, known bool) {
	b := ec.e.Mounts[k]
	if b.Type != spec.MountBind || ec.made[b.Source] != "" {
		return nil, true
	}
	if _, err := os.Stat(b.Source); err != nil {
		return nil, false
	}
	return fileSource(b), true
}

// leftName names the kind of mount m, which leaves a folder, for a
// message.
func (ec *envCompiler) leftName(m spec.Mount) string {
	switch {
	case ec.made[m.Source] == "volume":
		return "volume"
	case m.Type == spec.MountBind:
		return "bind of the folder " + m.Source
	}
	return string(m.Type)
}

// mountKind names mount m, which needs a folder, for a message.
func mountKind(m spec.Mount) string {
	if m.Type == spec.MountBind {
		return "the bind of " + m.Source + ", a folder,"
	}
	return "a " + string(m.Type) + " mount"
}
