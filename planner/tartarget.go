package planner

// A mount's target in a tar root, checked against the archive's shape
// (tarshape.go) as closureTargetFits checks a closure's: a file of the
// archive where the mount needs a folder, or on the way to the target,
// and a folder of it where a file (a device node, a socket) is bound.
// Apply's mount failed at those (ENOTDIR, EINVAL) before the plan knew
// the tree. A target the archive lacks is made in the overlay's upper
// layer (every tar root is overlaid: overlaid), as is a folder on its
// way; a link on the way is targetLinks's and landing's.

import (
	"os"
	"path"

	"github.com/nsup/nsup/spec"
)

// tarTargetFits is targetKindFits for a tar root whose shape the plan
// knows (tarTree): the ith mount's target, src what it binds when that
// is not a folder (else nil).
func (ec *envCompiler) tarTargetFits(i int, src os.FileInfo) {
	m := ec.e.Mounts[i]
	field := ec.mountField(i) + ".target"
	switch misfit, at, _ := treeTargetFits(ec.tarTree(), m.Target, src != nil); misfit {
	case targetBelowFile:
		ec.errorf(m.Pos, field, "%s lies below %s, a file of the tar root's archive %s, not a folder: apply could not reach the target (ENOTDIR); mount at another target", m.Target, at, ec.e.Rootfs.Tar)
	case targetFolderForFile:
		ec.errorf(m.Pos, field, "%s is a folder of the tar root's archive %s, and the bind of %s, %s, needs a file there: apply's mount would fail (EINVAL); bind it at a path that is not a folder of the archive", m.Target, ec.e.Rootfs.Tar, m.Source, kindOf(src))
	case targetFileForFolder:
		ec.errorf(m.Pos, field, "%s is a file of the tar root's archive %s, and a %s mount needs a folder there: apply's mount would fail (ENOTDIR); mount at another target", m.Target, ec.e.Rootfs.Tar, m.Type)
	}
}

// tarCwdLink says whether the working directory c (field), missing in a
// tar root and through a symlink of its archive, is made as a missing
// one is (MakeCwd in the overlay's upper layer, whose walk follows the
// tree's links and crosses no mount). It refuses it, false, when the
// link leads it into a mount of the spec's: the walk would fail there
// (EXDEV), as apply's did before the plan knew the archive's links
// (/var/run -> /run, a tmpfs at /run); a link to a file of the archive
// is the cwd check's (workdirs). False too for a link it cannot follow
// (round in circles): left to the process's chdir.
func (ec *envCompiler) tarCwdLink(c *spec.String, field string) bool {
	t, origin := mountedView(ec.knownBase(), ec.viewMounts(), &ec.stats)
	// Where the longest leading part of the cwd that resolves whole
	// leads (the walk's lead), and the rest as written.
	w := walkPath(t, c.Value, walkHow{})
	if !w.led {
		return false
	}
	from := origin(w.lead)
	if from == "" {
		return true
	}
	to := path.Join(w.lead, w.tail)
	ec.errorf(c.Pos, field, "%s leads through a symlink of the tar root's archive %s to %s, in the mount at %s (%s): nsup makes a missing working directory in the overlay's upper layer by a walk that crosses no mount, and the process's chdir would fail; give the cwd as %s", c.Value, ec.e.Rootfs.Tar, to, ec.targetOf(from), from, to)
	return false
}
