package planner

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nsup/nsup/spec"
)

// subfolderBoundReadonly refuses a read-only bind of a host folder onto
// its own place in a subfolder of an earlier writable bind (hostdata
// bound writable at /data, hostdata/a/b read-only at /data/a/b), as
// confinedInSubfolder refuses readonly_paths: [/data/a/b]: the kernel
// refuses to rename the mount point /data/a/b, not /data/a above it.
// Before helper-68's review root inside moved /data/a to /data/a2 and
// made an empty /data/a/b; the next apply bound that empty folder (the
// source, by its host path), and root inside wrote the host's folder at
// /data/a2/b. parent is the mount whose target holds mount i's
// (nestedMounts).
func (ec *envCompiler) subfolderBoundReadonly(i, parent int) {
	e := ec.e
	if parent < 0 {
		return
	}
	r, w := e.Mounts[i], e.Mounts[parent]
	if r.Type != spec.MountBind || !r.Readonly || w.Type != spec.MountBind || w.Readonly {
		return
	}
	top, sub := subfolderOf(r.Target, w.Target)
	if !sub || !sameFolder(r.Source, filepath.Join(w.Source, strings.TrimPrefix(r.Target, w.Target))) {
		return
	}
	ec.errorf(r.Pos, ec.mountField(i), "the read-only bind of %s at %s lies in %s, a subfolder of the writable bind at %s, which shows that same folder there: the kernel refuses to rename a mount point, not the folders above it, so root inside could rename %s and leave a folder of its own in its place, and the next run would bind that folder read-only and leave %s's own writable at the new name; bind %s itself (a mount of its own, read-only or not), or make the bind at %s read-only", r.Source, r.Target, path.Dir(r.Target), w.Target, top, r.Source, top, w.Target)
}

// sameFolder says whether the host paths a and b are the same folder:
// the same file once their links are followed, or the same path where
// either is not there.
func sameFolder(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(fa, fb)
}
