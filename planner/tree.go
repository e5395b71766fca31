package planner

import (
	"os"
	"path"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// treeView looks up one path of a root tree without following its last
// component, as lstat(2) would.
type treeView func(p string) (File, bool)

func mapTree(m map[string]File) treeView {
	return func(p string) (File, bool) { f, ok := m[p]; return f, ok }
}

// dirTree views a host directory as a root tree. It only reads, and asks
// the host once per path in a plan (stats): resolving a link such as
// /bin/sh -> busybox looks its folder up again, and environments of one
// file often share a root.
func dirTree(root string, stats *statCache) treeView {
	return func(p string) (File, bool) { return stats.lstat(root, p) }
}

// statCache memoizes lstatIn for one plan, shared by the environments
// compiled at once: the plan is of the host's trees as they are at one
// moment, and a thousand environments of one root ask it the same paths.
type statCache struct {
	mu sync.Mutex
	m  map[string]statEntry
}

func (c *statCache) lstat(root, p string) (File, bool) {
	key := root + "\x00" + p
	c.mu.Lock()
	e, seen := c.m[key]
	c.mu.Unlock()
	if seen {
		return e.f, e.ok
	}
	f, ok := lstatIn(root, p)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]statEntry{}
	}
	c.m[key] = statEntry{f, ok}
	c.mu.Unlock()
	return f, ok
}

type statEntry struct {
	f  File
	ok bool
}

// lstatIn is lstat(2) of p below root, as a File.
func lstatIn(root, p string) (File, bool) {
	full := filepath.Join(root, p)
	var st unix.Stat_t
	for {
		err := unix.Lstat(full, &st)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return File{}, false
		}
	}
	f := File{Path: p, Mode: st.Mode & 0o777}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		f.Type = "symlink"
		f.Link, _ = os.Readlink(full)
	case unix.S_IFDIR:
		f.Type = "dir"
	case unix.S_IFREG:
		f.Type = "file"
	default:
		f.Type = "other"
	}
	return f, true
}

// resolveIn resolves p inside the tree as the kernel would with the tree
// as its root: symlinks are followed, absolute ones from the tree's root,
// and ".." never climbs above it. It returns the final entry.
func resolveIn(t treeView, p string) (File, bool) {
	cur, ok := walkIn(t, p)
	switch {
	case !ok:
		return File{}, false
	case cur == "/":
		return File{Path: "/", Type: "dir", Mode: 0o755}, true
	}
	return t(cur)
}

// resolvedPath is p with its symlinks resolved in t (p itself if it does
// not resolve): where the file a lookup found really is.
func resolvedPath(t treeView, p string) string {
	if cur, ok := walkIn(t, p); ok {
		return cur
	}
	return p
}

// walkIn is the path of p in the tree once every symlink on the way
// (the last component's too) is followed: resolveIn's walk.
func walkIn(t treeView, p string) (string, bool) {
	if w := walkPath(t, p, walkHow{}); w.end == walkDone {
		return w.cur, true
	}
	return "", false
}

// viewMount is one mount of the environment as the plan sees the tree
// through it: a bind shows its host source (a folder, or one file at the
// target), any other kind an empty folder (what it will hold is made at
// apply time).
type viewMount struct {
	target string
	source string // a bind's resolved host path; "" for a kernel filesystem
	isDir  bool
	field  string // the spec key that asks for it, for the plan's notes
}

// mountedView is base seen through mounts, in their order: a path below
// a mount's target is the mount's, the last such mount's (a later mount
// covers an earlier one), else base's. origin says which mount a path
// comes from ("" for base).
func mountedView(base treeView, mounts []viewMount, stats *statCache) (view treeView, origin func(p string) string) {
	which := func(p string) *viewMount {
		for i := len(mounts) - 1; i >= 0; i-- {
			if within(p, mounts[i].target) {
				return &mounts[i]
			}
		}
		return nil
	}
	view = func(p string) (File, bool) {
		m := which(p)
		if m == nil {
			return base(p)
		}
		if m.source == "" {
			if p == m.target {
				return File{Path: p, Type: "dir", Mode: 0o755}, true
			}
			return File{}, false
		}
		var f File
		var ok bool
		switch {
		case m.isDir:
			f, ok = stats.lstat(m.source, path.Join("/", p[len(m.target):]))
		case p == m.target:
			f, ok = stats.lstat(m.source, "/")
		}
		f.Path = p
		return f, ok
	}
	origin = func(p string) string {
		if m := which(p); m != nil {
			return m.field
		}
		return ""
	}
	return view, origin
}
