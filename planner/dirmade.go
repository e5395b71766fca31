package planner

// What apply makes in a dir root's folder on the host. A mount's target
// the dir root lacks is made by apply's child stage ("mkdir target if
// missing"), in the host's folder itself when the root is not overlaid:
// the folders stay after the environment ends, in a folder the user may
// have checked in. The plan said so only in the step's words; a user
// trial (helper-151) found a read-only dir root with a tmpfs at
// /newdir/deep leave bbroot/newdir/deep behind, where the same plan's
// note said "nsup does not write the rootfs" of /etc/group. The plan now
// names each host folder apply makes there.

import (
	"fmt"
	"path/filepath"

	"github.com/nsup/nsup/spec"
)

// isDirRoot says whether the environment's root is a dir root that is
// not overlaid, in which apply's child stage makes a missing target in
// the host's folder itself: dirRootMade's and targetMakeable's.
func (ec *envCompiler) isDirRoot() bool {
	r := ec.e.Rootfs
	return r.Dir != "" && !r.Overlay && ec.root != "" && ec.root != "/" && !ec.opts.Export && ec.joined(spec.NSMount) == nil
}

// dirRootView is the tree the ith mount's target is resolved in, in a
// dir root (isDirRoot): the root's, as the mounts before it show it,
// and origin, which says which of them a path comes from ("" the
// root's own). Walked the kernel's way (walkPath, walkHow{}), every link
// of the root followed, it is where apply's child stage, which resolves
// the target RESOLVE_IN_ROOT and makes what it lacks one folder at a
// time in the folder its leading part leads to, makes it: dirRootMade
// notes that folder, targetMakeable refuses it when root inside may not
// make it. nil when the tree is not known.
func (ec *envCompiler) dirRootView(i int) (view treeView, origin func(p string) string) {
	base := ec.baseView()
	if base == nil {
		return nil, nil
	}
	views, n := ec.viewMounts(), 0 // views[:n]: those listed before i
	for j := 0; j < i && n < len(views); j++ {
		if views[n].field == ec.mountField(j) {
			n++
		}
	}
	return mountedView(base, views[:n], &ec.stats)
}

// dirRootMade notes, for a dir root that is not overlaid, each mount
// whose target (where it lands through the root's links) the root's own
// tree lacks: the first folder apply makes for it in the host's folder.
// A target below an earlier mount is that mount's (a tmpfs, a bind's
// host folder: targetMakeable's and the reach checks'), not the root's.
// Where root inside may not make it, targetMakeable has refused it: the
// same walk (dirRootView).
func (ec *envCompiler) dirRootMade() {
	if !ec.isDirRoot() {
		return
	}
	land := ec.landings()
	seen := map[string]bool{}
	for i := range ec.e.Mounts {
		view, origin := ec.dirRootView(i)
		if view == nil {
			return
		}
		w := walkPath(view, land[i], walkHow{})
		if w.end != walkMissing || origin(w.at) != "" || seen[w.at] {
			continue
		}
		seen[w.at] = true
		host := filepath.Join(ec.root, w.at)
		what := "a folder"
		if w.at == land[i] && ec.e.Mounts[i].Type == spec.MountBind && !ec.hostDir(ec.e.Mounts[i].Source).isDir {
			what = "an empty file"
		}
		ec.notes = append(ec.notes, fmt.Sprintf("%s.target: %s is not in the dir root: apply makes %s %s in its host folder (and what the target lacks below it), which stays after the environment ends; make it beforehand, or say overlay: true (nsup makes it in the upper layer)", ec.mountField(i), w.at, what, host))
	}
}
