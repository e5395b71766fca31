package planner

import (
	"path"
	"strings"

	"github.com/nsup/nsup/spec"
)

// confinedInSubfolder refuses a masked or read-only path that lies in a
// subfolder of what the writable bind m (a volume's too) shows: the
// kernel refuses to rename the mount point the path becomes, not the
// folders above it, so root inside renames one of those and leaves a
// folder of its own in its place. Before helper-66's review such a path
// held for one run: root inside moved /data/sub (holding the masked
// /data/sub/secret) to /data/sub2 and made an empty /data/sub, the next
// plan skipped the missing path (a note), and root inside read the host's
// file at sub2/secret; so for readonly_paths: [/data/ro/conf], whose
// moved folder it wrote (in the same run: the host's folder is changed).
// protectSpecFiles refuses a spec file so placed for the same reason.
func (ec *envCompiler) confinedInSubfolder(m spec.Mount, paths []confinedPath) {
	if m.Type != spec.MountBind || m.Readonly {
		return
	}
	for _, c := range paths {
		if c.field == "" || c.path == m.Target {
			continue
		}
		top, sub := subfolderOf(c.path, m.Target)
		if !sub {
			continue
		}
		what := "masked"
		if c.readonly {
			what = "read-only"
		}
		dir := path.Dir(c.path)
		ec.errorf(c.pos, c.field, "%s lies in %s, a subfolder of the writable bind at %s: the kernel refuses to rename a mount point, not the folders above it, so root inside could rename %s and leave a folder of its own in its place, and %s would no longer be %s (at once, or from the next nsup run on); bind %s itself (a mount of its own, read-only or not), name a path directly in %s, or make this bind read-only", c.path, dir, m.Target, top, c.path, what, dir, m.Target)
	}
}

// subfolderOf says whether the path p lies in a subfolder of the folder
// dir (below dir by two names or more), and gives the folder of dir it
// lies in (top, a path). The kernel refuses to rename a mount point, not
// the folders above it: a mount or a confined path so placed below a
// writable bind of dir moves when root inside renames top.
func subfolderOf(p, dir string) (top string, ok bool) {
	rel := strings.TrimPrefix(p, strings.TrimSuffix(dir, "/")+"/")
	first, _, ok := strings.Cut(rel, "/")
	return path.Join(dir, first), ok
}
