package planner

import (
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// mountsMovable refuses a writable bind without recursive of a host
// folder that has a host mount below it (helper-52's review). The
// kernel refuses to rename a mount point only in the renamer's own mount
// namespace (is_local_mountpoint): the non-recursive bind leaves the
// mount out of the environment's namespace, so root inside renames its
// folder, and the host's mount moves with it, in every namespace, the
// host's too. Renamed to a path another environment binds (or has its
// dir root in), the host's filesystem that neither was given was bound
// there: a tmpfs of the host's, mounted below the folder, read in full
// through the other's read-only bind. Recursive, the mount is in the
// environment's namespace too, and the rename is refused (EBUSY);
// read-only, nothing is renamed.
func (ec *envCompiler) mountsMovable(m spec.Mount, field string) {
	if m.Readonly {
		// Unless root inside lifts the flag (liftedwrites.go): before
		// helper-124's review, with SYS_ADMIN in a user namespace that
		// maps root to the host's, root inside remounted a read-only
		// bind of a folder read-write and renamed the folder above a
		// host's tmpfs mounted below it, which moved on the host.
		if ec.unlocksOwnMounts() {
			m.Readonly = false
			ec.asLifted(liftedWhy, func() { ec.mountsMovable(m, field) })
		}
		return
	}
	mounts, err := ec.compiler.hostMounts()
	if err != nil {
		ec.errorf(m.Pos, field, "a writable bind of %s: the host's mount table, to tell whether a mount lies below it, could not be read: %v", m.Source, err)
		return
	}
	src := m.Source
	if r, err := filepath.EvalSymlinks(src); err == nil {
		src = r
	}
	if p := aliasBelow(src, mounts, ec.mayWrite); p != "" {
		ec.errorf(m.Pos, field, "a writable bind of %s lets root inside rename the folder of the host's mount at %s, which lies below another path of the same folder: the bind does not bring that mount along, so its folder, or one above it, is renamed, and the host's mount moves with it, in the host's mount namespace too, to where another environment, or the host, binds or uses a path; %s, or bind a folder that holds no host mount below it by any path", m.Source, p, ec.readonlyWay(roBind))
		return
	}
	for _, hm := range mounts {
		if hm.Point == src || !within(hm.Point, src) {
			continue
		}
		if !m.Recursive && renamable(hm.Point, src, mounts) && ec.mayWrite(filepath.Dir(hm.Point)) {
			ec.errorf(m.Pos, field, "a writable bind of %s without recursive leaves out the host's mount at %s, whose folder root inside could then rename: the host's mount moves with it (the kernel refuses that only where the mount is seen), to where another environment, or the host, binds or uses a path; %s", m.Source, hm.Point, ec.readonlyWay(roRecursive))
			return
		}
		// A folder above the mount point, below the source: the kernel
		// refuses to rename a mount point, not a folder above one, in
		// any namespace (helper-54's review).
		for f := filepath.Dir(hm.Point); f != src && within(f, src); f = filepath.Dir(f) {
			if ec.aboveMovable(f, src, m.Recursive, mounts) {
				ec.errorf(m.Pos, field, "a writable bind of %s lets root inside rename %s, a folder above the host's mount at %s: the host's mount moves with it, in the host's mount namespace too (the kernel refuses to rename a mount point, not a folder above one), to where another environment, or the host, binds or uses a path; %s, or bind a folder that holds no host mount below a folder of its own", m.Source, f, hm.Point, ec.readonlyWay(roBind))
				return
			}
		}
	}
}

// aboveMovable says whether root inside, given a writable bind of src,
// sees the folder f (below src, above a host mount point) and may rename
// it: not a host mount point itself where the bind is recursive (it is
// one in the environment's namespace too), nor one the bind without
// recursive does not show, nor one root inside may not write the parent
// of.
func (ec *envCompiler) aboveMovable(f, src string, recursive bool, mounts []cgroup.Mount) bool {
	for _, m := range mounts {
		if m.Point == f && recursive {
			return false
		}
	}
	if !recursive && !renamable(f, src, mounts) {
		return false
	}
	parent := filepath.Dir(f)
	return !onKernelFS(parent) && ec.mayWrite(parent)
}

// renamable says whether root inside, given a bind of src without
// recursive, sees the folder of the host's mount point p and may rename
// it: not when p's parent lies in another host mount below src (the bind
// shows src's own filesystem only, so that folder is not there), nor when
// its parent is on sysfs or proc, whose folders nobody renames (a
// writable bind of /sys without recursive, with the host's cgroup
// hierarchies below, stays allowed where the rest of nsup allows it).
func renamable(p, src string, mounts []cgroup.Mount) bool {
	parent := filepath.Dir(p)
	for _, m := range mounts {
		if m.Point != src && within(m.Point, src) && (parent == m.Point || within(parent, m.Point)) {
			return false
		}
	}
	return !onKernelFS(parent)
}

// onKernelFS: dir is on sysfs or proc, whose folders nobody renames.
func onKernelFS(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && (st.Type == unix.SYSFS_MAGIC || st.Type == unix.PROC_SUPER_MAGIC)
}

// mayWrite says whether root inside may change the entries of the host
// folder dir (rename one of them): always outside a user namespace that
// maps root elsewhere (CAP_DAC_OVERRIDE); in one, where the folder's
// owner is a uid it maps, or its mode lets a uid or gid it maps write
// there (others', or the group's with its gid mapped). A folder of the
// host's root, 0755, is not renamed from a user namespace, nor from a
// rootless one whose user does not own it.
func (ec *envCompiler) mayWrite(dir string) bool {
	if !ec.confiningUserNS() {
		return true
	}
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return true
	}
	return ec.mapsOutside(st.Uid) || st.Mode&0o002 != 0 || (st.Mode&0o020 != 0 && heldOutside(ec.gidMap, st.Gid))
}

// aliasBelow is the point of a host mount below the folder src by
// another path (a bind mount of it elsewhere, its filesystem mounted
// twice, the upper folder of a host overlay src is in: renameReach),
// found by filesystem and folder (mountinfo's major:minor and root),
// whose folder, or one above it below src's, root inside may rename
// (mayWrite of its parent), or "" (helper-55's review: by path alone it
// was not looked at, and a bind of src, recursive or not, does not bring
// it along, as it is a mount of the other path's).
func aliasBelow(src string, mounts []cgroup.Mount, mayWrite func(string) bool) string {
	for _, a := range renameReach(src, mounts) {
		for _, hm := range mounts {
			if hm.Point == "/" || within(hm.Point, src) {
				continue
			}
			pdev, pfolder, fstype := fsFolder(filepath.Dir(hm.Point), mounts)
			f := path.Join(pfolder, filepath.Base(hm.Point))
			if pdev != a.dev || fstype == "sysfs" || fstype == "proc" || f == a.folder || !within(f, a.folder) {
				continue
			}
			q := hm.Point
			for n := strings.Count(strings.TrimPrefix(f, strings.TrimSuffix(a.folder, "/")), "/"); n > 0; n-- {
				if mayWrite(filepath.Dir(q)) {
					return hm.Point
				}
				q = filepath.Dir(q)
			}
		}
	}
	return ""
}

// renameReach are the folders (of a filesystem) that a rename below the
// host folder src renames: src's own (fsFolder), and, where src is in a
// host overlay's merged folder, the same folder of its upper folder (a
// rename through the merged folder renames the upper folder's entry,
// and a host mount on it moves along), and again through those found
// (an upper folder in another overlay's merged one). Not a lower
// folder's: a rename there is a copy up and a redirect in the upper
// folder. Before helper-67's review an overlay was its own filesystem
// here: with a host tmpfs at /x/upper/a and /x/merged bound writable,
// root inside renamed /x/merged/a, and the host's tmpfs moved to
// /x/upper/b (by hand).
func renameReach(src string, mounts []cgroup.Mount) []fsAt {
	return overlayReach(src, mounts, false)
}

// fsFolder is the filesystem (major:minor) and the folder in it the host
// path p shows, by the mount that holds it (the last listed of the
// longest point), and that mount's type.
func fsFolder(p string, mounts []cgroup.Mount) (dev, folder, fstype string) {
	best := -1
	for i, m := range mounts {
		if within(p, m.Point) && (best < 0 || len(m.Point) >= len(mounts[best].Point)) {
			best = i
		}
	}
	if best < 0 {
		return "", "", ""
	}
	m := mounts[best]
	rel := strings.TrimPrefix(p, strings.TrimSuffix(m.Point, "/"))
	return m.Dev, path.Join(m.Root, rel), m.FSType
}
