package planner

// The mount points of a closure or host root: nsup's cache entry, built
// once from the plan's list and shared by every environment whose list
// hashes the same (its digest covers them). Apply's mounts make a
// missing target ("mkdir target if missing", "create target file if
// missing") through the root's bind, which is the entry itself until the
// root is made read-only, last: whatever the list lacks is written into
// the shared entry, and every later environment of that digest sees it.
// Before helper-141's stop the list had a folder target as written and
// a bound file's folder only: a file bind at /q left an empty /q in the
// entry (another spec of the same digest, with /proc alone, saw it), and
// a target through a link of the tree (/lib/qq, /bin/newdir under /bin
// -> usr/bin, whose written folder mkdirTree stops at) had
// /usr/lib/qq and /usr/bin/newdir made there. Each target is listed now
// where it lands (landings: the tree's links followed, as apply's
// RESOLVE_IN_ROOT follows them), a bound file's as an empty file, as a
// rootfs.host file's mount point is (hostRootTree), and so is a working
// directory, so the entry is built with it, its digest covers it, and apply finds it there: an
// entry an older nsup built without it has another digest, and is not
// used, nor written.

import (
	"os"
	"path"
	"slices"

	"github.com/nsup/nsup/spec"
)

// mountPoints adds to the tree (a closure's or a host root's) what the
// environment's mounts and working directories need there: each mount's
// target not inside an earlier mount (those are made in that mount at
// apply time), where it lands, a folder, or an empty file for a bind of
// a file; and the working directories.
func (ec *envCompiler) mountPoints() {
	land := ec.landings()
	var mounted []string
	for i, m := range ec.e.Mounts {
		at := land[i]
		inside := slices.ContainsFunc(mounted, func(t string) bool { return within(at, t) })
		mounted = append(mounted, at)
		if inside {
			continue
		}
		if m.Type == spec.MountBind {
			if st, err := os.Stat(m.Source); err == nil && !st.IsDir() {
				ec.fileInTree(at)
				continue
			}
		}
		ec.mkdirTree(at)
	}
	// The working directories where they land, as the targets: a cwd
	// through a link of the tree (/lib64/x, lib64 -> usr/lib64) was
	// listed as written, where mkdirTree stops at the link, and the
	// process's chdir failed at apply.
	t, _ := mountedView(mapTree(ec.tree), ec.viewMounts(), &ec.stats)
	if ec.e.Cwd != nil {
		ec.mkdirTree(landing(t, ec.e.Cwd.Value))
	}
	walkProcs(ec.e.Process, func(p *spec.Process, _ string) {
		if p.Cwd != nil {
			ec.mkdirTree(landing(t, p.Cwd.Value))
		}
	})
	// Worked out again on the whole tree, when first asked.
	ec.views = nil
}

// fileInTree adds an empty file at p, a bound file's mount point, and
// its missing folders, unless the tree has something there already (the
// closure's own file; a folder, which the bind's own check refuses) or
// a file or link on the way (a link there was followed: landings).
func (ec *envCompiler) fileInTree(p string) {
	if _, ok := ec.tree[p]; ok {
		return
	}
	dir := path.Dir(p)
	ec.mkdirTree(dir)
	if f, ok := ec.tree[dir]; dir != "/" && (!ok || f.Type != "dir") {
		return
	}
	ec.tree[p] = File{Path: p, Type: "file", Mode: 0o644, Digest: EmptyDigest}
}
